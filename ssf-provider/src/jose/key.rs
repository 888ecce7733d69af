//! The transmitter's signing key and compact JWS signing of SETs.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openssl::ec::{EcGroup, EcKey};
use openssl::ecdsa::EcdsaSig;
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{Id, PKey, Private};
use openssl::rsa::{Padding, Rsa};
use openssl::sign::{RsaPssSaltlen, Signer};

use super::jwk::{Jwk, KeyUse};
use super::{JoseError, MIN_RSA_BITS, SigningAlg, alg_name};
use crate::set::SetClaims;

/// A private signing key with its algorithm, RFC 7638 `kid` and public JWK.
///
/// Cheap to clone and safe to share between threads: the key lives behind an `Arc` and
/// every signature uses its own openssl context. `Debug` shows only the algorithm and
/// `kid`; the private key leaves only through [`to_pem`](Self::to_pem).
#[derive(Clone)]
pub struct SigningKey(Arc<Inner>);

struct Inner {
    pkey: PKey<Private>,
    scheme: Scheme,
    kid: String,
    jwk: Jwk,
    /// The protected header never changes for a key, so it is encoded once.
    header_b64: String,
}

/// How signatures are made; each variant fixes the algorithm.
enum Scheme {
    Rs256,
    Ps256,
    /// The EC key is kept apart from the `PKey` so ES256 can sign a digest directly.
    Es256(EcKey<Private>),
    EdDsa,
}

impl SigningKey {
    /// A fresh key: RSA 2048 bits for RS256 and PS256, P-256 for ES256, Ed25519 for EdDSA.
    pub fn generate(alg: SigningAlg) -> Result<Self, JoseError> {
        let pkey = match alg {
            SigningAlg::RS256 | SigningAlg::PS256 => PKey::from_rsa(Rsa::generate(MIN_RSA_BITS)?)?,
            SigningAlg::ES256 => {
                let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1)?;
                PKey::from_ec_key(EcKey::generate(&group)?)?
            }
            SigningAlg::EdDSA => PKey::generate_ed25519()?,
        };
        Self::from_pkey(pkey, alg)
    }

    /// Imports a PKCS#8 (`BEGIN PRIVATE KEY`) or traditional (`BEGIN RSA PRIVATE KEY`,
    /// `BEGIN EC PRIVATE KEY`) PEM private key for `alg`. Encrypted PEM is refused.
    pub fn from_pem(pem: &[u8], alg: SigningAlg) -> Result<Self, JoseError> {
        // An explicit empty passphrase: openssl's default callback would prompt on the
        // terminal for an encrypted key and block the process.
        let pkey =
            PKey::private_key_from_pem_callback(pem, |_| Ok(0)).map_err(JoseError::InvalidPem)?;
        Self::from_pkey(pkey, alg)
    }

    fn from_pkey(pkey: PKey<Private>, alg: SigningAlg) -> Result<Self, JoseError> {
        let wrong = |reason: String| JoseError::WrongKeyType { alg, reason };
        let scheme = match alg {
            SigningAlg::RS256 | SigningAlg::PS256 => {
                if pkey.id() != Id::RSA {
                    return Err(wrong(format!("expected an RSA key, got {:?}", pkey.id())));
                }
                if pkey.bits() < MIN_RSA_BITS {
                    return Err(JoseError::KeyTooSmall {
                        bits: pkey.bits(),
                        min: MIN_RSA_BITS,
                    });
                }
                if !pkey.rsa()?.check_key()? {
                    return Err(wrong("the RSA key is inconsistent".into()));
                }
                if alg == SigningAlg::RS256 {
                    Scheme::Rs256
                } else {
                    Scheme::Ps256
                }
            }
            SigningAlg::ES256 => {
                if pkey.id() != Id::EC {
                    return Err(wrong(format!("expected an EC key, got {:?}", pkey.id())));
                }
                let ec = pkey.ec_key()?;
                if ec.group().curve_name() != Some(Nid::X9_62_PRIME256V1) {
                    return Err(wrong("ES256 needs a P-256 key".into()));
                }
                ec.check_key()?;
                Scheme::Es256(ec)
            }
            SigningAlg::EdDSA => {
                if pkey.id() != Id::ED25519 {
                    return Err(wrong(format!(
                        "expected an Ed25519 key, got {:?}",
                        pkey.id()
                    )));
                }
                Scheme::EdDsa
            }
        };
        let params = Jwk::from_private(&pkey)?;
        let mut jwk = Jwk {
            params,
            key_use: Some(KeyUse::Signature),
            alg: Some(alg),
            kid: None,
        };
        let kid = jwk.thumbprint();
        jwk.kid = Some(kid.clone());
        let header = format!(
            r#"{{"alg":"{}","typ":"secevent+jwt","kid":{}}}"#,
            alg_name(alg),
            serde_json::Value::String(kid.clone())
        );
        Ok(SigningKey(Arc::new(Inner {
            pkey,
            scheme,
            kid,
            jwk,
            header_b64: URL_SAFE_NO_PAD.encode(header),
        })))
    }

    /// The private key as PKCS#8 PEM, for storage (seal it with a
    /// [`KeyVault`](super::KeyVault) first). Never log or return it from an API.
    pub fn to_pem(&self) -> Result<String, JoseError> {
        let pem = self.0.pkey.private_key_to_pem_pkcs8()?;
        String::from_utf8(pem)
            .map_err(|_| JoseError::InvalidJwk("openssl wrote non-ASCII PEM".into()))
    }

    /// The RFC 7638 thumbprint of the public key.
    pub fn kid(&self) -> &str {
        &self.0.kid
    }

    pub fn alg(&self) -> SigningAlg {
        match self.0.scheme {
            Scheme::Rs256 => SigningAlg::RS256,
            Scheme::Ps256 => SigningAlg::PS256,
            Scheme::Es256(_) => SigningAlg::ES256,
            Scheme::EdDsa => SigningAlg::EdDSA,
        }
    }

    /// The public JWK with `kid`, `alg` and `use: sig`.
    pub fn public_jwk(&self) -> Jwk {
        self.0.jwk.clone()
    }

    /// Signs SET claims as a compact JWS with the protected header
    /// `{"alg":…,"typ":"secevent+jwt","kid":…}`.
    ///
    /// `claims_json` is signed as given; build it with [`SetClaims`] so it conforms, or use
    /// [`sign_claims`](Self::sign_claims).
    pub fn sign_set(&self, claims_json: &str) -> Result<String, JoseError> {
        let header = &self.0.header_b64;
        let mut token = String::with_capacity(header.len() + claims_json.len() * 4 / 3 + 400);
        token.push_str(header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(claims_json, &mut token);
        let signature = self.sign_bytes(token.as_bytes())?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Ok(token)
    }

    pub fn sign_claims(&self, claims: &SetClaims) -> Result<String, JoseError> {
        self.sign_set(&claims.to_json())
    }

    fn sign_bytes(&self, input: &[u8]) -> Result<Vec<u8>, JoseError> {
        let pkey = &self.0.pkey;
        let signature = match &self.0.scheme {
            Scheme::Rs256 => {
                Signer::new(MessageDigest::sha256(), pkey)?.sign_oneshot_to_vec(input)?
            }
            Scheme::Ps256 => {
                let mut signer = Signer::new(MessageDigest::sha256(), pkey)?;
                signer.set_rsa_padding(Padding::PKCS1_PSS)?;
                // RFC 7518 §3.5: salt as long as the hash, MGF1 with the same hash.
                signer.set_rsa_pss_saltlen(RsaPssSaltlen::DIGEST_LENGTH)?;
                signer.set_rsa_mgf1_md(MessageDigest::sha256())?;
                signer.sign_oneshot_to_vec(input)?
            }
            Scheme::Es256(ec) => {
                let sig = EcdsaSig::sign(&openssl::sha::sha256(input), ec)?;
                // RFC 7518 §3.4: fixed-width r || s. `to_vec()` would drop leading zero
                // bytes and produce a short signature about once in 128 tokens.
                let mut raw = sig.r().to_vec_padded(32)?;
                raw.extend_from_slice(&sig.s().to_vec_padded(32)?);
                raw
            }
            Scheme::EdDsa => Signer::new_without_digest(pkey)?.sign_oneshot_to_vec(input)?,
        };
        Ok(signature)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("alg", &self.alg())
            .field("kid", &self.0.kid)
            .finish_non_exhaustive()
    }
}
