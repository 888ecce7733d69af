//! emit() over the database: which streams get a SET, and what each recorded SET holds.

mod emit_support;

use std::collections::HashSet;

use chrono::{TimeZone, Utc};
use emit_support::*;
use sea_orm::{ActiveModelTrait, IntoActiveModel, Set};
use serde_json::json;
use ssf_entities::{DefaultSubjects, DeliveryMethod, EventStatus, StreamStatus, SubjectFormat};
use ssf_provider::dispatch::{self, DispatchError};
use ssf_provider::idp::{IdpEvent, IdpEventKind, User, session_subject};
use ssf_provider::set::{Audience, ComplexSubject, EventType, SecurityEvent, SubjectId};
use ssf_tests::{TestDb, backend_tests};

fn alice() -> User {
    User::new(Some("u-alice".into()), Some("alice@example.com".into())).unwrap()
}

fn bob() -> User {
    User::new(Some("u-bob".into()), Some("bob@example.com".into())).unwrap()
}

fn logout(user: User, session: Option<&str>) -> IdpEvent {
    IdpEvent::new(
        user,
        IdpEventKind::SessionLogout {
            session_id: session.map(str::to_owned),
        },
    )
}

backend_tests!(
    one_event_shares_its_txn_and_each_set_has_its_own_jti,
    txn_and_jti
);
async fn txn_and_jti(db: TestDb) {
    let f = fixture(db, DefaultSubjects::All).await;
    let streams = f.streams(3).await;
    let occurred = Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap();
    let before = ssf_provider::clock::now_ms();

    let outcome = f
        .transmitter
        .emit(
            &f.provider.id,
            logout(alice(), None).at(occurred).with_request_id("req-1"),
        )
        .await
        .unwrap();
    assert_eq!(outcome.txn, "req-1");
    assert_eq!(outcome.stream_events, 3);

    let rows = f.all_events().await;
    assert_eq!(rows.len(), 3);
    let stream_ids: HashSet<&str> = rows.iter().map(|r| r.stream_id.as_str()).collect();
    assert_eq!(stream_ids, streams.iter().map(|s| s.id.as_str()).collect());
    let jtis: HashSet<&str> = rows.iter().map(|r| r.jti.as_str()).collect();
    assert_eq!(jtis.len(), 3, "every SET has its own jti");
    for row in &rows {
        assert_eq!(row.txn.as_deref(), Some("req-1"));
        assert_eq!(row.status, EventStatus::Pending);
        assert_eq!(row.event_type, EventType::SessionRevoked.uri());
        assert_eq!(row.delivery_method, DeliveryMethod::Push);
        assert_eq!(row.attempts, 0);
        assert!(
            row.token.is_none(),
            "signed later, by the worker or the poll endpoint"
        );
        assert!(row.created_at >= before && row.next_attempt_at == row.created_at);
        assert_eq!(row.expires_at, row.created_at + 3600 * 1000);
        let claims = claims(row);
        assert_eq!(claims.jti(), row.jti);
        assert_eq!(claims.txn(), Some("req-1"));
        assert_eq!(claims.iss(), f.provider.issuer);
        assert_eq!(
            claims.aud(),
            &Audience::One("https://rp.example.com".into())
        );
        assert_eq!(claims.sub_id(), &SubjectId::email("alice@example.com"));
        let payload = payload_json(row);
        assert_eq!(
            payload["events"][EventType::SessionRevoked.uri()],
            json!({"event_timestamp": occurred.timestamp(), "initiating_entity": "user", "reason_admin": {"en": "User signed out"}})
        );
        assert!(payload.get("sub").is_none() && payload.get("exp").is_none());
    }

    // Without a request id, a fresh txn is drawn, still shared by the event's SETs.
    let second = f
        .transmitter
        .emit(
            &f.provider.id,
            IdpEvent::new(alice(), IdpEventKind::PasswordChanged),
        )
        .await
        .unwrap();
    assert_eq!(second.stream_events, 3);
    assert!(!second.txn.is_empty() && second.txn != "req-1");
    let rows = f.all_events().await;
    let of_second: Vec<_> = rows
        .iter()
        .filter(|r| r.txn.as_deref() == Some(second.txn.as_str()))
        .collect();
    assert_eq!(of_second.len(), 3);
    assert_eq!(
        rows.iter()
            .map(|r| r.jti.as_str())
            .collect::<HashSet<_>>()
            .len(),
        6
    );
}

backend_tests!(a_stream_gets_only_the_event_types_it_asked_for, event_types);
async fn event_types(db: TestDb) {
    let f = fixture(db, DefaultSubjects::All).await;
    let sessions = f
        .stream(StreamSpec {
            events: vec![EventType::SessionRevoked],
            ..StreamSpec::default()
        })
        .await;
    let credentials = f
        .stream(StreamSpec {
            events: vec![EventType::CredentialChange, EventType::AccountDisabled],
            ..StreamSpec::default()
        })
        .await;

    let out = f
        .transmitter
        .emit(&f.provider.id, logout(alice(), Some("s1")))
        .await
        .unwrap();
    assert_eq!(out.stream_events, 1);
    assert_eq!(f.events_of(&sessions.id).await.len(), 1);
    assert!(f.events_of(&credentials.id).await.is_empty());

    let out = f
        .transmitter
        .emit(
            &f.provider.id,
            IdpEvent::new(alice(), IdpEventKind::PasswordChanged),
        )
        .await
        .unwrap();
    assert_eq!(out.stream_events, 1);
    let got = f.events_of(&credentials.id).await;
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].event_type, EventType::CredentialChange.uri());
    assert_eq!(f.events_of(&sessions.id).await.len(), 1);

    // Asked by nobody: recorded nowhere, and that is not an error.
    let out = f
        .transmitter
        .emit(
            &f.provider.id,
            IdpEvent::new(alice(), IdpEventKind::AccountDeleted),
        )
        .await
        .unwrap();
    assert_eq!(out.stream_events, 0);
    assert_eq!(f.all_events().await.len(), 2);
}

backend_tests!(
    all_streams_skip_subjects_the_receiver_removed,
    removed_subjects
);
async fn removed_subjects(db: TestDb) {
    let f = fixture(db, DefaultSubjects::All).await;
    let opted_out = f.stream(StreamSpec::default()).await;
    let everyone = f.stream(StreamSpec::default()).await;
    // Removed under the user's other identifier: the provider sends emails, the receiver
    // named the user by iss_sub. Still the same user.
    f.remove_subject(&opted_out.id, &SubjectId::iss_sub(IDP_ISSUER, "u-alice"))
        .await;

    let out = f
        .transmitter
        .emit(&f.provider.id, logout(alice(), Some("s1")))
        .await
        .unwrap();
    assert_eq!(out.stream_events, 1);
    assert!(f.events_of(&opted_out.id).await.is_empty());
    assert_eq!(f.events_of(&everyone.id).await.len(), 1);

    let out = f
        .transmitter
        .emit(&f.provider.id, logout(bob(), None))
        .await
        .unwrap();
    assert_eq!(out.stream_events, 2, "other users are still covered");
    assert_eq!(f.events_of(&opted_out.id).await.len(), 1);

    // Added back: covered again.
    f.add_subject(&opted_out.id, &SubjectId::iss_sub(IDP_ISSUER, "u-alice"))
        .await;
    let out = f
        .transmitter
        .emit(&f.provider.id, logout(alice(), None))
        .await
        .unwrap();
    assert_eq!(out.stream_events, 2);
}

backend_tests!(
    none_streams_get_only_subjects_the_receiver_added,
    added_subjects
);
async fn added_subjects(db: TestDb) {
    let f = fixture(db, DefaultSubjects::None).await;
    let watching_alice = f.stream(StreamSpec::default()).await;
    let watching_a_session = f.stream(StreamSpec::default()).await;
    let watching_nobody = f.stream(StreamSpec::default()).await;
    f.add_subject(&watching_alice.id, &SubjectId::email("Alice@Example.com"))
        .await;
    let session_s1 = SubjectId::Complex(
        ComplexSubject::builder()
            .user(SubjectId::email("alice@example.com"))
            .session(session_subject("s1"))
            .build()
            .unwrap(),
    );
    f.add_subject(&watching_a_session.id, &session_s1).await;

    let out = f
        .transmitter
        .emit(&f.provider.id, logout(alice(), Some("s1")))
        .await
        .unwrap();
    assert_eq!(out.stream_events, 2);
    assert_eq!(f.events_of(&watching_alice.id).await.len(), 1);
    assert_eq!(f.events_of(&watching_a_session.id).await.len(), 1);
    assert!(f.events_of(&watching_nobody.id).await.is_empty());

    // Another session of Alice: the session-scoped subject does not match.
    let out = f
        .transmitter
        .emit(&f.provider.id, logout(alice(), Some("s2")))
        .await
        .unwrap();
    assert_eq!(out.stream_events, 1);
    assert_eq!(f.events_of(&watching_a_session.id).await.len(), 1);

    let out = f
        .transmitter
        .emit(&f.provider.id, logout(bob(), None))
        .await
        .unwrap();
    assert_eq!(out.stream_events, 0, "nobody added bob");
}

backend_tests!(
    paused_streams_hold_disabled_streams_get_nothing,
    stream_status
);
async fn stream_status(db: TestDb) {
    let f = fixture(db, DefaultSubjects::All).await;
    let enabled = f.stream(StreamSpec::default()).await;
    let paused = f
        .stream(StreamSpec {
            status: StreamStatus::Paused,
            method: DeliveryMethod::Poll,
            ..StreamSpec::default()
        })
        .await;
    let disabled = f
        .stream(StreamSpec {
            status: StreamStatus::Disabled,
            ..StreamSpec::default()
        })
        .await;

    let out = f
        .transmitter
        .emit(&f.provider.id, logout(alice(), None))
        .await
        .unwrap();
    assert_eq!(out.stream_events, 2);
    assert_eq!(
        f.events_of(&enabled.id).await[0].status,
        EventStatus::Pending
    );
    let held = f.events_of(&paused.id).await;
    assert_eq!(held.len(), 1);
    assert_eq!(held[0].status, EventStatus::Held);
    assert_eq!(held[0].delivery_method, DeliveryMethod::Poll);
    assert!(f.events_of(&disabled.id).await.is_empty());
}

backend_tests!(
    aud_array_and_subject_in_event_reach_the_payload,
    payload_shape
);
async fn payload_shape(db: TestDb) {
    let f = fixture_with(db, DefaultSubjects::All, SubjectFormat::IssSub).await;
    let legacy = f
        .stream(StreamSpec {
            aud: json!([
                "https://rp.example.com/web",
                "https://rp.example.com/mobile"
            ]),
            subject_in_event: true,
            ..StreamSpec::default()
        })
        .await;
    f.transmitter
        .emit(
            &f.provider.id,
            IdpEvent::new(
                alice(),
                IdpEventKind::AccountDisabled {
                    reason: Some("hijacking".into()),
                },
            ),
        )
        .await
        .unwrap();
    let row = &f.events_of(&legacy.id).await[0];
    let payload = payload_json(row);
    assert_eq!(
        payload["aud"],
        json!([
            "https://rp.example.com/web",
            "https://rp.example.com/mobile"
        ])
    );
    let subject = json!({"format": "iss_sub", "iss": IDP_ISSUER, "sub": "u-alice"});
    assert_eq!(payload["sub_id"], subject);
    let event = &payload["events"][EventType::AccountDisabled.uri()];
    assert_eq!(event["subject"], subject);
    assert_eq!(event["reason"], "hijacking");
}

backend_tests!(
    deleted_or_unknown_providers_and_invalid_events_are_refused,
    refusals
);
async fn refusals(db: TestDb) {
    let f = fixture(db, DefaultSubjects::All).await;
    f.streams(1).await;

    let invalid = IdpEvent::new(
        User::by_id("u-1").unwrap(),
        IdpEventKind::IdentifierChanged {
            new_email: "n@example.com".into(),
        },
    );
    assert!(matches!(
        f.transmitter.emit(&f.provider.id, invalid).await,
        Err(DispatchError::InvalidEvent(_))
    ));
    assert!(matches!(
        f.transmitter.emit("no-such-provider", logout(alice(), None)).await,
        Err(DispatchError::UnknownProvider(id)) if id == "no-such-provider"
    ));

    let mut deleted = f.provider.clone().into_active_model();
    deleted.deleted_at = Set(Some(ssf_provider::clock::now_ms()));
    deleted.update(f.conn()).await.unwrap();
    let refused = f
        .transmitter
        .emit(&f.provider.id, logout(alice(), None))
        .await;
    assert!(
        matches!(&refused, Err(DispatchError::ProviderDeleted(id)) if *id == f.provider.id),
        "{refused:?}"
    );
    assert!(refused.unwrap_err().to_string().contains("deleted"));
    assert!(f.all_events().await.is_empty());
}

backend_tests!(
    stream_events_reach_a_stream_whatever_it_requested,
    stream_own_events
);
async fn stream_own_events(db: TestDb) {
    let f = fixture(db, DefaultSubjects::None).await;
    let stream = f
        .stream(StreamSpec {
            events: vec![EventType::CredentialChange],
            ..StreamSpec::default()
        })
        .await;
    let jti = dispatch::record_for_stream(
        f.conn(),
        &f.provider,
        &stream,
        SubjectId::opaque(stream.id.clone()),
        SecurityEvent::verification(Some("state-1".into())),
        Some("verify-1".into()),
    )
    .await
    .unwrap();
    let rows = f.events_of(&stream.id).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].jti, jti);
    assert_eq!(rows[0].status, EventStatus::Pending);
    assert_eq!(rows[0].event_type, EventType::Verification.uri());
    let payload = payload_json(&rows[0]);
    assert_eq!(
        payload["sub_id"],
        json!({"format": "opaque", "id": stream.id})
    );
    assert_eq!(payload["txn"], "verify-1");
    assert_eq!(
        payload["events"][EventType::Verification.uri()],
        json!({"state": "state-1"})
    );

    // A stream event needs the stream's opaque subject; anything else is refused.
    let wrong = dispatch::record_for_stream(
        f.conn(),
        &f.provider,
        &stream,
        SubjectId::email("alice@example.com"),
        SecurityEvent::verification(None),
        None,
    )
    .await;
    assert!(matches!(wrong, Err(DispatchError::Set(_))));
    assert_eq!(f.events_of(&stream.id).await.len(), 1);
}
