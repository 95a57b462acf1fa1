//! The one platform seam: which backend implements [`crate::Peer`] on this target.
//!
//! Both backends offer the same surface; [`Backend`] and [`BackendChannel`] spell it out so
//! the compiler checks every target against one contract, and the rest of the crate is
//! written once against these traits.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use unipeer_core::{
    ChannelCore, Codec, ConnectionState, DataChannelInit, EventStream, IceCandidate, MediaKind,
    Message, PeerConfig, Result, SessionDescription, TrackDirection, TrackInit, TrackState,
    TrackStats,
};

#[cfg(not(target_arch = "wasm32"))]
use unipeer_native as backend;
#[cfg(target_arch = "wasm32")]
use unipeer_wasm as backend;

pub(crate) type PeerImpl = backend::Peer;
pub(crate) type ChannelImpl = backend::DataChannel;
pub(crate) type TrackImpl = backend::Track;

// What a track carries is platform-shaped (encoded frames natively, a `MediaStreamTrack`
// in the browser): each target adds its own methods to `Track`, from its own file.
#[cfg(not(target_arch = "wasm32"))]
#[path = "media/native_track.rs"]
mod track_ext;
#[cfg(target_arch = "wasm32")]
#[path = "media/browser_track.rs"]
mod track_ext;

// The runtime pieces the signaling client and the mesh need: a boxed future that is `Send`
// natively (so a `Mesh` can move between threads) but need not be in the browser (whose
// objects live on the page's one thread), a timer and a little randomness. Natively the
// timer is async-io's, whose reactor runs on its own thread: it works under any executor
// and spawns nothing on the application's runtime. (The WebSocket has its own split, in
// `signaling/socket.rs`.)

/// `Send` natively; no requirement in the browser, whose objects live on the page's one
/// thread. Implemented for every type that qualifies: it only appears in bounds, such as
/// those of [`Rpc::register`](crate::rpc::Rpc::register).
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSend: Send {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Send + ?Sized> MaybeSend for T {}
/// `Send` natively; no requirement in the browser, whose objects live on the page's one
/// thread. Implemented for every type that qualifies: it only appears in bounds, such as
/// those of [`Rpc::register`](crate::rpc::Rpc::register).
#[cfg(target_arch = "wasm32")]
pub trait MaybeSend {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSend for T {}

/// `Sync` natively; no requirement in the browser (see [`MaybeSend`]).
#[cfg(not(target_arch = "wasm32"))]
pub trait MaybeSync: Sync {}
#[cfg(not(target_arch = "wasm32"))]
impl<T: Sync + ?Sized> MaybeSync for T {}
/// `Sync` natively; no requirement in the browser (see [`MaybeSend`]).
#[cfg(target_arch = "wasm32")]
pub trait MaybeSync {}
#[cfg(target_arch = "wasm32")]
impl<T: ?Sized> MaybeSync for T {}

/// A boxed future, `Send` where the platform has threads.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;
/// A boxed future, `Send` where the platform has threads.
#[cfg(target_arch = "wasm32")]
pub(crate) type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + 'static>>;

/// A boxed stream, `Send` where the platform has threads.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) type BoxStream<T> = Pin<Box<dyn futures_core::Stream<Item = T> + Send + 'static>>;
/// A boxed stream, `Send` where the platform has threads.
#[cfg(target_arch = "wasm32")]
pub(crate) type BoxStream<T> = Pin<Box<dyn futures_core::Stream<Item = T> + 'static>>;

/// A shared function object, `Send + Sync` where the platform has threads.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) type SharedFn<A, R> = std::sync::Arc<dyn Fn(A) -> R + Send + Sync + 'static>;
/// A shared function object, `Send + Sync` where the platform has threads.
#[cfg(target_arch = "wasm32")]
pub(crate) type SharedFn<A, R> = std::sync::Arc<dyn Fn(A) -> R + 'static>;

/// A reference-counted value shared within the mesh: `Arc` where the platform has
/// threads, `Rc` in the browser (whose objects are not `Send`).
#[cfg(not(target_arch = "wasm32"))]
pub(crate) type Shared<T> = std::sync::Arc<T>;
/// A reference-counted value shared within the mesh: `Arc` where the platform has
/// threads, `Rc` in the browser (whose objects are not `Send`).
#[cfg(target_arch = "wasm32")]
pub(crate) type Shared<T> = std::rc::Rc<T>;

/// Boxes a future as [`BoxFuture`].
pub(crate) fn boxed<F>(future: F) -> BoxFuture<F::Output>
where
    F: Future + MaybeSend + 'static,
{
    Box::pin(future)
}

/// Completes after `duration`.
pub(crate) fn sleep(duration: Duration) -> BoxFuture<()> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        let timer = async_io::Timer::after(duration);
        boxed(async move {
            timer.await;
        })
    }
    #[cfg(target_arch = "wasm32")]
    {
        // setTimeout takes at most 2^31 - 1 ms (and fires at once beyond that).
        let ms = u32::try_from(duration.as_millis())
            .unwrap_or(u32::MAX)
            .min(i32::MAX as u32);
        boxed(gloo_timers::future::TimeoutFuture::new(ms))
    }
}

/// Milliseconds on a clock that does not go backwards (in the browser, where
/// `std::time::Instant` is not available, the page's clock).
pub(crate) fn now_ms() -> f64 {
    #[cfg(not(target_arch = "wasm32"))]
    {
        static START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();
        START
            .get_or_init(std::time::Instant::now)
            .elapsed()
            .as_secs_f64()
            * 1000.0
    }
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Date::now()
    }
}

/// A random number in `[0, 1)`, for jitter (not for secrets).
pub(crate) fn random_unit() -> f64 {
    #[cfg(not(target_arch = "wasm32"))]
    {
        fastrand::f64()
    }
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Math::random()
    }
}

/// A `Send` value made `Sync` by handing it out only through `&mut` (what std's unstable
/// `Exclusive` does), so types holding boxed futures can still be shared by reference.
/// The mutex is never locked: `get_mut` needs no lock.
pub(crate) struct Exclusive<T>(Mutex<T>);

impl<T> Exclusive<T> {
    pub(crate) fn new(value: T) -> Self {
        Self(Mutex::new(value))
    }

    pub(crate) fn get_mut(&mut self) -> &mut T {
        self.0.get_mut().unwrap_or_else(PoisonError::into_inner)
    }
}

/// What a backend's peer does. Method meanings are documented on [`crate::Peer`].
#[allow(async_fn_in_trait)] // private trait, only called on concrete types
pub(crate) trait Backend: Sized {
    type Channel: BackendChannel;
    type Track: BackendTrack;
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
    async fn add_track(&self, init: TrackInit) -> Result<Self::Track>;
    fn events(&self) -> EventStream<Self::Channel, Self::Track>;
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

/// What a backend's track does on every platform (the platform-shaped rest is in
/// `track_ext`).
#[allow(async_fn_in_trait)] // private trait, only called on concrete types
pub(crate) trait BackendTrack: Clone {
    fn kind(&self) -> MediaKind;
    fn mid(&self) -> Option<String>;
    fn direction(&self) -> TrackDirection;
    fn state(&self) -> TrackState;
    /// The remote's (stream id, track id).
    fn remote_ids(&self) -> Option<(String, String)>;
    fn send_codec(&self) -> Option<Codec>;
    async fn set_direction(&self, direction: TrackDirection) -> Result<()>;
    async fn stop(&self) -> Result<()>;
    async fn stats(&self) -> Result<TrackStats>;
    async fn wait_ended(&self);
}

impl Backend for PeerImpl {
    type Channel = ChannelImpl;
    type Track = TrackImpl;
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
    async fn add_track(&self, init: TrackInit) -> Result<TrackImpl> {
        backend::Peer::add_track(self, init).await
    }
    fn events(&self) -> EventStream<ChannelImpl, TrackImpl> {
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

impl BackendTrack for TrackImpl {
    fn kind(&self) -> MediaKind {
        backend::Track::kind(self)
    }
    fn mid(&self) -> Option<String> {
        backend::Track::mid(self)
    }
    fn direction(&self) -> TrackDirection {
        backend::Track::direction(self)
    }
    fn state(&self) -> TrackState {
        backend::Track::state(self)
    }
    fn remote_ids(&self) -> Option<(String, String)> {
        backend::Track::remote_ids(self)
    }
    fn send_codec(&self) -> Option<Codec> {
        backend::Track::send_codec(self)
    }
    async fn set_direction(&self, direction: TrackDirection) -> Result<()> {
        backend::Track::set_direction(self, direction).await
    }
    async fn stop(&self) -> Result<()> {
        backend::Track::stop(self).await
    }
    async fn stats(&self) -> Result<TrackStats> {
        backend::Track::stats(self).await
    }
    async fn wait_ended(&self) {
        backend::Track::wait_ended(self).await
    }
}
