//! Runs the media suite (`src/media`) on the target being built: natively as ordinary
//! tests; on wasm32 in headless Chromium through wasm-bindgen-test.

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

unipeer_tests::suite! { media:
    video_added_to_a_data_call,
    tracks_in_the_first_offer_follow_codec_preferences,
    invalid_track_options_are_refused,
    channel_on_a_connected_peer_needs_no_negotiation,
    stopping_a_track_ends_it_on_both_sides,
    direction_changes_renegotiate,
    closing_a_peer_ends_its_tracks,
    both_sides_add_tracks,
}
