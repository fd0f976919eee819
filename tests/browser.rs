//! wasm tests hosted by a page (`run_in_browser`): the caller is the main thread.
#![cfg(target_arch = "wasm32")]

mod common;

use wasm_bindgen_test::*;
use wasm_isolates::GlobalContext;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn runs_in_the_expected_mode() {
    common::assert_expected_mode(GlobalContext::Window);
}

#[wasm_bindgen_test]
async fn run_compute_and_async_tasks() {
    common::run_compute_and_async_tasks().await;
}

#[wasm_bindgen_test]
async fn tasks_run_in_an_isolate_concurrently() {
    common::tasks_run_in_an_isolate_concurrently().await;
}

#[wasm_bindgen_test]
async fn an_isolate_can_run_tasks_itself() {
    common::an_isolate_can_run_tasks_itself().await;
}

#[wasm_bindgen_test]
async fn panic_is_reported_and_the_next_task_succeeds() {
    common::panic_is_reported_and_the_next_task_succeeds().await;
}

#[wasm_bindgen_test]
async fn worker_dying_mid_task_settles_the_task() {
    common::worker_dying_mid_task_settles_the_task().await;
}

#[wasm_bindgen_test]
async fn unhandled_rejection_in_worker_is_reported() {
    common::unhandled_rejection_in_worker_is_reported().await;
}

#[wasm_bindgen_test]
async fn malformed_envelopes_get_protocol_errors() {
    common::malformed_envelopes_get_protocol_errors().await;
}

#[wasm_bindgen_test]
async fn codec_failures_are_typed() {
    common::codec_failures_are_typed().await;
}

#[wasm_bindgen_test]
async fn worker_that_cannot_start_fails_each_task() {
    common::worker_that_cannot_start_fails_each_task().await;
}

#[wasm_bindgen_test]
async fn dropping_a_pool_settles_its_queue() {
    common::dropping_a_pool_settles_its_queue().await;
}
