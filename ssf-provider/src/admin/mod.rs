//! What an administrator does to a transmitter: configure providers, their receivers and
//! signing keys, and look after delivery (inspect events, redrive failures, pause or disable a
//! stream).
//!
//! The admin HTTP API (`http::admin`) and the `ssf` command line call the same functions here,
//! so both validate the same way and leave the same audit trail. Every change is logged as an
//! audit line ([`audit`]) naming the [`Actor`], the action and the ids involved; never a secret.
//!
//! Views returned here ([`providers::ProviderView`], [`delivery_log::StreamOverview`], ...)
//! are what both the API and `--json` print, so they never hold secrets: no private key, no
//! receiver token (except once, at creation or rotation), no push authorization header.

pub mod audit;
pub mod delivery_log;
pub mod emit;
pub mod keys;
pub mod providers;
pub mod receivers;
pub mod redrive;
pub mod stream_control;

use crate::dispatch::DispatchError;
use crate::providers::ProviderError;
use crate::receivers::ReceiverError;
use crate::signing_keys::SigningKeyError;
use crate::streams::StreamError;

pub use audit::Actor;

/// Why an administrative operation did nothing. Input faults name the field.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{field}: {reason}")]
    Invalid { field: &'static str, reason: String },
    #[error("no such {0}")]
    NotFound(&'static str),
    /// The request is well-formed but the current state forbids it (`code` is stable).
    #[error("{description}")]
    Conflict {
        code: &'static str,
        description: String,
    },
    #[error(transparent)]
    Provider(#[from] ProviderError),
    #[error(transparent)]
    Receiver(#[from] ReceiverError),
    #[error(transparent)]
    SigningKey(#[from] SigningKeyError),
    #[error(transparent)]
    Stream(#[from] StreamError),
    #[error(transparent)]
    Dispatch(#[from] DispatchError),
    #[error("database error: {0}")]
    Db(#[from] sea_orm::DbErr),
}

impl AdminError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        Self::Invalid {
            field,
            reason: reason.into(),
        }
    }

    pub(crate) fn conflict(code: &'static str, description: impl Into<String>) -> Self {
        Self::Conflict {
            code,
            description: description.into(),
        }
    }
}

/// Starts a transaction that reads and then writes. On SQLite it takes the write lock up
/// front (`IMMEDIATE`): a deferred transaction that read before another writer committed fails
/// at once with `SQLITE_BUSY` when it then writes, and the busy timeout cannot help it.
pub(crate) async fn begin_write(
    conn: &sea_orm::DatabaseConnection,
) -> Result<sea_orm::DatabaseTransaction, sea_orm::DbErr> {
    use sea_orm::TransactionTrait;
    conn.begin_with_options(sea_orm::TransactionOptions {
        sqlite_transaction_mode: Some(sea_orm::SqliteTransactionMode::Immediate),
        ..Default::default()
    })
    .await
}

/// A stored millisecond timestamp as shown to administrators (RFC 3339 in JSON).
pub(crate) fn time(ms: i64) -> chrono::DateTime<chrono::Utc> {
    crate::clock::to_datetime(ms)
}
