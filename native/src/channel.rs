use std::sync::Arc;

use unipeer_core::{ChannelCore, DataChannelState, Error, Message, Result};

use crate::command::{ChannelKey, Command, PeerId};
use crate::driver::DriverHandle;

/// A native data channel handle; applications use `unipeer::DataChannel`.
#[derive(Clone)]
pub struct DataChannel {
    core: Arc<ChannelCore>,
    key: ChannelKey,
    peer: PeerId,
    driver: Arc<DriverHandle>,
}

impl DataChannel {
    pub(crate) fn new(
        core: Arc<ChannelCore>,
        key: ChannelKey,
        peer: PeerId,
        driver: Arc<DriverHandle>,
    ) -> Self {
        Self {
            core,
            key,
            peer,
            driver,
        }
    }

    /// The shared channel state.
    pub fn core(&self) -> &ChannelCore {
        &self.core
    }

    /// Sends a message once the backpressure rules of [`ChannelCore::admit`] allow it.
    pub async fn send(&self, message: Message) -> Result<()> {
        let len = message.len();
        self.core.admit(len).await?;
        if !self
            .driver
            .send(self.peer, Command::Send(self.key, message))
        {
            self.core.unreserve(len);
            return Err(Error::PeerClosed);
        }
        Ok(())
    }

    /// Closes the channel after the messages already sent.
    pub fn close(&self) {
        match self.core.state() {
            DataChannelState::Connecting | DataChannelState::Open => {
                self.core.set_state(DataChannelState::Closing);
                self.driver.send(self.peer, Command::CloseChannel(self.key));
            }
            _ => {}
        }
    }
}
