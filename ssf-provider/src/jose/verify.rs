//! Decoding and verifying compact JWS SETs: the receiver's side, used by tests, the demo
//! receiver and anyone checking what the transmitter sends.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::bn::BigNum;
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::pkey::{PKey, Public};
use openssl::rsa::Padding;
use openssl::sign::{RsaPssSaltlen, Verifier};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::jwk::{Jwks, KeyUse};
use super::{DecodeError, SigningAlg, VerifyError, alg_name};
use crate::set::{SetClaims, SetError};

/// The `alg` header parameter as found in a token, which may name anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderAlg {
    Signing(SigningAlg),
    /// RFC 7518 §3.6 unsecured JWS.
    None,
    Other(String),
}

impl Serialize for HeaderAlg {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(match self {
            HeaderAlg::Signing(alg) => alg_name(*alg),
            HeaderAlg::None => "none",
            HeaderAlg::Other(other) => other,
        })
    }
}

impl<'de> Deserialize<'de> for HeaderAlg {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        Ok(match name.as_str() {
            "none" => HeaderAlg::None,
            "RS256" => HeaderAlg::Signing(SigningAlg::RS256),
            "PS256" => HeaderAlg::Signing(SigningAlg::PS256),
            "ES256" => HeaderAlg::Signing(SigningAlg::ES256),
            "EdDSA" => HeaderAlg::Signing(SigningAlg::EdDSA),
            _ => HeaderAlg::Other(name),
        })
    }
}

/// The JOSE header members this crate reads; others are ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JwsHeader {
    pub alg: HeaderAlg,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub crit: Option<Vec<String>>,
}

/// What a verified SET must say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyOptions {
    /// The transmitter's issuer, which `iss` must equal.
    pub issuer: String,
    /// This receiver's audience value, which `aud` must contain.
    pub audience: String,
}

/// A SET whose signature, header and `iss`/`aud` checked out.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedSet {
    pub header: JwsHeader,
    pub claims: Value,
}

impl VerifiedSet {
    /// The claims parsed as an SSF SET (which also checks the SSF rules).
    pub fn set_claims(&self) -> Result<SetClaims, SetError> {
        Ok(serde_json::from_value(self.claims.clone())?)
    }
}

struct Parts<'a> {
    header: &'a str,
    payload: &'a str,
    signature: &'a str,
}

fn split(token: &str) -> Result<Parts<'_>, DecodeError> {
    let mut parts = token.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(header), Some(payload), Some(signature), None) => Ok(Parts {
            header,
            payload,
            signature,
        }),
        _ => Err(DecodeError::NotCompact),
    }
}

fn decode_json<T: serde::de::DeserializeOwned>(
    part: &'static str,
    b64: &str,
) -> Result<T, DecodeError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(b64)
        .map_err(|_| DecodeError::Base64(part))?;
    serde_json::from_slice(&bytes).map_err(|source| DecodeError::Json { part, source })
}

/// Reads a compact token's protected header without verifying anything.
pub fn decode_header(token: &str) -> Result<JwsHeader, DecodeError> {
    decode_json("header", split(token)?.header)
}

/// Reads a compact token's claims without verifying anything. Never trust the result.
pub fn decode_claims_unverified(token: &str) -> Result<Value, DecodeError> {
    let claims: Value = decode_json("payload", split(token)?.payload)?;
    if !claims.is_object() {
        return Err(DecodeError::Json {
            part: "payload",
            source: serde::de::Error::custom("expected a JSON object"),
        });
    }
    Ok(claims)
}

/// Verifies a compact SET against a JWKS: header (`alg`, `typ`, `kid`, `crit`), signature
/// with the key the `kid` names, then `iss`, `aud` and the absence of `sub` and `exp`.
///
/// The algorithm comes from the header but must fit the key (its `alg` if the JWK states
/// one, else its type), so a token cannot choose a weaker check than the key allows.
pub fn verify(
    token: &str,
    jwks: &Jwks,
    options: &VerifyOptions,
) -> Result<VerifiedSet, VerifyError> {
    let parts = split(token)?;
    let header: JwsHeader = decode_json("header", parts.header)?;

    let alg = match &header.alg {
        HeaderAlg::Signing(alg) => *alg,
        HeaderAlg::None => return Err(VerifyError::AlgNone),
        HeaderAlg::Other(other) => return Err(VerifyError::UnsupportedAlgorithm(other.clone())),
    };
    // RFC 7515 §4.1.11: we understand no extensions, so any `crit` is fatal.
    if let Some(crit) = &header.crit {
        return Err(VerifyError::UnsupportedCritical(crit.clone()));
    }
    if !is_secevent_type(header.typ.as_deref()) {
        return Err(VerifyError::WrongType(header.typ.clone()));
    }
    let kid = header.kid.as_deref().ok_or(VerifyError::MissingKid)?;
    let jwk = jwks
        .find(kid)
        .ok_or_else(|| VerifyError::UnknownKid(kid.to_owned()))?;
    if jwk.alg.is_some_and(|key_alg| key_alg != alg) || !jwk.fits(alg) {
        return Err(VerifyError::AlgorithmMismatch {
            header: alg,
            kid: kid.to_owned(),
            key: jwk
                .alg
                .map_or_else(|| jwk.kty().to_owned(), |a| alg_name(a).to_owned()),
        });
    }
    if jwk.key_use == Some(KeyUse::Encryption) {
        return Err(VerifyError::UnusableKey {
            kid: kid.to_owned(),
            reason: "the key is for encryption".into(),
        });
    }
    let public_key = jwk.to_public_key().map_err(|e| VerifyError::UnusableKey {
        kid: kid.to_owned(),
        reason: e.to_string(),
    })?;
    let signature = URL_SAFE_NO_PAD
        .decode(parts.signature)
        .map_err(|_| DecodeError::Base64("signature"))?;
    let signed = &token.as_bytes()[..parts.header.len() + 1 + parts.payload.len()];
    if !signature_valid(alg, &public_key, signed, &signature) {
        return Err(VerifyError::BadSignature);
    }

    let claims = decode_claims_unverified(token)?;
    let iss = claims.get("iss").and_then(Value::as_str);
    if iss != Some(options.issuer.as_str()) {
        return Err(VerifyError::WrongIssuer {
            expected: options.issuer.clone(),
            found: iss.map(str::to_owned),
        });
    }
    let audience_ok = match claims.get("aud") {
        Some(Value::String(aud)) => *aud == options.audience,
        Some(Value::Array(auds)) => auds.iter().any(|a| a.as_str() == Some(&options.audience)),
        _ => false,
    };
    if !audience_ok {
        return Err(VerifyError::WrongAudience {
            expected: options.audience.clone(),
        });
    }
    for forbidden in ["sub", "exp"] {
        if claims.get(forbidden).is_some() {
            return Err(VerifyError::ForbiddenClaim(forbidden));
        }
    }
    Ok(VerifiedSet { header, claims })
}

/// RFC 7515 §4.1.9: `typ` is a media type, compared case-insensitively, and the
/// `application/` prefix may be left out.
fn is_secevent_type(typ: Option<&str>) -> bool {
    let Some(typ) = typ else { return false };
    let typ = typ.to_ascii_lowercase();
    typ == "secevent+jwt" || typ == "application/secevent+jwt"
}

fn signature_valid(alg: SigningAlg, key: &PKey<Public>, signed: &[u8], signature: &[u8]) -> bool {
    let outcome: Result<bool, openssl::error::ErrorStack> = (|| match alg {
        SigningAlg::RS256 => {
            Verifier::new(MessageDigest::sha256(), key)?.verify_oneshot(signature, signed)
        }
        SigningAlg::PS256 => {
            let mut verifier = Verifier::new(MessageDigest::sha256(), key)?;
            verifier.set_rsa_padding(Padding::PKCS1_PSS)?;
            verifier.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)?;
            verifier.set_rsa_mgf1_md(MessageDigest::sha256())?;
            verifier.verify_oneshot(signature, signed)
        }
        SigningAlg::ES256 => {
            // RFC 7518 §3.4: exactly 32 bytes of r then 32 of s; DER is not accepted.
            if signature.len() != 64 {
                return Ok(false);
            }
            let r = BigNum::from_slice(&signature[..32])?;
            let s = BigNum::from_slice(&signature[32..])?;
            let sig = EcdsaSig::from_private_components(r, s)?;
            sig.verify(&openssl::sha::sha256(signed), &*key.ec_key()?)
        }
        SigningAlg::EdDSA => Verifier::new_without_digest(key)?.verify_oneshot(signature, signed),
    })();
    // A signature openssl cannot even parse is as bad as one that does not match.
    outcome.unwrap_or(false)
}
