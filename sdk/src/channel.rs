use unipeer_core::{DataChannelState, Message, Reliability, Result};

use crate::platform::{BackendChannel, ChannelImpl};

/// A data channel: a message pipe to the remote peer.
///
/// Handles are cheap to clone; clones use the same channel, so one task can send while
/// another receives. `send` applies backpressure: it waits while the channel buffers more
/// than the peer's [`high_water_mark`](crate::DataChannelLimits::high_water_mark).
#[derive(Clone)]
pub struct DataChannel {
    inner: ChannelImpl,
}

impl std::fmt::Debug for DataChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DataChannel")
            .field("label", &self.label())
            .field("id", &self.id())
            .field("state", &self.state())
            .finish()
    }
}

impl DataChannel {
    pub(crate) fn new(inner: ChannelImpl) -> Self {
        Self { inner }
    }

    /// Sends a binary message. Waits while the channel is connecting or its buffer is above
    /// the high-water mark; fails at once if the channel is closed, the message is empty
    /// ([`Error::EmptyMessage`](crate::Error::EmptyMessage)) or it is larger than
    /// [`max_message_size`](Self::max_message_size).
    pub async fn send(&self, data: impl Into<Vec<u8>>) -> Result<()> {
        BackendChannel::send(&self.inner, Message::Binary(data.into())).await
    }

    /// Sends a text message, with the same waiting and errors as [`send`](Self::send).
    pub async fn send_text(&self, text: impl Into<String>) -> Result<()> {
        BackendChannel::send(&self.inner, Message::Text(text.into())).await
    }

    /// The next message from the remote, or `None` once the channel is closed and every
    /// message that arrived before the close was read.
    pub async fn recv(&self) -> Option<Message> {
        BackendChannel::core(&self.inner).recv().await
    }

    /// A message that already arrived, without waiting.
    pub fn try_recv(&self) -> Option<Message> {
        BackendChannel::core(&self.inner).try_recv()
    }

    /// Waits until the channel is open; fails if it closes first.
    pub async fn wait_open(&self) -> Result<()> {
        BackendChannel::core(&self.inner).wait_open().await
    }

    /// Waits until the channel is closed, by either side.
    pub async fn wait_closed(&self) {
        BackendChannel::core(&self.inner).wait_closed().await
    }

    /// Closes the channel. Messages already accepted by `send` are still delivered; the
    /// remote sees the close after them.
    pub fn close(&self) {
        BackendChannel::close(&self.inner)
    }

    /// Bytes accepted by `send` that the remote has not yet acknowledged.
    pub fn buffered_amount(&self) -> usize {
        BackendChannel::core(&self.inner).buffered_amount()
    }

    /// The largest message the remote accepts (its `a=max-message-size`).
    pub fn max_message_size(&self) -> usize {
        BackendChannel::core(&self.inner).max_message_size()
    }

    /// The channel's label.
    pub fn label(&self) -> &str {
        &BackendChannel::core(&self.inner).settings().label
    }

    /// The channel's sub-protocol.
    pub fn protocol(&self) -> &str {
        &BackendChannel::core(&self.inner).settings().protocol
    }

    /// The SCTP stream id, once assigned (negotiated channels have it from the start).
    pub fn id(&self) -> Option<u16> {
        BackendChannel::core(&self.inner).id()
    }

    /// The current state.
    pub fn state(&self) -> DataChannelState {
        BackendChannel::core(&self.inner).state()
    }

    /// Whether messages arrive in order.
    pub fn ordered(&self) -> bool {
        BackendChannel::core(&self.inner).settings().ordered
    }

    /// The delivery guarantee.
    pub fn reliability(&self) -> Reliability {
        BackendChannel::core(&self.inner).settings().reliability
    }

    /// The retransmission limit, for a partially reliable channel.
    pub fn max_retransmits(&self) -> Option<u16> {
        match self.reliability() {
            Reliability::MaxRetransmits(n) => Some(n),
            _ => None,
        }
    }

    /// The lifetime limit in milliseconds, for a partially reliable channel.
    pub fn max_packet_life_time(&self) -> Option<u16> {
        match self.reliability() {
            Reliability::MaxPacketLifeTime(ms) => Some(ms),
            _ => None,
        }
    }

    /// Whether the channel was negotiated out of band.
    pub fn negotiated(&self) -> bool {
        BackendChannel::core(&self.inner).settings().negotiated
    }
}
