//! Recording a stream's own SETs (verification, stream-updated), through dispatch's
//! `record_for_stream`, then holding or delaying them where the stream's state asks for it.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use ssf_entities::{EventStatus, StreamStatus, stream_events};

use super::{Model, StreamError};
use crate::clock::now_ms;
use crate::delivery_wake;
use crate::dispatch;
use crate::providers;
use crate::set::{EventType, SecurityEvent, SubjectId};
use crate::transmitter::Transmitter;

/// How long after creating a legacy-dialect stream its unsolicited verification event is due.
pub(super) const UNSOLICITED_VERIFICATION_DELAY_MS: i64 = 5_000;

/// When the recorded SET becomes due.
pub(super) enum Timing {
    Now,
    After(i64),
}

/// Records `event` about `stream` itself (subject: the stream id, SSF §8.1.4.1, §8.1.5)
/// through dispatch, and returns the SET's `jti`.
///
/// Stream-updated events stay pending: SSF requires them to reach the receiver before a pause
/// or disable takes effect. Other events on a paused stream are held.
pub(super) async fn record<C: ConnectionTrait>(
    conn: &C,
    provider: &providers::Model,
    stream: &Model,
    event: SecurityEvent,
    timing: Timing,
) -> Result<String, StreamError> {
    let hold =
        event.event_type() != EventType::StreamUpdated && stream.status == StreamStatus::Paused;
    let jti = dispatch::record_for_stream(
        conn,
        provider,
        stream,
        SubjectId::opaque(stream.id.clone()),
        event,
        None,
    )
    .await?;
    if hold || matches!(timing, Timing::After(_)) {
        let mut update =
            stream_events::Entity::update_many().filter(stream_events::Column::Jti.eq(&jti));
        if hold {
            update = update.col_expr(
                stream_events::Column::Status,
                Expr::value(EventStatus::Held),
            );
        }
        if let Timing::After(delay_ms) = timing {
            let due = now_ms() + delay_ms;
            update = update
                .col_expr(stream_events::Column::NextAttemptAt, Expr::value(due))
                .col_expr(
                    stream_events::Column::ExpiresAt,
                    Expr::value(due + provider.event_retention_seconds.saturating_mul(1000)),
                );
        }
        update.exec(conn).await?;
    }
    Ok(jti)
}

/// Tells other processes' workers, inside the transaction, that SETs are due.
pub(super) async fn wake_in_tx<C: ConnectionTrait>(
    conn: &C,
    transmitter: &Transmitter,
) -> Result<(), StreamError> {
    Ok(delivery_wake::wake_in_tx(conn, transmitter.db().backend()).await?)
}

/// Tells this process's delivery loop and long polls, after the commit, that SETs are due.
pub(super) fn wake(transmitter: &Transmitter) {
    delivery_wake::wake_after_commit(transmitter);
}
