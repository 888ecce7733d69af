//! A provider's signing keys: one active, others retiring until their grace period ends.

use crate::enums::{KeyState, SigningAlg};
use sea_orm::entity::prelude::*;

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signing_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub provider_id: String,
    /// RFC 7638 thumbprint of the public key.
    pub kid: String,
    pub alg: SigningAlg,
    /// PKCS#8 PEM, or an AEAD envelope of it when `encryption_key_id` is set. Secret.
    pub private_key: String,
    /// Id of the at-rest key that sealed `private_key`; `None` means stored in clear.
    pub encryption_key_id: Option<String>,
    /// The public JWK (JSON), as published in the JWKS.
    pub public_jwk: String,
    pub state: KeyState,
    pub created_at: i64,
    pub retiring_since: Option<i64>,
    /// When a retiring key leaves the JWKS.
    pub retire_after: Option<i64>,
}

// Hand-written so the private key can never reach a log line through `{:?}`.
impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("signing_keys::Model")
            .field("id", &self.id)
            .field("provider_id", &self.provider_id)
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .field("private_key", &"<redacted>")
            .field("state", &self.state)
            .finish_non_exhaustive()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::providers::Entity",
        from = "Column::ProviderId",
        to = "super::providers::Column::Id",
        on_delete = "Cascade"
    )]
    Provider,
}

impl Related<super::providers::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Provider.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
