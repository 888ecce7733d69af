//! Support for the end-to-end tests: a fresh database per test, on SQLite or PostgreSQL, HTTP
//! exchanges read whole ([`http_reply`]), and the specifications' wire names ([`wire_names`]).
//!
//! PostgreSQL comes from `SSF_TEST_POSTGRES_URL` (a URL to any database of a server where the
//! user may create databases, e.g. `postgres://postgres@127.0.0.1:5432/postgres`); each test gets
//! a database of its own, dropped afterwards. Without that variable a PostgreSQL container is
//! started with testcontainers. Without either, PostgreSQL tests are skipped with a message, or
//! fail when `CI=true`, so CI can never pass by skipping them.

pub mod http_reply;
pub mod wire_names;

use std::sync::Arc;

use ssf_provider::db::{Database, DbOptions};
use testcontainers_modules::postgres::Postgres;
use testcontainers_modules::testcontainers::ContainerAsync;
use testcontainers_modules::testcontainers::runners::AsyncRunner;

/// Environment variable naming the PostgreSQL server the tests create their databases on.
pub const POSTGRES_URL_VAR: &str = "SSF_TEST_POSTGRES_URL";

/// A database that lives as long as the test holds it.
pub struct TestDb {
    pub url: String,
    pub kind: &'static str,
    _guard: Guard,
}

enum Guard {
    Sqlite(#[allow(dead_code)] tempfile::TempDir),
    Postgres {
        admin_url: String,
        name: String,
        _container: Option<Arc<ContainerAsync<Postgres>>>,
    },
}

impl TestDb {
    /// A new SQLite file in a temporary directory.
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}", dir.path().join("ssf.db").display());
        TestDb {
            url,
            kind: "sqlite",
            _guard: Guard::Sqlite(dir),
        }
    }

    /// A new, empty PostgreSQL database; `None` (with a message) when no server can be had
    /// outside CI. Panics under `CI=true` when none can be had.
    pub async fn postgres() -> Option<TestDb> {
        let (admin_url, container) = match std::env::var(POSTGRES_URL_VAR) {
            Ok(url) if !url.is_empty() => (url, None),
            _ => match start_container().await {
                Ok((url, container)) => (url, Some(container)),
                Err(reason) => {
                    let message = format!(
                        "no PostgreSQL for this test: {POSTGRES_URL_VAR} is unset and no container could start ({reason})"
                    );
                    if std::env::var("CI").is_ok_and(|v| v == "true") {
                        panic!("{message}; CI=true requires PostgreSQL");
                    }
                    eprintln!("SKIPPED: {message}");
                    return None;
                }
            },
        };
        let name = format!("ssf_test_{}", uuid::Uuid::new_v4().simple());
        let admin = sqlx::PgPool::connect(&admin_url)
            .await
            .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {admin_url}: {e}"));
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .expect("create test database");
        admin.close().await;
        let url = replace_database(&admin_url, &name);
        Some(TestDb {
            url,
            kind: "postgres",
            _guard: Guard::Postgres {
                admin_url,
                name,
                _container: container,
            },
        })
    }

    /// Opens and migrates the database.
    pub async fn open(&self) -> Database {
        let db = Database::connect(&self.url, &DbOptions::default())
            .await
            .expect("open test database");
        db.migrate().await.expect("migrate test database");
        db
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Guard::Postgres {
            admin_url,
            name,
            _container: None,
        } = &self._guard
        {
            // Drop happens outside any runtime we may block; use a thread with its own.
            let admin_url = admin_url.clone();
            let name = name.clone();
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build();
                if let Ok(runtime) = runtime {
                    runtime.block_on(async {
                        if let Ok(admin) = sqlx::PgPool::connect(&admin_url).await {
                            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                            )))
                            .execute(&admin)
                            .await;
                            admin.close().await;
                        }
                    });
                }
            })
            .join();
        }
    }
}

async fn start_container() -> Result<(String, Arc<ContainerAsync<Postgres>>), String> {
    let container = Postgres::default()
        .start()
        .await
        .map_err(|e| e.to_string())?;
    let host = container.get_host().await.map_err(|e| e.to_string())?;
    let port = container
        .get_host_port_ipv4(5432)
        .await
        .map_err(|e| e.to_string())?;
    Ok((
        format!("postgres://postgres:postgres@{host}:{port}/postgres"),
        Arc::new(container),
    ))
}

/// `postgres://u@h:p/old?x` with the database name replaced.
fn replace_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{base}/{database}?{query}"),
        None => format!("{base}/{database}"),
    }
}

/// Runs an async test body once on SQLite and once on PostgreSQL:
/// `backend_tests!(name, body)` defines `name::sqlite` and `name::postgres`, where `body` is
/// an `async fn(TestDb)`.
#[macro_export]
macro_rules! backend_tests {
    ($name:ident, $body:path) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $body($crate::TestDb::sqlite()).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = $crate::TestDb::postgres().await {
                    $body(db).await;
                }
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::replace_database;

    #[test]
    fn database_name_is_replaced() {
        assert_eq!(
            replace_database("postgres://p@127.0.0.1:5432/postgres", "x"),
            "postgres://p@127.0.0.1:5432/x"
        );
        assert_eq!(
            replace_database("postgres://p@h/db?sslmode=disable", "x"),
            "postgres://p@h/x?sslmode=disable"
        );
        assert_eq!(replace_database("postgres://p@h", "x"), "postgres://p@h/x");
    }
}
