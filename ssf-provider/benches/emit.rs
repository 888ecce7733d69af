//! Latency of `Transmitter::emit()`: p50 and p99 for 1, 10 and 100 matching streams, on SQLite
//! and (when `SSF_BENCH_POSTGRES_URL` or `SSF_TEST_POSTGRES_URL` names a server) PostgreSQL.
//!
//! ```text
//! SSF_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/postgres \
//!     cargo bench -p ssf-provider --bench emit -- [--samples N]
//! ```
//!
//! Criterion reports means and confidence intervals; emit() is judged by its tail, so this
//! bench times each call and reports percentiles itself. Calls run one after another on one
//! task, so the figures are the cost of one emit() on an otherwise idle database. Also
//! reports `emit_many` with 100 events per call, as events per second.

use std::time::{Duration, Instant};

use sea_orm::{ActiveModelTrait, ConnectionTrait, Set};
use ssf_entities::{DeliveryMethod, StreamStatus, streams};
use ssf_provider::db::{Database, DbOptions};
use ssf_provider::idp::{IdpEvent, IdpEventKind, User};
use ssf_provider::providers::{self, NewProvider};
use ssf_provider::set::EventType;
use ssf_provider::{Transmitter, TransmitterSettings};

const STREAM_COUNTS: [usize; 3] = [1, 10, 100];
const WARMUP: usize = 50;
const BATCH: usize = 100;

fn main() {
    let samples = std::env::args()
        .skip_while(|arg| arg != "--samples")
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(1000usize);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async {
        println!(
            "emit() latency, {samples} sequential calls per row (after {WARMUP} warm-up calls)"
        );
        println!(
            "{:<10} {:>8} {:>10} {:>10} {:>10} {:>14}",
            "backend", "streams", "p50", "p99", "mean", "emit_many ev/s"
        );
        let dir = tempfile::tempdir().expect("temporary directory");
        for streams in STREAM_COUNTS {
            let url = format!(
                "sqlite://{}",
                dir.path().join(format!("bench-{streams}.db")).display()
            );
            let db = Database::connect(&url, &DbOptions::default())
                .await
                .expect("open SQLite");
            run("sqlite", db, streams, samples).await;
        }
        let admin_url = std::env::var("SSF_BENCH_POSTGRES_URL")
            .or_else(|_| std::env::var("SSF_TEST_POSTGRES_URL"))
            .ok()
            .filter(|url| !url.is_empty());
        match admin_url {
            Some(admin_url) => {
                for streams in STREAM_COUNTS {
                    let scratch = ScratchPostgres::create(&admin_url).await;
                    let db = Database::connect(&scratch.url, &DbOptions::default())
                        .await
                        .expect("open PostgreSQL");
                    run("postgres", db, streams, samples).await;
                    scratch.drop_database().await;
                }
            }
            None => println!("postgres: skipped (set SSF_BENCH_POSTGRES_URL)"),
        }
    });
}

async fn run(backend: &str, db: Database, streams: usize, samples: usize) {
    db.migrate().await.expect("migrate");
    let settings = TransmitterSettings::new("https://ssf.example.com");
    let provider = providers::create_provider(&db, &settings, NewProvider::new("Bench IdP"))
        .await
        .expect("create provider");
    for _ in 0..streams {
        add_stream(&db, &provider.id).await;
    }
    let transmitter = Transmitter::new(db.clone(), settings);

    for i in 0..WARMUP {
        transmitter
            .emit(&provider.id, logout(i))
            .await
            .expect("emit");
    }
    let mut latencies = Vec::with_capacity(samples);
    for i in 0..samples {
        let event = logout(WARMUP + i);
        let start = Instant::now();
        let outcome = transmitter.emit(&provider.id, event).await.expect("emit");
        latencies.push(start.elapsed());
        assert_eq!(outcome.stream_events, streams, "every stream matches");
    }
    latencies.sort();

    // Throughput with events grouped per commit, on the same streams.
    let batches = (samples / BATCH).clamp(2, 10);
    let start = Instant::now();
    for b in 0..batches {
        let events: Vec<IdpEvent> = (0..BATCH)
            .map(|i| logout(1_000_000 + b * BATCH + i))
            .collect();
        transmitter
            .emit_many(&provider.id, &events)
            .await
            .expect("emit_many");
    }
    let per_second = (batches * BATCH) as f64 / start.elapsed().as_secs_f64();

    println!(
        "{:<10} {:>8} {:>10} {:>10} {:>10} {:>14.0}",
        backend,
        streams,
        fmt(percentile(&latencies, 0.50)),
        fmt(percentile(&latencies, 0.99)),
        fmt(latencies.iter().sum::<Duration>() / latencies.len() as u32),
        per_second
    );
    db.close().await;
}

fn logout(i: usize) -> IdpEvent {
    let user =
        User::new(Some(format!("u-{i}")), Some(format!("user{i}@example.com"))).expect("user");
    IdpEvent::new(
        user,
        IdpEventKind::SessionLogout {
            session_id: Some(format!("session-{i}")),
        },
    )
}

async fn add_stream(db: &Database, provider_id: &str) {
    let uris: Vec<&str> = EventType::ALL.iter().map(|e| e.uri()).collect();
    let uris = serde_json::to_string(&uris).expect("JSON");
    let now = ssf_provider::clock::now_ms();
    streams::ActiveModel {
        id: Set(uuid::Uuid::new_v4().simple().to_string()),
        provider_id: Set(provider_id.to_owned()),
        receiver_id: Set(None),
        owner: Set("bench".to_owned()),
        aud: Set("\"https://rp.example.com\"".to_owned()),
        delivery_method: Set(DeliveryMethod::Push),
        delivery_method_uri: Set("urn:ietf:rfc:8935".to_owned()),
        endpoint_url: Set(Some("https://rp.example.com/events".to_owned())),
        authorization_header: Set(None),
        format: Set(None),
        events_requested: Set(uris.clone()),
        events_delivered: Set(uris),
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
    .await
    .expect("insert stream");
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 * p).ceil() as usize)
        .saturating_sub(1)
        .min(sorted.len() - 1);
    sorted[index]
}

fn fmt(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

/// A database of its own on the PostgreSQL server, dropped afterwards.
struct ScratchPostgres {
    admin_url: String,
    name: String,
    url: String,
}

impl ScratchPostgres {
    async fn create(admin_url: &str) -> Self {
        let name = format!("ssf_bench_{}", uuid::Uuid::new_v4().simple());
        let admin = Database::connect(admin_url, &DbOptions::default())
            .await
            .expect("reach PostgreSQL");
        admin
            .orm
            .execute_unprepared(&format!("CREATE DATABASE {name}"))
            .await
            .expect("create bench database");
        admin.close().await;
        let (base, query) = match admin_url.split_once('?') {
            Some((base, query)) => (base, format!("?{query}")),
            None => (admin_url, String::new()),
        };
        let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
        let server = match base[scheme_end..].find('/') {
            Some(slash) => &base[..scheme_end + slash],
            None => base,
        };
        ScratchPostgres {
            admin_url: admin_url.to_owned(),
            url: format!("{server}/{name}{query}"),
            name,
        }
    }

    async fn drop_database(self) {
        if let Ok(admin) = Database::connect(&self.admin_url, &DbOptions::default()).await {
            let _ = admin
                .orm
                .execute_unprepared(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ))
                .await;
            admin.close().await;
        }
    }
}
