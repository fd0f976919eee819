//! Notices an isolate posts when it panics, before its panic report: for a consumer that reads
//! another port than the one the report comes on and must know that nothing more follows there.
//!
//! Why: messages on different `MessagePort`s carry no order between them. A stream's items come
//! on their own port and its producer's panic report on the worker's channel; under load WebKit
//! delivered the report before the last item (CI, 2026-11-27), and the consumer, waiting only a
//! fixed moment for trailing items, reported the panic with an item still missing.

use std::cell::{Cell, RefCell};

/// A registered notice, with the number its guard removes it by.
type Notice = (u64, Box<dyn Fn()>);

thread_local! {
    static NOTICES: RefCell<Vec<Notice>> = const { RefCell::new(Vec::new()) };
    static NEXT: Cell<u64> = const { Cell::new(0) };
}

/// Removes its notice when dropped (the code it guarded ended without a panic).
pub(crate) struct PanicNotice(u64);

/// Runs `notice` if this isolate panics before the returned guard is dropped, before the panic
/// is reported. `notice` must not panic (it runs inside the panic hook).
pub(crate) fn on_panic(notice: impl Fn() + 'static) -> PanicNotice {
    let id = NEXT.with(|n| {
        let id = n.get();
        n.set(id + 1);
        id
    });
    NOTICES.with(|all| all.borrow_mut().push((id, Box::new(notice))));
    PanicNotice(id)
}

impl Drop for PanicNotice {
    fn drop(&mut self) {
        let _ = NOTICES.try_with(|all| {
            if let Ok(mut all) = all.try_borrow_mut() {
                all.retain(|(id, _)| *id != self.0);
            }
        });
    }
}

/// Posts every registered notice (called by the panic hook). A panic while the list is being
/// changed finds it borrowed and posts none: the consumer then falls back on waiting.
pub(crate) fn post_all() {
    let _ = NOTICES.try_with(|all| {
        if let Ok(all) = all.try_borrow() {
            for (_, notice) in all.iter() {
                notice();
            }
        }
    });
}
