//! The conformance suite: every test is an `async fn` written against the `unipeer` API
//! only, so the very same source runs natively and in the browser. `tests/conformance.rs`
//! (and `tests/rpc.rs` for the RPC suite) turns each into a test for the target being
//! built, with [`suite!`].

pub mod conformance;
mod harness;
pub mod media;
pub mod mesh;
pub mod rpc;

pub use harness::*;

/// Turns `async fn`s of a suite module (`conformance`, `rpc`, `media`) into tests of the target
/// being built: natively, ordinary tests run on `futures::executor`; on wasm32,
/// wasm-bindgen tests in headless Chromium (two peers in one page).
#[macro_export]
macro_rules! suite {
    ($module:ident: $($name:ident),* $(,)?) => {$(
        #[cfg(not(target_arch = "wasm32"))]
        #[test]
        fn $name() {
            unipeer_tests::run(unipeer_tests::$module::$name());
        }
        #[cfg(target_arch = "wasm32")]
        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn $name() {
            let limit = std::time::Duration::from_secs(120);
            unipeer_tests::within(limit, "the whole test", unipeer_tests::$module::$name())
                .await;
        }
    )*};
}
