//! Large typed results: `run_vec` delivers a sequence without a long task on the receiving
//! thread, and a dropped delivery leaves the pool usable (issue 14: the seed's
//! `compute(parse_products, body)` stalled the page 55–61 ms at 60 MB).

use super::wait;
use futures_util::future::{select, Either};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_isolates::{run_vec, IsolateError, IsolatePool};

/// The seed's record.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub struct Product {
    id: u64,
    name: String,
    price: f64,
    category: String,
}

/// What a 60 MB `{"products": [...]}` body holds: about 581,000 of the seed's products.
const PRODUCTS_IN_60_MB: u32 = 581_000;

fn product(i: u32) -> Product {
    Product {
        id: u64::from(i),
        name: format!("Product number {i} of the catalogue"),
        price: f64::from(i % 10_000) * 0.01 + 1.0,
        category: ["tools", "garden", "kitchen", "toys"][(i % 4) as usize].to_string(),
    }
}

fn make_products(n: u32) -> Vec<Product> {
    (0..n).map(product).collect()
}

fn panicking_products(_: u32) -> Vec<Product> {
    panic!("the catalogue is on fire")
}

#[wasm_bindgen(inline_js = r#"
// Counts turns of this thread's event loop that came 50 ms or more late (a chain of 0 ms timers:
// each runs as soon as nothing else holds the thread), and, where the Long Tasks API exists
// (Chromium, a page), the long tasks it reports.
export function startProbe() {
  const probe = { late: 0, longTasks: 0, on: true, last: performance.now(), observer: null };
  const tick = () => {
    if (!probe.on) return;
    const now = performance.now();
    if (now - probe.last >= 50) probe.late++;
    probe.last = now;
    setTimeout(tick, 0);
  };
  setTimeout(tick, 0);
  if (typeof PerformanceObserver === 'function' && (PerformanceObserver.supportedEntryTypes ?? []).includes('longtask')) {
    probe.observer = new PerformanceObserver((list) => { probe.longTasks += list.getEntries().length; });
    probe.observer.observe({ type: 'longtask' });
  }
  return probe;
}
export function stopProbe(probe) {
  probe.on = false;
  if (probe.observer) {
    probe.longTasks += probe.observer.takeRecords().length;
    probe.observer.disconnect();
  }
  return [probe.late, probe.longTasks];
}
export function busy(ms) { const end = performance.now() + ms; while (performance.now() < end) {} }
"#)]
extern "C" {
    #[wasm_bindgen(js_name = startProbe)]
    fn start_probe() -> JsValue;
    #[wasm_bindgen(js_name = stopProbe)]
    fn stop_probe(probe: &JsValue) -> Vec<u32>;
    fn busy(ms: u32);
}

/// Turns of this thread's event loop 50 ms late, and long tasks, while the future `f` makes was
/// made and ran (made inside the window: a call's synchronous part, such as encoding its input,
/// counts).
async fn stalls_during<F: std::future::Future>(f: impl FnOnce() -> F) -> (F::Output, u32, u32) {
    let probe = start_probe();
    wait(20).await; // the probe's first turn
    let out = f().await;
    wait(20).await; // a stall at the very end is seen by the next turn
    let counts = stop_probe(&probe);
    (out, counts[0], counts[1])
}

/// The probe sees a stall: a 120 ms busy loop on this thread counts.
pub async fn the_stall_probe_sees_a_long_task() {
    let ((), late, _) = stalls_during(|| async {
        wait(10).await;
        busy(120);
    })
    .await;
    assert!(late >= 1, "a 120 ms busy loop went unseen");
}

/// 581,000 products (the seed's 60 MB body) arrive through `run_vec` with no turn of this
/// thread's event loop 50 ms late and no long task, equal to what the task made.
///
/// Up to three attempts: the probe also sees the OS descheduling this thread, which happens when
/// other programs load the two cores (seen in WebKit at a load average of 5 and more). Decoding
/// in one task — what `run` does, and what this test fails on — stalls every attempt.
///
/// The harness keeps its own work out of the windows: a small sequence first (the page has just
/// compiled a 7.5 MB module, and the decoder's first large run would share the cores with the
/// engine optimizing it), and a second of idle time after an attempt, for the collection of its
/// 60 MB of transferred chunks and of the comparison's strings. Seen without them, under
/// `npm test`'s background lane: one long task in the second and third attempts
/// (`[(2, 0), (0, 1), (0, 1)]`, Chromium, 2026-11-28), as after the pool soak in the same page.
pub async fn a_60_mb_typed_sequence_arrives_without_a_long_task() {
    if super::mode::expected("engine").as_deref() == Some("webkit") {
        // WebKitGTK 2.50.6 faults inside this decode now and then (an out-of-bounds trap in safe
        // code, or corrupted bytes): docs/tests.md, troubleshooting. Skipped there, and said so.
        web_sys::console::log_1(
            &"skipped in WebKit: the engine fault of docs/tests.md (troubleshooting)".into(),
        );
        return;
    }
    let warm_up = run_vec(make_products, 10_000)
        .await
        .expect("run_vec failed");
    assert_eq!(warm_up.len(), 10_000);
    drop(warm_up);
    let mut attempts = Vec::new();
    for _ in 0..3 {
        wait(1000).await;
        let (result, late, long_tasks) =
            stalls_during(|| run_vec(make_products, PRODUCTS_IN_60_MB)).await;
        let products = result.expect("run_vec failed");
        assert_eq!(products.len(), PRODUCTS_IN_60_MB as usize);
        // Compared element by element (building a second vector of 581,000 would be one more
        // big allocation for nothing).
        for (i, p) in products.iter().enumerate() {
            if *p != product(i as u32) {
                panic!("element {i} differs: {p:?}");
            }
        }
        attempts.push((late, long_tasks));
        if (late, long_tasks) == (0, 0) {
            return;
        }
    }
    panic!(
        "late turns and long tasks while 581,000 products arrived, in each attempt: {attempts:?}"
    );
}

/// A panic in a sequence task is its typed error, and the pool goes on.
pub async fn a_panicking_sequence_task_is_a_typed_error() {
    let pool = IsolatePool::builder().size(1).build().unwrap();
    match pool.run_vec(panicking_products, 1).await {
        Err(IsolateError::Panicked { message, .. }) => {
            assert!(message.contains("on fire"), "{message}")
        }
        other => panic!("expected Panicked, got {other:?}"),
    }
    assert_eq!(
        pool.run_vec(make_products, 3).await.unwrap(),
        make_products(3)
    );
}

/// Dropping a `run_vec` future at any point — queued, running, or while its batches are being
/// decoded — settles nothing wrongly and leaves the pool's isolate usable.
pub async fn dropping_a_delivery_leaves_the_pool_usable() {
    let pool = IsolatePool::builder().size(1).build().unwrap();
    let mut dropped_mid_way = 0;
    for after_ms in [0, 5, 20, 60, 150, 300, 600] {
        let delivery = Box::pin(pool.run_vec(make_products, 200_000));
        match select(delivery, Box::pin(wait(after_ms))).await {
            Either::Left((result, _)) => {
                assert_eq!(result.unwrap().len(), 200_000);
            }
            Either::Right(((), delivery)) => {
                dropped_mid_way += 1;
                drop(delivery);
            }
        }
        let next = pool.run_vec(make_products, 10).await;
        assert_eq!(
            next.unwrap(),
            make_products(10),
            "after a drop at {after_ms} ms"
        );
    }
    assert!(
        dropped_mid_way > 0,
        "no delivery was dropped before it ended"
    );
}

fn length_and_time(text: String) -> (usize, f64) {
    (text.len(), js_sys::Date::now())
}

fn time_of(n: u32) -> (u32, f64) {
    (n, js_sys::Date::now())
}

/// A large input is copied out of wasm memory a slice per task before it is posted (issue 14);
/// it keeps its place in the queue: a small task submitted after it runs after it.
pub async fn a_large_input_keeps_its_place_in_the_queue() {
    let pool = IsolatePool::builder().size(1).build().unwrap();
    let text = "x".repeat(40 << 20);
    let big = pool.run(length_and_time, text);
    let small = pool.run(time_of, 7);
    let (big, small) = futures_util::future::join(big, small).await;
    let ((len, big_at), (n, small_at)) = (big.unwrap(), small.unwrap());
    assert_eq!((len, n), (40 << 20, 7));
    assert!(
        big_at <= small_at,
        "the small task ran before the large one"
    );
}

fn length_of(text: String) -> usize {
    text.len()
}

/// Bytes of this instance's wasm memory.
fn memory_bytes() -> f64 {
    let memory: js_sys::WebAssembly::Memory = wasm_bindgen::memory().unchecked_into();
    let buffer: js_sys::ArrayBuffer = memory.buffer().unchecked_into();
    f64::from(buffer.byte_length())
}

/// Submitting a task whose input is a 96 MiB `String` does not copy the string inside wasm
/// memory: it is staged from the string itself, 4 MiB per task, so the memory does not grow by
/// the string's size when the task is submitted (`rmp_serde` copied it into a buffer of its own
/// first, in one task of 24–26 ms for 60 MB in this debug build in Chromium). 96 MiB is more
/// than any other case here frees, so a copy could not reuse a free block.
pub async fn a_large_string_input_is_not_copied_when_submitted() {
    let pool = IsolatePool::builder().size(1).build().unwrap();
    assert_eq!(pool.run(length_of, String::new()).await.unwrap(), 0); // a started worker
    let text = "x".repeat(96 << 20);
    let before = memory_bytes();
    let task = pool.run(length_of, text);
    let grown = memory_bytes() - before;
    assert!(
        grown < f64::from(1u32 << 20),
        "submitting a 96 MiB string grew wasm memory by {grown} bytes"
    );
    assert_eq!(task.await.unwrap(), 96 << 20);
}

/// Bytes, their sum, and the last characters of `text` (what the isolate received).
fn fingerprint(text: String) -> (usize, u64, String) {
    let sum = text.bytes().map(u64::from).sum();
    let tail: String = text.chars().rev().take(5).collect();
    (text.len(), sum, tail)
}

/// A large `String` input, staged from the string itself (above 4 MiB), arrives byte for byte,
/// multi-byte characters included, whether it is the first task or queued behind another.
pub async fn a_large_string_input_arrives_intact() {
    let pool = IsolatePool::builder().size(1).build().unwrap();
    // Built and fingerprinted without a pass over its bytes on this thread: a long synchronous
    // loop in a debug build is what a loaded test machine starves.
    const CYCLE: &str = "aé日😀\n";
    const CYCLES: usize = 600_000;
    let text = CYCLE.repeat(CYCLES);
    assert!(text.len() > 4 << 20, "{} bytes: not staged", text.len());
    let cycle_sum: u64 = CYCLE.bytes().map(u64::from).sum();
    let expected = (
        CYCLE.len() * CYCLES,
        cycle_sum * CYCLES as u64,
        CYCLE.chars().rev().collect::<String>(),
    );
    let first = pool.run(fingerprint, text.clone());
    let second = pool.run(fingerprint, text);
    let (first, second) = futures_util::future::join(first, second).await;
    assert_eq!(first.unwrap(), expected);
    assert_eq!(second.unwrap(), expected);
}

/// A large input dropped while it is being staged is cancelled; the pool goes on.
pub async fn a_large_input_dropped_while_staged_is_cancelled() {
    let pool = IsolatePool::builder().size(1).build().unwrap();
    drop(pool.run(length_and_time, "y".repeat(40 << 20)));
    assert_eq!(pool.run(time_of, 3).await.unwrap().0, 3);
    assert_eq!(pool.stats().completed, 1);
}
