//! The JS API's pool: `new IsolatePool(options)` runs exported functions of ES modules in
//! isolates, with the Rust pool's queue, timeouts, cancellation and worker replacement.

use crate::js::isolate::JsIsolateContext;
use crate::js::port::{JsMessage, Progress};
use crate::js::support::{worker_factory, TaskSource, Thrown};
use crate::pool::IsolatePool;
use crate::pool::PoolBuilder;
use crate::port::{ReceivePort, SendPort};
use crate::wire::transfer::Transferable;
use js_sys::{Array, Promise};
use serde::{Deserialize, Serialize};
use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

#[wasm_bindgen(module = "/worker/js-api.js")]
extern "C" {
    #[wasm_bindgen(js_name = unwrapTransfer)]
    fn unwrap_transfer(value: &JsValue) -> Array;
    #[wasm_bindgen(js_name = sharedContext)]
    fn shared_context(context: JsIsolateContext) -> JsValue;
    #[wasm_bindgen(js_name = listenForAbort)]
    fn listen_for_abort(
        signal: &web_sys::AbortSignal,
        on_abort: &Closure<dyn FnMut(JsValue)>,
    ) -> js_sys::Function;
}

thread_local! {
    /// In an isolate: the context every task run without `onProgress` gets (see
    /// worker/js-api.js, `sharedContext`), made on first use.
    static SHARED_CONTEXT: JsValue = shared_context(JsIsolateContext { progress: None });
}

/// One JS call: the module, the export, the arguments (structured-cloned), the values to move
/// by transfer, and where `reportProgress` goes.
#[derive(Serialize, Deserialize)]
struct JsCall {
    module: TaskSource,
    export: String,
    /// The arguments array; SendPorts in it travel as ports, `transfer` moves.
    args: JsMessage,
    progress: Option<SendPort<Progress>>,
}

/// A JS task's result: the value, and what in it moves back instead of being copied (a
/// `transfer(value, list)` result).
#[derive(Serialize, Deserialize)]
struct JsResult {
    value: Transferable<JsValue>,
    transfer: Vec<Transferable<JsValue>>,
}

/// Runs in the isolate. A task of a module already loaded that returns a plain value completes
/// in its first poll, which the dispatcher makes at once (`inside::dispatch`): no promise, no
/// turn of the event loop between the call's arrival and its reply.
async fn js_call(call: JsCall) -> Result<JsResult, Thrown> {
    let end = call.progress.clone();
    let value = async {
        let context = match call.progress {
            None => SHARED_CONTEXT.with(JsValue::clone),
            Some(port) => JsIsolateContext {
                progress: Some(port),
            }
            .into(),
        };
        let started = call
            .module
            .start(&call.export, &call.args.into_js(), &context)
            .map_err(|e| Thrown::from_js(&e))?;
        match started.dyn_into::<Promise>() {
            Ok(promise) => JsFuture::from(promise)
                .await
                .map_err(|e| Thrown::from_js(&e)),
            Err(value) => Ok(value),
        }
    }
    .await;
    if let Some(end) = end {
        // After every report, on the same port: the caller waits for it (see `while_listening`).
        let _ = end.send(None);
    }
    let value = value?;
    if !value.is_object() {
        // A number, a string... (most results): nothing in it can be a `transfer()` result.
        return Ok(JsResult {
            value: Transferable(value),
            transfer: Vec::new(),
        });
    }
    let parts = unwrap_transfer(&value);
    Ok(JsResult {
        value: Transferable(parts.get(0)),
        transfer: Array::from(&parts.get(1))
            .iter()
            .map(Transferable)
            .collect(),
    })
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
    /**
     * Starts the pool's isolates from a worker script of yours, so that your bundler builds the
     * tasks into it (TypeScript, their imports): a function returning
     * `new Worker(new URL('./tasks.worker.ts', import.meta.url), { type: 'module' })`, whose script
     * calls `serve(tasks)` from `wasm-isolates/worker`. Name those tasks with `tasksOf()`. Task
     * modules named by URL still work in such a pool. Default: the package's own worker script.
     */
    worker?: WorkerFactory;
    /**
     * With `worker`: how long a new worker may take to call `serve()`; then its start fails with
     * `IsolateStartError` (a script that never calls it cannot hang the pool). Default: 20000.
     */
    startTimeout?: number;
}

/**
 * The `worker` option of `IsolatePool` and `spawnIsolate`: returns a new module Worker whose
 * script calls `serve(tasks)` from `wasm-isolates/worker`, e.g.
 * `() => new Worker(new URL('./tasks.worker.ts', import.meta.url), { type: 'module' })` (write
 * it literally so that the bundler builds the worker). `name` is the isolate's name for devtools;
 * passing it on is optional.
 */
export type WorkerFactory = (options: { name: string }) => Worker;

declare const tasksType: unique symbol;

/**
 * What `tasksOf<M>()` returns: it names the tasks a worker script registered with `serve()`, in
 * place of a module URL. `M` is the type of their module (`typeof import('./tasks')`).
 */
export interface Tasks<M> {
    readonly [tasksType]: M;
}

/** The names of the function exports of a task module `M`. */
export type TaskName<M> = { [K in keyof M]: M[K] extends (...args: any[]) => unknown ? K : never }[keyof M] & string;

/**
 * The arguments `run` and `stream` take for task `F`: its parameters without a trailing
 * `IsolateContext` (which the isolate appends).
 */
export type TaskArgs<F> = F extends (...args: infer P) => unknown
    ? P extends [...infer A, infer Last]
        ? 0 extends 1 & Last ? P : [Last] extends [IsolateContext] ? A : P
        : P
    : never;

/** The message a spawned entry `F` takes: its first parameter. */
export type EntryMessage<F> = F extends (message: infer T, ...rest: any[]) => unknown ? T : never;

/** Options of `IsolatePool.run`. */
export interface RunOptions {
    /** Aborting it rejects the call with the signal's `reason` (an `AbortError` by default) and cancels the task. */
    signal?: AbortSignal;
    /** Values in `args` to move to the isolate instead of copying them (detached here). */
    transfer?: Transferable[];
    /**
     * Hears the task's `context.reportProgress(done, total)`: every report, in order, before the
     * call settles.
     */
    onProgress?: (done: number, total: number | undefined) => void;
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
    /// Tasks that threw: the Rust pool counts them as completed (the isolate returned a value,
    /// `Err(Thrown)`), the JS caller sees a failure, so `stats()` moves them over.
    thrown: Rc<Cell<u64>>,
    /// Whether the pool has a `worker` option (its task modules are then named by export only).
    has_factory: bool,
}

#[wasm_bindgen(js_class = IsolatePool)]
impl JsIsolatePool {
    /// Creates a pool; every option is optional (times in milliseconds).
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_optional_param_type = "IsolatePoolOptions")] options: JsValue,
    ) -> Result<JsIsolatePool, JsValue> {
        let factory = worker_factory(&options, "IsolatePool")?;
        let has_factory = factory.is_some();
        let mut b: PoolBuilder = IsolatePool::builder().debug_name("js");
        if let Some(factory) = factory {
            b = b.worker_factory(factory);
        }
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
        Ok(JsIsolatePool {
            pool: b.build()?,
            thrown: Rc::new(Cell::new(0)),
            has_factory,
        })
    }

    /// `run(module, exportName, args = [], {signal, transfer, onProgress} = {})`: calls
    /// `(await import(module))[exportName](...args, context)` in an isolate and resolves with its
    /// result. `module` is an absolute URL or a `URL` (e.g. `new URL('./task.js',
    /// import.meta.url)`); `transfer` lists buffers in `args` to move instead of copy;
    /// `onProgress(done, total)` hears the task's `context.reportProgress`. Rejects with an
    /// `IsolateTaskError` whose `cause` is the task's own error (stack included), or with the
    /// pool's errors (`AbortError`, `IsolateTimeoutError`, `IsolateWorkerError`, ...).
    /// (Declared in `TS_STREAM`, with a type parameter for the result.)
    #[wasm_bindgen(skip_typescript)]
    pub fn run(
        &self,
        module: JsValue,
        #[wasm_bindgen(js_name = exportName)] export_name: String,
        args: JsValue,
        options: JsValue,
    ) -> Promise {
        let call = match self.prepare(&module, export_name, &args, &options, "run") {
            Ok(call) => call,
            Err(e) => return Promise::reject(&e),
        };
        let on_progress = crate::js::support::get(&options, "onProgress");
        let on_progress = if on_progress.is_undefined() || on_progress.is_null() {
            None
        } else {
            match on_progress.dyn_into::<js_sys::Function>() {
                Ok(f) => Some(f),
                Err(_) => {
                    return Promise::reject(&crate::js::support::type_error(
                        "run: onProgress must be a function",
                    ))
                }
            }
        };
        let progress = match on_progress.as_ref().map(|_| ReceivePort::<Progress>::new()) {
            Some(Ok(port)) => Some(port),
            Some(Err(e)) => return Promise::reject(&e.into()),
            None => None,
        };
        let (call, signal) = call;
        if progress.is_none() {
            return self.run_direct(call, signal);
        }
        let call = JsCall {
            progress: progress.as_ref().map(ReceivePort::send_port),
            ..call
        };
        let handle: crate::pool::TaskHandle<Result<JsResult, Thrown>> = self
            .pool
            .submit(crate::wire::task::TaskRef::eager(js_call), call);
        let thrown = self.thrown.clone();
        future_to_promise(async move {
            let result = crate::js::port::while_listening(
                progress,
                |done: f64, total: f64| {
                    if let Some(f) = &on_progress {
                        // A listener that throws does not fail the task.
                        let total = if total.is_nan() {
                            JsValue::UNDEFINED
                        } else {
                            total.into()
                        };
                        let _ = f.call2(&JsValue::UNDEFINED, &done.into(), &total);
                    }
                },
                crate::js::support::abortable(signal.as_ref(), async move {
                    handle.await.map_err(JsValue::from)
                }),
                // The task's function returned or threw: its end marker is on its way.
                |result| result.is_ok(),
            )
            .await?;
            match result {
                Ok(r) => Ok(r.value.0),
                Err(t) => {
                    thrown.set(thrown.get() + 1);
                    Err(t.into_js())
                }
            }
        })
    }

    /// `stream(module, exportName, args = [], {window, transfer} = {})`: runs an async generator
    /// exported by `module` in an isolate and returns its items as an async iterable, with
    /// backpressure: the generator runs at most `window` items (default 4) ahead of the consumer.
    #[wasm_bindgen(skip_typescript)]
    pub fn stream(
        &self,
        module: JsValue,
        #[wasm_bindgen(js_name = exportName)] export_name: String,
        args: JsValue,
        options: JsValue,
    ) -> Result<crate::js::stream::JsTaskStream, JsValue> {
        let (call, _) = self.prepare(&module, export_name, &args, &options, "stream")?;
        let window = number(&options, "window").map_or(4, |n| (n as u32).max(1));
        crate::js::stream::start(&self.pool, call.module, call.export, call.args, window)
    }

    /// `{size, live, busy, queued, waiting, completed, failed, restarted}`.
    #[wasm_bindgen(unchecked_return_type = "PoolStats")]
    pub fn stats(&self) -> Result<JsValue, JsValue> {
        let mut stats = self.pool.stats();
        let thrown = self.thrown.get().min(stats.completed);
        stats.completed -= thrown;
        stats.failed += thrown;
        crate::js::to_js(&stats)
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

impl JsIsolatePool {
    /// `run` without `onProgress`: the promise is settled by the pool from the worker's message
    /// handler (`IsolatePool::submit_with_callback`), with no Rust future, executor turn or
    /// progress port in between. The outcomes are `run`'s: the task's value, an
    /// `IsolateTaskError` for what it threw (counted as failed in `stats()`), the pool's errors,
    /// or the signal's reason at once when it aborts (the task is then cancelled).
    fn run_direct(&self, call: JsCall, signal: Option<web_sys::AbortSignal>) -> Promise {
        let mut settle: Option<(js_sys::Function, js_sys::Function)> = None;
        let promise = Promise::new(&mut |resolve, reject| settle = Some((resolve, reject)));
        let Some((resolve, reject)) = settle else {
            // The executor runs synchronously, so this cannot happen.
            return promise;
        };
        // Settled once, by whichever comes first: the reply or the signal.
        let done = Rc::new(Cell::new(false));
        // While a signal is listened to: the listener, and how to stop listening.
        type Listening = (Closure<dyn FnMut(JsValue)>, js_sys::Function);
        let listening: Rc<std::cell::RefCell<Option<Listening>>> = Rc::default();
        let on_reply = {
            let (done, listening, thrown) = (done.clone(), listening.clone(), self.thrown.clone());
            let reject = reject.clone();
            Box::new(move |reply: crate::pool::ReplyResult| {
                if let Some((_listener, stop)) = listening.borrow_mut().take() {
                    let _ = stop.call0(&JsValue::UNDEFINED);
                }
                if done.replace(true) {
                    return; // aborted: the caller has its answer
                }
                let outcome = reply
                    .and_then(|payload| payload.decode::<Result<JsResult, Thrown>>())
                    .map_err(JsValue::from);
                let _ = match outcome {
                    Ok(Ok(r)) => resolve.call1(&JsValue::UNDEFINED, &r.value.0),
                    Ok(Err(t)) => {
                        thrown.set(thrown.get() + 1);
                        reject.call1(&JsValue::UNDEFINED, &t.into_js())
                    }
                    Err(e) => reject.call1(&JsValue::UNDEFINED, &e),
                };
            })
        };
        let id = self.pool.submit_with_callback(
            crate::wire::task::TaskRef::eager(js_call),
            &call,
            on_reply,
        );
        if let (Some(signal), false) = (signal, done.get()) {
            let pool = self.pool.clone();
            let aborted = done.clone();
            let on_abort = Closure::<dyn FnMut(JsValue)>::new(move |reason: JsValue| {
                if !aborted.replace(true) {
                    let _ = reject.call1(&JsValue::UNDEFINED, &reason);
                    pool.cancel_task(id);
                }
            });
            let stop = listen_for_abort(&signal, &on_abort);
            // Kept until the task settles, unless the signal had aborted already (the listener
            // ran at once, and no listener was added).
            if !done.get() {
                *listening.borrow_mut() = Some((on_abort, stop));
            }
        }
        promise
    }

    /// Checks and converts the arguments shared by `run` and `stream`.
    fn prepare(
        &self,
        module: &JsValue,
        export: String,
        args: &JsValue,
        options: &JsValue,
        what: &str,
    ) -> Result<(JsCall, Option<web_sys::AbortSignal>), JsValue> {
        let module = TaskSource::from_js(module, self.has_factory, what)?;
        let args = if args.is_undefined() || args.is_null() {
            Array::new().into()
        } else {
            args.clone()
        };
        if !args.is_instance_of::<Array>() {
            return Err(crate::js::support::type_error(format!(
                "{what}: args must be an array"
            )));
        }
        let args = JsMessage::from_js(&args, &crate::js::support::get(options, "transfer"))?;
        let signal: Option<web_sys::AbortSignal> =
            crate::js::support::get(options, "signal").dyn_into().ok();
        Ok((
            JsCall {
                module,
                export,
                args,
                progress: None,
            },
            signal,
        ))
    }
}
