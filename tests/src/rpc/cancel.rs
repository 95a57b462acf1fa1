use std::time::Duration;

use futures::future::{select, Either};
use unipeer::rpc::{CallOptions, Rpc, RpcConfig, RpcError};
use unipeer::DataChannelInit;

use super::{rpcs, OnDrop, Signals};
use crate::{within, Pair, STEP};

/// Registers `hang` on `rpc`: signals "started", never answers, signals "dropped" when its
/// future is dropped.
fn register_hang(rpc: &Rpc, signals: &Signals) {
    let tx = signals.sender();
    rpc.register("hang", move |(): ()| {
        let tx = tx.clone();
        async move {
            let _guard = OnDrop(tx.clone(), "dropped");
            let _ = tx.unbounded_send("started");
            futures::future::pending::<Result<(), RpcError>>().await
        }
    });
}

/// A call that gets no answer in time fails with `Timeout`, the remote handler is
/// cancelled, and the channel carries on.
pub async fn rpc_timeout_cancels_the_handler() {
    let (r, drivers) = rpcs(RpcConfig::default(), RpcConfig::default()).await;
    let mut signals = Signals::default();
    register_hang(&r.b, &signals);
    r.b.register("add", |(a, b): (i64, i64)| async move { Ok(a + b) });
    drivers
        .run(async {
            let timeout = Duration::from_millis(300);
            let call =
                r.a.call_with::<_, ()>("hang", &(), CallOptions::timeout(timeout));
            let e = within(STEP, "the timeout", call).await.unwrap_err();
            assert_eq!(e, RpcError::Timeout(timeout));
            signals.wait("started").await;
            signals.wait("dropped").await;
            assert_eq!(r.a.call::<_, i64>("add", &(1i64, 1i64)).await.unwrap(), 2);
        })
        .await;
}

/// Dropping a call's future cancels the call on the remote: its handler is dropped.
pub async fn rpc_dropping_a_call_cancels_the_remote_handler() {
    let (r, drivers) = rpcs(RpcConfig::default(), RpcConfig::default()).await;
    let mut signals = Signals::default();
    register_hang(&r.b, &signals);
    drivers
        .run(async {
            {
                let call = std::pin::pin!(r.a.call::<_, ()>("hang", &()));
                let started = std::pin::pin!(signals.wait("started"));
                match select(call, started).await {
                    Either::Left((result, _)) => panic!("the call ended: {result:?}"),
                    Either::Right(((), _call)) => {}
                }
                // The call future is dropped here, at the end of its block, while the
                // handler runs.
            }
            signals.wait("dropped").await;
        })
        .await;
}

/// The remote closing the channel mid-call ends the call with `PeerGone`; the driver
/// finishes, and later calls fail at once.
pub async fn rpc_peer_closing_mid_call() {
    let (r, drivers) = rpcs(RpcConfig::default(), RpcConfig::default()).await;
    let mut signals = Signals::default();
    register_hang(&r.b, &signals);
    drivers
        .run(async {
            let call = r.a.call::<_, ()>("hang", &());
            let close = async {
                signals.wait("started").await;
                r.b_channel.close();
            };
            let (result, ()) =
                within(STEP, "the call to end", futures::future::join(call, close)).await;
            assert_eq!(result.unwrap_err(), RpcError::PeerGone);
            signals.wait("dropped").await;
        })
        .await;
    // The drivers are gone with the channel; new calls fail at once.
    let e = r.a.call::<_, ()>("hang", &()).await.unwrap_err();
    assert_eq!(e, RpcError::PeerGone);
}

/// Dropping the driver ends every waiting call with `PeerGone`.
pub async fn rpc_dropping_the_driver_ends_calls() {
    let (_pair, a_ch, _b_ch) = Pair::with_channel("rpc", DataChannelInit::default()).await;
    let (a, driver) = Rpc::new(a_ch, RpcConfig::default()).unwrap();
    let call = std::pin::pin!(a.call::<_, ()>("anything", &()));
    // Poll the call once so it is registered and sent, then drop the driver.
    let pause = std::pin::pin!(crate::sleep(Duration::from_millis(50)));
    let call = match select(call, pause).await {
        Either::Left((result, _)) => panic!("no driver, yet the call ended: {result:?}"),
        Either::Right(((), call)) => call,
    };
    drop(driver);
    let result = within(STEP, "the call to fail", call).await;
    assert_eq!(result.unwrap_err(), RpcError::PeerGone);
}
