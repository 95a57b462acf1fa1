//! The RPC suite (`unipeer::rpc`): like the conformance suite, every test is an `async fn`
//! against the public API, run natively and in headless Chromium from `tests/rpc.rs`.

mod calls;
mod cancel;
mod hostile;
mod payloads;
mod streams;

pub use calls::*;
pub use cancel::*;
pub use hostile::*;
pub use payloads::*;
pub use streams::*;

use std::future::Future;

use futures::channel::mpsc;
use futures::future::{select, Either};
use futures::StreamExt;
use unipeer::rpc::{Rpc, RpcConfig, RpcDriver};
use unipeer::{DataChannel, DataChannelInit};

use crate::{within, Pair, STEP};

/// Two RPC endpoints on the two ends of one channel, and their raw channels.
pub struct Rpcs {
    /// The peers (kept alive for the test).
    pub pair: Pair,
    /// The offerer's endpoint.
    pub a: Rpc,
    /// The answerer's endpoint.
    pub b: Rpc,
    /// The answerer's end of the channel (to close it, or to send raw frames).
    pub b_channel: DataChannel,
}

/// A connected pair with an RPC endpoint on each end; returns the drivers to poll.
pub async fn rpcs(config_a: RpcConfig, config_b: RpcConfig) -> (Rpcs, Drivers) {
    let (pair, a_ch, b_ch) = Pair::with_channel("rpc", DataChannelInit::default()).await;
    let (a, a_driver) = Rpc::new(a_ch, config_a).expect("rpc a");
    let (b, b_driver) = Rpc::new(b_ch.clone(), config_b).expect("rpc b");
    let rpcs = Rpcs {
        pair,
        a,
        b,
        b_channel: b_ch,
    };
    (rpcs, Drivers(vec![a_driver, b_driver]))
}

/// Drivers to poll while a test body runs.
pub struct Drivers(pub Vec<RpcDriver>);

impl Drivers {
    /// Runs `body` while polling the drivers (which may finish first, when the channel
    /// closes); returns what `body` returned.
    pub async fn run<T>(self, body: impl Future<Output = T>) -> T {
        let drivers = futures::future::join_all(self.0);
        let body = std::pin::pin!(body);
        match select(body, drivers).await {
            Either::Left((v, _)) => v,
            Either::Right((_, body)) => body.await,
        }
    }
}

/// Signals from inside handlers to the test: a handler started, or was dropped.
pub struct Signals {
    tx: mpsc::UnboundedSender<&'static str>,
    rx: mpsc::UnboundedReceiver<&'static str>,
}

impl Default for Signals {
    fn default() -> Self {
        let (tx, rx) = mpsc::unbounded();
        Self { tx, rx }
    }
}

impl Signals {
    /// A sender for handlers to signal with.
    pub fn sender(&self) -> mpsc::UnboundedSender<&'static str> {
        self.tx.clone()
    }

    /// Waits for `what` (other signals before it are skipped).
    pub async fn wait(&mut self, what: &'static str) {
        within(STEP, what, async {
            while let Some(s) = self.rx.next().await {
                if s == what {
                    return;
                }
            }
            panic!("signals ended before {what}");
        })
        .await
    }
}

/// Sends `what` when dropped: proves a handler's future was dropped (cancelled).
pub struct OnDrop(pub mpsc::UnboundedSender<&'static str>, pub &'static str);

impl Drop for OnDrop {
    fn drop(&mut self) {
        let _ = self.0.unbounded_send(self.1);
    }
}
