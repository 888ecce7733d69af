//! JOSE for SETs, on openssl: signing keys (RS256, PS256, ES256, EdDSA), public JWKs with
//! RFC 7638 `kid`s, compact JWS signing and verification, key rotation, and sealing of
//! private keys at rest.
//!
//! ```
//! use ssf_provider::jose::{self, Jwks, SigningAlg, SigningKey, VerifyOptions};
//!
//! let key = SigningKey::generate(SigningAlg::ES256).unwrap();
//! let token = key
//!     .sign_set(r#"{"iss":"https://idp.example/","aud":"rp","jti":"1","iat":1,"sub_id":{"format":"opaque","id":"s"},"events":{"https://schemas.openid.net/secevent/ssf/event-type/verification":{}}}"#)
//!     .unwrap();
//! let jwks = Jwks { keys: vec![key.public_jwk()] };
//! let options = VerifyOptions { issuer: "https://idp.example/".into(), audience: "rp".into() };
//! assert!(jose::verify(&token, &jwks, &options).is_ok());
//! ```

mod error;
mod jwk;
mod key;
mod keyset;
pub mod vault;
mod verify;

pub use error::{DecodeError, JoseError, KeySetError, VaultError, VerifyError};
pub use jwk::{EcCurve, Jwk, JwkParams, Jwks, KeyUse, OkpCurve};
pub use key::SigningKey;
pub use keyset::{KeySet, RetiringKey};
pub use ssf_entities::SigningAlg;
pub use vault::{KeyVault, StoredSecret};
pub use verify::{
    HeaderAlg, JwsHeader, VerifiedSet, VerifyOptions, decode_claims_unverified, decode_header,
    verify,
};

/// The smallest RSA modulus accepted, as the CAEP interoperability profile requires.
pub const MIN_RSA_BITS: u32 = 2048;

/// The JWA name of an algorithm, as written in `alg`.
pub fn alg_name(alg: SigningAlg) -> &'static str {
    match alg {
        SigningAlg::RS256 => "RS256",
        SigningAlg::PS256 => "PS256",
        SigningAlg::ES256 => "ES256",
        SigningAlg::EdDSA => "EdDSA",
    }
}
