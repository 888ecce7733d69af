//! [`WorkerConfig`]: every knob of the delivery worker, with defaults fit for production and
//! `from_env()` for the program. Tests build one by hand with a millisecond retry schedule.

use std::str::FromStr;
use std::time::Duration;

use ipnet::IpNet;

use crate::retry_policy::RetryPolicy;

/// Tuning of the delivery worker. `Default` is the production configuration.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Unique per process: leases and attempt rows name it. Two processes must never share one.
    pub worker_name: String,
    /// Attempts per event, the first included (`SSF_MAX_ATTEMPTS`, default 8).
    pub max_attempts: u32,
    /// Wait before the first retry (`SSF_RETRY_MIN_BACKOFF`, default 5s).
    pub retry_min_backoff: Duration,
    /// Longest wait between two attempts (`SSF_RETRY_MAX_BACKOFF`, default 10h). A receiver's
    /// `Retry-After` is honoured up to this bound.
    pub retry_max_backoff: Duration,
    /// Each wait is multiplied by a random factor in `1 ± retry_jitter` (default 0.2).
    pub retry_jitter: f64,
    /// Rows of one stream taken, signed and sent per batch (`SSF_DELIVERY_BATCH`, default 512).
    pub batch_size: u32,
    /// How long a claimed stream stays reserved for this worker after each batch
    /// (`SSF_DELIVERY_LEASE`, default 60s).
    /// A killed worker's rows are claimed again once it runs out.
    pub lease: Duration,
    /// The loop looks for due rows at least this often even without a wake-up
    /// (`SSF_DELIVERY_POLL_INTERVAL`, default 500ms).
    pub poll_interval: Duration,
    /// Streams being delivered at the same time by this process (`SSF_DELIVERY_CONCURRENCY`,
    /// default 128). Each stream's events go one at a time.
    pub max_streams_in_flight: usize,
    /// Requests in flight to one receiver host (`SSF_ENDPOINT_CONCURRENCY`, default 16).
    pub endpoint_concurrency: usize,
    /// TCP and TLS connect bound (`SSF_PUSH_CONNECT_TIMEOUT`, default 5s).
    pub connect_timeout: Duration,
    /// Whole-request bound, well below the lease (`SSF_PUSH_TIMEOUT`, default 15s).
    pub request_timeout: Duration,
    /// Consecutive 5xx answers that open an endpoint's circuit (default 5). A connection
    /// error, a timeout or a 429 opens it at once.
    pub circuit_failure_threshold: u32,
    /// First and longest pause of an open circuit (defaults 1s and 5min); it doubles while
    /// probes keep failing.
    pub circuit_min_open: Duration,
    pub circuit_max_open: Duration,
    /// Expiry and purge run this often (`SSF_SWEEP_INTERVAL`, default 30s; whole seconds).
    pub sweep_interval: Duration,
    /// Inactive streams are paused this often (default 60s; whole seconds).
    pub inactivity_interval: Duration,
    /// After shutdown is asked, in-flight deliveries get this long to finish before their
    /// leases are released (`SSF_SHUTDOWN_GRACE`, default 10s).
    pub shutdown_grace: Duration,
    /// Networks push endpoints may resolve to even though they are private
    /// (`SSF_PUSH_ALLOWED_NETWORKS`, comma-separated CIDRs).
    pub allowed_networks: Vec<IpNet>,
    /// How long a provider's signing key is used before it is read again (default 30s).
    pub signing_key_ttl: Duration,
    /// Receiver response bodies are kept up to this many bytes in attempt rows.
    pub max_response_body: usize,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            worker_name: unique_worker_name(),
            max_attempts: 8,
            retry_min_backoff: Duration::from_secs(5),
            retry_max_backoff: Duration::from_secs(10 * 3600),
            retry_jitter: 0.2,
            batch_size: 512,
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_millis(500),
            max_streams_in_flight: 128,
            endpoint_concurrency: 16,
            connect_timeout: Duration::from_secs(5),
            request_timeout: Duration::from_secs(15),
            circuit_failure_threshold: 5,
            circuit_min_open: Duration::from_secs(1),
            circuit_max_open: Duration::from_secs(300),
            sweep_interval: Duration::from_secs(30),
            inactivity_interval: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(10),
            allowed_networks: Vec::new(),
            signing_key_ttl: Duration::from_secs(30),
            max_response_body: 2048,
        }
    }
}

/// A configuration value that cannot be used; names the variable.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{name}={value:?}: {reason}")]
    Invalid {
        name: &'static str,
        value: String,
        reason: String,
    },
}

impl WorkerConfig {
    /// The defaults, overridden by the `SSF_*` variables documented on each field.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env) with any source of variables.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut config = Self::default();
        let get = |name: &'static str| {
            lookup(name)
                .map(|v| (name, v.trim().to_owned()))
                .filter(|(_, v)| !v.is_empty())
        };
        if let Some((_, prefix)) = get("SSF_WORKER_NAME") {
            // Only a prefix: the pid and random suffix keep restarted processes distinct.
            config.worker_name = worker_name_with_prefix(&prefix);
        }
        if let Some((name, v)) = get("SSF_MAX_ATTEMPTS") {
            config.max_attempts = number(name, &v)?;
            if config.max_attempts == 0 {
                return Err(invalid(name, &v, "must be at least 1"));
            }
        }
        if let Some((name, v)) = get("SSF_RETRY_MIN_BACKOFF") {
            config.retry_min_backoff = duration(name, &v)?;
        }
        if let Some((name, v)) = get("SSF_RETRY_MAX_BACKOFF") {
            config.retry_max_backoff = duration(name, &v)?;
        }
        if config.retry_max_backoff < config.retry_min_backoff {
            return Err(invalid(
                "SSF_RETRY_MAX_BACKOFF",
                &format_duration(config.retry_max_backoff),
                "must not be shorter than SSF_RETRY_MIN_BACKOFF",
            ));
        }
        if let Some((name, v)) = get("SSF_DELIVERY_BATCH") {
            config.batch_size = number(name, &v)?;
            if !(1..=4096).contains(&config.batch_size) {
                return Err(invalid(name, &v, "must be between 1 and 4096"));
            }
        }
        if let Some((name, v)) = get("SSF_DELIVERY_LEASE") {
            config.lease = duration(name, &v)?;
        }
        if let Some((name, v)) = get("SSF_DELIVERY_POLL_INTERVAL") {
            config.poll_interval = duration(name, &v)?;
        }
        if let Some((name, v)) = get("SSF_DELIVERY_CONCURRENCY") {
            config.max_streams_in_flight = number(name, &v)?;
        }
        if let Some((name, v)) = get("SSF_ENDPOINT_CONCURRENCY") {
            config.endpoint_concurrency = number(name, &v)?;
        }
        if let Some((name, v)) = get("SSF_PUSH_CONNECT_TIMEOUT") {
            config.connect_timeout = duration(name, &v)?;
        }
        if let Some((name, v)) = get("SSF_PUSH_TIMEOUT") {
            config.request_timeout = duration(name, &v)?;
        }
        if let Some((name, v)) = get("SSF_SWEEP_INTERVAL") {
            config.sweep_interval = duration(name, &v)?;
        }
        if let Some((name, v)) = get("SSF_SHUTDOWN_GRACE") {
            config.shutdown_grace = duration(name, &v)?;
        }
        if let Some((name, v)) = get("SSF_PUSH_ALLOWED_NETWORKS") {
            config.allowed_networks = v
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| IpNet::from_str(s).map_err(|e| invalid(name, s, &e.to_string())))
                .collect::<Result<_, _>>()?;
        }
        config.validate()?;
        Ok(config)
    }

    /// Checks the relations between values that would break delivery guarantees.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_streams_in_flight == 0 || self.endpoint_concurrency == 0 {
            return Err(invalid(
                "SSF_DELIVERY_CONCURRENCY",
                "0",
                "concurrency must be at least 1",
            ));
        }
        // A request that outlives its lease could be sent a second time by another worker.
        if self.request_timeout * 2 > self.lease {
            return Err(invalid(
                "SSF_PUSH_TIMEOUT",
                &format_duration(self.request_timeout),
                &format!(
                    "must be at most half of SSF_DELIVERY_LEASE ({})",
                    format_duration(self.lease)
                ),
            ));
        }
        if !(0.0..1.0).contains(&self.retry_jitter) {
            return Err(invalid(
                "retry_jitter",
                &self.retry_jitter.to_string(),
                "must be in [0, 1)",
            ));
        }
        Ok(())
    }

    pub fn retry_policy(&self) -> RetryPolicy {
        RetryPolicy::new(
            self.max_attempts,
            self.retry_min_backoff,
            self.retry_max_backoff,
            self.retry_jitter,
        )
    }
}

/// `hostname-pid-random`: readable in attempt rows, unique across restarts (apalis refuses a
/// worker name that was alive within its heartbeat interval).
pub fn unique_worker_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "ssf".to_owned());
    worker_name_with_prefix(&host)
}

fn worker_name_with_prefix(prefix: &str) -> String {
    let suffix: u32 = rand::random();
    format!("{prefix}-{}-{suffix:08x}", std::process::id())
}

/// Parses `250ms`, `5s`, `5m`, `2h`, `1d`, or a bare number of seconds.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 250ms, 5s, 2h"))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        "d" => value * 86400.0,
        other => return Err(format!("unknown unit {other:?}: use ms, s, m, h or d")),
    };
    if !seconds.is_finite() || !(0.0..=10.0 * 365.0 * 86400.0).contains(&seconds) {
        return Err(format!("{text:?} is out of range"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

fn format_duration(d: Duration) -> String {
    format!("{}ms", d.as_millis())
}

fn duration(name: &'static str, value: &str) -> Result<Duration, ConfigError> {
    parse_duration(value).map_err(|reason| invalid(name, value, &reason))
}

fn number<T: FromStr>(name: &'static str, value: &str) -> Result<T, ConfigError> {
    value
        .parse()
        .map_err(|_| invalid(name, value, "not a valid number"))
}

fn invalid(name: &'static str, value: &str, reason: &str) -> ConfigError {
    ConfigError::Invalid {
        name,
        value: value.to_owned(),
        reason: reason.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(vars: &[(&str, &str)]) -> Result<WorkerConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        WorkerConfig::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn durations_accept_units() {
        assert_eq!(parse_duration("250ms").unwrap(), Duration::from_millis(250));
        assert_eq!(parse_duration("5s").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("5").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("2h").unwrap(), Duration::from_secs(7200));
        assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86400));
        assert_eq!(parse_duration("1.5s").unwrap(), Duration::from_millis(1500));
        assert!(parse_duration("5 parsecs").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("-1s").is_err());
    }

    #[test]
    fn env_overrides_defaults() {
        let config = from(&[
            ("SSF_MAX_ATTEMPTS", "3"),
            ("SSF_RETRY_MIN_BACKOFF", "10ms"),
            ("SSF_RETRY_MAX_BACKOFF", "1s"),
            ("SSF_PUSH_ALLOWED_NETWORKS", "10.1.0.0/16, fd00::/8"),
        ])
        .unwrap();
        assert_eq!(config.max_attempts, 3);
        assert_eq!(config.retry_min_backoff, Duration::from_millis(10));
        assert_eq!(config.retry_max_backoff, Duration::from_secs(1));
        assert_eq!(config.allowed_networks.len(), 2);
        let defaults = from(&[]).unwrap();
        assert_eq!(defaults.max_attempts, 8);
        assert_eq!(defaults.retry_min_backoff, Duration::from_secs(5));
    }

    #[test]
    fn bad_values_name_the_variable() {
        let error = from(&[("SSF_RETRY_MIN_BACKOFF", "soon")])
            .unwrap_err()
            .to_string();
        assert!(error.contains("SSF_RETRY_MIN_BACKOFF"), "{error}");
        let error = from(&[
            ("SSF_RETRY_MIN_BACKOFF", "2h"),
            ("SSF_RETRY_MAX_BACKOFF", "1h"),
        ])
        .unwrap_err()
        .to_string();
        assert!(error.contains("SSF_RETRY_MAX_BACKOFF"), "{error}");
        assert!(from(&[("SSF_MAX_ATTEMPTS", "0")]).is_err());
        assert!(
            from(&[("SSF_PUSH_TIMEOUT", "50s")]).is_err(),
            "a request must fit twice in the lease"
        );
        assert!(from(&[("SSF_PUSH_ALLOWED_NETWORKS", "10.0.0.0/33")]).is_err());
    }

    #[test]
    fn worker_names_are_unique() {
        assert_ne!(unique_worker_name(), unique_worker_name());
    }
}
