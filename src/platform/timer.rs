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

/// How long to keep reading an isolate's ports after it ended, for messages it posted just before.
/// Messages on different `MessagePort`s carry no order between them, so an isolate's last items
/// can arrive after the notice of its end; in practice they trail it by a few milliseconds.
pub(crate) const TRAILING_MESSAGES: Duration = Duration::from_millis(50);
