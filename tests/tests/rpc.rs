//! Runs the RPC suite (`src/rpc`) on the target being built: natively as ordinary tests;
//! on wasm32 in headless Chromium through wasm-bindgen-test.

#[cfg(target_arch = "wasm32")]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

unipeer_tests::suite! { rpc:
    rpc_typed_calls_both_ways,
    rpc_thousand_concurrent_calls,
    rpc_errors_cross_the_wire,
    rpc_calls_beyond_the_limit_are_busy,
    rpc_timeout_cancels_the_handler,
    rpc_dropping_a_call_cancels_the_remote_handler,
    rpc_peer_closing_mid_call,
    rpc_dropping_the_driver_ends_calls,
    rpc_stream_with_slow_consumer,
    rpc_stream_error_ends_it,
    rpc_dropping_a_stream_cancels_it,
    rpc_payloads_of_one_mib,
    rpc_payload_limits,
    rpc_garbage_from_a_caller,
    rpc_garbage_from_a_callee,
}
