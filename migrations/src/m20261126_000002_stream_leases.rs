//! Push delivery leases streams, not rows.
//!
//! The first schema leased each claimed push row by writing `lease_until`/`leased_by` into it.
//! Every such write copies the whole row (payload included) and, because `lease_until` was
//! indexed, adds an entry to every index of `stream_events`: on PostgreSQL that was a third of
//! the database's work per delivered SET. Delivery already keeps one batch per stream in flight,
//! so the lease now lives in one small row per stream being delivered (`stream_leases`), and a
//! claimed `stream_events` row is written once, when its outcome is recorded.
//!
//! A claim now looks for streams, not rows: `idx_stream_events_due_by_stream` finds a stream's
//! oldest due row in one probe, so a claim costs one probe per stream however large the
//! backlog of the streams being delivered.
//!
//! `stream_events.lease_until`/`leased_by` stay: poll delivery still holds individual SETs
//! until they are acknowledged.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(StreamLeases::Table)
                    .if_not_exists()
                    .col(string(StreamLeases::StreamId).primary_key())
                    .col(string(StreamLeases::LeasedBy))
                    .col(big_integer(StreamLeases::LeaseUntil))
                    .foreign_key(
                        ForeignKey::create()
                            .from(StreamLeases::Table, StreamLeases::StreamId)
                            .to(Streams::Table, Streams::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        // Row leases of push rows are no longer read: clear them so nothing looks in flight.
        db.execute_unprepared(
            "UPDATE stream_events SET lease_until = NULL, leased_by = NULL \
             WHERE delivery_method = 'push' AND lease_until IS NOT NULL",
        )
        .await?;
        // Only the push claim probed it; poll reads a stream's rows through
        // idx_stream_events_stream.
        db.execute_unprepared("DROP INDEX IF EXISTS idx_stream_events_in_flight")
            .await?;
        // The claim looks for streams with a due row: one probe per stream, to its oldest due
        // row, instead of reading every due row in the database. The index the row-first claim
        // read goes: nothing else filters on status without a stream, and each index costs an
        // entry for every recorded SET and every outcome.
        db.execute_unprepared(
            "CREATE INDEX IF NOT EXISTS idx_stream_events_due_by_stream \
             ON stream_events (stream_id, status, next_attempt_at)",
        )
        .await?;
        db.execute_unprepared("DROP INDEX IF EXISTS idx_stream_events_due")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS idx_stream_events_due \
                 ON stream_events (status, delivery_method, next_attempt_at)",
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS idx_stream_events_due_by_stream")
            .await?;
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS idx_stream_events_in_flight \
                 ON stream_events (stream_id, lease_until) WHERE lease_until IS NOT NULL",
            )
            .await?;
        manager
            .drop_table(
                Table::drop()
                    .table(StreamLeases::Table)
                    .if_exists()
                    .to_owned(),
            )
            .await
    }
}

#[derive(DeriveIden, Clone, Copy)]
enum StreamLeases {
    Table,
    StreamId,
    LeasedBy,
    LeaseUntil,
}

#[derive(DeriveIden, Clone, Copy)]
enum Streams {
    Table,
    Id,
}
