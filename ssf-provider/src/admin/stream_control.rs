//! An administrator pauses, enables or disables a stream. The receiver is told by a
//! stream-updated SET (SSF §8.1.5), recorded before the change takes effect so it reaches
//! the receiver even on the stream it pauses or disables; the status machine itself is
//! `streams::status`.

use serde::Deserialize;
use ssf_entities::StreamStatus;

use super::AdminError;
use super::audit::{self, Actor, Target};
use super::delivery_log::{self, StreamOverview};
use crate::delivery_wake;
use crate::providers;
use crate::streams::{Initiator, set_status};
use crate::transmitter::Transmitter;

const MAX_REASON_CHARS: usize = 512;

/// Body of an administrative status change.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    /// `enabled`, `paused` or `disabled`.
    #[schema(value_type = String, example = "paused")]
    pub status: StreamStatus,
    /// Told to the receiver in the stream-updated SET and shown to operators.
    #[serde(default)]
    pub reason: Option<String>,
}

/// Changes the status of `stream_id` on behalf of the transmitter's operator.
pub async fn change_status(
    transmitter: &Transmitter,
    actor: &Actor,
    stream_id: &str,
    change: StatusChange,
) -> Result<StreamOverview, AdminError> {
    let reason = change
        .reason
        .map(|r| r.trim().to_owned())
        .filter(|r| !r.is_empty());
    if reason
        .as_ref()
        .is_some_and(|r| r.chars().count() > MAX_REASON_CHARS)
    {
        return Err(AdminError::invalid(
            "reason",
            format!("must be at most {MAX_REASON_CHARS} characters"),
        ));
    }
    let db = transmitter.db();
    let txn = super::begin_write(&db.orm).await?;
    let stream = delivery_log::find_stream(&txn, stream_id).await?;
    let provider = providers::find(&txn, &stream.provider_id)
        .await?
        .ok_or_else(|| {
            AdminError::conflict("provider_deleted", "the stream's provider was deleted")
        })?;
    let from = stream.status;
    set_status(
        &txn,
        &provider,
        &stream,
        change.status,
        reason.clone(),
        Initiator::Transmitter,
    )
    .await?;
    // A stream-updated SET was recorded, or held SETs were released: either is due now.
    let due = from != change.status;
    if due {
        delivery_wake::wake_in_tx(&txn, db.backend()).await?;
    }
    txn.commit().await?;
    if due {
        delivery_wake::wake_after_commit(transmitter);
    }
    let status_name = |s: StreamStatus| {
        serde_json::to_value(s)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    };
    audit::record(
        actor,
        "stream.status",
        Target {
            provider_id: Some(&provider.id),
            receiver_id: stream.receiver_id.as_deref(),
            ..Target::stream(&stream.id)
        },
        &format!(
            "from={} to={}",
            status_name(from),
            status_name(change.status)
        ),
    );
    delivery_log::stream_overview(&db.orm, &stream.id).await
}
