//! What crosses between threads: the envelope every message starts with ([`protocol`]), how a
//! payload is encoded ([`codec`]), the JS values that ride beside it ([`attachments`],
//! [`transfer`]), how a task is named to the isolate ([`task`]), the shared control block
//! ([`control`]) and the JS message that carries it all (`message`).
//!
//! Everything here but `message` is plain Rust, tested natively.

pub(crate) mod attachments;
pub(crate) mod batches;
pub(crate) mod codec;
pub(crate) mod control;
#[cfg(target_arch = "wasm32")]
pub(crate) mod message;
pub mod protocol;
pub(crate) mod task;
pub mod transfer;
