//! The apalis runtime around the delivery loop: one Monitor running the periodic jobs and the
//! wake queue, with graceful shutdown.
//!
//! * `ssf-sweep` (every `sweep_interval`): expiry and purge ([`crate::sweeper`]).
//! * `ssf-inactivity` (every `inactivity_interval`): pauses streams whose receivers went quiet
//!   (`ssf_provider::streams::pause_inactive`).
//! * SQLite only, queue `ssf-delivery-wake`: the coarse tasks `delivery_wake::wake_in_tx`
//!   enqueues when another process emits; each one wakes this process's delivery loop. On
//!   PostgreSQL that job is done by `LISTEN` (see [`listen_postgres`]).
//!
//! Periodic jobs run in every worker process; their statements are idempotent and bounded, so
//! running them twice costs a little and breaks nothing. Every apalis worker is named after this
//! process's unique worker name (apalis refuses a name another live process holds).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use apalis::prelude::{BackendExt, BoxDynError, Data, Monitor, WorkerBuilder};
use apalis_cron::{CronScheduler, Schedule, Tick};
use apalis_sqlite::SqliteStorage;
use serde::{Deserialize, Serialize};
use ssf_provider::Transmitter;
use ssf_provider::clock::now_ms;
use ssf_provider::db::Pool;
use ssf_provider::delivery_wake::{DELIVERY_WAKE_CHANNEL, DELIVERY_WAKE_QUEUE};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::config::WorkerConfig;
use crate::sweeper;

/// A cron schedule of "every N seconds" (apalis-cron ticks in whole seconds).
#[derive(Debug, Clone)]
pub struct Every(pub Duration);

impl Schedule<chrono::Utc> for Every {
    fn next_tick(&mut self, _: &chrono::Utc) -> Option<Tick<chrono::Utc>> {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Some(Tick::new(now + self.0.as_secs().max(1)))
    }
}

/// The wake task's arguments: none, it only says "look for due rows".
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WakeDelivery {}

#[derive(Clone)]
struct Jobs {
    transmitter: Transmitter,
    wake: Arc<Notify>,
}

async fn sweep_job(_: Tick<chrono::Utc>, jobs: Data<Jobs>) -> Result<(), BoxDynError> {
    sweeper::sweep(&jobs.transmitter.db().pool, now_ms()).await?;
    Ok(())
}

async fn inactivity_job(_: Tick<chrono::Utc>, jobs: Data<Jobs>) -> Result<(), BoxDynError> {
    let paused = ssf_provider::streams::pause_inactive(jobs.transmitter.db(), now_ms()).await?;
    if paused > 0 {
        tracing::info!(paused, "paused inactive streams");
        // Their stream-updated events are due now.
        jobs.wake.notify_waiters();
    }
    Ok(())
}

async fn wake_job(_: WakeDelivery, jobs: Data<Jobs>) -> Result<(), BoxDynError> {
    jobs.wake.notify_waiters();
    Ok(())
}

/// Runs the Monitor until `stopping` is cancelled, then lets its jobs finish for up to
/// `config.shutdown_grace`.
pub(crate) async fn run_monitor(
    transmitter: Transmitter,
    config: &WorkerConfig,
    wake: Arc<Notify>,
    stopping: CancellationToken,
) -> Result<(), BoxDynError> {
    let jobs = Jobs {
        transmitter: transmitter.clone(),
        wake,
    };
    let name = config.worker_name.clone();
    let sweep_every = Every(config.sweep_interval);
    let inactivity_every = Every(config.inactivity_interval);
    let mut monitor = Monitor::new().shutdown_timeout(config.shutdown_grace);
    {
        let (jobs, name) = (jobs.clone(), format!("{name}-sweep"));
        monitor = monitor.register(move |_| {
            WorkerBuilder::new(name.clone())
                .backend(CronScheduler::new(sweep_every.clone()))
                .data(jobs.clone())
                .build(sweep_job)
        });
    }
    {
        let (jobs, name) = (jobs.clone(), format!("{name}-inactivity"));
        monitor = monitor.register(move |_| {
            WorkerBuilder::new(name.clone())
                .backend(CronScheduler::new(inactivity_every.clone()))
                .data(jobs.clone())
                .build(inactivity_job)
        });
    }
    if let Pool::Sqlite(pool) = &transmitter.db().pool {
        let (jobs, name, pool) = (jobs.clone(), format!("{name}-wake"), pool.clone());
        // The queue's own poll: a wake task from another process is seen within this time.
        let interval = config.poll_interval.min(Duration::from_millis(200));
        monitor = monitor.register(move |_| {
            let storage = SqliteStorage::<WakeDelivery>::new(&pool)
                .with_config(
                    apalis_sqlite::Config::default()
                        .queue(DELIVERY_WAKE_QUEUE)
                        .batch_size(1),
                )
                .poll_with_interval(interval);
            WorkerBuilder::new(name.clone())
                .backend(storage)
                .data(jobs.clone())
                .build(wake_job)
        });
    }
    monitor
        .run_with_signal(async move {
            stopping.cancelled().await;
            Ok(())
        })
        .await?;
    Ok(())
}

/// PostgreSQL: wakes the delivery loop on every `NOTIFY` of [`DELIVERY_WAKE_CHANNEL`] until
/// `stopping` is cancelled. The listener reconnects on its own after a lost connection.
pub(crate) async fn listen_postgres(
    pool: sqlx::PgPool,
    wake: Arc<Notify>,
    stopping: CancellationToken,
) {
    loop {
        let listener = async {
            let mut listener = sqlx::postgres::PgListener::connect_with(&pool).await?;
            listener.listen(DELIVERY_WAKE_CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        let mut listener = tokio::select! {
            listener = listener => match listener {
                Ok(listener) => listener,
                Err(error) => {
                    tracing::warn!(%error, "cannot LISTEN for delivery wake-ups; polling meanwhile");
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_secs(1)) => continue,
                        _ = stopping.cancelled() => return,
                    }
                }
            },
            _ = stopping.cancelled() => return,
        };
        loop {
            tokio::select! {
                received = listener.recv() => match received {
                    Ok(_) => wake.notify_waiters(),
                    Err(error) => {
                        tracing::warn!(%error, "delivery wake-up listener failed; reconnecting");
                        break;
                    }
                },
                _ = stopping.cancelled() => return,
            }
        }
    }
}

/// Creates the wake queue's tables (apalis' own migrations, on our pool; never its `setup()`,
/// which would turn SQLite's durability off). PostgreSQL needs none: wake-ups there are
/// `NOTIFY`.
pub(crate) async fn migrate_queue(pool: &Pool) -> Result<(), sqlx::migrate::MigrateError> {
    match pool {
        Pool::Sqlite(pool) => SqliteStorage::<()>::migrations().run(pool).await,
        Pool::Postgres(_) => Ok(()),
    }
}
