//! Small helpers shared by the JS-facing modules.

use js_sys::{Promise, Reflect};
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen(module = "/worker/host.js")]
extern "C" {
    #[wasm_bindgen(js_name = abortPromise)]
    fn abort_promise(signal: &web_sys::AbortSignal) -> Promise;
}

/// `obj[key]`, or `undefined` (also when `obj` is not an object).
pub(crate) fn get(obj: &JsValue, key: &str) -> JsValue {
    if !obj.is_object() && !obj.is_function() {
        return JsValue::UNDEFINED;
    }
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

pub(crate) fn type_error(message: impl AsRef<str>) -> JsValue {
    js_sys::TypeError::new(message.as_ref()).into()
}

/// Runs `fut`, or rejects with the signal's reason as soon as it aborts (dropping `fut`, which
/// cancels the isolate's work).
pub(crate) async fn abortable<T>(
    signal: Option<&web_sys::AbortSignal>,
    fut: impl Future<Output = Result<T, JsValue>>,
) -> Result<T, JsValue> {
    let Some(signal) = signal else {
        return fut.await;
    };
    let mut aborted = JsFuture::from(abort_promise(signal));
    let mut fut = Box::pin(fut);
    std::future::poll_fn(|cx| {
        if let Poll::Ready(r) = Pin::new(&mut aborted).poll(cx) {
            return Poll::Ready(Err(r.err().unwrap_or(JsValue::UNDEFINED)));
        }
        fut.as_mut().poll(cx)
    })
    .await
}
