//! How a committed emit() wakes delivery, in this process and in the others.
//!
//! Delivery never depends on a wake-up: every worker also looks for due rows on a short
//! interval. A wake-up only cuts the wait, so losing one costs latency, never an event.
//!
//! * In this process: after commit, [`wake_after_commit`] notifies
//!   [`Transmitter::delivery_wake`] (every waiter: the delivery loop and long polls).
//! * Other processes: [`wake_in_tx`], inside the writing transaction so the wake-up exists
//!   exactly when the rows do. On PostgreSQL it is a `NOTIFY` on [`DELIVERY_WAKE_CHANNEL`]
//!   (delivered at commit, coalesced within a transaction). On SQLite, which has no
//!   cross-connection notification, it enqueues one coarse apalis task on
//!   [`DELIVERY_WAKE_QUEUE`], only when none is already waiting, so a burst of emits costs one
//!   task, never one per event. Before the worker's queue tables exist (`ssf migrate` creates
//!   them) it does nothing.

use sea_orm::{ConnectionTrait, DbErr, Statement, Value};

use crate::db::Backend;
use crate::transmitter::Transmitter;

/// PostgreSQL channel the workers `LISTEN` on.
pub const DELIVERY_WAKE_CHANNEL: &str = "ssf_delivery_wake";

/// apalis queue (SQLite) whose tasks wake the delivery loops.
pub const DELIVERY_WAKE_QUEUE: &str = "ssf-delivery-wake";

/// Arguments of a wake task, as apalis stores them (JSON).
pub const DELIVERY_WAKE_TASK_ARGS: &[u8] = b"{}";

/// Tells other processes' workers that stream events were committed. Call it in the
/// transaction that writes them.
pub async fn wake_in_tx<C: ConnectionTrait>(conn: &C, backend: Backend) -> Result<(), DbErr> {
    match backend {
        Backend::Postgres => {
            conn.execute_raw(Statement::from_sql_and_values(
                sea_orm::DbBackend::Postgres,
                "SELECT pg_notify($1, '')",
                [Value::from(DELIVERY_WAKE_CHANNEL)],
            ))
            .await?;
        }
        Backend::Sqlite => {
            let queue_exists = conn
                .query_one_raw(Statement::from_string(
                    sea_orm::DbBackend::Sqlite,
                    "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'Jobs'",
                ))
                .await?
                .is_some();
            if !queue_exists {
                return Ok(());
            }
            // The same row apalis' own sink writes, minus the idempotency key; `run_at` is in
            // seconds as apalis-sqlite keeps it. One waiting task is enough for any number of
            // emits: the worker that takes it claims every due row.
            conn.execute_raw(Statement::from_sql_and_values(
                sea_orm::DbBackend::Sqlite,
                "INSERT INTO Jobs (job, id, job_type, status, attempts, max_attempts, run_at, priority, metadata) \
                 SELECT ?1, ?2, ?3, 'Pending', 0, 1, strftime('%s', 'now'), 0, '{}' \
                 WHERE NOT EXISTS (SELECT 1 FROM Jobs WHERE job_type = ?3 AND status = 'Pending' AND lock_by IS NULL)",
                [
                    Value::from(DELIVERY_WAKE_TASK_ARGS.to_vec()),
                    Value::from(ulid::Ulid::new().to_string()),
                    Value::from(DELIVERY_WAKE_QUEUE),
                ],
            ))
            .await?;
        }
    }
    Ok(())
}

/// Wakes this process's delivery loop and long polls. Call it after the commit.
pub fn wake_after_commit(transmitter: &Transmitter) {
    transmitter.delivery_wake().notify_waiters();
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{Database, DbOptions};

    #[tokio::test]
    async fn sqlite_without_queue_tables_is_a_no_op() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("w.db").display());
        let db = Database::connect(&url, &DbOptions::default())
            .await
            .unwrap();
        db.migrate().await.unwrap();
        wake_in_tx(&db.orm, Backend::Sqlite).await.unwrap();
    }

    #[tokio::test]
    async fn sqlite_keeps_at_most_one_waiting_task() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("w.db").display());
        let db = Database::connect(&url, &DbOptions::default())
            .await
            .unwrap();
        // The columns apalis-sqlite's Jobs table has, enough for this statement.
        db.orm
            .execute_unprepared(
                "CREATE TABLE Jobs (job BLOB NOT NULL, id TEXT NOT NULL UNIQUE, job_type TEXT NOT NULL, \
                 status TEXT NOT NULL, attempts INTEGER NOT NULL, max_attempts INTEGER NOT NULL, \
                 run_at INTEGER NOT NULL, lock_by TEXT, priority INTEGER NOT NULL, metadata TEXT)",
            )
            .await
            .unwrap();
        for _ in 0..5 {
            wake_in_tx(&db.orm, Backend::Sqlite).await.unwrap();
        }
        let count = |sql: &'static str| {
            let orm = db.orm.clone();
            async move {
                let row = orm
                    .query_one_raw(Statement::from_string(sea_orm::DbBackend::Sqlite, sql))
                    .await
                    .unwrap()
                    .unwrap();
                row.try_get_by_index::<i64>(0).unwrap()
            }
        };
        assert_eq!(count("SELECT COUNT(*) FROM Jobs").await, 1);
        // Once a worker took it, the next emit enqueues a fresh one.
        db.orm
            .execute_unprepared("UPDATE Jobs SET status = 'Queued', lock_by = 'w'")
            .await
            .unwrap();
        wake_in_tx(&db.orm, Backend::Sqlite).await.unwrap();
        assert_eq!(count("SELECT COUNT(*) FROM Jobs").await, 2);
    }
}
