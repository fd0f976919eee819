//! The JSON service from the caller's side: [`JsonDocument`], a document kept in its own
//! isolate, and [`parse_columns`], columns without keeping one.

use crate::error::IsolateError;
use crate::json::body;
use crate::json::inside::*;
use crate::json::progress::ProgressPort;
use crate::json::wire::{Columns, DocumentInfo, JsonFailure, JsonFault, Source};
use crate::pool::IsolatePool;
use crate::wire::transfer::{TransferBuffer, Transferable};
use serde_json::Value;
use std::cell::RefCell;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

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
    (crate::platform::capabilities::Capabilities::detect().hardware_concurrency as usize)
        .saturating_sub(1)
        .clamp(1, MAX_PARTS)
}

/// The most parts a document is cut into (a larger `parts` counts as this).
///
/// ```
/// assert_eq!(wasm_isolates::json::MAX_PARTS, 8);
/// ```
pub const MAX_PARTS: usize = 8;

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
/// The isolate reads a URL, a `Request`, a `Response` or a `Blob` as a stream and parses each
/// piece as it arrives, so that a download and its parse overlap; a malformed document fails as
/// soon as its bad byte has arrived, and the rest of the download is cancelled.
///
/// ```no_run
/// # async fn demo(bytes: Vec<u8>) -> Result<(), wasm_isolates::IsolateError> {
/// use wasm_isolates::json::{JsonDocument, JsonSource};
/// use wasm_isolates::TransferBuffer;
///
/// let doc = JsonDocument::parse(JsonSource::Bytes(TransferBuffer::from_slice(&bytes))).await?;
/// let doc = JsonDocument::parse(JsonSource::Url("/data/points.json".into())).await?;
///
/// // A request (its method, headers, credentials...), made again and fetched by the isolate.
/// let request = web_sys::Request::new_with_str("/data/points.json").unwrap();
/// let doc = JsonDocument::parse(JsonSource::Request(request)).await?;
///
/// // A response already at hand: its body is moved to the isolate as a stream.
/// let response = web_sys::Response::new_with_opt_str(Some("[1,2,3]")).unwrap();
/// let doc = JsonDocument::parse(JsonSource::Response(response)).await?;
/// assert_eq!(doc.len("").await?, 3);
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
    /// A `Request`, made again in the isolate from its URL, method, headers, credentials, cache,
    /// redirect, referrer and integrity settings and its body (read into a `Blob` here first),
    /// and fetched there. A body already read is an [`IsolateError::Json`]. The request's own
    /// `signal` is not followed (drop the parse's future, or pass `signal` in JS).
    Request(web_sys::Request),
    /// A `Response`: its body's stream is moved to the isolate by transfer and read there (where
    /// the browser cannot transfer streams, the body is read into a `Blob` first, which waits for
    /// all of it). Its chunks pass through this thread's event loop on their way (a copy each,
    /// no parse). A body already used (`bodyUsed`) or locked is an [`IsolateError::Json`]; any
    /// status is read (check `ok` first if an error page must not parse).
    Response(web_sys::Response),
}

impl std::fmt::Debug for JsonSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JsonSource::Bytes(b) => write!(f, "Bytes({} bytes)", b.len()),
            JsonSource::Url(u) => write!(f, "Url({u:?})"),
            JsonSource::Blob(b) => write!(f, "Blob({} bytes)", b.size()),
            JsonSource::Text(t) => write!(f, "Text({} UTF-16 units)", t.length()),
            JsonSource::Request(r) => write!(f, "Request({} {:?})", r.method(), r.url()),
            JsonSource::Response(r) => write!(f, "Response({} {:?})", r.status(), r.url()),
        }
    }
}

/// Held while a `Response`'s body is read by an isolate: dropped — the parse done, failed or
/// abandoned — it stops the body's pipe on this thread, which cancels the body if it is still
/// being read (see `responseBody` in src/json/stream.js).
struct StopBody(Option<js_sys::Function>);

impl Drop for StopBody {
    fn drop(&mut self) {
        if let Some(stop) = &self.0 {
            let _ = stop.call0(&wasm_bindgen::JsValue::UNDEFINED);
        }
    }
}

/// Why a `Request` or `Response` cannot be read (a used body): a JSON error without a position.
fn source_error(e: wasm_bindgen::JsValue) -> IsolateError {
    IsolateError::Json {
        message: crate::wire::message::js_message(&e),
        offset: None,
        line: None,
        column: None,
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
    Ok(parse_columns_with(
        source,
        fields,
        default_parts(),
        |_| {},
        ProgressPort::none(),
    )
    .await?)
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
    Ok(parse_columns_with(source, fields, parts, |_| {}, ProgressPort::none()).await?)
}

/// [`parse_columns_in_parts`], reporting the UTF-16 units of a string source sent so far, and
/// the bytes parsed to `progress`; a syntax error keeps its UTF-16 position too.
pub(crate) async fn parse_columns_with(
    source: JsonSource,
    fields: &[&str],
    parts: usize,
    on_slice: impl FnMut(u32),
    progress: ProgressPort,
) -> Result<Columns, JsonFault> {
    let (source, pool, _stop) = JsonDocument::stage(source, on_slice, false).await?;
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

/// Parses `source` in an isolate without keeping a document, sending the elements of its
/// top-level array to `sink` as JSON text in runs of about `chunk_bytes` while the parse goes on
/// (see [`stream_root_array`]). Resolves when the parse is over: with the number of runs sent and
/// of elements, or the parse's failure (after which runs already sent are to be dropped).
/// Dropping the future cancels the isolate's task.
pub(crate) async fn stream_root_array_with(
    source: JsonSource,
    on_slice: impl FnMut(u32),
    progress: ProgressPort,
    sink: crate::port::SendPort<ArrayChunk>,
    chunk_bytes: u32,
) -> Result<(u64, u64), JsonFault> {
    let (source, pool, _stop) = JsonDocument::stage(source, on_slice, false).await?;
    let end = pool
        .run_async(stream_root_array, (source, sink, chunk_bytes, progress))
        .await?;
    // The isolate answered (malformed JSON included): keep it for the next document.
    recycle(&pool);
    Ok(end?)
}

#[wasm_bindgen::prelude::wasm_bindgen(module = "/src/json/page.js")]
extern "C" {
    /// UTF-8 of units `start..end` of `text` in a new buffer with room to spare, and the number
    /// of bytes written.
    #[wasm_bindgen(js_name = encodeSlice)]
    fn encode_slice_js(text: &js_sys::JsString, start: u32, end: u32) -> js_sys::Array;
}

fn encode_slice(text: &js_sys::JsString, start: u32, end: u32) -> (js_sys::ArrayBuffer, u32) {
    let pair = encode_slice_js(text, start, end);
    (
        pair.get(0).unchecked_into(),
        pair.get(1).as_f64().unwrap_or(0.0) as u32,
    )
}

/// Largest JS string slice encoded and posted at once (UTF-16 code units). Encoding ASCII-heavy
/// text with `encodeInto` costs the sending thread about 1 ms per Mi units (docs/json.md), so 2 Mi
/// units stay well inside a frame.
const TEXT_SLICE: u32 = 2 << 20;

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
    ) -> Result<Self, JsonFault> {
        match pool.run_async(parse_source, (source, progress)).await? {
            Ok(info) => Ok(JsonDocument { pool, info }),
            Err(failure) => {
                // The isolate answered (malformed JSON): it is fine, keep it for the next document
                // rather than start a worker again.
                recycle(&pool);
                Err(failure.into())
            }
        }
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
        Ok(Self::parse_with(
            JsonSource::Text(text.clone()),
            on_slice,
            ProgressPort::none(),
        )
        .await?)
    }

    /// Parses `source` in an isolate of its own.
    pub async fn parse(source: JsonSource) -> Result<Self, IsolateError> {
        Ok(Self::parse_with(source, |_| {}, ProgressPort::none()).await?)
    }

    /// [`parse`](Self::parse), reporting the UTF-16 units of a string source sent so far, and
    /// the bytes parsed to `progress`; a syntax error keeps its UTF-16 position too.
    pub(crate) async fn parse_with(
        source: JsonSource,
        on_slice: impl FnMut(u32),
        progress: ProgressPort,
    ) -> Result<Self, JsonFault> {
        let (source, pool, _stop) = Self::stage(source, on_slice, true).await?;
        Self::open(source, pool, progress).await
    }

    /// An isolate, and `source` in the form the isolate's task takes: a string is sent ahead in
    /// slices (staged there, and parsed as they arrive when `document`: see `json::staged`),
    /// anything else travels with the task.
    async fn stage(
        source: JsonSource,
        mut on_slice: impl FnMut(u32),
        document: bool,
    ) -> Result<(Source, IsolatePool, StopBody), IsolateError> {
        let pool = Self::isolate()?;
        let mut stop = StopBody(None);
        let source = match source {
            JsonSource::Bytes(bytes) => Source::Bytes(bytes),
            JsonSource::Url(url) => Source::Url(url),
            JsonSource::Blob(blob) => Source::Blob(Transferable(blob)),
            JsonSource::Request(request) => {
                let parts: js_sys::Array = JsFuture::from(body::request_parts(&request))
                    .await
                    .map_err(source_error)?
                    .unchecked_into();
                Source::Request {
                    url: parts.get(0).as_string().unwrap_or_default(),
                    init: Transferable(parts.get(1).unchecked_into()),
                }
            }
            JsonSource::Response(response) => {
                let pair: js_sys::Array = JsFuture::from(body::response_body(&response))
                    .await
                    .map_err(source_error)?
                    .unchecked_into();
                let body = pair.get(0);
                stop = StopBody(pair.get(2).dyn_into().ok());
                if body.is_null() {
                    // No body at all: the empty text (malformed, as `JSON.parse("")` is).
                    Source::Bytes(TransferBuffer::from_slice(&[]))
                } else if let Some(blob) = body.dyn_ref::<web_sys::Blob>() {
                    Source::Blob(Transferable(blob.clone()))
                } else {
                    Source::Stream {
                        body: Transferable(body.unchecked_into()),
                        length: pair.get(1).as_f64().filter(|n| *n >= 0.0).map(|n| n as u64),
                    }
                }
            }
            JsonSource::Text(text) => {
                let len = text.length();
                let mut start = 0;
                let mut staged = Vec::new();
                while start < len {
                    let mut end = (start + TEXT_SLICE).min(len);
                    // Never between the two halves of a surrogate pair (a high one is 0xD800..0xDC00):
                    // each half alone would become U+FFFD on its way to UTF-8.
                    if end < len && (55296.0..56320.0).contains(&text.char_code_at(end - 1)) {
                        end -= 1;
                    }
                    // Submitted, not awaited: the isolate appends one slice while this thread
                    // posts the next, and no round trip is waited for between them.
                    let (buffer, written) = encode_slice(&text, start, end);
                    let buffer = TransferBuffer::from_array_buffer(buffer)?;
                    // `json::staged::SliceOf`, as a tuple.
                    let slice = (buffer, written, start == 0, document, len);
                    staged.push(pool.run(stage_text, slice));
                    start = end;
                    on_slice(start);
                    if start < len {
                        // One slice per task, so that posting them is never one long task.
                        let _ = wasm_bindgen_futures::JsFuture::from(
                            crate::platform::host::next_macrotask(),
                        )
                        .await;
                    }
                }
                for slice in staged {
                    slice.await?;
                }
                Source::Staged
            }
        };
        Ok((source, pool, stop))
    }

    /// Size, kind and top-level length of the document.
    pub fn info(&self) -> &DocumentInfo {
        &self.info
    }

    /// Length of the array (elements), object (distinct keys, as `JSON.parse` keeps them) or
    /// string (UTF-16 units, as JS `.length` counts them) at `pointer`
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

    /// Elements of the array at `pointer`; [`IsolateError::Json`] for any other value.
    pub(crate) async fn array_len(&self, pointer: &str) -> Result<u64, IsolateError> {
        Ok(self.pool.run(array_len_at, pointer.to_string()).await??)
    }

    /// Like [`slice_text`](Self::slice_text), submitted at once (so the next slice can be on
    /// its way while this thread parses the previous one).
    pub(crate) fn slice_text_handle(
        &self,
        pointer: &str,
        start: u64,
        end: u64,
    ) -> crate::pool::TaskHandle<Result<TransferBuffer<u8>, JsonFailure>> {
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
