//! The Security Event Token model: CAEP 1.0, RISC 1.0 and SSF 1.0 events, subject
//! identifiers (RFC 9493, SSF §3), and the SET claims (RFC 8417 as SSF 1.0 §4 profiles it).
//!
//! ```
//! use ssf_provider::set::{LocalizedText, SecurityEvent, SetClaims, SubjectId};
//!
//! let claims = SetClaims::builder(
//!     "https://idp.example.com/",
//!     "https://receiver.example.com/",
//!     SubjectId::email("alice@example.com"),
//!     SecurityEvent::session_revoked(LocalizedText::new("en", "Signed out by an administrator")),
//! )
//! .txn("logout-42")
//! .build()
//! .expect("a conforming SET");
//! assert!(claims.to_json().contains("\"sub_id\""));
//! ```

mod claims;
mod error;
mod event_type;
mod events;
mod open_enum;
mod subject;
mod values;

pub use claims::{Audience, SetClaims, SetClaimsBuilder};
pub use error::SetError;
pub use event_type::{EventFamily, EventType};
pub use events::{
    AccountDisabled, AssuranceLevelChange, BasicEvent, CommonEventClaims, CredentialChange,
    CredentialCompromise, DeviceComplianceChange, IdentifierChanged, PayloadRef, RiskLevelChange,
    SecurityEvent, SessionEstablished, SessionPresented, StreamStatus, StreamUpdated,
    TokenClaimsChange, Verification,
};
pub use subject::{
    Aliases, ComplexMember, ComplexSubject, ComplexSubjectBuilder, OtherSubject, SubjectId,
};
pub use values::{
    AccountDisabledReason, AssuranceNamespace, ChangeDirection, ChangeType, ComplianceStatus,
    CredentialType, InitiatingEntity, LocalizedText, RiskLevel, RiskPrincipal,
};

/// The stream status carried by stream-updated events (`enabled`, `paused`, `disabled`).
pub type StreamStatusValue = StreamStatus;
