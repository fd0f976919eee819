//! The parent's side of one isolate's Web Worker: start-up handshake, sending calls, and turning
//! everything the worker or the browser reports into [`WorkerEvent`]s.

use crate::error::IsolateError;
use crate::wire::attachments::Attachments;
use crate::wire::batches::{BatchReader, ByteSource};
use crate::wire::message::{
    check_attachment_count, envelope_parts, js_message, post_buffer, post_message,
};
use crate::wire::protocol::Envelope;
use crate::wire::protocol::DONE_HEADER_LEN;
use js_sys::Uint8Array;
use js_sys::{Object, Reflect};
use std::borrow::Cow;
use std::cell::Cell;
use std::ops::Range;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{ErrorEvent, MessageEvent, Worker};

/// What a worker reports to its owner.
pub(crate) enum WorkerEvent {
    /// The module is instantiated and the dispatcher listens.
    Ready,
    /// A reply to call `id` (0 when the worker could not read the call's id).
    Reply {
        id: u64,
        result: Result<ReplyPayload, IsolateError>,
    },
    /// The worker is unusable: it failed to start, died, or its instance is poisoned.
    Fatal(IsolateError),
}

/// The bytes of a `done` reply, where its payload starts, and the JS values it carries.
pub(crate) struct ReplyPayload {
    bytes: ReplyBytes,
    offset: usize,
    attachments: Attachments,
}

/// A reply's bytes: copied into wasm memory when small; a large one stays in its transferred
/// `ArrayBuffer` until it is decoded, so that a batched sequence
/// ([`run_vec`](crate::run::run_vec)) is copied one batch at a time, never in one long task.
pub(crate) enum ReplyBytes {
    Copied(Vec<u8>),
    Js(Uint8Array),
}

/// Replies larger than this stay in JS until decoded.
const COPY_LATER_BYTES: u32 = 1 << 20;

impl ByteSource for ReplyBytes {
    fn len(&self) -> usize {
        match self {
            ReplyBytes::Copied(v) => v.len(),
            ReplyBytes::Js(view) => view.length() as usize,
        }
    }
    fn read(&self, range: Range<usize>) -> Cow<'_, [u8]> {
        match self {
            ReplyBytes::Copied(v) => Cow::Borrowed(&v[range]),
            ReplyBytes::Js(view) => {
                Cow::Owned(view.subarray(range.start as u32, range.end as u32).to_vec())
            }
        }
    }
}

impl ReplyPayload {
    /// Decodes the reply's payload as a `T`.
    pub(crate) fn decode<T: serde::de::DeserializeOwned>(self) -> Result<T, IsolateError> {
        let len = self.bytes.len();
        let payload = self.bytes.read(self.offset..len);
        crate::wire::codec::decode(&payload, self.attachments)
    }

    /// The payload as a batched sequence (see `wire::batches`).
    pub(crate) fn batches(self) -> Result<BatchReader<ReplyBytes>, IsolateError> {
        BatchReader::new(self.bytes, self.offset, self.attachments)
    }

    /// The raw payload bytes (for protocol tests).
    pub(crate) fn payload(&self) -> Vec<u8> {
        self.bytes.read(self.offset..self.bytes.len()).into_owned()
    }
}

/// Where and how to start workers.
#[derive(Clone, Debug)]
pub(crate) struct WorkerConfig {
    /// The glue module workers import, when the user named one. `None`: this instance's own
    /// glue, found as bootstrap.js explains (by URL, or bundled with the worker).
    pub glue_url: Option<String>,
    /// Shown in devtools, after the `wasm-isolates` prefix bootstrap.js looks for.
    pub debug_name: String,
    /// Largest message the worker accepts or sends.
    pub max_message_bytes: u32,
    /// The JS `worker` option: the user's factory makes each worker (feature `js`).
    pub factory: Option<WorkerFactory>,
}

/// A worker factory (the `worker` option of the JS `IsolatePool` and `spawnIsolate`): called as
/// `factory({name})`, it returns a module `Worker` whose script calls `serve()` from
/// `wasm-isolates/worker`; such a worker has `start_timeout_ms` to start the isolate protocol
/// (worker/host.js, `createIsolateWorker`).
#[derive(Clone, Debug)]
pub(crate) struct WorkerFactory {
    pub function: js_sys::Function,
    pub start_timeout_ms: f64,
}

static NEXT_LOCK: AtomicU64 = AtomicU64::new(1);

thread_local! {
    static LIVE_WORKERS: Cell<usize> = const { Cell::new(0) };
}

#[cfg(feature = "bench")]
thread_local! {
    /// How long the last reply took to read on this thread (for `npm run bench`).
    static LAST_RECEIVE_MS: Cell<f64> = const { Cell::new(0.0) };
}

/// Milliseconds this thread spent reading the last reply from an isolate.
#[cfg(feature = "bench")]
pub(crate) fn last_receive_ms() -> f64 {
    LAST_RECEIVE_MS.with(Cell::get)
}

/// How many isolate workers this thread has started and not yet terminated (pools, `run`'s
/// default pool and spawned isolates together). For leak checks and diagnostics.
///
/// ```no_run
/// let before = wasm_isolates::live_workers();
/// ```
pub fn live_workers() -> usize {
    LIVE_WORKERS.with(Cell::get)
}

type EventSink = Rc<dyn Fn(WorkerEvent)>;

/// One running (or starting) isolate worker. Dropping it terminates the worker.
pub(crate) struct IsolateWorker {
    worker: Worker,
    stop_watching: Rc<Cell<Option<js_sys::Function>>>,
    _on_worker_message: Closure<dyn FnMut(MessageEvent)>,
    _on_worker_error: Closure<dyn FnMut(ErrorEvent)>,
    _on_messageerror: Closure<dyn FnMut(MessageEvent)>,
    _on_death: Closure<dyn FnMut()>,
}

fn get_str(obj: &JsValue, key: &str) -> Option<String> {
    Reflect::get(obj, &JsValue::from_str(key))
        .ok()
        .and_then(|v| v.as_string())
}

impl IsolateWorker {
    /// Starts a worker. Events arrive on `sink`, never synchronously from this call.
    pub(crate) fn spawn(
        config: &WorkerConfig,
        control: Option<&crate::wire::control::ControlBlock>,
        sink: EventSink,
    ) -> Result<Self, IsolateError> {
        let name = format!("wasm-isolates:{}", config.debug_name);
        let factory = config.factory.as_ref();
        let worker = crate::platform::host::create_isolate_worker(
            &name,
            factory.map(|f| &f.function),
            factory.map_or(0.0, |f| f.start_timeout_ms),
        )
        .map_err(|e| IsolateError::StartFailed {
            message: js_message(&e),
        })?;
        let lock_name = format!(
            "wasm-isolates/{}/{}",
            js_sys::Date::now(),
            NEXT_LOCK.fetch_add(1, Ordering::Relaxed)
        );

        // The handshake, posted once the worker says hello.
        let handshake = Object::new();
        let set = |k: &str, v: &JsValue| Reflect::set(&handshake, &JsValue::from_str(k), v);
        let built = set("wasmIsolates", &JsValue::from(1))
            .and_then(|_| set("module", &wasm_bindgen::module()))
            .and_then(|_| {
                let url = config
                    .glue_url
                    .clone()
                    .unwrap_or_else(crate::platform::host::glue_url);
                set("glueUrl", &JsValue::from_str(&url))
            })
            .and_then(|_| set("glueUrlGiven", &JsValue::from(config.glue_url.is_some())))
            .and_then(|_| set("lockName", &JsValue::from_str(&lock_name)))
            .and_then(|_| set("maxMessageBytes", &JsValue::from(config.max_message_bytes)))
            .and_then(|_| match control {
                Some(block) => set("control", block.array()),
                None => Ok(true),
            });
        built.map_err(|e| IsolateError::Js {
            message: js_message(&e),
        })?;
        let pending_handshake = Cell::new(Some(handshake));

        let ready = Rc::new(Cell::new(false));

        let on_worker_error = {
            let sink = sink.clone();
            let ready = ready.clone();
            Closure::<dyn FnMut(ErrorEvent)>::new(move |event: ErrorEvent| {
                event.prevent_default();
                let message = event.message();
                let message = if message.is_empty() {
                    "the worker script or one of its imports failed to load".to_string()
                } else {
                    message
                };
                sink(WorkerEvent::Fatal(if ready.get() {
                    IsolateError::WorkerError {
                        message,
                        stack: None,
                    }
                } else {
                    IsolateError::StartFailed { message }
                }));
            })
        };
        worker.set_onerror(Some(on_worker_error.as_ref().unchecked_ref()));

        let stop_watching: Rc<Cell<Option<js_sys::Function>>> = Rc::new(Cell::new(None));
        let on_death = {
            let sink = sink.clone();
            Closure::<dyn FnMut()>::new(move || {
                sink(WorkerEvent::Fatal(IsolateError::WorkerDied {
                    reason: "the worker stopped (it closed itself, crashed, ran out of memory \
                             or was terminated)"
                        .into(),
                }));
            })
        };

        // Everything the worker sends — the bootstrap's events and the dispatcher's replies —
        // comes on one channel, so a panic's report and the trap it causes arrive in order.
        let handle_event = {
            let sink = sink.clone();
            let ready = ready.clone();
            let stop_watching = stop_watching.clone();
            let on_death_fn: js_sys::Function = on_death.as_ref().clone().unchecked_into();
            move |data: &JsValue| {
                if let Some(kind) = get_str(data, "wasmIsolatesEvent") {
                    let message = get_str(data, "message").unwrap_or_default();
                    let stack = get_str(data, "stack");
                    let ev = match kind.as_str() {
                        "ready" => {
                            ready.set(true);
                            // The worker holds its lock by now; queue ours behind it.
                            let stop =
                                crate::platform::host::watch_for_death(&lock_name, &on_death_fn);
                            stop_watching.set(stop.dyn_into::<js_sys::Function>().ok());
                            WorkerEvent::Ready
                        }
                        "start-failed" => WorkerEvent::Fatal(IsolateError::StartFailed { message }),
                        "close" => WorkerEvent::Fatal(IsolateError::WorkerDied {
                            reason: "the worker called close()".into(),
                        }),
                        "unhandledrejection" => WorkerEvent::Fatal(IsolateError::WorkerError {
                            message: format!("unhandled promise rejection: {message}"),
                            stack,
                        }),
                        _ => WorkerEvent::Fatal(IsolateError::WorkerError { message, stack }),
                    };
                    sink(ev);
                }
            }
        };
        let on_messageerror = {
            let sink = sink.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |_event: MessageEvent| {
                sink(WorkerEvent::Reply {
                    id: 0,
                    result: Err(IsolateError::Codec {
                        message: "a reply could not be deserialized by the browser \
                                  (messageerror)"
                            .into(),
                    }),
                });
            })
        };
        worker.set_onmessageerror(Some(on_messageerror.as_ref().unchecked_ref()));

        let on_worker_message = {
            let worker = worker.clone();
            let sink = sink.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                // Reading `data` is where the browser deserializes the message on this thread.
                #[cfg(feature = "bench")]
                let t0 = crate::platform::host::now();
                let data = event.data();
                // Replies first: they are nearly all the traffic.
                if let Some((buffer, attachments)) = envelope_parts(&data) {
                    sink(decode_reply(&buffer, attachments));
                    #[cfg(feature = "bench")]
                    LAST_RECEIVE_MS.with(|c| c.set(crate::platform::host::now() - t0));
                    return;
                }
                if get_str(&data, "wasmIsolatesEvent").is_some() {
                    handle_event(&data);
                    return;
                }
                let hello = Reflect::get(&data, &JsValue::from_str("wasmIsolatesHello"))
                    .ok()
                    .and_then(|v| v.as_f64());
                if hello.is_none() {
                    return; // user code in the worker may post on the global port; not ours
                }
                if let Some(handshake) = pending_handshake.take() {
                    if let Err(e) = worker.post_message(&handshake) {
                        sink(WorkerEvent::Fatal(IsolateError::StartFailed {
                            message: js_message(&e),
                        }));
                    }
                }
            })
        };
        worker
            .add_event_listener_with_callback("message", on_worker_message.as_ref().unchecked_ref())
            .map_err(|e| IsolateError::Js {
                message: js_message(&e),
            })?;

        LIVE_WORKERS.with(|n| n.set(n.get() + 1));
        Ok(IsolateWorker {
            worker,
            stop_watching,
            _on_worker_message: on_worker_message,
            _on_worker_error: on_worker_error,
            _on_messageerror: on_messageerror,
            _on_death: on_death,
        })
    }

    /// Sends one encoded message; its buffer and attachments are transferred, not copied.
    ///
    /// Everything between a parent and its worker — handshake, calls, replies and the
    /// bootstrap's events — travels on the worker's own channel (`worker.postMessage` / the
    /// worker's `self.postMessage`), not on a private `MessageChannel`: Firefox copies an
    /// `ArrayBuffer` transferred through a `MessagePort` (measured here: 140–250 ms of the
    /// sender's time for 50 MB, against 0.16 ms through `worker.postMessage`), while Chromium
    /// moves it either way. One channel also keeps a panic's report ahead of the trap it causes.
    /// The dispatcher listens with `addEventListener`, so user code that sets the worker's
    /// `onmessage` does not take our messages (wasmworker PR #25), and ignores what is not ours.
    pub(crate) fn post(&self, bytes: &[u8], attachments: Attachments) -> Result<(), IsolateError> {
        post_message(self.worker.as_ref(), bytes, attachments)
    }

    /// Like [`post`](Self::post), for a message already copied into `buffer`.
    pub(crate) fn post_buffer(
        &self,
        buffer: &js_sys::ArrayBuffer,
        attachments: Attachments,
    ) -> Result<(), IsolateError> {
        post_buffer(self.worker.as_ref(), buffer, attachments)
    }
}

impl Drop for IsolateWorker {
    fn drop(&mut self) {
        // Stop the death watch first: terminating releases the lock, which is not a death to
        // report. Then detach every handler, because the closures are freed with `self`.
        if let Some(stop) = self.stop_watching.take() {
            let _ = stop.call0(&JsValue::UNDEFINED);
        }
        self.worker.set_onerror(None);
        let _ = self.worker.remove_event_listener_with_callback(
            "message",
            self._on_worker_message.as_ref().unchecked_ref(),
        );
        self.worker.set_onmessageerror(None);
        self.worker.terminate();
        LIVE_WORKERS.with(|n| n.set(n.get().saturating_sub(1)));
    }
}

/// Turns a message from the Rust dispatcher (its envelope's buffer and attachments) into an
/// event.
fn decode_reply(buffer: &js_sys::ArrayBuffer, attachments: Attachments) -> WorkerEvent {
    let view = Uint8Array::new(buffer);
    if buffer.byte_length() > COPY_LATER_BYTES {
        let head = view.subarray(0, DONE_HEADER_LEN as u32).to_vec();
        if let Ok((Envelope::Done { id, attachments: n }, _)) = Envelope::decode(&head) {
            let result = check_attachment_count(n, &attachments).map(|()| ReplyPayload {
                bytes: ReplyBytes::Js(view),
                offset: DONE_HEADER_LEN,
                attachments,
            });
            return WorkerEvent::Reply { id, result };
        }
        // Anything else (a large failure report) is read whole, below.
    }
    let bytes = view.to_vec();
    match Envelope::decode(&bytes) {
        Ok((Envelope::Done { id, attachments: n }, payload)) => {
            let offset = bytes.len() - payload.len();
            let result = check_attachment_count(n, &attachments).map(|()| ReplyPayload {
                bytes: ReplyBytes::Copied(bytes),
                offset,
                attachments,
            });
            WorkerEvent::Reply { id, result }
        }
        Ok((Envelope::Failed { id, failure }, _)) => WorkerEvent::Reply {
            id,
            result: Err(failure.into()),
        },
        Ok((other, _)) => WorkerEvent::Reply {
            id: other.id(),
            result: Err(IsolateError::protocol("a worker sent a call to its parent")),
        },
        Err(e) => WorkerEvent::Reply {
            id: Envelope::peek_id(&bytes).unwrap_or(0),
            result: Err(e.into()),
        },
    }
}
