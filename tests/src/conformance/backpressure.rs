use std::time::Duration;

use unipeer::{DataChannelInit, Message};

use crate::{loopback, next_channel, sleep, within, Pair, STEP};

/// A fast sender never buffers more than the high-water mark, and a slow receiver loses
/// nothing: every message arrives, in order.
pub async fn backpressure_bounds_the_sender() {
    const HWM: usize = 256 * 1024;
    const MSG: usize = 16 * 1024;
    const N: usize = 400; // 6.4 MiB: many times the mark
    let mut config = loopback();
    config.data_channel.high_water_mark = HWM;
    let (mut pair, mut chans) =
        Pair::negotiate(config, loopback(), &[("bp", DataChannelInit::default())]).await;
    let tx = chans.remove(0);
    let rx = next_channel(&mut pair.b_events).await;
    within(STEP, "open", tx.wait_open()).await.unwrap();

    let send = async {
        let mut peak = 0;
        for i in 0..N {
            let mut m = vec![(i % 256) as u8; MSG];
            m[..8].copy_from_slice(&(i as u64).to_le_bytes());
            tx.send(m).await.unwrap();
            peak = peak.max(tx.buffered_amount());
            assert!(
                tx.buffered_amount() <= HWM,
                "buffered {} > {HWM}",
                tx.buffered_amount()
            );
        }
        peak
    };
    let recv = async {
        for i in 0..N {
            if i % 50 == 0 {
                // A slow consumer: the sender must wait, not drop or grow.
                sleep(Duration::from_millis(20)).await;
            }
            let m = within(STEP, "message", rx.recv()).await.expect("open");
            let Message::Binary(b) = m else {
                panic!("binary expected")
            };
            assert_eq!(b.len(), MSG);
            assert_eq!(
                u64::from_le_bytes(b[..8].try_into().unwrap()),
                i as u64,
                "in order"
            );
        }
    };
    let (peak, ()) = futures::join!(send, recv);
    assert!(peak > 0, "the sender did buffer");
    // Everything acknowledged in the end.
    within(STEP, "drain", async {
        while tx.buffered_amount() > 0 {
            sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
}
