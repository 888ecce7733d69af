//! `ssf`: the SSF transmitter program. `serve` runs the HTTP API with the delivery worker in the
//! same process; `worker` runs delivery alone (several may share one PostgreSQL); `migrate`
//! applies the schema. See `ssf --help`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use ssf_provider::db::{Database, DbOptions};
use ssf_provider::{Transmitter, TransmitterSettings};
use ssf_worker::server;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "ssf",
    version,
    about = "OpenID Shared Signals Framework transmitter"
)]
struct Cli {
    /// Log format on stderr.
    #[arg(long, env = "SSF_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text, global = true)]
    log_format: LogFormat,
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Run the SSF and admin HTTP APIs, with the delivery worker in the same process.
    Serve(ServeArgs),
    /// Run the delivery worker alone.
    Worker(WorkerArgs),
    /// Apply database migrations and exit.
    Migrate(DatabaseArgs),
    #[command(flatten)]
    Admin(Box<ssf_worker::admin_cli::AdminCommand>),
    /// Try it: a transmitter and a sample receiver on loopback, one SET of every kind, verified.
    Demo(DemoArgs),
    /// Measure delivery: a burst of SETs to a receiver on loopback, in SETs per second, beside
    /// this machine's signing and receiver limits (see docs/benchmarks.md).
    Bench(BenchArgs),
}

#[derive(Args)]
struct BenchArgs {
    /// A scratch database to fill (it is migrated, and providers, streams and SETs are added);
    /// by default a temporary SQLite file.
    #[arg(long)]
    database_url: Option<String>,
    /// Algorithm the bench provider signs with.
    #[arg(long, value_parser = parse_alg, default_value = "ES256")]
    signing_alg: ssf_entities::SigningAlg,
    /// SETs per burst (two bursts run: one recorded while the worker runs, one drained).
    #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    events: u32,
    /// Push streams the SETs are spread over.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u32).range(1..=1_000))]
    streams: u32,
}

#[derive(Args)]
struct DemoArgs {
    /// Keep the transmitter running afterwards, with the admin UI.
    #[arg(long)]
    keep_running: bool,
    /// Algorithm the demo provider signs with.
    #[arg(long, value_parser = parse_alg, default_value = "RS256")]
    signing_alg: ssf_entities::SigningAlg,
}

fn parse_alg(value: &str) -> Result<ssf_entities::SigningAlg, String> {
    serde_json::from_value(serde_json::Value::String(value.to_owned()))
        .map_err(|_| format!("{value:?} is not one of RS256, PS256, ES256, EdDSA"))
}

#[derive(Args, Clone)]
struct DatabaseArgs {
    /// sqlite://PATH (created if missing) or postgres://USER@HOST/DB.
    #[arg(long, env = "SSF_DATABASE_URL", default_value = "sqlite://ssf.db")]
    database_url: String,
}

#[derive(Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "SSF_LISTEN", default_value = "127.0.0.1:8080")]
    listen: String,
    #[command(flatten)]
    database: DatabaseArgs,
    /// Base of every issuer and endpoint URL, kept exactly as written (default: http://LISTEN).
    #[arg(long, env = "SSF_PUBLIC_URL")]
    public_url: Option<String>,
    /// Bearer token of the admin API; generated and printed once when unset.
    #[arg(long, env = "SSF_ADMIN_TOKEN", hide_env_values = true)]
    admin_token: Option<String>,
    /// Accept plain-http push endpoints and endpoints on loopback or private addresses.
    #[arg(long, env = "SSF_ALLOW_INSECURE_ENDPOINTS", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    allow_insecure_endpoints: bool,
    /// PEM certificate chain; serve HTTPS (needs --tls-key).
    #[arg(long, env = "SSF_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "SSF_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Do not run the delivery worker in this process.
    #[arg(long)]
    no_worker: bool,
    /// Do not apply migrations on start.
    #[arg(long)]
    no_migrate: bool,
}

#[derive(Args)]
struct WorkerArgs {
    #[command(flatten)]
    database: DatabaseArgs,
    /// Base URL the API runs under (poll and issuer URLs are read from the database; this only
    /// matters for events the worker creates on its own).
    #[arg(long, env = "SSF_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
    public_url: String,
    /// Deliver to plain-http endpoints and endpoints on loopback or private addresses.
    #[arg(long, env = "SSF_ALLOW_INSECURE_ENDPOINTS", value_parser = clap::builder::BoolishValueParser::new(), action = clap::ArgAction::SetTrue)]
    allow_insecure_endpoints: bool,
    /// Do not apply migrations on start.
    #[arg(long)]
    no_migrate: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The demo's output is the point; keep routine logs out of it.
    let default_filter = match cli.command {
        Command::Demo(_) | Command::Bench(_) => "warn",
        Command::Admin(_) => "warn,ssf::audit=info",
        _ => "info,sqlx=warn,sea_orm=warn,apalis=warn",
    };
    init_tracing(cli.log_format, default_filter);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line, the whole cause chain, no backtrace: configuration errors are for operators.
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing(format: LogFormat, default_filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_filter));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    match command {
        Command::Serve(args) => serve(args).await,
        Command::Worker(args) => worker(args).await,
        Command::Admin(command) => ssf_worker::admin_cli::run(*command).await,
        Command::Demo(args) => {
            ssf_worker::demo::run(ssf_worker::demo::DemoOptions {
                keep_running: args.keep_running,
                signing_alg: args.signing_alg,
            })
            .await
        }
        Command::Bench(args) => {
            let report = ssf_worker::bench::run(ssf_worker::bench::BenchOptions {
                database_url: args.database_url,
                alg: args.signing_alg,
                events: args.events as usize,
                streams: args.streams as usize,
                worker: ssf_worker::WorkerConfig::from_env()?,
            })
            .await?;
            println!("{}", ssf_worker::bench::BenchReport::markdown_header());
            println!("{}", report.markdown_row());
            Ok(())
        }
        Command::Migrate(args) => {
            let db = open(&args, true).await?;
            db.close().await;
            eprintln!("migrations applied to {}", redact_url(&args.database_url));
            Ok(())
        }
    }
}

/// Refuses to start with an unusable at-rest key, rather than failing on the first signature.
/// Returns whether one is configured.
fn check_key_vault() -> anyhow::Result<bool> {
    Ok(ssf_provider::jose::vault::process_vault()
        .map_err(|reason| anyhow::anyhow!("SSF_KEY_ENCRYPTION_KEY: {reason}"))?
        .is_some())
}

fn warn_if_secrets_in_clear(sealed: bool) {
    if !sealed {
        tracing::warn!(
            "SSF_KEY_ENCRYPTION_KEY is not set: private keys and receivers' authorization headers are stored in clear"
        );
    }
}

async fn open(args: &DatabaseArgs, migrate: bool) -> anyhow::Result<Database> {
    let shown = redact_url(&args.database_url);
    let db = Database::connect(&args.database_url, &DbOptions::default())
        .await
        .with_context(|| format!("database {shown}"))?;
    if migrate {
        db.migrate()
            .await
            .with_context(|| format!("database {shown}"))?;
        ssf_worker::migrate_queue(&db)
            .await
            .with_context(|| format!("database {shown}"))?;
    }
    Ok(db)
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    // Fail on unusable TLS files and busy ports before touching the database.
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(ssf_worker::tls::acceptor(cert, key)?),
        _ => None,
    };
    let sealed = check_key_vault()?;
    let worker_config = if args.no_worker {
        None
    } else {
        Some(ssf_worker::WorkerConfig::from_env()?)
    };
    let listener = server::bind(&args.listen).await?;
    let bound = listener.local_addr().context("listener address")?;
    let db = open(&args.database, !args.no_migrate).await?;
    warn_if_secrets_in_clear(sealed);

    let scheme = if tls.is_some() { "https" } else { "http" };
    let public_url = args
        .public_url
        .clone()
        .unwrap_or_else(|| format!("{scheme}://{bound}"));
    let mut settings = TransmitterSettings::new(public_url.clone());
    settings.allow_insecure_endpoints = args.allow_insecure_endpoints;
    let transmitter = Transmitter::new(db.clone(), settings);

    let admin_token = match args.admin_token.clone().filter(|t| !t.is_empty()) {
        Some(token) => token,
        None => {
            let token = ssf_worker::admin_token::generate();
            // Printed once on the terminal, never through the logger.
            eprintln!("admin token (shown once; set SSF_ADMIN_TOKEN to choose your own): {token}");
            token
        }
    };

    let shutdown = CancellationToken::new();
    tokio::spawn(wait_for_signal(shutdown.clone()));

    let worker = worker_config.map(|config| {
        let worker = ssf_worker::Worker::new(transmitter.clone(), config);
        let stop = shutdown.clone();
        tokio::spawn(async move { worker.run(async move { stop.cancelled().await }).await })
    });

    let router = server::app(
        transmitter.clone(),
        ssf_worker::routes::api(transmitter.clone(), admin_token),
    );
    tracing::info!(listen = %bound, public_url = %public_url, worker = !args.no_worker, "ssf serving");
    eprintln!("ssf listening on {scheme}://{bound} (public URL {public_url})");
    let served = server::serve(
        listener,
        router,
        tls,
        shutdown.clone(),
        Duration::from_secs(10),
    )
    .await;
    shutdown.cancel();
    if let Some(worker) = worker {
        match worker.await {
            Ok(result) => result.context("delivery worker")?,
            Err(join) => anyhow::bail!("delivery worker stopped abnormally: {join}"),
        }
    }
    db.close().await;
    served?;
    Ok(())
}

async fn worker(args: WorkerArgs) -> anyhow::Result<()> {
    let sealed = check_key_vault()?;
    let config = ssf_worker::WorkerConfig::from_env()?;
    let db = open(&args.database, !args.no_migrate).await?;
    warn_if_secrets_in_clear(sealed);
    let mut settings = TransmitterSettings::new(args.public_url);
    settings.allow_insecure_endpoints = args.allow_insecure_endpoints;
    let transmitter = Transmitter::new(db.clone(), settings);
    let shutdown = CancellationToken::new();
    tokio::spawn(wait_for_signal(shutdown.clone()));
    let worker = ssf_worker::Worker::new(transmitter, config);
    eprintln!(
        "ssf worker delivering from {}",
        redact_url(&args.database.database_url)
    );
    let result = worker.run(async move { shutdown.cancelled().await }).await;
    db.close().await;
    result.context("delivery worker")?;
    Ok(())
}

/// Ctrl-C or SIGTERM asks for a graceful stop.
async fn wait_for_signal(shutdown: CancellationToken) {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down");
    shutdown.cancel();
}

/// The URL without its password, for messages.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}
