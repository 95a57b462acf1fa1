//! When to try again after the signaling connection drops: exponential, capped, jittered.

use std::time::Duration;

/// How a signaling client reconnects after its connection drops.
///
/// The n-th attempt in a row waits a random time between half and all of
/// `initial * 2^(n-1)`, capped at `max` (the jitter spreads a room's clients out after a
/// server restart). A successful re-join resets the count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReconnectPolicy {
    /// The wait before the first attempt (default 250 ms).
    pub initial: Duration,
    /// The longest wait between two attempts (default 10 s).
    pub max: Duration,
}

impl Default for ReconnectPolicy {
    fn default() -> Self {
        Self {
            initial: Duration::from_millis(250),
            max: Duration::from_secs(10),
        }
    }
}

impl ReconnectPolicy {
    /// Checks that the waits make sense together.
    pub fn validate(&self) -> unipeer_core::Result<()> {
        if self.initial.is_zero() || self.max < self.initial {
            return Err(unipeer_core::Error::InvalidConfig(
                "reconnect: initial must be above zero and max at least initial".into(),
            ));
        }
        Ok(())
    }
}

/// The attempt counter of one client.
#[derive(Debug)]
pub(crate) struct Backoff {
    policy: ReconnectPolicy,
    failures: u32,
}

impl Backoff {
    pub(crate) fn new(policy: ReconnectPolicy) -> Self {
        Self {
            policy,
            failures: 0,
        }
    }

    /// The wait before the next attempt; `unit` is a random number in `[0, 1)`.
    pub(crate) fn next_delay(&mut self, unit: f64) -> Duration {
        let doubling = 2u32.saturating_pow(self.failures.min(30));
        self.failures = self.failures.saturating_add(1);
        let ceiling = self
            .policy
            .initial
            .saturating_mul(doubling)
            .min(self.policy.max);
        let unit = if unit.is_finite() {
            unit.clamp(0.0, 1.0)
        } else {
            0.5
        };
        ceiling.mul_f64(0.5 + unit / 2.0)
    }

    /// A connection succeeded: the next failure starts from `initial` again.
    pub(crate) fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn doubles_up_to_the_cap_within_the_jitter_band() {
        let mut b = Backoff::new(ReconnectPolicy {
            initial: ms(100),
            max: ms(1000),
        });
        let ceilings = [100, 200, 400, 800, 1000, 1000, 1000];
        for c in ceilings {
            let low = Backoff {
                failures: b.failures,
                ..Backoff::new(b.policy)
            }
            .next_delay(0.0);
            let high = b.next_delay(0.999_999);
            assert_eq!(low, ms(c / 2));
            assert!(high <= ms(c) && high > ms(c) * 9 / 10, "{high:?} vs {c}");
        }
        b.reset();
        assert_eq!(b.next_delay(1.0), ms(100));
    }

    #[test]
    fn many_failures_never_overflow() {
        let mut b = Backoff::new(ReconnectPolicy::default());
        for _ in 0..1000 {
            assert!(b.next_delay(f64::NAN) <= ReconnectPolicy::default().max);
        }
    }

    #[test]
    fn validation() {
        assert!(ReconnectPolicy::default().validate().is_ok());
        let zero = ReconnectPolicy {
            initial: Duration::ZERO,
            ..Default::default()
        };
        assert!(zero.validate().is_err());
        let inverted = ReconnectPolicy {
            initial: ms(10),
            max: ms(5),
        };
        assert!(inverted.validate().is_err());
    }
}
