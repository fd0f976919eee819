//! [`ReceivePort`] and [`SendPort`]: Dart's ports over `MessageChannel`.

use crate::error::IsolateError;
use crate::wire::attachments::Attachments;
use crate::wire::codec;
use crate::wire::message::check_attachment_count;
use crate::wire::message::js_message;
use crate::wire::message::message_parts;
use crate::wire::message::post_message;
use crate::wire::protocol::{Envelope, MESSAGE_HEADER_LEN};
use futures_core::Stream;
use serde::{de::DeserializeOwned, Deserialize, Deserializer, Serialize, Serializer};
use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::fmt;
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{MessageChannel, MessageEvent, MessagePort};

/// A message received but not yet read: its bytes (payload after `offset`) and JS values.
type Pending = Result<(Vec<u8>, usize, Attachments), IsolateError>;

pub(crate) struct ReceiveInner {
    /// The receiving ends: one per channel handed out by `send_port`.
    ports: RefCell<Vec<MessagePort>>,
    /// The sending end of the newest channel and whether it was sent away (then the next
    /// `send_port` opens a new channel: a transferred `MessagePort` cannot be used here again).
    current: RefCell<(MessagePort, Rc<Cell<bool>>)>,
    queue: RefCell<VecDeque<Pending>>,
    waker: RefCell<Option<Waker>>,
    closed: Cell<bool>,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
}

impl ReceiveInner {
    /// Ends the stream after the messages already received.
    pub(crate) fn close(&self) {
        if !self.closed.replace(true) {
            self.detach();
            if let Some(w) = self.waker.borrow_mut().take() {
                w.wake();
            }
        }
    }

    fn detach(&self) {
        for port in self.ports.borrow().iter() {
            port.set_onmessage(None);
            port.close();
        }
    }

    fn listen(&self, port: &MessagePort) {
        port.set_onmessage(Some(self._on_message.as_ref().unchecked_ref()));
        self.ports.borrow_mut().push(port.clone());
    }
}

impl Drop for ReceiveInner {
    fn drop(&mut self) {
        self.detach();
    }
}

fn new_channel() -> Result<MessageChannel, IsolateError> {
    MessageChannel::new().map_err(|e| IsolateError::Js {
        message: js_message(&e),
    })
}

/// The receiving end of a port — Dart's `ReceivePort`: a [`Stream`] of the messages sent to any
/// of its [`SendPort`]s, in the order each sender sent them.
///
/// The stream ends (`None`) after [`close`](Self::close), or when an isolate it was linked to
/// exits (a port whose `SendPort` was in an [`Isolate::spawn`](crate::isolate::Isolate::spawn) message is
/// linked to that isolate), so no receive waits on a dead isolate. A message that cannot be
/// decoded as `T` is an `Err` item; the stream goes on.
///
/// ```no_run
/// # async fn demo() -> Result<(), wasm_isolates::IsolateError> {
/// use futures_util::StreamExt;
/// use wasm_isolates::ReceivePort;
///
/// let port = ReceivePort::<String>::new()?;
/// port.send_port().send("hello".to_string())?;
/// let mut port = port;
/// assert_eq!(port.next().await.transpose()?, Some("hello".to_string()));
/// # Ok(()) }
/// ```
pub struct ReceivePort<T> {
    inner: Rc<ReceiveInner>,
    _message: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for ReceivePort<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReceivePort")
            .field("queued", &self.inner.queue.borrow().len())
            .field("closed", &self.inner.closed.get())
            .finish()
    }
}

impl<T: Serialize + DeserializeOwned> ReceivePort<T> {
    /// Opens a port.
    pub fn new() -> Result<Self, IsolateError> {
        let channel = new_channel()?;
        let inner = Rc::new_cyclic(|weak: &std::rc::Weak<ReceiveInner>| {
            let weak = weak.clone();
            let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
                if let Some(inner) = weak.upgrade() {
                    inner.queue.borrow_mut().push_back(parse(&event.data()));
                    if let Some(w) = inner.waker.borrow_mut().take() {
                        w.wake();
                    }
                }
            });
            ReceiveInner {
                ports: RefCell::new(Vec::new()),
                current: RefCell::new((channel.port2(), Rc::new(Cell::new(false)))),
                queue: RefCell::new(VecDeque::new()),
                waker: RefCell::new(None),
                closed: Cell::new(false),
                _on_message: on_message,
            }
        });
        inner.listen(&channel.port1());
        Ok(ReceivePort {
            inner,
            _message: PhantomData,
        })
    }

    /// A [`SendPort`] for this port. Call it as often as you like: each `SendPort` sent to
    /// another isolate gets its own channel, so the others keep working.
    pub fn send_port(&self) -> SendPort<T> {
        let needs_new = self.inner.current.borrow().1.get() && !self.inner.closed.get();
        if needs_new {
            if let Ok(channel) = new_channel() {
                self.inner.listen(&channel.port1());
                *self.inner.current.borrow_mut() = (channel.port2(), Rc::new(Cell::new(false)));
            }
        }
        let (port, sent) = self.inner.current.borrow().clone();
        SendPort {
            port,
            sent,
            origin: Some(Rc::downgrade(&self.inner)),
            _message: PhantomData,
        }
    }

    /// Stops receiving: the stream yields what already arrived, then ends.
    pub fn close(&self) {
        self.inner.close();
    }
}

fn parse(data: &JsValue) -> Pending {
    let (bytes, attachments) =
        message_parts(data).ok_or_else(|| IsolateError::protocol("not a port message"))?;
    match Envelope::decode(&bytes)? {
        (Envelope::Message { attachments: n }, payload) => {
            check_attachment_count(n, &attachments)?;
            let offset = bytes.len() - payload.len();
            Ok((bytes, offset, attachments))
        }
        _ => Err(IsolateError::protocol(
            "a port received something other than a message",
        )),
    }
}

impl<T: DeserializeOwned> Stream for ReceivePort<T> {
    type Item = Result<T, IsolateError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // `Isolate::pause` holds delivery inside a paused isolate.
        if crate::inside::lifecycle::paused_here(cx.waker()) {
            return Poll::Pending;
        }
        if let Some(next) = self.inner.queue.borrow_mut().pop_front() {
            return Poll::Ready(Some(
                next.and_then(|(bytes, offset, att)| codec::decode(&bytes[offset..], att)),
            ));
        }
        if self.inner.closed.get() {
            return Poll::Ready(None);
        }
        *self.inner.waker.borrow_mut() = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// The sending end of a port — Dart's `SendPort`: typed, `Clone`, and itself sendable inside a
/// message to another isolate (it travels as a transferred `MessagePort`).
///
/// Sending a `SendPort` *moves* its `MessagePort` (browsers cannot share one between threads):
/// afterwards this `SendPort` and its clones here fail with [`IsolateError::Closed`]. To keep
/// talking from here too, send a fresh one from [`ReceivePort::send_port`].
///
/// ```no_run
/// # fn demo() -> Result<(), wasm_isolates::IsolateError> {
/// use wasm_isolates::ReceivePort;
/// let port = ReceivePort::<u32>::new()?;
/// let tx = port.send_port();
/// tx.send(1)?;
/// tx.clone().send(2)?;
/// # Ok(()) }
/// ```
pub struct SendPort<T> {
    port: MessagePort,
    /// Set once the port was sent elsewhere (shared by clones).
    sent: Rc<Cell<bool>>,
    /// The local `ReceivePort` this came from, to link it to an isolate it is sent to.
    origin: Option<std::rc::Weak<ReceiveInner>>,
    _message: PhantomData<fn(T)>,
}

impl<T> Clone for SendPort<T> {
    fn clone(&self) -> Self {
        SendPort {
            port: self.port.clone(),
            sent: self.sent.clone(),
            origin: self.origin.clone(),
            _message: PhantomData,
        }
    }
}

impl<T> fmt::Debug for SendPort<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendPort")
            .field("sent_elsewhere", &self.sent.get())
            .finish()
    }
}

impl<T: Serialize> SendPort<T> {
    /// Sends `message`; every buffer in it is transferred. Never blocks.
    pub fn send(&self, message: T) -> Result<(), IsolateError> {
        if self.sent.get() {
            return Err(IsolateError::Closed);
        }
        let (mut bytes, attached) = codec::encode_after(MESSAGE_HEADER_LEN, &message)?;
        Envelope::Message {
            attachments: attached.len() as u32,
        }
        .write_header(&mut bytes);
        post_message(self.port.as_ref(), &bytes, attached)
    }
}

impl<T> SendPort<T> {
    /// The local `ReceivePort` this port belongs to, if it was made here and is still open.
    pub(crate) fn origin(&self) -> Option<Rc<ReceiveInner>> {
        self.origin.as_ref().and_then(std::rc::Weak::upgrade)
    }
}

thread_local! {
    /// Local receive ports whose `SendPort`s were serialized into the message being encoded.
    static SENT_ORIGINS: RefCell<Option<Vec<Rc<ReceiveInner>>>> = const { RefCell::new(None) };
}

/// Runs `f` (an encoder) and returns the local receive ports whose send ports it serialized.
pub(crate) fn collect_origins<R>(f: impl FnOnce() -> R) -> (R, Vec<Rc<ReceiveInner>>) {
    let saved = SENT_ORIGINS.with(|s| s.borrow_mut().replace(Vec::new()));
    let r = f();
    let got = SENT_ORIGINS.with(|s| std::mem::replace(&mut *s.borrow_mut(), saved));
    (r, got.unwrap_or_default())
}

impl<T> Serialize for SendPort<T> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.sent.get() {
            return Err(serde::ser::Error::custom(
                "this SendPort was already sent to another isolate",
            ));
        }
        let index = crate::wire::attachments::attach(self.port.clone().into()).map_err(|_| {
            serde::ser::Error::custom("a SendPort can only be sent by wasm-isolates")
        })?;
        self.sent.set(true);
        if let Some(origin) = self.origin() {
            SENT_ORIGINS.with(|s| {
                if let Some(list) = s.borrow_mut().as_mut() {
                    list.push(origin);
                }
            });
        }
        serializer.serialize_newtype_struct(crate::wire::transfer::ATTACHMENT, &index)
    }
}

impl<'de, T> Deserialize<'de> for SendPort<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde::de::Error;
        let index = crate::wire::transfer::Index::deserialize(deserializer)?.0;
        let value = crate::wire::attachments::take(index).map_err(D::Error::custom)?;
        let port = value
            .dyn_into::<MessagePort>()
            .map_err(|_| D::Error::custom("attachment for a SendPort is not a MessagePort"))?;
        Ok(SendPort {
            port,
            sent: Rc::new(Cell::new(false)),
            origin: None,
            _message: PhantomData,
        })
    }
}
