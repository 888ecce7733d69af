//! What the identity provider reports ([`IdpEvent`]) and the CAEP or RISC event each report
//! becomes: the translation table, in one place. `docs/events.md` documents it field by field;
//! keep the two in step.
//!
//! An [`IdpEvent`] is built in Rust or parsed from JSON tagged by `type`:
//!
//! ```
//! use ssf_provider::idp::{IdpEvent, IdpEventKind, User};
//!
//! let parsed: IdpEvent = serde_json::from_str(
//!     r#"{"type": "session.logout", "user": {"id": "42", "email": "alice@example.com"},
//!         "session_id": "s-1", "request_id": "req-7"}"#,
//! ).expect("a valid IdP event");
//! let built = IdpEvent::new(
//!     User::new(Some("42".into()), Some("alice@example.com".into())).expect("a user"),
//!     IdpEventKind::SessionLogout { session_id: Some("s-1".into()) },
//! )
//! .with_request_id("req-7")
//! .at(parsed.occurred_at);
//! assert_eq!(parsed, built);
//! ```
//!
//! Mapping needs the provider's subject settings ([`SubjectPolicy`]) and yields the SET's
//! subject and event ([`MappedEvent`]); `dispatch` then records one SET per matching stream.

use chrono::{DateTime, Utc};
use openssl::sha::sha256;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use ssf_entities::{SubjectFormat, providers};

use crate::set::{
    AccountDisabled, AccountDisabledReason, Aliases, AssuranceLevelChange, AssuranceNamespace,
    BasicEvent, ChangeDirection, ChangeType, CommonEventClaims, ComplexMember, ComplexSubject,
    ComplianceStatus, CredentialChange, CredentialCompromise, CredentialType,
    DeviceComplianceChange, EventType, IdentifierChanged, InitiatingEntity, LocalizedText,
    RiskLevel, RiskLevelChange, RiskPrincipal, SecurityEvent, SessionEstablished, SetError,
    SubjectId, TokenClaimsChange,
};

/// Why an IdP event cannot become a SET. Every variant is a fault of the caller's input.
#[derive(Debug, thiserror::Error)]
pub enum IdpEventError {
    #[error("the user needs an `id` or an `email`, and neither may be blank")]
    NoUserIdentifier,
    #[error("`{0}` must not be blank")]
    Blank(&'static str),
    #[error("identifier.changed names the old email as the subject: the user needs an `email`")]
    NoOldEmail,
    #[error("token.claims_changed needs at least one changed claim")]
    NoClaims,
    #[error("the SET subject cannot be built: {0}")]
    Subject(#[from] SetError),
}

/// The user an event is about: its IdP id, its email address, or both (never neither, and
/// never blank; the representation allows nothing else, in Rust or from JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "UserFields", into = "UserFields")]
pub struct User(Known);

#[derive(Debug, Clone, PartialEq, Eq)]
enum Known {
    Id(String),
    Email(String),
    Both { id: String, email: String },
}

#[derive(Serialize, Deserialize)]
struct UserFields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    email: Option<String>,
}

impl TryFrom<UserFields> for User {
    type Error = IdpEventError;

    fn try_from(fields: UserFields) -> Result<Self, Self::Error> {
        User::new(fields.id, fields.email)
    }
}

impl From<User> for UserFields {
    fn from(user: User) -> Self {
        match user.0 {
            Known::Id(id) => UserFields {
                id: Some(id),
                email: None,
            },
            Known::Email(email) => UserFields {
                id: None,
                email: Some(email),
            },
            Known::Both { id, email } => UserFields {
                id: Some(id),
                email: Some(email),
            },
        }
    }
}

impl User {
    /// The IdP's stable user id (the `sub` of `iss_sub` subjects) and/or email address.
    /// Blank values count as absent.
    pub fn new(id: Option<String>, email: Option<String>) -> Result<User, IdpEventError> {
        let id = id.filter(|id| !id.trim().is_empty());
        let email = email.filter(|email| !email.trim().is_empty());
        match (id, email) {
            (Some(id), Some(email)) => Ok(User(Known::Both { id, email })),
            (Some(id), None) => Ok(User(Known::Id(id))),
            (None, Some(email)) => Ok(User(Known::Email(email))),
            (None, None) => Err(IdpEventError::NoUserIdentifier),
        }
    }

    pub fn by_id(id: impl Into<String>) -> Result<User, IdpEventError> {
        User::new(Some(id.into()), None)
    }

    pub fn by_email(email: impl Into<String>) -> Result<User, IdpEventError> {
        User::new(None, Some(email.into()))
    }

    pub fn id(&self) -> Option<&str> {
        match &self.0 {
            Known::Id(id) | Known::Both { id, .. } => Some(id),
            Known::Email(_) => None,
        }
    }

    pub fn email(&self) -> Option<&str> {
        match &self.0 {
            Known::Email(email) | Known::Both { email, .. } => Some(email),
            Known::Id(_) => None,
        }
    }
}

/// An authenticator the user enrolled, changed or removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MfaDevice {
    pub kind: MfaDeviceKind,
    /// The name the user gave it; sent as `friendly_name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// WebAuthn authenticator attestation GUID; sent as `fido2_aaguid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aaguid: Option<String>,
}

/// The kinds of authenticator IdPs manage, named as IdPs name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MfaDeviceKind {
    /// A TOTP/HOTP authenticator app.
    Totp,
    /// A push-notification authenticator app (e.g. Duo, authentik's mobile app).
    Push,
    /// A WebAuthn authenticator built into the device (Touch ID, Windows Hello, passkeys).
    WebauthnPlatform,
    /// A WebAuthn security key.
    WebauthnRoaming,
    /// A WebAuthn authenticator whose attachment the IdP did not record.
    Webauthn,
    /// A FIDO U2F security key.
    U2f,
    /// One-time codes by text message.
    Sms,
    /// One-time codes by phone call.
    Voice,
    /// Static one-time codes.
    Static,
    /// Recovery codes.
    RecoveryCodes,
    /// A client certificate.
    X509,
}

impl MfaDeviceKind {
    /// CAEP `credential_type` of this kind of authenticator.
    pub fn credential_type(self) -> CredentialType {
        match self {
            MfaDeviceKind::Totp | MfaDeviceKind::Push => CredentialType::App,
            MfaDeviceKind::WebauthnPlatform => CredentialType::Fido2Platform,
            // A roaming key is the more cautious reading when the attachment is unknown:
            // receivers treat it as a credential that can leave the device.
            MfaDeviceKind::WebauthnRoaming | MfaDeviceKind::Webauthn => {
                CredentialType::Fido2Roaming
            }
            MfaDeviceKind::U2f => CredentialType::FidoU2f,
            MfaDeviceKind::Sms => CredentialType::PhoneSms,
            MfaDeviceKind::Voice => CredentialType::PhoneVoice,
            MfaDeviceKind::Static | MfaDeviceKind::RecoveryCodes => CredentialType::Pin,
            MfaDeviceKind::X509 => CredentialType::X509,
        }
    }
}

/// What happened, with what each kind of event needs. The JSON `type` names the variant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum IdpEventKind {
    /// The user signed out.
    #[serde(rename = "session.logout")]
    SessionLogout {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_id: Option<String>,
    },
    /// An administrator (or the IdP on their behalf) ended the user's session(s).
    #[serde(rename = "session.revoked")]
    SessionRevoked {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_id: Option<String>,
        /// For the administrators' logs of the receiver.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    #[serde(rename = "password.changed")]
    PasswordChanged,
    #[serde(rename = "password.removed")]
    PasswordRemoved,
    #[serde(rename = "mfa.added")]
    MfaAdded { device: MfaDevice },
    #[serde(rename = "mfa.updated")]
    MfaUpdated { device: MfaDevice },
    #[serde(rename = "mfa.removed")]
    MfaRemoved { device: MfaDevice },
    #[serde(rename = "account.disabled")]
    AccountDisabled {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<AccountDisabledReason>,
    },
    #[serde(rename = "account.enabled")]
    AccountEnabled,
    /// The account is gone for good.
    #[serde(rename = "account.deleted")]
    AccountDeleted,
    /// The IdP learned that a credential of the user leaked.
    #[serde(rename = "credential.compromised")]
    CredentialCompromised { credential_type: CredentialType },
    /// The user's email changed; the user's `email` is the old address.
    #[serde(rename = "identifier.changed")]
    IdentifierChanged { new_email: String },
    #[serde(rename = "device.compliance_changed")]
    DeviceComplianceChanged {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        device_id: Option<String>,
        previous: ComplianceStatus,
        current: ComplianceStatus,
    },
    #[serde(rename = "risk.level_changed")]
    RiskLevelChanged {
        principal: RiskPrincipal,
        current: RiskLevel,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous: Option<RiskLevel>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
    },
    #[serde(rename = "assurance.level_changed")]
    AssuranceLevelChanged {
        namespace: AssuranceNamespace,
        current: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        previous: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        direction: Option<ChangeDirection>,
    },
    /// The user signed in.
    #[serde(rename = "session.established")]
    SessionEstablished {
        session_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        amr: Option<Vec<String>>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        acr: Option<String>,
    },
    /// Claims the IdP puts in the user's tokens changed (e.g. a role), with their new values.
    #[serde(rename = "token.claims_changed")]
    TokenClaimsChanged { claims: Map<String, Value> },
}

impl IdpEventKind {
    /// The `type` this kind has in JSON, e.g. `session.logout`.
    pub fn name(&self) -> &'static str {
        match self {
            IdpEventKind::SessionLogout { .. } => "session.logout",
            IdpEventKind::SessionRevoked { .. } => "session.revoked",
            IdpEventKind::PasswordChanged => "password.changed",
            IdpEventKind::PasswordRemoved => "password.removed",
            IdpEventKind::MfaAdded { .. } => "mfa.added",
            IdpEventKind::MfaUpdated { .. } => "mfa.updated",
            IdpEventKind::MfaRemoved { .. } => "mfa.removed",
            IdpEventKind::AccountDisabled { .. } => "account.disabled",
            IdpEventKind::AccountEnabled => "account.enabled",
            IdpEventKind::AccountDeleted => "account.deleted",
            IdpEventKind::CredentialCompromised { .. } => "credential.compromised",
            IdpEventKind::IdentifierChanged { .. } => "identifier.changed",
            IdpEventKind::DeviceComplianceChanged { .. } => "device.compliance_changed",
            IdpEventKind::RiskLevelChanged { .. } => "risk.level_changed",
            IdpEventKind::AssuranceLevelChanged { .. } => "assurance.level_changed",
            IdpEventKind::SessionEstablished { .. } => "session.established",
            IdpEventKind::TokenClaimsChanged { .. } => "token.claims_changed",
        }
    }

    /// The SET event type this kind becomes.
    pub fn event_type(&self) -> EventType {
        match self {
            IdpEventKind::SessionLogout { .. } | IdpEventKind::SessionRevoked { .. } => {
                EventType::SessionRevoked
            }
            IdpEventKind::PasswordChanged
            | IdpEventKind::PasswordRemoved
            | IdpEventKind::MfaAdded { .. }
            | IdpEventKind::MfaUpdated { .. }
            | IdpEventKind::MfaRemoved { .. } => EventType::CredentialChange,
            IdpEventKind::AccountDisabled { .. } => EventType::AccountDisabled,
            IdpEventKind::AccountEnabled => EventType::AccountEnabled,
            IdpEventKind::AccountDeleted => EventType::AccountPurged,
            IdpEventKind::CredentialCompromised { .. } => EventType::CredentialCompromise,
            IdpEventKind::IdentifierChanged { .. } => EventType::IdentifierChanged,
            IdpEventKind::DeviceComplianceChanged { .. } => EventType::DeviceComplianceChange,
            IdpEventKind::RiskLevelChanged { .. } => EventType::RiskLevelChange,
            IdpEventKind::AssuranceLevelChanged { .. } => EventType::AssuranceLevelChange,
            IdpEventKind::SessionEstablished { .. } => EventType::SessionEstablished,
            IdpEventKind::TokenClaimsChanged { .. } => EventType::TokenClaimsChange,
        }
    }
}

/// Something that happened to a user at the IdP.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "IdpEventFields")]
pub struct IdpEvent {
    pub user: User,
    /// When it happened; becomes `event_timestamp` (whole seconds). Defaults to now.
    pub occurred_at: DateTime<Utc>,
    /// The IdP's id of the request that caused the event; becomes the SETs' `txn`. Without
    /// one, emit() draws a fresh UUID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(flatten)]
    pub kind: IdpEventKind,
}

/// The JSON shape, before [`IdpEvent::validate`].
#[derive(Deserialize)]
struct IdpEventFields {
    user: User,
    #[serde(default = "Utc::now")]
    occurred_at: DateTime<Utc>,
    #[serde(default)]
    request_id: Option<String>,
    #[serde(flatten)]
    kind: IdpEventKind,
}

impl TryFrom<IdpEventFields> for IdpEvent {
    type Error = IdpEventError;

    fn try_from(fields: IdpEventFields) -> Result<Self, Self::Error> {
        let event = IdpEvent {
            user: fields.user,
            occurred_at: fields.occurred_at,
            request_id: fields.request_id,
            kind: fields.kind,
        };
        event.validate()?;
        Ok(event)
    }
}

/// The subject and event of the SETs one IdP event becomes (the same for every stream).
#[derive(Debug, Clone, PartialEq)]
pub struct MappedEvent {
    /// `sub_id` of the SETs.
    pub subject: SubjectId,
    pub event: SecurityEvent,
    /// The subject as stream subject filters see it: like `subject`, but naming the user by
    /// every identifier the IdP gave (email and `iss_sub`), so a receiver that added or
    /// removed the user under either is honoured whatever format the provider sends.
    pub coverage: SubjectId,
}

/// How a provider names users in SETs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubjectPolicy {
    pub format: SubjectFormat,
    /// `iss` of `iss_sub` subjects.
    pub issuer: String,
}

impl SubjectPolicy {
    /// The provider's `subject_format`; `iss_sub` subjects use its `idp_issuer`, or its SSF
    /// issuer when no IdP issuer is configured.
    pub fn of(provider: &providers::Model) -> SubjectPolicy {
        SubjectPolicy {
            format: provider.subject_format,
            issuer: provider
                .idp_issuer
                .clone()
                .filter(|issuer| !issuer.is_empty())
                .unwrap_or_else(|| provider.issuer.clone()),
        }
    }

    /// The user as a simple subject in the provider's format, falling back to the other
    /// format when the IdP did not give the field the preferred one needs.
    pub fn user_subject(&self, user: &User) -> SubjectId {
        match (self.format, &user.0) {
            (SubjectFormat::Email, Known::Email(email) | Known::Both { email, .. })
            | (SubjectFormat::IssSub, Known::Email(email)) => SubjectId::email(email),
            (_, Known::Id(id) | Known::Both { id, .. }) => SubjectId::iss_sub(&self.issuer, id),
        }
    }

    /// Every simple subject naming `user`: its email and its `iss_sub`, as known.
    pub fn user_identifiers(&self, user: &User) -> Vec<SubjectId> {
        let mut identifiers = Vec::with_capacity(2);
        if let Some(email) = user.email() {
            identifiers.push(SubjectId::email(email));
        }
        if let Some(id) = user.id() {
            identifiers.push(SubjectId::iss_sub(&self.issuer, id));
        }
        identifiers
    }
}

/// The opaque subject of an IdP session: the hex SHA-256 of the session id.
///
/// Session ids are bearer secrets at the IdP, so only a digest leaves it. The digest is
/// stable, so the session-established and session-revoked SETs of one session carry the
/// same value, and the IdP can compute it too.
pub fn session_subject(session_id: &str) -> SubjectId {
    SubjectId::opaque(hex(&sha256(session_id.as_bytes())))
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(DIGITS[usize::from(byte >> 4)] as char);
        out.push(DIGITS[usize::from(byte & 0x0f)] as char);
    }
    out
}

fn not_blank(value: &str, field: &'static str) -> Result<(), IdpEventError> {
    if value.trim().is_empty() {
        Err(IdpEventError::Blank(field))
    } else {
        Ok(())
    }
}

impl IdpEvent {
    /// An event that happened now, without a request id.
    pub fn new(user: User, kind: IdpEventKind) -> IdpEvent {
        IdpEvent {
            user,
            occurred_at: Utc::now(),
            request_id: None,
            kind,
        }
    }

    /// When it happened, if not now.
    pub fn at(mut self, occurred_at: DateTime<Utc>) -> IdpEvent {
        self.occurred_at = occurred_at;
        self
    }

    /// The IdP's request id; every SET of this event carries it as `txn`.
    pub fn with_request_id(mut self, request_id: impl Into<String>) -> IdpEvent {
        self.request_id = Some(request_id.into());
        self
    }

    pub fn event_type(&self) -> EventType {
        self.kind.event_type()
    }

    /// Checks what the types alone cannot: the fields an event needs are not blank.
    /// Parsing checks it; events built in Rust are checked by [`map`](Self::map).
    pub fn validate(&self) -> Result<(), IdpEventError> {
        if let Some(request_id) = &self.request_id {
            not_blank(request_id, "request_id")?;
        }
        match &self.kind {
            IdpEventKind::SessionLogout { session_id }
            | IdpEventKind::SessionRevoked { session_id, .. } => {
                if let Some(session_id) = session_id {
                    not_blank(session_id, "session_id")?;
                }
            }
            IdpEventKind::SessionEstablished { session_id, .. } => {
                not_blank(session_id, "session_id")?
            }
            IdpEventKind::DeviceComplianceChanged {
                device_id: Some(device_id),
                ..
            } => not_blank(device_id, "device_id")?,
            IdpEventKind::IdentifierChanged { new_email } => {
                not_blank(new_email, "new_email")?;
                if self.user.email().is_none() {
                    return Err(IdpEventError::NoOldEmail);
                }
            }
            IdpEventKind::AssuranceLevelChanged { current, .. } => not_blank(current, "current")?,
            IdpEventKind::TokenClaimsChanged { claims } if claims.is_empty() => {
                return Err(IdpEventError::NoClaims);
            }
            _ => {}
        }
        Ok(())
    }

    /// The SET subject and event this IdP event becomes under `policy` (see `docs/events.md`).
    pub fn map(&self, policy: &SubjectPolicy) -> Result<MappedEvent, IdpEventError> {
        self.validate()?;
        let user = policy.user_subject(&self.user);
        let identifiers = policy.user_identifiers(&self.user);
        let mut common = CommonEventClaims {
            event_timestamp: Some(self.occurred_at.timestamp()),
            ..CommonEventClaims::default()
        };
        // Members that narrow the subject beyond the user, e.g. the session.
        let mut member: Option<(ComplexMember, SubjectId)> = None;
        let mut subject = None;

        let event = match &self.kind {
            IdpEventKind::SessionLogout { session_id } => {
                member = session_id
                    .as_deref()
                    .map(|s| (ComplexMember::Session, session_subject(s)));
                common.initiating_entity = Some(InitiatingEntity::User);
                // The CAEP interoperability profile requires a non-empty reason_admin.
                common.reason_admin = Some(english("User signed out"));
                SecurityEvent::SessionRevoked(BasicEvent { common })
            }
            IdpEventKind::SessionRevoked { session_id, reason } => {
                member = session_id
                    .as_deref()
                    .map(|s| (ComplexMember::Session, session_subject(s)));
                common.initiating_entity = Some(InitiatingEntity::Admin);
                common.reason_admin = Some(english(
                    reason
                        .as_deref()
                        .filter(|r| !r.trim().is_empty())
                        .unwrap_or("Session revoked by an administrator"),
                ));
                SecurityEvent::SessionRevoked(BasicEvent { common })
            }
            IdpEventKind::PasswordChanged => credential_change(
                CredentialType::Password,
                ChangeType::Update,
                None,
                common,
                "Password changed",
            ),
            IdpEventKind::PasswordRemoved => credential_change(
                CredentialType::Password,
                ChangeType::Revoke,
                None,
                common,
                "Password removed",
            ),
            IdpEventKind::MfaAdded { device } => credential_change(
                device.kind.credential_type(),
                ChangeType::Create,
                Some(device),
                common,
                "Authenticator added",
            ),
            IdpEventKind::MfaUpdated { device } => credential_change(
                device.kind.credential_type(),
                ChangeType::Update,
                Some(device),
                common,
                "Authenticator updated",
            ),
            IdpEventKind::MfaRemoved { device } => credential_change(
                device.kind.credential_type(),
                ChangeType::Delete,
                Some(device),
                common,
                "Authenticator removed",
            ),
            IdpEventKind::AccountDisabled { reason } => {
                SecurityEvent::AccountDisabled(AccountDisabled {
                    reason: reason.clone(),
                    common,
                })
            }
            IdpEventKind::AccountEnabled => SecurityEvent::AccountEnabled(BasicEvent { common }),
            IdpEventKind::AccountDeleted => SecurityEvent::AccountPurged(BasicEvent { common }),
            IdpEventKind::CredentialCompromised { credential_type } => {
                SecurityEvent::CredentialCompromise(CredentialCompromise {
                    credential_type: credential_type.clone(),
                    common,
                })
            }
            IdpEventKind::IdentifierChanged { new_email } => {
                // RISC: the subject must be the old email, whatever format the provider uses.
                let old = self.user.email().ok_or(IdpEventError::NoOldEmail)?;
                subject = Some(SubjectId::email(old));
                SecurityEvent::IdentifierChanged(IdentifierChanged {
                    new_value: Some(new_email.clone()),
                    common,
                })
            }
            IdpEventKind::DeviceComplianceChanged {
                device_id,
                previous,
                current,
            } => {
                member = device_id
                    .as_deref()
                    .map(|d| (ComplexMember::Device, SubjectId::opaque(d)));
                SecurityEvent::DeviceComplianceChange(DeviceComplianceChange {
                    previous_status: previous.clone(),
                    current_status: current.clone(),
                    common,
                })
            }
            IdpEventKind::RiskLevelChanged {
                principal,
                current,
                previous,
                reason,
            } => SecurityEvent::RiskLevelChange(RiskLevelChange {
                risk_reason: reason.clone(),
                principal: principal.clone(),
                current_level: current.clone(),
                previous_level: previous.clone(),
                common,
            }),
            IdpEventKind::AssuranceLevelChanged {
                namespace,
                current,
                previous,
                direction,
            } => SecurityEvent::AssuranceLevelChange(AssuranceLevelChange {
                namespace: namespace.clone(),
                current_level: current.clone(),
                previous_level: previous.clone(),
                change_direction: *direction,
                common,
            }),
            IdpEventKind::SessionEstablished {
                session_id,
                amr,
                acr,
            } => {
                member = Some((ComplexMember::Session, session_subject(session_id)));
                SecurityEvent::SessionEstablished(SessionEstablished {
                    acr: acr.clone(),
                    amr: amr.clone(),
                    common,
                    ..SessionEstablished::default()
                })
            }
            IdpEventKind::TokenClaimsChanged { claims } => {
                SecurityEvent::TokenClaimsChange(TokenClaimsChange {
                    claims: claims.clone(),
                    common,
                })
            }
        };

        let (subject, coverage) = match (subject, member) {
            (Some(simple), _) => {
                let coverage = aliases_of(&simple, identifiers)?;
                (simple, coverage)
            }
            (None, None) => {
                let coverage = aliases_of(&user, identifiers)?;
                (user, coverage)
            }
            (None, Some((name, narrowing))) => {
                let subject = ComplexSubject::builder()
                    .user(user.clone())
                    .member(name.clone(), narrowing.clone())
                    .build()?;
                let coverage = ComplexSubject::builder()
                    .user(aliases_of(&user, identifiers)?)
                    .member(name, narrowing)
                    .build()?;
                (SubjectId::Complex(subject), SubjectId::Complex(coverage))
            }
        };
        Ok(MappedEvent {
            subject,
            event,
            coverage,
        })
    }
}

fn english(text: &str) -> LocalizedText {
    LocalizedText::new("en", text)
}

fn credential_change(
    credential_type: CredentialType,
    change_type: ChangeType,
    device: Option<&MfaDevice>,
    mut common: CommonEventClaims,
    reason: &str,
) -> SecurityEvent {
    // The CAEP interoperability profile requires a non-empty reason_admin.
    common.reason_admin = Some(english(reason));
    let mut change = CredentialChange::new(credential_type, change_type);
    change.common = common;
    if let Some(device) = device {
        change.friendly_name = device.name.clone().filter(|n| !n.trim().is_empty());
        change.fido2_aaguid = device.aaguid.clone().filter(|a| !a.trim().is_empty());
    }
    SecurityEvent::CredentialChange(change)
}

/// `subject` together with every other identifier of the same user, as one `aliases`
/// subject; `subject` alone when there is no other.
fn aliases_of(subject: &SubjectId, identifiers: Vec<SubjectId>) -> Result<SubjectId, SetError> {
    let mut all = vec![subject.clone()];
    for identifier in identifiers {
        if !all.iter().any(|known| known.matches(&identifier)) {
            all.push(identifier);
        }
    }
    if all.len() == 1 {
        return Ok(subject.clone());
    }
    Ok(SubjectId::Aliases(Aliases::new(all)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    const ISSUER: &str = "https://idp.example.com";
    const AT: i64 = 1_735_787_045; // 2025-01-02T03:04:05Z
    const SESSION_HASH: &str = "abe633f3a47a2758174eabe9160daf36c4b1a33e8642ebf96e8f91c3fcbd5f9c"; // sha256("sess-1")

    fn email_policy() -> SubjectPolicy {
        SubjectPolicy {
            format: SubjectFormat::Email,
            issuer: ISSUER.into(),
        }
    }

    fn iss_sub_policy() -> SubjectPolicy {
        SubjectPolicy {
            format: SubjectFormat::IssSub,
            issuer: ISSUER.into(),
        }
    }

    fn alice() -> User {
        User::new(Some("u-42".into()), Some("alice@example.com".into())).unwrap()
    }

    fn event(kind: IdpEventKind) -> IdpEvent {
        IdpEvent::new(alice(), kind).at(Utc.with_ymd_and_hms(2025, 1, 2, 3, 4, 5).unwrap())
    }

    /// The `events` claim and `sub_id` of the SET `kind` becomes under the email policy.
    fn mapped(kind: IdpEventKind) -> (serde_json::Value, serde_json::Value) {
        let m = event(kind).map(&email_policy()).unwrap();
        (
            serde_json::to_value(&m.subject).unwrap(),
            serde_json::to_value(&m.event).unwrap(),
        )
    }

    fn alice_email() -> serde_json::Value {
        json!({"format": "email", "email": "alice@example.com"})
    }

    fn caep(name: &str) -> String {
        format!("https://schemas.openid.net/secevent/caep/event-type/{name}")
    }

    fn risc(name: &str) -> String {
        format!("https://schemas.openid.net/secevent/risc/event-type/{name}")
    }

    #[test]
    fn logout_revokes_the_hashed_session_as_the_user() {
        let (subject, event) = mapped(IdpEventKind::SessionLogout {
            session_id: Some("sess-1".into()),
        });
        assert_eq!(
            subject,
            json!({"format": "complex", "user": alice_email(), "session": {"format": "opaque", "id": SESSION_HASH}})
        );
        assert_eq!(
            event,
            json!({caep("session-revoked"): {
                "event_timestamp": AT, "initiating_entity": "user", "reason_admin": {"en": "User signed out"}}})
        );
    }

    #[test]
    fn logout_without_session_names_the_user_alone() {
        let (subject, _) = mapped(IdpEventKind::SessionLogout { session_id: None });
        assert_eq!(subject, alice_email());
    }

    #[test]
    fn admin_revocation_carries_the_reason() {
        let (subject, event) = mapped(IdpEventKind::SessionRevoked {
            session_id: Some("sess-1".into()),
            reason: Some("Suspicious sign-in".into()),
        });
        assert_eq!(
            subject["session"],
            json!({"format": "opaque", "id": SESSION_HASH})
        );
        assert_eq!(
            event,
            json!({caep("session-revoked"): {
                "event_timestamp": AT, "initiating_entity": "admin", "reason_admin": {"en": "Suspicious sign-in"}}})
        );
        let (subject, event) = mapped(IdpEventKind::SessionRevoked {
            session_id: None,
            reason: None,
        });
        assert_eq!(subject, alice_email());
        assert_eq!(
            event[caep("session-revoked")]["reason_admin"],
            json!({"en": "Session revoked by an administrator"})
        );
    }

    #[test]
    fn password_changes_are_credential_changes() {
        for (kind, change_type, reason) in [
            (IdpEventKind::PasswordChanged, "update", "Password changed"),
            (IdpEventKind::PasswordRemoved, "revoke", "Password removed"),
        ] {
            let (subject, event) = mapped(kind);
            assert_eq!(subject, alice_email());
            assert_eq!(
                event,
                json!({caep("credential-change"): {
                    "credential_type": "password", "change_type": change_type,
                    "event_timestamp": AT, "reason_admin": {"en": reason}}})
            );
        }
    }

    #[test]
    fn mfa_device_kinds_map_to_caep_credential_types() {
        let table = [
            ("totp", "app"),
            ("push", "app"),
            ("webauthn_platform", "fido2-platform"),
            ("webauthn_roaming", "fido2-roaming"),
            ("webauthn", "fido2-roaming"),
            ("u2f", "fido-u2f"),
            ("sms", "phone-sms"),
            ("voice", "phone-voice"),
            ("static", "pin"),
            ("recovery_codes", "pin"),
            ("x509", "x509"),
        ];
        for (kind, credential_type) in table {
            let kind: MfaDeviceKind = serde_json::from_value(json!(kind)).unwrap();
            assert_eq!(kind.credential_type().as_str(), credential_type, "{kind:?}");
        }
    }

    #[test]
    fn mfa_changes_carry_the_device() {
        let device = MfaDevice {
            kind: MfaDeviceKind::WebauthnRoaming,
            name: Some("Alice's key".into()),
            aaguid: Some("accced6a-63f5-490a-9eea-e59bc1896cfc".into()),
        };
        for (kind, change_type, reason) in [
            (
                IdpEventKind::MfaAdded {
                    device: device.clone(),
                },
                "create",
                "Authenticator added",
            ),
            (
                IdpEventKind::MfaUpdated {
                    device: device.clone(),
                },
                "update",
                "Authenticator updated",
            ),
            (
                IdpEventKind::MfaRemoved {
                    device: device.clone(),
                },
                "delete",
                "Authenticator removed",
            ),
        ] {
            let (subject, event) = mapped(kind);
            assert_eq!(subject, alice_email());
            assert_eq!(
                event,
                json!({caep("credential-change"): {
                    "credential_type": "fido2-roaming", "change_type": change_type,
                    "friendly_name": "Alice's key", "fido2_aaguid": "accced6a-63f5-490a-9eea-e59bc1896cfc",
                    "event_timestamp": AT, "reason_admin": {"en": reason}}})
            );
        }
        let (_, event) = mapped(IdpEventKind::MfaAdded {
            device: MfaDevice {
                kind: MfaDeviceKind::Sms,
                name: None,
                aaguid: None,
            },
        });
        assert_eq!(
            event,
            json!({caep("credential-change"): {
                "credential_type": "phone-sms", "change_type": "create",
                "event_timestamp": AT, "reason_admin": {"en": "Authenticator added"}}})
        );
    }

    #[test]
    fn account_events_are_risc_events() {
        let (subject, event) = mapped(IdpEventKind::AccountDisabled {
            reason: Some(AccountDisabledReason::Hijacking),
        });
        assert_eq!(subject, alice_email());
        assert_eq!(
            event,
            json!({risc("account-disabled"): {"reason": "hijacking", "event_timestamp": AT}})
        );
        let (_, event) = mapped(IdpEventKind::AccountDisabled {
            reason: Some(AccountDisabledReason::BulkAccount),
        });
        assert_eq!(
            event,
            json!({risc("account-disabled"): {"reason": "bulk-account", "event_timestamp": AT}})
        );
        let (_, event) = mapped(IdpEventKind::AccountDisabled { reason: None });
        assert_eq!(
            event,
            json!({risc("account-disabled"): {"event_timestamp": AT}})
        );
        let (_, event) = mapped(IdpEventKind::AccountEnabled);
        assert_eq!(
            event,
            json!({risc("account-enabled"): {"event_timestamp": AT}})
        );
        let (_, event) = mapped(IdpEventKind::AccountDeleted);
        assert_eq!(
            event,
            json!({risc("account-purged"): {"event_timestamp": AT}})
        );
    }

    #[test]
    fn compromised_credentials_are_risc_credential_compromise() {
        let (subject, event) = mapped(IdpEventKind::CredentialCompromised {
            credential_type: CredentialType::Password,
        });
        assert_eq!(subject, alice_email());
        assert_eq!(
            event,
            json!({risc("credential-compromise"): {"credential_type": "password", "event_timestamp": AT}})
        );
    }

    #[test]
    fn identifier_change_names_the_old_email_whatever_the_format() {
        let kind = IdpEventKind::IdentifierChanged {
            new_email: "alice.new@example.com".into(),
        };
        for policy in [email_policy(), iss_sub_policy()] {
            let m = event(kind.clone()).map(&policy).unwrap();
            assert_eq!(serde_json::to_value(&m.subject).unwrap(), alice_email());
            assert_eq!(
                serde_json::to_value(&m.event).unwrap(),
                json!({risc("identifier-changed"): {"new-value": "alice.new@example.com", "event_timestamp": AT}})
            );
        }
        let without_email = IdpEvent::new(User::by_id("u-42").unwrap(), kind);
        assert!(matches!(
            without_email.map(&email_policy()),
            Err(IdpEventError::NoOldEmail)
        ));
        assert!(matches!(
            without_email.validate(),
            Err(IdpEventError::NoOldEmail)
        ));
    }

    #[test]
    fn device_compliance_names_the_device_when_known() {
        let (subject, event) = mapped(IdpEventKind::DeviceComplianceChanged {
            device_id: Some("laptop-7".into()),
            previous: ComplianceStatus::Compliant,
            current: ComplianceStatus::NotCompliant,
        });
        assert_eq!(
            subject,
            json!({"format": "complex", "user": alice_email(), "device": {"format": "opaque", "id": "laptop-7"}})
        );
        assert_eq!(
            event,
            json!({caep("device-compliance-change"): {
                "previous_status": "compliant", "current_status": "not-compliant", "event_timestamp": AT}})
        );
        let (subject, _) = mapped(IdpEventKind::DeviceComplianceChanged {
            device_id: None,
            previous: ComplianceStatus::NotCompliant,
            current: ComplianceStatus::Compliant,
        });
        assert_eq!(subject, alice_email());
    }

    #[test]
    fn risk_level_change() {
        let (subject, event) = mapped(IdpEventKind::RiskLevelChanged {
            principal: RiskPrincipal::User,
            current: RiskLevel::High,
            previous: Some(RiskLevel::Low),
            reason: Some("PASSWORD_FOUND_IN_DATA_BREACH".into()),
        });
        assert_eq!(subject, alice_email());
        assert_eq!(
            event,
            json!({caep("risk-level-change"): {
                "risk_reason": "PASSWORD_FOUND_IN_DATA_BREACH", "principal": "USER",
                "current_level": "HIGH", "previous_level": "LOW", "event_timestamp": AT}})
        );
        let (_, event) = mapped(IdpEventKind::RiskLevelChanged {
            principal: RiskPrincipal::Device,
            current: RiskLevel::Medium,
            previous: None,
            reason: None,
        });
        assert_eq!(
            event,
            json!({caep("risk-level-change"): {"principal": "DEVICE", "current_level": "MEDIUM", "event_timestamp": AT}})
        );
    }

    #[test]
    fn assurance_level_change() {
        let (subject, event) = mapped(IdpEventKind::AssuranceLevelChanged {
            namespace: AssuranceNamespace::NistAal,
            current: "nist-aal2".into(),
            previous: Some("nist-aal1".into()),
            direction: Some(ChangeDirection::Increase),
        });
        assert_eq!(subject, alice_email());
        assert_eq!(
            event,
            json!({caep("assurance-level-change"): {
                "namespace": "NIST-AAL", "current_level": "nist-aal2", "previous_level": "nist-aal1",
                "change_direction": "increase", "event_timestamp": AT}})
        );
        let (_, event) = mapped(IdpEventKind::AssuranceLevelChanged {
            namespace: AssuranceNamespace::from("Retinal Scan"),
            current: "hi-res-scan".into(),
            previous: None,
            direction: None,
        });
        assert_eq!(
            event,
            json!({caep("assurance-level-change"): {
                "namespace": "Retinal Scan", "current_level": "hi-res-scan", "event_timestamp": AT}})
        );
    }

    #[test]
    fn session_established_names_the_hashed_session() {
        let (subject, event) = mapped(IdpEventKind::SessionEstablished {
            session_id: "sess-1".into(),
            amr: Some(vec!["pwd".into(), "otp".into()]),
            acr: Some("AAL2".into()),
        });
        assert_eq!(
            subject,
            json!({"format": "complex", "user": alice_email(), "session": {"format": "opaque", "id": SESSION_HASH}})
        );
        assert_eq!(
            event,
            json!({caep("session-established"): {"acr": "AAL2", "amr": ["pwd", "otp"], "event_timestamp": AT}})
        );
    }

    #[test]
    fn token_claims_change_carries_the_new_claims() {
        let mut claims = Map::new();
        claims.insert("role".into(), json!("ro-admin"));
        let (subject, event) = mapped(IdpEventKind::TokenClaimsChanged { claims });
        assert_eq!(subject, alice_email());
        assert_eq!(
            event,
            json!({caep("token-claims-change"): {"claims": {"role": "ro-admin"}, "event_timestamp": AT}})
        );
        let empty = event_without_claims();
        assert!(matches!(
            empty.map(&email_policy()),
            Err(IdpEventError::NoClaims)
        ));
    }

    fn event_without_claims() -> IdpEvent {
        event(IdpEventKind::TokenClaimsChanged { claims: Map::new() })
    }

    #[test]
    fn subject_format_and_fallbacks() {
        let both = alice();
        let id_only = User::by_id("u-42").unwrap();
        let email_only = User::by_email("alice@example.com").unwrap();
        let iss_sub = json!({"format": "iss_sub", "iss": ISSUER, "sub": "u-42"});
        let subject = |policy: &SubjectPolicy, user: &User| {
            serde_json::to_value(policy.user_subject(user)).unwrap()
        };

        assert_eq!(subject(&email_policy(), &both), alice_email());
        assert_eq!(subject(&email_policy(), &id_only), iss_sub);
        assert_eq!(subject(&email_policy(), &email_only), alice_email());
        assert_eq!(subject(&iss_sub_policy(), &both), iss_sub);
        assert_eq!(subject(&iss_sub_policy(), &id_only), iss_sub);
        assert_eq!(subject(&iss_sub_policy(), &email_only), alice_email());

        // Inside a complex subject too.
        let m = IdpEvent::new(
            both,
            IdpEventKind::SessionLogout {
                session_id: Some("sess-1".into()),
            },
        )
        .map(&iss_sub_policy())
        .unwrap();
        assert_eq!(serde_json::to_value(&m.subject).unwrap()["user"], iss_sub);
    }

    #[test]
    fn iss_sub_uses_the_idp_issuer_else_the_provider_issuer() {
        let mut provider = providers::Model {
            id: "p1".into(),
            slug: "p1".into(),
            name: "P1".into(),
            issuer: "https://ssf.example.com/p1".into(),
            signing_alg: ssf_entities::SigningAlg::RS256,
            event_retention_seconds: 3600,
            default_subjects: ssf_entities::DefaultSubjects::All,
            subject_format: SubjectFormat::IssSub,
            idp_issuer: Some("https://login.example.com".into()),
            verify_tls: true,
            min_verification_interval_seconds: 0,
            inactivity_timeout_seconds: None,
            created_at: 0,
            updated_at: 0,
            deleted_at: None,
        };
        let user = User::by_id("u-1").unwrap();
        assert_eq!(
            SubjectPolicy::of(&provider).user_subject(&user),
            SubjectId::iss_sub("https://login.example.com", "u-1")
        );
        provider.idp_issuer = None;
        assert_eq!(
            SubjectPolicy::of(&provider).user_subject(&user),
            SubjectId::iss_sub("https://ssf.example.com/p1", "u-1")
        );
    }

    #[test]
    fn coverage_names_the_user_by_every_identifier() {
        let m = event(IdpEventKind::SessionLogout {
            session_id: Some("sess-1".into()),
        })
        .map(&email_policy())
        .unwrap();
        let by_id = SubjectId::iss_sub(ISSUER, "u-42");
        let by_email = SubjectId::email("ALICE@example.com");
        assert!(m.coverage.matches(&by_id));
        assert!(m.coverage.matches(&by_email));
        assert!(!m.coverage.matches(&SubjectId::iss_sub(ISSUER, "u-43")));
        // The session still narrows: another session of the same user does not match.
        let other_session = SubjectId::Complex(
            ComplexSubject::builder()
                .user(by_id)
                .session(session_subject("sess-2"))
                .build()
                .unwrap(),
        );
        assert!(!m.coverage.matches(&other_session));
        assert!(m.subject.matches(&SubjectId::email("alice@example.com")));
    }

    #[test]
    fn parses_json_tagged_by_type() {
        let parsed: IdpEvent = serde_json::from_value(json!({
            "type": "mfa.added",
            "user": {"email": "alice@example.com"},
            "occurred_at": "2025-01-02T03:04:05Z",
            "request_id": "req-1",
            "device": {"kind": "totp", "name": "Phone"}
        }))
        .unwrap();
        assert_eq!(parsed.user.email(), Some("alice@example.com"));
        assert_eq!(parsed.user.id(), None);
        assert_eq!(parsed.occurred_at.timestamp(), AT);
        assert_eq!(parsed.request_id.as_deref(), Some("req-1"));
        assert_eq!(
            parsed.kind,
            IdpEventKind::MfaAdded {
                device: MfaDevice {
                    kind: MfaDeviceKind::Totp,
                    name: Some("Phone".into()),
                    aaguid: None
                }
            }
        );
        // Serialising gives back the same event.
        let again: IdpEvent =
            serde_json::from_value(serde_json::to_value(&parsed).unwrap()).unwrap();
        assert_eq!(again, parsed);

        let before = Utc::now().timestamp();
        let unit: IdpEvent =
            serde_json::from_value(json!({"type": "password.changed", "user": {"id": "u-1"}}))
                .unwrap();
        assert_eq!(unit.kind, IdpEventKind::PasswordChanged);
        assert!(
            unit.occurred_at.timestamp() >= before,
            "occurred_at defaults to now"
        );
        assert_eq!(unit.request_id, None);
    }

    #[test]
    fn json_without_a_usable_user_or_fields_is_refused() {
        let refused = [
            json!({"type": "password.changed", "user": {}}),
            json!({"type": "password.changed", "user": {"id": " ", "email": ""}}),
            json!({"type": "password.changed"}),
            json!({"type": "no.such.event", "user": {"id": "u"}}),
            json!({"user": {"id": "u"}}),
            json!({"type": "identifier.changed", "user": {"id": "u"}, "new_email": "b@example.com"}),
            json!({"type": "token.claims_changed", "user": {"id": "u"}, "claims": {}}),
            json!({"type": "session.established", "user": {"id": "u"}}),
            json!({"type": "session.established", "user": {"id": "u"}, "session_id": ""}),
            json!({"type": "mfa.added", "user": {"id": "u"}, "device": {"kind": "carrier-pigeon"}}),
            json!({"type": "account.disabled", "user": {"id": "u"}, "reason": ""}),
            json!({"type": "password.changed", "user": {"id": "u"}, "request_id": ""}),
        ];
        for body in refused {
            assert!(
                serde_json::from_value::<IdpEvent>(body.clone()).is_err(),
                "accepted {body}"
            );
        }
    }

    #[test]
    fn every_kind_names_its_json_type() {
        let kinds = [
            IdpEventKind::SessionLogout { session_id: None },
            IdpEventKind::PasswordChanged,
            IdpEventKind::AccountDeleted,
            IdpEventKind::TokenClaimsChanged {
                claims: Map::from_iter([("role".to_owned(), json!("x"))]),
            },
        ];
        for kind in kinds {
            let json = serde_json::to_value(event(kind.clone())).unwrap();
            assert_eq!(json["type"], kind.name());
            assert_eq!(
                event(kind.clone())
                    .map(&email_policy())
                    .unwrap()
                    .event
                    .event_type(),
                kind.event_type()
            );
        }
    }
}
