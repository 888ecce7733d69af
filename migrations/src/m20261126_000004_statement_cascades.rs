//! PostgreSQL: the hot tables cascade deletes per statement instead of checking a foreign key
//! per row.
//!
//! A foreign key costs a check per inserted row: PostgreSQL runs a query against the parent
//! (and locks its row) for every `stream_events` row emit() records and every
//! `delivery_attempts` row the worker logs. Measured with the delivery bench, those two checks
//! were about a ninth of the database's CPU time per delivered SET (88 µs → 78 µs), time taken
//! from signing when the database shares the worker's cores.
//!
//! What the keys gave is kept where it matters: deleting a stream deletes its events, and
//! deleting an event (the sweep, a stream's deletion) deletes its attempts, now by one
//! statement-level trigger per delete statement (a join with the deleted rows) rather than one
//! cascade per row. What is given up is the insert-time check, which the writers already make:
//! emit() records events for streams it has just read, and the outcome writer logs an attempt
//! only for an event that exists (the row it updates in the same statement is locked). A stream
//! deleted between emit() reading it and its commit leaves rows no claim, listing or count ever
//! reaches (they all start from `streams`); the sweep expires and deletes them with the rest.
//!
//! SQLite keeps its foreign keys: its checks are an index probe in-process (the SQLite figures
//! already meet the delivery targets), and dropping a key there means rebuilding the table.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Drops every foreign key from `stream_events` to `streams` and from `delivery_attempts` to
/// `stream_events`, whatever it was named.
const PG_DROP_KEYS: &str = r#"
DO $$
DECLARE key record;
BEGIN
    FOR key IN
        SELECT c.conname, c.conrelid::regclass::text AS child
        FROM pg_constraint c
        WHERE c.contype = 'f'
          AND ((c.conrelid = 'stream_events'::regclass AND c.confrelid = 'streams'::regclass)
            OR (c.conrelid = 'delivery_attempts'::regclass AND c.confrelid = 'stream_events'::regclass))
    LOOP
        EXECUTE format('ALTER TABLE %s DROP CONSTRAINT %I', key.child, key.conname);
    END LOOP;
END $$"#;

const PG_CASCADES: &[&str] = &[
    "CREATE OR REPLACE FUNCTION ssf_delete_events_of_deleted_streams() RETURNS trigger
     LANGUAGE plpgsql AS $$
     BEGIN
         DELETE FROM stream_events e USING deleted_streams d WHERE e.stream_id = d.id;
         RETURN NULL;
     END $$",
    "DROP TRIGGER IF EXISTS streams_delete_events ON streams",
    "CREATE TRIGGER streams_delete_events AFTER DELETE ON streams
     REFERENCING OLD TABLE AS deleted_streams
     FOR EACH STATEMENT EXECUTE FUNCTION ssf_delete_events_of_deleted_streams()",
    "CREATE OR REPLACE FUNCTION ssf_delete_attempts_of_deleted_events() RETURNS trigger
     LANGUAGE plpgsql AS $$
     BEGIN
         DELETE FROM delivery_attempts a USING deleted_events d WHERE a.stream_event_id = d.id;
         RETURN NULL;
     END $$",
    "DROP TRIGGER IF EXISTS stream_events_delete_attempts ON stream_events",
    "CREATE TRIGGER stream_events_delete_attempts AFTER DELETE ON stream_events
     REFERENCING OLD TABLE AS deleted_events
     FOR EACH STATEMENT EXECUTE FUNCTION ssf_delete_attempts_of_deleted_events()",
];

const PG_RESTORE_KEYS: &[&str] = &[
    "DROP TRIGGER IF EXISTS streams_delete_events ON streams",
    "DROP TRIGGER IF EXISTS stream_events_delete_attempts ON stream_events",
    "DROP FUNCTION IF EXISTS ssf_delete_events_of_deleted_streams()",
    "DROP FUNCTION IF EXISTS ssf_delete_attempts_of_deleted_events()",
    // Rows the keys would have refused (see the module comment) go first.
    "DELETE FROM stream_events e WHERE NOT EXISTS (SELECT 1 FROM streams s WHERE s.id = e.stream_id)",
    "DELETE FROM delivery_attempts a
     WHERE NOT EXISTS (SELECT 1 FROM stream_events e WHERE e.id = a.stream_event_id)",
    "ALTER TABLE stream_events ADD FOREIGN KEY (stream_id) REFERENCES streams (id) ON DELETE CASCADE",
    "ALTER TABLE delivery_attempts ADD FOREIGN KEY (stream_event_id) REFERENCES stream_events (id)
     ON DELETE CASCADE",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared(PG_DROP_KEYS).await?;
        for statement in PG_CASCADES {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DatabaseBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        for statement in PG_RESTORE_KEYS {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }
}
