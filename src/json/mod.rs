//! The JSON service: parse large JSON in an isolate and keep it there.
//!
//! Parsing is only half the cost of big JSON on the web: building the JS object graph on the main
//! thread (by `JSON.parse`, or by the structured clone of a worker's result) is the other half.
//! So the parsed document stays in its isolate, and the caller takes what it needs without a long
//! main-thread task:
//!
//! 1. **a document handle** ([`JsonDocument`]): `len`, `get`, `slice` (a page of records) and
//!    `select` by JSON pointer, each a small message;
//! 2. **columns** ([`JsonDocument::select`], or [`parse_columns`] without keeping a document):
//!    fields of an array of records as typed arrays (numbers as `Float64Array`, strings as one
//!    UTF-8 buffer plus offsets, booleans as bytes), moved by transfer;
//! 3. **objects**: the JS value itself, delivered in slices sized to a main-thread time budget
//!    (the JS API's `mode: "objects"`).
//!
//! Inputs cost the calling thread nothing: bytes move by transfer, a URL or a `Request` is fetched
//! by the isolate, a `Blob` is read there, a `Response`'s body moves there as a stream, and a JS
//! string travels in slices. What the isolate reads itself it parses as it arrives, piece by piece: a download and
//! its parse overlap.
//!
//! The parser (`json::tape`) validates as strictly as `JSON.parse` and builds a flat tape of nodes
//! pointing into the text, without recursion: any nesting depth parses without a stack overflow.
//! Malformed JSON is an [`IsolateError::Json`](crate::error::IsolateError::Json) with byte offset, line and column, and the isolate
//! stays usable.

#[cfg(target_arch = "wasm32")]
pub(crate) mod body;
// Parsed and tested natively too; only the wasm build calls into them.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod columns;
#[cfg(target_arch = "wasm32")]
pub(crate) mod dataset;
#[cfg(target_arch = "wasm32")]
pub(crate) mod document;
#[cfg(target_arch = "wasm32")]
pub(crate) mod inside;
// Parsed and tested natively too; only the wasm build calls into them.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
mod parts;
#[cfg(target_arch = "wasm32")]
pub(crate) mod progress;
// Parsed and tested natively too; only the wasm build calls into them.
// Used by the JSON isolate (wasm); the native tests cover it.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub(crate) mod staged;
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub(crate) mod tape;
#[cfg(target_arch = "wasm32")]
pub(crate) mod wire;

#[cfg(target_arch = "wasm32")]
pub use document::{
    default_parts, parse_columns, parse_columns_in_parts, JsonDocument, JsonSource, MAX_PARTS,
};
#[cfg(target_arch = "wasm32")]
pub use wire::{Column, Columns, DocumentInfo};
