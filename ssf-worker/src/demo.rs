//! `ssf demo`: a transmitter and a sample receiver on loopback, talking as real ones would.
//!
//! Everything goes through the public surfaces: the receiver discovers the transmitter, creates
//! its streams through the SSF API with its bearer token, and checks every SET it gets against
//! the published JWKS. Only the provider and receiver are created directly in the database,
//! which is what an administrator does through the admin API.

use std::time::Duration;

use anyhow::{Context, bail};
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::{Value, json};
use ssf_entities::SigningAlg;
use ssf_provider::db::{Database, DbOptions};
use ssf_provider::idp::IdpEvent;
use ssf_provider::jose::{self, Jwks, VerifyOptions};
use ssf_provider::providers::{self, NewProvider};
use ssf_provider::{Transmitter, TransmitterSettings, receivers};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::{Worker, WorkerConfig, routes, server};

/// How `ssf demo` runs.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Keep the transmitter running after the walk-through (admin UI URL printed).
    pub keep_running: bool,
    pub signing_alg: SigningAlg,
}

/// One sample of every IdP event type, as an IdP would send it to `POST .../events`.
pub fn sample_events() -> Vec<Value> {
    let user = json!({"id": "u-1001", "email": "alice@example.com"});
    vec![
        json!({"type": "session.logout", "user": user, "session_id": "web-session-42"}),
        json!({"type": "session.revoked", "user": user, "session_id": "web-session-42", "reason": "Suspicious sign-in"}),
        json!({"type": "password.changed", "user": user}),
        json!({"type": "password.removed", "user": user}),
        json!({"type": "mfa.added", "user": user, "device": {"kind": "webauthn_platform", "name": "MacBook Touch ID", "aaguid": "adce0002-35bc-c60a-648b-0b25f1f05503"}}),
        json!({"type": "mfa.updated", "user": user, "device": {"kind": "totp", "name": "Authenticator app"}}),
        json!({"type": "mfa.removed", "user": user, "device": {"kind": "sms", "name": "+1 555 0100"}}),
        json!({"type": "account.disabled", "user": user, "reason": "hijacking"}),
        json!({"type": "account.enabled", "user": user}),
        json!({"type": "account.deleted", "user": user}),
        json!({"type": "credential.compromised", "user": user, "credential_type": "password"}),
        json!({"type": "identifier.changed", "user": user, "new_email": "alice.smith@example.com"}),
        json!({"type": "device.compliance_changed", "user": user, "device_id": "laptop-7", "previous": "compliant", "current": "not-compliant"}),
        json!({"type": "risk.level_changed", "user": user, "principal": "USER", "current": "HIGH", "previous": "LOW", "reason": "Impossible travel"}),
        json!({"type": "assurance.level_changed", "user": user, "namespace": "nist-aal", "current": "nist-aal2", "previous": "nist-aal1", "direction": "increase"}),
        json!({"type": "session.established", "user": user, "session_id": "web-session-43", "amr": ["pwd", "otp"], "acr": "urn:example:loa:2"}),
        json!({"type": "token.claims_changed", "user": user, "claims": {"role": "admin"}}),
    ]
}

/// Runs the walk-through; returns an error if any SET fails to arrive or to verify.
pub async fn run(options: DemoOptions) -> anyhow::Result<()> {
    let dir = tempfile::tempdir().context("temporary directory")?;
    let url = format!("sqlite://{}", dir.path().join("demo.db").display());
    let db = Database::connect(&url, &DbOptions::default()).await?;
    db.migrate().await?;
    crate::migrate_queue(&db).await?;

    let listener = server::bind("127.0.0.1:0").await?;
    let public_url = format!("http://{}", listener.local_addr()?);
    let mut settings = TransmitterSettings::new(public_url.clone());
    // The sample receiver listens on loopback over plain http.
    settings.allow_insecure_endpoints = true;
    let transmitter = Transmitter::new(db.clone(), settings.clone());

    let shutdown = CancellationToken::new();
    let admin_token = crate::admin_token::generate();
    let router = server::app(
        transmitter.clone(),
        routes::api(transmitter.clone(), admin_token.clone()),
    );
    let server_task = tokio::spawn(server::serve(
        listener,
        router,
        None,
        shutdown.clone(),
        Duration::from_secs(5),
    ));
    let worker_config = WorkerConfig {
        poll_interval: Duration::from_millis(100),
        ..WorkerConfig::default()
    };
    let worker = Worker::new(transmitter.clone(), worker_config);
    let stop = shutdown.clone();
    let worker_task =
        tokio::spawn(async move { worker.run(async move { stop.cancelled().await }).await });

    let (receiver_url, mut received) = start_sample_receiver(shutdown.clone()).await?;
    println!("transmitter  {public_url}");
    println!("receiver     {receiver_url}  (sample RFC 8935 push endpoint on loopback)\n");

    let result = walk_through(
        &transmitter,
        &settings,
        &receiver_url,
        &mut received,
        options.signing_alg,
    )
    .await;

    if options.keep_running && result.is_ok() {
        println!(
            "\nThe transmitter keeps running. Admin UI: {public_url}/admin/  (admin token: {admin_token})"
        );
        println!("Press Ctrl-C to stop.");
        let _ = tokio::signal::ctrl_c().await;
    }
    shutdown.cancel();
    let _ = server_task.await;
    let _ = worker_task.await;
    db.close().await;
    result
}

async fn walk_through(
    transmitter: &Transmitter,
    settings: &TransmitterSettings,
    receiver_url: &str,
    received: &mut mpsc::UnboundedReceiver<String>,
    signing_alg: SigningAlg,
) -> anyhow::Result<()> {
    let db = transmitter.db();
    let mut new = NewProvider::new("Demo IdP");
    new.slug = Some("demo".into());
    new.signing_alg = signing_alg;
    let provider = providers::create_provider(db, settings, new).await?;
    let (_, token) = receivers::create_receiver(&db.orm, &provider.id, "Sample receiver").await?;
    println!(
        "1. An administrator created provider {:?} (issuer {}) and a receiver token.",
        provider.slug, provider.issuer
    );

    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()?;
    let discovery_url = ssf_provider::http::discovery::configuration_url(&provider.issuer);
    let discovery: Value = http
        .get(&discovery_url)
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    println!("2. The receiver read the discovery document at {discovery_url}");
    let configuration_endpoint = string_field(&discovery, "configuration_endpoint")?;
    let jwks_uri = string_field(&discovery, "jwks_uri")?;

    let all_events: Vec<&str> = ssf_provider::set::EventType::ALL
        .iter()
        .map(|t| t.uri())
        .collect();
    let stream: Value = http
        .post(&configuration_endpoint)
        .bearer_auth(token.expose())
        .json(&json!({
            "delivery": {"method": "urn:ietf:rfc:8935", "endpoint_url": receiver_url},
            "events_requested": all_events,
            "description": "ssf demo push stream",
        }))
        .send()
        .await?
        .error_for_status()
        .context("creating the push stream")?
        .json()
        .await?;
    let audience = audience_of(&stream)?;
    println!(
        "3. It created push stream {} through the SSF API; {} event types will be delivered.\n",
        string_field(&stream, "stream_id")?,
        stream["events_delivered"].as_array().map_or(0, Vec::len)
    );

    let check = Checker {
        http: &http,
        jwks_uri: &jwks_uri,
        issuer: &provider.issuer,
        audience: &audience,
    };
    println!(
        "4. The IdP emits one event of each type; the receiver prints each SET as received:\n"
    );
    let mut verified = 0;
    for sample in sample_events() {
        let event: IdpEvent = serde_json::from_value(sample.clone()).context("sample IdP event")?;
        let name = sample["type"].as_str().unwrap_or_default().to_owned();
        let outcome = transmitter.emit(&provider.id, event).await?;
        let token = wait_for_txn(received, &outcome.txn)
            .await
            .with_context(|| format!("the SET for {name}"))?;
        check
            .print_and_verify(&format!("IdP event {name}"), &token)
            .await?;
        verified += 1;
    }

    println!("5. The same through a poll stream (RFC 8936):\n");
    let poll_stream: Value = http
        .post(&configuration_endpoint)
        .bearer_auth(token.expose())
        .json(&json!({
            "delivery": {"method": "urn:ietf:rfc:8936"},
            "events_requested": all_events,
            "description": "ssf demo poll stream",
        }))
        .send()
        .await?
        .error_for_status()
        .context("creating the poll stream")?
        .json()
        .await?;
    let poll_url = poll_stream["delivery"]["endpoint_url"]
        .as_str()
        .context("poll endpoint_url")?
        .to_owned();
    let poll_audience = audience_of(&poll_stream)?;
    let event: IdpEvent = serde_json::from_value(sample_events().remove(0))?;
    let outcome = transmitter.emit(&provider.id, event).await?;
    let poll_check = Checker {
        audience: &poll_audience,
        ..check
    };
    let mut acked = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    'poll: loop {
        let response: Value = http
            .post(&poll_url)
            .bearer_auth(token.expose())
            .json(&json!({"maxEvents": 10, "returnImmediately": true, "ack": acked}))
            .send()
            .await?
            .error_for_status()
            .context("polling")?
            .json()
            .await?;
        acked = Vec::new();
        if let Some(sets) = response["sets"].as_object() {
            for (jti, set) in sets {
                let token = set.as_str().context("a SET in the poll response")?;
                let claims = jose::decode_claims_unverified(token)?;
                acked.push(jti.clone());
                if claims["txn"] == json!(outcome.txn) {
                    poll_check
                        .print_and_verify("polled IdP event session.logout", token)
                        .await?;
                    verified += 1;
                    break 'poll;
                }
            }
        }
        if tokio::time::Instant::now() > deadline {
            bail!("the polled SET did not arrive within 10 s");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Acknowledge what was read so the transmitter stops offering it.
    http.post(&poll_url)
        .bearer_auth(token.expose())
        .json(&json!({"maxEvents": 0, "returnImmediately": true, "ack": acked}))
        .send()
        .await?
        .error_for_status()?;
    println!("Done: {verified} SETs received and verified against {jwks_uri}.");
    Ok(())
}

struct Checker<'a> {
    http: &'a reqwest::Client,
    jwks_uri: &'a str,
    issuer: &'a str,
    audience: &'a str,
}

impl Checker<'_> {
    async fn print_and_verify(&self, label: &str, token: &str) -> anyhow::Result<()> {
        // Fetched each time, as a receiver that sees an unknown kid would.
        let jwks: Jwks = self
            .http
            .get(self.jwks_uri)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let header = jose::decode_header(token)?;
        let claims = jose::decode_claims_unverified(token)?;
        let options = VerifyOptions {
            issuer: self.issuer.to_owned(),
            audience: self.audience.to_owned(),
        };
        let verified = jose::verify(token, &jwks, &options)
            .with_context(|| format!("verifying the SET for {label}"))?;
        let event_type = claims["events"]
            .as_object()
            .and_then(|e| e.keys().next().cloned())
            .unwrap_or_default();
        println!("── {label} → {event_type}");
        println!("   header {}", serde_json::to_string(&header)?);
        for line in serde_json::to_string_pretty(&claims)?.lines() {
            println!("   {line}");
        }
        println!(
            "   ✓ signature ({}) verified against the published JWKS (kid {})\n",
            serde_json::to_value(&verified.header.alg)?
                .as_str()
                .unwrap_or("?"),
            verified.header.kid.as_deref().unwrap_or("?")
        );
        Ok(())
    }
}

async fn start_sample_receiver(
    shutdown: CancellationToken,
) -> anyhow::Result<(String, mpsc::UnboundedReceiver<String>)> {
    let (sender, receiver) = mpsc::unbounded_channel();
    let app = Router::new()
        .route("/events", post(receive))
        .with_state(sender);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/events", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app)
            .with_graceful_shutdown(async move { shutdown.cancelled().await })
            .await;
    });
    Ok((url, receiver))
}

async fn receive(State(sender): State<mpsc::UnboundedSender<String>>, body: String) -> StatusCode {
    let _ = sender.send(body);
    StatusCode::ACCEPTED
}

/// Waits for the SET of one emitted event; SETs of other events (the stream's verification
/// event, for one) are passed over.
async fn wait_for_txn(
    received: &mut mpsc::UnboundedReceiver<String>,
    txn: &str,
) -> anyhow::Result<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let token = tokio::time::timeout_at(deadline, received.recv())
            .await
            .context("did not arrive within 10 s")?
            .context("the sample receiver stopped")?;
        let claims = jose::decode_claims_unverified(&token)?;
        if claims["txn"] == json!(txn) {
            return Ok(token);
        }
    }
}

fn string_field(value: &Value, name: &str) -> anyhow::Result<String> {
    value[name]
        .as_str()
        .map(str::to_owned)
        .with_context(|| format!("{name} is missing"))
}

fn audience_of(stream: &Value) -> anyhow::Result<String> {
    match &stream["aud"] {
        Value::String(aud) => Ok(aud.clone()),
        Value::Array(auds) => auds
            .first()
            .and_then(Value::as_str)
            .map(str::to_owned)
            .context("empty aud"),
        _ => bail!("the stream has no aud"),
    }
}
