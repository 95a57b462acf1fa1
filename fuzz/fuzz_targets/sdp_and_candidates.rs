//! Session descriptions and candidates handed to a native `Peer` (the input is an SDP, a
//! NUL, then a candidate line): errors, never a panic, whatever the text.
#![no_main]

use unipeer::{HostCandidates, IceCandidate, Peer, PeerConfig, SessionDescription};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (sdp, candidate) = text.split_once('\0').unwrap_or((text, ""));
    let _ = SessionDescription::offer(sdp).max_message_size();
    futures::executor::block_on(async {
        let config = PeerConfig {
            host_candidates: HostCandidates::Loopback,
            ..Default::default()
        };
        let peer = Peer::new(config).expect("a peer");
        let _ = peer.accept_offer(SessionDescription::offer(sdp)).await;
        let candidate = IceCandidate {
            candidate: candidate.to_string(),
            sdp_mid: Some("0".into()),
            sdp_m_line_index: Some(0),
        };
        let _ = peer.add_ice_candidate(candidate).await;
        peer.close().await;
    });
});
