//! Crash safety and scale-out: several workers share the work without sending a SET twice, and
//! a worker killed mid-burst loses nothing (its leases run out and another worker takes over).

mod delivery_support;

use std::collections::HashMap;
use std::time::Duration;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use delivery_support::{Fixture, Receiver, RunningWorker, fast_config, wait_for};
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
