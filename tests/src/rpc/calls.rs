use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use futures::channel::oneshot;
use futures::future::{join_all, FutureExt};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use unipeer::rpc::{CallOptions, Codec, RpcConfig, RpcError};

use super::{rpcs, Signals};
use crate::{within, STEP};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Point {
    x: i32,
    y: i32,
    label: String,
}

/// Typed calls work both ways on one channel, in both codecs, and raw bytes pass as they
/// are.
pub async fn rpc_typed_calls_both_ways() {
    let (r, drivers) = rpcs(RpcConfig::default(), RpcConfig::default()).await;
    r.b.register("add", |(a, b): (i64, i64)| async move { Ok(a + b) });
    r.b.register("mirror", |p: Point| async move {
        Ok(Point {
            x: -p.x,
            y: -p.y,
            label: p.label.to_uppercase(),
        })
    });
    r.a.register("whoami", |(): ()| async { Ok("a".to_string()) });
    r.b.register_raw("reverse", |mut bytes: Vec<u8>| async move {
        bytes.reverse();
        Ok(bytes)
    });
    drivers
        .run(async {
            let sum: i64 = r.a.call("add", &(40, 2)).await.unwrap();
            assert_eq!(sum, 42);
            let p = Point {
                x: 1,
                y: -2,
                label: "pt".into(),
            };
            for codec in [Codec::Postcard, Codec::Json] {
                let options = CallOptions {
                    codec: Some(codec),
                    ..Default::default()
                };
                let m: Point = r.a.call_with("mirror", &p, options).await.unwrap();
                assert_eq!((m.x, m.y, m.label.as_str()), (-1, 2, "PT"), "{codec:?}");
            }
            // The other direction, on the same channel.
            let who: String = r.b.call("whoami", &()).await.unwrap();
            assert_eq!(who, "a");
            let back = r.a.call_raw("reverse", b"abc", CallOptions::default());
            assert_eq!(back.await.unwrap(), b"cba");
        })
        .await;
}

/// A thousand calls are in flight at once: every handler runs before any returns (each
/// waits for all the others), and every caller gets its own result.
pub async fn rpc_thousand_concurrent_calls() {
    const N: usize = 1000;
    let (r, drivers) = rpcs(RpcConfig::default(), RpcConfig::default()).await;
    let (all_in_tx, all_in) = oneshot::channel::<()>();
    let all_in = all_in.shared();
    let all_in_tx = Arc::new(Mutex::new(Some(all_in_tx)));
    let running = Arc::new(AtomicUsize::new(0));
    r.b.register("double", move |i: u64| {
        let (all_in, all_in_tx, running) = (all_in.clone(), all_in_tx.clone(), running.clone());
        async move {
            if running.fetch_add(1, Ordering::SeqCst) + 1 == N {
                if let Some(tx) = all_in_tx.lock().unwrap().take() {
                    let _ = tx.send(());
                }
            }
            let _ = all_in.await;
            Ok(i * 2)
        }
    });
    drivers
        .run(async {
            let calls = (0..N as u64).map(|i| {
                let a = r.a.clone();
                async move { (i, a.call::<_, u64>("double", &i).await) }
            });
            let results = within(STEP, "a thousand calls", join_all(calls)).await;
            for (i, result) in results {
                assert_eq!(result.unwrap(), i * 2);
            }
        })
        .await;
}

/// Errors cross the wire with their kind, code and message.
pub async fn rpc_errors_cross_the_wire() {
    let (r, drivers) = rpcs(RpcConfig::default(), RpcConfig::default()).await;
    r.b.register("fail", |code: u32| async move {
        Err::<(), _>(RpcError::with_code(code, "it broke"))
    });
    r.b.register("add", |(a, b): (i64, i64)| async move { Ok(a + b) });
    r.b.register_stream("ticks", |_: ()| async {
        Ok(futures::stream::iter([Ok::<u8, RpcError>(1)]))
    });
    drivers
        .run(async {
            let e = r.a.call::<_, ()>("nope", &()).await.unwrap_err();
            assert_eq!(e, RpcError::UnknownMethod("nope".into()));

            let e = r.a.call::<_, ()>("fail", &7u32).await.unwrap_err();
            assert_eq!(e, RpcError::with_code(7, "it broke"));

            // Arguments of the wrong type: the remote cannot decode them.
            let e = r.a.call::<_, i64>("add", &()).await.unwrap_err();
            assert!(matches!(e, RpcError::Decode(_)), "{e:?}");
            // A response of another type than expected fails here.
            let e = r.a.call::<_, String>("add", &(1i64, 2i64)).await;
            assert!(matches!(e, Err(RpcError::Decode(_))), "{e:?}");

            // A stream method called as unary, and the other way round.
            let e = r.a.call::<_, u8>("ticks", &()).await.unwrap_err();
            assert_eq!(e, RpcError::UnknownMethod("ticks".into()));
            let mut s =
                r.a.call_stream::<_, i64>("add", &(1i64, 2i64))
                    .await
                    .unwrap();
            let first = within(STEP, "the stream's error", s.next()).await;
            assert_eq!(first, Some(Err(RpcError::UnknownMethod("add".into()))));
            assert_eq!(s.next().await, None);

            // Unregistered methods are gone; the others still answer.
            r.b.unregister("fail");
            let e = r.a.call::<_, ()>("fail", &1u32).await.unwrap_err();
            assert_eq!(e, RpcError::UnknownMethod("fail".into()));
            assert_eq!(r.a.call::<_, i64>("add", &(2i64, 2i64)).await.unwrap(), 4);
        })
        .await;
}

/// Calls beyond `max_calls` fail with `Busy`: here (too many waiting) and on the remote
/// (too many running there); once calls finish, new ones go through.
pub async fn rpc_calls_beyond_the_limit_are_busy() {
    let a_config = RpcConfig {
        max_calls: 2,
        ..Default::default()
    };
    let b_config = RpcConfig {
        max_calls: 1,
        ..Default::default()
    };
    let (r, drivers) = rpcs(a_config, b_config).await;
    let (release_tx, release) = oneshot::channel::<()>();
    let release = release.shared();
    let mut signals = Signals::default();
    let started = signals.sender();
    r.b.register("wait", move |(): ()| {
        let (release, started) = (release.clone(), started.clone());
        async move {
            let _ = started.unbounded_send("started");
            let _ = release.await;
            Ok(1u8)
        }
    });
    drivers
        .run(async {
            let first = r.a.call::<_, u8>("wait", &()).fuse();
            let mut first = std::pin::pin!(first);
            // The first call runs on the remote and holds its only slot.
            futures::select! {
                r = first.as_mut() => panic!("the first call ended early: {r:?}"),
                () = signals.wait("started").fuse() => {}
            }
            let second = within(STEP, "the remote's refusal", async {
                futures::select! {
                    r = first.as_mut() => panic!("the first call ended early: {r:?}"),
                    r = r.a.call::<_, u8>("wait", &()).fuse() => r,
                }
            })
            .await;
            assert_eq!(second, Err(RpcError::Busy(1)));
            // Two calls waiting here: a third is refused at once, before it is sent.
            let third = r.a.call::<_, u8>("wait", &());
            let fourth = r.a.call::<_, u8>("wait", &());
            let (third, fourth) = futures::future::join(
                async {
                    futures::select! {
                        r = first.as_mut() => panic!("the first call ended early: {r:?}"),
                        r = third.fuse() => r,
                    }
                },
                fourth,
            )
            .await;
            let results = [third, fourth];
            assert!(results.contains(&Err(RpcError::Busy(2))), "{results:?}");
            let _ = release_tx.send(());
            assert_eq!(within(STEP, "the first call", first).await, Ok(1));
            assert_eq!(r.a.call::<_, u8>("wait", &()).await, Ok(1));
        })
        .await;
}
