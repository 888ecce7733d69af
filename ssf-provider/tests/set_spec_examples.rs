//! Every example SET of the CAEP, RISC and SSF specifications parses into the typed model
//! and serialises back to the same JSON.

use std::path::PathBuf;

use serde_json::Value;
use ssf_provider::set::{
    ChangeType, ComplexMember, CredentialType, EventType, InitiatingEntity, RiskLevel,
    SecurityEvent, SetClaims, SubjectId,
};

fn fixtures() -> Vec<(String, String)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/spec_sets");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("fixture directory") {
        let path = entry.expect("directory entry").path();
        if path.extension().is_some_and(|ext| ext == "json") {
            let name = path
                .file_name()
                .expect("file name")
                .to_string_lossy()
                .into_owned();
            files.push((name, std::fs::read_to_string(&path).expect("fixture text")));
        }
    }
    files.sort();
    files
}

fn fixture(name: &str) -> SetClaims {
    let (_, text) = fixtures()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no fixture {name}"));
    SetClaims::from_json(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_spec_example_round_trips() {
    let files = fixtures();
    assert_eq!(files.len(), 27, "one fixture per example SET in the specs");
    for (name, text) in files {
        let original: Value = serde_json::from_str(&text).unwrap();
        let claims = SetClaims::from_json(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let again: Value = serde_json::from_str(&claims.to_json()).unwrap();
        assert_eq!(again, original, "{name} changed in the round trip");
        // The file name carries the event type, so this checks the URI was mapped right.
        let expected_type = name.split('-').skip(2).collect::<Vec<_>>().join("-");
        assert_eq!(
            claims.event().event_type().uri().rsplit('/').next(),
            Some(expected_type.trim_end_matches(".json")),
            "{name}"
        );
    }
}

#[test]
fn every_event_family_is_covered_by_examples() {
    let types: Vec<EventType> = fixtures()
        .iter()
        .map(|(_, text)| SetClaims::from_json(text).unwrap().event().event_type())
        .collect();
    for expected in [
        EventType::SessionRevoked,
        EventType::TokenClaimsChange,
        EventType::CredentialChange,
        EventType::AssuranceLevelChange,
        EventType::DeviceComplianceChange,
        EventType::SessionEstablished,
        EventType::SessionPresented,
        EventType::RiskLevelChange,
        EventType::AccountCredentialChangeRequired,
        EventType::AccountDisabled,
        EventType::AccountEnabled,
        EventType::IdentifierChanged,
        EventType::IdentifierRecycled,
        EventType::CredentialCompromise,
        EventType::Verification,
        EventType::StreamUpdated,
    ] {
        assert!(
            types.contains(&expected),
            "no example parsed as {expected:?}"
        );
    }
}

#[test]
fn typed_fields_of_spec_examples() {
    let credential = fixture("caep-07-credential-change.json");
    let SecurityEvent::CredentialChange(change) = credential.event() else {
        panic!("not a credential-change: {:?}", credential.event());
    };
    assert_eq!(change.credential_type, CredentialType::Fido2Roaming);
    assert_eq!(change.change_type, ChangeType::Create);
    assert_eq!(
        change.fido2_aaguid.as_deref(),
        Some("accced6a-63f5-490a-9eea-e59bc1896cfc")
    );
    assert_eq!(
        change.common.initiating_entity,
        Some(InitiatingEntity::User)
    );
    assert_eq!(change.common.event_timestamp, Some(1615304991));
    let reason = change.common.reason_admin.as_ref().expect("reason_admin");
    assert_eq!(reason.get("en"), Some("User self-enrollment"));
    assert_eq!(credential.txn(), Some("8675309"));
    assert_eq!(
        credential.sub_id(),
        &SubjectId::iss_sub("https://idp.example.com/3456789/", "jane.smith@example.com")
    );

    let risk = fixture("caep-13-risk-level-change.json");
    let SecurityEvent::RiskLevelChange(risk) = risk.event() else {
        panic!("not a risk-level-change");
    };
    assert_eq!(risk.current_level, RiskLevel::Low);
    assert_eq!(risk.previous_level, Some(RiskLevel::High));

    let revoked = fixture("caep-02-session-revoked.json");
    let SubjectId::Complex(complex) = revoked.sub_id() else {
        panic!("expected a complex subject");
    };
    assert_eq!(
        complex.get(&ComplexMember::Session),
        Some(&SubjectId::opaque("dMTlD|1600802906337.16|16008.16"))
    );
    assert_eq!(
        complex.get(&ComplexMember::Tenant),
        Some(&SubjectId::opaque("123456789"))
    );

    let custom = fixture("caep-09-assurance-level-change.json");
    let SecurityEvent::AssuranceLevelChange(level) = custom.event() else {
        panic!("not an assurance-level-change");
    };
    assert!(!level.namespace.is_known());
    assert_eq!(level.namespace.as_str(), "Retinal Scan");

    let proprietary = fixture("ssf-07-token-claims-change.json");
    assert_eq!(proprietary.sub_id().format(), "catalog_item");

    let verification = fixture("ssf-08-verification.json");
    assert_eq!(
        verification.event(),
        &SecurityEvent::verification(Some("VGhpcyBpcyBhbiBleGFtcGxlIHN0YXRlIHZhbHVlLgo=".into()))
    );
    assert_eq!(
        verification.sub_id(),
        &SubjectId::opaque("f67e39a0a4d34d56b3aa1bc4cff0069f")
    );
}
