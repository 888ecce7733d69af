//! Crash safety of the real program: `ssf serve` is killed with SIGKILL in the middle of a burst,
//! a fresh `ssf worker` takes over the same database, and the receiver ends up with every SET.
//! Duplicates are allowed only for deliveries that were in flight at the kill.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::json;
use ssf_provider::db::{Database, DbOptions};
use ssf_provider::idp::IdpEvent;
use ssf_provider::providers::{self, NewProvider};
use ssf_provider::{Transmitter, TransmitterSettings, jose, receivers};
use ssf_tests::{TestDb, backend_tests};

const SSF: &str = env!("CARGO_BIN_EXE_ssf");
const BURST: usize = 1500;
const BATCH: usize = 32;

/// jti → how many times the receiver got it, for the burst's SETs only.
type Seen = Arc<Mutex<HashMap<String, usize>>>;

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn(args: &[&str], database_url: &str) -> (Process, std::sync::mpsc::Receiver<String>) {
    let mut child = Command::new(SSF)
        .args(args)
        .args(["--database-url", database_url, "--allow-insecure-endpoints"])
        .env("SSF_DELIVERY_LEASE", "3s")
        .env("SSF_PUSH_TIMEOUT", "1s")
        .env("SSF_DELIVERY_POLL_INTERVAL", "100ms")
        .env("SSF_DELIVERY_BATCH", BATCH.to_string())
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ssf");
    let stderr = child.stderr.take().expect("stderr");
    let (sender, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = sender.send(line);
        }
    });
    (Process(child), lines)
}

async fn receive(State(seen): State<Seen>, body: String) -> StatusCode {
    // A little work per SET keeps deliveries in flight when the kill lands.
    tokio::time::sleep(Duration::from_millis(2)).await;
    if let Ok(claims) = jose::decode_claims_unverified(&body)
        && claims["txn"]
            .as_str()
            .is_some_and(|t| t.starts_with("burst-"))
        && let Some(jti) = claims["jti"].as_str()
    {
        *seen.lock().unwrap().entry(jti.to_owned()).or_default() += 1;
    }
    StatusCode::ACCEPTED
}

fn counts(seen: &Seen) -> (usize, usize) {
    let seen = seen.lock().unwrap();
    (seen.len(), seen.values().sum())
}

async fn killed_mid_burst_loses_nothing(test_db: TestDb) {
    // The receiver.
    let seen: Seen = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}/events", listener.local_addr().unwrap());
    let app = Router::new()
        .route("/events", post(receive))
        .with_state(seen.clone());
    tokio::spawn(async move { axum::serve(listener, app).await });

    // The first transmitter process.
    let (mut serve, lines) = spawn(
        &["serve", "--listen", "127.0.0.1:0", "--admin-token", "t"],
        &test_db.url,
    );
    let base_url = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(60))
            .expect("ssf serve started");
        if let Some(rest) = line.strip_prefix("ssf listening on ") {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };

    // An administrator's provider and receiver, written to the shared database.
    let db = Database::connect(&test_db.url, &DbOptions::default())
        .await
        .unwrap();
    let settings = TransmitterSettings::new(base_url.clone());
    let mut new = NewProvider::new("Crash test");
    new.slug = Some("crash".into());
    new.signing_alg = ssf_entities::SigningAlg::ES256;
    let provider = providers::create_provider(&db, &settings, new)
        .await
        .unwrap();
    let (_, token) = receivers::create_receiver(&db.orm, &provider.id, "receiver")
        .await
        .unwrap();

    // The receiver creates its push stream through the SSF API of the running process.
    let http = reqwest::Client::new();
    let created = http
        .post(format!("{}/streams", provider.issuer))
        .bearer_auth(token.expose())
        .json(&json!({
            "delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": endpoint},
            "events_requested": ["https://schemas.openid.net/secevent/caep/event-type/session-revoked"],
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(
        created.status(),
        201,
        "{}",
        created.text().await.unwrap_or_default()
    );

    // The burst, recorded by this process as an embedding IdP would.
    let transmitter = Transmitter::new(db.clone(), settings);
    for chunk in 0..BURST / 100 {
        let events: Vec<IdpEvent> = (0..100)
            .map(|i| {
                serde_json::from_value(json!({
                    "type": "session.logout",
                    "user": {"email": format!("user{}@example.com", chunk * 100 + i)},
                    "request_id": format!("burst-{}", chunk * 100 + i),
                }))
                .unwrap()
            })
            .collect();
        transmitter.emit_many(&provider.id, &events).await.unwrap();
    }

    // Kill -9 once part of the burst has arrived.
    let deadline = Instant::now() + Duration::from_secs(60);
    while counts(&seen).0 < BURST / 5 {
        assert!(
            Instant::now() < deadline,
            "delivery did not start: {:?}",
            counts(&seen)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    serve.0.kill().unwrap();
    serve.0.wait().unwrap();
    let (at_kill, _) = counts(&seen);
    assert!(
        at_kill < BURST,
        "the kill must land mid-burst (got {at_kill} of {BURST} already)"
    );

    // A new worker process finishes the job, reclaiming the dead process's leases.
    let (_worker, _lines) = spawn(&["worker"], &test_db.url);
    let deadline = Instant::now() + Duration::from_secs(90);
    while counts(&seen).0 < BURST {
        assert!(
            Instant::now() < deadline,
            "not every SET arrived after the restart: {:?}",
            counts(&seen)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (distinct, total) = counts(&seen);
    assert_eq!(distinct, BURST);
    // Only deliveries in flight at the kill may arrive twice: at most the claimed batches.
    assert!(
        total - distinct <= 2 * BATCH,
        "{} duplicates",
        total - distinct
    );
    db.close().await;
}

backend_tests!(
    killed_mid_burst_loses_nothing,
    killed_mid_burst_loses_nothing
);
