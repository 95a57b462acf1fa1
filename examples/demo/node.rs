//! The demo node: one mesh member, the same code natively and in the browser.
//!
//! It joins a room with one mesh channel (id 0, reliable, ordered) and, over that channel:
//! - greets every peer that connects with a chat message, and sends the chat lines typed
//!   by its user to every peer;
//! - pings every peer once a second with a small binary message that the peer sends back as
//!   it came (so [`echo`](../echo.rs) nodes answer pings too): that gives each link's RTT;
//! - broadcasts its view of the mesh once a second (its links, their RTT and byte counts),
//!   so every node can draw the whole mesh, not only its own links;
//! - answers benchmark requests (send N bytes in messages of S bytes; count N bytes and
//!   acknowledge), and can lead a benchmark against the first peer that connects.
//!
//! Beside the channel, it sends its video (a clip natively, the camera in a page) to every
//! peer on a track of the link, and shows or reads the video peers send (`media.rs`).
//!
//! Wire format on channel 0: text messages are JSON objects with a `type` (`chat`, `state`,
//! `bench_send`, `bench_expect`, `bench_done`) and the sender's `from` id; binary messages
//! start with a tag byte: `P` a ping (`P`, origin id length, origin id, f64 send time), `B`
//! bulk benchmark data. A node that receives its own text or ping back knows that the peer
//! echoed it, which proves the link works both ways.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use futures::channel::mpsc;
use futures::future::{Fuse, FutureExt};
use futures::stream::{self, FuturesUnordered, LocalBoxStream, SelectAll, StreamExt};
use futures_timer::Delay;
use serde_json::{json, Map, Value};
use unipeer::{DataChannel, HostCandidates, Mesh, MeshConfig, MeshEvent, Message, PeerConfig};

use crate::media::{Input, Media, Screen, Source};

/// What this node is, as other nodes see it.
const KIND: &str = if cfg!(target_arch = "wasm32") {
    "browser"
} else {
    "native"
};

/// What a node does; the native command line and the page's URL parameters fill it.
pub struct Options {
    /// The signaling server, `ws://HOST:PORT`.
    pub url: String,
    pub room: String,
    /// Shown to the other nodes.
    pub name: String,
    pub token: Option<String>,
    pub host_candidates: HostCandidates,
    /// Join at this wall-clock time (milliseconds since the Unix epoch), to make nodes in
    /// different processes join at the same instant.
    pub start_at_ms: Option<f64>,
    /// Leave and join again (once) when this many peers are connected and verified.
    pub rejoin_after: Option<usize>,
    /// Ping every peer and broadcast the mesh view this often; `None`: never (benchmarks).
    pub tick: Option<Duration>,
    /// Lead a benchmark against the first peer that connects.
    pub bench: Option<Bench>,
    /// What to send every peer on a video track.
    pub video: Source,
}

/// A benchmark the node leads against the first peer that connects: the connect time
/// (the median of `connects` joins: the node leaves and joins again in between), then
/// `bytes` pulled from the peer and `bytes` pushed to it, in messages of `size` bytes.
#[derive(Clone, Copy)]
pub struct Bench {
    pub bytes: usize,
    pub size: usize,
    pub connects: usize,
}

/// Where a node shows what happens (and, in a page, the video peers send).
pub trait Ui: Screen {
    /// A line for people.
    fn line(&self, line: &str);
    /// The node's whole state, as JSON (see [`Node::state`]).
    fn state(&self, state: &Value);
}

/// Runs the node until the mesh ends or fails; failures are shown through `ui`.
pub async fn run(options: Options, ui: impl Ui, mut input: mpsc::UnboundedReceiver<Input>) {
    if let Some(at) = options.start_at_ms {
        let wait = at - platform::wall_ms();
        if wait > 0.0 {
            Delay::new(Duration::from_millis(wait as u64)).await;
        }
    }
    let mut node = Node::new(&options);
    loop {
        match node.generation(&options, &ui, &mut input).await {
            Ok(Next::Rejoin) => {
                node.generation += 1;
                Delay::new(Duration::from_millis(500)).await;
            }
            Ok(Next::Stop) => break,
            Err(e) => {
                ui.line(&format!("error: {e}"));
                node.errors.push(e);
                node.joined = false;
                ui.state(&node.state(&options));
                break;
            }
        }
    }
}

enum Next {
    Rejoin,
    Stop,
}

/// What the node sends on a link, in order.
enum Out {
    Message(Message),
    /// `bytes` of benchmark data in binary messages of `size` bytes.
    Bulk {
        bytes: usize,
        size: usize,
    },
}

struct Link {
    name: Option<String>,
    out: mpsc::UnboundedSender<Out>,
    connected_after_ms: f64,
    rtt_ms: Option<f64>,
    tx: u64,
    rx: u64,
    /// Got a text message that the peer wrote.
    text_in: bool,
    /// Got one of our own text messages back from the peer (it echoes).
    text_echo: bool,
    /// Got a ping from the peer.
    binary_in: bool,
    /// Got one of our own pings back from the peer.
    binary_echo: bool,
    /// Chat messages the peer wrote to us.
    chat_in: u32,
    /// Benchmark data expected from the peer and received so far.
    bulk_expected: usize,
    bulk_received: usize,
}

impl Link {
    /// Text and binary messages went both ways.
    fn verified(&self) -> bool {
        (self.text_in || self.text_echo) && self.binary_echo
    }

    fn send(&mut self, out: Out) {
        self.tx += match &out {
            Out::Message(m) => m.len() as u64,
            Out::Bulk { bytes, .. } => *bytes as u64,
        };
        // A send to a link whose writer ended is dropped: the link is going away.
        let _ = self.out.unbounded_send(out);
    }
}

enum Lead {
    WaitPeer,
    Pull { peer: String, t0: f64 },
    Push { peer: String, t0: f64 },
    Done,
}

struct Node {
    name: String,
    id: String,
    generation: u32,
    joined: bool,
    /// When this generation's `Mesh::join` was called (wall clock, ms since the epoch).
    joined_at_wall_ms: f64,
    signaling: String,
    links: BTreeMap<String, Link>,
    /// Peers whose link went away (this generation).
    gone: Vec<String>,
    /// Every node's view of its links, as it last broadcast it.
    views: BTreeMap<String, Value>,
    chat: VecDeque<Value>,
    bench: Map<String, Value>,
    lead: Lead,
    /// The benchmark leader's connect times so far.
    connect_samples: Vec<f64>,
    /// Leave and join again after this step (the benchmark leader).
    rejoin_now: bool,
    errors: Vec<String>,
    dirty: bool,
    published_ms: f64,
    media: Media,
}

enum Step {
    Mesh(Option<MeshEvent>),
    Received(String, Message),
    WriterEnded(String, Option<String>),
    Tick,
    Input(Input),
    Media(crate::media::Done),
}

impl Node {
    fn new(options: &Options) -> Self {
        Self {
            name: options.name.clone(),
            id: String::new(),
            generation: 0,
            joined: false,
            joined_at_wall_ms: 0.0,
            signaling: "connecting".into(),
            links: BTreeMap::new(),
            gone: Vec::new(),
            views: BTreeMap::new(),
            chat: VecDeque::new(),
            bench: Map::new(),
            lead: if options.bench.is_some() {
                Lead::WaitPeer
            } else {
                Lead::Done
            },
            connect_samples: Vec::new(),
            rejoin_now: false,
            errors: Vec::new(),
            dirty: true,
            published_ms: 0.0,
            media: Media::new(options.video.clone()),
        }
    }

    /// One membership of the room: join, run, and leave when it is time to rejoin.
    async fn generation(
        &mut self,
        options: &Options,
        ui: &impl Ui,
        input: &mut mpsc::UnboundedReceiver<Input>,
    ) -> Result<Next, String> {
        let config = MeshConfig {
            peer: PeerConfig {
                host_candidates: options.host_candidates.clone(),
                ..Default::default()
            },
            // The default: one reliable, ordered channel (id 0).
            token: options.token.clone(),
            ..Default::default()
        };
        let join_started = platform::now_ms();
        self.joined_at_wall_ms = platform::wall_ms();
        let mut mesh = Mesh::join(&options.url, &options.room, config)
            .await
            .map_err(|e| format!("joining {} at {} failed: {e}", options.room, options.url))?;
        self.id = mesh.local_id();
        self.joined = true;
        self.signaling = "connected".into();
        self.links.clear();
        self.gone.clear();
        self.views.clear();
        ui.line(&format!(
            "joined room {} as {} ({})",
            options.room, self.id, self.name
        ));
        self.publish(options, ui, true);

        let mut inbound: SelectAll<LocalBoxStream<'static, (String, Message)>> = SelectAll::new();
        let mut writers = FuturesUnordered::new();
        let new_tick = || match options.tick {
            Some(every) => Delay::new(every).fuse(),
            None => Fuse::terminated(),
        };
        let mut tick = new_tick();
        loop {
            let step = futures::select! {
                event = mesh.next_event().fuse() => Step::Mesh(event),
                (peer, message) = inbound.select_next_some() => Step::Received(peer, message),
                (peer, result) = writers.select_next_some() => Step::WriterEnded(peer, result),
                _ = tick => Step::Tick,
                input = input.select_next_some() => Step::Input(input),
                done = self.media.tasks.select_next_some() => Step::Media(done),
            };
            match step {
                Step::Mesh(None) => {
                    ui.line("the mesh ended");
                    self.joined = false;
                    self.publish(options, ui, true);
                    return Ok(Next::Stop);
                }
                Step::Mesh(Some(MeshEvent::Track { peer_id, track })) => {
                    ui.line(&format!(
                        "{peer_id} sends {}",
                        crate::media::kind(track.kind())
                    ));
                    self.media.remote_track(&peer_id, track, ui);
                    self.dirty = true;
                }
                Step::Mesh(Some(event)) => {
                    if let Some(channel) = self.on_mesh_event(event, join_started, ui) {
                        let (peer, channel) = channel;
                        let (tx, rx) = mpsc::unbounded();
                        writers.push(writer(peer.clone(), channel.clone(), rx));
                        inbound.push(received(peer.clone(), channel));
                        self.on_connected(peer.clone(), tx, join_started, options);
                        if let Err(e) = self.media.connected(&mesh, &peer).await {
                            ui.line(&e);
                        }
                    }
                }
                Step::Media(done) => {
                    if let Some(line) = self.media.done(done, ui) {
                        ui.line(&line);
                    }
                    self.dirty = true;
                }
                Step::Received(peer, message) => self.on_message(&peer, message, ui),
                Step::WriterEnded(peer, error) => {
                    if let Some(e) = error {
                        ui.line(&format!("sending to {peer} failed: {e}"));
                    }
                }
                Step::Tick => {
                    self.media.refresh();
                    self.ping_all();
                    self.broadcast_view();
                    self.publish(options, ui, true);
                    tick = new_tick();
                }
                Step::Input(Input::Chat(line)) => self.say(&line, ui),
                #[cfg(target_arch = "wasm32")]
                Step::Input(Input::Camera(camera)) => {
                    ui.line(if camera.is_some() {
                        "sending the camera to every peer"
                    } else {
                        "camera off"
                    });
                    if let Err(e) = self.media.set_camera(&mesh, camera).await {
                        ui.line(&format!("camera: {e}"));
                    }
                    self.dirty = true;
                }
            }
            self.publish(options, ui, false);
            let verified = self.links.values().filter(|l| l.verified()).count();
            let rejoin = options.rejoin_after.is_some_and(|n| verified >= n);
            let bench_rejoin = std::mem::take(&mut self.rejoin_now);
            if (rejoin && self.generation == 0) || bench_rejoin {
                ui.line(&if bench_rejoin {
                    "connect time measured: leaving the room to join it again".to_string()
                } else {
                    format!("{verified} peers verified: leaving the room to join it again")
                });
                self.joined = false;
                self.publish(options, ui, true);
                self.links.clear();
                self.media.clear(ui);
                drop(inbound);
                drop(writers);
                mesh.leave().await;
                return Ok(Next::Rejoin);
            }
        }
    }

    /// Returns the channel of a peer that just connected.
    fn on_mesh_event(
        &mut self,
        event: MeshEvent,
        join_started: f64,
        ui: &impl Ui,
    ) -> Option<(String, DataChannel)> {
        self.dirty = true;
        match event {
            MeshEvent::PeerConnected { peer_id, channels } => {
                ui.line(&format!(
                    "connected to {peer_id} ({:.0} ms after joining)",
                    platform::now_ms() - join_started
                ));
                let channel = channels.into_iter().next()?;
                return Some((peer_id, channel));
            }
            MeshEvent::PeerDisconnected { peer_id } => {
                ui.line(&format!("disconnected from {peer_id}"));
                self.media.disconnected(&peer_id, ui);
                self.links.remove(&peer_id);
                self.views.remove(&peer_id);
                self.gone.push(peer_id);
            }
            MeshEvent::PeerJoined { peer_id } => ui.line(&format!("{peer_id} joined")),
            MeshEvent::PeerLeft { peer_id } => {
                ui.line(&format!("{peer_id} left"));
                self.views.remove(&peer_id);
            }
            MeshEvent::SignalingLost { reason } => {
                ui.line(&format!("signaling lost: {reason}"));
                self.signaling = format!("lost: {reason}");
            }
            MeshEvent::SignalingRestored { peer_id } => {
                ui.line(&format!("signaling restored as {peer_id}"));
                self.signaling = "connected".into();
            }
            MeshEvent::Error(e) => {
                ui.line(&format!("error: {e}"));
                self.errors.push(e.to_string());
            }
            #[allow(unreachable_patterns)]
            _ => {}
        }
        None
    }

    fn on_connected(
        &mut self,
        peer: String,
        out: mpsc::UnboundedSender<Out>,
        join_started: f64,
        options: &Options,
    ) {
        let mut link = Link {
            name: None,
            out,
            connected_after_ms: platform::now_ms() - join_started,
            rtt_ms: None,
            tx: 0,
            rx: 0,
            text_in: false,
            text_echo: false,
            binary_in: false,
            binary_echo: false,
            chat_in: 0,
            bulk_expected: 0,
            bulk_received: 0,
        };
        if let (Lead::WaitPeer, Some(bench)) = (&self.lead, options.bench) {
            // The benchmark leader: how long the connection took; join again until there are
            // enough samples, then pull.
            self.connect_samples.push(round(link.connected_after_ms));
            if self.connect_samples.len() < bench.connects.max(1) {
                self.rejoin_now = true;
                self.links.insert(peer, link);
                return;
            }
            let mut sorted = self.connect_samples.clone();
            sorted.sort_by(f64::total_cmp);
            self.bench
                .insert("connect_ms".into(), json!(sorted[sorted.len() / 2]));
            self.bench
                .insert("connect_ms_samples".into(), json!(self.connect_samples));
            self.bench.insert("peer".into(), json!(peer));
            self.bench.insert("bytes".into(), json!(bench.bytes));
            self.bench.insert("size".into(), json!(bench.size));
            link.bulk_expected = bench.bytes;
            let request = json!({
                "type": "bench_send", "from": self.id, "bytes": bench.bytes, "size": bench.size,
            });
            link.send(Out::Message(Message::Text(request.to_string())));
            self.lead = Lead::Pull {
                peer: peer.clone(),
                t0: platform::now_ms(),
            };
        } else if options.tick.is_some() {
            let hello = self.chat_message(&format!("hi, I'm a {KIND} node"));
            link.send(Out::Message(Message::Text(hello.to_string())));
            link.send(Out::Message(self.ping()));
        }
        self.links.insert(peer, link);
    }

    fn on_message(&mut self, peer: &str, message: Message, ui: &impl Ui) {
        self.dirty = true;
        let me = self.id.clone();
        let Some(link) = self.links.get_mut(peer) else {
            return;
        };
        link.rx += message.len() as u64;
        match message {
            Message::Text(text) => {
                let Ok(Value::Object(m)) = serde_json::from_str::<Value>(&text) else {
                    link.text_in = true;
                    ui.line(&format!("{peer}: {text}"));
                    return;
                };
                let from = m.get("from").and_then(Value::as_str).unwrap_or("");
                if from == me {
                    // Our own message, sent back by a peer that echoes.
                    link.text_echo = true;
                    return;
                }
                link.text_in = true;
                if let Some(name) = m.get("name").and_then(Value::as_str) {
                    link.name = Some(name.to_string());
                }
                match m.get("type").and_then(Value::as_str).unwrap_or("") {
                    "chat" => {
                        link.chat_in += 1;
                        let name = link.name.clone().unwrap_or_else(|| peer.to_string());
                        let text = m.get("text").and_then(Value::as_str).unwrap_or("");
                        ui.line(&format!("{name}: {text}"));
                        self.remember_chat(Value::Object(m));
                    }
                    "state" => {
                        self.views.insert(peer.to_string(), Value::Object(m));
                    }
                    "bench_send" => {
                        let bytes = m.get("bytes").and_then(Value::as_u64).unwrap_or(0) as usize;
                        let size = m.get("size").and_then(Value::as_u64).unwrap_or(16384) as usize;
                        link.send(Out::Bulk {
                            bytes,
                            size: size.clamp(1, 256 * 1024),
                        });
                    }
                    "bench_expect" => {
                        link.bulk_expected =
                            m.get("bytes").and_then(Value::as_u64).unwrap_or(0) as usize;
                        link.bulk_received = 0;
                    }
                    "bench_done" => {
                        if let Lead::Push { peer: p, t0 } = &self.lead {
                            if p == peer {
                                let mbs = mb_per_s(
                                    m.get("bytes").and_then(Value::as_u64).unwrap_or(0) as usize,
                                    platform::now_ms() - t0,
                                );
                                self.bench.insert("push_mbs".into(), json!(mbs));
                                ui.line(&format!("benchmark: pushed at {mbs} MB/s"));
                                self.lead = Lead::Done;
                                self.published_ms = 0.0;
                            }
                        }
                    }
                    _ => {}
                }
            }
            Message::Binary(bytes) => match bytes.first() {
                Some(b'P') => match parse_ping(&bytes) {
                    Some((origin, sent)) if origin == me => {
                        link.binary_echo = true;
                        link.rtt_ms = Some(round(platform::now_ms() - sent));
                    }
                    _ => {
                        // Someone else's ping: send it back as it came.
                        link.binary_in = true;
                        link.send(Out::Message(Message::Binary(bytes)));
                    }
                },
                Some(b'B') => {
                    link.bulk_received += bytes.len();
                    if link.bulk_expected == 0 || link.bulk_received < link.bulk_expected {
                        return;
                    }
                    let total = link.bulk_received;
                    link.bulk_expected = 0;
                    link.bulk_received = 0;
                    match &self.lead {
                        Lead::Pull { peer: p, t0 } if p == peer => {
                            let mbs = mb_per_s(total, platform::now_ms() - t0);
                            self.bench.insert("pull_mbs".into(), json!(mbs));
                            ui.line(&format!("benchmark: pulled at {mbs} MB/s"));
                            // Now the other way.
                            link.send(Out::Message(Message::Text(
                                json!({"type": "bench_expect", "from": me, "bytes": total})
                                    .to_string(),
                            )));
                            let size = self.bench.get("size").and_then(Value::as_u64);
                            link.send(Out::Bulk {
                                bytes: total,
                                size: size.unwrap_or(16384) as usize,
                            });
                            self.lead = Lead::Push {
                                peer: peer.to_string(),
                                t0: platform::now_ms(),
                            };
                        }
                        _ => link.send(Out::Message(Message::Text(
                            json!({"type": "bench_done", "from": me, "bytes": total}).to_string(),
                        ))),
                    }
                }
                _ => link.binary_in = true,
            },
        }
    }

    fn say(&mut self, text: &str, ui: &impl Ui) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        let message = self.chat_message(text);
        for link in self.links.values_mut() {
            link.send(Out::Message(Message::Text(message.to_string())));
        }
        ui.line(&format!("{} (me): {text}", self.name));
        self.remember_chat(message);
        self.dirty = true;
    }

    fn chat_message(&self, text: &str) -> Value {
        json!({
            "type": "chat", "from": self.id, "name": self.name, "text": text,
            "at": platform::wall_ms(),
        })
    }

    fn remember_chat(&mut self, message: Value) {
        self.chat.push_back(message);
        while self.chat.len() > 100 {
            self.chat.pop_front();
        }
    }

    fn ping(&self) -> Message {
        let mut ping = vec![b'P', self.id.len() as u8];
        ping.extend_from_slice(self.id.as_bytes());
        ping.extend_from_slice(&platform::now_ms().to_le_bytes());
        Message::Binary(ping)
    }

    fn ping_all(&mut self) {
        let ping = self.ping();
        for link in self.links.values_mut() {
            link.send(Out::Message(ping.clone()));
        }
    }

    fn links_json(&self) -> Vec<Value> {
        self.links
            .iter()
            .map(|(peer, l)| json!({"peer": peer, "rtt_ms": l.rtt_ms, "tx": l.tx, "rx": l.rx}))
            .collect()
    }

    fn broadcast_view(&mut self) {
        let view = json!({"type": "state", "from": self.id, "name": self.name, "kind": KIND,
                          "links": self.links_json()})
        .to_string();
        for link in self.links.values_mut() {
            link.send(Out::Message(Message::Text(view.clone())));
        }
    }

    /// The whole state: what the page draws and what tests read.
    fn state(&self, options: &Options) -> Value {
        let links: Vec<Value> = self
            .links
            .iter()
            .map(|(peer, l)| {
                json!({
                    "peer": peer, "name": l.name, "rtt_ms": l.rtt_ms, "tx": l.tx, "rx": l.rx,
                    "connected_after_ms": round(l.connected_after_ms),
                    "text_in": l.text_in, "text_echo": l.text_echo,
                    "binary_in": l.binary_in, "binary_echo": l.binary_echo, "chat_in": l.chat_in,
                    "verified": l.verified(),
                })
            })
            .collect();
        let mut views = Map::new();
        for (peer, view) in &self.views {
            views.insert(
                peer.clone(),
                json!({
                    "name": view.get("name"), "kind": view.get("kind"), "links": view.get("links"),
                }),
            );
        }
        views.insert(
            self.id.clone(),
            json!({"name": self.name, "kind": KIND, "links": self.links_json()}),
        );
        json!({
            "kind": KIND,
            "name": self.name,
            "id": self.id,
            "room": options.room,
            "generation": self.generation,
            "joined": self.joined,
            "joined_at_wall_ms": self.joined_at_wall_ms,
            "signaling": self.signaling,
            "links": links,
            "gone": self.gone,
            "views": views,
            "chat": self.chat,
            "media": self.media.json(),
            "bench": if matches!(self.lead, Lead::Done) && !self.bench.is_empty() {
                Value::Object(self.bench.clone())
            } else {
                Value::Null
            },
            "errors": self.errors,
        })
    }

    /// Shows the state if it changed, at most five times a second unless `now`.
    fn publish(&mut self, options: &Options, ui: &impl Ui, now: bool) {
        let t = platform::now_ms();
        if now || (self.dirty && t - self.published_ms >= 200.0) {
            ui.state(&self.state(options));
            self.dirty = false;
            self.published_ms = t;
        }
    }
}

/// Sends what the node queues for one peer, in order.
async fn writer(
    peer: String,
    channel: DataChannel,
    mut queue: mpsc::UnboundedReceiver<Out>,
) -> (String, Option<String>) {
    while let Some(out) = queue.next().await {
        let sent = match out {
            Out::Message(Message::Text(text)) => channel.send_text(text).await,
            Out::Message(Message::Binary(bytes)) => channel.send(bytes).await,
            Out::Bulk { bytes, size } => {
                let mut left = bytes;
                let mut result = Ok(());
                while left > 0 && result.is_ok() {
                    let n = left.min(size);
                    let mut chunk = vec![0u8; n];
                    chunk[0] = b'B';
                    result = channel.send(chunk).await;
                    left -= n;
                }
                result
            }
        };
        if let Err(e) = sent {
            return (peer, Some(e.to_string()));
        }
    }
    (peer, None)
}

/// The messages of one peer's channel, tagged with the peer, until the channel closes.
fn received(peer: String, channel: DataChannel) -> LocalBoxStream<'static, (String, Message)> {
    stream::unfold(channel, move |channel| {
        let peer = peer.clone();
        async move {
            let message = channel.recv().await?;
            Some(((peer, message), channel))
        }
    })
    .boxed_local()
}

fn parse_ping(bytes: &[u8]) -> Option<(&str, f64)> {
    let len = *bytes.get(1)? as usize;
    let origin = std::str::from_utf8(bytes.get(2..2 + len)?).ok()?;
    let sent = f64::from_le_bytes(bytes.get(2 + len..2 + len + 8)?.try_into().ok()?);
    Some((origin, sent))
}

fn mb_per_s(bytes: usize, ms: f64) -> f64 {
    round(bytes as f64 / 1e6 / (ms.max(0.001) / 1e3))
}

fn round(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// Clocks: monotonic milliseconds for durations, wall-clock milliseconds to meet in time.
mod platform {
    #[cfg(not(target_arch = "wasm32"))]
    pub fn now_ms() -> f64 {
        use std::sync::OnceLock;
        use std::time::Instant;
        static START: OnceLock<Instant> = OnceLock::new();
        START.get_or_init(Instant::now).elapsed().as_secs_f64() * 1e3
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub fn wall_ms() -> f64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs_f64() * 1e3)
            .unwrap_or(0.0)
    }

    #[cfg(target_arch = "wasm32")]
    pub fn now_ms() -> f64 {
        #[wasm_bindgen::prelude::wasm_bindgen]
        extern "C" {
            #[wasm_bindgen(js_namespace = performance, js_name = now)]
            fn performance_now() -> f64;
        }
        performance_now()
    }

    #[cfg(target_arch = "wasm32")]
    pub fn wall_ms() -> f64 {
        js_sys::Date::now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_round_trip() {
        let mut ping = vec![b'P', 3];
        ping.extend_from_slice(b"abc");
        ping.extend_from_slice(&12.5f64.to_le_bytes());
        assert_eq!(parse_ping(&ping), Some(("abc", 12.5)));
        assert_eq!(parse_ping(&ping[..6]), None);
    }

    #[test]
    fn throughput() {
        assert_eq!(mb_per_s(64 << 20, 1000.0), 67.11);
    }
}
