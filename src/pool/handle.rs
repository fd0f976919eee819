//! [`TaskHandle`]: a submitted task — await it, cancel it, or drop it — and the batched delivery
//! behind [`IsolatePool::run_vec`].

use super::*;

/// A submitted task: await it for the output, [`cancel`](Self::cancel) it, or drop it to cancel.
///
/// Dart's `Isolate.run` has no cancellation; this follows the pools (piscina, workerpool): a
/// queued task is removed, a running one is asked to stop (where `SharedArrayBuffer` exists) and
/// its worker is terminated if it does not. Cancelling a task that already finished does
/// nothing.
#[must_use = "a TaskHandle cancels its task when dropped; await it"]
pub struct TaskHandle<O> {
    pub(super) id: u64,
    pub(super) pool: Weak<PoolInner>,
    pub(super) receiver: Option<Rc<ReplyCell>>,
    pub(super) error: Option<IsolateError>,
    pub(super) _output: PhantomData<fn() -> O>,
}

impl<O> TaskHandle<O> {
    pub(crate) fn failed(error: IsolateError) -> Self {
        TaskHandle {
            id: 0,
            pool: Weak::new(),
            receiver: None,
            error: Some(error),
            _output: PhantomData,
        }
    }

    /// Lets the task run to completion with no one waiting for it (dropping a handle would cancel
    /// it instead).
    pub fn detach(mut self) {
        self.receiver = None;
    }

    /// Cancels the task: it settles with [`IsolateError::Cancelled`] unless it already finished.
    pub fn cancel(&self) {
        if let Some(pool) = self.pool.upgrade() {
            pool.cancel(self.id);
        }
    }
}

impl<O> TaskHandle<O> {
    /// The task's reply, not yet decoded.
    pub(super) fn poll_reply(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<ReplyPayload, IsolateError>> {
        let Some(receiver) = self.receiver.as_mut() else {
            return Poll::Ready(Err(self.error.take().unwrap_or(IsolateError::Closed)));
        };
        // The pool fills the cell in the worker's message handler (with `Closed` if it is
        // dropped first).
        let Poll::Ready(result) = receiver.poll(cx) else {
            return Poll::Pending;
        };
        self.receiver = None;
        self.error = Some(IsolateError::Closed); // polled again after completion
        Poll::Ready(result)
    }
}

impl<O: DeserializeOwned> Future for TaskHandle<O> {
    type Output = Result<O, IsolateError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.poll_reply(cx)
            .map(|reply| reply.and_then(ReplyPayload::decode))
    }
}

/// How long one slice of a batched delivery may decode before it yields: well inside a 16.7 ms
/// frame, leaving the rest to the page's own work and rendering.
const DELIVERY_SLICE_MS: f64 = 6.0;

/// Awaits a batched task's reply and decodes it slice by slice, yielding to the event loop in
/// between (see [`IsolatePool::run_vec`]).
pub(crate) async fn deliver_batched<T: DeserializeOwned>(
    mut handle: TaskHandle<Vec<T>>,
) -> Result<Vec<T>, IsolateError> {
    let reply = std::future::poll_fn(|cx| handle.poll_reply(cx)).await?;
    let mut reader = reply.batches()?;
    let mut out = Vec::with_capacity(reader.capacity_hint());
    loop {
        let start = crate::platform::host::now();
        while crate::platform::host::now() - start < DELIVERY_SLICE_MS {
            match reader.next_batch(&mut out) {
                None => return Ok(out),
                Some(result) => result?,
            }
        }
        let _ = wasm_bindgen_futures::JsFuture::from(crate::platform::host::next_macrotask()).await;
    }
}

impl<O> Drop for TaskHandle<O> {
    fn drop(&mut self) {
        if self.receiver.is_some() {
            self.cancel();
        }
    }
}
