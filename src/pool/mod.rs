//! [`IsolatePool`]: warm isolates running one-shot tasks first in, first out, with a bounded
//! queue, timeouts, cancellation and replacement of dead workers.

mod builder;
mod handle;
mod reply;
mod staging;

pub use builder::PoolBuilder;
pub(crate) use handle::deliver_batched;
pub use handle::TaskHandle;
use reply::{Reply, ReplyCell};
// The JS pool's way to settle a task (feature `js`).
#[cfg_attr(not(feature = "js"), allow(unused_imports))]
pub(crate) use reply::{ReplyCallback, ReplyResult};
use staging::{stage, CallBytes, JobMessage, STAGE_ABOVE_BYTES};

use crate::error::IsolateError;
use crate::parent::worker::IsolateWorker;
use crate::parent::worker::ReplyPayload;
use crate::parent::worker::WorkerConfig;
use crate::parent::worker::WorkerEvent;
use crate::platform::capabilities::Capabilities;
use crate::platform::timer::Timer;
use crate::wire::attachments::Attachments;
use crate::wire::codec;
use crate::wire::control::{self, ControlBlock};
use crate::wire::message::check_size;
use crate::wire::protocol::{Envelope, CALL_HEADER_LEN};
use crate::wire::task::TaskRef;
use futures_channel::oneshot;
use serde::{de::DeserializeOwned, Serialize};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::rc::{Rc, Weak};
use std::task::{Context, Poll};
use std::time::Duration;

/// A pool of isolates running one-shot tasks, first in, first out.
///
/// All isolates instantiate the one compiled module this instance came from. What happens on
/// each failure:
///
/// | the task... | it settles with | its worker |
/// |---|---|---|
/// | panics | [`IsolateError::Panicked`] | replaced |
/// | throws / leaves a rejection unhandled in JS | [`IsolateError::WorkerError`] | replaced |
/// | loses its worker (`close()`, crash, OOM) | [`IsolateError::WorkerDied`] | replaced |
/// | runs past `task_timeout` | [`IsolateError::TimedOut`] | terminated, replaced |
/// | is cancelled while queued | [`IsolateError::Cancelled`] | — |
/// | is cancelled while running | [`IsolateError::Cancelled`] | kept if it stops within `cancel_grace` (needs `SharedArrayBuffer`), else replaced |
/// | finds the queue full in `try_run` | [`IsolateError::QueueFull`] | — |
/// | is submitted after `close()` | [`IsolateError::Closed`] | — |
///
/// The rest of the queue goes on in every case. Dropping the pool terminates its workers and
/// settles every task still pending with [`IsolateError::Closed`].
///
/// ```no_run
/// # async fn demo() -> Result<(), wasm_isolates::IsolateError> {
/// use wasm_isolates::IsolatePool;
///
/// fn checksum(bytes: Vec<u8>) -> u32 {
///     bytes.iter().map(|&b| b as u32).sum()
/// }
///
/// let pool = IsolatePool::builder().size(2).build()?;
/// assert_eq!(pool.run(checksum, vec![1, 2, 3]).await?, 6);
/// let handle = pool.spawn_task(checksum, vec![4; 1000]);
/// handle.cancel(); // or just drop it
/// pool.close().await; // finish queued work, then stop the workers
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct IsolatePool {
    inner: Rc<PoolInner>,
}

/// Counters describing a pool, from [`IsolatePool::stats`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct PoolStats {
    /// The configured size.
    pub size: usize,
    /// Workers alive now (starting, idle or busy).
    pub live: usize,
    /// Workers running a task now.
    pub busy: usize,
    /// Tasks in the queue.
    pub queued: usize,
    /// Tasks held back because the queue was full.
    pub waiting: usize,
    /// Tasks that returned a result.
    pub completed: u64,
    /// Tasks that ended with an error (including cancelled and timed out).
    pub failed: u64,
    /// Workers replaced after a panic, a crash, a timeout or a cancellation.
    pub restarted: u64,
}

struct PoolInner {
    size: usize,
    options: PoolBuilder,
    /// Running tasks can be asked to stop through a control block.
    cooperative: bool,
    config: WorkerConfig,
    state: RefCell<PoolState>,
}

#[derive(Default)]
struct PoolState {
    slots: Vec<Slot>,
    queue: VecDeque<Job>,
    /// Accepted by `run` while the queue was full; admitted in order.
    waiting: VecDeque<Job>,
    next_id: u64,
    next_slot: u64,
    closing: bool,
    close_waiters: Vec<oneshot::Sender<()>>,
    ready_waiters: Vec<oneshot::Sender<()>>,
    /// Start failures since the last successful start (stops prewarm from retrying forever).
    start_failures: u32,
    stats: PoolStats,
}

struct Slot {
    id: u64,
    worker: IsolateWorker,
    control: Option<ControlBlock>,
    state: SlotState,
}

enum SlotState {
    Starting,
    Idle { _timer: Option<Timer> },
    Busy(InFlight),
}

struct Job {
    id: u64,
    message: JobMessage,
    attachments: Attachments,
    reply: Reply,
}

struct InFlight {
    id: u64,
    reply: Reply,
    cancelled: bool,
    /// The task timeout, or the cancellation grace period once cancelled.
    _timer: Option<Timer>,
}

impl IsolatePool {
    /// Starts configuring a pool.
    pub fn builder() -> PoolBuilder {
        PoolBuilder {
            size: None,
            max_queue: usize::MAX,
            task_timeout: None,
            idle_timeout: None,
            cancel_grace: Duration::from_millis(100),
            prewarm: false,
            max_message_bytes: 256 << 20,
            glue_url: None,
            debug_name: "pool".into(),
            factory: None,
        }
    }

    /// Runs `task(input)` in one of the pool's isolates; the returned [`TaskHandle`] resolves
    /// to its output. The task is submitted at once (awaiting is not needed for it to run);
    /// dropping the handle cancels it.
    ///
    /// `task` is a plain `fn` or a non-capturing closure: it is named to the isolate by its
    /// function-table index, so anything it needs must travel in `input`.
    pub fn run<I, O>(&self, task: fn(I) -> O, input: I) -> TaskHandle<O>
    where
        I: Serialize + DeserializeOwned + 'static,
        O: Serialize + DeserializeOwned + 'static,
    {
        self.submit(TaskRef::sync(task), input)
    }

    /// Runs `task(input)` like [`run`](Self::run), for a task that returns a sequence, and
    /// delivers the sequence without a long task on this thread: the isolate writes it in
    /// batches of about 256 KiB, and this thread decodes a few batches at a time, yielding to the
    /// event loop between slices of at most ~6 ms, so a page keeps drawing frames while half a
    /// million records arrive. [`run`](Self::run) decodes the whole output in one task (50–60 ms
    /// for 580,000 small records): use `run_vec` for large sequences.
    ///
    /// Dropping the future cancels the task, or stops the delivery if it has begun. Errors are
    /// those of [`run`](Self::run); a panic in the task arrives as [`IsolateError::Panicked`].
    ///
    /// ```no_run
    /// # async fn demo(pool: wasm_isolates::IsolatePool) -> Result<(), wasm_isolates::IsolateError> {
    /// fn squares(n: u64) -> Vec<u64> {
    ///     (0..n).map(|i| i * i).collect()
    /// }
    /// let v = pool.run_vec(squares, 1_000_000).await?;
    /// assert_eq!(v.len(), 1_000_000);
    /// # Ok(()) }
    /// ```
    pub fn run_vec<I, T>(
        &self,
        task: fn(I) -> Vec<T>,
        input: I,
    ) -> impl Future<Output = Result<Vec<T>, IsolateError>> + 'static
    where
        I: Serialize + DeserializeOwned + 'static,
        T: Serialize + DeserializeOwned + 'static,
    {
        let handle: TaskHandle<Vec<T>> = self.submit(TaskRef::batched(task), input);
        deliver_batched(handle)
    }

    /// Runs an `async` task: `task(input)` returns a future, which the isolate drives to
    /// completion (it may `await` fetches, timers, other isolates).
    pub fn run_async<I, O, F>(&self, task: fn(I) -> F, input: I) -> TaskHandle<O>
    where
        I: Serialize + DeserializeOwned + 'static,
        O: Serialize + DeserializeOwned + 'static,
        F: Future<Output = O> + 'static,
    {
        self.submit(TaskRef::future(task), input)
    }

    /// Like [`run`](Self::run), but refuses with [`IsolateError::QueueFull`] instead of waiting
    /// when the queue is at its bound.
    pub fn try_run<I, O>(&self, task: fn(I) -> O, input: I) -> Result<TaskHandle<O>, IsolateError>
    where
        I: Serialize + DeserializeOwned + 'static,
        O: Serialize + DeserializeOwned + 'static,
    {
        {
            let state = self.inner.state.borrow();
            let pending = state.queue.len() + state.waiting.len();
            if pending >= self.inner.options.max_queue {
                return Err(IsolateError::QueueFull {
                    capacity: self.inner.options.max_queue,
                });
            }
        }
        Ok(self.submit(TaskRef::sync(task), input))
    }

    /// The same as [`run`](Self::run), named for what it returns: a handle to cancel or await.
    pub fn spawn_task<I, O>(&self, task: fn(I) -> O, input: I) -> TaskHandle<O>
    where
        I: Serialize + DeserializeOwned + 'static,
        O: Serialize + DeserializeOwned + 'static,
    {
        self.run(task, input)
    }

    /// Stops accepting tasks (new ones settle with [`IsolateError::Closed`]), lets every queued
    /// and running task finish, then terminates the workers. Resolves when all that is done.
    pub fn close(&self) -> impl Future<Output = ()> + 'static {
        let (tx, rx) = oneshot::channel();
        {
            let mut state = self.inner.state.borrow_mut();
            state.closing = true;
            state.close_waiters.push(tx);
        }
        self.inner.pump();
        async move {
            let _ = rx.await;
        }
    }

    /// Resolves once no worker of the pool is still starting — with
    /// [`prewarm`](PoolBuilder::prewarm), when every isolate is ready for its first task.
    pub fn ready(&self) -> impl Future<Output = ()> + 'static {
        let (tx, rx) = oneshot::channel();
        self.inner.state.borrow_mut().ready_waiters.push(tx);
        self.inner.pump();
        async move {
            let _ = rx.await;
        }
    }

    /// A snapshot of the pool's counters.
    pub fn stats(&self) -> PoolStats {
        let state = self.inner.state.borrow();
        PoolStats {
            size: self.inner.size,
            live: state.slots.len(),
            busy: state
                .slots
                .iter()
                .filter(|s| matches!(s.state, SlotState::Busy(_)))
                .count(),
            queued: state.queue.len(),
            waiting: state.waiting.len(),
            ..state.stats
        }
    }

    /// How many isolates the pool may run.
    pub fn size(&self) -> usize {
        self.inner.size
    }

    pub(crate) fn submit<I: Serialize + 'static, O: DeserializeOwned>(
        &self,
        task: TaskRef,
        input: I,
    ) -> TaskHandle<O> {
        let mut input = Some(input);
        let encoded = match codec::take_large_string(&mut input, STAGE_ABOVE_BYTES) {
            Some(text) => self.encode_text_call(task, text),
            None => match &input {
                Some(input) => self
                    .encode_call(task, input)
                    .map(|(id, message, attached)| (id, CallBytes::whole(message), attached)),
                None => Err(IsolateError::protocol("the input was taken")),
            },
        };
        match encoded {
            Ok((id, message, attached)) => self.inner.enqueue_for_handle(id, message, attached),
            Err(e) => TaskHandle::failed(e),
        }
    }

    /// Submits like [`submit`](Self::submit), settling the task by calling `on_reply` from the
    /// worker's message handler instead of through a future (the JS pool resolves its promise
    /// there). `on_reply` is called exactly once, also for a call that cannot be encoded (at
    /// once) and when the pool goes away ([`IsolateError::Closed`]); see [`ReplyCallback`] for
    /// what it must not do. Returns the task's id for [`cancel_task`](Self::cancel_task)
    /// (0 when it was refused at once).
    #[cfg_attr(not(feature = "js"), allow(dead_code))]
    pub(crate) fn submit_with_callback<I: Serialize>(
        &self,
        task: TaskRef,
        input: &I,
        on_reply: ReplyCallback,
    ) -> u64 {
        match self.encode_call(task, input) {
            Ok((id, message, attached)) => {
                self.inner.enqueue(
                    id,
                    CallBytes::whole(message),
                    attached,
                    Reply::callback(on_reply),
                );
                id
            }
            Err(e) => {
                on_reply(Err(e));
                0
            }
        }
    }

    /// Cancels task `id` of [`submit_with_callback`](Self::submit_with_callback), as
    /// [`TaskHandle::cancel`] does.
    #[cfg_attr(not(feature = "js"), allow(dead_code))]
    pub(crate) fn cancel_task(&self, id: u64) {
        self.inner.cancel(id);
    }

    /// The call's id and envelope (header written in front of the encoded input), and the JS
    /// values it carries.
    fn encode_call<I: Serialize>(
        &self,
        task: TaskRef,
        input: &I,
    ) -> Result<(u64, Vec<u8>, Attachments), IsolateError> {
        let (mut message, attached) = codec::encode_after(CALL_HEADER_LEN, input)?;
        let len = message.len();
        let id = self.seal_call(task, &mut message, len, attached.len())?;
        Ok((id, message, attached))
    }

    /// Checks a call's size (`len` bytes in all) against the pool's limit and writes its
    /// envelope header into the room left at the front of `head`; the call's id.
    fn seal_call(
        &self,
        task: TaskRef,
        head: &mut [u8],
        len: usize,
        attachments: usize,
    ) -> Result<u64, IsolateError> {
        check_size(len, self.inner.options.max_message_bytes)?;
        let id = self.inner.next_id();
        Envelope::Call {
            id,
            trampoline: task.trampoline as u32,
            task: task.task as u32,
            attachments: attachments as u32,
        }
        .write_header(head);
        Ok(id)
    }

    /// The call for a task whose input is one large `String` (`codec::take_large_string`): the
    /// envelope's header and the MessagePack string header, then the string's own bytes, staged
    /// from the string itself a slice per task (`rmp_serde` would copy all of them into one
    /// buffer first, in one task: 15–25 ms for the seed's 60 MB body).
    fn encode_text_call(
        &self,
        task: TaskRef,
        text: String,
    ) -> Result<(u64, CallBytes, Attachments), IsolateError> {
        let mut head = vec![0u8; CALL_HEADER_LEN];
        head.extend_from_slice(&codec::str_header(&text)?);
        let len = head.len() + text.len();
        let id = self.seal_call(task, &mut head, len, 0)?;
        Ok((
            id,
            CallBytes {
                head,
                text: Some(text),
            },
            Attachments::default(),
        ))
    }

    #[doc(hidden)]
    /// Sends raw bytes as if they were a call, for tests of the worker's defences.
    pub fn __send_raw(
        &self,
        message: Vec<u8>,
    ) -> impl Future<Output = Result<Vec<u8>, IsolateError>> + 'static {
        let id = self.inner.next_id();
        let mut handle: TaskHandle<()> =
            self.inner
                .enqueue_for_handle(id, CallBytes::whole(message), Attachments::default());
        async move {
            let reply = std::future::poll_fn(|cx| handle.poll_reply(cx)).await;
            reply.map(|r| r.payload())
        }
    }
}

impl PoolInner {
    fn next_id(&self) -> u64 {
        let mut state = self.state.borrow_mut();
        state.next_id += 1;
        state.next_id
    }

    /// Queues a call whose reply a [`TaskHandle`] awaits.
    fn enqueue_for_handle<O>(
        self: &Rc<Self>,
        id: u64,
        message: CallBytes,
        attachments: Attachments,
    ) -> TaskHandle<O> {
        if self.state.borrow().closing {
            return TaskHandle::failed(IsolateError::Closed);
        }
        let cell = ReplyCell::new();
        self.enqueue(id, message, attachments, Reply::cell(cell.clone()));
        TaskHandle {
            id,
            pool: Rc::downgrade(self),
            receiver: Some(cell),
            error: None,
            _output: PhantomData,
        }
    }

    /// Queues a call; `reply` is settled when it ends (at once with `Closed` if the pool is
    /// closing).
    fn enqueue(
        self: &Rc<Self>,
        id: u64,
        message: CallBytes,
        attachments: Attachments,
        reply: Reply,
    ) {
        {
            let mut state = self.state.borrow_mut();
            if state.closing {
                drop(state);
                reply.send(Err(IsolateError::Closed));
                return;
            }
            let message = if message.len() > STAGE_ABOVE_BYTES {
                let buffer = Rc::new(RefCell::new(None));
                wasm_bindgen_futures::spawn_local(stage(
                    message,
                    buffer.clone(),
                    Rc::downgrade(self),
                ));
                JobMessage::Staging(buffer)
            } else {
                JobMessage::Bytes(message.into_vec())
            };
            let job = Job {
                id,
                message,
                attachments,
                reply,
            };
            if state.queue.len() < self.options.max_queue && state.waiting.is_empty() {
                state.queue.push_back(job);
            } else {
                state.waiting.push_back(job);
            }
        }
        self.pump();
    }

    /// Admits waiting jobs, hands queued jobs to idle workers, starts workers while jobs wait and
    /// room remains, keeps a prewarmed pool full, and finishes a close once all work is done.
    fn pump(self: &Rc<Self>) {
        let mut retired = Vec::new();
        {
            let mut state = self.state.borrow_mut();
            let state = &mut *state;
            loop {
                while state.queue.len() < self.options.max_queue {
                    match state.waiting.pop_front() {
                        Some(job) => state.queue.push_back(job),
                        None => break,
                    }
                }
                if state.queue.is_empty() {
                    break;
                }
                if !state.queue.front().is_some_and(Job::ready) {
                    break; // the head is still being staged; `stage` pumps when it is done
                }
                if let Some(slot) = state
                    .slots
                    .iter_mut()
                    .find(|s| matches!(s.state, SlotState::Idle { .. }))
                {
                    let Some(job) = state.queue.pop_front() else {
                        break;
                    };
                    self.dispatch(slot, job, &mut state.stats);
                    continue;
                }
                let starting = state
                    .slots
                    .iter()
                    .filter(|s| matches!(s.state, SlotState::Starting))
                    .count();
                if state.slots.len() >= self.size || starting >= state.queue.len() {
                    break;
                }
                if let Err(e) = self.start_worker(state) {
                    // No worker can be made (e.g. blocked by policy): settle the oldest job so
                    // nothing waits for a worker that will never come.
                    if let Some(job) = state.queue.pop_front() {
                        state.stats.failed += 1;
                        job.reply.send(Err(e));
                    }
                }
            }
            let keep_full = self.options.prewarm && !state.closing && state.start_failures == 0;
            while keep_full && state.slots.len() < self.size {
                if self.start_worker(state).is_err() {
                    break;
                }
            }
            let idle = state.queue.is_empty()
                && state.waiting.is_empty()
                && state
                    .slots
                    .iter()
                    .all(|s| !matches!(s.state, SlotState::Busy(_)));
            if !state
                .slots
                .iter()
                .any(|s| matches!(s.state, SlotState::Starting))
            {
                for waiter in state.ready_waiters.drain(..) {
                    let _ = waiter.send(());
                }
            }
            if state.closing && idle {
                retired.append(&mut state.slots);
                for waiter in state.close_waiters.drain(..) {
                    let _ = waiter.send(());
                }
            }
        }
        // Terminate outside the borrow (dropping a worker detaches its JS handlers).
        drop(retired);
    }

    fn start_worker(self: &Rc<Self>, state: &mut PoolState) -> Result<(), IsolateError> {
        state.next_slot += 1;
        let slot_id = state.next_slot;
        let weak: Weak<PoolInner> = Rc::downgrade(self);
        let sink = Rc::new(move |event: WorkerEvent| {
            if let Some(pool) = weak.upgrade() {
                pool.on_event(slot_id, event);
            }
        });
        let control = if self.cooperative {
            ControlBlock::new()
        } else {
            None
        };
        let worker = IsolateWorker::spawn(&self.config, control.as_ref(), sink)?;
        state.slots.push(Slot {
            id: slot_id,
            worker,
            control,
            state: SlotState::Starting,
        });
        Ok(())
    }

    fn dispatch(self: &Rc<Self>, slot: &mut Slot, job: Job, stats: &mut PoolStats) {
        if let Some(block) = &slot.control {
            // Clear any request aimed at an earlier call before this one can look.
            block.store(control::REQUEST, 0);
        }
        let posted = match &job.message {
            JobMessage::Bytes(bytes) => slot.worker.post(bytes, job.attachments),
            JobMessage::Staging(buffer) => match buffer.borrow_mut().take() {
                Some(buffer) => slot.worker.post_buffer(&buffer, job.attachments),
                None => Err(IsolateError::protocol(
                    "a staged call was dispatched unfinished",
                )),
            },
        };
        match posted {
            Ok(()) => {
                let timer = self.options.task_timeout.map(|timeout| {
                    let weak = Rc::downgrade(self);
                    let (slot_id, job_id) = (slot.id, job.id);
                    Timer::start(timeout, move || {
                        if let Some(pool) = weak.upgrade() {
                            pool.on_timeout(slot_id, job_id, timeout);
                        }
                    })
                });
                slot.state = SlotState::Busy(InFlight {
                    id: job.id,
                    reply: job.reply,
                    cancelled: false,
                    _timer: timer,
                });
            }
            Err(e) => {
                stats.failed += 1;
                job.reply.send(Err(e));
            }
        }
    }

    fn idle_state(self: &Rc<Self>, slot_id: u64) -> SlotState {
        let timer = self.options.idle_timeout.map(|timeout| {
            let weak = Rc::downgrade(self);
            Timer::start(timeout, move || {
                if let Some(pool) = weak.upgrade() {
                    pool.on_idle_timeout(slot_id);
                }
            })
        });
        SlotState::Idle { _timer: timer }
    }

    /// Settles a task and records it.
    fn settle(stats: &mut PoolStats, reply: Reply, result: Result<ReplyPayload, IsolateError>) {
        match result {
            Ok(_) => stats.completed += 1,
            Err(_) => stats.failed += 1,
        }
        reply.send(result);
    }

    fn on_event(self: &Rc<Self>, slot_id: u64, event: WorkerEvent) {
        let retired = {
            let mut state = self.state.borrow_mut();
            let state = &mut *state;
            let Some(index) = state.slots.iter().position(|s| s.id == slot_id) else {
                return; // a late event from a worker already retired
            };
            match event {
                WorkerEvent::Ready => {
                    state.start_failures = 0;
                    if matches!(state.slots[index].state, SlotState::Starting) {
                        state.slots[index].state = self.idle_state(slot_id);
                    }
                    None
                }
                WorkerEvent::Reply { id, result } => {
                    let idle = self.idle_state(slot_id);
                    let slot = &mut state.slots[index];
                    // One call per worker at a time, so any reply answers the call in flight; a
                    // late reply to an idle worker has no one to settle.
                    if !matches!(slot.state, SlotState::Busy(_)) {
                        return;
                    }
                    let SlotState::Busy(in_flight) = std::mem::replace(&mut slot.state, idle)
                    else {
                        return;
                    };
                    let result = match result {
                        _ if in_flight.cancelled => Err(IsolateError::Cancelled),
                        Ok(_) if id != in_flight.id => Err(IsolateError::protocol(format!(
                            "reply for call {id} while call {} was in flight",
                            in_flight.id
                        ))),
                        other => other,
                    };
                    // A panic aborts the instance: that worker cannot run another task.
                    let poisoned = matches!(result, Err(IsolateError::Panicked { .. }));
                    Self::settle(&mut state.stats, in_flight.reply, result);
                    poisoned.then(|| {
                        state.stats.restarted += 1;
                        state.slots.remove(index)
                    })
                }
                WorkerEvent::Fatal(error) => {
                    let mut slot = state.slots.remove(index);
                    match std::mem::replace(&mut slot.state, SlotState::Starting) {
                        SlotState::Busy(in_flight) => {
                            state.stats.restarted += 1;
                            let error = if in_flight.cancelled {
                                IsolateError::Cancelled
                            } else {
                                error
                            };
                            Self::settle(&mut state.stats, in_flight.reply, Err(error));
                        }
                        // A worker that never started takes the oldest job's hope with it, so a
                        // host where workers cannot start fails tasks instead of queueing them
                        // forever.
                        SlotState::Starting => {
                            state.start_failures += 1;
                            if let Some(job) = state.queue.pop_front() {
                                Self::settle(&mut state.stats, job.reply, Err(error));
                            }
                        }
                        SlotState::Idle { .. } => state.stats.restarted += 1,
                    }
                    Some(slot)
                }
            }
        };
        drop(retired);
        self.pump();
    }

    /// Removes the worker running `job_id` from the pool and settles the job with `error`.
    fn stop_running(self: &Rc<Self>, slot_id: u64, job_id: u64, error: IsolateError) {
        let retired = {
            let mut state = self.state.borrow_mut();
            let state = &mut *state;
            let Some(index) = state.slots.iter().position(|s| {
                s.id == slot_id && matches!(&s.state, SlotState::Busy(f) if f.id == job_id)
            }) else {
                return;
            };
            let mut slot = state.slots.remove(index);
            if let SlotState::Busy(in_flight) =
                std::mem::replace(&mut slot.state, SlotState::Starting)
            {
                state.stats.restarted += 1;
                Self::settle(&mut state.stats, in_flight.reply, Err(error));
            }
            slot
        };
        drop(retired); // terminates the worker
        self.pump();
    }

    fn on_timeout(self: &Rc<Self>, slot_id: u64, job_id: u64, timeout: Duration) {
        let cancelled = self.state.borrow().slots.iter().any(|s| {
            s.id == slot_id
                && matches!(&s.state, SlotState::Busy(f) if f.id == job_id && f.cancelled)
        });
        let error = if cancelled {
            IsolateError::Cancelled
        } else {
            IsolateError::TimedOut {
                after_ms: timeout.as_millis() as u64,
            }
        };
        self.stop_running(slot_id, job_id, error);
    }

    fn on_idle_timeout(self: &Rc<Self>, slot_id: u64) {
        let retired = {
            let mut state = self.state.borrow_mut();
            let index = state
                .slots
                .iter()
                .position(|s| s.id == slot_id && matches!(s.state, SlotState::Idle { .. }));
            index.map(|i| state.slots.remove(i))
        };
        drop(retired);
    }

    fn cancel(self: &Rc<Self>, job_id: u64) {
        enum Next {
            Nothing,
            Pump,
            Terminate(u64),
        }
        let next =
            {
                let mut state = self.state.borrow_mut();
                let state = &mut *state;
                let queued = [&mut state.queue, &mut state.waiting]
                    .into_iter()
                    .find_map(|list| {
                        let pos = list.iter().position(|j| j.id == job_id)?;
                        list.remove(pos)
                    });
                if let Some(job) = queued {
                    Self::settle(&mut state.stats, job.reply, Err(IsolateError::Cancelled));
                    Next::Pump
                } else if let Some(slot) = state.slots.iter_mut().find(
                    |s| matches!(&s.state, SlotState::Busy(f) if f.id == job_id && !f.cancelled),
                ) {
                    let slot_id = slot.id;
                    match (&slot.control, &mut slot.state) {
                        (Some(block), SlotState::Busy(in_flight)) => {
                            // Ask the task to stop; terminate only if it has not within the grace
                            // period.
                            block.store(control::REQUEST, control::call_word(job_id));
                            in_flight.cancelled = true;
                            let weak = Rc::downgrade(self);
                            in_flight._timer =
                                Some(Timer::start(self.options.cancel_grace, move || {
                                    if let Some(pool) = weak.upgrade() {
                                        pool.stop_running(slot_id, job_id, IsolateError::Cancelled);
                                    }
                                }));
                            Next::Nothing
                        }
                        _ => Next::Terminate(slot_id),
                    }
                } else {
                    Next::Nothing // finished already, or never existed
                }
            };
        match next {
            Next::Nothing => {}
            Next::Pump => self.pump(),
            Next::Terminate(slot_id) => self.stop_running(slot_id, job_id, IsolateError::Cancelled),
        }
    }
}
