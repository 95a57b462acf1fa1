//! Runnable examples for unipeer; see the `[[example]]` targets (`cargo run --example NAME`).
