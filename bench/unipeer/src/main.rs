//! unipeer's side of `cargo xtask bench`.
//!
//! Both peers of every pair live in this process and gather loopback candidates only
//! (`HostCandidates::Loopback`); every trickled candidate is checked to be a loopback address
//! before it is forwarded. The bench drives everything from one thread with
//! `futures::executor::block_on` (unipeer runs its own I/O driver thread).
//!
//! Phases, in the same order and with the same definitions as the baselines
//! (`bench/baselines`, `bench/node`): warm-up pair, memory (100 connected pairs, VmRSS delta
//! per peer), connect (20 runs, creation of both peers until the channel is open on both
//! sides), throughput (256 MiB in 16 KiB and 64 KiB messages on a reliable ordered channel,
//! measured at the receiver from first to last byte, MB = 10^6 bytes), RTT (64-byte
//! ping-pong, 200 warm-up + 10,000 measured rounds), then idle CPU (1,000 connected idle
//! peers, process CPU time over 10 s as % of one core). Percentiles are nearest-rank. The
//! `rpc` phase (src/rpc.rs) runs only when asked for, as the `rpc` system of the bench.
//!
//! Prints one JSON object on stdout; progress goes to stderr.

mod rpc;

use std::cell::Cell;
use std::future::Future;
use std::time::{Duration, Instant};

use futures::future::{join_all, select, Either};
use futures::{FutureExt, StreamExt};
use unipeer::{
    DataChannel, DataChannelInit, HostCandidates, IceCandidate, Message, Peer, PeerConfig,
    PeerEvent,
};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const CONNECT_RUNS: usize = 20;
const THROUGHPUT_BYTES: usize = 256 * 1024 * 1024;
const RTT_PAYLOAD: usize = 64;
const RTT_ROUNDS: usize = 10_000;
const RTT_WARMUP: usize = 200;
const RSS_PAIRS: usize = 100;
const RSS_BATCH: usize = 10;
const IDLE_PAIRS: usize = 500;
const IDLE_BATCH: usize = 25;
const IDLE_WINDOW: Duration = Duration::from_secs(10);
/// Time for connection set-up traffic to die down before the idle window starts.
const IDLE_SETTLE: Duration = Duration::from_secs(3);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
const PHASE_TIMEOUT: Duration = Duration::from_secs(180);

fn log(msg: impl std::fmt::Display) {
    eprintln!("unipeer: {msg}");
}

/// `fut`, or an error naming `what` once `limit` has passed.
async fn within<T>(limit: Duration, what: &str, fut: impl Future<Output = T>) -> Result<T> {
    let fut = std::pin::pin!(fut);
    match select(fut, futures_timer::Delay::new(limit)).await {
        Either::Left((v, _)) => Ok(v),
        Either::Right(_) => Err(format!("{what} timed out after {limit:?}").into()),
    }
}

fn config() -> PeerConfig {
    PeerConfig {
        host_candidates: HostCandidates::Loopback,
        ..Default::default()
    }
}

/// Fails unless the candidate's address is a loopback address.
fn check_loopback(c: &IceCandidate) -> Result<()> {
    let line = c
        .candidate
        .trim_start_matches("a=")
        .trim_start_matches("candidate:");
    // <foundation> <component> <transport> <priority> <address> <port> typ ...
    let addr = line.split_whitespace().nth(4).unwrap_or("");
    match addr.parse::<std::net::IpAddr>() {
        Ok(ip) if ip.is_loopback() => Ok(()),
        _ => Err(format!("non-loopback candidate: {}", c.candidate).into()),
    }
}

struct Pair {
    a: Peer,
    b: Peer,
    ch_a: DataChannel,
    ch_b: DataChannel,
}

impl Pair {
    async fn close(self) {
        self.a.close().await;
        self.b.close().await;
    }
}

/// Creates two peers, signals in-process with trickle ICE and returns once the data channel
/// (reliable, ordered) is open on both sides.
async fn connect() -> Result<Pair> {
    within(CONNECT_TIMEOUT, "connect", connect_inner()).await?
}

async fn connect_inner() -> Result<Pair> {
    let a = Peer::new(config())?;
    let b = Peer::new(config())?;
    let ch_a = a
        .create_data_channel("bench", DataChannelInit::default())
        .await?;
    let offer = a.create_offer().await?;
    let answer = b.accept_offer(offer).await?;
    a.accept_answer(answer).await?;

    let (mut events_a, mut events_b) = (a.events(), b.events());
    let mut ch_b: Option<DataChannel> = None;
    let mut a_open = false;
    {
        let open_a = ch_a.wait_open().fuse();
        let mut open_a = std::pin::pin!(open_a);
        while !(a_open && ch_b.is_some()) {
            futures::select! {
                e = events_a.next() => match e {
                    Some(PeerEvent::LocalCandidate(c)) => {
                        check_loopback(&c)?;
                        b.add_ice_candidate(c).await?;
                    }
                    Some(PeerEvent::Error(e)) => return Err(e.into()),
                    Some(PeerEvent::Closed) | None => return Err("offerer closed".into()),
                    Some(_) => {}
                },
                e = events_b.next() => match e {
                    Some(PeerEvent::LocalCandidate(c)) => {
                        check_loopback(&c)?;
                        a.add_ice_candidate(c).await?;
                    }
                    Some(PeerEvent::DataChannel(ch)) => ch_b = Some(ch),
                    Some(PeerEvent::Error(e)) => return Err(e.into()),
                    Some(PeerEvent::Closed) | None => return Err("answerer closed".into()),
                    Some(_) => {}
                },
                r = open_a => {
                    r?;
                    a_open = true;
                }
            }
        }
    }
    let ch_b = ch_b.expect("loop ends with the channel");
    // An announced channel is open; this returns at once (and fails if it is not).
    ch_b.wait_open().await?;
    Ok(Pair { a, b, ch_a, ch_b })
}

/// Connects `n` pairs, `batch` at a time concurrently.
async fn connect_many(n: usize, batch: usize) -> Result<Vec<Pair>> {
    let mut pairs = Vec::with_capacity(n);
    while pairs.len() < n {
        let k = batch.min(n - pairs.len());
        for p in join_all((0..k).map(|_| connect())).await {
            pairs.push(p?);
        }
    }
    Ok(pairs)
}

async fn close_all(pairs: Vec<Pair>) {
    join_all(pairs.into_iter().map(Pair::close)).await;
}

fn percentile(samples: &mut [f64], p: f64) -> f64 {
    samples.sort_by(|a, b| a.partial_cmp(b).expect("NaN sample"));
    let rank = ((p / 100.0) * samples.len() as f64).ceil() as usize;
    samples[rank.clamp(1, samples.len()) - 1]
}

fn round(x: f64, digits: i32) -> f64 {
    let f = 10f64.powi(digits);
    (x * f).round() / f
}

/// VmRSS of this process, KiB.
fn rss_kib() -> Result<u64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmRSS in /proc/self/status".into())
}

/// User + system CPU time of this process (all threads), from /proc/self/stat.
fn cpu_time() -> Result<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Fields after the command name (which is in parentheses and may contain spaces):
    // state is field 3, utime field 14, stime field 15, in USER_HZ (100 on Linux) ticks.
    let rest = &stat[stat.rfind(')').ok_or("bad /proc/self/stat")? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>()? + fields[12].parse::<u64>()?;
    Ok(Duration::from_millis(ticks * 10))
}

async fn phase_rss() -> Result<f64> {
    futures_timer::Delay::new(Duration::from_millis(200)).await;
    let before = rss_kib()?;
    let pairs = connect_many(RSS_PAIRS, RSS_BATCH).await?;
    futures_timer::Delay::new(Duration::from_millis(500)).await;
    let after = rss_kib()?;
    let per_peer = (after as f64 - before as f64) / (2 * RSS_PAIRS) as f64;
    log(format!(
        "rss {before} KiB -> {after} KiB with {RSS_PAIRS} pairs: {per_peer:.0} KiB/peer"
    ));
    close_all(pairs).await;
    Ok(per_peer)
}

async fn phase_connect() -> Result<Vec<f64>> {
    let mut samples = Vec::with_capacity(CONNECT_RUNS);
    for _ in 0..CONNECT_RUNS {
        let t0 = Instant::now();
        let pair = connect().await?;
        samples.push(t0.elapsed().as_secs_f64() * 1e3);
        pair.close().await;
    }
    Ok(samples)
}

async fn phase_throughput(msg_size: usize) -> Result<f64> {
    let pair = connect().await?;
    let count = THROUGHPUT_BYTES / msg_size;
    let buf = vec![0xabu8; msg_size];
    // Progress, for the error message if the phase stalls.
    let (sent_bytes, received_bytes) = (Cell::new(0usize), Cell::new(0usize));
    let send = async {
        // `send` waits while the channel buffers more than its high-water mark.
        for _ in 0..count {
            pair.ch_a.send(&buf[..]).await?;
            sent_bytes.set(sent_bytes.get() + msg_size);
        }
        Ok::<_, unipeer::Error>(())
    };
    let receive = async {
        let mut first = None;
        while received_bytes.get() < THROUGHPUT_BYTES {
            match pair.ch_b.recv().await {
                Some(Message::Binary(b)) => {
                    first.get_or_insert_with(Instant::now);
                    received_bytes.set(received_bytes.get() + b.len());
                }
                Some(Message::Text(_)) => return Err("unexpected text message".to_string()),
                None => {
                    return Err(format!(
                        "channel closed after {} bytes",
                        received_bytes.get()
                    ))
                }
            }
        }
        Ok(first.expect("at least one message").elapsed())
    };
    let joined = within(PHASE_TIMEOUT, "throughput", async {
        futures::join!(send, receive)
    })
    .await;
    let (sent, elapsed) = joined.map_err(|e| {
        format!(
            "{e} ({} KiB messages: {} bytes sent, {} received, buffered amount {})",
            msg_size / 1024,
            sent_bytes.get(),
            received_bytes.get(),
            pair.ch_a.buffered_amount()
        )
    })?;
    sent?;
    let elapsed = elapsed?;
    pair.close().await;
    let mbs = THROUGHPUT_BYTES as f64 / 1e6 / elapsed.as_secs_f64();
    log(format!(
        "throughput {} KiB messages: {mbs:.1} MB/s ({elapsed:.2?})",
        msg_size / 1024
    ));
    Ok(mbs)
}

async fn phase_rtt() -> Result<Vec<f64>> {
    let pair = connect().await?;
    let echo = async {
        while let Some(m) = pair.ch_b.recv().await {
            match m {
                Message::Binary(b) => pair.ch_b.send(b).await?,
                Message::Text(t) => pair.ch_b.send_text(t).await?,
            }
        }
        Ok::<_, unipeer::Error>(())
    };
    let payload = [0x5au8; RTT_PAYLOAD];
    let ping = async {
        let mut samples = Vec::with_capacity(RTT_ROUNDS);
        for i in 0..RTT_WARMUP + RTT_ROUNDS {
            let t0 = Instant::now();
            pair.ch_a.send(&payload[..]).await?;
            match pair.ch_a.recv().await {
                Some(Message::Binary(b)) if b.len() == RTT_PAYLOAD => {}
                other => return Err(format!("unexpected echo {other:?}").into()),
            }
            if i >= RTT_WARMUP {
                samples.push(t0.elapsed().as_secs_f64() * 1e6);
            }
        }
        Ok::<_, Box<dyn std::error::Error>>(samples)
    };
    let samples = within(PHASE_TIMEOUT, "rtt", async {
        match select(std::pin::pin!(ping), std::pin::pin!(echo)).await {
            Either::Left((samples, _)) => samples,
            Either::Right((r, _)) => Err(format!("echo side stopped: {r:?}").into()),
        }
    })
    .await??;
    pair.close().await;
    Ok(samples)
}

async fn phase_idle() -> Result<f64> {
    let pairs = connect_many(IDLE_PAIRS, IDLE_BATCH).await?;
    log(format!("{} peers connected, settling", 2 * pairs.len()));
    futures_timer::Delay::new(IDLE_SETTLE).await;
    let cpu0 = cpu_time()?;
    let t0 = Instant::now();
    futures_timer::Delay::new(IDLE_WINDOW).await;
    let cpu = cpu_time()? - cpu0;
    let wall = t0.elapsed();
    let pct = 100.0 * cpu.as_secs_f64() / wall.as_secs_f64();
    log(format!(
        "idle: {} peers used {cpu:.2?} CPU in {wall:.2?}: {pct:.2}% of one core",
        2 * pairs.len()
    ));
    close_all(pairs).await;
    Ok(pct)
}

const PHASES: [&str; 6] = ["memory", "connect", "throughput", "rtt", "idle", "rpc"];
/// The phases run when none are named.
const DEFAULT_PHASES: [&str; 5] = ["memory", "connect", "throughput", "rtt", "idle"];

/// Runs the selected phases. A phase that fails (or times out) is reported in the output's
/// `errors` array and leaves its metrics out; the other phases still run.
async fn bench(phases: &[String]) -> Result<serde_json::Value> {
    let wants = |p: &str| phases.iter().any(|x| x == p);
    let mut out = serde_json::Map::new();
    out.insert(
        "version".into(),
        concat!("unipeer ", env!("CARGO_PKG_VERSION")).into(),
    );
    let mut errors: Vec<String> = Vec::new();
    let mut record = |phase: &str, r: Result<Vec<(&'static str, f64)>>| match r {
        Ok(metrics) => {
            for (k, v) in metrics {
                out.insert(k.into(), v.into());
            }
        }
        Err(e) => {
            log(format!("{phase} FAILED: {e}"));
            errors.push(format!("{phase}: {e}"));
        }
    };

    // Without one working pair nothing else can run.
    log("warm-up pair");
    connect().await?.close().await;

    if wants("memory") {
        log(format!("memory, {RSS_PAIRS} pairs"));
        let r = within(PHASE_TIMEOUT, "memory phase", phase_rss()).await;
        record(
            "memory",
            r.and_then(|r| Ok(vec![("rss_kib_per_peer", round(r?, 1))])),
        );
    }

    if wants("connect") {
        log(format!("connect, {CONNECT_RUNS} runs"));
        let r = within(PHASE_TIMEOUT, "connect phase", phase_connect()).await;
        record(
            "connect",
            r.and_then(|r| {
                let mut ms = r?;
                let p50 = percentile(&mut ms, 50.0);
                let max = ms.iter().copied().fold(0.0, f64::max);
                log(format!("connect p50 {p50:.1} ms, max {max:.1} ms"));
                Ok(vec![
                    ("connect_ms_p50", round(p50, 2)),
                    ("connect_ms_max", round(max, 2)),
                ])
            }),
        );
    }

    if wants("throughput") {
        for (size, key) in [
            (16 * 1024, "throughput_mbs_16k"),
            (64 * 1024, "throughput_mbs_64k"),
        ] {
            let r = phase_throughput(size).await;
            record(
                &format!("throughput {} KiB", size / 1024),
                r.map(|mbs| vec![(key, round(mbs, 2))]),
            );
        }
    }

    if wants("rtt") {
        log(format!("rtt, {RTT_ROUNDS} rounds"));
        let r = phase_rtt().await;
        record(
            "rtt",
            r.map(|mut rtt| {
                let p50 = percentile(&mut rtt, 50.0);
                let p99 = percentile(&mut rtt, 99.0);
                log(format!("rtt p50 {p50:.1} us, p99 {p99:.1} us"));
                vec![("rtt_us_p50", round(p50, 1)), ("rtt_us_p99", round(p99, 1))]
            }),
        );
    }

    if wants("idle") {
        log(format!("idle cpu, {} peers", 2 * IDLE_PAIRS));
        let r = within(PHASE_TIMEOUT, "idle phase", phase_idle()).await;
        record(
            "idle",
            r.and_then(|r| Ok(vec![("idle_cpu_pct_1000_peers", round(r?, 2))])),
        );
    }

    if wants("rpc") {
        log("rpc: call round trip against raw ping-pong, then 64 calls in flight");
        record("rpc", rpc::phase_rpc().await);
    }

    if !errors.is_empty() {
        out.insert("errors".into(), errors.into());
    }
    Ok(serde_json::Value::Object(out))
}

/// `unipeer-bench [--phases memory,connect,throughput,rtt,idle,rpc]` (default: all but rpc).
fn parse_phases() -> Result<Vec<String>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [] => Ok(DEFAULT_PHASES.iter().map(|p| p.to_string()).collect()),
        [flag, list] if flag == "--phases" => {
            let phases: Vec<String> = list.split(',').map(str::to_string).collect();
            match phases.iter().find(|p| !PHASES.contains(&p.as_str())) {
                Some(bad) => {
                    Err(format!("unknown phase `{bad}` (known: {})", PHASES.join(",")).into())
                }
                None => Ok(phases),
            }
        }
        _ => Err(format!("usage: unipeer-bench [--phases {}]", PHASES.join(",")).into()),
    }
}

fn main() {
    let result = parse_phases().and_then(|phases| futures::executor::block_on(bench(&phases)));
    match result {
        Ok(json) => println!("{json}"),
        Err(e) => {
            eprintln!("unipeer: bench failed: {e}");
            std::process::exit(1);
        }
    }
}
