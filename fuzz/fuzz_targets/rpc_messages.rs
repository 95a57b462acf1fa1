//! What the RPC layer parses from the remote: message headers, split bodies, requests,
//! errors, credits and payloads in both codecs.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    unipeer::rpc::fuzzing::rpc_messages(data);
});
