//! Runs the conformance suite (`src/conformance`) on the target being built: natively as
//! ordinary tests; on wasm32 in headless Chromium through wasm-bindgen-test.

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

unipeer_tests::suite! { conformance:
    connect,
    channel_after_connect_needs_no_renegotiation,
    ten_thousand_ordered_messages,
    text_and_binary_keep_their_kind,
    empty_messages_are_refused,
    stream_of_large_messages,
    message_of_256_kib,
    remote_max_message_size_is_honoured,
    channel_settings_reach_the_remote,
    negotiated_channels,
    glare_polite_side_rolls_back,
    sixteen_channels,
    backpressure_bounds_the_sender,
    close_from_either_side,
    peer_close_is_seen_by_both,
    dropping_a_peer_mid_transfer_ends_the_remote,
    malformed_sdp_gives_errors_and_loses_nothing,
    malformed_candidates_give_errors,
    invalid_channel_options_are_refused,
    tampered_fingerprint_never_connects,
    credentials_are_fresh_per_peer,
    invalid_ice_servers_are_refused,
}
