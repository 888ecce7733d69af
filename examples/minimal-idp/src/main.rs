//! A minimal identity provider that embeds the SSF transmitter the way a real IdP would:
//!
//! * one process, one database: the IdP's HTTP app, the SSF API (`ssf_provider::http::router`)
//!   and the delivery worker (`ssf_worker::Worker`) share a `Transmitter`;
//! * the IdP calls `Transmitter::emit()` where things happen: on login, logout and password
//!   change (see `web.rs`);
//! * an access hook keeps a receiver from hearing about users not assigned to it (see
//!   `accounts.rs`).
//!
//! Run it with `cargo run -p minimal-idp`; docs/embedding.md walks through it.

mod accounts;
mod web;

use std::sync::Arc;

use anyhow::Context;
use ssf_provider::db::{Database, DbOptions};
use ssf_provider::providers::{self, NewProvider};
use ssf_provider::{Transmitter, TransmitterSettings, receivers};
use ssf_worker::{Worker, WorkerConfig};
use tokio_util::sync::CancellationToken;

use accounts::Accounts;

const PROVIDER_SLUG: &str = "minimal-idp";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .init();
    let database_url = env_or("MINIMAL_IDP_DATABASE_URL", "sqlite://minimal-idp.db");
    let listen = env_or("MINIMAL_IDP_LISTEN", "127.0.0.1:8080");
    let public_url = env_or("MINIMAL_IDP_PUBLIC_URL", &format!("http://{listen}"));

    // The transmitter's tables live beside the IdP's (here the IdP keeps its users in memory).
    let db = Database::connect(&database_url, &DbOptions::default()).await?;
    db.migrate().await?;
    ssf_worker::migrate_queue(&db).await?;

    let mut settings = TransmitterSettings::new(public_url.clone());
    // A local demo pushes to receivers on loopback over plain HTTP; a real IdP leaves this off.
    settings.allow_insecure_endpoints = true;

    let provider = match providers::find_by_slug(&db.orm, PROVIDER_SLUG).await? {
        Some(provider) => provider,
        None => {
            let mut new = NewProvider::new("Minimal IdP");
            new.slug = Some(PROVIDER_SLUG.to_owned());
            providers::create_provider(&db, &settings, new)
                .await
                .context("create the SSF provider")?
        }
    };

    // One receiver per run, so its token can be shown: the only time it exists in clear.
    let (receiver, token) =
        receivers::create_receiver(&db.orm, &provider.id, "example receiver").await?;
    let accounts = Arc::new(Accounts::demo(&receiver.id));

    let transmitter = Transmitter::new(db, settings).with_access_hook(accounts.clone());

    let shutdown = CancellationToken::new();
    let worker = tokio::spawn(
        Worker::new(transmitter.clone(), WorkerConfig::default())
            .run(shutdown.clone().cancelled_owned()),
    );

    let app = web::router(web::AppState {
        transmitter: transmitter.clone(),
        provider_id: provider.id.clone(),
        accounts,
    })
    .merge(ssf_provider::http::router(transmitter));

    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("listen on {listen}"))?;
    println!("Minimal IdP on {public_url}  (users: alice/alice, bob/bob)");
    println!("SSF issuer:     {}", provider.issuer);
    println!("SSF discovery:  {public_url}/.well-known/ssf-configuration/ssf/{PROVIDER_SLUG}");
    println!("Receiver token: {}", token.expose());

    let stop = shutdown.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = tokio::signal::ctrl_c().await;
            stop.cancel();
        })
        .await?;
    shutdown.cancel();
    worker.await??;
    Ok(())
}

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name)
        .ok()
        .filter(|value| !value.is_empty())
        .unwrap_or_else(|| default.to_owned())
}
