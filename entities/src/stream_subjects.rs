//! Subjects a receiver added to (or, for `default_subjects: ALL` streams, removed from) a stream.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "stream_subjects")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub stream_id: String,
    /// Canonical lookup key of the subject's principal identifier (e.g. `email:alice@example.com`),
    /// so emit() finds candidate rows by index before applying full SSF §8.1.3.1 matching.
    pub subject_key: String,
    /// The subject identifier as JSON.
    pub subject: String,
    /// `true`: added (covered); `false`: removed (excluded from an ALL stream).
    pub included: bool,
    pub created_at: i64,
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
