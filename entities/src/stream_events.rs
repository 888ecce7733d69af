//! One SET on one stream: the source of truth for its fate.
//!
//! The delivery worker claims due `Pending` push rows in batches under a lease on their stream
//! (`stream_leases`); when that lease runs out (its worker died) the rows are claimed again, so
//! nothing is lost on a crash. Poll delivery holds individual rows with `lease_until` until
//! the receiver acknowledges them.

use crate::enums::{DeliveryMethod, EventStatus};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stream_events")]
pub struct Model {
    /// Increasing; orders a stream's events for in-order delivery of a held backlog.
    #[sea_orm(primary_key)]
    pub id: i64,
    pub stream_id: String,
    /// Copied from the stream so the push claim query needs no join.
    pub delivery_method: DeliveryMethod,
    #[sea_orm(unique)]
    pub jti: String,
    pub txn: Option<String>,
    /// Event type URI.
    pub event_type: String,
    /// The SET's claims (JSON), fixed at emit time; signed when first delivered.
    pub payload: String,
    /// The compact signed SET, once signed, so every retry and re-poll sends the same bytes.
    pub token: Option<String>,
    pub status: EventStatus,
    pub attempts: i32,
    pub next_attempt_at: i64,
    /// A poll response holds the row until this instant (push rows are held by their stream's
    /// lease instead).
    pub lease_until: Option<i64>,
    pub leased_by: Option<String>,
    pub last_error: Option<String>,
    pub last_http_status: Option<i32>,
    pub expires_at: i64,
    pub created_at: i64,
    pub delivered_at: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::streams::Entity",
        from = "Column::StreamId",
        to = "super::streams::Column::Id",
        on_delete = "Cascade"
    )]
    Stream,
    #[sea_orm(has_many = "super::delivery_attempts::Entity")]
    Attempts,
}

impl Related<super::streams::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Stream.def()
    }
}

impl Related<super::delivery_attempts::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Attempts.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
