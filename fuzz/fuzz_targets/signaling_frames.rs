//! Signaling protocol v1 as both ends parse it: server frames and signal payloads (the
//! client), client frames (the server).
#![no_main]

use unipeer::signaling::{ClientFrame, ServerFrame, SignalPayload};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(frame) = ServerFrame::parse(text) {
        // What parses must write back out and parse the same way.
        let again = ServerFrame::parse(&frame.to_json()).expect("a written frame parses");
        assert_eq!(again.to_json(), frame.to_json());
    }
    let _ = ClientFrame::parse(text);
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(text) {
        if let Ok(payload) = SignalPayload::from_json(&value) {
            let again = SignalPayload::from_json(&payload.to_json()).expect("a payload parses");
            assert_eq!(again.to_json(), payload.to_json());
        }
    }
    let _ = unipeer_server::protocol::fuzz_client_frame(text);
});
