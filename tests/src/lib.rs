//! The conformance suite: every test is an `async fn` written against the `unipeer` API
//! only, so the very same source runs natively and in the browser. `tests/conformance.rs`
//! turns each into a test for the target being built.

pub mod conformance;
mod harness;
pub mod mesh;

pub use harness::*;
