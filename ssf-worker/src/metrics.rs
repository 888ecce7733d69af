//! Delivery counters and histograms, process-wide, rendered as Prometheus text by [`render`].
//!
//! A handful of atomics: recording costs a few relaxed increments on the delivery path, and
//! there is no registry to configure.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub struct Counter(AtomicU64);

impl Counter {
    const fn new() -> Self {
        Self(AtomicU64::new(0))
    }

    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Cumulative-on-render histogram over fixed bucket bounds (seconds).
pub struct Histogram {
    bounds: &'static [f64],
    buckets: [AtomicU64; 20],
    sum_micros: AtomicU64,
    count: AtomicU64,
}

impl Histogram {
    const fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            buckets: [const { AtomicU64::new(0) }; 20],
            sum_micros: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    pub fn observe(&self, value: Duration) {
        let seconds = value.as_secs_f64();
        // Values above the last bound are only in +Inf, which is `count`.
        if let Some(index) = self.bounds.iter().position(|bound| seconds <= *bound) {
            self.buckets[index].fetch_add(1, Ordering::Relaxed);
        }
        self.sum_micros.fetch_add(
            u64::try_from(value.as_micros()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

const ATTEMPT_BOUNDS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];
const LATENCY_BOUNDS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 1800.0,
    7200.0, 36000.0, 86400.0,
];

/// Every delivery metric of this process.
pub struct DeliveryMetrics {
    pub delivered: Counter,
    pub failed_permanent: Counter,
    pub failed_exhausted: Counter,
    pub retried: Counter,
    pub deferred: Counter,
    pub expired: Counter,
    pub purged: Counter,
    /// SETs signed, and the CPU time their signing took (nanoseconds of thread CPU time).
    pub signed: Counter,
    pub signing_cpu_nanos: Counter,
    pub attempt_duration: Histogram,
    pub delivery_latency: Histogram,
}

static METRICS: DeliveryMetrics = DeliveryMetrics {
    delivered: Counter::new(),
    failed_permanent: Counter::new(),
    failed_exhausted: Counter::new(),
    retried: Counter::new(),
    deferred: Counter::new(),
    expired: Counter::new(),
    purged: Counter::new(),
    signed: Counter::new(),
    signing_cpu_nanos: Counter::new(),
    attempt_duration: Histogram::new(ATTEMPT_BOUNDS),
    delivery_latency: Histogram::new(LATENCY_BOUNDS),
};

pub fn global() -> &'static DeliveryMetrics {
    &METRICS
}

/// The metrics in the Prometheus text exposition format (version 0.0.4).
pub fn render() -> String {
    let m = global();
    let mut out = String::with_capacity(4096);
    counter(
        &mut out,
        "ssf_push_delivered_total",
        "SETs delivered by push (receiver answered 2xx).",
        &[("", m.delivered.get())],
    );
    counter(
        &mut out,
        "ssf_push_failed_total",
        "SETs given up on: rejected by the receiver, or out of attempts.",
        &[
            ("reason=\"permanent\"", m.failed_permanent.get()),
            ("reason=\"exhausted\"", m.failed_exhausted.get()),
        ],
    );
    counter(
        &mut out,
        "ssf_push_retried_total",
        "Push attempts that failed transiently and were rescheduled.",
        &[("", m.retried.get())],
    );
    counter(
        &mut out,
        "ssf_push_deferred_total",
        "SETs held back without an attempt because their endpoint's circuit was open.",
        &[("", m.deferred.get())],
    );
    counter(
        &mut out,
        "ssf_events_expired_total",
        "SETs that reached their expiry undelivered.",
        &[("", m.expired.get())],
    );
    counter(
        &mut out,
        "ssf_events_purged_total",
        "Finished SETs deleted after their retention.",
        &[("", m.purged.get())],
    );
    counter(
        &mut out,
        "ssf_sets_signed_total",
        "SETs signed for delivery.",
        &[("", m.signed.get())],
    );
    let name = "ssf_signing_cpu_seconds_total";
    let _ = writeln!(
        out,
        "# HELP {name} CPU time spent signing SETs (the bulk of delivery's CPU with RSA keys).\n# TYPE {name} counter\n{name} {}",
        Duration::from_nanos(m.signing_cpu_nanos.get()).as_secs_f64()
    );
    histogram(
        &mut out,
        "ssf_push_attempt_duration_seconds",
        "Duration of one push HTTP attempt.",
        &m.attempt_duration,
    );
    histogram(
        &mut out,
        "ssf_delivery_latency_seconds",
        "Time from recording a SET to the receiver accepting it.",
        &m.delivery_latency,
    );
    out
}

fn counter(out: &mut String, name: &str, help: &str, series: &[(&str, u64)]) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter");
    for (labels, value) in series {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {value}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    }
}

fn histogram(out: &mut String, name: &str, help: &str, h: &Histogram) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
    let mut cumulative = 0;
    for (bound, bucket) in h.bounds.iter().zip(&h.buckets) {
        cumulative += bucket.load(Ordering::Relaxed);
        let _ = writeln!(out, "{name}_bucket{{le=\"{bound}\"}} {cumulative}");
    }
    let count = h.count.load(Ordering::Relaxed);
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {count}");
    let _ = writeln!(
        out,
        "{name}_sum {}",
        h.sum_micros.load(Ordering::Relaxed) as f64 / 1e6
    );
    let _ = writeln!(out, "{name}_count {count}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_cumulative() {
        static H: Histogram = Histogram::new(&[0.1, 1.0]);
        H.observe(Duration::from_millis(50));
        H.observe(Duration::from_millis(500));
        H.observe(Duration::from_secs(5));
        let mut out = String::new();
        histogram(&mut out, "x", "help", &H);
        assert!(out.contains("x_bucket{le=\"0.1\"} 1\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"1\"} 2\n"), "{out}");
        assert!(out.contains("x_bucket{le=\"+Inf\"} 3\n"), "{out}");
        assert!(out.contains("x_sum 5.55\n"), "{out}");
        assert!(out.contains("x_count 3\n"), "{out}");
    }

    #[test]
    fn render_names_every_metric_once() {
        global().delivered.add(1);
        let text = render();
        for name in [
            "ssf_push_delivered_total",
            "ssf_push_failed_total",
            "ssf_push_retried_total",
            "ssf_events_expired_total",
            "ssf_sets_signed_total",
            "ssf_signing_cpu_seconds_total",
            "ssf_push_attempt_duration_seconds",
            "ssf_delivery_latency_seconds",
        ] {
            assert_eq!(
                text.matches(&format!("# TYPE {name} ")).count(),
                1,
                "{name}"
            );
        }
        assert!(text.contains("ssf_push_failed_total{reason=\"permanent\"}"));
    }
}
