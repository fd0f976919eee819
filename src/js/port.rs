//! The JS API's ports: `ReceivePort` (an async iterable) and `SendPort`, built on the Rust
//! [`ReceivePort`] / [`SendPort`], so they behave as the Rust ones do: a `SendPort` is freely
//! shareable (every copy sent away gets its own channel, `Envelope::NewSender`), a `ReceivePort`
//! whose `SendPort` went into a spawn message ends when that isolate exits, and a paused isolate
//! holds delivery.
//!
//! A JS message travels as a [`JsMessage`]: the value is structured-cloned, except that every
//! `SendPort` in it (at any depth of plain objects, arrays, Maps and Sets) is taken out and sent
//! as a Rust `SendPort` beside it, then put back in place on the receiving side
//! (worker/js-api.js: `extractPorts`, `restorePorts`).

use crate::port::{ReceivePort, SendPort};
use crate::wire::transfer::Transferable;
use js_sys::{Array, Promise};
use serde::{Deserialize, Serialize};
use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

#[wasm_bindgen(module = "/worker/js-api.js")]
extern "C" {
    #[wasm_bindgen(js_name = extractPorts)]
    fn extract_ports(value: &JsValue) -> Array;
    #[wasm_bindgen(js_name = restorePorts)]
    fn restore_ports(skeleton: &JsValue, ports: &Array) -> JsValue;
    #[wasm_bindgen(js_name = unwrapTransfer)]
    fn unwrap_transfer(value: &JsValue) -> Array;
}

/// A JS value on the wire.
#[derive(Serialize, Deserialize)]
pub(crate) struct JsMessage {
    /// `[skeleton]`: the value with its SendPorts replaced by placeholders. Wrapped in an array so
    /// that a bare `ArrayBuffer` message is copied unless listed in `transfer`, as with
    /// `postMessage`.
    value: Transferable<JsValue>,
    /// The SendPorts taken out of the value, in placeholder order.
    ports: Vec<SendPort<JsMessage>>,
    /// What moves instead of being copied (each is also somewhere in `value`).
    transfer: Vec<Transferable<JsValue>>,
}

impl JsMessage {
    /// `value` (or a `transfer(value, list)` result) with `transfer` (an array, or
    /// undefined) added to its list of what moves.
    pub(crate) fn from_js(value: &JsValue, transfer: &JsValue) -> Result<Self, JsValue> {
        let unwrapped = unwrap_transfer(value);
        let mut moved: Vec<Transferable<JsValue>> = Array::from(&unwrapped.get(1))
            .iter()
            .map(Transferable)
            .collect();
        if !transfer.is_undefined() && !transfer.is_null() {
            let list = transfer
                .dyn_ref::<Array>()
                .ok_or_else(|| crate::js::support::type_error("transfer must be an array"))?;
            moved.extend(list.iter().map(Transferable));
        }
        let parts = extract_ports(&unwrapped.get(0));
        let ids = Array::from(&parts.get(1));
        let ports = ids
            .iter()
            .map(|id| {
                let id = id.as_f64().unwrap_or(-1.0) as u32;
                registered(id).ok_or_else(|| {
                    crate::js::js_error(
                        "IsolateError",
                        "a SendPort in the message was freed (free() was called on it)",
                        &[],
                    )
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(JsMessage {
            value: Transferable(Array::of1(&parts.get(0)).into()),
            ports,
            transfer: moved,
        })
    }

    /// The JS value, with a `SendPort` object in the place of each port.
    pub(crate) fn into_js(self) -> JsValue {
        let skeleton = Array::from(&self.value.0).get(0);
        if self.ports.is_empty() {
            return skeleton;
        }
        let ports: Array = self
            .ports
            .into_iter()
            .map(|p| JsValue::from(JsSendPort::new(p)))
            .collect();
        restore_ports(&skeleton, &ports)
    }
}

thread_local! {
    /// The Rust port behind each live JS `SendPort`, by id: `extractPorts` finds JS SendPorts in
    /// a message by a hidden method returning this id (a JS object cannot be turned back into a
    /// borrowed Rust struct). An entry goes when its JS object is freed or collected.
    static SEND_PORTS: RefCell<HashMap<u32, SendPort<JsMessage>>> = RefCell::new(HashMap::new());
    static NEXT_ID: Cell<u32> = const { Cell::new(1) };
}

fn registered(id: u32) -> Option<SendPort<JsMessage>> {
    SEND_PORTS.with(|p| p.borrow().get(&id).cloned())
}

/// `SendPort`: sends messages to its `ReceivePort`, from any isolate. Declared by hand in
/// `TS_PORTS` (a generic class, which wasm-bindgen cannot write).
#[wasm_bindgen(js_name = SendPort, skip_typescript)]
pub struct JsSendPort {
    id: u32,
}

impl JsSendPort {
    pub(crate) fn new(port: SendPort<JsMessage>) -> Self {
        let id = NEXT_ID.with(|n| {
            let id = n.get();
            n.set(id.wrapping_add(1).max(1));
            id
        });
        SEND_PORTS.with(|p| p.borrow_mut().insert(id, port));
        JsSendPort { id }
    }

    pub(crate) fn port(&self) -> Option<SendPort<JsMessage>> {
        registered(self.id)
    }
}

impl Drop for JsSendPort {
    fn drop(&mut self) {
        // `try_with`: the thread's locals may already be gone when the thread itself ends.
        let _ = SEND_PORTS.try_with(|p| p.borrow_mut().remove(&self.id));
    }
}

#[wasm_bindgen(js_class = SendPort)]
impl JsSendPort {
    /// `send(message, transfer?)`: posts a structured clone of `message` (SendPorts in it
    /// travel as ports; what `transfer` lists moves). Never waits. Sending to a port that is
    /// closed, or whose isolate exited, drops the message, as in Dart. Throws
    /// `IsolateDataError` for a message that cannot be cloned.
    pub fn send(&self, message: JsValue, transfer: JsValue) -> Result<(), JsValue> {
        let port = self
            .port()
            .ok_or_else(|| crate::js::js_error("IsolateError", "this SendPort was freed", &[]))?;
        let message = JsMessage::from_js(&message, &transfer)?;
        port.send(message).map_err(JsValue::from)
    }

    /// Used by worker/js-api.js to find SendPorts in a message; not part of the API.
    #[wasm_bindgen(js_name = __wasmIsolatesSendPortId)]
    pub fn registry_id(&self) -> u32 {
        self.id
    }
}

/// The state a `ReceivePort` and its iterators share.
struct PortState {
    port: RefCell<Option<ReceivePort<JsMessage>>>,
    /// The last `next()` promise: each `next()` waits for the one before, so that concurrent
    /// calls resolve in order (a Rust stream wakes only its last poller).
    tail: RefCell<Promise>,
}

impl PortState {
    /// Closes the port and lets its Rust port go: what `return()` does for a `for await` loop
    /// left early, on the port and on its iterator alike.
    fn finish(&self) -> Promise {
        self.close();
        self.port.borrow_mut().take();
        Promise::resolve(&crate::js::support::iter_result(&JsValue::UNDEFINED, true))
    }

    fn next(state: &Rc<PortState>) -> Promise {
        let prev = state.tail.borrow().clone();
        let inner = state.clone();
        let promise = future_to_promise(async move {
            // The previous call's outcome is its caller's; only its end matters here.
            let _ = JsFuture::from(prev).await;
            let item = std::future::poll_fn(|cx| match inner.port.borrow_mut().as_mut() {
                None => Poll::Ready(None),
                Some(port) => {
                    use futures_core::Stream;
                    Pin::new(port).poll_next(cx)
                }
            })
            .await;
            match item {
                None => Ok(crate::js::support::iter_result(&JsValue::UNDEFINED, true)),
                Some(Ok(message)) => Ok(crate::js::support::iter_result(&message.into_js(), false)),
                Some(Err(e)) => Err(e.into()),
            }
        });
        *state.tail.borrow_mut() = promise.clone();
        promise
    }

    fn close(&self) {
        if let Some(port) = self.port.borrow().as_ref() {
            port.close();
        }
    }
}

/// `ReceivePort`: receives what is sent to its `SendPort`s — an async iterable (`for await`),
/// which ends after `close()`, or when every isolate whose spawn message carried its `SendPort`
/// has exited.
#[wasm_bindgen(js_name = ReceivePort, skip_typescript)]
pub struct JsReceivePort {
    state: Rc<PortState>,
    send_port: SendPort<JsMessage>,
}

impl JsReceivePort {
    pub(crate) fn open() -> Result<JsReceivePort, JsValue> {
        let port = ReceivePort::<JsMessage>::new()?;
        Ok(JsReceivePort {
            send_port: port.send_port(),
            state: Rc::new(PortState {
                port: RefCell::new(Some(port)),
                tail: RefCell::new(Promise::resolve(&JsValue::UNDEFINED)),
            }),
        })
    }
}

#[wasm_bindgen(js_class = ReceivePort)]
impl JsReceivePort {
    /// Opens a port.
    #[wasm_bindgen(constructor)]
    pub fn new() -> Result<JsReceivePort, JsValue> {
        Self::open()
    }

    /// A `SendPort` for this port (a new handle on each read; all reach this port).
    #[wasm_bindgen(getter, js_name = sendPort)]
    pub fn send_port(&self) -> JsSendPort {
        JsSendPort::new(self.send_port.clone())
    }

    /// The next message: `{value, done: false}`, or `{done: true}` once the port ended.
    pub fn next(&self) -> Promise {
        PortState::next(&self.state)
    }

    /// Stops receiving: what already arrived is still delivered, then the iteration ends.
    pub fn close(&self) {
        self.state.close();
    }

    /// Closes the port (a `for await` loop left early calls this) and ends the iteration.
    #[wasm_bindgen(js_name = "return")]
    pub fn return_(&self) -> Promise {
        self.state.finish()
    }

    /// An iterator over this port's messages (`for await (const m of port)`).
    #[wasm_bindgen(js_name = "[Symbol.asyncIterator]")]
    pub fn iterator(&self) -> JsPortIterator {
        JsPortIterator {
            state: self.state.clone(),
        }
    }
}

/// What `receivePort[Symbol.asyncIterator]()` returns; declared as `AsyncIterableIterator<T>`.
#[wasm_bindgen(js_name = ReceivePortIterator, skip_typescript)]
pub struct JsPortIterator {
    state: Rc<PortState>,
}

#[wasm_bindgen(js_class = ReceivePortIterator)]
impl JsPortIterator {
    /// The next message.
    pub fn next(&self) -> Promise {
        PortState::next(&self.state)
    }

    /// Leaving a `for await` loop early closes the port, as cancelling a subscription does in Dart.
    #[wasm_bindgen(js_name = "return")]
    pub fn return_(&self) -> Promise {
        self.state.finish()
    }

    /// Itself, as iterators are.
    #[wasm_bindgen(js_name = "[Symbol.asyncIterator]")]
    pub fn iterator(&self) -> JsPortIterator {
        JsPortIterator {
            state: self.state.clone(),
        }
    }
}

/// What a task's progress port carries: `Some((done, total))` for each report, then `None` once
/// the task's function has returned or thrown.
pub(crate) type Progress = Option<(f64, f64)>;

/// Runs `fut` and, meanwhile, hands every report arriving on `port` to `on_report`. Reports
/// travel on their own channel, so they can trail the result (Firefox delivers a task's reply
/// before the reports it posted just earlier): when `await_end(&result)` says the task's
/// function finished, this waits for its end marker, which follows every report on the same
/// channel, so none is lost. The wait is bounded, in case the isolate is gone.
pub(crate) async fn while_listening<R>(
    port: Option<ReceivePort<Progress>>,
    mut on_report: impl FnMut(f64, f64),
    fut: impl Future<Output = R>,
    await_end: impl FnOnce(&R) -> bool,
) -> R {
    use futures_core::Stream;
    let Some(mut port) = port else {
        return fut.await;
    };
    let mut ended = false;
    // Hands over what has arrived; true once the end marker (or the port's end) is seen.
    let mut drain = |port: &mut ReceivePort<Progress>, cx: &mut std::task::Context<'_>| loop {
        match Pin::new(&mut *port).poll_next(cx) {
            Poll::Ready(Some(Ok(Some((done, total))))) => on_report(done, total),
            Poll::Ready(Some(Ok(None))) | Poll::Ready(None) => return true,
            Poll::Ready(Some(Err(_))) => {}
            Poll::Pending => return false,
        }
    };
    let mut fut = std::pin::pin!(fut);
    let result = std::future::poll_fn(|cx| {
        if !ended {
            ended = drain(&mut port, cx);
        }
        fut.as_mut().poll(cx)
    })
    .await;
    if !ended && await_end(&result) {
        let mut grace = crate::platform::timer::Delay::new(std::time::Duration::from_secs(1));
        std::future::poll_fn(|cx| {
            if drain(&mut port, cx) || Pin::new(&mut grace).poll(cx).is_ready() {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
    }
    port.close();
    result
}

#[wasm_bindgen(typescript_custom_section)]
const TS_PORTS: &str = r#"
/**
 * The sending end of a port — Dart's `SendPort`. Freely shareable: send it inside a message to
 * another isolate (at any depth of plain objects, arrays, Maps and Sets), any number of times;
 * every copy reaches the same `ReceivePort`. `T` is what the port carries (not checked at run time).
 */
export class SendPort<T = unknown> {
    private constructor();
    /**
     * Posts a structured clone of `message`; what `transfer` lists (buffers, ports, ...) moves
     * instead. Never waits. A message to a closed port, or to one whose isolate exited, is dropped,
     * as in Dart. Throws `IsolateDataError` when `message` cannot be cloned.
     */
    send(message: T, transfer?: Transferable[]): void;
    /** Releases the handle now instead of at garbage collection; the port itself stays open. */
    free(): void;
    [Symbol.dispose](): void;
}

/**
 * The receiving end of a port — Dart's `ReceivePort`: an async iterable of the messages sent to
 * its `SendPort`s. It ends after `close()`, when a `for await` loop over it is left, or when every
 * isolate whose spawn message carried its `SendPort` has exited (so no loop waits on a dead isolate).
 */
export class ReceivePort<T = unknown> implements AsyncIterableIterator<T> {
    constructor();
    /** A `SendPort` for this port, to send to an isolate. */
    readonly sendPort: SendPort<T>;
    /** The next message, or `{done: true}` once the port ended. Concurrent calls resolve in order. */
    next(): Promise<IteratorResult<T, undefined>>;
    /** Closes the port and ends the iteration. */
    return(): Promise<IteratorResult<T, undefined>>;
    /** Stops receiving: messages already here are still delivered, then the iteration ends. */
    close(): void;
    [Symbol.asyncIterator](): AsyncIterableIterator<T>;
    /** Releases the handle now instead of at garbage collection. */
    free(): void;
    [Symbol.dispose](): void;
}
"#;
