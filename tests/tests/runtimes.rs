//! The API is runtime-agnostic: the same code connects and moves data under tokio (with
//! handles moved across tasks and threads), smol and `futures::executor`.
#![cfg(not(target_arch = "wasm32"))]

use unipeer::{DataChannelInit, Message};
use unipeer_tests::{within, Pair, STEP};

async fn echo_round_trips() {
    let (_pair, tx, rx) = Pair::with_channel("rt", DataChannelInit::default()).await;
    for i in 0..100 {
        tx.send_text(format!("{i}")).await.unwrap();
        let got = within(STEP, "echo", rx.recv()).await;
        assert_eq!(got, Some(Message::Text(format!("{i}"))));
    }
}

#[test]
fn under_futures_executor() {
    futures::executor::block_on(echo_round_trips());
}

#[test]
fn under_smol() {
    smol::block_on(echo_round_trips());
}

#[test]
fn under_tokio_current_thread() {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(echo_round_trips());
}

/// Peers and channels are `Send`: sender and receiver run as separate tokio tasks on a
/// multi-threaded runtime.
#[test]
fn under_tokio_multi_thread_with_spawned_tasks() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let (pair, tx, rx) = Pair::with_channel("mt", DataChannelInit::default()).await;
        let sender = tokio::spawn(async move {
            for i in 0u32..2000 {
                tx.send(i.to_le_bytes().to_vec()).await.unwrap();
            }
            tx
        });
        let receiver = tokio::spawn(async move {
            for i in 0u32..2000 {
                let m = within(STEP, "message", rx.recv()).await.unwrap();
                assert_eq!(m, Message::Binary(i.to_le_bytes().to_vec()));
            }
        });
        receiver.await.unwrap();
        let _tx = sender.await.unwrap();
        let peer = pair.a;
        tokio::spawn(async move { peer.close().await })
            .await
            .unwrap();
    });
}
