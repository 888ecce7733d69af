//! Enumerations stored as short strings. Their serde names are the ones the APIs use.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

/// JWS algorithm a provider signs its SETs with.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(8))")]
pub enum SigningAlg {
    #[sea_orm(string_value = "RS256")]
    RS256,
    #[sea_orm(string_value = "PS256")]
    PS256,
    #[sea_orm(string_value = "ES256")]
    ES256,
    #[sea_orm(string_value = "EdDSA")]
    EdDSA,
}

/// Lifecycle of a signing key: one `Active` key per provider signs; `Retiring` keys stay in
/// the JWKS until their grace period ends so receivers can still verify SETs they hold.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum KeyState {
    #[sea_orm(string_value = "active")]
    Active,
    #[sea_orm(string_value = "retiring")]
    Retiring,
    #[sea_orm(string_value = "retired")]
    Retired,
}

/// SSF §8.1.1 `default_subjects`: whether a stream covers every subject unless removed
/// (`All`) or only subjects explicitly added (`None`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(8))")]
pub enum DefaultSubjects {
    #[sea_orm(string_value = "ALL")]
    #[serde(rename = "ALL")]
    All,
    #[sea_orm(string_value = "NONE")]
    #[serde(rename = "NONE")]
    None,
}

/// How a provider names the user in SETs.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum SubjectFormat {
    #[sea_orm(string_value = "email")]
    Email,
    #[sea_orm(string_value = "iss_sub")]
    IssSub,
}

/// SSF §8.1.5 stream status.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum StreamStatus {
    #[sea_orm(string_value = "enabled")]
    Enabled,
    #[sea_orm(string_value = "paused")]
    Paused,
    #[sea_orm(string_value = "disabled")]
    Disabled,
}

/// Delivery method of a stream: RFC 8935 push or RFC 8936 poll. The URI the receiver used
/// (including legacy RISC aliases) is kept beside it on the stream.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(8))")]
#[serde(rename_all = "snake_case")]
pub enum DeliveryMethod {
    #[sea_orm(string_value = "push")]
    Push,
    #[sea_orm(string_value = "poll")]
    Poll,
}

/// The fate of one SET on one stream.
///
/// `Pending` rows are due for delivery at `next_attempt_at` (push) or waiting to be polled;
/// a pending row with a live lease is in flight. `Held` rows belong to a paused stream.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum EventStatus {
    #[sea_orm(string_value = "pending")]
    Pending,
    #[sea_orm(string_value = "held")]
    Held,
    #[sea_orm(string_value = "delivered")]
    Delivered,
    #[sea_orm(string_value = "failed")]
    Failed,
    #[sea_orm(string_value = "expired")]
    Expired,
}

/// Outcome of one delivery attempt.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    #[sea_orm(string_value = "delivered")]
    Delivered,
    /// Worth retrying: connection error, timeout, 5xx, 429.
    #[sea_orm(string_value = "transient")]
    Transient,
    /// Not worth retrying: RFC 8935 error body, 401, 403.
    #[sea_orm(string_value = "permanent")]
    Permanent,
}

/// Why an attempt was made.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum, Serialize, Deserialize,
)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "snake_case")]
pub enum AttemptTrigger {
    #[sea_orm(string_value = "scheduled")]
    Scheduled,
    /// An administrator redrove the event.
    #[sea_orm(string_value = "manual")]
    Manual,
}
