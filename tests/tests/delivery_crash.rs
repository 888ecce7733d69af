//! Crash safety and scale-out: several workers share the work without sending a SET twice, and
//! a worker killed mid-burst loses nothing (its leases run out and another worker takes over).

mod delivery_support;

use std::collections::HashMap;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use delivery_support::{
    Fixture, RETENTION_SECONDS, Receiver, RunningWorker, fast_config, wait_for,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
use ssf_entities::{EventStatus, StreamStatus, stream_events, stream_leases};
use ssf_tests::{TestDb, backend_tests};

fn counts(jtis: Vec<String>) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for jti in jtis {
        *counts.entry(jti).or_insert(0) += 1;
    }
    counts
}

backend_tests!(
    two_workers_share_a_burst_without_duplicates,
    two_workers_share_a_burst_without_duplicates_body
);
async fn two_workers_share_a_burst_without_duplicates_body(test_db: TestDb) {
    let fx = Fixture::new(&test_db).await;
    let receiver = Receiver::accepting().await;
    let mut recorded = Vec::new();
    for _ in 0..10 {
        let stream = fx
            .push_stream(&receiver.url, StreamStatus::Enabled, None)
            .await;
        recorded.extend(fx.record_events(&stream, 150, EventStatus::Pending).await);
    }
    let second = fx.second_process(&test_db).await;
    let mut config = fast_config();
    config.batch_size = 32;
    // Each worker delivers at most 5 streams at a time: the burst needs both.
    config.max_streams_in_flight = 5;
    let one = RunningWorker::start(fx.transmitter.clone(), config.clone());
    let two = RunningWorker::start(
        second,
        WorkerConfig {
            worker_name: ssf_worker::config::unique_worker_name(),
            ..config
        },
    );
    let (one_name, two_name) = (one.name.clone(), two.name.clone());

    wait_for("the whole burst", Duration::from_secs(60), || async {
        fx.count_status(EventStatus::Delivered).await == recorded.len()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    one.stop().await;
    two.stop().await;

    let counts = counts(receiver.jtis());
    assert_eq!(counts.len(), recorded.len(), "every SET arrived");
    let duplicated: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        duplicated.is_empty(),
        "SETs sent twice without any crash: {duplicated:?}"
    );
    // Both workers took part (attempt rows name the worker).
    let attempts = ssf_entities::delivery_attempts::Entity::find()
        .all(&fx.db.orm)
        .await
        .unwrap();
    let by_one = attempts.iter().filter(|a| a.worker == one_name).count();
    let by_two = attempts.iter().filter(|a| a.worker == two_name).count();
    assert_eq!(by_one + by_two, recorded.len());
    assert!(
        by_one > 0 && by_two > 0,
        "work was shared: {by_one} / {by_two}"
    );
}

use ssf_worker::WorkerConfig;

backend_tests!(
    crashed_worker_loses_nothing,
    crashed_worker_loses_nothing_body
);
async fn crashed_worker_loses_nothing_body(test_db: TestDb) {
    let fx = Fixture::new(&test_db).await;
    // Slow enough that the crash lands mid-burst with deliveries in flight.
    let receiver = Receiver::start_with_delay(Duration::from_millis(5), |_, _| {
        StatusCode::ACCEPTED.into_response()
    })
    .await;
    let mut recorded = Vec::new();
    for _ in 0..8 {
        let stream = fx
            .push_stream(&receiver.url, StreamStatus::Enabled, None)
            .await;
        recorded.extend(fx.record_events(&stream, 60, EventStatus::Pending).await);
    }
    let mut config = fast_config();
    config.batch_size = 64;
    config.lease = Duration::from_secs(2);
    config.request_timeout = Duration::from_secs(1);
    let first = RunningWorker::start(fx.transmitter.clone(), config.clone());
    let first_name = first.name.clone();
    wait_for(
        "the burst to be under way",
        Duration::from_secs(20),
        || async { receiver.count() >= 60 },
    )
    .await;
    first.crash().await;

    let leased_streams: Vec<String> = stream_leases::Entity::find()
        .filter(stream_leases::Column::LeasedBy.eq(first_name.as_str()))
        .all(&fx.db.orm)
        .await
        .unwrap()
        .into_iter()
        .map(|lease| lease.stream_id)
        .collect();
    let left_behind = stream_events::Entity::find()
        .filter(stream_events::Column::StreamId.is_in(leased_streams))
        .filter(stream_events::Column::Status.eq(EventStatus::Pending))
        .all(&fx.db.orm)
        .await
        .unwrap();
    assert!(
        !left_behind.is_empty(),
        "the crash should leave leased streams with pending rows behind"
    );
    let undelivered = recorded.len() - fx.count_status(EventStatus::Delivered).await;
    assert!(
        undelivered > 0,
        "the crash should land before the burst is done"
    );

    let second = RunningWorker::start(
        fx.second_process(&test_db).await,
        WorkerConfig {
            worker_name: ssf_worker::config::unique_worker_name(),
            ..config
        },
    );
    wait_for("the rest of the burst", Duration::from_secs(60), || async {
        fx.count_status(EventStatus::Delivered).await == recorded.len()
    })
    .await;
    second.stop().await;

    let counts = counts(receiver.jtis());
    let mut expected = recorded.clone();
    expected.sort();
    let mut got: Vec<String> = counts.keys().cloned().collect();
    got.sort();
    assert_eq!(got, expected, "every SET arrived at least once");
    let duplicates: usize = counts.values().map(|n| n - 1).sum();
    assert!(
        duplicates <= left_behind.len(),
        "{duplicates} duplicates; only deliveries in flight at the crash ({}) may be repeated",
        left_behind.len()
    );
}

backend_tests!(
    graceful_stop_hands_over_cleanly,
    graceful_stop_hands_over_cleanly_body
);
async fn graceful_stop_hands_over_cleanly_body(test_db: TestDb) {
    let fx = Fixture::new(&test_db).await;
    let receiver = Receiver::start_with_delay(Duration::from_millis(20), |_, _| {
        StatusCode::ACCEPTED.into_response()
    })
    .await;
    let mut recorded = Vec::new();
    for _ in 0..4 {
        let stream = fx
            .push_stream(&receiver.url, StreamStatus::Enabled, None)
            .await;
        recorded.extend(fx.record_events(&stream, 50, EventStatus::Pending).await);
    }
    let first = RunningWorker::start(fx.transmitter.clone(), fast_config());
    let first_name = first.name.clone();
    wait_for(
        "the burst to be under way",
        Duration::from_secs(20),
        || async { receiver.count() >= 20 },
    )
    .await;
    first.stop().await;

    let still_leased = stream_leases::Entity::find()
        .filter(stream_leases::Column::LeasedBy.eq(first_name.as_str()))
        .all(&fx.db.orm)
        .await
        .unwrap();
    assert!(
        still_leased.is_empty(),
        "a graceful stop gives back every lease ({} kept)",
        still_leased.len()
    );
    let delivered = fx.count_status(EventStatus::Delivered).await;
    assert!(delivered < recorded.len(), "the stop should land mid-burst");
    assert_eq!(
        delivered,
        receiver.count(),
        "every request made before the stop was recorded"
    );

    let second = RunningWorker::start(
        fx.transmitter.clone(),
        WorkerConfig {
            worker_name: ssf_worker::config::unique_worker_name(),
            ..fast_config()
        },
    );
    wait_for("the rest of the burst", Duration::from_secs(30), || async {
        fx.count_status(EventStatus::Delivered).await == recorded.len()
    })
    .await;
    second.stop().await;
    let counts = counts(receiver.jtis());
    assert_eq!(counts.len(), recorded.len());
    assert!(
        counts.values().all(|n| *n == 1),
        "no SET is sent twice after a graceful stop"
    );
}

/// The outcome a worker reports for a row it sent (`status`: `delivered` or, for a retry,
/// `pending`), as the delivery loop builds it.
fn outcome(id: i64, status: &'static str, now: i64) -> ssf_worker::claim::AttemptRecord {
    let delivered = status == "delivered";
    ssf_worker::claim::AttemptRecord {
        id,
        attempt: 1,
        status,
        outcome: if delivered { "delivered" } else { "transient" },
        http_status: if delivered { 202 } else { 503 },
        error: (!delivered).then(|| "HTTP 503".to_owned()),
        response_body: None,
        duration_ms: 3,
        next_attempt_at: if delivered { now } else { now + 60_000 },
        retry_at: (!delivered).then_some(now + 60_000),
        expires_at: now + RETENTION_SECONDS * 1000,
        delivered_at: delivered.then_some(now),
        token: None,
        created_at: now,
    }
}

backend_tests!(
    a_worker_whose_lease_was_taken_over_cannot_overwrite_outcomes,
    a_worker_whose_lease_was_taken_over_cannot_overwrite_outcomes_body
);
async fn a_worker_whose_lease_was_taken_over_cannot_overwrite_outcomes_body(test_db: TestDb) {
    use ssf_worker::claim::{self, Deferral};
    let fx = Fixture::new(&test_db).await;
    let stream = fx
        .push_stream("http://127.0.0.1:1/events", StreamStatus::Enabled, None)
        .await;
    let jtis = fx.record_events(&stream, 3, EventStatus::Pending).await;
    let pool = &fx.transmitter.db().pool;
    let now = ssf_provider::clock::now_ms();

    // The old worker holds the stream with a lease that runs out at once (a stalled process).
    let leased = claim::claim_due(pool, "old", now, now + 30_000, 8)
        .await
        .unwrap();
    assert_eq!(leased, vec![stream.id.clone()]);
    let old_rows = claim::claim_stream(pool, "old", &stream.id, now, now + 1, 100)
        .await
        .unwrap();
    assert_eq!(old_rows.len(), 3);
    tokio::time::sleep(Duration::from_millis(20)).await;

    // Another worker takes the stream over and delivers the first SET.
    let later = ssf_provider::clock::now_ms();
    let taken = claim::claim_due(pool, "new", later, later + 30_000, 8)
        .await
        .unwrap();
    assert_eq!(taken, vec![stream.id.clone()]);
    let new_rows = claim::claim_stream(pool, "new", &stream.id, later, later + 30_000, 100)
        .await
        .unwrap();
    assert_eq!(new_rows.len(), 3, "the new holder sees every pending row");
    let held = claim::record(
        pool,
        "new",
        &[outcome(new_rows[0].id, "delivered", later)],
        &[],
    )
    .await
    .unwrap();
    assert_eq!(held, 1);

    // The old worker's late outcomes change no row: not the delivered one, not the pending ones.
    let late = [
        outcome(old_rows[0].id, "pending", later),
        outcome(old_rows[1].id, "pending", later),
    ];
    let deferral = Deferral {
        id: old_rows[2].id,
        next_attempt_at: later + 3_600_000,
    };
    let held = claim::record(pool, "old", &late, &[deferral])
        .await
        .unwrap();
    assert_eq!(held, 0, "no row is still held by the old worker");

    let first = fx.event(&jtis[0]).await;
    assert_eq!(first.status, EventStatus::Delivered);
    assert_eq!(first.attempts, 1);
    let second = fx.event(&jtis[1]).await;
    assert_eq!(second.status, EventStatus::Pending);
    assert_eq!(second.attempts, 0);
    assert_eq!(second.next_attempt_at, old_rows[1].next_attempt_at);
    let third = fx.event(&jtis[2]).await;
    assert_eq!(
        third.next_attempt_at, old_rows[2].next_attempt_at,
        "a deferral by a worker that lost the stream is ignored"
    );

    // Both attempts on the first SET happened and are logged; the old worker's attempt on the
    // second is logged too, though it changed nothing.
    let logged: Vec<_> = fx
        .attempts(&jtis[0])
        .await
        .into_iter()
        .map(|a| (a.worker, a.http_status))
        .collect();
    assert_eq!(
        logged,
        vec![("new".to_owned(), 202), ("old".to_owned(), 503)]
    );
    assert_eq!(fx.attempts(&jtis[1]).await.len(), 1);

    // The holder's own outcome for a row still pending is written.
    let held = claim::record(
        pool,
        "new",
        &[outcome(new_rows[1].id, "pending", later)],
        &[],
    )
    .await
    .unwrap();
    assert_eq!(held, 1);
    let second = fx.event(&jtis[1]).await;
    assert_eq!(second.attempts, 1);
    assert_eq!(second.next_attempt_at, later + 60_000);
}
