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

/// Calls larger than this are staged (see [`JobMessage`]).
pub(super) const STAGE_ABOVE_BYTES: usize = 4 << 20;
/// Bytes copied per task while staging: about a millisecond of copying.
pub(super) const STAGE_SLICE_BYTES: usize = 4 << 20;

/// Copies `bytes` into a new `ArrayBuffer`, one slice per macrotask, then puts it in `into` and
/// lets the pool dispatch it. Stops early if the job was dropped (cancelled, or its pool gone).
pub(super) async fn stage(
    bytes: Vec<u8>,
    into: Rc<RefCell<Option<js_sys::ArrayBuffer>>>,
    pool: Weak<PoolInner>,
) {
    let buffer = js_sys::ArrayBuffer::new(bytes.len() as u32);
    let view = js_sys::Uint8Array::new(&buffer);
    for (i, slice) in bytes.chunks(STAGE_SLICE_BYTES).enumerate() {
        if Rc::strong_count(&into) == 1 {
            return; // nobody holds the job any more
        }
        let start = (i * STAGE_SLICE_BYTES) as u32;
        view.subarray(start, start + slice.len() as u32)
            .copy_from(slice);
        let _ = wasm_bindgen_futures::JsFuture::from(crate::platform::host::next_macrotask()).await;
    }
    drop(bytes);
    *into.borrow_mut() = Some(buffer);
    if let Some(pool) = pool.upgrade() {
        pool.pump();
    }
}
