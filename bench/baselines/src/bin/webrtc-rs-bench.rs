//! webrtc-rs (the `webrtc` crate) baseline for `cargo xtask bench`.
//!
//! Both peers live in this process and talk over 127.0.0.1 only: each peer binds one UDP
//! socket on 127.0.0.1, mDNS is disabled, and every gathered candidate is checked to be a
//! loopback address (a non-loopback one aborts the run, and is never forwarded).
//!
//! Phases (same order in every bench): warm-up pair, memory (100 connected pairs), connect
//! (20 runs), throughput (16 KiB and 64 KiB messages, 256 MiB each), RTT (64-byte ping-pong).
//! Prints one JSON object on stdout; progress goes to stderr.
//!
//! Throughput uses back-pressure the way webrtc-rs's own flow-control example does (pause on
//! `OnBufferedAmountHigh` at 1 MiB, resume on `OnBufferedAmountLow` at 512 KiB). For
//! experiments: `WEBRTC_RS_FLOW=limit` uses the blocking `send` with
//! `with_data_channel_send_buffer_limit` instead (`WEBRTC_RS_SEND_LIMIT` bytes, default 1 MiB),
//! and `WEBRTC_RS_THROUGHPUT_ONLY=1` runs only the throughput phase.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use bytes::BytesMut;
use futures::FutureExt;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver, UnboundedSender};
use tokio::task::JoinHandle;
use tokio::time::timeout;
use webrtc::data_channel::{DataChannel, DataChannelEvent};
use webrtc::peer_connection::{
    PeerConnection, PeerConnectionBuilder, PeerConnectionEventHandler, RTCConfigurationBuilder,
    RTCIceCandidateInit, RTCPeerConnectionIceEvent, SettingEngineBuilder,
};

use unipeer_baselines::*;

/// Time allowed for one pair to connect.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
/// Pairs connected concurrently in the memory phase.
const RSS_BATCH: usize = 10;

/// Set when any peer gathered a non-loopback candidate; the run then fails.
static NON_LOOPBACK: AtomicBool = AtomicBool::new(false);
static LOGGED_CANDIDATE: AtomicBool = AtomicBool::new(false);

struct Handler {
    candidates: UnboundedSender<RTCIceCandidateInit>,
    channels: UnboundedSender<Arc<dyn DataChannel>>,
}

#[async_trait::async_trait]
impl PeerConnectionEventHandler for Handler {
    async fn on_ice_candidate(&self, event: RTCPeerConnectionIceEvent) {
        if !is_loopback(&event.candidate.address) {
            eprintln!(
                "webrtc-rs: dropping NON-LOOPBACK candidate {}",
                event.candidate.address
            );
            NON_LOOPBACK.store(true, Ordering::SeqCst);
            return;
        }
        if !LOGGED_CANDIDATE.swap(true, Ordering::SeqCst) {
            eprintln!(
                "webrtc-rs: first local candidate: {} {}:{}",
                event.candidate.typ, event.candidate.address, event.candidate.port
            );
        }
        if let Ok(init) = event.candidate.to_json() {
            let _ = self.candidates.send(init);
        }
    }

    async fn on_data_channel(&self, data_channel: Arc<dyn DataChannel>) {
        let _ = self.channels.send(data_channel);
    }
}

type Pc = Arc<dyn PeerConnection>;

struct Peer {
    pc: Pc,
    candidates: UnboundedReceiver<RTCIceCandidateInit>,
    channels: UnboundedReceiver<Arc<dyn DataChannel>>,
}

/// One peer, gathering only on 127.0.0.1. `send_limit` is webrtc-rs's own back-pressure knob
/// (`send` waits while the channel has more than this many unacknowledged bytes).
async fn peer(send_limit: Option<usize>) -> Result<Peer> {
    let (cand_tx, candidates) = unbounded_channel();
    let (chan_tx, channels) = unbounded_channel();
    let settings = SettingEngineBuilder::new()
        .with_multicast_dns_mode(rtc::ice::mdns::MulticastDnsMode::Disabled)
        .with_network_types(vec![rtc::ice::network_type::NetworkType::Udp4])
        .with_include_loopback_candidate(true)
        .build();
    let mut builder = PeerConnectionBuilder::new()
        .with_configuration(RTCConfigurationBuilder::new().build())
        .with_setting_engine(settings)
        .with_handler(Arc::new(Handler {
            candidates: cand_tx,
            channels: chan_tx,
        }))
        .with_udp_addrs(vec!["127.0.0.1:0".to_string()]);
    if let Some(limit) = send_limit {
        builder = builder.with_data_channel_send_buffer_limit(limit);
    }
    let pc: Pc = Arc::new(builder.build().await?);
    Ok(Peer {
        pc,
        candidates,
        channels,
    })
}

struct Pair {
    a: Pc,
    b: Pc,
    ch_a: Arc<dyn DataChannel>,
    ch_b: Arc<dyn DataChannel>,
    tasks: Vec<JoinHandle<()>>,
}

impl Pair {
    async fn close(self) {
        for t in &self.tasks {
            t.abort();
        }
        let _ = self.ch_a.close().await;
        let _ = self.a.close().await;
        let _ = self.b.close().await;
    }
}

fn forward(mut from: UnboundedReceiver<RTCIceCandidateInit>, to: Pc) -> JoinHandle<()> {
    tokio::spawn(async move {
        while let Some(c) = from.recv().await {
            if to.add_ice_candidate(c).await.is_err() {
                break;
            }
        }
    })
}

async fn wait_open(ch: &Arc<dyn DataChannel>) -> Result<()> {
    loop {
        match ch.poll().await {
            Some(DataChannelEvent::OnOpen) => return Ok(()),
            Some(DataChannelEvent::OnClose) | None => bail!("channel closed before opening"),
            Some(_) => {}
        }
    }
}

/// Creates two peers, signals in-process with trickle ICE and waits for the channel to be
/// open on both sides. A reliable ordered channel (the default init).
async fn connect(send_limit: Option<usize>) -> Result<Pair> {
    let a = peer(send_limit).await?;
    let b = peer(send_limit).await?;
    let ch_a = a.pc.create_data_channel("bench", None).await?;
    let offer = a.pc.create_offer(None).await?;
    a.pc.set_local_description(offer.clone()).await?;
    b.pc.set_remote_description(offer).await?;
    let answer = b.pc.create_answer(None).await?;
    b.pc.set_local_description(answer.clone()).await?;
    a.pc.set_remote_description(answer).await?;
    let tasks = vec![
        forward(a.candidates, b.pc.clone()),
        forward(b.candidates, a.pc.clone()),
    ];
    let mut b_channels = b.channels;
    let opened = timeout(CONNECT_TIMEOUT, async {
        let open_b = async {
            let ch = b_channels
                .recv()
                .await
                .context("no data channel announced")?;
            wait_open(&ch).await?;
            Ok::<_, anyhow::Error>(ch)
        };
        tokio::try_join!(wait_open(&ch_a), open_b)
    })
    .await;
    let ch_b = match opened {
        Ok(Ok(((), ch_b))) => ch_b,
        Ok(Err(e)) => return Err(e),
        Err(_) => bail!("pair did not connect within {CONNECT_TIMEOUT:?}"),
    };
    if NON_LOOPBACK.load(Ordering::SeqCst) {
        bail!("a peer gathered a non-loopback candidate");
    }
    Ok(Pair {
        a: a.pc,
        b: b.pc,
        ch_a,
        ch_b,
        tasks,
    })
}

async fn phase_rss() -> Result<f64> {
    let before = rss_kib();
    let mut pairs = Vec::with_capacity(RSS_PAIRS);
    while pairs.len() < RSS_PAIRS {
        let n = RSS_BATCH.min(RSS_PAIRS - pairs.len());
        let batch = futures_join_all((0..n).map(|_| connect(None))).await;
        for p in batch {
            pairs.push(p?);
        }
    }
    // Let timers and buffers settle.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_kib();
    let per_peer = (after as f64 - before as f64) / (2 * RSS_PAIRS) as f64;
    eprintln!(
        "webrtc-rs: rss {before} KiB -> {after} KiB with {RSS_PAIRS} pairs: {per_peer:.0} KiB/peer"
    );
    for p in pairs {
        p.close().await;
    }
    Ok(per_peer)
}

/// Runs the futures concurrently on the runtime and collects their results in order.
async fn futures_join_all<F>(futs: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futs.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.expect("task panicked"));
    }
    out
}

async fn phase_connect() -> Result<Vec<f64>> {
    let mut samples = Vec::with_capacity(CONNECT_RUNS);
    for _ in 0..CONNECT_RUNS {
        let t0 = Instant::now();
        let pair = connect(None).await?;
        samples.push(t0.elapsed().as_secs_f64() * 1e3);
        pair.close().await;
    }
    Ok(samples)
}

/// Bytes of unacknowledged data a sender may have outstanding on one channel. The default
/// SCTP receive window is 1 MiB; override with `WEBRTC_RS_SEND_LIMIT` (bytes).
fn send_limit() -> usize {
    std::env::var("WEBRTC_RS_SEND_LIMIT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024 * 1024)
}

async fn phase_throughput(msg_size: usize) -> Result<f64> {
    // Back-pressure the way webrtc-rs's flow-control example does it (buffered-amount
    // events); `WEBRTC_RS_FLOW=limit` uses the blocking `send` with a send-buffer limit instead.
    let by_events = std::env::var("WEBRTC_RS_FLOW").as_deref() != Ok("limit");
    let pair = connect(if by_events { None } else { Some(send_limit()) }).await?;
    let count = THROUGHPUT_BYTES / msg_size;
    let ch_a = pair.ch_a.clone();
    let sender = tokio::spawn(async move {
        let buf = BytesMut::from(&vec![0xabu8; msg_size][..]);
        if by_events {
            // The browser way: pause on OnBufferedAmountHigh, resume on OnBufferedAmountLow.
            ch_a.set_buffered_amount_low_threshold(512 * 1024).await?;
            ch_a.set_buffered_amount_high_threshold(1024 * 1024).await?;
            let mut paused = false;
            for _ in 0..count {
                ch_a.send(buf.clone()).await?;
                while let Some(Some(ev)) = ch_a.poll().now_or_never() {
                    match ev {
                        DataChannelEvent::OnBufferedAmountHigh => paused = true,
                        DataChannelEvent::OnBufferedAmountLow => paused = false,
                        _ => {}
                    }
                }
                while paused {
                    match ch_a.poll().await {
                        Some(DataChannelEvent::OnBufferedAmountLow) => paused = false,
                        Some(_) => {}
                        None => return Err(webrtc::error::Error::ErrDataChannelClosed),
                    }
                }
            }
            // Keep the event queue drained until the receiver is done.
            while ch_a.poll().await.is_some() {}
        } else {
            // webrtc-rs's own back-pressure: `send` waits while the channel has more than
            // the configured limit of unacknowledged bytes. Keep its event queue drained.
            let events = ch_a.clone();
            let drain = tokio::spawn(async move { while events.poll().await.is_some() {} });
            for _ in 0..count {
                ch_a.send(buf.clone()).await?;
            }
            let _ = drain.await;
        }
        Ok::<_, webrtc::error::Error>(())
    });
    let receive = async {
        let mut received = 0usize;
        let mut first = None;
        while received < THROUGHPUT_BYTES {
            match pair.ch_b.poll().await {
                Some(DataChannelEvent::OnMessage(m)) => {
                    first.get_or_insert_with(Instant::now);
                    received += m.data.len();
                }
                Some(DataChannelEvent::OnClose) | None => {
                    bail!("channel closed after {received} bytes")
                }
                Some(_) => {}
            }
        }
        Ok(first.expect("no message").elapsed())
    };
    let mut sender = sender;
    let elapsed = timeout(PHASE_TIMEOUT, async {
        tokio::select! {
            r = receive => r,
            s = &mut sender => bail!("sender stopped early: {s:?}"),
        }
    })
    .await
    .context("throughput phase timed out")??;
    sender.abort();
    pair.close().await;
    let mbs = mb_per_s(THROUGHPUT_BYTES, elapsed);
    eprintln!(
        "webrtc-rs: throughput {} KiB messages: {mbs:.1} MB/s ({elapsed:.2?})",
        msg_size / 1024
    );
    Ok(mbs)
}

async fn phase_rtt() -> Result<Vec<f64>> {
    let pair = connect(None).await?;
    let ch_b = pair.ch_b.clone();
    let echo = tokio::spawn(async move {
        while let Some(ev) = ch_b.poll().await {
            if let DataChannelEvent::OnMessage(m) = ev {
                if ch_b.send(m.data).await.is_err() {
                    break;
                }
            }
        }
    });
    let payload = BytesMut::from(&[0x5au8; RTT_PAYLOAD][..]);
    let mut samples = Vec::with_capacity(RTT_ROUNDS);
    let run = async {
        for i in 0..RTT_WARMUP + RTT_ROUNDS {
            let t0 = Instant::now();
            pair.ch_a.send(payload.clone()).await?;
            loop {
                match pair.ch_a.poll().await {
                    Some(DataChannelEvent::OnMessage(m)) => {
                        anyhow::ensure!(
                            m.data.len() == RTT_PAYLOAD,
                            "echo of {} bytes",
                            m.data.len()
                        );
                        break;
                    }
                    Some(DataChannelEvent::OnClose) | None => bail!("channel closed"),
                    Some(_) => {}
                }
            }
            if i >= RTT_WARMUP {
                samples.push(t0.elapsed().as_secs_f64() * 1e6);
            }
        }
        Ok(())
    };
    timeout(PHASE_TIMEOUT, run)
        .await
        .context("rtt phase timed out")??;
    echo.abort();
    pair.close().await;
    Ok(samples)
}

#[tokio::main]
async fn main() -> Result<()> {
    eprintln!("webrtc-rs: warm-up pair");
    connect(None).await?.close().await;

    if std::env::var_os("WEBRTC_RS_THROUGHPUT_ONLY").is_some() {
        let tp16 = phase_throughput(16 * 1024).await?;
        let tp64 = phase_throughput(64 * 1024).await?;
        let out = serde_json::json!({ "throughput_mbs_16k": tp16, "throughput_mbs_64k": tp64 });
        println!("{out}");
        std::process::exit(0);
    }

    eprintln!("webrtc-rs: memory, {RSS_PAIRS} pairs");
    let rss = timeout(PHASE_TIMEOUT, phase_rss())
        .await
        .context("memory phase timed out")??;

    eprintln!("webrtc-rs: connect, {CONNECT_RUNS} runs");
    let mut connect_ms = timeout(PHASE_TIMEOUT, phase_connect())
        .await
        .context("connect phase timed out")??;
    let connect_p50 = percentile(&mut connect_ms, 50.0);
    let connect_max = max(&connect_ms);
    eprintln!("webrtc-rs: connect p50 {connect_p50:.1} ms, max {connect_max:.1} ms");

    let tp16 = phase_throughput(16 * 1024).await?;
    let tp64 = phase_throughput(64 * 1024).await?;

    eprintln!("webrtc-rs: rtt, {RTT_ROUNDS} rounds");
    let mut rtt = phase_rtt().await?;
    let rtt_p50 = percentile(&mut rtt, 50.0);
    let rtt_p99 = percentile(&mut rtt, 99.0);
    eprintln!("webrtc-rs: rtt p50 {rtt_p50:.1} us, p99 {rtt_p99:.1} us");

    if NON_LOOPBACK.load(Ordering::SeqCst) {
        bail!("a peer gathered a non-loopback candidate");
    }
    println!(
        "{}",
        serde_json::json!({
            "version": "webrtc 0.21.1",
            "connect_ms_p50": round(connect_p50, 2),
            "connect_ms_max": round(connect_max, 2),
            "throughput_mbs_16k": round(tp16, 2),
            "throughput_mbs_64k": round(tp64, 2),
            "rtt_us_p50": round(rtt_p50, 1),
            "rtt_us_p99": round(rtt_p99, 1),
            "rss_kib_per_peer": round(rss, 1),
        })
    );
    // Tear-down of the runtime can linger on driver tasks; the numbers are out.
    std::process::exit(0);
}
