//! The delivery side of the SSF transmitter, and the pieces of the `ssf` program.
//!
//! Stream events recorded by `ssf_provider::dispatch` are claimed here in batches under a
//! lease, signed, and pushed to receivers (RFC 8935) with retries and backoff kept in the rows
//! themselves; apalis is the runtime around the delivery loops (monitor, periodic jobs,
//! wake-ups). The `ssf` binary (`main.rs`) wires this crate and `ssf-provider` together.

pub mod admin_cli;
pub mod admin_token;
pub mod bench;
pub mod circuit;
pub mod claim;
pub mod config;
pub mod cpu_time;
mod delivery_loop;
pub mod demo;
pub mod endpoint_guard;
pub mod metrics;
pub mod push_client;
mod receiver_secret;
pub mod retry_policy;
pub mod routes;
mod runtime;
pub mod server;
pub mod signer;
pub mod sweeper;
pub mod tls;
mod worker;

pub use config::WorkerConfig;
pub use worker::{Worker, WorkerError, migrate_queue};
