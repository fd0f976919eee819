//! Tasks and checks shared by the browser-hosted and worker-hosted wasm test suites.

use futures_util::future::join_all;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use wasm_bindgen::prelude::*;
use wasm_isolates::protocol::{Envelope, CALL_HEADER_LEN};
use wasm_isolates::{
    compute, is_isolate, run, run_async, Capabilities, GlobalContext, IsolateError, IsolatePool,
};

#[wasm_bindgen(inline_js = r#"
export function sleep(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }
export async function fetchLength(url) { const r = await fetch(url); return (await r.arrayBuffer()).byteLength; }
export function pageUrl() { return globalThis.location.href; }
export function userAgent() { return globalThis.navigator.userAgent; }
export function closeSelf() { globalThis.close(); }
export function rejectUnhandled(message) { Promise.reject(new Error(message)); }
export function never() { return new Promise(() => {}); }
"#)]
extern "C" {
    fn sleep(ms: u32) -> js_sys::Promise;
    #[wasm_bindgen(js_name = fetchLength)]
    fn fetch_length(url: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = pageUrl)]
    fn page_url() -> String;
    #[wasm_bindgen(js_name = userAgent)]
    fn user_agent() -> String;
    #[wasm_bindgen(js_name = closeSelf)]
    fn close_self();
    #[wasm_bindgen(js_name = rejectUnhandled)]
    fn reject_unhandled(message: &str);
    fn never() -> js_sys::Promise;
}

async fn wait(ms: u32) {
    let _ = wasm_bindgen_futures::JsFuture::from(sleep(ms)).await;
}

/// The runner was started in the mode `npm test` says (engine, cross-origin isolation); a run in
/// the wrong mode fails here instead of silently testing the other one.
pub fn assert_expected_mode(expected_context: GlobalContext) {
    let caps = Capabilities::detect();
    assert_eq!(caps.context, expected_context);
    assert!(caps.workers && caps.module_workers, "{caps:?}");
    assert!(caps.can_run());
    assert!(!caps.in_isolate);
    match option_env!("WASM_ISOLATES_EXPECT_COI") {
        Some("1") => {
            assert!(
                caps.cross_origin_isolated,
                "expected an isolated page: {caps:?}"
            );
            assert!(caps.shared_array_buffer && caps.can_spawn(), "{caps:?}");
        }
        Some("0") => {
            assert!(
                !caps.cross_origin_isolated,
                "expected a non-isolated page: {caps:?}"
            );
            assert!(!caps.can_spawn(), "{caps:?}");
        }
        _ => {}
    }
    let ua = user_agent();
    match option_env!("WASM_ISOLATES_EXPECT_ENGINE") {
        Some("chrome") => assert!(ua.contains("Chrome/"), "{ua}"),
        Some("firefox") => assert!(ua.contains("Firefox/"), "{ua}"),
        _ => {}
    }
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
pub struct Stats {
    count: usize,
    mean: f64,
}

fn stats(points: Vec<f64>) -> Stats {
    let count = points.len();
    Stats {
        count,
        mean: points.iter().sum::<f64>() / count.max(1) as f64,
    }
}

fn double(x: u32) -> u32 {
    x * 2
}

async fn fetch_and_count(url: String) -> usize {
    wait(5).await;
    let len = wasm_bindgen_futures::JsFuture::from(fetch_length(&url)).await;
    len.ok().and_then(|v| v.as_f64()).unwrap_or(-1.0) as usize
}

pub async fn run_compute_and_async_tasks() {
    let points = vec![1.0, 2.0, 3.0, 4.0];
    assert_eq!(
        run(stats, points.clone()).await.unwrap(),
        Stats {
            count: 4,
            mean: 2.5
        }
    );
    assert_eq!(
        compute(stats, points).await.unwrap(),
        Stats {
            count: 4,
            mean: 2.5
        }
    );
    // A non-capturing closure is a task too.
    assert_eq!(run(|s: String| s.len(), "isolate".into()).await.unwrap(), 7);
    // An async task awaits inside the worker: a timer, then a fetch.
    let url = page_url();
    let here = wasm_bindgen_futures::JsFuture::from(fetch_length(&url))
        .await
        .unwrap()
        .as_f64()
        .unwrap() as usize;
    assert!(here > 0);
    assert_eq!(run_async(fetch_and_count, url).await.unwrap(), here);
}

pub async fn tasks_run_in_an_isolate_concurrently() {
    assert!(!is_isolate());
    assert!(run(|_: ()| wasm_isolates::is_isolate(), ()).await.unwrap());
    let context = run(
        |_: ()| Capabilities::detect().context.as_str().to_string(),
        (),
    )
    .await
    .unwrap();
    assert_eq!(context, "dedicated-worker");
    let all = join_all((0..16u32).map(|i| run(double, i))).await;
    let got: Vec<u32> = all.into_iter().map(Result::unwrap).collect();
    assert_eq!(got, (0..16).map(|i| i * 2).collect::<Vec<_>>());
}

async fn nested(x: u32) -> Result<u32, String> {
    run(double, x).await.map_err(|e| e.to_string())
}

/// The caller may itself be an isolate: it starts its own workers.
pub async fn an_isolate_can_run_tasks_itself() {
    assert_eq!(run_async(nested, 21).await.unwrap(), Ok(42));
}

fn explode(x: u32) -> u32 {
    if x > 0 {
        panic!("exploded with {x}");
    }
    x
}

pub async fn panic_is_reported_and_the_next_task_succeeds() {
    match run(explode, 7).await {
        Err(IsolateError::Panicked { message, location }) => {
            assert_eq!(message, "exploded with 7");
            let location = location.expect("panic location");
            assert!(location.contains("tests/common/mod.rs"), "{location}");
        }
        other => panic!("expected Panicked, got {other:?}"),
    }
    assert_eq!(run(explode, 0).await.unwrap(), 0);
    assert_eq!(run(double, 4).await.unwrap(), 8);
}

async fn close_then_hang(_: ()) -> u32 {
    close_self();
    let _ = wasm_bindgen_futures::JsFuture::from(never()).await;
    1
}

/// Regression: a worker that dies mid-task must settle the task (Comlink #665 hangs forever).
pub async fn worker_dying_mid_task_settles_the_task() {
    let pool = IsolatePool::builder().size(1).build().unwrap();
    for _ in 0..2 {
        match pool.run_async(close_then_hang, ()).await {
            Err(IsolateError::WorkerDied { reason }) => assert!(!reason.is_empty()),
            other => panic!("expected WorkerDied, got {other:?}"),
        }
        assert_eq!(pool.run(double, 5).await.unwrap(), 10);
    }
}

async fn reject_then_wait(message: String) -> u32 {
    reject_unhandled(&message);
    wait(200).await;
    0
}

pub async fn unhandled_rejection_in_worker_is_reported() {
    let pool = IsolatePool::builder().size(1).build().unwrap();
    match pool
        .run_async(reject_then_wait, "nobody caught me".into())
        .await
    {
        Err(IsolateError::WorkerError { message, .. }) => {
            assert!(message.contains("unhandled promise rejection"), "{message}");
            assert!(message.contains("nobody caught me"), "{message}");
        }
        other => panic!("expected WorkerError, got {other:?}"),
    }
    assert_eq!(pool.run(double, 6).await.unwrap(), 12);
}

pub async fn malformed_envelopes_get_protocol_errors() {
    let pool = IsolatePool::builder().size(1).build().unwrap();
    let mut forged = vec![0u8; CALL_HEADER_LEN];
    Envelope::Call {
        id: 1,
        trampoline: u32::MAX - 1,
        task: u32::MAX - 2,
        attachments: 0,
    }
    .write_header(&mut forged);
    let mut wrong_version = forged.clone();
    wrong_version[4] = 200;
    let cases: [(&str, Vec<u8>); 4] = [
        ("garbage", b"definitely not an envelope".to_vec()),
        ("truncated", forged[..10].to_vec()),
        ("version", wrong_version),
        ("forged function pointer", forged),
    ];
    for (what, bytes) in cases {
        match pool.__send_raw(bytes).await {
            Err(IsolateError::Protocol { message }) => assert!(!message.is_empty(), "{what}"),
            other => panic!("{what}: expected Protocol, got {other:?}"),
        }
        // The isolate keeps serving.
        assert_eq!(pool.run(double, 1).await.unwrap(), 2, "{what}");
    }
}

#[derive(Debug)]
pub struct Unserializable;
impl Serialize for Unserializable {
    fn serialize<S: Serializer>(&self, _: S) -> Result<S::Ok, S::Error> {
        Err(serde::ser::Error::custom("Unserializable refuses"))
    }
}
impl<'de> Deserialize<'de> for Unserializable {
    fn deserialize<D: Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(serde::de::Error::custom("never"))
    }
}

/// Serializes fine, refuses to deserialize: fails inside the isolate.
#[derive(Debug)]
pub struct Undecodable(u32);
impl Serialize for Undecodable {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u32(self.0)
    }
}
impl<'de> Deserialize<'de> for Undecodable {
    fn deserialize<D: Deserializer<'de>>(_: D) -> Result<Self, D::Error> {
        Err(serde::de::Error::custom("Undecodable refuses"))
    }
}

pub async fn codec_failures_are_typed() {
    match run(|_: Unserializable| 1u8, Unserializable).await {
        Err(IsolateError::Codec { message }) => assert!(message.contains("refuses"), "{message}"),
        other => panic!("expected Codec, got {other:?}"),
    }
    match run(|u: Undecodable| u.0, Undecodable(3)).await {
        Err(IsolateError::Codec { message }) => assert!(message.contains("refuses"), "{message}"),
        other => panic!("expected Codec, got {other:?}"),
    }
    assert_eq!(run(double, 2).await.unwrap(), 4);
}

pub async fn worker_that_cannot_start_fails_each_task() {
    let pool = IsolatePool::builder()
        .size(1)
        .glue_url("/no/such/glue.js")
        .build()
        .unwrap();
    for _ in 0..2 {
        match pool.run(double, 1).await {
            Err(IsolateError::StartFailed { message }) => assert!(!message.is_empty()),
            other => panic!("expected StartFailed, got {other:?}"),
        }
    }
}

pub async fn dropping_a_pool_settles_its_queue() {
    let pool = IsolatePool::builder().size(1).build().unwrap();
    let first = pool.run(double, 1);
    let second = pool.run(double, 2);
    drop(pool);
    assert_eq!(first.await, Err(IsolateError::Closed));
    assert_eq!(second.await, Err(IsolateError::Closed));
}
