//! Our messages as JS values: `[ArrayBuffer, ...attachments]`, the envelope's bytes first, the JS
//! values it carries after. Both sides of a worker, and ports, post and read them through here.

use crate::error::IsolateError;
use crate::wire::attachments::Attachments;
use js_sys::{Array, ArrayBuffer, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

/// The text of a thrown JS value: `Name: message` for an `Error`, the string itself, or its debug form.
pub(crate) fn js_message(e: &JsValue) -> String {
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        return format!(
            "{}: {}",
            String::from(err.name()),
            String::from(err.message())
        );
    }
    e.as_string().unwrap_or_else(|| format!("{e:?}"))
}

#[wasm_bindgen(module = "/worker/js-api.js")]
extern "C" {
    #[wasm_bindgen(catch, js_name = postEnvelopeBytes)]
    fn post_envelope_bytes(
        target: &JsValue,
        bytes: &[u8],
        attachments: Vec<JsValue>,
    ) -> Result<(), JsValue>;
    #[wasm_bindgen(catch, js_name = postEnvelopeBuffer)]
    fn post_envelope_buffer(
        target: &JsValue,
        buffer: &ArrayBuffer,
        attachments: Vec<JsValue>,
    ) -> Result<(), JsValue>;
    #[wasm_bindgen(js_name = envelopeBuffer)]
    fn envelope_buffer(data: &JsValue) -> JsValue;
}

/// Posts `bytes` with its attachments on `target` (a `MessagePort`, a `Worker`, or a worker's
/// own global scope) in one call to JS, which copies the bytes out of wasm memory into an
/// `ArrayBuffer` of their own (worker/js-api.js, `postEnvelopeBytes`). A small envelope is then
/// cloned, a large one transferred: see `TRANSFER_ABOVE` there for why. Transferable attachments
/// are always transferred. A `DataCloneError` (an attachment the browser cannot clone) is a codec
/// error.
pub(crate) fn post_message(
    target: &JsValue,
    bytes: &[u8],
    attachments: Attachments,
) -> Result<(), IsolateError> {
    post_envelope_bytes(target, bytes, attachments.0).map_err(post_error)
}

/// Posts a message whose bytes are already in `buffer` (transferred, like the attachments).
pub(crate) fn post_buffer(
    target: &JsValue,
    buffer: &ArrayBuffer,
    attachments: Attachments,
) -> Result<(), IsolateError> {
    post_envelope_buffer(target, buffer, attachments.0).map_err(post_error)
}

fn post_error(e: JsValue) -> IsolateError {
    let message = js_message(&e);
    if message.starts_with("DataCloneError") {
        IsolateError::Codec { message }
    } else {
        IsolateError::Js { message }
    }
}

/// The envelope's `ArrayBuffer` when `data` has the shape of our messages: `[ArrayBuffer
/// starting with "WISO", ...attachments]`; `None` for anything else on a worker's global channel,
/// which belongs to user code (or a test runner). One call to JS (worker/js-api.js,
/// `envelopeBuffer`), where the shape is checked without a crossing per step.
pub(crate) fn envelope_of(data: &JsValue) -> Option<ArrayBuffer> {
    envelope_buffer(data).dyn_into::<ArrayBuffer>().ok()
}

/// The buffer and attachments of `data` when it is one of our messages (see [`envelope_of`]).
pub(crate) fn envelope_parts(data: &JsValue) -> Option<(ArrayBuffer, Attachments)> {
    envelope_of(data).map(|buffer| (buffer, attachments_of(data)))
}

/// The attachments of an envelope message `data` (everything after its buffer): no call beyond
/// the array's length when there are none, as for most calls and replies.
fn attachments_of(data: &JsValue) -> Attachments {
    let array: &Array = data.unchecked_ref();
    let n = array.length();
    Attachments((1..n).map(|i| array.get(i)).collect())
}

/// Splits a `[ArrayBuffer, ...attachments]` message: the bytes (copied into wasm memory) and
/// the attachments.
pub(crate) fn message_parts(data: &JsValue) -> Option<(Vec<u8>, Attachments)> {
    message_parts_within(data, u32::MAX).ok()
}

/// Like [`message_parts`], refusing (before copying anything) a message over `limit` bytes.
pub(crate) fn message_parts_within(
    data: &JsValue,
    limit: u32,
) -> Result<(Vec<u8>, Attachments), IsolateError> {
    let (buffer, attachments) = message_buffer(data)?;
    check_size(buffer.byte_length() as usize, limit)?;
    Ok((Uint8Array::new(&buffer).to_vec(), attachments))
}

/// Splits a `[ArrayBuffer, ...attachments]` message without copying its bytes. A message that
/// is an array but not an envelope (no buffer first, or no magic) is a protocol error.
pub(crate) fn message_buffer(data: &JsValue) -> Result<(ArrayBuffer, Attachments), IsolateError> {
    let buffer = match envelope_of(data) {
        Some(buffer) => buffer,
        None => {
            // Not ours by magic: still split an `[ArrayBuffer, ...]` so that the envelope
            // decoder names what is wrong with its bytes.
            let array = data
                .dyn_ref::<Array>()
                .ok_or_else(|| IsolateError::protocol("not an [ArrayBuffer, ...] message"))?;
            array
                .get(0)
                .dyn_into::<ArrayBuffer>()
                .map_err(|_| IsolateError::protocol("not an [ArrayBuffer, ...] message"))?
        }
    };
    Ok((buffer, attachments_of(data)))
}

/// Refuses a message over `limit` bytes with a codec error.
pub(crate) fn check_size(len: usize, limit: u32) -> Result<(), IsolateError> {
    if len > limit as usize {
        return Err(IsolateError::Codec {
            message: format!("a message of {len} bytes is over the limit of {limit} bytes"),
        });
    }
    Ok(())
}

/// The header's attachment count must match what arrived.
pub(crate) fn check_attachment_count(
    declared: u32,
    attachments: &Attachments,
) -> Result<(), IsolateError> {
    if declared as usize == attachments.len() {
        Ok(())
    } else {
        Err(IsolateError::protocol(format!(
            "message declares {declared} attachments but carries {}",
            attachments.len()
        )))
    }
}
