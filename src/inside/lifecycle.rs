//! What code running inside an isolate asks of its own life: whether it should stop, whether it
//! is paused, and how to end with a final message (Dart's `Isolate.exit`).
//!
//! Each reads the isolate's control block (`wire::control`); outside an isolate, or where there is
//! no `SharedArrayBuffer`, there is none and the answers are "no".

use crate::error::IsolateError;
use crate::platform::capabilities::is_isolate;
use crate::platform::timer::Timer;
use crate::port::SendPort;
use crate::wire::control::{self, STATE_EXITING};
use serde::Serialize;
use std::cell::RefCell;
use std::task::Waker;
use std::time::Duration;

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

/// Inside an isolate: true while its parent holds it paused ([`Isolate::pause`](crate::isolate::Isolate::pause)).
pub fn is_paused() -> bool {
    control::with_own(|b| b.load(control::PAUSE) != 0).unwrap_or(false)
}

thread_local! {
    static PAUSE_POLL: RefCell<Option<Timer>> = const { RefCell::new(None) };
    static PAUSED_WAKERS: RefCell<Vec<Waker>> = const { RefCell::new(Vec::new()) };
}

/// Called by a receive port's `poll_next`: when this isolate is paused, parks the waker and
/// checks again every 10 ms (resuming needs no message, only the control word).
pub(crate) fn paused_here(waker: &Waker) -> bool {
    if !is_paused() {
        return false;
    }
    PAUSED_WAKERS.with(|w| w.borrow_mut().push(waker.clone()));
    PAUSE_POLL.with(|p| {
        if p.borrow().is_none() {
            *p.borrow_mut() = Some(Timer::start(Duration::from_millis(10), || {
                PAUSE_POLL.with(|p| p.borrow_mut().take());
                for w in PAUSED_WAKERS.with(|w| std::mem::take(&mut *w.borrow_mut())) {
                    w.wake();
                }
            }));
        }
    });
    true
}

/// Inside an isolate: sends `message` on `port` as the isolate's final message (its buffers
/// transferred) and ends the isolate — Dart's `Isolate.exit(port, message)`. The isolate stops
/// when the current function returns; nothing after that runs. Outside an isolate it only sends.
pub fn exit<T: Serialize>(port: &SendPort<T>, message: T) -> Result<(), IsolateError> {
    port.send(message)?;
    if is_isolate() {
        control::with_own(|b| b.store(control::STATE, STATE_EXITING));
        crate::inside::dispatch::exit_now();
    }
    Ok(())
}
