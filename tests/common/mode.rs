//! The mode a suite must find itself in (engine, cross-origin isolation, `SharedArrayBuffer`),
//! so that a run in the wrong mode fails instead of silently testing another one.
//!
//! `npm test` builds the wasm test binaries once and writes each mode's expectation into its copy
//! of them (scripts/test.mjs `patchExpectedMode`): it replaces the payload of [`EXPECTED_MODE`],
//! found by its prefix, in the `.wasm` file. Building once instead of once per mode saves the
//! compile of the test crates five times over (6–10 CPU seconds each on the 2-core machine of
//! docs/tests.md). A binary that was not patched (`cargo test` by hand) falls back to the
//! `WASM_ISOLATES_EXPECT_*` variables at compile time, as wasm-pack's runs use them, and with
//! neither asserts nothing about the mode.

/// What `npm test` looks for: the prefix, then 40 bytes of `key=value;` pairs padded with spaces.
/// Unpatched, the payload is all `?`.
const PREFIX_LEN: usize = 32;
const PAYLOAD_LEN: usize = 40;

/// The prefix must occur exactly once in the binary; scripts/test.mjs refuses to patch otherwise.
#[used]
static EXPECTED_MODE: [u8; PREFIX_LEN + PAYLOAD_LEN] =
    *b"wasm-isolates:expected-mode:v1:\0????????????????????????????????????????";

/// The patched payload, if there is one.
fn patched() -> Option<String> {
    // SAFETY: a plain read of an initialized static. Volatile, so that the compiler reads the
    // bytes the file holds at run time instead of folding in the unpatched constant.
    let bytes = unsafe { core::ptr::read_volatile(&EXPECTED_MODE) };
    let payload = &bytes[PREFIX_LEN..];
    if payload.iter().all(|&b| b == b'?') {
        return None;
    }
    Some(String::from_utf8_lossy(payload).trim_end().to_owned())
}

/// The expectation named `key` (`engine`, `coi`, `sab`): from the patched binary, else from the
/// variable `WASM_ISOLATES_EXPECT_<KEY>` at compile time.
pub fn expected(key: &str) -> Option<String> {
    if let Some(payload) = patched() {
        return payload
            .split(';')
            .filter_map(|pair| pair.split_once('='))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_owned());
    }
    let compiled = match key {
        "engine" => option_env!("WASM_ISOLATES_EXPECT_ENGINE"),
        "coi" => option_env!("WASM_ISOLATES_EXPECT_COI"),
        "sab" => option_env!("WASM_ISOLATES_EXPECT_SAB"),
        _ => None,
    };
    compiled.map(str::to_owned)
}
