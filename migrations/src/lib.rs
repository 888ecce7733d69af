//! Schema migrations for the SSF transmitter.
//!
//! One migration set that runs unchanged on SQLite (the embedded default) and PostgreSQL
//! (scale-out). `ssf migrate`, and `ssf serve` / `ssf worker` on start, apply it; it is
//! idempotent. The tables mirror the entities in `ssf-entities`; the indexes serve the hot
//! queries: the delivery claim (due pending events), per-stream listings, and emit()'s stream
//! lookup by provider.

pub use sea_orm_migration::prelude::*;

mod m20261126_000001_initial;
mod m20261126_000002_stream_leases;
mod m20261126_000003_pending_due_index;
mod m20261126_000004_statement_cascades;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_initial::Migration),
            Box::new(m20261126_000002_stream_leases::Migration),
            Box::new(m20261126_000003_pending_due_index::Migration),
            Box::new(m20261126_000004_statement_cascades::Migration),
        ]
    }
}
