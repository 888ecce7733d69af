//! Private keys at rest, sealed with AES-256-GCM under an operator-held key.
//!
//! A sealed value reads `v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`. The key id is
//! derived from the at-rest key itself, so configuring the key is all it takes to name it,
//! and a value sealed under an old key says which key opens it: the operator rotates by
//! moving the old key to `SSF_KEY_ENCRYPTION_KEY_PREVIOUS`, setting a new
//! `SSF_KEY_ENCRYPTION_KEY`, and resealing at leisure (see [`KeyVault::needs_reseal`]).
//! The version and key id are authenticated as associated data, so they cannot be swapped.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use openssl::symm::{Cipher, decrypt_aead, encrypt_aead};

use super::VaultError;

/// Environment variable holding the current at-rest key: 32 bytes, base64.
pub const KEY_ENV: &str = "SSF_KEY_ENCRYPTION_KEY";
/// Environment variable holding earlier at-rest keys, comma-separated, for unsealing only.
pub const PREVIOUS_KEYS_ENV: &str = "SSF_KEY_ENCRYPTION_KEY_PREVIOUS";

const VERSION: &str = "v1";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;

/// Seals and unseals secrets (private key PEM) with AES-256-GCM.
///
/// `Debug` shows key ids only.
pub struct KeyVault {
    current: AtRestKey,
    previous: Vec<AtRestKey>,
}

struct AtRestKey {
    id: String,
    key: [u8; 32],
}

impl Drop for AtRestKey {
    fn drop(&mut self) {
        self.key.fill(0);
        // Keeps the compiler from eliding the wipe of memory about to be freed.
        std::hint::black_box(&self.key);
    }
}

impl AtRestKey {
    fn new(key: [u8; 32]) -> Self {
        let mut input = b"ssf at-rest key id\0".to_vec();
        input.extend_from_slice(&key);
        let digest = openssl::sha::sha256(&input);
        input.fill(0);
        AtRestKey {
            id: URL_SAFE_NO_PAD.encode(&digest[..9]),
            key,
        }
    }

    fn from_base64(b64: &str) -> Result<Self, VaultError> {
        let lenient =
            GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
        let b64 = b64.trim();
        let mut bytes = GeneralPurpose::new(&base64::alphabet::STANDARD, lenient)
            .decode(b64)
            .or_else(|_| GeneralPurpose::new(&base64::alphabet::URL_SAFE, lenient).decode(b64))
            .map_err(|_| VaultError::InvalidKey)?;
        let key: Result<[u8; 32], _> = bytes.as_slice().try_into();
        bytes.fill(0);
        Ok(AtRestKey::new(key.map_err(|_| VaultError::InvalidKey)?))
    }
}

impl KeyVault {
    pub fn new(key: [u8; 32]) -> Self {
        KeyVault {
            current: AtRestKey::new(key),
            previous: Vec::new(),
        }
    }

    /// A vault whose current key is `b64` (32 bytes, standard or URL-safe base64).
    pub fn from_base64(b64: &str) -> Result<Self, VaultError> {
        Ok(KeyVault {
            current: AtRestKey::from_base64(b64)?,
            previous: Vec::new(),
        })
    }

    /// Also accepts values sealed under `b64`, an earlier at-rest key.
    pub fn with_previous_base64(mut self, b64: &str) -> Result<Self, VaultError> {
        self.previous.push(AtRestKey::from_base64(b64)?);
        Ok(self)
    }

    /// The vault configured by `SSF_KEY_ENCRYPTION_KEY` (and `SSF_KEY_ENCRYPTION_KEY_PREVIOUS`),
    /// or `None` when no key is set: secrets are then stored in clear, and the caller should
    /// warn the operator once.
    pub fn from_env() -> Result<Option<Self>, VaultError> {
        let current = match std::env::var(KEY_ENV) {
            Ok(value) if !value.trim().is_empty() => value,
            Ok(_) | Err(std::env::VarError::NotPresent) => return Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => return Err(VaultError::InvalidKey),
        };
        let mut vault = KeyVault::from_base64(&current)?;
        let previous = match std::env::var(PREVIOUS_KEYS_ENV) {
            Ok(previous) => previous,
            Err(std::env::VarError::NotPresent) => String::new(),
            Err(std::env::VarError::NotUnicode(_)) => return Err(VaultError::InvalidKey),
        };
        for key in previous.split(',').filter(|k| !k.trim().is_empty()) {
            vault = vault.with_previous_base64(key)?;
        }
        Ok(Some(vault))
    }

    /// A fresh random at-rest key, base64, for an operator to put in `SSF_KEY_ENCRYPTION_KEY`.
    pub fn generate_key() -> Result<String, VaultError> {
        let mut key = [0u8; 32];
        openssl::rand::rand_bytes(&mut key)?;
        let encoded = STANDARD.encode(key);
        key.fill(0);
        Ok(encoded)
    }

    /// Id of the current at-rest key, stored beside each sealed value.
    pub fn key_id(&self) -> &str {
        &self.current.id
    }

    /// Encrypts `plaintext` under the current key with a fresh random nonce.
    pub fn seal(&self, plaintext: &[u8]) -> Result<String, VaultError> {
        let mut nonce = [0u8; NONCE_LEN];
        openssl::rand::rand_bytes(&mut nonce)?;
        let aad = associated_data(&self.current.id);
        let mut tag = [0u8; TAG_LEN];
        let ciphertext = encrypt_aead(
            Cipher::aes_256_gcm(),
            &self.current.key,
            Some(&nonce),
            aad.as_bytes(),
            plaintext,
            &mut tag,
        )?;
        let mut blob = Vec::with_capacity(NONCE_LEN + ciphertext.len() + TAG_LEN);
        blob.extend_from_slice(&nonce);
        blob.extend_from_slice(&ciphertext);
        blob.extend_from_slice(&tag);
        Ok(format!("{aad}.{}", URL_SAFE_NO_PAD.encode(blob)))
    }

    /// Decrypts a value made by [`seal`](Self::seal) under the current or a previous key.
    pub fn unseal(&self, sealed: &str) -> Result<Vec<u8>, VaultError> {
        let (key_id, blob) = parse(sealed)?;
        let key = std::iter::once(&self.current)
            .chain(&self.previous)
            .find(|k| k.id == key_id)
            .ok_or_else(|| VaultError::UnknownKeyId(key_id.to_owned()))?;
        let blob = URL_SAFE_NO_PAD
            .decode(blob)
            .map_err(|_| VaultError::Malformed)?;
        if blob.len() < NONCE_LEN + TAG_LEN {
            return Err(VaultError::Malformed);
        }
        let (nonce, rest) = blob.split_at(NONCE_LEN);
        let (ciphertext, tag) = rest.split_at(rest.len() - TAG_LEN);
        decrypt_aead(
            Cipher::aes_256_gcm(),
            &key.key,
            Some(nonce),
            associated_data(key_id).as_bytes(),
            ciphertext,
            tag,
        )
        .map_err(|_| VaultError::Decrypt)
    }

    /// [`unseal`](Self::unseal) for text secrets such as PEM.
    pub fn unseal_string(&self, sealed: &str) -> Result<String, VaultError> {
        String::from_utf8(self.unseal(sealed)?).map_err(|_| VaultError::NotUtf8)
    }

    /// Whether `sealed` was sealed under an earlier key and should be sealed again.
    pub fn needs_reseal(&self, sealed: &str) -> bool {
        sealed_key_id(sealed).is_some_and(|id| id != self.current.id)
    }
}

impl fmt::Debug for KeyVault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyVault")
            .field("key_id", &self.current.id)
            .field(
                "previous_key_ids",
                &self
                    .previous
                    .iter()
                    .map(|k| k.id.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

fn associated_data(key_id: &str) -> String {
    format!("{VERSION}.{key_id}")
}

fn parse(sealed: &str) -> Result<(&str, &str), VaultError> {
    let mut parts = sealed.split('.');
    match (parts.next(), parts.next(), parts.next(), parts.next()) {
        (Some(VERSION), Some(key_id), Some(blob), None) if !key_id.is_empty() => Ok((key_id, blob)),
        _ => Err(VaultError::Malformed),
    }
}

/// The at-rest key id of a sealed value, or `None` if it is not sealed.
pub fn sealed_key_id(stored: &str) -> Option<&str> {
    parse(stored).ok().map(|(key_id, _)| key_id)
}

/// A secret as it goes into storage: sealed (with the key id to store beside it) or, when
/// no at-rest key is configured, in clear. `Debug` never shows the value.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredSecret {
    pub value: String,
    /// `None` means `value` is the clear secret.
    pub key_id: Option<String>,
}

impl fmt::Debug for StoredSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredSecret")
            .field("value", &"<redacted>")
            .field("key_id", &self.key_id)
            .finish()
    }
}

/// Prepares a secret for storage: sealed when a vault is configured, in clear otherwise.
pub fn protect(vault: Option<&KeyVault>, secret: &str) -> Result<StoredSecret, VaultError> {
    match vault {
        Some(vault) => Ok(StoredSecret {
            value: vault.seal(secret.as_bytes())?,
            key_id: Some(vault.key_id().to_owned()),
        }),
        None => Ok(StoredSecret {
            value: secret.to_owned(),
            key_id: None,
        }),
    }
}

/// Recovers a stored secret. `key_id` is the id stored beside it (`None`: stored in clear).
pub fn reveal(
    vault: Option<&KeyVault>,
    stored: &str,
    key_id: Option<&str>,
) -> Result<String, VaultError> {
    match (key_id, vault) {
        (None, _) => Ok(stored.to_owned()),
        (Some(_), None) => Err(VaultError::NoKeyConfigured),
        (Some(id), Some(vault)) => {
            // The envelope carries its own key id; a mismatch means the row was tampered with.
            if sealed_key_id(stored) != Some(id) {
                return Err(VaultError::Malformed);
            }
            vault.unseal_string(stored)
        }
    }
}

/// The process's at-rest key: [`KeyVault::from_env`], read once and kept for the life of the
/// process. Everything that seals or opens secrets (signing keys, receivers' authorization
/// headers) goes through it, so they can never disagree about the key. The error is the
/// configuration problem, as a message.
pub fn process_vault() -> Result<Option<&'static KeyVault>, &'static str> {
    static VAULT: std::sync::OnceLock<Result<Option<KeyVault>, String>> =
        std::sync::OnceLock::new();
    match VAULT.get_or_init(|| KeyVault::from_env().map_err(|e| e.to_string())) {
        Ok(vault) => Ok(vault.as_ref()),
        Err(reason) => Err(reason.as_str()),
    }
}
