//! The OpenID Shared Signals Framework (SSF 1.0) transmitter library an identity provider embeds.
//!
//! The IdP reports what happened ([`idp::IdpEvent`]: a logout, a password change, an MFA device
//! added, an account disabled, ...). [`dispatch`] maps it to CAEP or RISC events ([`set`]) and,
//! in one database transaction, records one Security Event Token per receiver stream that asked
//! for that event type and covers that subject. The delivery worker (`ssf-worker`) signs ([`jose`])
//! and pushes them, or receivers poll them; receivers manage their streams through the standard
//! SSF API and administrators configure providers through the admin API, both in [`http`].
//!
//! The domain modules never know HTTP; the HTTP layer calls them.

pub mod access;
pub mod admin;
pub mod clock;
pub mod db;
pub mod delivery_wake;
pub mod dispatch;
pub mod http;
pub mod idp;
pub mod jose;
pub mod providers;
pub mod receivers;
pub mod set;
pub mod signing_keys;
pub mod streams;
pub mod transmitter;

pub use transmitter::{Transmitter, TransmitterSettings};
