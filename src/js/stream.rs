//! `pool.stream(module, exportName, args, {window})`: an async generator exported by a task
//! module runs in one of the pool's isolates, and its items arrive as an async iterable with
//! backpressure — the JS face of the Rust [`stream`](crate::stream::stream), with the same
//! credit scheme: the producer may run `window` items ahead; each item the consumer takes
//! returns one credit.
//!
//! Ending early: `return()` (a `for await` loop left by `break`, `throw` or `return`) sends the
//! producer a stop, which ends its generator through the generator's own `return()` (its
//! `finally` blocks run) and frees the isolate; a producer that does not stop within
//! [`STOP_GRACE`] is cancelled like any task (its worker replaced).

use crate::error::IsolateError;
use crate::js::port::JsMessage;
use crate::js::support::{iter_result, poll_now, TaskSource, Thrown};
use crate::platform::timer::{Delay, TRAILING_MESSAGES};
use crate::pool::{IsolatePool, TaskHandle};
use crate::port::{ReceivePort, SendPort};
use futures_core::Stream;
use js_sys::{Array, Promise};
use serde::{Deserialize, Serialize};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::Poll;
use std::time::Duration;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, spawn_local, JsFuture};

#[wasm_bindgen(module = "/worker/js-api.js")]
extern "C" {
    #[wasm_bindgen(js_name = openIterator)]
    fn open_iterator(f: &JsValue, args: &Array) -> Promise;
    #[wasm_bindgen(js_name = iteratorNext)]
    fn iterator_next(it: &JsValue) -> Promise;
    #[wasm_bindgen(js_name = closeIterator)]
    fn close_iterator(it: &JsValue) -> Promise;
}

/// How long a producer told to stop may take to end before its task is cancelled.
const STOP_GRACE: Duration = Duration::from_secs(2);

/// What travels from the producer to the consumer, in order, on one port.
#[derive(Serialize, Deserialize)]
enum Event {
    /// The producer is running; credits (and the stop, a credit of 0) go to this port.
    Started(SendPort<u32>),
    Item(JsMessage),
    End,
    /// The module did not load, the export is not a generator, it threw, or an item could not
    /// be cloned.
    Failed(Thrown),
}

#[derive(Serialize, Deserialize)]
struct StreamCall {
    module: TaskSource,
    export: String,
    args: JsMessage,
    items: SendPort<Event>,
    window: u32,
}

/// Runs in the isolate.
async fn produce(call: StreamCall) {
    let Ok(mut credits) = ReceivePort::<u32>::new() else {
        return;
    };
    if call
        .items
        .send(Event::Started(credits.send_port()))
        .is_err()
    {
        return;
    }
    let fail = |e: &JsValue| {
        let _ = call.items.send(Event::Failed(Thrown::from_js(e)));
    };
    let f = match JsFuture::from(call.module.load(&call.export)).await {
        Ok(f) => f,
        Err(e) => return fail(&e),
    };
    let args = crate::js::isolate::with_context(&call.args.into_js(), None);
    let it = match JsFuture::from(open_iterator(&f, &args)).await {
        Ok(it) => it,
        Err(e) => return fail(&e),
    };
    let mut available = call.window;
    loop {
        // Take the credits already here without waiting; wait only when none are left. A
        // credit of 0, or the consumer's port closing, is the stop.
        loop {
            let next = if available == 0 {
                Some(std::future::poll_fn(|cx| Pin::new(&mut credits).poll_next(cx)).await)
            } else {
                poll_now(&mut std::future::poll_fn(|cx| {
                    Pin::new(&mut credits).poll_next(cx)
                }))
            };
            match next {
                Some(Some(Ok(n))) if n > 0 => available += n,
                Some(_) => {
                    let _ = JsFuture::from(close_iterator(&it)).await;
                    return;
                }
                None => break,
            }
        }
        let step = match JsFuture::from(iterator_next(&it)).await {
            Ok(step) => step,
            Err(e) => return fail(&e),
        };
        if crate::js::support::get(&step, "done").is_truthy() {
            let _ = call.items.send(Event::End);
            return;
        }
        let value = crate::js::support::get(&step, "value");
        let sent = JsMessage::from_js(&value, &JsValue::UNDEFINED)
            .and_then(|m| call.items.send(Event::Item(m)).map_err(JsValue::from));
        if let Err(e) = sent {
            fail(&e);
            let _ = JsFuture::from(close_iterator(&it)).await;
            return;
        }
        available -= 1;
    }
}

struct State {
    items: RefCell<Option<ReceivePort<Event>>>,
    credits: RefCell<Option<SendPort<u32>>>,
    task: RefCell<Option<TaskHandle<()>>>,
    /// The task failed (its worker died, it timed out); held a moment for items still on their way.
    failing: RefCell<Option<(IsolateError, Delay)>>,
    ended: Cell<bool>,
    /// The last `next()`: each waits for the one before (a stream wakes only its last poller).
    tail: RefCell<Promise>,
}

impl State {
    fn poll_item(&self, cx: &mut std::task::Context<'_>) -> Poll<Result<Option<JsValue>, JsValue>> {
        if self.ended.get() {
            return Poll::Ready(Ok(None));
        }
        loop {
            let polled = match self.items.borrow_mut().as_mut() {
                None => return Poll::Ready(Ok(None)),
                Some(items) => Pin::new(items).poll_next(cx),
            };
            match polled {
                Poll::Ready(Some(Ok(Event::Started(credits)))) => {
                    *self.credits.borrow_mut() = Some(credits);
                }
                Poll::Ready(Some(Ok(Event::Item(item)))) => {
                    if let Some(credits) = self.credits.borrow().as_ref() {
                        // A credit lost because the producer is gone does not matter.
                        let _ = credits.send(1);
                    }
                    if let Some((_, delay)) = self.failing.borrow_mut().as_mut() {
                        *delay = Delay::new(TRAILING_MESSAGES);
                    }
                    return Poll::Ready(Ok(Some(item.into_js())));
                }
                Poll::Ready(Some(Ok(Event::End))) | Poll::Ready(None) => {
                    self.finish();
                    return Poll::Ready(Ok(None));
                }
                Poll::Ready(Some(Ok(Event::Failed(thrown)))) => {
                    self.finish();
                    return Poll::Ready(Err(thrown.into_js()));
                }
                Poll::Ready(Some(Err(e))) => {
                    self.stop();
                    return Poll::Ready(Err(e.into()));
                }
                Poll::Pending => break,
            }
        }
        // No item yet: did the task itself fail (timeout, worker died)? Its failure travels apart
        // from the items, so hold it for items sent just before.
        let failed = match self.task.borrow_mut().as_mut() {
            Some(task) => match Pin::new(task).poll(cx) {
                Poll::Ready(Err(e)) => Some(e),
                _ => None,
            },
            None => None,
        };
        if let Some(e) = failed {
            self.task.borrow_mut().take();
            *self.failing.borrow_mut() = Some((e, Delay::new(TRAILING_MESSAGES)));
        }
        let held = self
            .failing
            .borrow_mut()
            .as_mut()
            .is_some_and(|(_, delay)| Pin::new(delay).poll(cx).is_ready());
        if held {
            if let Some((e, _)) = self.failing.borrow_mut().take() {
                self.finish();
                return Poll::Ready(Err(e.into()));
            }
        }
        Poll::Pending
    }

    /// The stream ended by itself: nothing more to receive.
    fn finish(&self) {
        self.ended.set(true);
        if let Some(items) = self.items.borrow_mut().take() {
            items.close();
        }
        // The producer's task has ended or is about to: let it settle on its own.
        if let Some(task) = self.task.borrow_mut().take() {
            task.detach();
        }
    }

    /// The consumer left early: stop the producer, and cancel it if it does not stop soon.
    fn stop(&self) {
        if self.ended.replace(true) {
            return;
        }
        if let Some(items) = self.items.borrow_mut().take() {
            items.close();
        }
        let task = self.task.borrow_mut().take();
        match self.credits.borrow_mut().take() {
            Some(credits) => {
                let _ = credits.send(0);
                if let Some(task) = task {
                    spawn_local(async move {
                        let mut task = std::pin::pin!(task);
                        let mut grace = Delay::new(STOP_GRACE);
                        std::future::poll_fn(|cx| {
                            if task.as_mut().poll(cx).is_ready()
                                || Pin::new(&mut grace).poll(cx).is_ready()
                            {
                                Poll::Ready(())
                            } else {
                                Poll::Pending
                            }
                        })
                        .await;
                        // Dropping an unfinished task cancels it.
                    });
                }
            }
            // Not started yet: cancelling removes it from the queue (or stops its start).
            None => drop(task),
        }
    }

    fn next(state: &Rc<State>) -> Promise {
        let prev = state.tail.borrow().clone();
        let inner = state.clone();
        let promise = future_to_promise(async move {
            let _ = JsFuture::from(prev).await;
            let item = std::future::poll_fn(|cx| inner.poll_item(cx)).await?;
            Ok(match item {
                Some(value) => iter_result(&value, false),
                None => iter_result(&JsValue::UNDEFINED, true),
            })
        });
        *state.tail.borrow_mut() = promise.clone();
        promise
    }
}

impl Drop for State {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What `pool.stream` returns: an async iterable of the generator's items.
#[wasm_bindgen(js_name = TaskStream, skip_typescript)]
pub struct JsTaskStream {
    state: Rc<State>,
}

#[wasm_bindgen(js_class = TaskStream)]
impl JsTaskStream {
    /// The next item, or `{done: true}` after the generator returned.
    pub fn next(&self) -> Promise {
        State::next(&self.state)
    }

    /// Stops the producer (its generator's `finally` blocks run) and ends the iteration.
    #[wasm_bindgen(js_name = "return")]
    pub fn return_(&self) -> Promise {
        self.state.stop();
        Promise::resolve(&iter_result(&JsValue::UNDEFINED, true))
    }

    /// Itself: `for await (const item of pool.stream(...))`.
    #[wasm_bindgen(js_name = "[Symbol.asyncIterator]")]
    pub fn iterator(&self) -> JsTaskStream {
        JsTaskStream {
            state: self.state.clone(),
        }
    }
}

/// Starts the producer on `pool`.
pub(crate) fn start(
    pool: &IsolatePool,
    module: TaskSource,
    export: String,
    args: JsMessage,
    window: u32,
) -> Result<JsTaskStream, JsValue> {
    let items = ReceivePort::<Event>::new()?;
    let task = pool.run_async(
        produce,
        StreamCall {
            module,
            export,
            args,
            items: items.send_port(),
            window,
        },
    );
    Ok(JsTaskStream {
        state: Rc::new(State {
            items: RefCell::new(Some(items)),
            credits: RefCell::new(None),
            task: RefCell::new(Some(task)),
            failing: RefCell::new(None),
            ended: Cell::new(false),
            tail: RefCell::new(Promise::resolve(&JsValue::UNDEFINED)),
        }),
    })
}

#[wasm_bindgen(typescript_custom_section)]
const TS_STREAM: &str = r#"
/** Options of `IsolatePool.stream`. */
export interface StreamOptions {
    /** How many items the generator may run ahead of the consumer. Default: 4. */
    window?: number;
    /** Values in `args` to move to the isolate instead of copying them. */
    transfer?: Transferable[];
}

/**
 * What `pool.stream` returns: the items of an async generator running in an isolate. Leaving a
 * `for await` loop early stops the generator (its `finally` blocks run).
 */
export interface TaskStream<T = unknown> extends AsyncIterableIterator<T> {
    next(): Promise<IteratorResult<T, undefined>>;
    return(): Promise<IteratorResult<T, undefined>>;
    [Symbol.asyncIterator](): TaskStream<T>;
    free(): void;
}

/** The result type of export `K` of a task module `M` (`typeof import('./task')`), awaited. */
export type TaskResult<M, K extends keyof M> = M[K] extends (...args: any[]) => infer R ? Awaited<R> : never;

/** The item type of async generator export `K` of a task module `M`. */
export type TaskItem<M, K extends keyof M> = M[K] extends (...args: any[]) => AsyncIterable<infer T> | Iterable<infer T> ? T : never;

export interface IsolatePool {
    /**
     * Calls task `exportName(...args, context)` registered by `serve()` in the script of the
     * pool's `worker` option; `tasks` is `tasksOf<typeof import('./tasks')>()`, which types the
     * names, the arguments and the result.
     */
    run<M, K extends TaskName<M>>(tasks: Tasks<M>, exportName: K, args?: TaskArgs<M[K]>, options?: RunOptions): Promise<TaskResult<M, K>>;
    /**
     * Calls `(await import(module))[exportName](...args, context)` in an isolate. Name the result
     * type with `run<T>` or, from the task module, `run<TaskResult<typeof import('./task'), 'name'>>`.
     */
    run<T = unknown>(module: string | URL, exportName: string, args?: readonly unknown[], options?: RunOptions): Promise<T>;
    /** `stream` for an async generator registered by `serve()` (see `run`); the items are typed from `M`. */
    stream<M, K extends TaskName<M>>(tasks: Tasks<M>, exportName: K, args?: TaskArgs<M[K]>, options?: StreamOptions): TaskStream<TaskItem<M, K>>;
    /**
     * Runs async generator `exportName` of `module` in an isolate (called with `...args, context`)
     * and returns its items, at most `window` ahead of the consumer.
     */
    stream<T = unknown>(module: string | URL, exportName: string, args?: readonly unknown[], options?: StreamOptions): TaskStream<T>;
}
"#;
