//! The claims of a Security Event Token (RFC 8417) as SSF 1.0 §4.1 profiles them.

use serde::de::{Error as _, IgnoredAny};
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::events::single_event;
use super::{SecurityEvent, SetError, SubjectId};

/// The `aud` claim: one receiver, or several known to be the same entity (SSF §4.1.8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Audience {
    One(String),
    Many(Vec<String>),
}

impl Audience {
    pub fn contains(&self, audience: &str) -> bool {
        match self {
            Audience::One(one) => one == audience,
            Audience::Many(many) => many.iter().any(|a| a == audience),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let (one, many) = match self {
            Audience::One(one) => (Some(one.as_str()), &[][..]),
            Audience::Many(many) => (None, many.as_slice()),
        };
        one.into_iter().chain(many.iter().map(String::as_str))
    }

    fn is_valid(&self) -> bool {
        match self {
            Audience::One(one) => !one.is_empty(),
            Audience::Many(many) => !many.is_empty() && many.iter().all(|a| !a.is_empty()),
        }
    }
}

impl From<&str> for Audience {
    fn from(value: &str) -> Self {
        Audience::One(value.to_owned())
    }
}

impl From<String> for Audience {
    fn from(value: String) -> Self {
        Audience::One(value)
    }
}

impl From<Vec<String>> for Audience {
    fn from(value: Vec<String>) -> Self {
        Audience::Many(value)
    }
}

/// The claims of one SSF SET.
///
/// Conforming by construction: built only through [`SetClaims::builder`] or parsed, both of
/// which check the rules below; the fields are private so nothing can break them afterwards.
/// * exactly one event (SSF §4.2.1, CAEP interoperability profile §2.9);
/// * a top-level `sub_id` (SSF §3.1) and never `sub` or `exp` (SSF §4.1.2, §4.1.7);
/// * non-empty `iss`, `aud` and `jti`;
/// * SSF stream events (verification, stream-updated) have an `opaque` subject (the stream id).
#[derive(Debug, Clone, PartialEq)]
pub struct SetClaims {
    iss: String,
    jti: String,
    iat: i64,
    aud: Audience,
    txn: Option<String>,
    sub_id: SubjectId,
    event: SecurityEvent,
    subject_in_event: bool,
}

impl SetClaims {
    /// Starts a SET from what every SET needs. `jti` defaults to a random UUID and `iat` to now.
    pub fn builder(
        issuer: impl Into<String>,
        audience: impl Into<Audience>,
        subject: SubjectId,
        event: SecurityEvent,
    ) -> SetClaimsBuilder {
        SetClaimsBuilder {
            claims: SetClaims {
                iss: issuer.into(),
                jti: String::new(),
                iat: 0,
                aud: audience.into(),
                txn: None,
                sub_id: subject,
                event,
                subject_in_event: false,
            },
            jti: None,
            iat: None,
        }
    }

    pub fn iss(&self) -> &str {
        &self.iss
    }

    pub fn jti(&self) -> &str {
        &self.jti
    }

    /// Issued-at, in seconds since the Unix epoch.
    pub fn iat(&self) -> i64 {
        self.iat
    }

    pub fn aud(&self) -> &Audience {
        &self.aud
    }

    pub fn txn(&self) -> Option<&str> {
        self.txn.as_deref()
    }

    pub fn sub_id(&self) -> &SubjectId {
        &self.sub_id
    }

    pub fn event(&self) -> &SecurityEvent {
        &self.event
    }

    /// Whether the subject is repeated as `subject` inside the event object.
    pub fn subject_in_event(&self) -> bool {
        self.subject_in_event
    }

    /// The JSON payload to sign.
    pub fn to_json(&self) -> String {
        // Every key is a string and every number an integer or a `serde_json::Value`,
        // which serde_json always knows how to write.
        serde_json::to_string(self).expect("SET claims always serialise to JSON")
    }

    /// Parses and checks a SET payload.
    pub fn from_json(json: &str) -> Result<Self, SetError> {
        let raw: RawClaims = serde_json::from_str(json)?;
        raw.into_claims()
    }

    fn validate(&self) -> Result<(), SetError> {
        if self.iss.is_empty() {
            return Err(SetError::EmptyClaim("iss"));
        }
        if self.jti.is_empty() {
            return Err(SetError::EmptyClaim("jti"));
        }
        if !self.aud.is_valid() {
            return Err(SetError::EmptyClaim("aud"));
        }
        if self.txn.as_deref() == Some("") {
            return Err(SetError::EmptyClaim("txn"));
        }
        let event_type = self.event.event_type();
        if event_type.is_stream_event() && !matches!(self.sub_id, SubjectId::Opaque { .. }) {
            return Err(SetError::StreamEventSubject(event_type));
        }
        self.event.validate()
    }
}

/// Builds [`SetClaims`]; [`build`](Self::build) refuses anything SSF does not allow.
#[derive(Debug, Clone)]
#[must_use]
pub struct SetClaimsBuilder {
    claims: SetClaims,
    jti: Option<String>,
    iat: Option<i64>,
}

impl SetClaimsBuilder {
    /// A transmitter-chosen unique id; receivers deduplicate by it.
    pub fn jti(mut self, jti: impl Into<String>) -> Self {
        self.jti = Some(jti.into());
        self
    }

    /// Issued-at, in seconds since the Unix epoch.
    pub fn iat(mut self, iat: i64) -> Self {
        self.iat = Some(iat);
        self
    }

    /// Identifies the underlying IdP event; SETs caused by the same event share it.
    pub fn txn(mut self, txn: impl Into<String>) -> Self {
        self.claims.txn = Some(txn.into());
        self
    }

    /// Also put the subject inside the event object as `"subject"`, for receivers that
    /// read the subject where pre-final RISC and CAEP drafts put it (e.g. Apple Business
    /// Manager). The top-level `sub_id` is always present.
    pub fn subject_in_event(mut self, yes: bool) -> Self {
        self.claims.subject_in_event = yes;
        self
    }

    pub fn build(self) -> Result<SetClaims, SetError> {
        let mut claims = self.claims;
        // Time-ordered (UUIDv7: 48 bits of milliseconds, 74 random bits), so the unique index
        // on `stream_events.jti` grows at its end instead of at random pages.
        claims.jti = self
            .jti
            .unwrap_or_else(|| uuid::Uuid::now_v7().simple().to_string());
        claims.iat = self.iat.unwrap_or_else(|| chrono::Utc::now().timestamp());
        claims.validate()?;
        Ok(claims)
    }
}

impl Serialize for SetClaims {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("iss", &self.iss)?;
        map.serialize_entry("jti", &self.jti)?;
        map.serialize_entry("iat", &self.iat)?;
        map.serialize_entry("aud", &self.aud)?;
        if let Some(txn) = &self.txn {
            map.serialize_entry("txn", txn)?;
        }
        map.serialize_entry("sub_id", &self.sub_id)?;
        map.serialize_entry(
            "events",
            &EventsClaim {
                event: &self.event,
                subject: self.subject_in_event.then_some(&self.sub_id),
            },
        )?;
        map.end()
    }
}

/// The `events` claim, with the subject optionally repeated inside the event object.
struct EventsClaim<'a> {
    event: &'a SecurityEvent,
    subject: Option<&'a SubjectId>,
}

#[derive(Serialize)]
struct EventObject<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<&'a SubjectId>,
    #[serde(flatten)]
    payload: super::events::PayloadRef<'a>,
}

impl Serialize for EventsClaim<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(1))?;
        map.serialize_entry(
            self.event.event_type().uri(),
            &EventObject {
                subject: self.subject,
                payload: self.event.payload(),
            },
        )?;
        map.end()
    }
}

impl<'de> Deserialize<'de> for SetClaims {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        RawClaims::deserialize(deserializer)?
            .into_claims()
            .map_err(D::Error::custom)
    }
}

/// The wire shape, before the SSF rules are checked.
#[derive(Deserialize)]
struct RawClaims {
    iss: String,
    jti: String,
    iat: i64,
    aud: Audience,
    #[serde(default)]
    txn: Option<String>,
    #[serde(default)]
    sub_id: Option<SubjectId>,
    events: Map<String, Value>,
    #[serde(default, deserialize_with = "present")]
    sub: bool,
    #[serde(default, deserialize_with = "present")]
    exp: bool,
}

/// True whenever the claim appears, even as `null`: SSF forbids its presence.
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    IgnoredAny::deserialize(deserializer)?;
    Ok(true)
}

impl RawClaims {
    fn into_claims(self) -> Result<SetClaims, SetError> {
        if self.sub {
            return Err(SetError::ForbiddenClaim("sub"));
        }
        if self.exp {
            return Err(SetError::ForbiddenClaim("exp"));
        }
        let (event_type, mut payload) = single_event(self.events)?;
        let in_event = match payload.as_object_mut().and_then(|o| o.remove("subject")) {
            Some(Value::Object(members)) => Some(SubjectId::from_members(members)?),
            Some(_) => {
                return Err(SetError::InvalidSubject(
                    "`subject` must be an object".into(),
                ));
            }
            None => None,
        };
        let event = SecurityEvent::from_payload(event_type, payload)?;
        let subject_in_event = in_event.is_some();
        // Tokens of the pre-final dialect carry the subject only inside the event.
        let sub_id = match (self.sub_id, in_event) {
            (Some(top), Some(inner)) if top != inner => return Err(SetError::ConflictingSubjects),
            (Some(top), _) => top,
            (None, Some(inner)) => inner,
            (None, None) => return Err(SetError::MissingSubject),
        };
        let claims = SetClaims {
            iss: self.iss,
            jti: self.jti,
            iat: self.iat,
            aud: self.aud,
            txn: self.txn,
            sub_id,
            event,
            subject_in_event,
        };
        claims.validate()?;
        Ok(claims)
    }
}
