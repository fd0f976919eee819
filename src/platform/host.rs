//! Bindings to the JS side: `worker/host.js` (parent helpers), `worker/bootstrap.js` (worker
//! entry) and the glue's own URL.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/worker/host.js")]
extern "C" {
    /// `new Worker(new URL('./bootstrap.js', import.meta.url), {type: 'module', name})`, or
    /// `factory({name})` when the JS `worker` option gave one.
    #[wasm_bindgen(catch, js_name = createIsolateWorker)]
    pub(crate) fn create_isolate_worker(
        name: &str,
        factory: Option<&js_sys::Function>,
        start_timeout_ms: f64,
    ) -> Result<web_sys::Worker, JsValue>;

    #[wasm_bindgen(js_name = supportsModuleWorkers)]
    pub(crate) fn supports_module_workers() -> bool;

    /// Returns a function that stops the watch, or `null` without Web Locks.
    #[wasm_bindgen(js_name = watchForDeath)]
    pub(crate) fn watch_for_death(lock_name: &str, on_death: &js_sys::Function) -> JsValue;

    /// Posts `[buffer, ...attachments]` on `target` (a `MessagePort`, a `Worker` or a worker's
    /// global scope), transferring the buffer and transferable attachments.
    #[wasm_bindgen(catch, js_name = postEnvelope)]
    pub(crate) fn post_envelope(
        target: &JsValue,
        buffer: &js_sys::ArrayBuffer,
        attachments: &js_sys::Array,
    ) -> Result<(), JsValue>;

    #[wasm_bindgen(js_name = startTimer)]
    pub(crate) fn start_timer(ms: u32, callback: &js_sys::Function) -> JsValue;

    #[wasm_bindgen(js_name = stopTimer)]
    pub(crate) fn stop_timer(id: &JsValue);

    /// An `Int32Array` of `words` over a new `SharedArrayBuffer`, or `null` without one.
    #[wasm_bindgen(js_name = newControlBlock)]
    pub(crate) fn new_control_block(words: u32) -> JsValue;

    #[wasm_bindgen(js_name = fetchBytes)]
    pub(crate) fn fetch_bytes(url: &str) -> js_sys::Promise;

    #[wasm_bindgen(js_name = blobBytes)]
    pub(crate) fn blob_bytes(blob: &web_sys::Blob) -> js_sys::Promise;

    /// A promise that resolves in a new task (a `MessageChannel` message, which no engine
    /// clamps as it clamps nested `setTimeout`s): awaiting it lets the browser render a frame
    /// and handle input.
    #[wasm_bindgen(js_name = nextMacrotask)]
    pub(crate) fn next_macrotask() -> js_sys::Promise;

    /// `performance.now()`.
    pub(crate) fn now() -> f64;

    #[wasm_bindgen(js_name = globalContext)]
    pub(crate) fn global_context() -> String;
}

#[wasm_bindgen(module = "/worker/bootstrap.js")]
extern "C" {
    #[wasm_bindgen(js_name = isIsolate)]
    pub(crate) fn is_isolate() -> bool;
}

#[wasm_bindgen]
extern "C" {
    // wasm-bindgen writes `import.meta.url` into the glue module itself, so this is the glue's URL
    // (a snippet's own `import.meta.url` would be the snippet's). Workers import the glue from it.
    #[wasm_bindgen(thread_local_v2, js_namespace = ["import", "meta"], js_name = url)]
    static GLUE_URL: String;
}

/// The URL of the wasm-bindgen glue this instance was loaded from.
pub(crate) fn glue_url() -> String {
    GLUE_URL.with(String::clone)
}
