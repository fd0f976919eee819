//! What `npm test` runs under `wasm-pack test --headless --chrome` / `--firefox`: proof that the
//! wasm-pack host works (mode, one-shot tasks, a panic and the next task). The full suites run
//! under the wasm-bindgen test runner, in both engines, isolated and not.
#![cfg(target_arch = "wasm32")]

// Only the shared basics and the mode check, not all of tests/common (see basics.rs for why).
#[path = "common/basics.rs"]
mod basics;
#[path = "common/mode.rs"]
mod mode;

use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn runs_in_the_expected_mode() {
    basics::assert_expected_mode(wasm_isolates::GlobalContext::Window);
}

#[wasm_bindgen_test]
async fn run_compute_and_async_tasks() {
    basics::run_compute_and_async_tasks().await;
}

#[wasm_bindgen_test]
async fn panic_is_reported_and_the_next_task_succeeds() {
    basics::panic_is_reported_and_the_next_task_succeeds().await;
}
