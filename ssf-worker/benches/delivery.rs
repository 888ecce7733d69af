//! Delivery throughput: `cargo bench -p ssf-worker --bench delivery`.
//!
//! Runs `ssf_worker::bench` for RS256 and ES256 on SQLite, and on PostgreSQL when
//! `SSF_BENCH_POSTGRES_URL` names a server where the user may create databases (a scratch
//! database is created and dropped). `SSF_BENCH_EVENTS` and `SSF_BENCH_STREAMS` change the
//! burst (default 10,000 SETs over 10 streams). Prints Markdown rows for docs/benchmarks.md.

use ssf_entities::SigningAlg;
use ssf_worker::WorkerConfig;
use ssf_worker::bench::{BenchOptions, BenchReport, run};

fn main() {
    // `cargo test --benches` lists benchmarks; there is nothing to list.
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    // The worker's own warnings (failed claims, busy databases) explain a slow run.
    if let Ok(filter) = std::env::var("SSF_BENCH_LOG") {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
            .with_writer(std::io::stderr)
            .init();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let events = env_number("SSF_BENCH_EVENTS", 10_000);
    let streams = env_number("SSF_BENCH_STREAMS", 10);
    let postgres = std::env::var("SSF_BENCH_POSTGRES_URL")
        .ok()
        .filter(|u| !u.is_empty());
    let only_alg = std::env::var("SSF_BENCH_ALG")
        .ok()
        .filter(|a| !a.is_empty());
    let skip_sqlite = std::env::var("SSF_BENCH_SKIP_SQLITE").is_ok_and(|v| v == "1");
    println!("{}", BenchReport::markdown_header());
    for alg in [SigningAlg::ES256, SigningAlg::RS256] {
        if only_alg
            .as_deref()
            .is_some_and(|only| only != format!("{alg:?}"))
        {
            continue;
        }
        if !skip_sqlite {
            let options = BenchOptions {
                alg,
                events,
                streams,
                worker: WorkerConfig::from_env().expect("worker configuration"),
                database_url: None,
            };
            print_report(
                "SQLite",
                alg,
                runtime.block_on(run(options)).map_err(|e| e.to_string()),
            );
        }
        if let Some(admin_url) = &postgres {
            let result = runtime.block_on(async {
                let scratch = ScratchPostgres::create(admin_url).await?;
                let options = BenchOptions {
                    alg,
                    events,
                    streams,
                    worker: WorkerConfig::from_env().expect("worker configuration"),
                    database_url: Some(scratch.url.clone()),
                };
                let report = run(options).await.map_err(|e| e.to_string());
                scratch.drop_database().await;
                report
            });
            print_report("PostgreSQL", alg, result);
        }
    }
}

fn print_report(backend: &str, alg: SigningAlg, result: Result<BenchReport, String>) {
    match result {
        Ok(report) => {
            println!("{}", report.markdown_row());
            eprintln!(
                "  ({backend} {alg:?}: recording the burst took {} ms)",
                report.record_elapsed.as_millis()
            );
        }
        Err(error) => eprintln!("{backend} {alg:?}: {error}"),
    }
}

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

struct ScratchPostgres {
    admin_url: String,
    name: String,
    url: String,
}

impl ScratchPostgres {
    async fn create(admin_url: &str) -> Result<Self, String> {
        let name = format!("ssf_bench_{}", uuid::Uuid::new_v4().simple());
        let admin = sqlx::PgPool::connect(admin_url)
            .await
            .map_err(|e| e.to_string())?;
        // The name is generated above from hex digits only.
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&admin)
            .await
            .map_err(|e| e.to_string())?;
        admin.close().await;
        let base = admin_url.split('?').next().unwrap_or(admin_url);
        let base = &base[..base.rfind('/').unwrap_or(base.len())];
        Ok(Self {
            admin_url: admin_url.to_owned(),
            url: format!("{base}/{name}"),
            name,
        })
    }

    async fn drop_database(self) {
        if let Ok(admin) = sqlx::PgPool::connect(&self.admin_url).await {
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            )))
            .execute(&admin)
            .await;
            admin.close().await;
        }
    }
}
