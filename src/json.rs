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
//! Inputs cost the calling thread nothing: bytes move by transfer, a URL is fetched by the
//! isolate, a `Blob` is read there, and a JS string travels in slices.
//!
//! The parser (`json_tape`) validates as strictly as `JSON.parse` and builds a flat tape of nodes
//! pointing into the text, without recursion: any nesting depth parses without a stack overflow.
//! Malformed JSON is an [`IsolateError::Json`] with byte offset, line and column, and the isolate
//! stays usable.

use crate::json_columns::{
    columns_of_text, ColumnBuilder, ColumnsBuilder, ColumnsTextError, RecordColumn,
};
use crate::json_split::{self, Cut};
use crate::json_tape::{self, Kind, Tape};
use crate::{IsolateError, IsolatePool, SendPort, TransferBuffer, Transferable};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::cell::RefCell;

/// Where a document comes from.
#[derive(Serialize, Deserialize)]
pub(crate) enum Source {
    /// Bytes, moved by transfer.
    Bytes(TransferBuffer<u8>),
    /// A URL the isolate fetches itself.
    Url(String),
    /// A `Blob` (or `File`), read in the isolate.
    Blob(Transferable<web_sys::Blob>),
    /// Text appended slice by slice with `stage_text`.
    Staged,
}

/// What the isolate tells about a parsed document.
#[derive(Serialize, Deserialize, Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DocumentInfo {
    /// Size of the JSON text in bytes.
    pub byte_length: u64,
    /// `"array"`, `"object"`, `"string"`, `"number"`, `"boolean"` or `"null"`.
    pub kind: String,
    /// Elements of a top-level array, keys of a top-level object, else 0.
    pub len: u64,
}

/// One column of [`Columns`].
#[derive(Serialize, Deserialize, Debug)]
#[non_exhaustive]
pub enum Column {
    /// Numbers; `NaN` where a record lacks the field or holds something else.
    Number(TransferBuffer<f64>),
    /// Strings: record `i` is `utf8[offsets[i]..offsets[i + 1]]` (empty where missing).
    Text {
        /// All strings, concatenated.
        utf8: TransferBuffer<u8>,
        /// `len + 1` offsets into `utf8`.
        offsets: TransferBuffer<u32>,
    },
    /// Booleans: 1 true, 0 false, 2 missing.
    Bool(TransferBuffer<u8>),
    /// The field holds no number, string or boolean in any record.
    Missing,
}

/// Fields of an array of records, column by column; see [`JsonDocument::select`].
#[derive(Serialize, Deserialize, Debug)]
#[non_exhaustive]
pub struct Columns {
    /// Number of records.
    pub len: u64,
    /// The field paths asked for, in order.
    pub fields: Vec<String>,
    /// One column per field.
    pub columns: Vec<Column>,
    /// How many parts the document was parsed in at once (see [`parse_columns_in_parts`]); 1
    /// when it was read in one piece.
    pub parts: u32,
}

/// Why a parse or a query failed, as the isolate reports it.
#[derive(Serialize, Deserialize, Debug)]
pub(crate) struct JsonFailure {
    message: String,
    position: Option<(u64, u64, u64)>,
}

impl From<JsonFailure> for IsolateError {
    fn from(f: JsonFailure) -> Self {
        let (offset, line, column) = match f.position {
            Some((o, l, c)) => (Some(o), Some(l), Some(c)),
            None => (None, None, None),
        };
        IsolateError::Json {
            message: f.message,
            offset,
            line,
            column,
        }
    }
}

fn syntax_failure(e: json_tape::SyntaxError) -> JsonFailure {
    JsonFailure {
        message: e.message,
        position: Some((e.offset, e.line, e.column)),
    }
}

fn failure(message: impl Into<String>) -> JsonFailure {
    JsonFailure {
        message: message.into(),
        position: None,
    }
}

// ---------------------------------------------------------------- the isolate's side

thread_local! {
    /// The document this isolate holds (one per isolate: each `JsonDocument` has its own).
    static DOC: RefCell<Option<Tape>> = const { RefCell::new(None) };
    /// Node indices of the elements of the array last sliced, so paging through an array of
    /// N records costs O(N) in all rather than O(N) per page.
    static ELEMENTS: RefCell<Option<(usize, Vec<u32>)>> = const { RefCell::new(None) };
    static STAGED: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

fn stage_text(slice: Transferable<js_sys::JsString>) -> u64 {
    let text = String::from(slice.0);
    STAGED.with(|s| {
        let mut s = s.borrow_mut();
        s.extend_from_slice(text.as_bytes());
        s.len() as u64
    })
}

/// Where the caller wants to hear how far a parse has got: `(bytes parsed, bytes in all)`.
pub(crate) type ProgressPort = Option<SendPort<(u64, u64)>>;

/// Bytes between two progress reports: one small message each (25 for 100 MB).
const PROGRESS_STEP: u32 = 4 << 20;

/// Reports bytes parsed to a [`ProgressPort`], every [`PROGRESS_STEP`] bytes. Offsets come from
/// the elements of a top-level array as they complete; other documents report nothing midway.
struct ParseProgress<'p> {
    port: &'p ProgressPort,
    total: u64,
    next: u32,
}

impl<'p> ParseProgress<'p> {
    fn new(port: &'p ProgressPort, total: usize) -> Self {
        ParseProgress {
            port,
            total: total as u64,
            next: PROGRESS_STEP,
        }
    }

    fn at(&mut self, offset: u32) {
        if offset >= self.next {
            self.next = offset.saturating_add(PROGRESS_STEP);
            if let Some(port) = self.port {
                // A caller that stopped listening is no reason to stop parsing.
                let _ = port.send((u64::from(offset), self.total));
            }
        }
    }
}

/// Parses `bytes` into the isolate's document.
pub(crate) fn parse_bytes(
    bytes: Vec<u8>,
    progress: &ProgressPort,
) -> Result<DocumentInfo, JsonFailure> {
    // Free the previous document first: two large tapes need not coexist.
    DOC.with(|d| d.borrow_mut().take());
    ELEMENTS.with(|e| e.borrow_mut().take());
    let mut report = ParseProgress::new(progress, bytes.len());
    let tape = Tape::parse_watched(bytes, |offset| report.at(offset)).map_err(syntax_failure)?;
    let root = tape.root();
    let (kind, len) = match tape.node(root).kind {
        Kind::Array => ("array", tape.children(root).count()),
        Kind::Object => ("object", tape.children(root).count() / 2),
        Kind::Str | Kind::EscStr => ("string", 0),
        Kind::Number => ("number", 0),
        Kind::True | Kind::False => ("boolean", 0),
        Kind::Null => ("null", 0),
    };
    let info = DocumentInfo {
        byte_length: tape.text.len() as u64,
        kind: kind.into(),
        len: len as u64,
    };
    DOC.with(|d| *d.borrow_mut() = Some(tape));
    Ok(info)
}

async fn parse_source(args: (Source, ProgressPort)) -> Result<DocumentInfo, JsonFailure> {
    let (source, progress) = args;
    parse_bytes(read_source(source).await?, &progress)
}

/// The bytes of `source`, read in the isolate.
async fn read_source(source: Source) -> Result<Vec<u8>, JsonFailure> {
    let bytes = match source {
        Source::Bytes(buffer) => buffer.to_vec(),
        Source::Staged => STAGED.with(|s| std::mem::take(&mut *s.borrow_mut())),
        Source::Url(url) => {
            let buffer = wasm_bindgen_futures::JsFuture::from(crate::host::fetch_bytes(&url))
                .await
                .map_err(|e| failure(crate::isolate_worker::js_message(&e)))?;
            js_sys::Uint8Array::new(&buffer).to_vec()
        }
        Source::Blob(blob) => {
            let buffer = wasm_bindgen_futures::JsFuture::from(crate::host::blob_bytes(&blob.0))
                .await
                .map_err(|e| failure(crate::isolate_worker::js_message(&e)))?;
            js_sys::Uint8Array::new(&buffer).to_vec()
        }
    };
    crate::report_progress(bytes.len().min(i32::MAX as usize) as u32);
    Ok(bytes)
}

fn with_node<R>(
    pointer: &str,
    f: impl FnOnce(&Tape, usize) -> Result<R, JsonFailure>,
) -> Result<R, JsonFailure> {
    DOC.with(|d| {
        let doc = d.borrow();
        let tape = doc
            .as_ref()
            .ok_or_else(|| failure("the document is gone (its isolate was restarted)"))?;
        let node = tape
            .pointer(tape.root(), pointer)
            .ok_or_else(|| failure(format!("no value at JSON pointer `{pointer}`")))?;
        f(tape, node)
    })
}

/// The element nodes of array `node` (cached for the last array asked).
fn elements<R>(
    tape: &Tape,
    node: usize,
    pointer: &str,
    f: impl FnOnce(&[u32]) -> R,
) -> Result<R, JsonFailure> {
    if tape.node(node).kind != Kind::Array {
        return Err(failure(format!("the value at `{pointer}` is not an array")));
    }
    ELEMENTS.with(|cache| {
        let mut cache = cache.borrow_mut();
        if cache.as_ref().map(|(n, _)| *n) != Some(node) {
            let list = tape.children(node).map(|c| c as u32).collect();
            *cache = Some((node, list));
        }
        Ok(f(cache
            .as_ref()
            .map_or(&[][..], |(_, list)| list.as_slice())))
    })
}

fn len_at(pointer: String) -> Result<u64, JsonFailure> {
    with_node(&pointer, |tape, node| {
        Ok(match tape.node(node).kind {
            Kind::Array => elements(tape, node, &pointer, <[u32]>::len)?,
            Kind::Object => tape.children(node).count() / 2,
            Kind::Str | Kind::EscStr => tape.string(node).map_or(0, |s| s.chars().count()),
            _ => 0,
        } as u64)
    })
}

fn to_value(tape: &Tape, node: usize) -> Result<Value, JsonFailure> {
    serde_json::from_slice(tape.json_text(node)).map_err(|e| failure(e.to_string()))
}

fn get_at(pointer: String) -> Result<Value, JsonFailure> {
    with_node(&pointer, to_value)
}

/// The value at `pointer` as its original JSON text (key order kept).
fn text_at(pointer: String) -> Result<TransferBuffer<u8>, JsonFailure> {
    with_node(&pointer, |tape, node| {
        Ok(TransferBuffer::from_slice(tape.json_text(node)))
    })
}

/// Keys of the object at `pointer` whose values are numbers, strings or booleans, in order.
fn scalar_keys_at(pointer: String) -> Result<Vec<String>, JsonFailure> {
    with_node(&pointer, |tape, node| {
        let mut keys = Vec::new();
        let mut it = tape.children(node);
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            let scalar = !matches!(tape.node(v).kind, Kind::Array | Kind::Object | Kind::Null);
            if let (true, Some(key)) = (scalar, tape.string(k)) {
                keys.push(key.into_owned());
            }
        }
        Ok(keys)
    })
}

fn clamp_range(len: usize, start: u64, end: u64) -> std::ops::Range<usize> {
    let end = (end.min(len as u64)) as usize;
    let start = (start as usize).min(end);
    start..end
}

/// Elements `start..end` of the array at `pointer` as JSON text: the original bytes from the
/// first element to the last, in brackets — one copy, no re-serialization.
fn slice_text_bytes(pointer: &str, start: u64, end: u64) -> Result<Vec<u8>, JsonFailure> {
    with_node(pointer, |tape, node| {
        elements(tape, node, pointer, |list| {
            let range = clamp_range(list.len(), start, end);
            let mut out = Vec::new();
            out.push(b'[');
            if let (Some(&first), Some(&last)) = (list.get(range.start), list[range.clone()].last())
            {
                let from =
                    tape.json_text(first as usize).as_ptr() as usize - tape.text.as_ptr() as usize;
                let last_text = tape.json_text(last as usize);
                let to =
                    last_text.as_ptr() as usize - tape.text.as_ptr() as usize + last_text.len();
                out.extend_from_slice(&tape.text[from..to]);
            }
            out.push(b']');
            out
        })
    })
}

fn slice_at(args: (String, u64, u64)) -> Result<Vec<Value>, JsonFailure> {
    let (pointer, start, end) = args;
    let text = slice_text_bytes(&pointer, start, end)?;
    serde_json::from_slice(&text).map_err(|e| failure(e.to_string()))
}

/// A slice as JSON text, for `JSON.parse` on the receiving thread (cheaper there than
/// rebuilding a structured clone).
fn slice_text_at(args: (String, u64, u64)) -> Result<TransferBuffer<u8>, JsonFailure> {
    let (pointer, start, end) = args;
    slice_text_bytes(&pointer, start, end).map(|t| TransferBuffer::from_slice(&t))
}

fn select_at(args: (String, Vec<String>)) -> Result<Columns, JsonFailure> {
    let (pointer, fields) = args;
    with_node(&pointer, |tape, node| {
        elements(tape, node, &pointer, |records| {
            let mut builder = ColumnsBuilder::new(&fields);
            for &record in records {
                builder.record(tape.view(), record as usize);
            }
            finish_columns(builder, fields.clone())
        })
    })
}

/// Why a text gives no columns, as the isolate reports it.
fn columns_failure(e: ColumnsTextError) -> JsonFailure {
    match e {
        ColumnsTextError::Syntax(e) => syntax_failure(e),
        ColumnsTextError::NotAnArray => failure(
            "the top-level value is not an array (columns are taken from an array of records)",
        ),
    }
}

/// `fields` of the records of `text`'s top-level array, picked out while it is parsed (see
/// [`json_tape::for_each_root_element`]): no tape is kept, so this needs neither the memory of
/// one nor a second walk over it.
fn columns_of_whole(
    text: &[u8],
    fields: Vec<String>,
    progress: &ProgressPort,
) -> Result<Columns, JsonFailure> {
    let mut report = ParseProgress::new(progress, text.len());
    let builder =
        columns_of_text(text, &fields, |offset| report.at(offset)).map_err(columns_failure)?;
    Ok(finish_columns(builder, fields))
}

// ------------------------------------------------ `parse_columns` across several isolates
//
// The first isolate reads the source and guesses where to cut it (`json_split`); each other part
// goes to an isolate of its own, by transfer through the calling thread (a constant-time hand-on);
// all parts are parsed at once; the first isolate joins the columns — or, when a guess was wrong,
// the document malformed or a part lost with its isolate, reads its whole text again, which gives
// exactly what one isolate alone would have.

thread_local! {
    /// In the first isolate of a cut document: what it needs to join the parts.
    static CUT: RefCell<Option<CutDocument>> = const { RefCell::new(None) };
}

struct CutDocument {
    text: Vec<u8>,
    cuts: Vec<Cut>,
    fields: Vec<String>,
    /// Part 0 reports progress (up to its end: the other parts' isolates do not).
    progress: ProgressPort,
    /// Part 0's columns, once built (`None` before, or when part 0 did not parse).
    first: Option<ColumnsBuilder>,
}

/// What the first isolate makes of a source.
#[derive(Serialize, Deserialize)]
enum CutOutcome {
    /// Not worth cutting (small, not an array, or no cut found): the columns, or the error.
    Whole(Result<Columns, JsonFailure>),
    /// The texts of parts 1.. for other isolates; part 0 stays here.
    Parts(Vec<TransferBuffer<u8>>),
}

/// One part's columns as its isolate built them, to be continued by the first isolate.
#[derive(Serialize, Deserialize)]
struct PartColumns {
    len: u64,
    columns: Vec<WireColumnPart>,
}

#[derive(Serialize, Deserialize)]
enum WireColumnPart {
    Untyped(u64),
    Number(TransferBuffer<f64>),
    Bool(TransferBuffer<u8>),
    Text {
        utf8: TransferBuffer<u8>,
        offsets: TransferBuffer<u32>,
    },
    Missing,
}

impl From<ColumnsBuilder> for PartColumns {
    fn from(builder: ColumnsBuilder) -> Self {
        let (len, columns) = builder.into_parts();
        let columns = columns
            .into_iter()
            .map(|c| match c {
                ColumnBuilder::Untyped(n) => WireColumnPart::Untyped(n as u64),
                ColumnBuilder::Missing => WireColumnPart::Missing,
                ColumnBuilder::Number(v) => WireColumnPart::Number(TransferBuffer::from_slice(&v)),
                ColumnBuilder::Bool(v) => WireColumnPart::Bool(TransferBuffer::from_slice(&v)),
                ColumnBuilder::Text { utf8, offsets } => WireColumnPart::Text {
                    utf8: TransferBuffer::from_slice(&utf8),
                    offsets: TransferBuffer::from_slice(&offsets),
                },
            })
            .collect();
        PartColumns { len, columns }
    }
}

impl PartColumns {
    fn into_parts(self) -> (u64, Vec<ColumnBuilder>) {
        let columns = self
            .columns
            .into_iter()
            .map(|c| match c {
                WireColumnPart::Untyped(n) => ColumnBuilder::Untyped(n as usize),
                WireColumnPart::Missing => ColumnBuilder::Missing,
                WireColumnPart::Number(v) => ColumnBuilder::Number(v.to_vec()),
                WireColumnPart::Bool(v) => ColumnBuilder::Bool(v.to_vec()),
                WireColumnPart::Text { utf8, offsets } => ColumnBuilder::Text {
                    utf8: utf8.to_vec(),
                    offsets: offsets.to_vec(),
                },
            })
            .collect();
        (self.len, columns)
    }
}

/// First isolate: reads the source (freeing this isolate's document first), guesses up to
/// `parts - 1` cuts and returns the texts of the other parts, keeping its own; or, uncut, the
/// columns themselves.
async fn columns_cut(
    args: (Source, Vec<String>, u32, ProgressPort),
) -> Result<CutOutcome, JsonFailure> {
    let (source, fields, parts, progress) = args;
    DOC.with(|d| d.borrow_mut().take());
    ELEMENTS.with(|e| e.borrow_mut().take());
    CUT.with(|c| c.borrow_mut().take());
    let text = read_source(source).await?;
    let cuts = json_split::guess_cuts(&text, parts as usize);
    if cuts.is_empty() {
        return Ok(CutOutcome::Whole(columns_of_whole(
            &text, fields, &progress,
        )));
    }
    let others = (1..=cuts.len())
        .map(|i| part_buffer(&text, &cuts, i))
        .collect::<Result<_, _>>()?;
    CUT.with(|c| {
        *c.borrow_mut() = Some(CutDocument {
            text,
            cuts,
            fields,
            progress,
            first: None,
        })
    });
    Ok(CutOutcome::Parts(others))
}

/// Part `i` as a new `ArrayBuffer`: one copy out of wasm memory, brackets added in place.
fn part_buffer(text: &[u8], cuts: &[Cut], i: usize) -> Result<TransferBuffer<u8>, JsonFailure> {
    let (open, body, close) = json_split::part_pieces(text, cuts, i);
    let start = u32::from(open);
    let len = u32::try_from(body.len())
        .ok()
        .and_then(|n| n.checked_add(start + u32::from(close)))
        .ok_or_else(|| failure("text is larger than 4 GiB"))?;
    let array = js_sys::Uint8Array::new_with_length(len);
    if open {
        array.set_index(0, b'[');
    }
    array
        .subarray(start, len - u32::from(close))
        .copy_from(body);
    if close {
        array.set_index(len - 1, b']');
    }
    TransferBuffer::from_array_buffer(array.buffer()).map_err(|e| failure(e.to_string()))
}

/// First isolate: builds part 0's columns (in place: see `json_split::with_first_part`).
fn columns_first_part(_: ()) {
    CUT.with(|c| {
        if let Some(doc) = c.borrow_mut().as_mut() {
            let mut report = ParseProgress::new(&doc.progress, doc.text.len());
            doc.first = json_split::with_first_part(&mut doc.text, &doc.cuts, |part| {
                json_split::part_columns(part, &doc.fields, |offset| report.at(offset))
            });
        }
    });
}

/// Another isolate: the columns of one part, or `None` when it does not parse.
fn columns_of_part(args: (TransferBuffer<u8>, Vec<String>)) -> Option<PartColumns> {
    let (text, fields) = args;
    json_split::part_columns(&text.to_vec(), &fields, |_| {}).map(PartColumns::from)
}

/// First isolate: part 0's columns continued by the others' (`None` for a part that did not
/// parse or whose isolate failed); or the whole text read again when they do not all join.
fn columns_join(parts: Vec<Option<PartColumns>>) -> Result<Columns, JsonFailure> {
    let doc = CUT
        .with(|c| c.borrow_mut().take())
        .ok_or_else(|| failure("the cut document is gone (its isolate was restarted)"))?;
    if let Some(mut builder) = doc.first {
        let mut joined = parts.len() == doc.cuts.len();
        for part in parts {
            let Some(part) = part else {
                joined = false;
                break;
            };
            let (len, columns) = part.into_parts();
            if builder.append(len, columns).is_err() {
                joined = false;
                break;
            }
        }
        if joined {
            let mut columns = finish_columns(builder, doc.fields);
            columns.parts = doc.cuts.len() as u32 + 1;
            return Ok(columns);
        }
    }
    columns_of_whole(&doc.text, doc.fields, &None)
}

/// The parts [`parse_columns`] cuts a large document into by default: one per core but one
/// (`navigator.hardwareConcurrency - 1`, at least 1, at most [`MAX_PARTS`]), like the pool's
/// default size — the page keeps a core. Measured on a 2-core machine, where this is 1: two parts
/// saved 15 % of a 50 MB parse (≈ 350 vs 410 ms in Chromium, nothing in Firefox) while the page's
/// thread, sharing the cores with two busy isolates, answered late for 50–180 ms in all.
///
/// ```no_run
/// let parts = wasm_isolates::json::default_parts();
/// assert!((1..=wasm_isolates::json::MAX_PARTS).contains(&parts));
/// ```
pub fn default_parts() -> usize {
    (crate::Capabilities::detect().hardware_concurrency as usize)
        .saturating_sub(1)
        .clamp(1, MAX_PARTS)
}

/// The most parts a document is cut into (a larger `parts` counts as this).
///
/// ```
/// assert_eq!(wasm_isolates::json::MAX_PARTS, 8);
/// ```
pub const MAX_PARTS: usize = 8;

impl From<RecordColumn> for Column {
    fn from(column: RecordColumn) -> Self {
        match column {
            RecordColumn::Missing => Column::Missing,
            RecordColumn::Number(values) => Column::Number(TransferBuffer::from_slice(&values)),
            RecordColumn::Bool(values) => Column::Bool(TransferBuffer::from_slice(&values)),
            RecordColumn::Text { utf8, offsets } => Column::Text {
                utf8: TransferBuffer::from_slice(&utf8),
                offsets: TransferBuffer::from_slice(&offsets),
            },
        }
    }
}

/// The columns built, moved into transferable buffers.
fn finish_columns(builder: ColumnsBuilder, fields: Vec<String>) -> Columns {
    let (len, columns) = builder.finish();
    Columns {
        len,
        fields,
        columns: columns.into_iter().map(Column::from).collect(),
        parts: 1,
    }
}

// ---------------------------------------------------------------- the caller's side

/// A JSON document parsed by, and kept in, its own isolate.
///
/// Each document has a dedicated isolate (a one-worker [`IsolatePool`], so it works with or
/// without cross-origin isolation); dropping the document stops it. Queries go to that isolate
/// one at a time, in order.
///
/// ```no_run
/// # async fn demo() -> Result<(), wasm_isolates::IsolateError> {
/// use wasm_isolates::json::{Column, JsonDocument};
///
/// let doc = JsonDocument::fetch("/data/points.json").await?;
/// let n = doc.len("").await?;                       // records in the top-level array
/// let first = doc.get("/0/courier").await?;         // a small value
/// let page = doc.slice("", 0, 50).await?;           // a page of records
/// let cols = doc.select("", &["lat", "lon"]).await?; // typed arrays, transferred
/// if let Column::Number(lat) = &cols.columns[0] {
///     let _lat: js_sys::Float64Array = lat.view();  // no copy
/// }
/// # Ok(()) }
/// ```
pub struct JsonDocument {
    pool: IsolatePool,
    info: DocumentInfo,
}

/// How many idle JSON isolates to keep for the next documents.
const MAX_SPARES: usize = 2;

thread_local! {
    static SPARE: RefCell<Vec<IsolatePool>> = const { RefCell::new(Vec::new()) };
}

fn new_json_isolate() -> Result<IsolatePool, IsolateError> {
    IsolatePool::builder()
        .size(1)
        .prewarm(true)
        .debug_name("json")
        .build()
}

/// Runs in a JSON isolate whose document was dropped: frees it, so the isolate can be reused.
fn release(_: ()) {
    DOC.with(|d| d.borrow_mut().take());
    ELEMENTS.with(|e| e.borrow_mut().take());
    STAGED.with(|s| std::mem::take(&mut *s.borrow_mut()));
    // A cut document whose parts were abandoned (the caller aborted) holds its whole text.
    CUT.with(|c| c.borrow_mut().take());
}

impl Drop for JsonDocument {
    fn drop(&mut self) {
        recycle(&self.pool);
    }
}

/// Keeps a JSON isolate as a spare, its document freed by a task queued ahead of anything the
/// next document asks (the queue is FIFO); or lets it go, which terminates it.
fn recycle(pool: &IsolatePool) {
    SPARE.with(|s| {
        let mut spares = s.borrow_mut();
        if spares.len() < MAX_SPARES {
            pool.run(release, ()).detach();
            spares.push(pool.clone());
        }
    });
}

/// What a JSON document is read from; see [`JsonDocument::parse`] and [`parse_columns`].
/// Nothing is copied or parsed on the calling thread.
///
/// ```no_run
/// # async fn demo(bytes: Vec<u8>) -> Result<(), wasm_isolates::IsolateError> {
/// use wasm_isolates::json::{JsonDocument, JsonSource};
/// use wasm_isolates::TransferBuffer;
///
/// let doc = JsonDocument::parse(JsonSource::Bytes(TransferBuffer::from_slice(&bytes))).await?;
/// let doc = JsonDocument::parse(JsonSource::Url("/data/points.json".into())).await?;
/// # Ok(()) }
/// ```
#[non_exhaustive]
pub enum JsonSource {
    /// JSON text as UTF-8 bytes, moved to the isolate by transfer.
    Bytes(TransferBuffer<u8>),
    /// A URL the isolate fetches (relative URLs resolve against the page).
    Url(String),
    /// A `Blob` or `File`, read in the isolate.
    Blob(web_sys::Blob),
    /// JSON text as a JS string, sent to the isolate in slices small enough for one frame each.
    Text(js_sys::JsString),
}

impl std::fmt::Debug for JsonSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JsonSource::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            JsonSource::Url(u) => write!(f, "Url({u:?})"),
            JsonSource::Blob(b) => write!(f, "Blob({} bytes)", b.size()),
            JsonSource::Text(t) => write!(f, "Text({} UTF-16 units)", t.length()),
        }
    }
}

/// Parses `source` in an isolate and returns `fields` of the records of its top-level array as
/// typed columns: what [`JsonDocument::select`] gives on a freshly parsed document, in one pass
/// and without keeping the document — the fields are picked out of each record as it is parsed,
/// so no tape is built (less memory, and no second walk over it). A field may be a path into
/// nested objects (`"location/lat"`).
///
/// Errors: malformed JSON is [`IsolateError::Json`] (with byte offset, line and column), and so
/// is a top-level value that is not an array; a source that cannot be read (a failed fetch) is
/// [`IsolateError::Json`] with the reason. The isolate stays usable either way.
///
/// ```no_run
/// # async fn demo() -> Result<(), wasm_isolates::IsolateError> {
/// use wasm_isolates::json::{parse_columns, Column, JsonSource};
///
/// let cols = parse_columns(JsonSource::Url("/data/points.json".into()), &["lat", "lon"]).await?;
/// if let Column::Number(lat) = &cols.columns[0] {
///     let _lat: js_sys::Float64Array = lat.view(); // moved here, not copied
/// }
/// # Ok(()) }
/// ```
pub async fn parse_columns(source: JsonSource, fields: &[&str]) -> Result<Columns, IsolateError> {
    parse_columns_with(source, fields, default_parts(), |_| {}, None).await
}

/// [`parse_columns`], cutting a large document into at most `parts` parts parsed by as many
/// isolates at once (1: one isolate, no cut; the default is [`default_parts`]).
///
/// Only a top-level array of at least 4 MiB a part is cut, near evenly spaced offsets where a
/// record seems to start; every part is checked to be exactly a run of the document's elements
/// before the parts' columns are joined, and when a guess was wrong (or the document is
/// malformed, or an isolate fails) the first isolate reads the whole text again. So the result —
/// columns, or the error with its offset, line and column — is always what one isolate alone
/// gives; a wrong guess costs time, never correctness. Each part's isolate is a spare JSON
/// isolate or a new one, kept as a spare afterwards.
///
/// ```no_run
/// # async fn demo() -> Result<(), wasm_isolates::IsolateError> {
/// use wasm_isolates::json::{parse_columns_in_parts, JsonSource};
///
/// let source = JsonSource::Url("/data/points.json".into());
/// let cols = parse_columns_in_parts(source, &["lat", "lon"], 2).await?;
/// println!("{} records", cols.len);
/// # Ok(()) }
/// ```
pub async fn parse_columns_in_parts(
    source: JsonSource,
    fields: &[&str],
    parts: usize,
) -> Result<Columns, IsolateError> {
    parse_columns_with(source, fields, parts, |_| {}, None).await
}

/// [`parse_columns_in_parts`], reporting the UTF-16 units of a string source sent so far, and
/// the bytes parsed to `progress`.
pub(crate) async fn parse_columns_with(
    source: JsonSource,
    fields: &[&str],
    parts: usize,
    on_slice: impl FnMut(u32),
    progress: ProgressPort,
) -> Result<Columns, IsolateError> {
    let (source, pool) = JsonDocument::stage(source, on_slice).await?;
    let fields: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
    let parts = parts.clamp(1, MAX_PARTS) as u32;
    let texts = match pool
        .run_async(columns_cut, (source, fields.clone(), parts, progress))
        .await??
    {
        CutOutcome::Whole(columns) => {
            // Only an isolate that answered goes back to the spares.
            recycle(&pool);
            return Ok(columns?);
        }
        CutOutcome::Parts(texts) => texts,
    };
    // Every task is submitted at once: the other parts and part 0 are parsed at the same time.
    let mut others = Vec::with_capacity(texts.len());
    for text in texts {
        let isolate = JsonDocument::isolate()?;
        let task = isolate.run(columns_of_part, (text, fields.clone()));
        others.push((isolate, task));
    }
    pool.run(columns_first_part, ()).await?;
    let mut parts = Vec::with_capacity(others.len());
    for (isolate, task) in others {
        // A part whose isolate failed is read again by the first isolate (`columns_join`).
        let part = match task.await {
            Ok(part) => {
                recycle(&isolate);
                part
            }
            Err(_) => None,
        };
        parts.push(part);
    }
    let columns = pool.run(columns_join, parts).await??;
    recycle(&pool);
    Ok(columns)
}

/// Largest JS string slice posted at once (UTF-16 code units): posting costs the sending thread
/// about 0.4 ms per MB, so 1 Mi units stays well inside a frame.
const TEXT_SLICE: u32 = 1 << 20;

impl JsonDocument {
    /// A JSON isolate: a warm spare if there is one (see [`prewarm`](Self::prewarm)), else a
    /// new one; either way a new spare starts warming for the next document.
    fn isolate() -> Result<IsolatePool, IsolateError> {
        let pool = match SPARE.with(|s| s.borrow_mut().pop()) {
            Some(pool) => pool,
            None => new_json_isolate()?,
        };
        Self::prewarm()?;
        Ok(pool)
    }

    /// Starts a JSON isolate now, so that the next document does not pay for a worker start
    /// (≈ 10–30 ms of the calling thread's time, and more in total). Call it at start-up; every
    /// document keeps one spare warm afterwards, and a closed document's isolate is reused.
    pub fn prewarm() -> Result<(), IsolateError> {
        if SPARE.with(|s| s.borrow().is_empty()) {
            let pool = new_json_isolate()?;
            SPARE.with(|s| s.borrow_mut().push(pool));
        }
        Ok(())
    }

    async fn open(
        source: Source,
        pool: IsolatePool,
        progress: ProgressPort,
    ) -> Result<Self, IsolateError> {
        let info = pool.run_async(parse_source, (source, progress)).await??;
        Ok(JsonDocument { pool, info })
    }

    /// Parses bytes (moved to the isolate by transfer; nothing is copied on this thread).
    pub async fn parse_bytes(bytes: TransferBuffer<u8>) -> Result<Self, IsolateError> {
        Self::parse(JsonSource::Bytes(bytes)).await
    }

    /// Fetches `url` in the isolate and parses the body there.
    pub async fn fetch(url: &str) -> Result<Self, IsolateError> {
        Self::parse(JsonSource::Url(url.to_string())).await
    }

    /// Reads a `Blob` (or `File`) in the isolate and parses it.
    pub async fn parse_blob(blob: web_sys::Blob) -> Result<Self, IsolateError> {
        Self::parse(JsonSource::Blob(blob)).await
    }

    /// Parses a JS string, sent to the isolate in slices small enough for one frame each
    /// (`on_slice` is called with the code units sent so far, e.g. to report progress).
    pub async fn parse_js_string(
        text: &js_sys::JsString,
        on_slice: impl FnMut(u32),
    ) -> Result<Self, IsolateError> {
        Self::parse_with(JsonSource::Text(text.clone()), on_slice, None).await
    }

    /// Parses `source` in an isolate of its own.
    pub async fn parse(source: JsonSource) -> Result<Self, IsolateError> {
        Self::parse_with(source, |_| {}, None).await
    }

    /// [`parse`](Self::parse), reporting the UTF-16 units of a string source sent so far, and
    /// the bytes parsed to `progress`.
    pub(crate) async fn parse_with(
        source: JsonSource,
        on_slice: impl FnMut(u32),
        progress: ProgressPort,
    ) -> Result<Self, IsolateError> {
        let (source, pool) = Self::stage(source, on_slice).await?;
        Self::open(source, pool, progress).await
    }

    /// An isolate, and `source` in the form the isolate's task takes: a string is sent ahead in
    /// slices (staged there), anything else travels with the task.
    async fn stage(
        source: JsonSource,
        mut on_slice: impl FnMut(u32),
    ) -> Result<(Source, IsolatePool), IsolateError> {
        let pool = Self::isolate()?;
        let source = match source {
            JsonSource::Bytes(bytes) => Source::Bytes(bytes),
            JsonSource::Url(url) => Source::Url(url),
            JsonSource::Blob(blob) => Source::Blob(Transferable(blob)),
            JsonSource::Text(text) => {
                let len = text.length();
                let mut start = 0;
                while start < len {
                    let end = (start + TEXT_SLICE).min(len);
                    pool.run(stage_text, Transferable(text.slice(start, end)))
                        .await?;
                    start = end;
                    on_slice(start);
                }
                Source::Staged
            }
        };
        Ok((source, pool))
    }

    /// Size, kind and top-level length of the document.
    pub fn info(&self) -> &DocumentInfo {
        &self.info
    }

    /// Length of the array (elements), object (keys) or string (characters) at `pointer`
    /// (a JSON pointer: `""` is the root, `"/0/name"` a field of the first element).
    pub async fn len(&self, pointer: &str) -> Result<u64, IsolateError> {
        Ok(self.pool.run(len_at, pointer.to_string()).await??)
    }

    /// The value at `pointer`, copied out of the isolate (keep it small). Object keys come out
    /// sorted (`serde_json::Value`); [`get_text`](Self::get_text) keeps document order.
    pub async fn get(&self, pointer: &str) -> Result<Value, IsolateError> {
        Ok(self.pool.run(get_at, pointer.to_string()).await??)
    }

    /// The value at `pointer` as its original JSON text (object keys in document order, unlike
    /// [`get`](Self::get), whose `serde_json::Value` sorts them).
    pub async fn get_text(&self, pointer: &str) -> Result<TransferBuffer<u8>, IsolateError> {
        Ok(self.pool.run(text_at, pointer.to_string()).await??)
    }

    /// The keys of the object at `pointer` that hold numbers, strings or booleans, in document
    /// order (the natural fields to [`select`](Self::select) from a record).
    pub async fn scalar_keys(&self, pointer: &str) -> Result<Vec<String>, IsolateError> {
        Ok(self.pool.run(scalar_keys_at, pointer.to_string()).await??)
    }

    /// Elements `start..end` of the array at `pointer` (clamped to its length).
    pub async fn slice(
        &self,
        pointer: &str,
        start: u64,
        end: u64,
    ) -> Result<Vec<Value>, IsolateError> {
        Ok(self
            .pool
            .run(slice_at, (pointer.to_string(), start, end))
            .await??)
    }

    /// Elements `start..end` of the array at `pointer` as JSON text (moved by transfer).
    pub async fn slice_text(
        &self,
        pointer: &str,
        start: u64,
        end: u64,
    ) -> Result<TransferBuffer<u8>, IsolateError> {
        Ok(self
            .pool
            .run(slice_text_at, (pointer.to_string(), start, end))
            .await??)
    }

    /// Like [`slice_text`](Self::slice_text), submitted at once (so the next slice can be on
    /// its way while this thread parses the previous one).
    pub(crate) fn slice_text_handle(
        &self,
        pointer: &str,
        start: u64,
        end: u64,
    ) -> crate::TaskHandle<Result<TransferBuffer<u8>, JsonFailure>> {
        self.pool
            .run(slice_text_at, (pointer.to_string(), start, end))
    }

    /// The given fields of every record in the array at `pointer`, as typed columns moved by
    /// transfer. A field may be a path into nested objects: `"location/lat"`.
    pub async fn select(&self, pointer: &str, fields: &[&str]) -> Result<Columns, IsolateError> {
        let fields = fields.iter().map(|f| f.to_string()).collect();
        Ok(self
            .pool
            .run(select_at, (pointer.to_string(), fields))
            .await??)
    }
}

impl std::fmt::Debug for JsonDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonDocument")
            .field("info", &self.info)
            .finish()
    }
}
