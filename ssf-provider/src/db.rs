//! Opening the database: one sqlx pool per process, shared by sea-orm and apalis.
//!
//! SQLite is the embedded default: a file created if missing, in WAL mode with a busy timeout,
//! foreign keys on and `synchronous=NORMAL` (survives a process crash; apalis' own setup would
//! turn durability off, so its `setup()` is never called on our pool). PostgreSQL is the
//! scale-out backend.

use std::str::FromStr;
use std::time::Duration;

use sea_orm::{DatabaseConnection, SqlxPostgresConnector, SqlxSqliteConnector};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{PgPool, SqlitePool};
use ssf_migrations::{Migrator, MigratorTrait};

/// Why the database could not be opened or migrated. Messages are one line, fit for an operator.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("unsupported database URL {0:?}: expected sqlite://PATH or postgres://...")]
    UnsupportedUrl(String),
    #[error("invalid database URL: {0}")]
    InvalidUrl(String),
    #[error("cannot open the database: {0}")]
    Connect(String),
    #[error("database migration failed: {0}")]
    Migrate(String),
    #[error("database error: {0}")]
    Query(#[from] sea_orm::DbErr),
}

/// Which backend a [`Database`] runs on; a few hot queries are written per backend.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// The raw sqlx pool, for apalis and for the hand-written delivery queries.
#[derive(Debug, Clone)]
pub enum Pool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The process's database: the sea-orm connection and the pool under it.
#[derive(Debug, Clone)]
pub struct Database {
    pub orm: DatabaseConnection,
    pub pool: Pool,
}

/// Pool tuning. The defaults suit one `ssf serve` process.
#[derive(Debug, Clone)]
pub struct DbOptions {
    pub max_connections: u32,
    pub acquire_timeout: Duration,
    /// How long a SQLite writer waits for the lock before giving up.
    pub sqlite_busy_timeout: Duration,
    /// `FULL` survives power loss at about half the commit rate; `NORMAL` survives a crash.
    pub sqlite_synchronous_full: bool,
}

impl Default for DbOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            acquire_timeout: Duration::from_secs(10),
            sqlite_busy_timeout: Duration::from_secs(10),
            sqlite_synchronous_full: false,
        }
    }
}

impl Database {
    /// Opens (and for SQLite, creates) the database at `url`. Does not migrate.
    pub async fn connect(url: &str, options: &DbOptions) -> Result<Self, DbError> {
        match backend_of(url)? {
            Backend::Sqlite => {
                let connect = SqliteConnectOptions::from_str(url)
                    .map_err(|e| DbError::InvalidUrl(e.to_string()))?
                    .create_if_missing(true)
                    .journal_mode(SqliteJournalMode::Wal)
                    .synchronous(if options.sqlite_synchronous_full {
                        SqliteSynchronous::Full
                    } else {
                        SqliteSynchronous::Normal
                    })
                    .busy_timeout(options.sqlite_busy_timeout)
                    .foreign_keys(true);
                let pool = SqlitePoolOptions::new()
                    .max_connections(options.max_connections)
                    .acquire_timeout(options.acquire_timeout)
                    .connect_with(connect)
                    .await
                    .map_err(|e| DbError::Connect(e.to_string()))?;
                Ok(Self::from_sqlite_pool(pool))
            }
            Backend::Postgres => {
                let connect = PgConnectOptions::from_str(url)
                    .map_err(|e| DbError::InvalidUrl(e.to_string()))?;
                let pool = PgPoolOptions::new()
                    .max_connections(options.max_connections)
                    .acquire_timeout(options.acquire_timeout)
                    .connect_with(connect)
                    .await
                    .map_err(|e| DbError::Connect(e.to_string()))?;
                Ok(Self::from_postgres_pool(pool))
            }
        }
    }

    /// Wraps a pool the embedding application already has.
    pub fn from_sqlite_pool(pool: SqlitePool) -> Self {
        Self {
            orm: SqlxSqliteConnector::from_sqlx_sqlite_pool(pool.clone()),
            pool: Pool::Sqlite(pool),
        }
    }

    /// Wraps a pool the embedding application already has.
    pub fn from_postgres_pool(pool: PgPool) -> Self {
        Self {
            orm: SqlxPostgresConnector::from_sqlx_postgres_pool(pool.clone()),
            pool: Pool::Postgres(pool),
        }
    }

    pub fn backend(&self) -> Backend {
        match self.pool {
            Pool::Sqlite(_) => Backend::Sqlite,
            Pool::Postgres(_) => Backend::Postgres,
        }
    }

    /// Applies every pending migration; a no-op when the schema is current.
    pub async fn migrate(&self) -> Result<(), DbError> {
        Migrator::up(&self.orm, None)
            .await
            .map_err(|e| DbError::Migrate(e.to_string()))
    }

    /// Answers once the database answers a trivial query (`/healthz`).
    pub async fn ping(&self) -> Result<(), DbError> {
        self.orm.ping().await.map_err(DbError::Query)
    }

    /// Closes the pool, waiting for connections in use to be returned.
    pub async fn close(&self) {
        match &self.pool {
            Pool::Sqlite(pool) => pool.close().await,
            Pool::Postgres(pool) => pool.close().await,
        }
    }
}

/// Tells the backend from the URL scheme.
pub fn backend_of(url: &str) -> Result<Backend, DbError> {
    let scheme = url.split_once(':').map(|(scheme, _)| scheme).unwrap_or("");
    match scheme {
        "sqlite" => Ok(Backend::Sqlite),
        "postgres" | "postgresql" => Ok(Backend::Postgres),
        _ => Err(DbError::UnsupportedUrl(url.to_owned())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_is_told_by_scheme() {
        assert_eq!(backend_of("sqlite://ssf.db").unwrap(), Backend::Sqlite);
        assert_eq!(backend_of("postgres://u@h/db").unwrap(), Backend::Postgres);
        assert_eq!(
            backend_of("postgresql://u@h/db").unwrap(),
            Backend::Postgres
        );
        assert!(matches!(
            backend_of("mysql://x"),
            Err(DbError::UnsupportedUrl(_))
        ));
        assert!(matches!(
            backend_of("nonsense"),
            Err(DbError::UnsupportedUrl(_))
        ));
    }
}
