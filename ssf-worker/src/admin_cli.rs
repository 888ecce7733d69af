//! The administration commands of the `ssf` program: `provider`, `receiver`, `emit`, `events`
//! and `retry`.
//!
//! They talk to the database directly (`--database-url`, `SSF_DATABASE_URL`, default
//! `sqlite://ssf.db`, as `ssf serve`), not to a running server, through the same functions as
//! the admin API (`ssf_provider::admin`): they work whether or not a server runs, validate
//! exactly as the API does, and leave the same audit lines (actor `cli:$USER`). A change made
//! here reaches running servers through the database: delivery wakes up through it, and
//! workers re-read signing keys within their cache time.
//!
//! Output is an aligned table (or key/value list) for people, or with `--json` the admin API's
//! JSON for scripts. A receiver token is printed once, on standard output, when created or
//! rotated; nothing else secret is ever printed.

use std::io::Read;
use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Subcommand};
use serde::Serialize;
use ssf_entities::{DefaultSubjects, EventStatus, SigningAlg, SubjectFormat};
use ssf_provider::admin::delivery_log::{self, EventFilter, EventPage};
use ssf_provider::admin::providers::{self, CreateProvider, DeletedProvider, ProviderView};
use ssf_provider::admin::receivers::{
    self, CreateReceiver, ReceiverView, ReceiverWithToken, RevokedReceiver,
};
use ssf_provider::admin::redrive::{self, RedriveFailed, RedriveReport};
use ssf_provider::admin::{Actor, emit};
use ssf_provider::db::{Database, DbOptions};
use ssf_provider::idp::IdpEvent;
use ssf_provider::{Transmitter, TransmitterSettings};

/// The administration commands, to be flattened into the program's command enum.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create, list, show or delete providers.
    #[command(subcommand)]
    Provider(ProviderCommand),
    /// Create, list, revoke receivers, or issue a new token.
    #[command(subcommand)]
    Receiver(ReceiverCommand),
    /// Emit an IdP event (JSON, see docs/events.md) on a provider's streams.
    Emit(EmitArgs),
    /// List a stream's events, newest first.
    Events(EventsArgs),
    /// Redrive failed (or expired) events of a stream.
    Retry(RetryArgs),
}

/// Options every administration command takes.
#[derive(Debug, Clone, Args)]
pub struct CommonArgs {
    /// sqlite://PATH (created if missing) or postgres://USER@HOST/DB.
    #[arg(long, env = "SSF_DATABASE_URL", default_value = "sqlite://ssf.db")]
    pub database_url: String,
    /// Print JSON (as the admin API returns it) instead of a table.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum ProviderCommand {
    /// Create a provider with a generated (or imported) signing key.
    Create(ProviderCreateArgs),
    /// List the providers.
    List(ListArgs),
    /// Show one provider (by id or slug).
    Show(ProviderRefArgs),
    /// Delete a provider: its streams are disabled, its receivers revoked.
    Delete(ProviderDeleteArgs),
}

#[derive(Debug, Args)]
pub struct ProviderCreateArgs {
    /// Shown to administrators.
    pub name: String,
    /// Last segment of the issuer; derived from the name when absent.
    #[arg(long)]
    pub slug: Option<String>,
    #[arg(long, value_parser = parse_alg)]
    pub signing_alg: Option<SigningAlg>,
    /// How long an undelivered SET is kept, in seconds (default 30 days).
    #[arg(long)]
    pub event_retention_seconds: Option<i64>,
    /// ALL or NONE.
    #[arg(long, value_parser = parse_default_subjects)]
    pub default_subjects: Option<DefaultSubjects>,
    /// email or iss_sub.
    #[arg(long, value_parser = parse_subject_format)]
    pub subject_format: Option<SubjectFormat>,
    /// The IdP's own OpenID issuer, for iss_sub subjects.
    #[arg(long)]
    pub idp_issuer: Option<String>,
    /// Do not verify receivers' TLS certificates on push.
    #[arg(long)]
    pub no_verify_tls: bool,
    #[arg(long)]
    pub min_verification_interval_seconds: Option<i64>,
    #[arg(long)]
    pub inactivity_timeout_seconds: Option<i64>,
    /// Import this PEM private key instead of generating one.
    #[arg(long)]
    pub private_key_file: Option<PathBuf>,
    /// Base of the issuer, as `ssf serve` is reached (`{public_url}/ssf/{slug}`).
    #[arg(long, env = "SSF_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
    pub public_url: String,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct ProviderRefArgs {
    /// The provider's id or slug.
    pub provider: String,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct ProviderDeleteArgs {
    /// The provider's id or slug.
    pub provider: String,
    /// Confirm: deleting cannot be undone and the slug is never given out again.
    #[arg(long)]
    pub yes: bool,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Subcommand)]
pub enum ReceiverCommand {
    /// Create a receiver; its bearer token is printed once.
    Create(ReceiverCreateArgs),
    /// List a provider's receivers (never their tokens).
    List(ReceiverListArgs),
    /// Revoke a receiver: its token stops working, its streams are disabled.
    Revoke(ReceiverRefArgs),
    /// Issue a new token for a receiver (printed once); the old one stops working.
    RotateToken(ReceiverRefArgs),
}

#[derive(Debug, Args)]
pub struct ReceiverCreateArgs {
    /// The provider's slug or id.
    #[arg(long)]
    pub provider: String,
    /// Shown to administrators.
    pub name: String,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct ReceiverListArgs {
    /// The provider's slug or id.
    #[arg(long)]
    pub provider: String,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct ReceiverRefArgs {
    /// The provider's slug or id.
    #[arg(long)]
    pub provider: String,
    /// The receiver's id.
    pub receiver: String,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct EmitArgs {
    /// The provider's slug or id.
    #[arg(long)]
    pub provider: String,
    /// The IdP event as JSON, e.g. '{"type":"session.logout","user":{"email":"a@example.com"}}';
    /// `-` reads it from standard input.
    pub event: String,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
pub struct EventsArgs {
    /// The stream's id.
    #[arg(long)]
    pub stream: String,
    /// pending, held, delivered, failed or expired.
    #[arg(long, value_parser = parse_event_status)]
    pub status: Option<EventStatus>,
    /// Events per page (1-500, default 50).
    #[arg(long)]
    pub limit: Option<u64>,
    /// The next cursor a previous page printed.
    #[arg(long)]
    pub cursor: Option<String>,
    #[command(flatten)]
    pub common: CommonArgs,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("what").required(true).args(["jti", "all_failed"]))]
pub struct RetryArgs {
    /// The stream's id.
    #[arg(long)]
    pub stream: String,
    /// Redrive this one event.
    #[arg(long)]
    pub jti: Option<String>,
    /// Redrive every failed event of the stream (oldest first, up to --limit).
    #[arg(long)]
    pub all_failed: bool,
    /// With --all-failed: also events that expired undelivered.
    #[arg(long, conflicts_with = "jti")]
    pub include_expired: bool,
    /// With --all-failed: at most this many (default 1000, at most 10000).
    #[arg(long, conflicts_with = "jti")]
    pub limit: Option<u64>,
    #[command(flatten)]
    pub common: CommonArgs,
}

fn parse_as<T: serde::de::DeserializeOwned>(value: &str, expected: &str) -> Result<T, String> {
    serde_json::from_value(serde_json::Value::String(value.to_owned()))
        .map_err(|_| format!("{value:?} is not one of {expected}"))
}

fn parse_alg(value: &str) -> Result<SigningAlg, String> {
    parse_as(value, "RS256, PS256, ES256, EdDSA")
}

fn parse_default_subjects(value: &str) -> Result<DefaultSubjects, String> {
    parse_as(&value.to_ascii_uppercase(), "ALL, NONE")
}

fn parse_subject_format(value: &str) -> Result<SubjectFormat, String> {
    parse_as(value, "email, iss_sub")
}

fn parse_event_status(value: &str) -> Result<EventStatus, String> {
    parse_as(value, "pending, held, delivered, failed, expired")
}

impl AdminCommand {
    fn common(&self) -> &CommonArgs {
        match self {
            AdminCommand::Provider(ProviderCommand::Create(a)) => &a.common,
            AdminCommand::Provider(ProviderCommand::List(a)) => &a.common,
            AdminCommand::Provider(ProviderCommand::Show(a)) => &a.common,
            AdminCommand::Provider(ProviderCommand::Delete(a)) => &a.common,
            AdminCommand::Receiver(ReceiverCommand::Create(a)) => &a.common,
            AdminCommand::Receiver(ReceiverCommand::List(a)) => &a.common,
            AdminCommand::Receiver(
                ReceiverCommand::Revoke(a) | ReceiverCommand::RotateToken(a),
            ) => &a.common,
            AdminCommand::Emit(a) => &a.common,
            AdminCommand::Events(a) => &a.common,
            AdminCommand::Retry(a) => &a.common,
        }
    }

    fn public_url(&self) -> &str {
        match self {
            AdminCommand::Provider(ProviderCommand::Create(a)) => &a.public_url,
            // Only the issuer of a new provider depends on it; everything else is in the database.
            _ => "http://127.0.0.1:8080",
        }
    }
}

/// Runs `command` and prints its output on standard output.
pub async fn run(command: AdminCommand) -> anyhow::Result<()> {
    let output = execute(command).await?;
    print!("{output}");
    Ok(())
}

/// Runs `command` against the database it names and returns what it would print. The actor
/// in the audit lines is `cli:$USER`.
pub async fn execute(command: AdminCommand) -> anyhow::Result<String> {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("USERNAME"))
        .ok();
    let common = command.common().clone();
    let db = open(&common.database_url).await?;
    let transmitter = Transmitter::new(db.clone(), TransmitterSettings::new(command.public_url()));
    let result = execute_on(&transmitter, &Actor::cli(user.as_deref()), command).await;
    db.close().await;
    result
}

async fn open(url: &str) -> anyhow::Result<Database> {
    let shown = redact_url(url);
    let db = Database::connect(
        url,
        &DbOptions {
            max_connections: 2,
            ..DbOptions::default()
        },
    )
    .await
    .with_context(|| format!("database {shown}"))?;
    // As `ssf serve` does, so the commands also work on a database no server has opened yet.
    db.migrate()
        .await
        .with_context(|| format!("database {shown}"))?;
    crate::migrate_queue(&db)
        .await
        .with_context(|| format!("database {shown}"))?;
    Ok(db)
}

/// Runs `command` on an open transmitter; returns the text to print.
pub async fn execute_on(
    transmitter: &Transmitter,
    actor: &Actor,
    command: AdminCommand,
) -> anyhow::Result<String> {
    let json = command.common().json;
    let db = transmitter.db();
    let conn = &db.orm;
    match command {
        AdminCommand::Provider(ProviderCommand::Create(args)) => {
            let private_key_pem =
                match &args.private_key_file {
                    Some(path) => Some(std::fs::read_to_string(path).with_context(|| {
                        format!("cannot read the private key {}", path.display())
                    })?),
                    None => None,
                };
            let request = CreateProvider {
                slug: args.slug,
                signing_alg: args.signing_alg,
                event_retention_seconds: args.event_retention_seconds,
                default_subjects: args.default_subjects,
                subject_format: args.subject_format,
                idp_issuer: args.idp_issuer,
                verify_tls: Some(!args.no_verify_tls),
                min_verification_interval_seconds: args.min_verification_interval_seconds,
                inactivity_timeout_seconds: args.inactivity_timeout_seconds,
                private_key_pem,
                ..CreateProvider::named(args.name)
            };
            let view = providers::create(db, transmitter.settings(), actor, request).await?;
            render(json, &view, provider_details)
        }
        AdminCommand::Provider(ProviderCommand::List(_)) => {
            render(json, &providers::list(conn).await?, provider_table)
        }
        AdminCommand::Provider(ProviderCommand::Show(args)) => {
            let provider = providers::find_by_id_or_slug(conn, &args.provider).await?;
            render(
                json,
                &providers::get(conn, &provider.id).await?,
                provider_details,
            )
        }
        AdminCommand::Provider(ProviderCommand::Delete(args)) => {
            let provider = providers::find_by_id_or_slug(conn, &args.provider).await?;
            if !args.yes {
                anyhow::bail!(
                    "deleting {} ({}) disables its streams and revokes its receivers, for good; repeat with --yes",
                    provider.slug,
                    provider.id
                );
            }
            render(
                json,
                &providers::delete(db, actor, &provider.id).await?,
                deleted_provider,
            )
        }
        AdminCommand::Receiver(ReceiverCommand::Create(args)) => {
            let provider = providers::find_by_id_or_slug(conn, &args.provider).await?;
            let created = receivers::create(
                conn,
                actor,
                &provider.id,
                CreateReceiver { name: args.name },
            )
            .await?;
            render(json, &created, receiver_token)
        }
        AdminCommand::Receiver(ReceiverCommand::List(args)) => {
            let provider = providers::find_by_id_or_slug(conn, &args.provider).await?;
            render(
                json,
                &receivers::list(conn, &provider.id).await?,
                receiver_table,
            )
        }
        AdminCommand::Receiver(ReceiverCommand::Revoke(args)) => {
            let provider = providers::find_by_id_or_slug(conn, &args.provider).await?;
            render(
                json,
                &receivers::revoke(transmitter, actor, &provider.id, &args.receiver).await?,
                revoked_receiver,
            )
        }
        AdminCommand::Receiver(ReceiverCommand::RotateToken(args)) => {
            let provider = providers::find_by_id_or_slug(conn, &args.provider).await?;
            let rotated =
                receivers::rotate_token(conn, actor, &provider.id, &args.receiver).await?;
            render(json, &rotated, receiver_token)
        }
        AdminCommand::Emit(args) => {
            let provider = providers::find_by_id_or_slug(conn, &args.provider).await?;
            let text = if args.event == "-" {
                let mut text = String::new();
                std::io::stdin()
                    .read_to_string(&mut text)
                    .context("cannot read the event from standard input")?;
                text
            } else {
                args.event
            };
            let event: IdpEvent = serde_json::from_str(&text)
                .context("not a valid IdP event (see docs/events.md)")?;
            let receipt = emit::emit(transmitter, actor, &provider.id, event).await?;
            render(json, &receipt, |r| {
                format!("txn {}: {} SET(s) recorded\n", r.txn, r.stream_events)
            })
        }
        AdminCommand::Events(args) => {
            let filter = EventFilter {
                status: args.status,
                txn: None,
                limit: args.limit,
                cursor: args.cursor,
            };
            render(
                json,
                &delivery_log::events(conn, &args.stream, filter).await?,
                event_table,
            )
        }
        AdminCommand::Retry(args) => match args.jti {
            Some(jti) => {
                let event = redrive::redrive_event(transmitter, actor, &args.stream, &jti).await?;
                render(json, &event, |e| {
                    let status = serde_json::to_value(e.status)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default();
                    format!("{}: {status}, due now\n", e.jti)
                })
            }
            None => {
                let request = RedriveFailed {
                    include_expired: args.include_expired,
                    limit: args.limit,
                    ..RedriveFailed::default()
                };
                let report =
                    redrive::redrive_failed(transmitter, actor, &args.stream, request).await?;
                render(json, &report, redrive_report)
            }
        },
    }
}

fn render<T: Serialize>(
    json: bool,
    value: &T,
    table: impl Fn(&T) -> String,
) -> anyhow::Result<String> {
    if json {
        let mut text =
            serde_json::to_string_pretty(value).context("cannot format the output as JSON")?;
        text.push('\n');
        Ok(text)
    } else {
        Ok(table(value))
    }
}

/// Columns padded to their widest cell, two spaces apart; the last column is not padded.
struct Table {
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(headers: &[&str]) -> Self {
        Self {
            rows: vec![headers.iter().map(|h| (*h).to_owned()).collect()],
        }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    fn render(&self) -> String {
        let columns = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..columns)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|cell| cell.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let mut out = String::new();
        for row in &self.rows {
            let mut line = String::new();
            for (c, cell) in row.iter().enumerate() {
                if c + 1 == row.len() {
                    line.push_str(cell);
                } else {
                    line.push_str(cell);
                    line.push_str(&" ".repeat(widths[c] - cell.chars().count() + 2));
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }
}

/// One field per line, names aligned.
fn details(fields: &[(&str, String)]) -> String {
    let mut table = Table { rows: Vec::new() };
    for (name, value) in fields {
        table.row(vec![format!("{name}:"), value.clone()]);
    }
    table.render()
}

fn when(time: &chrono::DateTime<chrono::Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn maybe_when(time: &Option<chrono::DateTime<chrono::Utc>>) -> String {
    time.as_ref().map(when).unwrap_or_else(|| "-".to_owned())
}

/// The serde name of an enum value (`RS256`, `ALL`, `failed`, ...).
fn name_of<T: Serialize>(value: &T) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn provider_details(p: &ProviderView) -> String {
    details(&[
        ("id", p.id.clone()),
        ("slug", p.slug.clone()),
        ("name", p.name.clone()),
        ("issuer", p.issuer.clone()),
        ("configuration_url", p.configuration_url.clone()),
        ("jwks_uri", p.jwks_uri.clone()),
        ("signing_alg", name_of(&p.signing_alg)),
        (
            "active_kid",
            p.active_kid.clone().unwrap_or_else(|| "-".to_owned()),
        ),
        (
            "event_retention_seconds",
            p.event_retention_seconds.to_string(),
        ),
        ("default_subjects", name_of(&p.default_subjects)),
        ("subject_format", name_of(&p.subject_format)),
        (
            "idp_issuer",
            p.idp_issuer.clone().unwrap_or_else(|| "-".to_owned()),
        ),
        ("verify_tls", p.verify_tls.to_string()),
        (
            "min_verification_interval_seconds",
            p.min_verification_interval_seconds.to_string(),
        ),
        (
            "inactivity_timeout_seconds",
            p.inactivity_timeout_seconds
                .map_or_else(|| "never".to_owned(), |t| t.to_string()),
        ),
        ("receivers", p.receivers.to_string()),
        ("streams", p.streams.to_string()),
        ("created_at", when(&p.created_at)),
    ])
}

fn provider_table(all: &Vec<ProviderView>) -> String {
    let mut table = Table::new(&[
        "SLUG",
        "NAME",
        "ALG",
        "RECEIVERS",
        "STREAMS",
        "ID",
        "ISSUER",
    ]);
    for p in all {
        table.row(vec![
            p.slug.clone(),
            p.name.clone(),
            name_of(&p.signing_alg),
            p.receivers.to_string(),
            p.streams.to_string(),
            p.id.clone(),
            p.issuer.clone(),
        ]);
    }
    table.render()
}

fn deleted_provider(d: &DeletedProvider) -> String {
    format!(
        "deleted provider {}: {} stream(s) disabled, {} undelivered event(s) expired, {} receiver(s) revoked\n",
        d.id, d.streams_disabled, d.events_expired, d.receivers_revoked
    )
}

fn receiver_token(r: &ReceiverWithToken) -> String {
    let mut text = details(&[
        ("id", r.id.clone()),
        ("name", r.name.clone()),
        ("token", r.token.clone()),
    ]);
    text.push_str("The token is shown once: give it to the receiver now.\n");
    text
}

fn receiver_table(all: &Vec<ReceiverView>) -> String {
    let mut table = Table::new(&["ID", "NAME", "CREATED", "LAST SEEN", "REVOKED", "STREAMS"]);
    for r in all {
        table.row(vec![
            r.id.clone(),
            r.name.clone(),
            when(&r.created_at),
            maybe_when(&r.last_seen_at),
            maybe_when(&r.revoked_at),
            r.streams.to_string(),
        ]);
    }
    table.render()
}

fn revoked_receiver(r: &RevokedReceiver) -> String {
    format!(
        "revoked receiver {}: {} stream(s) disabled\n",
        r.id, r.streams_disabled
    )
}

fn event_table(page: &EventPage) -> String {
    let mut table = Table::new(&[
        "JTI",
        "STATUS",
        "ATTEMPTS",
        "HTTP",
        "CREATED",
        "TYPE",
        "LAST ERROR",
    ]);
    for e in &page.events {
        let short_type = e
            .event_type
            .rsplit('/')
            .next()
            .unwrap_or(&e.event_type)
            .to_owned();
        table.row(vec![
            e.jti.clone(),
            name_of(&e.status),
            e.attempts.to_string(),
            e.last_http_status
                .map_or_else(|| "-".to_owned(), |s| s.to_string()),
            when(&e.created_at),
            short_type,
            e.last_error
                .clone()
                .unwrap_or_default()
                .replace(['\n', '\r'], " "),
        ]);
    }
    let mut text = table.render();
    if let Some(cursor) = &page.next_cursor {
        text.push_str(&format!("more: --cursor {cursor}\n"));
    }
    text
}

fn redrive_report(r: &RedriveReport) -> String {
    match r.remaining {
        0 => format!(
            "{} event(s) due again on stream {}\n",
            r.retried, r.stream_id
        ),
        left => format!(
            "{} event(s) due again on stream {}; {left} more match (run again)\n",
            r.retried, r.stream_id
        ),
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The program flattens [`AdminCommand`] into its own command enum, beside `serve`.
    #[derive(clap::Parser)]
    #[command(name = "ssf")]
    struct Program {
        #[command(subcommand)]
        command: ProgramCommand,
    }

    #[derive(Subcommand)]
    enum ProgramCommand {
        Serve,
        #[command(flatten)]
        Admin(Box<AdminCommand>),
    }

    #[test]
    fn the_commands_flatten_into_the_program() {
        use clap::{CommandFactory, Parser};
        Program::command().debug_assert();
        let parsed =
            Program::try_parse_from(["ssf", "retry", "--stream", "s", "--all-failed", "--json"])
                .unwrap();
        let ProgramCommand::Admin(command) = parsed.command else {
            panic!("not an admin command")
        };
        let AdminCommand::Retry(args) = *command else {
            panic!("not retry")
        };
        assert!(args.all_failed && args.common.json);
        assert!(Program::try_parse_from(["ssf", "serve"]).is_ok());
        assert!(
            Program::try_parse_from([
                "ssf",
                "retry",
                "--stream",
                "s",
                "--include-expired",
                "--jti",
                "j"
            ])
            .is_err()
        );
    }

    #[test]
    fn tables_align_columns() {
        let mut table = Table::new(&["A", "LONGER"]);
        table.row(vec!["wide cell".into(), "x".into()]);
        assert_eq!(table.render(), "A          LONGER\nwide cell  x\n");
    }

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(redact_url("postgres://u:pw@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact_url("sqlite://ssf.db"), "sqlite://ssf.db");
    }
}
