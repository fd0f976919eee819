//! What code running inside an isolate asks of its own life: whether it should stop, whether it
//! is paused, and how to end with a final message (Dart's `Isolate.exit`).
//!
//! Each reads the isolate's control block (`wire::control`); outside an isolate, or where there is
//! no `SharedArrayBuffer`, there is none and the answers are "no".

use crate::error::IsolateError;
use crate::platform::capabilities::is_isolate;
use crate::port::SendPort;
use crate::wire::control::{self, STATE_EXITING};
use serde::Serialize;

/// Inside an isolate: true once its parent asked it to stop ([`Isolate::kill`](crate::isolate::Isolate::kill) with
/// [`Priority::BeforeNextEvent`](crate::isolate::Priority::BeforeNextEvent)). Long loops should check it and return. Always `false`
/// outside an isolate.
///
/// ```no_run
/// fn entry(_: ()) {
///     while !wasm_isolates::should_stop() {
///         // one slice of work
/// #       break;
///     }
/// }
/// ```
pub fn should_stop() -> bool {
    control::with_own(|b| b.load(control::REQUEST) == control::REQUEST_STOP).unwrap_or(false)
}

/// Inside an isolate: sends `message` on `port` as the isolate's final message (its buffers
/// transferred) and ends the isolate — Dart's `Isolate.exit(port, message)`. The isolate stops
/// when the current function returns; nothing after that runs. Outside an isolate it only sends.
/// A port linked to the isolate stays open for half a second after the exit, so the final
/// message reaches its receiver even when it trails the exit notice.
pub fn exit<T: Serialize>(port: &SendPort<T>, message: T) -> Result<(), IsolateError> {
    port.send(message)?;
    if is_isolate() {
        control::with_own(|b| b.store(control::STATE, STATE_EXITING));
        crate::inside::dispatch::exit_now();
    }
    Ok(())
}
