//! emit() over the database: the access hook, batches, and all-or-nothing transactions.

mod emit_support;

use std::collections::HashSet;
use std::sync::Arc;

use async_trait::async_trait;
use emit_support::*;
use ssf_entities::{DefaultSubjects, streams};
use ssf_provider::access::AccessHook;
use ssf_provider::db::Backend;
use ssf_provider::dispatch::{DispatchError, INSERT_CHUNK_ROWS};
use ssf_provider::idp::{IdpEvent, IdpEventKind, User};
use ssf_provider::set::EventType;
use ssf_tests::{TestDb, backend_tests};

fn user(name: &str) -> User {
    User::new(
        Some(format!("u-{name}")),
        Some(format!("{name}@example.com")),
    )
    .unwrap()
}

fn logout(name: &str) -> IdpEvent {
    IdpEvent::new(user(name), IdpEventKind::SessionLogout { session_id: None })
}

/// Keeps one stream from hearing about one user, as an IdP whose policy says that user may
/// not use that receiver's application would.
struct DenyOne {
    stream_id: String,
    email: String,
}

#[async_trait]
impl AccessHook for DenyOne {
    async fn may_receive(&self, user: &User, stream: &streams::Model) -> bool {
        !(stream.id == self.stream_id && user.email() == Some(self.email.as_str()))
    }
}

backend_tests!(the_access_hook_can_veto_a_stream, access_hook);
async fn access_hook(db: TestDb) {
    let f = fixture(db, DefaultSubjects::All).await;
    let restricted = f.stream(StreamSpec::default()).await;
    let open = f.stream(StreamSpec::default()).await;
    let f = f.with_hook(Arc::new(DenyOne {
        stream_id: restricted.id.clone(),
        email: "alice@example.com".into(),
    }));

    let out = f
        .transmitter
        .emit(&f.provider.id, logout("alice"))
        .await
        .unwrap();
    assert_eq!(out.stream_events, 1);
    assert!(f.events_of(&restricted.id).await.is_empty());
    assert_eq!(f.events_of(&open.id).await.len(), 1);

    let out = f
        .transmitter
        .emit(&f.provider.id, logout("bob"))
        .await
        .unwrap();
    assert_eq!(out.stream_events, 2, "the veto is about alice only");
}

backend_tests!(a_batch_records_every_event_with_its_own_txn, batch);
async fn batch(db: TestDb) {
    let f = fixture(db, DefaultSubjects::All).await;
    let sessions_only = f
        .stream(StreamSpec {
            events: vec![EventType::SessionRevoked],
            ..StreamSpec::default()
        })
        .await;
    f.stream(StreamSpec::default()).await;

    let events = vec![
        logout("alice").with_request_id("req-a"),
        IdpEvent::new(user("bob"), IdpEventKind::PasswordChanged).with_request_id("req-b"),
        logout("carol"),
    ];
    let outcomes = f
        .transmitter
        .emit_many(&f.provider.id, &events)
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 3);
    assert_eq!(
        (outcomes[0].txn.as_str(), outcomes[0].stream_events),
        ("req-a", 2)
    );
    assert_eq!(
        (outcomes[1].txn.as_str(), outcomes[1].stream_events),
        ("req-b", 1)
    );
    assert_eq!(outcomes[2].stream_events, 2);
    let rows = f.all_events().await;
    assert_eq!(rows.len(), 5);
    for outcome in &outcomes {
        let of_txn = rows
            .iter()
            .filter(|r| r.txn.as_deref() == Some(outcome.txn.as_str()))
            .count();
        assert_eq!(of_txn, outcome.stream_events);
    }
    assert_eq!(
        rows.iter()
            .map(|r| r.jti.as_str())
            .collect::<HashSet<_>>()
            .len(),
        5
    );
    assert_eq!(f.events_of(&sessions_only.id).await.len(), 2);

    // One invalid event refuses the whole batch before anything is written.
    let mut bad = events.clone();
    bad.push(IdpEvent::new(
        User::by_id("u-x").unwrap(),
        IdpEventKind::IdentifierChanged {
            new_email: "x@example.com".into(),
        },
    ));
    assert!(matches!(
        f.transmitter.emit_many(&f.provider.id, &bad).await,
        Err(DispatchError::InvalidEvent(_))
    ));
    assert_eq!(f.all_events().await.len(), 5);
}

backend_tests!(
    a_failure_inside_the_transaction_leaves_no_stream_events,
    all_or_nothing
);
async fn all_or_nothing(db: TestDb) {
    let f = fixture(db, DefaultSubjects::All).await;
    f.stream(StreamSpec::default()).await;
    // The database refuses credential-change rows; session-revoked rows go in fine.
    let credential_change = EventType::CredentialChange.uri();
    match f.transmitter.db().backend() {
        Backend::Sqlite => {
            f.execute(&format!(
                "CREATE TRIGGER refuse_credential_change BEFORE INSERT ON stream_events \
                 WHEN NEW.event_type = '{credential_change}' BEGIN SELECT RAISE(ABORT, 'injected failure'); END"
            ))
            .await
        }
        Backend::Postgres => {
            f.execute(&format!(
                "CREATE FUNCTION refuse_credential_change() RETURNS trigger AS $$ BEGIN \
                 IF NEW.event_type = '{credential_change}' THEN RAISE EXCEPTION 'injected failure'; END IF; \
                 RETURN NEW; END $$ LANGUAGE plpgsql"
            ))
            .await;
            f.execute(
                "CREATE TRIGGER refuse_credential_change BEFORE INSERT ON stream_events \
                 FOR EACH ROW EXECUTE FUNCTION refuse_credential_change()",
            )
            .await;
        }
    }

    // A full INSERT statement of good rows first, so the failure hits a later statement of
    // the same transaction.
    let mut events: Vec<IdpEvent> = (0..INSERT_CHUNK_ROWS)
        .map(|i| logout(&format!("user{i}")))
        .collect();
    events.push(IdpEvent::new(user("alice"), IdpEventKind::PasswordChanged));
    let failed = f.transmitter.emit_many(&f.provider.id, &events).await;
    assert!(matches!(failed, Err(DispatchError::Db(_))), "{failed:?}");
    assert!(f.all_events().await.is_empty(), "no partial batch");

    // A single event that fails records nothing either, and the transmitter still works.
    assert!(
        f.transmitter
            .emit(
                &f.provider.id,
                IdpEvent::new(user("alice"), IdpEventKind::PasswordChanged)
            )
            .await
            .is_err()
    );
    assert!(f.all_events().await.is_empty());
    let out = f
        .transmitter
        .emit(&f.provider.id, logout("alice"))
        .await
        .unwrap();
    assert_eq!(out.stream_events, 1);
    assert_eq!(f.all_events().await.len(), 1);
}

backend_tests!(concurrent_emits_all_commit, concurrent_emits);
async fn concurrent_emits(db: TestDb) {
    let f = fixture(db, DefaultSubjects::All).await;
    f.streams(2).await;
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..8 {
        let transmitter = f.transmitter.clone();
        let provider_id = f.provider.id.clone();
        tasks.spawn(async move {
            for i in 0..25 {
                let out = transmitter
                    .emit(&provider_id, logout(&format!("t{task}-{i}")))
                    .await?;
                assert_eq!(out.stream_events, 2);
            }
            Ok::<_, DispatchError>(())
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap()
            .expect("no emit fails because another one is writing");
    }
    assert_eq!(f.all_events().await.len(), 8 * 25 * 2);
}
