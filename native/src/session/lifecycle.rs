//! How a session's connection state changes and how it ends: failed, closed by either
//! side, or cut short by a fault in the WebRTC stack.

use std::time::{Duration, Instant};

use tracing::debug;
use unipeer_core::{ConnectionState, Error, PeerEvent};

use super::Session;
use crate::command::{Command, TrackCommand};

/// How long a closing session may drain its close (DTLS close_notify, SCTP shutdown)
/// before it is dropped anyway.
pub(super) const CLOSE_DRAIN_LIMIT: Duration = Duration::from_secs(2);

impl Session {
    pub(super) fn set_state(&mut self, s: ConnectionState) {
        if self.state == s || self.state.is_terminal() {
            return;
        }
        debug!(peer = self.id, state = ?s, "connection state");
        self.state = s;
        self.shared.set_state(s);
        self.events.push(PeerEvent::ConnectionStateChange(s));
    }

    /// Lost for longer than the bound: channels close, the peer reports `Failed` and stops
    /// sending (RFC 7675: without consent, nothing more goes to the remote).
    pub(super) fn fail(&mut self) {
        self.disconnected_since = None;
        self.channels.close_all();
        self.media.end_all(&self.events);
        self.set_state(ConnectionState::Failed);
        self.rtc.disconnect();
    }

    pub(super) fn start_close(&mut self, now: Instant) {
        if self.closing {
            return;
        }
        self.closing = true;
        self.close_by = Some(now + CLOSE_DRAIN_LIMIT);
        let had_dtls = matches!(
            self.state,
            ConnectionState::Connected | ConnectionState::Disconnected
        );
        if !had_dtls {
            // No DTLS session to close: str0m would wait forever for its close to drain,
            // and the session (a few hundred KiB) would never be released.
            self.rtc.disconnect();
        } else if let Err(e) = self.rtc.close() {
            debug!(peer = self.id, error = %e, "closing str0m failed; dropping the session");
            self.rtc.disconnect();
        }
        self.finish_close();
    }

    /// Tells the application: channels closed, state `Closed`, the last event.
    pub(super) fn finish_close(&mut self) {
        self.channels.close_all();
        self.media.end_all(&self.events);
        self.set_state(ConnectionState::Closed);
        self.events.push(PeerEvent::Closed);
        self.events.close();
    }

    /// A fault inside the WebRTC stack (an error or a panic): this peer alone ends.
    pub(crate) fn fault(&mut self, error: Error) {
        tracing::warn!(peer = self.id, %error, "peer ended by a fault in the WebRTC stack");
        self.events.push(PeerEvent::Error(error));
        self.channels.close_all();
        self.media.end_all(&self.events);
        if !self.state.is_terminal() {
            self.state = ConnectionState::Failed;
            self.shared.set_state(ConnectionState::Failed);
            self.events
                .push(PeerEvent::ConnectionStateChange(ConnectionState::Failed));
        }
        self.events.push(PeerEvent::Closed);
        self.events.close();
        self.set_dead();
    }

    /// The session is over: nothing more happens, waiting `close` calls return.
    pub(super) fn set_dead(&mut self) {
        self.dead = true;
        for reply in self.close_replies.drain(..) {
            let _ = reply.send(Ok(()));
        }
    }
}

/// Answers a command for a session that is gone.
pub(crate) fn reply_closed(cmd: Command) {
    fn e<T>() -> unipeer_core::Result<T> {
        Err(Error::PeerClosed)
    }
    match cmd {
        Command::CreateOffer(r) => drop(r.send(e())),
        Command::AcceptOffer(_, r) => drop(r.send(e())),
        Command::AcceptAnswer(_, r) => drop(r.send(e())),
        Command::AddCandidate(_, r) => drop(r.send(e())),
        Command::CreateChannel(new, r) => {
            new.core.set_state(unipeer_core::DataChannelState::Closed);
            new.queue.close();
            drop(r.send(e()));
        }
        Command::AddTrack(new, r) => {
            new.shared.set_state(unipeer_core::TrackState::Ended);
            drop(r.send(e()));
        }
        Command::Track(_, cmd) => match cmd {
            TrackCommand::Write { reply, .. } | TrackCommand::WriteRtp { reply, .. } => {
                drop(reply.send(e()))
            }
            TrackCommand::RequestKeyframe(r)
            | TrackCommand::SetDirection(_, r)
            | TrackCommand::Stop(r) => drop(r.send(e())),
        },
        Command::Close(Some(r)) => drop(r.send(Ok(()))),
        Command::Register(..)
        | Command::IceServersResolved(_)
        | Command::Send(..)
        | Command::CloseChannel(_)
        | Command::Close(None) => {}
    }
}
