//! Redrive: giving failed or expired SETs another delivery, one event or every matching event
//! of a stream (bounded per request).
//!
//! A redriven event goes back to `pending` (or `held` on a paused stream), due now, with its
//! lease cleared and its `expires_at` moved to now + the provider's event retention. Its attempt
//! count and history stay: the worker's retry schedule continues from there, so an event that
//! had used up its attempts gets one more try per redrive. Its signed token stays too, so the
//! receiver gets the same bytes (and the same `jti`, to deduplicate on). Delivery is woken in
//! this process and, through the database, in every worker.

use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use ssf_entities::{EventStatus, StreamStatus, stream_events, streams};

use super::AdminError;
use super::audit::{self, Actor, Target};
use super::delivery_log::{self, EventSummary};
use crate::clock::now_ms;
use crate::delivery_wake;
use crate::providers;
use crate::transmitter::Transmitter;

/// Events redriven per request when the caller does not say.
pub const DEFAULT_REDRIVE_LIMIT: u64 = 1000;
/// Most events one request redrives: bounds the transaction and the burst on the receiver.
pub const MAX_REDRIVE_LIMIT: u64 = 10_000;
/// Rows per UPDATE (bind-parameter limits).
const ID_CHUNK: usize = 500;

/// Which events of a stream to redrive in bulk. Everything optional.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RedriveFailed {
    /// Only events created at or after this instant (RFC 3339).
    #[serde(default)]
    pub since: Option<chrono::DateTime<chrono::Utc>>,
    /// Only events created before this instant (RFC 3339).
    #[serde(default)]
    pub until: Option<chrono::DateTime<chrono::Utc>>,
    /// At most this many, oldest first (default 1000, at most 10000).
    #[serde(default)]
    pub limit: Option<u64>,
    /// Also redrive events that expired undelivered (default false: failed only).
    #[serde(default)]
    pub include_expired: bool,
}

/// What a bulk redrive did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RedriveReport {
    pub stream_id: String,
    /// Events due again.
    pub retried: u64,
    /// Matching events left for another request (beyond `limit`).
    pub remaining: u64,
}

/// The stream and its live provider, refusing streams nothing can be delivered on.
async fn deliverable_stream<C: ConnectionTrait>(
    conn: &C,
    stream_id: &str,
) -> Result<(streams::Model, i64), AdminError> {
    let stream = delivery_log::find_stream(conn, stream_id).await?;
    let provider = providers::find(conn, &stream.provider_id)
        .await?
        .ok_or_else(|| {
            AdminError::conflict("provider_deleted", "the stream's provider was deleted")
        })?;
    if stream.status == StreamStatus::Disabled {
        return Err(AdminError::conflict(
            "stream_disabled",
            "the stream is disabled; enable it before redriving its events",
        ));
    }
    Ok((
        stream,
        provider.event_retention_seconds.saturating_mul(1000),
    ))
}

fn redriven_status(stream: &streams::Model) -> EventStatus {
    if stream.status == StreamStatus::Paused {
        EventStatus::Held
    } else {
        EventStatus::Pending
    }
}

/// Sets `ids` (still in one of `from`) due again; returns how many changed.
async fn requeue<C: ConnectionTrait>(
    conn: &C,
    ids: &[i64],
    from: &[EventStatus],
    to: EventStatus,
    retention_ms: i64,
) -> Result<u64, AdminError> {
    let now = now_ms();
    let mut changed = 0;
    for chunk in ids.chunks(ID_CHUNK) {
        let result = stream_events::Entity::update_many()
            .col_expr(stream_events::Column::Status, Expr::value(to))
            .col_expr(stream_events::Column::NextAttemptAt, Expr::value(now))
            .col_expr(
                stream_events::Column::LeaseUntil,
                Expr::value(Option::<i64>::None),
            )
            .col_expr(
                stream_events::Column::LeasedBy,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                stream_events::Column::ExpiresAt,
                Expr::value(now.saturating_add(retention_ms)),
            )
            .filter(stream_events::Column::Id.is_in(chunk.iter().copied()))
            .filter(stream_events::Column::Status.is_in(from.iter().copied()))
            .exec(conn)
            .await?;
        changed += result.rows_affected;
    }
    Ok(changed)
}

/// Redrives the failed or expired event `jti` of `stream_id`.
pub async fn redrive_event(
    transmitter: &Transmitter,
    actor: &Actor,
    stream_id: &str,
    jti: &str,
) -> Result<EventSummary, AdminError> {
    let db = transmitter.db();
    let txn = super::begin_write(&db.orm).await?;
    let (stream, retention_ms) = deliverable_stream(&txn, stream_id).await?;
    let event = delivery_log::find_event(&txn, &stream.id, jti).await?;
    if !matches!(event.status, EventStatus::Failed | EventStatus::Expired) {
        let status = serde_json::to_value(event.status)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        return Err(AdminError::conflict(
            "not_redrivable",
            format!("the event is {status}; only failed or expired events can be redriven"),
        ));
    }
    let to = redriven_status(&stream);
    let changed = requeue(
        &txn,
        &[event.id],
        &[EventStatus::Failed, EventStatus::Expired],
        to,
        retention_ms,
    )
    .await?;
    if changed == 0 {
        return Err(AdminError::conflict(
            "not_redrivable",
            "the event changed meanwhile; look at it again",
        ));
    }
    if to == EventStatus::Pending {
        delivery_wake::wake_in_tx(&txn, db.backend()).await?;
    }
    let refreshed = delivery_log::find_event(&txn, &stream.id, jti).await?;
    txn.commit().await?;
    if to == EventStatus::Pending {
        delivery_wake::wake_after_commit(transmitter);
    }
    audit::record(
        actor,
        "event.redrive",
        Target {
            provider_id: Some(&stream.provider_id),
            jti: Some(jti),
            ..Target::stream(&stream.id)
        },
        &format!("previous_attempts={}", event.attempts),
    );
    Ok(EventSummary::of(&refreshed))
}

/// Redrives up to `limit` failed (and optionally expired) events of `stream_id`, oldest first.
pub async fn redrive_failed(
    transmitter: &Transmitter,
    actor: &Actor,
    stream_id: &str,
    request: RedriveFailed,
) -> Result<RedriveReport, AdminError> {
    let limit = request.limit.unwrap_or(DEFAULT_REDRIVE_LIMIT);
    if !(1..=MAX_REDRIVE_LIMIT).contains(&limit) {
        return Err(AdminError::invalid(
            "limit",
            format!("must be between 1 and {MAX_REDRIVE_LIMIT}"),
        ));
    }
    if let (Some(since), Some(until)) = (request.since, request.until)
        && since >= until
    {
        return Err(AdminError::invalid("until", "must be later than since"));
    }
    let from: Vec<EventStatus> = if request.include_expired {
        vec![EventStatus::Failed, EventStatus::Expired]
    } else {
        vec![EventStatus::Failed]
    };
    let db = transmitter.db();
    let txn = super::begin_write(&db.orm).await?;
    let (stream, retention_ms) = deliverable_stream(&txn, stream_id).await?;
    let mut matching = stream_events::Entity::find()
        .filter(stream_events::Column::StreamId.eq(&stream.id))
        .filter(stream_events::Column::Status.is_in(from.iter().copied()));
    if let Some(since) = request.since {
        matching = matching.filter(stream_events::Column::CreatedAt.gte(since.timestamp_millis()));
    }
    if let Some(until) = request.until {
        matching = matching.filter(stream_events::Column::CreatedAt.lt(until.timestamp_millis()));
    }
    let total = matching.clone().count(&txn).await?;
    let ids: Vec<i64> = matching
        .select_only()
        .column(stream_events::Column::Id)
        .order_by_asc(stream_events::Column::Id)
        .limit(limit)
        .into_tuple()
        .all(&txn)
        .await?;
    let to = redriven_status(&stream);
    let redriven = requeue(&txn, &ids, &from, to, retention_ms).await?;
    if redriven > 0 && to == EventStatus::Pending {
        delivery_wake::wake_in_tx(&txn, db.backend()).await?;
    }
    txn.commit().await?;
    if redriven > 0 && to == EventStatus::Pending {
        delivery_wake::wake_after_commit(transmitter);
    }
    audit::record(
        actor,
        "stream.redrive_failed",
        Target {
            provider_id: Some(&stream.provider_id),
            ..Target::stream(&stream.id)
        },
        &format!(
            "redriven={redriven} include_expired={}",
            request.include_expired
        ),
    );
    Ok(RedriveReport {
        stream_id: stream.id,
        retried: redriven,
        remaining: total.saturating_sub(redriven),
    })
}
