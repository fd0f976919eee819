//! [`Isolate`]: a long-lived isolate — Dart's `Isolate.spawn` with kill, pause, listeners and a
//! shared control block.

use crate::error::IsolateError;
use crate::parent::worker::IsolateWorker;
use crate::parent::worker::WorkerConfig;
use crate::parent::worker::WorkerEvent;
use crate::platform::capabilities::Capabilities;
use crate::platform::timer::Timer;
use crate::port::{collect_origins, ReceiveInner, SendPort};
use crate::wire::codec;
use crate::wire::control::{self, ControlBlock};
use crate::wire::protocol::{Envelope, CALL_HEADER_LEN};
use crate::wire::task::TaskRef;
use futures_channel::oneshot;
use serde::{de::DeserializeOwned, Serialize};
use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::{Rc, Weak};
use std::time::Duration;

/// How urgently [`Isolate::kill`] stops an isolate (Dart's `Isolate.immediate` /
/// `Isolate.beforeNextEvent`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Priority {
    /// Terminate the worker now, whatever it is doing.
    Immediate,
    /// Ask first: code polling [`should_stop`](crate::inside::lifecycle::should_stop) sees the request, an idle isolate stops at its
    /// next event; if it is still alive after the builder's `kill_grace`, it is terminated.
    BeforeNextEvent,
}

/// Where an isolate is in its life, read from the control block without a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IsolateState {
    /// The worker is loading the module.
    Starting,
    /// The entry function is running (or awaiting).
    Running,
    /// [`Isolate::pause`] holds its message delivery.
    Paused,
    /// It is stopping (its entry returned, it called [`exit`](crate::inside::lifecycle::exit), or a kill was requested).
    Exiting,
    /// Its worker is gone.
    Dead,
}

/// Why an isolate ended, from [`Isolate::exited`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExitReason {
    /// Its entry function returned, or it called [`exit`](crate::inside::lifecycle::exit).
    Returned,
    /// [`Isolate::kill`] stopped it.
    Killed,
    /// It failed: a panic, a fatal error, or its worker died.
    Failed(IsolateError),
}

use control::{STATE_DEAD, STATE_EXITING, STATE_RUNNING, STATE_STARTING};

/// Options for [`Isolate::spawn`]; start with [`Isolate::builder`].
///
/// ```no_run
/// # async fn demo() -> Result<(), wasm_isolates::IsolateError> {
/// use wasm_isolates::Isolate;
/// fn entry(_: ()) {}
/// let iso = Isolate::builder().debug_name("tracker").errors_are_fatal(false).spawn(entry, ()).await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
#[must_use]
pub struct IsolateBuilder {
    debug_name: String,
    errors_are_fatal: bool,
    kill_grace: Duration,
    glue_url: Option<String>,
    factory: Option<crate::parent::worker::WorkerFactory>,
}

impl IsolateBuilder {
    /// The JS `worker` option: `factory` makes the isolate's worker.
    #[cfg(feature = "js")]
    pub(crate) fn worker_factory(mut self, factory: crate::parent::worker::WorkerFactory) -> Self {
        self.factory = Some(factory);
        self
    }

    /// The isolate's name in devtools and in [`Isolate::debug_name`]. Default: `isolate`.
    pub fn debug_name(mut self, name: impl Into<String>) -> Self {
        self.debug_name = name.into();
        self
    }

    /// Whether an uncaught JS error or unhandled rejection in the isolate ends it (Dart's
    /// `errorsAreFatal`, default `true`). Either way the error goes to the error listeners. A
    /// panic always ends it: a panicking wasm instance cannot continue.
    pub fn errors_are_fatal(mut self, fatal: bool) -> Self {
        self.errors_are_fatal = fatal;
        self
    }

    /// How long [`Priority::BeforeNextEvent`] waits before terminating. Default: 500 ms.
    pub fn kill_grace(mut self, grace: Duration) -> Self {
        self.kill_grace = grace;
        self
    }

    /// Where the worker imports the wasm-bindgen glue from. Default: this instance's glue (see
    /// [`PoolBuilder::glue_url`](crate::pool::PoolBuilder::glue_url) for how it is found).
    pub fn glue_url(mut self, url: impl Into<String>) -> Self {
        self.glue_url = Some(url.into());
        self
    }

    /// Spawns an isolate running `entry(message)`; see [`Isolate::spawn`].
    pub fn spawn<M>(
        self,
        entry: fn(M),
        message: M,
    ) -> impl Future<Output = Result<Isolate, IsolateError>> + 'static
    where
        M: Serialize + DeserializeOwned + 'static,
    {
        spawn_ref(self, TaskRef::sync(entry), codec_message(&message))
    }

    /// Spawns an isolate running the `async` entry `entry(message)` until its future completes.
    pub fn spawn_async<M, F>(
        self,
        entry: fn(M) -> F,
        message: M,
    ) -> impl Future<Output = Result<Isolate, IsolateError>> + 'static
    where
        M: Serialize + DeserializeOwned + 'static,
        F: Future<Output = ()> + 'static,
    {
        spawn_ref(self, TaskRef::future(entry), codec_message(&message))
    }
}

type EncodedMessage = (
    Result<(Vec<u8>, crate::wire::attachments::Attachments), IsolateError>,
    Vec<Rc<ReceiveInner>>,
);

fn codec_message<M: Serialize>(message: &M) -> EncodedMessage {
    collect_origins(|| codec::encode_after(CALL_HEADER_LEN, message))
}

/// A handle to a long-lived isolate — Dart's `Isolate`. Clones are handles to the same isolate.
///
/// As in Dart, an isolate lives until it exits or is killed, not as long as its handle:
/// dropping every handle leaves it running (`let _ = Isolate::spawn(entry, port).await?;` is the
/// seed's fire-and-forget spawn). Keep a handle to [`kill`](Self::kill), [`pause`](Self::pause)
/// or await [`exited`](Self::exited); without one, talk to it through the ports in its message,
/// and let it end itself (its entry returns, or it calls [`exit`](crate::inside::lifecycle::exit)).
///
/// The isolate runs its entry function; it exits when the entry returns (an `async` entry: when
/// its future completes — await a [`ReceivePort`](crate::port::ReceivePort) to keep it serving), when
/// it calls [`exit`](crate::inside::lifecycle::exit), when it is killed, or when it fails. On exit, exactly once: its
/// on-exit responses are sent, [`exited`](Self::exited) resolves, and every
/// [`ReceivePort`](crate::port::ReceivePort) whose `SendPort` was in the spawn message ends, so no
/// receive waits on a dead isolate.
///
/// Requires `SharedArrayBuffer` (a cross-origin isolated page), for the control block that makes
/// `kill`, `pause` and progress work while the isolate is busy.
///
/// ```no_run
/// # async fn demo() -> Result<(), wasm_isolates::IsolateError> {
/// use futures_util::StreamExt;
/// use wasm_isolates::{Isolate, Priority, ReceivePort, SendPort};
///
/// fn tracker(results: SendPort<u32>) {
///     for batch in 0..3 {
///         let _ = results.send(batch);
///     }
/// }
///
/// let mut results = ReceivePort::<u32>::new()?;
/// let iso = Isolate::spawn(tracker, results.send_port()).await?;
/// while let Some(batch) = results.next().await {
///     let _batch = batch?; // 0, 1, 2, then the stream ends as the isolate exits
/// }
/// iso.kill(Priority::Immediate);
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct Isolate {
    inner: Rc<IsolateInner>,
}

struct IsolateInner {
    debug_name: String,
    errors_are_fatal: bool,
    kill_grace: Duration,
    control: ControlBlock,
    worker: RefCell<Option<IsolateWorker>>,
    entry: RefCell<Option<(Vec<u8>, crate::wire::attachments::Attachments)>>,
    ready: RefCell<Option<oneshot::Sender<Result<(), IsolateError>>>>,
    kill_requested: Cell<bool>,
    kill_timer: RefCell<Option<Timer>>,
    exit_reason: RefCell<Option<ExitReason>>,
    exit_waiters: RefCell<Vec<oneshot::Sender<ExitReason>>>,
    exit_listeners: RefCell<Vec<Box<dyn FnOnce()>>>,
    error_listeners: RefCell<Vec<SendPort<IsolateError>>>,
    linked: RefCell<Vec<Rc<ReceiveInner>>>,
}

const ENTRY_CALL_ID: u64 = 1;

thread_local! {
    /// Every isolate this thread spawned that has not exited: an isolate lives until it exits
    /// or is killed, as in Dart, not as long as someone holds its handle. `finish` takes it out.
    static RUNNING: RefCell<Vec<Rc<IsolateInner>>> = const { RefCell::new(Vec::new()) };
}

fn spawn_ref(
    builder: IsolateBuilder,
    entry: TaskRef,
    (encoded, linked): EncodedMessage,
) -> impl Future<Output = Result<Isolate, IsolateError>> + 'static {
    let started = (|| {
        let caps = Capabilities::detect();
        if !caps.can_spawn() {
            return Err(unsupported(&caps));
        }
        let (mut message, attached) = encoded?;
        Envelope::Call {
            id: ENTRY_CALL_ID,
            trampoline: entry.trampoline as u32,
            task: entry.task as u32,
            attachments: attached.len() as u32,
        }
        .write_header(&mut message);
        let control = ControlBlock::new().ok_or_else(|| unsupported(&caps))?;
        let (ready_tx, ready_rx) = oneshot::channel();
        let inner = Rc::new(IsolateInner {
            debug_name: builder.debug_name.clone(),
            errors_are_fatal: builder.errors_are_fatal,
            kill_grace: builder.kill_grace,
            control,
            worker: RefCell::new(None),
            entry: RefCell::new(Some((message, attached))),
            ready: RefCell::new(Some(ready_tx)),
            kill_requested: Cell::new(false),
            kill_timer: RefCell::new(None),
            exit_reason: RefCell::new(None),
            exit_waiters: RefCell::new(Vec::new()),
            exit_listeners: RefCell::new(Vec::new()),
            error_listeners: RefCell::new(Vec::new()),
            linked: RefCell::new({
                for port in &linked {
                    port.link();
                }
                linked
            }),
        });
        let weak = Rc::downgrade(&inner);
        let sink = Rc::new(move |event: WorkerEvent| {
            if let Some(inner) = weak.upgrade() {
                IsolateInner::on_event(&inner, event);
            }
        });
        let config = WorkerConfig {
            glue_url: builder.glue_url,
            debug_name: builder.debug_name,
            max_message_bytes: u32::MAX,
            factory: builder.factory,
        };
        let worker = IsolateWorker::spawn(&config, Some(&inner.control), sink)?;
        *inner.worker.borrow_mut() = Some(worker);
        RUNNING.with(|r| r.borrow_mut().push(inner.clone()));
        Ok((inner, ready_rx))
    })();
    async move {
        let (inner, ready_rx) = started?;
        match ready_rx.await {
            Ok(Ok(())) => Ok(Isolate { inner }),
            Ok(Err(e)) => Err(e),
            Err(oneshot::Canceled) => Err(IsolateError::Closed),
        }
    }
}

/// Why `spawn` cannot work here, naming what is really missing. The advice differs by case: on a
/// page that is not cross-origin isolated the two headers are the cure; on an isolated page that
/// still has no `SharedArrayBuffer` (WebKitGTK 2.50 is one) no header can help, and saying
/// "set the headers" would send the developer after a fix they already made.
fn unsupported(caps: &Capabilities) -> IsolateError {
    const ONE_SHOT: &str = "One-shot `run`/`compute` and `IsolatePool` work here.";
    let (capability, message) = if !(caps.workers && caps.module_workers) {
        (
            "module Worker",
            "isolates need Workers that load ES modules (`new Worker(url, {type: \"module\"})`), \
             which this host does not have."
                .to_string(),
        )
    } else if caps.shared_array_buffer {
        // Present, yet the control block could not be made in it.
        (
            "SharedArrayBuffer",
            format!(
                "long-lived isolates need a SharedArrayBuffer control block, and creating one \
                 failed although SharedArrayBuffer exists. {ONE_SHOT}"
            ),
        )
    } else if caps.cross_origin_isolated {
        (
            "SharedArrayBuffer",
            format!(
                "long-lived isolates need SharedArrayBuffer, and this browser does not expose it \
                 even on this cross-origin isolated page (its \
                 `Cross-Origin-Opener-Policy: same-origin` and \
                 `Cross-Origin-Embedder-Policy: require-corp` are in effect), so no header can \
                 enable `Isolate::spawn` in this browser. {ONE_SHOT}"
            ),
        )
    } else {
        (
            "SharedArrayBuffer",
            format!(
                "long-lived isolates need SharedArrayBuffer, which browsers expose only on \
                 cross-origin isolated pages: serve the page with \
                 `Cross-Origin-Opener-Policy: same-origin` and \
                 `Cross-Origin-Embedder-Policy: require-corp`. {ONE_SHOT}"
            ),
        )
    };
    IsolateError::Unsupported {
        capability: capability.into(),
        message,
    }
}

impl Isolate {
    /// Starts configuring an isolate.
    pub fn builder() -> IsolateBuilder {
        IsolateBuilder {
            debug_name: "isolate".into(),
            errors_are_fatal: true,
            kill_grace: Duration::from_millis(500),
            glue_url: None,
            factory: None,
        }
    }

    /// Spawns an isolate running `entry(message)` — Dart's `Isolate.spawn(entry, message)`.
    /// Resolves once the isolate's worker has instantiated the module and started the entry.
    ///
    /// `message` usually carries a [`SendPort`] for the isolate to answer on (it may create its
    /// own [`ReceivePort`](crate::port::ReceivePort) and send that port's `SendPort` back).
    ///
    /// # Errors
    /// [`IsolateError::Unsupported`] without `SharedArrayBuffer` (its message names the two
    /// headers to set), [`IsolateError::StartFailed`] if the worker cannot start,
    /// [`IsolateError::Codec`] if `message` cannot be serialized.
    pub fn spawn<M>(
        entry: fn(M),
        message: M,
    ) -> impl Future<Output = Result<Isolate, IsolateError>> + 'static
    where
        M: Serialize + DeserializeOwned + 'static,
    {
        Self::builder().spawn(entry, message)
    }

    /// Spawns an isolate running an `async` entry; it lives until the entry's future completes.
    pub fn spawn_async<M, F>(
        entry: fn(M) -> F,
        message: M,
    ) -> impl Future<Output = Result<Isolate, IsolateError>> + 'static
    where
        M: Serialize + DeserializeOwned + 'static,
        F: Future<Output = ()> + 'static,
    {
        Self::builder().spawn_async(entry, message)
    }

    /// The name given by [`IsolateBuilder::debug_name`].
    pub fn debug_name(&self) -> &str {
        &self.inner.debug_name
    }

    /// Stops the isolate; see [`Priority`]. Killing a dead isolate does nothing.
    pub fn kill(&self, priority: Priority) {
        IsolateInner::kill(&self.inner, priority);
    }

    /// Holds delivery of messages on the isolate's [`ReceivePort`](crate::port::ReceivePort)s until
    /// [`resume`](Self::resume); code in the isolate sees [`is_paused`](crate::inside::pause::is_paused) turn true. Messages are
    /// kept, not dropped.
    pub fn pause(&self) {
        self.inner.control.store(control::PAUSE, 1);
    }

    /// Resumes message delivery after [`pause`](Self::pause).
    pub fn resume(&self) {
        self.inner.control.store(control::PAUSE, 0);
    }

    /// Where the isolate is in its life.
    pub fn state(&self) -> IsolateState {
        if self.inner.exit_reason.borrow().is_some() {
            return IsolateState::Dead;
        }
        match self.inner.control.load(control::STATE) {
            STATE_STARTING => IsolateState::Starting,
            _ if self.inner.control.load(control::PAUSE) != 0 => IsolateState::Paused,
            STATE_RUNNING => IsolateState::Running,
            STATE_EXITING => IsolateState::Exiting,
            _ => IsolateState::Dead,
        }
    }

    /// The last value the isolate published with [`report_progress`](crate::wire::control::report_progress).
    pub fn progress(&self) -> u32 {
        self.inner.control.load(control::PROGRESS) as u32
    }

    /// Sends `response` on `port` when the isolate exits, however it exits (Dart's
    /// `addOnExitListener`). If it already exited, sends at once.
    pub fn add_on_exit_listener<R: Serialize + 'static>(&self, port: &SendPort<R>, response: R) {
        let port = port.clone();
        let send: Box<dyn FnOnce()> = Box::new(move || {
            // The listener's own port may be closed; there is no one else to tell.
            let _ = port.send(response);
        });
        if self.inner.exit_reason.borrow().is_some() {
            send();
        } else {
            self.inner.exit_listeners.borrow_mut().push(send);
        }
    }

    /// Sends every error the isolate reports — panics with their location, uncaught JS errors
    /// with their stack — on `port` (Dart's `addErrorListener`).
    pub fn add_error_listener(&self, port: &SendPort<IsolateError>) {
        self.inner.error_listeners.borrow_mut().push(port.clone());
    }

    /// Resolves with the reason once the isolate has exited.
    pub fn exited(&self) -> impl Future<Output = ExitReason> + 'static {
        let (tx, rx) = oneshot::channel();
        match self.inner.exit_reason.borrow().clone() {
            Some(reason) => {
                let _ = tx.send(reason);
            }
            None => self.inner.exit_waiters.borrow_mut().push(tx),
        }
        async move { rx.await.unwrap_or(ExitReason::Killed) }
    }
}

impl IsolateInner {
    fn on_event(this: &Rc<Self>, event: WorkerEvent) {
        match event {
            WorkerEvent::Ready => {
                let entry = this.entry.borrow_mut().take();
                let posted = match (entry, this.worker.borrow().as_ref()) {
                    (Some((message, attached)), Some(worker)) => worker.post(&message, attached),
                    _ => Err(IsolateError::Closed),
                };
                this.control.store(control::STATE, STATE_RUNNING);
                if let Some(ready) = this.ready.borrow_mut().take() {
                    let _ = ready.send(posted);
                }
            }
            WorkerEvent::Reply { result, .. } => match result {
                Ok(_) if this.kill_requested.get() => Self::finish(this, ExitReason::Killed),
                Ok(_) => Self::finish(this, ExitReason::Returned),
                Err(e) => {
                    Self::report(this, &e);
                    Self::finish(this, ExitReason::Failed(e));
                }
            },
            WorkerEvent::Fatal(error) => {
                if let Some(ready) = this.ready.borrow_mut().take() {
                    let _ = ready.send(Err(error));
                    Self::finish(this, ExitReason::Killed);
                    return;
                }
                if this.kill_requested.get() {
                    return Self::finish(this, ExitReason::Killed);
                }
                // `exit()` marks the block before closing the worker; its "done" notice and the
                // death watch race on different channels, so either may come first.
                let exiting = this.control.load(control::STATE) == STATE_EXITING;
                if exiting && matches!(error, IsolateError::WorkerDied { .. }) {
                    return Self::finish(this, ExitReason::Returned);
                }
                Self::report(this, &error);
                let survivable = matches!(error, IsolateError::WorkerError { .. });
                if !survivable || this.errors_are_fatal {
                    Self::finish(this, ExitReason::Failed(error));
                }
            }
        }
    }

    fn report(this: &Rc<Self>, error: &IsolateError) {
        for port in this.error_listeners.borrow().iter() {
            let _ = port.send(error.clone());
        }
    }

    fn kill(this: &Rc<Self>, priority: Priority) {
        if this.exit_reason.borrow().is_some() {
            return;
        }
        this.kill_requested.set(true);
        match priority {
            Priority::Immediate => Self::finish(this, ExitReason::Killed),
            Priority::BeforeNextEvent => {
                this.control.store(control::REQUEST, control::REQUEST_STOP);
                this.control.store(control::STATE, STATE_EXITING);
                if let Some(worker) = this.worker.borrow().as_ref() {
                    let _ = worker.post(
                        &Envelope::Stop.encode(&[]),
                        crate::wire::attachments::Attachments::default(),
                    );
                }
                let weak: Weak<Self> = Rc::downgrade(this);
                *this.kill_timer.borrow_mut() = Some(Timer::start(this.kill_grace, move || {
                    if let Some(inner) = weak.upgrade() {
                        Self::finish(&inner, ExitReason::Killed);
                    }
                }));
            }
        }
    }

    /// Ends the isolate exactly once: terminates its worker, then tells everyone.
    fn finish(this: &Rc<Self>, reason: ExitReason) {
        if this.exit_reason.borrow().is_some() {
            return;
        }
        *this.exit_reason.borrow_mut() = Some(reason.clone());
        this.control.store(control::STATE, STATE_DEAD);
        let worker = this.worker.borrow_mut().take();
        drop(worker);
        this.kill_timer.borrow_mut().take();
        for listener in this.exit_listeners.borrow_mut().drain(..) {
            listener();
        }
        for waiter in this.exit_waiters.borrow_mut().drain(..) {
            let _ = waiter.send(reason.clone());
        }
        // No longer kept alive for itself: the last handle (if any) now owns what is left.
        RUNNING.with(|r| r.borrow_mut().retain(|other| !Rc::ptr_eq(other, this)));
        // Messages the isolate sent just before exiting travel on other ports than its exit
        // notice and may trail it: let them land before ending the linked streams.
        let linked = std::mem::take(&mut *this.linked.borrow_mut());
        if !linked.is_empty() {
            let timer: Rc<RefCell<Option<Timer>>> = Rc::new(RefCell::new(None));
            let keep = timer.clone();
            *timer.borrow_mut() = Some(Timer::start(
                crate::platform::timer::AFTER_EXIT,
                move || {
                    for port in &linked {
                        port.unlink();
                    }
                    keep.borrow_mut().take();
                },
            ));
        }
    }
}

impl Drop for IsolateInner {
    fn drop(&mut self) {
        // Reached after `finish` (or when the thread itself ends): the worker is gone or
        // terminates as `self.worker` drops. Linked ports end so no one waits on it.
        for port in self.linked.borrow().iter() {
            port.unlink();
        }
        for waiter in self.exit_waiters.borrow_mut().drain(..) {
            let _ = waiter.send(ExitReason::Killed);
        }
    }
}
