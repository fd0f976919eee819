//! Small helpers shared by the JS-facing modules.

use crate::parent::worker::WorkerFactory;
use js_sys::{Promise, Reflect};
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
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

#[wasm_bindgen(module = "/worker/host.js")]
extern "C" {
    #[wasm_bindgen(js_name = describeError)]
    fn describe_error(error: &JsValue) -> JsValue;
}

/// What a JS task or entry threw, kept whole (name, message, stack) for the caller on the other
/// side of the thread boundary.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone)]
pub(crate) struct Thrown {
    pub(crate) name: String,
    pub(crate) message: String,
    pub(crate) stack: String,
}

impl Thrown {
    /// Describes anything thrown in JS.
    pub(crate) fn from_js(e: &JsValue) -> Self {
        let d = describe_error(e);
        let field = |k: &str| get(&d, k).as_string().unwrap_or_default();
        Thrown {
            name: field("name"),
            message: field("message"),
            stack: field("stack"),
        }
    }

    /// An `IsolateTaskError` whose `cause` is the isolate's error, stack and all, so it is not
    /// lost at the thread boundary (Comlink #545).
    pub(crate) fn into_js(self) -> JsValue {
        let cause = js_sys::Error::new(&self.message);
        cause.set_name(&self.name);
        let _ = Reflect::set(&cause, &"stack".into(), &self.stack.into());
        crate::js::js_error(
            "IsolateTaskError",
            &format!("task threw {}: {}", self.name, self.message),
            &[("cause", cause.into())],
        )
    }
}

#[wasm_bindgen(module = "/worker/js-api.js")]
extern "C" {
    #[wasm_bindgen(js_name = isTasksHandle)]
    fn is_tasks_handle(value: &JsValue) -> bool;
    #[wasm_bindgen(js_name = loadExport)]
    fn load_export(url: Option<&str>, name: &str) -> Promise;
    #[wasm_bindgen(js_name = moduleUrlOf)]
    fn module_url_of(module: &JsValue) -> Option<String>;
    #[wasm_bindgen(catch, js_name = startTask)]
    fn start_task(
        url: Option<&str>,
        name: &str,
        args: &JsValue,
        context: &JsValue,
    ) -> Result<JsValue, JsValue>;
}

/// Where a JS task's function comes from, as it travels to the isolate.
#[derive(serde::Serialize, serde::Deserialize, Debug, Clone)]
pub(crate) enum TaskSource {
    /// An ES module imported by URL in the isolate.
    Url(String),
    /// The tasks the worker script registered with `serve()` (a `tasksOf()` handle).
    Registered,
}

impl TaskSource {
    /// `module` as given to `run`, `stream` or `spawnIsolate`: a `tasksOf()` handle, or a URL
    /// (see [`module_url`]). A handle needs a worker factory (`has_factory`), because only a
    /// worker script of the user's calls `serve()`; without one it is a `TypeError` at once
    /// rather than a task that cannot find its function.
    pub(crate) fn from_js(
        module: &JsValue,
        has_factory: bool,
        what: &str,
    ) -> Result<Self, JsValue> {
        if !is_tasks_handle(module) {
            return module_url(module, what).map(TaskSource::Url);
        }
        if !has_factory {
            return Err(type_error(format!(
                "{what}: tasksOf() names tasks that a worker script registers with serve(), \
                 so it needs the `worker` option (a function returning that Worker)"
            )));
        }
        Ok(TaskSource::Registered)
    }

    /// In the isolate: the task's function (a promise of it, rejected with a `TypeError` when
    /// the module does not export `name`, or no `serve()` registered it).
    pub(crate) fn load(&self, name: &str) -> Promise {
        load_export(self.url(), name)
    }

    /// In the isolate: calls the task's function with `args` (an array) and `context` after
    /// them. `Ok` holds its value, or a `Promise` of it when the task is asynchronous or its
    /// module is not loaded yet (worker/js-api.js, `startTask`); `Err` what it threw at once.
    pub(crate) fn start(
        &self,
        name: &str,
        args: &JsValue,
        context: &JsValue,
    ) -> Result<JsValue, JsValue> {
        start_task(self.url(), name, args, context)
    }

    fn url(&self) -> Option<&str> {
        match self {
            TaskSource::Url(url) => Some(url),
            TaskSource::Registered => None,
        }
    }
}

/// How long a worker made by a `worker` option may take to start the isolate protocol (its
/// script's `serve()` call), unless `startTimeout` says otherwise. Long enough for a dev server
/// that transpiles the worker's module graph on first request on a slow machine.
const DEFAULT_START_TIMEOUT_MS: f64 = 20_000.0;

/// Reads `options.worker`, the JS pool's or `spawnIsolate`'s worker factory (and
/// `options.startTimeout`, ms): `None` when there is none, a `TypeError` when `worker` is not a
/// function. The pool or isolate builder takes it (`worker_factory`), and every worker it starts
/// is made by it.
pub(crate) fn worker_factory(
    options: &JsValue,
    what: &str,
) -> Result<Option<WorkerFactory>, JsValue> {
    let worker = get(options, "worker");
    if worker.is_undefined() || worker.is_null() {
        return Ok(None);
    }
    let function = worker.dyn_into::<js_sys::Function>().map_err(|_| {
        type_error(format!(
            "{what}: the worker option must be a function returning a Worker, e.g. \
             () => new Worker(new URL('./tasks.worker.js', import.meta.url), {{type: 'module'}})"
        ))
    })?;
    let start_timeout_ms = get(options, "startTimeout")
        .as_f64()
        .filter(|n| *n > 0.0)
        .unwrap_or(DEFAULT_START_TIMEOUT_MS);
    Ok(Some(WorkerFactory {
        function,
        start_timeout_ms,
    }))
}

/// `module` (a string or a `URL`) as an absolute URL string, resolved against this scope's
/// location as `new URL(module, location.href)` would; `what` names the caller in the error.
pub(crate) fn module_url(module: &JsValue, what: &str) -> Result<String, JsValue> {
    // In JS, with a cache: see `moduleUrlOf` in worker/js-api.js for why.
    module_url_of(module)
        .ok_or_else(|| type_error(format!("{what}: module must be a URL or a string")))
}

/// `{value, done}`, an iterator result.
pub(crate) fn iter_result(value: &JsValue, done: bool) -> JsValue {
    let o = js_sys::Object::new();
    let _ = Reflect::set(&o, &"value".into(), value);
    let _ = Reflect::set(&o, &"done".into(), &done.into());
    o.into()
}

/// Polls `fut` once without waiting: `Some(output)` if it is ready now.
pub(crate) fn poll_now<F: Future + Unpin>(fut: &mut F) -> Option<F::Output> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match Pin::new(fut).poll(&mut cx) {
        Poll::Ready(v) => Some(v),
        Poll::Pending => None,
    }
}
