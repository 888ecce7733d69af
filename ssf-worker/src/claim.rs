//! The lease lifecycle of push delivery: lease streams with due rows, record what happened to
//! their rows in batches, and give the streams back. Hand-written SQL on the raw pools: these
//! are the hot queries of delivery.
//!
//! The lease is per stream (`stream_leases`), not per row: a claim leases streams that have
//! due rows and no live lease (the longest-waiting first, one index probe per stream), and the
//! stream's task then takes its due rows in batches, extending the lease with each, and ends it
//! when nothing is due. While a lease lives no other worker takes the stream; when it runs out
//! (the worker was killed) the stream's pending rows are taken again, so a crash at any instant
//! loses nothing, and only deliveries whose outcome was not committed can be sent twice.
//! Claiming writes one small lease row per stream and nothing into `stream_events`, whose rows
//! are written once, when their outcome is recorded; every outcome write is guarded by the
//! stream's lease, so a worker whose lease was taken over cannot overwrite the new holder's
//! results.
//!
//! Per-stream order: one worker holds a stream at a time and sends its rows one at a time in
//! recording order, so events queued together (a backlog released from pause, a burst) arrive
//! in the order they were recorded. On PostgreSQL the claims of all workers are serialised by a
//! transaction-scoped advisory lock, so two workers never lease the same stream at the same
//! instant (each claim sees the leases the previous one committed); claims are short, and
//! `FOR NO KEY UPDATE ... SKIP LOCKED` passes over a stream whose configuration is being
//! changed instead of waiting for it. An event that fails transiently steps aside: it is
//! retried on its own schedule and younger events of its stream go ahead, so one stuck event
//! never blocks a stream; when the whole endpoint is down the circuit holds all of them back
//! together.
//!
//! Rows of streams that are not enabled are not claimed (paused streams keep theirs for when
//! they resume; disabled ones expire), except stream-updated events, which announce a pause or
//! a disable and must reach the receiver.

use std::collections::HashMap;

use serde::Serialize;
use sqlx::Row;
use ssf_provider::db::Pool;
use ssf_provider::set::EventType;

/// Serialises this process's delivery writes on SQLite.
///
/// SQLite has one writer at a time; a writer that finds the lock taken sleeps in SQLite's busy
/// handler (1, 2, 5, 10... ms), which leaves the cores idle under load. Queueing the worker's
/// own writes here instead hands the lock over at once. PostgreSQL needs no gate.
#[derive(Debug, Default)]
pub struct WriteGate(Option<tokio::sync::Mutex<()>>);

impl WriteGate {
    pub fn for_pool(pool: &Pool) -> Self {
        match pool {
            Pool::Sqlite(_) => Self(Some(tokio::sync::Mutex::new(()))),
            Pool::Postgres(_) => Self(None),
        }
    }

    pub async fn enter(&self) -> Option<tokio::sync::MutexGuard<'_, ()>> {
        match &self.0 {
            Some(mutex) => Some(mutex.lock().await),
            None => None,
        }
    }
}

/// One claimed push row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ClaimedEvent {
    pub id: i64,
    pub stream_id: String,
    pub jti: String,
    pub payload: String,
    pub token: Option<String>,
    pub attempts: i32,
    pub next_attempt_at: i64,
    pub created_at: i64,
}

/// Where and how a stream's events are pushed, read once per claimed batch.
#[derive(Clone)]
pub struct StreamTarget {
    pub stream_id: String,
    pub provider_id: String,
    pub endpoint_url: Option<String>,
    /// Secret; as stored (possibly sealed).
    pub authorization_header: Option<String>,
    pub verify_tls: bool,
    pub retention_ms: i64,
}

impl std::fmt::Debug for StreamTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamTarget")
            .field("stream_id", &self.stream_id)
            .field("provider_id", &self.provider_id)
            .field("endpoint_url", &self.endpoint_url)
            .field(
                "authorization_header",
                &self.authorization_header.as_ref().map(|_| "<redacted>"),
            )
            .field("verify_tls", &self.verify_tls)
            .finish()
    }
}

/// The new state of a row after an HTTP attempt, and the attempt row that records it.
#[derive(Debug, Clone, Serialize)]
pub struct AttemptRecord {
    pub id: i64,
    /// 1 for the first try.
    pub attempt: i32,
    /// `delivered`, `pending` (a retry is scheduled) or `failed`.
    pub status: &'static str,
    /// `delivered`, `transient` or `permanent`.
    pub outcome: &'static str,
    pub http_status: i32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_body: Option<String>,
    pub duration_ms: i64,
    /// The row's next due time (unchanged unless a retry is scheduled).
    pub next_attempt_at: i64,
    /// Only when a retry is scheduled, for the attempt row.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<i64>,
    pub expires_at: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delivered_at: Option<i64>,
    /// The signed SET when it was signed for this attempt and may be sent again (a retry or
    /// a redrive then sends the same bytes); `None` keeps what the row has.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    pub created_at: i64,
}

/// A row put off without an attempt (its endpoint's circuit is open, its key is missing): due
/// again at `next_attempt_at`.
#[derive(Debug, Clone, Serialize)]
pub struct Deferral {
    pub id: i64,
    pub next_attempt_at: i64,
}

const STREAM_UPDATED: EventType = EventType::StreamUpdated;

// The per-batch statements on PostgreSQL (a stream's next rows, the outcomes) are sent unnamed
// (`persistent(false)`), so each is planned for the table as it is now. A prepared statement's
// generic plan is chosen after a few executions and kept for the connection's life: chosen while
// `stream_events` is small (a new install, the first claims after a start), a sequential scan
// would stay the plan when the table holds millions of rows. Planning costs well under a
// millisecond per batch of hundreds of rows.

/// Arbitrary but fixed: the advisory lock key that serialises claims on PostgreSQL.
const PG_CLAIM_LOCK: i64 = 0x5353_4643_4c41_494d; // "SSFCLAIM"

/// The due-row filter shared by every push claim: pending, due, not expired, and either the
/// stream (`$stream`: the row's own, or the one stream being read) is enabled or the row
/// announces a status change (stream-updated). Naming the stream by parameter when there is
/// one makes the status check a constant the database evaluates once, not once per row.
macro_rules! due_filter {
    ($now:literal, $stream_updated:literal, $stream:literal) => {
        concat!(
            "e.status = 'pending' AND e.delivery_method = 'push' AND e.next_attempt_at <= ",
            $now,
            " AND e.expires_at > ",
            $now,
            " AND (e.event_type = ",
            $stream_updated,
            " OR EXISTS (SELECT 1 FROM streams s WHERE s.id = ",
            $stream,
            " AND s.status = 'enabled'))"
        )
    };
}

// Streams with a due row and no live lease, the longest-waiting first. Each stream costs one
// probe of idx_stream_events_pending_due, so a claim's cost follows the number of streams,
// never the backlog of the streams being delivered (whose due rows a row-first claim would
// have to read and skip at every claim).
macro_rules! free_streams {
    ($now:literal, $stream_updated:literal, $limit:literal) => {
        concat!(
            "SELECT f.id FROM (
    SELECT s.id, (SELECT e.next_attempt_at FROM stream_events e
                  WHERE e.stream_id = s.id AND ",
            due_filter!($now, $stream_updated, "e.stream_id"),
            "
                  ORDER BY e.next_attempt_at LIMIT 1) AS first_due
    FROM streams s
    WHERE NOT EXISTS (SELECT 1 FROM stream_leases l WHERE l.stream_id = s.id AND l.lease_until >= ",
            $now,
            ")) AS f
WHERE f.first_due IS NOT NULL
ORDER BY f.first_due
LIMIT ",
            $limit
        )
    };
}

// The INSERT is the statement's first step, so SQLite takes the write lock before it reads.
const SQLITE_LEASE_STREAMS: &str = concat!(
    "INSERT INTO stream_leases (stream_id, leased_by, lease_until)
SELECT c.id, ?2, ?1 FROM (",
    free_streams!("?3", "?5", "?4"),
    ") AS c
WHERE true
ON CONFLICT (stream_id) DO UPDATE SET leased_by = excluded.leased_by, lease_until = excluded.lease_until
    WHERE stream_leases.lease_until < ?3
RETURNING stream_id"
);

// `FOR NO KEY UPDATE ... SKIP LOCKED` skips a stream whose configuration is being changed at this
// instant without blocking emit() (whose foreign-key checks only take KEY SHARE locks).
const PG_LEASE_STREAMS: &str = concat!(
    "WITH candidates AS (
    SELECT s.id FROM streams s WHERE s.id IN (",
    free_streams!("$3", "$5", "$4"),
    ")
    FOR NO KEY UPDATE OF s SKIP LOCKED)
INSERT INTO stream_leases (stream_id, leased_by, lease_until)
SELECT id, $2, $1 FROM candidates
ON CONFLICT (stream_id) DO UPDATE SET leased_by = EXCLUDED.leased_by, lease_until = EXCLUDED.lease_until
    WHERE stream_leases.lease_until < $3
RETURNING stream_id"
);

/// Leases up to `limit` streams that have due push rows and that no worker is delivering, the
/// longest-waiting first, for `worker` until `lease_until` (epoch ms). The caller takes each
/// stream's rows with [`claim_stream`] and ends the lease with [`end_lease`] (or
/// [`claim_stream`] does, when nothing is due).
pub async fn claim_due(
    pool: &Pool,
    worker: &str,
    now: i64,
    lease_until: i64,
    limit: u32,
) -> Result<Vec<String>, sqlx::Error> {
    match pool {
        Pool::Sqlite(pool) => {
            sqlx::query_scalar(SQLITE_LEASE_STREAMS)
                .bind(lease_until)
                .bind(worker)
                .bind(now)
                .bind(i64::from(limit))
                .bind(STREAM_UPDATED.uri())
                .fetch_all(pool)
                .await
        }
        Pool::Postgres(pool) => {
            // Serialises the claims of all workers: each one sees the leases the previous one
            // committed, so two workers never take the same stream at the same instant.
            let mut tx = pool.begin().await?;
            sqlx::query("SELECT pg_advisory_xact_lock($1)")
                .bind(PG_CLAIM_LOCK)
                .execute(&mut *tx)
                .await?;
            let streams = sqlx::query_scalar(PG_LEASE_STREAMS)
                .bind(lease_until)
                .bind(worker)
                .bind(now)
                .bind(i64::from(limit))
                .bind(STREAM_UPDATED.uri())
                .fetch_all(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(streams)
        }
    }
}

const SQLITE_EXTEND: &str =
    "UPDATE stream_leases SET lease_until = ?1 WHERE stream_id = ?2 AND leased_by = ?3";
const PG_EXTEND: &str =
    "UPDATE stream_leases SET lease_until = $1 WHERE stream_id = $2 AND leased_by = $3";

// Pinned to idx_stream_events_stream, which yields the stream's pending rows in recording
// order: left to itself SQLite reads every due row of the stream through the claim's index and
// sorts them, per batch (`EXPLAIN QUERY PLAN`), which a large backlog makes slow.
const SQLITE_STREAM_ROWS: &str = concat!(
    "SELECT e.id, e.stream_id, e.jti, e.payload, e.token, e.attempts, e.next_attempt_at, e.created_at
FROM stream_events e INDEXED BY idx_stream_events_stream
WHERE e.stream_id = ?1 AND ",
    due_filter!("?2", "?4", "?1"),
    "
ORDER BY e.id
LIMIT ?3"
);

// The row comparisons bound idx_stream_events_stream to this stream's pending rows without an
// equality on `stream_id`: with `stream_id = $1`, PostgreSQL reduces the order to `id` and may
// walk the primary key from the oldest row of the table (delivered ones included, millions in a
// retention window) to find the stream's pending rows; `EXPLAIN ANALYZE` showed it doing so.
// The order is then one only that index yields; the query runs with sorting switched off
// (PG_ORDERED_READ), because a planner that underestimates the backlog (no statistics yet, or
// taken before a burst) prefers to read every due row of the stream and sort them, per batch.
const PG_STREAM_ROWS: &str = concat!(
    "SELECT e.id, e.stream_id, e.jti, e.payload, e.token, e.attempts, e.next_attempt_at, e.created_at
FROM stream_events e
WHERE (e.stream_id, e.status, e.id) > ($1, 'pending', -1)
  AND (e.stream_id, e.status, e.id) < ($1, 'pending', 9223372036854775807) AND ",
    due_filter!("$2", "$4", "$1"),
    "
ORDER BY e.stream_id, e.status, e.id
LIMIT $3"
);

const PG_ORDERED_READ: &str = "SET LOCAL enable_sort = off";

const SQLITE_END_LEASE: &str = "DELETE FROM stream_leases WHERE stream_id = ?1 AND leased_by = ?2";
const PG_END_LEASE: &str = "DELETE FROM stream_leases WHERE stream_id = $1 AND leased_by = $2";

/// The next due rows of a stream `worker` holds, oldest first, with its lease extended to
/// `lease_until`. A worker that finished a stream's batch continues with it this way (an
/// indexed look at one stream) instead of scanning every due row again. When nothing is due
/// the lease is ended; when the lease was lost (it ran out and another worker took the stream)
/// nothing is returned and nothing is touched.
pub async fn claim_stream(
    pool: &Pool,
    worker: &str,
    stream_id: &str,
    now: i64,
    lease_until: i64,
    limit: u32,
) -> Result<Vec<ClaimedEvent>, sqlx::Error> {
    match pool {
        Pool::Sqlite(pool) => {
            let mut tx = pool.begin().await?;
            let extended = sqlx::query(SQLITE_EXTEND)
                .bind(lease_until)
                .bind(stream_id)
                .bind(worker)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let rows = if extended == 0 {
                Vec::new()
            } else {
                let rows = sqlx::query_as::<_, ClaimedEvent>(SQLITE_STREAM_ROWS)
                    .bind(stream_id)
                    .bind(now)
                    .bind(i64::from(limit))
                    .bind(STREAM_UPDATED.uri())
                    .fetch_all(&mut *tx)
                    .await?;
                if rows.is_empty() {
                    sqlx::query(SQLITE_END_LEASE)
                        .bind(stream_id)
                        .bind(worker)
                        .execute(&mut *tx)
                        .await?;
                }
                rows
            };
            tx.commit().await?;
            Ok(rows)
        }
        Pool::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            let extended = sqlx::query(PG_EXTEND)
                .bind(lease_until)
                .bind(stream_id)
                .bind(worker)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            let rows = if extended == 0 {
                Vec::new()
            } else {
                sqlx::raw_sql(PG_ORDERED_READ).execute(&mut *tx).await?;
                let rows = sqlx::query_as::<_, ClaimedEvent>(PG_STREAM_ROWS)
                    .persistent(false)
                    .bind(stream_id)
                    .bind(now)
                    .bind(i64::from(limit))
                    .bind(STREAM_UPDATED.uri())
                    .fetch_all(&mut *tx)
                    .await?;
                if rows.is_empty() {
                    sqlx::query(PG_END_LEASE)
                        .bind(stream_id)
                        .bind(worker)
                        .execute(&mut *tx)
                        .await?;
                }
                rows
            };
            tx.commit().await?;
            Ok(rows)
        }
    }
}

/// Gives a stream back: other workers may claim it at once. Call it only once the outcomes of
/// the stream's rows are committed.
pub async fn end_lease(pool: &Pool, worker: &str, stream_id: &str) -> Result<(), sqlx::Error> {
    match pool {
        Pool::Sqlite(pool) => {
            sqlx::query(SQLITE_END_LEASE)
                .bind(stream_id)
                .bind(worker)
                .execute(pool)
                .await?;
        }
        Pool::Postgres(pool) => {
            sqlx::query(PG_END_LEASE)
                .bind(stream_id)
                .bind(worker)
                .execute(pool)
                .await?;
        }
    }
    Ok(())
}

// A stream switched to poll keeps its old push rows, but its endpoint_url is now its own poll
// URL: never push there.
const SQLITE_TARGETS: &str = "
SELECT s.id, s.provider_id, CASE WHEN s.delivery_method = 'push' THEN s.endpoint_url END,
       s.authorization_header, p.verify_tls, p.event_retention_seconds
FROM streams s JOIN providers p ON p.id = s.provider_id
WHERE s.id IN (SELECT value FROM json_each(?1))";

const PG_TARGETS: &str = "
SELECT s.id, s.provider_id, CASE WHEN s.delivery_method = 'push' THEN s.endpoint_url END,
       s.authorization_header, p.verify_tls, p.event_retention_seconds
FROM streams s JOIN providers p ON p.id = s.provider_id
WHERE s.id IN (SELECT jsonb_array_elements_text($1::jsonb))";

/// Reads the push targets of `stream_ids` (streams that vanished are absent).
pub async fn load_targets(
    pool: &Pool,
    stream_ids: &[&str],
) -> Result<HashMap<String, StreamTarget>, sqlx::Error> {
    if stream_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let ids = serde_json::to_string(stream_ids).unwrap_or_else(|_| "[]".to_owned());
    let rows = match pool {
        Pool::Sqlite(pool) => sqlx::query(SQLITE_TARGETS)
            .bind(ids)
            .fetch_all(pool)
            .await?
            .iter()
            .map(target_from_sqlite)
            .collect::<Result<Vec<_>, _>>()?,
        Pool::Postgres(pool) => sqlx::query(PG_TARGETS)
            .bind(ids)
            .fetch_all(pool)
            .await?
            .iter()
            .map(target_from_pg)
            .collect::<Result<Vec<_>, _>>()?,
    };
    Ok(rows.into_iter().map(|t| (t.stream_id.clone(), t)).collect())
}

fn target_from_sqlite(row: &sqlx::sqlite::SqliteRow) -> Result<StreamTarget, sqlx::Error> {
    Ok(StreamTarget {
        stream_id: row.try_get(0)?,
        provider_id: row.try_get(1)?,
        endpoint_url: row.try_get(2)?,
        authorization_header: row.try_get(3)?,
        verify_tls: row.try_get(4)?,
        retention_ms: row.try_get::<i64, _>(5)?.saturating_mul(1000),
    })
}

fn target_from_pg(row: &sqlx::postgres::PgRow) -> Result<StreamTarget, sqlx::Error> {
    Ok(StreamTarget {
        stream_id: row.try_get(0)?,
        provider_id: row.try_get(1)?,
        endpoint_url: row.try_get(2)?,
        authorization_header: row.try_get(3)?,
        verify_tls: row.try_get(4)?,
        retention_ms: row.try_get::<i64, _>(5)?.saturating_mul(1000),
    })
}

// `+column` keeps SQLite from driving these joins from the status index (a scan of every
// pending row per JSON element); they must look each row up by id.
const SQLITE_RECORD: &str = "
UPDATE stream_events SET
    status = u.status, attempts = u.attempt, next_attempt_at = u.next_attempt_at,
    last_error = u.error, last_http_status = u.http_status,
    expires_at = u.expires_at, delivered_at = u.delivered_at,
    token = COALESCE(u.token, stream_events.token)
FROM (SELECT value ->> '$.id' AS id, value ->> '$.status' AS status, value ->> '$.attempt' AS attempt,
             value ->> '$.next_attempt_at' AS next_attempt_at, value ->> '$.error' AS error,
             value ->> '$.http_status' AS http_status, value ->> '$.expires_at' AS expires_at,
             value ->> '$.delivered_at' AS delivered_at, value ->> '$.token' AS token
      FROM jsonb_each(?1)) AS u
WHERE stream_events.id = u.id AND +stream_events.status = 'pending'
  AND EXISTS (SELECT 1 FROM stream_leases l WHERE l.stream_id = stream_events.stream_id AND l.leased_by = ?2)";

const SQLITE_ATTEMPTS: &str = "
INSERT INTO delivery_attempts
    (stream_event_id, attempt, outcome, http_status, response_body, error, duration_ms, trigger, worker, next_attempt_at, created_at)
SELECT value ->> '$.id', value ->> '$.attempt', value ->> '$.outcome', value ->> '$.http_status',
       value ->> '$.response_body', value ->> '$.error', value ->> '$.duration_ms', 'scheduled', ?2,
       value ->> '$.retry_at', value ->> '$.created_at'
FROM jsonb_each(?1)
WHERE EXISTS (SELECT 1 FROM stream_events e WHERE e.id = value ->> '$.id')";

// The row an outcome is about, if it is still pending and its stream still leased by the worker
// (`$worker`); planned per outcome, see PG_RECORD.
macro_rules! pg_held_row {
    ($worker:literal) => {
        concat!(
            "SELECT p.id, p.status FROM stream_events p
    WHERE p.id = u.id AND p.status = 'pending'
      AND EXISTS (SELECT 1 FROM stream_leases l WHERE l.stream_id = p.stream_id AND l.leased_by = ",
            $worker,
            ")
    LIMIT 1"
        )
    };
}

// One statement writes the rows' new state and the attempt rows, in one round trip; the
// outcomes travel as one array per column (binary: as JSON, parsing them was a sixth of the
// statement's cost). Every attempt on a row that still exists is logged, even when the row's
// stream was taken over meanwhile (the attempt happened); only rows still held are updated, and
// their number is what the statement returns. No foreign key guards the attempt rows on
// PostgreSQL (migration 4): an updated row is locked by the update, and any other row is
// locked here (`FOR KEY SHARE`, what the key's check took), so a stream deleted meanwhile waits
// for this commit and its delete trigger then removes these attempts with the events.
//
// Each outcome's row is checked (still pending, its stream still leased by this worker) in a
// subquery PostgreSQL cannot flatten (`LIMIT 1`), so it is planned per outcome: a probe of the
// primary key, the only sane path for one id. Written as plain conditions on the updated
// table, the planner picked the row side by guessing how many rows are pending; with no
// statistics (a new table, or a burst since the last ANALYZE) it guessed a handful and compared
// every pending row with every outcome (`auto_explain`: 6 million comparisons, 1.3 s, for 631
// outcomes), and with an `EXISTS` lease guard it read the leased streams' whole backlog per
// batch. The update then joins on `id`, re-checking `status` against the row it locks in case
// a worker that took the stream over recorded it meanwhile.
const PG_RECORD: &str = concat!(
    "
WITH u AS (
    SELECT * FROM unnest($1::bigint[], $3::text[], $4::int[], $5::bigint[], $6::text[], $7::int[],
        $8::bigint[], $9::bigint[], $10::text[], $11::text[], $12::text[], $13::bigint[], $14::bigint[],
        $15::bigint[])
    AS u(id, status, attempt, next_attempt_at, error, http_status, expires_at, delivered_at, token, outcome,
         response_body, duration_ms, retry_at, created_at)
), updated AS (
    UPDATE stream_events AS e SET
        status = u.status, attempts = u.attempt, next_attempt_at = u.next_attempt_at,
        last_error = u.error, last_http_status = u.http_status,
        expires_at = u.expires_at, delivered_at = u.delivered_at,
        token = COALESCE(u.token, e.token)
    FROM u CROSS JOIN LATERAL (",
    pg_held_row!("$2"),
    ") AS held
    WHERE e.id = held.id AND e.status = held.status
    RETURNING e.id
), logged AS (
    INSERT INTO delivery_attempts
        (stream_event_id, attempt, outcome, http_status, response_body, error, duration_ms, trigger, worker,
         next_attempt_at, created_at)
    SELECT u.id, u.attempt, u.outcome, u.http_status, u.response_body, u.error, u.duration_ms, 'scheduled', $2,
           u.retry_at, u.created_at
    FROM u
    WHERE u.id IN (SELECT id FROM updated)
       OR EXISTS (SELECT 1 FROM stream_events e WHERE e.id = u.id FOR KEY SHARE)
)
SELECT count(*) FROM updated"
);

const SQLITE_RELEASE: &str = "
UPDATE stream_events SET next_attempt_at = u.next_attempt_at
FROM (SELECT value ->> '$.id' AS id, value ->> '$.next_attempt_at' AS next_attempt_at FROM jsonb_each(?1)) AS u
WHERE stream_events.id = u.id AND +stream_events.status = 'pending' AND +stream_events.next_attempt_at < u.next_attempt_at
  AND EXISTS (SELECT 1 FROM stream_leases l WHERE l.stream_id = stream_events.stream_id AND l.leased_by = ?2)";

const PG_RELEASE: &str = concat!(
    "
UPDATE stream_events AS e SET next_attempt_at = u.next_attempt_at
FROM unnest($1::bigint[], $3::bigint[]) AS u(id, next_attempt_at)
CROSS JOIN LATERAL (",
    pg_held_row!("$2"),
    ") AS held
WHERE e.id = held.id AND e.status = held.status AND e.next_attempt_at < u.next_attempt_at"
);

/// Writes the outcomes of attempts and gives back released rows, in one transaction.
/// Returns how many attempted rows were still held by `worker` (the others were taken over).
pub async fn record(
    pool: &Pool,
    worker: &str,
    attempts: &[AttemptRecord],
    deferrals: &[Deferral],
) -> Result<u64, sqlx::Error> {
    if attempts.is_empty() && deferrals.is_empty() {
        return Ok(0);
    }
    let mut updated = 0;
    match pool {
        Pool::Sqlite(pool) => {
            let mut tx = pool.begin().await?;
            if !attempts.is_empty() {
                let attempts_json = to_json(attempts)?;
                updated = sqlx::query(SQLITE_RECORD)
                    .bind(&attempts_json)
                    .bind(worker)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                sqlx::query(SQLITE_ATTEMPTS)
                    .bind(&attempts_json)
                    .bind(worker)
                    .execute(&mut *tx)
                    .await?;
            }
            if !deferrals.is_empty() {
                sqlx::query(SQLITE_RELEASE)
                    .bind(to_json(deferrals)?)
                    .bind(worker)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        }
        Pool::Postgres(pool) => {
            let mut tx = pool.begin().await?;
            if !attempts.is_empty() {
                let held: i64 = sqlx::query_scalar(PG_RECORD)
                    .persistent(false)
                    .bind(column(attempts, |a| a.id))
                    .bind(worker)
                    .bind(column(attempts, |a| a.status))
                    .bind(column(attempts, |a| a.attempt))
                    .bind(column(attempts, |a| a.next_attempt_at))
                    .bind(column(attempts, |a| a.error.as_deref()))
                    .bind(column(attempts, |a| a.http_status))
                    .bind(column(attempts, |a| a.expires_at))
                    .bind(column(attempts, |a| a.delivered_at))
                    .bind(column(attempts, |a| a.token.as_deref()))
                    .bind(column(attempts, |a| a.outcome))
                    .bind(column(attempts, |a| a.response_body.as_deref()))
                    .bind(column(attempts, |a| a.duration_ms))
                    .bind(column(attempts, |a| a.retry_at))
                    .bind(column(attempts, |a| a.created_at))
                    .fetch_one(&mut *tx)
                    .await?;
                updated = u64::try_from(held).unwrap_or(0);
            }
            if !deferrals.is_empty() {
                sqlx::query(PG_RELEASE)
                    .persistent(false)
                    .bind(column(deferrals, |d| d.id))
                    .bind(worker)
                    .bind(column(deferrals, |d| d.next_attempt_at))
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
        }
    }
    Ok(updated)
}

/// One field of every row, as an array parameter.
fn column<'a, R, T>(rows: &'a [R], field: impl Fn(&'a R) -> T) -> Vec<T> {
    rows.iter().map(field).collect()
}

fn to_json<T: Serialize>(rows: &[T]) -> Result<String, sqlx::Error> {
    serde_json::to_string(rows).map_err(|e| sqlx::Error::Encode(Box::new(e)))
}

/// Ends every stream lease `worker` still holds (graceful shutdown, after its outcomes are
/// recorded): the streams are free at once for the other workers, instead of after the lease
/// runs out. Returns how many streams were given back.
pub async fn release_all(pool: &Pool, worker: &str) -> Result<u64, sqlx::Error> {
    Ok(match pool {
        Pool::Sqlite(pool) => sqlx::query("DELETE FROM stream_leases WHERE leased_by = ?1")
            .bind(worker)
            .execute(pool)
            .await?
            .rows_affected(),
        Pool::Postgres(pool) => sqlx::query("DELETE FROM stream_leases WHERE leased_by = $1")
            .bind(worker)
            .execute(pool)
            .await?
            .rows_affected(),
    })
}
