//! Shared set-up of the SSF API tests: a real server on 127.0.0.1:0 over a fresh database,
//! one provider, receivers with tokens, and a small HTTP client.

#![allow(dead_code)]

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use ssf_provider::providers::{self, NewProvider};
use ssf_provider::{Transmitter, TransmitterSettings, receivers};
use ssf_tests::TestDb;
pub use ssf_tests::http_reply::{self, Reply};
pub use ssf_tests::wire_names::*;

/// A running SSF API with one provider.
pub struct Server {
    pub base: String,
    pub transmitter: Transmitter,
    pub provider: providers::Model,
    pub client: reqwest::Client,
    _db: TestDb,
    _serve: tokio::task::JoinHandle<()>,
}

/// Settings the tests change from the defaults.
pub struct Options {
    pub poll_ack_timeout: Duration,
    pub max_long_poll: Duration,
    pub min_verification_interval_seconds: i64,
    pub inactivity_timeout_seconds: Option<i64>,
    pub default_subjects: ssf_entities::DefaultSubjects,
    pub slug: &'static str,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            poll_ack_timeout: Duration::from_secs(60),
            max_long_poll: Duration::from_secs(5),
            min_verification_interval_seconds: 0,
            inactivity_timeout_seconds: None,
            default_subjects: ssf_entities::DefaultSubjects::All,
            slug: "acme",
        }
    }
}

pub async fn start(db: TestDb, options: Options) -> Server {
    start_with(db, options, |transmitter| {
        ssf_provider::http::router(transmitter)
    })
    .await
}

/// Starts the server with a router built by `router` (e.g. with an access-token verifier).
pub async fn start_with(
    db: TestDb,
    options: Options,
    router: impl FnOnce(Transmitter) -> axum::Router,
) -> Server {
    let database = db.open().await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let mut settings = TransmitterSettings::new(base.clone());
    settings.poll_ack_timeout = options.poll_ack_timeout;
    settings.max_long_poll = options.max_long_poll;
    let transmitter = Transmitter::new(database, settings.clone());
    let mut new = NewProvider::new("Acme SSO");
    new.slug = Some(options.slug.to_owned());
    new.min_verification_interval_seconds = options.min_verification_interval_seconds;
    new.inactivity_timeout_seconds = options.inactivity_timeout_seconds;
    new.default_subjects = options.default_subjects;
    let provider = providers::create_provider(transmitter.db(), &settings, new)
        .await
        .expect("create provider");
    let app = router(transmitter.clone());
    let serve = tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    Server {
        base,
        transmitter,
        provider,
        client: reqwest::Client::new(),
        _db: db,
        _serve: serve,
    }
}

impl Server {
    /// A new receiver of this server's provider; returns its bearer token.
    pub async fn receiver(&self, name: &str) -> String {
        self.receiver_of(&self.provider.id, name).await
    }

    pub async fn receiver_of(&self, provider_id: &str, name: &str) -> String {
        let (_, token) = receivers::create_receiver(&self.transmitter.db().orm, provider_id, name)
            .await
            .expect("receiver");
        token.expose().to_owned()
    }

    /// `{issuer}{suffix}` of this server's provider.
    pub fn url(&self, suffix: &str) -> String {
        format!("{}{suffix}", self.provider.issuer)
    }

    pub async fn send(
        &self,
        method: Method,
        url: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Reply {
        self.send_raw(method, url, token, body.map(|b| b.to_string()))
            .await
    }

    pub async fn send_raw(
        &self,
        method: Method,
        url: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> Reply {
        http_reply::send(&self.client, method, url, token, body).await
    }

    pub async fn get(&self, suffix: &str, token: &str) -> Reply {
        self.send(Method::GET, &self.url(suffix), Some(token), None)
            .await
    }

    pub async fn post(&self, suffix: &str, token: &str, body: Value) -> Reply {
        self.send(Method::POST, &self.url(suffix), Some(token), Some(&body))
            .await
    }

    /// Creates a stream and returns its configuration (asserting 201).
    pub async fn create_stream(&self, token: &str, body: Value) -> Value {
        let reply = self.post("/streams", token, body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        reply.json()
    }

    /// A poll stream asking for credential-change and session-revoked.
    pub async fn poll_stream(&self, token: &str) -> String {
        let config = self
            .create_stream(
                token,
                json!({"events_requested": [CREDENTIAL_CHANGE, SESSION_REVOKED]}),
            )
            .await;
        config["stream_id"].as_str().expect("stream_id").to_owned()
    }

    /// The stream's SET rows, oldest first.
    pub async fn stream_events(&self, stream_id: &str) -> Vec<ssf_entities::stream_events::Model> {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
        ssf_entities::stream_events::Entity::find()
            .filter(ssf_entities::stream_events::Column::StreamId.eq(stream_id))
            .order_by_asc(ssf_entities::stream_events::Column::Id)
            .all(&self.transmitter.db().orm)
            .await
            .expect("stream events")
    }

    /// Emits a password change of `email` through the IdP API.
    pub async fn password_changed(&self, email: &str) -> usize {
        let user = ssf_provider::idp::User::by_email(email).expect("user");
        let event = ssf_provider::idp::IdpEvent::new(
            user,
            ssf_provider::idp::IdpEventKind::PasswordChanged,
        );
        self.transmitter
            .emit(&self.provider.id, event)
            .await
            .expect("emit")
            .stream_events
    }

    /// Polls `stream_id` with `body`, asserting 200.
    pub async fn poll(&self, token: &str, stream_id: &str, body: Value) -> Value {
        let reply = self.post(&format!("/poll/{stream_id}"), token, body).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.json()
    }
}

/// The unsigned claims stored in a SET row.
pub fn payload_of(row: &ssf_entities::stream_events::Model) -> Value {
    serde_json::from_str(&row.payload).expect("payload is JSON")
}
