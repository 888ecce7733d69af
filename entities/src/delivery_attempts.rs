//! One HTTP try of one stream event; immutable, so operators see the whole history.

use crate::enums::{AttemptOutcome, AttemptTrigger};
use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "delivery_attempts")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub stream_event_id: i64,
    /// 1 for the first try.
    pub attempt: i32,
    pub outcome: AttemptOutcome,
    /// HTTP status; 0 when no response arrived (connection error, timeout).
    pub http_status: i32,
    /// The receiver's response body, truncated.
    pub response_body: Option<String>,
    pub error: Option<String>,
    pub duration_ms: i64,
    pub trigger: AttemptTrigger,
    pub worker: String,
    pub next_attempt_at: Option<i64>,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::stream_events::Entity",
        from = "Column::StreamEventId",
        to = "super::stream_events::Column::Id",
        on_delete = "Cascade"
    )]
    StreamEvent,
}

impl Related<super::stream_events::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::StreamEvent.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
