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

/// What arrived on one of a receive port's channels.
enum Arrival {
    Message(Pending),
    /// A new channel to listen to (`Envelope::NewSender`).
    NewSender(MessagePort),
}

pub(crate) struct ReceiveInner {
    /// The receiving ends: the port's first channel, and one more for each copy of a
    /// `SendPort` sent to another thread.
    ports: RefCell<Vec<MessagePort>>,
    /// The sending end of the first channel, which every local `SendPort` uses.
    sender: MessagePort,
    queue: RefCell<VecDeque<Pending>>,
    waker: RefCell<Option<Waker>>,
    closed: Cell<bool>,
    /// Spawned isolates whose message carried a `SendPort` of this port and that have not
    /// exited; when the last one exits the port ends (see `ReceivePort`).
    linked_isolates: Cell<usize>,
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

    /// An isolate was spawned with a `SendPort` of this port in its message.
    pub(crate) fn link(&self) {
        self.linked_isolates.set(self.linked_isolates.get() + 1);
    }

    /// A linked isolate exited: the last one to exit ends the port.
    pub(crate) fn unlink(&self) {
        let left = self.linked_isolates.get().saturating_sub(1);
        self.linked_isolates.set(left);
        if left == 0 {
            self.close();
        }
    }

    fn detach(&self) {
        for port in self.ports.borrow().iter() {
            port.set_onmessage(None);
            port.close();
        }
    }

    fn listen(&self, port: &MessagePort) {
        if self.closed.get() {
            // A sender for a closed port: what it sends is dropped, as in Dart.
            port.close();
            return;
        }
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
/// The stream ends (`None`) after [`close`](Self::close), or when the isolates it was linked to
/// have all exited (a port whose `SendPort` was in an
/// [`Isolate::spawn`](crate::isolate::Isolate::spawn) message is linked to that isolate), so no
/// receive waits on dead isolates. This is the one place where the crate departs from Dart, whose
/// ports stay open until closed: a `for await` over a worker's results ends with the worker. A message that cannot be
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
                let Some(inner) = weak.upgrade() else {
                    return;
                };
                match parse(&event.data()) {
                    Arrival::NewSender(port) => inner.listen(&port),
                    Arrival::Message(pending) => {
                        inner.queue.borrow_mut().push_back(pending);
                        if let Some(w) = inner.waker.borrow_mut().take() {
                            w.wake();
                        }
                    }
                }
            });
            ReceiveInner {
                ports: RefCell::new(Vec::new()),
                sender: channel.port2(),
                queue: RefCell::new(VecDeque::new()),
                waker: RefCell::new(None),
                closed: Cell::new(false),
                linked_isolates: Cell::new(0),
                _on_message: on_message,
            }
        });
        inner.listen(&channel.port1());
        Ok(ReceivePort {
            inner,
            _message: PhantomData,
        })
    }

    /// A [`SendPort`] for this port. Call it as often as you like, clone it, send it to other
    /// isolates: every copy keeps working.
    pub fn send_port(&self) -> SendPort<T> {
        SendPort {
            port: self.inner.sender.clone(),
            origin: Some(Rc::downgrade(&self.inner)),
            _message: PhantomData,
        }
    }

    /// Stops receiving: the stream yields what already arrived, then ends.
    pub fn close(&self) {
        self.inner.close();
    }
}

fn parse(data: &JsValue) -> Arrival {
    let Some((bytes, attachments)) = message_parts(data) else {
        return Arrival::Message(Err(IsolateError::protocol("not a port message")));
    };
    let decoded = Envelope::decode(&bytes).map(|(env, payload)| (env, bytes.len() - payload.len()));
    match decoded {
        Ok((Envelope::Message { attachments: n }, offset)) => Arrival::Message(
            check_attachment_count(n, &attachments).map(|()| (bytes, offset, attachments)),
        ),
        Ok((Envelope::NewSender, _)) => match attachments.0.first().map(|v| v.clone().dyn_into()) {
            Some(Ok(port)) if attachments.len() == 1 => Arrival::NewSender(port),
            _ => Arrival::Message(Err(IsolateError::protocol(
                "a new sender did not carry exactly one MessagePort",
            ))),
        },
        Ok(_) => Arrival::Message(Err(IsolateError::protocol(
            "a port received something other than a message",
        ))),
        Err(e) => Arrival::Message(Err(e.into())),
    }
}

impl<T: DeserializeOwned> Stream for ReceivePort<T> {
    type Item = Result<T, IsolateError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // `Isolate::pause` holds delivery inside a paused isolate.
        if crate::inside::pause::paused_here(cx.waker()) {
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
/// message to another isolate, any number of times; every copy keeps working.
///
/// A browser `MessagePort` can live in one thread only, so a `SendPort` is never sent as its own
/// port: each copy sent away gets a new `MessageChannel` whose receiving end joins the
/// [`ReceivePort`]. When the `ReceivePort` is in this thread it listens to the new channel at
/// once; otherwise the new receiving end is first posted to it on this `SendPort`'s own channel
/// (`Envelope::NewSender`), and messages sent on the copy meanwhile wait in the channel. Messages
/// from one sender arrive in the order sent; messages from different copies may interleave.
/// Sending to a closed `ReceivePort` is not an error; the message is dropped, as in Dart.
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
    /// The local `ReceivePort` this came from, to link it to an isolate it is sent to.
    origin: Option<std::rc::Weak<ReceiveInner>>,
    _message: PhantomData<fn(T)>,
}

impl<T> Clone for SendPort<T> {
    fn clone(&self) -> Self {
        SendPort {
            port: self.port.clone(),
            origin: self.origin.clone(),
            _message: PhantomData,
        }
    }
}

impl<T> fmt::Debug for SendPort<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SendPort")
            .field("local", &self.origin().is_some())
            .finish()
    }
}

impl<T: Serialize> SendPort<T> {
    /// Sends `message`; every buffer in it is transferred. Never blocks.
    pub fn send(&self, message: T) -> Result<(), IsolateError> {
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
        use serde::ser::Error;
        let channel = new_channel().map_err(S::Error::custom)?;
        let origin = self.origin();
        match &origin {
            Some(local) => local.listen(&channel.port1()),
            None => {
                let notice = Envelope::NewSender.encode(&[]);
                let attached = Attachments(vec![channel.port1().into()]);
                post_message(self.port.as_ref(), &notice, attached).map_err(S::Error::custom)?;
            }
        }
        let index = crate::wire::attachments::attach(channel.port2().into())
            .map_err(|_| S::Error::custom("a SendPort can only be sent by wasm-isolates"))?;
        if let Some(origin) = origin {
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
            origin: None,
            _message: PhantomData,
        })
    }
}
