//! Public JSON Web Keys (RFC 7517) and their RFC 7638 thumbprints.
//!
//! [`Jwk`] has no private members at all, so a JWKS built from these types can never leak
//! a private key, whatever a caller does with it.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, PKeyRef, Private, Public};
use openssl::rsa::Rsa;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{JoseError, MIN_RSA_BITS, SigningAlg};

/// The key-type-specific members of a public JWK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kty")]
pub enum JwkParams {
    /// RFC 7518 §6.3.1: modulus and exponent, base64url big-endian without leading zeros.
    #[serde(rename = "RSA")]
    Rsa { n: String, e: String },
    /// RFC 7518 §6.2.1: a point on the curve, coordinates base64url, fixed width.
    #[serde(rename = "EC")]
    Ec { crv: EcCurve, x: String, y: String },
    /// RFC 8037 §2: an Edwards-curve public key.
    #[serde(rename = "OKP")]
    Okp { crv: OkpCurve, x: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EcCurve {
    #[serde(rename = "P-256")]
    P256,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum OkpCurve {
    Ed25519,
}

/// RFC 7517 §4.2 `use`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeyUse {
    #[serde(rename = "sig")]
    Signature,
    #[serde(rename = "enc")]
    Encryption,
}

/// A public JSON Web Key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Jwk {
    #[serde(flatten)]
    pub params: JwkParams,
    #[serde(rename = "use", default, skip_serializing_if = "Option::is_none")]
    pub key_use: Option<KeyUse>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alg: Option<SigningAlg>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
}

/// A JWK Set (RFC 7517 §5), as published at the transmitter's `jwks_uri`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Jwks {
    pub keys: Vec<Jwk>,
}

impl Jwks {
    /// The key with this `kid`.
    pub fn find(&self, kid: &str) -> Option<&Jwk> {
        self.keys.iter().find(|k| k.kid.as_deref() == Some(kid))
    }
}

// RFC 7517 §5: keys of a type, curve or algorithm we do not understand are skipped rather
// than failing the whole set, so a receiver can still use the keys it knows.
impl<'de> Deserialize<'de> for Jwks {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct RawJwks {
            keys: Vec<Value>,
        }
        let raw = RawJwks::deserialize(deserializer)?;
        let keys = raw
            .keys
            .into_iter()
            .filter_map(|key| serde_json::from_value::<Jwk>(key).ok())
            .collect();
        Ok(Jwks { keys })
    }
}

impl Jwk {
    /// RFC 7638 thumbprint: base64url SHA-256 of the required members, in lexicographic
    /// order, without whitespace.
    pub fn thumbprint(&self) -> String {
        let q = |s: &str| Value::String(s.to_owned()).to_string();
        let canonical = match &self.params {
            JwkParams::Rsa { n, e } => format!(r#"{{"e":{},"kty":"RSA","n":{}}}"#, q(e), q(n)),
            JwkParams::Ec { crv, x, y } => format!(
                r#"{{"crv":{},"kty":"EC","x":{},"y":{}}}"#,
                q(crv.name()),
                q(x),
                q(y)
            ),
            JwkParams::Okp { crv, x } => {
                format!(r#"{{"crv":{},"kty":"OKP","x":{}}}"#, q(crv.name()), q(x))
            }
        };
        URL_SAFE_NO_PAD.encode(openssl::sha::sha256(canonical.as_bytes()))
    }

    /// The public JWK of a private key, without `alg`, `use` or `kid`.
    pub(crate) fn from_private(pkey: &PKeyRef<Private>) -> Result<JwkParams, JoseError> {
        let b64 = |bytes: &[u8]| URL_SAFE_NO_PAD.encode(bytes);
        match pkey.id() {
            Id::RSA => {
                let rsa = pkey.rsa()?;
                Ok(JwkParams::Rsa {
                    n: b64(&rsa.n().to_vec()),
                    e: b64(&rsa.e().to_vec()),
                })
            }
            Id::EC => {
                let ec = pkey.ec_key()?;
                let mut ctx = BigNumContext::new()?;
                let (mut x, mut y) = (BigNum::new()?, BigNum::new()?);
                ec.public_key()
                    .affine_coordinates(ec.group(), &mut x, &mut y, &mut ctx)?;
                Ok(JwkParams::Ec {
                    crv: EcCurve::P256,
                    x: b64(&x.to_vec_padded(32)?),
                    y: b64(&y.to_vec_padded(32)?),
                })
            }
            Id::ED25519 => Ok(JwkParams::Okp {
                crv: OkpCurve::Ed25519,
                x: b64(&pkey.raw_public_key()?),
            }),
            other => Err(JoseError::InvalidJwk(format!(
                "unsupported key type {other:?}"
            ))),
        }
    }

    /// The openssl public key this JWK describes, checked as strictly as keys we sign with.
    pub fn to_public_key(&self) -> Result<PKey<Public>, JoseError> {
        let bytes = |name: &str, value: &str| {
            URL_SAFE_NO_PAD
                .decode(value)
                .map_err(|_| JoseError::InvalidJwk(format!("`{name}` is not base64url")))
        };
        match &self.params {
            JwkParams::Rsa { n, e } => {
                let n = BigNum::from_slice(&bytes("n", n)?)?;
                let e = BigNum::from_slice(&bytes("e", e)?)?;
                let bits = u32::try_from(n.num_bits()).unwrap_or(0);
                if bits < MIN_RSA_BITS {
                    return Err(JoseError::KeyTooSmall {
                        bits,
                        min: MIN_RSA_BITS,
                    });
                }
                Ok(PKey::from_rsa(Rsa::from_public_components(n, e)?)?)
            }
            JwkParams::Ec {
                crv: EcCurve::P256,
                x,
                y,
            } => {
                let (x, y) = (bytes("x", x)?, bytes("y", y)?);
                if x.len() != 32 || y.len() != 32 {
                    return Err(JoseError::InvalidJwk(
                        "P-256 coordinates must be 32 bytes".into(),
                    ));
                }
                let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
                let (x, y) = (BigNum::from_slice(&x)?, BigNum::from_slice(&y)?);
                // Rejects points that are not on the curve.
                let ec = EcKey::from_public_key_affine_coordinates(&group, &x, &y)?;
                Ok(PKey::from_ec_key(ec)?)
            }
            JwkParams::Okp {
                crv: OkpCurve::Ed25519,
                x,
            } => {
                let x = bytes("x", x)?;
                if x.len() != 32 {
                    return Err(JoseError::InvalidJwk(
                        "Ed25519 public keys are 32 bytes".into(),
                    ));
                }
                Ok(PKey::public_key_from_raw_bytes(&x, Id::ED25519)?)
            }
        }
    }

    /// Whether `alg` can be used with this key's type.
    pub fn fits(&self, alg: SigningAlg) -> bool {
        matches!(
            (&self.params, alg),
            (JwkParams::Rsa { .. }, SigningAlg::RS256 | SigningAlg::PS256)
                | (
                    JwkParams::Ec {
                        crv: EcCurve::P256,
                        ..
                    },
                    SigningAlg::ES256
                )
                | (
                    JwkParams::Okp {
                        crv: OkpCurve::Ed25519,
                        ..
                    },
                    SigningAlg::EdDSA
                )
        )
    }

    pub(crate) fn kty(&self) -> &'static str {
        match self.params {
            JwkParams::Rsa { .. } => "RSA",
            JwkParams::Ec { .. } => "EC P-256",
            JwkParams::Okp { .. } => "OKP Ed25519",
        }
    }
}

impl EcCurve {
    pub fn name(&self) -> &'static str {
        match self {
            EcCurve::P256 => "P-256",
        }
    }
}

impl OkpCurve {
    pub fn name(&self) -> &'static str {
        match self {
            OkpCurve::Ed25519 => "Ed25519",
        }
    }
}
