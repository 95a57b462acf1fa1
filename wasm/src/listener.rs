//! A JS event listener owned by a Rust value: registered on creation, removed on drop.

use std::sync::atomic::{AtomicUsize, Ordering};

use gloo_events::EventListener;
use web_sys::{Event, EventTarget};

static LIVE: AtomicUsize = AtomicUsize::new(0);

/// How many JS event listeners the backend has registered and not yet removed, across every
/// peer and channel in this page. With no `Peer` or `DataChannel` alive it is 0.
pub fn live_listeners() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// A registered listener; dropping it removes it from its target and frees its closure.
pub(crate) struct Listener {
    _inner: EventListener,
}

impl Listener {
    pub(crate) fn new(
        target: &EventTarget,
        event: &'static str,
        callback: impl FnMut(&Event) + 'static,
    ) -> Self {
        LIVE.fetch_add(1, Ordering::Relaxed);
        Self {
            _inner: EventListener::new(target, event, callback),
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::Relaxed);
    }
}
