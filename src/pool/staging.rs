//! Staging large calls: copying a big encoded input out of wasm memory a slice per task.

use super::*;

/// A job's encoded call. A large one is copied out of wasm memory into a JS `ArrayBuffer` a
/// slice per task ([`stage`]) instead of in one long task when it is posted; it keeps its place
/// in the queue meanwhile, and the queue waits for it (first in, first out).
pub(super) enum JobMessage {
    Bytes(Vec<u8>),
    Staging(Rc<RefCell<Option<js_sys::ArrayBuffer>>>),
}

impl Job {
    pub(super) fn ready(&self) -> bool {
        match &self.message {
            JobMessage::Bytes(_) => true,
            JobMessage::Staging(buffer) => buffer.borrow().is_some(),
        }
    }
}

/// A call's bytes: the envelope, and when the input is one large `String`, the string's bytes
/// after it, kept in the string until they are staged (`codec::take_large_string`).
pub(super) struct CallBytes {
    pub(super) head: Vec<u8>,
    pub(super) text: Option<String>,
}

impl CallBytes {
    pub(super) fn whole(bytes: Vec<u8>) -> Self {
        CallBytes {
            head: bytes,
            text: None,
        }
    }

    pub(super) fn len(&self) -> usize {
        self.head.len() + self.text.as_ref().map_or(0, String::len)
    }

    /// All the bytes in one buffer (a call small enough to post at once).
    pub(super) fn into_vec(self) -> Vec<u8> {
        let mut bytes = self.head;
        if let Some(text) = self.text {
            bytes.extend_from_slice(text.as_bytes());
        }
        bytes
    }
}

/// Calls larger than this are staged (see [`JobMessage`]).
pub(super) const STAGE_ABOVE_BYTES: usize = 4 << 20;
/// Bytes copied per task while staging: about a millisecond of copying.
pub(super) const STAGE_SLICE_BYTES: usize = 4 << 20;

/// Copies `message` into a new `ArrayBuffer`, one slice per macrotask, then puts it in `into`
/// and lets the pool dispatch it. Stops early if the job was dropped (cancelled, or its pool
/// gone).
pub(super) async fn stage(
    message: CallBytes,
    into: Rc<RefCell<Option<js_sys::ArrayBuffer>>>,
    pool: Weak<PoolInner>,
) {
    let buffer = js_sys::ArrayBuffer::new(message.len() as u32);
    let view = js_sys::Uint8Array::new(&buffer);
    let text: &[u8] = message.text.as_ref().map_or(&[], |t| t.as_bytes());
    let slices = message
        .head
        .chunks(STAGE_SLICE_BYTES)
        .chain(text.chunks(STAGE_SLICE_BYTES));
    let mut at = 0u32;
    for slice in slices {
        if Rc::strong_count(&into) == 1 {
            return; // nobody holds the job any more
        }
        view.subarray(at, at + slice.len() as u32).copy_from(slice);
        at += slice.len() as u32;
        let _ = wasm_bindgen_futures::JsFuture::from(crate::platform::host::next_macrotask()).await;
    }
    drop(message);
    *into.borrow_mut() = Some(buffer);
    if let Some(pool) = pool.upgrade() {
        pool.pump();
    }
}
