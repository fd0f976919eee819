//! Tasks and checks shared by the browser-hosted and worker-hosted wasm test suites.

pub mod basics;
pub mod image;
pub mod json;
pub mod mode;
pub mod pool;
pub mod sequence;
pub mod soak;
pub mod spawn;

/// Declares every shared test as a `#[wasm_bindgen_test]` in the including file, so the page- and
/// worker-hosted suites stay the same list.
#[macro_export]
macro_rules! wasm_isolates_suite {
    ($context:expr) => {
        #[wasm_bindgen_test::wasm_bindgen_test]
        fn runs_in_the_expected_mode() {
            common::assert_expected_mode($context);
        }

        /// Cases whose outcome races work against the wall clock, which contention alone can
        /// change: `npm test` runs them by themselves, at normal priority, each module in a page
        /// of its own (scripts/test.mjs `TIMING_MODULES`). A new case of either kind goes here.
        mod timing {
            /// Late event-loop turns and long tasks, counted in a page where nothing else ran:
            /// after the pool soak in the same page, the 60 MB sequence saw one long task in each
            /// of its three attempts (Chromium, isolated and not, 2026-11-28).
            mod frames {
                #[wasm_bindgen_test::wasm_bindgen_test]
                async fn the_stall_probe_sees_a_long_task() {
                    super::super::common::sequence::the_stall_probe_sees_a_long_task().await;
                }

                #[wasm_bindgen_test::wasm_bindgen_test]
                async fn a_60_mb_typed_sequence_arrives_without_a_long_task() {
                    super::super::common::sequence::a_60_mb_typed_sequence_arrives_without_a_long_task().await;
                }
            }

            /// A task raced against the pool's timeout: one meant to panic must settle within
            /// 300–500 ms, which a browser at idle priority can miss waiting for a core.
            mod deadlines {
                #[wasm_bindgen_test::wasm_bindgen_test]
                async fn pool_settles_a_mix_of_failures_and_stays_full() {
                    super::super::common::pool::pool_settles_a_mix_of_failures_and_stays_full().await;
                }

                #[wasm_bindgen_test::wasm_bindgen_test]
                async fn timeout_counts_from_start_not_queue() {
                    super::super::common::pool::timeout_counts_from_start_not_queue().await;
                }

                #[wasm_bindgen_test::wasm_bindgen_test]
                async fn soak_pool_with_fault_injection() {
                    super::super::common::soak::soak_pool_with_fault_injection().await;
                }
            }
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn a_large_string_input_is_not_copied_when_submitted() {
            common::sequence::a_large_string_input_is_not_copied_when_submitted().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn a_large_string_input_arrives_intact() {
            common::sequence::a_large_string_input_arrives_intact().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn a_panicking_sequence_task_is_a_typed_error() {
            common::sequence::a_panicking_sequence_task_is_a_typed_error().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn a_large_input_keeps_its_place_in_the_queue() {
            common::sequence::a_large_input_keeps_its_place_in_the_queue().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn a_large_input_dropped_while_staged_is_cancelled() {
            common::sequence::a_large_input_dropped_while_staged_is_cancelled().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn dropping_a_delivery_leaves_the_pool_usable() {
            common::sequence::dropping_a_delivery_leaves_the_pool_usable().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn send_port_copies_all_keep_working() {
            common::spawn::send_port_copies_all_keep_working().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn errors_are_not_fatal_when_asked() {
            common::spawn::errors_are_not_fatal_when_asked().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn a_dropped_handle_leaves_the_isolate_running() {
            common::spawn::a_dropped_handle_leaves_the_isolate_running().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn run_compute_and_async_tasks() {
            common::run_compute_and_async_tasks().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn tasks_run_in_an_isolate_concurrently() {
            common::tasks_run_in_an_isolate_concurrently().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn an_isolate_can_run_tasks_itself() {
            common::an_isolate_can_run_tasks_itself().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn panic_is_reported_and_the_next_task_succeeds() {
            common::panic_is_reported_and_the_next_task_succeeds().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn worker_dying_mid_task_settles_the_task() {
            common::worker_dying_mid_task_settles_the_task().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn unhandled_rejection_in_worker_is_reported() {
            common::unhandled_rejection_in_worker_is_reported().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn malformed_envelopes_get_protocol_errors() {
            common::malformed_envelopes_get_protocol_errors().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn codec_failures_are_typed() {
            common::codec_failures_are_typed().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn worker_that_cannot_start_fails_each_task() {
            common::worker_that_cannot_start_fails_each_task().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn dropping_a_pool_settles_its_queue() {
            common::dropping_a_pool_settles_its_queue().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn transfer_detaches_the_senders_buffer() {
            common::transfer_detaches_the_senders_buffer().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn transfer_detaches_the_isolates_buffer() {
            common::transfer_detaches_the_isolates_buffer().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn nested_buffers_transfer_both_ways() {
            common::nested_buffers_transfer_both_ways().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn js_transferables_travel_as_such() {
            common::js_transferables_travel_as_such().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn image_resize_in_an_isolate() {
            common::image_resize_in_an_isolate().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn pool_runs_1000_tasks_in_fifo_order() {
            common::pool::pool_runs_1000_tasks_in_fifo_order().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn queue_bound_holds() {
            common::pool::queue_bound_holds().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn close_drains_then_stops() {
            common::pool::close_drains_then_stops().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn cancel_running_task_never_hits_the_next_one() {
            common::pool::cancel_running_task_never_hits_the_next_one().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn spawn_requires_cross_origin_isolation() {
            common::spawn::spawn_requires_cross_origin_isolation().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn ports_ping_pong() {
            common::spawn::ports_ping_pong().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn send_port_forwarded_to_a_second_isolate() {
            common::spawn::send_port_forwarded_to_a_second_isolate().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn kill_during_a_busy_loop() {
            common::spawn::kill_during_a_busy_loop().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn pause_holds_delivery_until_resume() {
            common::spawn::pause_holds_delivery_until_resume().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn exit_and_error_listeners_fire_once() {
            common::spawn::exit_and_error_listeners_fire_once().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn exit_sends_a_final_message() {
            common::spawn::exit_sends_a_final_message().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn spawn_and_drop_200_isolates() {
            common::spawn::spawn_and_drop_200_isolates().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn stream_has_backpressure() {
            common::spawn::stream_has_backpressure().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn stream_reports_a_failing_producer() {
            common::spawn::stream_reports_a_failing_producer().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn json_queries_match_json_parse() {
            common::json::json_queries_match_json_parse().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn json_malformed_reports_where() {
            common::json::json_malformed_reports_where().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn json_parse_columns_equals_select() {
            common::json::json_parse_columns_equals_select().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn json_parse_columns_in_parts_equals_one_isolate() {
            common::json::json_parse_columns_in_parts_equals_one_isolate().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn json_every_input_kind() {
            common::json::json_every_input_kind().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn json_simd_scans_match_scalar() {
            common::json::json_simd_scans_match_scalar().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn json_streamed_sources() {
            common::json::json_streamed_sources().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn soak_spawn_kill_cycles() {
            common::soak::soak_spawn_kill_cycles().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn kill_before_next_event_stops_an_idle_isolate() {
            common::spawn::kill_before_next_event_stops_an_idle_isolate().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn oversized_messages_are_refused() {
            common::oversized_messages_are_refused().await;
        }

        #[wasm_bindgen_test::wasm_bindgen_test]
        async fn json_isolates_are_reused_without_leaks() {
            common::json::json_isolates_are_reused_without_leaks().await;
        }
    };
}

use basics::double;
pub use basics::{
    assert_expected_mode, panic_is_reported_and_the_next_task_succeeds,
    run_compute_and_async_tasks, wait,
};
use futures_util::future::join_all;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use wasm_bindgen::prelude::*;
use wasm_isolates::protocol::{Envelope, CALL_HEADER_LEN};
use wasm_isolates::{
    is_isolate, run, run_async, Capabilities, IsolateError, IsolatePool, TransferBuffer,
    Transferable,
};

#[wasm_bindgen(inline_js = r#"
export function closeSelf() { globalThis.close(); }
export function rejectUnhandled(message) { Promise.reject(new Error(message)); }
export function never() { return new Promise(() => {}); }
export function stash(value) { globalThis.__stashed = value; }
export function stashedByteLength() { return globalThis.__stashed.byteLength; }
"#)]
extern "C" {
    #[wasm_bindgen(js_name = closeSelf)]
    fn close_self();
    #[wasm_bindgen(js_name = rejectUnhandled)]
    fn reject_unhandled(message: &str);
    pub fn never() -> js_sys::Promise;
    fn stash(value: &JsValue);
    #[wasm_bindgen(js_name = stashedByteLength)]
    fn stashed_byte_length() -> u32;
}

/// Polls `done` every 10 ms until it holds, failing (not hanging) after 10 s.
pub async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if done() {
            return;
        }
        wait(10).await;
    }
    panic!("timed out waiting for: {what}");
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

/// Rejects a promise nobody handles, then never returns: only the rejection's report can settle
/// the task.
async fn reject_then_wait(message: String) -> u32 {
    reject_unhandled(&message);
    let _ = wasm_bindgen_futures::JsFuture::from(never()).await;
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

fn sum_bytes(buf: TransferBuffer<u8>) -> u64 {
    buf.to_vec().iter().map(|&b| b as u64).sum()
}

/// Sending: the caller's ArrayBuffer is moved (detached), not copied.
pub async fn transfer_detaches_the_senders_buffer() {
    let len = 1 << 20;
    let array = js_sys::Uint8Array::new_with_length(len);
    array.fill(3, 0, len);
    let kept = array.buffer();
    let buffer = TransferBuffer::<u8>::from_array_buffer(kept.clone()).unwrap();
    assert_eq!(kept.byte_length(), len);
    assert_eq!(run(sum_bytes, buffer).await.unwrap(), 3 * len as u64);
    assert_eq!(kept.byte_length(), 0, "the sender's buffer is detached");
}

fn make_and_stash(len: u32) -> TransferBuffer<f64> {
    let buffer = TransferBuffer::from_slice(&vec![1.5; len as usize]);
    stash(buffer.array_buffer());
    buffer
}

/// Replying: the isolate's buffer is moved to the caller (detached in the isolate).
pub async fn transfer_detaches_the_isolates_buffer() {
    let pool = IsolatePool::builder().size(1).build().unwrap();
    let got = pool.run(make_and_stash, 1000).await.unwrap();
    assert_eq!(got.len(), 1000);
    assert_eq!(
        got.view().get_index(999),
        1.5,
        "read through a view, no copy"
    );
    assert_eq!(
        pool.run(|_: ()| stashed_byte_length(), ()).await.unwrap(),
        0
    );
}

#[derive(Serialize, Deserialize, Debug)]
pub struct Frame {
    id: u32,
    samples: TransferBuffer<f32>,
    tiles: Vec<TransferBuffer<u8>>,
    mask: Option<TransferBuffer<i32>>,
}

fn process_frame(frame: Frame) -> Frame {
    Frame {
        id: frame.id + 1,
        samples: TransferBuffer::from_slice(
            &frame
                .samples
                .to_vec()
                .iter()
                .map(|s| s * 2.0)
                .collect::<Vec<_>>(),
        ),
        tiles: frame.tiles.into_iter().rev().collect(),
        mask: frame.mask,
    }
}

/// Buffers nested anywhere in serde structs are found and transferred, both ways.
pub async fn nested_buffers_transfer_both_ways() {
    let samples = TransferBuffer::from_slice(&[1.0f32, 2.0, 3.0]);
    let tiles: Vec<TransferBuffer<u8>> = vec![vec![1u8; 10].into(), vec![2u8; 20].into()];
    let kept: Vec<js_sys::ArrayBuffer> = tiles.iter().map(|t| t.array_buffer().clone()).collect();
    let kept_samples = samples.array_buffer().clone();
    let frame = Frame {
        id: 1,
        samples,
        tiles,
        mask: Some(TransferBuffer::from_slice(&[-1, 0, 1])),
    };
    let out = run(process_frame, frame).await.unwrap();
    assert_eq!(out.id, 2);
    assert_eq!(out.samples.to_vec(), vec![2.0, 4.0, 6.0]);
    assert_eq!(
        out.tiles.iter().map(|t| t.len()).collect::<Vec<_>>(),
        vec![20, 10]
    );
    assert_eq!(out.tiles[0].to_vec(), vec![2u8; 20]);
    assert_eq!(out.mask.unwrap().to_vec(), vec![-1, 0, 1]);
    assert!(kept.iter().all(|b| b.byte_length() == 0));
    assert_eq!(kept_samples.byte_length(), 0);
}

fn greet_over_port(port: Transferable<web_sys::MessagePort>) -> bool {
    port.0
        .post_message(&JsValue::from_str("hello from the isolate"))
        .is_ok()
}

fn view_sum(view: Transferable<js_sys::Float64Array>) -> f64 {
    view.0.to_vec().iter().sum()
}

/// JS transferables travel as themselves: a MessagePort, a typed-array view.
pub async fn js_transferables_travel_as_such() {
    let channel = web_sys::MessageChannel::new().unwrap();
    let (tx, rx) = futures_channel::oneshot::channel::<JsValue>();
    let mut tx = Some(tx);
    let on_message =
        Closure::<dyn FnMut(web_sys::MessageEvent)>::new(move |e: web_sys::MessageEvent| {
            if let Some(tx) = tx.take() {
                let _ = tx.send(e.data());
            }
        });
    channel
        .port1()
        .set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    assert!(run(greet_over_port, Transferable(channel.port2()))
        .await
        .unwrap());
    assert_eq!(
        rx.await.unwrap().as_string().unwrap(),
        "hello from the isolate"
    );
    channel.port1().set_onmessage(None);

    let view = js_sys::Float64Array::new_with_length(4);
    view.fill(2.5, 0, 4);
    assert_eq!(
        run(view_sum, Transferable(view.clone())).await.unwrap(),
        10.0
    );
    assert_eq!(view.length(), 0, "the view's buffer was transferred");

    // The receiving side checks the type: a Uint8Array passed off as an ArrayBuffer (with an
    // unchecked cast) is refused there.
    let wrong: js_sys::ArrayBuffer = js_sys::Uint8Array::new_with_length(4).unchecked_into();
    match run(
        |b: Transferable<js_sys::ArrayBuffer>| b.0.byte_length(),
        Transferable(wrong),
    )
    .await
    {
        Err(IsolateError::Codec { message }) => {
            assert!(message.contains("ArrayBuffer"), "{message}")
        }
        other => panic!("expected Codec, got {other:?}"),
    }
}

/// The seed's section 7: decode → resize → encode in an isolate; pixels move by transfer.
pub async fn image_resize_in_an_isolate() {
    let original = image::gradient(64, 48);
    let pam = TransferBuffer::from_slice(&image::encode_pam(&original));
    let kept = pam.array_buffer().clone();
    let request = image::ResizeRequest {
        pam,
        width: 32,
        height: 24,
    };
    let out = run(image::resize_task, request).await.unwrap().unwrap();
    assert_eq!(kept.byte_length(), 0);
    let resized = image::decode_pam(&out.to_vec()).unwrap();
    assert_eq!((resized.width, resized.height), (32, 24));
    assert_eq!(
        resized,
        image::resize(&original, 32, 24),
        "same result as on this thread"
    );
    // Malformed input is an Err from the task, not a panic.
    let bad = image::ResizeRequest {
        pam: TransferBuffer::from_slice(b"P7\nnot an image"),
        width: 1,
        height: 1,
    };
    assert!(run(image::resize_task, bad).await.unwrap().is_err());
}

/// Oversized messages get a typed error on either side, and the isolate keeps serving.
pub async fn oversized_messages_are_refused() {
    let pool = IsolatePool::builder()
        .size(1)
        .max_message_bytes(4096)
        .build()
        .unwrap();
    let over = |r: Result<_, IsolateError>| match r {
        Err(IsolateError::Codec { message }) => {
            assert!(message.contains("limit"), "{message}");
            // The isolate's reply carries the bare message; the kind's prefix is added once,
            // here (it read "codec error: codec error: ..." when the isolate sent it too).
            assert!(!message.starts_with("codec error"), "{message}");
        }
        other => panic!("expected Codec, got {other:?}"),
    };
    over(
        pool.run(|v: Vec<u8>| v.len(), vec![7u8; 10_000])
            .await
            .map(|_| ()),
    );
    over(
        pool.run(|n: u32| vec![1u8; n as usize], 10_000)
            .await
            .map(|_| ()),
    );
    // A raw message that skips the sender's check is refused by the isolate itself.
    over(pool.__send_raw(vec![0u8; 10_000]).await.map(|_| ()));
    assert_eq!(pool.run(double, 21).await.unwrap(), 42);
    // Buffers moved by transfer do not count against the limit.
    let big = TransferBuffer::from_slice(&vec![1u8; 100_000]);
    assert_eq!(pool.run(sum_bytes, big).await.unwrap(), 100_000);
}
