//! The data-channel logic both backends share: settings, state, backpressure, the
//! message-size rule and the receive queue. A backend owns the wire; this owns the rules.

use std::sync::atomic::{AtomicU32, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;

use event_listener::Event;

use crate::{DataChannelState, Error, Message, Result};

/// How hard a channel tries to deliver each message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reliability {
    /// Every message is delivered (retransmitted until acknowledged).
    Reliable,
    /// A message is dropped after this many retransmissions.
    MaxRetransmits(u16),
    /// A message is dropped once it is this many milliseconds old.
    MaxPacketLifeTime(u16),
}

/// What a channel was opened with; both ends see the same values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelSettings {
    /// The channel's label.
    pub label: String,
    /// The sub-protocol name.
    pub protocol: String,
    /// Whether messages arrive in the order they were sent.
    pub ordered: bool,
    /// Delivery guarantee.
    pub reliability: Reliability,
    /// Whether the channel was negotiated out of band.
    pub negotiated: bool,
}

const NO_ID: u32 = u32::MAX;

/// Shared state of one data channel, between its handles and the backend.
#[derive(Debug)]
pub struct ChannelCore {
    settings: ChannelSettings,
    id: AtomicU32,
    state: AtomicU8,
    buffered: AtomicUsize,
    high_water_mark: usize,
    max_message_size: AtomicUsize,
    /// Notified whenever the state changes or the buffered amount drops.
    changed: Event,
    rx: async_channel::Receiver<Message>,
}

/// The backend's side of a channel's receive queue.
#[derive(Debug)]
pub struct ReceiveQueue {
    tx: async_channel::Sender<Message>,
}

impl ReceiveQueue {
    /// Hands a received message to the application.
    pub fn push(&self, message: Message) {
        // Fails only when the queue was closed (the channel is closed): drop the message
        // as the browser does for messages that arrive after close.
        let _ = self.tx.try_send(message);
    }

    /// Ends the queue: `recv` returns what was queued, then `None`.
    pub fn close(&self) {
        self.tx.close();
    }
}

impl ChannelCore {
    /// A channel in the `Connecting` state, with its receive queue.
    pub fn new(
        settings: ChannelSettings,
        id: Option<u16>,
        high_water_mark: usize,
    ) -> (Arc<Self>, ReceiveQueue) {
        let (tx, rx) = async_channel::unbounded();
        let core = Self {
            settings,
            id: AtomicU32::new(id.map_or(NO_ID, u32::from)),
            state: AtomicU8::new(DataChannelState::Connecting.to_u8()),
            buffered: AtomicUsize::new(0),
            high_water_mark: high_water_mark.max(1),
            // Until the remote's description says otherwise, RFC 8841's default applies.
            max_message_size: AtomicUsize::new(65_536),
            changed: Event::new(),
            rx,
        };
        (Arc::new(core), ReceiveQueue { tx })
    }

    /// The settings the channel was opened with.
    pub fn settings(&self) -> &ChannelSettings {
        &self.settings
    }

    /// The SCTP stream id, once the transport has assigned it.
    pub fn id(&self) -> Option<u16> {
        u16::try_from(self.id.load(Ordering::Acquire)).ok()
    }

    /// Records the stream id the transport assigned.
    pub fn set_id(&self, id: u16) {
        self.id.store(u32::from(id), Ordering::Release);
    }

    /// The current state.
    pub fn state(&self) -> DataChannelState {
        DataChannelState::from_u8(self.state.load(Ordering::Acquire))
    }

    /// Moves to `state` and wakes everyone waiting on the channel. A closed channel stays
    /// closed.
    pub fn set_state(&self, state: DataChannelState) {
        let mut cur = self.state.load(Ordering::Acquire);
        loop {
            if DataChannelState::from_u8(cur) == DataChannelState::Closed {
                return;
            }
            match self.state.compare_exchange(
                cur,
                state.to_u8(),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break,
                Err(actual) => cur = actual,
            }
        }
        if state == DataChannelState::Closed {
            self.buffered.store(0, Ordering::Release);
        }
        self.changed.notify(usize::MAX);
    }

    /// Bytes accepted by `send` and not yet acknowledged by the remote.
    pub fn buffered_amount(&self) -> usize {
        self.buffered.load(Ordering::Acquire)
    }

    /// The high-water mark `send` waits at.
    pub fn high_water_mark(&self) -> usize {
        self.high_water_mark
    }

    /// The backend reports that `n` buffered bytes left the buffer.
    pub fn release(&self, n: usize) {
        if n == 0 {
            return;
        }
        let mut cur = self.buffered.load(Ordering::Acquire);
        let next = loop {
            let next = cur.saturating_sub(n);
            match self
                .buffered
                .compare_exchange(cur, next, Ordering::AcqRel, Ordering::Acquire)
            {
                Ok(_) => break next,
                Err(actual) => cur = actual,
            }
        };
        // Like the browser's bufferedamountlow: waiting senders are woken once the buffer
        // is down to half the mark, not on every acknowledgement, to save wake-ups.
        if next <= self.high_water_mark / 2 {
            self.changed.notify(usize::MAX);
        }
    }

    /// The largest message the remote accepts.
    pub fn max_message_size(&self) -> usize {
        self.max_message_size.load(Ordering::Acquire)
    }

    /// Records the remote's `a=max-message-size`.
    pub fn set_max_message_size(&self, n: usize) {
        self.max_message_size.store(n, Ordering::Release);
    }

    /// Waits until a message of `len` bytes may be handed to the transport and reserves room
    /// for it in the buffered amount.
    ///
    /// It waits while the channel is connecting and while the buffered amount plus `len`
    /// is above the high-water mark (an empty buffer always takes one message, however
    /// large, so messages above the mark still go). It fails at once for a closed channel
    /// or a message above the remote's maximum size, and for an empty message.
    pub async fn admit(&self, len: usize) -> Result<()> {
        // str0m (through sctp-proto 0.10) turns an empty message into no SCTP chunk while
        // still using up a stream sequence number, so every later message on an ordered
        // channel would wait forever. Refused on every backend, so code behaves the same.
        if len == 0 {
            return Err(Error::EmptyMessage);
        }
        // Fast path: an open channel with room needs no listener.
        if self.state() == DataChannelState::Open {
            let max = self.max_message_size();
            if len > max {
                return Err(Error::MessageTooLarge { size: len, max });
            }
            if self.try_reserve(len) {
                return Ok(());
            }
        }
        loop {
            // Listen before checking, so a change between the check and the wait is not lost.
            let listener = self.changed.listen();
            match self.state() {
                DataChannelState::Connecting => {}
                DataChannelState::Open => {
                    let max = self.max_message_size();
                    if len > max {
                        return Err(Error::MessageTooLarge { size: len, max });
                    }
                    if self.try_reserve(len) {
                        return Ok(());
                    }
                }
                DataChannelState::Closing | DataChannelState::Closed => {
                    return Err(Error::ChannelClosed)
                }
            }
            listener.await;
        }
    }

    fn try_reserve(&self, len: usize) -> bool {
        let mut cur = self.buffered.load(Ordering::Acquire);
        loop {
            if cur != 0 && cur.saturating_add(len) > self.high_water_mark {
                return false;
            }
            match self.buffered.compare_exchange(
                cur,
                cur.saturating_add(len),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return true,
                Err(actual) => cur = actual,
            }
        }
    }

    /// Gives back a reservation whose message never reached the transport.
    pub fn unreserve(&self, len: usize) {
        self.release(len);
    }

    /// Waits until the channel is open. Fails if it closes first.
    pub async fn wait_open(&self) -> Result<()> {
        loop {
            let listener = self.changed.listen();
            match self.state() {
                DataChannelState::Open => return Ok(()),
                DataChannelState::Connecting => {}
                DataChannelState::Closing | DataChannelState::Closed => {
                    return Err(Error::ChannelClosed)
                }
            }
            listener.await;
        }
    }

    /// Waits until the channel is closed.
    pub async fn wait_closed(&self) {
        loop {
            let listener = self.changed.listen();
            if self.state() == DataChannelState::Closed {
                return;
            }
            listener.await;
        }
    }

    /// The next received message, or `None` once the channel is closed and drained.
    pub async fn recv(&self) -> Option<Message> {
        self.rx.recv().await.ok()
    }

    /// A message that is already received, without waiting.
    pub fn try_recv(&self) -> Option<Message> {
        self.rx.try_recv().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::executor::block_on;
    use futures::FutureExt;

    fn channel(hwm: usize) -> (Arc<ChannelCore>, ReceiveQueue) {
        let settings = ChannelSettings {
            label: "t".into(),
            protocol: String::new(),
            ordered: true,
            reliability: Reliability::Reliable,
            negotiated: false,
        };
        ChannelCore::new(settings, None, hwm)
    }

    #[test]
    fn admit_waits_for_open_then_for_room() {
        let (c, _q) = channel(100);
        assert!(
            c.admit(10).now_or_never().is_none(),
            "connecting: must wait"
        );
        c.set_state(DataChannelState::Open);
        block_on(c.admit(60)).unwrap();
        assert!(
            c.admit(60).now_or_never().is_none(),
            "60+60 > 100: must wait"
        );
        c.release(60);
        block_on(c.admit(60)).unwrap();
        assert_eq!(c.buffered_amount(), 60);
    }

    #[test]
    fn an_empty_buffer_takes_a_message_above_the_mark() {
        let (c, _q) = channel(100);
        c.set_state(DataChannelState::Open);
        c.set_max_message_size(1000);
        block_on(c.admit(500)).unwrap();
        assert!(c.admit(1).now_or_never().is_none());
    }

    #[test]
    fn too_large_and_closed_are_errors() {
        let (c, _q) = channel(100);
        c.set_state(DataChannelState::Open);
        c.set_max_message_size(50);
        assert_eq!(
            block_on(c.admit(51)),
            Err(Error::MessageTooLarge { size: 51, max: 50 })
        );
        c.set_state(DataChannelState::Closed);
        assert_eq!(block_on(c.admit(1)), Err(Error::ChannelClosed));
        c.set_state(DataChannelState::Open);
        assert_eq!(c.state(), DataChannelState::Closed, "closed is final");
    }

    #[test]
    fn received_messages_survive_close() {
        let (c, q) = channel(100);
        q.push(Message::Text("a".into()));
        q.close();
        assert_eq!(block_on(c.recv()), Some(Message::Text("a".into())));
        assert_eq!(block_on(c.recv()), None);
    }
}
