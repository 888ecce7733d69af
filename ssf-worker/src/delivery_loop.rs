//! The delivery loop: claim due rows, deliver each stream's rows one at a time, record outcomes.
//!
//! One claiming loop per process feeds stream tasks: each claimed batch is split per stream, and
//! each stream's rows (in recording order) go to one task that has them signed (on every core,
//! in order) and pushes each as soon as it is signed. Stream tasks are bounded (`max_streams_in_flight`) and so is
//! each receiver host (`endpoint_concurrency`); a host whose circuit is open gets its rows
//! pushed back to when the circuit half-opens, without holding a task. Outcomes flow to one
//! recorder task that writes them in batches; a stream becomes claimable again once they are
//! committed.
//!
//! A retry is a new due time on the row, never a sleep in a task. The loop claims when told
//! that work was committed (in-process wake, PostgreSQL `NOTIFY`, the SQLite wake queue) or that
//! a stream finished, and otherwise at least every `poll_interval`.

use std::sync::Arc;
use std::time::Duration;

use ssf_provider::Transmitter;
use ssf_provider::clock::now_ms;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::circuit::{Admission, Endpoints};
use crate::claim::{self, AttemptRecord, ClaimedEvent, Deferral, StreamTarget, WriteGate};
use crate::config::WorkerConfig;
use crate::metrics;
use crate::push_client::{PushClient, PushOutcome, PushRequest};
use crate::receiver_secret;
use crate::retry_policy::RetryPolicy;
use crate::signer::Signer;

/// How long rows wait when their key or authorization header cannot be had (configuration
/// problems an operator fixes; no attempt is counted meanwhile).
const CONFIGURATION_RETRY: Duration = Duration::from_secs(30);

/// Streams one claim leases at most: claims stay short, and the claims of workers started
/// together interleave. A worker claims again at once after a claim that found streams, up to
/// `max_streams_in_flight` streams (which is what bounds one worker's share).
const STREAMS_PER_CLAIM: usize = 8;

/// Shortest pause between two claims that found nothing while streams are being delivered.
const CLAIM_SETTLE: Duration = Duration::from_millis(50);

/// Outcomes written per transaction at most.
const RECORD_BATCH: usize = 2048;

/// How long the recorder lets outcomes gather before writing them, unless a stream task is
/// waiting for them to be committed. Outcomes arrive one SET at a time; a transaction per
/// handful of them would cost the database more than the deliveries themselves, and each
/// batch pays a fixed price (on PostgreSQL, parsing and planning the outcome statement and a
/// commit): 40 ms instead of 10 cut PostgreSQL's CPU per SET by about a sixth in the RS256
/// bench (docs/benchmarks.md). A crash loses at most this much of outcomes (those SETs are
/// sent again); a stream task never waits for it.
const RECORD_COALESCE: Duration = Duration::from_millis(40);

/// What a stream task reports to the recorder.
pub(crate) enum Recorded {
    Attempt(AttemptRecord),
    Deferral(Deferral),
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
            u32::try_from(slots.available_permits().min(STREAMS_PER_CLAIM)).unwrap_or(1),
        )
        .await;
        drop(gate);
        let streams = match claimed {
            Ok(streams) => streams,
            Err(error) => {
                tracing::warn!(%error, "claiming due stream events failed; retrying");
                tokio::select! {
                    _ = tokio::time::sleep(ctx.config.poll_interval) => {}
                    _ = ctx.stopping.cancelled() => return,
                }
                continue;
            }
        };
        if streams.is_empty() {
            let found_nothing = tokio::time::Instant::now();
            tokio::select! {
                _ = &mut local => {}
                _ = &mut remote => {}
                _ = &mut freed => {}
                _ = tokio::time::sleep(ctx.config.poll_interval) => {}
                _ = ctx.stopping.cancelled() => return,
            }
            // While stream tasks run they take their own streams' new rows; a claim here only
            // finds other streams, at the cost of a probe per stream. Under load, at most one
            // such claim per CLAIM_SETTLE instead of one per commit.
            if !tasks.is_empty() {
                tokio::select! {
                    _ = tokio::time::sleep_until(found_nothing + CLAIM_SETTLE) => {}
                    _ = ctx.stopping.cancelled() => return,
                }
            }
            continue;
        }
        for stream_id in streams {
            let Ok(slot) = slots.clone().acquire_owned().await else {
                return;
            };
            tasks.spawn(deliver_stream(ctx.clone(), stream_id, slot));
        }
    }
}

/// Delivers a leased stream: takes its due rows (extending the lease), sends them oldest
/// first, one at a time, and once their outcomes are committed takes the next ones, until the
/// stream has nothing due (the claim then ends the lease) or must stop (then the lease is
/// ended here).
async fn deliver_stream(ctx: Arc<DeliveryContext>, stream_id: String, _slot: OwnedSemaphorePermit) {
    let pool = &ctx.transmitter.db().pool;
    let mut holding = true;
    loop {
        let now = now_ms();
        let lease_until = now + millis(ctx.config.lease);
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
        let rows = match claimed {
            Ok(rows) if !rows.is_empty() => rows,
            // Nothing due (the lease was ended with the claim) or the lease was lost.
            Ok(_) => {
                holding = false;
                break;
            }
            Err(error) => {
                tracing::warn!(stream = %stream_id, %error, "claiming the stream's rows failed");
                break;
            }
        };
        let target = match claim::load_targets(pool, &[stream_id.as_str()]).await {
            Ok(mut targets) => targets.remove(&stream_id),
            Err(error) => {
                tracing::warn!(stream = %stream_id, %error, "reading the stream's target failed; giving the stream back");
                break;
            }
        };
        let flow = deliver_stream_rows(&ctx, target, rows, lease_until).await;
        // The stream may be given back, or its next rows taken, only once these outcomes are
        // committed: another worker would otherwise send them again.
        let (done, committed) = oneshot::channel();
        ctx.send(Recorded::Barrier(done));
        if committed.await.is_err() {
            // The recorder is gone (the worker is being torn down): the lease runs out.
            holding = false;
            break;
        }
        if flow == Flow::Stop || ctx.stopping.is_cancelled() {
            break;
        }
    }
    if holding {
        end_lease(&ctx, &stream_id).await;
    }
    ctx.freed.notify_waiters();
}

/// Gives a stream back at once (when this fails, its lease runs out instead).
async fn end_lease(ctx: &DeliveryContext, stream_id: &str) {
    let gate = ctx.write_gate.enter().await;
    let ended = claim::end_lease(
        &ctx.transmitter.db().pool,
        &ctx.config.worker_name,
        stream_id,
    )
    .await;
    drop(gate);
    if let Err(error) = ended {
        tracing::warn!(stream = %stream_id, %error, "giving the stream back failed; its lease will run out");
    }
}

async fn deliver_stream_rows(
    ctx: &DeliveryContext,
    target: Option<StreamTarget>,
    mut rows: Vec<ClaimedEvent>,
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
        _ = ctx.stopping.cancelled() => return Flow::Stop,
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
            defer_all(ctx, &rows, now_ms() + millis(CONFIGURATION_RETRY));
            return Flow::Stop;
        }
    };

    // Rows signed before (a retry, a redrive) send the same bytes again; the others are signed
    // now, in order, while the first ones are already being pushed.
    let mut signed = if rows.iter().any(|row| row.token.is_none()) {
        let key = match ctx.signer.key_for(&target.provider_id).await {
            Ok(key) => key,
            Err(error) => {
                tracing::error!(stream = %target.stream_id, provider = %target.provider_id, %error, "cannot sign: no usable key");
                defer_all(ctx, &rows, now_ms() + millis(CONFIGURATION_RETRY));
                return Flow::Stop;
            }
        };
        let payloads = rows
            .iter_mut()
            .filter(|row| row.token.is_none())
            .map(|row| std::mem::take(&mut row.payload))
            .collect();
        Some(ctx.signer.sign_in_order(&key, payloads))
    } else {
        None
    };

    let request_budget = millis(ctx.config.request_timeout) * 3 / 2;
    for (index, row) in rows.iter().enumerate() {
        let now = now_ms();
        if ctx.stopping.is_cancelled() || lease_until - now < request_budget {
            // Shutting down, or the lease could run out mid-request: leave the rest as they are.
            return Flow::Stop;
        }
        if let Admission::OpenUntil(until) = endpoint.admit(now) {
            metrics::global().deferred.add((rows.len() - index) as u64);
            tracing::debug!(stream = %target.stream_id, deferred = rows.len() - index, until, "endpoint circuit open; deferring");
            defer_all(ctx, &rows[index..], until);
            return Flow::Stop;
        }
        let fresh = match (&row.token, signed.as_mut()) {
            (None, Some(queue)) => queue.next().await,
            _ => None,
        };
        let (token, store_token) = match (&row.token, fresh) {
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
            (None, None) => return Flow::Stop,
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
                defer_all(ctx, rest, until);
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

/// Puts rows off until `until` without an attempt (their stream's lease is given back after).
fn defer_all(ctx: &DeliveryContext, rows: &[ClaimedEvent], until: i64) {
    for row in rows.iter().filter(|row| row.next_attempt_at < until) {
        ctx.send(Recorded::Deferral(Deferral {
            id: row.id,
            next_attempt_at: until,
        }));
    }
}

impl DeliveryContext {
    fn send(&self, recorded: Recorded) {
        // The recorder outlives every stream task; if it is gone the lease will expire.
        let _ = self.recorder.send(recorded);
    }
}

/// Batches of outcomes written at the same time at most. One transaction runs on one
/// database backend, i.e. one core: with a single writer, delivery on PostgreSQL waited for it
/// while the other core idled.
const RECORD_WRITERS: usize = 2;

/// Writes outcomes in batches until every sender is gone.
///
/// Up to [`RECORD_WRITERS`] batches are written concurrently (their rows are disjoint), but
/// barriers are answered in order: a barrier is answered once its own batch and every batch
/// before it are committed, which is what the stream task that sent it relies on.
pub(crate) async fn run_recorder(
    transmitter: Transmitter,
    worker: String,
    mut outcomes: mpsc::UnboundedReceiver<Recorded>,
    write_gate: Arc<WriteGate>,
) {
    let worker: Arc<str> = worker.into();
    let writers = Arc::new(Semaphore::new(RECORD_WRITERS));
    let mut previous: Option<oneshot::Receiver<()>> = None;
    let mut writes = JoinSet::new();
    while let Some(first) = outcomes.recv().await {
        let mut batch = OutcomeBatch::default();
        let deadline = tokio::time::Instant::now() + RECORD_COALESCE;
        let mut next = Some(first);
        while let Some(recorded) = next {
            match recorded {
                Recorded::Attempt(attempt) => batch.attempts.push(attempt),
                Recorded::Deferral(deferral) => batch.deferrals.push(deferral),
                Recorded::Barrier(barrier) => batch.barriers.push(barrier),
            }
            if batch.attempts.len() + batch.deferrals.len() >= RECORD_BATCH {
                break;
            }
            next = match outcomes.try_recv() {
                Ok(recorded) => Some(recorded),
                // A stream task is waiting: write what there is.
                Err(_) if !batch.barriers.is_empty() => None,
                Err(_) => tokio::time::timeout_at(deadline, outcomes.recv())
                    .await
                    .ok()
                    .flatten(),
            };
        }
        let Ok(writer) = writers.clone().acquire_owned().await else {
            break;
        };
        let (done, committed) = oneshot::channel();
        let before = previous.replace(committed);
        let (transmitter, worker, write_gate) =
            (transmitter.clone(), worker.clone(), write_gate.clone());
        writes.spawn(async move {
            batch
                .write(&transmitter.db().pool, &worker, &write_gate)
                .await;
            drop(writer);
            if let Some(before) = before {
                let _ = before.await;
            }
            for barrier in batch.barriers {
                let _ = barrier.send(());
            }
            let _ = done.send(());
        });
        while writes.try_join_next().is_some() {}
    }
    while writes.join_next().await.is_some() {}
}

#[derive(Default)]
struct OutcomeBatch {
    attempts: Vec<AttemptRecord>,
    deferrals: Vec<Deferral>,
    barriers: Vec<oneshot::Sender<()>>,
}

impl OutcomeBatch {
    async fn write(&self, pool: &ssf_provider::db::Pool, worker: &str, write_gate: &WriteGate) {
        if self.attempts.is_empty() && self.deferrals.is_empty() {
            return;
        }
        let mut backoff = Duration::from_millis(50);
        for attempt in 1..=6 {
            let gate = write_gate.enter().await;
            let written = claim::record(pool, worker, &self.attempts, &self.deferrals).await;
            drop(gate);
            match written {
                Ok(_) => return,
                Err(error) if attempt < 6 => {
                    tracing::warn!(%error, attempt, "recording delivery outcomes failed; retrying");
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                }
                Err(error) => {
                    // The rows stay pending: they are claimed and sent again.
                    tracing::error!(%error, rows = self.attempts.len() + self.deferrals.len(), "recording delivery outcomes failed; those SETs will be sent again");
                }
            }
        }
    }
}

pub(crate) fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 4)
}
