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
        let id = crate::host::start_timer(ms, callback.as_ref().unchecked_ref());
        Timer {
            id,
            _callback: callback,
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        crate::host::stop_timer(&self.id);
    }
}
