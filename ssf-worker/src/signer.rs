//! Signing claimed rows with their provider's active key, on every core.
//!
//! Keys are cached per provider for a short time (`signing_key_ttl`): a rotation is picked up
//! within it, and the key it replaces stays in the JWKS (retiring) long enough for receivers to
//! verify what was signed meanwhile. Signing is CPU work, so it runs on tokio's blocking
//! threads, split into as many chunks as there are cores.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ssf_provider::db::Database;
use ssf_provider::jose::SigningKey;
use ssf_provider::{providers, signing_keys};

/// Why a provider's key could not be had; the rows wait and are tried again.
#[derive(Debug, thiserror::Error)]
pub enum KeyUnavailable {
    #[error("provider {0} no longer exists")]
    NoProvider(String),
    #[error("{0}")]
    Key(#[from] signing_keys::SigningKeyError),
    #[error("database error reading the signing key: {0}")]
    Db(#[from] sea_orm::DbErr),
}

pub struct Signer {
    db: Database,
    ttl: Duration,
    parallelism: usize,
    cache: Mutex<HashMap<String, (SigningKey, Instant)>>,
}

impl Signer {
    pub fn new(db: Database, ttl: Duration) -> Self {
        let parallelism = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        Self {
            db,
            ttl,
            parallelism,
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// The provider's active key, from the cache while it is fresh.
    pub async fn key_for(&self, provider_id: &str) -> Result<SigningKey, KeyUnavailable> {
        if let Some((key, loaded)) = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(provider_id)
            && loaded.elapsed() < self.ttl
        {
            return Ok(key.clone());
        }
        let provider = providers::find(&self.db.orm, provider_id)
            .await?
            .ok_or_else(|| KeyUnavailable::NoProvider(provider_id.to_owned()))?;
        let key = signing_keys::active_key(&self.db.orm, &provider).await?;
        self.cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(provider_id.to_owned(), (key.clone(), Instant::now()));
        Ok(key)
    }

    /// Signs every payload with `key`, in input order, spread over the cores.
    pub async fn sign_all(
        &self,
        key: &SigningKey,
        payloads: Vec<String>,
    ) -> Vec<Result<String, String>> {
        if payloads.is_empty() {
            return Vec::new();
        }
        let total = payloads.len();
        let chunk_size = total.div_ceil(self.parallelism).max(1);
        let mut chunks = Vec::new();
        let mut payloads = payloads.into_iter().peekable();
        while payloads.peek().is_some() {
            let chunk: Vec<String> = payloads.by_ref().take(chunk_size).collect();
            let key = key.clone();
            chunks.push(tokio::task::spawn_blocking(move || {
                chunk
                    .iter()
                    .map(|payload| key.sign_set(payload).map_err(|e| e.to_string()))
                    .collect::<Vec<_>>()
            }));
        }
        let mut tokens = Vec::new();
        for chunk in chunks {
            match chunk.await {
                Ok(signed) => tokens.extend(signed),
                Err(join) => return vec![Err(format!("signing task failed: {join}")); total],
            }
        }
        tokens
    }
}
