//! Our signatures verify with an independent JOSE implementation (josekit), and josekit's
//! verify with ours, for every algorithm.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jws::{self, JwsHeader, JwsSigner, JwsVerifier};
use openssl::pkey::PKey;
use ssf_provider::jose::{self, Jwks, SigningAlg, SigningKey, VerifyOptions};
use ssf_provider::set::{
    ChangeType, CredentialChange, CredentialType, SecurityEvent, SetClaims, SubjectId,
};

const ISSUER: &str = "https://idp.example.com/";
const AUDIENCE: &str = "https://rp.example.com/";
const ALL: [SigningAlg; 4] = [
    SigningAlg::RS256,
    SigningAlg::PS256,
    SigningAlg::ES256,
    SigningAlg::EdDSA,
];

fn claims(jti: &str) -> String {
    SetClaims::builder(
        ISSUER,
        AUDIENCE,
        SubjectId::email("alice@example.com"),
        SecurityEvent::CredentialChange(CredentialChange::new(
            CredentialType::Password,
            ChangeType::Update,
        )),
    )
    .jti(jti)
    .build()
    .unwrap()
    .to_json()
}

fn options() -> VerifyOptions {
    VerifyOptions {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
    }
}

fn josekit_verifier(key: &SigningKey) -> Box<dyn JwsVerifier> {
    let jwk = josekit::jwk::Jwk::from_bytes(serde_json::to_vec(&key.public_jwk()).unwrap())
        .expect("josekit reads our JWK");
    match key.alg() {
        SigningAlg::RS256 => Box::new(jws::RS256.verifier_from_jwk(&jwk).unwrap()),
        SigningAlg::PS256 => Box::new(jws::PS256.verifier_from_jwk(&jwk).unwrap()),
        SigningAlg::ES256 => Box::new(jws::ES256.verifier_from_jwk(&jwk).unwrap()),
        SigningAlg::EdDSA => Box::new(jws::EdDSA.verifier_from_jwk(&jwk).unwrap()),
    }
}

/// A josekit signer for `key`, or `None` for PS256: every josekit path to a PS256 signer
/// re-encodes the key as an RSASSA-PSS PKCS#8 structure that OpenSSL 3.0 will not decode.
fn josekit_signer(key: &SigningKey) -> Option<Box<dyn JwsSigner>> {
    let pem = key.to_pem().unwrap();
    match key.alg() {
        SigningAlg::RS256 => Some(Box::new(jws::RS256.signer_from_pem(&pem).unwrap())),
        SigningAlg::PS256 => None,
        SigningAlg::ES256 => Some(Box::new(jws::ES256.signer_from_pem(&pem).unwrap())),
        SigningAlg::EdDSA => Some(Box::new(jws::EdDSA.signer_from_pem(&pem).unwrap())),
    }
}

/// RSASSA-PSS signing written from RFC 8017 §9.1.1 (EMSA-PSS with SHA-256, MGF1-SHA-256,
/// 32-byte salt, as RFC 7518 §3.5 requires) on top of the raw RSA private-key operation:
/// an encoder independent of the openssl EVP code our verifier uses.
fn rfc8017_pss_sign(key: &SigningKey, message: &[u8]) -> Vec<u8> {
    use openssl::sha::sha256;
    let rsa = PKey::private_key_from_pem(key.to_pem().unwrap().as_bytes())
        .unwrap()
        .rsa()
        .unwrap();
    let mod_bits = rsa.n().num_bits() as usize;
    let em_bits = mod_bits - 1;
    let em_len = em_bits.div_ceil(8);
    let h_len = 32;
    let mut salt = [0u8; 32];
    openssl::rand::rand_bytes(&mut salt).unwrap();
    let mut m_prime = vec![0u8; 8];
    m_prime.extend_from_slice(&sha256(message));
    m_prime.extend_from_slice(&salt);
    let h = sha256(&m_prime);
    let db_len = em_len - h_len - 1;
    let mut db = vec![0u8; db_len - salt.len() - 1];
    db.push(0x01);
    db.extend_from_slice(&salt);
    let mut mask = Vec::with_capacity(db_len + h_len);
    let mut counter: u32 = 0;
    while mask.len() < db_len {
        let mut input = h.to_vec();
        input.extend_from_slice(&counter.to_be_bytes());
        mask.extend_from_slice(&sha256(&input));
        counter += 1;
    }
    for (byte, m) in db.iter_mut().zip(&mask) {
        *byte ^= m;
    }
    db[0] &= 0xff >> (8 * em_len - em_bits);
    let mut em = db;
    em.extend_from_slice(&h);
    em.push(0xbc);
    let mut block = vec![0u8; rsa.size() as usize - em.len()];
    block.extend_from_slice(&em);
    let mut signature = vec![0u8; rsa.size() as usize];
    let len = rsa
        .private_encrypt(&block, &mut signature, openssl::rsa::Padding::NONE)
        .unwrap();
    signature.truncate(len);
    signature
}

fn independent_token(key: &SigningKey, kid: &str, payload: &str) -> String {
    match josekit_signer(key) {
        Some(signer) => {
            let mut header = JwsHeader::new();
            header.set_token_type("secevent+jwt");
            header.set_key_id(kid);
            jws::serialize_compact(payload.as_bytes(), &header, &*signer).unwrap()
        }
        None => {
            let header = format!(r#"{{"typ":"secevent+jwt","alg":"PS256","kid":"{kid}"}}"#);
            let signed = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header),
                URL_SAFE_NO_PAD.encode(payload)
            );
            let signature = rfc8017_pss_sign(key, signed.as_bytes());
            format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
        }
    }
}

#[test]
fn our_tokens_verify_with_josekit() {
    for alg in ALL {
        let key = SigningKey::generate(alg).unwrap();
        let payload = claims("jti-1");
        let token = key.sign_set(&payload).unwrap();

        let (verified_payload, header) = jws::deserialize_compact(&token, &*josekit_verifier(&key))
            .unwrap_or_else(|e| panic!("{alg:?}: josekit rejected our token: {e}"));
        assert_eq!(verified_payload, payload.as_bytes(), "{alg:?}");
        assert_eq!(header.token_type(), Some("secevent+jwt"));
        assert_eq!(header.key_id(), Some(key.kid()));
        assert_eq!(header.algorithm(), Some(jose::alg_name(alg)));

        // The protected header is exactly alg, typ, kid, in that order.
        let header_json = URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap();
        assert_eq!(
            String::from_utf8(header_json).unwrap(),
            format!(
                r#"{{"alg":"{}","typ":"secevent+jwt","kid":"{}"}}"#,
                jose::alg_name(alg),
                key.kid()
            )
        );

        // And with our own verifier.
        let jwks = Jwks {
            keys: vec![key.public_jwk()],
        };
        let verified = jose::verify(&token, &jwks, &options()).unwrap();
        assert_eq!(verified.claims["jti"], "jti-1");
    }
}

#[test]
fn independently_made_tokens_verify_with_ours() {
    for alg in ALL {
        let key = SigningKey::generate(alg).unwrap();
        let payload = claims("from-josekit");
        let token = independent_token(&key, key.kid(), &payload);
        let jwks = Jwks {
            keys: vec![key.public_jwk()],
        };
        let verified = jose::verify(&token, &jwks, &options())
            .unwrap_or_else(|e| panic!("{alg:?}: we rejected an independent token: {e}"));
        // josekit accepts it too, which vouches for the hand-written PSS encoder.
        jws::deserialize_compact(&token, &*josekit_verifier(&key)).unwrap();
        assert_eq!(verified.claims["jti"], "from-josekit");
        assert_eq!(verified.header.kid.as_deref(), Some(key.kid()));
        let parsed = verified.set_claims().unwrap();
        assert_eq!(parsed.jti(), "from-josekit");
    }
}

#[test]
fn es256_signatures_are_always_64_bytes() {
    // About one ECDSA signature in 128 has an r or s below 2^248; trimming its leading
    // zero byte gives a 63-byte signature that josekit (and RFC 7518) reject.
    let key = SigningKey::generate(SigningAlg::ES256).unwrap();
    let verifier = josekit_verifier(&key);
    let jwks = Jwks {
        keys: vec![key.public_jwk()],
    };
    let mut leading_zero = 0;
    for i in 0..2000 {
        let token = key.sign_set(&claims(&format!("jti-{i}"))).unwrap();
        let signature = URL_SAFE_NO_PAD
            .decode(token.rsplit('.').next().unwrap())
            .unwrap();
        assert_eq!(signature.len(), 64, "signature {i}");
        if signature[0] == 0 || signature[32] == 0 {
            leading_zero += 1;
        }
        jws::deserialize_compact(&token, &*verifier)
            .unwrap_or_else(|e| panic!("signature {i} rejected by josekit: {e}"));
        jose::verify(&token, &jwks, &options()).unwrap();
    }
    // With 2000 signatures, P(no r or s with a zero top byte) is about 2e-14.
    assert!(leading_zero > 0, "the padding path was never exercised");
}
