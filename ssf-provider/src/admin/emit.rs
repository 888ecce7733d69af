//! An administrator (or the IdP's admin UI) emits an IdP event by hand: the same emit() the
//! IdP calls, plus an audit line. Useful to test a new receiver end to end.

use serde::Serialize;

use super::AdminError;
use super::audit::{self, Actor, Target};
use crate::dispatch::DispatchError;
use crate::idp::IdpEvent;
use crate::transmitter::Transmitter;

/// What emit() recorded.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct EmitReceipt {
    /// The `txn` claim shared by every SET of this event.
    pub txn: String,
    /// How many streams got a SET.
    pub stream_events: usize,
}

/// Records the SETs `event` becomes on the streams of the live provider `provider_id`.
pub async fn emit(
    transmitter: &Transmitter,
    actor: &Actor,
    provider_id: &str,
    event: IdpEvent,
) -> Result<EmitReceipt, AdminError> {
    let outcome = transmitter
        .emit(provider_id, event)
        .await
        .map_err(|e| match e {
            DispatchError::UnknownProvider(_) | DispatchError::ProviderDeleted(_) => {
                AdminError::NotFound("provider")
            }
            other => other.into(),
        })?;
    audit::record(
        actor,
        "event.emit",
        Target::provider(provider_id),
        &format!(
            "txn={} stream_events={}",
            outcome.txn, outcome.stream_events
        ),
    );
    Ok(EmitReceipt {
        txn: outcome.txn,
        stream_events: outcome.stream_events,
    })
}
