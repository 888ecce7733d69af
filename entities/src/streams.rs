//! An SSF event stream (SSF §8.1.1): what a receiver asked for and how it is delivered.

use crate::enums::{DeliveryMethod, StreamStatus};
use sea_orm::entity::prelude::*;

#[derive(Clone, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "streams")]
pub struct Model {
    /// The `stream_id` the receiver sees.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub provider_id: String,
    /// The receiver that created the stream, when it authenticated with a receiver token.
    pub receiver_id: Option<String>,
    /// Stable id of the authenticated principal that owns the stream (a receiver id, or the
    /// client of an IdP-issued OAuth token); only the owner sees the stream.
    pub owner: String,
    /// `aud` claim of every SET on this stream: a JSON string or array of strings.
    pub aud: String,
    pub delivery_method: DeliveryMethod,
    /// The delivery method URI exactly as the receiver sent it (may be a legacy RISC alias).
    pub delivery_method_uri: String,
    /// Push: the receiver's endpoint. Poll: the transmitter-assigned poll URL.
    pub endpoint_url: Option<String>,
    /// Sent verbatim on push. Secret: never returned by a read, sealed at rest when a key is set.
    pub authorization_header: Option<String>,
    /// Subject format the receiver asked for (legacy `format` member), kept as sent.
    pub format: Option<String>,
    /// JSON array of event type URIs the receiver asked for.
    pub events_requested: String,
    /// JSON array: supported ∩ requested.
    pub events_delivered: String,
    pub description: Option<String>,
    pub status: StreamStatus,
    pub status_reason: Option<String>,
    /// Put the subject inside the event object too (receivers of the older RISC dialect).
    pub subject_in_event: bool,
    pub last_verification_at: Option<i64>,
    /// Last request from the receiver on this stream; drives `inactivity_timeout`.
    pub last_activity_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

// Hand-written so the receiver's authorization header never reaches a log line.
impl std::fmt::Debug for Model {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("streams::Model")
            .field("id", &self.id)
            .field("provider_id", &self.provider_id)
            .field("owner", &self.owner)
            .field("delivery_method", &self.delivery_method)
            .field("endpoint_url", &self.endpoint_url)
            .field(
                "authorization_header",
                &self.authorization_header.as_ref().map(|_| "<redacted>"),
            )
            .field("status", &self.status)
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
    #[sea_orm(
        belongs_to = "super::receivers::Entity",
        from = "Column::ReceiverId",
        to = "super::receivers::Column::Id",
        on_delete = "Cascade"
    )]
    Receiver,
    #[sea_orm(has_many = "super::stream_subjects::Entity")]
    Subjects,
    #[sea_orm(has_many = "super::stream_events::Entity")]
    Events,
}

impl Related<super::providers::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Provider.def()
    }
}

impl Related<super::receivers::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Receiver.def()
    }
}

impl Related<super::stream_subjects::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Subjects.def()
    }
}

impl Related<super::stream_events::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Events.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
