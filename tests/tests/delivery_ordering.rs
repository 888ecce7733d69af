//! Delivery across streams and endpoints: a dead receiver does not hold up a live one, and a
//! paused stream's backlog arrives in its original order once the stream is enabled.

mod delivery_support;

use std::time::{Duration, Instant};

use delivery_support::{Fixture, Receiver, RunningWorker, black_hole, fast_config, wait_for};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};
use ssf_entities::{EventStatus, StreamStatus, stream_events};
use ssf_provider::streams::{self, Initiator};
use ssf_tests::{TestDb, backend_tests};

backend_tests!(
    dead_receiver_does_not_delay_live_one,
    dead_receiver_does_not_delay_live_one_body
);
async fn dead_receiver_does_not_delay_live_one_body(test_db: TestDb) {
    let fx = Fixture::new(&test_db).await;
    let (dead_url, _dead) = black_hole().await;
    let live = Receiver::accepting().await;
    // Several streams on the dead host, recorded first so they are due first.
    let mut dead_streams = Vec::new();
    for _ in 0..4 {
        let stream = fx.push_stream(&dead_url, StreamStatus::Enabled, None).await;
        fx.record_events(&stream, 25, EventStatus::Pending).await;
        dead_streams.push(stream);
    }
    let live_stream = fx.push_stream(&live.url, StreamStatus::Enabled, None).await;
    let live_jtis = fx
        .record_events(&live_stream, 50, EventStatus::Pending)
        .await;

    let mut config = fast_config();
    config.request_timeout = Duration::from_secs(4);
    config.lease = Duration::from_secs(10);
    config.circuit_min_open = Duration::from_secs(5);
    config.circuit_max_open = Duration::from_secs(5);
    let started = Instant::now();
    let worker = RunningWorker::start(fx.transmitter.clone(), config);
    wait_for("every live SET", Duration::from_secs(10), || async {
        live.count() >= live_jtis.len()
    })
    .await;
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(3),
        "live deliveries waited {took:?} behind a receiver that never answers"
    );

    // The dead host got at most one request in flight per concurrent stream; the rest wait
    // without an attempt until its circuit half-opens.
    let dead_ids: Vec<String> = dead_streams.iter().map(|s| s.id.clone()).collect();
    let tried = || async {
        stream_events::Entity::find()
            .filter(stream_events::Column::Attempts.gt(0))
            .filter(stream_events::Column::StreamId.is_in(dead_ids.clone()))
            .all(&fx.db.orm)
            .await
            .unwrap()
    };
    wait_for(
        "the dead host's timeout",
        Duration::from_secs(10),
        || async { !tried().await.is_empty() },
    )
    .await;
    worker.stop().await;
    let tried = tried().await;
    assert!(
        tried.len() <= dead_streams.len(),
        "{} dead-host events were tried; the circuit should hold the rest",
        tried.len()
    );
    assert!(
        tried
            .iter()
            .all(|row| row.status == EventStatus::Pending && row.last_http_status == Some(0))
    );
    assert_eq!(
        fx.count_status(EventStatus::Delivered).await,
        live_jtis.len()
    );
    assert_eq!(
        fx.count_status(EventStatus::Pending).await,
        100,
        "nothing for the dead host is lost or given up"
    );
}

backend_tests!(
    paused_backlog_arrives_in_order,
    paused_backlog_arrives_in_order_body
);
async fn paused_backlog_arrives_in_order_body(test_db: TestDb) {
    let fx = Fixture::new(&test_db).await;
    let receiver = Receiver::accepting().await;
    let stream = fx
        .push_stream(&receiver.url, StreamStatus::Paused, None)
        .await;
    let mut config = fast_config();
    // Small batches: the backlog spans many claims.
    config.batch_size = 16;
    let worker = RunningWorker::start(fx.transmitter.clone(), config);
    let mut backlog = Vec::new();
    for _ in 0..6 {
        backlog.extend(fx.record_events(&stream, 50, EventStatus::Held).await);
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(receiver.count(), 0, "a paused stream's events are held");

    let txn = fx.db.orm.begin().await.unwrap();
    streams::set_status(
        &txn,
        &fx.provider,
        &stream,
        StreamStatus::Enabled,
        None,
        Initiator::Receiver,
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
    fx.transmitter.delivery_wake().notify_waiters();
    // Events recorded after the release come after the backlog.
    let later = fx.record_events(&stream, 20, EventStatus::Pending).await;

    wait_for("the whole backlog", Duration::from_secs(20), || async {
        receiver.count() >= backlog.len() + later.len()
    })
    .await;
    worker.stop().await;
    let expected: Vec<String> = backlog.into_iter().chain(later).collect();
    assert_eq!(
        receiver.jtis(),
        expected,
        "delivered once each, in recording order"
    );
}
