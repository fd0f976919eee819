//! The JS face of the crate (what `www/` and npm consumers import from the glue).

use crate::{Capabilities, IsolateError, TransferBuffer};
use js_sys::{Object, Reflect};
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
pub fn capabilities_js() -> JsValue {
    let c = Capabilities::detect();
    let o = Object::new();
    let fields: [(&str, JsValue); 9] = [
        ("workers", c.workers.into()),
        ("moduleWorkers", c.module_workers.into()),
        ("sharedArrayBuffer", c.shared_array_buffer.into()),
        ("crossOriginIsolated", c.cross_origin_isolated.into()),
        ("hardwareConcurrency", c.hardware_concurrency.into()),
        ("context", c.context.as_str().into()),
        ("inIsolate", c.in_isolate.into()),
        ("canRun", c.can_run().into()),
        ("canSpawn", c.can_spawn().into()),
    ];
    for (k, v) in fields {
        // Setting a data property on a fresh plain object cannot fail.
        let _ = Reflect::set(&o, &JsValue::from_str(k), &v);
    }
    o.into()
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
