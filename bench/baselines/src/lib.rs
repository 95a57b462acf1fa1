//! Helpers shared by the baseline benchmark binaries.
//!
//! Every benchmark in `cargo xtask bench` uses the same definitions (also mirrored in
//! `bench/node/bench.mjs` and `bench/unipeer`):
//! - percentiles are nearest-rank: the value at index `ceil(p/100 * n) - 1` of the sorted
//!   samples;
//! - MB is 10^6 bytes;
//! - memory is VmRSS from `/proc/self/status`, in KiB.

use std::time::Duration;

/// Number of connect runs.
pub const CONNECT_RUNS: usize = 20;
/// Bytes sent per throughput run (256 MiB).
pub const THROUGHPUT_BYTES: usize = 256 * 1024 * 1024;
/// Ping-pong payload size.
pub const RTT_PAYLOAD: usize = 64;
/// Measured ping-pong rounds.
pub const RTT_ROUNDS: usize = 10_000;
/// Unmeasured warm-up rounds before the measured ones.
pub const RTT_WARMUP: usize = 200;
/// Connected pairs for the memory measurement.
pub const RSS_PAIRS: usize = 100;
/// Upper bound for any single phase; a phase that takes longer aborts the benchmark.
pub const PHASE_TIMEOUT: Duration = Duration::from_secs(180);

/// Nearest-rank percentile of `samples` (sorted in place). Panics on an empty slice.
pub fn percentile(samples: &mut [f64], p: f64) -> f64 {
    assert!(!samples.is_empty(), "percentile of no samples");
    samples.sort_by(|a, b| a.partial_cmp(b).expect("NaN sample"));
    let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}

/// Largest sample. Panics on an empty slice.
pub fn max(samples: &[f64]) -> f64 {
    samples.iter().copied().fold(f64::NEG_INFINITY, f64::max)
}

/// Resident set size of this process in KiB (VmRSS).
pub fn rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("read /proc/self/status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS in /proc/self/status")
}

/// MB/s (MB = 10^6 bytes).
pub fn mb_per_s(bytes: usize, elapsed: Duration) -> f64 {
    bytes as f64 / 1e6 / elapsed.as_secs_f64()
}

/// Rounds to `digits` decimal places, for readable JSON.
pub fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// Whether an ICE candidate address is a loopback address (the only kind the benches accept).
pub fn is_loopback(addr: &str) -> bool {
    addr.parse::<std::net::IpAddr>()
        .map(|ip| ip.is_loopback())
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let mut v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&mut v, 50.0), 50.0);
        assert_eq!(percentile(&mut v, 99.0), 99.0);
        assert_eq!(percentile(&mut v, 100.0), 100.0);
        let mut one = vec![7.0];
        assert_eq!(percentile(&mut one, 50.0), 7.0);
    }

    #[test]
    fn loopback_only() {
        assert!(is_loopback("127.0.0.1"));
        assert!(is_loopback("::1"));
        assert!(!is_loopback("10.0.0.1"));
        assert!(!is_loopback("abcd.local"));
    }
}
