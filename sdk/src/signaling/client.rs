//! The signaling client: one room on one server, over one WebSocket that it re-opens with
//! backoff when it drops.
//!
//! The client is a poll-driven state machine with no task of its own: it reads, writes,
//! reconnects and times out only while its event stream is polled.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::stream::{FusedStream, Stream};
use futures_util::future::poll_fn;
use serde_json::Value;
use tracing::debug;
use unipeer_core::{Error, Result};

use super::backoff::Backoff;
use super::pacer::Pacer;
use super::socket::{Closed, ConnectError, Incoming, Socket, POLICY_VIOLATION};
use super::{ClientFrame, FrameError, ReconnectPolicy, ServerFrame, SignalPayload};
use crate::platform::{boxed, now_ms, random_unit, sleep, BoxFuture, Exclusive};

/// How long a connection attempt may take, WebSocket handshake included.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the server may take to send the welcome after the handshake.
const WELCOME_TIMEOUT: Duration = Duration::from_secs(10);
/// How many frames may wait for the socket; `send` fails beyond that.
pub const OUTGOING_QUEUE_LIMIT: usize = 1024;

/// Something that happened on the signaling connection.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum SignalingEvent {
    /// The client joined the room: first after `connect`, then after every reconnect. The
    /// server gives a new `peer_id` on every join; `peers` were in the room before it.
    Joined {
        /// This client's id for this session.
        peer_id: String,
        /// Who was already in the room.
        peers: Vec<String>,
    },
    /// Another peer joined the room.
    PeerJoined {
        /// Its id.
        peer_id: String,
    },
    /// A peer left the room.
    PeerLeft {
        /// Its id.
        peer_id: String,
    },
    /// A peer signaled this client.
    Signal {
        /// The sender (stamped by the server).
        from: String,
        /// What it sent.
        payload: SignalPayload,
    },
    /// A peer sent a payload that is not protocol v1 (an unknown `kind` is skipped
    /// silently instead, for forward compatibility).
    InvalidSignal {
        /// The sender.
        from: String,
        /// What is wrong with the payload.
        error: FrameError,
    },
    /// The server reported an error about something this client sent.
    ServerError {
        /// The server's code.
        code: String,
        /// The server's message.
        message: String,
    },
    /// The connection dropped; the client reconnects after `retry_in` (and keeps trying,
    /// with growing waits, until it is back: then `Joined` comes).
    Disconnected {
        /// Why it dropped.
        reason: String,
        /// The wait before the first attempt.
        retry_in: Duration,
    },
    /// The client stopped for good (the server refused it, or `close` was called); the
    /// stream ends after this event.
    Closed {
        /// Why.
        reason: String,
    },
}

enum State {
    Connecting {
        attempt: BoxFuture<std::result::Result<Socket, ConnectError>>,
        deadline: BoxFuture<()>,
    },
    Open {
        // Boxed: the open socket is much larger than the other states.
        socket: Box<Socket>,
        /// Until the welcome arrives.
        welcome_deadline: Option<BoxFuture<()>>,
        /// Until the pacer lets the next frame go.
        pace_timer: Option<BoxFuture<()>>,
    },
    Waiting(BoxFuture<()>),
    Closed,
}

/// A client of a protocol-v1 signaling server, joined to one room.
///
/// - [`connect`](Self::connect) resolves once the server's welcome arrived; the welcome is
///   also the first [`SignalingEvent::Joined`] of the stream.
/// - [`send`](Self::send) queues a signal (at most [`OUTGOING_QUEUE_LIMIT`] frames wait);
///   frames are written while the stream is polled, paced to a burst of 80 and 40 per
///   second after it, below the reference server's rate limit (so a newcomer in a big room
///   is not cut off for its burst of offers and candidates).
/// - When the connection drops, the client reports [`SignalingEvent::Disconnected`],
///   reconnects with exponential, capped, jittered backoff ([`ReconnectPolicy`]), re-joins
///   the room under a new id and reports `Joined` again. Signals queued when it dropped
///   are discarded: they belonged to the old session.
///
/// The client runs only while its event stream ([`next_event`](Self::next_event) or the
/// [`Stream`] impl) is polled: keep polling it, as you would a connection future. It spawns
/// nothing and works under any executor, natively and in the browser.
pub struct SignalingClient {
    url: String,
    backoff: Backoff,
    state: Exclusive<State>,
    /// Frames waiting for the pacer.
    outgoing: VecDeque<String>,
    /// Frames the pacer let go, waiting for the socket.
    ready: VecDeque<String>,
    pacer: Pacer,
    local_id: Option<String>,
    /// The current socket received its welcome.
    joined: bool,
    events: VecDeque<SignalingEvent>,
    /// `Closed` was reported: the stream ends.
    finished: bool,
}

impl std::fmt::Debug for SignalingClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignalingClient")
            .field("url", &redact(&self.url))
            .field("local_id", &self.local_id)
            .field("joined", &self.joined)
            .finish()
    }
}

/// The URL without its query (which may hold a token), for logs.
fn redact(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

impl SignalingClient {
    /// Connects to a room URL (`ws://HOST:PORT/v1/rooms/ROOM`, with `?token=T` if the server
    /// wants one) with the default [`ReconnectPolicy`], and waits for the welcome.
    pub async fn connect(url: &str) -> Result<Self> {
        Self::connect_with(url, ReconnectPolicy::default()).await
    }

    /// [`connect`](Self::connect) with a reconnect policy. A failure of this first
    /// connection is returned, not retried.
    pub async fn connect_with(url: &str, reconnect: ReconnectPolicy) -> Result<Self> {
        reconnect.validate()?;
        if !(url.starts_with("ws://") || url.starts_with("wss://")) {
            return Err(Error::Signaling(format!(
                "the signaling URL must start with ws:// or wss://, got {:?}",
                redact(url)
            )));
        }
        let mut client = Self {
            url: url.to_string(),
            backoff: Backoff::new(reconnect),
            state: Exclusive::new(State::Closed),
            outgoing: VecDeque::new(),
            ready: VecDeque::new(),
            pacer: Pacer::new(now_ms()),
            local_id: None,
            joined: false,
            events: VecDeque::new(),
            finished: false,
        };
        client.start_attempt();
        // Until the first welcome, a failure ends the client instead of a reconnect.
        let mut server_error = None;
        loop {
            match poll_fn(|cx| client.poll_event(cx)).await {
                Some(event @ SignalingEvent::Joined { .. }) => {
                    client.events.push_front(event);
                    return Ok(client);
                }
                Some(SignalingEvent::ServerError { code, message }) => {
                    server_error = Some(format!("{code}: {message}"));
                }
                Some(SignalingEvent::Closed { reason }) => {
                    let detail = server_error.map(|e| format!(" ({e})")).unwrap_or_default();
                    return Err(Error::Signaling(format!(
                        "could not join {}: {reason}{detail}; check that the server runs, \
                         the URL is ws://HOST:PORT/v1/rooms/ROOM and the token is valid",
                        redact(url)
                    )));
                }
                Some(_) => {}
                None => return Err(Error::Signaling("the client was closed".into())),
            }
        }
    }

    /// This client's id in the room (it changes on every reconnect), or `None` while it is
    /// disconnected.
    pub fn local_id(&self) -> Option<&str> {
        if self.joined {
            self.local_id.as_deref()
        } else {
            None
        }
    }

    /// Whether the client is joined to the room right now.
    pub fn is_connected(&self) -> bool {
        self.joined
    }

    /// Queues a signal to the peer `to`. Fails while the client is disconnected and when
    /// [`OUTGOING_QUEUE_LIMIT`] frames are already waiting.
    pub fn send(&mut self, to: &str, payload: &SignalPayload) -> Result<()> {
        self.send_value(to, payload.to_json())
    }

    /// Queues a signal with any JSON payload (for payloads beyond the SDK's own).
    pub fn send_value(&mut self, to: &str, payload: Value) -> Result<()> {
        if !self.joined {
            return Err(Error::Signaling(
                "not connected to the signaling server (it is reconnecting); \
                 the signal was not sent"
                    .into(),
            ));
        }
        if self.outgoing.len() + self.ready.len() >= OUTGOING_QUEUE_LIMIT {
            return Err(Error::Signaling(format!(
                "{OUTGOING_QUEUE_LIMIT} signals are already waiting for the socket; keep \
                 polling next_event so the client can write them"
            )));
        }
        let frame = ClientFrame::Signal {
            to: to.to_string(),
            payload,
        };
        self.outgoing.push_back(frame.to_json());
        Ok(())
    }

    /// The next event, or `None` after [`SignalingEvent::Closed`].
    pub async fn next_event(&mut self) -> Option<SignalingEvent> {
        poll_fn(|cx| self.poll_event(cx)).await
    }

    /// Leaves the room: writes what is queued (for up to a second), closes the WebSocket
    /// normally, and ends the stream.
    pub async fn close(mut self) {
        let State::Open { socket, .. } = std::mem::replace(self.state.get_mut(), State::Closed)
        else {
            return;
        };
        let mut socket = socket;
        // Leaving: what is queued goes without pacing (the server closes this socket anyway).
        let mut outgoing = std::mem::take(&mut self.ready);
        outgoing.append(&mut self.outgoing);
        let flush = async {
            let _ = poll_fn(|cx| socket.poll_send(cx, &mut outgoing)).await;
            socket.close().await;
        };
        let _ = futures_util::future::select(Box::pin(flush), sleep(Duration::from_secs(1))).await;
    }

    fn start_attempt(&mut self) {
        let url = self.url.clone();
        *self.state.get_mut() = State::Connecting {
            attempt: boxed(Socket::connect(url)),
            deadline: sleep(CONNECT_TIMEOUT),
        };
    }

    /// The connection is gone: reconnect later, or stop if that cannot help.
    fn lost(&mut self, closed: Closed, refused: bool) {
        let was_joined = std::mem::replace(&mut self.joined, false);
        self.outgoing.clear();
        self.ready.clear();
        let never_joined = self.local_id.is_none();
        // Refused: an HTTP 4xx, a bad URL, or a policy close before the welcome (a bad
        // token). Before the first welcome every failure is final: `connect` reports it.
        let before_welcome_policy = !was_joined && closed.code == Some(POLICY_VIOLATION);
        if refused || never_joined || before_welcome_policy {
            *self.state.get_mut() = State::Closed;
            self.events.push_back(SignalingEvent::Closed {
                reason: closed.to_string(),
            });
            return;
        }
        let delay = self.backoff.next_delay(random_unit());
        *self.state.get_mut() = State::Waiting(sleep(delay));
        if was_joined {
            self.events.push_back(SignalingEvent::Disconnected {
                reason: closed.to_string(),
                retry_in: delay,
            });
        } else {
            debug!(url = redact(&self.url), reason = %closed, ?delay, "signaling reconnect failed");
        }
    }

    fn on_text(&mut self, text: &str) {
        let frame = match ServerFrame::parse(text) {
            Ok(frame) => frame,
            Err(FrameError::UnknownType(t)) => {
                debug!(
                    frame_type = t,
                    "ignored a signaling frame of an unknown type"
                );
                return;
            }
            Err(e) => {
                debug!(error = %e, "ignored a malformed signaling frame");
                return;
            }
        };
        if !self.joined {
            match frame {
                ServerFrame::Welcome { peer_id, peers } => {
                    self.joined = true;
                    self.backoff.reset();
                    self.local_id = Some(peer_id.clone());
                    if let State::Open {
                        welcome_deadline, ..
                    } = self.state.get_mut()
                    {
                        *welcome_deadline = None;
                    }
                    self.events
                        .push_back(SignalingEvent::Joined { peer_id, peers });
                }
                ServerFrame::Error { code, message } => {
                    self.events
                        .push_back(SignalingEvent::ServerError { code, message });
                }
                _ => debug!("ignored a signaling frame that came before the welcome"),
            }
            return;
        }
        let event = match frame {
            ServerFrame::Welcome { .. } => {
                debug!("ignored a second welcome on one connection");
                return;
            }
            ServerFrame::PeerJoined { peer_id } => SignalingEvent::PeerJoined { peer_id },
            ServerFrame::PeerLeft { peer_id } => SignalingEvent::PeerLeft { peer_id },
            ServerFrame::Signal { from, payload } => match SignalPayload::from_json(&payload) {
                Ok(payload) => SignalingEvent::Signal { from, payload },
                Err(FrameError::UnknownKind(kind)) => {
                    debug!(from, kind, "ignored a signal of an unknown kind");
                    return;
                }
                Err(error) => SignalingEvent::InvalidSignal { from, error },
            },
            ServerFrame::Error { code, message } => SignalingEvent::ServerError { code, message },
        };
        self.events.push_back(event);
    }

    /// Drives the connection until an event is ready.
    fn poll_event(&mut self, cx: &mut Context<'_>) -> Poll<Option<SignalingEvent>> {
        loop {
            if let Some(event) = self.events.pop_front() {
                if matches!(event, SignalingEvent::Closed { .. }) {
                    self.finished = true;
                }
                return Poll::Ready(Some(event));
            }
            if self.finished {
                return Poll::Ready(None);
            }
            if !self.step(cx) {
                return Poll::Pending;
            }
        }
    }

    /// One step of the state machine; false when nothing can progress now.
    fn step(&mut self, cx: &mut Context<'_>) -> bool {
        match self.state.get_mut() {
            State::Closed => {
                self.finished = true;
                true
            }
            State::Waiting(timer) => {
                if timer.as_mut().poll(cx).is_pending() {
                    return false;
                }
                self.start_attempt();
                true
            }
            State::Connecting { attempt, deadline } => {
                let result = match attempt.as_mut().poll(cx) {
                    Poll::Ready(r) => r,
                    Poll::Pending if deadline.as_mut().poll(cx).is_ready() => Err(ConnectError {
                        refused: false,
                        message: format!("no answer within {CONNECT_TIMEOUT:?}"),
                    }),
                    Poll::Pending => return false,
                };
                match result {
                    Ok(socket) => {
                        *self.state.get_mut() = State::Open {
                            socket: Box::new(socket),
                            welcome_deadline: Some(sleep(WELCOME_TIMEOUT)),
                            pace_timer: None,
                        };
                    }
                    Err(e) => {
                        let closed = Closed {
                            code: None,
                            reason: format!("could not connect: {}", e.message),
                        };
                        self.lost(closed, e.refused);
                    }
                }
                true
            }
            State::Open {
                socket,
                welcome_deadline,
                pace_timer,
            } => {
                if let Some(deadline) = welcome_deadline {
                    if deadline.as_mut().poll(cx).is_ready() {
                        let closed = Closed {
                            code: None,
                            reason: format!(
                                "the server sent no welcome within {WELCOME_TIMEOUT:?}"
                            ),
                        };
                        self.lost(closed, false);
                        return true;
                    }
                }
                if !self.outgoing.is_empty() {
                    let n = self.pacer.take(self.outgoing.len(), now_ms());
                    self.ready.extend(self.outgoing.drain(..n));
                    if !self.outgoing.is_empty() && pace_timer.is_none() {
                        *pace_timer = Some(sleep(self.pacer.wait()));
                    }
                }
                if let Some(timer) = pace_timer {
                    if timer.as_mut().poll(cx).is_ready() {
                        *pace_timer = None;
                        return true;
                    }
                }
                if let Poll::Ready(Err(e)) = socket.poll_send(cx, &mut self.ready) {
                    let closed = Closed {
                        code: None,
                        reason: format!("writing failed: {e}"),
                    };
                    self.lost(closed, false);
                    return true;
                }
                match socket.poll_recv(cx) {
                    Poll::Ready(Incoming::Text(text)) => {
                        self.on_text(&text);
                        true
                    }
                    Poll::Ready(Incoming::Closed(closed)) => {
                        self.lost(closed, false);
                        true
                    }
                    Poll::Pending => false,
                }
            }
        }
    }
}

impl Stream for SignalingClient {
    type Item = SignalingEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<SignalingEvent>> {
        self.poll_event(cx)
    }
}

impl FusedStream for SignalingClient {
    fn is_terminated(&self) -> bool {
        self.finished && self.events.is_empty()
    }
}
