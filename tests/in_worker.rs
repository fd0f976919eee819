//! wasm tests hosted by a dedicated worker (`run_in_dedicated_worker`): the caller is itself a
//! worker, so every task is started from a worker.
#![cfg(target_arch = "wasm32")]

mod common;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_dedicated_worker);

wasm_isolates_suite!(wasm_isolates::GlobalContext::DedicatedWorker);
