//! RFC 8935 push delivery: what receivers get, and what becomes of each event on 2xx, on
//! transient failures and on permanent rejections. Real HTTP receivers on 127.0.0.1, on SQLite
//! and PostgreSQL.

mod delivery_support;

use std::time::Duration;

use axum::http::StatusCode;
use axum::response::IntoResponse;
use delivery_support::{Fixture, Receiver, RunningWorker, fast_config, wait_for};
use ssf_entities::{AttemptOutcome, EventStatus, StreamStatus};
use ssf_tests::{TestDb, backend_tests};

backend_tests!(delivered_once_on_202, delivered_once_on_202_body);
async fn delivered_once_on_202_body(test_db: TestDb) {
    let fx = Fixture::new(&test_db).await;
    let receiver = Receiver::accepting().await;
    let with_auth = fx
        .push_stream(
            &receiver.url,
            StreamStatus::Enabled,
            Some("Bearer receiver-secret"),
        )
        .await;
    let without_auth = fx
        .push_stream(&receiver.url, StreamStatus::Enabled, None)
        .await;
    let mut jtis = fx.record_events(&with_auth, 5, EventStatus::Pending).await;
    let plain = fx
        .record_events(&without_auth, 3, EventStatus::Pending)
        .await;
    jtis.extend(plain.iter().cloned());
    let worker = RunningWorker::start(fx.transmitter.clone(), fast_config());

    wait_for("8 deliveries", Duration::from_secs(10), || async {
        fx.count_status(EventStatus::Delivered).await == 8
    })
    .await;
    // Give a duplicate the chance to show up.
    tokio::time::sleep(Duration::from_millis(300)).await;
    worker.stop().await;

    let mut received = receiver.jtis();
    received.sort();
    let mut expected = jtis.clone();
    expected.sort();
    assert_eq!(received, expected, "each SET exactly once");
    for request in receiver.received() {
        assert_eq!(
            request.content_type.as_deref(),
            Some("application/secevent+jwt")
        );
        assert_eq!(request.accept.as_deref(), Some("application/json"));
        let expected_auth = if plain.contains(&request.jti) {
            None
        } else {
            Some("Bearer receiver-secret")
        };
        assert_eq!(
            request.authorization.as_deref(),
            expected_auth,
            "authorization header verbatim, or none"
        );
    }
    for request in receiver.received() {
        let row = fx.event(&request.jti).await;
        assert_eq!(row.status, EventStatus::Delivered);
        assert_eq!(row.attempts, 1);
        assert_eq!(row.last_http_status, Some(202));
        assert_eq!(row.lease_until, None);
        let delivered_at = row.delivered_at.expect("delivered_at");
        assert_eq!(
            row.expires_at,
            delivered_at + delivery_support::RETENTION_SECONDS * 1000,
            "kept for the retention period"
        );
        let attempts = fx.attempts(&request.jti).await;
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0].outcome, AttemptOutcome::Delivered);
        assert_eq!(attempts[0].http_status, 202);
        assert_eq!(attempts[0].attempt, 1);
    }
}

backend_tests!(
    a_receiver_answering_with_a_body_keeps_one_connection,
    a_receiver_answering_with_a_body_keeps_one_connection_body
);
async fn a_receiver_answering_with_a_body_keeps_one_connection_body(test_db: TestDb) {
    let fx = Fixture::new(&test_db).await;
    // Receivers often say more than 202: a short JSON acknowledgement, here still arriving when
    // the status line is read. Left unread, such a body takes its connection out of the pool,
    // and every SET would pay for a new one.
    let receiver = Receiver::start(|_, _| {
        let body = futures::stream::unfold(0, |part| async move {
            let chunk: &'static [u8] = match part {
                0 => b"{\"status\":",
                1 => {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    b"\"accepted\"}"
                }
                _ => return None,
            };
            Some((Ok::<_, std::convert::Infallible>(chunk), part + 1))
        });
        (
            StatusCode::ACCEPTED,
            [("content-type", "application/json")],
            axum::body::Body::from_stream(body),
        )
            .into_response()
    })
    .await;
    let stream = fx
        .push_stream(&receiver.url, StreamStatus::Enabled, None)
        .await;
    fx.record_events(&stream, 20, EventStatus::Pending).await;
    let worker = RunningWorker::start(fx.transmitter.clone(), fast_config());
    wait_for("20 deliveries", Duration::from_secs(10), || async {
        fx.count_status(EventStatus::Delivered).await == 20
    })
    .await;
    worker.stop().await;

    let mut peers: Vec<_> = receiver.received().iter().map(|r| r.peer).collect();
    assert_eq!(peers.len(), 20);
    peers.sort();
    peers.dedup();
    // One stream's SETs go out one after another, so one connection would do; hyper may open a
    // second (or a few, on a loaded machine) when a SET is sent before the previous connection
    // is back in the pool. Bodies left unread cost a connection per SET.
    assert!(
        peers.len() <= 5,
        "20 SETs over {} connections: connections are not kept alive",
        peers.len()
    );
}

backend_tests!(
    retried_on_503_until_accepted,
    retried_on_503_until_accepted_body
);
async fn retried_on_503_until_accepted_body(test_db: TestDb) {
    let fx = Fixture::new(&test_db).await;
    // Two refusals, then acceptance, for every SET.
    let receiver = Receiver::start(|_, seen| {
        if seen < 2 {
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        } else {
            StatusCode::ACCEPTED.into_response()
        }
    })
    .await;
    let stream = fx
        .push_stream(&receiver.url, StreamStatus::Enabled, None)
        .await;
    let jti = fx
        .record_events(&stream, 1, EventStatus::Pending)
        .await
        .remove(0);
    let recorded = fx.event(&jti).await;
    let mut config = fast_config();
    // Long enough to look at the row between attempts.
    config.retry_min_backoff = Duration::from_millis(400);
    config.retry_max_backoff = Duration::from_millis(600);
    config.circuit_failure_threshold = 10;
    let worker = RunningWorker::start(fx.transmitter.clone(), config);

    wait_for(
        "the first failed attempt",
        Duration::from_secs(10),
        || async { fx.event(&jti).await.attempts >= 1 },
    )
    .await;
    let waiting = fx.event(&jti).await;
    assert_eq!(waiting.status, EventStatus::Pending, "a 503 is retried");
    assert_eq!(waiting.last_http_status, Some(503));
    assert!(
        waiting
            .last_error
            .as_deref()
            .unwrap_or_default()
            .contains("503"),
        "{:?}",
        waiting.last_error
    );
    assert!(
        waiting.expires_at > recorded.expires_at,
        "every failed attempt moves expires_at"
    );
    assert!(
        waiting.next_attempt_at > recorded.next_attempt_at,
        "the retry is scheduled later"
    );
    assert!(
        waiting.token.is_some(),
        "the signed SET is kept for the retry"
    );

    wait_for(
        "delivery after two retries",
        Duration::from_secs(10),
        || async { fx.event(&jti).await.status == EventStatus::Delivered },
    )
    .await;
    worker.stop().await;

    let row = fx.event(&jti).await;
    assert_eq!(row.attempts, 3);
    let attempts = fx.attempts(&jti).await;
    let outcomes: Vec<_> = attempts
        .iter()
        .map(|a| (a.attempt, a.outcome, a.http_status))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            (1, AttemptOutcome::Transient, 503),
            (2, AttemptOutcome::Transient, 503),
            (3, AttemptOutcome::Delivered, 202)
        ]
    );
    assert!(attempts[0].next_attempt_at.is_some() && attempts[2].next_attempt_at.is_none());
    let sent: Vec<String> = receiver.received().into_iter().map(|r| r.token).collect();
    assert_eq!(sent.len(), 3);
    assert!(
        sent.iter().all(|token| token == &sent[0]),
        "retries send identical bytes"
    );
    // The waits follow the schedule: no retry came sooner than the minimum backoff (-20% jitter).
    let times: Vec<_> = receiver.received().into_iter().map(|r| r.at).collect();
    for pair in times.windows(2) {
        assert!(
            pair[1] - pair[0] >= Duration::from_millis(300),
            "retried after {:?}",
            pair[1] - pair[0]
        );
    }
}

backend_tests!(
    not_retried_on_invalid_audience,
    not_retried_on_invalid_audience_body
);
async fn not_retried_on_invalid_audience_body(test_db: TestDb) {
    let fx = Fixture::new(&test_db).await;
    let receiver = Receiver::start(|_, _| {
        (
            StatusCode::BAD_REQUEST,
            r#"{"err":"invalid_audience","description":"the audience is not this receiver"}"#,
        )
            .into_response()
    })
    .await;
    let stream = fx
        .push_stream(&receiver.url, StreamStatus::Enabled, None)
        .await;
    let jti = fx
        .record_events(&stream, 1, EventStatus::Pending)
        .await
        .remove(0);
    let worker = RunningWorker::start(fx.transmitter.clone(), fast_config());

    wait_for("the rejection", Duration::from_secs(10), || async {
        fx.event(&jti).await.status == EventStatus::Failed
    })
    .await;
    // Several retry periods: nothing more may be sent.
    tokio::time::sleep(Duration::from_millis(500)).await;
    worker.stop().await;

    assert_eq!(receiver.count(), 1, "a permanent rejection is not retried");
    let row = fx.event(&jti).await;
    assert_eq!(row.attempts, 1);
    assert_eq!(row.last_http_status, Some(400));
    let error = row.last_error.expect("last_error");
    assert!(
        error.contains("invalid_audience") && error.contains("the audience is not this receiver"),
        "{error}"
    );
    let attempts = fx.attempts(&jti).await;
    assert_eq!(attempts.len(), 1);
    assert_eq!(attempts[0].outcome, AttemptOutcome::Permanent);
    assert!(
        attempts[0]
            .response_body
            .as_deref()
            .unwrap_or_default()
            .contains("invalid_audience")
    );
    assert!(
        row.expires_at > ssf_provider::clock::now_ms(),
        "a failed event stays visible for redrive"
    );
}

backend_tests!(unauthorized_is_permanent, unauthorized_is_permanent_body);
async fn unauthorized_is_permanent_body(test_db: TestDb) {
    let fx = Fixture::new(&test_db).await;
    let receiver = Receiver::start(|_, _| StatusCode::UNAUTHORIZED.into_response()).await;
    let stream = fx
        .push_stream(&receiver.url, StreamStatus::Enabled, Some("Bearer wrong"))
        .await;
    let jti = fx
        .record_events(&stream, 1, EventStatus::Pending)
        .await
        .remove(0);
    let worker = RunningWorker::start(fx.transmitter.clone(), fast_config());
    wait_for("the rejection", Duration::from_secs(10), || async {
        fx.event(&jti).await.status == EventStatus::Failed
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    worker.stop().await;
    assert_eq!(receiver.count(), 1);
    assert_eq!(fx.event(&jti).await.last_http_status, Some(401));
}

backend_tests!(
    gives_up_after_max_attempts,
    gives_up_after_max_attempts_body
);
async fn gives_up_after_max_attempts_body(test_db: TestDb) {
    let fx = Fixture::new(&test_db).await;
    let receiver = Receiver::start(|_, _| StatusCode::INTERNAL_SERVER_ERROR.into_response()).await;
    let stream = fx
        .push_stream(&receiver.url, StreamStatus::Enabled, None)
        .await;
    let jti = fx
        .record_events(&stream, 1, EventStatus::Pending)
        .await
        .remove(0);
    let mut config = fast_config();
    config.max_attempts = 3;
    config.circuit_failure_threshold = 100;
    let worker = RunningWorker::start(fx.transmitter.clone(), config);
    wait_for("giving up", Duration::from_secs(10), || async {
        fx.event(&jti).await.status == EventStatus::Failed
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    worker.stop().await;
    assert_eq!(receiver.count(), 3, "exactly max_attempts tries");
    let row = fx.event(&jti).await;
    assert_eq!(row.attempts, 3);
    assert!(
        row.last_error
            .unwrap_or_default()
            .contains("gave up after 3 attempts")
    );
    assert_eq!(fx.attempts(&jti).await.len(), 3);
}

backend_tests!(retry_after_is_honoured, retry_after_is_honoured_body);
async fn retry_after_is_honoured_body(test_db: TestDb) {
    let fx = Fixture::new(&test_db).await;
    let receiver = Receiver::start(|_, seen| {
        if seen == 0 {
            (StatusCode::TOO_MANY_REQUESTS, [("retry-after", "1")]).into_response()
        } else {
            StatusCode::ACCEPTED.into_response()
        }
    })
    .await;
    let stream = fx
        .push_stream(&receiver.url, StreamStatus::Enabled, None)
        .await;
    let jti = fx
        .record_events(&stream, 1, EventStatus::Pending)
        .await
        .remove(0);
    let mut config = fast_config();
    config.retry_max_backoff = Duration::from_secs(5);
    let worker = RunningWorker::start(fx.transmitter.clone(), config);
    wait_for("delivery", Duration::from_secs(10), || async {
        fx.event(&jti).await.status == EventStatus::Delivered
    })
    .await;
    worker.stop().await;
    let times: Vec<_> = receiver.received().into_iter().map(|r| r.at).collect();
    assert_eq!(times.len(), 2);
    assert!(
        times[1] - times[0] >= Duration::from_millis(950),
        "waited only {:?} despite Retry-After: 1",
        times[1] - times[0]
    );
}

backend_tests!(
    disabled_stream_gets_nothing,
    disabled_stream_gets_nothing_body
);
async fn disabled_stream_gets_nothing_body(test_db: TestDb) {
    let fx = Fixture::new(&test_db).await;
    let receiver = Receiver::accepting().await;
    let disabled = fx
        .push_stream(&receiver.url, StreamStatus::Disabled, None)
        .await;
    let enabled = fx
        .push_stream(&receiver.url, StreamStatus::Enabled, None)
        .await;
    fx.record_events(&disabled, 3, EventStatus::Pending).await;
    let live = fx.record_events(&enabled, 1, EventStatus::Pending).await;
    let worker = RunningWorker::start(fx.transmitter.clone(), fast_config());
    wait_for(
        "the enabled stream's event",
        Duration::from_secs(10),
        || async { receiver.count() >= 1 },
    )
    .await;
    tokio::time::sleep(Duration::from_millis(400)).await;
    worker.stop().await;
    assert_eq!(
        receiver.jtis(),
        live,
        "rows of a disabled stream are never pushed"
    );
}
