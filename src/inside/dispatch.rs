//! The isolate's side: the dispatcher the worker bootstrap starts once the module is
//! instantiated. Calls arrive on the worker's own channel (see `IsolateWorker::post` for why).
//!
//! It decodes each call defensively (a malformed message gets a `failed` reply, never a trap),
//! runs the task, and replies. A panic hook reports a panicking task's message and location on
//! the port *before* the instance aborts, so the parent learns why its task ended.

use crate::wire::attachments::Attachments;
use crate::wire::message::check_attachment_count;
use crate::wire::message::check_size;
use crate::wire::message::message_parts_within;
use crate::wire::message::post_message;
use crate::wire::protocol::{Envelope, Failure, FailureCode, DONE_HEADER_LEN};
use crate::wire::task::{codec_failure, TaskFuture, TaskOutput, TaskRef};
use std::cell::{Cell, RefCell};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{MessageEvent, MessagePort};

thread_local! {
    /// The call being run, for the panic hook.
    static CURRENT_CALL: Cell<u64> = const { Cell::new(0) };
    /// Largest message accepted or sent (the parent's `max_message_bytes`).
    static LIMIT: Cell<u32> = const { Cell::new(u32::MAX) };
    /// While `warm_up` runs its call: the port its reply goes to, which nobody reads.
    static WARM_UP_PORT: RefCell<Option<MessagePort>> = const { RefCell::new(None) };
    /// The function table's length when last read: read once, not on every call (two calls to
    /// JS each time), and read again before an index beyond it is refused.
    static TABLE_LEN: Cell<u32> = const { Cell::new(0) };
}

/// Entry point called by `worker/bootstrap.js` once the module is instantiated in the worker.
#[doc(hidden)]
#[wasm_bindgen(js_name = __wasm_isolates_worker_main, skip_typescript)]
pub fn worker_main(control: Option<js_sys::Int32Array>, max_message_bytes: u32) {
    LIMIT.with(|l| l.set(max_message_bytes));
    std::panic::set_hook(Box::new(report_panic));
    crate::wire::control::install(control);
    // Calls arrive on the worker's own channel (see `IsolateWorker::post` for why not the port).
    // A listener, not `self.onmessage`, which user code in the worker may set (wasmworker
    // PR #25). Only the parent holds this worker, so every array arriving here is meant as a
    // call, and a malformed one gets an error reply; other values are left alone.
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(|event: MessageEvent| {
        let data = event.data();
        if data.is_instance_of::<js_sys::Array>() {
            dispatch(&data);
        }
    });
    let _ = js_sys::global()
        .unchecked_into::<web_sys::EventTarget>()
        .add_event_listener_with_callback("message", on_message.as_ref().unchecked_ref());
    // The dispatcher lives as long as the worker.
    on_message.forget();
    warm_up();
}

fn warm_up_task(_: ()) {}

/// Runs one no-op call through the whole dispatch path (message parts, envelope, table check,
/// trampoline, reply encoding, posting) before the bootstrap reports ready; the reply goes to a
/// channel nobody reads. Engines
/// compile wasm functions lazily, on their first call: without this the first real task on a
/// prewarmed pool paid that compilation (about 1.3 ms in Chromium, the bench's `first_task` row,
/// against 0.15 ms for a warm round trip); now start-up pays it.
fn warm_up() {
    let task = TaskRef::sync(warm_up_task);
    let Ok((mut message, _)) =
        crate::wire::codec::encode_after(crate::wire::protocol::CALL_HEADER_LEN, &())
    else {
        return;
    };
    Envelope::Call {
        id: 0,
        trampoline: task.trampoline as u32,
        task: task.task as u32,
        attachments: 0,
    }
    .write_header(&mut message);
    let Ok(channel) = web_sys::MessageChannel::new() else {
        return;
    };
    let buffer = js_sys::Uint8Array::from(&message[..]).buffer();
    WARM_UP_PORT.with(|p| *p.borrow_mut() = Some(channel.port1()));
    dispatch(&js_sys::Array::of1(&buffer));
    WARM_UP_PORT.with(|p| p.borrow_mut().take());
    channel.port1().close();
    channel.port2().close();
}

fn dispatch(data: &JsValue) {
    let (bytes, attached) = match message_parts_within(data, LIMIT.with(Cell::get)) {
        Ok(parts) => parts,
        Err(e) => {
            let code = match e {
                crate::error::IsolateError::Codec { .. } => FailureCode::Codec,
                _ => FailureCode::Protocol,
            };
            return reply_failure(0, codec_failure(e).with_code(code));
        }
    };
    let (envelope, payload) = match Envelope::decode(&bytes) {
        Ok(decoded) => decoded,
        Err(e) => {
            return reply_failure(Envelope::peek_id(&bytes).unwrap_or(0), protocol_failure(e));
        }
    };
    let (id, trampoline, task, attachments) = match envelope {
        Envelope::Call {
            id,
            trampoline,
            task,
            attachments,
        } => (id, trampoline, task, attachments),
        // `kill(Priority::BeforeNextEvent)` on an isolate that is between events.
        Envelope::Stop => return close_self(),
        other => {
            return reply_failure(
                other.id(),
                protocol_failure("an isolate only accepts calls"),
            )
        }
    };
    if let Err(why) = check_function_index(trampoline).and(check_function_index(task)) {
        return reply_failure(id, protocol_failure(why));
    }
    if let Err(e) = check_attachment_count(attachments, &attached) {
        return reply_failure(id, codec_failure(e).with_code(FailureCode::Protocol));
    }
    let offset = bytes.len() - payload.len();
    let task = TaskRef {
        trampoline: trampoline as usize,
        task: task as usize,
    };
    CURRENT_CALL.with(|c| c.set(id));
    crate::wire::control::set_current_call(id);
    // SAFETY: the call came on this worker's private port, which only the parent that created the
    // worker holds; that parent runs the same module and built `task` with `TaskRef::sync` or
    // `TaskRef::future`. See the trust model in docs/design.md.
    match unsafe { task.invoke(&bytes[offset..], attached, DONE_HEADER_LEN) } {
        TaskFuture::Ready(output) => finish(id, output),
        TaskFuture::Pending(future) => wasm_bindgen_futures::spawn_local(async move {
            let output = future.await;
            finish(id, output);
        }),
    }
}

/// Rejects indices outside the function table (a forged or corrupted call). An index inside it
/// with the wrong signature traps in `call_indirect`, which the parent sees as a dead instance.
fn check_function_index(index: u32) -> Result<(), String> {
    if index != 0 && index < TABLE_LEN.with(Cell::get) {
        return Ok(());
    }
    let table: js_sys::WebAssembly::Table = wasm_bindgen::function_table().unchecked_into();
    let len = table.length();
    TABLE_LEN.with(|l| l.set(len));
    if index == 0 || index >= len {
        return Err(format!(
            "function index {index} is not in this module's table"
        ));
    }
    Ok(())
}

/// Ends this isolate at once: the parent learns it through the death watch.
fn close_self() {
    crate::wire::control::with_own(|b| {
        b.store(
            crate::wire::control::STATE,
            crate::wire::control::STATE_EXITING,
        )
    });
    js_sys::global()
        .unchecked_into::<web_sys::DedicatedWorkerGlobalScope>()
        .close();
}

/// `exit()`: reports the running entry as finished, then closes the worker.
pub(crate) fn exit_now() {
    let id = CURRENT_CALL.with(Cell::get);
    let mut done = vec![0u8; DONE_HEADER_LEN];
    Envelope::Done { id, attachments: 0 }.write_header(&mut done);
    let _ = post(&done, Attachments::default());
    close_self();
}

fn protocol_failure(e: impl std::fmt::Display) -> Failure {
    Failure {
        code: FailureCode::Protocol,
        message: e.to_string(),
        location: None,
    }
}

fn finish(id: u64, output: TaskOutput) {
    CURRENT_CALL.with(|c| c.set(0));
    crate::wire::control::set_current_call(0);
    match output {
        Ok((mut message, attached)) => {
            if let Err(e) = check_size(message.len(), LIMIT.with(Cell::get)) {
                return reply_failure(id, codec_failure(e));
            }
            Envelope::Done {
                id,
                attachments: attached.len() as u32,
            }
            .write_header(&mut message);
            if let Err(e) = post(&message, attached) {
                // E.g. a Transferable holding something the browser cannot clone.
                reply_failure(id, codec_failure(e));
            }
        }
        Err(failure) => reply_failure(id, failure),
    }
}

fn reply_failure(id: u64, failure: Failure) {
    // A failure reply holds only strings, so posting it can fail only when the parent is gone,
    // and then there is no one left to tell.
    let _ = post(
        &Envelope::Failed { id, failure }.encode(&[]),
        Attachments::default(),
    );
}

fn post(bytes: &[u8], attached: Attachments) -> Result<(), crate::error::IsolateError> {
    match WARM_UP_PORT.with(|p| p.borrow().clone()) {
        Some(port) => post_message(&port, bytes, attached),
        None => post_message(&js_sys::global(), bytes, attached),
    }
}

fn report_panic(info: &std::panic::PanicHookInfo<'_>) {
    console_error_panic_hook::hook(info);
    let payload = info.payload();
    let message = payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "Box<dyn Any>".to_string());
    let location = info
        .location()
        .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
    let id = CURRENT_CALL.try_with(Cell::get).unwrap_or(0);
    // First, so that their readers know nothing more comes before the report reaches anyone.
    crate::inside::panic_notice::post_all();
    reply_failure(
        id,
        Failure {
            code: FailureCode::Panicked,
            message,
            location,
        },
    );
}
