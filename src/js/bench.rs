//! Measurements for `npm run bench` that must run inside the library (hidden JS exports: in the
//! glue, left out of its TypeScript declarations). Each returns milliseconds measured with
//! `performance.now()` on the calling thread.

use crate::pool::IsolatePool;
use crate::wire::transfer::TransferBuffer;
use js_sys::Float64Array;
use wasm_bindgen::prelude::*;

fn noop(_: ()) {}

fn pool(size: usize, prewarm: bool) -> Result<IsolatePool, JsValue> {
    Ok(IsolatePool::builder()
        .size(size)
        .prewarm(prewarm)
        .debug_name("bench")
        .build()?)
}

/// Round trips of a task with a tiny input on a warm one-isolate pool: one duration per call.
#[doc(hidden)]
#[wasm_bindgen(js_name = __benchRoundTrips, skip_typescript)]
pub async fn bench_round_trips(calls: u32) -> Result<Float64Array, JsValue> {
    let pool = pool(1, true)?;
    pool.ready().await;
    pool.run(noop, ()).await?; // warm the path
    let mut out = Vec::with_capacity(calls as usize);
    for _ in 0..calls {
        let t0 = crate::platform::host::now();
        pool.run(noop, ()).await?;
        out.push(crate::platform::host::now() - t0);
    }
    Ok(Float64Array::from(&out[..]))
}

/// A first task on a fresh isolate: worker start, instantiation of the compiled module, call.
#[doc(hidden)]
#[wasm_bindgen(js_name = __benchColdStart, skip_typescript)]
pub async fn bench_cold_start() -> Result<f64, JsValue> {
    let t0 = crate::platform::host::now();
    let pool = pool(1, false)?;
    pool.run(noop, ()).await?;
    Ok(crate::platform::host::now() - t0)
}

/// The first task on a prewarmed pool, timed from when the pool reports ready.
#[doc(hidden)]
#[wasm_bindgen(js_name = __benchFirstTaskAfterReady, skip_typescript)]
pub async fn bench_first_task_after_ready() -> Result<f64, JsValue> {
    let pool = pool(1, true)?;
    pool.ready().await;
    let t0 = crate::platform::host::now();
    pool.run(noop, ()).await?;
    Ok(crate::platform::host::now() - t0)
}

/// CPU-bound work: sort a million pseudo-random numbers, return a checksum.
fn sort_million(seed: u32) -> f64 {
    let mut x = seed as u64 | 1;
    let mut v: Vec<f64> = (0..1_000_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 11) as f64
        })
        .collect();
    v.sort_unstable_by(f64::total_cmp);
    v[0] + v[v.len() / 2]
}

/// `tasks` CPU-bound tasks on a pool of `isolates`: total milliseconds.
#[doc(hidden)]
#[wasm_bindgen(js_name = __benchPoolScaling, skip_typescript)]
pub async fn bench_pool_scaling(tasks: u32, isolates: u32) -> Result<f64, JsValue> {
    let pool = pool(isolates as usize, true)?;
    pool.ready().await;
    let t0 = crate::platform::host::now();
    let handles: Vec<_> = (0..tasks).map(|i| pool.run(sort_million, i)).collect();
    for h in handles {
        h.await?;
    }
    Ok(crate::platform::host::now() - t0)
}

/// `tasks` tiny tasks through a pool of `isolates`, all submitted at once: total milliseconds.
#[doc(hidden)]
#[wasm_bindgen(js_name = __benchThroughput, skip_typescript)]
pub async fn bench_throughput(tasks: u32, isolates: u32) -> Result<f64, JsValue> {
    let pool = pool(isolates as usize, true)?;
    pool.ready().await;
    let t0 = crate::platform::host::now();
    let handles: Vec<_> = (0..tasks).map(|_| pool.run(noop, ())).collect();
    for h in handles {
        h.await?;
    }
    Ok(crate::platform::host::now() - t0)
}

fn echo(buffer: TransferBuffer<u8>) -> TransferBuffer<u8> {
    buffer
}

/// Main-thread time to send `megabytes` to an isolate as a `TransferBuffer` (the synchronous
/// part of submitting: encode the envelope, post with the transfer list) and to receive it back
/// (the reply's message handler), as `[send_ms, receive_ms]`.
#[doc(hidden)]
#[wasm_bindgen(js_name = __benchTransfer, skip_typescript)]
pub async fn bench_transfer(megabytes: u32) -> Result<Float64Array, JsValue> {
    let pool = pool(1, true)?;
    pool.ready().await;
    let buffer = js_sys::ArrayBuffer::new(megabytes * 1024 * 1024);
    let input = TransferBuffer::from_array_buffer(buffer)?;
    let t0 = crate::platform::host::now();
    let handle = pool.run(echo, input);
    let send = crate::platform::host::now() - t0;
    let back = handle.await?;
    let receive = crate::parent::worker::last_receive_ms();
    if back.len() != (megabytes * 1024 * 1024) as usize {
        return Err(JsValue::from_str(
            "the buffer came back with the wrong length",
        ));
    }
    Ok(Float64Array::from(&[send, receive][..]))
}

/// The seed's record (issue 14's `typed` rows).
#[derive(serde::Serialize, serde::Deserialize)]
struct Product {
    id: u64,
    name: String,
    price: f64,
    category: String,
}

#[derive(serde::Deserialize)]
struct Catalog {
    products: Vec<Product>,
}

/// The seed's task: the body of `{"products": [...]}` to its products (none when malformed).
fn parse_products(body: String) -> Vec<Product> {
    serde_json::from_str::<Catalog>(&body)
        .map(|c| c.products)
        .unwrap_or_default()
}

thread_local! {
    /// The body `__benchTypedPrepare` converted, taken by the next `__benchTyped`.
    static BODY: std::cell::RefCell<String> = const { std::cell::RefCell::new(String::new()) };
}

/// Converts the JS string `body` to the Rust `String` the seed's task takes (what a Rust app
/// does with `response.text()`), outside the measured call.
#[doc(hidden)]
#[wasm_bindgen(js_name = __benchTypedPrepare, skip_typescript)]
pub fn bench_typed_prepare(body: String) {
    BODY.with(|b| *b.borrow_mut() = body);
}

/// The seed's `compute(parse_products, body)` on the prepared body, by `route`: `"one"` is
/// `compute` (the whole `Vec` decoded in one task), `"vec"` is `run_vec` (decoded in slices
/// between frames). Resolves with the number of products; the caller measures the main thread.
#[doc(hidden)]
#[wasm_bindgen(js_name = __benchTyped, skip_typescript)]
pub async fn bench_typed(route: String) -> Result<f64, JsValue> {
    let body = BODY.with(|b| std::mem::take(&mut *b.borrow_mut()));
    let products = match route.as_str() {
        "one" => crate::run::compute(parse_products, body).await?,
        "vec" => crate::run::run_vec(parse_products, body).await?,
        other => return Err(JsValue::from_str(&format!("unknown route {other}"))),
    };
    Ok(products.len() as f64)
}

/// The seed the demo page generates its datasets with (`DEFAULT_SEED` in www/strategies.js), so
/// that `__benchParseMbps` parses the same bytes as the json suite's rows.
const DEMO_SEED: u64 = 42;

/// In an isolate: generates the `kind` dataset of about `megabytes` MiB, then parses it into a
/// tape `runs + 1` times (the first run warms the allocator and is dropped). Only the parse is
/// timed: each run's copy of the text is made before its clock starts and the tape is dropped
/// after it stops. `[bytes, ms of run 1, ..., ms of run N]`.
fn parse_runs(args: (String, f64, u32)) -> Result<Vec<f64>, String> {
    let (kind, megabytes, runs) = args;
    let text = crate::json::dataset::generate((kind, megabytes, DEMO_SEED))?.to_vec();
    let mut out = Vec::with_capacity(runs as usize + 1);
    out.push(text.len() as f64);
    for run in 0..=runs {
        let copy = text.clone();
        let t0 = crate::platform::host::now();
        let tape = crate::json::tape::Tape::parse_watched(copy, |_| {});
        let ms = crate::platform::host::now() - t0;
        if let Err(e) = tape {
            return Err(format!(
                "the generated dataset did not parse: {}",
                e.message
            ));
        }
        if run > 0 {
            out.push(ms);
        }
    }
    Ok(out)
}

/// Isolate-side parse throughput (issue 18's `parse_mbps` row): the tape parse alone, inside an
/// isolate, of the demo's `kind` dataset (`"points"` or `"products"`) of about `megabytes` MiB —
/// no transfer, no generation, no reply in the clock. Resolves with `[bytes, ms of each of
/// `runs` runs]`.
#[doc(hidden)]
#[wasm_bindgen(js_name = __benchParseMbps, skip_typescript)]
pub async fn bench_parse_mbps(
    kind: String,
    megabytes: f64,
    runs: u32,
) -> Result<Float64Array, JsValue> {
    let pool = pool(1, true)?;
    let out = pool
        .run(parse_runs, (kind, megabytes, runs.max(1)))
        .await?
        .map_err(|e| JsValue::from_str(&e))?;
    Ok(Float64Array::from(&out[..]))
}
