//! A one-shot timer (`setTimeout`) that is cancelled when dropped.

use std::time::Duration;
use wasm_bindgen::prelude::*;

/// Runs a callback once after a delay, in any global scope; dropping it first cancels it.
pub(crate) struct Timer {
    id: JsValue,
    // Kept alive until the timer is dropped; wasm-bindgen defers freeing it if it is running.
    _callback: Closure<dyn FnMut()>,
}

impl Timer {
    pub(crate) fn start(delay: Duration, f: impl FnOnce() + 'static) -> Self {
        let mut f = Some(f);
        let callback = Closure::<dyn FnMut()>::new(move || {
            if let Some(f) = f.take() {
                f();
            }
        });
        let ms = delay.as_millis().min(i32::MAX as u128) as u32;
        let id = crate::platform::host::start_timer(ms, callback.as_ref().unchecked_ref());
        Timer {
            id,
            _callback: callback,
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        crate::platform::host::stop_timer(&self.id);
    }
}

/// A future that completes after a delay (a [`Timer`] that wakes its task).
pub(crate) struct Delay {
    state: std::rc::Rc<std::cell::RefCell<(bool, Option<std::task::Waker>)>>,
    _timer: Timer,
}

impl Delay {
    pub(crate) fn new(delay: Duration) -> Self {
        let state = std::rc::Rc::new(std::cell::RefCell::new((false, None::<std::task::Waker>)));
        let fired = state.clone();
        let timer = Timer::start(delay, move || {
            let waker = {
                let mut s = fired.borrow_mut();
                s.0 = true;
                s.1.take()
            };
            if let Some(w) = waker {
                w.wake();
            }
        });
        Delay {
            state,
            _timer: timer,
        }
    }
}

impl std::future::Future for Delay {
    type Output = ();
    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<()> {
        let mut s = self.state.borrow_mut();
        if s.0 {
            std::task::Poll::Ready(())
        } else {
            s.1 = Some(cx.waker().clone());
            std::task::Poll::Pending
        }
    }
}

/// How long a stream's failure waits for items its producer sent just before, when nothing says
/// they are all in (a worker that died without a word). Messages on different `MessagePort`s
/// carry no order between them; in practice they trail the failure by a few milliseconds.
pub(crate) const TRAILING_MESSAGES: Duration = Duration::from_millis(50);

/// How long an ended isolate's ports stay open (linked ports, error listeners) for what it sent
/// just before: the final message of [`exit`](crate::exit) or an error report travels on its
/// port, the exit notice on the worker's channel, and the two carry no order. Regression: with
/// 50 ms, `exit_sends_a_final_message` lost the final message in Firefox, isolated, in both
/// suites of one `npm test` run under load (2026-11-28). Nothing waits on this but the end of
/// those ports.
pub(crate) const AFTER_EXIT: Duration = Duration::from_millis(500);
