use unipeer::{DataChannelInit, Error, Message, PeerConfig};

use crate::{loopback, next_channel, within, Pair, STEP};

fn payload(i: u32) -> Vec<u8> {
    // Length and content vary with the index, so loss, reordering or corruption shows.
    let len = 1 + (i as usize * 7919) % 1500;
    (0..len)
        .map(|j| (i as usize).wrapping_mul(31).wrapping_add(j) as u8)
        .collect()
}

/// 10,000 messages on an ordered reliable channel arrive in order and intact.
pub async fn ten_thousand_ordered_messages() {
    let (_pair, tx, rx) = Pair::with_channel("bulk", DataChannelInit::default()).await;
    const N: u32 = 10_000;
    let send = async {
        for i in 0..N {
            tx.send(payload(i)).await.unwrap();
        }
    };
    let recv = async {
        for i in 0..N {
            let m = within(STEP, "message", rx.recv())
                .await
                .expect("channel open");
            assert_eq!(m, Message::Binary(payload(i)), "message {i}");
        }
    };
    futures::join!(send, recv);
}

/// Text and binary messages keep their kind; empty-ish and unicode text survive.
pub async fn text_and_binary_keep_their_kind() {
    let (_pair, tx, rx) = Pair::with_channel("kinds", DataChannelInit::default()).await;
    tx.send_text("grüße 👋").await.unwrap();
    tx.send(vec![0u8, 159, 146, 150]).await.unwrap();
    tx.send_text("x").await.unwrap();
    assert_eq!(
        within(STEP, "text", rx.recv()).await,
        Some(Message::Text("grüße 👋".into()))
    );
    assert_eq!(
        within(STEP, "bin", rx.recv()).await,
        Some(Message::Binary(vec![0, 159, 146, 150]))
    );
    assert_eq!(
        within(STEP, "text", rx.recv()).await,
        Some(Message::Text("x".into()))
    );
}

/// A 256 KiB message arrives intact between unipeer peers; one byte more is refused with
/// a clear error and the channel keeps working.
pub async fn message_of_256_kib() {
    let (_pair, tx, rx) = Pair::with_channel("big", DataChannelInit::default()).await;
    assert!(
        tx.max_message_size() >= 256 * 1024,
        "max {}",
        tx.max_message_size()
    );
    let big: Vec<u8> = (0..256 * 1024).map(|i| (i % 251) as u8).collect();
    tx.send(big.clone()).await.unwrap();
    assert_eq!(
        within(STEP, "256 KiB", rx.recv()).await,
        Some(Message::Binary(big))
    );
    let max = tx.max_message_size();
    let too_big = vec![0u8; max + 1];
    match tx.send(too_big).await {
        Err(Error::MessageTooLarge { size, max: m }) => {
            assert_eq!(size, max + 1);
            assert_eq!(m, max);
        }
        other => panic!("expected MessageTooLarge, got {other:?}"),
    }
    tx.send_text("still fine").await.unwrap();
    assert_eq!(
        within(STEP, "after", rx.recv()).await,
        Some(Message::Text("still fine".into()))
    );
}

/// The sender honours the remote's advertised `a=max-message-size`.
pub async fn remote_max_message_size_is_honoured() {
    let mut small = loopback();
    small.data_channel.max_message_size = 64 * 1024;
    let (mut pair, mut chans) =
        Pair::negotiate(loopback(), small, &[("m", DataChannelInit::default())]).await;
    let tx = chans.remove(0);
    let rx = next_channel(&mut pair.b_events).await;
    within(STEP, "open", tx.wait_open()).await.unwrap();
    assert_eq!(tx.max_message_size(), 64 * 1024);
    assert!(matches!(
        tx.send(vec![1u8; 64 * 1024 + 1]).await,
        Err(Error::MessageTooLarge { .. })
    ));
    tx.send(vec![1u8; 64 * 1024]).await.unwrap();
    assert_eq!(
        within(STEP, "64 KiB", rx.recv()).await.map(|m| m.len()),
        Some(64 * 1024)
    );
    // The other way round the limit is b's view of a's default (256 KiB).
    assert_eq!(
        rx.max_message_size(),
        PeerConfig::default().data_channel.max_message_size
    );
}

/// A stream of large messages (64 KiB and the 256 KiB maximum, mixed) arrives intact and
/// in order: large messages span many datagrams and batched sends.
pub async fn stream_of_large_messages() {
    let (_pair, tx, rx) = Pair::with_channel("large", DataChannelInit::default()).await;
    let size = |i: usize| if i % 5 == 4 { 256 * 1024 } else { 64 * 1024 };
    const N: usize = 60;
    let send = async {
        for i in 0..N {
            let mut m = vec![(i % 251) as u8; size(i)];
            m[..8].copy_from_slice(&(i as u64).to_le_bytes());
            tx.send(m).await.unwrap();
        }
    };
    let recv = async {
        for i in 0..N {
            let m = within(STEP, "large message", rx.recv())
                .await
                .expect("open");
            let b = m.into_bytes();
            assert_eq!(b.len(), size(i), "message {i}");
            assert_eq!(
                u64::from_le_bytes(b[..8].try_into().unwrap()),
                i as u64,
                "in order"
            );
            assert!(b[8..].iter().all(|&x| x == (i % 251) as u8), "intact");
        }
    };
    futures::join!(send, recv);
}

/// Empty messages are refused with a clear error on every backend, and the channel carries
/// on (an empty message that slipped through would stall a native ordered channel).
pub async fn empty_messages_are_refused() {
    let (_pair, tx, rx) = Pair::with_channel("empty", DataChannelInit::default()).await;
    assert_eq!(tx.send(Vec::new()).await, Err(Error::EmptyMessage));
    assert_eq!(tx.send_text("").await, Err(Error::EmptyMessage));
    tx.send_text("after").await.unwrap();
    let got = within(STEP, "the message after", rx.recv()).await;
    assert_eq!(got, Some(Message::Text("after".into())));
}
