//! Receivers: the clients that manage streams of one provider, each with its own bearer token.
//!
//! A token is 32 random bytes (base64url, no padding) shown once at creation or rotation; only
//! its SHA-256 (hex) is stored, so a stolen database cannot be replayed against the API and a
//! lookup is a single indexed equality.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};
use ssf_entities::receivers::{self, ActiveModel, Column, Entity};

use crate::clock::now_ms;

pub use receivers::Model;

/// `last_seen_at` is refreshed at most this often, so a busy poller does not write on every request.
const LAST_SEEN_RESOLUTION_MS: i64 = 60_000;

#[derive(Debug, thiserror::Error)]
pub enum ReceiverError {
    #[error("no such receiver")]
    NotFound,
    #[error("the system random generator failed: {0}")]
    Random(#[from] openssl::error::ErrorStack),
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

/// A bearer token as handed to the receiver's operator. Not `Debug`/`Display` on purpose:
/// read it with [`ReceiverToken::expose`] where it is shown, and nowhere else.
pub struct ReceiverToken(String);

impl ReceiverToken {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// SHA-256 of a token, lowercase hex: the form stored in `receivers.token_hash`.
pub fn token_hash(token: &str) -> String {
    let digest = openssl::sha::sha256(token.as_bytes());
    let mut hex = String::with_capacity(64);
    for byte in digest {
        hex.push_str(&format!("{byte:02x}"));
    }
    hex
}

fn new_token() -> Result<ReceiverToken, ReceiverError> {
    let mut bytes = [0u8; 32];
    openssl::rand::rand_bytes(&mut bytes)?;
    Ok(ReceiverToken(URL_SAFE_NO_PAD.encode(bytes)))
}

/// Creates a receiver of `provider_id` and returns it with its token (the only time the token
/// exists in clear).
pub async fn create_receiver<C: ConnectionTrait>(
    conn: &C,
    provider_id: &str,
    name: &str,
) -> Result<(Model, ReceiverToken), ReceiverError> {
    let token = new_token()?;
    let model = ActiveModel {
        id: Set(uuid::Uuid::new_v4().simple().to_string()),
        provider_id: Set(provider_id.to_owned()),
        name: Set(name.to_owned()),
        token_hash: Set(token_hash(token.expose())),
        created_at: Set(now_ms()),
        revoked_at: Set(None),
        last_seen_at: Set(None),
    }
    .insert(conn)
    .await?;
    Ok((model, token))
}

/// The live (not revoked) receiver holding `token`, if any. Refreshes `last_seen_at`.
pub async fn authenticate<C: ConnectionTrait>(
    conn: &C,
    token: &str,
) -> Result<Option<Model>, ReceiverError> {
    let Some(receiver) = Entity::find()
        .filter(Column::TokenHash.eq(token_hash(token)))
        .filter(Column::RevokedAt.is_null())
        .one(conn)
        .await?
    else {
        return Ok(None);
    };
    let now = now_ms();
    if receiver
        .last_seen_at
        .is_none_or(|seen| now - seen >= LAST_SEEN_RESOLUTION_MS)
    {
        Entity::update_many()
            .col_expr(Column::LastSeenAt, Expr::value(now))
            .filter(Column::Id.eq(&receiver.id))
            .exec(conn)
            .await?;
    }
    Ok(Some(receiver))
}

/// Replaces the receiver's token; the old one stops working at once.
pub async fn rotate_token<C: ConnectionTrait>(
    conn: &C,
    receiver_id: &str,
) -> Result<ReceiverToken, ReceiverError> {
    let token = new_token()?;
    let result = Entity::update_many()
        .col_expr(Column::TokenHash, Expr::value(token_hash(token.expose())))
        .filter(Column::Id.eq(receiver_id))
        .exec(conn)
        .await?;
    if result.rows_affected == 0 {
        return Err(ReceiverError::NotFound);
    }
    Ok(token)
}

/// Revokes the receiver's token. Its streams stay (an administrator may delete them).
pub async fn revoke<C: ConnectionTrait>(conn: &C, receiver_id: &str) -> Result<(), ReceiverError> {
    let result = Entity::update_many()
        .col_expr(Column::RevokedAt, Expr::value(now_ms()))
        .filter(Column::Id.eq(receiver_id))
        .filter(Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    if result.rows_affected == 0 {
        return Err(ReceiverError::NotFound);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_sha256_hex() {
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn tokens_are_43_chars_of_base64url_and_differ() {
        let a = new_token().unwrap();
        let b = new_token().unwrap();
        assert_eq!(a.expose().len(), 43);
        assert!(
            a.expose()
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
        assert_ne!(a.expose(), b.expose());
    }
}
