use futures::future::{select, Either};
use futures::StreamExt;
use unipeer::{DataChannelInit, Message, Peer, PeerEvent};

use crate::{loopback, within, STEP};

/// Offers collide (glare), as they may between two mesh members, and perfect negotiation
/// resolves it: the polite peer accepts the impolite peer's offer, which rolls back its own
/// pending one; the impolite peer ignores the polite peer's offer. The connection forms,
/// the polite peer's candidates after the rollback are usable by the impolite peer, and
/// pre-negotiated channels (the mesh's ids 0 and 1023) open on both ends and carry data.
pub async fn glare_polite_side_rolls_back() {
    let polite = Peer::new(loopback()).unwrap();
    let impolite = Peer::new(loopback()).unwrap();
    let mut channels = Vec::new();
    for peer in [&polite, &impolite] {
        let mut pair = Vec::new();
        for id in [0u16, 1023] {
            let init = DataChannelInit {
                negotiated: Some(id),
                ..Default::default()
            };
            pair.push(peer.create_data_channel("mesh", init).await.unwrap());
        }
        channels.push(pair);
    }
    let _ignored = polite.create_offer().await.unwrap();
    let offer = impolite.create_offer().await.unwrap();
    let answer = polite
        .accept_offer(offer)
        .await
        .expect("accepting an offer rolls back the pending one");
    impolite.accept_answer(answer).await.unwrap();

    // Trickle both ways until every channel is open. The impolite side may refuse the
    // candidates of the polite side's abandoned offer; at least one must be usable.
    let accepted_from_polite = std::cell::Cell::new(0);
    let (mut pe, mut ie) = (polite.events(), impolite.events());
    let all: Vec<_> = channels.iter().flatten().cloned().collect();
    let open = async {
        for c in &all {
            c.wait_open().await.expect("channel opens");
        }
    };
    let trickle = async {
        loop {
            match select(pe.next(), ie.next()).await {
                Either::Left((Some(PeerEvent::LocalCandidate(c)), _)) => {
                    let usable = impolite.add_ice_candidate(c).await.is_ok();
                    accepted_from_polite.set(accepted_from_polite.get() + usize::from(usable));
                }
                Either::Right((Some(PeerEvent::LocalCandidate(c)), _)) => {
                    polite
                        .add_ice_candidate(c)
                        .await
                        .expect("the polite side takes the impolite side's candidates");
                }
                Either::Left((None, _)) | Either::Right((None, _)) => {
                    panic!("a peer closed during glare")
                }
                _ => {}
            }
        }
    };
    within(STEP, "channels to open after glare", async {
        futures::pin_mut!(open, trickle);
        select(open, trickle).await;
    })
    .await;
    // The link may come up through peer-reflexive candidates alone: check separately
    // that the polite side trickles candidates for the session it answered.
    within(STEP, "a usable candidate from the polite side", async {
        while accepted_from_polite.get() == 0 {
            match pe.next().await {
                Some(PeerEvent::LocalCandidate(c)) => {
                    let usable = impolite.add_ice_candidate(c).await.is_ok();
                    accepted_from_polite.set(usize::from(usable));
                }
                Some(_) => {}
                None => panic!("the polite peer closed"),
            }
        }
    })
    .await;
    for (from, to) in [(0, 1), (1, 0)] {
        for (i, (tx, rx)) in channels[from].iter().zip(&channels[to]).enumerate() {
            let text = format!("{from}->{to} on {i}");
            tx.send_text(text.clone()).await.unwrap();
            assert_eq!(
                within(STEP, "a message", rx.recv()).await,
                Some(Message::Text(text))
            );
        }
    }
}
