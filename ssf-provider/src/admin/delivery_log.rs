//! What an operator reads when a receiver misbehaves: each stream with its delivery counts and
//! last error, a stream's events (filtered, paginated), one event's attempts, and delivery
//! rates per minute.
//!
//! Event pages are keyset-paginated on the row id, newest first: a page never skips or repeats
//! an event while new ones arrive, and each page costs one indexed range scan.

use std::collections::HashMap;

use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, Iterable, JoinType, QueryFilter, QueryOrder,
    QuerySelect, RelationTrait,
};
use serde::Serialize;
use ssf_entities::{AttemptOutcome, AttemptTrigger, DeliveryMethod, EventStatus, StreamStatus};
use ssf_entities::{delivery_attempts, stream_events, streams};

use super::{AdminError, providers as admin_providers, time};
use crate::clock::now_ms;

/// Events per page when the caller does not say.
pub const DEFAULT_PAGE_SIZE: u64 = 50;
/// Most events per page.
pub const MAX_PAGE_SIZE: u64 = 500;
/// Stream ids per counting query (bind-parameter limits).
const ID_CHUNK: usize = 500;
/// Longest statistics window: a day of minutes.
pub const MAX_STATS_WINDOW_SECONDS: i64 = 24 * 3600;
/// Must match the divisor written in the bucket expression of [`stats`].
const MINUTE_MS: i64 = 60_000;

/// How many of a stream's events are in each state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct EventCounts {
    pub pending: u64,
    pub held: u64,
    pub delivered: u64,
    pub failed: u64,
    pub expired: u64,
}

impl EventCounts {
    fn add(&mut self, status: EventStatus, n: u64) {
        match status {
            EventStatus::Pending => self.pending += n,
            EventStatus::Held => self.held += n,
            EventStatus::Delivered => self.delivered += n,
            EventStatus::Failed => self.failed += n,
            EventStatus::Expired => self.expired += n,
        }
    }
}

/// The most recent failed delivery attempt of a stream.
struct LastError {
    at: i64,
    jti: String,
    http_status: i32,
    error: Option<String>,
}

/// A stream as an operator sees it. Never the push authorization header.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StreamOverview {
    /// The `stream_id` the receiver knows.
    pub id: String,
    pub provider_id: String,
    /// The principal owning the stream: a receiver id, or `oauth:{client_id}`.
    pub owner: String,
    pub receiver_id: Option<String>,
    #[schema(value_type = String, example = "push")]
    pub delivery_method: DeliveryMethod,
    /// Push: the receiver's endpoint; poll: the stream's poll URL.
    pub endpoint_url: Option<String>,
    #[schema(value_type = String, example = "enabled")]
    pub status: StreamStatus,
    pub status_reason: Option<String>,
    pub description: Option<String>,
    pub events_delivered: Vec<String>,
    pub counts: EventCounts,
    /// The error of the stream's most recent failed delivery attempt, if any.
    pub last_error: Option<String>,
    pub last_error_at: Option<chrono::DateTime<chrono::Utc>>,
    /// HTTP status of that attempt; 0 when no response arrived.
    pub last_error_http_status: Option<i32>,
    /// The event that attempt was for.
    pub last_error_jti: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub last_activity_at: chrono::DateTime<chrono::Utc>,
}

/// One SET on one stream, without its claims.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EventSummary {
    pub jti: String,
    pub txn: Option<String>,
    pub event_type: String,
    #[schema(value_type = String, example = "failed")]
    pub status: EventStatus,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub last_http_status: Option<i32>,
    /// When a pending event is next tried (push).
    pub next_attempt_at: chrono::DateTime<chrono::Utc>,
    pub expires_at: chrono::DateTime<chrono::Utc>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub delivered_at: Option<chrono::DateTime<chrono::Utc>>,
}

impl EventSummary {
    pub(crate) fn of(row: &stream_events::Model) -> Self {
        Self {
            jti: row.jti.clone(),
            txn: row.txn.clone(),
            event_type: row.event_type.clone(),
            status: row.status,
            attempts: row.attempts,
            last_error: row.last_error.clone(),
            last_http_status: row.last_http_status,
            next_attempt_at: time(row.next_attempt_at),
            expires_at: time(row.expires_at),
            created_at: time(row.created_at),
            delivered_at: row.delivered_at.map(time),
        }
    }
}

/// Which events of a stream to list.
#[derive(Debug, Clone, Default)]
pub struct EventFilter {
    pub status: Option<EventStatus>,
    /// Only the SETs of one IdP event.
    pub txn: Option<String>,
    /// Page size; [`DEFAULT_PAGE_SIZE`] when `None`.
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// A page of events, newest first.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EventPage {
    pub events: Vec<EventSummary>,
    /// Pass as `cursor` for the next (older) page; absent on the last page.
    pub next_cursor: Option<String>,
}

/// One HTTP try of an event.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct AttemptView {
    /// 1 for the first try.
    pub attempt: i32,
    #[schema(value_type = String, example = "transient")]
    pub outcome: AttemptOutcome,
    /// 0 when no response arrived.
    pub http_status: i32,
    pub error: Option<String>,
    /// The receiver's response body, truncated.
    pub response_body: Option<String>,
    pub duration_ms: i64,
    #[schema(value_type = String, example = "scheduled")]
    pub trigger: AttemptTrigger,
    pub worker: String,
    /// When the retry this attempt scheduled is due.
    pub next_attempt_at: Option<chrono::DateTime<chrono::Utc>>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Delivery attempts in one minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct MinuteStats {
    /// Start of the minute.
    pub minute: chrono::DateTime<chrono::Utc>,
    pub delivered: u64,
    /// Attempts that did not deliver (each retry counts).
    pub failed: u64,
}

/// Delivery attempts per minute over a window ending now, oldest minute first; every minute
/// of the window is present, with zeros where nothing happened.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DeliveryStats {
    pub window_seconds: i64,
    pub provider_id: Option<String>,
    pub delivered: u64,
    pub failed: u64,
    pub minutes: Vec<MinuteStats>,
}

/// Any stream by id, whatever its provider's state.
pub async fn find_stream<C: ConnectionTrait>(
    conn: &C,
    stream_id: &str,
) -> Result<streams::Model, AdminError> {
    streams::Entity::find_by_id(stream_id.to_owned())
        .one(conn)
        .await?
        .ok_or(AdminError::NotFound("stream"))
}

/// Every stream of the live provider `provider_id`, oldest first, with its counts.
pub async fn streams_of<C: ConnectionTrait>(
    conn: &C,
    provider_id: &str,
) -> Result<Vec<StreamOverview>, AdminError> {
    let provider = admin_providers::find(conn, provider_id).await?;
    let rows = streams::Entity::find()
        .filter(streams::Column::ProviderId.eq(&provider.id))
        .order_by_asc(streams::Column::CreatedAt)
        .order_by_asc(streams::Column::Id)
        .all(conn)
        .await?;
    overviews(conn, rows).await
}

/// One stream's overview.
pub async fn stream_overview<C: ConnectionTrait>(
    conn: &C,
    stream_id: &str,
) -> Result<StreamOverview, AdminError> {
    let stream = find_stream(conn, stream_id).await?;
    let mut all = overviews(conn, vec![stream]).await?;
    all.pop().ok_or(AdminError::NotFound("stream"))
}

async fn overviews<C: ConnectionTrait>(
    conn: &C,
    rows: Vec<streams::Model>,
) -> Result<Vec<StreamOverview>, AdminError> {
    let mut counts: HashMap<String, EventCounts> = HashMap::new();
    let ids: Vec<&str> = rows.iter().map(|s| s.id.as_str()).collect();
    for chunk in ids.chunks(ID_CHUNK) {
        let grouped: Vec<(String, EventStatus, i64)> = stream_events::Entity::find()
            .select_only()
            .column(stream_events::Column::StreamId)
            .column(stream_events::Column::Status)
            .column_as(stream_events::Column::Id.count(), "n")
            .filter(stream_events::Column::StreamId.is_in(chunk.iter().copied()))
            .group_by(stream_events::Column::StreamId)
            .group_by(stream_events::Column::Status)
            .into_tuple()
            .all(conn)
            .await?;
        for (stream_id, status, n) in grouped {
            counts
                .entry(stream_id)
                .or_default()
                .add(status, u64::try_from(n).unwrap_or(0));
        }
    }
    let mut overviews = Vec::with_capacity(rows.len());
    for stream in rows {
        let last_error = last_error(conn, &stream.id).await?;
        let events_delivered = serde_json::from_str(&stream.events_delivered).unwrap_or_else(|error| {
            tracing::warn!(stream_id = %stream.id, %error, "stream has unreadable events_delivered");
            Vec::new()
        });
        overviews.push(StreamOverview {
            counts: counts.remove(&stream.id).unwrap_or_default(),
            last_error_at: last_error.as_ref().map(|e| time(e.at)),
            last_error_http_status: last_error.as_ref().map(|e| e.http_status),
            last_error: last_error.as_ref().map(|e| {
                e.error
                    .clone()
                    .unwrap_or_else(|| format!("HTTP {}", e.http_status))
            }),
            last_error_jti: last_error.map(|e| e.jti),
            events_delivered,
            id: stream.id,
            provider_id: stream.provider_id,
            owner: stream.owner,
            receiver_id: stream.receiver_id,
            delivery_method: stream.delivery_method,
            endpoint_url: stream.endpoint_url,
            status: stream.status,
            status_reason: stream.status_reason,
            description: stream.description,
            created_at: time(stream.created_at),
            last_activity_at: time(stream.last_activity_at),
        });
    }
    Ok(overviews)
}

async fn last_error<C: ConnectionTrait>(
    conn: &C,
    stream_id: &str,
) -> Result<Option<LastError>, AdminError> {
    let found = delivery_attempts::Entity::find()
        .find_also_related(stream_events::Entity)
        .filter(stream_events::Column::StreamId.eq(stream_id))
        .filter(delivery_attempts::Column::Outcome.ne(AttemptOutcome::Delivered))
        .order_by_desc(delivery_attempts::Column::Id)
        .one(conn)
        .await?;
    Ok(found.and_then(|(attempt, event)| {
        event.map(|event| LastError {
            at: attempt.created_at,
            jti: event.jti,
            http_status: attempt.http_status,
            error: attempt.error,
        })
    }))
}

fn parse_cursor(cursor: &str) -> Result<i64, AdminError> {
    cursor
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| AdminError::invalid("cursor", "is not a cursor this API returned"))
}

/// A page of `stream_id`'s events, newest first.
pub async fn events<C: ConnectionTrait>(
    conn: &C,
    stream_id: &str,
    filter: EventFilter,
) -> Result<EventPage, AdminError> {
    let limit = filter.limit.unwrap_or(DEFAULT_PAGE_SIZE);
    if !(1..=MAX_PAGE_SIZE).contains(&limit) {
        return Err(AdminError::invalid(
            "limit",
            format!("must be between 1 and {MAX_PAGE_SIZE}"),
        ));
    }
    let before = filter.cursor.as_deref().map(parse_cursor).transpose()?;
    let stream = find_stream(conn, stream_id).await?;
    // idx_stream_events_stream orders a stream's rows by id within each status, so each status
    // is read newest first, one page at most, and the pages are merged. One query ordered by id
    // across statuses reads and sorts every row the stream retains, per page view (`EXPLAIN`,
    // both backends). A row that changes status between two of these reads can be read twice:
    // it is listed once.
    let statuses: Vec<EventStatus> = match filter.status {
        Some(status) => vec![status],
        None => EventStatus::iter().collect(),
    };
    let mut rows = Vec::new();
    for status in statuses {
        let mut query = stream_events::Entity::find()
            .filter(stream_events::Column::StreamId.eq(&stream.id))
            .filter(stream_events::Column::Status.eq(status));
        if let Some(txn) = &filter.txn {
            query = query.filter(stream_events::Column::Txn.eq(txn));
        }
        if let Some(before) = before {
            query = query.filter(stream_events::Column::Id.lt(before));
        }
        // One row more than asked tells whether another page exists.
        rows.extend(
            query
                .order_by_desc(stream_events::Column::Id)
                .limit(limit + 1)
                .all(conn)
                .await?,
        );
    }
    rows.sort_unstable_by_key(|row| std::cmp::Reverse(row.id));
    rows.dedup_by_key(|row| row.id);
    rows.truncate(limit as usize + 1);
    let more = rows.len() as u64 > limit;
    rows.truncate(limit as usize);
    let next_cursor = if more {
        rows.last().map(|row| row.id.to_string())
    } else {
        None
    };
    Ok(EventPage {
        events: rows.iter().map(EventSummary::of).collect(),
        next_cursor,
    })
}

/// The event `jti` of `stream_id`.
pub async fn find_event<C: ConnectionTrait>(
    conn: &C,
    stream_id: &str,
    jti: &str,
) -> Result<stream_events::Model, AdminError> {
    let stream = find_stream(conn, stream_id).await?;
    stream_events::Entity::find()
        .filter(stream_events::Column::StreamId.eq(&stream.id))
        .filter(stream_events::Column::Jti.eq(jti))
        .one(conn)
        .await?
        .ok_or(AdminError::NotFound("event"))
}

/// Every attempt to deliver the event `jti` of `stream_id`, oldest first.
pub async fn attempts<C: ConnectionTrait>(
    conn: &C,
    stream_id: &str,
    jti: &str,
) -> Result<Vec<AttemptView>, AdminError> {
    let event = find_event(conn, stream_id, jti).await?;
    let rows = delivery_attempts::Entity::find()
        .filter(delivery_attempts::Column::StreamEventId.eq(event.id))
        .order_by_asc(delivery_attempts::Column::Id)
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| AttemptView {
            attempt: row.attempt,
            outcome: row.outcome,
            http_status: row.http_status,
            error: row.error,
            response_body: row.response_body,
            duration_ms: row.duration_ms,
            trigger: row.trigger,
            worker: row.worker,
            next_attempt_at: row.next_attempt_at.map(time),
            created_at: time(row.created_at),
        })
        .collect())
}

/// Delivered and failed attempts per minute over the last `window_seconds`, of one provider
/// or of all.
pub async fn stats<C: ConnectionTrait>(
    conn: &C,
    window_seconds: i64,
    provider_id: Option<&str>,
) -> Result<DeliveryStats, AdminError> {
    if !(60..=MAX_STATS_WINDOW_SECONDS).contains(&window_seconds) {
        return Err(AdminError::invalid(
            "window",
            format!("must be between 60 and {MAX_STATS_WINDOW_SECONDS} seconds"),
        ));
    }
    let provider = match provider_id {
        Some(id) => Some(admin_providers::find(conn, id).await?),
        None => None,
    };
    let now = now_ms();
    let first_minute = (now - window_seconds * 1000) / MINUTE_MS + 1;
    let last_minute = now / MINUTE_MS;
    // Literal SQL rather than a bound divisor: PostgreSQL only matches the SELECT expression
    // with the GROUP BY one when both are the same text, and two `$n` parameters are not.
    let minute_of = Expr::cust("(delivery_attempts.created_at / 60000)");
    let mut query = delivery_attempts::Entity::find()
        .select_only()
        .column_as(minute_of.clone(), "minute")
        .column(delivery_attempts::Column::Outcome)
        .column_as(delivery_attempts::Column::Id.count(), "n")
        .filter(delivery_attempts::Column::CreatedAt.gte(first_minute * MINUTE_MS));
    if let Some(provider) = &provider {
        query = query
            .join(
                JoinType::InnerJoin,
                delivery_attempts::Relation::StreamEvent.def(),
            )
            .join(JoinType::InnerJoin, stream_events::Relation::Stream.def())
            .filter(streams::Column::ProviderId.eq(&provider.id));
    }
    let grouped: Vec<(i64, AttemptOutcome, i64)> = query
        .group_by(minute_of)
        .group_by(delivery_attempts::Column::Outcome)
        .into_tuple()
        .all(conn)
        .await?;
    let mut minutes: Vec<MinuteStats> = (first_minute..=last_minute)
        .map(|m| MinuteStats {
            minute: time(m * MINUTE_MS),
            delivered: 0,
            failed: 0,
        })
        .collect();
    let (mut delivered, mut failed) = (0, 0);
    for (minute, outcome, n) in grouped {
        let n = u64::try_from(n).unwrap_or(0);
        // An attempt stamped in the future (clock skew between processes) lands in the last minute.
        let index =
            usize::try_from(minute.clamp(first_minute, last_minute) - first_minute).unwrap_or(0);
        let Some(slot) = minutes.get_mut(index) else {
            continue;
        };
        if outcome == AttemptOutcome::Delivered {
            slot.delivered += n;
            delivered += n;
        } else {
            slot.failed += n;
            failed += n;
        }
    }
    Ok(DeliveryStats {
        window_seconds,
        provider_id: provider.map(|p| p.id),
        delivered,
        failed,
        minutes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_positive_row_ids() {
        assert_eq!(parse_cursor("42").unwrap(), 42);
        for bad in ["", "0", "-1", "abc", "1.5", "99999999999999999999"] {
            assert!(
                matches!(
                    parse_cursor(bad),
                    Err(AdminError::Invalid {
                        field: "cursor",
                        ..
                    })
                ),
                "{bad:?}"
            );
        }
    }
}
