//! A JS event listener owned by a Rust value: registered on creation, removed on drop.
//!
//! (What `gloo-events` does, in the few lines this crate needs: no listener options, so
//! the JS glue stays small.)

use std::sync::atomic::{AtomicUsize, Ordering};

use wasm_bindgen::closure::Closure;
use wasm_bindgen::JsCast;
use web_sys::{Event, EventTarget};

static LIVE: AtomicUsize = AtomicUsize::new(0);

/// How many JS event listeners the backend has registered and not yet removed, across every
/// peer and channel in this page. With no `Peer` or `DataChannel` alive it is 0.
pub fn live_listeners() -> usize {
    LIVE.load(Ordering::Relaxed)
}

/// What the listeners of a `T` (a peer, a channel) do with an event: a plain function, so
/// that their closures, which only add the `T`, are of one type (each distinct closure
/// adds its own glue to the wasm module).
pub(crate) type Handler<T> = fn(&T, &Event);

/// A registered listener; dropping it removes it from its target and frees its closure.
pub(crate) struct Listener {
    target: EventTarget,
    event: &'static str,
    callback: Closure<dyn FnMut(&Event)>,
}

impl Listener {
    pub(crate) fn new(
        target: &EventTarget,
        event: &'static str,
        callback: impl FnMut(&Event) + 'static,
    ) -> Self {
        let callback = Closure::<dyn FnMut(&Event)>::new(callback);
        // Adding a function listener does not throw.
        let _ = target.add_event_listener_with_callback(event, callback.as_ref().unchecked_ref());
        LIVE.fetch_add(1, Ordering::Relaxed);
        Self {
            target: target.clone(),
            event,
            callback,
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        let callback = self.callback.as_ref().unchecked_ref();
        // Removing a listener does not throw either.
        let _ = self
            .target
            .remove_event_listener_with_callback(self.event, callback);
        LIVE.fetch_sub(1, Ordering::Relaxed);
    }
}
