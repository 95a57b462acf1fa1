//! `DataChannel` over `RTCDataChannel`.
//!
//! The shared [`ChannelCore`] keeps the rules (state, the high-water mark, the size limit, the
//! receive queue); this file keeps the core in step with the browser:
//!
//! - The core's buffered amount counts every byte handed to `RTCDataChannel.send`, so it is
//!   the browser's `bufferedAmount` plus what the browser drained since the last sync. It is
//!   synced (`release` of the difference) before each send and on every `bufferedamountlow`.
//! - `bufferedamountlow` fires only when `bufferedAmount` *crosses* the threshold downwards.
//!   A sender that waits needs `bufferedAmount <= high_water_mark - len`, so while senders
//!   wait the threshold is at most `high_water_mark - longest waiting message` (and at most
//!   half the mark, to batch wake-ups). Each waiter registers before it first checks, after
//!   a sync, so when it waits the browser's amount is above the threshold and the crossing
//!   that lets it go is guaranteed to fire. Without this, a message larger than half the
//!   mark could wait forever. With no sender waiting the threshold is 0, so the core learns
//!   when everything went out and `buffered_amount()` returns to 0.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use unipeer_core::{
    ChannelCore, ChannelSettings, DataChannelState, Error, Message, ReceiveQueue, Reliability,
    Result,
};
use wasm_bindgen::JsCast;

use crate::error::JsError;
use crate::listener::{Handler, Listener};
use crate::sys;

/// One data channel. Clones are handles to the same channel.
///
/// Dropping every handle removes the channel's JS listeners; it does not close the channel
/// (call [`close`](Self::close) for that; closing the peer closes it too).
#[derive(Clone)]
pub struct DataChannel {
    inner: Rc<ChannelInner>,
}

impl std::fmt::Debug for DataChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataChannel")
            .field("label", &self.inner.shared.core.settings().label)
            .field("state", &self.inner.shared.core.state())
            .finish()
    }
}

struct ChannelInner {
    shared: Rc<Shared>,
    _listeners: [Listener; 4],
}

impl Drop for ChannelInner {
    fn drop(&mut self) {
        // The last handle went away with a close still waiting for the buffer to drain:
        // nothing will hear the drain now, so close at once.
        if self.shared.close_when_drained.replace(false) {
            self.shared.dc.close();
        }
    }
}

/// What the JS callbacks and the peer reach; it owns no listener, so no cycle forms.
pub(crate) struct Shared {
    pub(crate) core: Arc<ChannelCore>,
    queue: ReceiveQueue,
    dc: sys::RtcDataChannel,
    /// Lengths of the messages whose `send` waits for room.
    waiting: RefCell<Vec<usize>>,
    /// `close` was called while messages were still buffered (see `DataChannel::close`).
    close_when_drained: Cell<bool>,
}

impl Shared {
    /// Brings the core's buffered amount down to the browser's `bufferedAmount`, waking
    /// senders if it dropped.
    fn sync_buffered(&self) {
        let browser = self.dc.buffered_amount() as usize;
        let core = self.core.buffered_amount();
        if core > browser {
            self.core.release(core - browser);
        }
    }

    /// While senders wait: at most half the mark and at most `mark - longest waiting
    /// message`. With no sender waiting: 0, so the core hears when everything is out and
    /// `buffered_amount()` returns to 0.
    fn update_threshold(&self) {
        let hwm = self.core.high_water_mark();
        let threshold = match self.waiting.borrow().iter().copied().max() {
            _ if self.close_when_drained.get() => 0,
            Some(longest) => (hwm / 2).min(hwm.saturating_sub(longest)),
            None => 0,
        };
        self.dc.set_buffered_amount_low_threshold(threshold as f64);
    }

    /// The channel is gone, by either side or with its peer.
    pub(crate) fn closed(&self) {
        self.core.set_state(DataChannelState::Closed);
        self.queue.close();
    }

    /// Records the largest message the remote accepts.
    pub(crate) fn set_max_message_size(&self, n: usize) {
        self.core.set_max_message_size(n);
    }
}

/// Registers a waiting sender for as long as it waits (also when its `send` is dropped).
struct Waiting<'a> {
    shared: &'a Shared,
    len: usize,
}

impl<'a> Waiting<'a> {
    fn new(shared: &'a Shared, len: usize) -> Self {
        shared.waiting.borrow_mut().push(len);
        shared.update_threshold();
        shared.sync_buffered();
        Self { shared, len }
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        let mut waiting = self.shared.waiting.borrow_mut();
        if let Some(i) = waiting.iter().position(|&l| l == self.len) {
            waiting.swap_remove(i);
        }
        drop(waiting);
        self.shared.update_threshold();
        self.shared.sync_buffered();
    }
}

impl DataChannel {
    /// Wraps a browser channel; `max_message_size` is the remote's limit if already known.
    pub(crate) fn wrap(
        dc: sys::RtcDataChannel,
        high_water_mark: usize,
        max_message_size: Option<usize>,
    ) -> Self {
        let reliability = match (dc.max_retransmits(), dc.max_packet_life_time()) {
            (Some(n), _) => Reliability::MaxRetransmits(n),
            (None, Some(ms)) => Reliability::MaxPacketLifeTime(ms),
            (None, None) => Reliability::Reliable,
        };
        let settings = ChannelSettings {
            label: dc.label(),
            protocol: dc.protocol(),
            ordered: dc.ordered(),
            reliability,
            negotiated: dc.negotiated(),
        };
        let (core, queue) = ChannelCore::new(settings, dc.id(), high_water_mark);
        if let Some(n) = max_message_size {
            core.set_max_message_size(n);
        }
        dc.set_binary_type("arraybuffer");
        let shared = Rc::new(Shared {
            core,
            queue,
            dc,
            waiting: RefCell::new(Vec::new()),
            close_when_drained: Cell::new(false),
        });
        shared.update_threshold();
        match shared.dc.ready_state().as_str() {
            "open" => shared.core.set_state(DataChannelState::Open),
            "closing" => shared.core.set_state(DataChannelState::Closing),
            "closed" => shared.closed(),
            _ => {}
        }

        let handlers: [(&'static str, Handler<Shared>); 4] = [
            ("open", |s, _| {
                if let Some(id) = s.dc.id() {
                    s.core.set_id(id);
                }
                s.core.set_state(DataChannelState::Open);
            }),
            ("message", |s, e| {
                let data = e.unchecked_ref::<sys::MessageEvent>().data();
                let message = if let Some(buf) = data.dyn_ref::<js_sys::ArrayBuffer>() {
                    Message::Binary(js_sys::Uint8Array::new(buf).to_vec())
                } else if let Some(text) = data.as_string() {
                    Message::Text(text)
                } else {
                    return; // binaryType is "arraybuffer": nothing else arrives
                };
                s.queue.push(message);
            }),
            ("bufferedamountlow", |s, _| {
                s.sync_buffered();
                if s.close_when_drained.get() && s.dc.buffered_amount() == 0.0 {
                    s.close_when_drained.set(false);
                    s.dc.close();
                }
            }),
            ("close", |s, _| s.closed()),
        ];
        let target: &web_sys::EventTarget = &shared.dc;
        let listeners = handlers.map(|(event, handler)| {
            let s = shared.clone();
            Listener::new(target, event, move |e| handler(&s, e))
        });

        Self {
            inner: Rc::new(ChannelInner {
                shared,
                _listeners: listeners,
            }),
        }
    }

    pub(crate) fn shared(&self) -> &Rc<Shared> {
        &self.inner.shared
    }

    /// The shared channel logic: state, settings, buffered amount, receive queue.
    pub fn core(&self) -> &ChannelCore {
        &self.inner.shared.core
    }

    /// Sends a message: waits while the channel connects or its buffer is above the
    /// high-water mark, fails at once when it is closed or the message is above the
    /// remote's maximum size.
    pub async fn send(&self, message: Message) -> Result<()> {
        let shared = &*self.inner.shared;
        let len = message.len();
        shared.sync_buffered();
        if !admit_now(&shared.core, len)? {
            let _waiting = Waiting::new(shared, len);
            shared.core.admit(len).await?;
        }
        let sent = match &message {
            Message::Binary(b) => shared.dc.send_with_u8_array(b),
            Message::Text(t) => shared.dc.send_with_str(t),
        };
        sent.map_err(|e| {
            shared.core.unreserve(len);
            let e = JsError::from_js(&e);
            if e.is("InvalidStateError") {
                Error::ChannelClosed
            } else if e.is("TypeError") {
                Error::MessageTooLarge {
                    size: len,
                    max: shared.core.max_message_size(),
                }
            } else {
                Error::Platform(e.text)
            }
        })
    }

    /// Starts closing the channel; both sides see it closed once buffered messages are out.
    ///
    /// Chromium drops messages still in `bufferedAmount` when `RTCDataChannel.close()` is
    /// called (measured: 2 of 3 times for a message sent just before), so the browser's
    /// close is deferred until the buffer has drained (`bufferedamountlow` at threshold 0).
    pub fn close(&self) {
        let shared = &self.inner.shared;
        if shared.core.state() == DataChannelState::Closed {
            return;
        }
        shared.core.set_state(DataChannelState::Closing);
        if shared.dc.buffered_amount() == 0.0 {
            shared.dc.close();
        } else {
            shared.close_when_drained.set(true);
            shared.update_threshold();
        }
    }
}

/// Tries `admit` without waiting: `Ok(true)` admitted, `Ok(false)` must wait.
fn admit_now(core: &ChannelCore, len: usize) -> Result<bool> {
    let mut fut = std::pin::pin!(core.admit(len));
    match fut.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(r) => r.map(|()| true),
        Poll::Pending => Ok(false),
    }
}
