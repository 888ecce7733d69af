//! Per-endpoint isolation, so a receiver that is down cannot slow delivery to the others.
//!
//! Every receiver host (scheme, host, port) gets a concurrency limit and a circuit. The circuit
//! opens on a connection error, a timeout, a throttling or unavailable answer, or after a run
//! of 5xx answers. While it is open, rows for that endpoint are not sent: their next attempt is
//! moved to when the circuit half-opens, with no attempt counted and no worker slot held. Then
//! one stream probes; success closes the circuit, failure reopens it for twice as long (up to a
//! bound), or for as long as the receiver's `Retry-After` asks.
//!
//! Circuits live in the worker process: each worker learns an endpoint's health on its own.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Semaphore;

/// How the circuit of every endpoint behaves.
#[derive(Debug, Clone)]
pub struct CircuitSettings {
    pub failure_threshold: u32,
    pub min_open: Duration,
    pub max_open: Duration,
    pub concurrency: usize,
}

/// Whether a row may be sent to an endpoint now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Closed,
    /// The circuit was open; this caller tests the endpoint for everyone.
    Probe,
    /// Not before this instant (epoch ms).
    OpenUntil(i64),
}

/// One receiver host's limiter and circuit.
#[derive(Debug)]
pub struct Endpoint {
    pub permits: Arc<Semaphore>,
    circuit: Mutex<Circuit>,
    settings: CircuitSettings,
}

#[derive(Debug, Default)]
struct Circuit {
    consecutive_failures: u32,
    open_until: Option<i64>,
    open_for: Duration,
    probing: bool,
}

impl Endpoint {
    fn new(settings: CircuitSettings) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(settings.concurrency)),
            circuit: Mutex::new(Circuit {
                open_for: settings.min_open,
                ..Circuit::default()
            }),
            settings,
        }
    }

    pub fn admit(&self, now_ms: i64) -> Admission {
        let mut circuit = self.circuit.lock().unwrap_or_else(|e| e.into_inner());
        match circuit.open_until {
            None => Admission::Closed,
            Some(until) if now_ms < until => Admission::OpenUntil(until),
            // Someone is probing; the others wait one more short period.
            Some(_) if circuit.probing => {
                Admission::OpenUntil(now_ms + millis(self.settings.min_open))
            }
            Some(_) => {
                circuit.probing = true;
                Admission::Probe
            }
        }
    }

    /// The endpoint answered (a permanent rejection is an answer too).
    pub fn record_success(&self) {
        let mut circuit = self.circuit.lock().unwrap_or_else(|e| e.into_inner());
        *circuit = Circuit {
            open_for: self.settings.min_open,
            ..Circuit::default()
        };
    }

    /// A transient failure. Returns the instant the circuit stays open until, if it is open.
    pub fn record_failure(
        &self,
        now_ms: i64,
        opens_at_once: bool,
        retry_after: Option<Duration>,
    ) -> Option<i64> {
        let mut circuit = self.circuit.lock().unwrap_or_else(|e| e.into_inner());
        circuit.consecutive_failures = circuit.consecutive_failures.saturating_add(1);
        let was_probing = std::mem::take(&mut circuit.probing);
        let open = was_probing
            || opens_at_once
            || retry_after.is_some()
            || circuit.consecutive_failures >= self.settings.failure_threshold;
        if !open {
            return None;
        }
        let pause = if was_probing {
            (circuit.open_for * 2).min(self.settings.max_open)
        } else {
            circuit.open_for
        };
        circuit.open_for = pause;
        let pause = retry_after.map_or(pause, |asked| pause.max(asked.min(self.settings.max_open)));
        let until = now_ms + millis(pause);
        circuit.open_until = Some(until);
        Some(until)
    }
}

impl Endpoint {
    /// Nothing worth remembering: no stream is using it and its circuit is closed with no
    /// failure counted, so a fresh entry would behave the same.
    fn is_forgettable(self: &Arc<Self>) -> bool {
        if Arc::strong_count(self) > 1 {
            return false;
        }
        let circuit = self.circuit.lock().unwrap_or_else(|e| e.into_inner());
        circuit.open_until.is_none() && circuit.consecutive_failures == 0 && !circuit.probing
    }
}

/// Endpoints kept before the first pruning pass.
const PRUNE_AT: usize = 1024;

/// Every endpoint this worker has talked to recently.
///
/// A long-running worker meets many receiver hosts; entries that carry no state are dropped
/// whenever the map has doubled since the last pass, so memory follows the endpoints in use,
/// not every endpoint ever seen.
#[derive(Debug)]
pub struct Endpoints {
    settings: CircuitSettings,
    map: Mutex<EndpointMap>,
}

#[derive(Debug)]
struct EndpointMap {
    entries: HashMap<String, Arc<Endpoint>>,
    prune_at: usize,
}

impl Endpoints {
    pub fn new(settings: CircuitSettings) -> Self {
        Self {
            settings,
            map: Mutex::new(EndpointMap {
                entries: HashMap::new(),
                prune_at: PRUNE_AT,
            }),
        }
    }

    pub fn get(&self, endpoint_url: &str) -> Arc<Endpoint> {
        let key = endpoint_key(endpoint_url);
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        if map.entries.len() >= map.prune_at && !map.entries.contains_key(&key) {
            map.entries.retain(|_, endpoint| !endpoint.is_forgettable());
            map.prune_at = (map.entries.len() * 2).max(PRUNE_AT);
        }
        map.entries
            .entry(key)
            .or_insert_with(|| Arc::new(Endpoint::new(self.settings.clone())))
            .clone()
    }

    /// How many endpoints are remembered.
    pub fn len(&self) -> usize {
        self.map
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .entries
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// `scheme://host:port`: what connection pooling and receiver capacity are shared by.
pub fn endpoint_key(endpoint_url: &str) -> String {
    match url::Url::parse(endpoint_url) {
        Ok(url) => format!(
            "{}://{}:{}",
            url.scheme(),
            url.host_str().unwrap_or_default().to_ascii_lowercase(),
            url.port_or_known_default().unwrap_or(0)
        ),
        Err(_) => endpoint_url.to_owned(),
    }
}

fn millis(duration: Duration) -> i64 {
    i64::try_from(duration.as_millis()).unwrap_or(i64::MAX / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint() -> Endpoint {
        Endpoint::new(CircuitSettings {
            failure_threshold: 3,
            min_open: Duration::from_secs(1),
            max_open: Duration::from_secs(8),
            concurrency: 2,
        })
    }

    #[test]
    fn server_errors_open_after_the_threshold() {
        let e = endpoint();
        assert_eq!(e.record_failure(0, false, None), None);
        assert_eq!(e.record_failure(0, false, None), None);
        assert_eq!(e.admit(0), Admission::Closed);
        assert_eq!(e.record_failure(0, false, None), Some(1000));
        assert_eq!(e.admit(500), Admission::OpenUntil(1000));
    }

    #[test]
    fn success_resets_the_count() {
        let e = endpoint();
        e.record_failure(0, false, None);
        e.record_failure(0, false, None);
        e.record_success();
        assert_eq!(e.record_failure(0, false, None), None);
    }

    #[test]
    fn one_probe_after_opening_then_doubling() {
        let e = endpoint();
        assert_eq!(
            e.record_failure(0, true, None),
            Some(1000),
            "connection errors open at once"
        );
        assert_eq!(e.admit(1000), Admission::Probe);
        assert_eq!(
            e.admit(1001),
            Admission::OpenUntil(2001),
            "only one probe at a time"
        );
        assert_eq!(
            e.record_failure(1100, false, None),
            Some(3100),
            "a failed probe doubles the pause"
        );
        assert_eq!(e.admit(3100), Admission::Probe);
        assert_eq!(e.record_failure(3100, false, None), Some(7100));
        assert_eq!(e.admit(7100), Admission::Probe);
        assert_eq!(
            e.record_failure(7100, false, None),
            Some(15100),
            "capped at max_open"
        );
        assert_eq!(e.admit(15100), Admission::Probe);
        e.record_success();
        assert_eq!(e.admit(15200), Admission::Closed);
        assert_eq!(
            e.record_failure(16000, true, None),
            Some(17000),
            "a closed circuit starts again at min_open"
        );
    }

    #[test]
    fn retry_after_lengthens_the_pause() {
        let e = endpoint();
        assert_eq!(
            e.record_failure(0, false, Some(Duration::from_secs(5))),
            Some(5000)
        );
        assert_eq!(e.admit(4999), Admission::OpenUntil(5000));
    }

    #[test]
    fn endpoints_are_shared_per_host_and_port() {
        let endpoints = Endpoints::new(CircuitSettings {
            failure_threshold: 1,
            min_open: Duration::from_secs(1),
            max_open: Duration::from_secs(1),
            concurrency: 1,
        });
        let a = endpoints.get("https://Receiver.example/a");
        let b = endpoints.get("https://receiver.example:443/b");
        let c = endpoints.get("https://receiver.example:8443/a");
        assert!(Arc::ptr_eq(&a, &b));
        assert!(!Arc::ptr_eq(&a, &c));
    }

    #[test]
    fn idle_healthy_endpoints_are_forgotten_but_open_circuits_and_busy_ones_are_kept() {
        let endpoints = Endpoints::new(CircuitSettings {
            failure_threshold: 1,
            min_open: Duration::from_secs(60),
            max_open: Duration::from_secs(60),
            concurrency: 1,
        });
        let down = endpoints.get("https://down.example/");
        assert!(down.record_failure(0, true, None).is_some());
        drop(down);
        let busy = endpoints.get("https://busy.example/");
        for i in 0..PRUNE_AT + 10 {
            endpoints.get(&format!("https://r{i}.example/"));
        }
        assert!(
            endpoints.len() < PRUNE_AT,
            "idle endpoints were pruned ({} left)",
            endpoints.len()
        );
        assert_eq!(
            endpoints.get("https://down.example/").admit(1),
            Admission::OpenUntil(60_000),
            "an open circuit survives pruning"
        );
        assert!(
            Arc::ptr_eq(&busy, &endpoints.get("https://busy.example/")),
            "an endpoint in use survives pruning"
        );
    }
}
