//! [`Worker`]: the delivery worker as the program (and tests) run it.
//!
//! `ssf serve` runs one in-process beside the HTTP API; `ssf worker` runs one alone; any number
//! of processes may share a PostgreSQL database. [`Worker::run`] delivers until its shutdown
//! future resolves, then stops claiming, lets requests in flight finish for up to
//! `shutdown_grace`, records their outcomes, and clears the leases of everything it did not get
//! to, so other workers can take those rows at once.

use std::future::Future;
use std::sync::Arc;

use ssf_provider::Transmitter;
use ssf_provider::db::{Database, Pool};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::circuit::{CircuitSettings, Endpoints};
use crate::claim::{self, WriteGate};
use crate::config::{ConfigError, WorkerConfig};
use crate::delivery_loop::{self, DeliveryContext};
use crate::endpoint_guard::EndpointPolicy;
use crate::push_client::{PushClient, PushClientError, PushSettings};
use crate::runtime;
use crate::signer::Signer;

/// Why the worker could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("invalid worker configuration: {0}")]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Client(#[from] PushClientError),
    #[error("worker runtime failed: {0}")]
    Runtime(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
    #[error("cannot create the delivery queue tables: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

/// The delivery worker of one process.
pub struct Worker {
    transmitter: Transmitter,
    config: WorkerConfig,
}

impl Worker {
    pub fn new(transmitter: Transmitter, config: WorkerConfig) -> Self {
        Self {
            transmitter,
            config,
        }
    }

    pub fn config(&self) -> &WorkerConfig {
        &self.config
    }

    /// Delivers until `shutdown` resolves, then stops within about `shutdown_grace` (plus one
    /// database write).
    pub async fn run(self, shutdown: impl Future<Output = ()>) -> Result<(), WorkerError> {
        let Self {
            transmitter,
            config,
        } = self;
        config.validate()?;
        let policy = EndpointPolicy::new(
            transmitter.settings().allow_insecure_endpoints,
            config.allowed_networks.clone(),
        );
        let client = PushClient::new(
            &PushSettings {
                connect_timeout: config.connect_timeout,
                request_timeout: config.request_timeout,
                idle_connections_per_host: config.endpoint_concurrency,
                max_response_body: config.max_response_body,
            },
            policy,
        )?;
        let endpoints = Endpoints::new(CircuitSettings {
            failure_threshold: config.circuit_failure_threshold,
            min_open: config.circuit_min_open,
            max_open: config.circuit_max_open,
            concurrency: config.endpoint_concurrency,
        });
        let (outcomes_tx, outcomes_rx) = mpsc::unbounded_channel();
        let freed = Arc::new(Notify::new());
        let remote_wake = Arc::new(Notify::new());
        let stopping = CancellationToken::new();
        let worker_name = config.worker_name.clone();
        let grace = config.shutdown_grace;
        tracing::info!(worker = %worker_name, "delivery worker starting");

        // Helper tasks die with this future: dropping `run` (a crash, as far as the database
        // can tell) must not leave a recorder or a monitor running behind it.
        let write_gate = Arc::new(WriteGate::for_pool(&transmitter.db().pool));
        let mut recorder = AbortOnDrop(tokio::spawn(delivery_loop::run_recorder(
            transmitter.clone(),
            worker_name.clone(),
            outcomes_rx,
            write_gate.clone(),
        )));
        let _listener = match &transmitter.db().pool {
            Pool::Postgres(pool) => Some(AbortOnDrop(tokio::spawn(runtime::listen_postgres(
                pool.clone(),
                remote_wake.clone(),
                stopping.clone(),
            )))),
            Pool::Sqlite(_) => None,
        };
        let mut monitor = {
            let (transmitter, config, wake, stopping) = (
                transmitter.clone(),
                config.clone(),
                remote_wake.clone(),
                stopping.clone(),
            );
            AbortOnDrop(tokio::spawn(async move {
                runtime::run_monitor(transmitter, &config, wake, stopping)
                    .await
                    .map_err(|e| e.to_string())
            }))
        };

        let ctx = Arc::new(DeliveryContext {
            transmitter: transmitter.clone(),
            signer: Signer::new(transmitter.db().clone(), config.signing_key_ttl),
            policy: config.retry_policy(),
            config,
            client,
            endpoints,
            recorder: outcomes_tx,
            stopping: stopping.clone(),
            remote_wake,
            freed,
            write_gate,
        });
        let mut tasks = JoinSet::new();
        let stop_on_signal = async {
            shutdown.await;
            stopping.cancel();
        };
        tokio::join!(
            delivery_loop::run_claims(ctx.clone(), &mut tasks),
            stop_on_signal
        );
        tracing::info!(worker = %worker_name, in_flight = tasks.len(), "delivery worker stopping");

        // Stream tasks see `stopping` before each request: they finish the one in flight and
        // give the rest back. Whatever is still running after the grace period is abandoned.
        let drained =
            tokio::time::timeout(grace, async { while tasks.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tracing::warn!(worker = %worker_name, abandoned = tasks.len(), "deliveries still in flight after the grace period");
            tasks.abort_all();
            while tasks.join_next().await.is_some() {}
        }
        drop(ctx);
        let _ = (&mut recorder.0).await;
        let released = claim::release_all(&transmitter.db().pool, &worker_name).await?;
        if released > 0 {
            tracing::info!(worker = %worker_name, streams = released, "gave back the streams still leased");
        }
        match (&mut monitor.0).await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return Err(WorkerError::Runtime(error)),
            Err(join) => return Err(WorkerError::Runtime(join.to_string())),
        }
        tracing::info!(worker = %worker_name, "delivery worker stopped");
        Ok(())
    }
}

struct AbortOnDrop<T>(tokio::task::JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Creates the tables of the worker's queues on the shared pool. The program calls it after
/// the schema migrations; it is a no-op when they exist.
pub async fn migrate_queue(db: &Database) -> Result<(), WorkerError> {
    runtime::migrate_queue(&db.pool).await?;
    Ok(())
}
