//! One link of the mesh: a peer connection to one remote member, negotiated through
//! signaling with the perfect-negotiation pattern, run as a future the mesh polls.
//!
//! Perfect negotiation: the *polite* side (the member that was in the room first) gives
//! way when offers collide, rolling back its own offer and answering the remote's
//! (`accept_offer` does the rollback on every backend); the *impolite* side ignores the
//! colliding offer and waits for its answer. So glare never breaks a link.

use std::time::Duration;

use futures_channel::mpsc;
use futures_util::future::{select, Either, Fuse};
use futures_util::{select, FutureExt, StreamExt};
use tracing::debug;
use unipeer_core::{DataChannelInit, Error, IceCandidate, Message, Result, SdpType};

use super::control;
use super::roster::LinkId;
use crate::platform::{sleep, Shared};
use crate::signaling::SignalPayload;
use crate::{DataChannel, Peer, PeerEvent, Track};

/// How many remote candidates are kept while the remote description is not set yet.
const EARLY_CANDIDATES: usize = 128;

/// How long leaving waits for the remote to acknowledge the control channel's close.
const LEAVE_NOTICE: Duration = Duration::from_millis(1500);

/// What the mesh tells a link.
pub(super) enum LinkInput {
    /// A signal from the remote.
    Remote(SignalPayload),
    /// Tell the remote our new signaling id.
    Announce(String),
    /// This node leaves: end the link so that the remote sees it at once.
    Leave,
}

/// What a link tells the mesh.
pub(super) enum LinkOutput {
    /// Send this to the remote over signaling.
    Signal(SignalPayload),
    /// Every channel is open.
    Connected(Vec<DataChannel>),
    /// The remote announced its new signaling id.
    Announced(String),
    /// The remote added a media track.
    Track(Track),
    /// The link did not connect in time and ends.
    TimedOut,
    /// Something failed; the link goes on unless it ends.
    Error(Error),
}

pub(super) struct LinkParams {
    pub id: LinkId,
    /// Shared with the mesh, which adds tracks to it directly.
    pub peer: Shared<Peer>,
    pub channels: Vec<(String, DataChannelInit)>,
    /// Whether this side gives way when offers collide.
    pub polite: bool,
    /// Whether this side sends the first offer.
    pub offer: bool,
    pub inbox: mpsc::UnboundedReceiver<LinkInput>,
    pub out: mpsc::UnboundedSender<(LinkId, LinkOutput)>,
    /// How long the link may take to connect.
    pub connect_timeout: Duration,
}

struct Link {
    id: LinkId,
    peer: Shared<Peer>,
    polite: bool,
    out: mpsc::UnboundedSender<(LinkId, LinkOutput)>,
    /// Our offer is out, no answer yet.
    offer_pending: bool,
    /// The last colliding offer was ignored (impolite side): its candidates may fail.
    ignore_offer: bool,
    /// A remote description is set: candidates can be added.
    remote_set: bool,
    early_candidates: Vec<IceCandidate>,
}

/// Runs a link until its connection closes or fails, or the mesh drops its inbox; then
/// closes the peer. Returns the link's id.
pub(super) async fn run(params: LinkParams) -> LinkId {
    let id = params.id;
    let LinkParams {
        peer,
        channels,
        polite,
        offer,
        inbox,
        out,
        connect_timeout,
        ..
    } = params;
    let mut link = Link {
        id,
        peer,
        polite,
        out,
        offer_pending: false,
        ignore_offer: false,
        remote_set: false,
        early_candidates: Vec::new(),
    };
    if let Err(e) = link.drive(channels, offer, inbox, connect_timeout).await {
        link.emit(LinkOutput::Error(e));
    }
    link.peer.close().await;
    id
}

/// What woke the link.
enum Step {
    Event(Option<PeerEvent>),
    Input(Option<LinkInput>),
    Opened(Result<()>),
    Control(Option<Message>),
    TimedOut,
}

impl Link {
    fn emit(&self, output: LinkOutput) {
        // Fails only when the mesh is gone, and then nobody needs the output.
        let _ = self.out.unbounded_send((self.id, output));
    }

    async fn drive(
        &mut self,
        channel_list: Vec<(String, DataChannelInit)>,
        offer: bool,
        mut inbox: mpsc::UnboundedReceiver<LinkInput>,
        connect_timeout: Duration,
    ) -> Result<()> {
        let mut channels = Vec::with_capacity(channel_list.len());
        for (label, init) in channel_list {
            channels.push(self.peer.create_data_channel(&label, init).await?);
        }
        let control = self
            .peer
            .create_data_channel(control::CONTROL_LABEL, control::init())
            .await?;
        let mut events = self.peer.events();
        if offer {
            self.offer_pending = true;
            match self.peer.create_offer().await {
                Ok(offer) => self.emit(LinkOutput::Signal(SignalPayload::Description(offer))),
                Err(e) => {
                    self.offer_pending = false;
                    return Err(e);
                }
            }
        }
        let all: Vec<DataChannel> = channels.iter().chain([&control]).cloned().collect();
        let opened = async move {
            for c in &all {
                c.wait_open().await?;
            }
            Ok(())
        };
        let mut opened = Box::pin(opened.fuse());
        let mut deadline = sleep(connect_timeout).fuse();
        let mut announce_when_open: Option<String> = None;
        loop {
            let step = select! {
                e = events.next() => Step::Event(e),
                i = inbox.next() => Step::Input(i),
                r = opened => Step::Opened(r),
                () = deadline => Step::TimedOut,
                m = control.recv().fuse() => Step::Control(m),
            };
            match step {
                Step::Event(Some(event)) => match event {
                    PeerEvent::LocalCandidate(c) => {
                        self.emit(LinkOutput::Signal(SignalPayload::Candidate(c)))
                    }
                    PeerEvent::EndOfCandidates => {
                        self.emit(LinkOutput::Signal(SignalPayload::EndOfCandidates))
                    }
                    PeerEvent::ConnectionStateChange(s) if s.is_terminal() => return Ok(()),
                    PeerEvent::Error(e) => self.emit(LinkOutput::Error(e)),
                    PeerEvent::Closed => return Ok(()),
                    PeerEvent::Track(track) => self.emit(LinkOutput::Track(track)),
                    // A track was added or changed: offer, unless an offer is out (the
                    // backend asks again once that round completes).
                    PeerEvent::NegotiationNeeded if !self.offer_pending => {
                        self.offer_pending = true;
                        match self.peer.create_offer().await {
                            Ok(offer) => {
                                self.emit(LinkOutput::Signal(SignalPayload::Description(offer)))
                            }
                            Err(e) => {
                                self.offer_pending = false;
                                self.emit(LinkOutput::Error(e));
                            }
                        }
                    }
                    // Channels the remote opens in-band are not part of the mesh.
                    _ => {}
                },
                Step::Event(None) | Step::Input(None) => return Ok(()),
                Step::Input(Some(LinkInput::Leave)) => {
                    // Closing the control channel is a stream reset the remote sees on
                    // every backend (a browser may not notice a closed connection for
                    // many seconds); then the peer closes.
                    control.close();
                    let _ = select(Box::pin(control.wait_closed()), sleep(LEAVE_NOTICE)).await;
                    return Ok(());
                }
                Step::Input(Some(LinkInput::Remote(payload))) => {
                    // A browser never settles the promises of a connection that closed
                    // meanwhile: the channels closing (they close with it) ends the wait.
                    let applied = match select(
                        Box::pin(self.on_remote(payload)),
                        Box::pin(control.wait_closed()),
                    )
                    .await
                    {
                        Either::Left((result, _)) => Some(result),
                        Either::Right(_) => None,
                    };
                    match applied {
                        Some(Ok(())) => {}
                        Some(Err(e)) => self.emit(LinkOutput::Error(e)),
                        None => return Ok(()),
                    }
                }
                Step::Input(Some(LinkInput::Announce(peer_id))) => {
                    if control.state() == unipeer_core::DataChannelState::Open {
                        let _ = control.send_text(control::announce(&peer_id)).await;
                    } else {
                        announce_when_open = Some(peer_id);
                    }
                }
                Step::TimedOut => {
                    self.emit(LinkOutput::TimedOut);
                    return Ok(());
                }
                Step::Opened(Ok(())) => {
                    // Connected: no deadline any more.
                    deadline = Fuse::terminated();
                    if let Some(peer_id) = announce_when_open.take() {
                        let _ = control.send_text(control::announce(&peer_id)).await;
                    }
                    self.emit(LinkOutput::Connected(channels.clone()));
                }
                // A channel closed before it opened: the connection is going away.
                Step::Opened(Err(_)) => return Ok(()),
                Step::Control(Some(Message::Text(text))) => match control::parse(&text) {
                    Some(peer_id) => self.emit(LinkOutput::Announced(peer_id)),
                    None => debug!("ignored an unknown mesh control message"),
                },
                Step::Control(Some(Message::Binary(_))) => {}
                // The control channel closes only with the connection.
                Step::Control(None) => return Ok(()),
            }
        }
    }

    async fn on_remote(&mut self, payload: SignalPayload) -> Result<()> {
        match payload {
            SignalPayload::Description(d) if d.kind == SdpType::Offer => {
                let collision = self.offer_pending;
                self.ignore_offer = !self.polite && collision;
                if self.ignore_offer {
                    debug!("offers collided: ignoring the remote's (this side is impolite)");
                    return Ok(());
                }
                // On the polite side this rolls back our own pending offer.
                let answer = self.peer.accept_offer(d).await?;
                self.offer_pending = false;
                self.remote_set = true;
                self.emit(LinkOutput::Signal(SignalPayload::Description(answer)));
                self.add_early_candidates().await
            }
            SignalPayload::Description(d) => {
                if !self.offer_pending {
                    debug!("ignored an answer to no pending offer");
                    return Ok(());
                }
                self.peer.accept_answer(d).await?;
                self.offer_pending = false;
                self.remote_set = true;
                self.add_early_candidates().await
            }
            SignalPayload::Candidate(c) => self.add_candidate(c).await,
            SignalPayload::EndOfCandidates => {
                // Both backends take an empty candidate as the end of candidates.
                self.add_candidate(IceCandidate {
                    candidate: String::new(),
                    sdp_mid: None,
                    sdp_m_line_index: None,
                })
                .await
            }
        }
    }

    async fn add_candidate(&mut self, c: IceCandidate) -> Result<()> {
        if !self.remote_set {
            if self.early_candidates.len() < EARLY_CANDIDATES {
                self.early_candidates.push(c);
            }
            return Ok(());
        }
        match self.peer.add_ice_candidate(c).await {
            // Candidates of an offer this side ignored may not fit: expected.
            Err(_) if self.ignore_offer => Ok(()),
            other => other,
        }
    }

    async fn add_early_candidates(&mut self) -> Result<()> {
        for c in std::mem::take(&mut self.early_candidates) {
            self.add_candidate(c).await?;
        }
        Ok(())
    }
}
