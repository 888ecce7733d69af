//! When a transiently failed event is tried again.
//!
//! The first attempt is immediate. The k-th retry waits `min × g^(k-1)`, capped at `max`, where
//! the growth `g` is chosen so that the last two retries wait `max`: with the defaults
//! (8 attempts, 5 s, 10 h) that is 5 s, 30 s, 3 min, 17 min, 1.7 h, 10 h, 10 h (≈ 22 h in all),
//! in the spirit of Svix's schedule. Every wait is spread by a random factor `1 ± jitter` so a
//! receiver that comes back is not hit by every stream at once. A receiver's `Retry-After` can
//! only lengthen a wait, and only up to `max`.

use std::time::Duration;

use rand::Rng;

#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    max_attempts: u32,
    min: Duration,
    max: Duration,
    jitter: f64,
}

impl RetryPolicy {
    pub fn new(max_attempts: u32, min: Duration, max: Duration, jitter: f64) -> Self {
        let min = min.max(Duration::from_millis(1));
        Self {
            max_attempts: max_attempts.max(1),
            min,
            max: max.max(min),
            jitter: jitter.clamp(0.0, 0.99),
        }
    }

    pub fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The wait after `failed_attempt` (1 for the first try) failed, before jitter; `None` when
    /// that was the last attempt.
    pub fn base_wait(&self, failed_attempt: u32) -> Option<Duration> {
        if failed_attempt == 0 || failed_attempt >= self.max_attempts {
            return None;
        }
        let retries = self.max_attempts - 1;
        if retries <= 2 {
            return Some(if failed_attempt == 1 {
                self.min
            } else {
                self.max
            });
        }
        // Reach `max` at retry number `retries - 1`, so the last two waits are the longest.
        let steps = f64::from(retries - 2);
        let growth = (self.max.as_secs_f64() / self.min.as_secs_f64()).powf(1.0 / steps);
        let wait = self.min.as_secs_f64() * growth.powi(failed_attempt as i32 - 1);
        Some(Duration::from_secs_f64(wait.min(self.max.as_secs_f64())))
    }

    /// The jittered wait after `failed_attempt` failed, lengthened (never shortened) by the
    /// receiver's `Retry-After`; `None` when no attempt is left.
    pub fn next_wait(
        &self,
        failed_attempt: u32,
        retry_after: Option<Duration>,
    ) -> Option<Duration> {
        self.next_wait_with(failed_attempt, retry_after, &mut rand::rng())
    }

    pub fn next_wait_with(
        &self,
        failed_attempt: u32,
        retry_after: Option<Duration>,
        rng: &mut impl Rng,
    ) -> Option<Duration> {
        let base = self.base_wait(failed_attempt)?;
        let factor = if self.jitter > 0.0 {
            rng.random_range(1.0 - self.jitter..=1.0 + self.jitter)
        } else {
            1.0
        };
        let jittered = Duration::from_secs_f64(base.as_secs_f64() * factor);
        Some(match retry_after {
            Some(asked) => jittered.max(asked.min(self.max)),
            None => jittered,
        })
    }

    /// Every un-jittered wait, first retry first (for documentation and operators).
    pub fn schedule(&self) -> Vec<Duration> {
        (1..self.max_attempts)
            .filter_map(|attempt| self.base_wait(attempt))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn defaults() -> RetryPolicy {
        RetryPolicy::new(8, Duration::from_secs(5), Duration::from_secs(36000), 0.2)
    }

    #[test]
    fn default_schedule_grows_from_min_to_max() {
        let schedule = defaults().schedule();
        assert_eq!(schedule.len(), 7, "8 attempts means 7 waits");
        assert_eq!(schedule[0], Duration::from_secs(5));
        assert!(schedule.windows(2).all(|w| w[0] <= w[1]), "{schedule:?}");
        assert_eq!(schedule[5], Duration::from_secs(36000));
        assert_eq!(schedule[6], Duration::from_secs(36000));
        assert!(schedule[4] < Duration::from_secs(36000));
        let total: Duration = schedule.iter().sum();
        assert!(
            total > Duration::from_secs(20 * 3600) && total < Duration::from_secs(30 * 3600),
            "{total:?}"
        );
    }

    #[test]
    fn no_wait_after_the_last_attempt() {
        let policy = defaults();
        assert!(policy.base_wait(7).is_some());
        assert_eq!(policy.base_wait(8), None);
        assert_eq!(policy.next_wait(8, None), None);
        assert_eq!(
            RetryPolicy::new(1, Duration::from_secs(1), Duration::from_secs(2), 0.0).base_wait(1),
            None
        );
    }

    #[test]
    fn short_schedules_still_start_at_min_and_end_at_max() {
        let two = RetryPolicy::new(3, Duration::from_millis(10), Duration::from_millis(50), 0.0);
        assert_eq!(
            two.schedule(),
            vec![Duration::from_millis(10), Duration::from_millis(50)]
        );
        let one = RetryPolicy::new(2, Duration::from_millis(10), Duration::from_millis(50), 0.0);
        assert_eq!(one.schedule(), vec![Duration::from_millis(10)]);
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        let policy = defaults();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut seen_low = false;
        let mut seen_high = false;
        for _ in 0..1000 {
            let wait = policy.next_wait_with(1, None, &mut rng).unwrap();
            assert!(
                wait >= Duration::from_secs(4) && wait <= Duration::from_secs(6),
                "{wait:?}"
            );
            seen_low |= wait < Duration::from_millis(4500);
            seen_high |= wait > Duration::from_millis(5500);
        }
        assert!(seen_low && seen_high, "jitter spreads both ways");
    }

    #[test]
    fn retry_after_only_lengthens_and_is_capped() {
        let policy = RetryPolicy::new(5, Duration::from_secs(5), Duration::from_secs(60), 0.0);
        assert_eq!(
            policy.next_wait(1, Some(Duration::from_secs(1))),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            policy.next_wait(1, Some(Duration::from_secs(30))),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            policy.next_wait(1, Some(Duration::from_secs(3600))),
            Some(Duration::from_secs(60))
        );
        assert_eq!(
            policy.next_wait(5, Some(Duration::from_secs(30))),
            None,
            "no attempt left"
        );
    }
}
