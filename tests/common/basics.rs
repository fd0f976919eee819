//! What every suite and the wasm-pack smoke suite share: the mode check and the first cases (a
//! task of each kind, a panic and the next task). A file of its own so that
//! tests/wasm_pack_smoke.rs compiles only this (and mode.rs), not every shared case: that crate
//! is built three times a run (once with the suites, once per wasm-pack engine, whose expected
//! mode is read at compile time), 8 CPU seconds each with all of `common`.

use super::mode;
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_isolates::{compute, run, run_async, Capabilities, GlobalContext, IsolateError};

#[wasm_bindgen(inline_js = r#"
export function sleep(ms) { return new Promise((resolve) => setTimeout(resolve, ms)); }
export async function fetchLength(url) { const r = await fetch(url); return (await r.arrayBuffer()).byteLength; }
export function pageUrl() { return globalThis.location.href; }
export function userAgent() { return globalThis.navigator.userAgent; }
"#)]
extern "C" {
    fn sleep(ms: u32) -> js_sys::Promise;
    #[wasm_bindgen(js_name = fetchLength)]
    fn fetch_length(url: &str) -> js_sys::Promise;
    #[wasm_bindgen(js_name = pageUrl)]
    pub fn page_url() -> String;
    #[wasm_bindgen(js_name = userAgent)]
    fn user_agent() -> String;
}

pub async fn wait(ms: u32) {
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
    match mode::expected("coi").as_deref() {
        Some("1") => assert!(
            caps.cross_origin_isolated,
            "expected an isolated page: {caps:?}"
        ),
        Some("0") => assert!(
            !caps.cross_origin_isolated,
            "expected a non-isolated page: {caps:?}"
        ),
        _ => {}
    }
    // Isolation does not imply SharedArrayBuffer: WebKitGTK 2.50 is isolated and has none.
    match mode::expected("sab").as_deref() {
        Some("1") => assert!(caps.shared_array_buffer && caps.can_spawn(), "{caps:?}"),
        Some("0") => assert!(!caps.shared_array_buffer && !caps.can_spawn(), "{caps:?}"),
        _ => {}
    }
    let ua = user_agent();
    match mode::expected("engine").as_deref() {
        Some("chrome") => assert!(ua.contains("Chrome/"), "{ua}"),
        Some("firefox") => assert!(ua.contains("Firefox/"), "{ua}"),
        // Chromium's user agent names AppleWebKit too; WebKitGTK's names neither Chrome nor Firefox.
        Some("webkit") => assert!(
            ua.contains("AppleWebKit/") && !ua.contains("Chrome/") && !ua.contains("Firefox/"),
            "{ua}"
        ),
        Some(other) => panic!("unknown expected engine {other}"),
        None => {}
    }
}

#[derive(Serialize, Deserialize, Debug, PartialEq)]
pub struct Stats {
    count: usize,
    mean: f64,
}

pub fn stats(points: Vec<f64>) -> Stats {
    let count = points.len();
    Stats {
        count,
        mean: points.iter().sum::<f64>() / count.max(1) as f64,
    }
}

pub fn double(x: u32) -> u32 {
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
            assert!(location.contains("tests/common/basics.rs"), "{location}");
        }
        other => panic!("expected Panicked, got {other:?}"),
    }
    assert_eq!(run(explode, 0).await.unwrap(), 0);
    assert_eq!(run(double, 4).await.unwrap(), 8);
}
