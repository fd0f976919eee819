//! The JS face of the crate (what `www/` and npm consumers import from the glue).

use crate::{Capabilities, IsolateError, TransferBuffer};
use js_sys::Reflect;
use wasm_bindgen::prelude::*;

impl From<IsolateError> for JsValue {
    fn from(e: IsolateError) -> Self {
        let error = js_sys::Error::new(&e.to_string());
        error.set_name(js_error_name(&e));
        let set = |k: &str, v: JsValue| {
            // Setting a property on a fresh Error cannot fail.
            let _ = Reflect::set(&error, &JsValue::from_str(k), &v);
        };
        match &e {
            IsolateError::Json {
                offset,
                line,
                column,
                ..
            } => {
                let num = |n: &Option<u64>| n.map_or(JsValue::NULL, |n| (n as f64).into());
                set("offset", num(offset));
                set("line", num(line));
                set("column", num(column));
            }
            IsolateError::Panicked { location, .. } => {
                set(
                    "location",
                    location.as_deref().map_or(JsValue::NULL, JsValue::from_str),
                );
            }
            IsolateError::WorkerError {
                stack: Some(stack), ..
            } => {
                // The isolate's own stack, so it is not lost at the thread boundary.
                set("cause", JsValue::from_str(stack));
            }
            _ => {}
        }
        error.into()
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

/// `capabilities()`: what this host supports, as a plain object
/// `{workers, moduleWorkers, sharedArrayBuffer, crossOriginIsolated, hardwareConcurrency,
/// context, inIsolate, canRun, canSpawn}`.
#[wasm_bindgen(js_name = capabilities)]
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
    Ok(crate::run(sort_ascending, input).await?.view())
}
