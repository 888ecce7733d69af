//! Typed payloads of every CAEP 1.0, RISC 1.0 and SSF 1.0 event.
//!
//! A [`SecurityEvent`] serialises as the value of the SET `events` claim: a one-entry object
//! from the event type URI to the event's payload. Fields a receiver does not know are
//! ignored when parsing, as SSF §4.2.3 asks of receivers.

use serde::de::Error as _;
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use ssf_entities::StreamStatus;

use super::values::{
    AccountDisabledReason, AssuranceNamespace, ChangeDirection, ChangeType, ComplianceStatus,
    CredentialType, InitiatingEntity, LocalizedText, RiskLevel, RiskPrincipal,
};
use super::{EventType, SetError};

/// The optional claims CAEP §2 defines for every CAEP event.
///
/// RISC events carry them too: SSF §4.2.3 lets transmitters add fields, and an IdP that
/// disables an account wants to say who did it and why.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommonEventClaims {
    /// When the event happened, in seconds since the Unix epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_timestamp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiating_entity: Option<InitiatingEntity>,
    /// Message for administrators' logs and audits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_admin: Option<LocalizedText>,
    /// Message to show the end user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason_user: Option<LocalizedText>,
}

impl CommonEventClaims {
    pub fn is_empty(&self) -> bool {
        *self == CommonEventClaims::default()
    }
}

/// Payload of events that define no claims of their own (CAEP session-revoked and the
/// RISC account and opt-out events).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BasicEvent {
    #[serde(flatten)]
    pub common: CommonEventClaims,
}

/// CAEP §3.2 token-claims-change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenClaimsChange {
    /// The changed claims with their new values; at least one.
    pub claims: Map<String, Value>,
    #[serde(flatten)]
    pub common: CommonEventClaims,
}

/// CAEP §3.3 credential-change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialChange {
    pub credential_type: CredentialType,
    pub change_type: ChangeType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub friendly_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x509_issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub x509_serial: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fido2_aaguid: Option<String>,
    #[serde(flatten)]
    pub common: CommonEventClaims,
}

impl CredentialChange {
    pub fn new(credential_type: CredentialType, change_type: ChangeType) -> Self {
        CredentialChange {
            credential_type,
            change_type,
            friendly_name: None,
            x509_issuer: None,
            x509_serial: None,
            fido2_aaguid: None,
            common: CommonEventClaims::default(),
        }
    }
}

/// CAEP §3.4 assurance-level-change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssuranceLevelChange {
    pub namespace: AssuranceNamespace,
    pub current_level: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_direction: Option<ChangeDirection>,
    #[serde(flatten)]
    pub common: CommonEventClaims,
}

/// CAEP §3.5 device-compliance-change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceComplianceChange {
    pub previous_status: ComplianceStatus,
    pub current_status: ComplianceStatus,
    #[serde(flatten)]
    pub common: CommonEventClaims,
}

/// CAEP §3.6 session-established.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionEstablished {
    /// Fingerprint of the user agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fp_ua: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acr: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amr: Option<Vec<String>>,
    /// External session identifier, e.g. of a federated SAML session.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext_id: Option<String>,
    #[serde(flatten)]
    pub common: CommonEventClaims,
}

/// CAEP §3.7 session-presented.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionPresented {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fp_ua: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ext_id: Option<String>,
    #[serde(flatten)]
    pub common: CommonEventClaims,
}

/// CAEP §3.8 risk-level-change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RiskLevelChange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub risk_reason: Option<String>,
    pub principal: RiskPrincipal,
    pub current_level: RiskLevel,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_level: Option<RiskLevel>,
    #[serde(flatten)]
    pub common: CommonEventClaims,
}

/// RISC §2.3 account-disabled.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccountDisabled {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<AccountDisabledReason>,
    #[serde(flatten)]
    pub common: CommonEventClaims,
}

/// RISC §2.5 identifier-changed. The subject names the old identifier.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentifierChanged {
    #[serde(rename = "new-value", default, skip_serializing_if = "Option::is_none")]
    pub new_value: Option<String>,
    #[serde(flatten)]
    pub common: CommonEventClaims,
}

/// RISC §2.7 credential-compromise.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CredentialCompromise {
    pub credential_type: CredentialType,
    #[serde(flatten)]
    pub common: CommonEventClaims,
}

/// SSF §8.1.4.1 verification.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verification {
    /// Echo of the receiver's `state`; absent when the transmitter started the verification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

/// SSF §8.1.5 stream-updated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StreamUpdated {
    pub status: StreamStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

macro_rules! security_events {
    ( $( $(#[$vmeta:meta])* $variant:ident($payload:ty), )+ ) => {
        /// One security event: its type and its typed payload.
        #[derive(Debug, Clone, PartialEq)]
        pub enum SecurityEvent {
            $( $(#[$vmeta])* $variant($payload), )+
        }

        impl SecurityEvent {
            pub fn event_type(&self) -> EventType {
                match self {
                    $( SecurityEvent::$variant(_) => EventType::$variant, )+
                }
            }

            /// Parses the event object of `event_type` (the value under its URI in `events`).
            pub fn from_payload(event_type: EventType, payload: Value) -> Result<Self, SetError> {
                if !payload.is_object() {
                    return Err(SetError::EventNotObject(event_type));
                }
                let invalid = |source| SetError::InvalidEvent { event_type, source };
                let event = match event_type {
                    $( EventType::$variant => SecurityEvent::$variant(
                        serde_json::from_value(payload).map_err(invalid)?,
                    ), )+
                };
                event.validate()?;
                Ok(event)
            }

            /// The event object, as it appears under its URI in `events`.
            pub fn payload(&self) -> PayloadRef<'_> {
                PayloadRef(self)
            }
        }

        impl Serialize for PayloadRef<'_> {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                match self.0 {
                    $( SecurityEvent::$variant(payload) => payload.serialize(serializer), )+
                }
            }
        }
    };
}

security_events! {
    SessionRevoked(BasicEvent),
    TokenClaimsChange(TokenClaimsChange),
    CredentialChange(CredentialChange),
    AssuranceLevelChange(AssuranceLevelChange),
    DeviceComplianceChange(DeviceComplianceChange),
    SessionEstablished(SessionEstablished),
    SessionPresented(SessionPresented),
    RiskLevelChange(RiskLevelChange),
    AccountCredentialChangeRequired(BasicEvent),
    AccountPurged(BasicEvent),
    AccountDisabled(AccountDisabled),
    AccountEnabled(BasicEvent),
    IdentifierChanged(IdentifierChanged),
    IdentifierRecycled(BasicEvent),
    CredentialCompromise(CredentialCompromise),
    OptIn(BasicEvent),
    OptOutInitiated(BasicEvent),
    OptOutCancelled(BasicEvent),
    OptOutEffective(BasicEvent),
    RecoveryActivated(BasicEvent),
    RecoveryInformationChanged(BasicEvent),
    SessionsRevoked(BasicEvent),
    Verification(Verification),
    StreamUpdated(StreamUpdated),
}

/// Borrowed view of an event's payload that serialises as the event object alone.
#[derive(Debug, Clone, Copy)]
pub struct PayloadRef<'a>(&'a SecurityEvent);

impl SecurityEvent {
    /// SSF §8.1.4.1: a verification event, echoing the receiver's `state` if it gave one.
    /// Its subject must be `SubjectId::opaque(stream_id)`.
    pub fn verification(state: Option<String>) -> Self {
        SecurityEvent::Verification(Verification { state })
    }

    /// SSF §8.1.5: the transmitter changed the stream's status. Its subject must be
    /// `SubjectId::opaque(stream_id)`.
    pub fn stream_updated(status: StreamStatus, reason: Option<String>) -> Self {
        SecurityEvent::StreamUpdated(StreamUpdated { status, reason })
    }

    /// CAEP session-revoked with an administrative reason, which the CAEP interoperability
    /// profile requires.
    pub fn session_revoked(reason_admin: LocalizedText) -> Self {
        SecurityEvent::SessionRevoked(BasicEvent {
            common: CommonEventClaims {
                reason_admin: Some(reason_admin),
                ..CommonEventClaims::default()
            },
        })
    }

    /// The CAEP optional claims of this event; `None` for SSF's stream events.
    pub fn common(&self) -> Option<&CommonEventClaims> {
        match self {
            SecurityEvent::SessionRevoked(e)
            | SecurityEvent::AccountCredentialChangeRequired(e)
            | SecurityEvent::AccountPurged(e)
            | SecurityEvent::AccountEnabled(e)
            | SecurityEvent::IdentifierRecycled(e)
            | SecurityEvent::OptIn(e)
            | SecurityEvent::OptOutInitiated(e)
            | SecurityEvent::OptOutCancelled(e)
            | SecurityEvent::OptOutEffective(e)
            | SecurityEvent::RecoveryActivated(e)
            | SecurityEvent::RecoveryInformationChanged(e)
            | SecurityEvent::SessionsRevoked(e) => Some(&e.common),
            SecurityEvent::TokenClaimsChange(e) => Some(&e.common),
            SecurityEvent::CredentialChange(e) => Some(&e.common),
            SecurityEvent::AssuranceLevelChange(e) => Some(&e.common),
            SecurityEvent::DeviceComplianceChange(e) => Some(&e.common),
            SecurityEvent::SessionEstablished(e) => Some(&e.common),
            SecurityEvent::SessionPresented(e) => Some(&e.common),
            SecurityEvent::RiskLevelChange(e) => Some(&e.common),
            SecurityEvent::AccountDisabled(e) => Some(&e.common),
            SecurityEvent::IdentifierChanged(e) => Some(&e.common),
            SecurityEvent::CredentialCompromise(e) => Some(&e.common),
            SecurityEvent::Verification(_) | SecurityEvent::StreamUpdated(_) => None,
        }
    }

    /// Rules serde cannot express.
    pub(crate) fn validate(&self) -> Result<(), SetError> {
        if let SecurityEvent::TokenClaimsChange(e) = self
            && e.claims.is_empty()
        {
            return Err(SetError::NoChangedClaims);
        }
        Ok(())
    }
}

/// The `events` claim: `{ "<event type URI>": { ...payload } }`.
impl Serialize for SecurityEvent {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(self.event_type().uri(), &self.payload())?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for SecurityEvent {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let events = Map::<String, Value>::deserialize(deserializer)?;
        let (event_type, payload) = single_event(events).map_err(D::Error::custom)?;
        SecurityEvent::from_payload(event_type, payload).map_err(D::Error::custom)
    }
}

/// Takes the one event out of an `events` claim.
pub(crate) fn single_event(events: Map<String, Value>) -> Result<(EventType, Value), SetError> {
    if events.len() != 1 {
        return Err(SetError::EventCount(events.len()));
    }
    let Some((uri, payload)) = events.into_iter().next() else {
        return Err(SetError::EventCount(0));
    };
    let event_type = EventType::from_uri(&uri).ok_or(SetError::UnknownEventType(uri))?;
    Ok((event_type, payload))
}
