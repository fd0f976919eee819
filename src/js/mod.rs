//! The JS face of the crate: what `www/` and npm consumers import from the glue — errors as JS
//! classes, `capabilities()`, `sortInIsolate`, the JS [`IsolatePool`](pool) and, with the `json`
//! feature, `parseJson` and `JsonDocument`.

#[cfg(feature = "bench")]
mod bench;
mod isolate;
#[cfg(feature = "json")]
mod json;
mod pool;
mod port;
mod stream;
pub(crate) mod support;

use crate::error::IsolateError;
use crate::platform::capabilities::Capabilities;
use crate::wire::transfer::TransferBuffer;
use js_sys::Reflect;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/worker/errors.js")]
extern "C" {
    /// `createIsolateError(name, message, options)`: an instance of the error class `name`
    /// (see worker/errors.js), with `options` (`cause` and the class's fields) as its own
    /// properties.
    #[wasm_bindgen(js_name = createIsolateError)]
    fn create_isolate_error(name: &str, message: &str, options: &JsValue) -> JsValue;
}

/// A JS error of the class named `name` (worker/errors.js: `IsolateError`, `IsolateTaskError`,
/// `JsonError`, ...; `"AbortError"` gives a `DOMException`), with `fields` (`(key, value)` pairs,
/// e.g. `cause`) as its own properties.
pub(crate) fn js_error(name: &str, message: &str, fields: &[(&str, JsValue)]) -> JsValue {
    let options = js_sys::Object::new();
    for (k, v) in fields {
        // Setting a property on a fresh object cannot fail.
        let _ = Reflect::set(&options, &JsValue::from_str(k), v);
    }
    create_isolate_error(name, message, &options)
}

/// An `IsolateError` in JS: an instance of the class its `name` names (worker/errors.js), so
/// `error instanceof IsolateTaskError` works for importers of the npm package's entry, which
/// re-exports the classes. A consumer of the bare glue (e.g. wasm-pack's output, which has no
/// `index.js`) gets the same objects and tells them apart by `name`: `IsolatePanicError`
/// (`location`), `IsolateWorkerError` (`cause`: the isolate's stack, when known),
/// `IsolateStartError`, `IsolateDataError`, `JsonError` (`offset`, `line`, `column`),
/// `IsolateUnsupportedError`, `IsolateTimeoutError`, `AbortError` (a `DOMException`, as the
/// platform's aborts are) and `IsolateError` for the rest.
impl From<IsolateError> for JsValue {
    fn from(e: IsolateError) -> Self {
        let mut fields = Vec::new();
        match &e {
            IsolateError::Json {
                offset,
                line,
                column,
                ..
            } => {
                let num = |n: &Option<u64>| n.map_or(JsValue::NULL, |n| (n as f64).into());
                fields.push(("offset", num(offset)));
                // A Rust `IsolateError::Json` counts bytes, so both offsets are the same.
                fields.push(("byteOffset", num(offset)));
                fields.push(("line", num(line)));
                fields.push(("column", num(column)));
            }
            IsolateError::Panicked { location, .. } => {
                fields.push((
                    "location",
                    location.as_deref().map_or(JsValue::NULL, JsValue::from_str),
                ));
            }
            IsolateError::WorkerError {
                stack: Some(stack), ..
            } => {
                // The isolate's own stack, so it is not lost at the thread boundary.
                fields.push(("cause", JsValue::from_str(stack)));
            }
            _ => {}
        }
        js_error(js_error_name(&e), &e.to_string(), &fields)
    }
}

fn js_error_name(e: &IsolateError) -> &'static str {
    match e {
        IsolateError::Panicked { .. } => "IsolatePanicError",
        IsolateError::WorkerError { .. } | IsolateError::WorkerDied { .. } => "IsolateWorkerError",
        IsolateError::StartFailed { .. } => "IsolateStartError",
        IsolateError::Codec { .. } | IsolateError::Protocol { .. } => "IsolateDataError",
        IsolateError::Json { .. } => "JsonError",
        IsolateError::Unsupported { .. } => "IsolateUnsupportedError",
        IsolateError::TimedOut { .. } => "IsolateTimeoutError",
        IsolateError::Cancelled => "AbortError",
        _ => "IsolateError",
    }
}

#[wasm_bindgen(typescript_custom_section)]
const TS_CAPABILITIES: &str = r#"
/** What `capabilities()` reports about the host it runs in. */
export interface Capabilities {
    /** `Worker` exists. */
    workers: boolean;
    /** Module workers (`new Worker(url, {type: 'module'})`) are supported: needed by every isolate. */
    moduleWorkers: boolean;
    /** `SharedArrayBuffer` exists (the page is cross-origin isolated). */
    sharedArrayBuffer: boolean;
    /** The page is cross-origin isolated (COOP `same-origin` and COEP `require-corp` headers). */
    crossOriginIsolated: boolean;
    /** `navigator.hardwareConcurrency`. */
    hardwareConcurrency: number;
    /** The kind of global scope this runs in. */
    context: "window" | "dedicated-worker" | "shared-worker" | "service-worker" | "other";
    /** This code runs inside an isolate. */
    inIsolate: boolean;
    /** One-shot tasks and pools work here. */
    canRun: boolean;
    /** Long-lived isolates (the Rust API's `Isolate::spawn`) work here. */
    canSpawn: boolean;
}
"#;

/// `capabilities()`: what this host supports, as a plain object
/// `{workers, moduleWorkers, sharedArrayBuffer, crossOriginIsolated, hardwareConcurrency,
/// context, inIsolate, canRun, canSpawn}`.
#[wasm_bindgen(js_name = capabilities, unchecked_return_type = "Capabilities")]
pub fn capabilities_js() -> Result<JsValue, JsValue> {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Js {
        workers: bool,
        module_workers: bool,
        shared_array_buffer: bool,
        cross_origin_isolated: bool,
        hardware_concurrency: u32,
        context: &'static str,
        in_isolate: bool,
        can_run: bool,
        can_spawn: bool,
    }
    let c = Capabilities::detect();
    to_js(&Js {
        workers: c.workers,
        module_workers: c.module_workers,
        shared_array_buffer: c.shared_array_buffer,
        cross_origin_isolated: c.cross_origin_isolated,
        hardware_concurrency: c.hardware_concurrency,
        context: c.context.as_str(),
        in_isolate: c.in_isolate,
        can_run: c.can_run(),
        can_spawn: c.can_spawn(),
    })
}

/// A Rust value as a plain JS object (serde-wasm-bindgen: maps become objects, 64-bit counters
/// become numbers).
pub(crate) fn to_js<T: serde::Serialize>(value: &T) -> Result<JsValue, JsValue> {
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| IsolateError::codec(e).into())
}

fn sort_ascending(values: TransferBuffer<f64>) -> TransferBuffer<f64> {
    let mut values = values.to_vec();
    values.sort_unstable_by(f64::total_cmp);
    TransferBuffer::from_slice(&values)
}

/// `sortInIsolate(values: Float64Array): Promise<Float64Array>` sorts ascending (NaN last) in an
/// isolate, leaving the calling thread free. `values` is left untouched: the calling thread makes
/// one engine-native copy of it (no wasm or serde work), which then moves to the isolate by
/// transfer; the sorted array moves back the same way.
#[wasm_bindgen(js_name = sortInIsolate)]
pub async fn sort_in_isolate(
    values: js_sys::Float64Array,
) -> Result<js_sys::Float64Array, JsValue> {
    let copy = values.slice(0, values.length());
    let input = TransferBuffer::<f64>::from_array_buffer(copy.buffer())?;
    Ok(crate::run::run(sort_ascending, input).await?.view())
}
