//! Shared pieces of the delivery tests: a capturing RFC 8935 receiver on 127.0.0.1, a
//! provider with streams, stream events inserted by the row contract, and a worker with a
//! millisecond retry schedule.

#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set};
use ssf_entities::{
    DeliveryMethod, EventStatus, SigningAlg, StreamStatus, delivery_attempts, stream_events,
    streams,
};
use ssf_provider::db::Database;
use ssf_provider::providers::{self, NewProvider};
use ssf_provider::set::{SecurityEvent, SetClaims, SubjectId};
use ssf_provider::{Transmitter, TransmitterSettings};
use ssf_tests::TestDb;
use ssf_worker::{Worker, WorkerConfig, WorkerError};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub jti: String,
    pub token: String,
    pub content_type: Option<String>,
    pub accept: Option<String>,
    pub authorization: Option<String>,
    pub at: Instant,
    /// The sender's address: one per TCP connection.
    pub peer: SocketAddr,
}

type Respond = dyn Fn(&Received, usize) -> Response + Send + Sync;

/// A receiver answering with `respond(request, how many times this jti was received before)`.
pub struct Receiver {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
    server: JoinHandle<()>,
}

impl Receiver {
    pub async fn start(
        respond: impl Fn(&Received, usize) -> Response + Send + Sync + 'static,
    ) -> Receiver {
        Self::start_with_delay(Duration::ZERO, respond).await
    }

    /// Like [`start`](Self::start), taking `delay` to answer each request.
    pub async fn start_with_delay(
        delay: Duration,
        respond: impl Fn(&Received, usize) -> Response + Send + Sync + 'static,
    ) -> Receiver {
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let respond: Arc<Respond> = Arc::new(respond);
        let state = ReceiverState {
            received: received.clone(),
            respond,
            delay,
        };
        let app = axum::Router::new()
            .route("/events", axum::routing::post(receive))
            .with_state(state);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind receiver");
        let url = format!("http://{}/events", listener.local_addr().unwrap());
        let server = tokio::spawn(async move {
            let _ = axum::serve(
                listener,
                app.into_make_service_with_connect_info::<SocketAddr>(),
            )
            .await;
        });
        Receiver {
            url,
            received,
            server,
        }
    }

    /// Answers 202 to everything.
    pub async fn accepting() -> Receiver {
        Self::start(|_, _| StatusCode::ACCEPTED.into_response()).await
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    pub fn jtis(&self) -> Vec<String> {
        self.received().into_iter().map(|r| r.jti).collect()
    }

    pub fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

#[derive(Clone)]
struct ReceiverState {
    received: Arc<Mutex<Vec<Received>>>,
    respond: Arc<Respond>,
    delay: Duration,
}

async fn receive(
    axum::extract::State(ReceiverState {
        received,
        respond,
        delay,
    }): axum::extract::State<ReceiverState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let token = String::from_utf8_lossy(&body).into_owned();
    let Some(jti) = jti_of(&token) else {
        return (
            StatusCode::BAD_REQUEST,
            r#"{"err":"invalid_request","description":"not a SET"}"#,
        )
            .into_response();
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let request = Received {
        jti,
        token,
        content_type: header("content-type"),
        accept: header("accept"),
        authorization: header("authorization"),
        at: Instant::now(),
        peer,
    };
    let seen_before = {
        let mut all = received.lock().unwrap();
        let seen = all.iter().filter(|r| r.jti == request.jti).count();
        all.push(request.clone());
        seen
    };
    respond(&request, seen_before)
}

/// The `jti` of a compact SET (the signature is checked elsewhere).
pub fn jti_of(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("jti")?.as_str().map(str::to_owned)
}

/// A listener that accepts connections and never answers.
pub async fn black_hole() -> (String, JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/events", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        let mut open = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            open.push(socket);
        }
    });
    (url, task)
}

/// A migrated database, a transmitter that may push to loopback, and one provider.
pub struct Fixture {
    pub db: Database,
    pub transmitter: Transmitter,
    pub provider: providers::Model,
}

pub const RETENTION_SECONDS: i64 = 3600;

impl Fixture {
    pub async fn new(test_db: &TestDb) -> Fixture {
        Self::with_alg(test_db, SigningAlg::ES256).await
    }

    pub async fn with_alg(test_db: &TestDb, alg: SigningAlg) -> Fixture {
        let db = test_db.open().await;
        ssf_worker::migrate_queue(&db)
            .await
            .expect("queue migrations");
        let mut settings = TransmitterSettings::new("http://127.0.0.1:1");
        settings.allow_insecure_endpoints = true;
        let transmitter = Transmitter::new(db.clone(), settings.clone());
        let mut new = NewProvider::new("Delivery test");
        new.signing_alg = alg;
        new.event_retention_seconds = RETENTION_SECONDS;
        let provider = providers::create_provider(&db, &settings, new)
            .await
            .expect("provider");
        Fixture {
            db,
            transmitter,
            provider,
        }
    }

    /// Another handle on the same database, as a second process would have.
    pub async fn second_process(&self, test_db: &TestDb) -> Transmitter {
        let db = test_db.open().await;
        Transmitter::new(db, self.transmitter.settings().clone())
    }

    pub async fn push_stream(
        &self,
        endpoint: &str,
        status: StreamStatus,
        authorization: Option<&str>,
    ) -> streams::Model {
        let now = ssf_provider::clock::now_ms();
        let id = uuid::Uuid::new_v4().simple().to_string();
        streams::ActiveModel {
            id: Set(id),
            provider_id: Set(self.provider.id.clone()),
            receiver_id: Set(None),
            owner: Set("delivery-test".into()),
            aud: Set("\"https://receiver.example\"".into()),
            delivery_method: Set(DeliveryMethod::Push),
            delivery_method_uri: Set("urn:ietf:rfc:8935".into()),
            endpoint_url: Set(Some(endpoint.to_owned())),
            authorization_header: Set(authorization.map(str::to_owned)),
            format: Set(None),
            events_requested: Set("[]".into()),
            events_delivered: Set("[]".into()),
            description: Set(None),
            status: Set(status),
            status_reason: Set(None),
            subject_in_event: Set(false),
            last_verification_at: Set(None),
            last_activity_at: Set(now),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&self.db.orm)
        .await
        .expect("stream")
    }

    /// Records `n` SETs on `stream` as dispatch would (`status` Pending or Held), oldest first;
    /// returns their jtis in recording order.
    pub async fn record_events(
        &self,
        stream: &streams::Model,
        n: usize,
        status: EventStatus,
    ) -> Vec<String> {
        let jtis = self.record_events_on(&self.db.orm, stream, n, status).await;
        self.transmitter.delivery_wake().notify_waiters();
        jtis
    }

    /// Like [`record_events`](Self::record_events) on any connection or transaction, with no
    /// wake-up.
    pub async fn record_events_on<C: sea_orm::ConnectionTrait>(
        &self,
        conn: &C,
        stream: &streams::Model,
        n: usize,
        status: EventStatus,
    ) -> Vec<String> {
        let now = ssf_provider::clock::now_ms();
        let mut jtis = Vec::with_capacity(n);
        let mut rows = Vec::with_capacity(n);
        for i in 0..n {
            let claims = SetClaims::builder(
                self.provider.issuer.clone(),
                "https://receiver.example",
                SubjectId::opaque(format!("user-{i}")),
                SecurityEvent::verification(Some(format!("state-{i}"))),
            )
            .build()
            .expect("claims");
            jtis.push(claims.jti().to_owned());
            rows.push(stream_events::ActiveModel {
                stream_id: Set(stream.id.clone()),
                delivery_method: Set(DeliveryMethod::Push),
                jti: Set(claims.jti().to_owned()),
                txn: Set(None),
                event_type: Set(claims.event().event_type().uri().to_owned()),
                payload: Set(claims.to_json()),
                token: Set(None),
                status: Set(status),
                attempts: Set(0),
                next_attempt_at: Set(now),
                lease_until: Set(None),
                leased_by: Set(None),
                last_error: Set(None),
                last_http_status: Set(None),
                expires_at: Set(now + self.provider.event_retention_seconds * 1000),
                created_at: Set(now),
                delivered_at: Set(None),
                ..Default::default()
            });
        }
        for chunk in rows.chunks(500) {
            stream_events::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(conn)
                .await
                .expect("insert events");
        }
        jtis
    }

    pub async fn event(&self, jti: &str) -> stream_events::Model {
        stream_events::Entity::find()
            .filter(stream_events::Column::Jti.eq(jti))
            .one(&self.db.orm)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("no stream event {jti}"))
    }

    pub async fn attempts(&self, jti: &str) -> Vec<delivery_attempts::Model> {
        let event = self.event(jti).await;
        delivery_attempts::Entity::find()
            .filter(delivery_attempts::Column::StreamEventId.eq(event.id))
            .order_by_asc(delivery_attempts::Column::Id)
            .all(&self.db.orm)
            .await
            .unwrap()
    }

    pub async fn count_status(&self, status: EventStatus) -> usize {
        stream_events::Entity::find()
            .filter(stream_events::Column::Status.eq(status))
            .all(&self.db.orm)
            .await
            .unwrap()
            .len()
    }
}

/// A worker configuration for tests: retries after tens of milliseconds, short leases.
pub fn fast_config() -> WorkerConfig {
    WorkerConfig {
        retry_min_backoff: Duration::from_millis(20),
        retry_max_backoff: Duration::from_millis(100),
        max_attempts: 5,
        poll_interval: Duration::from_millis(50),
        connect_timeout: Duration::from_secs(1),
        request_timeout: Duration::from_secs(2),
        lease: Duration::from_secs(5),
        circuit_min_open: Duration::from_millis(50),
        circuit_max_open: Duration::from_millis(200),
        shutdown_grace: Duration::from_secs(2),
        sweep_interval: Duration::from_secs(1),
        ..WorkerConfig::default()
    }
}

/// A running worker; `stop()` asks for a graceful shutdown, dropping `handle` aborts it.
pub struct RunningWorker {
    pub name: String,
    stop: Option<oneshot::Sender<()>>,
    pub handle: JoinHandle<Result<(), WorkerError>>,
}

impl RunningWorker {
    pub fn start(transmitter: Transmitter, config: WorkerConfig) -> RunningWorker {
        let (stop, stopped) = oneshot::channel::<()>();
        let name = config.worker_name.clone();
        let handle = tokio::spawn(Worker::new(transmitter, config).run(async move {
            let _ = stopped.await;
        }));
        RunningWorker {
            name,
            stop: Some(stop),
            handle,
        }
    }

    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let result = tokio::time::timeout(Duration::from_secs(15), &mut self.handle)
            .await
            .expect("worker stops within its grace period");
        result
            .expect("worker task")
            .expect("worker ran without error");
    }

    /// Kills the worker where it stands, leases and all, as `kill -9` would.
    pub async fn crash(self) {
        self.handle.abort();
        let _ = self.handle.await;
    }
}

/// Polls `condition` until it holds or `within` passes; says what it waited for on failure.
pub async fn wait_for<F, Fut>(what: &str, within: Duration, mut condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + within;
    loop {
        if condition().await {
            return;
        }
        if Instant::now() > deadline {
            panic!("timed out after {within:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
