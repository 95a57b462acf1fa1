//! The few browser bindings the backend needs, declared here rather than taken from `web-sys`:
//! `web-sys`'s `RTCDataChannel` lacks `ordered`, `protocol` and `negotiated`, and declaring
//! only what is used keeps the JS glue small.

use js_sys::{Object, Promise};
use wasm_bindgen::prelude::*;
use web_sys::{Event, EventTarget};

#[wasm_bindgen]
extern "C" {
    /// `RTCPeerConnection`.
    #[wasm_bindgen(extends = EventTarget, js_name = RTCPeerConnection)]
    #[derive(Debug, Clone)]
    pub type RtcPeerConnection;

    #[wasm_bindgen(constructor, catch, js_class = "RTCPeerConnection")]
    pub fn new(config: &Object) -> Result<RtcPeerConnection, JsValue>;

    #[wasm_bindgen(method, catch, js_name = createOffer)]
    pub fn create_offer(this: &RtcPeerConnection) -> Result<Promise, JsValue>;

    #[wasm_bindgen(method, catch, js_name = createAnswer)]
    pub fn create_answer(this: &RtcPeerConnection) -> Result<Promise, JsValue>;

    #[wasm_bindgen(method, catch, js_name = setLocalDescription)]
    pub fn set_local_description(
        this: &RtcPeerConnection,
        desc: &JsValue,
    ) -> Result<Promise, JsValue>;

    #[wasm_bindgen(method, catch, js_name = setRemoteDescription)]
    pub fn set_remote_description(
        this: &RtcPeerConnection,
        desc: &Object,
    ) -> Result<Promise, JsValue>;

    #[wasm_bindgen(method, catch, js_name = addIceCandidate)]
    pub fn add_ice_candidate(this: &RtcPeerConnection, init: &Object) -> Result<Promise, JsValue>;

    #[wasm_bindgen(method, catch, js_name = createDataChannel)]
    pub fn create_data_channel(
        this: &RtcPeerConnection,
        label: &str,
        init: &Object,
    ) -> Result<RtcDataChannel, JsValue>;

    #[wasm_bindgen(method, getter, js_name = connectionState)]
    pub fn connection_state(this: &RtcPeerConnection) -> String;

    #[wasm_bindgen(method, getter, js_name = signalingState)]
    pub fn signaling_state(this: &RtcPeerConnection) -> String;

    #[wasm_bindgen(method, getter, js_name = localDescription)]
    pub fn local_description(this: &RtcPeerConnection) -> Option<RtcSessionDescription>;

    #[wasm_bindgen(method, getter, js_name = remoteDescription)]
    pub fn remote_description(this: &RtcPeerConnection) -> Option<RtcSessionDescription>;

    /// `RTCSctpTransport`, or `null` before the remote description is set.
    #[wasm_bindgen(method, getter)]
    pub fn sctp(this: &RtcPeerConnection) -> Option<RtcSctpTransport>;

    #[wasm_bindgen(method)]
    pub fn close(this: &RtcPeerConnection);

    /// `RTCSessionDescription` (read only here).
    #[wasm_bindgen(js_name = RTCSessionDescription)]
    pub type RtcSessionDescription;

    #[wasm_bindgen(method, getter)]
    pub fn sdp(this: &RtcSessionDescription) -> String;

    /// `RTCSctpTransport`.
    #[wasm_bindgen(js_name = RTCSctpTransport)]
    pub type RtcSctpTransport;

    /// The `RTCDtlsTransport` under the SCTP association.
    #[wasm_bindgen(method, getter)]
    pub fn transport(this: &RtcSctpTransport) -> RtcDtlsTransport;

    /// `Infinity` when unlimited.
    #[wasm_bindgen(method, getter, js_name = maxMessageSize)]
    pub fn max_message_size(this: &RtcSctpTransport) -> f64;

    /// `RTCDtlsTransport`.
    #[wasm_bindgen(extends = EventTarget, js_name = RTCDtlsTransport)]
    #[derive(Clone, PartialEq)]
    pub type RtcDtlsTransport;

    #[wasm_bindgen(method, getter)]
    pub fn state(this: &RtcDtlsTransport) -> String;

    /// `RTCPeerConnectionIceEvent`.
    #[wasm_bindgen(extends = Event, js_name = RTCPeerConnectionIceEvent)]
    pub type RtcPeerConnectionIceEvent;

    #[wasm_bindgen(method, getter)]
    pub fn candidate(this: &RtcPeerConnectionIceEvent) -> Option<RtcIceCandidate>;

    /// `RTCPeerConnectionIceErrorEvent` (`icecandidateerror`).
    #[wasm_bindgen(extends = Event, js_name = RTCPeerConnectionIceErrorEvent)]
    pub type RtcPeerConnectionIceErrorEvent;

    #[wasm_bindgen(method, getter)]
    pub fn url(this: &RtcPeerConnectionIceErrorEvent) -> String;

    #[wasm_bindgen(method, getter, js_name = errorCode)]
    pub fn error_code(this: &RtcPeerConnectionIceErrorEvent) -> u16;

    #[wasm_bindgen(method, getter, js_name = errorText)]
    pub fn error_text(this: &RtcPeerConnectionIceErrorEvent) -> String;

    /// `RTCIceCandidate`.
    #[wasm_bindgen(js_name = RTCIceCandidate)]
    pub type RtcIceCandidate;

    #[wasm_bindgen(method, getter, js_name = candidate)]
    pub fn candidate_line(this: &RtcIceCandidate) -> String;

    #[wasm_bindgen(method, getter, js_name = sdpMid)]
    pub fn sdp_mid(this: &RtcIceCandidate) -> Option<String>;

    #[wasm_bindgen(method, getter, js_name = sdpMLineIndex)]
    pub fn sdp_m_line_index(this: &RtcIceCandidate) -> Option<u16>;

    /// `RTCDataChannelEvent`.
    #[wasm_bindgen(extends = Event, js_name = RTCDataChannelEvent)]
    pub type RtcDataChannelEvent;

    #[wasm_bindgen(method, getter)]
    pub fn channel(this: &RtcDataChannelEvent) -> RtcDataChannel;

    /// `RTCDataChannel`.
    #[wasm_bindgen(extends = EventTarget, js_name = RTCDataChannel)]
    #[derive(Debug, Clone)]
    pub type RtcDataChannel;

    #[wasm_bindgen(method, getter)]
    pub fn label(this: &RtcDataChannel) -> String;

    #[wasm_bindgen(method, getter)]
    pub fn protocol(this: &RtcDataChannel) -> String;

    #[wasm_bindgen(method, getter)]
    pub fn ordered(this: &RtcDataChannel) -> bool;

    #[wasm_bindgen(method, getter)]
    pub fn negotiated(this: &RtcDataChannel) -> bool;

    #[wasm_bindgen(method, getter, js_name = maxRetransmits)]
    pub fn max_retransmits(this: &RtcDataChannel) -> Option<u16>;

    #[wasm_bindgen(method, getter, js_name = maxPacketLifeTime)]
    pub fn max_packet_life_time(this: &RtcDataChannel) -> Option<u16>;

    #[wasm_bindgen(method, getter)]
    pub fn id(this: &RtcDataChannel) -> Option<u16>;

    #[wasm_bindgen(method, getter, js_name = readyState)]
    pub fn ready_state(this: &RtcDataChannel) -> String;

    #[wasm_bindgen(method, getter, js_name = bufferedAmount)]
    pub fn buffered_amount(this: &RtcDataChannel) -> f64;

    #[wasm_bindgen(method, setter, js_name = bufferedAmountLowThreshold)]
    pub fn set_buffered_amount_low_threshold(this: &RtcDataChannel, value: f64);

    #[wasm_bindgen(method, setter, js_name = binaryType)]
    pub fn set_binary_type(this: &RtcDataChannel, value: &str);

    #[wasm_bindgen(method, catch, js_name = send)]
    pub fn send_with_u8_array(this: &RtcDataChannel, data: &[u8]) -> Result<(), JsValue>;

    #[wasm_bindgen(method, catch, js_name = send)]
    pub fn send_with_str(this: &RtcDataChannel, data: &str) -> Result<(), JsValue>;

    #[wasm_bindgen(method)]
    pub fn close(this: &RtcDataChannel);

    /// `MessageEvent`.
    #[wasm_bindgen(extends = Event, js_name = MessageEvent)]
    pub type MessageEvent;

    #[wasm_bindgen(method, getter)]
    pub fn data(this: &MessageEvent) -> JsValue;
}
