use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::stream::FusedStream;
use futures_core::Stream;

use crate::{ConnectionState, Error, IceCandidate};

/// Something that happened to a peer; read them from the peer's event stream.
///
/// `C` is the data-channel handle type (`unipeer::DataChannel` for applications).
#[derive(Debug)]
#[non_exhaustive]
pub enum PeerEvent<C> {
    /// A local ICE candidate to send to the remote peer (trickle ICE).
    LocalCandidate(IceCandidate),
    /// No more local candidates will come for now (send the browser's empty candidate).
    EndOfCandidates,
    /// The connection changed state.
    ConnectionStateChange(ConnectionState),
    /// ICE selected the candidate pair the connection runs over, or moved to another one.
    /// (The native backend reports it; the browser backend does not yet.)
    SelectedCandidatePairChange(CandidatePair),
    /// The remote peer opened a data channel (in-band negotiated).
    DataChannel(C),
    /// An ICE server could not be used (the browser's `icecandidateerror`): the peer goes
    /// on with its other candidates, so this is not fatal. `error` says why
    /// ([`Error::IceServerRefused`], [`Error::IceServerUnreachable`],
    /// [`Error::IceServerUnsupported`]).
    IceServerError {
        /// The server's URL as configured.
        url: String,
        /// What went wrong.
        error: Error,
    },
    /// The peer hit an error it cannot recover from; a `Closed` event follows.
    Error(Error),
    /// The peer is closed; no further events come.
    Closed,
}

impl<C> PeerEvent<C> {
    /// The same event with the channel handle mapped to another type.
    pub fn map_channel<D>(self, f: impl FnOnce(C) -> D) -> PeerEvent<D> {
        match self {
            PeerEvent::LocalCandidate(c) => PeerEvent::LocalCandidate(c),
            PeerEvent::EndOfCandidates => PeerEvent::EndOfCandidates,
            PeerEvent::ConnectionStateChange(s) => PeerEvent::ConnectionStateChange(s),
            PeerEvent::SelectedCandidatePairChange(p) => PeerEvent::SelectedCandidatePairChange(p),
            PeerEvent::DataChannel(c) => PeerEvent::DataChannel(f(c)),
            PeerEvent::IceServerError { url, error } => PeerEvent::IceServerError { url, error },
            PeerEvent::Error(e) => PeerEvent::Error(e),
            PeerEvent::Closed => PeerEvent::Closed,
        }
    }
}

/// The type of an ICE candidate (RFC 8445 section 5.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CandidateType {
    /// An address of a local interface.
    Host,
    /// This side's public address as a STUN server saw it (behind a NAT).
    ServerReflexive,
    /// An address learnt from the connectivity checks themselves.
    PeerReflexive,
    /// An address on a TURN relay.
    Relayed,
}

impl CandidateType {
    /// The name used in candidate lines and browser statistics: `host`, `srflx`, `prflx`
    /// or `relay`.
    pub fn as_str(self) -> &'static str {
        match self {
            CandidateType::Host => "host",
            CandidateType::ServerReflexive => "srflx",
            CandidateType::PeerReflexive => "prflx",
            CandidateType::Relayed => "relay",
        }
    }
}

/// The local and remote candidate types of the pair a connection runs over.
///
/// A server-reflexive local candidate is never the local side of a pair: checks leave from
/// its base, so the local side is `Host` (or `Relayed`); the remote side tells whether the
/// path crosses the remote's NAT (`ServerReflexive`, `PeerReflexive`) or a relay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct CandidatePair {
    /// This side's candidate.
    pub local: CandidateType,
    /// The remote side's candidate.
    pub remote: CandidateType,
}

impl CandidatePair {
    /// A pair of these types.
    pub fn new(local: CandidateType, remote: CandidateType) -> Self {
        Self { local, remote }
    }
}

/// The producing side of a peer's event stream, held by the backend.
#[derive(Debug)]
pub struct EventQueue<C> {
    tx: async_channel::Sender<PeerEvent<C>>,
}

impl<C> EventQueue<C> {
    /// A new queue and the stream that reads it.
    pub fn new() -> (Self, EventStream<C>) {
        let (tx, rx) = async_channel::unbounded();
        (Self { tx }, EventStream { rx: Box::pin(rx) })
    }

    /// Queues an event. Events for a peer nobody listens to are dropped with the queue.
    pub fn push(&self, event: PeerEvent<C>) {
        // An error only means every stream is gone; nobody wants the event then.
        let _ = self.tx.try_send(event);
    }

    /// Ends the stream after the events already queued.
    pub fn close(&self) {
        self.tx.close();
    }
}

/// A peer's events, as a [`Stream`]. Clones read the same queue: each event goes to one of them.
#[derive(Debug)]
pub struct EventStream<C> {
    // Boxed so the stream is `Unpin` and easy to use with `StreamExt::next`.
    rx: Pin<Box<async_channel::Receiver<PeerEvent<C>>>>,
}

impl<C> Clone for EventStream<C> {
    fn clone(&self) -> Self {
        Self {
            rx: Box::pin((*self.rx).clone()),
        }
    }
}

impl<C> EventStream<C> {
    /// The next event, or `None` once the peer is closed and every event was read.
    pub async fn next_event(&self) -> Option<PeerEvent<C>> {
        self.rx.recv().await.ok()
    }

    /// An event that is already queued, without waiting.
    pub fn try_next_event(&self) -> Option<PeerEvent<C>> {
        self.rx.try_recv().ok()
    }
}

impl<C> Stream for EventStream<C> {
    type Item = PeerEvent<C>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.as_mut().poll_next(cx)
    }
}

impl<C> FusedStream for EventStream<C> {
    fn is_terminated(&self) -> bool {
        self.rx.is_closed() && self.rx.is_empty()
    }
}
