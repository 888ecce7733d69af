//! The SET model: event types, payloads, subject identifiers, matching and the builder.

use serde_json::{Value, json};
use ssf_provider::set::{
    AccountDisabled, AccountDisabledReason, Aliases, AssuranceLevelChange, AssuranceNamespace,
    Audience, BasicEvent, ChangeDirection, ChangeType, CommonEventClaims, ComplexMember,
    ComplexSubject, ComplianceStatus, CredentialChange, CredentialCompromise, CredentialType,
    DeviceComplianceChange, EventFamily, EventType, IdentifierChanged, InitiatingEntity,
    LocalizedText, OtherSubject, RiskLevel, RiskLevelChange, RiskPrincipal, SecurityEvent,
    SessionEstablished, SessionPresented, SetClaims, SetError, StreamStatus, SubjectId,
    TokenClaimsChange,
};

fn common() -> CommonEventClaims {
    CommonEventClaims {
        event_timestamp: Some(1_700_000_000),
        initiating_entity: Some(InitiatingEntity::Admin),
        reason_admin: Some(LocalizedText::new("en", "Admin action").with("de", "Admin-Aktion")),
        reason_user: Some(LocalizedText::new("en", "Your administrator did this")),
    }
}

/// A fully populated sample of each event type. The match has no wildcard, so a new
/// event type cannot be added without a sample here.
fn sample(event_type: EventType) -> SecurityEvent {
    let basic = BasicEvent { common: common() };
    match event_type {
        EventType::SessionRevoked => SecurityEvent::SessionRevoked(basic),
        EventType::TokenClaimsChange => SecurityEvent::TokenClaimsChange(TokenClaimsChange {
            claims: json!({"role": "ro-admin", "trusted_network": false})
                .as_object()
                .cloned()
                .unwrap(),
            common: common(),
        }),
        EventType::CredentialChange => SecurityEvent::CredentialChange(CredentialChange {
            friendly_name: Some("Jane's key".into()),
            x509_issuer: Some("CN=Issuer".into()),
            x509_serial: Some("0a:0b".into()),
            fido2_aaguid: Some("accced6a-63f5-490a-9eea-e59bc1896cfc".into()),
            common: common(),
            ..CredentialChange::new(CredentialType::Fido2Platform, ChangeType::Revoke)
        }),
        EventType::AssuranceLevelChange => {
            SecurityEvent::AssuranceLevelChange(AssuranceLevelChange {
                namespace: AssuranceNamespace::NistAal,
                current_level: "nist-aal1".into(),
                previous_level: Some("nist-aal2".into()),
                change_direction: Some(ChangeDirection::Decrease),
                common: common(),
            })
        }
        EventType::DeviceComplianceChange => {
            SecurityEvent::DeviceComplianceChange(DeviceComplianceChange {
                previous_status: ComplianceStatus::Compliant,
                current_status: ComplianceStatus::NotCompliant,
                common: common(),
            })
        }
        EventType::SessionEstablished => SecurityEvent::SessionEstablished(SessionEstablished {
            fp_ua: Some("abb0b6e7".into()),
            acr: Some("AAL2".into()),
            amr: Some(vec!["pwd".into(), "otp".into()]),
            ext_id: Some("ext-1".into()),
            common: common(),
        }),
        EventType::SessionPresented => SecurityEvent::SessionPresented(SessionPresented {
            fp_ua: Some("abb0b6e7".into()),
            ext_id: Some("ext-1".into()),
            common: common(),
        }),
        EventType::RiskLevelChange => SecurityEvent::RiskLevelChange(RiskLevelChange {
            risk_reason: Some("PASSWORD_FOUND_IN_DATA_BREACH".into()),
            principal: RiskPrincipal::User,
            current_level: RiskLevel::High,
            previous_level: Some(RiskLevel::Medium),
            common: common(),
        }),
        EventType::AccountCredentialChangeRequired => {
            SecurityEvent::AccountCredentialChangeRequired(basic)
        }
        EventType::AccountPurged => SecurityEvent::AccountPurged(basic),
        EventType::AccountDisabled => SecurityEvent::AccountDisabled(AccountDisabled {
            reason: Some(AccountDisabledReason::BulkAccount),
            common: common(),
        }),
        EventType::AccountEnabled => SecurityEvent::AccountEnabled(basic),
        EventType::IdentifierChanged => SecurityEvent::IdentifierChanged(IdentifierChanged {
            new_value: Some("john.roe@example.com".into()),
            common: common(),
        }),
        EventType::IdentifierRecycled => SecurityEvent::IdentifierRecycled(basic),
        EventType::CredentialCompromise => {
            SecurityEvent::CredentialCompromise(CredentialCompromise {
                credential_type: CredentialType::Password,
                common: common(),
            })
        }
        EventType::OptIn => SecurityEvent::OptIn(basic),
        EventType::OptOutInitiated => SecurityEvent::OptOutInitiated(basic),
        EventType::OptOutCancelled => SecurityEvent::OptOutCancelled(basic),
        EventType::OptOutEffective => SecurityEvent::OptOutEffective(basic),
        EventType::RecoveryActivated => SecurityEvent::RecoveryActivated(basic),
        EventType::RecoveryInformationChanged => SecurityEvent::RecoveryInformationChanged(basic),
        EventType::SessionsRevoked => SecurityEvent::SessionsRevoked(basic),
        EventType::Verification => SecurityEvent::verification(Some("state-1".into())),
        EventType::StreamUpdated => {
            SecurityEvent::stream_updated(StreamStatus::Paused, Some("maintenance".into()))
        }
    }
}

fn subject_for(event_type: EventType) -> SubjectId {
    if event_type.is_stream_event() {
        SubjectId::opaque("stream-1")
    } else {
        SubjectId::email("alice@example.com")
    }
}

#[test]
fn event_type_catalogue_is_complete_and_consistent() {
    assert_eq!(
        EventType::ALL.len(),
        8 + 14 + 2,
        "8 CAEP, 14 RISC, 2 SSF event types"
    );
    let count = |family| {
        EventType::ALL
            .iter()
            .filter(|t| t.family() == family)
            .count()
    };
    assert_eq!(count(EventFamily::Caep), 8);
    assert_eq!(count(EventFamily::Risc), 14);
    assert_eq!(count(EventFamily::Ssf), 2);
    let mut uris: Vec<&str> = EventType::ALL.iter().map(|t| t.uri()).collect();
    uris.sort();
    uris.dedup();
    assert_eq!(uris.len(), EventType::ALL.len(), "URIs are unique");
    for &event_type in EventType::ALL {
        let uri = event_type.uri();
        assert!(
            uri.starts_with("https://schemas.openid.net/secevent/"),
            "{uri}"
        );
        assert_eq!(EventType::from_uri(uri), Some(event_type));
        assert_eq!(serde_json::to_value(event_type).unwrap(), json!(uri));
        assert_eq!(
            serde_json::from_value::<EventType>(json!(uri)).unwrap(),
            event_type
        );
        assert_eq!(uri.parse::<EventType>().unwrap(), event_type);
    }
    assert_eq!(
        EventType::from_uri("https://schemas.openid.net/secevent/caep/event-type/nope"),
        None
    );
    assert!(serde_json::from_value::<EventType>(json!("urn:unknown")).is_err());
}

#[test]
fn every_event_type_round_trips_through_a_set() {
    for &event_type in EventType::ALL {
        let event = sample(event_type);
        assert_eq!(event.event_type(), event_type);
        let claims = SetClaims::builder(
            "https://idp.example.com/",
            "https://rp.example.com/",
            subject_for(event_type),
            event.clone(),
        )
        .txn("txn-1")
        .build()
        .unwrap_or_else(|e| panic!("{event_type:?}: {e}"));
        let json = claims.to_json();
        let parsed = SetClaims::from_json(&json).unwrap_or_else(|e| panic!("{event_type:?}: {e}"));
        assert_eq!(parsed, claims, "{event_type:?}");
        assert_eq!(parsed.event(), &event);

        // The `events` claim alone round-trips through `SecurityEvent`'s own serde.
        let events = serde_json::to_value(&event).unwrap();
        assert_eq!(events.as_object().unwrap().len(), 1);
        assert!(events.get(event_type.uri()).is_some(), "{events}");
        assert_eq!(
            serde_json::from_value::<SecurityEvent>(events).unwrap(),
            event
        );
    }
}

#[test]
fn payload_field_names_follow_the_specs() {
    let value = |event_type| {
        let event = serde_json::to_value(sample(event_type)).unwrap();
        event[event_type.uri()].clone()
    };
    let changed = value(EventType::IdentifierChanged);
    assert_eq!(changed["new-value"], json!("john.roe@example.com"));
    let credential = value(EventType::CredentialChange);
    assert_eq!(credential["credential_type"], json!("fido2-platform"));
    assert_eq!(credential["change_type"], json!("revoke"));
    assert_eq!(
        credential["reason_admin"],
        json!({"de": "Admin-Aktion", "en": "Admin action"})
    );
    assert_eq!(credential["initiating_entity"], json!("admin"));
    assert_eq!(credential["event_timestamp"], json!(1_700_000_000));
    let device = value(EventType::DeviceComplianceChange);
    assert_eq!(device["current_status"], json!("not-compliant"));
    let risk = value(EventType::RiskLevelChange);
    assert_eq!(risk["principal"], json!("USER"));
    assert_eq!(risk["current_level"], json!("HIGH"));
    let stream = value(EventType::StreamUpdated);
    assert_eq!(stream, json!({"status": "paused", "reason": "maintenance"}));
    let verification = serde_json::to_value(SecurityEvent::verification(None)).unwrap();
    assert_eq!(verification[EventType::Verification.uri()], json!({}));
}

#[test]
fn out_of_band_enumerated_values_are_kept() {
    let credential: CredentialType = serde_json::from_value(json!("smart-card")).unwrap();
    assert_eq!(credential, CredentialType::Other("smart-card".into()));
    assert!(!credential.is_known());
    assert_eq!(
        serde_json::to_value(&credential).unwrap(),
        json!("smart-card")
    );
    // Spelling a known value through `Other` gives the same value, not a second one.
    assert_eq!(
        CredentialType::Other("password".into()),
        CredentialType::Password
    );
    assert!(CredentialType::Other("password".into()).is_known());
    for value in ["bulk-account", "hijacking", "something-else"] {
        let reason: AccountDisabledReason = serde_json::from_value(json!(value)).unwrap();
        assert_eq!(reason.as_str(), value);
    }
    let level: RiskLevel = serde_json::from_value(json!("CRITICAL")).unwrap();
    assert_eq!(level.as_str(), "CRITICAL");
    let change: ChangeType = serde_json::from_value(json!("rotate")).unwrap();
    assert_eq!(change, ChangeType::Other("rotate".into()));
    let status: ComplianceStatus = serde_json::from_value(json!("unknown")).unwrap();
    assert_eq!(status.to_string(), "unknown");
    let ns: AssuranceNamespace = serde_json::from_value(json!("ISO-IEC-29115")).unwrap();
    assert_eq!(ns, AssuranceNamespace::IsoIec29115);
    // Empty strings and non-strings are errors, not panics.
    assert!(serde_json::from_value::<CredentialType>(json!("")).is_err());
    assert!(serde_json::from_value::<InitiatingEntity>(json!(7)).is_err());
    assert!(serde_json::from_value::<ChangeDirection>(json!("sideways")).is_err());
}

#[test]
fn localized_text_needs_at_least_one_message() {
    assert!(serde_json::from_value::<LocalizedText>(json!({})).is_err());
    let text: LocalizedText = serde_json::from_value(json!({"en": "a", "es-410": "b"})).unwrap();
    assert_eq!(text.get("es-410"), Some("b"));
    assert!(!text.is_blank());
    assert!(LocalizedText::new("en", "  ").is_blank());
}

fn all_subject_formats() -> Vec<(Value, SubjectId)> {
    vec![
        (
            json!({"format": "account", "uri": "acct:alice@example.com"}),
            SubjectId::Account {
                uri: "acct:alice@example.com".into(),
            },
        ),
        (
            json!({"format": "email", "email": "alice@example.com"}),
            SubjectId::email("alice@example.com"),
        ),
        (
            json!({"format": "iss_sub", "iss": "https://idp.example.com/", "sub": "145234573"}),
            SubjectId::iss_sub("https://idp.example.com/", "145234573"),
        ),
        (
            json!({"format": "opaque", "id": "11112222333344445555"}),
            SubjectId::opaque("11112222333344445555"),
        ),
        (
            json!({"format": "phone_number", "phone_number": "+12065550100"}),
            SubjectId::PhoneNumber {
                phone_number: "+12065550100".into(),
            },
        ),
        (
            json!({"format": "did", "url": "did:example:123456"}),
            SubjectId::Did {
                url: "did:example:123456".into(),
            },
        ),
        (
            json!({"format": "uri", "uri": "https://user.example.com/"}),
            SubjectId::Uri {
                uri: "https://user.example.com/".into(),
            },
        ),
        (
            json!({"format": "jwt_id", "iss": "https://idp.example.com/", "jti": "B70BA622"}),
            SubjectId::JwtId {
                iss: "https://idp.example.com/".into(),
                jti: "B70BA622".into(),
            },
        ),
        (
            json!({"format": "saml_assertion_id", "issuer": "https://idp.example.com/", "assertion_id": "_8e8dc5f6"}),
            SubjectId::SamlAssertionId {
                issuer: "https://idp.example.com/".into(),
                assertion_id: "_8e8dc5f6".into(),
            },
        ),
        (
            json!({"format": "ip-addresses", "ip-addresses": ["10.29.37.75", "2001:0db8:0000:0000:0000:8a2e:0370:7334"]}),
            SubjectId::IpAddresses {
                ip_addresses: vec![
                    "10.29.37.75".into(),
                    "2001:0db8:0000:0000:0000:8a2e:0370:7334".into(),
                ],
            },
        ),
        (
            json!({"format": "aliases", "identifiers": [
                {"format": "email", "email": "alice@example.com"},
                {"format": "phone_number", "phone_number": "+12065550100"}
            ]}),
            SubjectId::Aliases(
                Aliases::new(vec![
                    SubjectId::email("alice@example.com"),
                    SubjectId::PhoneNumber {
                        phone_number: "+12065550100".into(),
                    },
                ])
                .unwrap(),
            ),
        ),
        (
            json!({"format": "complex",
                "user": {"format": "iss_sub", "iss": "https://idp.example.com/", "sub": "u1"},
                "device": {"format": "opaque", "id": "d1"},
                "session": {"format": "opaque", "id": "s1"},
                "application": {"format": "opaque", "id": "a1"},
                "tenant": {"format": "opaque", "id": "t1"},
                "org_unit": {"format": "opaque", "id": "o1"},
                "group": {"format": "did", "url": "did:example:g1"},
                "x-building": {"format": "opaque", "id": "b7"}
            }),
            SubjectId::Complex(
                // Out of order on purpose: members serialise in the spec's order regardless.
                ComplexSubject::builder()
                    .member(ComplexMember::from("x-building"), SubjectId::opaque("b7"))
                    .group(SubjectId::Did {
                        url: "did:example:g1".into(),
                    })
                    .device(SubjectId::opaque("d1"))
                    .user(SubjectId::iss_sub("https://idp.example.com/", "u1"))
                    .session(SubjectId::opaque("s1"))
                    .application(SubjectId::opaque("a1"))
                    .tenant(SubjectId::opaque("t1"))
                    .org_unit(SubjectId::opaque("o1"))
                    .build()
                    .unwrap(),
            ),
        ),
        (
            json!({"format": "catalog_item", "catalog_id": "c0384/winter/2354122"}),
            SubjectId::Other(
                OtherSubject::new(
                    "catalog_item",
                    json!({"catalog_id": "c0384/winter/2354122"})
                        .as_object()
                        .cloned()
                        .unwrap(),
                )
                .unwrap(),
            ),
        ),
    ]
}

#[test]
fn every_subject_format_round_trips() {
    for (json, expected) in all_subject_formats() {
        let parsed: SubjectId =
            serde_json::from_value(json.clone()).unwrap_or_else(|e| panic!("{json}: {e}"));
        assert_eq!(parsed, expected, "{json}");
        assert_eq!(serde_json::to_value(&parsed).unwrap(), json, "{json}");
        assert_eq!(parsed.format(), json["format"].as_str().unwrap());
        assert!(
            parsed.matches(&expected),
            "a subject matches itself: {json}"
        );
    }
}

#[test]
fn malformed_subjects_are_errors() {
    for bad in [
        json!({"email": "no-format@example.com"}),
        json!({"format": 3, "email": "a@example.com"}),
        json!({"format": "email"}),
        json!({"format": "email", "email": 42}),
        json!({"format": "iss_sub", "iss": "https://idp/"}),
        json!({"format": "ip-addresses", "ip-addresses": []}),
        json!({"format": "ip-addresses", "ip-addresses": "10.0.0.1"}),
        json!({"format": "aliases", "identifiers": []}),
        json!({"format": "aliases", "identifiers": [{"format": "aliases", "identifiers": [{"format": "opaque", "id": "x"}]}]}),
        json!({"format": "aliases", "identifiers": [{"format": "opaque", "id": "x"}, {"format": "opaque", "id": "x"}]}),
        json!({"format": "complex"}),
        json!({"format": "complex", "user": "alice"}),
        json!({"format": "complex", "user": {"format": "complex", "device": {"format": "opaque", "id": "d"}}}),
        json!("alice@example.com"),
    ] {
        assert!(
            serde_json::from_value::<SubjectId>(bad.clone()).is_err(),
            "accepted {bad}"
        );
    }
    assert!(OtherSubject::new("email", serde_json::Map::new()).is_err());
    assert!(
        ComplexSubject::builder()
            .user(SubjectId::opaque("a"))
            .member(ComplexMember::from("user"), SubjectId::opaque("b"))
            .build()
            .is_err()
    );
    assert!(ComplexSubject::builder().build().is_err());
}

#[test]
fn google_subject_type_is_accepted_as_format() {
    let subject: SubjectId =
        serde_json::from_value(json!({"subject_type": "iss_sub", "iss": "https://accounts.google.com/", "sub": "7375626A656374"}))
            .unwrap();
    assert_eq!(
        subject,
        SubjectId::iss_sub("https://accounts.google.com/", "7375626A656374")
    );
    // Always written back with the standard tag.
    assert_eq!(
        serde_json::to_value(&subject).unwrap()["format"],
        json!("iss_sub")
    );
}

fn subject(value: Value) -> SubjectId {
    serde_json::from_value(value).unwrap()
}

#[test]
fn complex_subject_matching_follows_ssf_examples() {
    // SSF §8.1.3.1, first example: the receiver's subject is less restrictive.
    let added = subject(
        json!({"format": "complex", "tenant": {"format": "opaque", "id": "example-a38h4792-uw2"}}),
    );
    let event = subject(json!({"format": "complex",
        "tenant": {"format": "opaque", "id": "example-a38h4792-uw2"},
        "user": {"format": "email", "email": "jdoe@example.com"}}));
    assert!(added.matches(&event) && event.matches(&added));

    // Second example: the receiver's subject is more restrictive.
    let added = subject(json!({"format": "complex",
        "user": {"format": "email", "email": "jdoe@example.com"},
        "device": {"format": "ip-addresses", "ip-addresses": ["10.29.37.75"]}}));
    let event = subject(
        json!({"format": "complex", "user": {"format": "email", "email": "jdoe@example.com"}}),
    );
    assert!(added.matches(&event) && event.matches(&added));

    // Third example: a member present on both sides differs.
    let added = subject(json!({"format": "complex",
        "user": {"format": "email", "email": "jdoe@example.com"},
        "group": {"format": "did", "url": "did:example:123456"}}));
    let event = subject(json!({"format": "complex",
        "user": {"format": "email", "email": "jdoe@example.com"},
        "group": {"format": "did", "url": "did:example:9999999"}}));
    assert!(!added.matches(&event) && !event.matches(&added));
}

#[test]
fn simple_subject_matching() {
    let alice = SubjectId::email("alice@example.com");
    assert!(alice.matches(&SubjectId::email("Alice@EXAMPLE.com")));
    assert!(!alice.matches(&SubjectId::email("alice@example.org")));
    assert!(!alice.matches(&SubjectId::opaque("alice@example.com")));

    // iss_sub is compared exactly: `sub` values are case-sensitive identifiers.
    let a = SubjectId::iss_sub("https://idp/", "User1");
    assert!(a.matches(&SubjectId::iss_sub("https://idp/", "User1")));
    assert!(!a.matches(&SubjectId::iss_sub("https://idp/", "user1")));
    assert!(!a.matches(&SubjectId::iss_sub("https://other/", "User1")));

    let ips = |list: &[&str]| SubjectId::IpAddresses {
        ip_addresses: list.iter().map(|s| s.to_string()).collect(),
    };
    assert!(
        ips(&["2001:0db8:0000:0000:0000:8a2e:0370:7334", "10.0.0.1"])
            .matches(&ips(&["10.0.0.1", "2001:db8::8a2e:370:7334"]))
    );
    assert!(ips(&["::ffff:10.0.0.1"]).matches(&ips(&["10.0.0.1"])));
    assert!(!ips(&["10.0.0.1"]).matches(&ips(&["10.0.0.1", "10.0.0.2"])));
}

#[test]
fn aliases_and_simple_versus_complex_matching() {
    let alice = SubjectId::email("alice@example.com");
    let phone = SubjectId::PhoneNumber {
        phone_number: "+12065550100".into(),
    };
    let aliases = SubjectId::Aliases(Aliases::new(vec![alice.clone(), phone.clone()]).unwrap());
    assert!(aliases.matches(&phone) && phone.matches(&aliases));
    assert!(!aliases.matches(&SubjectId::email("bob@example.com")));

    let complex = SubjectId::Complex(
        ComplexSubject::builder()
            .user(alice.clone())
            .session(SubjectId::opaque("sess-1"))
            .build()
            .unwrap(),
    );
    assert!(alice.matches(&complex) && complex.matches(&alice));
    assert!(SubjectId::opaque("sess-1").matches(&complex));
    assert!(!SubjectId::email("bob@example.com").matches(&complex));
    assert!(aliases.matches(&complex) && complex.matches(&aliases));
}

#[test]
fn lookup_keys_are_canonical() {
    assert_eq!(
        SubjectId::email("Alice@Example.COM").lookup_key(),
        "email:alice@example.com"
    );
    assert_eq!(
        SubjectId::iss_sub("https://idp.example.com/", "123").lookup_key(),
        "iss_sub:https://idp.example.com/|123"
    );
    assert_eq!(
        SubjectId::opaque("stream-1").lookup_key(),
        "opaque:stream-1"
    );
    // Separators inside values are escaped, so different subjects never share a key.
    assert_ne!(
        SubjectId::iss_sub("a|b", "c").lookup_key(),
        SubjectId::iss_sub("a", "b|c").lookup_key()
    );
    // A complex subject is keyed by its user, whatever else it says.
    let complex = SubjectId::Complex(
        ComplexSubject::builder()
            .tenant(SubjectId::opaque("t1"))
            .user(SubjectId::email("bob@example.com"))
            .build()
            .unwrap(),
    );
    assert_eq!(complex.lookup_key(), "email:bob@example.com");
    let no_user = SubjectId::Complex(
        ComplexSubject::builder()
            .tenant(SubjectId::opaque("t1"))
            .device(SubjectId::opaque("d1"))
            .build()
            .unwrap(),
    );
    assert_eq!(
        no_user.lookup_key(),
        "opaque:d1",
        "device comes before tenant"
    );
    // Simple subjects that match share a key.
    for (a, b) in [
        (SubjectId::email("X@Y.Z"), SubjectId::email("x@y.z")),
        (
            SubjectId::IpAddresses {
                ip_addresses: vec!["2001:db8::1".into(), "10.0.0.1".into()],
            },
            SubjectId::IpAddresses {
                ip_addresses: vec!["10.0.0.1".into(), "2001:0db8::0001".into()],
            },
        ),
    ] {
        assert!(a.matches(&b));
        assert_eq!(a.lookup_key(), b.lookup_key());
    }
    // Every format yields a key that starts with its format name (or `other:`).
    for (_, subject) in all_subject_formats() {
        let key = subject.lookup_key();
        match &subject {
            SubjectId::Complex(_) => assert!(key.starts_with("iss_sub:"), "{key}"),
            SubjectId::Aliases(_) => assert!(key.starts_with("email:"), "{key}"),
            SubjectId::Other(_) => assert!(key.starts_with("other:catalog_item|"), "{key}"),
            simple => assert!(key.starts_with(&format!("{}:", simple.format())), "{key}"),
        }
    }
}

fn builder(event: SecurityEvent, subject: SubjectId) -> ssf_provider::set::SetClaimsBuilder {
    SetClaims::builder(
        "https://idp.example.com/",
        "https://rp.example.com/",
        subject,
        event,
    )
}

#[test]
fn builder_produces_conforming_claims() {
    let before = chrono::Utc::now().timestamp();
    let claims = builder(
        SecurityEvent::session_revoked(LocalizedText::new("en", "Logged out")),
        SubjectId::email("alice@example.com"),
    )
    .txn("t-1")
    .build()
    .unwrap();
    let json: Value = serde_json::from_str(&claims.to_json()).unwrap();
    let keys: Vec<&str> = json
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["iss", "jti", "iat", "aud", "txn", "sub_id", "events"]
    );
    assert_eq!(json["aud"], json!("https://rp.example.com/"));
    assert_eq!(
        json["sub_id"],
        json!({"format": "email", "email": "alice@example.com"})
    );
    let events = json["events"].as_object().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[EventType::SessionRevoked.uri()],
        json!({"reason_admin": {"en": "Logged out"}})
    );
    let iat = json["iat"].as_i64().unwrap();
    assert!(iat >= before && iat <= chrono::Utc::now().timestamp());
    let jti = json["jti"].as_str().unwrap();
    assert_eq!(jti.len(), 32);
    assert!(jti.chars().all(|c| c.is_ascii_hexdigit()));

    let other = builder(SecurityEvent::verification(None), SubjectId::opaque("s"))
        .build()
        .unwrap();
    assert_ne!(other.jti(), claims.jti(), "jti is unique per SET");

    let explicit = builder(SecurityEvent::verification(None), SubjectId::opaque("s"))
        .jti("fixed")
        .iat(1234)
        .build()
        .unwrap();
    assert_eq!((explicit.jti(), explicit.iat()), ("fixed", 1234));
    assert_eq!(explicit.txn(), None);
    assert!(!explicit.to_json().contains("txn"));
}

#[test]
fn builder_accepts_audience_arrays() {
    let claims = SetClaims::builder(
        "https://idp/",
        vec!["rp/web".to_string(), "rp/mobile".to_string()],
        SubjectId::opaque("s"),
        SecurityEvent::verification(None),
    )
    .build()
    .unwrap();
    assert_eq!(
        claims.aud(),
        &Audience::Many(vec!["rp/web".into(), "rp/mobile".into()])
    );
    assert!(claims.aud().contains("rp/mobile"));
    let json: Value = serde_json::from_str(&claims.to_json()).unwrap();
    assert_eq!(json["aud"], json!(["rp/web", "rp/mobile"]));
}

#[test]
fn builder_refuses_non_conforming_sets() {
    let verification = || SecurityEvent::verification(None);
    assert!(matches!(
        builder(verification(), SubjectId::email("a@b.c")).build(),
        Err(SetError::StreamEventSubject(EventType::Verification))
    ));
    assert!(matches!(
        builder(
            SecurityEvent::stream_updated(StreamStatus::Enabled, None),
            SubjectId::email("a@b.c")
        )
        .build(),
        Err(SetError::StreamEventSubject(EventType::StreamUpdated))
    ));
    assert!(matches!(
        SetClaims::builder("", "rp", SubjectId::opaque("s"), verification()).build(),
        Err(SetError::EmptyClaim("iss"))
    ));
    assert!(matches!(
        SetClaims::builder(
            "https://idp/",
            Vec::<String>::new(),
            SubjectId::opaque("s"),
            verification()
        )
        .build(),
        Err(SetError::EmptyClaim("aud"))
    ));
    assert!(matches!(
        builder(verification(), SubjectId::opaque("s"))
            .jti("")
            .build(),
        Err(SetError::EmptyClaim("jti"))
    ));
    let no_claims = SecurityEvent::TokenClaimsChange(TokenClaimsChange {
        claims: serde_json::Map::new(),
        common: CommonEventClaims::default(),
    });
    assert!(matches!(
        builder(no_claims, SubjectId::email("a@b.c")).build(),
        Err(SetError::NoChangedClaims)
    ));
}

#[test]
fn subject_in_event_for_older_receivers() {
    let claims = builder(
        SecurityEvent::CredentialChange(CredentialChange::new(
            CredentialType::Password,
            ChangeType::Update,
        )),
        SubjectId::email("alice@example.com"),
    )
    .subject_in_event(true)
    .build()
    .unwrap();
    let json: Value = serde_json::from_str(&claims.to_json()).unwrap();
    let subject = json!({"format": "email", "email": "alice@example.com"});
    assert_eq!(
        json["sub_id"], subject,
        "the SSF 1.0 sub_id is always there"
    );
    let event = &json["events"][EventType::CredentialChange.uri()];
    assert_eq!(event["subject"], subject);
    assert_eq!(event["credential_type"], json!("password"));
    let parsed = SetClaims::from_json(&claims.to_json()).unwrap();
    assert!(parsed.subject_in_event());
    assert_eq!(parsed, claims);

    let plain = builder(SecurityEvent::verification(None), SubjectId::opaque("s"))
        .build()
        .unwrap();
    assert!(!plain.to_json().contains("\"subject\""));
}

fn set_json(extra: Value) -> Value {
    let mut base = json!({
        "iss": "https://idp.example.com/",
        "jti": "abc",
        "iat": 1,
        "aud": "rp",
        "sub_id": {"format": "opaque", "id": "stream-1"},
        "events": {"https://schemas.openid.net/secevent/ssf/event-type/verification": {}}
    });
    for (k, v) in extra.as_object().unwrap() {
        if v.is_null() {
            base.as_object_mut().unwrap().remove(k);
        } else {
            base[k] = v.clone();
        }
    }
    base
}

fn parse(value: Value) -> Result<SetClaims, SetError> {
    SetClaims::from_json(&value.to_string())
}

#[test]
fn parsing_enforces_the_ssf_profile() {
    assert!(parse(set_json(json!({}))).is_ok());
    assert!(matches!(
        parse(set_json(json!({"sub": "x"}))),
        Err(SetError::ForbiddenClaim("sub"))
    ));
    assert!(matches!(
        parse(set_json(json!({"exp": 2}))),
        Err(SetError::ForbiddenClaim("exp"))
    ));
    let two_events = json!({"events": {
        "https://schemas.openid.net/secevent/ssf/event-type/verification": {},
        "https://schemas.openid.net/secevent/risc/event-type/opt-in": {}
    }});
    assert!(matches!(
        parse(set_json(two_events)),
        Err(SetError::EventCount(2))
    ));
    assert!(matches!(
        parse(set_json(json!({"events": {}}))),
        Err(SetError::EventCount(0))
    ));
    assert!(matches!(
        parse(set_json(
            json!({"events": {"https://example.com/event": {}}})
        )),
        Err(SetError::UnknownEventType(_))
    ));
    assert!(matches!(
        parse(set_json(
            json!({"events": {"https://schemas.openid.net/secevent/ssf/event-type/verification": "x"}})
        )),
        Err(SetError::EventNotObject(EventType::Verification))
    ));
    let missing_required = json!({
        "sub_id": {"format": "email", "email": "a@b.c"},
        "events": {"https://schemas.openid.net/secevent/caep/event-type/credential-change": {"credential_type": "password"}}
    });
    assert!(matches!(
        parse(set_json(missing_required)),
        Err(SetError::InvalidEvent {
            event_type: EventType::CredentialChange,
            ..
        })
    ));
    assert!(matches!(
        parse(set_json(json!({"sub_id": null}))),
        Err(SetError::MissingSubject)
    ));
    assert!(parse(set_json(json!({"iat": "yesterday"}))).is_err());
    assert!(SetClaims::from_json("not json").is_err());
}

#[test]
fn parsing_accepts_the_older_event_subject_dialect() {
    let legacy = set_json(json!({
        "sub_id": null,
        "events": {"https://schemas.openid.net/secevent/risc/event-type/account-disabled": {
            "subject": {"format": "email", "email": "a@b.c"},
            "reason": "hijacking"
        }}
    }));
    let claims = parse(legacy).unwrap();
    assert_eq!(claims.sub_id(), &SubjectId::email("a@b.c"));
    assert!(claims.subject_in_event());

    let conflicting = set_json(json!({
        "sub_id": {"format": "email", "email": "x@b.c"},
        "events": {"https://schemas.openid.net/secevent/risc/event-type/account-disabled": {
            "subject": {"format": "email", "email": "a@b.c"}
        }}
    }));
    assert!(matches!(
        parse(conflicting),
        Err(SetError::ConflictingSubjects)
    ));
}
