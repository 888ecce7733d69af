//! Keys: generation, PEM import and export, JWKs and thumbprints, rotation, sealing at rest.

use chrono::{Duration, TimeZone, Utc};
use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::PKey;
use openssl::rsa::Rsa;
use openssl::symm::Cipher;
use serde_json::{Value, json};
use ssf_provider::jose::vault::{self, KEY_ENV};
use ssf_provider::jose::{
    self, JoseError, Jwk, JwkParams, Jwks, KeySet, KeySetError, KeyUse, KeyVault, SigningAlg,
    SigningKey, VaultError, VerifyError, VerifyOptions,
};

const ALL: [SigningAlg; 4] = [
    SigningAlg::RS256,
    SigningAlg::PS256,
    SigningAlg::ES256,
    SigningAlg::EdDSA,
];

#[test]
fn thumbprint_matches_rfc7638_example() {
    // RFC 7638 §3.1.
    let jwk: Jwk = serde_json::from_value(json!({
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
        "alg": "RS256",
        "kid": "2011-04-29"
    }))
    .unwrap();
    assert_eq!(
        jwk.thumbprint(),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
}

#[test]
fn generated_keys_publish_public_jwks_with_thumbprint_kids() {
    for alg in ALL {
        let key = SigningKey::generate(alg).unwrap();
        assert_eq!(key.alg(), alg);
        let jwk = key.public_jwk();
        assert_eq!(jwk.kid.as_deref(), Some(key.kid()));
        assert_eq!(
            jwk.thumbprint(),
            key.kid(),
            "{alg:?}: kid is the RFC 7638 thumbprint"
        );
        assert_eq!(jwk.alg, Some(alg));
        assert_eq!(jwk.key_use, Some(KeyUse::Signature));
        assert_eq!(key.kid().len(), 43, "base64url SHA-256");

        let json = serde_json::to_value(Jwks { keys: vec![jwk] }).unwrap();
        let published = json["keys"][0].as_object().unwrap();
        for private in ["d", "p", "q", "dp", "dq", "qi", "oth", "k"] {
            assert!(
                !published.contains_key(private),
                "{alg:?} leaks `{private}`"
            );
        }
        assert_eq!(published["use"], json!("sig"));
        assert_eq!(published["alg"], json!(jose::alg_name(alg)));
        let expected_members: &[&str] = match alg {
            SigningAlg::RS256 | SigningAlg::PS256 => &["kty", "n", "e", "use", "alg", "kid"],
            SigningAlg::ES256 => &["kty", "crv", "x", "y", "use", "alg", "kid"],
            SigningAlg::EdDSA => &["kty", "crv", "x", "use", "alg", "kid"],
        };
        let mut members: Vec<&str> = published.keys().map(String::as_str).collect();
        members.sort();
        let mut expected = expected_members.to_vec();
        expected.sort();
        assert_eq!(members, expected, "{alg:?}");
        match alg {
            SigningAlg::RS256 | SigningAlg::PS256 => {
                assert_eq!(published["e"], json!("AQAB"));
                // 2048-bit modulus: 256 bytes, 342 base64url characters.
                assert_eq!(published["n"].as_str().unwrap().len(), 342);
            }
            SigningAlg::ES256 => {
                assert_eq!(published["crv"], json!("P-256"));
                assert_eq!(published["x"].as_str().unwrap().len(), 43);
                assert_eq!(published["y"].as_str().unwrap().len(), 43);
            }
            SigningAlg::EdDSA => {
                assert_eq!(published["kty"], json!("OKP"));
                assert_eq!(published["crv"], json!("Ed25519"));
            }
        }
        // Round-trips and yields a usable public key.
        let back: Jwks = serde_json::from_value(json).unwrap();
        assert_eq!(back.keys[0], key.public_jwk());
        back.keys[0].to_public_key().unwrap();
    }
}

#[test]
fn pem_export_and_import_keep_the_key() {
    for alg in ALL {
        let key = SigningKey::generate(alg).unwrap();
        let pem = key.to_pem().unwrap();
        assert!(
            pem.starts_with("-----BEGIN PRIVATE KEY-----"),
            "{alg:?}: PKCS#8"
        );
        let again = SigningKey::from_pem(pem.as_bytes(), alg).unwrap();
        assert_eq!(again.kid(), key.kid());
        assert_eq!(again.public_jwk(), key.public_jwk());
        // A token signed by the re-imported key verifies against the original JWK.
        let claims = r#"{"iss":"i","aud":"a","jti":"j","iat":1,"sub_id":{"format":"opaque","id":"s"},"events":{}}"#;
        let token = again.sign_set(claims).unwrap();
        let options = VerifyOptions {
            issuer: "i".into(),
            audience: "a".into(),
        };
        let jwks = Jwks {
            keys: vec![key.public_jwk()],
        };
        jose::verify(&token, &jwks, &options).unwrap();
    }
}

#[test]
fn traditional_pem_is_imported() {
    let rsa_pem = Rsa::generate(2048).unwrap().private_key_to_pem().unwrap();
    assert!(String::from_utf8_lossy(&rsa_pem).starts_with("-----BEGIN RSA PRIVATE KEY-----"));
    let rsa = SigningKey::from_pem(&rsa_pem, SigningAlg::RS256).unwrap();
    assert_eq!(rsa.alg(), SigningAlg::RS256);
    SigningKey::from_pem(&rsa_pem, SigningAlg::PS256).unwrap();

    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    let ec_pem = EcKey::generate(&group)
        .unwrap()
        .private_key_to_pem()
        .unwrap();
    assert!(String::from_utf8_lossy(&ec_pem).starts_with("-----BEGIN EC PRIVATE KEY-----"));
    let ec = SigningKey::from_pem(&ec_pem, SigningAlg::ES256).unwrap();
    // Exported again as PKCS#8, it is the same key.
    let again = SigningKey::from_pem(ec.to_pem().unwrap().as_bytes(), SigningAlg::ES256).unwrap();
    assert_eq!(again.kid(), ec.kid());
}

#[test]
fn unsuitable_keys_are_refused() {
    let small = Rsa::generate(1024).unwrap().private_key_to_pem().unwrap();
    for alg in [SigningAlg::RS256, SigningAlg::PS256] {
        match SigningKey::from_pem(&small, alg) {
            Err(JoseError::KeyTooSmall {
                bits: 1024,
                min: 2048,
            }) => {}
            other => panic!("{alg:?}: expected KeyTooSmall, got {other:?}"),
        }
    }
    let ec = SigningKey::generate(SigningAlg::ES256)
        .unwrap()
        .to_pem()
        .unwrap();
    let ed = SigningKey::generate(SigningAlg::EdDSA)
        .unwrap()
        .to_pem()
        .unwrap();
    let rsa = SigningKey::generate(SigningAlg::RS256)
        .unwrap()
        .to_pem()
        .unwrap();
    let p384 = PKey::from_ec_key(
        EcKey::generate(&EcGroup::from_curve_name(Nid::SECP384R1).unwrap()).unwrap(),
    )
    .unwrap()
    .private_key_to_pem_pkcs8()
    .unwrap();
    for (pem, alg) in [
        (ec.as_bytes(), SigningAlg::RS256),
        (ed.as_bytes(), SigningAlg::ES256),
        (rsa.as_bytes(), SigningAlg::EdDSA),
        (rsa.as_bytes(), SigningAlg::ES256),
        (&p384[..], SigningAlg::ES256),
    ] {
        assert!(
            matches!(
                SigningKey::from_pem(pem, alg),
                Err(JoseError::WrongKeyType { .. })
            ),
            "{alg:?}"
        );
    }
}

#[test]
fn unreadable_pem_is_an_error_without_prompting() {
    let pkey = PKey::generate_ed25519().unwrap();
    let encrypted = pkey
        .private_key_to_pem_pkcs8_passphrase(Cipher::aes_256_cbc(), b"secret")
        .unwrap();
    let public = pkey.public_key_to_pem().unwrap();
    for pem in [&encrypted[..], &public[..], b"not a pem", b""] {
        assert!(matches!(
            SigningKey::from_pem(pem, SigningAlg::EdDSA),
            Err(JoseError::InvalidPem(_))
        ));
    }
}

#[test]
fn debug_never_shows_the_private_key() {
    for alg in ALL {
        let key = SigningKey::generate(alg).unwrap();
        let debug = format!("{key:?}");
        assert_eq!(
            debug,
            format!("SigningKey {{ alg: {alg:?}, kid: {:?}, .. }}", key.kid())
        );
    }
}

#[test]
fn one_key_signs_on_many_threads() {
    fn assert_send_sync<T: Send + Sync + Clone>() {}
    assert_send_sync::<SigningKey>();
    for alg in [SigningAlg::ES256, SigningAlg::EdDSA, SigningAlg::RS256] {
        let key = SigningKey::generate(alg).unwrap();
        let jwks = Jwks {
            keys: vec![key.public_jwk()],
        };
        let options = VerifyOptions {
            issuer: "i".into(),
            audience: "a".into(),
        };
        std::thread::scope(|scope| {
            for t in 0..4 {
                let key = key.clone();
                let (jwks, options) = (&jwks, &options);
                scope.spawn(move || {
                    for i in 0..25 {
                        let claims = format!(r#"{{"iss":"i","aud":"a","jti":"{t}-{i}"}}"#);
                        let token = key.sign_set(&claims).unwrap();
                        let verified = jose::verify(&token, jwks, options).unwrap();
                        assert_eq!(verified.claims["jti"], json!(format!("{t}-{i}")));
                    }
                });
            }
        });
    }
}

#[test]
fn jwks_parsing_skips_keys_it_cannot_use() {
    let key = SigningKey::generate(SigningAlg::ES256).unwrap();
    let mut keys = vec![
        json!({"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"}),
        json!({"kty": "EC", "crv": "P-384", "x": "AA", "y": "AA", "kid": "p384"}),
        json!({"kty": "RSA", "n": "AQAB", "e": "AQAB", "alg": "RS384", "kid": "rs384"}),
        json!({"kty": "RSA", "kid": "incomplete"}),
    ];
    keys.push(serde_json::to_value(key.public_jwk()).unwrap());
    let jwks: Jwks = serde_json::from_value(json!({ "keys": keys })).unwrap();
    assert_eq!(jwks.keys, vec![key.public_jwk()]);
    assert!(jwks.find(key.kid()).is_some());
    assert!(jwks.find("hmac").is_none());

    // A JWK that carries private members is read as its public part only.
    let with_d: Jwk = serde_json::from_value(json!({
        "kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
        "d": "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
    }))
    .unwrap();
    assert!(!serde_json::to_string(&with_d).unwrap().contains("\"d\""));
    assert!(matches!(with_d.params, JwkParams::Okp { .. }));
}

#[test]
fn malformed_public_jwks_are_refused() {
    let bad: Vec<Value> = vec![
        json!({"kty": "EC", "crv": "P-256", "x": "AAAA", "y": "AAAA"}),
        // 32-byte coordinates, but not a point on the curve.
        json!({"kty": "EC", "crv": "P-256",
            "x": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE",
            "y": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE"}),
        json!({"kty": "OKP", "crv": "Ed25519", "x": "AAAA"}),
        json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"}),
        json!({"kty": "RSA", "n": "not base64!", "e": "AQAB"}),
    ];
    for value in bad {
        let jwk: Jwk = serde_json::from_value(value.clone()).unwrap();
        assert!(jwk.to_public_key().is_err(), "{value}");
    }
}

fn at(hour: u32) -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 1, 1, hour, 0, 0).unwrap()
}

fn kids(jwks: &Jwks) -> Vec<String> {
    jwks.keys.iter().filter_map(|k| k.kid.clone()).collect()
}

#[test]
fn rotation_keeps_the_old_key_published_through_its_grace_period() {
    let first = SigningKey::generate(SigningAlg::RS256).unwrap();
    let second = SigningKey::generate(SigningAlg::RS256).unwrap();
    let mut keys = KeySet::new(first.clone());
    assert_eq!(kids(&keys.published_jwks(at(0))), [first.kid()]);

    let old_token = first.sign_set(r#"{"iss":"i","aud":"a"}"#).unwrap();
    let retiring = keys
        .rotate(second.clone(), at(1), Duration::hours(2))
        .unwrap();
    assert_eq!(retiring.retire_after, at(3));
    assert_eq!(keys.active().kid(), second.kid());

    let options = VerifyOptions {
        issuer: "i".into(),
        audience: "a".into(),
    };
    // During the grace period both keys are published, active first.
    let during = keys.published_jwks(at(2));
    assert_eq!(kids(&during), [second.kid(), first.kid()]);
    jose::verify(&old_token, &during, &options).unwrap();
    let new_token = keys.active().sign_set(r#"{"iss":"i","aud":"a"}"#).unwrap();
    jose::verify(&new_token, &during, &options).unwrap();

    // At and after the end of the grace period, only the active key remains.
    let after = keys.published_jwks(at(3));
    assert_eq!(kids(&after), [second.kid()]);
    assert!(matches!(
        jose::verify(&old_token, &after, &options),
        Err(VerifyError::UnknownKid(_))
    ));
    assert_eq!(keys.retiring().len(), 1);
    let pruned = keys.prune(at(3));
    assert_eq!(pruned.len(), 1);
    assert!(keys.retiring().is_empty());
}

#[test]
fn key_set_refuses_duplicates_and_loads_retiring_keys() {
    let active = SigningKey::generate(SigningAlg::ES256).unwrap();
    let old = SigningKey::generate(SigningAlg::ES256).unwrap();
    let mut keys = KeySet::new(active.clone());
    assert!(matches!(
        keys.rotate(active.clone(), at(0), Duration::hours(1)),
        Err(KeySetError::DuplicateKid(_))
    ));
    keys.add_retiring(old.public_jwk(), at(5)).unwrap();
    assert!(matches!(
        keys.add_retiring(old.public_jwk(), at(6)),
        Err(KeySetError::DuplicateKid(_))
    ));
    assert_eq!(kids(&keys.published_jwks(at(4))), [active.kid(), old.kid()]);
    assert_eq!(kids(&keys.published_jwks(at(5))), [active.kid()]);
}

#[test]
fn vault_seals_and_unseals() {
    let key = KeyVault::generate_key().unwrap();
    let vault = KeyVault::from_base64(&key).unwrap();
    let pem = SigningKey::generate(SigningAlg::EdDSA)
        .unwrap()
        .to_pem()
        .unwrap();
    let sealed = vault.seal(pem.as_bytes()).unwrap();
    let parts: Vec<&str> = sealed.split('.').collect();
    assert_eq!(parts.len(), 3);
    assert_eq!(parts[0], "v1");
    assert_eq!(parts[1], vault.key_id());
    assert!(!sealed.contains("PRIVATE"));
    assert_eq!(vault.unseal_string(&sealed).unwrap(), pem);
    // A fresh nonce each time.
    assert_ne!(vault.seal(pem.as_bytes()).unwrap(), sealed);
    // The key id depends only on the key.
    assert_eq!(
        KeyVault::from_base64(&key).unwrap().key_id(),
        vault.key_id()
    );
    assert!(!format!("{vault:?}").contains(&key));
}

#[test]
fn vault_rejects_wrong_keys_and_tampering() {
    let vault = KeyVault::new([7u8; 32]);
    let other = KeyVault::new([8u8; 32]);
    let sealed = vault.seal(b"-----BEGIN PRIVATE KEY-----").unwrap();
    match other.unseal(&sealed) {
        Err(VaultError::UnknownKeyId(id)) => assert_eq!(id, vault.key_id()),
        other => panic!("expected UnknownKeyId, got {other:?}"),
    }
    let err = other.unseal(&sealed).unwrap_err().to_string();
    assert!(
        err.contains(KEY_ENV),
        "the error tells the operator what to set: {err}"
    );

    // Flip one bit of the ciphertext.
    let (head, blob) = sealed.rsplit_once('.').unwrap();
    let mut bytes =
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, blob).unwrap();
    bytes[14] ^= 1;
    let tampered = format!(
        "{head}.{}",
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, bytes)
    );
    assert!(matches!(vault.unseal(&tampered), Err(VaultError::Decrypt)));

    // The key id is authenticated: relabelling the envelope does not work either.
    let impostor = KeyVault::new([7u8; 32]).with_previous_base64(&base64::Engine::encode(
        &base64::engine::general_purpose::STANDARD,
        [8u8; 32],
    ));
    let impostor = impostor.unwrap();
    let relabelled = sealed.replacen(vault.key_id(), other.key_id(), 1);
    assert!(matches!(
        impostor.unseal(&relabelled),
        Err(VaultError::Decrypt)
    ));

    for malformed in [
        "",
        "v1",
        "v1..abc",
        "v2.x.y",
        "v1.id.!!!",
        "v1.id.AAAA",
        "plain pem",
    ] {
        assert!(matches!(
            vault.unseal(malformed),
            Err(VaultError::Malformed) | Err(VaultError::UnknownKeyId(_))
        ));
    }
    for bad_key in ["", "c2hvcnQ=", "not base64 at all!"] {
        assert!(matches!(
            KeyVault::from_base64(bad_key),
            Err(VaultError::InvalidKey)
        ));
    }
}

#[test]
fn vault_rotation_opens_old_values_and_flags_them_for_resealing() {
    let old_key = KeyVault::generate_key().unwrap();
    let new_key = KeyVault::generate_key().unwrap();
    let old = KeyVault::from_base64(&old_key).unwrap();
    let sealed_old = old.seal(b"secret").unwrap();

    let rotated = KeyVault::from_base64(&new_key)
        .unwrap()
        .with_previous_base64(&old_key)
        .unwrap();
    assert_eq!(rotated.unseal(&sealed_old).unwrap(), b"secret");
    assert!(rotated.needs_reseal(&sealed_old));
    let resealed = rotated.seal(b"secret").unwrap();
    assert!(!rotated.needs_reseal(&resealed));
    assert_eq!(vault::sealed_key_id(&resealed), Some(rotated.key_id()));
    assert!(matches!(
        old.unseal(&resealed),
        Err(VaultError::UnknownKeyId(_))
    ));
}

#[test]
fn protect_and_reveal_with_and_without_a_vault() {
    let pem = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIA==\n-----END PRIVATE KEY-----\n";
    let clear = vault::protect(None, pem).unwrap();
    assert_eq!(clear.key_id, None);
    assert_eq!(clear.value, pem);
    assert!(!format!("{clear:?}").contains("PRIVATE"));
    assert_eq!(vault::reveal(None, &clear.value, None).unwrap(), pem);

    let v = KeyVault::new([1u8; 32]);
    let sealed = vault::protect(Some(&v), pem).unwrap();
    assert_eq!(sealed.key_id.as_deref(), Some(v.key_id()));
    assert_ne!(sealed.value, pem);
    assert_eq!(
        vault::reveal(Some(&v), &sealed.value, sealed.key_id.as_deref()).unwrap(),
        pem
    );
    assert!(matches!(
        vault::reveal(None, &sealed.value, sealed.key_id.as_deref()),
        Err(VaultError::NoKeyConfigured)
    ));
    // The stored key id must agree with the envelope's.
    assert!(matches!(
        vault::reveal(Some(&v), &sealed.value, Some("someone-else")),
        Err(VaultError::Malformed)
    ));
}
