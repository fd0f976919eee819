//! [`stream`]: a task that yields items in batches, received as a [`Stream`] with backpressure
//! (the seed's section 9 pattern: process a large input and deliver results as they are ready).

use crate::error::IsolateError;
use crate::platform::timer::{Delay, TRAILING_MESSAGES};
use crate::pool::TaskHandle;
use crate::port::{ReceivePort, SendPort};
use futures_core::Stream;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// What travels from the producer to the consumer.
#[derive(Serialize, Deserialize)]
enum Event<T> {
    /// The producer is ready; credits go to this port.
    Started(SendPort<u32>),
    Item(T),
    End,
    /// The producer's isolate panicked: no item follows (its panic report comes apart).
    Stopped,
}

#[derive(Serialize, Deserialize)]
struct Start<I, T> {
    producer: usize,
    input: I,
    items: SendPort<Event<T>>,
    window: u32,
}

/// The producer's side of a [`stream`]: [`send`](Self::send) each item; it waits while the
/// consumer is `window` items behind.
pub struct StreamSink<T> {
    items: SendPort<Event<T>>,
    credits: ReceivePort<u32>,
    available: u32,
}

impl<T: Serialize + DeserializeOwned> StreamSink<T> {
    /// Sends one item (its buffers transferred), first waiting for the consumer if it is a full
    /// window behind. Fails with [`IsolateError::Closed`] once the consumer is gone.
    pub async fn send(&mut self, item: T) -> Result<(), IsolateError> {
        self.ready().await?;
        self.available -= 1;
        self.items.send(Event::Item(item))
    }

    /// Waits until the consumer has room for one more item, without sending one — so an
    /// expensive item need not be built before it can go.
    pub async fn ready(&mut self) -> Result<(), IsolateError> {
        while self.available == 0 {
            let credits = &mut self.credits;
            match std::future::poll_fn(|cx| Pin::new(&mut *credits).poll_next(cx)).await {
                Some(Ok(n)) => self.available += n,
                Some(Err(e)) => return Err(e),
                None => return Err(IsolateError::Closed),
            }
        }
        Ok(())
    }
}

/// Runs `producer(input, sink)` in an isolate and returns the items it sends as a [`Stream`].
///
/// Backpressure: the producer may run at most `window` items (default 4, see
/// [`stream_with_window`]) ahead of the consumer; [`StreamSink::send`] waits for the consumer
/// beyond that, so a slow consumer never makes the producer pile up unbounded messages. Items
/// may carry [`TransferBuffer`](crate::wire::transfer::TransferBuffer)s, which move without copying.
///
/// The stream ends after the producer returns. If the producer fails (panics, its worker
/// dies), the stream yields that error, then ends; a producer that panics has every item it
/// sent before the panic yielded first, however late they arrive (one whose worker dies without
/// a word gets 50 ms for items still on their way). Dropping the stream cancels the producer.
/// It runs on one isolate of the shared default pool and works with or without cross-origin
/// isolation.
///
/// ```no_run
/// # async fn demo() {
/// use futures_util::StreamExt;
/// use wasm_isolates::{stream, StreamSink};
///
/// async fn squares(n: u32, mut sink: StreamSink<Vec<u32>>) {
///     for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
///         let batch = chunk.iter().map(|i| i * i).collect();
///         if sink.send(batch).await.is_err() {
///             return; // the consumer went away
///         }
///     }
/// }
///
/// let mut batches = stream(squares, 1000);
/// while let Some(batch) = batches.next().await {
///     let _batch: Vec<u32> = batch.unwrap();
/// }
/// # }
/// ```
pub fn stream<I, T, F>(producer: fn(I, StreamSink<T>) -> F, input: I) -> IsolateStream<T>
where
    I: Serialize + DeserializeOwned + 'static,
    T: Serialize + DeserializeOwned + 'static,
    F: Future<Output = ()> + 'static,
{
    stream_with_window(producer, input, 4)
}

/// [`stream`] with the number of items the producer may run ahead of the consumer.
pub fn stream_with_window<I, T, F>(
    producer: fn(I, StreamSink<T>) -> F,
    input: I,
    window: u32,
) -> IsolateStream<T>
where
    I: Serialize + DeserializeOwned + 'static,
    T: Serialize + DeserializeOwned + 'static,
    F: Future<Output = ()> + 'static,
{
    let items = match ReceivePort::<Event<T>>::new() {
        Ok(items) => items,
        Err(e) => return IsolateStream::failed(e),
    };
    let start = Start {
        producer: producer as usize,
        input,
        items: items.send_port(),
        window: window.max(1),
    };
    let task = crate::run::submit_to_default_pool(
        crate::wire::task::TaskRef::future(produce::<I, T, F>),
        start,
    );
    IsolateStream {
        items: Some(items),
        credits: None,
        task: Some(task),
        error: None,
        failing: None,
        stopped: false,
        ended: false,
    }
}

/// Runs in the isolate: announces the credit port, runs the producer, marks the end.
async fn produce<I, T, F>(start: Start<I, T>)
where
    I: Serialize + DeserializeOwned + 'static,
    T: Serialize + DeserializeOwned + 'static,
    F: Future<Output = ()> + 'static,
{
    // SAFETY: `producer` was made from a `fn(I, StreamSink<T>) -> F` by `stream_with_window`
    // with these same type parameters, in this same module.
    let producer: fn(I, StreamSink<T>) -> F = unsafe { std::mem::transmute(start.producer) };
    let Ok(credits) = ReceivePort::<u32>::new() else {
        return;
    };
    if start
        .items
        .send(Event::Started(credits.send_port()))
        .is_err()
    {
        return;
    }
    let sink = StreamSink {
        items: start.items.clone(),
        credits,
        available: start.window,
    };
    let stopped = start.items.clone();
    let _notice = crate::inside::panic_notice::on_panic(move || {
        let _ = stopped.send(Event::Stopped);
    });
    producer(start.input, sink).await;
    let _ = start.items.send(Event::End);
}

/// How long a failure is held for the producer's items still on their way. A panic is preceded
/// on the items' port by `Stopped` (the panic hook posts it before the panic report), so a
/// panicked producer is waited for until `Stopped` comes: the grace only guards the one case
/// where the hook could not post it (a panic while a notice was being registered). Regression:
/// with 50 ms for a panic too, WebKit under load reported the panic of
/// `stream_reports_a_failing_producer` before its second item (CI, 2026-11-28). Any other
/// failure (a worker that died without a word) sends no notice, and its items trail it by a few
/// milliseconds.
fn trailing_grace(error: &IsolateError) -> std::time::Duration {
    match error {
        IsolateError::Panicked { .. } => PANIC_NOTICE_GRACE,
        _ => TRAILING_MESSAGES,
    }
}

/// See [`trailing_grace`].
const PANIC_NOTICE_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

/// The consumer's side of a [`stream`]: a [`Stream`] of the producer's items.
#[must_use = "streams do nothing unless polled; dropping one cancels its producer"]
pub struct IsolateStream<T> {
    items: Option<ReceivePort<Event<T>>>,
    credits: Option<SendPort<u32>>,
    task: Option<TaskHandle<()>>,
    error: Option<IsolateError>,
    /// The producer failed; its error is held until items it sent before failing are in.
    failing: Option<(IsolateError, Delay)>,
    /// The producer's isolate said it panicked: every item it sent is in.
    stopped: bool,
    ended: bool,
}

impl<T> IsolateStream<T> {
    fn failed(error: IsolateError) -> Self {
        IsolateStream {
            items: None,
            credits: None,
            task: None,
            error: Some(error),
            failing: None,
            stopped: false,
            ended: false,
        }
    }
}

impl<T: Serialize + DeserializeOwned> Stream for IsolateStream<T> {
    type Item = Result<T, IsolateError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(e) = this.error.take() {
            this.ended = true;
            return Poll::Ready(Some(Err(e)));
        }
        if this.ended {
            return Poll::Ready(None);
        }
        loop {
            let Some(items) = this.items.as_mut() else {
                return Poll::Ready(None);
            };
            match Pin::new(items).poll_next(cx) {
                Poll::Ready(Some(Ok(Event::Started(credits)))) => this.credits = Some(credits),
                Poll::Ready(Some(Ok(Event::Item(item)))) => {
                    if let Some(credits) = &this.credits {
                        // A credit lost because the producer is gone does not matter.
                        let _ = credits.send(1);
                    }
                    if let Some((e, delay)) = this.failing.as_mut() {
                        *delay = Delay::new(trailing_grace(e)); // more may be on their way
                    }
                    return Poll::Ready(Some(Ok(item)));
                }
                Poll::Ready(Some(Ok(Event::End))) | Poll::Ready(None) => {
                    this.ended = true;
                    return Poll::Ready(None);
                }
                Poll::Ready(Some(Ok(Event::Stopped))) => {
                    this.stopped = true;
                    break;
                }
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Pending => break,
            }
        }
        // No item yet: has the producer's task failed? (A success is followed by `End`.) Its
        // failure travels on another port than its items, so items it sent just before failing
        // may still be on their way: a panicking producer says `Stopped` after its last item;
        // one whose worker died without a word gets a moment for them.
        if let Some(task) = this.task.as_mut() {
            if let Poll::Ready(result) = Pin::new(task).poll(cx) {
                this.task = None;
                if let Err(e) = result {
                    let grace = trailing_grace(&e);
                    this.failing = Some((e, Delay::new(grace)));
                }
            }
        }
        let stopped = this.stopped;
        let held_long_enough = this
            .failing
            .as_mut()
            .is_some_and(|(_, delay)| stopped || Pin::new(delay).poll(cx).is_ready());
        if held_long_enough {
            if let Some((e, _)) = this.failing.take() {
                this.ended = true;
                return Poll::Ready(Some(Err(e)));
            }
        }
        Poll::Pending
    }
}
