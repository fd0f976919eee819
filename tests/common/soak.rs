//! Soak with fault injection: many tasks, a fraction of which panic, kill their worker, time
//! out or are cancelled. Size: `WASM_ISOLATES_SOAK_TASKS` / `WASM_ISOLATES_SOAK_SPAWNS` at
//! compile time (CI: 1,000 tasks and 50 spawn/kill cycles; the long run in docs/tests.md: 10,000
//! and 1,000).

use super::{never, wait};
use std::time::Duration;
use wasm_isolates::{
    live_workers, Capabilities, ExitReason, Isolate, IsolateError, IsolatePool, Priority,
};

fn size(var: Option<&str>, default: u32) -> u32 {
    var.and_then(|v| v.parse().ok()).unwrap_or(default)
}

#[wasm_bindgen::prelude::wasm_bindgen(
    inline_js = "export function closeWorker() { globalThis.close(); }"
)]
extern "C" {
    #[wasm_bindgen(js_name = closeWorker)]
    fn close_worker();
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fate {
    Ok,
    Panic,
    Die,
    Timeout,
    Cancel,
}

/// The fault plan: ~10 % panic, ~1 % die, ~1 % time out, ~1 % cancelled, the rest compute.
fn fate(i: u32) -> Fate {
    match i % 100 {
        0..=9 => Fate::Panic,
        10 => Fate::Die,
        11 => Fate::Timeout,
        12 => Fate::Cancel,
        _ => Fate::Ok,
    }
}

/// A checkable result: no caller can get another task's answer by accident.
fn answer(i: u32) -> u64 {
    (i as u64).wrapping_mul(2_654_435_761) ^ 0xA5A5
}

async fn soak_task(i: u32) -> u64 {
    match fate(i) {
        Fate::Panic => panic!("injected panic {i}"),
        Fate::Die => {
            close_worker();
            let _ = wasm_bindgen_futures::JsFuture::from(never()).await;
            0
        }
        Fate::Timeout | Fate::Cancel => {
            let _ = wasm_bindgen_futures::JsFuture::from(never()).await;
            0
        }
        Fate::Ok => answer(i),
    }
}

fn wasm_memory_bytes() -> f64 {
    use wasm_bindgen::JsCast;
    wasm_bindgen::memory()
        .unchecked_into::<js_sys::WebAssembly::Memory>()
        .buffer()
        .unchecked_into::<js_sys::ArrayBuffer>()
        .byte_length() as f64
}

pub async fn soak_pool_with_fault_injection() {
    let tasks = size(option_env!("WASM_ISOLATES_SOAK_TASKS"), 1000);
    let before = live_workers();
    let pool = IsolatePool::builder()
        .size(3)
        .prewarm(true)
        .task_timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let memory_start = wasm_memory_bytes();
    // Submit in waves so cancellations hit both queued and running tasks.
    let mut outcomes = [0u32; 5];
    for wave in (0..tasks).collect::<Vec<_>>().chunks(200) {
        let handles: Vec<_> = wave
            .iter()
            .map(|&i| (i, pool.run_async(soak_task, i)))
            .collect();
        for (i, handle) in &handles {
            if fate(*i) == Fate::Cancel {
                handle.cancel();
            }
        }
        for (i, handle) in handles {
            let got = match handle.await {
                Ok(v) => {
                    assert_eq!(v, answer(i), "task {i} got another task's result");
                    Fate::Ok
                }
                Err(IsolateError::Panicked { message, .. }) => {
                    assert_eq!(message, format!("injected panic {i}"));
                    Fate::Panic
                }
                Err(IsolateError::WorkerDied { .. }) => Fate::Die,
                Err(IsolateError::TimedOut { .. }) => Fate::Timeout,
                Err(IsolateError::Cancelled) => Fate::Cancel,
                Err(other) => panic!("task {i}: unexpected {other:?}"),
            };
            assert_eq!(got, fate(i), "task {i}");
            outcomes[got as usize] += 1;
        }
    }
    let stats = pool.stats();
    assert_eq!(
        stats.completed + stats.failed,
        tasks as u64,
        "every task settled once"
    );
    assert_eq!(stats.completed as u32, outcomes[Fate::Ok as usize]);
    for _ in 0..500 {
        if pool.stats().live == 3 {
            break;
        }
        wait(10).await;
    }
    assert_eq!(pool.stats().live, 3, "back at full size");
    let grown = wasm_memory_bytes() - memory_start;
    web_sys::console::log_1(
        &format!(
            "soak: {tasks} tasks, outcomes ok/panic/die/timeout/cancel = {outcomes:?}, \
             {} workers restarted, caller's wasm memory grew {grown} bytes",
            stats.restarted
        )
        .into(),
    );
    // Per-task state is freed: the caller's memory does not grow with the number of tasks.
    assert!(
        grown <= 8.0 * 1024.0 * 1024.0,
        "caller's wasm memory grew {grown} bytes"
    );
    drop(pool);
    assert_eq!(live_workers(), before, "no leaked workers");
}

async fn sleeper(_: ()) {
    let _ = wasm_bindgen_futures::JsFuture::from(never()).await;
}

pub async fn soak_spawn_kill_cycles() {
    if !Capabilities::detect().can_spawn() {
        return;
    }
    let cycles = size(option_env!("WASM_ISOLATES_SOAK_SPAWNS"), 50);
    let before = live_workers();
    for i in 0..cycles {
        let iso = Isolate::spawn_async(sleeper, ()).await.unwrap();
        iso.kill(if i % 2 == 0 {
            Priority::Immediate
        } else {
            Priority::BeforeNextEvent
        });
        assert_eq!(iso.exited().await, ExitReason::Killed, "cycle {i}");
    }
    assert_eq!(live_workers(), before);
}
