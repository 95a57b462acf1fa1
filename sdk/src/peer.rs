use std::pin::Pin;
use std::task::{Context, Poll};

use futures_core::stream::FusedStream;
use futures_core::Stream;
use unipeer_core::{
    ConnectionState, DataChannelInit, EventStream, IceCandidate, PeerConfig, Result,
    SessionDescription, TrackInit,
};

use crate::platform::{Backend, ChannelImpl, PeerImpl, TrackImpl};
use crate::{DataChannel, Track};

/// Something that happened to a [`Peer`].
pub type PeerEvent = unipeer_core::PeerEvent<DataChannel, Track>;

/// One WebRTC peer connection.
///
/// Negotiate with [`create_offer`](Self::create_offer) / [`accept_offer`](Self::accept_offer)
/// / [`accept_answer`](Self::accept_answer), trickle candidates from [`events`](Self::events)
/// to the remote with your signaling and feed the remote's to
/// [`add_ice_candidate`](Self::add_ice_candidate). Dropping the peer closes it and releases
/// its sockets.
pub struct Peer {
    inner: PeerImpl,
}

impl std::fmt::Debug for Peer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Peer")
            .field("state", &self.connection_state())
            .finish()
    }
}

impl Peer {
    /// Creates a peer. Natively this binds its UDP sockets and gathers host candidates.
    pub fn new(config: PeerConfig) -> Result<Self> {
        config.validate()?;
        Ok(Self {
            inner: <PeerImpl as Backend>::new(config)?,
        })
    }

    /// Creates an offer for every channel created so far and sets it as the local
    /// description. Candidates start to trickle from the events stream.
    pub async fn create_offer(&self) -> Result<SessionDescription> {
        Backend::create_offer(&self.inner).await
    }

    /// Sets the remote's offer, creates the answer and sets it as the local description.
    pub async fn accept_offer(&self, offer: SessionDescription) -> Result<SessionDescription> {
        Backend::accept_offer(&self.inner, offer).await
    }

    /// Sets the remote's answer to this peer's pending offer.
    pub async fn accept_answer(&self, answer: SessionDescription) -> Result<()> {
        Backend::accept_answer(&self.inner, answer).await
    }

    /// Adds a candidate the remote trickled. An empty candidate string marks the remote's
    /// end of candidates and is accepted.
    pub async fn add_ice_candidate(&self, candidate: IceCandidate) -> Result<()> {
        Backend::add_ice_candidate(&self.inner, candidate).await
    }

    /// Creates a data channel. Before the first offer it becomes part of that offer; on a
    /// connected peer it opens at once, without renegotiation.
    pub async fn create_data_channel(
        &self,
        label: &str,
        init: DataChannelInit,
    ) -> Result<DataChannel> {
        init.validate()?;
        let inner = Backend::create_data_channel(&self.inner, label, init).await?;
        Ok(DataChannel::new(inner))
    }

    /// Adds a media track (an audio or video section of the session). Before the first
    /// offer it becomes part of that offer; on a negotiated peer,
    /// [`PeerEvent::NegotiationNeeded`](unipeer_core::PeerEvent::NegotiationNeeded) follows and
    /// the track is live after the next offer/answer round.
    pub async fn add_track(&self, init: TrackInit) -> Result<Track> {
        init.validate()?;
        let inner = Backend::add_track(&self.inner, init).await?;
        Ok(Track::new(inner))
    }

    /// The peer's events. Every call returns a stream over the same queue: each event is
    /// delivered once, to whichever stream reads it first, so usually call this once.
    pub fn events(&self) -> PeerEvents {
        PeerEvents {
            inner: Backend::events(&self.inner),
        }
    }

    /// The current connection state.
    pub fn connection_state(&self) -> ConnectionState {
        Backend::connection_state(&self.inner)
    }

    /// Closes the peer: the remote sees its channels close, local channels close, and the
    /// event stream ends after `PeerEvent::Closed`. Natively it returns once the peer's
    /// sockets are released and its TURN allocations freed on the server (bounded: at most
    /// 2 s when a TURN server does not answer), so a program may exit right after it.
    pub async fn close(&self) {
        Backend::close(&self.inner).await
    }
}

/// The stream of a peer's [`PeerEvent`]s (a [`futures_core::Stream`]).
pub struct PeerEvents {
    inner: EventStream<ChannelImpl, TrackImpl>,
}

impl std::fmt::Debug for PeerEvents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PeerEvents")
    }
}

impl PeerEvents {
    /// The next event, or `None` after the peer closed and every event was read.
    pub async fn next_event(&self) -> Option<PeerEvent> {
        Some(map(self.inner.next_event().await?))
    }

    /// An event that is already queued, without waiting.
    pub fn try_next_event(&self) -> Option<PeerEvent> {
        Some(map(self.inner.try_next_event()?))
    }
}

impl Stream for PeerEvents {
    type Item = PeerEvent;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<PeerEvent>> {
        Pin::new(&mut self.inner).poll_next(cx).map(|e| e.map(map))
    }
}

impl FusedStream for PeerEvents {
    fn is_terminated(&self) -> bool {
        self.inner.is_terminated()
    }
}

fn map(event: unipeer_core::PeerEvent<ChannelImpl, TrackImpl>) -> PeerEvent {
    event.map_handles(DataChannel::new, Track::new)
}
