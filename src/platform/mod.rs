//! The browser (or native) platform under both sides: what this context can do
//! ([`capabilities`]), the JS helpers the crate binds to ([`host`]), and timers ([`timer`]).

pub(crate) mod capabilities;
#[cfg(target_arch = "wasm32")]
pub(crate) mod host;
#[cfg(target_arch = "wasm32")]
pub(crate) mod timer;
