//! [`Transmitter`]: the handle an IdP holds. It owns the database and the process-wide settings;
//! emit() (in `dispatch`), the HTTP routers and the worker all start from it.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use tokio::sync::Notify;

use crate::access::{AccessHook, AllowAll};
use crate::db::Database;

/// Process-wide settings of a transmitter.
#[derive(Debug, Clone)]
pub struct TransmitterSettings {
    /// Base of every issuer and endpoint URL, kept byte-identical as configured
    /// (an explicit `:443` stays: some receivers compare issuers as strings).
    pub public_url: String,
    /// Accept push endpoints that are plain http or resolve to loopback/private addresses.
    pub allow_insecure_endpoints: bool,
    /// A polled SET that is not acknowledged within this time is returned again.
    pub poll_ack_timeout: Duration,
    /// Upper bound of a long poll (`returnImmediately: false`).
    pub max_long_poll: Duration,
}

impl TransmitterSettings {
    pub fn new(public_url: impl Into<String>) -> Self {
        Self {
            public_url: public_url.into(),
            allow_insecure_endpoints: false,
            poll_ack_timeout: Duration::from_secs(60),
            max_long_poll: Duration::from_secs(30),
        }
    }
}

/// Cheap to clone; every clone shares the same database, settings and wake-up signal.
#[derive(Clone)]
pub struct Transmitter {
    inner: Arc<Inner>,
}

struct Inner {
    db: Database,
    settings: TransmitterSettings,
    delivery_wake: Notify,
    access_hook: RwLock<Arc<dyn AccessHook>>,
}

impl Transmitter {
    pub fn new(db: Database, settings: TransmitterSettings) -> Self {
        Self {
            inner: Arc::new(Inner {
                db,
                settings,
                delivery_wake: Notify::new(),
                access_hook: RwLock::new(Arc::new(AllowAll)),
            }),
        }
    }

    pub fn db(&self) -> &Database {
        &self.inner.db
    }

    pub fn settings(&self) -> &TransmitterSettings {
        &self.inner.settings
    }

    /// In-process signal that new stream events were committed: the delivery loop and
    /// long polls of this process wait on it instead of sleeping a whole poll interval.
    /// Other processes learn of new work through the database (see `ssf-worker`).
    pub fn delivery_wake(&self) -> &Notify {
        &self.inner.delivery_wake
    }

    /// Lets the IdP veto which streams hear about which users (see [`crate::access`]).
    /// Applies to every clone of this transmitter.
    pub fn with_access_hook(self, hook: Arc<dyn AccessHook>) -> Self {
        // A poisoned lock only means a writer panicked mid-swap of an Arc: the value is whole.
        *self
            .inner
            .access_hook
            .write()
            .unwrap_or_else(|e| e.into_inner()) = hook;
        self
    }

    pub fn access_hook(&self) -> Arc<dyn AccessHook> {
        self.inner
            .access_hook
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}
