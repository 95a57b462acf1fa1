//! The part of a peer's state its handle reads without asking the driver.

use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};

use unipeer_core::ConnectionState;

/// State a peer handle reads without asking the driver.
#[derive(Debug)]
pub(crate) struct PeerShared {
    state: AtomicU8,
    next_channel_key: AtomicU64,
    next_track_key: AtomicU64,
}

impl PeerShared {
    pub(crate) fn new() -> Self {
        Self {
            state: AtomicU8::new(0),
            next_channel_key: AtomicU64::new(0),
            next_track_key: AtomicU64::new(0),
        }
    }

    pub(crate) fn state(&self) -> ConnectionState {
        match self.state.load(Ordering::Acquire) {
            0 => ConnectionState::New,
            1 => ConnectionState::Connecting,
            2 => ConnectionState::Connected,
            3 => ConnectionState::Disconnected,
            4 => ConnectionState::Failed,
            _ => ConnectionState::Closed,
        }
    }

    pub(super) fn set_state(&self, s: ConnectionState) {
        let v = match s {
            ConnectionState::New => 0,
            ConnectionState::Connecting => 1,
            ConnectionState::Connected => 2,
            ConnectionState::Disconnected => 3,
            ConnectionState::Failed => 4,
            _ => 5,
        };
        self.state.store(v, Ordering::Release);
    }

    pub(crate) fn next_channel_key(&self) -> u64 {
        self.next_channel_key.fetch_add(1, Ordering::Relaxed)
    }
}

impl PeerShared {
    /// A key for a new track (local or remote-added).
    pub(crate) fn next_track_key(&self) -> u64 {
        self.next_track_key.fetch_add(1, Ordering::Relaxed)
    }
}
