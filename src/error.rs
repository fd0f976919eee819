//! [`IsolateError`]: every way a task, an isolate or a pool can fail.

use std::fmt;

/// Why a task or an isolate did not produce its result.
///
/// Every future this crate returns settles, with `Ok` or with one of these; none waits forever
/// on a worker that is gone. The enum is `#[non_exhaustive]`: match the variants you handle and
/// keep a `_` arm.
///
/// | variant | what happened | is the isolate still usable? |
/// |---|---|---|
/// | [`Panicked`](Self::Panicked) | the task panicked | its worker is replaced (a panic aborts a wasm instance) |
/// | [`WorkerError`](Self::WorkerError) | an uncaught JS error or unhandled rejection in the worker | replaced |
/// | [`WorkerDied`](Self::WorkerDied) | the worker stopped mid-task (`close()`, crash, terminated) | replaced |
/// | [`StartFailed`](Self::StartFailed) | the worker could not load or instantiate the module | the next task tries a new worker |
/// | [`Codec`](Self::Codec) | input or output could not be (de)serialized | yes |
/// | [`Json`](Self::Json) | malformed JSON, or a query for a value that is not there | yes |
/// | [`Protocol`](Self::Protocol) | a message did not follow the wire protocol | yes, on the worker side |
/// | [`Unsupported`](Self::Unsupported) | the host lacks a capability (workers, `SharedArrayBuffer`) | n/a |
/// | [`NotReady`](Self::NotReady) | called before the library was initialised | n/a |
/// | [`TimedOut`](Self::TimedOut), [`Cancelled`](Self::Cancelled) | the task was stopped | its worker is replaced if it was running |
/// | [`QueueFull`](Self::QueueFull), [`Closed`](Self::Closed) | the pool refused the task | yes |
/// | [`Js`](Self::Js) | a browser API threw unexpectedly | depends |
///
/// ```
/// use wasm_isolates::IsolateError;
///
/// let err = IsolateError::Panicked {
///     message: "index out of bounds".into(),
///     location: Some("src/lib.rs:10:5".into()),
/// };
/// assert_eq!(err.to_string(), "task panicked at src/lib.rs:10:5: index out of bounds");
/// assert!(err.worker_was_replaced());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum IsolateError {
    /// The task panicked. `message` is the panic payload, `location` is `file:line:column`.
    /// The worker's wasm instance is unusable after a panic (panics abort on wasm), so it is
    /// terminated and a fresh one takes its place; other tasks are not affected.
    Panicked {
        /// The panic message.
        message: String,
        /// Where the panic happened, `file:line:column`, when known.
        location: Option<String>,
    },
    /// Code in the worker raised an uncaught JS error or left a promise rejection unhandled
    /// while the task ran. Treated as fatal for that worker (its instance may be inconsistent),
    /// which is replaced. This is Dart's `errorsAreFatal: true` for one-shot tasks.
    WorkerError {
        /// The error's message.
        message: String,
        /// The JS stack, when the engine reported one.
        stack: Option<String>,
    },
    /// The worker stopped while the task was running — it called `close()`, ran out of memory,
    /// crashed or was terminated — so the task ended without a result (Dart: "computation ended
    /// without result").
    WorkerDied {
        /// What was observed.
        reason: String,
    },
    /// A worker could not start: its script did not load, the wasm glue could not be imported,
    /// or instantiating the module failed (for example a `#[wasm_bindgen(start)]` function that
    /// panics in a worker; see [`is_isolate`](crate::platform::capabilities::is_isolate)).
    StartFailed {
        /// What failed, as the browser reported it.
        message: String,
    },
    /// A value could not be serialized on one side or deserialized on the other.
    Codec {
        /// The serializer's message.
        message: String,
    },
    /// A message on the wire was malformed (wrong magic, unknown version or kind, truncated).
    Protocol {
        /// What was wrong with it.
        message: String,
    },
    /// The host lacks something this call needs.
    Unsupported {
        /// Which capability is missing, e.g. `"Worker"` or `"SharedArrayBuffer"`.
        capability: String,
        /// How to get it.
        message: String,
    },
    /// Called before the library was ready (the JS API before `init()` resolved).
    NotReady {
        /// What is not ready.
        message: String,
    },
    /// The task ran longer than its timeout; its worker was stopped.
    TimedOut {
        /// The timeout in milliseconds.
        after_ms: u64,
    },
    /// The task was cancelled before it finished.
    Cancelled,
    /// The pool's queue is at its bound (returned by `try_run`).
    QueueFull {
        /// The bound.
        capacity: usize,
    },
    /// The pool or isolate was closed before the task could run.
    Closed,
    /// JSON could not be parsed (with where: byte `offset`, 1-based `line` and `column`), or a
    /// query named no value of the right kind (no position then).
    Json {
        /// What is wrong.
        message: String,
        /// Byte offset of the error in the text.
        offset: Option<u64>,
        /// 1-based line of the error.
        line: Option<u64>,
        /// 1-based column of the error.
        column: Option<u64>,
    },
    /// A browser API threw where it should not have.
    Js {
        /// The exception's message.
        message: String,
    },
}

impl IsolateError {
    /// True when the failure cost the task its worker, so the worker was terminated and a new one
    /// replaces it.
    ///
    /// ```
    /// # use wasm_isolates::IsolateError;
    /// assert!(!IsolateError::Codec { message: "x".into() }.worker_was_replaced());
    /// ```
    pub fn worker_was_replaced(&self) -> bool {
        matches!(
            self,
            Self::Panicked { .. }
                | Self::WorkerError { .. }
                | Self::WorkerDied { .. }
                | Self::TimedOut { .. }
        )
    }

    pub(crate) fn codec(e: impl fmt::Display) -> Self {
        Self::Codec {
            message: e.to_string(),
        }
    }

    pub(crate) fn protocol(e: impl fmt::Display) -> Self {
        Self::Protocol {
            message: e.to_string(),
        }
    }
}

impl fmt::Display for IsolateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Panicked {
                message,
                location: Some(loc),
            } => write!(f, "task panicked at {loc}: {message}"),
            Self::Panicked {
                message,
                location: None,
            } => write!(f, "task panicked: {message}"),
            Self::WorkerError { message, .. } => write!(f, "uncaught error in worker: {message}"),
            Self::WorkerDied { reason } => {
                write!(f, "worker died before the task finished: {reason}")
            }
            Self::StartFailed { message } => write!(f, "worker failed to start: {message}"),
            Self::Codec { message } => write!(f, "codec error: {message}"),
            Self::Protocol { message } => write!(f, "protocol error: {message}"),
            Self::Unsupported {
                capability,
                message,
            } => write!(f, "unsupported: {capability} is not available: {message}"),
            Self::NotReady { message } => write!(f, "not ready: {message}"),
            Self::TimedOut { after_ms } => write!(f, "task timed out after {after_ms} ms"),
            Self::Cancelled => f.write_str("task was cancelled"),
            Self::QueueFull { capacity } => write!(f, "queue is full ({capacity} tasks waiting)"),
            Self::Closed => f.write_str("pool or isolate is closed"),
            Self::Json {
                message,
                offset: Some(offset),
                ..
            } => write!(f, "invalid JSON at byte {offset}: {message}"),
            Self::Json { message, .. } => write!(f, "JSON: {message}"),
            Self::Js { message } => write!(f, "JS error: {message}"),
        }
    }
}

impl std::error::Error for IsolateError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_cause() {
        let e = IsolateError::Unsupported {
            capability: "SharedArrayBuffer".into(),
            message: "serve with COOP/COEP".into(),
        };
        assert!(e.to_string().contains("SharedArrayBuffer"));
        assert_eq!(
            IsolateError::TimedOut { after_ms: 5 }.to_string(),
            "task timed out after 5 ms"
        );
    }

    #[test]
    fn is_std_error() {
        fn takes(_: &dyn std::error::Error) {}
        takes(&IsolateError::Cancelled);
    }
}
