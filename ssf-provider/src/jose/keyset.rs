//! Key rotation without breaking receivers.
//!
//! A receiver verifies a SET with the key its `kid` names, fetched from the JWKS. A SET can
//! reach a receiver long after it was signed (retries, a paused stream, a poll backlog), so
//! the key that signed it must stay published until every SET it signed has been delivered
//! or has expired. The retiring key's grace period should therefore be at least the
//! provider's event retention period.

use chrono::{DateTime, Duration, Utc};

use super::jwk::{Jwk, Jwks};
use super::{KeySetError, SigningKey};

/// A key that no longer signs but stays in the JWKS until `retire_after`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetiringKey {
    /// Only the public half: a retiring key never signs again.
    pub jwk: Jwk,
    pub retire_after: DateTime<Utc>,
}

/// One active signing key plus the retiring keys still in their grace period.
#[derive(Debug, Clone)]
pub struct KeySet {
    active: SigningKey,
    retiring: Vec<RetiringKey>,
}

impl KeySet {
    pub fn new(active: SigningKey) -> Self {
        KeySet {
            active,
            retiring: Vec::new(),
        }
    }

    /// The key that signs new SETs.
    pub fn active(&self) -> &SigningKey {
        &self.active
    }

    pub fn retiring(&self) -> &[RetiringKey] {
        &self.retiring
    }

    /// Adds a retiring key (e.g. loaded from storage).
    pub fn add_retiring(
        &mut self,
        jwk: Jwk,
        retire_after: DateTime<Utc>,
    ) -> Result<(), KeySetError> {
        let kid = jwk.kid.clone().unwrap_or_else(|| jwk.thumbprint());
        if self.contains(&kid) {
            return Err(KeySetError::DuplicateKid(kid));
        }
        self.retiring.push(RetiringKey { jwk, retire_after });
        Ok(())
    }

    /// Makes `next` the active key; the previous active key keeps being published until
    /// `now + grace`. Returns the retiring entry it created.
    pub fn rotate(
        &mut self,
        next: SigningKey,
        now: DateTime<Utc>,
        grace: Duration,
    ) -> Result<&RetiringKey, KeySetError> {
        if self.contains(next.kid()) {
            return Err(KeySetError::DuplicateKid(next.kid().to_owned()));
        }
        let previous = std::mem::replace(&mut self.active, next);
        self.retiring.push(RetiringKey {
            jwk: previous.public_jwk(),
            retire_after: now + grace,
        });
        Ok(&self.retiring[self.retiring.len() - 1])
    }

    /// The JWKS to publish at `now`: the active key first, then every retiring key whose
    /// grace period has not ended.
    pub fn published_jwks(&self, now: DateTime<Utc>) -> Jwks {
        let mut keys = Vec::with_capacity(1 + self.retiring.len());
        keys.push(self.active.public_jwk());
        keys.extend(
            self.retiring
                .iter()
                .filter(|r| r.retire_after > now)
                .map(|r| r.jwk.clone()),
        );
        Jwks { keys }
    }

    /// Forgets retiring keys whose grace period ended; returns them.
    pub fn prune(&mut self, now: DateTime<Utc>) -> Vec<RetiringKey> {
        let (expired, kept) = std::mem::take(&mut self.retiring)
            .into_iter()
            .partition(|r| r.retire_after <= now);
        self.retiring = kept;
        expired
    }

    fn contains(&self, kid: &str) -> bool {
        self.active.kid() == kid
            || self
                .retiring
                .iter()
                .any(|r| r.jwk.kid.as_deref() == Some(kid) || r.jwk.thumbprint() == kid)
    }
}
