//! Attachments: the JS values (buffers, ports, bitmaps) a message carries beside its bytes.
//!
//! While the codec serializes a message it opens an *outgoing* scope; every
//! [`TransferBuffer`](crate::wire::transfer::TransferBuffer) or [`Transferable`](crate::wire::transfer::Transferable) reached by
//! serde — at any depth of nesting — moves its JS value into the scope and writes only its index.
//! The message is then posted as `[bytes, ...attachments]` with every transferable attachment in
//! the transfer list. Decoding opens an *incoming* scope from which each index is taken once.
//!
//! On native builds there are no JS values: the list is always empty and buffers serialize
//! inline.

#[cfg(target_arch = "wasm32")]
pub(crate) use imp::*;

#[cfg(target_arch = "wasm32")]
mod imp {
    use std::cell::RefCell;
    use wasm_bindgen::JsValue;

    /// The JS values travelling with one message, in index order.
    #[derive(Default, Debug)]
    pub(crate) struct Attachments(pub(crate) Vec<JsValue>);

    impl Attachments {
        pub(crate) fn len(&self) -> usize {
            self.0.len()
        }
    }

    thread_local! {
        static OUTGOING: RefCell<Option<Vec<JsValue>>> = const { RefCell::new(None) };
        static INCOMING: RefCell<Option<Vec<Option<JsValue>>>> = const { RefCell::new(None) };
    }

    // The begin/end halves of `collect` and `provide` are kept out of line: the two are generic
    // over their closure, so every task's trampoline (one per input/output type) would carry its
    // own copy of the thread-local swaps. Out of line: 9.4 kB less gzip in the package, with the
    // same for the codec's error paths in wire/task.rs (measured 2026-11-28, docs/design.md).
    #[inline(never)]
    fn collect_begin() -> Option<Vec<JsValue>> {
        OUTGOING.with(|o| o.borrow_mut().replace(Vec::new()))
    }

    #[inline(never)]
    fn collect_end(saved: Option<Vec<JsValue>>) -> Attachments {
        let collected = OUTGOING.with(|o| std::mem::replace(&mut *o.borrow_mut(), saved));
        Attachments(collected.unwrap_or_default())
    }

    /// Runs `f` (a serializer) collecting attachments; nested scopes are kept apart.
    pub(crate) fn collect<R>(f: impl FnOnce() -> R) -> (R, Attachments) {
        let saved = collect_begin();
        let result = f();
        (result, collect_end(saved))
    }

    /// Adds `value` to the open outgoing scope and returns its index, or gives it back when no
    /// scope is open (serialized by something other than this crate's codec).
    pub(crate) fn attach(value: JsValue) -> Result<u32, JsValue> {
        OUTGOING.with(|o| match o.borrow_mut().as_mut() {
            Some(list) => {
                list.push(value);
                Ok((list.len() - 1) as u32)
            }
            None => Err(value),
        })
    }

    #[inline(never)]
    fn provide_begin(attachments: Attachments) -> Option<Vec<Option<JsValue>>> {
        let list = attachments.0.into_iter().map(Some).collect();
        INCOMING.with(|i| i.borrow_mut().replace(list))
    }

    #[inline(never)]
    fn provide_end(saved: Option<Vec<Option<JsValue>>>) {
        INCOMING.with(|i| *i.borrow_mut() = saved);
    }

    /// Runs `f` (a deserializer) with `attachments` available to [`take`].
    pub(crate) fn provide<R>(attachments: Attachments, f: impl FnOnce() -> R) -> R {
        let saved = provide_begin(attachments);
        let result = f();
        provide_end(saved);
        result
    }

    /// Attachments being taken over several decoding scopes (one per batch of a sequence):
    /// what one scope took stays taken for the next.
    pub(crate) struct Incoming(Vec<Option<JsValue>>);

    impl From<Attachments> for Incoming {
        fn from(attachments: Attachments) -> Self {
            Incoming(attachments.0.into_iter().map(Some).collect())
        }
    }

    /// Runs `f` (a deserializer) with `incoming` available to [`take`]; what `f` takes is gone
    /// from `incoming` afterwards.
    pub(crate) fn provide_from<R>(incoming: &mut Incoming, f: impl FnOnce() -> R) -> R {
        let list = std::mem::take(&mut incoming.0);
        let saved = INCOMING.with(|i| i.borrow_mut().replace(list));
        let result = f();
        incoming.0 = INCOMING
            .with(|i| std::mem::replace(&mut *i.borrow_mut(), saved))
            .unwrap_or_default();
        result
    }

    /// Whether a decoding scope is open (so buffers arrive as indices, not inline bytes).
    pub(crate) fn receiving() -> bool {
        INCOMING.with(|i| i.borrow().is_some())
    }

    /// Takes attachment `index` out of the open incoming scope.
    pub(crate) fn take(index: u32) -> Result<JsValue, String> {
        INCOMING.with(|i| {
            let mut i = i.borrow_mut();
            let list = i.as_mut().ok_or("no attachments are being decoded")?;
            list.get_mut(index as usize)
                .and_then(Option::take)
                .ok_or_else(|| format!("attachment {index} is missing or was already taken"))
        })
    }
}

/// Native builds carry no JS values.
#[cfg(not(target_arch = "wasm32"))]
#[derive(Default, Debug)]
pub(crate) struct Attachments(());

#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn collect<R>(f: impl FnOnce() -> R) -> (R, Attachments) {
    (f(), Attachments::default())
}

#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn provide<R>(_: Attachments, f: impl FnOnce() -> R) -> R {
    f()
}

/// Native builds carry no JS values.
#[cfg(not(target_arch = "wasm32"))]
pub(crate) struct Incoming(());

#[cfg(not(target_arch = "wasm32"))]
impl From<Attachments> for Incoming {
    fn from(_: Attachments) -> Self {
        Incoming(())
    }
}

#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn provide_from<R>(_: &mut Incoming, f: impl FnOnce() -> R) -> R {
    f()
}
