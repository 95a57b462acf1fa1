//! What peer and channel handles ask the driver to do.

use std::sync::Arc;

use futures_channel::oneshot;
use unipeer_core::{ChannelCore, IceCandidate, Message, ReceiveQueue, Result, SessionDescription};

use crate::session::Session;

/// Identifies a peer within its driver.
pub(crate) type PeerId = u64;

/// Identifies a channel within its peer, before and after str0m assigns its own id.
pub(crate) type ChannelKey = u64;

/// Identifies a track within its peer.
pub(crate) type TrackKey = u64;

/// Where a command's result goes.
pub(crate) type Reply<T> = oneshot::Sender<Result<T>>;

/// A request from an application handle, executed on the driver thread.
pub(crate) enum Command {
    /// A new peer with its UDP sockets and its TCP connections (being made) to TURN
    /// servers, each with the server's address.
    Register(
        Box<Session>,
        Vec<std::net::UdpSocket>,
        Vec<(std::net::TcpStream, std::net::SocketAddr)>,
    ),
    CreateOffer(Reply<SessionDescription>),
    AcceptOffer(SessionDescription, Reply<SessionDescription>),
    AcceptAnswer(SessionDescription, Reply<()>),
    AddCandidate(IceCandidate, Reply<()>),
    CreateChannel(NewChannel, Reply<()>),
    Send(ChannelKey, Message),
    CloseChannel(ChannelKey),
    AddTrack(NewTrack, Reply<()>),
    Track(TrackKey, TrackCommand),
    Close(Option<Reply<()>>),
    /// Addresses of ICE servers that were given by host name (from the resolver thread).
    IceServersResolved(Vec<crate::ice::ResolvedServer>),
}

/// A locally created channel, handed to the driver.
pub(crate) struct NewChannel {
    pub key: ChannelKey,
    pub config: str0m::channel::ChannelConfig,
    pub core: Arc<ChannelCore>,
    pub queue: ReceiveQueue,
}

/// A locally added track, handed to the driver.
pub(crate) struct NewTrack {
    pub key: TrackKey,
    pub init: unipeer_core::TrackInit,
    pub shared: Arc<crate::track::TrackShared>,
}

/// What a track handle asks of its session.
pub(crate) enum TrackCommand {
    Write {
        codec: Option<unipeer_core::Codec>,
        data: Vec<u8>,
        timestamp: std::time::Duration,
        reply: Reply<()>,
    },
    WriteRtp {
        packet: unipeer_core::RtpPacket,
        reply: Reply<()>,
    },
    RequestKeyframe(Reply<()>),
    SetDirection(unipeer_core::TrackDirection, Reply<()>),
    Stop(Reply<()>),
}
