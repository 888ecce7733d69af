//! emit(): from an IdP event to one recorded SET per receiver stream, in one transaction.
//!
//! For each IdP event, the streams that receive it are the provider's streams that are
//! enabled or paused, whose `events_delivered` holds the event type, whose subjects cover the
//! user (`default_subjects` ALL: everyone not removed; NONE: only subjects added), and that
//! the IdP's [`AccessHook`] lets through. Each gets one `stream_events` row holding the
//! unsigned SET claims: `Pending` for enabled streams, `Held` for paused ones. Every SET of
//! one IdP event shares its `txn`; each has its own `jti`.
//!
//! The work is split so the write transaction is short: reading streams and subjects and
//! asking the access hook happen first, outside it; the transaction then re-reads the chosen
//! streams' status (a stream paused, disabled or deleted in between is honoured), inserts the
//! rows in multi-row statements and commits. On SQLite it starts `IMMEDIATE`, taking the write
//! lock up front: a deferred transaction that reads and then writes fails at once with
//! `SQLITE_BUSY` when another writer committed in between, and busy_timeout cannot help.
//! Nothing here touches the network.

use std::collections::{BTreeSet, HashMap};

use sea_orm::{
    ActiveValue::{NotSet, Set},
    ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter,
    QuerySelect, SqliteTransactionMode, TransactionOptions, TransactionTrait,
};
use ssf_entities::{
    DefaultSubjects, EventStatus, StreamStatus, providers, stream_events, stream_subjects, streams,
};

use crate::access::AccessHook;
use crate::clock::now_ms;
use crate::db::Backend;
use crate::delivery_wake;
use crate::idp::{IdpEvent, IdpEventError, MappedEvent, SubjectPolicy};
use crate::set::{Audience, EventType, SecurityEvent, SetClaims, SetError, SubjectId};
use crate::transmitter::Transmitter;

/// Rows per multi-row INSERT: well under SQLite's and PostgreSQL's bind-parameter limits
/// (a row binds 17 values).
pub const INSERT_CHUNK_ROWS: usize = 500;

/// Subject keys per lookup query, for the same reason.
const KEY_CHUNK: usize = 500;

/// What emit() recorded for one IdP event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmitOutcome {
    /// The `txn` every SET of this event carries: the event's request id, or a fresh UUID.
    pub txn: String,
    /// How many streams got a SET (one stream event each).
    pub stream_events: usize,
}

/// Why emit() recorded nothing.
#[derive(Debug, thiserror::Error)]
pub enum DispatchError {
    #[error("no provider with id `{0}`")]
    UnknownProvider(String),
    #[error("provider `{0}` was deleted; it sends no more events")]
    ProviderDeleted(String),
    #[error("invalid IdP event: {0}")]
    InvalidEvent(#[from] IdpEventError),
    #[error("cannot build the SET: {0}")]
    Set(#[from] SetError),
    #[error("database error: {0}")]
    Db(#[from] DbErr),
}

impl Transmitter {
    /// Records the SETs `event` becomes on every stream of provider `provider_id` that should
    /// receive it, in one transaction, and wakes delivery. Returns once they are committed;
    /// delivery happens later, in the worker or when receivers poll.
    pub async fn emit(
        &self,
        provider_id: &str,
        event: IdpEvent,
    ) -> Result<EmitOutcome, DispatchError> {
        let mut outcomes = self
            .emit_many(provider_id, std::slice::from_ref(&event))
            .await?;
        Ok(outcomes.pop().unwrap_or(EmitOutcome {
            txn: String::new(),
            stream_events: 0,
        }))
    }

    /// Like [`emit`](Self::emit) for many events at once, in one transaction: under load,
    /// grouping events per commit multiplies throughput. All or nothing: if any event is
    /// invalid or any write fails, nothing is recorded. Outcomes are in input order.
    pub async fn emit_many(
        &self,
        provider_id: &str,
        events: &[IdpEvent],
    ) -> Result<Vec<EmitOutcome>, DispatchError> {
        let db = &self.db().orm;
        let provider = live_provider(db, provider_id).await?;
        let hook = self.access_hook();
        let plan = plan(db, hook.as_ref(), &provider, events).await?;
        let txn = db
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            })
            .await?;
        let outcomes = plan.write(&txn).await?;
        let recorded = outcomes.iter().any(|o| o.stream_events > 0);
        if recorded {
            delivery_wake::wake_in_tx(&txn, self.db().backend()).await?;
        }
        txn.commit().await?;
        if recorded {
            delivery_wake::wake_after_commit(self);
        }
        Ok(outcomes)
    }
}

/// emit() inside the caller's own transaction (or on any connection), for an IdP that keeps
/// its data in the same database and wants its change and the SETs to commit together.
///
/// On SQLite, begin that transaction `IMMEDIATE` (see the module documentation) or concurrent
/// writers can fail it with `SQLITE_BUSY`.
///
/// Other processes' workers are woken at commit; this process's delivery loop is woken by
/// the caller after committing, with `delivery_wake::wake_after_commit(&transmitter)` (the
/// worker's periodic claim finds the rows otherwise, a little later).
pub async fn record_events<C: ConnectionTrait>(
    conn: &C,
    hook: &dyn AccessHook,
    provider: &providers::Model,
    events: &[IdpEvent],
) -> Result<Vec<EmitOutcome>, DispatchError> {
    if provider.deleted_at.is_some() {
        return Err(DispatchError::ProviderDeleted(provider.id.clone()));
    }
    let outcomes = plan(conn, hook, provider, events)
        .await?
        .write(conn)
        .await?;
    if outcomes.iter().any(|o| o.stream_events > 0) {
        let backend = match conn.get_database_backend() {
            DbBackend::Postgres => Backend::Postgres,
            _ => Backend::Sqlite,
        };
        delivery_wake::wake_in_tx(conn, backend).await?;
    }
    Ok(outcomes)
}

/// Records one SET on one stream, whatever the stream asked for and whatever its status: the
/// SSF API's verification and stream-updated events (SSF §8.1.4, §8.1.5), which go to a stream
/// regardless of `events_requested` and, for stream-updated, announce a pause or disable before
/// it takes effect. Always `Pending`. Returns the SET's `jti`.
///
/// Runs on the caller's connection or transaction. The caller wakes delivery: with
/// `delivery_wake::wake_in_tx` before its commit and `delivery_wake::wake_after_commit` after.
pub async fn record_for_stream<C: ConnectionTrait>(
    conn: &C,
    provider: &providers::Model,
    stream: &streams::Model,
    subject: SubjectId,
    event: SecurityEvent,
    txn: Option<String>,
) -> Result<String, DispatchError> {
    let audience = audience_of(stream).map_err(SetError::Json)?;
    let mut builder = SetClaims::builder(&provider.issuer, audience, subject, event)
        .subject_in_event(stream.subject_in_event);
    if let Some(txn) = txn {
        builder = builder.txn(txn);
    }
    let claims = builder.build()?;
    let jti = claims.jti().to_owned();
    let now = now_ms();
    stream_events::Entity::insert(row(provider, stream, &claims, EventStatus::Pending, now))
        .exec_without_returning(conn)
        .await?;
    Ok(jti)
}

/// The provider, unless it is unknown or deleted.
async fn live_provider<C: ConnectionTrait>(
    conn: &C,
    provider_id: &str,
) -> Result<providers::Model, DispatchError> {
    let provider = providers::Entity::find_by_id(provider_id)
        .one(conn)
        .await?
        .ok_or_else(|| DispatchError::UnknownProvider(provider_id.to_owned()))?;
    if provider.deleted_at.is_some() {
        return Err(DispatchError::ProviderDeleted(provider.id));
    }
    Ok(provider)
}

/// SETs chosen for writing: per IdP event, its txn and one claims set per receiving stream.
struct Plan<'p> {
    provider: &'p providers::Model,
    events: Vec<PlannedEvent>,
    streams: HashMap<String, streams::Model>,
}

struct PlannedEvent {
    txn: String,
    sets: Vec<(String, SetClaims)>,
}

async fn plan<'p, C: ConnectionTrait>(
    conn: &C,
    hook: &dyn AccessHook,
    provider: &'p providers::Model,
    events: &[IdpEvent],
) -> Result<Plan<'p>, DispatchError> {
    let policy = SubjectPolicy::of(provider);
    // Map everything first: one invalid event refuses the batch before any database work.
    let mapped: Vec<MappedEvent> = events
        .iter()
        .map(|event| event.map(&policy))
        .collect::<Result<_, _>>()?;

    let event_types: BTreeSet<EventType> = mapped.iter().map(|m| m.event.event_type()).collect();
    let candidates = candidate_streams(conn, provider, &event_types).await?;
    let excluded_or_included = if candidates.is_empty() {
        Vec::new()
    } else {
        listed_subjects(conn, provider.default_subjects, &candidates, &mapped).await?
    };

    let iat = chrono::Utc::now().timestamp();
    let mut planned = Vec::with_capacity(events.len());
    for (event, mapped) in events.iter().zip(&mapped) {
        let txn = event
            .request_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::new_v4().simple().to_string());
        let event_type = mapped.event.event_type();
        let mut sets = Vec::new();
        for candidate in &candidates {
            if !candidate.delivers.contains(&event_type)
                || !covers(
                    provider.default_subjects,
                    &candidate.stream.id,
                    &mapped.coverage,
                    &excluded_or_included,
                )
                || !hook.may_receive(&event.user, &candidate.stream).await
            {
                continue;
            }
            let claims = SetClaims::builder(
                &provider.issuer,
                candidate.audience.clone(),
                mapped.subject.clone(),
                mapped.event.clone(),
            )
            .txn(&txn)
            .iat(iat)
            .subject_in_event(candidate.stream.subject_in_event)
            .build()?;
            sets.push((candidate.stream.id.clone(), claims));
        }
        planned.push(PlannedEvent { txn, sets });
    }
    Ok(Plan {
        provider,
        events: planned,
        streams: candidates
            .into_iter()
            .map(|c| (c.stream.id.clone(), c.stream))
            .collect(),
    })
}

impl Plan<'_> {
    /// Inserts the planned rows on `conn`, with each stream's status as `conn` sees it now.
    async fn write<C: ConnectionTrait>(self, conn: &C) -> Result<Vec<EmitOutcome>, DispatchError> {
        let ids: Vec<&String> = self.streams.keys().collect();
        let mut current: HashMap<String, StreamStatus> = HashMap::with_capacity(ids.len());
        for chunk in ids.chunks(KEY_CHUNK) {
            let rows: Vec<(String, StreamStatus)> = streams::Entity::find()
                .select_only()
                .column(streams::Column::Id)
                .column(streams::Column::Status)
                .filter(streams::Column::Id.is_in(chunk.iter().map(|id| id.as_str())))
                .into_tuple()
                .all(conn)
                .await?;
            current.extend(rows);
        }

        let now = now_ms();
        let mut outcomes = Vec::with_capacity(self.events.len());
        let mut rows = Vec::new();
        for event in self.events {
            let mut recorded = 0;
            for (stream_id, claims) in &event.sets {
                let status = match current.get(stream_id) {
                    Some(StreamStatus::Enabled) => EventStatus::Pending,
                    Some(StreamStatus::Paused) => EventStatus::Held,
                    // Disabled or deleted since the plan was made: nothing is held for it.
                    Some(StreamStatus::Disabled) | None => continue,
                };
                let Some(stream) = self.streams.get(stream_id) else {
                    continue;
                };
                rows.push(row(self.provider, stream, claims, status, now));
                recorded += 1;
            }
            outcomes.push(EmitOutcome {
                txn: event.txn,
                stream_events: recorded,
            });
        }
        while !rows.is_empty() {
            let rest = rows.split_off(rows.len().min(INSERT_CHUNK_ROWS));
            stream_events::Entity::insert_many(std::mem::replace(&mut rows, rest))
                .exec_without_returning(conn)
                .await?;
        }
        Ok(outcomes)
    }
}

/// A stream that may receive some of the events, with its configuration parsed once.
struct Candidate {
    stream: streams::Model,
    audience: Audience,
    delivers: BTreeSet<EventType>,
}

/// The provider's enabled and paused streams that deliver any of `event_types`.
async fn candidate_streams<C: ConnectionTrait>(
    conn: &C,
    provider: &providers::Model,
    event_types: &BTreeSet<EventType>,
) -> Result<Vec<Candidate>, DbErr> {
    // Event type URIs hold no LIKE wildcards, so this narrows exactly; the JSON is then
    // parsed to decide.
    let mentions = event_types
        .iter()
        .fold(Condition::any(), |any, event_type| {
            any.add(streams::Column::EventsDelivered.contains(format!("\"{}\"", event_type.uri())))
        });
    let rows = streams::Entity::find()
        .filter(streams::Column::ProviderId.eq(&provider.id))
        .filter(streams::Column::Status.is_in([StreamStatus::Enabled, StreamStatus::Paused]))
        .filter(mentions)
        .all(conn)
        .await?;
    let mut candidates = Vec::with_capacity(rows.len());
    for stream in rows {
        let delivers = match serde_json::from_str::<Vec<String>>(&stream.events_delivered) {
            Ok(uris) => uris
                .iter()
                .filter_map(|uri| EventType::from_uri(uri))
                .collect(),
            Err(error) => {
                // One damaged row must not stop the provider's other streams.
                tracing::error!(stream_id = %stream.id, %error, "stream has unreadable events_delivered; it gets no events");
                continue;
            }
        };
        let audience = match audience_of(&stream) {
            Ok(audience) => audience,
            Err(error) => {
                tracing::error!(stream_id = %stream.id, %error, "stream has an unreadable aud; it gets no events");
                continue;
            }
        };
        candidates.push(Candidate {
            stream,
            audience,
            delivers,
        });
    }
    Ok(candidates)
}

/// The stream's `aud` column: a JSON string or array of strings.
fn audience_of(stream: &streams::Model) -> Result<Audience, serde_json::Error> {
    serde_json::from_str(&stream.aud)
}

/// The rows that decide coverage for these events on these streams: removed subjects of an
/// ALL provider, added subjects of a NONE provider. One query per chunk of lookup keys
/// rather than one per stream. Stored rows are keyed the way `streams::subjects` writes
/// them: by the subject's key and each of its members' keys.
async fn listed_subjects<C: ConnectionTrait>(
    conn: &C,
    default_subjects: DefaultSubjects,
    candidates: &[Candidate],
    mapped: &[MappedEvent],
) -> Result<Vec<(String, SubjectId)>, DbErr> {
    let mut keys = BTreeSet::new();
    for event in mapped {
        collect_keys(&event.coverage, &mut keys);
    }
    let keys: Vec<String> = keys.into_iter().collect();
    let stream_ids: Vec<&str> = candidates.iter().map(|c| c.stream.id.as_str()).collect();
    let included = default_subjects == DefaultSubjects::None;
    let mut listed = Vec::new();
    for stream_chunk in stream_ids.chunks(KEY_CHUNK) {
        for key_chunk in keys.chunks(KEY_CHUNK) {
            let rows: Vec<(String, String)> = stream_subjects::Entity::find()
                .select_only()
                .column(stream_subjects::Column::StreamId)
                .column(stream_subjects::Column::Subject)
                .filter(stream_subjects::Column::StreamId.is_in(stream_chunk.iter().copied()))
                .filter(
                    stream_subjects::Column::SubjectKey.is_in(key_chunk.iter().map(String::as_str)),
                )
                .filter(stream_subjects::Column::Included.eq(included))
                .into_tuple()
                .all(conn)
                .await?;
            for (stream_id, subject) in rows {
                match serde_json::from_str::<SubjectId>(&subject) {
                    Ok(subject) => listed.push((stream_id, subject)),
                    Err(error) => {
                        tracing::warn!(%stream_id, %error, "ignoring an unreadable stream subject");
                    }
                }
            }
        }
    }
    Ok(listed)
}

/// Every lookup key `subject` or any identifier inside it can be stored under.
fn collect_keys(subject: &SubjectId, keys: &mut BTreeSet<String>) {
    keys.insert(subject.lookup_key());
    match subject {
        SubjectId::Complex(complex) => {
            for (_, member) in complex.members() {
                collect_keys(member, keys);
            }
        }
        SubjectId::Aliases(aliases) => {
            for identifier in aliases.identifiers() {
                collect_keys(identifier, keys);
            }
        }
        _ => {}
    }
}

/// SSF §8.1.3: whether a stream covers an event about `coverage`, given the listed rows.
fn covers(
    default_subjects: DefaultSubjects,
    stream_id: &str,
    coverage: &SubjectId,
    listed: &[(String, SubjectId)],
) -> bool {
    let is_listed = listed
        .iter()
        .any(|(listed_stream, subject)| listed_stream == stream_id && subject.matches(coverage));
    match default_subjects {
        DefaultSubjects::All => !is_listed,
        DefaultSubjects::None => is_listed,
    }
}

fn row(
    provider: &providers::Model,
    stream: &streams::Model,
    claims: &SetClaims,
    status: EventStatus,
    now: i64,
) -> stream_events::ActiveModel {
    stream_events::ActiveModel {
        id: NotSet,
        stream_id: Set(stream.id.clone()),
        delivery_method: Set(stream.delivery_method),
        jti: Set(claims.jti().to_owned()),
        txn: Set(claims.txn().map(str::to_owned)),
        event_type: Set(claims.event().event_type().uri().to_owned()),
        payload: Set(claims.to_json()),
        token: Set(None),
        status: Set(status),
        attempts: Set(0),
        next_attempt_at: Set(now),
        lease_until: Set(None),
        leased_by: Set(None),
        last_error: Set(None),
        last_http_status: Set(None),
        expires_at: Set(now.saturating_add(provider.event_retention_seconds.saturating_mul(1000))),
        created_at: Set(now),
        delivered_at: Set(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::set::{Aliases, ComplexSubject};

    fn alice_in_session() -> SubjectId {
        let alice = Aliases::new(vec![
            SubjectId::email("alice@example.com"),
            SubjectId::iss_sub("https://idp.example.com", "u-1"),
        ])
        .unwrap();
        SubjectId::Complex(
            ComplexSubject::builder()
                .user(SubjectId::Aliases(alice))
                .session(SubjectId::opaque("h1"))
                .build()
                .unwrap(),
        )
    }

    #[test]
    fn every_identifier_inside_a_subject_is_a_lookup_key() {
        let mut keys = BTreeSet::new();
        collect_keys(&alice_in_session(), &mut keys);
        for inner in [
            SubjectId::email("alice@example.com"),
            SubjectId::iss_sub("https://idp.example.com", "u-1"),
            SubjectId::opaque("h1"),
        ] {
            assert!(keys.contains(&inner.lookup_key()), "{inner:?}");
        }
    }

    #[test]
    fn listed_rows_cover_or_exclude_by_default_subjects() {
        let coverage = alice_in_session();
        let by_id = SubjectId::iss_sub("https://idp.example.com", "u-1");
        let listed = vec![("s1".to_owned(), by_id)];
        assert!(
            !covers(DefaultSubjects::All, "s1", &coverage, &listed),
            "removed from s1"
        );
        assert!(
            covers(DefaultSubjects::All, "s2", &coverage, &listed),
            "s2 removed nobody"
        );
        assert!(
            covers(DefaultSubjects::None, "s1", &coverage, &listed),
            "added to s1"
        );
        assert!(
            !covers(DefaultSubjects::None, "s2", &coverage, &listed),
            "s2 added nobody"
        );
        let someone_else = vec![("s1".to_owned(), SubjectId::email("bob@example.com"))];
        assert!(covers(DefaultSubjects::All, "s1", &coverage, &someone_else));
        assert!(!covers(
            DefaultSubjects::None,
            "s1",
            &coverage,
            &someone_else
        ));
    }
}
