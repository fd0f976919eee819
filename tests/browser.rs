//! wasm tests hosted by a page (`run_in_browser`): the caller is the main thread.
#![cfg(target_arch = "wasm32")]

mod common;

wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);

wasm_isolates_suite!(wasm_isolates::GlobalContext::Window);

// gloo-worker interop, with `--features gloo` (what `npm test` builds).
#[cfg(feature = "gloo")]
#[path = "common/gloo.rs"]
mod gloo;
