//! Opening a stream's stored `authorization_header` for the push request.
//!
//! The SSF API may store it sealed under the at-rest key (`SSF_KEY_ENCRYPTION_KEY`); a sealed
//! value names its key id, so a value in clear is used as is. The opened header lives only in
//! the request being built, never in a log line or an error message.

use ssf_provider::jose::vault;

/// The header could not be opened; the message names no part of the secret.
#[derive(Debug, thiserror::Error)]
#[error("cannot open the stream's stored authorization header: {0}")]
pub struct SecretUnavailable(String);

/// The header value to send, from its stored form.
pub fn open(stored: &str) -> Result<String, SecretUnavailable> {
    match vault::sealed_key_id(stored) {
        None => Ok(stored.to_owned()),
        Some(key_id) => {
            let key_id = key_id.to_owned();
            let at_rest = vault::process_vault().map_err(|e| SecretUnavailable(e.to_owned()))?;
            vault::reveal(at_rest, stored, Some(&key_id))
                .map_err(|e| SecretUnavailable(e.to_string()))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ssf_provider::jose::KeyVault;

    #[test]
    fn clear_values_pass_through() {
        assert_eq!(open("Bearer abc").unwrap(), "Bearer abc");
    }

    #[test]
    fn sealed_values_need_the_at_rest_key() {
        // Tests run without SSF_KEY_ENCRYPTION_KEY: a sealed header cannot be opened, and the
        // error must not carry the secret.
        let vault = KeyVault::new([7u8; 32]);
        let sealed = vault.seal(b"Bearer secret").unwrap();
        let error = open(&sealed).unwrap_err().to_string();
        assert!(!error.contains("Bearer secret"), "{error}");
        assert!(!error.contains(&sealed), "{error}");
    }
}
