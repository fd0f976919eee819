//! One-shot tasks: [`run`], [`compute`] and [`run_async`], Dart's `Isolate.run()` and
//! Flutter's `compute()`.

use crate::error::IsolateError;
use serde::{de::DeserializeOwned, Serialize};
use std::future::Future;

/// Runs `task(input)` in an isolate and returns its output — Dart's `Isolate.run()`.
///
/// `task` is a plain `fn` or a non-capturing closure, as Dart requires a top-level function:
/// the isolate is a separate wasm instance, so the function is named to it by its table index
/// and anything it needs must travel in `input`. Input and output are any serde types.
///
/// Tasks run on a small set of warm isolates shared by all callers (at most
/// `hardwareConcurrency - 1`, capped at 4); use an [`IsolatePool`](crate::pool::IsolatePool) to choose
/// the size. Works on every browser with module workers, with or without cross-origin
/// isolation, from a page or from inside a worker.
///
/// # Errors
/// [`IsolateError::Panicked`] when the task panics (with message and location; the isolate is
/// replaced), [`IsolateError::WorkerDied`] / [`IsolateError::WorkerError`] when its worker dies
/// or throws, [`IsolateError::Codec`] when input or output cannot be (de)serialized,
/// [`IsolateError::StartFailed`] / [`IsolateError::Unsupported`] when no isolate can start.
/// The future always settles.
///
/// ```no_run
/// # async fn demo() -> Result<(), wasm_isolates::IsolateError> {
/// use serde::{Deserialize, Serialize};
/// use wasm_isolates::run;
///
/// #[derive(Serialize, Deserialize)]
/// struct Stats { count: usize, mean: f64 }
///
/// fn stats(points: Vec<f64>) -> Stats {
///     let count = points.len();
///     Stats { count, mean: points.iter().sum::<f64>() / count.max(1) as f64 }
/// }
///
/// let s = run(stats, vec![1.0, 2.0, 3.0]).await?;
/// assert_eq!(s.count, 3);
/// # Ok(()) }
/// ```
pub fn run<I, O>(task: fn(I) -> O, input: I) -> impl Future<Output = Result<O, IsolateError>>
where
    I: Serialize + DeserializeOwned + 'static,
    O: Serialize + DeserializeOwned + 'static,
{
    imp::call(crate::wire::task::TaskRef::sync(task), input)
}

/// Flutter's name for [`run`]: `compute(task, input)` runs `task(input)` in an isolate.
///
/// ```no_run
/// # async fn demo() -> Result<(), wasm_isolates::IsolateError> {
/// let words = wasm_isolates::compute(|s: String| s.split_whitespace().count(), "a b c".into()).await?;
/// assert_eq!(words, 3);
/// # Ok(()) }
/// ```
pub fn compute<I, O>(task: fn(I) -> O, input: I) -> impl Future<Output = Result<O, IsolateError>>
where
    I: Serialize + DeserializeOwned + 'static,
    O: Serialize + DeserializeOwned + 'static,
{
    run(task, input)
}

/// Runs an `async` task in an isolate: `task(input)` returns a future that the isolate drives to
/// completion, so it may `await` fetches, timers or other isolates. Errors as for [`run`].
///
/// ```no_run
/// # async fn demo() -> Result<(), wasm_isolates::IsolateError> {
/// async fn shout(s: String) -> String {
///     s.to_uppercase() // could await a fetch here
/// }
/// assert_eq!(wasm_isolates::run_async(shout, "hi".to_string()).await?, "HI");
/// # Ok(()) }
/// ```
pub fn run_async<I, O, F>(
    task: fn(I) -> F,
    input: I,
) -> impl Future<Output = Result<O, IsolateError>>
where
    I: Serialize + DeserializeOwned + 'static,
    O: Serialize + DeserializeOwned + 'static,
    F: Future<Output = O> + 'static,
{
    imp::call(crate::wire::task::TaskRef::future(task), input)
}

/// Runs `task(input)` in an isolate like [`run`], for a task that returns a sequence, and
/// delivers it without a long task on the calling thread: the isolate writes the elements in
/// batches, and the caller decodes a few at a time between frames. Use it for large results —
/// [`run`] decodes its whole output in one task (about 55–60 ms for 580,000 small records,
/// three lost frames). The one word changed at the call is the whole difference:
///
/// ```no_run
/// # async fn demo(body: String) -> Result<(), wasm_isolates::IsolateError> {
/// use serde::{Deserialize, Serialize};
///
/// #[derive(Serialize, Deserialize)]
/// struct Product { id: u64, name: String, price: f64, category: String }
///
/// #[derive(Deserialize)]
/// struct Catalog { products: Vec<Product> }
///
/// fn parse_products(body: String) -> Vec<Product> {
///     serde_json::from_str::<Catalog>(&body).map(|c| c.products).unwrap_or_default()
/// }
///
/// let products = wasm_isolates::run_vec(parse_products, body).await?; // was compute(...)
/// # Ok(()) }
/// ```
///
/// Dropping the future cancels the task, or stops the delivery once it has begun. Errors as
/// for [`run`].
pub fn run_vec<I, T>(
    task: fn(I) -> Vec<T>,
    input: I,
) -> impl Future<Output = Result<Vec<T>, IsolateError>>
where
    I: Serialize + DeserializeOwned + 'static,
    T: Serialize + DeserializeOwned + 'static,
{
    imp::call_batched(task, input)
}

/// Submits to the pool behind `run`, returning the task's handle.
#[cfg(target_arch = "wasm32")]
pub(crate) fn submit_to_default_pool<I, O>(
    task: crate::wire::task::TaskRef,
    input: I,
) -> crate::pool::TaskHandle<O>
where
    I: Serialize + 'static,
    O: DeserializeOwned + 'static,
{
    imp::call(task, input)
}

#[cfg(target_arch = "wasm32")]
mod imp {
    use crate::error::IsolateError;
    use crate::pool::IsolatePool;
    use crate::pool::TaskHandle;
    use crate::wire::task::TaskRef;
    use serde::{de::DeserializeOwned, Serialize};
    use std::cell::RefCell;

    thread_local! {
        static DEFAULT_POOL: RefCell<Option<IsolatePool>> = const { RefCell::new(None) };
    }

    /// The pool behind `run`: created on first use, kept warm afterwards.
    fn default_pool() -> Result<IsolatePool, IsolateError> {
        DEFAULT_POOL.with(|cell| {
            if let Some(pool) = cell.borrow().as_ref() {
                return Ok(pool.clone());
            }
            let caps = crate::platform::capabilities::Capabilities::detect();
            let size = (caps.hardware_concurrency as usize)
                .saturating_sub(1)
                .clamp(1, 4);
            let pool = IsolatePool::builder()
                .size(size)
                .debug_name("run")
                .build()?;
            *cell.borrow_mut() = Some(pool.clone());
            Ok(pool)
        })
    }

    /// [`IsolatePool::run_vec`] on the pool behind `run`.
    pub(super) fn call_batched<I, T>(
        task: fn(I) -> Vec<T>,
        input: I,
    ) -> impl std::future::Future<Output = Result<Vec<T>, IsolateError>>
    where
        I: Serialize + DeserializeOwned + 'static,
        T: Serialize + DeserializeOwned + 'static,
    {
        let handle = match default_pool() {
            Ok(pool) => pool.submit(TaskRef::batched(task), input),
            Err(e) => TaskHandle::failed(e),
        };
        crate::pool::deliver_batched(handle)
    }

    /// Submits at once; the handle is the returned future, so dropping it cancels the task.
    pub(super) fn call<I, O>(task: TaskRef, input: I) -> TaskHandle<O>
    where
        I: Serialize + 'static,
        O: DeserializeOwned + 'static,
    {
        match default_pool() {
            Ok(pool) => pool.submit(task, input),
            Err(e) => TaskHandle::failed(e),
        }
    }
}

/// On native targets there are no Web Workers: a task runs on a new OS thread, through the same
/// encode → trampoline → decode path as in the browser, so code and tests shared with a native
/// build behave alike (including codec errors and panics becoming `Err`).
#[cfg(not(target_arch = "wasm32"))]
mod imp {
    use crate::error::IsolateError;
    use crate::wire::attachments::Attachments;
    use crate::wire::batches::BatchReader;
    use crate::wire::codec;
    use crate::wire::protocol::CALL_HEADER_LEN;
    use crate::wire::task::{TaskFuture, TaskRef};
    use futures_channel::oneshot;
    use serde::{de::DeserializeOwned, Serialize};
    use std::future::Future;
    use std::panic::AssertUnwindSafe;
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};
    use std::thread::Thread;

    pub(super) async fn call<I, O>(task: TaskRef, input: I) -> Result<O, IsolateError>
    where
        I: Serialize + 'static,
        O: DeserializeOwned + 'static,
    {
        let (bytes, attached) = call_raw(task, input).await?;
        codec::decode(&bytes, attached)
    }

    pub(super) async fn call_batched<I, T>(
        task: fn(I) -> Vec<T>,
        input: I,
    ) -> Result<Vec<T>, IsolateError>
    where
        I: Serialize + DeserializeOwned + 'static,
        T: Serialize + DeserializeOwned + 'static,
    {
        let (bytes, attached) = call_raw(TaskRef::batched(task), input).await?;
        let mut reader = BatchReader::new(&bytes[..], 0, attached)?;
        let mut out = Vec::with_capacity(reader.capacity_hint());
        while let Some(batch) = reader.next_batch(&mut out) {
            batch?;
        }
        Ok(out)
    }

    /// Runs the task on a new thread; its encoded output.
    async fn call_raw<I>(task: TaskRef, input: I) -> Result<(Vec<u8>, Attachments), IsolateError>
    where
        I: Serialize + 'static,
    {
        let (message, _) = codec::encode_after(CALL_HEADER_LEN, &input)?;
        let (tx, rx) = oneshot::channel();
        std::thread::Builder::new()
            .name("wasm-isolates-task".into())
            .spawn(move || {
                let result = std::panic::catch_unwind(AssertUnwindSafe(|| {
                    // SAFETY: `task` was built by `TaskRef::sync`/`future` in this process.
                    match unsafe {
                        task.invoke(&message[CALL_HEADER_LEN..], Attachments::default(), 0)
                    } {
                        TaskFuture::Ready(out) => out,
                        TaskFuture::Pending(fut) => block_on(fut),
                    }
                }));
                let _ = tx.send(result);
            })
            .map_err(|e| IsolateError::StartFailed {
                message: e.to_string(),
            })?;
        match rx.await {
            Ok(Ok(Ok(output))) => Ok(output),
            Ok(Ok(Err(failure))) => Err(failure.into()),
            Ok(Err(panic)) => Err(IsolateError::Panicked {
                message: panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "Box<dyn Any>".into()),
                location: None,
            }),
            Err(oneshot::Canceled) => Err(IsolateError::WorkerDied {
                reason: "the task thread ended without a result".into(),
            }),
        }
    }

    struct ThreadWaker(Thread);
    impl Wake for ThreadWaker {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }

    fn block_on<F: Future + ?Sized>(mut fut: std::pin::Pin<Box<F>>) -> F::Output {
        let waker = Waker::from(Arc::new(ThreadWaker(std::thread::current())));
        let mut cx = Context::from_waker(&waker);
        loop {
            match fut.as_mut().poll(&mut cx) {
                Poll::Ready(out) => return out,
                Poll::Pending => std::thread::park(),
            }
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use futures_util::future::join_all;

    fn block<F: Future>(f: F) -> F::Output {
        let mut f = Box::pin(f);
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        loop {
            if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
                return v;
            }
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }

    fn mean(v: Vec<f64>) -> f64 {
        v.iter().sum::<f64>() / v.len() as f64
    }

    async fn shout(s: String) -> String {
        s.to_uppercase()
    }

    fn boom(_: ()) -> u8 {
        panic!("boom {}", 42)
    }

    fn countdown(n: u32) -> Vec<String> {
        (0..n).rev().map(|i| format!("#{i}")).collect()
    }

    fn panics_in_a_vec(_: ()) -> Vec<u8> {
        panic!("no sequence today")
    }

    #[test]
    fn run_vec_delivers_the_whole_sequence_natively() {
        let v = block(run_vec(countdown, 200_000)).unwrap();
        assert_eq!(v, countdown(200_000));
        assert!(block(run_vec(countdown, 0)).unwrap().is_empty());
        match block(run_vec(panics_in_a_vec, ())) {
            Err(IsolateError::Panicked { message, .. }) => assert_eq!(message, "no sequence today"),
            other => panic!("expected a panic error, got {other:?}"),
        }
    }

    #[test]
    fn run_compute_and_async_work_natively() {
        assert_eq!(block(run(mean, vec![1.0, 2.0, 3.0])).unwrap(), 2.0);
        assert_eq!(block(compute(|x: u64| x + 1, 41)).unwrap(), 42);
        assert_eq!(block(run_async(shout, "dart".into())).unwrap(), "DART");
        let all = block(join_all((0..8u32).map(|i| run(|x: u32| x * x, i))));
        let squares: Vec<u32> = all.into_iter().map(Result::unwrap).collect();
        assert_eq!(squares, vec![0, 1, 4, 9, 16, 25, 36, 49]);
    }

    #[test]
    fn panic_becomes_an_error_and_the_next_task_runs() {
        match block(run(boom, ())) {
            Err(IsolateError::Panicked { message, .. }) => assert_eq!(message, "boom 42"),
            other => panic!("expected Panicked, got {other:?}"),
        }
        assert_eq!(block(run(|x: i8| -x, 5)).unwrap(), -5);
    }
}
