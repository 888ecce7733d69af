//! The stream status machine (SSF §8.1.2): enabled, paused, disabled.
//!
//! * Paused: new SETs are recorded `Held` (by emit()); enabling the stream releases them to
//!   `Pending` with their original due times, so they go out before anything newer, in order.
//! * Disabled: nothing is held; pending and held SETs are expired at once.
//! * A change the transmitter makes on its own (e.g. the inactivity timeout) sends a
//!   stream-updated SET, recorded pending before the change takes effect so it reaches the
//!   receiver even on the stream it pauses or disables.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionTrait};
use serde::{Deserialize, Serialize};
use ssf_entities::streams::{Column, Entity};
use ssf_entities::{EventStatus, StreamStatus, stream_events};

use super::events::{self, Timing};
use super::{Caller, Model, StreamError};
use crate::clock::now_ms;
use crate::db::Database;
use crate::providers;
use crate::set::SecurityEvent;
use crate::transmitter::Transmitter;

const MAX_REASON_CHARS: usize = 512;
/// Reason given to receivers whose stream the inactivity timeout paused.
pub const INACTIVITY_REASON: &str =
    "paused by the transmitter after the stream's inactivity_timeout";

/// Who asked for a status change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Initiator {
    /// The receiver, through the status endpoint: it knows, so no stream-updated event.
    Receiver,
    /// The transmitter or its operator: the receiver is told by a stream-updated event.
    Transmitter,
}

/// The status of a stream as the status endpoint reads and writes it.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StreamStatusBody {
    pub stream_id: String,
    #[schema(value_type = String, example = "enabled")]
    pub status: StreamStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl StreamStatusBody {
    pub fn of(stream: &Model) -> Self {
        Self {
            stream_id: stream.id.clone(),
            status: stream.status,
            reason: stream.status_reason.clone(),
        }
    }
}

/// Changes `stream`'s status inside the caller's transaction `conn` and returns the stream as
/// changed. The caller commits, and wakes delivery when SETs became due (a stream-updated
/// event was recorded or held SETs were released): `delivery_wake::wake_in_tx` before the
/// commit, `delivery_wake::wake_after_commit` after it.
pub async fn set_status<C: ConnectionTrait>(
    conn: &C,
    provider: &providers::Model,
    stream: &Model,
    status: StreamStatus,
    reason: Option<String>,
    initiator: Initiator,
) -> Result<Model, StreamError> {
    let reason = reason.map(|r| match r.char_indices().nth(MAX_REASON_CHARS) {
        Some((cut, _)) => r[..cut].to_owned(),
        None => r,
    });
    let now = now_ms();
    let from = stream.status;
    let undelivered = || {
        stream_events::Entity::update_many()
            .filter(stream_events::Column::StreamId.eq(&stream.id))
            .filter(stream_events::Column::Status.is_in([EventStatus::Pending, EventStatus::Held]))
    };
    if status == StreamStatus::Disabled && from != StreamStatus::Disabled {
        undelivered()
            .col_expr(
                stream_events::Column::Status,
                Expr::value(EventStatus::Expired),
            )
            .col_expr(
                stream_events::Column::LastError,
                Expr::value("stream disabled"),
            )
            .col_expr(
                stream_events::Column::LeaseUntil,
                Expr::value(Option::<i64>::None),
            )
            .exec(conn)
            .await?;
    }
    if status == StreamStatus::Enabled && from == StreamStatus::Paused {
        stream_events::Entity::update_many()
            .col_expr(
                stream_events::Column::Status,
                Expr::value(EventStatus::Pending),
            )
            .filter(stream_events::Column::StreamId.eq(&stream.id))
            .filter(stream_events::Column::Status.eq(EventStatus::Held))
            .exec(conn)
            .await?;
    }
    if initiator == Initiator::Transmitter && status != from {
        // Recorded as if the stream were still in its old state: pending, due now.
        events::record(
            conn,
            provider,
            stream,
            SecurityEvent::stream_updated(status, reason.clone()),
            Timing::Now,
        )
        .await?;
    }
    Entity::update_many()
        .col_expr(Column::Status, Expr::value(status))
        .col_expr(Column::StatusReason, Expr::value(reason.clone()))
        .col_expr(Column::UpdatedAt, Expr::value(now))
        .filter(Column::Id.eq(&stream.id))
        .exec(conn)
        .await?;
    Ok(Model {
        status,
        status_reason: reason,
        updated_at: now,
        ..stream.clone()
    })
}

/// The status endpoint's update (§8.1.2.2): the caller changes its own stream.
pub async fn update_status(
    transmitter: &Transmitter,
    caller: &Caller,
    stream_id: &str,
    status: StreamStatus,
    reason: Option<String>,
) -> Result<Model, StreamError> {
    let txn = transmitter.db().orm.begin().await?;
    let stream = super::find_owned(&txn, caller, stream_id).await?;
    super::touch(&txn, &stream.id).await?;
    let updated = set_status(
        &txn,
        &caller.provider,
        &stream,
        status,
        reason,
        Initiator::Receiver,
    )
    .await?;
    let released = stream.status == StreamStatus::Paused && status == StreamStatus::Enabled;
    if released {
        events::wake_in_tx(&txn, transmitter).await?;
    }
    txn.commit().await?;
    if released {
        events::wake(transmitter);
    }
    Ok(updated)
}

/// Pauses every enabled stream whose receiver has been inactive for longer than its
/// provider's `inactivity_timeout`, each with a stream-updated event. Returns how many.
/// Meant for the worker's periodic job; safe to run from several processes at once.
pub async fn pause_inactive(db: &Database, now: i64) -> Result<u64, StreamError> {
    let providers = ssf_entities::providers::Entity::find()
        .filter(ssf_entities::providers::Column::DeletedAt.is_null())
        .filter(ssf_entities::providers::Column::InactivityTimeoutSeconds.is_not_null())
        .all(&db.orm)
        .await?;
    let mut paused = 0;
    for provider in providers {
        let Some(timeout) = provider.inactivity_timeout_seconds else {
            continue;
        };
        let cutoff = now - timeout.saturating_mul(1000);
        let idle = Entity::find()
            .filter(Column::ProviderId.eq(&provider.id))
            .filter(Column::Status.eq(StreamStatus::Enabled))
            .filter(Column::LastActivityAt.lt(cutoff))
            .all(&db.orm)
            .await?;
        for stream in idle {
            let txn = db.orm.begin().await?;
            // Claim the change first, so a concurrent run or a receiver request in between
            // leaves this stream alone.
            let claimed = Entity::update_many()
                .col_expr(Column::UpdatedAt, Expr::value(now))
                .filter(Column::Id.eq(&stream.id))
                .filter(Column::Status.eq(StreamStatus::Enabled))
                .filter(Column::LastActivityAt.lt(cutoff))
                .exec(&txn)
                .await?;
            if claimed.rows_affected == 1 {
                set_status(
                    &txn,
                    &provider,
                    &stream,
                    StreamStatus::Paused,
                    Some(INACTIVITY_REASON.to_owned()),
                    Initiator::Transmitter,
                )
                .await?;
                crate::delivery_wake::wake_in_tx(&txn, db.backend()).await?;
                paused += 1;
            }
            txn.commit().await?;
        }
    }
    Ok(paused)
}
