//! The `rpc` phase: unipeer's RPC layer against a raw data-channel ping-pong on the same
//! pair of peers, in the same run.
//!
//! The pair has two reliable ordered channels: one carries the raw ping-pong (64-byte
//! binary messages echoed back), the other an `Rpc` whose `echo` method returns its 64-byte
//! argument (a typed call, postcard-encoded). Raw and RPC rounds alternate in blocks, so
//! both see the same machine load. Then calls per second with 64 calls in flight.
//! Everything runs on this thread's executor, as in the RTT phase.

use std::time::{Duration, Instant};

use futures::future::{select, Either};
use futures::stream::FuturesUnordered;
use futures::StreamExt;
use unipeer::rpc::{Rpc, RpcConfig};
use unipeer::{DataChannelInit, Message, PeerEvent};

use crate::{connect, percentile, round, within, Result, PHASE_TIMEOUT};

const PAYLOAD: usize = 64;
const BLOCKS: usize = 10;
const BLOCK_ROUNDS: usize = 1_000;
const WARMUP: usize = 200;
const IN_FLIGHT: usize = 64;
const PIPELINED_CALLS: usize = 50_000;

/// `[(key, value)]` for the results: call p50/p99, raw p50, calls/s with 64 in flight.
pub async fn phase_rpc() -> Result<Vec<(&'static str, f64)>> {
    let pair = connect().await?;
    // The RPC's own channel, opened on the connected pair.
    let rpc_a = pair
        .a
        .create_data_channel("rpc", DataChannelInit::default())
        .await?;
    let mut events_b = pair.b.events();
    let rpc_b = within(Duration::from_secs(20), "the rpc channel", async {
        loop {
            match events_b.next().await {
                Some(PeerEvent::DataChannel(ch)) => return Ok(ch),
                Some(_) => {}
                None => return Err("the answerer closed"),
            }
        }
    })
    .await??;
    rpc_a.wait_open().await?;

    let (client, client_driver) = Rpc::new(rpc_a, RpcConfig::default())?;
    let (server, server_driver) = Rpc::new(rpc_b, RpcConfig::default())?;
    server.register("echo", |bytes: Vec<u8>| async move { Ok(bytes) });

    let echo = async {
        while let Some(m) = pair.ch_b.recv().await {
            if let Message::Binary(b) = m {
                pair.ch_b.send(b).await?;
            }
        }
        Ok::<_, unipeer::Error>(())
    };
    let payload = vec![0x5au8; PAYLOAD];
    let measure = async {
        let (mut raw, mut calls) = (Vec::new(), Vec::new());
        for block in 0..BLOCKS {
            let warm = if block == 0 { WARMUP } else { 0 };
            for i in 0..warm + BLOCK_ROUNDS {
                let t0 = Instant::now();
                pair.ch_a.send(&payload[..]).await?;
                match pair.ch_a.recv().await {
                    Some(Message::Binary(b)) if b.len() == PAYLOAD => {}
                    other => return Err(format!("unexpected echo {other:?}").into()),
                }
                if i >= warm {
                    raw.push(t0.elapsed().as_secs_f64() * 1e6);
                }
            }
            for i in 0..warm + BLOCK_ROUNDS {
                let t0 = Instant::now();
                let back: Vec<u8> = client.call("echo", &payload).await?;
                if back.len() != PAYLOAD {
                    return Err("the echo call returned something else".into());
                }
                if i >= warm {
                    calls.push(t0.elapsed().as_secs_f64() * 1e6);
                }
            }
        }
        let t0 = Instant::now();
        let mut in_flight = FuturesUnordered::new();
        let mut started = 0;
        let mut done = 0;
        while done < PIPELINED_CALLS {
            while in_flight.len() < IN_FLIGHT && started < PIPELINED_CALLS {
                started += 1;
                in_flight.push(client.call::<_, Vec<u8>>("echo", &payload));
            }
            match in_flight.next().await {
                Some(r) => {
                    r?;
                    done += 1;
                }
                None => return Err("no call in flight".into()),
            }
        }
        let per_s = PIPELINED_CALLS as f64 / t0.elapsed().as_secs_f64();
        Ok::<_, Box<dyn std::error::Error>>((raw, calls, per_s))
    };
    let drivers = futures::future::join3(client_driver, server_driver, echo);
    let (mut raw, mut calls, per_s) = within(PHASE_TIMEOUT, "rpc", async {
        match select(std::pin::pin!(measure), std::pin::pin!(drivers)).await {
            Either::Left((r, _)) => r,
            Either::Right(_) => Err("the rpc drivers or the echo stopped".into()),
        }
    })
    .await??;
    pair.close().await;

    let raw_p50 = percentile(&mut raw, 50.0);
    let call_p50 = percentile(&mut calls, 50.0);
    let call_p99 = percentile(&mut calls, 99.0);
    crate::log(format!(
        "rpc: call p50 {call_p50:.1} us (raw ping-pong {raw_p50:.1} us: {:.2}x), p99 {call_p99:.1} us, {per_s:.0} calls/s with {IN_FLIGHT} in flight",
        call_p50 / raw_p50
    ));
    Ok(vec![
        ("call_us_p50", round(call_p50, 1)),
        ("call_us_p99", round(call_p99, 1)),
        ("calls_per_s_64_in_flight", round(per_s, 0)),
        ("raw_rtt_us_p50", round(raw_p50, 1)),
        ("call_vs_raw_p50", round(call_p50 / raw_p50, 3)),
    ])
}
