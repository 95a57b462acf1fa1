//! Raw UDP ping-pong on 127.0.0.1: the floor for any WebRTC round trip on this machine.
//!
//! Two sockets, an echo thread and the measuring thread; 64-byte payload, 200 warm-up rounds,
//! then 10,000 measured rounds. Prints `{"rtt_us_p50":..,"rtt_us_p99":..}` on stdout.

use std::net::UdpSocket;
use std::time::{Duration, Instant};

use unipeer_baselines::{percentile, round, PHASE_TIMEOUT, RTT_PAYLOAD, RTT_ROUNDS, RTT_WARMUP};

fn main() -> anyhow::Result<()> {
    let ping = UdpSocket::bind("127.0.0.1:0")?;
    let pong = UdpSocket::bind("127.0.0.1:0")?;
    ping.connect(pong.local_addr()?)?;
    pong.connect(ping.local_addr()?)?;
    // A lost datagram on loopback is unexpected; a read timeout turns it into an error
    // instead of a hang.
    ping.set_read_timeout(Some(Duration::from_secs(2)))?;
    pong.set_read_timeout(Some(Duration::from_secs(2)))?;

    let total = RTT_WARMUP + RTT_ROUNDS;
    let echo = std::thread::spawn(move || -> std::io::Result<()> {
        let mut buf = [0u8; 2048];
        for _ in 0..total {
            let n = pong.recv(&mut buf)?;
            pong.send(&buf[..n])?;
        }
        Ok(())
    });

    let payload = [0x5au8; RTT_PAYLOAD];
    let mut buf = [0u8; 2048];
    let mut samples = Vec::with_capacity(RTT_ROUNDS);
    let started = Instant::now();
    for i in 0..total {
        if started.elapsed() > PHASE_TIMEOUT {
            anyhow::bail!("udp ping-pong exceeded {PHASE_TIMEOUT:?}");
        }
        let t0 = Instant::now();
        ping.send(&payload)?;
        let n = ping.recv(&mut buf)?;
        let rtt = t0.elapsed();
        anyhow::ensure!(n == RTT_PAYLOAD, "echo of {n} bytes");
        if i >= RTT_WARMUP {
            samples.push(rtt.as_secs_f64() * 1e6);
        }
    }
    echo.join().expect("echo thread panicked")?;

    let p50 = percentile(&mut samples, 50.0);
    let p99 = percentile(&mut samples, 99.0);
    eprintln!("udp: rtt p50 {p50:.1} us, p99 {p99:.1} us");
    println!(
        "{}",
        serde_json::json!({ "rtt_us_p50": round(p50, 1), "rtt_us_p99": round(p99, 1) })
    );
    Ok(())
}
