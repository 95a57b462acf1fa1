//! Browser exceptions to unipeer errors.

use js_sys::{Promise, Reflect};
use unipeer_core::Error;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

/// A thrown or rejected JS value: its `name` (`"OperationError"`, `"TypeError"`, ...) and
/// the browser's text.
pub(crate) struct JsError {
    pub name: String,
    pub text: String,
}

impl JsError {
    pub(crate) fn from_js(value: &JsValue) -> Self {
        if let Some(s) = value.as_string() {
            return Self {
                name: String::new(),
                text: s,
            };
        }
        if value.is_object() {
            let get = |key: &str| {
                Reflect::get(value, &JsValue::from_str(key))
                    .ok()
                    .and_then(|v| v.as_string())
            };
            let name = get("name").unwrap_or_default();
            let message = get("message").unwrap_or_default();
            let text = match (name.is_empty(), message.is_empty()) {
                (false, false) => format!("{name}: {message}"),
                (false, true) => name.clone(),
                _ => message,
            };
            return Self { name, text };
        }
        Self {
            name: String::new(),
            text: "unknown browser error".into(),
        }
    }

    pub(crate) fn is(&self, name: &str) -> bool {
        self.name == name
    }

    /// The error for a failure with no more specific meaning. (A closed peer is refused
    /// before the browser is asked: `InvalidStateError` here is a call out of order.)
    pub(crate) fn platform(self) -> Error {
        if self.is("InvalidStateError") {
            Error::InvalidState(self.text)
        } else {
            Error::Platform(self.text)
        }
    }
}

/// Awaits a promise from a method that may also throw synchronously.
pub(crate) async fn call(promise: Result<Promise, JsValue>) -> Result<JsValue, JsError> {
    let promise = promise.map_err(|e| JsError::from_js(&e))?;
    JsFuture::from(promise)
        .await
        .map_err(|e| JsError::from_js(&e))
}
