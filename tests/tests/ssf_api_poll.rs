//! RFC 8936 poll delivery over HTTP, and SETs checked with an independent JOSE implementation.

mod ssf_api_support;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};
use ssf_api_support::*;
use ssf_entities::EventStatus;
use ssf_tests::{TestDb, backend_tests};

/// The jtis of a poll response, in response order.
fn jtis(response: &Value) -> Vec<String> {
    response["sets"]
        .as_object()
        .expect("sets")
        .keys()
        .cloned()
        .collect()
}

/// Verifies a SET with josekit against the JWKS the transmitter publishes, and returns its claims.
async fn verify_with_josekit(server: &Server, token: &str) -> Value {
    let jwks = server
        .client
        .get(server.url("/jwks.json"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let jwks = josekit::jwk::JwkSet::from_bytes(&jwks).expect("JWKS parses");
    let header = token.split('.').next().unwrap();
    let header: Value = serde_json::from_slice(&base64url(header)).unwrap();
    assert_eq!(header["typ"], "secevent+jwt");
    assert_eq!(header["alg"], "RS256");
    let kid = header["kid"].as_str().expect("kid");
    let jwk = jwks
        .get(kid)
        .into_iter()
        .next()
        .expect("the signing key is published");
    let verifier = josekit::jws::RS256
        .verifier_from_jwk(jwk)
        .expect("RSA verifier");
    let (payload, _) =
        josekit::jws::deserialize_compact(token, &verifier).expect("signature verifies");
    serde_json::from_slice(&payload).unwrap()
}

fn base64url(text: &str) -> Vec<u8> {
    // Small decoder so the check does not lean on the transmitter's own code.
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.bytes() {
        let value = ALPHABET.iter().position(|a| *a == c).expect("base64url") as u32;
        bits = (bits << 6) | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
            bits &= (1 << count) - 1;
        }
    }
    out
}

backend_tests!(
    poll_only_returns_signed_sets_and_returns_them_again,
    super::poll_only_body
);
async fn poll_only_body(db: TestDb) {
    let server = start(db, Options::default()).await;
    let token = server.receiver("rp").await;
    let id = server.poll_stream(&token).await;
    server.password_changed("alice@example.com").await;
    let reply = server
        .post("/verify", &token, json!({"stream_id": id, "state": "s1"}))
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);

    let first = server
        .poll(&token, &id, json!({"returnImmediately": true}))
        .await;
    assert_eq!(first["moreAvailable"], false);
    let sets = first["sets"].as_object().unwrap();
    assert_eq!(sets.len(), 2);
    for (jti, set) in sets {
        let claims = verify_with_josekit(&server, set.as_str().unwrap()).await;
        assert_eq!(&claims["jti"], jti);
        assert_eq!(claims["iss"], server.provider.issuer);
    }
    let verification = sets
        .values()
        .map(|s| s.as_str().unwrap())
        .find(|s| claims_contain(s, VERIFICATION))
        .unwrap();
    let claims = verify_with_josekit(&server, verification).await;
    assert_eq!(claims["sub_id"], json!({"format": "opaque", "id": id}));
    assert_eq!(claims["events"][VERIFICATION]["state"], "s1");

    // Leased, not acknowledged: a second poll gets nothing until the ack timeout passes.
    let second = server
        .poll(&token, &id, json!({"returnImmediately": true}))
        .await;
    assert_eq!(second["sets"], json!({}));
    let rows = server.stream_events(&id).await;
    assert!(
        rows.iter().all(|r| r.status == EventStatus::Pending
            && r.token.is_some()
            && r.lease_until.is_some())
    );
}

fn claims_contain(token: &str, event_type: &str) -> bool {
    let payload = token.split('.').nth(1).unwrap();
    String::from_utf8(base64url(payload))
        .unwrap()
        .contains(event_type)
}

backend_tests!(
    unacknowledged_sets_come_back_with_the_same_bytes,
    super::redelivery_body
);
async fn redelivery_body(db: TestDb) {
    let server = start(
        db,
        Options {
            poll_ack_timeout: Duration::from_millis(300),
            ..Options::default()
        },
    )
    .await;
    let token = server.receiver("rp").await;
    let id = server.poll_stream(&token).await;
    server.password_changed("alice@example.com").await;
    let first = server
        .poll(&token, &id, json!({"returnImmediately": true}))
        .await;
    assert_eq!(jtis(&first).len(), 1);
    tokio::time::sleep(Duration::from_millis(400)).await;
    let again = server
        .poll(&token, &id, json!({"returnImmediately": true}))
        .await;
    assert_eq!(again["sets"], first["sets"], "same jti, same signed bytes");
}

backend_tests!(poll_and_ack_in_one_request, super::poll_and_ack_body);
async fn poll_and_ack_body(db: TestDb) {
    let server = start(
        db,
        Options {
            poll_ack_timeout: Duration::from_millis(200),
            ..Options::default()
        },
    )
    .await;
    let token = server.receiver("rp").await;
    let id = server.poll_stream(&token).await;
    for user in ["a@example.com", "b@example.com"] {
        server.password_changed(user).await;
    }
    let first = server
        .poll(
            &token,
            &id,
            json!({"returnImmediately": true, "maxEvents": 1}),
        )
        .await;
    assert_eq!(first["moreAvailable"], true);
    let a = jtis(&first);
    assert_eq!(a.len(), 1);

    // Ack the first and fetch the next in one request.
    let second = server
        .poll(
            &token,
            &id,
            json!({"returnImmediately": true, "ack": a, "maxEvents": 5}),
        )
        .await;
    let b = jtis(&second);
    assert_eq!(b.len(), 1);
    assert_ne!(a, b);
    assert_eq!(second["moreAvailable"], false);

    // Ack only (maxEvents 0): nothing is returned, and b is done.
    let third = server
        .poll(
            &token,
            &id,
            json!({"returnImmediately": true, "ack": b, "maxEvents": 0}),
        )
        .await;
    assert_eq!(third["sets"], json!({}));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let after = server
        .poll(&token, &id, json!({"returnImmediately": true}))
        .await;
    assert_eq!(
        after["sets"],
        json!({}),
        "acknowledged SETs never come back"
    );
    let rows = server.stream_events(&id).await;
    assert!(
        rows.iter()
            .all(|r| r.status == EventStatus::Delivered && r.delivered_at.is_some())
    );

    // Acks of unknown jtis are ignored.
    server
        .poll(
            &token,
            &id,
            json!({"returnImmediately": true, "ack": ["no-such-jti"]}),
        )
        .await;
}

backend_tests!(
    set_errors_are_recorded_and_not_redelivered,
    super::set_errs_body
);
async fn set_errs_body(db: TestDb) {
    let server = start(
        db,
        Options {
            poll_ack_timeout: Duration::from_millis(200),
            ..Options::default()
        },
    )
    .await;
    let token = server.receiver("rp").await;
    let id = server.poll_stream(&token).await;
    server.password_changed("a@example.com").await;
    let first = server
        .poll(&token, &id, json!({"returnImmediately": true}))
        .await;
    let jti = jtis(&first).remove(0);
    let body = json!({
        "returnImmediately": true,
        "setErrs": {jti.clone(): {"err": "invalid_key", "description": "unknown kid"}},
    });
    let reply = server.poll(&token, &id, body).await;
    assert_eq!(reply["sets"], json!({}));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        server
            .poll(&token, &id, json!({"returnImmediately": true}))
            .await["sets"],
        json!({})
    );
    let rows = server.stream_events(&id).await;
    assert_eq!(rows[0].status, EventStatus::Failed);
    assert_eq!(
        rows[0].last_error.as_deref(),
        Some("invalid_key: unknown kid")
    );
}

backend_tests!(
    more_available_pages_through_a_backlog,
    super::more_available_body
);
async fn more_available_body(db: TestDb) {
    let server = start(db, Options::default()).await;
    let token = server.receiver("rp").await;
    let id = server.poll_stream(&token).await;
    for n in 0..5 {
        server
            .password_changed(&format!("user{n}@example.com"))
            .await;
    }
    let mut seen = Vec::new();
    let mut more = true;
    let mut ack: Vec<String> = Vec::new();
    while more {
        let page = server
            .poll(
                &token,
                &id,
                json!({"returnImmediately": true, "maxEvents": 2, "ack": ack}),
            )
            .await;
        ack = jtis(&page);
        assert!(ack.len() <= 2);
        seen.extend(ack.clone());
        more = page["moreAvailable"].as_bool().unwrap();
    }
    let recorded: Vec<String> = server
        .stream_events(&id)
        .await
        .into_iter()
        .map(|r| r.jti)
        .collect();
    assert_eq!(seen, recorded, "every SET once, in order");
}

backend_tests!(
    long_poll_returns_when_an_event_arrives,
    super::long_poll_body
);
async fn long_poll_body(db: TestDb) {
    let server = start(
        db,
        Options {
            max_long_poll: Duration::from_secs(20),
            ..Options::default()
        },
    )
    .await;
    let token = server.receiver("rp").await;
    let id = server.poll_stream(&token).await;

    let started = Instant::now();
    let poll_path = format!("/poll/{id}");
    let poll = server.post(&poll_path, &token, json!({"maxEvents": 10}));
    let emit = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        server.password_changed("late@example.com").await
    };
    let (reply, emitted) = tokio::join!(poll, emit);
    assert_eq!(emitted, 1);
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(jtis(&reply.json()).len(), 1);
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "returned on the event, not at the long-poll bound"
    );

    // With nothing to return, a long poll ends at the transmitter's bound with an empty answer.
    let bounded = start(
        TestDb::sqlite(),
        Options {
            max_long_poll: Duration::from_millis(500),
            ..Options::default()
        },
    )
    .await;
    let token = bounded.receiver("rp").await;
    let id = bounded.poll_stream(&token).await;
    let started = Instant::now();
    let empty = bounded.poll(&token, &id, json!({})).await;
    assert_eq!(empty["sets"], json!({}));
    assert!(started.elapsed() >= Duration::from_millis(450));
}

backend_tests!(poll_is_for_poll_streams, super::poll_for_poll_streams_body);
async fn poll_for_poll_streams_body(db: TestDb) {
    let server = start(db, Options::default()).await;
    let token = server.receiver("rp").await;
    let push = server
        .create_stream(
            &token,
            json!({"delivery": {"method": PUSH, "endpoint_url": "https://rp.example.com/e"}}),
        )
        .await;
    let push_id = push["stream_id"].as_str().unwrap();
    let reply = server
        .post(
            &format!("/poll/{push_id}"),
            &token,
            json!({"returnImmediately": true}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);

    // An empty body is a poll with default parameters; a malformed one is a 400.
    let id = server.poll_stream(&token).await;
    let reply = server
        .send_raw(
            reqwest::Method::POST,
            &server.url(&format!("/poll/{id}")),
            Some(&token),
            Some("{\"returnImmediately\": 7}".into()),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    server.password_changed("a@example.com").await;
    let reply = server
        .send_raw(
            reqwest::Method::POST,
            &server.url(&format!("/poll/{id}")),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(jtis(&reply.json()).len(), 1);
}
