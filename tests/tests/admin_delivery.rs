//! The admin API's delivery side over HTTP: a provider configured through it serving a
//! receiver end to end, the delivery log, redrive with the real worker, stream status changes
//! and statistics, on SQLite and PostgreSQL.

mod admin_support;
mod delivery_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use admin_support::*;
use axum::http::StatusCode as AxumStatus;
use axum::response::IntoResponse;
use delivery_support::{Receiver, RunningWorker, fast_config, wait_for};
use reqwest::{Method, StatusCode};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};
use ssf_entities::{EventStatus, stream_events};
use ssf_tests::{TestDb, backend_tests};

/// The SETs of a poll response, by jti.
fn sets(response: &Value) -> Vec<(String, String)> {
    response["sets"]
        .as_object()
        .expect("sets")
        .iter()
        .map(|(jti, token)| (jti.clone(), token.as_str().expect("compact SET").to_owned()))
        .collect()
}

backend_tests!(
    a_provider_created_through_the_api_serves_a_receiver_end_to_end,
    end_to_end_body
);
async fn end_to_end_body(db: TestDb) {
    let server = start(db).await;
    let provider = server
        .create_provider(json!({"name": "Acme", "slug": "acme", "signing_alg": "ES256"}))
        .await;
    let id = provider["id"].as_str().unwrap();
    let (_, token) = server.create_receiver(id, "CRM").await;

    // The receiver discovers the transmitter from the configuration URL alone.
    let discovery = server
        .send(
            Method::GET,
            provider["configuration_url"].as_str().unwrap(),
            None,
            None,
        )
        .await
        .json();
    assert_eq!(discovery["issuer"], provider["issuer"]);
    assert_eq!(discovery["jwks_uri"], provider["jwks_uri"]);
    let stream_url = discovery["configuration_endpoint"].as_str().unwrap();
    let created = server
        .send(
            Method::POST,
            stream_url,
            Some(&token),
            Some(json!({"events_requested": [CREDENTIAL_CHANGE]}).to_string()),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let stream = created.json();

    let receipt = server.emit(id, json!({"type": "password.changed", "user": {"email": "alice@example.com"}, "request_id": "req-1"})).await;
    assert_eq!(receipt, json!({"txn": "req-1", "stream_events": 1}));

    let polled = server.poll(&stream, &token, &[]).await;
    let got = sets(&polled);
    assert_eq!(got.len(), 1, "{polled}");
    let (first_jti, first_set) = got[0].clone();
    let jwks_before = server.jwks(&provider).await;
    let claims = verify_with_josekit(&jwks_before, &first_set);
    assert_eq!(claims["iss"], provider["issuer"]);
    assert_eq!(claims["txn"], "req-1");
    assert_eq!(claims["jti"], first_jti.as_str());
    assert!(claims["events"][CREDENTIAL_CHANGE].is_object(), "{claims}");
    assert_eq!(jws_header(&first_set)["kid"], provider["active_kid"]);

    // After a rotation new SETs carry the new kid, and the SET signed before still verifies
    // against the JWKS published now.
    let keys = server
        .post(&format!("/providers/{id}/keys/rotate"), json!({}))
        .await
        .json();
    let new_kid = keys[0]["kid"].as_str().unwrap().to_owned();
    server.emit(id, password_changed("bob@example.com")).await;
    let polled = server.poll(&stream, &token, &[&first_jti]).await;
    let got = sets(&polled);
    assert_eq!(got.len(), 1, "{polled}");
    // Poll signs with the provider's active key as stored: the new one.
    assert_eq!(jws_header(&got[0].1)["kid"], new_kid.as_str());
    assert_ne!(jws_header(&first_set)["kid"], new_kid.as_str());
    let jwks_after = server.jwks(&provider).await;
    assert_eq!(
        verify_with_josekit(&jwks_after, &first_set)["jti"],
        first_jti.as_str()
    );
    assert_eq!(
        verify_with_josekit(&jwks_after, &got[0].1)["events"][CREDENTIAL_CHANGE]["change_type"],
        "update"
    );

    // The admin API sees what happened.
    let stream_id = stream["stream_id"].as_str().unwrap();
    let delivered = server
        .get(&format!("/streams/{stream_id}/events?status=delivered"))
        .await
        .json();
    assert_eq!(delivered["events"][0]["jti"], first_jti.as_str());
    assert_eq!(delivered["events"][0]["txn"], "req-1");
}

backend_tests!(
    streams_show_counts_and_never_the_authorization_header,
    stream_overview_body
);
async fn stream_overview_body(db: TestDb) {
    let server = start(db).await;
    let provider = server.create_provider(json!({"name": "Acme"})).await;
    let id = provider["id"].as_str().unwrap();
    let (receiver_id, token) = server.create_receiver(id, "CRM").await;
    // No worker runs: pushed SETs stay pending.
    let secret = "Bearer very-secret-receiver-credential";
    let push = server
        .create_stream(
            &provider,
            &token,
            json!({"delivery": {"method": PUSH, "endpoint_url": "http://127.0.0.1:9/events", "authorization_header": secret},
                   "events_requested": [CREDENTIAL_CHANGE]}),
        )
        .await;
    let poll = server
        .create_stream(
            &provider,
            &token,
            json!({"events_requested": [SESSION_REVOKED]}),
        )
        .await;
    for user in ["a@example.com", "b@example.com", "c@example.com"] {
        server.emit(id, password_changed(user)).await;
    }

    let reply = server.get(&format!("/providers/{id}/streams")).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(!reply.text.contains("very-secret"), "{}", reply.text);
    assert!(
        !reply.text.contains("authorization_header"),
        "{}",
        reply.text
    );
    let streams = reply.json();
    assert_eq!(streams.as_array().unwrap().len(), 2);
    let push_view = &streams[0];
    assert_eq!(push_view["id"], push["stream_id"]);
    assert_eq!(push_view["owner"], receiver_id.as_str());
    assert_eq!(push_view["receiver_id"], receiver_id.as_str());
    assert_eq!(push_view["delivery_method"], "push");
    assert_eq!(push_view["endpoint_url"], "http://127.0.0.1:9/events");
    assert_eq!(push_view["status"], "enabled");
    assert_eq!(
        push_view["counts"],
        json!({"pending": 3, "held": 0, "delivered": 0, "failed": 0, "expired": 0})
    );
    assert!(push_view["last_error"].is_null());
    assert_eq!(streams[1]["id"], poll["stream_id"]);
    assert_eq!(streams[1]["delivery_method"], "poll");
    assert_eq!(streams[1]["counts"]["pending"], 0);

    // Pause: a stream-updated SET is recorded for the receiver; new events are held.
    let push_id = push["stream_id"].as_str().unwrap();
    let paused = server
        .admin(
            Method::PATCH,
            &format!("/streams/{push_id}"),
            Some(json!({"status": "paused", "reason": "maintenance"})),
        )
        .await;
    assert_eq!(paused.status, StatusCode::OK, "{}", paused.text);
    let paused = paused.json();
    assert_eq!(paused["status"], "paused");
    assert_eq!(paused["status_reason"], "maintenance");
    let updates = server
        .get(&format!("/streams/{push_id}/events?limit=1"))
        .await
        .json();
    assert_eq!(updates["events"][0]["event_type"], STREAM_UPDATED);
    assert_eq!(updates["events"][0]["status"], "pending");
    server.emit(id, password_changed("d@example.com")).await;
    let counts = server.get(&format!("/streams/{push_id}")).await.json()["counts"].clone();
    assert_eq!(
        counts,
        json!({"pending": 4, "held": 1, "delivered": 0, "failed": 0, "expired": 0})
    );

    // Enable releases the held event; disable expires everything undelivered.
    let enabled = server
        .admin(
            Method::PATCH,
            &format!("/streams/{push_id}"),
            Some(json!({"status": "enabled"})),
        )
        .await
        .json();
    assert_eq!(enabled["counts"]["held"], 0);
    assert_eq!(
        enabled["counts"]["pending"], 6,
        "4 pending, 1 released, 1 stream-updated (enabled)"
    );
    let disabled = server
        .admin(
            Method::PATCH,
            &format!("/streams/{push_id}"),
            Some(json!({"status": "disabled"})),
        )
        .await
        .json();
    assert_eq!(disabled["status"], "disabled");
    assert_eq!(disabled["counts"]["expired"], 6);
    assert_eq!(
        disabled["counts"]["pending"], 1,
        "the stream-updated SET announcing the disable"
    );

    for (body, field) in [
        (json!({"status": "sleeping"}), "status"),
        (json!({}), "status"),
        (
            json!({"status": "paused", "reason": "x".repeat(600)}),
            "reason",
        ),
        (json!({"status": "paused", "color": "red"}), "color"),
    ] {
        let bad = server
            .admin(
                Method::PATCH,
                &format!("/streams/{push_id}"),
                Some(body.clone()),
            )
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{body}: {}", bad.text);
        assert!(bad.description().contains(field), "{}", bad.text);
    }
    assert_eq!(
        server.get("/streams/nope").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server
            .admin(
                Method::PATCH,
                "/streams/nope",
                Some(json!({"status": "paused"}))
            )
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server.get("/providers/nope/streams").await.status,
        StatusCode::NOT_FOUND
    );
}

backend_tests!(
    an_administrator_pause_reaches_a_poll_receiver,
    admin_pause_poll_body
);
async fn admin_pause_poll_body(db: TestDb) {
    let server = start(db).await;
    let provider = server.create_provider(json!({"name": "Acme"})).await;
    let id = provider["id"].as_str().unwrap();
    let (_, token) = server.create_receiver(id, "CRM").await;
    let stream = server
        .create_stream(
            &provider,
            &token,
            json!({"events_requested": [CREDENTIAL_CHANGE]}),
        )
        .await;
    let stream_id = stream["stream_id"].as_str().unwrap();
    let reply = server
        .admin(
            Method::PATCH,
            &format!("/streams/{stream_id}"),
            Some(json!({"status": "paused", "reason": "billing"})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    let polled = server.poll(&stream, &token, &[]).await;
    let got = sets(&polled);
    assert_eq!(got.len(), 1, "{polled}");
    let claims = verify_with_josekit(&server.jwks(&provider).await, &got[0].1);
    assert_eq!(claims["events"][STREAM_UPDATED]["status"], "paused");
    assert_eq!(claims["events"][STREAM_UPDATED]["reason"], "billing");
    // The receiver's own status endpoint agrees.
    let status_url = format!(
        "{}/status?stream_id={stream_id}",
        provider["issuer"].as_str().unwrap()
    );
    assert_eq!(
        server
            .send(Method::GET, &status_url, Some(&token), None)
            .await
            .json()["status"],
        "paused"
    );
}

/// Every page of a stream's event listing, following the cursors from the newest page.
async fn pages_of_events(server: &AdminServer, stream_id: &str, limit: u32) -> Vec<Vec<Value>> {
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/streams/{stream_id}/events?limit={limit}&cursor={c}"),
            None => format!("/streams/{stream_id}/events?limit={limit}"),
        };
        let page = server.get(&path).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.text);
        let page = page.json();
        pages.push(page["events"].as_array().unwrap().clone());
        match page["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return pages,
        }
        assert!(pages.len() < 10, "pagination ends");
    }
}

backend_tests!(
    events_are_listed_newest_first_a_page_at_a_time,
    events_pagination_body
);
async fn events_pagination_body(db: TestDb) {
    let server = start(db).await;
    let provider = server.create_provider(json!({"name": "Acme"})).await;
    let id = provider["id"].as_str().unwrap();
    let (_, token) = server.create_receiver(id, "CRM").await;
    let stream = server
        .create_stream(
            &provider,
            &token,
            json!({"events_requested": [CREDENTIAL_CHANGE]}),
        )
        .await;
    let stream_id = stream["stream_id"].as_str().unwrap();
    let mut txns = Vec::new();
    for i in 0..5 {
        let receipt = server.emit(id, json!({"type": "password.changed", "user": {"id": format!("u{i}")}, "request_id": format!("req-{i}")})).await;
        txns.push(receipt["txn"].as_str().unwrap().to_owned());
    }

    let pages = pages_of_events(&server, stream_id, 2).await;
    let mut seen = Vec::new();
    for event in pages.iter().flatten() {
        assert_eq!(event["status"], "pending");
        assert_eq!(event["event_type"], CREDENTIAL_CHANGE);
        assert_eq!(event["attempts"], 0);
        assert!(event["expires_at"].is_string() && event["created_at"].is_string());
        assert!(event.get("payload").is_none() && event.get("token").is_none());
        seen.push(event["txn"].as_str().unwrap().to_owned());
    }
    assert_eq!(pages.len(), 3);
    txns.reverse();
    assert_eq!(seen, txns, "every event once, newest first");

    // Events in different states still list newest first, a page at a time, each once.
    for (txn, status) in [
        ("req-1", EventStatus::Delivered),
        ("req-2", EventStatus::Failed),
        ("req-3", EventStatus::Delivered),
    ] {
        stream_events::Entity::update_many()
            .col_expr(stream_events::Column::Status, Expr::value(status))
            .filter(stream_events::Column::Txn.eq(txn))
            .exec(&server.transmitter.db().orm)
            .await
            .unwrap();
    }
    let listed: Vec<(String, String)> = pages_of_events(&server, stream_id, 2)
        .await
        .iter()
        .flatten()
        .map(|event| {
            (
                event["txn"].as_str().unwrap().to_owned(),
                event["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected: Vec<(String, String)> = [
        ("req-4", "pending"),
        ("req-3", "delivered"),
        ("req-2", "failed"),
        ("req-1", "delivered"),
        ("req-0", "pending"),
    ]
    .iter()
    .map(|(txn, status)| (txn.to_string(), status.to_string()))
    .collect();
    assert_eq!(listed, expected);
    let delivered: Vec<String> = server
        .get(&format!("/streams/{stream_id}/events?status=delivered"))
        .await
        .json()["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["txn"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(delivered, ["req-3", "req-1"]);

    let one = server
        .get(&format!("/streams/{stream_id}/events?txn=req-3"))
        .await
        .json();
    assert_eq!(one["events"].as_array().unwrap().len(), 1);
    assert_eq!(
        server
            .get(&format!("/streams/{stream_id}/events?status=expired"))
            .await
            .json()["events"],
        json!([])
    );

    for (query, field) in [
        ("status=lost", "status"),
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=x", "limit"),
        ("cursor=abc", "cursor"),
    ] {
        let bad = server
            .get(&format!("/streams/{stream_id}/events?{query}"))
            .await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{query}: {}", bad.text);
        assert!(bad.description().contains(field), "{query}: {}", bad.text);
    }
    assert_eq!(
        server.get("/streams/nope/events").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server
            .get(&format!("/streams/{stream_id}/events/nope/attempts"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let jti = server
        .get(&format!("/streams/{stream_id}/events?limit=1"))
        .await
        .json()["events"][0]["jti"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        server
            .get(&format!("/streams/{stream_id}/events/{jti}/attempts"))
            .await
            .json(),
        json!([])
    );
    let pending = server
        .post(
            &format!("/streams/{stream_id}/events/{jti}/retry"),
            json!({}),
        )
        .await;
    assert_eq!(pending.status, StatusCode::CONFLICT);
    assert_eq!(pending.error_code(), "not_redrivable");
}

backend_tests!(
    redrive_delivers_failed_events_once_the_receiver_recovers,
    redrive_body
);
async fn redrive_body(db: TestDb) {
    let server = start(db).await;
    let healthy = Arc::new(AtomicBool::new(false));
    let receiver = {
        let healthy = healthy.clone();
        Receiver::start(move |_, _| {
            if healthy.load(Ordering::SeqCst) {
                AxumStatus::ACCEPTED.into_response()
            } else {
                (
                    AxumStatus::BAD_REQUEST,
                    r#"{"err":"invalid_key","description":"cannot verify yet"}"#,
                )
                    .into_response()
            }
        })
        .await
    };
    let worker = RunningWorker::start(server.transmitter.clone(), fast_config());
    let provider = server
        .create_provider(json!({"name": "Acme", "event_retention_seconds": 3600}))
        .await;
    let id = provider["id"].as_str().unwrap();
    let (_, token) = server.create_receiver(id, "CRM").await;
    let stream = server
        .create_stream(&provider, &token, json!({"delivery": {"method": PUSH, "endpoint_url": receiver.url}, "events_requested": [CREDENTIAL_CHANGE]}))
        .await;
    let stream_id = stream["stream_id"].as_str().unwrap().to_owned();
    let failed_events = |n: usize| {
        let server = &server;
        let stream_id = stream_id.clone();
        move || {
            let stream_id = stream_id.clone();
            async move {
                server
                    .get(&format!("/streams/{stream_id}/events?status=failed"))
                    .await
                    .json()["events"]
                    .as_array()
                    .unwrap()
                    .len()
                    == n
            }
        }
    };

    // The receiver refuses the SET: a permanent failure, visible to the operator.
    server.emit(id, password_changed("alice@example.com")).await;
    wait_for(
        "the event to fail",
        Duration::from_secs(10),
        failed_events(1),
    )
    .await;
    let failed = server
        .get(&format!("/streams/{stream_id}/events?status=failed"))
        .await
        .json()["events"][0]
        .clone();
    let jti = failed["jti"].as_str().unwrap().to_owned();
    assert_eq!(failed["last_http_status"], 400);
    assert!(
        failed["last_error"]
            .as_str()
            .unwrap()
            .contains("invalid_key"),
        "{failed}"
    );
    let attempts = server
        .get(&format!("/streams/{stream_id}/events/{jti}/attempts"))
        .await
        .json();
    assert_eq!(attempts.as_array().unwrap().len(), 1);
    assert_eq!(attempts[0]["outcome"], "permanent");
    assert_eq!(attempts[0]["http_status"], 400);
    assert_eq!(attempts[0]["attempt"], 1);
    let overview = server.get(&format!("/streams/{stream_id}")).await.json();
    assert_eq!(overview["counts"]["failed"], 1);
    assert_eq!(overview["last_error_jti"], jti.as_str());
    assert_eq!(overview["last_error_http_status"], 400);
    assert!(
        overview["last_error"]
            .as_str()
            .unwrap()
            .contains("invalid_key")
    );

    // The receiver recovers; the operator redrives; the same SET arrives.
    healthy.store(true, Ordering::SeqCst);
    let before = chrono::Utc::now();
    let retried = server
        .post(
            &format!("/streams/{stream_id}/events/{jti}/retry"),
            json!({}),
        )
        .await;
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.text);
    let retried = retried.json();
    assert_eq!(retried["status"], "pending");
    assert_eq!(retried["attempts"], 1, "attempts are kept");
    let expires_at =
        chrono::DateTime::parse_from_rfc3339(retried["expires_at"].as_str().unwrap()).unwrap();
    assert!(
        expires_at >= before + chrono::Duration::seconds(3599),
        "retention restarts: {expires_at}"
    );
    wait_for(
        "the redriven event to be delivered",
        Duration::from_secs(10),
        || async {
            server
                .get(&format!("/streams/{stream_id}/events?status=delivered"))
                .await
                .json()["events"]
                .as_array()
                .unwrap()
                .len()
                == 1
        },
    )
    .await;
    let received: Vec<_> = receiver
        .received()
        .into_iter()
        .filter(|r| r.jti == jti)
        .collect();
    assert_eq!(received.len(), 2);
    assert_eq!(
        received[0].token, received[1].token,
        "a redrive sends the same signed bytes"
    );
    let claims = verify_with_josekit(&server.jwks(&provider).await, &received[1].token);
    assert_eq!(claims["jti"], jti.as_str());
    let again = server
        .post(
            &format!("/streams/{stream_id}/events/{jti}/retry"),
            json!({}),
        )
        .await;
    assert_eq!(
        again.status,
        StatusCode::CONFLICT,
        "a delivered event is not redriven"
    );

    // Bulk: three more fail, then one request redrives them all.
    healthy.store(false, Ordering::SeqCst);
    for user in ["b@example.com", "c@example.com", "d@example.com"] {
        server.emit(id, password_changed(user)).await;
    }
    wait_for(
        "three events to fail",
        Duration::from_secs(10),
        failed_events(3),
    )
    .await;
    healthy.store(true, Ordering::SeqCst);
    let limited = server
        .post(
            &format!("/streams/{stream_id}/retry-failed"),
            json!({"limit": 2}),
        )
        .await;
    assert_eq!(limited.status, StatusCode::OK, "{}", limited.text);
    assert_eq!(limited.json()["retried"], 2);
    assert_eq!(limited.json()["remaining"], 1);
    let rest = server
        .admin(
            Method::POST,
            &format!("/streams/{stream_id}/retry-failed"),
            None,
        )
        .await;
    assert_eq!(rest.status, StatusCode::OK, "{}", rest.text);
    assert_eq!(
        rest.json(),
        json!({"stream_id": stream_id, "retried": 1, "remaining": 0})
    );
    wait_for(
        "every event to be delivered",
        Duration::from_secs(10),
        || async {
            server.get(&format!("/streams/{stream_id}")).await.json()["counts"]["delivered"] == 4
        },
    )
    .await;

    // The live view counts the attempts.
    let stats = server.get("/stats?window=3600").await;
    assert_eq!(stats.status, StatusCode::OK, "{}", stats.text);
    let stats = stats.json();
    assert_eq!(stats["minutes"].as_array().unwrap().len(), 60);
    assert_eq!(stats["delivered"], 4);
    assert_eq!(stats["failed"], 4);
    let per_minute: u64 = stats["minutes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["delivered"].as_u64().unwrap())
        .sum();
    assert_eq!(per_minute, 4);
    let scoped = server
        .get(&format!("/stats?window=600&provider_id={id}"))
        .await
        .json();
    assert_eq!(scoped["minutes"].as_array().unwrap().len(), 10);
    assert_eq!(scoped["delivered"], 4);
    let other = server.create_provider(json!({"name": "Other"})).await;
    let other_stats = server
        .get(&format!(
            "/stats?provider_id={}",
            other["id"].as_str().unwrap()
        ))
        .await
        .json();
    assert_eq!(other_stats["delivered"], 0);
    for query in ["window=59", "window=86401", "window=soon"] {
        let bad = server.get(&format!("/stats?{query}")).await;
        assert_eq!(bad.status, StatusCode::BAD_REQUEST, "{query}");
        assert!(bad.description().contains("window"), "{}", bad.text);
    }
    assert_eq!(
        server.get("/stats?provider_id=nope").await.status,
        StatusCode::NOT_FOUND
    );

    // Bad redrive requests.
    let bad_range = server
        .post(
            &format!("/streams/{stream_id}/retry-failed"),
            json!({"since": "2030-01-01T00:00:00Z", "until": "2020-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(bad_range.status, StatusCode::BAD_REQUEST);
    assert!(bad_range.description().contains("until"));
    let bad_limit = server
        .post(
            &format!("/streams/{stream_id}/retry-failed"),
            json!({"limit": 0}),
        )
        .await;
    assert_eq!(bad_limit.status, StatusCode::BAD_REQUEST);
    let bad_time = server
        .post(
            &format!("/streams/{stream_id}/retry-failed"),
            json!({"since": "yesterday"}),
        )
        .await;
    assert!(
        bad_time.description().contains("since"),
        "{}",
        bad_time.text
    );
    assert_eq!(
        server
            .post("/streams/nope/retry-failed", json!({}))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        server
            .post(
                &format!("/streams/{stream_id}/events/nope/retry"),
                json!({})
            )
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // Nothing is redriven onto a disabled stream.
    server
        .admin(
            Method::PATCH,
            &format!("/streams/{stream_id}"),
            Some(json!({"status": "disabled"})),
        )
        .await;
    let disabled = server
        .post(
            &format!("/streams/{stream_id}/retry-failed"),
            json!({"include_expired": true}),
        )
        .await;
    assert_eq!(disabled.status, StatusCode::CONFLICT);
    assert_eq!(disabled.error_code(), "stream_disabled");
    worker.stop().await;
}

backend_tests!(emitting_checks_the_event_and_the_provider, emit_errors_body);
async fn emit_errors_body(db: TestDb) {
    let server = start(db).await;
    let provider = server.create_provider(json!({"name": "Acme"})).await;
    let id = provider["id"].as_str().unwrap();
    let no_streams = server.emit(id, password_changed("a@example.com")).await;
    assert_eq!(no_streams["stream_events"], 0);
    assert!(no_streams["txn"].as_str().is_some_and(|t| !t.is_empty()));
    for event in [
        json!({"type": "password.changed"}),
        json!({"type": "password.changed", "user": {}}),
        json!({"type": "no.such.event", "user": {"email": "a@example.com"}}),
        json!([1, 2]),
    ] {
        let reply = server
            .post(&format!("/providers/{id}/events"), event.clone())
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{event}: {}",
            reply.text
        );
    }
    let missing = server
        .post("/providers/nope/events", password_changed("a@example.com"))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    server
        .admin(Method::DELETE, &format!("/providers/{id}"), None)
        .await;
    let deleted = server
        .post(
            &format!("/providers/{id}/events"),
            password_changed("a@example.com"),
        )
        .await;
    assert_eq!(deleted.status, StatusCode::NOT_FOUND);
}
