//! The JS API's long-lived isolates: `spawnIsolate(module, exportName, message, options)` runs an
//! exported function of an ES module in its own isolate, on the Rust [`Isolate`] — the same
//! SharedArrayBuffer gate, kill, pause, listeners and exit as Rust's `Isolate::spawn`. A Rust
//! entry ([`js_entry`]) imports the module inside the isolate and calls the export with the
//! message and an [`IsolateContext`](JsIsolateContext).

use crate::error::IsolateError;
use crate::isolate::{ExitReason, Isolate, IsolateState, Priority};
use crate::js::port::{JsMessage, JsReceivePort, JsSendPort};
use crate::js::support::{get, worker_factory, TaskSource, Thrown};
use crate::port::{ReceivePort, SendPort};
use futures_core::Stream;
use js_sys::{Array, Promise};
use serde::{Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Duration;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, spawn_local, JsFuture};

#[wasm_bindgen(module = "/worker/js-api.js")]
extern "C" {
    #[wasm_bindgen(js_name = callFunction)]
    pub(crate) fn call_function(f: &JsValue, args: &Array) -> Promise;
    #[wasm_bindgen(js_name = reportUncaught)]
    fn report_uncaught(error: &JsValue);
    #[wasm_bindgen(catch, js_name = transfer)]
    fn transfer_js(value: &JsValue, list: &JsValue) -> Result<JsValue, JsValue>;
}

/// What a spawned JS isolate receives.
#[derive(Serialize, Deserialize)]
struct JsSpawn {
    module: TaskSource,
    export: String,
    message: JsMessage,
    /// Told once the module loaded and the export is a function (or why not), so that
    /// `spawnIsolate` rejects for a bad module instead of resolving with a dying isolate.
    started: SendPort<Result<(), Thrown>>,
}

/// Runs in the isolate: loads the entry, reports, runs it until its promise settles.
async fn js_entry(spawn: JsSpawn) {
    let entry = match JsFuture::from(spawn.module.load(&spawn.export)).await {
        Ok(f) => f,
        Err(e) => {
            let _ = spawn.started.send(Err(Thrown::from_js(&e)));
            return;
        }
    };
    let _ = spawn.started.send(Ok(()));
    let args = Array::of2(
        &spawn.message.into_js(),
        &JsIsolateContext { progress: None }.into(),
    );
    if let Err(e) = JsFuture::from(call_function(&entry, &args)).await {
        // Uncaught in Dart's terms: to the error listeners, and fatal unless errorsAreFatal is
        // false. Reported before this entry's end is posted, on the same channel.
        report_uncaught(&e);
    }
}

/// The second argument of a spawned entry, and the argument after `args` of a pool task or
/// stream: what code in an isolate can ask of the library without importing it (a bundled task
/// module could not import the isolate's own copy of the package).
#[wasm_bindgen(js_name = IsolateContext, skip_typescript)]
pub struct JsIsolateContext {
    pub(crate) progress: Option<SendPort<crate::js::port::Progress>>,
}

/// `args` with the task's `IsolateContext` appended.
pub(crate) fn with_context(
    args: &JsValue,
    progress: Option<SendPort<crate::js::port::Progress>>,
) -> Array {
    let args = Array::from(args);
    args.push(&JsIsolateContext { progress }.into());
    args
}

#[wasm_bindgen(js_class = IsolateContext)]
impl JsIsolateContext {
    /// A new `ReceivePort` in this isolate.
    #[wasm_bindgen(js_name = receivePort)]
    pub fn receive_port(&self) -> Result<JsReceivePort, JsValue> {
        JsReceivePort::open()
    }

    /// Tells the caller's `onProgress` how far the task is; does nothing where no one listens.
    #[wasm_bindgen(js_name = reportProgress)]
    pub fn report_progress(&self, done: f64, total: JsValue) {
        if let Some(port) = &self.progress {
            // The caller may be gone; progress is advisory.
            let _ = port.send(Some((done, total.as_f64().unwrap_or(f64::NAN))));
        }
    }

    /// `transfer(value, list)`: a result (or yielded item, or message) whose `list` moves.
    pub fn transfer(&self, value: JsValue, list: JsValue) -> Result<JsValue, JsValue> {
        transfer_js(&value, &list)
    }

    /// True once the parent asked this isolate to stop (`kill({priority: 'beforeNextEvent'})`) or
    /// cancelled this task, where SharedArrayBuffer exists; long loops should check it.
    #[wasm_bindgen(js_name = shouldStop)]
    pub fn should_stop(&self) -> bool {
        crate::inside::lifecycle::should_stop()
            || crate::wire::control::CancellationToken::current().is_cancelled()
    }

    /// True while the parent holds this isolate paused.
    #[wasm_bindgen(js_name = isPaused)]
    pub fn is_paused(&self) -> bool {
        crate::inside::pause::is_paused()
    }
}

fn priority(options: &JsValue) -> Result<Priority, JsValue> {
    match get(options, "priority").as_string().as_deref() {
        None | Some("beforeNextEvent") => Ok(Priority::BeforeNextEvent),
        Some("immediate") => Ok(Priority::Immediate),
        Some(other) => Err(crate::js::support::type_error(format!(
            "kill: priority must be 'immediate' or 'beforeNextEvent', not '{other}'"
        ))),
    }
}

/// `spawnIsolate(module, exportName, message, options)`; see `TS_ISOLATE`.
#[wasm_bindgen(js_name = spawnIsolate, skip_typescript)]
pub fn spawn_isolate(
    module: JsValue,
    export_name: String,
    message: JsValue,
    options: JsValue,
) -> Promise {
    let prepared = (|| {
        let factory = worker_factory(&options, "spawnIsolate")?;
        let module = TaskSource::from_js(&module, factory.is_some(), "spawnIsolate")?;
        let message = JsMessage::from_js(&message, &get(&options, "transfer"))?;
        let started = ReceivePort::<Result<(), Thrown>>::new()?;
        let debug_name = get(&options, "debugName")
            .as_string()
            .unwrap_or_else(|| "js".into());
        let mut builder = Isolate::builder().debug_name(debug_name);
        if let Some(factory) = factory {
            builder = builder.worker_factory(factory);
        }
        if let Some(fatal) = get(&options, "errorsAreFatal").as_bool() {
            builder = builder.errors_are_fatal(fatal);
        }
        if let Some(ms) = get(&options, "killGrace").as_f64().filter(|n| *n >= 0.0) {
            builder = builder.kill_grace(Duration::from_secs_f64(ms / 1000.0));
        }
        let spawned = builder.spawn_async(
            js_entry,
            JsSpawn {
                module,
                export: export_name,
                message,
                started: started.send_port(),
            },
        );
        Ok::<_, JsValue>((spawned, started))
    })();
    future_to_promise(async move {
        let (spawned, mut started) = prepared?;
        let isolate = spawned.await?;
        let report = std::future::poll_fn(|cx| Pin::new(&mut started).poll_next(cx)).await;
        match report {
            Some(Ok(Ok(()))) => Ok(JsIsolate { inner: isolate }.into()),
            Some(Ok(Err(thrown))) => {
                isolate.kill(Priority::Immediate);
                Err(thrown.into_js())
            }
            Some(Err(e)) => {
                isolate.kill(Priority::Immediate);
                Err(e.into())
            }
            // The isolate exited before it could say (the port is linked to it).
            None => Err(match isolate.exited().await {
                ExitReason::Failed(e) => e.into(),
                _ => IsolateError::StartFailed {
                    message: "the isolate exited before its entry started".into(),
                }
                .into(),
            }),
        }
    })
}

/// A handle to a spawned isolate — Dart's `Isolate`.
#[wasm_bindgen(js_name = Isolate, skip_typescript)]
pub struct JsIsolate {
    inner: Isolate,
}

fn exit_to_js(reason: ExitReason) -> JsValue {
    let o = js_sys::Object::new();
    let (name, error) = match reason {
        ExitReason::Returned => ("returned", JsValue::UNDEFINED),
        ExitReason::Killed => ("killed", JsValue::UNDEFINED),
        ExitReason::Failed(e) => ("failed", e.into()),
    };
    let _ = js_sys::Reflect::set(&o, &"reason".into(), &name.into());
    if !error.is_undefined() {
        let _ = js_sys::Reflect::set(&o, &"error".into(), &error);
    }
    o.into()
}

#[wasm_bindgen(js_class = Isolate)]
impl JsIsolate {
    /// The `debugName` it was spawned with.
    #[wasm_bindgen(getter, js_name = debugName)]
    pub fn debug_name(&self) -> String {
        self.inner.debug_name().to_string()
    }

    /// `'starting' | 'running' | 'paused' | 'exiting' | 'dead'`.
    #[wasm_bindgen(getter)]
    pub fn state(&self) -> String {
        match self.inner.state() {
            IsolateState::Starting => "starting",
            IsolateState::Running => "running",
            IsolateState::Paused => "paused",
            IsolateState::Exiting => "exiting",
            _ => "dead",
        }
        .into()
    }

    /// `kill({priority})`: `'beforeNextEvent'` (the default, as in Dart) asks first and
    /// terminates after `killGrace`; `'immediate'` terminates now. Killing a dead isolate does
    /// nothing.
    pub fn kill(&self, options: JsValue) -> Result<(), JsValue> {
        self.inner.kill(priority(&options)?);
        Ok(())
    }

    /// Holds delivery of messages on the isolate's ReceivePorts until `resume()`.
    pub fn pause(&self) {
        self.inner.pause();
    }

    /// Resumes delivery after `pause()`.
    pub fn resume(&self) {
        self.inner.resume();
    }

    /// Resolves once the isolate has exited: `{reason: 'returned' | 'killed' | 'failed', error?}`.
    #[wasm_bindgen(getter)]
    pub fn exited(&self) -> Promise {
        let exited = self.inner.exited();
        future_to_promise(async move { Ok(exit_to_js(exited.await)) })
    }

    /// Sends `response` on `port` when the isolate exits, however it exits (Dart's
    /// `addOnExitListener`); at once if it already exited.
    #[wasm_bindgen(js_name = addOnExitListener)]
    pub fn add_on_exit_listener(
        &self,
        port: &JsSendPort,
        response: JsValue,
    ) -> Result<(), JsValue> {
        let target = port
            .port()
            .ok_or_else(|| crate::js::js_error("IsolateError", "this SendPort was freed", &[]))?;
        let response = JsMessage::from_js(&response, &JsValue::UNDEFINED)?;
        self.inner.add_on_exit_listener(&target, response);
        Ok(())
    }

    /// Hands every error the isolate reports (an uncaught error or rejection, a panic) to
    /// `listener`: a function, called with the error, or a `SendPort`, sent the error (Dart's
    /// `addErrorListener`). The errors are `IsolateWorkerError` / `IsolatePanicError` objects.
    #[wasm_bindgen(js_name = addErrorListener)]
    pub fn add_error_listener(&self, listener: JsValue) -> Result<(), JsValue> {
        let deliver: Box<dyn Fn(JsValue)> = if let Some(f) = listener.dyn_ref::<js_sys::Function>()
        {
            let f = f.clone();
            Box::new(move |e| {
                // A listener that throws must not stop the others.
                let _ = f.call1(&JsValue::UNDEFINED, &e);
            })
        } else if let Some(id) = get(&listener, "__wasmIsolatesSendPortId")
            .dyn_ref::<js_sys::Function>()
            .and_then(|f| f.call0(&listener).ok())
            .and_then(|id| id.as_f64())
        {
            let _ = id;
            let send = js_sys::Reflect::get(&listener, &"send".into())?;
            let send: js_sys::Function = send.unchecked_into();
            let listener = listener.clone();
            Box::new(move |e| {
                let _ = send.call1(&listener, &e);
            })
        } else {
            return Err(crate::js::support::type_error(
                "addErrorListener: the listener must be a function or a SendPort",
            ));
        };
        let mut errors = ReceivePort::<IsolateError>::new()?;
        self.inner.add_error_listener(&errors.send_port());
        let exited = self.inner.exited();
        spawn_local(async move {
            // Until the isolate exits, then a moment more for reports still on their way (the
            // port's messages and the exit notice travel apart), then the listener goes.
            let mut exited = std::pin::pin!(exited);
            let mut trailing: Option<crate::platform::timer::Delay> = None;
            std::future::poll_fn(|cx| loop {
                match Pin::new(&mut errors).poll_next(cx) {
                    Poll::Ready(Some(Ok(e))) => deliver(e.into()),
                    Poll::Ready(Some(Err(_))) => {}
                    Poll::Ready(None) => return Poll::Ready(()),
                    Poll::Pending => {
                        if trailing.is_none() && exited.as_mut().poll(cx).is_ready() {
                            trailing = Some(crate::platform::timer::Delay::new(
                                crate::platform::timer::AFTER_EXIT,
                            ));
                        }
                        let done = trailing
                            .as_mut()
                            .is_some_and(|d| Pin::new(d).poll(cx).is_ready());
                        return if done { Poll::Ready(()) } else { Poll::Pending };
                    }
                }
            })
            .await;
            errors.close();
        });
        Ok(())
    }
}

#[wasm_bindgen(typescript_custom_section)]
const TS_ISOLATE: &str = r#"
/** Options of `spawnIsolate`. */
export interface SpawnOptions {
    /** The isolate's name in devtools and in `isolate.debugName`. Default: `"js"`. */
    debugName?: string;
    /** Whether an uncaught error (or a rejection of the entry's promise) ends the isolate. Default: `true`, as in Dart. */
    errorsAreFatal?: boolean;
    /** How long `kill({priority: 'beforeNextEvent'})` waits before terminating, in ms. Default: 500. */
    killGrace?: number;
    /** Values in `message` to move instead of copying them. */
    transfer?: Transferable[];
    /**
     * Starts the isolate from a worker script of yours whose script calls `serve(tasks)` from
     * `wasm-isolates/worker` (see `IsolatePoolOptions.worker`); name the entry with `tasksOf()`.
     */
    worker?: WorkerFactory;
    /** With `worker`: how long the worker may take to call `serve()` (then `IsolateStartError`). Default: 20000. */
    startTimeout?: number;
}

/** How an isolate ended, from `isolate.exited`. */
export interface IsolateExit {
    /** `returned`: its entry's promise settled; `killed`: `kill()`; `failed`: an error ended it (`error`). */
    reason: "returned" | "killed" | "failed";
    error?: Error;
}

/**
 * What code running in an isolate gets from the library: the second argument of a spawned entry,
 * and the argument after `args` of a pool task (`pool.run`, `pool.stream`).
 */
export class IsolateContext {
    private constructor();
    /** A new `ReceivePort` in this isolate. */
    receivePort<T = unknown>(): ReceivePort<T>;
    /** Tells the caller's `onProgress(done, total)` how far the task is (pool tasks); otherwise does nothing. */
    reportProgress(done: number, total?: number): void;
    /** A result (or yielded item) whose `list` of buffers moves to the caller instead of being copied. */
    transfer<T>(value: T, list: Transferable[]): T;
    /** True once the parent asked to stop (kill with `beforeNextEvent`, or the task was cancelled); needs SharedArrayBuffer. */
    shouldStop(): boolean;
    /** True while the parent holds this isolate paused. */
    isPaused(): boolean;
    free(): void;
    [Symbol.dispose](): void;
}

/** A long-lived isolate — Dart's `Isolate`. It lives until its entry's promise settles, or it is killed. */
export class Isolate {
    private constructor();
    readonly debugName: string;
    readonly state: "starting" | "running" | "paused" | "exiting" | "dead";
    /** `beforeNextEvent` (default) asks first, then terminates after `killGrace`; `immediate` terminates now. */
    kill(options?: { priority?: "immediate" | "beforeNextEvent" }): void;
    /** Holds delivery of messages on the isolate's ReceivePorts (queued, not dropped) until `resume()`. */
    pause(): void;
    resume(): void;
    /** Resolves once the isolate has exited. */
    readonly exited: Promise<IsolateExit>;
    /** Sends `response` on `port` when the isolate exits, however it exits (at once if it already did). */
    addOnExitListener<R>(port: SendPort<R>, response?: R): void;
    /** Every error the isolate reports (`IsolateWorkerError`, `IsolatePanicError`), to a function or a port. */
    addErrorListener(listener: ((error: Error) => void) | SendPort<Error>): void;
    /** Releases the handle; the isolate keeps running (as in Dart, it lives until it exits or is killed). */
    free(): void;
    [Symbol.dispose](): void;
}

/**
 * Spawns a long-lived isolate running `(await import(module))[exportName](message, context)` —
 * Dart's `Isolate.spawn(entry, message)`. It resolves once the entry has started, and rejects
 * with `IsolateUnsupportedError` without SharedArrayBuffer (a page that is not cross-origin
 * isolated), with `IsolateTaskError` when the module does not load or the export is not a
 * function, and with `IsolateDataError` when `message` cannot be cloned. SendPorts inside
 * `message` travel as ports.
 */
export function spawnIsolate<M = unknown>(module: string | URL, exportName: string, message?: M, options?: SpawnOptions): Promise<Isolate>;
/**
 * Spawns a long-lived isolate running entry `exportName(message, context)` registered by
 * `serve()` in the script of `options.worker`; `tasks` is `tasksOf<typeof import('./tasks')>()`.
 */
export function spawnIsolate<M, K extends TaskName<M>>(tasks: Tasks<M>, exportName: K, message: EntryMessage<M[K]>, options: SpawnOptions & { worker: WorkerFactory }): Promise<Isolate>;
"#;
