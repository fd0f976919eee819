//! [`IsolatePool`]: a set of warm isolates that run one-shot tasks in FIFO order.

use crate::attachments::Attachments;
use crate::isolate_worker::{IsolateWorker, ReplyPayload, WorkerConfig, WorkerEvent};
use crate::protocol::{Envelope, CALL_HEADER_LEN};
use crate::task::TaskRef;
use crate::{codec, Capabilities, IsolateError};
use futures_channel::oneshot;
use serde::{de::DeserializeOwned, Serialize};
use std::cell::RefCell;
use std::collections::VecDeque;
use std::future::Future;
use std::rc::{Rc, Weak};

/// Options for an [`IsolatePool`]. Build one with [`IsolatePool::builder`].
///
/// ```no_run
/// # async fn demo() -> Result<(), wasm_isolates::IsolateError> {
/// use wasm_isolates::IsolatePool;
///
/// let pool = IsolatePool::builder().size(2).debug_name("parser").build()?;
/// let n: usize = pool.run(|s: String| s.len(), "hello".to_string()).await?;
/// assert_eq!(n, 5);
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
#[must_use]
pub struct PoolBuilder {
    size: Option<usize>,
    glue_url: Option<String>,
    debug_name: String,
}

impl PoolBuilder {
    /// How many isolates the pool runs at most. Default: `hardwareConcurrency - 1`, at least 1.
    /// Isolates start when tasks arrive and then stay warm for the next ones.
    pub fn size(mut self, size: usize) -> Self {
        self.size = Some(size.max(1));
        self
    }

    /// The URL of the wasm-bindgen glue (`your_crate.js`) workers import. Default: the URL this
    /// instance's own glue was loaded from (`import.meta.url`), which is right unless a bundler
    /// moved the glue.
    pub fn glue_url(mut self, url: impl Into<String>) -> Self {
        self.glue_url = Some(url.into());
        self
    }

    /// A name for the pool's workers in devtools (`wasm-isolates:<name>`). Default: `pool`.
    pub fn debug_name(mut self, name: impl Into<String>) -> Self {
        self.debug_name = name.into();
        self
    }

    /// Creates the pool. Fails with [`IsolateError::Unsupported`] where module workers are not
    /// available. No worker starts until the first task.
    pub fn build(self) -> Result<IsolatePool, IsolateError> {
        let caps = Capabilities::detect();
        if !caps.workers || !caps.module_workers {
            return Err(IsolateError::Unsupported {
                capability: if caps.workers {
                    "module Worker"
                } else {
                    "Worker"
                }
                .into(),
                message: "isolates are Web Workers loading ES modules; this host has none".into(),
            });
        }
        let size = self.size.unwrap_or_else(|| {
            (caps.hardware_concurrency as usize)
                .saturating_sub(1)
                .max(1)
        });
        let config = WorkerConfig {
            glue_url: self.glue_url.unwrap_or_else(crate::host::glue_url),
            debug_name: self.debug_name,
        };
        Ok(IsolatePool {
            inner: Rc::new(PoolInner {
                size,
                config,
                state: RefCell::new(PoolState::default()),
            }),
        })
    }
}

/// A pool of isolates running one-shot tasks, first in, first out.
///
/// All isolates instantiate the one compiled module this instance came from. A task that panics,
/// or whose worker dies, settles with an error and its worker is replaced; the rest of the queue
/// goes on. Dropping the pool terminates its workers; tasks still waiting then settle with
/// [`IsolateError::Closed`].
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
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct IsolatePool {
    inner: Rc<PoolInner>,
}

struct PoolInner {
    size: usize,
    config: WorkerConfig,
    state: RefCell<PoolState>,
}

#[derive(Default)]
struct PoolState {
    slots: Vec<Slot>,
    queue: VecDeque<Job>,
    next_id: u64,
    next_slot: u64,
}

struct Slot {
    id: u64,
    worker: IsolateWorker,
    state: SlotState,
}

enum SlotState {
    Starting,
    Idle,
    Busy(InFlight),
}

struct Job {
    id: u64,
    message: Vec<u8>,
    attachments: Attachments,
    reply: oneshot::Sender<Result<ReplyPayload, IsolateError>>,
}

struct InFlight {
    id: u64,
    reply: oneshot::Sender<Result<ReplyPayload, IsolateError>>,
}

impl IsolatePool {
    /// Starts configuring a pool.
    pub fn builder() -> PoolBuilder {
        PoolBuilder {
            size: None,
            glue_url: None,
            debug_name: "pool".into(),
        }
    }

    /// Runs `task(input)` in one of the pool's isolates and returns its output.
    ///
    /// `task` is a plain `fn` or a non-capturing closure: it is named to the isolate by its
    /// function-table index, so anything it needs must travel in `input`.
    pub fn run<I, O>(
        &self,
        task: fn(I) -> O,
        input: I,
    ) -> impl Future<Output = Result<O, IsolateError>> + 'static
    where
        I: Serialize + DeserializeOwned + 'static,
        O: Serialize + DeserializeOwned + 'static,
    {
        self.call(TaskRef::sync(task), &input)
    }

    /// Runs an `async` task: `task(input)` returns a future, which the isolate drives to
    /// completion (it may `await` fetches, timers, other isolates).
    pub fn run_async<I, O, F>(
        &self,
        task: fn(I) -> F,
        input: I,
    ) -> impl Future<Output = Result<O, IsolateError>> + 'static
    where
        I: Serialize + DeserializeOwned + 'static,
        O: Serialize + DeserializeOwned + 'static,
        F: Future<Output = O> + 'static,
    {
        self.call(TaskRef::future(task), &input)
    }

    /// How many isolates the pool may run.
    pub fn size(&self) -> usize {
        self.inner.size
    }

    pub(crate) fn call<I: Serialize, O: DeserializeOwned>(
        &self,
        task: TaskRef,
        input: &I,
    ) -> impl Future<Output = Result<O, IsolateError>> + 'static {
        let receiver =
            codec::encode_after(CALL_HEADER_LEN, input).map(|(mut message, attached)| {
                let id = self.inner.next_id();
                Envelope::Call {
                    id,
                    trampoline: task.trampoline as u32,
                    task: task.task as u32,
                    attachments: attached.len() as u32,
                }
                .write_header(&mut message);
                self.inner.enqueue(id, message, attached)
            });
        async move {
            match receiver?.await {
                Ok(reply) => reply?.decode(),
                // The sender went away without a reply: the pool was dropped.
                Err(oneshot::Canceled) => Err(IsolateError::Closed),
            }
        }
    }

    #[doc(hidden)]
    /// Sends raw bytes as if they were a call, for tests of the worker's defences.
    pub fn __send_raw(
        &self,
        message: Vec<u8>,
    ) -> impl Future<Output = Result<Vec<u8>, IsolateError>> + 'static {
        let id = self.inner.next_id();
        let receiver = self.inner.enqueue(id, message, Attachments::default());
        async move {
            match receiver.await {
                Ok(reply) => reply.map(|r| r.payload().to_vec()),
                Err(oneshot::Canceled) => Err(IsolateError::Closed),
            }
        }
    }
}

impl PoolInner {
    fn next_id(&self) -> u64 {
        let mut state = self.state.borrow_mut();
        state.next_id += 1;
        state.next_id
    }

    fn enqueue(
        self: &Rc<Self>,
        id: u64,
        message: Vec<u8>,
        attachments: Attachments,
    ) -> oneshot::Receiver<Result<ReplyPayload, IsolateError>> {
        let (reply, receiver) = oneshot::channel();
        self.state.borrow_mut().queue.push_back(Job {
            id,
            message,
            attachments,
            reply,
        });
        self.pump();
        receiver
    }

    /// Hands queued jobs to idle workers and starts workers while jobs wait and room remains.
    fn pump(self: &Rc<Self>) {
        let mut state = self.state.borrow_mut();
        loop {
            if state.queue.is_empty() {
                return;
            }
            if let Some(slot) = state
                .slots
                .iter_mut()
                .find(|s| matches!(s.state, SlotState::Idle))
            {
                let slot_id = slot.id;
                let Some(job) = state.queue.pop_front() else {
                    return;
                };
                // Re-borrow the slot: `state.queue` and `state.slots` are disjoint fields.
                let slot = state.slots.iter_mut().find(|s| s.id == slot_id);
                let Some(slot) = slot else { return };
                match slot.worker.post(&job.message, job.attachments) {
                    Ok(()) => {
                        slot.state = SlotState::Busy(InFlight {
                            id: job.id,
                            reply: job.reply,
                        })
                    }
                    Err(e) => {
                        let _ = job.reply.send(Err(e));
                    }
                }
                continue;
            }
            let starting = state
                .slots
                .iter()
                .filter(|s| matches!(s.state, SlotState::Starting))
                .count();
            if state.slots.len() >= self.size || starting >= state.queue.len() {
                return;
            }
            state.next_slot += 1;
            let slot_id = state.next_slot;
            let weak: Weak<PoolInner> = Rc::downgrade(self);
            let sink = Rc::new(move |event: WorkerEvent| {
                if let Some(pool) = weak.upgrade() {
                    pool.on_event(slot_id, event);
                }
            });
            match IsolateWorker::spawn(&self.config, sink) {
                Ok(worker) => state.slots.push(Slot {
                    id: slot_id,
                    worker,
                    state: SlotState::Starting,
                }),
                Err(e) => {
                    // No worker can be made (e.g. blocked by policy): settle the oldest job so
                    // nothing waits for a worker that will never come.
                    if let Some(job) = state.queue.pop_front() {
                        let _ = job.reply.send(Err(e));
                    }
                }
            }
        }
    }

    fn on_event(self: &Rc<Self>, slot_id: u64, event: WorkerEvent) {
        let retired = {
            let mut state = self.state.borrow_mut();
            let Some(index) = state.slots.iter().position(|s| s.id == slot_id) else {
                return; // a late event from a worker already retired
            };
            match event {
                WorkerEvent::Ready => {
                    if matches!(state.slots[index].state, SlotState::Starting) {
                        state.slots[index].state = SlotState::Idle;
                    }
                    None
                }
                WorkerEvent::Reply { id, result } => {
                    let slot = &mut state.slots[index];
                    // One call per worker at a time, so any reply answers the call in flight; a
                    // late reply to an idle worker has no one to settle.
                    let SlotState::Busy(in_flight) =
                        std::mem::replace(&mut slot.state, SlotState::Idle)
                    else {
                        return;
                    };
                    let result = match result {
                        Ok(_) if id != in_flight.id => Err(IsolateError::protocol(format!(
                            "reply for call {id} while call {} was in flight",
                            in_flight.id
                        ))),
                        other => other,
                    };
                    // A panic aborts the instance: that worker cannot run another task.
                    let poisoned = matches!(result, Err(IsolateError::Panicked { .. }));
                    let _ = in_flight.reply.send(result);
                    poisoned.then(|| state.slots.remove(index))
                }
                WorkerEvent::Fatal(error) => {
                    let mut slot = state.slots.remove(index);
                    match std::mem::replace(&mut slot.state, SlotState::Idle) {
                        SlotState::Busy(in_flight) => {
                            let _ = in_flight.reply.send(Err(error));
                        }
                        // A worker that never started takes the oldest job's hope with it,
                        // so a host where workers cannot start fails tasks instead of
                        // queueing them forever.
                        SlotState::Starting => {
                            if let Some(job) = state.queue.pop_front() {
                                let _ = job.reply.send(Err(error));
                            }
                        }
                        SlotState::Idle => {}
                    }
                    Some(slot)
                }
            }
        };
        // Terminate outside the borrow (dropping a worker detaches JS handlers).
        drop(retired);
        self.pump();
    }
}
