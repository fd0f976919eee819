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

/// Posts `bytes` (copied once into a new `ArrayBuffer`, which is then transferred) with its
/// attachments on `target` (a `MessagePort`, a `Worker`, or a worker's own global scope). A
/// `DataCloneError` (an attachment the browser cannot clone) is a codec error.
pub(crate) fn post_message(
    target: &JsValue,
    bytes: &[u8],
    attachments: Attachments,
) -> Result<(), IsolateError> {
    let array = Uint8Array::new_with_length(bytes.len() as u32);
    array.copy_from(bytes);
    post_buffer(target, &array.buffer(), attachments)
}

/// Posts a message whose bytes are already in `buffer` (transferred, like the attachments).
pub(crate) fn post_buffer(
    target: &JsValue,
    buffer: &ArrayBuffer,
    attachments: Attachments,
) -> Result<(), IsolateError> {
    let list: Array = attachments.0.into_iter().collect();
    crate::platform::host::post_envelope(target, buffer, &list).map_err(|e| {
        let message = js_message(&e);
        if message.starts_with("DataCloneError") {
            IsolateError::Codec { message }
        } else {
            IsolateError::Js { message }
        }
    })
}

/// Whether `data` has the shape of our messages: `[ArrayBuffer starting with "WISO", ...]`.
/// Anything else on a worker's global channel belongs to user code (or a test runner).
pub(crate) fn is_envelope(data: &JsValue) -> bool {
    let Some(array) = data.dyn_ref::<Array>() else {
        return false;
    };
    array.get(0).dyn_ref::<ArrayBuffer>().is_some_and(|b| {
        b.byte_length() >= 4
            && Uint8Array::new_with_byte_offset_and_length(b, 0, 4).to_vec() == b"WISO"
    })
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

/// Splits a `[ArrayBuffer, ...attachments]` message without copying its bytes.
pub(crate) fn message_buffer(data: &JsValue) -> Result<(ArrayBuffer, Attachments), IsolateError> {
    let not_ours = || IsolateError::protocol("not an [ArrayBuffer, ...] message");
    let array = data.dyn_ref::<Array>().ok_or_else(not_ours)?;
    let buffer = array
        .get(0)
        .dyn_into::<ArrayBuffer>()
        .map_err(|_| not_ours())?;
    Ok((buffer, Attachments(array.iter().skip(1).collect())))
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
