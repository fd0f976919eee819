//! [gloo-worker](https://docs.rs/gloo-worker/0.6) interop (cargo feature `gloo`).
//!
//! A gloo-worker [`Worker`] is normally its own program: a second binary built into a second
//! wasm bundle (Trunk's `data-type="worker"`), which gloo's spawner starts from a script path.
//! [`SpawnInIsolate::spawn_in_isolate`] runs the same `Worker` implementation in a Web Worker
//! that instantiates **this** module instead, the way this crate's isolates do: no second
//! bundle, no worker path, the compiled `WebAssembly.Module` posted rather than fetched again.
//! It returns gloo's own [`WorkerBridge`], so code that holds bridges (callbacks, `fork`,
//! `send`, yew-agent) does not change.
//!
//! [`IsolateCodec`] is a gloo [`Codec`] that encodes messages the way this crate does:
//! MessagePack bytes, so every serde type works (gloo's default `Bincode` cannot decode
//! `serde_json::Value`, untagged enums or `#[serde(flatten)]`), with every
//! [`TransferBuffer`](crate::wire::transfer::TransferBuffer) and [`Transferable`](crate::wire::transfer::Transferable) in a
//! message attached as a JS value. In a worker started by `spawn_in_isolate` (both directions)
//! those attachments and the payload are *transferred*, not copied: gloo itself posts without a
//! transfer list, so the spawner adds one to that worker's `postMessage`. Elsewhere they are
//! structured-cloned (copied), and a `Transferable` that can only be transferred (a
//! `MessagePort`, hence a [`SendPort`](crate::port::SendPort)) cannot be sent.
//!
//! ```no_run
//! use gloo_worker::{HandlerId, Spawnable, Worker, WorkerScope};
//! use serde::{Deserialize, Serialize};
//! use wasm_isolates::gloo::{IsolateCodec, SpawnInIsolate};
//! use wasm_isolates::TransferBuffer;
//!
//! #[derive(Serialize, Deserialize)]
//! pub struct Samples(TransferBuffer<f64>);
//!
//! pub struct Summer;
//!
//! impl Worker for Summer {
//!     type Message = ();
//!     type Input = Samples;
//!     type Output = f64;
//!
//!     fn create(_scope: &WorkerScope<Self>) -> Self {
//!         Summer
//!     }
//!     fn update(&mut self, _scope: &WorkerScope<Self>, _msg: ()) {}
//!     fn received(&mut self, scope: &WorkerScope<Self>, samples: Samples, id: HandlerId) {
//!         scope.respond(id, samples.0.to_vec().iter().sum());
//!     }
//! }
//!
//! # fn demo() -> Result<(), wasm_isolates::IsolateError> {
//! # fn show(_: f64) {}
//! let bridge = Summer::spawner()
//!     .callback(|sum| show(sum))
//!     .encoding::<IsolateCodec>()
//!     .spawn_in_isolate()?;
//! bridge.send(Samples(TransferBuffer::from_slice(&[1.0, 2.0, 3.0]))); // moved, not copied
//! # Ok(()) }
//! ```
//!
//! What stays gloo's: the bridge has no error or death channel (a worker that fails to start,
//! or panics, never answers; the console shows why), and a message that cannot be decoded is
//! dropped with an uncaught JS error on the receiving side. Where that matters, use
//! [`run`](crate::run::run), [`IsolatePool`](crate::pool::IsolatePool) or [`Isolate::spawn`](crate::isolate::Isolate),
//! whose futures always settle. Inside such a worker [`is_isolate`](crate::platform::capabilities::is_isolate) is true
//! (so a `#[wasm_bindgen(start)]` function can return early there) and `run` and pools work
//! (nested isolates).

use crate::error::IsolateError;
use crate::wire::attachments::Attachments;
use gloo_worker::{Codec, Registrable, Worker, WorkerBridge, WorkerSpawner};
use js_sys::{Array, ArrayBuffer, Object, Reflect, Uint8Array};
use serde::{de::DeserializeOwned, Serialize};
use std::cell::RefCell;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// The gloo worker's script, less the helpers worker/gloo.js puts before it.
const LOADER_JS: &str = include_str!("../../worker/gloo-loader.js");

#[wasm_bindgen(module = "/worker/gloo.js")]
extern "C" {
    #[wasm_bindgen(js_name = spawnGlooWorker)]
    fn spawn_gloo_worker(
        spawn: &mut dyn FnMut(String),
        module: &JsValue,
        glue_url: &str,
        entry: u32,
        loader_body: &str,
    ) -> Option<String>;
}

/// Runs a gloo-worker [`Worker`] in a Web Worker that instantiates this same wasm module.
///
/// Implemented for gloo's [`WorkerSpawner`], with any [`Codec`]: set the callback and the
/// encoding as usual, then call `spawn_in_isolate()` where you would call `spawn(path)`. There
/// is no worker bundle and no path: the worker imports this module's wasm-bindgen glue (the one
/// [`run`](crate::run::run) uses) and instantiates the already compiled module. It works from a page
/// and from inside a worker (gloo-worker 0.6's `spawn(path)` without a loader resolves the path
/// against `window.location`, and panics where there is no `window`).
///
/// The worker script is a `blob:` module worker, so a Content-Security-Policy must allow
/// `worker-src blob:` (gloo's own generated shims need the same).
///
/// ```no_run
/// use gloo_worker::{HandlerId, Spawnable, Worker, WorkerScope};
/// use wasm_isolates::gloo::SpawnInIsolate;
///
/// pub struct Upper;
///
/// impl Worker for Upper {
///     type Message = ();
///     type Input = String;
///     type Output = String;
///     fn create(_scope: &WorkerScope<Self>) -> Self {
///         Upper
///     }
///     fn update(&mut self, _scope: &WorkerScope<Self>, _msg: ()) {}
///     fn received(&mut self, scope: &WorkerScope<Self>, text: String, id: HandlerId) {
///         scope.respond(id, text.to_uppercase());
///     }
/// }
///
/// # fn demo() -> Result<(), wasm_isolates::IsolateError> {
/// // gloo's default encoding (Bincode) works too; IsolateCodec adds transfers.
/// # fn show(_: String) {}
/// let bridge = Upper::spawner()
///     .callback(|text| show(text))
///     .spawn_in_isolate()?;
/// bridge.send("hello".to_string());
/// # Ok(()) }
/// ```
pub trait SpawnInIsolate<W: Worker> {
    /// Starts the worker and returns gloo's bridge to it. Messages sent before the worker has
    /// loaded are queued by gloo, as with `spawn(path)`.
    ///
    /// # Errors
    /// [`IsolateError::Unsupported`] where module workers are unavailable;
    /// [`IsolateError::StartFailed`] when the browser refuses to construct the worker. A worker
    /// that fails later (its glue does not load) reports to the console only: gloo's bridge has no
    /// error channel.
    fn spawn_in_isolate(&mut self) -> Result<WorkerBridge<W>, IsolateError>;

    /// As [`spawn_in_isolate`](Self::spawn_in_isolate), with the worker importing the
    /// wasm-bindgen glue from `glue_url`: set it when a bundler folded this module's glue into
    /// an app chunk (see [`PoolBuilder::glue_url`](crate::pool::PoolBuilder::glue_url)).
    ///
    /// # Errors
    /// As [`spawn_in_isolate`](Self::spawn_in_isolate).
    fn spawn_in_isolate_with_glue(
        &mut self,
        glue_url: &str,
    ) -> Result<WorkerBridge<W>, IsolateError>;
}

impl<W, C> SpawnInIsolate<W> for WorkerSpawner<W, C>
where
    W: Worker + 'static,
    C: Codec + 'static,
    W::Input: Serialize + DeserializeOwned,
    W::Output: Serialize + DeserializeOwned,
{
    fn spawn_in_isolate(&mut self) -> Result<WorkerBridge<W>, IsolateError> {
        spawn::<W, C>(self, &crate::platform::host::glue_url())
    }

    fn spawn_in_isolate_with_glue(
        &mut self,
        glue_url: &str,
    ) -> Result<WorkerBridge<W>, IsolateError> {
        spawn::<W, C>(self, glue_url)
    }
}

fn spawn<W, C>(
    spawner: &mut WorkerSpawner<W, C>,
    glue_url: &str,
) -> Result<WorkerBridge<W>, IsolateError>
where
    W: Worker + 'static,
    C: Codec + 'static,
    W::Input: Serialize + DeserializeOwned,
    W::Output: Serialize + DeserializeOwned,
{
    let caps = crate::platform::capabilities::Capabilities::detect();
    if !(caps.workers && caps.module_workers) {
        return Err(IsolateError::Unsupported {
            capability: "module Worker".into(),
            message: "gloo workers in an isolate need module workers (Chrome 80+, Firefox 114+, \
                      Safari 15+)"
                .into(),
        });
    }
    // A copy with the same callback and codec, told that the path is a ready script and a module
    // (the caller's spawner is left as it was).
    let mut ours = spawner.encoding::<C>();
    ours.with_loader(true).as_module(true);
    let entry: fn() = register::<W, C>;
    let bridge = RefCell::new(None);
    let failure = spawn_gloo_worker(
        &mut |loader_url: String| *bridge.borrow_mut() = Some(ours.spawn(&loader_url)),
        &wasm_bindgen::module(),
        glue_url,
        entry as usize as u32,
        LOADER_JS,
    );
    match (bridge.into_inner(), failure) {
        (Some(bridge), None) => Ok(bridge),
        (_, Some(message)) => Err(IsolateError::StartFailed { message }),
        (None, None) => Err(IsolateError::StartFailed {
            message: "gloo-worker's spawner was not called".into(),
        }),
    }
}

/// What the worker runs once the module is instantiated: gloo's own registration, with the
/// bridge's codec.
fn register<W, C>()
where
    W: Worker + 'static,
    C: Codec + 'static,
    W::Input: Serialize + DeserializeOwned,
    W::Output: Serialize + DeserializeOwned,
{
    W::registrar().encoding::<C>().register();
}

/// Called by the worker script of [`SpawnInIsolate::spawn_in_isolate`] with the function-table
/// index of `register::<W, C>` (valid here: this is the same module).
#[doc(hidden)]
#[wasm_bindgen(js_name = __wasm_isolates_gloo_register)]
pub fn gloo_register(entry: u32) -> Result<(), JsError> {
    // gloo's registrar treats the global scope as a dedicated worker's.
    if !js_sys::global().is_instance_of::<web_sys::DedicatedWorkerGlobalScope>() {
        return Err(JsError::new(
            "__wasm_isolates_gloo_register runs only in a worker started by spawn_in_isolate",
        ));
    }
    let table: js_sys::WebAssembly::Table = wasm_bindgen::function_table().unchecked_into();
    if entry == 0 || entry >= table.length() {
        return Err(JsError::new(&format!(
            "function index {entry} is not in this module's table"
        )));
    }
    console_error_panic_hook::set_once();
    // SAFETY: only `spawnGlooWorker` posts `entry`, to a worker it just created, and it took the
    // value from `spawn`, where it is a `fn()` of this same module (`register::<W, C>`); the
    // worker instantiated that module, so the index names the same function here.
    let register: fn() = unsafe { std::mem::transmute::<usize, fn()>(entry as usize) };
    register();
    Ok(())
}

/// A gloo-worker [`Codec`] with this crate's encoding: MessagePack bytes plus the JS values the
/// message carries.
///
/// - **Every serde type**: MessagePack is self-describing, so `serde_json::Value`, untagged and
///   internally tagged enums and `#[serde(flatten)]` work (gloo's `Bincode` cannot decode them).
/// - **Buffers move**: each [`TransferBuffer`](crate::wire::transfer::TransferBuffer) and
///   [`Transferable`](crate::wire::transfer::Transferable) in a message travels as its JS object. Between a
///   bridge and a worker started by [`SpawnInIsolate::spawn_in_isolate`] the payload and those
///   objects are transferred (constant time, the sender's `ArrayBuffer` is detached); with a
///   worker spawned by gloo itself they are structured-cloned (copied), and a value that can only
///   be transferred (a `MessagePort`) cannot be posted.
/// - **No panics**: gloo's `Codec` cannot return errors. A value that fails to serialize is sent
///   as an error marker, and decoding a marker or a malformed message throws a JS `Error` named
///   `IsolateDataError` on the receiving side (the message is dropped, the instance stays
///   usable; gloo's `Bincode` panics, which aborts the instance).
///
/// ```no_run
/// use gloo_worker::Codec;
/// use wasm_isolates::gloo::IsolateCodec;
///
/// let value = serde_json::json!({"id": 7, "tags": ["a", "b"], "extra": null});
/// let encoded = IsolateCodec::encode(&value); // {wasmIsolatesGloo: 1, payload, attachments}
/// let back: serde_json::Value = IsolateCodec::decode(encoded);
/// assert_eq!(back, value);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IsolateCodec;

impl Codec for IsolateCodec {
    fn encode<I>(input: I) -> JsValue
    where
        I: Serialize,
    {
        let message = Object::new();
        let set = |key: &str, value: &JsValue| {
            // Setting a data property on a fresh plain object cannot fail.
            let _ = Reflect::set(&message, &JsValue::from_str(key), value);
        };
        set("wasmIsolatesGloo", &JsValue::from(1));
        match crate::wire::codec::encode_after(0, &input) {
            Ok((bytes, attached)) => {
                set("payload", &Uint8Array::from(bytes.as_slice()).buffer());
                set("attachments", &attached.0.into_iter().collect::<Array>());
            }
            Err(e) => {
                let message = match e {
                    IsolateError::Codec { message } => message,
                    other => other.to_string(),
                };
                set("error", &JsValue::from_str(&message));
            }
        }
        message.into()
    }

    fn decode<O>(input: JsValue) -> O
    where
        O: for<'de> serde::Deserialize<'de>,
    {
        let decoded = decode_message::<O>(&input);
        drop(input);
        match decoded {
            Ok(value) => value,
            Err(e) => {
                let error = js_sys::Error::new(&e.to_string());
                error.set_name("IsolateDataError");
                drop(e);
                wasm_bindgen::throw_val(error.into())
            }
        }
    }
}

fn decode_message<O: DeserializeOwned>(input: &JsValue) -> Result<O, IsolateError> {
    let field = |key: &str| Reflect::get(input, &JsValue::from_str(key)).unwrap_or_default();
    if !input.is_object() || field("wasmIsolatesGloo").as_f64() != Some(1.0) {
        return Err(IsolateError::Codec {
            message: "not a message encoded by wasm_isolates::gloo::IsolateCodec (do both \
                      sides use the same encoding?)"
                .into(),
        });
    }
    if let Some(message) = field("error").as_string() {
        return Err(IsolateError::Codec {
            message: format!("the sender could not encode this message: {message}"),
        });
    }
    let payload = field("payload")
        .dyn_into::<ArrayBuffer>()
        .map_err(|_| IsolateError::Codec {
            message: "IsolateCodec message without its payload buffer (detached or missing)".into(),
        })?;
    let attachments =
        field("attachments")
            .dyn_into::<Array>()
            .map_err(|_| IsolateError::Codec {
                message: "IsolateCodec message without its attachment list".into(),
            })?;
    let bytes = Uint8Array::new(&payload).to_vec();
    crate::wire::codec::decode(&bytes, Attachments(attachments.iter().collect()))
}
