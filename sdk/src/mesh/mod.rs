//! The mesh: every member of a signaling room connected to every other, with the same
//! pre-negotiated data channels on every link.
//!
//! How links form (signaling protocol v1, see [`crate::signaling`]):
//! - A member that joins offers to every peer in its welcome (the *newcomer* rule); the
//!   members already there answer. When offers collide anyway, perfect negotiation
//!   resolves it, with the earlier member as the polite side.
//! - Channel `i` of [`MeshConfig::channels`] is pre-negotiated with stream id `i` on both
//!   ends, so it opens with the connection, identically natively and in the browser.
//! - A signaling outage does not touch established links. The node re-joins under a new
//!   id ([`MeshEvent::SignalingRestored`]) and tells its linked peers that id over a mesh
//!   control channel, so nobody re-offers to a peer it is still connected to, even when
//!   the whole server restarted and every id changed. A link keeps the id it was created
//!   under for its whole life; only its connection closing or failing ends it.
//!
//! The mesh runs inside [`Mesh::next_event`] (or its [`Stream`] impl): signaling,
//! negotiation and candidate trickling with every peer progress only while it is polled.
//! Keep polling it for the mesh's whole life, as you would a connection future. It spawns
//! nothing and works under any executor, natively and in the browser. Data channels, once
//! handed out, work on their own.

mod config;
mod control;
mod link;
mod roster;

use std::collections::{HashMap, VecDeque};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_channel::mpsc;
use futures_core::stream::{FusedStream, Stream};
use futures_util::future::{join_all, poll_fn, select};
use futures_util::stream::FuturesUnordered;
use futures_util::StreamExt;
use tracing::debug;
use unipeer_core::{DataChannelInit, Error, Message, PeerConfig, Result, SdpType, TrackInit};

pub use config::MeshConfig;
use link::{LinkInput, LinkOutput, LinkParams};
use roster::{LinkId, Roster, Route};

use crate::platform::{boxed, sleep, BoxFuture, Exclusive, Shared};
use crate::signaling::{SignalPayload, SignalingClient, SignalingEvent};
use crate::{DataChannel, Peer, Track};

/// How long offers after a re-join wait for linked peers to announce their new ids.
const ANNOUNCE_GRACE: Duration = Duration::from_secs(3);

/// How long [`Mesh::leave`] waits for links to close.
const LEAVE_TIMEOUT: Duration = Duration::from_secs(3);

/// Something that happened in a [`Mesh`].
#[derive(Debug)]
#[non_exhaustive]
pub enum MeshEvent {
    /// A link is up: every configured channel is open (`channels[i]` is channel `i`).
    PeerConnected {
        /// The peer's id (the one it had when the link formed; it stays the link's id).
        peer_id: String,
        /// The link's channels, in configuration order.
        channels: Vec<DataChannel>,
    },
    /// A link ended: its connection closed or failed.
    PeerDisconnected {
        /// The peer's id.
        peer_id: String,
    },
    /// A peer joined the room (presence; its link follows with `PeerConnected`).
    PeerJoined {
        /// Its signaling id.
        peer_id: String,
    },
    /// A peer left the room (presence: a link that is up stays up).
    PeerLeft {
        /// Its signaling id.
        peer_id: String,
    },
    /// The signaling connection dropped. Established links carry on; the mesh reconnects
    /// with backoff unless the reason says it stopped for good.
    SignalingLost {
        /// Why.
        reason: String,
    },
    /// Signaling is back, with a new id for this node.
    SignalingRestored {
        /// This node's new signaling id (see [`Mesh::local_id`]).
        peer_id: String,
    },
    /// A peer added a media track to its link (see [`Mesh::add_track`] for the other way).
    Track {
        /// The peer's id.
        peer_id: String,
        /// The track: natively read its frames, in the browser play its `remote_track`.
        track: Track,
    },
    /// Something went wrong that the mesh survives: a bad signal, a failed negotiation, a
    /// link that could not connect in time ([`Error::ConnectFailed`], naming the peer), a
    /// server error report.
    Error(Error),
}

struct LinkHandle {
    inbox: mpsc::UnboundedSender<LinkInput>,
    /// The link's peer (the link negotiates; the mesh adds tracks).
    peer: Shared<Peer>,
    /// Set once the link is connected.
    channels: Vec<DataChannel>,
}

/// The parts of the mesh that are polled and are not `Sync` by themselves.
struct Driver {
    links: FuturesUnordered<BoxFuture<LinkId>>,
    grace: Option<BoxFuture<()>>,
}

/// A full mesh of peer connections among the members of a signaling room.
///
/// ```no_run
/// use unipeer::{Mesh, MeshConfig, MeshEvent, Message};
/// # async fn run() -> unipeer::Result<()> {
/// let mut mesh = Mesh::join("ws://127.0.0.1:8787", "lobby", MeshConfig::default()).await?;
/// while let Some(event) = mesh.next_event().await {
///     match event {
///         MeshEvent::PeerConnected { peer_id, .. } => {
///             mesh.send(&peer_id, 0, Message::Text("hello".into())).await?;
///         }
///         MeshEvent::PeerDisconnected { peer_id } => println!("{peer_id} is gone"),
///         _ => {}
///     }
/// }
/// # Ok(()) }
/// ```
///
/// The mesh makes progress only while [`next_event`](Self::next_event) (or the `Stream`)
/// is polled: keep polling it, for example in a `select!` with your own work. Received
/// messages are read from the channels handed out with [`MeshEvent::PeerConnected`] (or
/// [`channel`](Self::channel)), which work independently of the polling: clone them into
/// other tasks to send and receive there while one task polls the mesh.
pub struct Mesh {
    signaling: SignalingClient,
    signaling_done: bool,
    peer_config: PeerConfig,
    channels: Vec<(String, DataChannelInit)>,
    local_id: String,
    roster: Roster,
    handles: HashMap<LinkId, LinkHandle>,
    driver: Exclusive<Driver>,
    outputs: mpsc::UnboundedReceiver<(LinkId, LinkOutput)>,
    outputs_tx: mpsc::UnboundedSender<(LinkId, LinkOutput)>,
    events: VecDeque<MeshEvent>,
}

impl std::fmt::Debug for Mesh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mesh")
            .field("local_id", &self.local_id)
            .field("peers", &self.peers())
            .finish()
    }
}

impl Mesh {
    /// Joins `room` on the signaling server at `url` (`ws://HOST:PORT`) and starts linking
    /// to every member. Resolves once the server welcomed this node; links then form while
    /// [`next_event`](Self::next_event) is polled.
    pub async fn join(url: &str, room: &str, config: MeshConfig) -> Result<Mesh> {
        config.validate()?;
        let url = config::room_url(url, room, config.token.as_deref())?;
        let mut signaling = SignalingClient::connect_with(&url, config.reconnect).await?;
        let (peer_id, peers) = match signaling.next_event().await {
            Some(SignalingEvent::Joined { peer_id, peers }) => (peer_id, peers),
            _ => return Err(Error::Signaling("the server sent no welcome".into())),
        };
        let (outputs_tx, outputs) = mpsc::unbounded();
        let mut mesh = Mesh {
            signaling,
            signaling_done: false,
            channels: config.negotiated_channels(),
            peer_config: config.peer,
            local_id: peer_id,
            roster: Roster::default(),
            handles: HashMap::new(),
            driver: Exclusive::new(Driver {
                links: FuturesUnordered::new(),
                grace: None,
            }),
            outputs,
            outputs_tx,
            events: VecDeque::new(),
        };
        // The newcomer offers to everyone already there; they are the polite side.
        for peer in peers {
            mesh.create_link(&peer, true);
        }
        Ok(mesh)
    }

    /// This node's current signaling id (it changes when signaling reconnects).
    pub fn local_id(&self) -> String {
        self.local_id.clone()
    }

    /// The peers with a connected link, sorted.
    pub fn peers(&self) -> Vec<String> {
        self.roster
            .connected()
            .into_iter()
            .map(|(_, key)| key.to_string())
            .collect()
    }

    /// Channel `channel` of the link to `peer`, if that link is connected.
    pub fn channel(&self, peer: &str, channel: usize) -> Option<DataChannel> {
        let id = self.roster.by_key(peer)?;
        self.handles.get(&id)?.channels.get(channel).cloned()
    }

    /// Sends `message` to `peer` on channel `channel` (waiting while the channel's buffer
    /// is full, like [`DataChannel::send`]).
    pub async fn send(&self, peer: &str, channel: usize, message: Message) -> Result<()> {
        self.check_channel(channel)?;
        let ch = self
            .channel(peer, channel)
            .ok_or_else(|| Error::UnknownPeer(peer.to_string()))?;
        send_on(&ch, message).await
    }

    /// Adds a media track to the link with `peer` (connected or still connecting). The
    /// link renegotiates by itself while the mesh is polled; the remote gets
    /// [`MeshEvent::Track`]. Media the remote sends back on this track arrives on it.
    pub async fn add_track(&self, peer: &str, init: TrackInit) -> Result<Track> {
        let handle = self
            .roster
            .by_key(peer)
            .and_then(|id| self.handles.get(&id))
            .ok_or_else(|| Error::UnknownPeer(peer.to_string()))?;
        handle.peer.add_track(init).await
    }

    /// Sends `message` on channel `channel` to every connected peer, concurrently. A peer
    /// whose link is closing is skipped (its `PeerDisconnected` follows); other errors are
    /// returned (the first one) after every send was tried.
    pub async fn broadcast(&self, channel: usize, message: Message) -> Result<()> {
        self.check_channel(channel)?;
        let targets: Vec<DataChannel> = self
            .roster
            .connected()
            .into_iter()
            .filter_map(|(id, _)| self.handles.get(&id)?.channels.get(channel).cloned())
            .collect();
        let sends = targets.iter().map(|ch| send_on(ch, message.clone()));
        join_all(sends)
            .await
            .into_iter()
            .filter(|r| !matches!(r, Err(Error::ChannelClosed | Error::PeerClosed)))
            .collect::<Result<Vec<()>>>()
            .map(|_| ())
    }

    /// The next event. The mesh runs while this is polled; `None` comes only when
    /// signaling stopped for good and no link is left.
    pub async fn next_event(&mut self) -> Option<MeshEvent> {
        poll_fn(|cx| self.poll_event(cx)).await
    }

    /// Leaves the room: closes every link (the remotes see their connections close) and
    /// the signaling connection.
    pub async fn leave(mut self) {
        for handle in self.handles.values() {
            let _ = handle.inbox.unbounded_send(LinkInput::Leave);
        }
        let driver = self.driver.get_mut();
        driver.grace = None;
        let mut links = std::mem::take(&mut driver.links);
        let drain = async move { while links.next().await.is_some() {} };
        let _ = select(boxed(drain), sleep(LEAVE_TIMEOUT)).await;
        self.signaling.close().await;
    }

    fn check_channel(&self, channel: usize) -> Result<()> {
        if channel < self.channels.len() {
            Ok(())
        } else {
            Err(Error::UnknownChannel {
                index: channel,
                count: self.channels.len(),
            })
        }
    }

    /// Starts a link to the signaling id `sig`: as the offerer (we are the newcomer, the
    /// remote is polite) or as the answerer (the remote is the newcomer, we are polite).
    fn create_link(&mut self, sig: &str, offer: bool) -> Option<LinkId> {
        let peer = match Peer::new(self.peer_config.clone()) {
            Ok(peer) => peer,
            Err(e) => {
                self.events.push_back(MeshEvent::Error(e));
                return None;
            }
        };
        let peer = Shared::new(peer);
        let id = self.roster.add(sig);
        let (inbox_tx, inbox) = mpsc::unbounded();
        self.handles.insert(
            id,
            LinkHandle {
                inbox: inbox_tx,
                peer: peer.clone(),
                channels: Vec::new(),
            },
        );
        let params = LinkParams {
            id,
            peer,
            channels: self.channels.clone(),
            polite: !offer,
            offer,
            inbox,
            out: self.outputs_tx.clone(),
            connect_timeout: self.peer_config.failed_timeout,
        };
        self.driver.get_mut().links.push(boxed(link::run(params)));
        Some(id)
    }

    /// Ends a link: dropping its inbox makes it close its peer.
    fn close_link(&mut self, id: LinkId) {
        self.handles.remove(&id);
    }

    fn to_link(&self, id: LinkId, input: LinkInput) {
        if let Some(h) = self.handles.get(&id) {
            let _ = h.inbox.unbounded_send(input);
        }
    }

    fn offer_to(&mut self, peers: Vec<String>) {
        for peer in peers {
            if matches!(self.roster.route(&peer, true), Route::NewLink) {
                self.create_link(&peer, true);
            }
        }
    }

    fn on_signaling(&mut self, event: SignalingEvent) {
        match event {
            SignalingEvent::Joined { peer_id, peers } => {
                self.local_id = peer_id.clone();
                for (id, _) in self.roster.connected() {
                    self.to_link(id, LinkInput::Announce(peer_id.clone()));
                }
                let now = self.roster.rejoined(&peers);
                self.offer_to(now);
                if self.roster.deferring() {
                    self.driver.get_mut().grace = Some(sleep(ANNOUNCE_GRACE));
                }
                self.events
                    .push_back(MeshEvent::SignalingRestored { peer_id });
            }
            SignalingEvent::PeerJoined { peer_id } => {
                self.events.push_back(MeshEvent::PeerJoined { peer_id });
            }
            SignalingEvent::PeerLeft { peer_id } => {
                if let Some(id) = self.roster.peer_left(&peer_id) {
                    self.roster.remove(id);
                    self.close_link(id);
                }
                self.events.push_back(MeshEvent::PeerLeft { peer_id });
            }
            SignalingEvent::Signal { from, payload } => {
                let is_offer =
                    matches!(&payload, SignalPayload::Description(d) if d.kind == SdpType::Offer);
                match self.roster.route(&from, is_offer) {
                    Route::Link(id) => self.to_link(id, LinkInput::Remote(payload)),
                    Route::NewLink => {
                        if let Some(id) = self.create_link(&from, false) {
                            self.to_link(id, LinkInput::Remote(payload));
                        }
                    }
                    Route::Drop => debug!(from, "ignored a signal for no link"),
                }
            }
            SignalingEvent::InvalidSignal { from, error } => {
                let e = Error::Signaling(format!("peer {from:?} sent a bad signal: {error}"));
                self.events.push_back(MeshEvent::Error(e));
            }
            SignalingEvent::ServerError { code, message } => {
                let e = Error::Signaling(format!("the server reported {code}: {message}"));
                self.events.push_back(MeshEvent::Error(e));
            }
            SignalingEvent::Disconnected { reason, retry_in } => {
                for id in self.roster.signaling_lost() {
                    self.close_link(id);
                }
                self.driver.get_mut().grace = None;
                self.events.push_back(MeshEvent::SignalingLost {
                    reason: format!("{reason}; reconnecting in {retry_in:?}"),
                });
            }
            SignalingEvent::Closed { reason } => {
                for id in self.roster.signaling_lost() {
                    self.close_link(id);
                }
                self.driver.get_mut().grace = None;
                self.events.push_back(MeshEvent::SignalingLost {
                    reason: format!("{reason}; not reconnecting"),
                });
            }
        }
    }

    fn on_output(&mut self, id: LinkId, output: LinkOutput) {
        match output {
            LinkOutput::Signal(payload) => {
                let Some(to) = self.roster.sig(id).map(str::to_string) else {
                    debug!("dropped a signal for a peer whose id is unknown");
                    return;
                };
                if let Err(e) = self.signaling.send(&to, &payload) {
                    debug!(error = %e, "a signal was not sent");
                }
            }
            LinkOutput::Connected(channels) => {
                let Some(handle) = self.handles.get_mut(&id) else {
                    return;
                };
                handle.channels = channels.clone();
                if let Some(key) = self.roster.set_connected(id) {
                    self.events.push_back(MeshEvent::PeerConnected {
                        peer_id: key.to_string(),
                        channels,
                    });
                }
            }
            LinkOutput::Announced(sig) => {
                if let Some(dup) = self.roster.announced(id, &sig) {
                    self.end_link(dup);
                }
                let now = self.roster.release(false);
                self.offer_to(now);
            }
            LinkOutput::Error(e) => self.events.push_back(MeshEvent::Error(e)),
            LinkOutput::Track(track) => {
                let peer_id = self.roster.key(id).unwrap_or_default().to_string();
                self.events.push_back(MeshEvent::Track { peer_id, track });
            }
            LinkOutput::TimedOut => {
                let key = self.roster.key(id).unwrap_or("a peer").to_string();
                self.events
                    .push_back(MeshEvent::Error(Error::ConnectFailed(key)));
            }
        }
    }

    /// A link is gone (ended by itself or closed by the mesh).
    fn end_link(&mut self, id: LinkId) {
        self.close_link(id);
        if let Some((key, connected)) = self.roster.remove(id) {
            if connected {
                self.events
                    .push_back(MeshEvent::PeerDisconnected { peer_id: key });
            }
        }
        let now = self.roster.release(false);
        self.offer_to(now);
    }

    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<MeshEvent>> {
        loop {
            if let Some(event) = self.events.pop_front() {
                return Poll::Ready(Some(event));
            }
            let mut progress = false;
            if !self.signaling_done {
                match self.signaling.poll_next_unpin(cx) {
                    Poll::Ready(Some(event)) => {
                        self.on_signaling(event);
                        progress = true;
                    }
                    Poll::Ready(None) => {
                        self.signaling_done = true;
                        progress = true;
                    }
                    Poll::Pending => {}
                }
            }
            while let Poll::Ready(Some((id, output))) = self.outputs.poll_next_unpin(cx) {
                self.on_output(id, output);
                progress = true;
            }
            if let Poll::Ready(Some(id)) = self.driver.get_mut().links.poll_next_unpin(cx) {
                // What the link said before it ended comes first.
                while let Ok((from, output)) = self.outputs.try_recv() {
                    self.on_output(from, output);
                }
                self.end_link(id);
                progress = true;
            }
            let grace_over = match &mut self.driver.get_mut().grace {
                Some(timer) => timer.as_mut().poll(cx).is_ready(),
                None => false,
            };
            if grace_over {
                self.driver.get_mut().grace = None;
                let now = self.roster.release(true);
                self.offer_to(now);
                progress = true;
            }
            if !progress {
                if self.events.is_empty() && self.signaling_done && self.roster.is_empty() {
                    return Poll::Ready(None);
                }
                return Poll::Pending;
            }
        }
    }
}

async fn send_on(ch: &DataChannel, message: Message) -> Result<()> {
    match message {
        Message::Binary(b) => ch.send(b).await,
        Message::Text(t) => ch.send_text(t).await,
    }
}

impl Stream for Mesh {
    type Item = MeshEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<MeshEvent>> {
        self.poll_event(cx)
    }
}

impl FusedStream for Mesh {
    fn is_terminated(&self) -> bool {
        self.signaling_done && self.roster.is_empty() && self.events.is_empty()
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    /// A mesh can move to another thread and be shared by reference (for `send` from
    /// several tasks), natively.
    #[test]
    fn mesh_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<super::Mesh>();
        check::<crate::signaling::SignalingClient>();
    }
}
