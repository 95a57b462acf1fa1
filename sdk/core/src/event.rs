use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::stream::FusedStream;
use futures_core::Stream;

use crate::{ConnectionState, Error, IceCandidate, TrackState};

/// Something that happened to a peer; read them from the peer's event stream.
///
/// `C` is the data-channel handle type and `T` the track handle type
/// (`unipeer::DataChannel` and `unipeer::Track` for applications).
#[derive(Debug)]
#[non_exhaustive]
pub enum PeerEvent<C, T> {
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
    /// The remote added a media track (its offer brought a new media section). Media this
    /// peer's own tracks receive arrives on those tracks, without this event.
    Track(T),
    /// A track's remote side started, paused or stopped delivering media.
    TrackStateChange {
        /// The track's media section.
        mid: String,
        /// Its new state.
        state: TrackState,
    },
    /// A change (a track added or stopped after the first agreement) needs a new
    /// offer/answer exchange: call `create_offer` and carry it to the remote. The mesh
    /// does this itself.
    NegotiationNeeded,
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

impl<C, T> PeerEvent<C, T> {
    /// The same event with the handles mapped to other types.
    pub fn map_handles<D, U>(
        self,
        f: impl FnOnce(C) -> D,
        g: impl FnOnce(T) -> U,
    ) -> PeerEvent<D, U> {
        match self {
            PeerEvent::LocalCandidate(c) => PeerEvent::LocalCandidate(c),
            PeerEvent::EndOfCandidates => PeerEvent::EndOfCandidates,
            PeerEvent::ConnectionStateChange(s) => PeerEvent::ConnectionStateChange(s),
            PeerEvent::SelectedCandidatePairChange(p) => PeerEvent::SelectedCandidatePairChange(p),
            PeerEvent::DataChannel(c) => PeerEvent::DataChannel(f(c)),
            PeerEvent::Track(t) => PeerEvent::Track(g(t)),
            PeerEvent::TrackStateChange { mid, state } => {
                PeerEvent::TrackStateChange { mid, state }
            }
            PeerEvent::NegotiationNeeded => PeerEvent::NegotiationNeeded,
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

/// The producing side of a peer's event stream, held by the backend. Clones push to the
/// same queue (a backend's tracks report their state changes through one).
#[derive(Debug)]
pub struct EventQueue<C, T> {
    tx: async_channel::Sender<PeerEvent<C, T>>,
}

impl<C, T> Clone for EventQueue<C, T> {
    fn clone(&self) -> Self {
        Self {
            tx: self.tx.clone(),
        }
    }
}

impl<C, T> EventQueue<C, T> {
    /// A new queue and the stream that reads it.
    pub fn new() -> (Self, EventStream<C, T>) {
        let (tx, rx) = async_channel::unbounded();
        (Self { tx }, EventStream { rx: Box::pin(rx) })
    }

    /// Queues an event. Events for a peer nobody listens to are dropped with the queue.
    pub fn push(&self, event: PeerEvent<C, T>) {
        // An error only means every stream is gone; nobody wants the event then.
        let _ = self.tx.try_send(event);
    }

    /// Ends the stream after the events already queued; the queue's clones push nothing
    /// more either.
    pub fn close(&self) {
        self.tx.close();
    }
}

/// A peer's events, as a [`Stream`]. Clones read the same queue: each event goes to one of them.
#[derive(Debug)]
pub struct EventStream<C, T> {
    // Boxed so the stream is `Unpin` and easy to use with `StreamExt::next`.
    rx: Pin<Box<async_channel::Receiver<PeerEvent<C, T>>>>,
}

impl<C, T> Clone for EventStream<C, T> {
    fn clone(&self) -> Self {
        Self {
            rx: Box::pin((*self.rx).clone()),
        }
    }
}

impl<C, T> EventStream<C, T> {
    /// The next event, or `None` once the peer is closed and every event was read.
    pub async fn next_event(&self) -> Option<PeerEvent<C, T>> {
        self.rx.recv().await.ok()
    }

    /// An event that is already queued, without waiting.
    pub fn try_next_event(&self) -> Option<PeerEvent<C, T>> {
        self.rx.try_recv().ok()
    }
}

impl<C, T> Stream for EventStream<C, T> {
    type Item = PeerEvent<C, T>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.rx.as_mut().poll_next(cx)
    }
}

impl<C, T> FusedStream for EventStream<C, T> {
    fn is_terminated(&self) -> bool {
        self.rx.is_closed() && self.rx.is_empty()
    }
}
