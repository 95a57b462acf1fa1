//! The browser's media bindings the backend needs (transceivers, senders, receivers, the
//! `track` event, statistics), declared here like those of `sys.rs`: web-sys's versions
//! are typed against its own `RtcPeerConnection`, and declaring only what is used keeps the
//! JS glue small.

use js_sys::{Array, Object, Promise};
use wasm_bindgen::prelude::*;
use web_sys::{Event, MediaStream, MediaStreamTrack};

use crate::sys::{RtcDtlsTransport, RtcPeerConnection};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(method, catch, js_name = addTransceiver)]
    pub fn add_transceiver(
        this: &RtcPeerConnection,
        kind: &str,
        init: &Object,
    ) -> Result<RtcRtpTransceiver, JsValue>;

    #[wasm_bindgen(method, js_name = getTransceivers)]
    pub fn get_transceivers(this: &RtcPeerConnection) -> Array;

    /// `RTCRtpTransceiver`.
    #[wasm_bindgen(js_name = RTCRtpTransceiver)]
    #[derive(Debug, Clone, PartialEq)]
    pub type RtcRtpTransceiver;

    /// `null` until the transceiver is in a description.
    #[wasm_bindgen(method, getter)]
    pub fn mid(this: &RtcRtpTransceiver) -> Option<String>;

    /// What this side wants: `sendrecv` ... `inactive`, or `stopped`.
    #[wasm_bindgen(method, getter)]
    pub fn direction(this: &RtcRtpTransceiver) -> String;

    /// Throws `InvalidStateError` once the transceiver is stopping.
    #[wasm_bindgen(method, setter, catch)]
    pub fn set_direction(this: &RtcRtpTransceiver, direction: &str) -> Result<(), JsValue>;

    /// What was negotiated last (`stopped` once stopped), `null` before.
    #[wasm_bindgen(method, getter, js_name = currentDirection)]
    pub fn current_direction(this: &RtcRtpTransceiver) -> Option<String>;

    #[wasm_bindgen(method, catch)]
    pub fn stop(this: &RtcRtpTransceiver) -> Result<(), JsValue>;

    /// Takes entries of `RTCRtpReceiver.getCapabilities(kind).codecs`.
    #[wasm_bindgen(method, catch, js_name = setCodecPreferences)]
    pub fn set_codec_preferences(this: &RtcRtpTransceiver, codecs: &Array) -> Result<(), JsValue>;

    #[wasm_bindgen(method, getter)]
    pub fn sender(this: &RtcRtpTransceiver) -> RtcRtpSender;

    #[wasm_bindgen(method, getter)]
    pub fn receiver(this: &RtcRtpTransceiver) -> RtcRtpReceiver;

    /// `RTCRtpSender`.
    #[wasm_bindgen(js_name = RTCRtpSender)]
    #[derive(Debug, Clone)]
    pub type RtcRtpSender;

    /// The DTLS transport it sends over, once negotiated.
    #[wasm_bindgen(method, getter)]
    pub fn transport(this: &RtcRtpSender) -> Option<RtcDtlsTransport>;

    #[wasm_bindgen(method, catch, js_name = replaceTrack)]
    pub fn replace_track(
        this: &RtcRtpSender,
        track: Option<&MediaStreamTrack>,
    ) -> Result<Promise, JsValue>;

    /// An `RTCRtpSendParameters`: its `codecs` are the negotiated ones, in order.
    #[wasm_bindgen(method, catch, js_name = getParameters)]
    pub fn get_parameters(this: &RtcRtpSender) -> Result<Object, JsValue>;

    #[wasm_bindgen(method, catch, js_name = getStats)]
    pub fn get_stats(this: &RtcRtpSender) -> Result<Promise, JsValue>;

    #[wasm_bindgen(method, catch, js_name = setStreams)]
    pub fn set_streams(this: &RtcRtpSender, stream: &MediaStream) -> Result<(), JsValue>;

    /// `RTCRtpReceiver`.
    #[wasm_bindgen(js_name = RTCRtpReceiver)]
    #[derive(Debug, Clone)]
    pub type RtcRtpReceiver;

    /// Always a track (muted while nothing arrives).
    #[wasm_bindgen(method, getter)]
    pub fn track(this: &RtcRtpReceiver) -> MediaStreamTrack;

    #[wasm_bindgen(method, catch, js_name = getStats)]
    pub fn get_stats(this: &RtcRtpReceiver) -> Result<Promise, JsValue>;

    /// `RTCRtpReceiver.getCapabilities(kind)`: `{ codecs, headerExtensions }`, or `null`
    /// for a kind the browser does not know.
    #[wasm_bindgen(catch, static_method_of = RtcRtpReceiver, js_class = "RTCRtpReceiver", js_name = getCapabilities)]
    pub fn get_capabilities(kind: &str) -> Result<Option<Object>, JsValue>;

    /// `RTCTrackEvent`.
    #[wasm_bindgen(extends = Event, js_name = RTCTrackEvent)]
    pub type RtcTrackEvent;

    #[wasm_bindgen(method, getter)]
    pub fn transceiver(this: &RtcTrackEvent) -> RtcRtpTransceiver;

    /// The remote's `MediaStream`s of the track (from its `a=msid`).
    #[wasm_bindgen(method, getter)]
    pub fn streams(this: &RtcTrackEvent) -> Array;

    /// `RTCStatsReport` (a read-only map from id to stats object).
    #[wasm_bindgen(js_name = RTCStatsReport)]
    pub type RtcStatsReport;

    #[wasm_bindgen(method)]
    pub fn values(this: &RtcStatsReport) -> js_sys::Iterator;
}
