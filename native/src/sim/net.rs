//! The emulated network between simulated peers: per-datagram loss (random or in bursts),
//! delay with jitter (which reorders), and total outages, all decided by one seeded
//! generator so that a failing run can be replayed from its seed.

use std::time::{Duration, Instant};

/// How datagrams are lost.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Loss {
    None,
    /// Each datagram independently, with this probability.
    Random(f64),
    /// Gilbert's two-state model: a good state that loses nothing and a bad one that loses
    /// everything; `enter` is the chance per datagram to go bad, `leave` to recover.
    Bursty {
        enter: f64,
        leave: f64,
    },
}

/// The conditions of every path (each datagram is decided on its own, both ways).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Conditions {
    pub loss: Loss,
    /// One-way delay.
    pub delay: Duration,
    /// Each datagram's delay is `delay` plus or minus up to this, uniformly: datagrams
    /// sent closer together than twice this arrive out of order.
    pub jitter: Duration,
}

impl Default for Conditions {
    fn default() -> Self {
        Self {
            loss: Loss::None,
            delay: Duration::from_millis(10),
            jitter: Duration::ZERO,
        }
    }
}

/// What the network did, for test messages and assertions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct NetStats {
    pub sent: u64,
    pub lost: u64,
    pub reordered: u64,
}

pub(crate) struct Net {
    pub conditions: Conditions,
    rng: fastrand::Rng,
    /// Gilbert model state: losing everything.
    bad: bool,
    /// Spans in which every datagram is lost.
    outages: Vec<(Instant, Instant)>,
    /// The latest arrival time handed out, to count reordering.
    last_arrival: Option<Instant>,
    pub stats: NetStats,
}

impl Net {
    pub fn new(seed: u64, conditions: Conditions) -> Self {
        Self {
            conditions,
            rng: fastrand::Rng::with_seed(seed),
            bad: false,
            outages: Vec::new(),
            last_arrival: None,
            stats: NetStats::default(),
        }
    }

    /// Loses every datagram sent from `from` for `length`.
    pub fn outage(&mut self, from: Instant, length: Duration) {
        self.outages.push((from, from + length));
    }

    /// When a datagram sent `now` arrives, or `None` if it is lost.
    pub fn route(&mut self, now: Instant) -> Option<Instant> {
        self.stats.sent += 1;
        let lost = match self.conditions.loss {
            Loss::None => false,
            Loss::Random(p) => self.rng.f64() < p,
            Loss::Bursty { enter, leave } => {
                let flip = if self.bad { leave } else { enter };
                if self.rng.f64() < flip {
                    self.bad = !self.bad;
                }
                self.bad
            }
        };
        let down = self.outages.iter().any(|(a, b)| (*a..*b).contains(&now));
        if lost || down {
            self.stats.lost += 1;
            return None;
        }
        let Conditions { delay, jitter, .. } = self.conditions;
        // Uniform in [delay - jitter, delay + jitter].
        let spread = jitter.as_secs_f64() * (2.0 * self.rng.f64() - 1.0);
        let delay = Duration::from_secs_f64((delay.as_secs_f64() + spread).max(0.0));
        let at = now + delay;
        if self.last_arrival.is_some_and(|last| at < last) {
            self.stats.reordered += 1;
        }
        self.last_arrival = Some(self.last_arrival.map_or(at, |last| last.max(at)));
        Some(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_loss_is_near_its_rate_and_seeded() {
        let t0 = Instant::now();
        let run = |seed| {
            let conditions = Conditions {
                loss: Loss::Random(0.1),
                ..Default::default()
            };
            let mut net = Net::new(seed, conditions);
            let arrivals: Vec<_> = (0..10_000).map(|_| net.route(t0)).collect();
            (net.stats, arrivals)
        };
        let (stats, arrivals) = run(7);
        assert!((900..1100).contains(&stats.lost), "{stats:?}");
        assert_eq!(run(7).1, arrivals, "the same seed makes the same decisions");
        assert_ne!(run(8).1, arrivals);
    }

    #[test]
    fn bursts_lose_runs_of_datagrams() {
        let t0 = Instant::now();
        let conditions = Conditions {
            loss: Loss::Bursty {
                enter: 0.01,
                leave: 0.2,
            },
            ..Default::default()
        };
        let mut net = Net::new(1, conditions);
        let lost: Vec<bool> = (0..20_000).map(|_| net.route(t0).is_none()).collect();
        let runs = lost.windows(2).filter(|w| !w[0] && w[1]).count();
        let total = lost.iter().filter(|l| **l).count();
        // About 5 % lost, in runs of about 5 (1 / leave).
        assert!((600..1600).contains(&total), "{total}");
        assert!(total as f64 / runs as f64 > 3.0, "{total} in {runs} runs");
    }

    #[test]
    fn jitter_reorders_and_outages_lose_everything() {
        let t0 = Instant::now();
        let conditions = Conditions {
            delay: Duration::from_millis(20),
            jitter: Duration::from_millis(5),
            ..Default::default()
        };
        let mut net = Net::new(3, conditions);
        for i in 0..1000 {
            let sent = t0 + Duration::from_millis(i);
            let at = net.route(sent).unwrap();
            let delay = at - sent;
            assert!(delay >= Duration::from_millis(15) && delay <= Duration::from_millis(25));
        }
        assert!(net.stats.reordered > 100, "{:?}", net.stats);
        net.outage(t0 + Duration::from_secs(2), Duration::from_secs(5));
        assert!(net.route(t0 + Duration::from_secs(3)).is_none());
        assert!(net.route(t0 + Duration::from_secs(7)).is_some());
    }
}
