//! The `ssf` program as an operator meets it: starting on an empty directory, answering
//! `/healthz`, serving HTTPS, stopping on SIGTERM, and refusing bad configuration with one clear
//! line and a non-zero exit.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const SSF: &str = env!("CARGO_BIN_EXE_ssf");

/// A running `ssf serve`, killed on drop if the test did not stop it.
struct Server {
    child: Child,
    base_url: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_serve(dir: &Path, extra: &[&str]) -> Server {
    let mut child = Command::new(SSF)
        .arg("serve")
        .args([
            "--listen",
            "127.0.0.1:0",
            "--admin-token",
            "test-admin-token",
        ])
        .args(extra)
        .current_dir(dir)
        .env_remove("SSF_DATABASE_URL")
        .env_remove("SSF_PUBLIC_URL")
        .env("RUST_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ssf serve");
    let stderr = child.stderr.take().expect("stderr");
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.strip_prefix("ssf listening on ") {
                let url = rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                let _ = sender.send(url);
            }
        }
    });
    let base_url = receiver
        .recv_timeout(Duration::from_secs(60))
        .expect("ssf serve printed its address");
    Server { child, base_url }
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .tls_danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client")
}

fn terminate(server: &mut Server) -> std::process::ExitStatus {
    let pid = server.child.id() as i32;
    // SAFETY-free: `kill` the program with SIGTERM through the shell's kill(1).
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(status) = server.child.try_wait().expect("wait") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "ssf serve did not stop within 30 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn serve_starts_on_an_empty_directory_and_answers_healthz() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start_serve(dir.path(), &[]);
    assert!(
        dir.path().join("ssf.db").exists(),
        "the default SQLite file is created"
    );

    let response = client()
        .get(format!("{}/healthz", server.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], "ok");

    let status = terminate(&mut server);
    assert!(
        status.success(),
        "graceful shutdown exits 0, got {status:?}"
    );
}

#[tokio::test]
async fn serve_speaks_https_with_the_given_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = self_signed(dir.path());
    let server = start_serve(
        dir.path(),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
    );
    assert!(
        server.base_url.starts_with("https://"),
        "{}",
        server.base_url
    );
    let response = client()
        .get(format!("{}/healthz", server.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[test]
fn an_unsupported_database_url_is_one_clear_line_and_a_failure_exit() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(SSF)
        .args(["migrate", "--database-url", "mysql://root@localhost/ssf"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_one_error_line(&stderr, "unsupported database URL");
}

#[test]
fn an_unreachable_database_is_one_clear_line_and_a_failure_exit() {
    let dir = tempfile::tempdir().unwrap();
    // Port 1 on loopback: nothing listens there, so the connection is refused at once.
    let output = Command::new(SSF)
        .args([
            "migrate",
            "--database-url",
            "postgres://postgres:secret@127.0.0.1:1/ssf",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_one_error_line(&stderr, "cannot open the database");
    assert!(
        !stderr.contains("secret"),
        "the password is not printed: {stderr}"
    );
}

#[test]
fn a_port_in_use_is_one_clear_line_and_a_failure_exit() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let output = Command::new(SSF)
        .args(["serve", "--listen", &addr])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_one_error_line(&stderr, "address already in use");
    assert!(
        !dir.path().join("ssf.db").exists(),
        "nothing is created when the port is taken"
    );
}

#[test]
fn an_unreadable_tls_key_is_one_clear_line_and_a_failure_exit() {
    let dir = tempfile::tempdir().unwrap();
    let (cert, _) = self_signed(dir.path());
    let output = Command::new(SSF)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            "/nonexistent/key.pem",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_one_error_line(&stderr, "cannot read TLS private key /nonexistent/key.pem");
}

#[test]
fn migrate_applies_the_schema_to_a_new_sqlite_file_twice() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("m.db").display());
    for _ in 0..2 {
        let output = Command::new(SSF)
            .args(["migrate", "--database-url", &url])
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    assert!(dir.path().join("m.db").exists());
}

fn assert_one_error_line(stderr: &str, expected: &str) {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "exactly one line on stderr, got: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(
        lines[0].contains(expected),
        "expected {expected:?} in {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Writes a self-signed certificate for 127.0.0.1 and its key.
fn self_signed(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    use openssl::asn1::Asn1Time;
    use openssl::bn::BigNum;
    use openssl::ec::{EcGroup, EcKey};
    use openssl::hash::MessageDigest;
    use openssl::nid::Nid;
    use openssl::pkey::PKey;
    use openssl::x509::extension::SubjectAlternativeName;
    use openssl::x509::{X509Builder, X509NameBuilder};

    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let key = PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap();
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "127.0.0.1").unwrap();
    let name = name.build();
    let mut builder = X509Builder::new().unwrap();
    builder.set_version(2).unwrap();
    builder
        .set_serial_number(&BigNum::from_u32(1).unwrap().to_asn1_integer().unwrap())
        .unwrap();
    builder.set_subject_name(&name).unwrap();
    builder.set_issuer_name(&name).unwrap();
    builder.set_pubkey(&key).unwrap();
    builder
        .set_not_before(&Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    builder
        .set_not_after(&Asn1Time::days_from_now(1).unwrap())
        .unwrap();
    let san = SubjectAlternativeName::new()
        .ip("127.0.0.1")
        .build(&builder.x509v3_context(None, None))
        .unwrap();
    builder.append_extension(san).unwrap();
    builder.sign(&key, MessageDigest::sha256()).unwrap();
    let cert_path = dir.join("cert.pem");
    let key_path = dir.join("key.pem");
    std::fs::write(&cert_path, builder.build().to_pem().unwrap()).unwrap();
    std::fs::write(&key_path, key.private_key_to_pem_pkcs8().unwrap()).unwrap();
    (cert_path, key_path)
}

#[test]
fn the_demo_delivers_and_verifies_one_set_of_every_idp_event_type_and_a_polled_one() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(SSF)
        .arg("demo")
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let verified = stdout
        .lines()
        .filter(|l| l.contains("verified against the published JWKS"))
        .count();
    let samples = ssf_worker::demo::sample_events().len();
    assert_eq!(
        verified,
        samples + 1,
        "one per IdP event type plus the polled one:\n{stdout}"
    );
    assert!(
        stdout.contains("polled IdP event session.logout"),
        "{stdout}"
    );
    assert!(
        !dir.path().join("ssf.db").exists(),
        "the demo leaves no database behind in the working directory"
    );
}

#[test]
fn a_bad_key_encryption_key_is_one_clear_line_and_a_failure_exit() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(SSF)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("SSF_KEY_ENCRYPTION_KEY", "too-short")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_one_error_line(&stderr, "SSF_KEY_ENCRYPTION_KEY");
    assert!(
        !stderr.contains("too-short"),
        "the key's value is not echoed: {stderr}"
    );
}

#[test]
fn a_bad_worker_setting_names_the_variable() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(SSF)
        .args(["worker"])
        .env("SSF_MAX_ATTEMPTS", "zero")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_one_error_line(&stderr, "SSF_MAX_ATTEMPTS");
}

#[test]
fn bench_reports_a_burst_delivered_in_full_beside_the_limits() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(SSF)
        .args(["bench", "--events", "300", "--streams", "3"])
        .current_dir(dir.path())
        .env_remove("RUST_LOG")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let row = stdout
        .lines()
        .find(|l| l.starts_with("| SQLite | ES256 | 300 × 3 |"))
        .unwrap_or_else(|| panic!("no result row:\n{stdout}"));
    let numbers: Vec<f64> = row
        .split('|')
        .skip(4)
        .filter_map(|cell| cell.trim().trim_end_matches(" ms").parse().ok())
        .collect();
    assert_eq!(numbers.len(), 6, "{row}");
    assert!(
        numbers.iter().enumerate().all(|(i, n)| *n > 0.0 || i == 2),
        "rates and limits are measured, not zero: {row}"
    );
    assert!(
        !dir.path().join("ssf.db").exists(),
        "the bench leaves no database behind in the working directory"
    );

    let refused = Command::new(SSF)
        .args(["bench", "--events", "0"])
        .output()
        .unwrap();
    assert_eq!(refused.status.code(), Some(2), "clap refuses a burst of 0");
}
