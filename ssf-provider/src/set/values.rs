//! The enumerated claim values of CAEP 1.0, RISC 1.0 and SSF 1.0 events.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::open_enum::open_enum;

open_enum! {
    /// CAEP §3.3 `credential_type` (also used by RISC `credential-compromise`).
    pub enum CredentialType {
        Password => "password",
        Pin => "pin",
        X509 => "x509",
        Fido2Platform => "fido2-platform",
        Fido2Roaming => "fido2-roaming",
        FidoU2f => "fido-u2f",
        VerifiableCredential => "verifiable-credential",
        PhoneVoice => "phone-voice",
        PhoneSms => "phone-sms",
        App => "app",
    }
}

open_enum! {
    /// CAEP §3.3 `change_type`.
    pub enum ChangeType {
        Create => "create",
        Revoke => "revoke",
        Update => "update",
        Delete => "delete",
    }
}

open_enum! {
    /// CAEP §2 `initiating_entity`: who caused the event.
    pub enum InitiatingEntity {
        Admin => "admin",
        User => "user",
        Policy => "policy",
        System => "system",
    }
}

open_enum! {
    /// CAEP §3.5 device compliance status.
    pub enum ComplianceStatus {
        Compliant => "compliant",
        NotCompliant => "not-compliant",
    }
}

open_enum! {
    /// CAEP §3.8 risk level.
    pub enum RiskLevel {
        Low => "LOW",
        Medium => "MEDIUM",
        High => "HIGH",
    }
}

open_enum! {
    /// CAEP §3.8 `principal`: the kind of entity whose risk changed (SSF §2).
    pub enum RiskPrincipal {
        User => "USER",
        Device => "DEVICE",
        Session => "SESSION",
        Tenant => "TENANT",
        OrgUnit => "ORG_UNIT",
        Group => "GROUP",
    }
}

open_enum! {
    /// CAEP §3.4 assurance level `namespace`.
    pub enum AssuranceNamespace {
        Rfc8176 => "RFC8176",
        Rfc6711 => "RFC6711",
        IsoIec29115 => "ISO-IEC-29115",
        NistIal => "NIST-IAL",
        NistAal => "NIST-AAL",
        NistFal => "NIST-FAL",
    }
}

open_enum! {
    /// RISC §2.3 `account-disabled` reason.
    pub enum AccountDisabledReason {
        Hijacking => "hijacking",
        BulkAccount => "bulk-account",
    }
}

/// CAEP §3.4 `change_direction`. The spec allows only these two values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ChangeDirection {
    Increase,
    Decrease,
}

/// A localizable message (CAEP §2 `reason_admin`, `reason_user`): BCP 47 language tag to text.
///
/// The spec requires at least one entry, so an empty value cannot be built or parsed.
/// Entries are kept sorted by tag, so the same message always serialises the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct LocalizedText(BTreeMap<String, String>);

impl LocalizedText {
    /// A message in one language, e.g. `LocalizedText::new("en", "Password reset by admin")`.
    pub fn new(language: impl Into<String>, text: impl Into<String>) -> Self {
        let mut entries = BTreeMap::new();
        entries.insert(language.into(), text.into());
        LocalizedText(entries)
    }

    /// Adds (or replaces) the message in another language.
    pub fn with(mut self, language: impl Into<String>, text: impl Into<String>) -> Self {
        self.0.insert(language.into(), text.into());
        self
    }

    /// The message in `language`, if given.
    pub fn get(&self, language: &str) -> Option<&str> {
        self.0.get(language).map(String::as_str)
    }

    /// Every (language tag, message) pair, sorted by tag.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .map(|(tag, text)| (tag.as_str(), text.as_str()))
    }

    /// Whether every message is empty text (the interoperability profile requires
    /// a non-empty `reason_admin` for session-revoked and credential-change).
    pub fn is_blank(&self) -> bool {
        self.0.values().all(|text| text.trim().is_empty())
    }
}

impl<'de> Deserialize<'de> for LocalizedText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let entries = BTreeMap::<String, String>::deserialize(deserializer)?;
        if entries.is_empty() {
            return Err(serde::de::Error::invalid_length(
                0,
                &"at least one language-tagged message",
            ));
        }
        Ok(LocalizedText(entries))
    }
}
