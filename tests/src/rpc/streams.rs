use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use unipeer::rpc::{RpcConfig, RpcError};

use super::{rpcs, OnDrop, Signals};
use crate::{sleep, within, STEP};

/// A fast stream to a slow consumer: the producer never runs more than the window ahead
/// of what was read, and every item arrives in order.
pub async fn rpc_stream_with_slow_consumer() {
    const WINDOW: u32 = 8;
    const N: u32 = 300;
    let config = RpcConfig {
        stream_window: WINDOW,
        ..Default::default()
    };
    let (r, drivers) = rpcs(config, RpcConfig::default()).await;
    let produced = Arc::new(AtomicU32::new(0));
    let counter = produced.clone();
    r.b.register_stream("numbers", move |n: u32| {
        let counter = counter.clone();
        async move {
            Ok(futures::stream::iter(0..n).map(move |i| {
                counter.fetch_add(1, Ordering::SeqCst);
                Ok::<u32, RpcError>(i)
            }))
        }
    });
    drivers
        .run(async {
            let mut items = r.a.call_stream::<_, u32>("numbers", &N).await.unwrap();
            for read in 1..=N {
                let item = within(STEP, "an item", items.next()).await;
                assert_eq!(item, Some(Ok(read - 1)));
                let ahead = produced.load(Ordering::SeqCst);
                assert!(
                    ahead <= read + WINDOW,
                    "the producer ran ahead: {ahead} produced, {read} read"
                );
                if read % 50 == 0 {
                    // A slow consumer: the producer must wait, not flood.
                    sleep(Duration::from_millis(100)).await;
                    let ahead = produced.load(Ordering::SeqCst);
                    assert!(ahead <= read + WINDOW, "{ahead} produced, {read} read");
                }
            }
            assert_eq!(within(STEP, "the end", items.next()).await, None);
        })
        .await;
}

/// An error item ends the stream with that error, after the items before it.
pub async fn rpc_stream_error_ends_it() {
    let (r, drivers) = rpcs(RpcConfig::default(), RpcConfig::default()).await;
    r.b.register_stream("three_then_fail", |(): ()| async {
        let items = (0..3u8)
            .map(Ok)
            .chain([Err(RpcError::with_code(9, "no more"))]);
        Ok(futures::stream::iter(items))
    });
    r.b.register_stream("refuse", |(): ()| async {
        Err::<futures::stream::Empty<Result<u8, RpcError>>, _>(RpcError::handler("not now"))
    });
    drivers
        .run(async {
            let items: Vec<_> =
                r.a.call_stream::<_, u8>("three_then_fail", &())
                    .await
                    .unwrap()
                    .collect()
                    .await;
            let expected = vec![Ok(0), Ok(1), Ok(2), Err(RpcError::with_code(9, "no more"))];
            assert_eq!(items, expected);
            let items: Vec<_> =
                r.a.call_stream::<_, u8>("refuse", &())
                    .await
                    .unwrap()
                    .collect()
                    .await;
            assert_eq!(items, vec![Err(RpcError::handler("not now"))]);
        })
        .await;
}

/// Dropping a stream cancels it on the remote: the producer is dropped.
pub async fn rpc_dropping_a_stream_cancels_it() {
    let (r, drivers) = rpcs(RpcConfig::default(), RpcConfig::default()).await;
    let mut signals = Signals::default();
    let tx = signals.sender();
    r.b.register_stream("forever", move |(): ()| {
        let guard = OnDrop(tx.clone(), "dropped");
        async move {
            Ok(futures::stream::repeat(7u8).map(move |x| {
                let _keep = &guard;
                Ok::<u8, RpcError>(x)
            }))
        }
    });
    drivers
        .run(async {
            let mut items = r.a.call_stream::<_, u8>("forever", &()).await.unwrap();
            for _ in 0..100 {
                assert_eq!(within(STEP, "an item", items.next()).await, Some(Ok(7)));
            }
            drop(items);
            signals.wait("dropped").await;
        })
        .await;
}
