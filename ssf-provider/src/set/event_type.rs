//! Event type URIs of CAEP 1.0, RISC 1.0 and SSF 1.0.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::SetError;

/// The specification family an event type belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EventFamily {
    Caep,
    Risc,
    Ssf,
}

macro_rules! event_types {
    ( $( $(#[$vmeta:meta])* $variant:ident => ($family:ident, $uri:literal), )+ ) => {
        /// Every event type this transmitter can send. Serialises as its URI.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum EventType {
            $( $(#[$vmeta])* $variant, )+
        }

        impl EventType {
            /// Every supported event type: all of CAEP 1.0 and RISC 1.0, SSF verification
            /// and stream-updated.
            pub const ALL: &'static [EventType] = &[$(EventType::$variant),+];

            /// The event type URI, as it appears as the key of the `events` claim.
            pub fn uri(&self) -> &'static str {
                match self {
                    $( EventType::$variant => $uri, )+
                }
            }

            /// The event type with this exact URI.
            pub fn from_uri(uri: &str) -> Option<EventType> {
                match uri {
                    $( $uri => Some(EventType::$variant), )+
                    _ => None,
                }
            }

            pub fn family(&self) -> EventFamily {
                match self {
                    $( EventType::$variant => EventFamily::$family, )+
                }
            }
        }
    };
}

event_types! {
    SessionRevoked => (Caep, "https://schemas.openid.net/secevent/caep/event-type/session-revoked"),
    TokenClaimsChange => (Caep, "https://schemas.openid.net/secevent/caep/event-type/token-claims-change"),
    CredentialChange => (Caep, "https://schemas.openid.net/secevent/caep/event-type/credential-change"),
    AssuranceLevelChange => (Caep, "https://schemas.openid.net/secevent/caep/event-type/assurance-level-change"),
    DeviceComplianceChange => (Caep, "https://schemas.openid.net/secevent/caep/event-type/device-compliance-change"),
    SessionEstablished => (Caep, "https://schemas.openid.net/secevent/caep/event-type/session-established"),
    SessionPresented => (Caep, "https://schemas.openid.net/secevent/caep/event-type/session-presented"),
    RiskLevelChange => (Caep, "https://schemas.openid.net/secevent/caep/event-type/risk-level-change"),
    AccountCredentialChangeRequired => (Risc, "https://schemas.openid.net/secevent/risc/event-type/account-credential-change-required"),
    AccountPurged => (Risc, "https://schemas.openid.net/secevent/risc/event-type/account-purged"),
    AccountDisabled => (Risc, "https://schemas.openid.net/secevent/risc/event-type/account-disabled"),
    AccountEnabled => (Risc, "https://schemas.openid.net/secevent/risc/event-type/account-enabled"),
    IdentifierChanged => (Risc, "https://schemas.openid.net/secevent/risc/event-type/identifier-changed"),
    IdentifierRecycled => (Risc, "https://schemas.openid.net/secevent/risc/event-type/identifier-recycled"),
    CredentialCompromise => (Risc, "https://schemas.openid.net/secevent/risc/event-type/credential-compromise"),
    OptIn => (Risc, "https://schemas.openid.net/secevent/risc/event-type/opt-in"),
    OptOutInitiated => (Risc, "https://schemas.openid.net/secevent/risc/event-type/opt-out-initiated"),
    OptOutCancelled => (Risc, "https://schemas.openid.net/secevent/risc/event-type/opt-out-cancelled"),
    OptOutEffective => (Risc, "https://schemas.openid.net/secevent/risc/event-type/opt-out-effective"),
    RecoveryActivated => (Risc, "https://schemas.openid.net/secevent/risc/event-type/recovery-activated"),
    RecoveryInformationChanged => (Risc, "https://schemas.openid.net/secevent/risc/event-type/recovery-information-changed"),
    /// Deprecated by RISC in favour of CAEP session-revoked; kept for receivers that still ask for it.
    SessionsRevoked => (Risc, "https://schemas.openid.net/secevent/risc/event-type/sessions-revoked"),
    Verification => (Ssf, "https://schemas.openid.net/secevent/ssf/event-type/verification"),
    StreamUpdated => (Ssf, "https://schemas.openid.net/secevent/ssf/event-type/stream-updated"),
}

impl EventType {
    /// SSF's own events (verification, stream-updated) are about a stream, not a user: their
    /// subject is always the stream id (SSF §8.1.4, §8.1.5), and a transmitter may send them
    /// whether or not the receiver asked for them.
    pub fn is_stream_event(&self) -> bool {
        self.family() == EventFamily::Ssf
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.uri())
    }
}

impl FromStr for EventType {
    type Err = SetError;

    fn from_str(uri: &str) -> Result<Self, Self::Err> {
        EventType::from_uri(uri).ok_or_else(|| SetError::UnknownEventType(uri.to_owned()))
    }
}

impl Serialize for EventType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.uri())
    }
}

impl<'de> Deserialize<'de> for EventType {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let uri = String::deserialize(deserializer)?;
        EventType::from_uri(&uri).ok_or_else(|| {
            serde::de::Error::invalid_value(
                serde::de::Unexpected::Str(&uri),
                &"a CAEP, RISC or SSF event type URI",
            )
        })
    }
}
