//! The delivery benchmark behind `ssf bench` and `cargo bench -p ssf-worker`: bursts of SETs
//! to a local receiver, measured end to end, beside the two limits delivery cannot beat on this
//! machine: how fast the provider's key signs on all cores, and how fast the receiver answers
//! the same kind of HTTP client with no database and no signing.
//!
//! Two bursts over the same streams: *live*, recorded while the worker runs (as during a surge
//! of IdP events; its latency, from each row's `created_at` to the worker's receipt of the
//! receiver's 202, is what receivers see), and *backlog*, recorded while no worker runs and then
//! drained (a worker catching up after an outage). Rows are recorded by the row contract, 500
//! per multi-row INSERT, round-robin over the streams.
//!
//! The live burst's CPU time is split per SET into signing, the rest of this process and a local
//! PostgreSQL server ([`LiveCpu`]): on a VM whose speed drifts, signing's share of the CPU is
//! the steady figure to hold against the signing limit.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use sea_orm::{ActiveModelTrait, Set};
use ssf_entities::{DeliveryMethod, SigningAlg, StreamStatus, streams};
use ssf_provider::clock::now_ms;
use ssf_provider::db::{Database, DbOptions, Pool};
use ssf_provider::jose::SigningKey;
use ssf_provider::providers::{self, NewProvider};
use ssf_provider::set::{SecurityEvent, SetClaims, SubjectId};
use ssf_provider::{Transmitter, TransmitterSettings};
use tokio::sync::oneshot;

use crate::config::WorkerConfig;
use crate::worker::{Worker, migrate_queue};

/// SETs delivered, unmeasured, before the live burst.
const WARM_UP_SETS: usize = 2_000;

/// What to run.
#[derive(Debug, Clone)]
pub struct BenchOptions {
    /// A scratch database (it is migrated and filled); `None`: a temporary SQLite file.
    pub database_url: Option<String>,
    pub alg: SigningAlg,
    pub events: usize,
    pub streams: usize,
    /// The worker's configuration (its name, and `allow_insecure_endpoints` is implied).
    pub worker: WorkerConfig,
}

impl Default for BenchOptions {
    fn default() -> Self {
        Self {
            database_url: None,
            alg: SigningAlg::ES256,
            events: 10_000,
            streams: 10,
            worker: WorkerConfig::default(),
        }
    }
}

/// What was measured.
#[derive(Debug, Clone)]
pub struct BenchReport {
    pub backend: &'static str,
    pub alg: SigningAlg,
    pub events: usize,
    pub streams: usize,
    pub cores: usize,
    /// From the first row recorded to the last SET received.
    pub elapsed: Duration,
    /// How long recording the burst took (the worker was delivering meanwhile).
    pub record_elapsed: Duration,
    pub delivered_per_sec: f64,
    /// SETs per second delivered from a backlog recorded before the worker started.
    pub drained_per_sec: f64,
    pub latency_p50: Duration,
    pub latency_p99: Duration,
    /// SETs signed per second with this key on all cores, nothing else running.
    pub signing_limit_per_sec: f64,
    /// Requests per second the receiver answers for the push client, nothing else running.
    pub receiver_limit_per_sec: f64,
    /// Where the cores went during the live burst; `None` without per-thread CPU clocks.
    pub live_cpu: Option<LiveCpu>,
}

/// The CPU time of the live burst, per SET delivered. Unlike SETs per second, the split holds
/// still when the machine as a whole runs faster or slower (a VM's neighbours): the share of
/// signing in the transmitter's CPU bounds what it delivers of the signing limit on cores of
/// its own (less however much slower signing runs beside the other work than alone).
#[derive(Debug, Clone, Copy)]
pub struct LiveCpu {
    /// Signing the SETs (the signing threads' own CPU time).
    pub signing: Duration,
    /// Everything else the transmitter does in this process: pushing (the HTTP client), claims
    /// and outcomes, recording the burst, and SQLite, which runs in the process.
    pub rest_of_process: Duration,
    /// PostgreSQL's server processes, when the database is PostgreSQL on this machine (read
    /// from Linux's `/proc`; anything else the server does meanwhile counts too).
    pub database_server: Option<Duration>,
    /// The receiver's threads (its side of the HTTP exchanges): not the transmitter's work, but
    /// taken from the same cores in this bench.
    pub receiver: Option<Duration>,
}

impl LiveCpu {
    /// Signing's share of the transmitter's CPU time in the burst (this process without the
    /// receiver's threads, and the database server).
    pub fn signing_share(&self) -> f64 {
        let total = self.signing + self.rest_of_process + self.database_server.unwrap_or_default();
        if total.is_zero() {
            return 0.0;
        }
        self.signing.as_secs_f64() / total.as_secs_f64()
    }
}

/// CPU clocks read at the start of the live burst.
struct CpuSnapshot {
    process: Duration,
    signing_nanos: u64,
    database_server: Option<Duration>,
    receiver: Option<Duration>,
}

impl CpuSnapshot {
    fn take(database_url: &str, receiver: &BenchReceiver) -> Option<Self> {
        Some(Self {
            process: crate::cpu_time::process()?,
            signing_nanos: crate::metrics::global().signing_cpu_nanos.get(),
            database_server: local_postgres_cpu(database_url),
            receiver: receiver.cpu(),
        })
    }

    /// What was used since `self`, per SET of `sets`.
    fn per_set_since(
        &self,
        sets: usize,
        database_url: &str,
        receiver: &BenchReceiver,
    ) -> Option<LiveCpu> {
        let sets = u32::try_from(sets.max(1)).ok()?;
        let process = crate::cpu_time::process()?.saturating_sub(self.process);
        let signing = Duration::from_nanos(
            crate::metrics::global()
                .signing_cpu_nanos
                .get()
                .saturating_sub(self.signing_nanos),
        );
        let database_server = match (self.database_server, local_postgres_cpu(database_url)) {
            (Some(before), Some(after)) => Some(after.saturating_sub(before) / sets),
            _ => None,
        };
        let receiver = match (self.receiver, receiver.cpu()) {
            (Some(before), Some(after)) => Some(after.saturating_sub(before)),
            _ => None,
        };
        Some(LiveCpu {
            signing: signing / sets,
            rest_of_process: process
                .saturating_sub(signing)
                .saturating_sub(receiver.unwrap_or_default())
                / sets,
            database_server,
            receiver: receiver.map(|used| used / sets),
        })
    }
}

/// Whether `database_url` names a PostgreSQL server on this machine: by Unix socket (a
/// percent-encoded path as the host) or by loopback.
fn is_local_postgres(database_url: &str) -> bool {
    let Ok(url) = url::Url::parse(database_url) else {
        return false;
    };
    if !matches!(url.scheme(), "postgres" | "postgresql") {
        return false;
    }
    match url.host_str() {
        None | Some("" | "localhost" | "127.0.0.1" | "[::1]") => true,
        Some(host) => host.starts_with("%2F") || host.starts_with("%2f"),
    }
}

/// CPU time of every PostgreSQL server process on this machine (their own and that of the
/// backends they reaped), when `database_url` names a server reached by Unix socket or
/// loopback; `None` for SQLite, a remote server, or without Linux's `/proc`.
fn local_postgres_cpu(database_url: &str) -> Option<Duration> {
    if !is_local_postgres(database_url) {
        return None;
    }
    // SAFETY: sysconf only reads a configuration value.
    let ticks_per_second = u64::try_from(unsafe { libc::sysconf(libc::_SC_CLK_TCK) }).ok()?;
    let mut ticks = 0u64;
    let mut found = false;
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let path = entry.path();
        if !std::fs::read_to_string(path.join("comm")).is_ok_and(|c| c.trim() == "postgres") {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(path.join("stat")) else {
            continue;
        };
        // The fields after the parenthesised command name: state is the first, then utime,
        // stime, cutime and cstime are the 12th to 15th.
        let Some(fields) = stat
            .rfind(')')
            .map(|end| stat[end + 1..].split_whitespace())
        else {
            continue;
        };
        let times: Vec<u64> = fields
            .skip(11)
            .take(4)
            .filter_map(|f| f.parse().ok())
            .collect();
        if times.len() == 4 {
            ticks += times.iter().sum::<u64>();
            found = true;
        }
    }
    found.then(|| Duration::from_millis(ticks * 1000 / ticks_per_second.max(1)))
}

impl BenchReport {
    /// The header of the table [`markdown_row`](Self::markdown_row) writes rows of.
    pub fn markdown_header() -> &'static str {
        "| backend | alg | SETs × streams | SETs/s, live | SETs/s, backlog | p50 | p99 | signing limit (SETs/s, all cores) | receiver limit (req/s) | live CPU per SET, µs: signing / rest of process / database server / receiver | signing share of the transmitter's CPU |\n|---|---|---|---|---|---|---|---|---|---|---|"
    }

    /// A Markdown table row: backend, alg, burst, SETs/s live and from a backlog, p50, p99,
    /// signing limit, receiver limit, the live burst's CPU per SET and signing's share of it.
    pub fn markdown_row(&self) -> String {
        let micros = |d: Duration| format!("{:.0}", d.as_secs_f64() * 1e6);
        let (cpu, share) = match &self.live_cpu {
            Some(cpu) => (
                format!(
                    "{} / {} / {} / {}",
                    micros(cpu.signing),
                    micros(cpu.rest_of_process),
                    cpu.database_server.map_or_else(|| "-".to_owned(), micros),
                    cpu.receiver.map_or_else(|| "-".to_owned(), micros)
                ),
                format!("{:.1}%", cpu.signing_share() * 100.0),
            ),
            None => ("-".to_owned(), "-".to_owned()),
        };
        format!(
            "| {} | {:?} | {} × {} | {:.0} | {:.0} | {} ms | {} ms | {:.0} | {:.0} | {cpu} | {share} |",
            self.backend,
            self.alg,
            self.events,
            self.streams,
            self.delivered_per_sec,
            self.drained_per_sec,
            self.latency_p50.as_millis(),
            self.latency_p99.as_millis(),
            self.signing_limit_per_sec,
            self.receiver_limit_per_sec
        )
    }
}

/// The benchmark failed to run (not a slow result: that is a report).
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    #[error("{0}")]
    Setup(String),
}

fn setup<E: std::fmt::Display>(context: &'static str) -> impl Fn(E) -> BenchError {
    move |e| BenchError::Setup(format!("{context}: {e}"))
}

/// Runs one burst and the two limit measurements.
pub async fn run(options: BenchOptions) -> Result<BenchReport, BenchError> {
    let scratch = tempdir_path()?;
    let url = options
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}", scratch.join("bench.db").display()));
    let db = Database::connect(
        &url,
        &DbOptions {
            max_connections: 16,
            ..DbOptions::default()
        },
    )
    .await
    .map_err(setup("database"))?;
    db.migrate().await.map_err(setup("migrations"))?;
    migrate_queue(&db)
        .await
        .map_err(setup("queue migrations"))?;
    let backend = match db.pool {
        Pool::Sqlite(_) => "SQLite",
        Pool::Postgres(_) => "PostgreSQL",
    };
    let mut settings = TransmitterSettings::new("http://127.0.0.1:1");
    settings.allow_insecure_endpoints = true;
    let transmitter = Transmitter::new(db.clone(), settings.clone());
    let mut new = NewProvider::new(format!("bench {}", uuid::Uuid::new_v4().simple()));
    new.signing_alg = options.alg;
    let provider = providers::create_provider(&db, &settings, new)
        .await
        .map_err(setup("provider"))?;

    let receiver = BenchReceiver::start().await.map_err(setup("receiver"))?;
    let mut stream_ids = Vec::new();
    for _ in 0..options.streams.max(1) {
        stream_ids.push(
            insert_stream(&db, &provider.id, &receiver.url)
                .await
                .map_err(setup("stream"))?,
        );
    }
    let burst = Burst {
        db: &db,
        transmitter: &transmitter,
        stream_ids: &stream_ids,
        receiver: &receiver,
        retention_ms: provider.event_retention_seconds * 1000,
    };
    let payloads = make_payloads(&provider.issuer, options.events)?;

    // Live: the worker runs while the burst is recorded, as under a surge of IdP events. A
    // surge meets a worker that has been running: an unmeasured burst first opens its database
    // and receiver connections, starts its signing threads and grows its heap (a cold start
    // cost this process ~10 µs more per SET of a 10,000-SET burst).
    let worker = RunningBench::start(&transmitter, &options.worker);
    let warm_up = WARM_UP_SETS.min(options.events);
    burst
        .record(&make_payloads(&provider.issuer, warm_up)?)
        .await?;
    burst.wait_for(warm_up as u64).await?;
    let started = Instant::now();
    let started_ms = now_ms();
    let cpu_before = CpuSnapshot::take(&url, &receiver);
    burst.record(&payloads).await?;
    let record_elapsed = started.elapsed();
    let mut received = (warm_up + options.events) as u64;
    burst.wait_for(received).await?;
    let elapsed = receiver.last_receipt().saturating_duration_since(started);
    let live_cpu =
        cpu_before.and_then(|before| before.per_set_since(options.events, &url, &receiver));
    let latencies = burst.latencies(options.events, started_ms).await?;
    worker.stop().await?;

    // Drain: a backlog recorded while no worker ran (a worker restarting after an outage).
    let backlog = make_payloads(&provider.issuer, options.events)?;
    burst.record(&backlog).await?;
    let worker = RunningBench::start(&transmitter, &options.worker);
    let drain_started = Instant::now();
    received += options.events as u64;
    burst.wait_for(received).await?;
    let drain_elapsed = receiver
        .last_receipt()
        .saturating_duration_since(drain_started);
    worker.stop().await?;

    let key = ssf_provider::signing_keys::active_key(&db.orm, &provider)
        .await
        .map_err(setup("signing key"))?;
    let signing_limit = signing_limit(&key, &payloads[..payloads.len().min(4000)]).await;
    let sample_token = key.sign_set(&payloads[0].1).map_err(setup("signing"))?;
    let receiver_limit =
        receiver_limit(&receiver.url, &sample_token, options.streams.max(1), 20_000).await?;
    db.close().await;
    let _ = std::fs::remove_dir_all(&scratch);

    Ok(BenchReport {
        backend,
        alg: options.alg,
        events: options.events,
        streams: options.streams,
        cores: std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1),
        elapsed,
        record_elapsed,
        delivered_per_sec: options.events as f64 / elapsed.as_secs_f64(),
        drained_per_sec: options.events as f64 / drain_elapsed.as_secs_f64(),
        latency_p50: percentile(&latencies, 0.50),
        latency_p99: percentile(&latencies, 0.99),
        signing_limit_per_sec: signing_limit,
        receiver_limit_per_sec: receiver_limit,
        live_cpu,
    })
}

const SQLITE_RECORD_BURST: &str = "
INSERT INTO stream_events (stream_id, delivery_method, jti, event_type, payload, status, attempts,
                           next_attempt_at, expires_at, created_at)
SELECT value ->> '$.s', 'push', value ->> '$.j', ?1, value ->> '$.p', 'pending', 0, ?2, ?2 + ?3, ?2
FROM jsonb_each(?4) ORDER BY key";

// emit() binds each row's values (sea-orm's multi-row `VALUES`), so PostgreSQL has no JSON to
// parse; arrays, one per column, do the same here.
const PG_RECORD_BURST: &str = "
INSERT INTO stream_events (stream_id, delivery_method, jti, event_type, payload, status, attempts,
                           next_attempt_at, expires_at, created_at)
SELECT u.s, 'push', u.j, $1, u.p, 'pending', 0, $2, $2 + $3, $2
FROM unnest($4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS u(s, j, p, n)
ORDER BY u.n";

/// One multi-row INSERT, the way emit() records a large event (rows per stream in order):
/// `(stream_id, jti, payload)` per row.
async fn record_burst_chunk(
    pool: &Pool,
    rows: &[(&str, &str, &str)],
    now: i64,
    retention_ms: i64,
) -> Result<(), sqlx::Error> {
    const VERIFICATION: &str = "https://schemas.openid.net/secevent/ssf/event-type/verification";
    match pool {
        Pool::Sqlite(pool) => {
            let rows_json = serde_json::Value::Array(
                rows.iter()
                    .map(|(stream, jti, payload)| {
                        serde_json::json!({ "s": stream, "j": jti, "p": payload })
                    })
                    .collect(),
            )
            .to_string();
            sqlx::query(SQLITE_RECORD_BURST)
                .bind(VERIFICATION)
                .bind(now)
                .bind(retention_ms)
                .bind(rows_json)
                .execute(pool)
                .await?;
        }
        Pool::Postgres(pool) => {
            sqlx::query(PG_RECORD_BURST)
                .bind(VERIFICATION)
                .bind(now)
                .bind(retention_ms)
                .bind(rows.iter().map(|row| row.0).collect::<Vec<_>>())
                .bind(rows.iter().map(|row| row.1).collect::<Vec<_>>())
                .bind(rows.iter().map(|row| row.2).collect::<Vec<_>>())
                .execute(pool)
                .await?;
        }
    }
    Ok(())
}

fn make_payloads(issuer: &str, events: usize) -> Result<Vec<(String, String)>, BenchError> {
    (0..events)
        .map(|i| {
            let claims = SetClaims::builder(
                issuer.to_owned(),
                "https://receiver.example",
                SubjectId::opaque(format!("user-{i}")),
                SecurityEvent::verification(None),
            )
            .build()
            .map_err(setup("claims"))?;
            Ok((claims.jti().to_owned(), claims.to_json()))
        })
        .collect()
}

/// The bench's streams and receiver.
struct Burst<'a> {
    db: &'a Database,
    transmitter: &'a Transmitter,
    stream_ids: &'a [String],
    receiver: &'a BenchReceiver,
    retention_ms: i64,
}

impl Burst<'_> {
    /// Records the SETs round-robin over the streams, 500 rows per statement.
    async fn record(&self, payloads: &[(String, String)]) -> Result<(), BenchError> {
        for (chunk_index, chunk) in payloads.chunks(500).enumerate() {
            let rows: Vec<(&str, &str, &str)> = chunk
                .iter()
                .enumerate()
                .map(|(i, (jti, payload))| {
                    let stream = &self.stream_ids[(chunk_index * 500 + i) % self.stream_ids.len()];
                    (stream.as_str(), jti.as_str(), payload.as_str())
                })
                .collect();
            record_burst_chunk(&self.db.pool, &rows, now_ms(), self.retention_ms)
                .await
                .map_err(setup("recording the burst"))?;
            self.transmitter.delivery_wake().notify_waiters();
        }
        Ok(())
    }

    async fn wait_for(&self, received: u64) -> Result<(), BenchError> {
        let deadline = Instant::now() + Duration::from_secs(600);
        while self.receiver.count() < received {
            if Instant::now() > deadline {
                return Err(BenchError::Setup(format!(
                    "only {} of {received} SETs arrived in 10 minutes",
                    self.receiver.count()
                )));
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        Ok(())
    }

    /// Recording-to-receipt times of the SETs recorded since `since_ms`, once their outcomes
    /// (written just after the receipts) are in.
    async fn latencies(&self, events: usize, since_ms: i64) -> Result<Vec<i64>, BenchError> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let latencies = delivered_latencies(self.db, since_ms)
                .await
                .map_err(setup("reading latencies"))?;
            if latencies.len() >= events || Instant::now() > deadline {
                return Ok(latencies);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

struct RunningBench {
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<(), crate::worker::WorkerError>>,
}

impl RunningBench {
    fn start(transmitter: &Transmitter, config: &WorkerConfig) -> Self {
        let (stop, stopped) = oneshot::channel::<()>();
        let config = WorkerConfig {
            worker_name: crate::config::unique_worker_name(),
            ..config.clone()
        };
        let task = tokio::spawn(Worker::new(transmitter.clone(), config).run(async move {
            let _ = stopped.await;
        }));
        Self { stop, task }
    }

    async fn stop(self) -> Result<(), BenchError> {
        let _ = self.stop.send(());
        self.task
            .await
            .map_err(setup("worker task"))?
            .map_err(setup("worker"))
    }
}

fn tempdir_path() -> Result<std::path::PathBuf, BenchError> {
    let dir = std::env::temp_dir().join(format!("ssf-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).map_err(setup("temporary directory"))?;
    Ok(dir)
}

async fn insert_stream(
    db: &Database,
    provider_id: &str,
    endpoint: &str,
) -> Result<String, sea_orm::DbErr> {
    let now = now_ms();
    let id = uuid::Uuid::new_v4().simple().to_string();
    streams::ActiveModel {
        id: Set(id.clone()),
        provider_id: Set(provider_id.to_owned()),
        receiver_id: Set(None),
        owner: Set("bench".into()),
        aud: Set("\"https://receiver.example\"".into()),
        delivery_method: Set(DeliveryMethod::Push),
        delivery_method_uri: Set("urn:ietf:rfc:8935".into()),
        endpoint_url: Set(Some(endpoint.to_owned())),
        authorization_header: Set(Some("Bearer bench".into())),
        format: Set(None),
        events_requested: Set("[]".into()),
        events_delivered: Set("[]".into()),
        description: Set(None),
        status: Set(StreamStatus::Enabled),
        status_reason: Set(None),
        subject_in_event: Set(false),
        last_verification_at: Set(None),
        last_activity_at: Set(now),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&db.orm)
    .await?;
    Ok(id)
}

async fn delivered_latencies(db: &Database, since_ms: i64) -> Result<Vec<i64>, sqlx::Error> {
    // `$1` is a parameter on both backends (SQLite takes it as a named one).
    const SQL: &str = "SELECT delivered_at - created_at FROM stream_events
                       WHERE status = 'delivered' AND created_at >= $1";
    let mut latencies: Vec<i64> = match &db.pool {
        Pool::Sqlite(pool) => {
            sqlx::query_scalar(SQL)
                .bind(since_ms)
                .fetch_all(pool)
                .await?
        }
        Pool::Postgres(pool) => {
            sqlx::query_scalar(SQL)
                .bind(since_ms)
                .fetch_all(pool)
                .await?
        }
    };
    latencies.sort_unstable();
    Ok(latencies)
}

fn percentile(sorted_ms: &[i64], q: f64) -> Duration {
    if sorted_ms.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted_ms.len() as f64 - 1.0) * q).round() as usize;
    Duration::from_millis(sorted_ms[index].max(0) as u64)
}

/// SETs per second `key` signs on every core.
async fn signing_limit(key: &SigningKey, payloads: &[(String, String)]) -> f64 {
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for chunk in payloads.chunks(payloads.len().div_ceil(cores).max(1)) {
        let key = key.clone();
        let chunk: Vec<String> = chunk.iter().map(|(_, p)| p.clone()).collect();
        tasks.push(tokio::task::spawn_blocking(move || {
            chunk.iter().filter(|p| key.sign_set(p).is_ok()).count()
        }));
    }
    let mut signed = 0;
    for task in tasks {
        signed += task.await.unwrap_or(0);
    }
    signed as f64 / started.elapsed().as_secs_f64()
}

/// Requests per second the receiver answers with `concurrency` sequential senders, through a
/// client configured like the push client.
async fn receiver_limit(
    url: &str,
    token: &str,
    concurrency: usize,
    requests: usize,
) -> Result<f64, BenchError> {
    let client = reqwest::Client::builder()
        .no_proxy()
        .tcp_nodelay(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(setup("client"))?;
    let per_sender = requests / concurrency;
    let started = Instant::now();
    let mut senders = Vec::new();
    for _ in 0..concurrency {
        let (client, url, token) = (client.clone(), url.to_owned(), token.to_owned());
        senders.push(tokio::spawn(async move {
            for _ in 0..per_sender {
                let _ = client
                    .post(&url)
                    .header("content-type", crate::push_client::SECEVENT_JWT)
                    .header("authorization", "Bearer bench")
                    .body(token.clone())
                    .send()
                    .await;
            }
        }));
    }
    for sender in senders {
        let _ = sender.await;
    }
    Ok((per_sender * concurrency) as f64 / started.elapsed().as_secs_f64())
}

/// A receiver that accepts everything and counts. It runs on a runtime of its own, so that the
/// CPU it takes (its half of each HTTP exchange) can be told apart from the transmitter's: a
/// real receiver is on another machine.
struct BenchReceiver {
    url: String,
    state: Arc<ReceiverState>,
    clocks: Arc<std::sync::Mutex<Vec<crate::cpu_time::ThreadClock>>>,
    runtime: Option<tokio::runtime::Runtime>,
}

struct ReceiverState {
    count: AtomicU64,
    started: Instant,
    last_receipt_micros: AtomicU64,
}

impl BenchReceiver {
    async fn start() -> std::io::Result<Self> {
        let state = Arc::new(ReceiverState {
            count: AtomicU64::new(0),
            started: Instant::now(),
            last_receipt_micros: AtomicU64::new(0),
        });
        let handler_state = state.clone();
        let app = axum::Router::new().route(
            "/events",
            axum::routing::post(move |_body: axum::body::Bytes| {
                let state = handler_state.clone();
                async move {
                    state.count.fetch_add(1, Ordering::Relaxed);
                    let micros =
                        u64::try_from(state.started.elapsed().as_micros()).unwrap_or(u64::MAX);
                    state
                        .last_receipt_micros
                        .fetch_max(micros, Ordering::Relaxed);
                    axum::http::StatusCode::ACCEPTED
                }
            }),
        );
        let clocks = Arc::new(std::sync::Mutex::new(Vec::new()));
        let thread_clocks = clocks.clone();
        let workers = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .thread_name("bench-receiver")
            .on_thread_start(move || {
                if let Some(clock) = crate::cpu_time::ThreadClock::current() {
                    thread_clocks
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .push(clock);
                }
            })
            .enable_all()
            .build()?;
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let url = format!("http://{}/events", listener.local_addr()?);
        let listener = {
            // Registered with the receiver's own runtime, not the caller's.
            let _receiver_runtime = runtime.enter();
            tokio::net::TcpListener::from_std(listener)?
        };
        runtime.spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        // The workers register their clocks as they start, after `build` has returned.
        let registering = Instant::now();
        while clocks.lock().unwrap_or_else(|e| e.into_inner()).len() < workers
            && registering.elapsed() < Duration::from_secs(2)
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        Ok(Self {
            url,
            state,
            clocks,
            runtime: Some(runtime),
        })
    }

    fn count(&self) -> u64 {
        self.state.count.load(Ordering::Relaxed)
    }

    fn last_receipt(&self) -> Instant {
        self.state.started
            + Duration::from_micros(self.state.last_receipt_micros.load(Ordering::Relaxed))
    }

    /// CPU time the receiver's threads have used.
    fn cpu(&self) -> Option<Duration> {
        let clocks = self.clocks.lock().unwrap_or_else(|e| e.into_inner());
        if clocks.is_empty() {
            return None;
        }
        // A thread that has ended reads as nothing; the runtime keeps its workers.
        Some(clocks.iter().filter_map(|clock| clock.read()).sum())
    }
}

impl Drop for BenchReceiver {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_postgres_server_on_this_machine_is_measured() {
        for local in [
            "postgres://postgres@%2Fvar%2Frun%2Fpostgresql/postgres",
            "postgres://postgres@127.0.0.1:5432/bench",
            "postgresql://u@localhost/bench",
            "postgres://u@[::1]:5432/bench",
        ] {
            assert!(is_local_postgres(local), "{local}");
        }
        for other in [
            "postgres://u@db.internal:5432/bench",
            "postgres://u@10.0.0.7/bench",
            "sqlite:///tmp/bench.db",
            "not a url",
        ] {
            assert!(!is_local_postgres(other), "{other}");
        }
    }

    #[test]
    fn signing_share_counts_the_database_server_but_not_the_receiver() {
        let cpu = LiveCpu {
            signing: Duration::from_micros(300),
            rest_of_process: Duration::from_micros(60),
            database_server: Some(Duration::from_micros(40)),
            receiver: Some(Duration::from_micros(25)),
        };
        assert!((cpu.signing_share() - 0.75).abs() < 1e-9);
        let in_process = LiveCpu {
            database_server: None,
            ..cpu
        };
        assert!((in_process.signing_share() - 300.0 / 360.0).abs() < 1e-9);
        let idle = LiveCpu {
            signing: Duration::ZERO,
            rest_of_process: Duration::ZERO,
            database_server: None,
            receiver: None,
        };
        assert_eq!(idle.signing_share(), 0.0);
    }

    #[tokio::test]
    async fn the_receiver_answers_counts_and_clocks_its_own_threads() {
        let receiver = BenchReceiver::start().await.unwrap();
        let before = receiver.cpu().expect("a thread clock on unix");
        let client = reqwest::Client::new();
        for _ in 0..200 {
            let response = client.post(&receiver.url).body("x").send().await.unwrap();
            assert_eq!(response.status(), reqwest::StatusCode::ACCEPTED);
        }
        assert_eq!(receiver.count(), 200);
        assert!(receiver.cpu().unwrap() > before);
        // Dropping it stops its runtime (and does not wait for the client's idle connection).
        drop(receiver);
    }
}
