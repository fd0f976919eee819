//! IsolatePool behaviour: FIFO, queue bound, timeouts, cancellation, restart, close, leaks.

use super::{eventually, never};
use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;
use wasm_isolates::{live_workers, CancellationToken, Capabilities, IsolateError, IsolatePool};

fn echo(i: u32) -> u32 {
    i
}

async fn sleep_then(ms: u32) -> u32 {
    super::wait(ms).await;
    ms
}

async fn hang(_: ()) -> u32 {
    let _ = wasm_bindgen_futures::JsFuture::from(never()).await;
    0
}

/// 1,000 small tasks on one isolate complete in submission order.
pub async fn pool_runs_1000_tasks_in_fifo_order() {
    let before = live_workers();
    let pool = IsolatePool::builder().size(1).build().unwrap();
    let order = Rc::new(RefCell::new(Vec::new()));
    for i in 0..1000u32 {
        let handle = pool.run(echo, i);
        let order = order.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let v = handle.await.unwrap();
            order.borrow_mut().push(v);
        });
    }
    eventually("1000 results", || order.borrow().len() == 1000).await;
    assert_eq!(*order.borrow(), (0..1000).collect::<Vec<_>>());
    assert_eq!(pool.stats().completed, 1000);
    drop(pool);
    assert_eq!(live_workers(), before, "no leaked workers");
}

fn spin_until_cancelled(max_ms: f64) -> String {
    let token = CancellationToken::current();
    let start = js_sys::Date::now();
    while js_sys::Date::now() - start < max_ms {
        if token.is_cancelled() {
            return "stopped".into();
        }
    }
    "finished".into()
}

fn token_state(_: ()) -> bool {
    CancellationToken::current().is_cancelled()
}

fn explode(_: u32) -> u32 {
    panic!("task exploded")
}

/// A mix of panics, timeouts and cancellations: every task settles with the right outcome and
/// the pool ends at full size.
pub async fn pool_settles_a_mix_of_failures_and_stays_full() {
    let before = live_workers();
    let pool = IsolatePool::builder()
        .size(3)
        .prewarm(true)
        .task_timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let mut expected = Vec::new();
    let mut handles = Vec::new();
    for i in 0..60u32 {
        let (handle, want) = match i % 6 {
            1 => (pool.run(explode, i), "panicked"),
            2 => (pool.run_async(hang, ()), "timed out"),
            3 => {
                let h = pool.run(echo, i);
                h.cancel();
                (h, "cancelled")
            }
            _ => (pool.run(echo, i), "ok"),
        };
        handles.push((i, handle));
        expected.push(want);
    }
    for ((i, handle), want) in handles.into_iter().zip(expected) {
        let got = match handle.await {
            Ok(v) => {
                assert_eq!(v, i, "no result goes to the wrong caller");
                "ok"
            }
            Err(IsolateError::Panicked { .. }) => "panicked",
            Err(IsolateError::TimedOut { after_ms }) => {
                assert_eq!(after_ms, 300);
                "timed out"
            }
            Err(IsolateError::Cancelled) => "cancelled",
            Err(other) => panic!("task {i}: unexpected {other:?}"),
        };
        assert_eq!(got, want, "task {i}");
    }
    let stats = pool.stats();
    assert_eq!(stats.completed, 30);
    assert_eq!(stats.failed, 30);
    assert_eq!(
        stats.restarted, 20,
        "10 panics + 10 timeouts replaced their workers"
    );
    eventually("pool back at full size", || pool.stats().live == 3).await;
    assert_eq!(pool.run(echo, 7).await.unwrap(), 7);
    drop(pool);
    assert_eq!(live_workers(), before);
}

/// The timeout counts from when a task starts, not from when it was queued: `b` waits ~600 ms
/// behind `a`, then runs 600 ms — 1200 ms after it was queued, over the 1000 ms timeout, yet
/// each ran well inside it. (The margins, 400 ms per run and 200 ms over, absorb a loaded
/// machine's late timers.)
pub async fn timeout_counts_from_start_not_queue() {
    let pool = IsolatePool::builder()
        .size(1)
        .task_timeout(Duration::from_millis(1000))
        .build()
        .unwrap();
    let a = pool.run_async(sleep_then, 600);
    let b = pool.run_async(sleep_then, 600);
    assert_eq!(a.await.unwrap(), 600);
    assert_eq!(b.await.unwrap(), 600);
}

/// The queue bound holds: `try_run` refuses, `run` waits its turn.
pub async fn queue_bound_holds() {
    let pool = IsolatePool::builder().size(1).max_queue(2).build().unwrap();
    let running = pool.run_async(sleep_then, 200);
    eventually("first task running", || pool.stats().busy == 1).await;
    let q1 = pool.run(echo, 1);
    let q2 = pool.run(echo, 2);
    match pool.try_run(echo, 3) {
        Err(IsolateError::QueueFull { capacity }) => assert_eq!(capacity, 2),
        Err(other) => panic!("expected QueueFull, got {other:?}"),
        Ok(_) => panic!("expected QueueFull, got a handle"),
    }
    let held = pool.run(echo, 4); // accepted, held back
    let stats = pool.stats();
    assert_eq!((stats.queued, stats.waiting), (2, 1));
    assert_eq!(running.await.unwrap(), 200);
    assert_eq!(q1.await.unwrap(), 1);
    assert_eq!(q2.await.unwrap(), 2);
    assert_eq!(held.await.unwrap(), 4);
}

/// close() finishes queued work, refuses new work, then stops every worker.
pub async fn close_drains_then_stops() {
    let before = live_workers();
    let pool = IsolatePool::builder().size(2).build().unwrap();
    let handles: Vec<_> = (0..6).map(|i| pool.run_async(sleep_then, 20 + i)).collect();
    let closed = pool.close();
    match pool.run(echo, 1).await {
        Err(IsolateError::Closed) => {}
        other => panic!("expected Closed, got {other:?}"),
    }
    closed.await;
    for (i, h) in handles.into_iter().enumerate() {
        assert_eq!(h.await.unwrap(), 20 + i as u32);
    }
    assert_eq!(pool.stats().live, 0);
    assert_eq!(live_workers(), before);
}

/// Cancelling a running task: cooperative with SharedArrayBuffer (the worker survives), by
/// termination without. Either way the cancel never reaches the next task on that worker
/// (regression for workerpool #548).
pub async fn cancel_running_task_never_hits_the_next_one() {
    let cooperative = Capabilities::detect().shared_array_buffer;
    let pool = IsolatePool::builder().size(1).build().unwrap();
    assert!(!pool.run(token_state, ()).await.unwrap());
    let handle = pool.run(spin_until_cancelled, 10_000.0);
    eventually("task running", || pool.stats().busy == 1).await;
    handle.cancel();
    match handle.await {
        Err(IsolateError::Cancelled) => {}
        other => panic!("expected Cancelled, got {other:?}"),
    }
    let restarted = pool.stats().restarted;
    assert_eq!(restarted, if cooperative { 0 } else { 1 });
    assert!(
        !pool.run(token_state, ()).await.unwrap(),
        "next task sees no cancel"
    );
    // Dropping a handle cancels too.
    let dropped = pool.run_async(hang, ());
    eventually("task running", || pool.stats().busy == 1).await;
    drop(dropped);
    eventually("dropped task cancelled", || pool.stats().busy == 0).await;
    assert_eq!(pool.run(echo, 9).await.unwrap(), 9);
}
