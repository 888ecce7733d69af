//! The schema applies on both backends, is idempotent, and holds the rows the entities describe.

use sea_orm::{ActiveModelTrait, ConnectionTrait, EntityTrait, PaginatorTrait, Set, Statement};
use ssf_entities::{AttemptOutcome, AttemptTrigger};
use ssf_entities::{
    DefaultSubjects, DeliveryMethod, EventStatus, SigningAlg, StreamStatus, SubjectFormat,
};
use ssf_entities::{delivery_attempts, providers, stream_events, streams};
use ssf_migrations::{Migrator, MigratorTrait};
use ssf_tests::{TestDb, backend_tests};

async fn applies_twice_and_stores_rows(test_db: TestDb) {
    let db = test_db.open().await;
    // A second run (as every `ssf serve` start does) changes nothing and does not fail.
    db.migrate().await.expect("second migration run");
    let applied = Migrator::get_applied_migrations(&db.orm).await.unwrap();
    assert_eq!(applied.len(), Migrator::migrations().len());
    assert!(
        Migrator::get_pending_migrations(&db.orm)
            .await
            .unwrap()
            .is_empty()
    );

    let now = ssf_provider::clock::now_ms();
    providers::ActiveModel {
        id: Set("p1".into()),
        slug: Set("acme".into()),
        name: Set("Acme".into()),
        issuer: Set("https://idp.example:443/ssf/acme".into()),
        signing_alg: Set(SigningAlg::ES256),
        event_retention_seconds: Set(30 * 24 * 3600),
        default_subjects: Set(DefaultSubjects::All),
        subject_format: Set(SubjectFormat::Email),
        idp_issuer: Set(None),
        verify_tls: Set(true),
        min_verification_interval_seconds: Set(15),
        inactivity_timeout_seconds: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        deleted_at: Set(None),
    }
    .insert(&db.orm)
    .await
    .unwrap();
    for stream_id in ["s1", "s2"] {
        stream(stream_id, now).insert(&db.orm).await.unwrap();
    }
    let mut ids = Vec::new();
    for n in 0..3 {
        let row = event("s1", &format!("jti-{n}"), now)
            .insert(&db.orm)
            .await
            .unwrap();
        ids.push(row.id);
    }
    // Auto-increment ids order a stream's events.
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");

    // A duplicate jti is refused by the schema, not only by the code.
    let duplicate = db
        .orm
        .execute_raw(Statement::from_string(
            db.orm.get_database_backend(),
            format!(
                "INSERT INTO stream_events (stream_id, delivery_method, jti, event_type, payload, status, attempts, next_attempt_at, expires_at, created_at) \
                 VALUES ('s1', 'push', 'jti-0', 'x', '{{}}', 'pending', 0, {now}, {now}, {now})"
            ),
        ))
        .await;
    assert!(duplicate.is_err());

    // Deleting a stream removes its events and their attempts, and nothing of other streams
    // (foreign keys on SQLite, delete triggers on PostgreSQL).
    for (n, stream_id) in ["s1", "s2"].into_iter().enumerate() {
        let event = event(stream_id, &format!("jti-of-{stream_id}"), now)
            .insert(&db.orm)
            .await
            .unwrap();
        for attempt in 1..=2 {
            attempt_of(event.id, attempt, now + n as i64)
                .insert(&db.orm)
                .await
                .unwrap();
        }
    }
    streams::Entity::delete_by_id("s2")
        .exec(&db.orm)
        .await
        .unwrap();
    let events: Vec<stream_events::Model> =
        stream_events::Entity::find().all(&db.orm).await.unwrap();
    assert_eq!(events.len(), 4, "{events:?}");
    assert!(events.iter().all(|e| e.stream_id == "s1"), "{events:?}");
    let attempts: Vec<delivery_attempts::Model> = delivery_attempts::Entity::find()
        .all(&db.orm)
        .await
        .unwrap();
    let s1_event = events.iter().find(|e| e.jti == "jti-of-s1").unwrap();
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert!(attempts.iter().all(|a| a.stream_event_id == s1_event.id));

    // Deleting an event (the sweep's purge) removes its attempts.
    stream_events::Entity::delete_by_id(s1_event.id)
        .exec(&db.orm)
        .await
        .unwrap();
    assert_eq!(
        delivery_attempts::Entity::find()
            .count(&db.orm)
            .await
            .unwrap(),
        0
    );

    // Deleting the provider removes its streams and their events and attempts.
    let last = events.iter().find(|e| e.jti == "jti-0").unwrap();
    attempt_of(last.id, 1, now).insert(&db.orm).await.unwrap();
    providers::Entity::delete_by_id("p1")
        .exec(&db.orm)
        .await
        .unwrap();
    assert_eq!(
        stream_events::Entity::find().count(&db.orm).await.unwrap(),
        0
    );
    assert_eq!(
        delivery_attempts::Entity::find()
            .count(&db.orm)
            .await
            .unwrap(),
        0
    );
    assert_eq!(streams::Entity::find().count(&db.orm).await.unwrap(), 0);
}

fn event(stream_id: &str, jti: &str, now: i64) -> stream_events::ActiveModel {
    stream_events::ActiveModel {
        stream_id: Set(stream_id.into()),
        delivery_method: Set(DeliveryMethod::Push),
        jti: Set(jti.into()),
        txn: Set(None),
        event_type: Set(
            "https://schemas.openid.net/secevent/caep/event-type/session-revoked".into(),
        ),
        payload: Set("{}".into()),
        token: Set(None),
        status: Set(EventStatus::Pending),
        attempts: Set(0),
        next_attempt_at: Set(now),
        lease_until: Set(None),
        leased_by: Set(None),
        last_error: Set(None),
        last_http_status: Set(None),
        expires_at: Set(now + 1000),
        created_at: Set(now),
        delivered_at: Set(None),
        ..Default::default()
    }
}

fn attempt_of(stream_event_id: i64, attempt: i32, now: i64) -> delivery_attempts::ActiveModel {
    delivery_attempts::ActiveModel {
        stream_event_id: Set(stream_event_id),
        attempt: Set(attempt),
        outcome: Set(AttemptOutcome::Transient),
        http_status: Set(503),
        response_body: Set(None),
        error: Set(Some("unavailable".into())),
        duration_ms: Set(3),
        trigger: Set(AttemptTrigger::Scheduled),
        worker: Set("w".into()),
        next_attempt_at: Set(Some(now + 1000)),
        created_at: Set(now),
        ..Default::default()
    }
}

fn stream(id: &str, now: i64) -> streams::ActiveModel {
    streams::ActiveModel {
        id: Set(id.into()),
        provider_id: Set("p1".into()),
        receiver_id: Set(None),
        owner: Set("owner".into()),
        aud: Set("\"https://rp.example\"".into()),
        delivery_method: Set(DeliveryMethod::Push),
        delivery_method_uri: Set("urn:ietf:rfc:8935".into()),
        endpoint_url: Set(Some("https://rp.example/events".into())),
        authorization_header: Set(None),
        format: Set(None),
        events_requested: Set("[]".into()),
        events_delivered: Set("[]".into()),
        description: Set(None),
        status: Set(StreamStatus::Enabled),
        status_reason: Set(None),
        subject_in_event: Set(false),
        last_verification_at: Set(None),
        last_activity_at: Set(now),
        created_at: Set(now),
        updated_at: Set(now),
    }
}

backend_tests!(
    migrations_apply_twice_and_store_rows,
    applies_twice_and_stores_rows
);

#[tokio::test]
async fn sqlite_runs_in_wal_mode_with_durable_sync_and_foreign_keys() {
    let test_db = TestDb::sqlite();
    let db = test_db.open().await;
    let ssf_provider::db::Pool::Sqlite(pool) = &db.pool else {
        panic!("sqlite pool")
    };
    let mode: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(mode, "wal");
    // 1 = NORMAL, 2 = FULL; 0 (OFF) would lose committed events on a crash.
    let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
        .fetch_one(pool)
        .await
        .unwrap();
    assert!(synchronous >= 1, "synchronous = {synchronous}");
    let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
        .fetch_one(pool)
        .await
        .unwrap();
    assert_eq!(foreign_keys, 1);
}
