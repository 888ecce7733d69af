//! The periodic sweep: expire what was never delivered, delete what is past its retention.
//!
//! * Pending or held rows whose `expires_at` passed (and that nobody holds) become `expired`,
//!   and stay visible for redrive for one more retention period.
//! * Delivered, failed and expired rows whose `expires_at` passed are deleted with their
//!   attempts (delivered rows get `expires_at` = delivery time + retention when delivered;
//!   failed rows = failure time + retention).
//! * Finished wake tasks of the SQLite wake queue are deleted.
//!
//! Every statement works on bounded chunks, so a large backlog never holds the write lock for
//! long, and the sweep is idempotent: several workers may run it at the same time.

use ssf_provider::db::Pool;
use ssf_provider::delivery_wake::DELIVERY_WAKE_QUEUE;

use crate::metrics;

/// Rows per statement.
const CHUNK: i64 = 1000;
/// Statements per kind per sweep, so one sweep ends even while rows keep coming.
const MAX_CHUNKS: usize = 100;

/// What one sweep did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SweepReport {
    pub expired: u64,
    pub purged: u64,
}

const SQLITE_EXPIRE: &str = "
UPDATE stream_events SET status = 'expired', lease_until = NULL, leased_by = NULL,
    last_error = COALESCE(last_error, 'expired before delivery'),
    expires_at = ?1 + 1000 * COALESCE((SELECT p.event_retention_seconds FROM streams s JOIN providers p ON p.id = s.provider_id
                                       WHERE s.id = stream_events.stream_id), 0)
WHERE id IN (SELECT id FROM stream_events
             WHERE expires_at <= ?1 AND status IN ('pending', 'held') AND (lease_until IS NULL OR lease_until < ?1)
               AND NOT EXISTS (SELECT 1 FROM stream_leases l WHERE l.stream_id = stream_events.stream_id AND l.lease_until >= ?1)
             LIMIT ?2)";

const PG_EXPIRE: &str = "
UPDATE stream_events SET status = 'expired', lease_until = NULL, leased_by = NULL,
    last_error = COALESCE(last_error, 'expired before delivery'),
    expires_at = $1 + 1000 * COALESCE((SELECT p.event_retention_seconds FROM streams s JOIN providers p ON p.id = s.provider_id
                                       WHERE s.id = stream_events.stream_id), 0)
WHERE id IN (SELECT id FROM stream_events
             WHERE expires_at <= $1 AND status IN ('pending', 'held') AND (lease_until IS NULL OR lease_until < $1)
               AND NOT EXISTS (SELECT 1 FROM stream_leases l WHERE l.stream_id = stream_events.stream_id AND l.lease_until >= $1)
             LIMIT $2 FOR UPDATE SKIP LOCKED)";

const SQLITE_PURGE: &str = "
DELETE FROM stream_events WHERE id IN (
    SELECT id FROM stream_events WHERE expires_at <= ?1 AND status IN ('delivered', 'failed', 'expired') LIMIT ?2)";

const PG_PURGE: &str = "
DELETE FROM stream_events WHERE id IN (
    SELECT id FROM stream_events WHERE expires_at <= $1 AND status IN ('delivered', 'failed', 'expired')
    LIMIT $2 FOR UPDATE SKIP LOCKED)";

/// Runs one sweep at `now` (epoch ms).
pub async fn sweep(pool: &Pool, now: i64) -> Result<SweepReport, sqlx::Error> {
    let mut report = SweepReport::default();
    for _ in 0..MAX_CHUNKS {
        let expired = execute(pool, SQLITE_EXPIRE, PG_EXPIRE, now).await?;
        report.expired += expired;
        if expired < CHUNK as u64 {
            break;
        }
    }
    for _ in 0..MAX_CHUNKS {
        let purged = execute(pool, SQLITE_PURGE, PG_PURGE, now).await?;
        report.purged += purged;
        if purged < CHUNK as u64 {
            break;
        }
    }
    if let Pool::Sqlite(pool) = pool {
        // Done wake tasks have served their purpose; apalis keeps them otherwise.
        let queue_exists: Option<i64> = sqlx::query_scalar(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'Jobs'",
        )
        .fetch_optional(pool)
        .await?;
        if queue_exists.is_some() {
            sqlx::query("DELETE FROM Jobs WHERE job_type = ?1 AND status IN ('Done', 'Failed', 'Killed') AND done_at < ?2")
                .bind(DELIVERY_WAKE_QUEUE)
                .bind(now / 1000 - 60)
                .execute(pool)
                .await?;
        }
    }
    let m = metrics::global();
    m.expired.add(report.expired);
    m.purged.add(report.purged);
    if report.expired > 0 || report.purged > 0 {
        tracing::info!(
            expired = report.expired,
            purged = report.purged,
            "swept stream events"
        );
    }
    Ok(report)
}

async fn execute(
    pool: &Pool,
    sqlite: &'static str,
    postgres: &'static str,
    now: i64,
) -> Result<u64, sqlx::Error> {
    Ok(match pool {
        Pool::Sqlite(pool) => sqlx::query(sqlite)
            .bind(now)
            .bind(CHUNK)
            .execute(pool)
            .await?
            .rows_affected(),
        Pool::Postgres(pool) => sqlx::query(postgres)
            .bind(now)
            .bind(CHUNK)
            .execute(pool)
            .await?
            .rows_affected(),
    })
}
