//! The SSF API over HTTP: discovery, JWKS, stream configuration, authentication and isolation.

mod ssf_api_support;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use ssf_api_support::*;
use ssf_tests::{TestDb, backend_tests};

backend_tests!(
    discovery_is_derived_from_the_issuer,
    super::discovery_is_derived_from_the_issuer_body
);
async fn discovery_is_derived_from_the_issuer_body(db: TestDb) {
    let server = start(db, Options::default()).await;
    let issuer = format!("{}/ssf/acme", server.base);
    assert_eq!(server.provider.issuer, issuer);
    let well_known = ssf_provider::http::discovery::configuration_url(&issuer);
    assert_eq!(
        well_known,
        format!("{}/.well-known/ssf-configuration/ssf/acme", server.base)
    );

    let reply = server.send(Method::GET, &well_known, None, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(
        reply
            .header("content-type")
            .unwrap()
            .starts_with("application/json")
    );
    let config = reply.json();
    assert_eq!(config["spec_version"], "1_0");
    assert_eq!(config["issuer"], issuer);
    assert_eq!(config["jwks_uri"], format!("{issuer}/jwks.json"));
    assert_eq!(config["delivery_methods_supported"], json!([PUSH, POLL]));
    assert_eq!(
        config["configuration_endpoint"],
        format!("{issuer}/streams")
    );
    assert_eq!(config["status_endpoint"], format!("{issuer}/status"));
    assert_eq!(
        config["add_subject_endpoint"],
        format!("{issuer}/subjects:add")
    );
    assert_eq!(
        config["remove_subject_endpoint"],
        format!("{issuer}/subjects:remove")
    );
    assert_eq!(config["verification_endpoint"], format!("{issuer}/verify"));
    assert_eq!(
        config["authorization_schemes"],
        json!([{"spec_urn": "urn:ietf:rfc:6749"}])
    );
    assert_eq!(config["default_subjects"], "ALL");
    for (name, value) in config.as_object().unwrap() {
        assert!(
            value.as_array().is_none_or(|a| !a.is_empty()),
            "{name} is an empty array"
        );
    }

    // Other paths name no issuer.
    let reply = server
        .send(
            Method::GET,
            &format!("{}/.well-known/ssf-configuration/ssf/nope", server.base),
            None,
            None,
        )
        .await;
    assert_eq!(
        (reply.status, reply.error_code().as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    for wrong in [
        "/.well-known/ssf-configuration/x/ssf/acme",
        "/.well-known/ssf-configuration",
        "/.well-known/risc-configuration/ssf/acme",
    ] {
        let reply = server
            .send(Method::GET, &format!("{}{wrong}", server.base), None, None)
            .await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{wrong}");
    }

    // The JWKS publishes the provider's active key.
    let reply = server
        .send(
            Method::GET,
            config["jwks_uri"].as_str().unwrap(),
            None,
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let jwks = reply.json();
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["kty"], "RSA");
    assert!(keys[0]["kid"].as_str().is_some_and(|kid| !kid.is_empty()));
    assert!(
        keys[0].get("d").is_none(),
        "private key material in the JWKS"
    );
}

backend_tests!(
    jwks_keeps_retiring_keys_until_their_grace_ends,
    super::jwks_keeps_retiring_keys_body
);
async fn jwks_keeps_retiring_keys_body(db: TestDb) {
    let server = start(db, Options::default()).await;
    let kids = |jwks: Value| -> Vec<String> {
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["kid"].as_str().unwrap().to_owned())
            .collect()
    };
    let jwks_url = server.url("/jwks.json");
    let before = kids(server.send(Method::GET, &jwks_url, None, None).await.json());
    let conn = &server.transmitter.db().orm;
    let new_key = ssf_provider::signing_keys::rotate(
        conn,
        &server.provider,
        std::time::Duration::from_secs(3600),
    )
    .await
    .unwrap();
    let during = kids(server.send(Method::GET, &jwks_url, None, None).await.json());
    assert_eq!(during.len(), 2);
    assert!(during.contains(&before[0]) && during.contains(&new_key.kid));
    let active = ssf_provider::signing_keys::active_key(conn, &server.provider)
        .await
        .unwrap();
    assert_eq!(active.kid(), new_key.kid);

    ssf_provider::signing_keys::rotate(conn, &server.provider, std::time::Duration::ZERO)
        .await
        .unwrap();
    let after = kids(server.send(Method::GET, &jwks_url, None, None).await.json());
    assert_eq!(
        after.len(),
        2,
        "the first key's grace period is running, the second's is over"
    );
    assert!(after.contains(&before[0]) && !after.contains(&new_key.kid));
}

backend_tests!(stream_crud, super::stream_crud_body);
async fn stream_crud_body(db: TestDb) {
    let server = start(db, Options::default()).await;
    let token = server.receiver("rp").await;
    assert_eq!(server.get("/streams", &token).await.json(), json!([]));

    // Push stream; unknown event types are ignored, the authorization header never returned.
    let reply = server
        .post(
            "/streams",
            &token,
            json!({
                "delivery": {"method": PUSH, "endpoint_url": "https://rp.example.com/events", "authorization_header": "Bearer s3cret"},
                "events_requested": [CREDENTIAL_CHANGE, "urn:example:unknown", SESSION_REVOKED],
                "description": "push stream",
            }),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert!(!reply.text.contains("s3cret"));
    let push = reply.json();
    let push_id = push["stream_id"].as_str().unwrap().to_owned();
    assert!(push_id.bytes().all(|b| b.is_ascii_alphanumeric()));
    assert_eq!(push["iss"], server.provider.issuer);
    assert!(push["aud"].is_string());
    assert_eq!(
        push["delivery"],
        json!({"method": PUSH, "endpoint_url": "https://rp.example.com/events"})
    );
    assert_eq!(
        push["events_requested"],
        json!([CREDENTIAL_CHANGE, "urn:example:unknown", SESSION_REVOKED])
    );
    assert_eq!(
        push["events_delivered"],
        json!([CREDENTIAL_CHANGE, SESSION_REVOKED])
    );
    assert!(
        push["events_supported"]
            .as_array()
            .unwrap()
            .contains(&json!(CREDENTIAL_CHANGE))
    );
    assert_eq!(push["description"], "push stream");
    assert_eq!(push["min_verification_interval"], 0);

    // Poll stream: no delivery means poll, with a transmitter-assigned endpoint.
    let poll = server
        .create_stream(&token, json!({"events_requested": [SESSION_REVOKED]}))
        .await;
    let poll_id = poll["stream_id"].as_str().unwrap().to_owned();
    assert_ne!(poll_id, push_id);
    assert_eq!(
        poll["delivery"],
        json!({"method": POLL, "endpoint_url": server.url(&format!("/poll/{poll_id}"))})
    );

    // Read one and all.
    let one = server
        .get(&format!("/streams?stream_id={push_id}"), &token)
        .await;
    assert_eq!(one.status, StatusCode::OK);
    assert_eq!(one.header("cache-control"), Some("no-store"));
    assert_eq!(one.json(), push);
    let all = server.get("/streams", &token).await.json();
    assert_eq!(all, json!([push, poll]));

    // PATCH changes what it names only; the authorization header survives an unchanged endpoint.
    let patch =
        json!({"stream_id": push_id, "description": "renamed", "iss": server.provider.issuer});
    let reply = server
        .send(
            Method::PATCH,
            &server.url("/streams"),
            Some(&token),
            Some(&patch),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let patched = reply.json();
    assert_eq!(patched["description"], "renamed");
    assert_eq!(patched["events_requested"], push["events_requested"]);
    assert_eq!(patched["delivery"], push["delivery"]);
    let stored = stream_row(&server, &push_id).await;
    assert_eq!(
        stored.authorization_header.as_deref(),
        Some("Bearer s3cret")
    );

    // PUT replaces: the description it leaves out is removed; a new endpoint drops the old secret.
    let put = json!({
        "stream_id": push_id,
        "delivery": {"method": PUSH, "endpoint_url": "https://rp.example.com/other"},
        "events_requested": [CREDENTIAL_CHANGE],
    });
    let reply = server
        .send(
            Method::PUT,
            &server.url("/streams"),
            Some(&token),
            Some(&put),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let replaced = reply.json();
    assert!(replaced.get("description").is_none());
    assert_eq!(replaced["events_delivered"], json!([CREDENTIAL_CHANGE]));
    assert_eq!(
        stream_row(&server, &push_id).await.authorization_header,
        None
    );

    // PATCH from push to poll: the transmitter assigns the poll endpoint.
    let patch = json!({"stream_id": push_id, "delivery": {"method": POLL}});
    let reply = server
        .send(
            Method::PATCH,
            &server.url("/streams"),
            Some(&token),
            Some(&patch),
        )
        .await;
    assert_eq!(
        reply.json()["delivery"]["endpoint_url"],
        server.url(&format!("/poll/{push_id}"))
    );

    // Delete: 204 with an empty body; then the stream is gone.
    let reply = server
        .send(
            Method::DELETE,
            &server.url(&format!("/streams?stream_id={push_id}")),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert!(reply.text.is_empty());
    let reply = server
        .get(&format!("/streams?stream_id={push_id}"), &token)
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    assert_eq!(server.get("/streams", &token).await.json(), json!([poll]));
}

async fn stream_row(server: &Server, stream_id: &str) -> ssf_entities::streams::Model {
    use sea_orm::EntityTrait;
    ssf_entities::streams::Entity::find_by_id(stream_id.to_owned())
        .one(&server.transmitter.db().orm)
        .await
        .unwrap()
        .expect("stream row")
}

backend_tests!(bad_requests_are_json_4xx, super::bad_requests_body);
async fn bad_requests_body(db: TestDb) {
    let server = start(db, Options::default()).await;
    let token = server.receiver("rp").await;
    let streams = server.url("/streams");
    let send_raw = |method: Method, body: &'static str| {
        let (server, streams, token) = (&server, streams.clone(), token.clone());
        async move {
            server
                .send_raw(method, &streams, Some(&token), Some(body.to_owned()))
                .await
        }
    };

    let reply = send_raw(Method::POST, "{not json").await;
    assert_eq!(
        (reply.status, reply.error_code().as_str()),
        (StatusCode::BAD_REQUEST, "invalid_json")
    );
    let reply = send_raw(Method::POST, "").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = send_raw(Method::POST, r#"{"events_requested": "not-an-array"}"#).await;
    assert_eq!(
        (reply.status, reply.error_code().as_str()),
        (StatusCode::BAD_REQUEST, "invalid_request")
    );
    let reply = send_raw(
        Method::POST,
        r#"{"delivery": {"method": "urn:example:pigeon"}}"#,
    )
    .await;
    assert_eq!(
        (reply.status, reply.error_code().as_str()),
        (StatusCode::BAD_REQUEST, "unsupported_delivery_method")
    );
    let reply = send_raw(
        Method::POST,
        r#"{"delivery": {"method": "urn:ietf:rfc:8935"}}"#,
    )
    .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    for endpoint in [
        "http://rp.example.com/e",
        "https://127.0.0.1/e",
        "https://[::1]/e",
        "https://169.254.169.254/",
        "https://10.0.0.8/",
    ] {
        let body = json!({"delivery": {"method": PUSH, "endpoint_url": endpoint}});
        let reply = server.post("/streams", &token, body).await;
        assert_eq!(
            (reply.status, reply.error_code().as_str()),
            (StatusCode::BAD_REQUEST, "invalid_endpoint_url"),
            "{endpoint}"
        );
    }
    assert_eq!(
        server.get("/streams", &token).await.json(),
        json!([]),
        "nothing was created"
    );

    // 413 for an oversized body, JSON like every error.
    let big = format!(r#"{{"description": "{}"}}"#, "x".repeat(100 * 1024));
    let reply = server
        .send_raw(Method::POST, &streams, Some(&token), Some(big))
        .await;
    assert_eq!(
        (reply.status, reply.error_code().as_str()),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );

    // Unknown streams, missing stream ids, transmitter-supplied mismatches.
    let reply = server.get("/streams?stream_id=nope", &token).await;
    assert_eq!(
        (reply.status, reply.error_code().as_str()),
        (StatusCode::NOT_FOUND, "not_found")
    );
    let reply = server
        .send(Method::DELETE, &streams, Some(&token), None)
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = server
        .send(
            Method::PATCH,
            &streams,
            Some(&token),
            Some(&json!({"description": "x"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = server
        .send(
            Method::PATCH,
            &streams,
            Some(&token),
            Some(&json!({"stream_id": "nope"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    let id = server.poll_stream(&token).await;
    for mismatch in [
        json!({"stream_id": id, "iss": "https://evil.example.com"}),
        json!({"stream_id": id, "aud": "someone-else"}),
        json!({"stream_id": id, "events_delivered": [VERIFICATION]}),
        json!({"stream_id": id, "min_verification_interval": 99}),
        json!({"stream_id": id, "delivery": {"method": POLL, "endpoint_url": "https://evil.example.com/poll"}}),
    ] {
        let reply = server
            .send(Method::PATCH, &streams, Some(&token), Some(&mismatch))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{mismatch}: {}",
            reply.text
        );
    }
    let reply = server.get(&format!("/status?stream_id={id}"), &token).await;
    assert_eq!(reply.json()["status"], "enabled");
    let reply = server
        .post(
            "/status",
            &token,
            json!({"stream_id": id, "status": "sleeping"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = server.get("/status", &token).await;
    assert_eq!(
        reply.status,
        StatusCode::BAD_REQUEST,
        "status needs stream_id"
    );

    // Unknown routes and methods answer in the same format.
    let reply = server
        .send(Method::DELETE, &server.url("/verify"), Some(&token), None)
        .await;
    assert_eq!(
        (reply.status, reply.error_code().as_str()),
        (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
    );
    let reply = server.get("/streams", "").await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
}

backend_tests!(
    authentication_comes_first,
    super::authentication_comes_first_body
);
async fn authentication_comes_first_body(db: TestDb) {
    let server = start(db, Options::default()).await;
    let token = server.receiver("rp").await;
    let id = server.poll_stream(&token).await;
    server
        .send(
            Method::DELETE,
            &server.url(&format!("/streams?stream_id={id}")),
            Some(&token),
            None,
        )
        .await;

    let cases: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::GET,
            server.url(&format!("/streams?stream_id={id}")),
            None,
        ),
        (Method::GET, server.url("/streams"), None),
        (Method::POST, server.url("/streams"), Some(json!({}))),
        (
            Method::PATCH,
            server.url("/streams"),
            Some(json!({"stream_id": id})),
        ),
        (
            Method::PUT,
            server.url("/streams"),
            Some(json!({"stream_id": id})),
        ),
        (
            Method::DELETE,
            server.url(&format!("/streams?stream_id={id}")),
            None,
        ),
        (
            Method::GET,
            server.url(&format!("/status?stream_id={id}")),
            None,
        ),
        (
            Method::POST,
            server.url("/status"),
            Some(json!({"stream_id": id, "status": "paused"})),
        ),
        (
            Method::POST,
            server.url("/subjects:add"),
            Some(
                json!({"stream_id": id, "subject": {"format": "email", "email": "a@example.com"}}),
            ),
        ),
        (
            Method::POST,
            server.url("/subjects:remove"),
            Some(
                json!({"stream_id": id, "subject": {"format": "email", "email": "a@example.com"}}),
            ),
        ),
        (
            Method::POST,
            server.url("/verify"),
            Some(json!({"stream_id": id})),
        ),
        (
            Method::POST,
            server.url(&format!("/poll/{id}")),
            Some(json!({"returnImmediately": true})),
        ),
    ];
    for (method, url, body) in cases {
        // No token: 401 with a bare Bearer challenge.
        let reply = server.send(method.clone(), &url, None, body.as_ref()).await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{method} {url}");
        assert_eq!(reply.header("www-authenticate"), Some("Bearer"));
        assert_eq!(reply.error_code(), "missing_token");
        // A wrong token on a deleted stream: still 401, not 404.
        let reply = server
            .send(method.clone(), &url, Some("wrong-token"), body.as_ref())
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{method} {url}");
        assert!(
            reply
                .header("www-authenticate")
                .unwrap()
                .contains("invalid_token")
        );
        // Even with a body that is not JSON.
        let reply = server
            .send_raw(
                method.clone(),
                &url,
                Some("wrong-token"),
                Some("{{{".into()),
            )
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{method} {url}");
    }

    // A token in the query string is not a credential.
    let reply = server
        .send(
            Method::GET,
            &server.url(&format!("/streams?access_token={token}")),
            None,
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    // A revoked token stops working.
    let (receiver, revoked) = ssf_provider::receivers::create_receiver(
        &server.transmitter.db().orm,
        &server.provider.id,
        "old",
    )
    .await
    .unwrap();
    assert_eq!(
        server.get("/streams", revoked.expose()).await.status,
        StatusCode::OK
    );
    ssf_provider::receivers::revoke(&server.transmitter.db().orm, &receiver.id)
        .await
        .unwrap();
    assert_eq!(
        server.get("/streams", revoked.expose()).await.status,
        StatusCode::UNAUTHORIZED
    );
}

backend_tests!(receivers_and_providers_are_isolated, super::isolation_body);
async fn isolation_body(db: TestDb) {
    let server = start(db, Options::default()).await;
    let alice = server.receiver("alice").await;
    let bob = server.receiver("bob").await;
    let alice_stream = server
        .create_stream(&alice, json!({"delivery": {"method": PUSH, "endpoint_url": "https://alice.example.com/e"}, "description": "alice's"}))
        .await;
    let id = alice_stream["stream_id"].as_str().unwrap().to_owned();
    let bob_stream = server.poll_stream(&bob).await;

    // Bob sees only his own stream, and Alice's id is "not found" for every operation.
    let bobs = server.get("/streams", &bob).await.json();
    assert_eq!(bobs.as_array().unwrap().len(), 1);
    assert_eq!(bobs[0]["stream_id"], bob_stream);
    let not_found: Vec<(Method, String, Option<Value>)> = vec![
        (
            Method::GET,
            server.url(&format!("/streams?stream_id={id}")),
            None,
        ),
        (
            Method::PATCH,
            server.url("/streams"),
            Some(json!({"stream_id": id, "description": "bob's now"})),
        ),
        (
            Method::PUT,
            server.url("/streams"),
            Some(json!({"stream_id": id})),
        ),
        (
            Method::DELETE,
            server.url(&format!("/streams?stream_id={id}")),
            None,
        ),
        (
            Method::GET,
            server.url(&format!("/status?stream_id={id}")),
            None,
        ),
        (
            Method::POST,
            server.url("/status"),
            Some(json!({"stream_id": id, "status": "disabled"})),
        ),
        (
            Method::POST,
            server.url("/subjects:remove"),
            Some(
                json!({"stream_id": id, "subject": {"format": "email", "email": "a@example.com"}}),
            ),
        ),
        (
            Method::POST,
            server.url("/verify"),
            Some(json!({"stream_id": id})),
        ),
        (
            Method::POST,
            server.url(&format!("/poll/{id}")),
            Some(json!({"returnImmediately": true})),
        ),
    ];
    for (method, url, body) in not_found {
        let reply = server
            .send(method.clone(), &url, Some(&bob), body.as_ref())
            .await;
        assert_eq!(
            reply.status,
            StatusCode::NOT_FOUND,
            "{method} {url}: {}",
            reply.text
        );
    }
    // ... and nothing of Alice's stream changed.
    let reply = server
        .get(&format!("/streams?stream_id={id}"), &alice)
        .await;
    assert_eq!(reply.json(), alice_stream);
    assert_eq!(
        server
            .get(&format!("/status?stream_id={id}"), &alice)
            .await
            .json()["status"],
        "enabled"
    );
    assert!(
        server.stream_events(&id).await.is_empty(),
        "no verification was recorded"
    );

    // A receiver of another provider is unknown here: 401, even for its own stream ids.
    let mut other = ssf_provider::providers::NewProvider::new("Other");
    other.slug = Some("other".into());
    let other = ssf_provider::providers::create_provider(
        server.transmitter.db(),
        server.transmitter.settings(),
        other,
    )
    .await
    .unwrap();
    let carol = server.receiver_of(&other.id, "carol").await;
    let reply = server.get("/streams", &carol).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let reply = server
        .get(&format!("/streams?stream_id={id}"), &carol)
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    let other_streams = format!("{}/streams", other.issuer);
    let reply = server
        .send(Method::GET, &other_streams, Some(&carol), None)
        .await;
    assert_eq!(reply.json(), json!([]));
    let reply = server
        .send(Method::GET, &other_streams, Some(&alice), None)
        .await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);

    // Unknown providers are 404.
    let reply = server
        .send(
            Method::GET,
            &format!("{}/ssf/nope/streams", server.base),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

backend_tests!(
    the_legacy_risc_dialect_is_accepted,
    super::legacy_dialect_body
);
async fn legacy_dialect_body(db: TestDb) {
    let server = start(db, Options::default()).await;
    let token = server.receiver("apple").await;
    let risc_push = "https://schemas.openid.net/secevent/risc/delivery-method/push";
    let config = server
        .create_stream(
            &token,
            json!({
                "delivery": {"method": risc_push, "endpoint_url": "https://apple.example.com/ssf/events"},
                "events_requested": [SESSION_REVOKED, CREDENTIAL_CHANGE],
                "format": "iss_sub",
                "aud": ["https://apple.example.com/aud"],
            }),
        )
        .await;
    assert_eq!(
        config["delivery"]["method"], risc_push,
        "the method URI is kept as sent"
    );
    assert_eq!(config["format"], "iss_sub");
    assert_eq!(config["aud"], json!(["https://apple.example.com/aud"]));
    assert_eq!(
        config["events_delivered"],
        json!([SESSION_REVOKED, CREDENTIAL_CHANGE])
    );
    let id = config["stream_id"].as_str().unwrap();
    let row = stream_row(&server, id).await;
    assert!(row.subject_in_event);
    assert_eq!(row.delivery_method, ssf_entities::DeliveryMethod::Push);

    // The transmitter verifies the new stream on its own, a little later, without a state.
    let events = server.stream_events(id).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type, VERIFICATION);
    assert!(events[0].next_attempt_at > events[0].created_at);
    let claims = payload_of(&events[0]);
    assert_eq!(claims["sub_id"], json!({"format": "opaque", "id": id}));
    assert_eq!(claims["aud"], json!(["https://apple.example.com/aud"]));
    assert!(claims["events"][VERIFICATION].get("state").is_none());

    // aud cannot change afterwards.
    let reply = server
        .send(
            Method::PATCH,
            &server.url("/streams"),
            Some(&token),
            Some(&json!({"stream_id": id, "aud": "https://other.example.com"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = server
        .send(
            Method::PATCH,
            &server.url("/streams"),
            Some(&token),
            Some(&json!({"stream_id": id, "aud": ["https://apple.example.com/aud"]})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

backend_tests!(
    oauth_tokens_of_the_idp_are_limited_by_scope,
    super::oauth_scopes_body
);
async fn oauth_scopes_body(db: TestDb) {
    use ssf_provider::http::auth::{AccessTokenVerifier, ExternalGrant, VerifierError};
    use std::sync::Arc;

    struct Fixed;
    #[async_trait::async_trait]
    impl AccessTokenVerifier for Fixed {
        async fn verify(
            &self,
            _provider: &ssf_provider::providers::Model,
            token: &str,
        ) -> Result<Option<ExternalGrant>, VerifierError> {
            let scopes = match token {
                "read-token" => vec!["ssf.read".to_owned()],
                "manage-token" => vec!["ssf.manage".to_owned()],
                _ => return Ok(None),
            };
            Ok(Some(ExternalGrant {
                client_id: "client-1".into(),
                scopes,
            }))
        }
    }
    let server = start_with(db, Options::default(), |transmitter| {
        ssf_provider::http::SsfApi::new(transmitter)
            .access_token_verifier(Arc::new(Fixed))
            .into_router()
    })
    .await;

    let reply = server.post("/streams", "read-token", json!({})).await;
    assert_eq!(
        (reply.status, reply.error_code().as_str()),
        (StatusCode::FORBIDDEN, "insufficient_scope")
    );
    assert!(
        reply
            .header("www-authenticate")
            .unwrap()
            .contains("insufficient_scope")
    );
    let config = server
        .create_stream(
            "manage-token",
            json!({"events_requested": [SESSION_REVOKED]}),
        )
        .await;
    assert_eq!(config["aud"], "client-1");
    let id = config["stream_id"].as_str().unwrap();
    // Both tokens belong to the same client, so the reader sees the stream and may poll it.
    assert_eq!(
        server
            .get(&format!("/streams?stream_id={id}"), "read-token")
            .await
            .status,
        StatusCode::OK
    );
    let reply = server
        .post(
            &format!("/poll/{id}"),
            "read-token",
            json!({"returnImmediately": true}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let reply = server
        .post("/verify", "read-token", json!({"stream_id": id}))
        .await;
    assert_eq!(reply.status, StatusCode::FORBIDDEN);
    assert_eq!(
        server.get("/streams", "unknown-token").await.status,
        StatusCode::UNAUTHORIZED
    );
}

backend_tests!(openapi_lists_exactly_the_served_routes, super::openapi_body);
/// The program serves one OpenAPI document for the SSF API and the admin API together, so it
/// is compared with both routers, merged as the program merges them.
async fn openapi_body(db: TestDb) {
    let server = start_with(db, Options::default(), |transmitter| {
        ssf_provider::http::router(transmitter.clone()).merge(ssf_provider::http::admin::router(
            transmitter,
            "admin-test-token",
        ))
    })
    .await;
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
    assert!(document["openapi"].as_str().unwrap().starts_with("3."));
    let mut documented: Vec<(String, String)> = Vec::new();
    for (path, item) in document["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            if [
                "get", "put", "post", "delete", "patch", "head", "options", "trace",
            ]
            .contains(&method.as_str())
            {
                documented.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    let ssf_routes = ssf_provider::http::served_routes()
        .into_iter()
        .map(|(method, path)| (method.to_string(), path.to_owned()));
    let admin_routes = ssf_provider::http::admin::served_routes()
        .into_iter()
        .map(|(method, path)| (method.to_string(), path));
    let mut served: Vec<(String, String)> = ssf_routes.chain(admin_routes).collect();
    documented.sort();
    served.sort();
    assert_eq!(documented, served);

    // Every documented operation reaches a handler: no 405, and a 404 is a handler's JSON
    // answer about an unknown resource (the router's own 404 has no body).
    let token = server.receiver("rp").await;
    for (method, path) in &documented {
        let concrete = path
            .replace("{slug}", "acme")
            .replace("{stream_id}", "s")
            .replace("{id}", "p")
            .replace("{receiver_id}", "r")
            .replace("{jti}", "j");
        let url = format!("{}{concrete}", server.base);
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let reply = server
            .send(
                method.clone(),
                &url,
                Some(&token),
                Some(&json!({"returnImmediately": true})),
            )
            .await;
        assert_ne!(
            reply.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        if reply.status == StatusCode::NOT_FOUND {
            reply.error_code();
        }
    }
}
