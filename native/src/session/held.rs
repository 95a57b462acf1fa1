//! Datagrams that arrived before ICE validated their sender.
//!
//! On a fast path the remote's first DTLS flight can arrive a moment before our own
//! connectivity check on that pair succeeds. Dropping it costs a full DTLS retransmission
//! timeout (about a second); passing it on would let unvalidated packets reach DTLS. So a
//! few are held, bounded in count, bytes and age, and offered to `Rtc::accepts` again once
//! ICE has moved on.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const MAX_DATAGRAMS: usize = 16;
const MAX_BYTES: usize = 32 * 1024;
const MAX_AGE: Duration = Duration::from_secs(2);

pub(super) struct Held {
    pub at: Instant,
    pub source: SocketAddr,
    pub destination: SocketAddr,
    pub data: Vec<u8>,
}

#[derive(Default)]
pub(super) struct HeldDatagrams {
    queue: VecDeque<Held>,
    bytes: usize,
}

impl HeldDatagrams {
    /// Keeps a copy if there is room; the oldest are dropped first when full.
    pub(super) fn hold(
        &mut self,
        now: Instant,
        source: SocketAddr,
        destination: SocketAddr,
        data: &[u8],
    ) {
        if data.len() > MAX_BYTES {
            return;
        }
        while self.queue.len() >= MAX_DATAGRAMS || self.bytes + data.len() > MAX_BYTES {
            match self.queue.pop_front() {
                Some(old) => self.bytes -= old.data.len(),
                None => break,
            }
        }
        self.bytes += data.len();
        self.queue.push_back(Held {
            at: now,
            source,
            destination,
            data: data.to_vec(),
        });
    }

    pub(super) fn is_empty(&self) -> bool {
        self.queue.is_empty()
    }

    /// Takes every held datagram that is still young enough to matter.
    pub(super) fn take(&mut self, now: Instant) -> Vec<Held> {
        self.bytes = 0;
        self.queue
            .drain(..)
            .filter(|h| now.duration_since(h.at) < MAX_AGE)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_in_count_bytes_and_age() {
        let mut h = HeldDatagrams::default();
        let t0 = Instant::now();
        let a: SocketAddr = "127.0.0.1:1".parse().unwrap();
        for _ in 0..100 {
            h.hold(t0, a, a, &[0u8; 1000]);
        }
        assert!(h.queue.len() <= MAX_DATAGRAMS && h.bytes <= MAX_BYTES);
        h.hold(t0, a, a, &vec![0u8; MAX_BYTES + 1]);
        assert!(h.queue.iter().all(|d| d.data.len() == 1000));
        assert!(h.take(t0 + MAX_AGE).is_empty());
        assert!(h.is_empty());
    }
}
