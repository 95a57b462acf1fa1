//! The one platform seam: which backend implements [`crate::Peer`] on this target.
//!
//! Both backends offer the same surface; [`Backend`] and [`BackendChannel`] spell it out so
//! the compiler checks every target against one contract, and the rest of the crate is
//! written once against these traits.

use unipeer_core::{
    ChannelCore, ConnectionState, DataChannelInit, EventStream, IceCandidate, Message, PeerConfig,
    Result, SessionDescription,
};

#[cfg(not(target_arch = "wasm32"))]
use unipeer_native as backend;
#[cfg(target_arch = "wasm32")]
use unipeer_wasm as backend;

pub(crate) type PeerImpl = backend::Peer;
pub(crate) type ChannelImpl = backend::DataChannel;

/// What a backend's peer does. Method meanings are documented on [`crate::Peer`].
#[allow(async_fn_in_trait)] // private trait, only called on concrete types
pub(crate) trait Backend: Sized {
    type Channel: BackendChannel;
    fn new(config: PeerConfig) -> Result<Self>;
    async fn create_offer(&self) -> Result<SessionDescription>;
    async fn accept_offer(&self, offer: SessionDescription) -> Result<SessionDescription>;
    async fn accept_answer(&self, answer: SessionDescription) -> Result<()>;
    async fn add_ice_candidate(&self, candidate: IceCandidate) -> Result<()>;
    async fn create_data_channel(
        &self,
        label: &str,
        init: DataChannelInit,
    ) -> Result<Self::Channel>;
    fn events(&self) -> EventStream<Self::Channel>;
    fn connection_state(&self) -> ConnectionState;
    async fn close(&self);
}

/// What a backend's data channel does beyond the shared [`ChannelCore`].
#[allow(async_fn_in_trait)] // private trait, only called on concrete types
pub(crate) trait BackendChannel: Clone {
    fn core(&self) -> &ChannelCore;
    async fn send(&self, message: Message) -> Result<()>;
    fn close(&self);
}

impl Backend for PeerImpl {
    type Channel = ChannelImpl;
    fn new(config: PeerConfig) -> Result<Self> {
        backend::Peer::new(config)
    }
    async fn create_offer(&self) -> Result<SessionDescription> {
        backend::Peer::create_offer(self).await
    }
    async fn accept_offer(&self, offer: SessionDescription) -> Result<SessionDescription> {
        backend::Peer::accept_offer(self, offer).await
    }
    async fn accept_answer(&self, answer: SessionDescription) -> Result<()> {
        backend::Peer::accept_answer(self, answer).await
    }
    async fn add_ice_candidate(&self, candidate: IceCandidate) -> Result<()> {
        backend::Peer::add_ice_candidate(self, candidate).await
    }
    async fn create_data_channel(&self, label: &str, init: DataChannelInit) -> Result<ChannelImpl> {
        backend::Peer::create_data_channel(self, label, init).await
    }
    fn events(&self) -> EventStream<ChannelImpl> {
        backend::Peer::events(self)
    }
    fn connection_state(&self) -> ConnectionState {
        backend::Peer::connection_state(self)
    }
    async fn close(&self) {
        backend::Peer::close(self).await
    }
}

impl BackendChannel for ChannelImpl {
    fn core(&self) -> &ChannelCore {
        backend::DataChannel::core(self)
    }
    async fn send(&self, message: Message) -> Result<()> {
        backend::DataChannel::send(self, message).await
    }
    fn close(&self) {
        backend::DataChannel::close(self)
    }
}
