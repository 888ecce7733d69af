//! A push stream being delivered by one worker: the lease that makes delivery crash-safe.
//!
//! A worker that claims a stream's due `stream_events` holds this row until `lease_until`,
//! extending it with every batch, and deletes it when the stream has nothing due. While it
//! lives no other worker claims the stream (so one stream's SETs go out in order); when it runs
//! out (the worker died) the stream's pending rows are claimed again, so nothing is lost.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stream_leases")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub stream_id: String,
    /// The worker's name (`SSF_WORKER_NAME` or a generated one).
    pub leased_by: String,
    pub lease_until: i64,
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
}

impl Related<super::streams::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Stream.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
