//! Tasks as function pointers: how `run(f, input)` names `f` to another wasm instance.
//!
//! A worker instantiates the *same* `WebAssembly.Module`, so its function table is identical to
//! the caller's: the table index of `f` (what `f as usize` is on wasm32) names the same function
//! there. Next to it we send the index of a *trampoline* monomorphised for `f`'s input and output
//! types, which decodes the input, calls `f` and encodes the output. No registration macro, no
//! separate worker binary — the same contract as Dart's `compute()`, which takes top-level
//! functions only.

use crate::error::IsolateError;
use crate::wire::attachments::Attachments;
use crate::wire::codec;
use crate::wire::protocol::{Failure, FailureCode};
use serde::{de::DeserializeOwned, Serialize};
use std::future::Future;
use std::pin::Pin;

/// What a trampoline yields: the encoded output (after `reserve` header bytes) with its
/// attachments, or a failure.
pub(crate) type TaskOutput = Result<(Vec<u8>, Attachments), Failure>;

/// A task's result, immediately for a sync task, as a future for an async one.
pub(crate) enum TaskFuture {
    Ready(TaskOutput),
    Pending(Pin<Box<dyn Future<Output = TaskOutput>>>),
}

/// The erased shape every trampoline has:
/// `(task pointer, input bytes, input attachments, output header reserve)`.
pub(crate) type Trampoline = fn(usize, &[u8], Attachments, usize) -> TaskFuture;

/// A task ready to send: the two function pointers as integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TaskRef {
    pub trampoline: usize,
    pub task: usize,
}

impl TaskRef {
    pub(crate) fn sync<I, O>(f: fn(I) -> O) -> Self
    where
        I: DeserializeOwned + 'static,
        O: Serialize + 'static,
    {
        let trampoline: Trampoline = sync_trampoline::<I, O>;
        TaskRef {
            trampoline: trampoline as usize,
            task: f as usize,
        }
    }

    pub(crate) fn future<I, O, F>(f: fn(I) -> F) -> Self
    where
        I: DeserializeOwned + 'static,
        O: Serialize + 'static,
        F: Future<Output = O> + 'static,
    {
        let trampoline: Trampoline = async_trampoline::<I, O, F>;
        TaskRef {
            trampoline: trampoline as usize,
            task: f as usize,
        }
    }

    /// Like [`future`](Self::future), for a task whose future often has nothing to wait for:
    /// the isolate polls it once as soon as it is made, and replies in the same turn when it is
    /// ready (a JS pool task returning a plain value), instead of after a trip through the
    /// executor's queue. Only for futures of this crate, which heed the waker of their latest
    /// poll (that first poll's waker is a no-op one).
    // Used by the JS API (wasm, feature `js`); the native tests cover it.
    #[cfg_attr(not(all(target_arch = "wasm32", feature = "js")), allow(dead_code))]
    pub(crate) fn eager<I, O, F>(f: fn(I) -> F) -> Self
    where
        I: DeserializeOwned + 'static,
        O: Serialize + 'static,
        F: Future<Output = O> + 'static,
    {
        let trampoline: Trampoline = eager_trampoline::<I, O, F>;
        TaskRef {
            trampoline: trampoline as usize,
            task: f as usize,
        }
    }

    /// A task whose output, a sequence, is written in batches (`wire::batches`) for
    /// [`run_vec`](crate::run::run_vec).
    pub(crate) fn batched<I, T>(f: fn(I) -> Vec<T>) -> Self
    where
        I: DeserializeOwned + 'static,
        T: Serialize + 'static,
    {
        let trampoline: Trampoline = batched_trampoline::<I, T>;
        TaskRef {
            trampoline: trampoline as usize,
            task: f as usize,
        }
    }

    /// Calls the task in this instance.
    ///
    /// # Safety
    /// `self` must come from [`TaskRef::sync`] or [`TaskRef::future`] in this same program
    /// (same binary or same wasm module): the integers are reinterpreted as those exact
    /// function pointer types.
    pub(crate) unsafe fn invoke(
        self,
        input: &[u8],
        attached: Attachments,
        reserve: usize,
    ) -> TaskFuture {
        // SAFETY: the caller guarantees `trampoline` is a `Trampoline` of this program.
        let trampoline: Trampoline = unsafe { std::mem::transmute(self.trampoline) };
        trampoline(self.task, input, attached, reserve)
    }
}

/// A codec failure reply carrying the error's own message: the caller's side adds the "codec
/// error: " prefix when it turns the reply back into an `IsolateError`, so it must not be here.
#[inline(never)]
pub(crate) fn codec_failure(e: IsolateError) -> Failure {
    let message = match e {
        IsolateError::Codec { message } | IsolateError::Protocol { message } => message,
        other => other.to_string(),
    };
    Failure {
        code: FailureCode::Codec,
        message,
        location: None,
    }
}

fn sync_trampoline<I, O>(
    task: usize,
    input: &[u8],
    attached: Attachments,
    reserve: usize,
) -> TaskFuture
where
    I: DeserializeOwned,
    O: Serialize,
{
    // SAFETY: `task` was produced by `TaskRef::sync::<I, O>` from a `fn(I) -> O`, and this
    // trampoline was instantiated with the same `I` and `O` in the same call.
    let f: fn(I) -> O = unsafe { std::mem::transmute(task) };
    call_and_encode(f, input, attached, |o| codec::encode_after(reserve, o))
}

/// Decodes the input, calls `f` on it, and encodes its output with `encode`.
fn call_and_encode<I: DeserializeOwned, O>(
    f: fn(I) -> O,
    input: &[u8],
    attached: Attachments,
    encode: impl FnOnce(&O) -> Result<(Vec<u8>, Attachments), IsolateError>,
) -> TaskFuture {
    let out = decode_input::<I>(input, attached)
        .map(f)
        .and_then(|o| encode(&o).map_err(|e| in_context("encoding the task's output", e)))
        .map_err(codec_failure);
    TaskFuture::Ready(out)
}

/// Decodes a task's input; an error says that it was the input, and how many bytes it had.
fn decode_input<I: DeserializeOwned>(
    input: &[u8],
    attached: Attachments,
) -> Result<I, IsolateError> {
    codec::decode::<I>(input, attached).map_err(|e| input_error(input.len(), e))
}

/// Out of line (as `in_context` and `codec_failure`): `decode_input` is compiled once per input
/// type, and its error path need not be (see wire/attachments.rs on size).
#[inline(never)]
fn input_error(len: usize, e: IsolateError) -> IsolateError {
    in_context(&format!("decoding the task's input ({len} bytes)"), e)
}

/// A codec error's message with what was being done in front.
#[inline(never)]
fn in_context(doing: &str, e: IsolateError) -> IsolateError {
    match e {
        IsolateError::Codec { message } => IsolateError::Codec {
            message: format!("{doing}: {message}"),
        },
        other => other,
    }
}

fn batched_trampoline<I, T>(
    task: usize,
    input: &[u8],
    attached: Attachments,
    reserve: usize,
) -> TaskFuture
where
    I: DeserializeOwned,
    T: Serialize,
{
    // SAFETY: as in `sync_trampoline`, for `TaskRef::batched::<I, T>` from a `fn(I) -> Vec<T>`.
    let f: fn(I) -> Vec<T> = unsafe { std::mem::transmute(task) };
    call_and_encode(f, input, attached, |items| {
        crate::wire::batches::encode_after(reserve, items)
    })
}

fn async_trampoline<I, O, F>(
    task: usize,
    input: &[u8],
    attached: Attachments,
    reserve: usize,
) -> TaskFuture
where
    I: DeserializeOwned,
    O: Serialize,
    F: Future<Output = O> + 'static,
{
    // SAFETY: as in `sync_trampoline`, for `TaskRef::future::<I, O, F>`.
    let f: fn(I) -> F = unsafe { std::mem::transmute(task) };
    match decode_input::<I>(input, attached) {
        Err(e) => TaskFuture::Ready(Err(codec_failure(e))),
        Ok(input) => {
            let fut = f(input);
            TaskFuture::Pending(Box::pin(async move {
                let o = fut.await;
                codec::encode_after(reserve, &o)
                    .map_err(|e| codec_failure(in_context("encoding the task's output", e)))
            }))
        }
    }
}

#[cfg_attr(not(all(target_arch = "wasm32", feature = "js")), allow(dead_code))]
fn eager_trampoline<I, O, F>(
    task: usize,
    input: &[u8],
    attached: Attachments,
    reserve: usize,
) -> TaskFuture
where
    I: DeserializeOwned,
    O: Serialize,
    F: Future<Output = O> + 'static,
{
    match async_trampoline::<I, O, F>(task, input, attached, reserve) {
        TaskFuture::Pending(mut fut) => {
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            match fut.as_mut().poll(&mut cx) {
                std::task::Poll::Ready(out) => TaskFuture::Ready(out),
                std::task::Poll::Pending => TaskFuture::Pending(fut),
            }
        }
        ready => ready,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn double(x: u32) -> u32 {
        x * 2
    }

    async fn greet(name: String) -> String {
        format!("hello {name}")
    }

    fn block_on_ready(f: TaskFuture) -> TaskOutput {
        match f {
            TaskFuture::Ready(out) => out,
            TaskFuture::Pending(_) => panic!("expected a ready result"),
        }
    }

    fn squares(n: u32) -> Vec<u64> {
        (0..u64::from(n)).map(|i| i * i).collect()
    }

    #[test]
    fn batched_task_writes_a_batched_sequence() {
        let r = TaskRef::batched(squares);
        let (input, _) = codec::encode_after(0, &100_000u32).unwrap();
        let (out, _) =
            block_on_ready(unsafe { r.invoke(&input, Attachments::default(), 4) }).unwrap();
        let mut reader =
            crate::wire::batches::BatchReader::new(&out[..], 4, Attachments::default()).unwrap();
        let mut values: Vec<u64> = Vec::new();
        while let Some(batch) = reader.next_batch(&mut values) {
            batch.unwrap();
        }
        assert_eq!(values, squares(100_000));
    }

    #[test]
    fn sync_task_round_trips_through_pointers() {
        let r = TaskRef::sync(double);
        let (input, _) = codec::encode_after(0, &21u32).unwrap();
        let (out, _) =
            block_on_ready(unsafe { r.invoke(&input, Attachments::default(), 2) }).unwrap();
        assert_eq!(&out[..2], &[0, 0]);
        assert_eq!(
            codec::decode::<u32>(&out[2..], Attachments::default()).unwrap(),
            42
        );
    }

    #[test]
    fn non_capturing_closure_is_a_task() {
        let r = TaskRef::sync(|v: Vec<i32>| v.iter().sum::<i32>());
        let (input, _) = codec::encode_after(0, &vec![1, 2, 3]).unwrap();
        let (out, _) =
            block_on_ready(unsafe { r.invoke(&input, Attachments::default(), 0) }).unwrap();
        assert_eq!(
            codec::decode::<i32>(&out, Attachments::default()).unwrap(),
            6
        );
    }

    #[test]
    fn bad_input_is_a_codec_failure_not_a_panic() {
        let r = TaskRef::sync(double);
        let (input, _) = codec::encode_after(0, &"not a number").unwrap();
        let err =
            block_on_ready(unsafe { r.invoke(&input, Attachments::default(), 0) }).unwrap_err();
        assert_eq!(err.code, FailureCode::Codec);
        // The message says that it was the input, and its size (the byte count is the
        // 13-byte MessagePack string).
        assert!(
            err.message
                .starts_with("decoding the task's input (13 bytes): "),
            "{}",
            err.message
        );
        let r = TaskRef::future(greet);
        let err =
            block_on_ready(unsafe { r.invoke(&[0xc1], Attachments::default(), 0) }).unwrap_err();
        assert_eq!(err.code, FailureCode::Codec);
        assert!(
            err.message
                .starts_with("decoding the task's input (1 bytes): "),
            "{}",
            err.message
        );
    }

    #[test]
    fn async_task_yields_a_future() {
        let r = TaskRef::future(greet);
        let (input, _) = codec::encode_after(0, &"dart").unwrap();
        let fut = match unsafe { r.invoke(&input, Attachments::default(), 0) } {
            TaskFuture::Pending(fut) => fut,
            TaskFuture::Ready(_) => panic!("expected a future"),
        };
        let (out, _) = futures_executor_lite(fut).unwrap();
        assert_eq!(
            codec::decode::<String>(&out, Attachments::default()).unwrap(),
            "hello dart"
        );
    }

    /// Polls a future that never waits (our test futures complete on first poll).
    fn futures_executor_lite<T>(mut fut: Pin<Box<dyn Future<Output = T>>>) -> T {
        use std::task::{Context, Poll, Waker};
        let mut cx = Context::from_waker(Waker::noop());
        match fut.as_mut().poll(&mut cx) {
            Poll::Ready(v) => v,
            Poll::Pending => panic!("test future was pending"),
        }
    }

    async fn waits_once(n: u32) -> u32 {
        let mut polled = false;
        std::future::poll_fn(|cx| {
            if polled {
                std::task::Poll::Ready(n + 1)
            } else {
                polled = true;
                cx.waker().wake_by_ref();
                std::task::Poll::Pending
            }
        })
        .await
    }

    async fn answers_at_once(n: u32) -> u32 {
        n * 3
    }

    #[test]
    fn eager_tasks_answer_in_their_first_poll_when_they_can() {
        let (input, _) = codec::encode_after(0, &7u32).unwrap();
        // SAFETY (both calls): the TaskRefs are built from real fns of this program.
        // Nothing to wait for: ready without an executor.
        let ready =
            unsafe { TaskRef::eager(answers_at_once).invoke(&input, Attachments::default(), 0) };
        let (bytes, _) = block_on_ready(ready).unwrap();
        assert_eq!(
            codec::decode::<u32>(&bytes, Attachments::default()).unwrap(),
            21
        );
        // A task that waits is handed on pending, and completes when polled again.
        let pending =
            unsafe { TaskRef::eager(waits_once).invoke(&input, Attachments::default(), 0) };
        let TaskFuture::Pending(mut fut) = pending else {
            panic!("a task that waits must not be ready after one poll");
        };
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let std::task::Poll::Ready(Ok((bytes, _))) = fut.as_mut().poll(&mut cx) else {
            panic!("the second poll completes it");
        };
        assert_eq!(
            codec::decode::<u32>(&bytes, Attachments::default()).unwrap(),
            8
        );
    }
}
