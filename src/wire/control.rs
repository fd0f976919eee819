//! The control block: a few words of `SharedArrayBuffer` shared by a parent and one isolate, so
//! that a *busy* isolate — one that cannot read messages until its task returns — can still be
//! asked to stop, and can report progress, without a message round trip.
//!
//! Layout (`Int32Array`): `[STATE, REQUEST, PROGRESS, CALL, PAUSE]`. `CALL` is the low 32 bits of the id
//! of the call running now; `REQUEST` holds the id of the call the parent wants cancelled (or a
//! negative isolate-wide request). A request names its call, so a cancel that arrives late can
//! never hit the next task the same isolate picks up (workerpool issue #548).
//!
//! Only cross-origin isolated pages have `SharedArrayBuffer`; elsewhere there is no block,
//! [`CancellationToken::is_cancelled`] is always `false`, and the parent stops a task by
//! terminating its worker instead.

#[cfg(target_arch = "wasm32")]
pub(crate) use imp::*;

/// Lets a running task see whether its caller cancelled it — Dart has no such thing; this is
/// how a long computation in a pool cooperates with [`TaskHandle::cancel`](crate::pool::TaskHandle::cancel)
/// instead of being terminated.
///
/// ```no_run
/// use wasm_isolates::CancellationToken;
///
/// fn long_sum(n: u64) -> Option<u64> {
///     let token = CancellationToken::current();
///     let mut acc = 0u64;
///     for i in 0..n {
///         if i % 65_536 == 0 && token.is_cancelled() {
///             return None; // stop early; the caller sees IsolateError::Cancelled
///         }
///         acc = acc.wrapping_add(i);
///     }
///     Some(acc)
/// }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct CancellationToken {
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    call: i32,
}

impl CancellationToken {
    /// The token of the task running on this thread (inert outside an isolate).
    pub fn current() -> Self {
        #[cfg(target_arch = "wasm32")]
        let call = with_own(|b| b.load(CALL)).unwrap_or(0);
        #[cfg(not(target_arch = "wasm32"))]
        let call = 0;
        CancellationToken { call }
    }

    /// True once the task was cancelled (or its isolate asked to stop). Costs one
    /// `Atomics.load`; always `false` where `SharedArrayBuffer` is unavailable and on native
    /// builds.
    pub fn is_cancelled(&self) -> bool {
        #[cfg(target_arch = "wasm32")]
        {
            with_own(|b| {
                let request = b.load(REQUEST);
                request == REQUEST_STOP || (self.call != 0 && request == self.call)
            })
            .unwrap_or(false)
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            false
        }
    }
}

/// Publishes a progress value (e.g. bytes processed) that the parent reads without a message.
/// A no-op outside an isolate, without `SharedArrayBuffer` and on native builds.
///
/// ```no_run
/// wasm_isolates::report_progress(42);
/// ```
pub fn report_progress(value: u32) {
    #[cfg(target_arch = "wasm32")]
    with_own(|b| b.store(PROGRESS, value as i32));
    #[cfg(not(target_arch = "wasm32"))]
    let _ = value;
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use js_sys::{Atomics, Int32Array};
    use std::cell::RefCell;

    #[allow(dead_code)] // read by long-lived isolates
    pub(crate) const STATE: u32 = 0;
    /// `STATE` values (the isolate's life, written by both sides).
    pub(crate) const STATE_STARTING: i32 = 0;
    pub(crate) const STATE_RUNNING: i32 = 1;
    pub(crate) const STATE_EXITING: i32 = 3;
    pub(crate) const STATE_DEAD: i32 = 4;
    pub(crate) const REQUEST: u32 = 1;
    pub(crate) const PROGRESS: u32 = 2;
    pub(crate) const CALL: u32 = 3;
    /// Non-zero while the parent holds the isolate paused.
    pub(crate) const PAUSE: u32 = 4;
    const WORDS: u32 = 5;

    /// `REQUEST` value asking the whole isolate to stop (kill), whatever it runs.
    pub(crate) const REQUEST_STOP: i32 = -1;
    #[allow(dead_code)] // used by long-lived isolates
    pub(crate) const REQUEST_PAUSE: i32 = -2;

    /// A call id as stored in `CALL` and `REQUEST`: its low 31 bits, never 0 (no call) and never
    /// negative (isolate-wide requests).
    pub(crate) fn call_word(id: u64) -> i32 {
        ((id & 0x7FFF_FFFF) as i32).max(1)
    }

    /// The parent's handle on one isolate's block.
    #[derive(Clone)]
    pub(crate) struct ControlBlock {
        words: Int32Array,
    }

    impl ControlBlock {
        /// A new block, or `None` without `SharedArrayBuffer`.
        pub(crate) fn new() -> Option<Self> {
            use wasm_bindgen::JsCast;
            crate::platform::host::new_control_block(WORDS)
                .dyn_into::<Int32Array>()
                .ok()
                .map(|words| ControlBlock { words })
        }

        pub(crate) fn array(&self) -> &Int32Array {
            &self.words
        }

        pub(crate) fn load(&self, index: u32) -> i32 {
            // Atomics on an in-bounds index of an Int32Array cannot throw.
            Atomics::load(&self.words, index).unwrap_or(0)
        }

        pub(crate) fn store(&self, index: u32, value: i32) {
            let _ = Atomics::store(&self.words, index, value);
        }
    }

    thread_local! {
        /// Inside an isolate: the block its parent shares with it.
        static OWN_BLOCK: RefCell<Option<ControlBlock>> = const { RefCell::new(None) };
    }

    /// Called by the isolate's dispatcher at start-up.
    pub(crate) fn install(words: Option<Int32Array>) {
        OWN_BLOCK.with(|b| *b.borrow_mut() = words.map(|words| ControlBlock { words }));
    }

    /// Called by the dispatcher around each call.
    pub(crate) fn set_current_call(id: u64) {
        with_own(|b| {
            b.store(CALL, if id == 0 { 0 } else { call_word(id) });
        });
    }

    pub(crate) fn with_own<R>(f: impl FnOnce(&ControlBlock) -> R) -> Option<R> {
        OWN_BLOCK
            .try_with(|b| b.try_borrow().ok().and_then(|b| b.as_ref().map(f)))
            .ok()
            .flatten()
    }
}
