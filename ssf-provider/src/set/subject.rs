//! Subject identifiers: RFC 9493 formats, SSF §3.4 additional formats, SSF §3.3 complex
//! subjects, and SSF §8.1.3.1 subject matching.
//!
//! # Matching
//!
//! SSF says simple subjects match when "exactly identical". Two refinements, both towards
//! comparing what the identifier *names* rather than how it was spelled:
//!
//! * `email` addresses compare ASCII-case-insensitively, local part included. The domain is
//!   case-insensitive by RFC 5321; the local part technically is not, but no mainstream
//!   mailbox provider distinguishes `Alice@` from `alice@`, and a stream that misses a
//!   security event because of letter case is worse than one that receives it.
//! * `ip-addresses` compare as sets of addresses in canonical form (`2001:0db8::1` equals
//!   `2001:db8::1`; an IPv4-mapped IPv6 address equals its IPv4 form).
//!
//! Everything else, including `iss_sub`, compares byte for byte.
//!
//! Beyond SSF, which only defines complex-vs-complex: an `aliases` subject matches when any of
//! its identifiers matches, and a simple subject matches a complex one when it matches any
//! of the complex subject's members (a receiver that added `alice@example.com` wants the
//! session-revoked event whose complex subject has that user).

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::IpAddr;

use serde::de::Error as _;
use serde::ser::SerializeMap;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::SetError;
use super::open_enum::open_enum;

open_enum! {
    /// The name of a member of a complex subject (SSF §3.3).
    pub enum ComplexMember {
        User => "user",
        Device => "device",
        Session => "session",
        Application => "application",
        Tenant => "tenant",
        OrgUnit => "org_unit",
        Group => "group",
    }
}

// Well-known members first, in the spec's order, so `user` is always the first member.
impl Ord for ComplexMember {
    fn cmp(&self, other: &Self) -> Ordering {
        self.rank()
            .cmp(&other.rank())
            .then_with(|| self.as_str().cmp(other.as_str()))
    }
}

impl PartialOrd for ComplexMember {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// A subject identifier (RFC 9493, SSF §3), serialised as a JSON object tagged by `format`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubjectId {
    /// RFC 9493 §3.2.1: an `acct:` URI.
    Account { uri: String },
    /// RFC 9493 §3.2.2.
    Email { email: String },
    /// RFC 9493 §3.2.3: issuer and subject of an OpenID Connect / JWT principal.
    IssSub { iss: String, sub: String },
    /// RFC 9493 §3.2.4: an identifier meaningful to transmitter and receiver only.
    Opaque { id: String },
    /// RFC 9493 §3.2.5: an E.164 telephone number.
    PhoneNumber { phone_number: String },
    /// RFC 9493 §3.2.6: a decentralized identifier URL.
    Did { url: String },
    /// RFC 9493 §3.2.7.
    Uri { uri: String },
    /// SSF §3.4.1: a JWT, by issuer and `jti`.
    JwtId { iss: String, jti: String },
    /// SSF §3.4.2: a SAML 2.0 assertion, by issuer and ID.
    SamlAssertionId {
        issuer: String,
        assertion_id: String,
    },
    /// SSF §3.4.3: IP addresses observed by the transmitter.
    IpAddresses { ip_addresses: Vec<String> },
    /// RFC 9493 §3.2.8: several identifiers of one subject.
    Aliases(Aliases),
    /// SSF §3.3: several identifiers of attributes of one subject principal.
    Complex(ComplexSubject),
    /// A proprietary format agreed between the parties (SSF §3.4).
    Other(OtherSubject),
}

/// RFC 9493 `aliases`: at least one identifier, none of them `aliases` or `complex`, no
/// duplicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Aliases(Vec<SubjectId>);

/// SSF complex subject: at least one member, each a non-complex subject identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComplexSubject(BTreeMap<ComplexMember, SubjectId>);

/// A subject identifier in a proprietary format. Its format is never one this crate
/// models, so every identifier has exactly one representation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtherSubject {
    format: String,
    members: Map<String, Value>,
}

const KNOWN_FORMATS: &[&str] = &[
    "account",
    "email",
    "iss_sub",
    "opaque",
    "phone_number",
    "did",
    "uri",
    "jwt_id",
    "saml_assertion_id",
    "ip-addresses",
    "aliases",
    "complex",
];

impl SubjectId {
    pub fn opaque(id: impl Into<String>) -> Self {
        SubjectId::Opaque { id: id.into() }
    }

    pub fn email(email: impl Into<String>) -> Self {
        SubjectId::Email {
            email: email.into(),
        }
    }

    pub fn iss_sub(iss: impl Into<String>, sub: impl Into<String>) -> Self {
        SubjectId::IssSub {
            iss: iss.into(),
            sub: sub.into(),
        }
    }

    /// The RFC 9493 / SSF `format` name.
    pub fn format(&self) -> &str {
        match self {
            SubjectId::Account { .. } => "account",
            SubjectId::Email { .. } => "email",
            SubjectId::IssSub { .. } => "iss_sub",
            SubjectId::Opaque { .. } => "opaque",
            SubjectId::PhoneNumber { .. } => "phone_number",
            SubjectId::Did { .. } => "did",
            SubjectId::Uri { .. } => "uri",
            SubjectId::JwtId { .. } => "jwt_id",
            SubjectId::SamlAssertionId { .. } => "saml_assertion_id",
            SubjectId::IpAddresses { .. } => "ip-addresses",
            SubjectId::Aliases(_) => "aliases",
            SubjectId::Complex(_) => "complex",
            SubjectId::Other(other) => &other.format,
        }
    }

    pub fn is_complex(&self) -> bool {
        matches!(self, SubjectId::Complex(_))
    }

    /// SSF §8.1.3.1 subject matching (see the module documentation for the refinements).
    /// Symmetric: `a.matches(b) == b.matches(a)`.
    pub fn matches(&self, other: &SubjectId) -> bool {
        match (self, other) {
            (SubjectId::Complex(a), SubjectId::Complex(b)) => a.matches(b),
            (SubjectId::Aliases(a), b) | (b, SubjectId::Aliases(a)) => {
                a.0.iter().any(|alias| alias.matches(b))
            }
            (SubjectId::Complex(c), simple) | (simple, SubjectId::Complex(c)) => {
                c.0.values().any(|member| member.matches(simple))
            }
            (a, b) => a.same_simple(b),
        }
    }

    fn same_simple(&self, other: &SubjectId) -> bool {
        match (self, other) {
            (SubjectId::Email { email: a }, SubjectId::Email { email: b }) => {
                a.eq_ignore_ascii_case(b)
            }
            (
                SubjectId::IpAddresses { ip_addresses: a },
                SubjectId::IpAddresses { ip_addresses: b },
            ) => canonical_ips(a) == canonical_ips(b),
            (a, b) => a == b,
        }
    }

    /// A canonical string naming this subject, for indexing the subjects a receiver added
    /// to a stream, e.g. `email:alice@example.com` or `iss_sub:<iss>|<sub>`.
    ///
    /// Simple subjects that [`matches`](Self::matches) considers equal have equal keys. A
    /// complex subject is keyed by its `user` member, else by its first member (in the
    /// order user, device, session, application, tenant, org_unit, group, then others by
    /// name); an `aliases` subject by its first identifier. Complex subjects can match
    /// without sharing a key (members missing on one side act as wildcards), so the key
    /// narrows a lookup and [`matches`](Self::matches) decides.
    pub fn lookup_key(&self) -> String {
        let mut key = String::new();
        self.write_key(&mut key);
        key
    }

    fn write_key(&self, key: &mut String) {
        match self {
            SubjectId::Account { uri } => {
                key.push_str("account:");
                escape_into(key, uri);
            }
            SubjectId::Email { email } => {
                key.push_str("email:");
                escape_into(key, &email.to_ascii_lowercase());
            }
            SubjectId::IssSub { iss, sub } => {
                key.push_str("iss_sub:");
                escape_into(key, iss);
                key.push('|');
                escape_into(key, sub);
            }
            SubjectId::Opaque { id } => {
                key.push_str("opaque:");
                escape_into(key, id);
            }
            SubjectId::PhoneNumber { phone_number } => {
                key.push_str("phone_number:");
                escape_into(key, phone_number);
            }
            SubjectId::Did { url } => {
                key.push_str("did:");
                escape_into(key, url);
            }
            SubjectId::Uri { uri } => {
                key.push_str("uri:");
                escape_into(key, uri);
            }
            SubjectId::JwtId { iss, jti } => {
                key.push_str("jwt_id:");
                escape_into(key, iss);
                key.push('|');
                escape_into(key, jti);
            }
            SubjectId::SamlAssertionId {
                issuer,
                assertion_id,
            } => {
                key.push_str("saml_assertion_id:");
                escape_into(key, issuer);
                key.push('|');
                escape_into(key, assertion_id);
            }
            SubjectId::IpAddresses { ip_addresses } => {
                key.push_str("ip-addresses:");
                for (i, ip) in canonical_ips(ip_addresses).iter().enumerate() {
                    if i > 0 {
                        key.push(',');
                    }
                    escape_into(key, ip);
                }
            }
            // Both hold at least one identifier by construction; the fallbacks keep this total.
            SubjectId::Aliases(aliases) => match aliases.0.first() {
                Some(first) => first.write_key(key),
                None => key.push_str("aliases:"),
            },
            SubjectId::Complex(complex) => match complex.primary() {
                Some((_, member)) => member.write_key(key),
                None => key.push_str("complex:"),
            },
            SubjectId::Other(other) => {
                key.push_str("other:");
                escape_into(key, &other.format);
                key.push('|');
                write_canonical_json(key, &Value::Object(other.members.clone()));
            }
        }
    }
}

/// Escapes the separators a key uses, so distinct subjects never share a key.
fn escape_into(key: &mut String, value: &str) {
    for c in value.chars() {
        match c {
            '%' => key.push_str("%25"),
            '|' => key.push_str("%7C"),
            ',' => key.push_str("%2C"),
            c => key.push(c),
        }
    }
}

/// IP addresses as a sorted set of canonical strings; unparsable entries stay as written.
fn canonical_ips(ips: &[String]) -> Vec<String> {
    let mut canonical: Vec<String> = ips
        .iter()
        .map(|ip| match ip.trim().parse::<IpAddr>() {
            Ok(addr) => addr.to_canonical().to_string(),
            Err(_) => ip.clone(),
        })
        .collect();
    canonical.sort();
    canonical.dedup();
    canonical
}

/// JSON with object keys sorted at every level, so equal values give equal text.
fn write_canonical_json(out: &mut String, value: &Value) {
    match value {
        Value::Object(map) => {
            let sorted: BTreeMap<&String, &Value> = map.iter().collect();
            out.push('{');
            for (i, (k, v)) in sorted.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                let _ = write!(out, "{}:", Value::String(k.clone()));
                write_canonical_json(out, v);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, v) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical_json(out, v);
            }
            out.push(']');
        }
        scalar => {
            let _ = write!(out, "{scalar}");
        }
    }
}

impl Aliases {
    pub fn new(identifiers: Vec<SubjectId>) -> Result<Self, SetError> {
        if identifiers.is_empty() {
            return Err(SetError::InvalidSubject(
                "aliases must hold at least one identifier".into(),
            ));
        }
        for (i, id) in identifiers.iter().enumerate() {
            if matches!(id, SubjectId::Aliases(_) | SubjectId::Complex(_)) {
                return Err(SetError::InvalidSubject(format!(
                    "aliases must not contain `{}` identifiers",
                    id.format()
                )));
            }
            if identifiers[..i].contains(id) {
                return Err(SetError::InvalidSubject(
                    "aliases must not contain duplicate identifiers".into(),
                ));
            }
        }
        Ok(Aliases(identifiers))
    }

    pub fn identifiers(&self) -> &[SubjectId] {
        &self.0
    }
}

impl ComplexSubject {
    /// Starts a complex subject; add members, then [`build`](ComplexSubjectBuilder::build).
    pub fn builder() -> ComplexSubjectBuilder {
        ComplexSubjectBuilder {
            members: Vec::new(),
        }
    }

    /// Adds a member. Each member name may appear once, and members must not be complex.
    fn insert(&mut self, member: ComplexMember, subject: SubjectId) -> Result<(), SetError> {
        if subject.is_complex() {
            return Err(SetError::InvalidSubject(format!(
                "complex subject member `{member}` must not itself be complex"
            )));
        }
        if self.0.contains_key(&member) {
            return Err(SetError::InvalidSubject(format!(
                "complex subject member `{member}` appears twice"
            )));
        }
        self.0.insert(member, subject);
        Ok(())
    }

    pub fn get(&self, member: &ComplexMember) -> Option<&SubjectId> {
        self.0.get(member)
    }

    pub fn user(&self) -> Option<&SubjectId> {
        self.get(&ComplexMember::User)
    }

    /// The members, `user` first.
    pub fn members(&self) -> impl Iterator<Item = (&ComplexMember, &SubjectId)> {
        self.0.iter()
    }

    /// SSF §8.1.3.1: for every member name, the member is absent on one side or both match.
    pub fn matches(&self, other: &ComplexSubject) -> bool {
        self.0.iter().all(|(name, mine)| match other.0.get(name) {
            Some(theirs) => mine.matches(theirs),
            None => true,
        })
    }

    /// The member that keys this subject: `user` if present, else the first member.
    pub fn primary(&self) -> Option<(&ComplexMember, &SubjectId)> {
        self.0.iter().next()
    }
}

/// Collects the members of a [`ComplexSubject`].
#[derive(Debug, Clone)]
#[must_use]
pub struct ComplexSubjectBuilder {
    members: Vec<(ComplexMember, SubjectId)>,
}

impl ComplexSubjectBuilder {
    pub fn member(mut self, member: ComplexMember, subject: SubjectId) -> Self {
        self.members.push((member, subject));
        self
    }

    pub fn user(self, subject: SubjectId) -> Self {
        self.member(ComplexMember::User, subject)
    }

    pub fn device(self, subject: SubjectId) -> Self {
        self.member(ComplexMember::Device, subject)
    }

    pub fn session(self, subject: SubjectId) -> Self {
        self.member(ComplexMember::Session, subject)
    }

    pub fn application(self, subject: SubjectId) -> Self {
        self.member(ComplexMember::Application, subject)
    }

    pub fn tenant(self, subject: SubjectId) -> Self {
        self.member(ComplexMember::Tenant, subject)
    }

    pub fn org_unit(self, subject: SubjectId) -> Self {
        self.member(ComplexMember::OrgUnit, subject)
    }

    pub fn group(self, subject: SubjectId) -> Self {
        self.member(ComplexMember::Group, subject)
    }

    /// Fails when there is no member, a member name repeats, or a member is complex.
    pub fn build(self) -> Result<ComplexSubject, SetError> {
        if self.members.is_empty() {
            return Err(invalid("a complex subject needs at least one member"));
        }
        let mut complex = ComplexSubject(BTreeMap::new());
        for (member, subject) in self.members {
            complex.insert(member, subject)?;
        }
        Ok(complex)
    }
}

impl OtherSubject {
    /// A proprietary-format identifier. `members` are its fields other than `format`.
    pub fn new(format: impl Into<String>, members: Map<String, Value>) -> Result<Self, SetError> {
        let format = format.into();
        if format.is_empty() || KNOWN_FORMATS.contains(&format.as_str()) {
            return Err(SetError::InvalidSubject(format!(
                "`{format}` is not a proprietary subject format"
            )));
        }
        if members.contains_key("format") {
            return Err(SetError::InvalidSubject(
                "members must not repeat `format`".into(),
            ));
        }
        Ok(OtherSubject { format, members })
    }

    pub fn format(&self) -> &str {
        &self.format
    }

    pub fn members(&self) -> &Map<String, Value> {
        &self.members
    }
}

impl Serialize for SubjectId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        map.serialize_entry("format", self.format())?;
        match self {
            SubjectId::Account { uri } | SubjectId::Uri { uri } => {
                map.serialize_entry("uri", uri)?
            }
            SubjectId::Email { email } => map.serialize_entry("email", email)?,
            SubjectId::IssSub { iss, sub } => {
                map.serialize_entry("iss", iss)?;
                map.serialize_entry("sub", sub)?;
            }
            SubjectId::Opaque { id } => map.serialize_entry("id", id)?,
            SubjectId::PhoneNumber { phone_number } => {
                map.serialize_entry("phone_number", phone_number)?
            }
            SubjectId::Did { url } => map.serialize_entry("url", url)?,
            SubjectId::JwtId { iss, jti } => {
                map.serialize_entry("iss", iss)?;
                map.serialize_entry("jti", jti)?;
            }
            SubjectId::SamlAssertionId {
                issuer,
                assertion_id,
            } => {
                map.serialize_entry("issuer", issuer)?;
                map.serialize_entry("assertion_id", assertion_id)?;
            }
            SubjectId::IpAddresses { ip_addresses } => {
                map.serialize_entry("ip-addresses", ip_addresses)?
            }
            SubjectId::Aliases(aliases) => map.serialize_entry("identifiers", &aliases.0)?,
            SubjectId::Complex(complex) => {
                for (name, subject) in &complex.0 {
                    map.serialize_entry(name.as_str(), subject)?;
                }
            }
            SubjectId::Other(other) => {
                for (name, value) in &other.members {
                    map.serialize_entry(name, value)?;
                }
            }
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for SubjectId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let members = Map::<String, Value>::deserialize(deserializer)?;
        SubjectId::from_members(members).map_err(D::Error::custom)
    }
}

impl SubjectId {
    /// Parses a subject identifier from its JSON object.
    pub fn from_members(mut m: Map<String, Value>) -> Result<Self, SetError> {
        // RISC §3.1: Google's transmitter names the tag `subject_type`; accept it when
        // `format` is absent so such subjects still parse.
        let format = match m.remove("format").or_else(|| m.remove("subject_type")) {
            Some(Value::String(format)) => format,
            Some(_) => return Err(invalid("`format` must be a string")),
            None => return Err(invalid("missing `format`")),
        };
        let subject = match format.as_str() {
            "account" => SubjectId::Account {
                uri: take_str(&mut m, "uri")?,
            },
            "email" => SubjectId::Email {
                email: take_str(&mut m, "email")?,
            },
            "iss_sub" => SubjectId::IssSub {
                iss: take_str(&mut m, "iss")?,
                sub: take_str(&mut m, "sub")?,
            },
            "opaque" => SubjectId::Opaque {
                id: take_str(&mut m, "id")?,
            },
            "phone_number" => SubjectId::PhoneNumber {
                phone_number: take_str(&mut m, "phone_number")?,
            },
            "did" => SubjectId::Did {
                url: take_str(&mut m, "url")?,
            },
            "uri" => SubjectId::Uri {
                uri: take_str(&mut m, "uri")?,
            },
            "jwt_id" => SubjectId::JwtId {
                iss: take_str(&mut m, "iss")?,
                jti: take_str(&mut m, "jti")?,
            },
            "saml_assertion_id" => SubjectId::SamlAssertionId {
                issuer: take_str(&mut m, "issuer")?,
                assertion_id: take_str(&mut m, "assertion_id")?,
            },
            "ip-addresses" => {
                let Some(value) = m.remove("ip-addresses") else {
                    return Err(invalid("`ip-addresses` subject without `ip-addresses`"));
                };
                let ip_addresses: Vec<String> = serde_json::from_value(value)
                    .map_err(|_| invalid("`ip-addresses` must be an array of strings"))?;
                if ip_addresses.is_empty() {
                    return Err(invalid("`ip-addresses` must not be empty"));
                }
                SubjectId::IpAddresses { ip_addresses }
            }
            "aliases" => {
                let Some(Value::Array(items)) = m.remove("identifiers") else {
                    return Err(invalid("`aliases` subject needs an `identifiers` array"));
                };
                let identifiers = items
                    .into_iter()
                    .map(|item| match item {
                        Value::Object(members) => SubjectId::from_members(members),
                        _ => Err(invalid("each alias must be a subject identifier object")),
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                SubjectId::Aliases(Aliases::new(identifiers)?)
            }
            "complex" => {
                let mut complex = ComplexSubject::builder();
                for (name, value) in m {
                    let Value::Object(members) = value else {
                        return Err(invalid(&format!(
                            "complex subject member `{name}` must be a subject identifier"
                        )));
                    };
                    complex = complex
                        .member(ComplexMember::from(name), SubjectId::from_members(members)?);
                }
                return Ok(SubjectId::Complex(complex.build()?));
            }
            _ => return Ok(SubjectId::Other(OtherSubject::new(format, m)?)),
        };
        Ok(subject)
    }
}

fn invalid(reason: &str) -> SetError {
    SetError::InvalidSubject(reason.to_owned())
}

fn take_str(members: &mut Map<String, Value>, name: &str) -> Result<String, SetError> {
    match members.remove(name) {
        Some(Value::String(value)) => Ok(value),
        Some(_) => Err(invalid(&format!("`{name}` must be a string"))),
        None => Err(invalid(&format!("missing `{name}`"))),
    }
}
