//! Shared set-up of the admin API tests: a real server on 127.0.0.1:0 serving the SSF API and
//! the admin API over a fresh database, a small HTTP client, and SET verification with josekit.

#![allow(dead_code)]

use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use ssf_provider::{Transmitter, TransmitterSettings};
use ssf_tests::TestDb;
pub use ssf_tests::http_reply::{self, Reply};
pub use ssf_tests::wire_names::*;

pub const ADMIN_TOKEN: &str = "admin-test-token-5f2c9d1e";
pub const ADMIN: &str = "/admin/api/v1";

/// A running server: SSF API, admin API and `/openapi.json`.
pub struct AdminServer {
    pub base: String,
    pub transmitter: Transmitter,
    pub client: reqwest::Client,
    _db: TestDb,
    _serve: tokio::task::JoinHandle<()>,
}

/// Starts the server; push endpoints on loopback are allowed (the tests' receivers live there).
pub async fn start(db: TestDb) -> AdminServer {
    let database = db.open().await;
    ssf_worker::migrate_queue(&database)
        .await
        .expect("queue migrations");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let mut settings = TransmitterSettings::new(base.clone());
    settings.allow_insecure_endpoints = true;
    settings.max_long_poll = std::time::Duration::from_secs(2);
    let transmitter = Transmitter::new(database, settings);
    let app = ssf_provider::http::router(transmitter.clone()).merge(
        ssf_provider::http::admin::router(transmitter.clone(), ADMIN_TOKEN),
    );
    let serve = tokio::spawn(async move {
        axum::serve(listener, app).await.expect("serve");
    });
    AdminServer {
        base,
        transmitter,
        client: reqwest::Client::new(),
        _db: db,
        _serve: serve,
    }
}

impl AdminServer {
    pub async fn send(
        &self,
        method: Method,
        url: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> Reply {
        http_reply::send(&self.client, method, url, token, body).await
    }

    /// An admin API request with the admin token.
    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.send(
            method,
            &format!("{}{ADMIN}{path}", self.base),
            Some(ADMIN_TOKEN),
            body.map(|b| b.to_string()),
        )
        .await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.admin(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.admin(Method::POST, path, Some(body)).await
    }

    /// Creates a provider through the admin API (asserting 201).
    pub async fn create_provider(&self, body: Value) -> Value {
        let reply = self.post("/providers", body).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        reply.json()
    }

    /// Creates a receiver through the admin API; returns (id, token).
    pub async fn create_receiver(&self, provider_id: &str, name: &str) -> (String, String) {
        let reply = self
            .post(
                &format!("/providers/{provider_id}/receivers"),
                json!({"name": name}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        let body = reply.json();
        (
            body["id"].as_str().unwrap().to_owned(),
            body["token"].as_str().unwrap().to_owned(),
        )
    }

    /// Creates a stream through the SSF API with a receiver token (asserting 201).
    pub async fn create_stream(&self, provider: &Value, token: &str, body: Value) -> Value {
        let url = format!("{}/streams", provider["issuer"].as_str().unwrap());
        let reply = self
            .send(Method::POST, &url, Some(token), Some(body.to_string()))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        reply.json()
    }

    /// Emits an IdP event through the admin API (asserting 202); returns the receipt.
    pub async fn emit(&self, provider_id: &str, event: Value) -> Value {
        let reply = self
            .post(&format!("/providers/{provider_id}/events"), event)
            .await;
        assert_eq!(reply.status, StatusCode::ACCEPTED, "{}", reply.text);
        reply.json()
    }

    /// Polls a poll stream with the receiver token, acknowledging `ack`.
    pub async fn poll(&self, stream: &Value, token: &str, ack: &[&str]) -> Value {
        let url = stream["delivery"]["endpoint_url"].as_str().unwrap();
        let body = json!({"ack": ack, "returnImmediately": true, "maxEvents": 100});
        let reply = self
            .send(Method::POST, url, Some(token), Some(body.to_string()))
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.json()
    }

    /// The provider's JWKS as published (via `jwks_uri`).
    pub async fn jwks(&self, provider: &Value) -> Vec<u8> {
        let reply = self
            .send(
                Method::GET,
                provider["jwks_uri"].as_str().unwrap(),
                None,
                None,
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        reply.text.into_bytes()
    }
}

/// A password change of `email`, as the IdP reports it.
pub fn password_changed(email: &str) -> Value {
    json!({"type": "password.changed", "user": {"email": email}})
}

/// The header of a compact JWS.
pub fn jws_header(token: &str) -> Value {
    let header = token.split('.').next().expect("header");
    serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(header)
            .expect("base64url"),
    )
    .expect("JSON header")
}

/// Verifies a SET with josekit (an independent JOSE implementation) against `jwks`, and
/// returns its claims.
pub fn verify_with_josekit(jwks: &[u8], token: &str) -> Value {
    let jwks = josekit::jwk::JwkSet::from_bytes(jwks).expect("JWKS parses");
    let header = jws_header(token);
    assert_eq!(header["typ"], "secevent+jwt");
    let kid = header["kid"].as_str().expect("kid");
    let jwk = *jwks
        .get(kid)
        .first()
        .unwrap_or_else(|| panic!("the key {kid} is not in the JWKS"));
    let (payload, _) = match header["alg"].as_str().expect("alg") {
        "RS256" => josekit::jws::deserialize_compact(
            token,
            &josekit::jws::RS256
                .verifier_from_jwk(jwk)
                .expect("RS256 key"),
        ),
        "PS256" => josekit::jws::deserialize_compact(
            token,
            &josekit::jws::PS256
                .verifier_from_jwk(jwk)
                .expect("PS256 key"),
        ),
        "ES256" => josekit::jws::deserialize_compact(
            token,
            &josekit::jws::ES256
                .verifier_from_jwk(jwk)
                .expect("ES256 key"),
        ),
        "EdDSA" => josekit::jws::deserialize_compact(
            token,
            &josekit::jws::EdDSA
                .verifier_from_jwk(jwk)
                .expect("EdDSA key"),
        ),
        other => panic!("unexpected alg {other}"),
    }
    .expect("the signature verifies");
    serde_json::from_slice(&payload).expect("JSON claims")
}
