//! A transmitter configuration an IdP exposes: issuer, signing settings, retention.

use crate::enums::{DefaultSubjects, SigningAlg, SubjectFormat};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "providers")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    #[sea_orm(unique)]
    pub slug: String,
    pub name: String,
    /// The `iss` of every SET and the base of the discovery URL, kept byte-identical.
    pub issuer: String,
    pub signing_alg: SigningAlg,
    pub event_retention_seconds: i64,
    pub default_subjects: DefaultSubjects,
    pub subject_format: SubjectFormat,
    /// Issuer used for `iss_sub` subjects (the IdP's own OpenID issuer).
    pub idp_issuer: Option<String>,
    /// Verify receivers' TLS certificates on push.
    pub verify_tls: bool,
    pub min_verification_interval_seconds: i64,
    /// Pause a stream after this long without receiver activity; `None` never pauses.
    pub inactivity_timeout_seconds: Option<i64>,
    pub created_at: i64,
    pub updated_at: i64,
    /// Set when an administrator deletes the provider; its streams are disabled.
    pub deleted_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::signing_keys::Entity")]
    SigningKeys,
    #[sea_orm(has_many = "super::receivers::Entity")]
    Receivers,
    #[sea_orm(has_many = "super::streams::Entity")]
    Streams,
}

impl Related<super::signing_keys::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::SigningKeys.def()
    }
}

impl Related<super::receivers::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Receivers.def()
    }
}

impl Related<super::streams::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Streams.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
