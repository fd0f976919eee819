//! The JS API's pool: `new IsolatePool(options)` runs exported functions of ES modules in
//! isolates, with the Rust pool's queue, timeouts, cancellation and worker replacement.

use crate::pool::IsolatePool;
use crate::pool::PoolBuilder;
use crate::wire::transfer::Transferable;
use js_sys::{Array, Promise, Reflect};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

#[wasm_bindgen(module = "/worker/host.js")]
extern "C" {
    #[wasm_bindgen(js_name = callModuleExport)]
    fn call_module_export(url: &str, name: &str, args: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = describeError)]
    fn describe_error(error: &JsValue) -> JsValue;
}

/// One JS call: the module, the export, the arguments (structured-cloned) and the values to
/// move by transfer.
#[derive(Serialize, Deserialize)]
struct JsCall {
    module: String,
    export: String,
    args: Transferable<JsValue>,
    transfer: Vec<Transferable<JsValue>>,
}

/// What a JS task threw, kept whole for the caller.
#[derive(Serialize, Deserialize)]
struct Thrown {
    name: String,
    message: String,
    stack: String,
}

/// Runs in the isolate.
async fn js_call(call: JsCall) -> Result<Transferable<JsValue>, Thrown> {
    let _moved = call.transfer;
    match JsFuture::from(call_module_export(&call.module, &call.export, &call.args.0)).await {
        Ok(value) => Ok(Transferable(value)),
        Err(e) => {
            let d = describe_error(&e);
            let field = |k: &str| {
                crate::js::support::get(&d, k)
                    .as_string()
                    .unwrap_or_default()
            };
            Err(Thrown {
                name: field("name"),
                message: field("message"),
                stack: field("stack"),
            })
        }
    }
}

fn thrown_to_js(t: Thrown) -> JsValue {
    // The isolate's error becomes the `cause` of an `IsolateTaskError`, stack and all, so it is
    // not lost at the thread boundary (Comlink #545).
    let cause = js_sys::Error::new(&t.message);
    cause.set_name(&t.name);
    let _ = Reflect::set(&cause, &"stack".into(), &t.stack.into());
    crate::js::js_error(
        "IsolateTaskError",
        &format!("task threw {}: {}", t.name, t.message),
        &[("cause", cause.into())],
    )
}

fn number(options: &JsValue, key: &str) -> Option<f64> {
    crate::js::support::get(options, key)
        .as_f64()
        .filter(|n| *n >= 0.0)
}

#[wasm_bindgen(typescript_custom_section)]
const TS_POOL: &str = r#"
/** Options of `new IsolatePool(options)`; every one is optional (times in milliseconds). */
export interface IsolatePoolOptions {
    /** How many isolates run at once. Default: `hardwareConcurrency - 1`, at least 1. */
    size?: number;
    /** How many tasks may wait in the queue; beyond it `run` holds calls back until room frees up. Default: unbounded. */
    maxQueue?: number;
    /** How long a task may run once started; then it rejects with `IsolateTimeoutError` and its isolate is replaced. Default: none. */
    taskTimeout?: number;
    /** Stops an isolate idle this long; the next task starts a new one. Default: isolates stay warm. */
    idleTimeout?: number;
    /** Start every isolate now, and replace a lost one at once. Default: `false` (they start with the first tasks). */
    prewarm?: boolean;
    /** The largest encoded task input or output, in bytes (transferred buffers do not count). Default: 256 MiB. */
    maxMessageBytes?: number;
}

/** Options of `IsolatePool.run`. */
export interface RunOptions {
    /** Aborting it rejects the call with the signal's `reason` (an `AbortError` by default) and cancels the task. */
    signal?: AbortSignal;
    /** Values in `args` to move to the isolate instead of copying them (detached here). */
    transfer?: Transferable[];
}

/** `IsolatePool.stats()`: counters of a pool. */
export interface PoolStats {
    /** The configured size. */
    size: number;
    /** Isolates alive now (starting, idle or busy). */
    live: number;
    /** Isolates running a task now. */
    busy: number;
    /** Tasks in the queue. */
    queued: number;
    /** Tasks held back because the queue was full. */
    waiting: number;
    /** Tasks that returned a result. */
    completed: number;
    /** Tasks that ended with an error (including aborted and timed out). */
    failed: number;
    /** Isolates replaced after a panic, a crash, a timeout or an abort. */
    restarted: number;
}
"#;

/// `new IsolatePool({size, maxQueue, taskTimeout, idleTimeout, prewarm, maxMessageBytes})`:
/// a pool of isolates running exported functions of ES modules.
#[wasm_bindgen(js_name = IsolatePool)]
pub struct JsIsolatePool {
    pool: IsolatePool,
}

#[wasm_bindgen(js_class = IsolatePool)]
impl JsIsolatePool {
    /// Creates a pool; every option is optional (times in milliseconds).
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_optional_param_type = "IsolatePoolOptions")] options: JsValue,
    ) -> Result<JsIsolatePool, JsValue> {
        let mut b: PoolBuilder = IsolatePool::builder().debug_name("js");
        if let Some(n) = number(&options, "size") {
            b = b.size(n as usize);
        }
        if let Some(n) = number(&options, "maxQueue") {
            b = b.max_queue(n as usize);
        }
        if let Some(n) = number(&options, "taskTimeout") {
            b = b.task_timeout(Duration::from_secs_f64(n / 1000.0));
        }
        if let Some(n) = number(&options, "idleTimeout") {
            b = b.idle_timeout(Duration::from_secs_f64(n / 1000.0));
        }
        if let Some(n) = number(&options, "maxMessageBytes") {
            b = b.max_message_bytes(n.min(u32::MAX as f64) as u32);
        }
        if let Some(p) = crate::js::support::get(&options, "prewarm").as_bool() {
            b = b.prewarm(p);
        }
        Ok(JsIsolatePool { pool: b.build()? })
    }

    /// `run(module, exportName, args = [], {signal, transfer} = {})`: calls
    /// `(await import(module))[exportName](...args)` in an isolate and resolves with its result.
    /// `module` is an absolute URL or a `URL` (e.g. `new URL('./task.js', import.meta.url)`);
    /// `transfer` lists buffers in `args` to move instead of copy. Rejects with an
    /// `IsolateTaskError` whose `cause` is the task's own error (stack included), or with the
    /// pool's errors (`AbortError`, `IsolateTimeoutError`, `IsolateWorkerError`, ...).
    #[wasm_bindgen(unchecked_return_type = "Promise<unknown>")]
    pub fn run(
        &self,
        #[wasm_bindgen(unchecked_param_type = "string | URL")] module: JsValue,
        #[wasm_bindgen(js_name = exportName)] export_name: String,
        #[wasm_bindgen(unchecked_optional_param_type = "readonly unknown[]")] args: JsValue,
        #[wasm_bindgen(unchecked_optional_param_type = "RunOptions")] options: JsValue,
    ) -> Promise {
        let module = module
            .as_string()
            .or_else(|| crate::js::support::get(&module, "href").as_string());
        let Some(module) = module else {
            return Promise::reject(
                &js_sys::TypeError::new("run: module must be a URL or a string").into(),
            );
        };
        // Resolve against this scope's location, as `new URL(module, location.href)` would.
        let base = crate::js::support::get(&js_sys::global(), "location");
        let module = web_sys_url(&module, &crate::js::support::get(&base, "href"));
        let args = if args.is_undefined() || args.is_null() {
            Array::new().into()
        } else {
            args
        };
        if !args.is_instance_of::<Array>() {
            return Promise::reject(&crate::js::support::type_error(
                "run: args must be an array",
            ));
        }
        let transfer = crate::js::support::get(&options, "transfer")
            .dyn_into::<Array>()
            .map(|a| a.iter().map(Transferable).collect())
            .unwrap_or_default();
        let signal: Option<web_sys::AbortSignal> =
            crate::js::support::get(&options, "signal").dyn_into().ok();
        let handle = self.pool.run_async(
            js_call,
            JsCall {
                module,
                export: export_name,
                args: Transferable(args),
                transfer,
            },
        );
        future_to_promise(async move {
            let result = crate::js::support::abortable(signal.as_ref(), async move {
                handle.await.map_err(JsValue::from)
            })
            .await?;
            result.map(|t| t.0).map_err(thrown_to_js)
        })
    }

    /// `{size, live, busy, queued, waiting, completed, failed, restarted}`.
    #[wasm_bindgen(unchecked_return_type = "PoolStats")]
    pub fn stats(&self) -> Result<JsValue, JsValue> {
        crate::js::to_js(&self.pool.stats())
    }

    /// Finishes queued work, then stops the workers; new calls reject.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn close(&self) -> Promise {
        let closed = self.pool.close();
        future_to_promise(async move {
            closed.await;
            Ok(JsValue::UNDEFINED)
        })
    }
}

fn web_sys_url(module: &str, base: &JsValue) -> String {
    match base.as_string() {
        Some(base) => web_sys::Url::new_with_base(module, &base)
            .map(|u| u.href())
            .unwrap_or_else(|_| module.to_string()),
        None => module.to_string(),
    }
}
