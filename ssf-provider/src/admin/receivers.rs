//! A provider's receivers as an administrator manages them: create one (its bearer token is
//! shown once), list them (never a token), rotate a token, revoke one.
//!
//! Revoking cuts access at once (the next request with the token is a 401) and disables the
//! receiver's streams, so nothing more is pushed to a party that lost its access; each stream's
//! receiver is told by a stream-updated SET, and its undelivered SETs expire.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use ssf_entities::StreamStatus;
use ssf_entities::{receivers as receiver_rows, streams as stream_rows};

use super::audit::{self, Actor, Target};
use super::{AdminError, providers as admin_providers, time};
use crate::delivery_wake;
use crate::receivers::{self, ReceiverError};
use crate::streams::{Initiator, set_status};
use crate::transmitter::Transmitter;

const MAX_NAME_CHARS: usize = 200;
/// Reason recorded on the streams of a revoked receiver.
pub const RECEIVER_REVOKED_REASON: &str = "receiver revoked by an administrator";

/// Body of receiver creation.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateReceiver {
    /// Shown to administrators; 1-200 characters.
    pub name: String,
}

/// A receiver, without its token.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReceiverView {
    pub id: String,
    pub provider_id: String,
    pub name: String,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub revoked_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Last authenticated request (to the minute).
    pub last_seen_at: Option<chrono::DateTime<chrono::Utc>>,
    pub streams: u64,
}

/// A receiver with its bearer token: the only time the token is ever shown.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ReceiverWithToken {
    pub id: String,
    pub provider_id: String,
    pub name: String,
    /// The bearer token for the SSF API. Store it now: it cannot be shown again.
    pub token: String,
}

// Hand-written so the token never reaches a log line.
impl std::fmt::Debug for ReceiverWithToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReceiverWithToken")
            .field("id", &self.id)
            .field("token", &"<redacted>")
            .finish_non_exhaustive()
    }
}

/// What revoking a receiver did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RevokedReceiver {
    pub id: String,
    pub streams_disabled: u64,
}

fn check_name(name: &str) -> Result<String, AdminError> {
    let name = name.trim();
    if name.is_empty()
        || name.chars().count() > MAX_NAME_CHARS
        || name.chars().any(char::is_control)
    {
        return Err(AdminError::invalid(
            "name",
            format!("must be 1-{MAX_NAME_CHARS} printable characters"),
        ));
    }
    Ok(name.to_owned())
}

/// Creates a receiver of the live provider `provider_id`.
pub async fn create<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    provider_id: &str,
    request: CreateReceiver,
) -> Result<ReceiverWithToken, AdminError> {
    let name = check_name(&request.name)?;
    let provider = admin_providers::find(conn, provider_id).await?;
    let (receiver, token) = receivers::create_receiver(conn, &provider.id, &name).await?;
    audit::record(
        actor,
        "receiver.create",
        Target {
            receiver_id: Some(&receiver.id),
            ..Target::provider(&provider.id)
        },
        &format!("name={name:?}"),
    );
    Ok(ReceiverWithToken {
        id: receiver.id,
        provider_id: provider.id,
        name: receiver.name,
        token: token.expose().to_owned(),
    })
}

/// Every receiver of the live provider `provider_id`, revoked ones included, oldest first.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    provider_id: &str,
) -> Result<Vec<ReceiverView>, AdminError> {
    let provider = admin_providers::find(conn, provider_id).await?;
    let rows = receiver_rows::Entity::find()
        .filter(receiver_rows::Column::ProviderId.eq(&provider.id))
        .order_by_asc(receiver_rows::Column::CreatedAt)
        .order_by_asc(receiver_rows::Column::Id)
        .all(conn)
        .await?;
    let mut views = Vec::with_capacity(rows.len());
    for row in rows {
        let streams = stream_rows::Entity::find()
            .filter(stream_rows::Column::ReceiverId.eq(&row.id))
            .count(conn)
            .await?;
        views.push(ReceiverView {
            id: row.id,
            provider_id: row.provider_id,
            name: row.name,
            created_at: time(row.created_at),
            revoked_at: row.revoked_at.map(time),
            last_seen_at: row.last_seen_at.map(time),
            streams,
        });
    }
    Ok(views)
}

/// The receiver `receiver_id` of the live provider `provider_id`.
async fn find<C: ConnectionTrait>(
    conn: &C,
    provider_id: &str,
    receiver_id: &str,
) -> Result<receiver_rows::Model, AdminError> {
    let provider = admin_providers::find(conn, provider_id).await?;
    receiver_rows::Entity::find_by_id(receiver_id.to_owned())
        .filter(receiver_rows::Column::ProviderId.eq(&provider.id))
        .one(conn)
        .await?
        .ok_or(AdminError::NotFound("receiver"))
}

/// Replaces a live receiver's token; the old one stops working at once.
pub async fn rotate_token<C: ConnectionTrait>(
    conn: &C,
    actor: &Actor,
    provider_id: &str,
    receiver_id: &str,
) -> Result<ReceiverWithToken, AdminError> {
    let receiver = find(conn, provider_id, receiver_id).await?;
    if receiver.revoked_at.is_some() {
        return Err(AdminError::conflict(
            "receiver_revoked",
            "the receiver is revoked; create a new one",
        ));
    }
    let token = receivers::rotate_token(conn, &receiver.id).await?;
    audit::record(
        actor,
        "receiver.rotate_token",
        Target {
            receiver_id: Some(&receiver.id),
            ..Target::provider(&receiver.provider_id)
        },
        "",
    );
    Ok(ReceiverWithToken {
        id: receiver.id,
        provider_id: receiver.provider_id,
        name: receiver.name,
        token: token.expose().to_owned(),
    })
}

/// Revokes a receiver and disables its streams.
pub async fn revoke(
    transmitter: &Transmitter,
    actor: &Actor,
    provider_id: &str,
    receiver_id: &str,
) -> Result<RevokedReceiver, AdminError> {
    let db = transmitter.db();
    let txn = super::begin_write(&db.orm).await?;
    let receiver = find(&txn, provider_id, receiver_id).await?;
    let provider = admin_providers::find(&txn, &receiver.provider_id).await?;
    receivers::revoke(&txn, &receiver.id)
        .await
        .map_err(|e| match e {
            ReceiverError::NotFound => {
                AdminError::conflict("receiver_revoked", "the receiver is already revoked")
            }
            other => other.into(),
        })?;
    let streams = stream_rows::Entity::find()
        .filter(stream_rows::Column::ReceiverId.eq(&receiver.id))
        .filter(stream_rows::Column::Status.ne(StreamStatus::Disabled))
        .all(&txn)
        .await?;
    for stream in &streams {
        set_status(
            &txn,
            &provider,
            stream,
            StreamStatus::Disabled,
            Some(RECEIVER_REVOKED_REASON.to_owned()),
            Initiator::Transmitter,
        )
        .await?;
    }
    if !streams.is_empty() {
        delivery_wake::wake_in_tx(&txn, db.backend()).await?;
    }
    txn.commit().await?;
    if !streams.is_empty() {
        delivery_wake::wake_after_commit(transmitter);
    }
    audit::record(
        actor,
        "receiver.revoke",
        Target {
            receiver_id: Some(&receiver.id),
            ..Target::provider(&receiver.provider_id)
        },
        &format!("streams_disabled={}", streams.len()),
    );
    Ok(RevokedReceiver {
        id: receiver.id,
        streams_disabled: streams.len() as u64,
    })
}
