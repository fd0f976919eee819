//! [`PoolBuilder`]: every option of an [`IsolatePool`], each with a default.

use super::*;

/// Options for an [`IsolatePool`]; start with [`IsolatePool::builder`]. Every option has a
/// default, so `IsolatePool::builder().build()` is a working pool.
///
/// ```no_run
/// # fn demo() -> Result<(), wasm_isolates::IsolateError> {
/// use std::time::Duration;
/// use wasm_isolates::IsolatePool;
///
/// let pool = IsolatePool::builder()
///     .size(3)
///     .max_queue(1000)
///     .task_timeout(Duration::from_secs(5))
///     .prewarm(true)
///     .build()?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
#[must_use]
pub struct PoolBuilder {
    pub(super) size: Option<usize>,
    pub(super) max_queue: usize,
    pub(super) task_timeout: Option<Duration>,
    pub(super) idle_timeout: Option<Duration>,
    pub(super) cancel_grace: Duration,
    pub(super) prewarm: bool,
    pub(super) max_message_bytes: u32,
    pub(super) glue_url: Option<String>,
    pub(super) debug_name: String,
    pub(super) factory: Option<crate::parent::worker::WorkerFactory>,
}

impl PoolBuilder {
    /// How many isolates run at once. Default: `hardwareConcurrency - 1`, at least 1.
    pub fn size(mut self, size: usize) -> Self {
        self.size = Some(size.max(1));
        self
    }

    /// How many tasks may wait in the queue (not counting running ones). When it is full,
    /// [`IsolatePool::run`] still accepts the task but holds it back until a place frees up
    /// (backpressure, in submission order), and [`IsolatePool::try_run`] refuses it with
    /// [`IsolateError::QueueFull`]. Default: unbounded.
    pub fn max_queue(mut self, max_queue: usize) -> Self {
        self.max_queue = max_queue.max(1);
        self
    }

    /// How long a task may *run*, counted from when an isolate starts it (time spent queued does
    /// not count). A task over time settles with [`IsolateError::TimedOut`] and its worker is
    /// terminated and replaced. Default: none.
    pub fn task_timeout(mut self, timeout: Duration) -> Self {
        self.task_timeout = Some(timeout);
        self
    }

    /// Stops a worker that has been idle this long; the next task starts a new one. Default:
    /// workers stay warm until the pool is dropped or closed.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.idle_timeout = Some(timeout);
        self
    }

    /// Where `SharedArrayBuffer` exists, cancelling a running task first asks it to stop (its
    /// [`CancellationToken`](crate::wire::control::CancellationToken) turns true) and terminates its worker only
    /// if it is still running after this grace period. Default: 100 ms.
    pub fn cancel_grace(mut self, grace: Duration) -> Self {
        self.cancel_grace = grace;
        self
    }

    /// Start every worker when the pool is built, and start a replacement as soon as one is
    /// lost, so the pool stays at full size. Default: `false` (workers start with the first
    /// tasks, then stay warm).
    pub fn prewarm(mut self, prewarm: bool) -> Self {
        self.prewarm = prewarm;
        self
    }

    /// The largest task input or output, in bytes of its encoded form (buffers travelling by
    /// transfer do not count). A larger input fails with [`IsolateError::Codec`] before it is
    /// sent; a larger output fails the same way in the isolate, which keeps serving.
    /// Default: 256 MiB.
    pub fn max_message_bytes(mut self, bytes: u32) -> Self {
        self.max_message_bytes = bytes;
        self
    }

    /// The URL of the wasm-bindgen glue (`your_crate.js`) workers import. Default: this
    /// instance's own glue — imported from the URL it was loaded from (`import.meta.url`) when it
    /// is served as a file, or, when a bundler packed it into an app chunk (Vite, webpack 5), the
    /// copy the bundler packed with the worker script. Set this only when the glue lives
    /// somewhere else; the URL is then always imported as given.
    pub fn glue_url(mut self, url: impl Into<String>) -> Self {
        self.glue_url = Some(url.into());
        self
    }

    /// A name for the pool's workers in devtools (`wasm-isolates:<name>`). Default: `pool`.
    pub fn debug_name(mut self, name: impl Into<String>) -> Self {
        self.debug_name = name.into();
        self
    }

    /// The JS `worker` option: `factory` makes each of the pool's workers.
    #[cfg(feature = "js")]
    pub(crate) fn worker_factory(mut self, factory: crate::parent::worker::WorkerFactory) -> Self {
        self.factory = Some(factory);
        self
    }

    /// Creates the pool. Fails with [`IsolateError::Unsupported`] where module workers are not
    /// available.
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
        let inner = Rc::new(PoolInner {
            size,
            options: self.clone(),
            cooperative: caps.shared_array_buffer,
            config: WorkerConfig {
                glue_url: self.glue_url,
                debug_name: self.debug_name,
                max_message_bytes: self.max_message_bytes,
                factory: self.factory,
            },
            state: RefCell::new(PoolState::default()),
        });
        inner.pump();
        Ok(IsolatePool { inner })
    }
}
