//! The plumbing of the dual-target examples: one `main` runs natively (blocking on
//! `futures::executor`) and in a page (on the browser's event loop).

use std::fmt::Display;
use std::future::Future;

/// Runs the example natively; exits non-zero if it failed.
#[cfg(not(target_arch = "wasm32"))]
pub fn run<E: Display>(node: impl Future<Output = Result<(), E>>) {
    if let Err(e) = futures::executor::block_on(node) {
        print_line(&format!("failed: {e}"));
        std::process::exit(1);
    }
}

/// Starts the example on the page's event loop (the browser never blocks).
#[cfg(target_arch = "wasm32")]
pub fn run<E: Display>(node: impl Future<Output = Result<(), E>> + 'static) {
    wasm_bindgen_futures::spawn_local(async {
        if let Err(e) = node.await {
            print_line(&format!("failed: {e}"));
        }
    });
}

/// A line on stdout natively, `console.log` in the page (which the example pages also
/// show).
pub fn print_line(line: &str) {
    #[cfg(not(target_arch = "wasm32"))]
    println!("{line}");
    #[cfg(target_arch = "wasm32")]
    console_log(line);
}

#[cfg(target_arch = "wasm32")]
#[wasm_bindgen::prelude::wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = console, js_name = log)]
    fn console_log(line: &str);
    /// A parameter of the page's address (`?name=value`), read by the example pages'
    /// `window.unipeerPageArg`; empty when absent.
    #[wasm_bindgen(js_name = unipeerPageArg)]
    pub fn page_arg(name: &str) -> String;
}
