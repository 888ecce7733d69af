//! The `ssf` administration commands (provider, receiver, emit, events, retry), parsed from
//! argument lists as the program parses them and run against a database, on SQLite and
//! PostgreSQL.

use clap::Parser;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::Value;
use ssf_entities::{EventStatus, stream_events};
use ssf_provider::db::{Database, DbOptions};
use ssf_provider::streams::{self, Caller, StreamRequest};
use ssf_provider::{Transmitter, TransmitterSettings, receivers};
use ssf_tests::wire_names::CREDENTIAL_CHANGE;
use ssf_tests::{TestDb, backend_tests};
use ssf_worker::admin_cli::{self, AdminCommand};

/// The commands as `ssf` nests them.
#[derive(Parser)]
#[command(name = "ssf")]
struct Cli {
    #[command(subcommand)]
    command: AdminCommand,
}

fn parse(db: &TestDb, args: &[&str]) -> AdminCommand {
    let mut argv = vec!["ssf"];
    argv.extend_from_slice(args);
    argv.extend_from_slice(&["--database-url", &db.url]);
    Cli::try_parse_from(argv)
        .unwrap_or_else(|e| panic!("{args:?}: {e}"))
        .command
}

async fn ssf(db: &TestDb, args: &[&str]) -> anyhow::Result<String> {
    admin_cli::execute(parse(db, args)).await
}

async fn ssf_json(db: &TestDb, args: &[&str]) -> Value {
    let mut args = args.to_vec();
    args.push("--json");
    let output = ssf(db, &args)
        .await
        .unwrap_or_else(|e| panic!("{args:?}: {e:#}"));
    serde_json::from_str(&output)
        .unwrap_or_else(|e| panic!("{args:?} printed no JSON ({e}): {output}"))
}

async fn open(db: &TestDb) -> Database {
    Database::connect(&db.url, &DbOptions::default())
        .await
        .expect("open")
}

backend_tests!(providers_are_managed_from_the_command_line, providers_body);
async fn providers_body(db: TestDb) {
    let created = ssf_json(
        &db,
        &[
            "provider",
            "create",
            "Acme SSO",
            "--slug",
            "acme",
            "--signing-alg",
            "ES256",
            "--public-url",
            "https://idp.example.com:443",
        ],
    )
    .await;
    assert_eq!(created["slug"], "acme");
    assert_eq!(created["issuer"], "https://idp.example.com:443/ssf/acme");
    assert_eq!(created["signing_alg"], "ES256");
    assert_eq!(created["event_retention_seconds"], 30 * 24 * 3600);

    let table = ssf(
        &db,
        &[
            "provider",
            "create",
            "Second One",
            "--default-subjects",
            "none",
            "--no-verify-tls",
        ],
    )
    .await
    .unwrap();
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("slug:") && l.ends_with(" second-one")),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("issuer:")
                && l.ends_with(" http://127.0.0.1:8080/ssf/second-one")),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("default_subjects:") && l.ends_with(" NONE")),
        "{table}"
    );
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("verify_tls:") && l.ends_with(" false")),
        "{table}"
    );

    let list = ssf(&db, &["provider", "list"]).await.unwrap();
    let lines: Vec<&str> = list.lines().collect();
    assert_eq!(lines.len(), 3, "{list}");
    assert!(lines[0].starts_with("SLUG"), "{list}");
    assert!(
        lines[1].starts_with("acme ") && lines[1].contains("ES256"),
        "{list}"
    );
    assert!(lines[2].starts_with("second-one "), "{list}");
    // Aligned: every row's second column starts where the header's does.
    let column = lines[0].find("NAME").unwrap();
    assert!(
        lines
            .iter()
            .skip(1)
            .all(|l| l[..column].ends_with("  ") && !l[column..].starts_with(' ')),
        "{list}"
    );
    assert_eq!(
        ssf_json(&db, &["provider", "list"])
            .await
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // Shown by slug or id.
    let by_slug = ssf_json(&db, &["provider", "show", "acme"]).await;
    assert_eq!(by_slug["id"], created["id"]);
    let by_id = ssf_json(&db, &["provider", "show", created["id"].as_str().unwrap()]).await;
    assert_eq!(by_id["slug"], "acme");
    let missing = ssf(&db, &["provider", "show", "nope"]).await.unwrap_err();
    assert!(
        format!("{missing:#}").contains("no such provider"),
        "{missing:#}"
    );

    // The same validation as the API, naming the field.
    let bad = ssf(&db, &["provider", "create", "Bad", "--slug", "Not Valid"])
        .await
        .unwrap_err();
    assert!(format!("{bad:#}").starts_with("slug:"), "{bad:#}");
    let taken = ssf(&db, &["provider", "create", "Again", "--slug", "acme"])
        .await
        .unwrap_err();
    assert!(format!("{taken:#}").contains("already in use"), "{taken:#}");
    let bad_retention = ssf(
        &db,
        &[
            "provider",
            "create",
            "Bad",
            "--event-retention-seconds",
            "0",
        ],
    )
    .await
    .unwrap_err();
    assert!(
        format!("{bad_retention:#}").starts_with("event_retention_seconds:"),
        "{bad_retention:#}"
    );
    assert!(
        Cli::try_parse_from(["ssf", "provider", "create", "x", "--signing-alg", "HS256"]).is_err()
    );

    // An imported key.
    let key = openssl::pkey::PKey::generate_ed25519().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.pem");
    std::fs::write(&path, key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    let imported = ssf(
        &db,
        &[
            "provider",
            "create",
            "Imported",
            "--signing-alg",
            "EdDSA",
            "--private-key-file",
            path.to_str().unwrap(),
        ],
    )
    .await
    .unwrap();
    assert!(!imported.contains("PRIVATE"), "{imported}");
    let imported = ssf_json(&db, &["provider", "show", "imported"]).await;
    let raw = key.raw_public_key().unwrap();
    let x = {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(raw)
    };
    let database = open(&db).await;
    let jwks = ssf_provider::signing_keys::jwks(&database.orm, imported["id"].as_str().unwrap())
        .await
        .unwrap();
    let published = serde_json::to_value(&jwks).unwrap();
    assert_eq!(
        published["keys"][0]["x"],
        x.as_str(),
        "the JWKS holds the imported key"
    );

    // Delete needs confirmation.
    let unconfirmed = ssf(&db, &["provider", "delete", "second-one"])
        .await
        .unwrap_err();
    assert!(
        format!("{unconfirmed:#}").contains("--yes"),
        "{unconfirmed:#}"
    );
    assert!(ssf_json(&db, &["provider", "show", "second-one"]).await["id"].is_string());
    let deleted = ssf(&db, &["provider", "delete", "second-one", "--yes"])
        .await
        .unwrap();
    assert!(deleted.starts_with("deleted provider"), "{deleted}");
    assert!(ssf(&db, &["provider", "show", "second-one"]).await.is_err());
}

backend_tests!(
    receivers_events_and_redrive_from_the_command_line,
    receivers_and_delivery_body
);
async fn receivers_and_delivery_body(db: TestDb) {
    let provider = ssf_json(&db, &["provider", "create", "Acme", "--slug", "acme"]).await;
    let provider_id = provider["id"].as_str().unwrap().to_owned();

    // The token printed once authenticates; the list never shows it.
    let created = ssf(&db, &["receiver", "create", "--provider", "acme", "CRM"])
        .await
        .unwrap();
    let token = created
        .lines()
        .find_map(|l| l.strip_prefix("token:").map(|t| t.trim().to_owned()))
        .unwrap_or_else(|| panic!("no token line: {created}"));
    let receiver_id = created
        .lines()
        .find_map(|l| l.strip_prefix("id:").map(|t| t.trim().to_owned()))
        .unwrap();
    let database = open(&db).await;
    let receiver = receivers::authenticate(&database.orm, &token)
        .await
        .unwrap()
        .expect("the printed token works");
    assert_eq!(receiver.id, receiver_id);
    let list = ssf(&db, &["receiver", "list", "--provider", "acme"])
        .await
        .unwrap();
    assert!(
        list.contains("CRM") && list.contains(&receiver_id),
        "{list}"
    );
    assert!(!list.contains(&token), "{list}");
    let listed = ssf_json(
        &db,
        &["receiver", "list", "--provider", provider_id.as_str()],
    )
    .await;
    assert!(listed[0].get("token").is_none());

    // A stream of that receiver, then an event emitted from the command line.
    let transmitter = Transmitter::new(
        database.clone(),
        TransmitterSettings::new("http://127.0.0.1:8080"),
    );
    let provider_model = ssf_provider::providers::find(&database.orm, &provider_id)
        .await
        .unwrap()
        .unwrap();
    let caller = Caller {
        provider: provider_model,
        owner: receiver.id.clone(),
        receiver_id: Some(receiver.id.clone()),
        default_audience: receiver.id.clone(),
    };
    let request = StreamRequest {
        events_requested: Some(vec![CREDENTIAL_CHANGE.to_owned()]),
        ..StreamRequest::default()
    };
    let stream = streams::create(&transmitter, &caller, request)
        .await
        .unwrap();
    let emitted = ssf(
        &db,
        &[
            "emit",
            "--provider",
            "acme",
            r#"{"type":"password.changed","user":{"email":"a@example.com"},"request_id":"req-9"}"#,
        ],
    )
    .await
    .unwrap();
    assert_eq!(emitted, "txn req-9: 1 SET(s) recorded\n");
    let bad_event = ssf(
        &db,
        &[
            "emit",
            "--provider",
            "acme",
            r#"{"type":"password.changed"}"#,
        ],
    )
    .await
    .unwrap_err();
    assert!(
        format!("{bad_event:#}").contains("not a valid IdP event"),
        "{bad_event:#}"
    );
    for i in 0..2 {
        ssf(
            &db,
            &[
                "emit",
                "--provider",
                "acme",
                &format!(r#"{{"type":"password.changed","user":{{"id":"u{i}"}}}}"#),
            ],
        )
        .await
        .unwrap();
    }

    let events = ssf_json(&db, &["events", "--stream", &stream.id]).await;
    let events = events["events"].as_array().unwrap().clone();
    assert_eq!(events.len(), 3);
    assert_eq!(events[2]["txn"], "req-9", "newest first");
    let paged = ssf(&db, &["events", "--stream", &stream.id, "--limit", "2"])
        .await
        .unwrap();
    assert!(paged.lines().next().unwrap().starts_with("JTI"), "{paged}");
    assert_eq!(
        paged.lines().filter(|l| l.contains("pending")).count(),
        2,
        "{paged}"
    );
    assert!(
        paged.lines().last().unwrap().starts_with("more: --cursor "),
        "{paged}"
    );

    // Two events failed; redrive one by jti, then the rest.
    let failed_jtis: Vec<String> = events[..2]
        .iter()
        .map(|e| e["jti"].as_str().unwrap().to_owned())
        .collect();
    stream_events::Entity::update_many()
        .col_expr(
            stream_events::Column::Status,
            Expr::value(EventStatus::Failed),
        )
        .col_expr(stream_events::Column::Attempts, Expr::value(8))
        .filter(stream_events::Column::Jti.is_in(failed_jtis.iter().map(String::as_str)))
        .exec(&database.orm)
        .await
        .unwrap();
    let failed = ssf(
        &db,
        &["events", "--stream", &stream.id, "--status", "failed"],
    )
    .await
    .unwrap();
    assert_eq!(failed.lines().count(), 3, "header + 2: {failed}");
    let one = ssf(
        &db,
        &["retry", "--stream", &stream.id, "--jti", &failed_jtis[0]],
    )
    .await
    .unwrap();
    assert_eq!(one, format!("{}: pending, due now\n", failed_jtis[0]));
    let again = ssf(
        &db,
        &["retry", "--stream", &stream.id, "--jti", &failed_jtis[0]],
    )
    .await
    .unwrap_err();
    assert!(
        format!("{again:#}").contains("only failed or expired"),
        "{again:#}"
    );
    let rest = ssf_json(&db, &["retry", "--stream", &stream.id, "--all-failed"]).await;
    assert_eq!(rest["retried"], 1);
    assert_eq!(rest["remaining"], 0);
    let pending = ssf_json(
        &db,
        &["events", "--stream", &stream.id, "--status", "pending"],
    )
    .await;
    assert_eq!(pending["events"].as_array().unwrap().len(), 3);
    assert_eq!(pending["events"][1]["attempts"], 8, "attempts are kept");
    assert!(
        Cli::try_parse_from(["ssf", "retry", "--stream", "s"]).is_err(),
        "--jti or --all-failed is required"
    );
    assert!(
        Cli::try_parse_from([
            "ssf",
            "retry",
            "--stream",
            "s",
            "--jti",
            "j",
            "--all-failed"
        ])
        .is_err()
    );

    // Revocation cuts the token off at once.
    let revoked = ssf(
        &db,
        &["receiver", "revoke", "--provider", "acme", &receiver_id],
    )
    .await
    .unwrap();
    assert_eq!(
        revoked,
        format!("revoked receiver {receiver_id}: 1 stream(s) disabled\n")
    );
    assert!(
        receivers::authenticate(&database.orm, &token)
            .await
            .unwrap()
            .is_none()
    );
    let rotate = ssf(
        &db,
        &[
            "receiver",
            "rotate-token",
            "--provider",
            "acme",
            &receiver_id,
        ],
    )
    .await
    .unwrap_err();
    assert!(format!("{rotate:#}").contains("revoked"), "{rotate:#}");
    database.close().await;
}

/// Collects what the subscriber writes.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread")]
async fn every_change_leaves_an_audit_line_without_secrets() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_env_filter("ssf::audit=info")
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let db = TestDb::sqlite();
    let key = openssl::pkey::PKey::generate_ed25519().unwrap();
    let pem = String::from_utf8(key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("key.pem");
    std::fs::write(&path, &pem).unwrap();
    ssf(
        &db,
        &[
            "provider",
            "create",
            "Acme",
            "--slug",
            "acme",
            "--signing-alg",
            "EdDSA",
            "--private-key-file",
            path.to_str().unwrap(),
        ],
    )
    .await
    .unwrap();
    let created = ssf_json(&db, &["receiver", "create", "--provider", "acme", "CRM"]).await;
    let token = created["token"].as_str().unwrap();
    let receiver_id = created["id"].as_str().unwrap();
    let rotated = ssf_json(
        &db,
        &[
            "receiver",
            "rotate-token",
            "--provider",
            "acme",
            receiver_id,
        ],
    )
    .await;
    ssf(
        &db,
        &["receiver", "revoke", "--provider", "acme", receiver_id],
    )
    .await
    .unwrap();
    // Reads leave no audit line.
    ssf(&db, &["provider", "list"]).await.unwrap();

    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<&str> = log.lines().collect();
    assert_eq!(lines.len(), 4, "{log}");
    for (line, action) in lines.iter().zip([
        "provider.create",
        "receiver.create",
        "receiver.rotate_token",
        "receiver.revoke",
    ]) {
        assert!(line.contains(&format!("action=\"{action}\"")), "{line}");
        assert!(line.contains("actor=\"cli"), "{line}");
        assert!(line.contains(" at="), "{line}");
    }
    assert!(lines[1].contains(receiver_id) && lines[3].contains(receiver_id));
    assert!(
        !log.contains(token) && !log.contains(rotated["token"].as_str().unwrap()),
        "no token in the audit trail"
    );
    assert!(
        !log.contains("PRIVATE KEY") && !log.contains(pem.lines().nth(1).unwrap()),
        "no key in the audit trail"
    );
}
