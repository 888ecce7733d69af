//! The admin API's configuration side over HTTP: authentication, providers, receivers, keys,
//! and the OpenAPI document, on SQLite and PostgreSQL.

mod admin_support;

use std::collections::BTreeSet;

use admin_support::*;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use ssf_tests::{TestDb, backend_tests};

backend_tests!(
    every_route_needs_the_admin_token,
    every_route_needs_the_admin_token_body
);
async fn every_route_needs_the_admin_token_body(db: TestDb) {
    let server = start(db).await;
    let provider = server.create_provider(json!({"name": "Acme"})).await;
    let id = provider["id"].as_str().unwrap();
    for (method, path) in ssf_provider::http::admin::served_routes() {
        let url = format!(
            "{}{}",
            server.base,
            path.replace("{id}", id)
                .replace("{receiver_id}", "r")
                .replace("{stream_id}", "s")
                .replace("{jti}", "j")
        );
        let method = Method::from_bytes(method.as_str().as_bytes()).unwrap();
        let missing = server
            .send(method.clone(), &url, None, Some("{}".into()))
            .await;
        assert_eq!(
            missing.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path} without a token"
        );
        assert_eq!(missing.error_code(), "missing_token");
        assert_eq!(missing.header("www-authenticate"), Some("Bearer"));
        let wrong = server
            .send(
                method.clone(),
                &url,
                Some("admin-test-token-5f2c9d1f"),
                Some("{}".into()),
            )
            .await;
        assert_eq!(
            wrong.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path} with a wrong token"
        );
        assert_eq!(wrong.error_code(), "invalid_token");
        // A receiver token is no admin token.
        let (_, receiver_token) = server
            .create_receiver(id, &format!("r-{method}-{path}"))
            .await;
        let receiver = server
            .send(
                method.clone(),
                &url,
                Some(&receiver_token),
                Some("{}".into()),
            )
            .await;
        assert_eq!(
            receiver.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path} with a receiver token"
        );
    }
    // Nothing changed: still exactly the one provider.
    let list = server.get("/providers").await.json();
    assert_eq!(list.as_array().unwrap().len(), 1);
}

backend_tests!(
    providers_are_created_read_changed_and_deleted,
    providers_crud_body
);
async fn providers_crud_body(db: TestDb) {
    let server = start(db).await;
    let created = server
        .create_provider(json!({"name": "Acme SSO (prod)"}))
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["slug"], "acme-sso-prod");
    assert_eq!(
        created["issuer"],
        format!("{}/ssf/acme-sso-prod", server.base)
    );
    assert_eq!(
        created["configuration_url"],
        format!(
            "{}/.well-known/ssf-configuration/ssf/acme-sso-prod",
            server.base
        )
    );
    assert_eq!(created["signing_alg"], "RS256");
    assert_eq!(created["event_retention_seconds"], 30 * 24 * 3600);
    assert_eq!(created["default_subjects"], "ALL");
    assert_eq!(created["verify_tls"], true);
    assert!(created["active_kid"].is_string());

    // The configuration URL it hands out works, and names the same issuer.
    let discovery = server
        .send(
            Method::GET,
            created["configuration_url"].as_str().unwrap(),
            None,
            None,
        )
        .await;
    assert_eq!(discovery.status, StatusCode::OK, "{}", discovery.text);
    assert_eq!(discovery.json()["issuer"], created["issuer"]);

    let other = server
        .create_provider(json!({"name": "Other", "slug": "other", "signing_alg": "EdDSA", "default_subjects": "NONE",
                                "event_retention_seconds": 3600, "verify_tls": false, "inactivity_timeout_seconds": 86400}))
        .await;
    assert_eq!(other["slug"], "other");
    assert_eq!(other["signing_alg"], "EdDSA");
    assert_eq!(other["default_subjects"], "NONE");
    assert_eq!(other["verify_tls"], false);
    assert_eq!(other["inactivity_timeout_seconds"], 86400);

    let list = server.get("/providers").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.header("cache-control"), Some("no-store"));
    let slugs: Vec<Value> = list
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["slug"].clone())
        .collect();
    assert_eq!(slugs, [json!("acme-sso-prod"), json!("other")]);
    assert_eq!(
        server.get(&format!("/providers/{id}")).await.json()["name"],
        "Acme SSO (prod)"
    );
    let missing = server.get("/providers/no-such-id").await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.error_code(), "not_found");

    let duplicate = server
        .post("/providers", json!({"name": "Again", "slug": "other"}))
        .await;
    assert_eq!(duplicate.status, StatusCode::CONFLICT);
    assert_eq!(duplicate.error_code(), "slug_taken");

    // PATCH changes what it names and nothing else.
    let patched = server
        .admin(
            Method::PATCH,
            &format!("/providers/{id}"),
            Some(json!({"name": "Acme", "event_retention_seconds": 7200, "verify_tls": false})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    let patched = patched.json();
    assert_eq!(patched["name"], "Acme");
    assert_eq!(patched["event_retention_seconds"], 7200);
    assert_eq!(patched["verify_tls"], false);
    assert_eq!(patched["slug"], "acme-sso-prod");
    assert_eq!(patched["issuer"], created["issuer"]);
    assert_eq!(patched["active_kid"], created["active_kid"]);
    let same_slug = server
        .admin(
            Method::PATCH,
            &format!("/providers/{id}"),
            Some(json!({"slug": "acme-sso-prod"})),
        )
        .await;
    assert_eq!(same_slug.status, StatusCode::OK);
    let new_slug = server
        .admin(
            Method::PATCH,
            &format!("/providers/{id}"),
            Some(json!({"slug": "renamed"})),
        )
        .await;
    assert_eq!(new_slug.status, StatusCode::BAD_REQUEST);
    assert!(
        new_slug.description().starts_with("slug:"),
        "{}",
        new_slug.text
    );
    let unknown = server
        .admin(
            Method::PATCH,
            "/providers/no-such-id",
            Some(json!({"name": "x"})),
        )
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    // A new algorithm rotates the key: the new key is active, the old one still published.
    let rotated = server
        .admin(
            Method::PATCH,
            &format!("/providers/{id}"),
            Some(json!({"signing_alg": "ES256"})),
        )
        .await
        .json();
    assert_eq!(rotated["signing_alg"], "ES256");
    assert_ne!(rotated["active_kid"], created["active_kid"]);
    let keys = server.get(&format!("/providers/{id}/keys")).await.json();
    assert_eq!(keys[0]["alg"], "ES256");
    assert_eq!(keys[0]["state"], "active");
    assert_eq!(keys[1]["kid"], created["active_kid"]);
    assert_eq!(keys[1]["state"], "retiring");

    // Delete: gone from the API, discovery and JWKS; the slug stays taken.
    let (_, token) = server.create_receiver(&id, "crm").await;
    let streams_url = format!("{}/streams", created["issuer"].as_str().unwrap());
    assert_eq!(
        server
            .send(Method::GET, &streams_url, Some(&token), None)
            .await
            .status,
        StatusCode::OK
    );
    let deleted = server
        .admin(Method::DELETE, &format!("/providers/{id}"), None)
        .await;
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.text);
    assert_eq!(deleted.json()["receivers_revoked"], 1);
    assert_eq!(
        server.get(&format!("/providers/{id}")).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server
            .admin(Method::DELETE, &format!("/providers/{id}"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let discovery = server
        .send(
            Method::GET,
            created["configuration_url"].as_str().unwrap(),
            None,
            None,
        )
        .await;
    assert_eq!(discovery.status, StatusCode::NOT_FOUND);
    assert_eq!(
        server
            .send(
                Method::GET,
                created["jwks_uri"].as_str().unwrap(),
                None,
                None
            )
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_ne!(
        server
            .send(Method::GET, &streams_url, Some(&token), None)
            .await
            .status,
        StatusCode::OK
    );
    let reuse = server
        .post(
            "/providers",
            json!({"name": "Acme", "slug": "acme-sso-prod"}),
        )
        .await;
    assert_eq!(reuse.status, StatusCode::CONFLICT);
    let list = server.get("/providers").await.json();
    assert_eq!(list.as_array().unwrap().len(), 1);
}

backend_tests!(
    invalid_provider_input_is_a_400_naming_the_field,
    invalid_provider_input_body
);
async fn invalid_provider_input_body(db: TestDb) {
    let server = start(db).await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({}), "name"),
        (json!({"name": ""}), "name"),
        (json!({"name": "x".repeat(201)}), "name"),
        (json!({"name": 42}), "name"),
        (json!({"name": "a", "slug": "Has Spaces"}), "slug"),
        (json!({"name": "a", "signing_alg": "HS256"}), "signing_alg"),
        (
            json!({"name": "a", "event_retention_seconds": 0}),
            "event_retention_seconds",
        ),
        (
            json!({"name": "a", "event_retention_seconds": "long"}),
            "event_retention_seconds",
        ),
        (
            json!({"name": "a", "event_retention_seconds": 9_000_000_000_000_000_000u64}),
            "event_retention_seconds",
        ),
        (
            json!({"name": "a", "default_subjects": "SOME"}),
            "default_subjects",
        ),
        (
            json!({"name": "a", "subject_format": "iss_sub"}),
            "idp_issuer",
        ),
        (json!({"name": "a", "idp_issuer": "ftp://x"}), "idp_issuer"),
        (json!({"name": "a", "verify_tls": "yes"}), "verify_tls"),
        (
            json!({"name": "a", "min_verification_interval_seconds": -1}),
            "min_verification_interval_seconds",
        ),
        (
            json!({"name": "a", "inactivity_timeout_seconds": 0}),
            "inactivity_timeout_seconds",
        ),
        (
            json!({"name": "a", "private_key_pem": "not a key"}),
            "private_key_pem",
        ),
        (
            json!({"name": "a", "issuer": "https://evil.example"}),
            "issuer",
        ),
    ];
    for (body, field) in cases {
        let reply = server.post("/providers", body.clone()).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{body}: {}",
            reply.text
        );
        assert_eq!(reply.error_code(), "invalid_request", "{body}");
        assert!(
            reply.description().contains(field),
            "{body}: {} should name {field}",
            reply.description()
        );
    }
    let not_json = server
        .send(
            Method::POST,
            &format!("{}{ADMIN}/providers", server.base),
            Some(ADMIN_TOKEN),
            Some("{".into()),
        )
        .await;
    assert_eq!(not_json.status, StatusCode::BAD_REQUEST);
    assert_eq!(not_json.error_code(), "invalid_json");
    let too_big = server
        .post(
            "/providers",
            json!({"name": "a", "private_key_pem": "x".repeat(100_000)}),
        )
        .await;
    assert_eq!(too_big.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Nothing was created by any of it.
    assert_eq!(server.get("/providers").await.json(), json!([]));
}

backend_tests!(
    a_provider_is_created_with_its_imported_key_or_not_at_all,
    provider_with_key_body
);
async fn provider_with_key_body(db: TestDb) {
    use sea_orm::{EntityTrait, PaginatorTrait};
    use ssf_entities::{KeyState, SigningAlg, providers as provider_rows, signing_keys};
    use ssf_provider::TransmitterSettings;
    use ssf_provider::jose::SigningKey;
    use ssf_provider::providers::{self, NewProvider, ProviderError};

    let db = db.open().await;
    let settings = TransmitterSettings::new("https://idp.example");
    let key = SigningKey::generate(SigningAlg::ES256).unwrap();

    // A key for another algorithm is refused before anything is written.
    let refused =
        providers::create_provider_with_key(&db, &settings, NewProvider::new("RSA"), &key)
            .await
            .unwrap_err();
    assert!(matches!(refused, ProviderError::Invalid(_)), "{refused}");
    assert_eq!(
        provider_rows::Entity::find().count(&db.orm).await.unwrap(),
        0
    );
    assert_eq!(
        signing_keys::Entity::find().count(&db.orm).await.unwrap(),
        0
    );

    // Created with it: the imported key is the provider's only key, and it signs.
    let mut new = NewProvider::new("EC");
    new.signing_alg = SigningAlg::ES256;
    let provider = providers::create_provider_with_key(&db, &settings, new, &key)
        .await
        .unwrap();
    let rows = signing_keys::Entity::find().all(&db.orm).await.unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].provider_id, provider.id);
    assert_eq!(rows[0].kid, key.kid());
    assert_eq!(rows[0].state, KeyState::Active);
    let active = ssf_provider::signing_keys::active_key(&db.orm, &provider)
        .await
        .unwrap();
    assert_eq!(active.kid(), key.kid());
}

backend_tests!(an_imported_key_signs_and_is_never_shown, imported_key_body);
async fn imported_key_body(db: TestDb) {
    let server = start(db).await;
    let ec = openssl::ec::EcKey::generate(
        &openssl::ec::EcGroup::from_curve_name(openssl::nid::Nid::X9_62_PRIME256V1).unwrap(),
    )
    .unwrap();
    let pem = String::from_utf8(
        openssl::pkey::PKey::from_ec_key(ec.clone())
            .unwrap()
            .private_key_to_pem_pkcs8()
            .unwrap(),
    )
    .unwrap();
    let wrong_alg = server
        .post(
            "/providers",
            json!({"name": "Imported", "private_key_pem": pem}),
        )
        .await;
    assert_eq!(wrong_alg.status, StatusCode::BAD_REQUEST);
    assert!(
        wrong_alg.description().starts_with("private_key_pem"),
        "{}",
        wrong_alg.text
    );
    assert!(!wrong_alg.text.contains("PRIVATE KEY"));

    let reply = server
        .post(
            "/providers",
            json!({"name": "Imported", "signing_alg": "ES256", "private_key_pem": pem}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert!(!reply.text.contains("PRIVATE KEY"));
    let provider = reply.json();
    let id = provider["id"].as_str().unwrap();
    let keys = server.get(&format!("/providers/{id}/keys")).await;
    assert!(
        !keys.text.contains("PRIVATE") && !keys.text.contains("\"d\""),
        "{}",
        keys.text
    );
    let keys = keys.json();
    assert_eq!(
        keys.as_array().unwrap().len(),
        1,
        "only the imported key: {keys}"
    );
    assert_eq!(keys[0]["kid"], provider["active_kid"]);

    // The JWKS publishes the imported key's public half: its coordinates match ours.
    let jwks: Value = serde_json::from_slice(&server.jwks(&provider).await).unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    let mut ctx = openssl::bn::BigNumContext::new().unwrap();
    let (mut x, mut y) = (
        openssl::bn::BigNum::new().unwrap(),
        openssl::bn::BigNum::new().unwrap(),
    );
    ec.public_key()
        .affine_coordinates(ec.group(), &mut x, &mut y, &mut ctx)
        .unwrap();
    let b64 = |n: &openssl::bn::BigNum| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(n.to_vec_padded(32).unwrap())
    };
    assert_eq!(jwks["keys"][0]["x"], b64(&x));
    assert_eq!(jwks["keys"][0]["y"], b64(&y));
    assert_eq!(jwks["keys"][0]["kid"], provider["active_kid"]);
}

backend_tests!(
    receivers_get_tokens_that_rotate_and_revoke_at_once,
    receivers_body
);
async fn receivers_body(db: TestDb) {
    let server = start(db).await;
    let provider = server.create_provider(json!({"name": "Acme"})).await;
    let id = provider["id"].as_str().unwrap();
    let streams_url = format!("{}/streams", provider["issuer"].as_str().unwrap());

    let created = server
        .post(
            &format!("/providers/{id}/receivers"),
            json!({"name": "CRM"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let created = created.json();
    let receiver_id = created["id"].as_str().unwrap().to_owned();
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.len() >= 32);
    assert_eq!(
        server
            .send(Method::GET, &streams_url, Some(&token), None)
            .await
            .status,
        StatusCode::OK
    );

    let list = server.get(&format!("/providers/{id}/receivers")).await;
    assert_eq!(list.status, StatusCode::OK);
    assert!(!list.text.contains(&token), "a list never shows a token");
    assert!(!list.text.contains("token"), "{}", list.text);
    assert_eq!(list.json()[0]["name"], "CRM");
    assert!(list.json()[0]["revoked_at"].is_null());

    for (body, field) in [
        (json!({"name": " "}), "name"),
        (json!({}), "name"),
        (json!({"name": "a", "token": "x"}), "token"),
    ] {
        let bad = server
            .post(&format!("/providers/{id}/receivers"), body)
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST);
        assert!(bad.description().contains(field), "{}", bad.text);
    }
    assert_eq!(
        server
            .post("/providers/nope/receivers", json!({"name": "x"}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // Rotation: the old token stops working at once, the new one works.
    let rotated = server
        .post(
            &format!("/providers/{id}/receivers/{receiver_id}/token"),
            json!({}),
        )
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text);
    let new_token = rotated.json()["token"].as_str().unwrap().to_owned();
    assert_ne!(new_token, token);
    assert_eq!(
        server
            .send(Method::GET, &streams_url, Some(&token), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        server
            .send(Method::GET, &streams_url, Some(&new_token), None)
            .await
            .status,
        StatusCode::OK
    );

    // Revocation cuts access with the very next request.
    let stream = server
        .create_stream(
            &provider,
            &new_token,
            json!({"events_requested": [CREDENTIAL_CHANGE]}),
        )
        .await;
    let revoked = server
        .admin(
            Method::DELETE,
            &format!("/providers/{id}/receivers/{receiver_id}"),
            None,
        )
        .await;
    assert_eq!(revoked.status, StatusCode::OK, "{}", revoked.text);
    assert_eq!(revoked.json()["streams_disabled"], 1);
    assert_eq!(
        server
            .send(Method::GET, &streams_url, Some(&new_token), None)
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let overview = server
        .get(&format!(
            "/streams/{}",
            stream["stream_id"].as_str().unwrap()
        ))
        .await
        .json();
    assert_eq!(overview["status"], "disabled");
    let listed = server
        .get(&format!("/providers/{id}/receivers"))
        .await
        .json();
    assert!(listed[0]["revoked_at"].is_string(), "{listed}");

    let again = server
        .admin(
            Method::DELETE,
            &format!("/providers/{id}/receivers/{receiver_id}"),
            None,
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.error_code(), "receiver_revoked");
    let rotate_revoked = server
        .post(
            &format!("/providers/{id}/receivers/{receiver_id}/token"),
            json!({}),
        )
        .await;
    assert_eq!(rotate_revoked.status, StatusCode::CONFLICT);
    assert_eq!(
        server
            .admin(
                Method::DELETE,
                &format!("/providers/{id}/receivers/nope"),
                None
            )
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // A receiver of one provider is not found under another.
    let other = server.create_provider(json!({"name": "Other"})).await;
    let (other_receiver, _) = server
        .create_receiver(other["id"].as_str().unwrap(), "x")
        .await;
    let cross = server
        .admin(
            Method::DELETE,
            &format!("/providers/{id}/receivers/{other_receiver}"),
            None,
        )
        .await;
    assert_eq!(cross.status, StatusCode::NOT_FOUND);
}

backend_tests!(
    key_rotation_keeps_the_old_key_published_for_the_grace_period,
    key_rotation_body
);
async fn key_rotation_body(db: TestDb) {
    let server = start(db).await;
    let provider = server
        .create_provider(json!({"name": "Acme", "event_retention_seconds": 3600}))
        .await;
    let id = provider["id"].as_str().unwrap();
    let keys = server.get(&format!("/providers/{id}/keys")).await.json();
    assert_eq!(keys.as_array().unwrap().len(), 1);
    assert_eq!(keys[0]["state"], "active");
    assert_eq!(keys[0]["published"], true);
    let old_kid = keys[0]["kid"].as_str().unwrap().to_owned();

    let rotated = server
        .admin(Method::POST, &format!("/providers/{id}/keys/rotate"), None)
        .await;
    assert_eq!(rotated.status, StatusCode::OK, "{}", rotated.text);
    let keys = rotated.json();
    assert_eq!(keys[0]["state"], "active");
    assert_ne!(keys[0]["kid"], old_kid.as_str());
    assert_eq!(keys[1]["kid"], old_kid.as_str());
    assert_eq!(keys[1]["state"], "retiring");
    assert_eq!(keys[1]["published"], true);
    let retiring_since =
        chrono::DateTime::parse_from_rfc3339(keys[1]["retiring_since"].as_str().unwrap()).unwrap();
    let retire_after =
        chrono::DateTime::parse_from_rfc3339(keys[1]["retire_after"].as_str().unwrap()).unwrap();
    assert_eq!(
        (retire_after - retiring_since).num_seconds(),
        3600,
        "default grace = event retention"
    );

    let jwks: Value = serde_json::from_slice(&server.jwks(&provider).await).unwrap();
    let kids: BTreeSet<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(
        kids,
        BTreeSet::from([old_kid.as_str(), keys[0]["kid"].as_str().unwrap()])
    );

    // A zero grace period takes the old key out of the JWKS at once.
    let newest = keys[0]["kid"].as_str().unwrap().to_owned();
    let keys = server
        .post(
            &format!("/providers/{id}/keys/rotate"),
            json!({"grace_seconds": 0}),
        )
        .await
        .json();
    assert_eq!(keys[1]["kid"], newest.as_str());
    assert_eq!(keys[1]["published"], false);
    let jwks: Value = serde_json::from_slice(&server.jwks(&provider).await).unwrap();
    assert!(!jwks.to_string().contains(&newest));

    for body in [
        json!({"grace_seconds": -1}),
        json!({"grace_seconds": "soon"}),
        json!({"grace": 1}),
    ] {
        let bad = server
            .post(&format!("/providers/{id}/keys/rotate"), body.clone())
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{body}");
        assert!(bad.description().contains("grace"), "{}", bad.text);
    }
    assert_eq!(
        server
            .post("/providers/nope/keys/rotate", json!({}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server.get("/providers/nope/keys").await.status,
        StatusCode::NOT_FOUND
    );
}

#[test]
fn the_openapi_document_lists_exactly_the_admin_routes() {
    let document = serde_json::to_value(ssf_provider::http::admin::openapi::document()).unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        assert!(path.starts_with(ADMIN), "{path}");
        for method in item.as_object().unwrap().keys() {
            if ["get", "post", "put", "patch", "delete"].contains(&method.as_str()) {
                documented.insert((method.to_uppercase(), path.clone()));
                let operation = &item[method];
                assert!(
                    operation["responses"]["401"].is_object(),
                    "{method} {path} documents 401"
                );
                assert!(
                    operation["security"]
                        .as_array()
                        .is_some_and(|s| !s.is_empty()),
                    "{method} {path} has security"
                );
            }
        }
    }
    let served: BTreeSet<(String, String)> = ssf_provider::http::admin::served_routes()
        .into_iter()
        .map(|(method, path)| (method.as_str().to_owned(), path))
        .collect();
    assert_eq!(documented, served);
    assert!(document["components"]["securitySchemes"]["admin_token"].is_object());
}

backend_tests!(
    the_served_openapi_document_includes_the_admin_api,
    served_openapi_body
);
async fn served_openapi_body(db: TestDb) {
    let server = start(db).await;
    let reply = server
        .send(
            Method::GET,
            &format!("{}/openapi.json", server.base),
            None,
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let document = reply.json();
    for (method, path) in ssf_provider::http::admin::served_routes() {
        assert!(
            document["paths"][&path][method.as_str().to_lowercase()].is_object(),
            "{method} {path} is in /openapi.json"
        );
    }
    assert!(
        document["paths"]["/ssf/{slug}/streams"].is_object(),
        "the SSF API is still there"
    );
    for schema in [
        "CreateProvider",
        "ProviderView",
        "StreamOverview",
        "EventPage",
        "DeliveryStats",
    ] {
        assert!(
            document["components"]["schemas"][schema].is_object(),
            "{schema}"
        );
    }
}
