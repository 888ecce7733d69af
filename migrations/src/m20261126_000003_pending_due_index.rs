//! The claim's index holds pending rows only.
//!
//! `idx_stream_events_due_by_stream` (migration 2) indexed every row by `(stream_id, status,
//! next_attempt_at)`. The claim only ever probes pending rows, and recording a delivery
//! rewrites the row, which on PostgreSQL adds an entry to every index the new version belongs
//! in: a partial index on `status = 'pending'` takes an entry when a SET is recorded and none
//! when it is delivered. Both backends use a partial index when the query repeats its
//! predicate (`e.status = 'pending'`), which the claim does.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS idx_stream_events_pending_due \
             ON stream_events (stream_id, next_attempt_at) WHERE status = 'pending'",
        )
        .await?;
        db.execute_unprepared("DROP INDEX IF EXISTS idx_stream_events_due_by_stream")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS idx_stream_events_due_by_stream \
             ON stream_events (stream_id, status, next_attempt_at)",
        )
        .await?;
        db.execute_unprepared("DROP INDEX IF EXISTS idx_stream_events_pending_due")
            .await?;
        Ok(())
    }
}
