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
//! | Dart / Flutter | wasm-isolates |
//! |---|---|
//! | `Isolate.run(f)`, `compute(f, msg)` | [`run`], [`compute`], [`run_async`] |
//! | a worker pool | [`IsolatePool`] |
//! | errors | [`IsolateError`] |
//!
//! On native targets [`run`] uses OS threads, so shared code compiles and tests there.

#![warn(missing_docs)]

mod attachments;
mod capabilities;
mod codec;
mod control;
mod error;
#[cfg(all(target_arch = "wasm32", feature = "gloo"))]
pub mod gloo;
pub mod protocol;
mod run;
#[cfg(target_arch = "wasm32")]
mod stream;
mod task;
#[cfg(test)]
mod test_rng;
pub mod transfer;

#[cfg(target_arch = "wasm32")]
mod bench_js;
#[cfg(target_arch = "wasm32")]
mod host;
#[cfg(target_arch = "wasm32")]
mod isolate;
#[cfg(target_arch = "wasm32")]
mod isolate_main;
#[cfg(target_arch = "wasm32")]
mod isolate_worker;
#[cfg(target_arch = "wasm32")]
mod js;
#[cfg(target_arch = "wasm32")]
mod js_pool;
#[cfg(target_arch = "wasm32")]
mod js_support;
#[cfg(all(target_arch = "wasm32", feature = "json"))]
pub mod json;
#[cfg(feature = "json")]
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod json_columns;
#[cfg(all(target_arch = "wasm32", feature = "json"))]
mod json_dataset;
#[cfg(all(target_arch = "wasm32", feature = "json"))]
mod json_js;
#[cfg(feature = "json")]
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod json_split;
#[cfg(feature = "json")]
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod json_tape;
#[cfg(target_arch = "wasm32")]
mod pool;
#[cfg(target_arch = "wasm32")]
mod port;
#[cfg(target_arch = "wasm32")]
mod timer;

pub use capabilities::{is_isolate, Capabilities, GlobalContext};
pub use control::{report_progress, CancellationToken};
pub use error::IsolateError;
#[cfg(target_arch = "wasm32")]
pub use isolate::{
    exit, is_paused, should_stop, ExitReason, Isolate, IsolateBuilder, IsolateState, Priority,
};
#[cfg(target_arch = "wasm32")]
pub use isolate_worker::live_workers;
#[cfg(target_arch = "wasm32")]
pub use pool::{IsolatePool, PoolBuilder, PoolStats, TaskHandle};
#[cfg(target_arch = "wasm32")]
pub use port::{ReceivePort, SendPort};
pub use run::{compute, run, run_async};
#[cfg(target_arch = "wasm32")]
pub use stream::{stream, stream_with_window, IsolateStream, StreamSink};
#[cfg(target_arch = "wasm32")]
pub use transfer::Transferable;
pub use transfer::{Element, TransferBuffer};
