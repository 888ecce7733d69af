//! Stream status, subjects, verification and the inactivity timeout, over HTTP.

mod ssf_api_support;

use reqwest::StatusCode;
use serde_json::json;
use ssf_api_support::*;
use ssf_entities::{DefaultSubjects, EventStatus};
use ssf_tests::{TestDb, backend_tests};

backend_tests!(
    pause_holds_enable_releases_in_order_disable_drops,
    super::status_body
);
async fn status_body(db: TestDb) {
    let server = start(db, Options::default()).await;
    let token = server.receiver("rp").await;
    let id = server.poll_stream(&token).await;

    let reply = server.get(&format!("/status?stream_id={id}"), &token).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    assert_eq!(reply.json(), json!({"stream_id": id, "status": "enabled"}));

    let reply = server
        .post(
            "/status",
            &token,
            json!({"stream_id": id, "status": "paused", "reason": "maintenance"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(
        reply.json(),
        json!({"stream_id": id, "status": "paused", "reason": "maintenance"})
    );
    assert_eq!(
        server
            .get(&format!("/status?stream_id={id}"), &token)
            .await
            .json()["reason"],
        "maintenance"
    );
    assert!(
        server.stream_events(&id).await.is_empty(),
        "a receiver's own change sends no stream-updated event"
    );

    // While paused, new events are held, and a poll returns nothing.
    for user in ["a@example.com", "b@example.com", "c@example.com"] {
        assert_eq!(server.password_changed(user).await, 1);
    }
    let held = server.stream_events(&id).await;
    assert_eq!(held.len(), 3);
    assert!(held.iter().all(|row| row.status == EventStatus::Held));
    let polled = server
        .poll(&token, &id, json!({"returnImmediately": true}))
        .await;
    assert_eq!(polled["sets"], json!({}));

    // Enabling releases them, oldest first.
    let reply = server
        .post(
            "/status",
            &token,
            json!({"stream_id": id, "status": "enabled"}),
        )
        .await;
    assert_eq!(reply.json()["status"], "enabled");
    let polled = server
        .poll(&token, &id, json!({"returnImmediately": true}))
        .await;
    let jtis: Vec<&String> = polled["sets"].as_object().unwrap().keys().collect();
    let expected: Vec<&String> = held.iter().map(|row| &row.jti).collect();
    assert_eq!(jtis, expected, "released in the order they were recorded");

    // Disabling drops what is undelivered, and nothing new is recorded.
    server.password_changed("d@example.com").await;
    let reply = server
        .post(
            "/status",
            &token,
            json!({"stream_id": id, "status": "disabled"}),
        )
        .await;
    assert_eq!(reply.json()["status"], "disabled");
    let rows = server.stream_events(&id).await;
    assert!(
        rows.iter().all(|row| row.status == EventStatus::Expired),
        "{rows:?}"
    );
    assert_eq!(server.password_changed("e@example.com").await, 0);
    let reply = server
        .post("/verify", &token, json!({"stream_id": id}))
        .await;
    assert_eq!(
        (reply.status, reply.error_code().as_str()),
        (StatusCode::BAD_REQUEST, "stream_disabled")
    );
}

backend_tests!(subjects_filter_what_a_stream_receives, super::subjects_body);
async fn subjects_body(db: TestDb) {
    // NONE: only added subjects.
    let server = start(
        db,
        Options {
            default_subjects: DefaultSubjects::None,
            ..Options::default()
        },
    )
    .await;
    let token = server.receiver("rp").await;
    let id = server.poll_stream(&token).await;
    assert_eq!(server.password_changed("alice@example.com").await, 0);

    let alice = json!({"format": "email", "email": "alice@example.com"});
    let reply = server
        .post(
            "/subjects:add",
            &token,
            json!({"stream_id": id, "subject": alice, "verified": true}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert!(reply.text.is_empty());
    assert_eq!(reply.header("cache-control"), Some("no-store"));
    // Adding twice is harmless.
    assert_eq!(
        server
            .post(
                "/subjects:add",
                &token,
                json!({"stream_id": id, "subject": alice})
            )
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        server.password_changed("Alice@Example.com").await,
        1,
        "email matching ignores case"
    );
    assert_eq!(server.password_changed("bob@example.com").await, 0);

    let reply = server
        .post(
            "/subjects:remove",
            &token,
            json!({"stream_id": id, "subject": alice}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT);
    assert!(reply.text.is_empty());
    assert_eq!(server.password_changed("alice@example.com").await, 0);

    // A complex subject naming a user is found by that user's events.
    let complex =
        json!({"format": "complex", "user": {"format": "email", "email": "carol@example.com"}});
    server
        .post(
            "/subjects:add",
            &token,
            json!({"stream_id": id, "subject": complex}),
        )
        .await;
    assert_eq!(server.password_changed("carol@example.com").await, 1);

    // Bad subjects and unknown streams.
    let reply = server
        .post(
            "/subjects:add",
            &token,
            json!({"stream_id": id, "subject": {"format": "email"}}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = server
        .post("/subjects:add", &token, json!({"stream_id": id}))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = server
        .post(
            "/subjects:add",
            &token,
            json!({"stream_id": "nope", "subject": alice}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    // The stream's own subject cannot be removed.
    let own = json!({"format": "opaque", "id": id});
    let reply = server
        .post(
            "/subjects:remove",
            &token,
            json!({"stream_id": id, "subject": own}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
}

backend_tests!(
    removed_subjects_leave_an_all_stream,
    super::subjects_all_body
);
async fn subjects_all_body(db: TestDb) {
    let server = start(db, Options::default()).await;
    let token = server.receiver("rp").await;
    let id = server.poll_stream(&token).await;
    assert_eq!(server.password_changed("alice@example.com").await, 1);
    let alice = json!({"format": "email", "email": "alice@example.com"});
    server
        .post(
            "/subjects:remove",
            &token,
            json!({"stream_id": id, "subject": alice}),
        )
        .await;
    assert_eq!(server.password_changed("alice@example.com").await, 0);
    assert_eq!(server.password_changed("bob@example.com").await, 1);
    server
        .post(
            "/subjects:add",
            &token,
            json!({"stream_id": id, "subject": alice}),
        )
        .await;
    assert_eq!(server.password_changed("alice@example.com").await, 1);

    let conn = &server.transmitter.db().orm;
    let bob = ssf_provider::set::SubjectId::email("bob@example.com");
    assert!(
        ssf_provider::streams::covers_subject(conn, DefaultSubjects::All, &id, &bob)
            .await
            .unwrap()
    );
}

backend_tests!(
    verification_records_a_set_on_the_stream,
    super::verification_body
);
async fn verification_body(db: TestDb) {
    let server = start(
        db,
        Options {
            min_verification_interval_seconds: 60,
            ..Options::default()
        },
    )
    .await;
    let token = server.receiver("rp").await;
    let config = server.create_stream(&token, json!({})).await;
    assert_eq!(config["min_verification_interval"], 60);
    let id = config["stream_id"].as_str().unwrap();

    let reply = server
        .post(
            "/verify",
            &token,
            json!({"stream_id": id, "state": "VGhpcyBpcyBhIHN0YXRl"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text);
    assert!(reply.text.is_empty());
    let rows = server.stream_events(id).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].event_type, VERIFICATION);
    assert_eq!(rows[0].status, EventStatus::Pending);
    assert_eq!(rows[0].delivery_method, ssf_entities::DeliveryMethod::Poll);
    let claims = payload_of(&rows[0]);
    assert_eq!(claims["iss"], server.provider.issuer);
    assert_eq!(claims["aud"], config["aud"]);
    assert_eq!(claims["sub_id"], json!({"format": "opaque", "id": id}));
    assert_eq!(
        claims["events"][VERIFICATION]["state"],
        "VGhpcyBpcyBhIHN0YXRl"
    );

    // Again within min_verification_interval: 429 with Retry-After, and nothing recorded.
    let reply = server
        .post("/verify", &token, json!({"stream_id": id}))
        .await;
    assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
    let retry_after: u64 = reply.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_eq!(server.stream_events(id).await.len(), 1);

    let reply = server.post("/verify", &token, json!({"state": "x"})).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = server
        .post("/verify", &token, json!({"stream_id": "nope"}))
        .await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

backend_tests!(
    inactive_streams_are_paused_with_a_stream_updated_event,
    super::inactivity_body
);
async fn inactivity_body(db: TestDb) {
    let server = start(
        db,
        Options {
            inactivity_timeout_seconds: Some(60),
            ..Options::default()
        },
    )
    .await;
    let token = server.receiver("rp").await;
    let config = server.create_stream(&token, json!({})).await;
    assert_eq!(config["inactivity_timeout"], 60);
    let idle = config["stream_id"].as_str().unwrap().to_owned();
    let db = server.transmitter.db();
    let now = ssf_provider::clock::now_ms();

    assert_eq!(
        ssf_provider::streams::pause_inactive(db, now)
            .await
            .unwrap(),
        0,
        "nothing is idle yet"
    );
    // An hour later, a stream the receiver keeps using stays enabled; the idle one is paused.
    let later = now + 3_600_000;
    let busy = server.poll_stream(&token).await;
    {
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
        ssf_entities::streams::Entity::update_many()
            .col_expr(
                ssf_entities::streams::Column::LastActivityAt,
                Expr::value(later - 1_000),
            )
            .filter(ssf_entities::streams::Column::Id.eq(&busy))
            .exec(&db.orm)
            .await
            .unwrap();
    }
    assert_eq!(
        ssf_provider::streams::pause_inactive(db, later)
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        ssf_provider::streams::pause_inactive(db, later)
            .await
            .unwrap(),
        0,
        "only once"
    );
    let status = server
        .get(&format!("/status?stream_id={idle}"), &token)
        .await
        .json();
    assert_eq!(status["status"], "paused");
    assert_eq!(
        server
            .get(&format!("/status?stream_id={busy}"), &token)
            .await
            .json()["status"],
        "enabled"
    );

    // The receiver is told, by a SET that is not held by the pause it announces.
    let rows = server.stream_events(&idle).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].event_type, STREAM_UPDATED);
    assert_eq!(rows[0].status, EventStatus::Pending);
    let claims = payload_of(&rows[0]);
    assert_eq!(claims["sub_id"], json!({"format": "opaque", "id": idle}));
    assert_eq!(claims["events"][STREAM_UPDATED]["status"], "paused");
    let polled = server
        .poll(&token, &idle, json!({"returnImmediately": true}))
        .await;
    assert_eq!(polled["sets"].as_object().unwrap().len(), 1);
}
