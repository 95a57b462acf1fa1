//! Pacing of outgoing signals: a token bucket that keeps a client under the server's
//! per-connection rate limit (the reference server allows a burst of 100 frames and 50
//! per second after it, and cuts off clients beyond that). A newcomer in a big room sends
//! an offer and a few candidates to every member at once; paced, they go out a little
//! later instead of getting the client disconnected.

use std::time::Duration;

/// Frames that may go at once.
const BURST: f64 = 80.0;
/// Frames per second after the burst.
const PER_SECOND: f64 = 40.0;

#[derive(Debug)]
pub(crate) struct Pacer {
    tokens: f64,
    /// When `tokens` was last brought up to date, in ms (see `platform::now_ms`).
    updated: f64,
}

impl Pacer {
    pub(crate) fn new(now_ms: f64) -> Self {
        Self {
            tokens: BURST,
            updated: now_ms,
        }
    }

    /// How many frames may go now; they are taken from the bucket.
    pub(crate) fn take(&mut self, wanted: usize, now_ms: f64) -> usize {
        let elapsed = (now_ms - self.updated).max(0.0);
        self.updated = now_ms;
        self.tokens = (self.tokens + elapsed * PER_SECOND / 1000.0).min(BURST);
        let n = (self.tokens.floor() as usize).min(wanted);
        self.tokens -= n as f64;
        n
    }

    /// How long until the next frame may go.
    pub(crate) fn wait(&self) -> Duration {
        let missing = (1.0 - self.tokens).max(0.0);
        Duration::from_secs_f64(missing / PER_SECOND).max(Duration::from_millis(1))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_then_the_rate() {
        let mut p = Pacer::new(0.0);
        assert_eq!(p.take(500, 0.0), 80);
        assert_eq!(p.take(500, 0.0), 0);
        assert_eq!(p.wait(), Duration::from_millis(25));
        // One second later: 40 more, never more than the burst.
        assert_eq!(p.take(500, 1000.0), 40);
        assert_eq!(p.take(10, 100_000.0), 10);
        assert_eq!(p.take(500, 100_000.0), 70);
    }

    #[test]
    fn over_any_second_the_server_limit_holds() {
        // The reference server: burst 100, 50/s. Send as fast as allowed for 10 s.
        let mut p = Pacer::new(0.0);
        let mut sent = Vec::new();
        for ms in 0..10_000 {
            for _ in 0..p.take(1000, ms as f64) {
                sent.push(ms);
            }
        }
        for start in (0..9_000).step_by(250) {
            let in_window = sent
                .iter()
                .filter(|t| (start..start + 1000).contains(*t))
                .count();
            assert!(
                in_window <= 100 + 50,
                "{in_window} frames in the second from {start} ms"
            );
        }
        assert!(sent.len() >= 80 + 9 * 40, "{} sent", sent.len());
    }
}
