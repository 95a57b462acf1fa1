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
    // The last pair each side reported, once both are connected. (A pair first reported
    // as host/prflx, when checks outran the trickled candidate, is reported again as
    // host/host when the candidate arrives.)
    let mut last: [Option<CandidatePair>; 2] = [None, None];
    let mut connected = [false, false];
    let mut ended = [false, false];
    let limit = Instant::now() + Duration::from_secs(20);
    // Until both are connected and every candidate was forwarded, then one more pass for
    // the events that forwarding caused.
    let mut settled = 0;
    while settled < 2 && Instant::now() < limit {
        if connected == [true, true] && ended == [true, true] {
            settled += 1;
        }
        let mut idle = true;
        for (name, from, to) in [('a', &ea, &b), ('b', &eb, &a)] {
            while let Some(e) = from.try_next_event() {
                idle = false;
                match e {
                    PeerEvent::LocalCandidate(c) => {
                        futures::executor::block_on(to.add_ice_candidate(c)).unwrap()
                    }
                    PeerEvent::SelectedCandidatePairChange(p) => {
                        last[usize::from(name == 'b')] = Some(p)
                    }
                    PeerEvent::ConnectionStateChange(ConnectionState::Connected) => {
                        connected[usize::from(name == 'b')] = true
                    }
                    PeerEvent::EndOfCandidates => ended[usize::from(name == 'b')] = true,
                    _ => {}
                }
            }
        }
        if idle {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    // Every candidate was trickled before the test looked: the types are final.
    let host = CandidatePair::new(CandidateType::Host, CandidateType::Host);
    assert_eq!(last, [Some(host), Some(host)]);
    assert_eq!(a.connection_state(), ConnectionState::Connected);
    assert_eq!(host.remote.as_str(), "host");
}
