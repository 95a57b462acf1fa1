//! Rooms and peers: join, leave, relay.
//!
//! All queue pushes for a room happen under one lock, so every client sees a consistent
//! order: its `welcome` first, a `peer_joined` before any signal from that peer, and no
//! signal from a peer after its `peer_left`. Pushes never block (see [`crate::queue`]).

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::value::RawValue;
use tokio_tungstenite::tungstenite::Utf8Bytes;

use crate::protocol::ServerFrame;
use crate::queue::Outbox;

/// Why a join was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JoinError {
    RoomFull,
    TooManyRooms,
}

/// Why a signal could not be relayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RelayError {
    UnknownPeer,
}

struct Peer {
    outbox: Outbox,
    /// Join order within the room.
    seq: u64,
}

#[derive(Default)]
struct Room {
    peers: HashMap<String, Peer>,
    next_seq: u64,
}

/// Counts for [`crate::Server::stats`].
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Counts {
    pub(crate) rooms: usize,
    pub(crate) peers: usize,
    pub(crate) queued_bytes: usize,
}

/// Every room of a server.
pub(crate) struct Registry {
    rooms: Mutex<HashMap<String, Room>>,
    max_rooms: usize,
    max_peers_per_room: usize,
}

impl Registry {
    pub(crate) fn new(max_rooms: usize, max_peers_per_room: usize) -> Self {
        Registry {
            rooms: Mutex::new(HashMap::new()),
            max_rooms,
            max_peers_per_room,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Room>> {
        // A panic while holding the lock leaves the maps consistent (no multi-step updates
        // are interrupted by user code), so recover from poisoning.
        self.rooms.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a peer to `room` (creating it), queues its `welcome` and tells the others.
    /// Returns the new peer id.
    pub(crate) fn join(&self, room: &str, outbox: Outbox) -> Result<String, JoinError> {
        let mut rooms = self.lock();
        if !rooms.contains_key(room) && rooms.len() >= self.max_rooms {
            return Err(JoinError::TooManyRooms);
        }
        let r = rooms.entry(room.to_owned()).or_default();
        if r.peers.len() >= self.max_peers_per_room {
            return Err(JoinError::RoomFull);
        }
        let id = loop {
            let id = random_peer_id();
            if !r.peers.contains_key(&id) {
                break id;
            }
        };
        let mut existing: Vec<(&String, &Peer)> = r.peers.iter().collect();
        existing.sort_by_key(|(_, p)| p.seq);
        let welcome = ServerFrame::Welcome {
            peer_id: &id,
            peers: existing.iter().map(|(id, _)| id.as_str()).collect(),
        }
        .to_json();
        outbox.push_text(welcome.into());
        let joined: Utf8Bytes = ServerFrame::PeerJoined { peer_id: &id }.to_json().into();
        for peer in r.peers.values() {
            peer.outbox.push_text(joined.clone());
        }
        let seq = r.next_seq;
        r.next_seq += 1;
        r.peers.insert(id.clone(), Peer { outbox, seq });
        Ok(id)
    }

    /// Removes a peer and, when `notify`, tells the others; drops the room when it becomes
    /// empty.
    pub(crate) fn leave(&self, room: &str, id: &str, notify: bool) {
        let mut rooms = self.lock();
        let Some(r) = rooms.get_mut(room) else { return };
        if r.peers.remove(id).is_none() {
            return;
        }
        if r.peers.is_empty() {
            rooms.remove(room);
            return;
        }
        if !notify {
            return;
        }
        let left: Utf8Bytes = ServerFrame::PeerLeft { peer_id: id }.to_json().into();
        for peer in r.peers.values() {
            peer.outbox.push_text(left.clone());
        }
    }

    /// Delivers `payload` from `from` to `to`, both in `room`.
    pub(crate) fn relay(
        &self,
        room: &str,
        from: &str,
        to: &str,
        payload: &RawValue,
    ) -> Result<(), RelayError> {
        if from == to {
            return Err(RelayError::UnknownPeer);
        }
        let frame: Utf8Bytes = ServerFrame::Signal { from, payload }.to_json().into();
        let rooms = self.lock();
        let peer = rooms
            .get(room)
            .and_then(|r| r.peers.get(to))
            .ok_or(RelayError::UnknownPeer)?;
        // A full queue aborts the recipient (slow reader); the sender is not told.
        peer.outbox.push_text(frame);
        Ok(())
    }

    pub(crate) fn counts(&self) -> Counts {
        let rooms = self.lock();
        let mut c = Counts {
            rooms: rooms.len(),
            ..Counts::default()
        };
        for r in rooms.values() {
            c.peers += r.peers.len();
            c.queued_bytes += r
                .peers
                .values()
                .map(|p| p.outbox.queued_bytes())
                .sum::<usize>();
        }
        c
    }
}

/// 16 lowercase hex characters from the OS's secure RNG.
fn random_peer_id() -> String {
    let mut bytes = [0u8; 8];
    getrandom::fill(&mut bytes).expect("the OS random number generator is available");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::{outbox, OutboxRx, Outgoing};
    use tokio_tungstenite::tungstenite::Message;
    use tokio_util::sync::CancellationToken;

    fn client() -> (Outbox, OutboxRx) {
        outbox(100, 1 << 20, CancellationToken::new())
    }

    fn texts(rx: &mut OutboxRx) -> Vec<String> {
        let mut out = Vec::new();
        while let Ok(Outgoing::Frame(Message::Text(t), _)) = rx.try_recv() {
            out.push(t.to_string());
        }
        out
    }

    #[test]
    fn join_relay_leave() {
        let reg = Registry::new(10, 3);
        let (a_tx, mut a_rx) = client();
        let (b_tx, mut b_rx) = client();
        let a = reg.join("r", a_tx).unwrap();
        let b = reg.join("r", b_tx).unwrap();
        assert_eq!(a.len(), 16);
        assert_ne!(a, b);
        assert_eq!(
            texts(&mut a_rx),
            [
                format!(r#"{{"type":"welcome","peer_id":"{a}","peers":[]}}"#),
                format!(r#"{{"type":"peer_joined","peer_id":"{b}"}}"#)
            ]
        );
        assert_eq!(
            texts(&mut b_rx),
            [format!(
                r#"{{"type":"welcome","peer_id":"{b}","peers":["{a}"]}}"#
            )]
        );
        let p = RawValue::from_string("[1,2]".into()).unwrap();
        assert_eq!(reg.relay("r", &a, &b, &p), Ok(()));
        assert_eq!(reg.relay("r", &a, &a, &p), Err(RelayError::UnknownPeer));
        assert_eq!(reg.relay("other", &a, &b, &p), Err(RelayError::UnknownPeer));
        assert_eq!(
            texts(&mut b_rx),
            [format!(
                r#"{{"type":"signal","from":"{a}","payload":[1,2]}}"#
            )]
        );
        reg.leave("r", &a, true);
        assert_eq!(
            texts(&mut b_rx),
            [format!(r#"{{"type":"peer_left","peer_id":"{a}"}}"#)]
        );
        assert_eq!(reg.counts().rooms, 1);
        reg.leave("r", &b, true);
        assert_eq!(reg.counts().rooms, 0);
    }

    #[test]
    fn limits() {
        let reg = Registry::new(1, 1);
        reg.join("r", client().0).unwrap();
        assert_eq!(reg.join("r", client().0), Err(JoinError::RoomFull));
        assert_eq!(reg.join("s", client().0), Err(JoinError::TooManyRooms));
    }
}
