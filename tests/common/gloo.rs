//! gloo-worker interop (feature `gloo`), hosted by a page: a gloo-worker `Worker` runs in a
//! worker that instantiates this same test module (`SpawnInIsolate`), with gloo's `Bincode` and
//! with `IsolateCodec`, whose buffers must move in both directions.
//!
//! Part of the page-hosted suite (`tests/browser.rs` includes it when the feature is on), so that
//! `npm test` builds and starts one test binary per mode instead of two; gloo's bridge is made
//! for a page, so the worker-hosted suite leaves it out.

use super::common;

use futures_channel::mpsc::{unbounded, UnboundedReceiver};
use futures_util::future::{select, Either};
use futures_util::StreamExt;
use gloo_worker::{HandlerId, Spawnable, Worker, WorkerScope};
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;
use wasm_bindgen_test::*;
use wasm_isolates::gloo::{IsolateCodec, SpawnInIsolate};
use wasm_isolates::{run_async, GlobalContext, TransferBuffer};

/// Waits for the next reply, failing the test after 20 s instead of hanging the runner.
async fn next<T>(replies: &mut UnboundedReceiver<T>) -> T {
    let timeout = Box::pin(common::wait(20_000));
    match select(replies.next(), timeout).await {
        Either::Left((Some(reply), _)) => reply,
        Either::Left((None, _)) => panic!("the bridge's callback was dropped"),
        Either::Right(_) => panic!("no reply from the gloo worker within 20 s"),
    }
}

// --- A gloo worker with gloo's default encoding (Bincode) -------------------------------------

pub struct Upper;

impl Worker for Upper {
    type Message = ();
    type Input = String;
    type Output = String;

    fn create(_scope: &WorkerScope<Self>) -> Self {
        Upper
    }
    fn update(&mut self, _scope: &WorkerScope<Self>, _msg: ()) {}
    fn received(&mut self, scope: &WorkerScope<Self>, text: String, id: HandlerId) {
        scope.respond(id, text.to_uppercase());
    }
}

#[wasm_bindgen_test]
async fn gloo_worker_with_bincode_runs_in_an_isolate() {
    common::assert_expected_mode(GlobalContext::Window);
    let (tx, mut replies) = unbounded();
    let bridge = Upper::spawner()
        .callback(move |text| {
            let _ = tx.unbounded_send(text);
        })
        .spawn_in_isolate()
        .expect("spawn a gloo worker in an isolate");
    // Sent before the worker has loaded: gloo queues it.
    bridge.send("first".to_string());
    let first = next(&mut replies).await;
    // A fork is a second handler on the same worker.
    let (fork_tx, mut fork_replies) = unbounded();
    let fork = bridge.fork(Some(move |text: String| {
        let _ = fork_tx.unbounded_send(text);
    }));
    fork.send("from the fork".to_string());
    bridge.send("second".to_string());
    let forked = next(&mut fork_replies).await;
    let second = next(&mut replies).await;
    // Every reply is in before anything is asserted, and dropping the bridges closes the worker:
    // a failing assertion then leaves no message in flight towards a panicked instance.
    drop((fork, bridge));
    assert_eq!(first, "FIRST");
    assert_eq!(forked, "FROM THE FORK");
    assert_eq!(second, "SECOND");
}

// --- A gloo worker with IsolateCodec: buffers, self-describing types, nested isolates ---------

/// A label that Bincode could not decode (untagged).
#[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
#[serde(untagged)]
pub enum Label {
    Number(f64),
    Text(String),
}

#[derive(Serialize, Deserialize)]
pub enum Job {
    /// Sum the samples, send them back, then say whether sending detached the worker's buffer.
    Sum {
        samples: TransferBuffer<f64>,
        meta: serde_json::Value,
    },
    /// Square a number in a nested isolate (`wasm_isolates::run_async` inside the gloo worker).
    SquareNested(u64),
    /// Where am I?
    Probe,
}

#[derive(Serialize, Deserialize, Debug)]
pub enum Reply {
    Sum {
        total: f64,
        samples: TransferBuffer<f64>,
        label: Label,
        meta: serde_json::Value,
    },
    WorkerBufferDetached(bool),
    Squared(Result<u64, String>),
    Probe {
        is_isolate: bool,
        context: String,
        cross_origin_isolated: bool,
    },
}

async fn square(n: u64) -> u64 {
    n * n
}

pub struct Cruncher;

impl Worker for Cruncher {
    type Message = ();
    type Input = Job;
    type Output = Reply;

    fn create(_scope: &WorkerScope<Self>) -> Self {
        Cruncher
    }
    fn update(&mut self, _scope: &WorkerScope<Self>, _msg: ()) {}
    fn received(&mut self, scope: &WorkerScope<Self>, job: Job, id: HandlerId) {
        match job {
            Job::Sum { samples, meta } => {
                let total = samples.to_vec().iter().sum();
                let label = match &meta["label"] {
                    serde_json::Value::Number(n) => Label::Number(n.as_f64().unwrap_or(f64::NAN)),
                    other => Label::Text(other.to_string()),
                };
                let buffer = samples.array_buffer().clone();
                scope.respond(
                    id,
                    Reply::Sum {
                        total,
                        samples,
                        label,
                        meta,
                    },
                );
                scope.respond(id, Reply::WorkerBufferDetached(buffer.byte_length() == 0));
            }
            Job::SquareNested(n) => {
                let scope = scope.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    let result = run_async(square, n).await.map_err(|e| e.to_string());
                    scope.respond(id, Reply::Squared(result));
                });
            }
            Job::Probe => {
                let caps = wasm_isolates::Capabilities::detect();
                scope.respond(
                    id,
                    Reply::Probe {
                        is_isolate: wasm_isolates::is_isolate(),
                        context: caps.context.as_str().to_string(),
                        cross_origin_isolated: caps.cross_origin_isolated,
                    },
                );
            }
        }
    }
}

#[wasm_bindgen_test]
async fn gloo_worker_with_isolate_codec_moves_buffers_both_ways() {
    common::assert_expected_mode(GlobalContext::Window);
    let (tx, mut replies) = unbounded();
    let bridge = Cruncher::spawner()
        .callback(move |reply| {
            let _ = tx.unbounded_send(reply);
        })
        .encoding::<IsolateCodec>()
        .spawn_in_isolate()
        .expect("spawn a gloo worker in an isolate");

    // 1 MiB of f64s, and a JSON value and an untagged enum: Bincode would fail on both.
    let n = 1usize << 17;
    let data: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let samples = TransferBuffer::from_slice(&data);
    let sent = samples.array_buffer().clone();
    assert_eq!(sent.byte_length() as usize, n * 8);
    let meta = serde_json::json!({"label": 42.5, "nested": [1, {"k": null}], "s": "é"});
    bridge.send(Job::Sum {
        samples,
        meta: meta.clone(),
    });
    bridge.send(Job::Probe);
    // The gloo worker runs a task in an isolate of its own.
    bridge.send(Job::SquareNested(12_345));
    // The worker answers in this order (the nested task's reply comes last). Every reply is in
    // before anything is asserted, and dropping the bridge closes the worker.
    let sum = next(&mut replies).await;
    let detached = next(&mut replies).await;
    let probe = next(&mut replies).await;
    let squared = next(&mut replies).await;
    drop(bridge);

    match sum {
        Reply::Sum {
            total,
            samples,
            label,
            meta: echoed,
        } => {
            assert_eq!(total, data.iter().sum::<f64>());
            assert_eq!(samples.len(), n);
            assert_eq!(samples.to_vec(), data);
            assert_eq!(label, Label::Number(42.5));
            assert_eq!(echoed, meta);
        }
        other => panic!("expected the sum, got {other:?}"),
    }
    // Page -> worker: the page's buffer was transferred, not copied.
    assert_eq!(sent.byte_length(), 0, "the page's buffer must be detached");
    // Worker -> page: the worker's buffer was transferred back.
    match detached {
        Reply::WorkerBufferDetached(detached) => {
            assert!(detached, "the worker's buffer must be detached")
        }
        other => panic!("expected the detach check, got {other:?}"),
    }
    match probe {
        Reply::Probe {
            is_isolate,
            context,
            cross_origin_isolated,
        } => {
            assert!(is_isolate, "is_isolate() is true in a hosted gloo worker");
            assert_eq!(context, "dedicated-worker");
            let page = wasm_isolates::Capabilities::detect().cross_origin_isolated;
            assert_eq!(
                cross_origin_isolated, page,
                "the worker inherits the page's mode"
            );
        }
        other => panic!("expected the probe, got {other:?}"),
    }
    match squared {
        Reply::Squared(result) => assert_eq!(result, Ok(12_345 * 12_345)),
        other => panic!("expected the square, got {other:?}"),
    }
}

// --- A message that cannot be encoded or decoded is dropped; the worker keeps serving -------

/// Travels as a plain number. The page cannot encode 14 (its `Serialize` fails); the worker
/// refuses to decode 13.
#[derive(Deserialize, Debug, Clone, Copy)]
#[serde(try_from = "u32")]
pub struct NotThirteen(u32);

impl Serialize for NotThirteen {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.0 == 14 {
            return Err(serde::ser::Error::custom("14 cannot be sent"));
        }
        serializer.serialize_u32(self.0)
    }
}

impl TryFrom<u32> for NotThirteen {
    type Error = String;
    fn try_from(n: u32) -> Result<Self, String> {
        if n == 13 {
            Err("13 is refused".into())
        } else {
            Ok(NotThirteen(n))
        }
    }
}

pub struct Doubler;

impl Worker for Doubler {
    type Message = ();
    type Input = NotThirteen;
    type Output = u32;

    fn create(_scope: &WorkerScope<Self>) -> Self {
        Doubler
    }
    fn update(&mut self, _scope: &WorkerScope<Self>, _msg: ()) {}
    fn received(&mut self, scope: &WorkerScope<Self>, n: NotThirteen, id: HandlerId) {
        scope.respond(id, n.0 * 2);
    }
}

#[wasm_bindgen(inline_js = r#"
export function catchErrors() {
  const seen = [];
  const listener = (event) => {
    seen.push(String(event.message));
    event.preventDefault();
  };
  globalThis.addEventListener('error', listener);
  return { seen, stop: () => globalThis.removeEventListener('error', listener) };
}
export function seenErrors(handle) { return handle.seen.join('\n'); }
export function stopCatching(handle) { handle.stop(); }
"#)]
extern "C" {
    #[wasm_bindgen(js_name = catchErrors)]
    fn catch_errors() -> JsValue;
    #[wasm_bindgen(js_name = seenErrors)]
    fn seen_errors(handle: &JsValue) -> String;
    #[wasm_bindgen(js_name = stopCatching)]
    fn stop_catching(handle: &JsValue);
}

#[wasm_bindgen_test]
async fn bad_messages_are_dropped_and_the_worker_keeps_serving() {
    let errors = catch_errors();
    let (tx, mut replies) = unbounded();
    let bridge = Doubler::spawner()
        .callback(move |n| {
            let _ = tx.unbounded_send(n);
        })
        .encoding::<IsolateCodec>()
        .spawn_in_isolate()
        .expect("spawn a gloo worker in an isolate");
    bridge.send(NotThirteen(1));
    bridge.send(NotThirteen(13));
    bridge.send(NotThirteen(14));
    bridge.send(NotThirteen(21));
    let before = next(&mut replies).await;
    let after = next(&mut replies).await;
    drop(bridge);
    // Each refusal is an uncaught IsolateDataError in the worker: the page sees error events.
    let both = |seen: &str| seen.contains("13 is refused") && seen.contains("14 cannot be sent");
    let deadline = js_sys::Date::now() + 5_000.0;
    while !both(&seen_errors(&errors)) && js_sys::Date::now() < deadline {
        common::wait(20).await;
    }
    let seen = seen_errors(&errors);
    stop_catching(&errors);
    assert_eq!(before, 2);
    assert_eq!(after, 42, "the messages after the bad ones are served");
    assert!(both(&seen), "errors seen: {seen:?}");
    assert!(
        seen.contains("the sender could not encode this message: 14 cannot be sent"),
        "errors seen: {seen:?}"
    );
}

// --- Spawning from inside a worker -----------------------------------------------------------

/// Runs in one of our isolates (no `window`): spawns a gloo worker there and asks it once.
async fn upper_via_gloo_from_a_worker(text: String) -> Result<String, String> {
    let (tx, mut replies) = unbounded();
    let bridge = Upper::spawner()
        .callback(move |text| {
            let _ = tx.unbounded_send(text);
        })
        .spawn_in_isolate()
        .map_err(|e| e.to_string())?;
    bridge.send(text);
    let timeout = Box::pin(common::wait(20_000));
    let reply = match select(replies.next(), timeout).await {
        Either::Left((Some(text), _)) => Ok(text),
        _ => Err("no reply within 20 s".to_string()),
    };
    drop(bridge);
    reply
}

#[wasm_bindgen_test]
async fn gloo_worker_spawned_from_inside_a_worker() {
    let out = run_async(upper_via_gloo_from_a_worker, "nested".to_string())
        .await
        .expect("the isolate task ran");
    assert_eq!(out, Ok("NESTED".to_string()));
}
