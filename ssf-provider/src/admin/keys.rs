//! A provider's signing keys as an administrator sees them (never private material), and
//! rotation: a new active key signs from now on; the old one stays in the JWKS as retiring for
//! a grace period, so SETs signed before the rotation (and still being retried or polled)
//! remain verifiable.

use std::time::Duration;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};
use serde::{Deserialize, Serialize};
use ssf_entities::signing_keys::{Column, Entity};
use ssf_entities::{KeyState, SigningAlg};

use super::audit::{self, Actor, Target};
use super::{AdminError, providers as admin_providers, time};
use crate::db::Database;
use crate::signing_keys;

/// Longest grace period of a retiring key.
pub const MAX_GRACE_SECONDS: i64 = 365 * 24 * 3600;

/// Body of a rotation; everything optional.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateKey {
    /// How long the old key stays in the JWKS. Default: the provider's event retention, the
    /// longest a SET signed with it may still be delivered.
    #[serde(default)]
    pub grace_seconds: Option<i64>,
}

/// A signing key, public facts only.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct KeyView {
    pub kid: String,
    #[schema(value_type = String, example = "RS256")]
    pub alg: SigningAlg,
    /// `active`, `retiring` (still published) or `retired`.
    #[schema(value_type = String, example = "active")]
    pub state: KeyState,
    /// Whether the JWKS lists it now.
    pub published: bool,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub retiring_since: Option<chrono::DateTime<chrono::Utc>>,
    /// When a retiring key leaves the JWKS.
    pub retire_after: Option<chrono::DateTime<chrono::Utc>>,
}

/// Every key of the live provider `provider_id`, newest first.
pub async fn list<C: ConnectionTrait>(
    conn: &C,
    provider_id: &str,
) -> Result<Vec<KeyView>, AdminError> {
    let provider = admin_providers::find(conn, provider_id).await?;
    let now = crate::clock::now_ms();
    let rows = Entity::find()
        .filter(Column::ProviderId.eq(&provider.id))
        .order_by_desc(Column::CreatedAt)
        .order_by_desc(Column::Id)
        .all(conn)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| KeyView {
            published: match row.state {
                KeyState::Active => true,
                KeyState::Retiring => row.retire_after.is_some_and(|t| t > now),
                KeyState::Retired => false,
            },
            kid: row.kid,
            alg: row.alg,
            state: row.state,
            created_at: time(row.created_at),
            retiring_since: row.retiring_since.map(time),
            retire_after: row.retire_after.map(time),
        })
        .collect())
}

/// Rotates the provider's key; returns every key after the rotation (the new one first).
pub async fn rotate(
    db: &Database,
    actor: &Actor,
    provider_id: &str,
    request: RotateKey,
) -> Result<Vec<KeyView>, AdminError> {
    let txn = super::begin_write(&db.orm).await?;
    let provider = admin_providers::find(&txn, provider_id).await?;
    let grace_seconds = request
        .grace_seconds
        .unwrap_or(provider.event_retention_seconds);
    if !(0..=MAX_GRACE_SECONDS).contains(&grace_seconds) {
        return Err(AdminError::invalid(
            "grace_seconds",
            format!("must be between 0 and {MAX_GRACE_SECONDS}"),
        ));
    }
    let key =
        signing_keys::rotate(&txn, &provider, Duration::from_secs(grace_seconds as u64)).await?;
    txn.commit().await?;
    audit::record(
        actor,
        "key.rotate",
        Target {
            kid: Some(&key.kid),
            ..Target::provider(&provider.id)
        },
        &format!("alg={:?} grace_s={grace_seconds}", key.alg),
    );
    list(&db.orm, &provider.id).await
}
