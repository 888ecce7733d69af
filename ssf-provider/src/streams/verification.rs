//! Verification (SSF §8.1.4): a receiver asks for a verification SET on its stream, at most
//! once per provider's `min_verification_interval`.

use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use serde::Deserialize;
use ssf_entities::StreamStatus;
use ssf_entities::streams::{Column, Entity};

use super::events::{self, Timing};
use super::{Caller, StreamError};
use crate::clock::now_ms;
use crate::set::SecurityEvent;
use crate::transmitter::Transmitter;

const MAX_STATE_LEN: usize = 1024;

/// Body of the verification endpoint.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct VerificationRequest {
    pub stream_id: String,
    /// Echoed in the verification SET.
    #[serde(default)]
    pub state: Option<String>,
}

/// Records a verification SET (subject: the stream id; `state` echoed) on the caller's stream,
/// delivered like any other SET of the stream. Returns the SET's `jti`.
pub async fn request_verification(
    transmitter: &Transmitter,
    caller: &Caller,
    stream_id: &str,
    state: Option<String>,
) -> Result<String, StreamError> {
    if state.as_ref().is_some_and(|s| s.len() > MAX_STATE_LEN) {
        return Err(StreamError::Invalid(format!(
            "state must be at most {MAX_STATE_LEN} bytes"
        )));
    }
    let now = now_ms();
    let interval_ms = caller
        .provider
        .min_verification_interval_seconds
        .saturating_mul(1000);
    let txn = transmitter.db().orm.begin().await?;
    let stream = super::find_owned(&txn, caller, stream_id).await?;
    super::touch(&txn, &stream.id).await?;
    if stream.status == StreamStatus::Disabled {
        return Err(StreamError::Disabled);
    }
    // Conditional update: of two concurrent requests inside the interval, exactly one wins.
    let claimed = Entity::update_many()
        .col_expr(Column::LastVerificationAt, Expr::value(now))
        .filter(Column::Id.eq(&stream.id))
        .filter(
            Condition::any()
                .add(Column::LastVerificationAt.is_null())
                .add(Column::LastVerificationAt.lte(now - interval_ms)),
        )
        .exec(&txn)
        .await?;
    if claimed.rows_affected == 0 {
        let last = stream.last_verification_at.unwrap_or(now);
        let wait_ms = (last + interval_ms - now).max(0);
        return Err(StreamError::TooSoon {
            retry_after_seconds: (wait_ms as u64).div_ceil(1000),
        });
    }
    let jti = events::record(
        &txn,
        &caller.provider,
        &stream,
        SecurityEvent::verification(state),
        Timing::Now,
    )
    .await?;
    events::wake_in_tx(&txn, transmitter).await?;
    txn.commit().await?;
    events::wake(transmitter);
    Ok(jti)
}
