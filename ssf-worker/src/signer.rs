//! Signing claimed rows with their provider's active key, on every core, in order.
//!
//! Keys are cached per provider for a short time (`signing_key_ttl`): a rotation is picked up
//! within it, and the key it replaces stays in the JWKS (retiring) long enough for receivers to
//! verify what was signed meanwhile.
//!
//! Signing is CPU work, so a batch is split into one chunk per core on tokio's blocking
//! threads. (Measured on 2 cores: small chunks admitted one per core, so that a stream's first
//! SETs go out while the rest are signed, delivered 10-15% fewer RS256 SETs per second: the
//! pushes then compete with the signing threads for the cores instead of taking turns with
//! them, and outcomes trickle in instead of arriving in batches.)

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ssf_provider::db::Database;
use ssf_provider::jose::SigningKey;
use ssf_provider::{providers, signing_keys};
use tokio::task::JoinHandle;

use crate::{cpu_time, metrics};

type SignedChunk = Vec<Result<String, String>>;

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

    /// Starts signing every payload with `key`, split over the cores; the tokens come out of
    /// the returned queue in input order, each as soon as its chunk is signed.
    pub fn sign_in_order(&self, key: &SigningKey, payloads: Vec<String>) -> SignedQueue {
        let chunk_size = payloads.len().div_ceil(self.parallelism).max(1);
        let mut chunks = VecDeque::new();
        let mut payloads = payloads.into_iter().peekable();
        while payloads.peek().is_some() {
            let chunk: Vec<String> = payloads.by_ref().take(chunk_size).collect();
            let key = key.clone();
            chunks.push_back(tokio::task::spawn_blocking(move || {
                let cpu_before = cpu_time::thread();
                let signed = chunk
                    .iter()
                    .map(|payload| key.sign_set(payload).map_err(|e| e.to_string()))
                    .collect::<SignedChunk>();
                let metrics = metrics::global();
                metrics
                    .signed
                    .add(signed.iter().filter(|token| token.is_ok()).count() as u64);
                if let (Some(before), Some(after)) = (cpu_before, cpu_time::thread()) {
                    let used = after.saturating_sub(before).as_nanos();
                    metrics
                        .signing_cpu_nanos
                        .add(u64::try_from(used).unwrap_or(u64::MAX));
                }
                signed
            }));
        }
        SignedQueue {
            chunks,
            ready: VecDeque::new(),
        }
    }
}

/// Tokens being signed, in the order of the payloads given to [`Signer::sign_in_order`].
pub struct SignedQueue {
    chunks: VecDeque<JoinHandle<SignedChunk>>,
    ready: VecDeque<Result<String, String>>,
}

impl SignedQueue {
    /// The next token, waiting for its chunk if need be; `None` once every payload was handed
    /// out.
    pub async fn next(&mut self) -> Option<Result<String, String>> {
        loop {
            if let Some(token) = self.ready.pop_front() {
                return Some(token);
            }
            let chunk = self.chunks.pop_front()?;
            match chunk.await {
                Ok(signed) => self.ready.extend(signed),
                Err(join) => return Some(Err(format!("signing task failed: {join}"))),
            }
        }
    }
}
