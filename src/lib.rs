//! # wasm-isolates
//!
//! Dart's isolate model for the browser. An *isolate* is a Web Worker that instantiates the same
//! compiled wasm module with its own memory; [`run`] / [`compute`] send it a plain `fn` and its
//! input and return the output, like Dart's `Isolate.run()` and Flutter's `compute()`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), wasm_isolates::IsolateError> {
//! use wasm_isolates::{compute, run, run_async};
//!
//! fn sum_of_squares(n: u64) -> u64 {
//!     (1..=n).map(|i| i * i).sum()
//! }
//! async fn length_of(url: String) -> usize {
//!     url.len() // an async task may await fetches, timers, other isolates
//! }
//!
//! let a = run(sum_of_squares, 1_000).await?; // like Isolate.run()
//! let b = compute(sum_of_squares, 1_000).await?; // Flutter's name
//! let n = run_async(length_of, "data.json".to_string()).await?;
//! assert_eq!(a, b);
//! # Ok(()) }
//! ```
//!
//! ## A guided tour
//!
//! | Dart / Flutter | wasm-isolates | notes |
//! |---|---|---|
//! | `Isolate.run(f)`, `compute(f, msg)` | [`run`], [`compute`], [`run_async`] | every browser with module workers |
//! | — (a large `List` result) | [`run_vec`] | delivered in batches between frames |
//! | a worker pool | [`IsolatePool`] | bounded queue, timeouts, cancellation, restart |
//! | `Isolate.spawn(entry, msg)` | [`Isolate::spawn`] | needs `SharedArrayBuffer` ([`Capabilities`]) |
//! | `ReceivePort`, `SendPort` | [`ReceivePort`], [`SendPort`] | a `Stream`; freely shared |
//! | `Isolate.exit(port, msg)` | [`exit`] | the final message's buffers move |
//! | `TransferableTypedData` | [`TransferBuffer`], [`Transferable`] | moved, not copied |
//! | errors | [`IsolateError`] | one `#[non_exhaustive]` enum |
//!
//! Read the crate in this order; each folder is named for the side of a worker its code runs on:
//!
//! 1. The vocabulary above: `run`, `pool`, `isolate`, `port`, `stream`, `error`.
//! 2. `wire/` — what crosses between threads: the envelope ([`protocol`]), the MessagePack
//!    codec, the JS values riding beside it ([`transfer`]), tasks named by function-table index,
//!    batched sequences, the shared control block.
//! 3. `parent/` — the parent's side of one worker: handshake, posting calls, turning what the
//!    worker or the browser reports into events.
//! 4. `inside/` — what runs in the isolate: the dispatcher the worker's bootstrap
//!    (`worker/bootstrap.js`) starts, and [`should_stop`], [`is_paused`], [`exit`].
//! 5. `platform/` — [`Capabilities`], the JS helpers (`worker/host.js`), timers.
//! 6. [`json`] — the JSON service (feature `json`); `js/` — the `#[wasm_bindgen]` face for npm
//!    users (feature `js`); `gloo` — gloo-worker interop (feature `gloo`).
//!
//! The path of a one-shot task, in that order: [`run`] encodes the input (`wire`), the pool
//! posts it to an idle worker (`parent`), the dispatcher decodes it, calls the function through
//! its trampoline and posts the encoded output back (`inside`), and the pool settles the
//! caller's future with the decoded output.
//!
//! On native targets [`run`] uses OS threads, so shared code compiles and tests there.

#![warn(missing_docs)]

// The public Dart vocabulary: what a user of the crate reads first.
mod error;
#[cfg(target_arch = "wasm32")]
mod isolate;
#[cfg(target_arch = "wasm32")]
mod pool;
#[cfg(target_arch = "wasm32")]
mod port;
mod run;
#[cfg(target_arch = "wasm32")]
mod stream;

// What crosses between threads, then each side of a worker, then the platform under both.
#[cfg(target_arch = "wasm32")]
mod inside;
#[cfg(target_arch = "wasm32")]
mod parent;
mod platform;
mod wire;

// Services and faces built on the above.
#[cfg(all(target_arch = "wasm32", feature = "gloo"))]
pub mod gloo;
#[cfg(all(target_arch = "wasm32", feature = "js"))]
mod js;
// Without `js`, the parts of the service that only the JS API reaches (the demo's dataset
// generator, streaming a root array as objects) are unused; they stay compiled, unwarned.
#[cfg(feature = "json")]
#[cfg_attr(all(target_arch = "wasm32", not(feature = "js")), allow(dead_code))]
pub mod json;

#[cfg(test)]
mod test_rng;

pub use error::IsolateError;
#[cfg(target_arch = "wasm32")]
pub use inside::lifecycle::{exit, should_stop};
#[cfg(target_arch = "wasm32")]
pub use inside::pause::is_paused;
#[cfg(target_arch = "wasm32")]
pub use isolate::{ExitReason, Isolate, IsolateBuilder, IsolateState, Priority};
#[cfg(target_arch = "wasm32")]
pub use parent::worker::live_workers;
pub use platform::capabilities::{is_isolate, Capabilities, GlobalContext};
#[cfg(target_arch = "wasm32")]
pub use pool::{IsolatePool, PoolBuilder, PoolStats, TaskHandle};
#[cfg(target_arch = "wasm32")]
pub use port::{ReceivePort, SendPort};
pub use run::{compute, run, run_async, run_vec};
#[cfg(target_arch = "wasm32")]
pub use stream::{stream, stream_with_window, IsolateStream, StreamSink};
pub use wire::control::{report_progress, CancellationToken};
pub use wire::protocol;
pub use wire::transfer;
#[cfg(target_arch = "wasm32")]
pub use wire::transfer::Transferable;
pub use wire::transfer::{Element, TransferBuffer};
