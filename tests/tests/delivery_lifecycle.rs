//! What happens around delivery: another process's emit wakes this worker at once (NOTIFY on
//! PostgreSQL, the wake queue on SQLite), the sweep expires and purges rows, and the metrics
//! count what was done.

mod delivery_support;

use std::time::{Duration, Instant};

use delivery_support::{Fixture, Receiver, RunningWorker, fast_config, wait_for};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, IntoActiveModel, QueryFilter, Set, TransactionTrait,
};
use ssf_entities::{EventStatus, StreamStatus, delivery_attempts, stream_events};
use ssf_provider::clock::now_ms;
use ssf_provider::delivery_wake;
use ssf_tests::{TestDb, backend_tests};

backend_tests!(
    another_process_wakes_delivery,
    another_process_wakes_delivery_body
);
async fn another_process_wakes_delivery_body(test_db: TestDb) {
    let fx = Fixture::new(&test_db).await;
    let receiver = Receiver::accepting().await;
    let stream = fx
        .push_stream(&receiver.url, StreamStatus::Enabled, None)
        .await;
    let mut config = fast_config();
    // Without a wake-up this worker would look only every 10 seconds.
    config.poll_interval = Duration::from_secs(10);
    let worker = RunningWorker::start(fx.transmitter.clone(), config);
    // Let the worker settle into its idle wait.
    tokio::time::sleep(Duration::from_millis(500)).await;

    // "Another process": its own pool, its own in-process signal, nobody waiting on it.
    let other = fx.second_process(&test_db).await;
    let other_fx = Fixture {
        db: other.db().clone(),
        transmitter: other.clone(),
        provider: fx.provider.clone(),
    };
    let txn = other.db().orm.begin().await.unwrap();
    let jti = other_fx
        .record_events_on(&txn, &stream, 1, EventStatus::Pending)
        .await
        .remove(0);
    delivery_wake::wake_in_tx(&txn, other.db().backend())
        .await
        .unwrap();
    let committed = Instant::now();
    txn.commit().await.unwrap();

    wait_for(
        "the other process's SET",
        Duration::from_secs(5),
        || async { receiver.count() == 1 },
    )
    .await;
    let waited = committed.elapsed();
    worker.stop().await;
    assert_eq!(receiver.jtis(), vec![jti]);
    assert!(
        waited < Duration::from_secs(2),
        "delivery waited {waited:?}: the wake-up did not reach the worker"
    );
}

backend_tests!(sweep_expires_and_purges, sweep_expires_and_purges_body);
async fn sweep_expires_and_purges_body(test_db: TestDb) {
    let fx = Fixture::new(&test_db).await;
    let receiver = Receiver::accepting().await;
    let paused = fx
        .push_stream(&receiver.url, StreamStatus::Paused, None)
        .await;
    let enabled = fx
        .push_stream(&receiver.url, StreamStatus::Enabled, None)
        .await;
    let held = fx.record_events(&paused, 2, EventStatus::Held).await;
    let delivered = fx.record_events(&enabled, 2, EventStatus::Pending).await;
    let worker = RunningWorker::start(fx.transmitter.clone(), fast_config());
    wait_for("deliveries", Duration::from_secs(10), || async {
        fx.count_status(EventStatus::Delivered).await == 2
    })
    .await;
    let before = ssf_worker::metrics::global().expired.get();

    let past = now_ms() - 1;
    // One held SET reaches its expiry; one delivered SET reaches the end of its retention.
    let mut row = fx.event(&held[0]).await.into_active_model();
    row.expires_at = Set(past);
    row.update(&fx.db.orm).await.unwrap();
    let mut row = fx.event(&delivered[0]).await.into_active_model();
    row.expires_at = Set(past);
    row.update(&fx.db.orm).await.unwrap();
    let delivered_id = fx.event(&delivered[0]).await.id;

    // The worker's periodic sweep (every second here) does the rest.
    wait_for("the sweep", Duration::from_secs(10), || async {
        fx.event(&held[0]).await.status == EventStatus::Expired
            && stream_events::Entity::find_by_id(delivered_id)
                .one(&fx.db.orm)
                .await
                .unwrap()
                .is_none()
    })
    .await;
    worker.stop().await;

    let expired = fx.event(&held[0]).await;
    assert!(
        expired.expires_at > now_ms(),
        "an expired SET stays visible for redrive for a retention period"
    );
    assert_eq!(
        fx.event(&held[1]).await.status,
        EventStatus::Held,
        "the other held SET is untouched"
    );
    assert_eq!(
        fx.event(&delivered[1]).await.status,
        EventStatus::Delivered,
        "a SET within its retention stays"
    );
    let orphans = delivery_attempts::Entity::find()
        .filter(delivery_attempts::Column::StreamEventId.eq(delivered_id))
        .all(&fx.db.orm)
        .await
        .unwrap();
    assert!(orphans.is_empty(), "a purged SET's attempts go with it");
    assert!(ssf_worker::metrics::global().expired.get() > before);
    let text = ssf_worker::metrics::render();
    let delivered_total: u64 = text
        .lines()
        .find_map(|line| line.strip_prefix("ssf_push_delivered_total "))
        .and_then(|v| v.parse().ok())
        .expect("delivered counter");
    assert!(delivered_total >= 2, "{text}");
    let metric = |name: &str| -> f64 {
        text.lines()
            .find_map(|line| line.strip_prefix(name)?.strip_prefix(' '))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing: {text}"))
    };
    assert!(metric("ssf_sets_signed_total") >= 2.0, "{text}");
    assert!(metric("ssf_signing_cpu_seconds_total") > 0.0, "{text}");
    assert!(receiver.count() == 2, "held SETs are never pushed");
}
