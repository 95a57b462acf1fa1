//! Typed request/response and streams over a data channel, between any two unipeer nodes
//! (native or browser).
//!
//! ## The model
//! - [`Rpc::new`] wraps one reliable, ordered [`DataChannel`] and returns the [`Rpc`]
//!   handle (cheap to clone) and its [`RpcDriver`]. The driver is a future that reads the
//!   channel, runs incoming calls concurrently and routes answers: poll it for as long as
//!   the RPC is used (spawn it on your runtime, or `join`/`select` it with your own work).
//!   Nothing is spawned for you.
//! - Either side registers methods ([`Rpc::register`], [`Rpc::register_stream`],
//!   [`Rpc::register_raw`]) and either side calls them ([`Rpc::call`],
//!   [`Rpc::call_stream`], [`Rpc::call_raw`]): the two ends are symmetric.
//! - Typed values travel through serde, in [postcard](Codec::Postcard) by default or
//!   [JSON](Codec::Json); each request names its codec and is answered in it.
//! - Payloads larger than the channel's message limit are split and joined transparently,
//!   up to [`RpcConfig::max_payload`].
//! - Every call has a timeout; dropping a call's future (or a stream) cancels the call on
//!   the remote too, which drops its handler's future.
//! - Errors cross the wire with a code and a message ([`RpcError`]). A malformed frame
//!   from the remote ends that one call with an error; other calls carry on.
//!
//! ```
//! use futures::{future, StreamExt};
//! use unipeer::rpc::{Rpc, RpcConfig, RpcError};
//! # use unipeer::{DataChannelInit, HostCandidates, Peer, PeerConfig, PeerEvent};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> { futures::executor::block_on(async {
//! # let (channel, remote_channel, _peers) = connected_channels().await?;
//! // One side serves...
//! let (server, server_driver) = Rpc::new(remote_channel, RpcConfig::default())?;
//! server.register("add", |(a, b): (i64, i64)| async move { Ok(a + b) });
//! server.register_stream("count", |n: u32| async move {
//!     Ok(futures::stream::iter((0..n).map(Ok::<u32, RpcError>)))
//! });
//!
//! // ...the other calls (and could serve too).
//! let (client, client_driver) = Rpc::new(channel, RpcConfig::default())?;
//! let calls = async {
//!     let sum: i64 = client.call("add", &(40, 2)).await?;
//!     assert_eq!(sum, 42);
//!     let mut counted = client.call_stream::<_, u32>("count", &3u32).await?;
//!     let mut seen = Vec::new();
//!     while let Some(n) = counted.next().await {
//!         seen.push(n?);
//!     }
//!     assert_eq!(seen, [0, 1, 2]);
//!     Ok::<_, RpcError>(())
//! };
//! // The drivers run while the calls are made.
//! let drivers = future::join(server_driver, client_driver);
//! match future::select(Box::pin(calls), drivers).await {
//!     future::Either::Left((result, _)) => result?,
//!     future::Either::Right(_) => unreachable!("the drivers run until the channel closes"),
//! }
//! # Ok(()) }) }
//! # async fn connected_channels() -> unipeer::Result<(unipeer::DataChannel, unipeer::DataChannel, (Peer, Peer))> {
//! #     let config = PeerConfig { host_candidates: HostCandidates::Loopback, ..Default::default() };
//! #     let (a, b) = (Peer::new(config.clone())?, Peer::new(config)?);
//! #     let ch = a.create_data_channel("rpc", DataChannelInit::default()).await?;
//! #     let answer = b.accept_offer(a.create_offer().await?).await?;
//! #     a.accept_answer(answer).await?;
//! #     let (mut ae, mut be) = (a.events(), b.events());
//! #     let remote = loop {
//! #         futures::select! {
//! #             e = ae.next() => if let Some(PeerEvent::LocalCandidate(c)) = e { b.add_ice_candidate(c).await? },
//! #             e = be.next() => match e {
//! #                 Some(PeerEvent::LocalCandidate(c)) => a.add_ice_candidate(c).await?,
//! #                 Some(PeerEvent::DataChannel(ch)) => break ch,
//! #                 _ => {}
//! #             },
//! #         }
//! #     };
//! #     ch.wait_open().await?;
//! #     Ok((ch, remote, (a, b)))
//! # }
//! ```
//!
//! The wire format is specified in `docs/rpc.md`, for peers written in other languages.

mod codec;
mod driver;
mod error;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
mod handler;
mod reassembly;
mod serve;
mod shared;
mod stream;
mod wire;

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures_channel::{mpsc, oneshot};
use futures_core::Stream;
use serde::de::DeserializeOwned;
use serde::Serialize;
use unipeer_core::{Error, Reliability};

pub use codec::Codec;
pub use driver::RpcDriver;
pub use error::RpcError;
pub use stream::RpcStream;

use codec::PayloadKind;
use shared::{Shared, Waiting};
use stream::CallGuard;
use wire::Kind;

use crate::platform::{MaybeSend, MaybeSync};
use crate::DataChannel;

/// How an [`Rpc`] behaves. Both ends may differ; each enforces its own limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RpcConfig {
    /// The codec of typed calls made here (the remote answers in the same one).
    pub codec: Codec,
    /// How long a call waits for its answer (a stream: for its first item) unless
    /// [`CallOptions::timeout`] says otherwise. Default 30 s.
    pub timeout: Duration,
    /// The largest request, response or stream item accepted, in bytes; larger ones fail
    /// with [`RpcError::PayloadTooLarge`]. Default 16 MiB.
    pub max_payload: usize,
    /// How many stream items the remote may send ahead of what the consumer read.
    /// Default 32.
    pub stream_window: u32,
    /// The most calls in flight from here, and the most calls from the remote running
    /// here, at once; beyond it calls fail with [`RpcError::Busy`]. Default 4096.
    pub max_calls: usize,
}

impl Default for RpcConfig {
    fn default() -> Self {
        Self {
            codec: Codec::Postcard,
            timeout: Duration::from_secs(30),
            max_payload: 16 << 20,
            stream_window: 32,
            max_calls: 4096,
        }
    }
}

impl RpcConfig {
    fn validate(&self) -> Result<(), Error> {
        let bad = |what: &str| Err(Error::InvalidConfig(format!("RpcConfig: {what}")));
        if self.timeout.is_zero() {
            return bad("the timeout must be above zero");
        }
        if self.max_payload == 0 {
            return bad("max_payload must be above zero");
        }
        if self.stream_window == 0 {
            return bad("stream_window must be at least 1");
        }
        if self.max_calls == 0 {
            return bad("max_calls must be at least 1");
        }
        Ok(())
    }
}

/// Per-call settings; the defaults come from the [`RpcConfig`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallOptions {
    /// How long to wait for the answer (a stream: its first item). `None`: the
    /// configured timeout.
    pub timeout: Option<Duration>,
    /// The codec of this call. `None`: the configured codec.
    pub codec: Option<Codec>,
}

impl CallOptions {
    /// Options with this timeout.
    pub fn timeout(timeout: Duration) -> Self {
        Self {
            timeout: Some(timeout),
            codec: None,
        }
    }
}

/// Calls methods on the remote and serves the methods registered here. Cheap to clone;
/// clones share the channel, the calls and the methods. See the [module docs](self).
#[derive(Clone)]
pub struct Rpc {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Rpc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Rpc")
            .field("channel", &self.shared.channel)
            .finish()
    }
}

impl Rpc {
    /// An RPC endpoint on `channel`, which must be reliable and ordered and is used by this
    /// RPC alone, and the driver that runs it (poll it while the RPC is used).
    pub fn new(channel: DataChannel, config: RpcConfig) -> Result<(Rpc, RpcDriver), Error> {
        config.validate()?;
        if !channel.ordered() || channel.reliability() != Reliability::Reliable {
            return Err(Error::InvalidConfig(
                "RPC needs a reliable, ordered data channel (the DataChannelInit default)".into(),
            ));
        }
        let (shared, outbox) = Shared::new(channel, config);
        // One type for both targets: natively `Shared` is `Send + Sync` and the `Arc` is
        // needed; in the browser it holds JS objects and the `Arc` is merely shared.
        #[allow(clippy::arc_with_non_send_sync)]
        let shared = Arc::new(shared);
        let driver = RpcDriver::new(shared.clone(), outbox);
        Ok((Rpc { shared }, driver))
    }

    /// The channel this RPC runs on.
    pub fn channel(&self) -> &DataChannel {
        &self.shared.channel
    }

    /// Serves `method` with an async handler from a typed request to a typed response
    /// (or an error, which the caller receives). Calls run concurrently. Registering a
    /// name again replaces its handler.
    pub fn register<Req, Resp, F, Fut>(&self, method: &str, handler: F)
    where
        Req: DeserializeOwned + 'static,
        Resp: Serialize + 'static,
        F: Fn(Req) -> Fut + MaybeSend + MaybeSync + 'static,
        Fut: Future<Output = Result<Resp, RpcError>> + MaybeSend + 'static,
    {
        self.insert(method, handler::unary(handler));
    }

    /// Serves `method` with a handler from bytes to bytes (for [`call_raw`](Self::call_raw),
    /// or your own encoding).
    pub fn register_raw<F, Fut>(&self, method: &str, handler: F)
    where
        F: Fn(Vec<u8>) -> Fut + MaybeSend + MaybeSync + 'static,
        Fut: Future<Output = Result<Vec<u8>, RpcError>> + MaybeSend + 'static,
    {
        self.insert(method, handler::raw(handler));
    }

    /// Serves `method` as a stream: the handler resolves to a `Stream` of items, sent to
    /// the caller as fast as it reads them. An `Err` item ends the stream with that error.
    pub fn register_stream<Req, Item, F, Fut, S>(&self, method: &str, handler: F)
    where
        Req: DeserializeOwned + 'static,
        Item: Serialize + 'static,
        F: Fn(Req) -> Fut + MaybeSend + MaybeSync + 'static,
        Fut: Future<Output = Result<S, RpcError>> + MaybeSend + 'static,
        S: Stream<Item = Result<Item, RpcError>> + MaybeSend + 'static,
    {
        self.insert(method, handler::stream(handler));
    }

    /// Stops serving `method`; calls already running finish.
    pub fn unregister(&self, method: &str) {
        self.shared.state().handlers.remove(method);
    }

    fn insert(&self, method: &str, handler: handler::Handler) {
        self.shared
            .state()
            .handlers
            .insert(method.to_string(), handler);
    }

    /// Calls `method` with `request` and waits for its typed response, within the
    /// configured timeout.
    pub async fn call<Req, Resp>(&self, method: &str, request: &Req) -> Result<Resp, RpcError>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned,
    {
        self.call_with(method, request, CallOptions::default())
            .await
    }

    /// [`call`](Self::call) with per-call options.
    pub async fn call_with<Req, Resp>(
        &self,
        method: &str,
        request: &Req,
        options: CallOptions,
    ) -> Result<Resp, RpcError>
    where
        Req: Serialize + ?Sized,
        Resp: DeserializeOwned,
    {
        let codec = options.codec.unwrap_or(self.shared.config.codec);
        let payload = codec.encode(request)?;
        let kind = PayloadKind::Typed(codec);
        let response = self.unary(method, kind, &payload, options).await?;
        codec.decode(&response)
    }

    /// Calls `method` with raw bytes and returns the raw response.
    pub async fn call_raw(
        &self,
        method: &str,
        request: &[u8],
        options: CallOptions,
    ) -> Result<Vec<u8>, RpcError> {
        self.unary(method, PayloadKind::Raw, request, options).await
    }

    /// Calls the stream method `method`; its items arrive on the returned stream.
    pub async fn call_stream<Req, Item>(
        &self,
        method: &str,
        request: &Req,
    ) -> Result<RpcStream<Item>, RpcError>
    where
        Req: Serialize + ?Sized,
        Item: DeserializeOwned,
    {
        self.call_stream_with(method, request, CallOptions::default())
            .await
    }

    /// [`call_stream`](Self::call_stream) with per-call options.
    pub async fn call_stream_with<Req, Item>(
        &self,
        method: &str,
        request: &Req,
        options: CallOptions,
    ) -> Result<RpcStream<Item>, RpcError>
    where
        Req: Serialize + ?Sized,
        Item: DeserializeOwned,
    {
        let codec = options.codec.unwrap_or(self.shared.config.codec);
        let kind = PayloadKind::Typed(codec);
        let payload = codec.encode(request)?;
        self.check_request(method, &payload)?;
        let window = self.shared.config.stream_window;
        let (frames, rx) = mpsc::unbounded();
        let waiting = Waiting::Stream {
            frames,
            credit: window,
        };
        let id = self.shared.register(waiting, self.timeout(options))?;
        // From here the stream owns the call: dropping it (or failing) cancels it.
        let stream = RpcStream::new(self.shared.clone(), id, rx, kind);
        let prefix = wire::request_prefix(kind, window, method);
        self.shared
            .send(Kind::Request, id, &prefix, &payload)
            .await?;
        Ok(stream)
    }

    async fn unary(
        &self,
        method: &str,
        kind: PayloadKind,
        payload: &[u8],
        options: CallOptions,
    ) -> Result<Vec<u8>, RpcError> {
        self.check_request(method, payload)?;
        let (tx, rx) = oneshot::channel();
        let id = self
            .shared
            .register(Waiting::Unary(tx), self.timeout(options))?;
        let _guard = CallGuard {
            shared: &self.shared,
            id,
        };
        let prefix = wire::request_prefix(kind, 0, method);
        self.shared
            .send(Kind::Request, id, &prefix, payload)
            .await?;
        // The sender is dropped without an answer only when the driver stops.
        rx.await.unwrap_or(Err(RpcError::PeerGone))
    }

    fn timeout(&self, options: CallOptions) -> Duration {
        options.timeout.unwrap_or(self.shared.config.timeout)
    }

    fn check_request(&self, method: &str, payload: &[u8]) -> Result<(), RpcError> {
        if method.len() > wire::METHOD_MAX {
            return Err(RpcError::Encode(format!(
                "the method name is {} bytes; the limit is {}",
                method.len(),
                wire::METHOD_MAX
            )));
        }
        let limit = self.shared.config.max_payload;
        if payload.len() > limit {
            return Err(RpcError::PayloadTooLarge {
                size: payload.len() as u64,
                limit: limit as u64,
            });
        }
        Ok(())
    }
}
