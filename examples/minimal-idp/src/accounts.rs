//! The IdP's users and sessions (in memory: this is a demo), and the access hook built on
//! them.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use async_trait::async_trait;
use ssf_provider::access::AccessHook;
use ssf_provider::idp::User;
use ssf_provider::streams;

pub struct Account {
    pub id: String,
    pub username: String,
    pub email: String,
    password: String,
    /// Receivers (applications) this user is assigned to; only they hear about the user.
    pub receivers: HashSet<String>,
}

impl Account {
    /// The user as the transmitter knows it.
    pub fn ssf_user(&self) -> User {
        // Both fields are non-empty constants of the demo, so this cannot fail.
        User::new(Some(self.id.clone()), Some(self.email.clone()))
            .expect("demo users have an id and an email")
    }
}

pub struct Accounts {
    users: Mutex<Vec<Account>>,
    /// Session id → user id.
    sessions: Mutex<HashMap<String, String>>,
}

impl Accounts {
    /// Alice may use the example receiver's application; Bob may not, so the receiver never
    /// hears about Bob.
    pub fn demo(receiver_id: &str) -> Self {
        let account = |id: &str, name: &str, receivers: &[&str]| Account {
            id: id.to_owned(),
            username: name.to_owned(),
            email: format!("{name}@example.com"),
            password: name.to_owned(),
            receivers: receivers.iter().map(|r| (*r).to_owned()).collect(),
        };
        Accounts {
            users: Mutex::new(vec![
                account("1", "alice", &[receiver_id]),
                account("2", "bob", &[]),
            ]),
            sessions: Mutex::new(HashMap::new()),
        }
    }

    /// Checks a password; returns the user id and the new session's id.
    pub fn login(&self, username: &str, password: &str) -> Option<(String, String)> {
        let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        let account = users.iter().find(|a| a.username == username)?;
        // Compare in constant time; a real IdP compares password hashes.
        let same_length = account.password.len() == password.len();
        if !(same_length && openssl::memcmp::eq(account.password.as_bytes(), password.as_bytes())) {
            return None;
        }
        let session_id = uuid::Uuid::new_v4().simple().to_string();
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(session_id.clone(), account.id.clone());
        Some((account.id.clone(), session_id))
    }

    /// Ends a session; returns its user's id.
    pub fn logout(&self, session_id: &str) -> Option<String> {
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(session_id)
    }

    pub fn user_of_session(&self, session_id: &str) -> Option<String> {
        self.sessions
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(session_id)
            .cloned()
    }

    pub fn set_password(&self, user_id: &str, password: &str) -> bool {
        let mut users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        match users.iter_mut().find(|a| a.id == user_id) {
            Some(account) => {
                account.password = password.to_owned();
                true
            }
            None => false,
        }
    }

    /// Reads one account.
    pub fn with_account<T>(&self, user_id: &str, read: impl FnOnce(&Account) -> T) -> Option<T> {
        let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        users.iter().find(|a| a.id == user_id).map(read)
    }
}

/// A receiver hears about a user only if the user is assigned to it, as authentik checks that
/// the user may access the receiver's application before it sends.
#[async_trait]
impl AccessHook for Accounts {
    async fn may_receive(&self, user: &User, stream: &streams::Model) -> bool {
        let Some(receiver_id) = stream.receiver_id.as_deref() else {
            return false;
        };
        let users = self.users.lock().unwrap_or_else(|e| e.into_inner());
        users
            .iter()
            .find(|a| Some(a.id.as_str()) == user.id())
            .is_some_and(|account| account.receivers.contains(receiver_id))
    }
}
