//! The delivery loop: claim due rows, deliver each stream's rows one at a time, record outcomes.
//!
//! One claiming loop per process feeds stream tasks: each claimed batch is split per stream, and
//! each stream's rows (in recording order) go to one task that signs them (on every core) and
//! pushes them one after another. Stream tasks are bounded (`max_streams_in_flight`) and so is
//! each receiver host (`endpoint_concurrency`); a host whose circuit is open gets its rows
//! pushed back to when the circuit half-opens, without holding a task. Outcomes flow to one
//! recorder task that writes them in batches; a stream becomes claimable again once they are
//! committed.
//!
//! A retry is a new due time on the row, never a sleep in a task. The loop claims when told
//! that work was committed (in-process wake, PostgreSQL `NOTIFY`, the SQLite wake queue) or that
//! a stream finished, and otherwise at least every `poll_interval`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ssf_provider::Transmitter;
use ssf_provider::clock::now_ms;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::circuit::{Admission, Endpoints};
use crate::claim::{self, AttemptRecord, ClaimedEvent, Release, StreamTarget, WriteGate};
use crate::config::WorkerConfig;
use crate::metrics;
use crate::push_client::{PushClient, PushOutcome, PushRequest};
use crate::receiver_secret;
use crate::retry_policy::RetryPolicy;
use crate::signer::Signer;

/// How long rows wait when their key or authorization header cannot be had (configuration
/// problems an operator fixes; no attempt is counted meanwhile).
const CONFIGURATION_RETRY: Duration = Duration::from_secs(30);

/// Outcomes written per transaction at most.
const RECORD_BATCH: usize = 2048;

/// How long the recorder lets outcomes gather before writing them.
const RECORD_COALESCE: Duration = Duration::from_millis(1);

/// What a stream task reports to the recorder.
pub(crate) enum Recorded {
    Attempt(AttemptRecord),
    Release(Release),
    /// Answered once everything sent before it is committed.
    Barrier(oneshot::Sender<()>),
}

/// Whether a stream task may go on with the stream's next rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Flow {
    Continue,
    Stop,
}

/// Everything the loop and its stream tasks share.
pub(crate) struct DeliveryContext {
    pub transmitter: Transmitter,
    pub config: WorkerConfig,
    pub policy: RetryPolicy,
    pub client: PushClient,
    pub endpoints: Endpoints,
    pub signer: Signer,
    pub recorder: mpsc::UnboundedSender<Recorded>,
    /// Cancelled at shutdown: no new claim, no new request.
    pub stopping: CancellationToken,
    /// Work committed by another process.
    pub remote_wake: Arc<Notify>,
    /// A stream task ended or outcomes were committed: streams may be claimable again.
    pub freed: Arc<Notify>,
    pub write_gate: Arc<WriteGate>,
}

/// Claims until `stopping` is cancelled; stream tasks are left in `tasks` for the caller to
/// finish or abort.
pub(crate) async fn run_claims(ctx: Arc<DeliveryContext>, tasks: &mut JoinSet<()>) {
    let slots = Arc::new(Semaphore::new(ctx.config.max_streams_in_flight));
    let lease_ms = millis(ctx.config.lease);
    loop {
        while tasks.try_join_next().is_some() {}
        if ctx.stopping.is_cancelled() {
            return;
        }
        // Registered before claiming, so a wake-up that arrives during the claim is kept.
        let local = ctx.transmitter.delivery_wake().notified();
        let remote = ctx.remote_wake.notified();
        let freed = ctx.freed.notified();
        tokio::pin!(local, remote, freed);
        local.as_mut().enable();
        remote.as_mut().enable();
        freed.as_mut().enable();

        if slots.available_permits() == 0 {
            tokio::select! {
                _ = &mut freed => {}
                _ = tokio::time::sleep(ctx.config.poll_interval) => {}
                _ = ctx.stopping.cancelled() => return,
            }
            continue;
        }
        let now = now_ms();
        let lease_until = now + lease_ms;
        let pool = &ctx.transmitter.db().pool;
        let gate = ctx.write_gate.enter().await;
        let claimed = claim::claim_due(
            pool,
            &ctx.config.worker_name,
            now,
            lease_until,
            ctx.config.batch_size,
        )
        .await;
        drop(gate);
        let rows = match claimed {
            Ok(rows) => rows,
            Err(error) => {
                tracing::warn!(%error, "claiming due stream events failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(ctx.config.poll_interval) => {}
                    _ = ctx.stopping.cancelled() => return,
                }
                continue;
            }
        };
        if rows.is_empty() {
            tokio::select! {
                _ = &mut local => {}
                _ = &mut remote => {}
                _ = &mut freed => {}
                _ = tokio::time::sleep(ctx.config.poll_interval) => {}
                _ = ctx.stopping.cancelled() => return,
            }
            continue;
        }
        dispatch(&ctx, rows, lease_until, &slots, tasks).await;
    }
}

/// Splits a claimed batch per stream and starts one task per stream.
async fn dispatch(
    ctx: &Arc<DeliveryContext>,
    rows: Vec<ClaimedEvent>,
    lease_until: i64,
    slots: &Arc<Semaphore>,
    tasks: &mut JoinSet<()>,
) {
    let mut per_stream: HashMap<String, Vec<ClaimedEvent>> = HashMap::new();
    for row in rows {
        per_stream
            .entry(row.stream_id.clone())
            .or_default()
            .push(row);
    }
    let ids: Vec<&str> = per_stream.keys().map(String::as_str).collect();
    let mut targets = match claim::load_targets(&ctx.transmitter.db().pool, &ids).await {
        Ok(targets) => targets,
        Err(error) => {
            tracing::warn!(%error, "reading stream targets failed; releasing the claimed rows");
            for row in per_stream.into_values().flatten() {
                release(ctx, &row, row.next_attempt_at);
            }
            return;
        }
    };
    for (stream_id, mut rows) in per_stream {
        rows.sort_by_key(|row| row.id);
        let target = targets.remove(&stream_id);
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        tasks.spawn(deliver_stream(
            ctx.clone(),
            stream_id,
            target,
            rows,
            lease_until,
            slot,
        ));
    }
}

/// Delivers one stream's claimed rows, oldest first, one at a time, then keeps the stream:
/// once those outcomes are committed it claims the stream's next due rows itself (an indexed
/// look at one stream), until the stream has nothing due or must stop.
async fn deliver_stream(
    ctx: Arc<DeliveryContext>,
    stream_id: String,
    mut target: Option<StreamTarget>,
    mut rows: Vec<ClaimedEvent>,
    mut lease_until: i64,
    _slot: OwnedSemaphorePermit,
) {
    let pool = &ctx.transmitter.db().pool;
    loop {
        let flow = deliver_stream_rows(&ctx, target, rows, lease_until).await;
        // The stream is free to claim only once its leases are cleared, i.e. committed.
        let (done, committed) = oneshot::channel();
        ctx.send(Recorded::Barrier(done));
        if committed.await.is_err() || flow == Flow::Stop || ctx.stopping.is_cancelled() {
            break;
        }
        let now = now_ms();
        lease_until = now + millis(ctx.config.lease);
        let gate = ctx.write_gate.enter().await;
        let claimed = claim::claim_stream(
            pool,
            &ctx.config.worker_name,
            &stream_id,
            now,
            lease_until,
            ctx.config.batch_size,
        )
        .await;
        drop(gate);
        rows = match claimed {
            Ok(rows) if !rows.is_empty() => rows,
            Ok(_) => break,
            Err(error) => {
                tracing::warn!(stream = %stream_id, %error, "claiming the stream's next rows failed");
                break;
            }
        };
        target = match claim::load_targets(pool, &[stream_id.as_str()]).await {
            Ok(mut targets) => targets.remove(&stream_id),
            Err(error) => {
                tracing::warn!(stream = %stream_id, %error, "reading the stream's target failed; releasing its rows");
                release_all(&ctx, &rows, None);
                break;
            }
        };
    }
    ctx.freed.notify_waiters();
}

async fn deliver_stream_rows(
    ctx: &DeliveryContext,
    target: Option<StreamTarget>,
    rows: Vec<ClaimedEvent>,
    lease_until: i64,
) -> Flow {
    // The stream was deleted after the claim: its rows are gone with it.
    let Some(target) = target else {
        return Flow::Stop;
    };
    let Some(endpoint_url) = target.endpoint_url.clone() else {
        for row in &rows {
            let record = settle(
                ctx,
                row,
                &target,
                no_endpoint(),
                Duration::ZERO,
                None,
                now_ms(),
            );
            ctx.send(Recorded::Attempt(record));
        }
        return Flow::Continue;
    };
    let endpoint = ctx.endpoints.get(&endpoint_url);
    let _endpoint_slot = tokio::select! {
        permit = endpoint.permits.clone().acquire_owned() => permit,
        _ = ctx.stopping.cancelled() => {
            release_all(ctx, &rows, None);
            return Flow::Stop;
        }
    };
    let authorization = match target
        .authorization_header
        .as_deref()
        .map(receiver_secret::open)
        .transpose()
    {
        Ok(authorization) => authorization,
        Err(error) => {
            tracing::error!(stream = %target.stream_id, %error, "cannot push: authorization header unavailable");
            release_all(ctx, &rows, Some(now_ms() + millis(CONFIGURATION_RETRY)));
            return Flow::Stop;
        }
    };

    let mut fresh_tokens: Vec<Option<Result<String, String>>> = vec![None; rows.len()];
    let unsigned: Vec<usize> = rows
        .iter()
        .enumerate()
        .filter(|(_, row)| row.token.is_none())
        .map(|(i, _)| i)
        .collect();
    if !unsigned.is_empty() {
        let key = match ctx.signer.key_for(&target.provider_id).await {
            Ok(key) => key,
            Err(error) => {
                tracing::error!(stream = %target.stream_id, provider = %target.provider_id, %error, "cannot sign: no usable key");
                release_all(ctx, &rows, Some(now_ms() + millis(CONFIGURATION_RETRY)));
                return Flow::Stop;
            }
        };
        let payloads = unsigned.iter().map(|&i| rows[i].payload.clone()).collect();
        for (index, token) in unsigned
            .into_iter()
            .zip(ctx.signer.sign_all(&key, payloads).await)
        {
            fresh_tokens[index] = Some(token);
        }
    }

    let request_budget = millis(ctx.config.request_timeout) * 3 / 2;
    for (index, row) in rows.iter().enumerate() {
        let now = now_ms();
        if ctx.stopping.is_cancelled() || lease_until - now < request_budget {
            // Shutting down, or the lease could run out mid-request: give the rest back.
            release_all(ctx, &rows[index..], None);
            return Flow::Stop;
        }
        if let Admission::OpenUntil(until) = endpoint.admit(now) {
            metrics::global().deferred.add((rows.len() - index) as u64);
            tracing::debug!(stream = %target.stream_id, deferred = rows.len() - index, until, "endpoint circuit open; deferring");
            release_all(ctx, &rows[index..], Some(until));
            return Flow::Stop;
        }
        let (token, store_token) = match (&row.token, fresh_tokens[index].take()) {
            (Some(token), _) => (token.clone(), false),
            (None, Some(Ok(token))) => (token, true),
            (None, Some(Err(error))) => {
                let outcome = PushOutcome::Permanent {
                    status: 0,
                    error: format!("cannot sign the SET: {error}"),
                    err: None,
                    description: None,
                    body: None,
                };
                ctx.send(Recorded::Attempt(settle(
                    ctx,
                    row,
                    &target,
                    outcome,
                    Duration::ZERO,
                    None,
                    now,
                )));
                continue;
            }
            (None, None) => {
                release_all(ctx, &rows[index..], None);
                return Flow::Stop;
            }
        };
        let request = PushRequest {
            endpoint: &endpoint_url,
            token: &token,
            authorization: authorization.as_deref(),
            verify_tls: target.verify_tls,
        };
        let (outcome, duration) = ctx.client.push(request).await;
        let finished = now_ms();
        let circuit_open_until = match &outcome {
            PushOutcome::Delivered { .. } => {
                endpoint.record_success();
                None
            }
            // A rejection is an answer: the endpoint is up. (Status 0 is our own refusal of the
            // URL, which says nothing about its health and must not leave a probe pending.)
            PushOutcome::Permanent { .. } => {
                endpoint.record_success();
                None
            }
            PushOutcome::Transient {
                opens_circuit,
                retry_after,
                ..
            } => endpoint.record_failure(finished, *opens_circuit, *retry_after),
        };
        let record = settle(
            ctx,
            row,
            &target,
            outcome,
            duration,
            store_token.then_some(token),
            finished,
        );
        ctx.send(Recorded::Attempt(record));
        if let Some(until) = circuit_open_until {
            let rest = &rows[index + 1..];
            if !rest.is_empty() {
                metrics::global().deferred.add(rest.len() as u64);
                release_all(ctx, rest, Some(until));
            }
            return Flow::Stop;
        }
    }
    Flow::Continue
}

/// The row's new state after `outcome`, with metrics and the attempt's log line.
fn settle(
    ctx: &DeliveryContext,
    row: &ClaimedEvent,
    target: &StreamTarget,
    outcome: PushOutcome,
    duration: Duration,
    token: Option<String>,
    now: i64,
) -> AttemptRecord {
    let m = metrics::global();
    let attempt = row.attempts.saturating_add(1);
    let duration_ms = millis(duration);
    if duration > Duration::ZERO {
        m.attempt_duration.observe(duration);
    }
    let base = AttemptRecord {
        id: row.id,
        attempt,
        status: "failed",
        outcome: "permanent",
        http_status: i32::from(outcome.status()),
        error: None,
        response_body: None,
        duration_ms,
        next_attempt_at: row.next_attempt_at,
        retry_at: None,
        expires_at: now.saturating_add(target.retention_ms),
        delivered_at: None,
        token,
        created_at: now,
    };
    match outcome {
        PushOutcome::Delivered { status } => {
            let latency = Duration::from_millis(u64::try_from(now - row.created_at).unwrap_or(0));
            m.delivered.add(1);
            m.delivery_latency.observe(latency);
            tracing::debug!(stream = %row.stream_id, jti = %row.jti, attempt, status, duration_ms, latency_ms = latency.as_millis() as u64, outcome = "delivered", "push attempt");
            // A delivered SET is never sent again, so its token need not be kept; leaving it
            // out keeps the hottest write small.
            AttemptRecord {
                status: "delivered",
                outcome: "delivered",
                delivered_at: Some(now),
                token: None,
                ..base
            }
        }
        PushOutcome::Permanent {
            status,
            error,
            body,
            ..
        } => {
            m.failed_permanent.add(1);
            tracing::warn!(stream = %row.stream_id, jti = %row.jti, attempt, status, duration_ms, %error, outcome = "permanent", "push attempt failed; not retrying");
            AttemptRecord {
                error: Some(error),
                response_body: body,
                ..base
            }
        }
        PushOutcome::Transient {
            status,
            error,
            retry_after,
            body,
            ..
        } => {
            match ctx
                .policy
                .next_wait(u32::try_from(attempt).unwrap_or(u32::MAX), retry_after)
            {
                Some(wait) => {
                    let retry_at = now.saturating_add(millis(wait));
                    m.retried.add(1);
                    tracing::info!(stream = %row.stream_id, jti = %row.jti, attempt, status, duration_ms, %error, retry_in_ms = millis(wait), outcome = "transient", "push attempt failed; will retry");
                    AttemptRecord {
                        status: "pending",
                        outcome: "transient",
                        error: Some(error),
                        response_body: body,
                        next_attempt_at: retry_at,
                        retry_at: Some(retry_at),
                        ..base
                    }
                }
                None => {
                    m.failed_exhausted.add(1);
                    tracing::warn!(stream = %row.stream_id, jti = %row.jti, attempt, status, duration_ms, %error, outcome = "transient", "push attempt failed; out of attempts");
                    AttemptRecord {
                        outcome: "transient",
                        error: Some(format!("gave up after {attempt} attempts; last: {error}")),
                        response_body: body,
                        ..base
                    }
                }
            }
        }
    }
}

fn no_endpoint() -> PushOutcome {
    PushOutcome::Permanent {
        status: 0,
        error: "the stream has no push endpoint".to_owned(),
        err: None,
        description: None,
        body: None,
    }
}

fn release(ctx: &DeliveryContext, row: &ClaimedEvent, next_attempt_at: i64) {
    ctx.send(Recorded::Release(Release {
        id: row.id,
        next_attempt_at,
    }));
}

/// Gives rows back: due at `until` when given, else when they already were.
fn release_all(ctx: &DeliveryContext, rows: &[ClaimedEvent], until: Option<i64>) {
    for row in rows {
        release(ctx, row, until.unwrap_or(row.next_attempt_at));
    }
}

impl DeliveryContext {
    fn send(&self, recorded: Recorded) {
        // The recorder outlives every stream task; if it is gone the lease will expire.
        let _ = self.recorder.send(recorded);
    }
}

/// Writes outcomes in batches until every sender is gone.
pub(crate) async fn run_recorder(
    transmitter: Transmitter,
    worker: String,
    mut outcomes: mpsc::UnboundedReceiver<Recorded>,
    write_gate: Arc<WriteGate>,
) {
    let pool = &transmitter.db().pool;
    while let Some(first) = outcomes.recv().await {
        // Under load, a moment's wait turns many small transactions into one.
        if outcomes.is_empty() {
            tokio::time::sleep(RECORD_COALESCE).await;
        }
        let mut attempts = Vec::new();
        let mut releases = Vec::new();
        let mut barriers = Vec::new();
        let mut next = Some(first);
        while let Some(recorded) = next {
            match recorded {
                Recorded::Attempt(attempt) => attempts.push(attempt),
                Recorded::Release(release) => releases.push(release),
                Recorded::Barrier(barrier) => barriers.push(barrier),
            }
            next = if attempts.len() + releases.len() < RECORD_BATCH {
                outcomes.try_recv().ok()
            } else {
                None
            };
        }
        let mut backoff = Duration::from_millis(50);
        for attempt in 1..=6 {
            let gate = write_gate.enter().await;
            let written = claim::record(pool, &worker, &attempts, &releases).await;
            drop(gate);
            match written {
                Ok(_) => break,
                Err(error) if attempt < 6 => {
                    tracing::warn!(%error, attempt, "recording delivery outcomes failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                }
                Err(error) => {
                    // The rows keep their lease and are claimed again when it runs out.
                    tracing::error!(%error, rows = attempts.len() + releases.len(), "recording delivery outcomes failed; rows will be retried after their lease");
                }
            }
        }
        for barrier in barriers {
            let _ = barrier.send(());
        }
    }
}

pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 4)
}
