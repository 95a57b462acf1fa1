//! A native peer for the network labs (`cargo xtask test labs`, xtask/src/labs.rs).
//!
//! Joins a room on a unipeer signaling server; the `offer` side offers to the first other
//! member, the `answer` side answers. Candidates trickle over signaling. Once connected the
//! offerer sends `ping` on a data channel and the answerer sends `pong` back. Each side then
//! prints one line:
//! `lab-peer: result role=ROLE connect_ms=N local=TYPE remote=TYPE ice_errors=LIST`
//! (time from the offer to `Connected`, the selected candidate pair's types, and the ICE
//! server errors reported on the way: STUN error codes, or `none`), and exits
//! 0. Any failure or the time limit exits 1 with the reason; every wait is bounded.
//!
//! `lab-peer --signal ws://HOST:PORT --room ROOM --role offer|answer [--ice URL]...
//!  [--user U --pass P] [--limit SECS] [--failed-timeout SECS] [--hold]` (`--user`/`--pass`
//! apply to every `turn:` URL). With `--hold` the peers stay connected after the ping/pong:
//! the offerer prints its result and waits to be killed; the answerer prints
//! `lab-peer: state STATE` at each change and its result once the connection failed.

#[cfg(target_arch = "wasm32")]
fn main() {}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    let code = match native::main() {
        Ok(line) => {
            println!("{line}");
            0
        }
        Err(e) => {
            eprintln!("lab-peer: FAILED: {e}");
            1
        }
    };
    std::process::exit(code);
}

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::time::{Duration, Instant};

    use futures::FutureExt;
    use unipeer::signaling::{SignalPayload, SignalingClient, SignalingEvent};
    use unipeer::{
        CandidatePair, ConnectionState, DataChannel, DataChannelInit, Error, IceServer, Message,
        Peer, PeerConfig, PeerEvent, SdpType,
    };

    struct Args {
        signal: String,
        room: String,
        offer: bool,
        ice: Vec<String>,
        user: Option<String>,
        pass: Option<String>,
        limit: Duration,
        /// `PeerConfig::failed_timeout`.
        failed_timeout: Option<Duration>,
        /// After the ping/pong, the offerer sends a numbered message every 50 ms for this
        /// long, then `end`; the answerer answers `got N ordered=BOOL`.
        stream: Option<Duration>,
        /// After the ping/pong, stay connected: the offerer prints its result and waits to be
        /// killed; the answerer prints each state change and its result once `Failed`.
        hold: bool,
    }

    fn args() -> Result<Args, String> {
        let mut a = Args {
            signal: String::new(),
            room: "lab".into(),
            offer: false,
            ice: Vec::new(),
            user: None,
            pass: None,
            limit: Duration::from_secs(60),
            failed_timeout: None,
            stream: None,
            hold: false,
        };
        let mut it = std::env::args().skip(1);
        while let Some(flag) = it.next() {
            let mut value = || it.next().ok_or(format!("{flag} needs a value"));
            match flag.as_str() {
                "--signal" => a.signal = value()?,
                "--room" => a.room = value()?,
                "--role" => {
                    a.offer = match value()?.as_str() {
                        "offer" => true,
                        "answer" => false,
                        other => return Err(format!("--role offer|answer, got {other}")),
                    }
                }
                "--ice" => a.ice.push(value()?),
                "--user" => a.user = Some(value()?),
                "--pass" => a.pass = Some(value()?),
                "--limit" => {
                    let secs: u64 = value()?.parse().map_err(|_| "--limit takes seconds")?;
                    a.limit = Duration::from_secs(secs.clamp(1, 600));
                }
                "--failed-timeout" => {
                    let secs: u64 = value()?
                        .parse()
                        .map_err(|_| "--failed-timeout takes seconds")?;
                    a.failed_timeout = Some(Duration::from_secs(secs));
                }
                "--hold" => a.hold = true,
                "--stream" => {
                    let secs: u64 = value()?.parse().map_err(|_| "--stream takes seconds")?;
                    a.stream = Some(Duration::from_secs(secs.clamp(1, 120)));
                }
                other => return Err(format!("unknown argument {other}")),
            }
        }
        if a.signal.is_empty() {
            return Err("--signal ws://HOST:PORT is required".into());
        }
        Ok(a)
    }

    pub fn main() -> Result<String, String> {
        tracing_subscriber::fmt()
            .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
            .with_writer(std::io::stderr)
            .init();
        let a = args()?;
        let limit = a.limit;
        let run = run(a);
        futures::executor::block_on(async {
            futures::select! {
                r = run.fuse() => r,
                _ = futures_timer::Delay::new(limit).fuse() => {
                    Err(format!("not done within {limit:?}"))
                }
            }
        })
    }

    async fn run(a: Args) -> Result<String, String> {
        let ice_servers = a
            .ice
            .iter()
            .map(|url| {
                if url.starts_with("turn") {
                    IceServer {
                        urls: vec![url.clone()],
                        username: a.user.clone(),
                        credential: a.pass.clone(),
                    }
                } else {
                    IceServer::stun(url.clone())
                }
            })
            .collect();
        let mut config = PeerConfig {
            ice_servers,
            ..Default::default()
        };
        if let Some(t) = a.failed_timeout {
            config.failed_timeout = t;
        }
        let url = format!("{}/v1/rooms/{}", a.signal.trim_end_matches('/'), a.room);
        let mut sig = SignalingClient::connect(&url)
            .await
            .map_err(|e| format!("signaling: {e}"))?;
        let peer = Peer::new(config).map_err(|e| format!("peer: {e}"))?;
        let events = peer.events();
        let role = if a.offer { "offer" } else { "answer" };
        let mut remote: Option<String> = None;
        let mut started: Option<Instant> = None;
        let mut connect_ms: Option<u128> = None;
        let mut pair: Option<CandidatePair> = None;
        let mut channel: Option<DataChannel> = None;
        let mut pinged = false;
        // Gathering is over (so every ICE server error has been reported).
        let mut gathered = false;
        // The stream's outcome (`--stream`): the answerer's count, in order or not.
        let mut streamed: Option<String> = None;
        let (mut next_expected, mut in_order) = (0u64, true);
        // Non-fatal ICE server errors: the STUN error code, or `unreachable`/`unsupported`.
        let mut ice_errors: Vec<String> = Vec::new();
        let mut done = false;
        loop {
            if done && gathered && a.hold && a.offer {
                if let (Some(ms), Some(p)) = (connect_ms, pair) {
                    // Report, then wait (connected, answering keepalives) to be killed.
                    println!(
                        "lab-peer: result role=offer connect_ms={ms} local={} remote={} ice_errors=none",
                        p.local.as_str(),
                        p.remote.as_str()
                    );
                    futures_timer::Delay::new(a.limit).await;
                    return Err("held for the whole limit without being killed".into());
                }
            }
            if done && gathered && !a.hold {
                if let (Some(ms), Some(p)) = (connect_ms, pair) {
                    // Returns once the TURN allocations are released (the lab checks).
                    peer.close().await;
                    let errors = if ice_errors.is_empty() {
                        "none".to_string()
                    } else {
                        ice_errors.join(",")
                    };
                    let stream = streamed
                        .as_deref()
                        .map(|g| g.replace(' ', "_"))
                        .unwrap_or_else(|| "none".into());
                    return Ok(format!(
                        "lab-peer: result role={role} connect_ms={ms} local={} remote={} ice_errors={errors} stream={stream}",
                        p.local.as_str(),
                        p.remote.as_str()
                    ));
                }
            }
            let recv = async {
                match &channel {
                    Some(ch) => ch.recv().await,
                    None => futures::future::pending().await,
                }
            };
            futures::select! {
                e = sig.next_event().fuse() => match e {
                    Some(SignalingEvent::Joined { peers, .. }) if a.offer => {
                        if let (None, Some(p)) = (&remote, peers.first()) {
                            remote = Some(p.clone());
                            started = Some(Instant::now());
                            channel = Some(offer(&peer, &mut sig, p).await?);
                        }
                    }
                    Some(SignalingEvent::PeerJoined { peer_id }) if a.offer && remote.is_none() => {
                        remote = Some(peer_id.clone());
                        started = Some(Instant::now());
                        channel = Some(offer(&peer, &mut sig, &peer_id).await?);
                    }
                    Some(SignalingEvent::Signal { from, payload }) => match payload {
                        SignalPayload::Description(d) if d.kind == SdpType::Offer && !a.offer => {
                            remote = Some(from.clone());
                            started = Some(Instant::now());
                            let answer = peer.accept_offer(d).await.map_err(|e| format!("accept offer: {e}"))?;
                            send(&mut sig, &from, &SignalPayload::Description(answer))?;
                        }
                        SignalPayload::Description(d) if d.kind == SdpType::Answer && a.offer => {
                            peer.accept_answer(d).await.map_err(|e| format!("accept answer: {e}"))?;
                        }
                        SignalPayload::Candidate(c) => {
                            peer.add_ice_candidate(c).await.map_err(|e| format!("remote candidate: {e}"))?;
                        }
                        _ => {}
                    },
                    Some(SignalingEvent::PeerLeft { peer_id }) if remote.as_deref() == Some(&peer_id) => {
                        if connect_ms.is_some() { done = true; } else {
                            return Err("the other peer left before connecting".into());
                        }
                    }
                    Some(SignalingEvent::Closed { reason }) => return Err(format!("signaling closed: {reason}")),
                    None => return Err("signaling ended".into()),
                    _ => {}
                },
                e = events.next_event().fuse() => match e {
                    Some(PeerEvent::LocalCandidate(c)) => {
                        if let Some(r) = &remote { send(&mut sig, r, &SignalPayload::Candidate(c))?; }
                    }
                    Some(PeerEvent::EndOfCandidates) => {
                        gathered = true;
                        if let Some(r) = &remote { send(&mut sig, r, &SignalPayload::EndOfCandidates)?; }
                    }
                    Some(PeerEvent::SelectedCandidatePairChange(p)) => pair = Some(p),
                    Some(PeerEvent::ConnectionStateChange(ConnectionState::Connected)) => {
                        if connect_ms.is_none() {
                            connect_ms = started.map(|s| s.elapsed().as_millis());
                            eprintln!("lab-peer: connected after {connect_ms:?} ms");
                        } else {
                            eprintln!("lab-peer: connected again");
                        }
                    }
                    Some(PeerEvent::ConnectionStateChange(s)) if a.hold && !a.offer && connect_ms.is_some() => {
                        eprintln!("lab-peer: state {s:?}");
                        if s == ConnectionState::Failed {
                            let p = pair.ok_or("no selected pair")?;
                            return Ok(format!(
                                "lab-peer: result role=answer connect_ms={} local={} remote={} ice_errors=none",
                                connect_ms.unwrap_or_default(),
                                p.local.as_str(),
                                p.remote.as_str()
                            ));
                        }
                    }
                    Some(PeerEvent::ConnectionStateChange(s @ (ConnectionState::Failed | ConnectionState::Closed))) => {
                        if done || (connect_ms.is_some() && !a.offer) { done = true; } else {
                            return Err(format!("connection {s:?}"));
                        }
                    }
                    Some(PeerEvent::DataChannel(ch)) => channel = Some(ch),
                    Some(PeerEvent::IceServerError { url, error }) => {
                        eprintln!("lab-peer: ICE server {url}: {error}");
                        ice_errors.push(match error {
                            Error::IceServerRefused { code, .. } => code.to_string(),
                            Error::IceServerUnreachable => "unreachable".into(),
                            _ => "unsupported".into(),
                        });
                    }
                    Some(PeerEvent::Error(e)) => return Err(format!("peer error: {e}")),
                    Some(PeerEvent::Closed) | None => {
                        if connect_ms.is_some() { done = true; } else {
                            return Err("peer closed before connecting".into());
                        }
                    }
                    _ => {}
                },
                m = recv.fuse() => match m {
                    Some(Message::Text(t)) if t == "ping" => {
                        if let Some(ch) = &channel {
                            ch.send_text("pong").await.map_err(|e| format!("send pong: {e}"))?;
                        }
                        eprintln!("lab-peer: ping answered");
                    }
                    Some(Message::Text(t)) if t == "pong" => match (a.stream, &channel) {
                        (Some(length), Some(ch)) => {
                            // Numbered messages every 50 ms; `send` waits while the
                            // channel buffers too much (a cut link), none is lost.
                            let count = length.as_millis() / 50;
                            for i in 0..count {
                                ch.send_text(i.to_string()).await.map_err(|e| format!("send {i}: {e}"))?;
                                futures_timer::Delay::new(Duration::from_millis(50)).await;
                            }
                            ch.send_text("end").await.map_err(|e| format!("send end: {e}"))?;
                            eprintln!("lab-peer: sent {count} messages");
                        }
                        _ => done = true,
                    },
                    Some(Message::Text(t)) if t == "end" => {
                        let got = format!("got {next_expected} ordered={in_order}");
                        eprintln!("lab-peer: {got}");
                        if let Some(ch) = &channel {
                            ch.send_text(got.clone()).await.map_err(|e| format!("send got: {e}"))?;
                        }
                        streamed = Some(got);
                    }
                    Some(Message::Text(t)) if t.starts_with("got ") => {
                        streamed = Some(t.clone());
                        done = true;
                    }
                    Some(Message::Text(t)) if t.parse::<u64>().is_ok() => {
                        let n: u64 = t.parse().unwrap_or(u64::MAX);
                        in_order &= n == next_expected;
                        next_expected = n + 1;
                    }
                    Some(_) => {}
                    None => {
                        channel = None;
                        if connect_ms.is_some() { done = true; }
                    }
                },
            }
            if a.offer && !pinged && connect_ms.is_some() {
                if let Some(ch) = &channel {
                    ch.wait_open().await.map_err(|e| format!("channel: {e}"))?;
                    ch.send_text("ping")
                        .await
                        .map_err(|e| format!("send ping: {e}"))?;
                    pinged = true;
                }
            }
        }
    }

    async fn offer(
        peer: &Peer,
        sig: &mut SignalingClient,
        to: &str,
    ) -> Result<DataChannel, String> {
        let ch = peer
            .create_data_channel("lab", DataChannelInit::default())
            .await
            .map_err(|e| format!("channel: {e}"))?;
        let offer = peer
            .create_offer()
            .await
            .map_err(|e| format!("offer: {e}"))?;
        send(sig, to, &SignalPayload::Description(offer))?;
        Ok(ch)
    }

    fn send(sig: &mut SignalingClient, to: &str, p: &SignalPayload) -> Result<(), String> {
        sig.send(to, p).map_err(|e| format!("signaling send: {e}"))
    }
}
