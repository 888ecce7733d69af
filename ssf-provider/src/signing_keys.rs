//! A provider's signing keys in the database: one `Active` key signs; after a rotation the
//! old key is `Retiring` and stays in the JWKS until its grace period ends, so receivers can
//! still verify SETs signed before the rotation; then it is `Retired`.
//!
//! Private keys are stored as PKCS#8 PEM, sealed with the [`KeyVault`] when one is configured
//! (`SSF_KEY_ENCRYPTION_KEY`); the row records which at-rest key sealed it.

use std::time::Duration;

use sea_orm::sea_query::{Condition, Expr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, Set,
};
use ssf_entities::KeyState;
use ssf_entities::signing_keys::{ActiveModel, Column, Entity};

use crate::clock::now_ms;
use crate::jose::{self, Jwk, Jwks, KeyVault, SigningKey};
use crate::providers;

pub use ssf_entities::signing_keys::Model;

#[derive(Debug, thiserror::Error)]
pub enum SigningKeyError {
    #[error("provider {0} has no active signing key")]
    NoActiveKey(String),
    #[error("at-rest key configuration (SSF_KEY_ENCRYPTION_KEY): {0}")]
    VaultConfig(String),
    #[error("signing key {kid} cannot be unsealed: {source}")]
    Unseal {
        kid: String,
        #[source]
        source: jose::VaultError,
    },
    #[error("stored signing key {kid} is unusable: {reason}")]
    Corrupt { kid: String, reason: String },
    #[error(transparent)]
    Jose(#[from] jose::JoseError),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

/// The process's at-rest key, read once from the environment. Also seals receivers'
/// authorization headers.
pub(crate) fn vault() -> Result<Option<&'static KeyVault>, SigningKeyError> {
    jose::vault::process_vault().map_err(|e| SigningKeyError::VaultConfig(e.to_owned()))
}

/// Generates a key with the provider's algorithm and stores it as the active key.
async fn insert_new_key<C: ConnectionTrait>(
    conn: &C,
    provider: &providers::Model,
    now: i64,
) -> Result<Model, SigningKeyError> {
    let key = SigningKey::generate(provider.signing_alg)?;
    insert_active_key(conn, provider, &key, now).await
}

/// Stores `key`, sealed, as the provider's active key.
async fn insert_active_key<C: ConnectionTrait>(
    conn: &C,
    provider: &providers::Model,
    key: &SigningKey,
    now: i64,
) -> Result<Model, SigningKeyError> {
    let pem = key.to_pem()?;
    let sealed = jose::vault::protect(vault()?, &pem)
        .map_err(|e| SigningKeyError::VaultConfig(e.to_string()))?;
    let public_jwk =
        serde_json::to_string(&key.public_jwk()).map_err(|e| SigningKeyError::Corrupt {
            kid: key.kid().to_owned(),
            reason: e.to_string(),
        })?;
    Ok(ActiveModel {
        id: Set(uuid::Uuid::new_v4().simple().to_string()),
        provider_id: Set(provider.id.clone()),
        kid: Set(key.kid().to_owned()),
        alg: Set(key.alg()),
        private_key: Set(sealed.value),
        encryption_key_id: Set(sealed.key_id),
        public_jwk: Set(public_jwk),
        state: Set(KeyState::Active),
        created_at: Set(now),
        retiring_since: Set(None),
        retire_after: Set(None),
    }
    .insert(conn)
    .await?)
}

/// The first key of a new provider (inside its creation transaction): `imported` when the
/// administrator brought one (its algorithm already checked against the provider's), else a
/// new one.
pub async fn create_first_key<C: ConnectionTrait>(
    conn: &C,
    provider: &providers::Model,
    imported: Option<&SigningKey>,
) -> Result<Model, SigningKeyError> {
    match imported {
        Some(key) => insert_active_key(conn, provider, key, now_ms()).await,
        None => insert_new_key(conn, provider, now_ms()).await,
    }
}

/// Replaces the active key with a new one (using the provider's current algorithm); the old
/// key keeps verifying for `grace`. Run it inside a transaction.
pub async fn rotate<C: ConnectionTrait>(
    conn: &C,
    provider: &providers::Model,
    grace: Duration,
) -> Result<Model, SigningKeyError> {
    let now = now_ms();
    Entity::update_many()
        .col_expr(Column::State, Expr::value(KeyState::Retiring))
        .col_expr(Column::RetiringSince, Expr::value(now))
        .col_expr(
            Column::RetireAfter,
            Expr::value(now + grace.as_millis() as i64),
        )
        .filter(Column::ProviderId.eq(&provider.id))
        .filter(Column::State.eq(KeyState::Active))
        .exec(conn)
        .await?;
    insert_new_key(conn, provider, now).await
}

/// Marks retiring keys whose grace period ended as retired. Returns how many.
pub async fn retire_expired<C: ConnectionTrait>(
    conn: &C,
    now: i64,
) -> Result<u64, SigningKeyError> {
    let result = Entity::update_many()
        .col_expr(Column::State, Expr::value(KeyState::Retired))
        .filter(Column::State.eq(KeyState::Retiring))
        .filter(Column::RetireAfter.lte(now))
        .exec(conn)
        .await?;
    Ok(result.rows_affected)
}

/// The provider's active key, ready to sign.
pub async fn active_key<C: ConnectionTrait>(
    conn: &C,
    provider: &providers::Model,
) -> Result<SigningKey, SigningKeyError> {
    let row = Entity::find()
        .filter(Column::ProviderId.eq(&provider.id))
        .filter(Column::State.eq(KeyState::Active))
        .order_by_desc(Column::CreatedAt)
        .one(conn)
        .await?
        .ok_or_else(|| SigningKeyError::NoActiveKey(provider.id.clone()))?;
    load(&row)
}

/// Turns a stored row back into a signing key, unsealing it if needed.
pub fn load(row: &Model) -> Result<SigningKey, SigningKeyError> {
    let vault = if row.encryption_key_id.is_some() {
        vault()?
    } else {
        None
    };
    let pem = jose::vault::reveal(vault, &row.private_key, row.encryption_key_id.as_deref())
        .map_err(|source| SigningKeyError::Unseal {
            kid: row.kid.clone(),
            source,
        })?;
    let key = SigningKey::from_pem(pem.as_bytes(), row.alg)?;
    if key.kid() != row.kid {
        return Err(SigningKeyError::Corrupt {
            kid: row.kid.clone(),
            reason: "the key's thumbprint differs from its kid".into(),
        });
    }
    Ok(key)
}

/// Signs SET claims (`stream_events.payload`) with `key`.
pub fn sign(key: &SigningKey, claims_json: &str) -> Result<String, SigningKeyError> {
    Ok(key.sign_set(claims_json)?)
}

/// The provider's published keys: the active key and retiring keys within their grace period.
pub async fn jwks<C: ConnectionTrait>(
    conn: &C,
    provider_id: &str,
) -> Result<Jwks, SigningKeyError> {
    let now = now_ms();
    let rows = Entity::find()
        .filter(Column::ProviderId.eq(provider_id))
        .filter(
            Condition::any()
                .add(Column::State.eq(KeyState::Active))
                .add(
                    Condition::all()
                        .add(Column::State.eq(KeyState::Retiring))
                        .add(Column::RetireAfter.gt(now)),
                ),
        )
        .order_by_desc(Column::CreatedAt)
        .all(conn)
        .await?;
    let keys = rows
        .iter()
        .map(|row| {
            serde_json::from_str::<Jwk>(&row.public_jwk).map_err(|e| SigningKeyError::Corrupt {
                kid: row.kid.clone(),
                reason: e.to_string(),
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Jwks { keys })
}
