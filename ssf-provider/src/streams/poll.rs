//! RFC 8936 poll delivery on a poll stream's endpoint.
//!
//! One request: acknowledgements and errors are applied first (so a receiver can ack and
//! fetch in one call), then up to `maxEvents` available SETs are leased to the response for
//! the transmitter's `poll_ack_timeout`. A SET not acknowledged by then is available again,
//! with the same bytes: the signed token is stored the first time it is returned.
//!
//! Leases are taken with a conditional update keyed by a per-request lease id, so two
//! concurrent polls of one stream never return the same SET.

use std::collections::BTreeMap;
use std::time::Duration;

use sea_orm::sea_query::{Condition, Expr, ExprTrait};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};
use serde::{Deserialize, Serialize};
use ssf_entities::stream_events::{Column, Entity};
use ssf_entities::{DeliveryMethod, EventStatus};

use super::{Caller, StreamError};
use crate::clock::now_ms;
use crate::signing_keys;
use crate::transmitter::Transmitter;

/// `maxEvents` when the receiver names none, and the most one response carries.
pub const DEFAULT_MAX_EVENTS: u32 = 100;
pub const MAX_EVENTS_CAP: u32 = 1000;
/// How often a long poll looks at the database even without an in-process wake-up, so SETs
/// recorded by other processes are found.
const LONG_POLL_RECHECK: Duration = Duration::from_millis(500);
const MAX_ACKS: usize = 1000;
const MAX_ERROR_TEXT: usize = 1024;

/// RFC 8936 §2.2 poll request.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct PollRequest {
    /// How many SETs to return at most; 0 acknowledges without fetching.
    #[serde(default, rename = "maxEvents")]
    pub max_events: Option<u32>,
    /// `false` (the default) waits for SETs up to the transmitter's long-poll bound.
    #[serde(default, rename = "returnImmediately")]
    pub return_immediately: Option<bool>,
    /// `jti`s of SETs the receiver accepted.
    #[serde(default)]
    pub ack: Vec<String>,
    /// SETs the receiver rejected, by `jti`.
    #[serde(default, rename = "setErrs")]
    pub set_errs: BTreeMap<String, SetErr>,
}

/// RFC 8936 §2.4.4 error for one SET.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SetErr {
    pub err: String,
    #[serde(default)]
    pub description: Option<String>,
}

/// RFC 8936 §2.3 poll response.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PollResponse {
    /// `jti` → compact signed SET.
    #[schema(value_type = Object)]
    pub sets: serde_json::Map<String, serde_json::Value>,
    #[serde(rename = "moreAvailable")]
    pub more_available: bool,
}

fn truncate(text: String) -> String {
    match text.char_indices().nth(MAX_ERROR_TEXT) {
        Some((cut, _)) => text[..cut].to_owned(),
        None => text,
    }
}

/// Applies acknowledgements and errors of the caller's SETs on `stream_id`.
async fn apply_acks<C: ConnectionTrait>(
    conn: &C,
    stream_id: &str,
    request: &mut PollRequest,
    now: i64,
) -> Result<(), StreamError> {
    let undelivered = [EventStatus::Pending, EventStatus::Held];
    let ack = std::mem::take(&mut request.ack);
    if !ack.is_empty() {
        Entity::update_many()
            .col_expr(Column::Status, Expr::value(EventStatus::Delivered))
            .col_expr(Column::DeliveredAt, Expr::value(now))
            .col_expr(Column::LeaseUntil, Expr::value(Option::<i64>::None))
            .col_expr(Column::LeasedBy, Expr::value(Option::<String>::None))
            .filter(Column::StreamId.eq(stream_id))
            .filter(Column::Jti.is_in(ack))
            .filter(Column::Status.is_in(undelivered))
            .exec(conn)
            .await?;
    }
    for (jti, error) in std::mem::take(&mut request.set_errs) {
        let text = match error.description {
            Some(description) => format!("{}: {description}", error.err),
            None => error.err,
        };
        Entity::update_many()
            .col_expr(Column::Status, Expr::value(EventStatus::Failed))
            .col_expr(Column::LastError, Expr::value(truncate(text)))
            .col_expr(Column::LeaseUntil, Expr::value(Option::<i64>::None))
            .col_expr(Column::LeasedBy, Expr::value(Option::<String>::None))
            .filter(Column::StreamId.eq(stream_id))
            .filter(Column::Jti.eq(jti))
            .filter(Column::Status.is_in(undelivered))
            .exec(conn)
            .await?;
    }
    Ok(())
}

/// Rows of the stream a poll may return now: pending, due, not expired, not leased.
fn available(stream_id: &str, now: i64) -> sea_orm::Select<Entity> {
    Entity::find()
        .filter(Column::StreamId.eq(stream_id))
        .filter(Column::Status.eq(EventStatus::Pending))
        .filter(Column::DeliveryMethod.eq(DeliveryMethod::Poll))
        .filter(Column::NextAttemptAt.lte(now))
        .filter(Column::ExpiresAt.gt(now))
        .filter(
            Condition::any()
                .add(Column::LeaseUntil.is_null())
                .add(Column::LeaseUntil.lte(now)),
        )
}

/// Leases up to `max` available SETs to this response and returns them signed, oldest first,
/// with whether more are available.
async fn take(
    transmitter: &Transmitter,
    caller: &Caller,
    stream_id: &str,
    max: u32,
) -> Result<(serde_json::Map<String, serde_json::Value>, bool), StreamError> {
    let conn = &transmitter.db().orm;
    let now = now_ms();
    let candidates: Vec<i64> = available(stream_id, now)
        .select_only()
        .column(Column::Id)
        .order_by_asc(Column::Id)
        .limit(u64::from(max) + 1)
        .into_tuple()
        .all(conn)
        .await?;
    let more_available = candidates.len() > max as usize;
    let mut sets = serde_json::Map::new();
    if max == 0 || candidates.is_empty() {
        return Ok((sets, !candidates.is_empty()));
    }
    let chosen: Vec<i64> = candidates.into_iter().take(max as usize).collect();
    let lease_id = format!("poll:{}", uuid::Uuid::new_v4().simple());
    let lease_until = now + transmitter.settings().poll_ack_timeout.as_millis() as i64;
    Entity::update_many()
        .col_expr(Column::LeaseUntil, Expr::value(lease_until))
        .col_expr(Column::LeasedBy, Expr::value(lease_id.clone()))
        .col_expr(Column::Attempts, Expr::col(Column::Attempts).add(1))
        .filter(Column::Id.is_in(chosen.iter().copied()))
        .filter(Column::Status.eq(EventStatus::Pending))
        .filter(
            Condition::any()
                .add(Column::LeaseUntil.is_null())
                .add(Column::LeaseUntil.lte(now)),
        )
        .exec(conn)
        .await?;
    // Looked up by id: `leased_by` has no index, and a filter on it alone was a scan of the
    // whole table (every retained SET of every stream) on each poll that returns SETs.
    let leased = Entity::find()
        .filter(Column::Id.is_in(chosen))
        .filter(Column::LeasedBy.eq(&lease_id))
        .order_by_asc(Column::Id)
        .all(conn)
        .await?;
    let mut key = None;
    for row in leased {
        let token = match row.token {
            Some(token) => token,
            None => {
                if key.is_none() {
                    key = Some(signing_keys::active_key(conn, &caller.provider).await?);
                }
                let Some(signing_key) = &key else {
                    unreachable!("loaded above")
                };
                let token = signing_keys::sign(signing_key, &row.payload)?;
                // Only the first signer stores its token; every later poll returns those bytes.
                Entity::update_many()
                    .col_expr(Column::Token, Expr::value(token.clone()))
                    .filter(Column::Id.eq(row.id))
                    .filter(Column::Token.is_null())
                    .exec(conn)
                    .await?;
                token
            }
        };
        sets.insert(row.jti, serde_json::Value::String(token));
    }
    Ok((sets, more_available))
}

/// Serves one poll request on the caller's poll stream `stream_id`.
pub async fn poll(
    transmitter: &Transmitter,
    caller: &Caller,
    stream_id: &str,
    mut request: PollRequest,
) -> Result<PollResponse, StreamError> {
    let conn = &transmitter.db().orm;
    let stream = super::find_owned(conn, caller, stream_id).await?;
    if stream.delivery_method != DeliveryMethod::Poll {
        return Err(StreamError::NotPoll);
    }
    if request.ack.len() + request.set_errs.len() > MAX_ACKS {
        return Err(StreamError::Invalid(format!(
            "at most {MAX_ACKS} acknowledgements and errors per request"
        )));
    }
    super::touch(conn, &stream.id).await?;
    let max = std::cmp::min(
        request.max_events.unwrap_or(DEFAULT_MAX_EVENTS),
        MAX_EVENTS_CAP,
    );
    apply_acks(conn, &stream.id, &mut request, now_ms()).await?;

    let long_poll = !request.return_immediately.unwrap_or(false) && max > 0;
    let deadline = tokio::time::Instant::now() + transmitter.settings().max_long_poll;
    loop {
        // Registered before looking, so a wake-up between the look and the wait is not lost.
        let wake = transmitter.delivery_wake().notified();
        tokio::pin!(wake);
        wake.as_mut().enable();
        let (sets, more_available) = take(transmitter, caller, &stream.id, max).await?;
        let now = tokio::time::Instant::now();
        if !sets.is_empty() || !long_poll || now >= deadline {
            return Ok(PollResponse {
                sets,
                more_available,
            });
        }
        let wait = LONG_POLL_RECHECK.min(deadline - now);
        let _ = tokio::time::timeout(wait, wake).await;
    }
}
