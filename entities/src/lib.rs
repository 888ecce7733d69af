//! sea-orm entities of the SSF transmitter: one module per table, and the enums stored in them.
//!
//! This crate holds no logic. `ssf-provider` reads and writes these rows, `ssf-worker` leases
//! streams (`stream_leases`) and delivers their `stream_events`, and `ssf-migrations` creates the tables. Every timestamp
//! column is a Unix time in **milliseconds** (`i64`): one portable representation that SQLite
//! and PostgreSQL compare and index identically, which the delivery queue's hot queries need.

pub mod delivery_attempts;
pub mod enums;
pub mod providers;
pub mod receivers;
pub mod signing_keys;
pub mod stream_events;
pub mod stream_leases;
pub mod stream_subjects;
pub mod streams;

pub use enums::*;

pub mod prelude {
    pub use crate::delivery_attempts::Entity as DeliveryAttempts;
    pub use crate::providers::Entity as Providers;
    pub use crate::receivers::Entity as Receivers;
    pub use crate::signing_keys::Entity as SigningKeys;
    pub use crate::stream_events::Entity as StreamEvents;
    pub use crate::stream_leases::Entity as StreamLeases;
    pub use crate::stream_subjects::Entity as StreamSubjects;
    pub use crate::streams::Entity as Streams;
}
