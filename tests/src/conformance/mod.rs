//! The conformance tests, grouped by what they prove. Each is listed once in
//! `tests/conformance.rs`, which runs it on the target being built.

mod backpressure;
mod channels;
mod close;
mod connect;
mod errors;
mod glare;
mod messages;
mod security;

pub use backpressure::*;
pub use channels::*;
pub use close::*;
pub use connect::*;
pub use errors::*;
pub use glare::*;
pub use messages::*;
pub use security::*;
