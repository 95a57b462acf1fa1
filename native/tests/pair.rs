//! The selected candidate pair is reported once the connection has a path.

use std::time::{Duration, Instant};

use unipeer_core::{
    CandidatePair, CandidateType, ConnectionState, DataChannelInit, HostCandidates, PeerConfig,
    PeerEvent,
};
use unipeer_native::Peer;

#[test]
fn a_loopback_connection_reports_a_host_pair() {
    let config = PeerConfig {
        host_candidates: HostCandidates::Loopback,
        ..Default::default()
    };
    let a = Peer::new(config.clone()).unwrap();
    let b = Peer::new(config).unwrap();
    futures::executor::block_on(async {
        a.create_data_channel("x", DataChannelInit::default())
            .await
            .unwrap();
        let offer = a.create_offer().await.unwrap();
        let answer = b.accept_offer(offer).await.unwrap();
        a.accept_answer(answer).await.unwrap();
    });
    let (ea, eb) = (a.events(), b.events());
    let mut pairs: Vec<(char, CandidatePair)> = Vec::new();
    let limit = Instant::now() + Duration::from_secs(20);
    while pairs.len() < 2 && Instant::now() < limit {
        let mut idle = true;
        for (name, from, to) in [('a', &ea, &b), ('b', &eb, &a)] {
            while let Some(e) = from.try_next_event() {
                idle = false;
                match e {
                    PeerEvent::LocalCandidate(c) => {
                        futures::executor::block_on(to.add_ice_candidate(c)).unwrap()
                    }
                    PeerEvent::SelectedCandidatePairChange(p) => pairs.push((name, p)),
                    _ => {}
                }
            }
        }
        if idle {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    let host = CandidatePair::new(CandidateType::Host, CandidateType::Host);
    pairs.sort_by_key(|(n, _)| *n);
    assert_eq!(pairs, vec![('a', host), ('b', host)]);
    assert_eq!(a.connection_state(), ConnectionState::Connected);
    assert_eq!(host.remote.as_str(), "host");
}
