//! `jose::verify` rejects every kind of bad token, each with its own error.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use josekit::jws::{self, JwsHeader, JwsSigner};
use serde_json::{Value, json};
use ssf_provider::jose::{
    self, DecodeError, HeaderAlg, Jwks, SigningAlg, SigningKey, VerifyError, VerifyOptions,
};

const ISSUER: &str = "https://idp.example.com/";
const AUDIENCE: &str = "https://rp.example.com/";

fn claims() -> Value {
    json!({
        "iss": ISSUER,
        "jti": "j1",
        "iat": 1_700_000_000,
        "aud": AUDIENCE,
        "sub_id": {"format": "opaque", "id": "stream-1"},
        "events": {"https://schemas.openid.net/secevent/ssf/event-type/verification": {"state": "s"}}
    })
}

fn options() -> VerifyOptions {
    VerifyOptions {
        issuer: ISSUER.into(),
        audience: AUDIENCE.into(),
    }
}

fn jwks(keys: &[&SigningKey]) -> Jwks {
    Jwks {
        keys: keys.iter().map(|k| k.public_jwk()).collect(),
    }
}

fn b64(bytes: impl AsRef<[u8]>) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Signs `payload` under an arbitrary header with josekit, using `key`'s private key.
fn josekit_token(signer: &dyn JwsSigner, header: &JwsHeader, payload: &Value) -> String {
    jws::serialize_compact(payload.to_string().as_bytes(), header, signer).unwrap()
}

fn header(typ: Option<&str>, kid: Option<&str>) -> JwsHeader {
    let mut header = JwsHeader::new();
    if let Some(typ) = typ {
        header.set_token_type(typ);
    }
    if let Some(kid) = kid {
        header.set_key_id(kid);
    }
    header
}

fn es256_signer(key: &SigningKey) -> impl JwsSigner {
    jws::ES256.signer_from_pem(key.to_pem().unwrap()).unwrap()
}

#[test]
fn a_good_token_verifies() {
    let key = SigningKey::generate(SigningAlg::ES256).unwrap();
    let token = key.sign_set(&claims().to_string()).unwrap();
    let verified = jose::verify(&token, &jwks(&[&key]), &options()).unwrap();
    assert_eq!(verified.header.alg, HeaderAlg::Signing(SigningAlg::ES256));
    assert_eq!(verified.claims, claims());
}

#[test]
fn tampered_tokens_are_rejected() {
    for alg in [
        SigningAlg::RS256,
        SigningAlg::PS256,
        SigningAlg::ES256,
        SigningAlg::EdDSA,
    ] {
        let key = SigningKey::generate(alg).unwrap();
        let keys = jwks(&[&key]);
        let token = key.sign_set(&claims().to_string()).unwrap();
        let parts: Vec<&str> = token.split('.').collect();

        let mut forged = claims();
        forged["iss"] = json!("https://idp.example.com/");
        forged["jti"] = json!("j2");
        let swapped_payload = format!("{}.{}.{}", parts[0], b64(forged.to_string()), parts[2]);
        assert!(
            matches!(
                jose::verify(&swapped_payload, &keys, &options()),
                Err(VerifyError::BadSignature)
            ),
            "{alg:?}: payload swap"
        );

        let mut signature = URL_SAFE_NO_PAD.decode(parts[2]).unwrap();
        signature[10] ^= 0x01;
        let flipped = format!("{}.{}.{}", parts[0], parts[1], b64(&signature));
        assert!(
            matches!(
                jose::verify(&flipped, &keys, &options()),
                Err(VerifyError::BadSignature)
            ),
            "{alg:?}: flipped signature bit"
        );

        let truncated = format!(
            "{}.{}.{}",
            parts[0],
            parts[1],
            b64(&signature[..signature.len() - 1])
        );
        assert!(
            matches!(
                jose::verify(&truncated, &keys, &options()),
                Err(VerifyError::BadSignature)
            ),
            "{alg:?}: truncated signature"
        );
    }
}

#[test]
fn alg_none_is_rejected() {
    let key = SigningKey::generate(SigningAlg::RS256).unwrap();
    let unsecured = format!(
        "{}.{}.",
        b64(json!({"alg": "none", "typ": "secevent+jwt", "kid": key.kid()}).to_string()),
        b64(claims().to_string())
    );
    assert!(matches!(
        jose::verify(&unsecured, &jwks(&[&key]), &options()),
        Err(VerifyError::AlgNone)
    ));
}

#[test]
fn hs256_with_the_public_key_as_secret_is_rejected() {
    let key = SigningKey::generate(SigningAlg::RS256).unwrap();
    // The classic confusion attack: HMAC keyed with the published key material.
    let secret = serde_json::to_vec(&key.public_jwk()).unwrap();
    let signer = jws::HS256.signer_from_bytes(&secret).unwrap();
    let token = josekit_token(
        &signer,
        &header(Some("secevent+jwt"), Some(key.kid())),
        &claims(),
    );
    match jose::verify(&token, &jwks(&[&key]), &options()) {
        Err(VerifyError::UnsupportedAlgorithm(alg)) => assert_eq!(alg, "HS256"),
        other => panic!("expected UnsupportedAlgorithm, got {other:?}"),
    }
}

#[test]
fn an_algorithm_other_than_the_keys_is_rejected() {
    let ec_key = SigningKey::generate(SigningAlg::ES256).unwrap();
    let rsa_key = SigningKey::generate(SigningAlg::RS256).unwrap();

    // An RS256 token whose kid names the ES256 key.
    let rs_signer = jws::RS256
        .signer_from_pem(rsa_key.to_pem().unwrap())
        .unwrap();
    let token = josekit_token(
        &rs_signer,
        &header(Some("secevent+jwt"), Some(ec_key.kid())),
        &claims(),
    );
    let keys = jwks(&[&ec_key, &rsa_key]);
    assert!(matches!(
        jose::verify(&token, &keys, &options()),
        Err(VerifyError::AlgorithmMismatch {
            header: SigningAlg::RS256,
            ..
        })
    ));

    // Without `alg` in the JWK, the key type still decides.
    let mut no_alg = keys.clone();
    for jwk in &mut no_alg.keys {
        jwk.alg = None;
    }
    assert!(matches!(
        jose::verify(&token, &no_alg, &options()),
        Err(VerifyError::AlgorithmMismatch {
            header: SigningAlg::RS256,
            ..
        })
    ));

    // PS256 on a key published for RS256: same key type, different algorithm. The check
    // happens before the signature is looked at, so any signature bytes will do.
    let token = format!(
        "{}.{}.{}",
        b64(json!({"alg": "PS256", "typ": "secevent+jwt", "kid": rsa_key.kid()}).to_string()),
        b64(claims().to_string()),
        b64([7u8; 256])
    );
    assert!(matches!(
        jose::verify(&token, &keys, &options()),
        Err(VerifyError::AlgorithmMismatch {
            header: SigningAlg::PS256,
            ..
        })
    ));
}

#[test]
fn unknown_or_missing_kid_is_rejected() {
    let key = SigningKey::generate(SigningAlg::ES256).unwrap();
    let other = SigningKey::generate(SigningAlg::ES256).unwrap();
    let token = key.sign_set(&claims().to_string()).unwrap();
    match jose::verify(&token, &jwks(&[&other]), &options()) {
        Err(VerifyError::UnknownKid(kid)) => assert_eq!(kid, key.kid()),
        other => panic!("expected UnknownKid, got {other:?}"),
    }
    let no_kid = josekit_token(
        &es256_signer(&key),
        &header(Some("secevent+jwt"), None),
        &claims(),
    );
    assert!(matches!(
        jose::verify(&no_kid, &jwks(&[&key]), &options()),
        Err(VerifyError::MissingKid)
    ));
}

#[test]
fn typ_must_be_secevent_jwt() {
    let key = SigningKey::generate(SigningAlg::ES256).unwrap();
    let keys = jwks(&[&key]);
    let signer = es256_signer(&key);
    for (typ, ok) in [
        (Some("secevent+jwt"), true),
        (Some("application/secevent+jwt"), true),
        (Some("SecEvent+JWT"), true),
        (Some("JWT"), false),
        (Some("at+jwt"), false),
        (None, false),
    ] {
        let token = josekit_token(&signer, &header(typ, Some(key.kid())), &claims());
        let result = jose::verify(&token, &keys, &options());
        if ok {
            assert!(result.is_ok(), "{typ:?}: {result:?}");
        } else {
            match result {
                Err(VerifyError::WrongType(found)) => assert_eq!(found.as_deref(), typ),
                other => panic!("{typ:?}: expected WrongType, got {other:?}"),
            }
        }
    }
}

#[test]
fn critical_extensions_are_rejected() {
    let key = SigningKey::generate(SigningAlg::ES256).unwrap();
    let mut h = header(Some("secevent+jwt"), Some(key.kid()));
    h.set_critical(&vec!["x-ext"]);
    h.set_claim("x-ext", Some(json!(1))).unwrap();
    let token = josekit_token(&es256_signer(&key), &h, &claims());
    assert!(matches!(
        jose::verify(&token, &jwks(&[&key]), &options()),
        Err(VerifyError::UnsupportedCritical(_))
    ));
}

#[test]
fn issuer_and_audience_must_match() {
    let key = SigningKey::generate(SigningAlg::EdDSA).unwrap();
    let keys = jwks(&[&key]);
    let sign = |claims: Value| key.sign_set(&claims.to_string()).unwrap();

    let mut wrong_iss = claims();
    wrong_iss["iss"] = json!("https://evil.example.com/");
    match jose::verify(&sign(wrong_iss), &keys, &options()) {
        Err(VerifyError::WrongIssuer { found, .. }) => {
            assert_eq!(found.as_deref(), Some("https://evil.example.com/"))
        }
        other => panic!("expected WrongIssuer, got {other:?}"),
    }
    let mut no_iss = claims();
    no_iss.as_object_mut().unwrap().remove("iss");
    assert!(matches!(
        jose::verify(&sign(no_iss), &keys, &options()),
        Err(VerifyError::WrongIssuer { found: None, .. })
    ));

    let mut wrong_aud = claims();
    wrong_aud["aud"] = json!("https://other-rp.example.com/");
    assert!(matches!(
        jose::verify(&sign(wrong_aud), &keys, &options()),
        Err(VerifyError::WrongAudience { .. })
    ));
    let mut aud_array = claims();
    aud_array["aud"] = json!(["https://other-rp.example.com/", AUDIENCE]);
    assert!(jose::verify(&sign(aud_array), &keys, &options()).is_ok());
    let mut aud_array_without = claims();
    aud_array_without["aud"] = json!(["https://other-rp.example.com/"]);
    assert!(matches!(
        jose::verify(&sign(aud_array_without), &keys, &options()),
        Err(VerifyError::WrongAudience { .. })
    ));
}

#[test]
fn sub_and_exp_are_rejected_even_when_signed() {
    let key = SigningKey::generate(SigningAlg::EdDSA).unwrap();
    let keys = jwks(&[&key]);
    for claim in ["sub", "exp"] {
        let mut c = claims();
        c[claim] = json!(1);
        let token = key.sign_set(&c.to_string()).unwrap();
        match jose::verify(&token, &keys, &options()) {
            Err(VerifyError::ForbiddenClaim(name)) => assert_eq!(name, claim),
            other => panic!("{claim}: expected ForbiddenClaim, got {other:?}"),
        }
    }
}

#[test]
fn es256_der_signatures_are_rejected() {
    let key = SigningKey::generate(SigningAlg::ES256).unwrap();
    let token = key.sign_set(&claims().to_string()).unwrap();
    let (signed, _) = token.rsplit_once('.').unwrap();
    // A valid ECDSA signature, but DER-encoded as openssl produces it, not JOSE's r||s.
    let pkey = openssl::pkey::PKey::private_key_from_pem(key.to_pem().unwrap().as_bytes()).unwrap();
    let mut signer =
        openssl::sign::Signer::new(openssl::hash::MessageDigest::sha256(), &pkey).unwrap();
    let der = signer.sign_oneshot_to_vec(signed.as_bytes()).unwrap();
    let der_token = format!("{signed}.{}", b64(der));
    assert!(matches!(
        jose::verify(&der_token, &jwks(&[&key]), &options()),
        Err(VerifyError::BadSignature)
    ));
}

#[test]
fn malformed_tokens_are_errors_not_panics() {
    let key = SigningKey::generate(SigningAlg::ES256).unwrap();
    let keys = jwks(&[&key]);
    for token in [
        "",
        "abc",
        "a.b",
        "a.b.c.d",
        "!!!.e30.",
        "e30.e30.",
        "bm90IGpzb24.e30.",
        "...",
    ] {
        assert!(
            matches!(
                jose::verify(token, &keys, &options()),
                Err(VerifyError::Malformed(_))
            ),
            "{token:?}: {:?}",
            jose::verify(token, &keys, &options())
        );
    }
    assert!(matches!(
        jose::decode_header("a.b"),
        Err(DecodeError::NotCompact)
    ));
    assert!(matches!(
        jose::decode_header("%%.e30.x"),
        Err(DecodeError::Base64("header"))
    ));
    let token = key.sign_set(&claims().to_string()).unwrap();
    let (head, _) = token.split_once('.').unwrap();
    assert!(matches!(
        jose::verify(
            &format!("{head}.{}.@@@", b64(claims().to_string())),
            &keys,
            &options()
        ),
        Err(VerifyError::Malformed(DecodeError::Base64("signature")))
    ));
}

#[test]
fn decode_helpers_read_without_verifying() {
    let key = SigningKey::generate(SigningAlg::PS256).unwrap();
    let token = key.sign_set(&claims().to_string()).unwrap();
    let header = jose::decode_header(&token).unwrap();
    assert_eq!(header.alg, HeaderAlg::Signing(SigningAlg::PS256));
    assert_eq!(header.typ.as_deref(), Some("secevent+jwt"));
    assert_eq!(header.kid.as_deref(), Some(key.kid()));
    assert_eq!(jose::decode_claims_unverified(&token).unwrap(), claims());
    let not_object = format!("{}.{}.", b64("{}"), b64("[1,2]"));
    assert!(jose::decode_claims_unverified(&not_object).is_err());
}
