//! The JSON service's JS API: `parseJson`, `JsonDocument`, `generateDataset`.

use crate::error::IsolateError;
use crate::json::wire::JsonFault;
use crate::json::{self, Column, Columns, JsonDocument, JsonSource};
use crate::port::ReceivePort;
use crate::wire::transfer::TransferBuffer;
use futures_core::Stream;
use js_sys::{Array, Function, JsString, Object, Promise, Reflect, Uint8Array};
use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{future_to_promise, JsFuture};

/// What `parseJson` returns.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Handle,
    Columns,
    Objects,
}

/// Mode `objects`: main-thread milliseconds of work after each frame, by default.
const DEFAULT_SLOT_BUDGET_MS: f64 = 10.0;

struct Options {
    mode: Mode,
    pointer: String,
    fields: Vec<String>,
    budget_ms: f64,
    /// Mode `objects`: main-thread milliseconds of work per frame (see `objects`).
    slot_budget_ms: f64,
    /// `None`: [`json::default_parts`], asked only when a document is cut.
    parts: Option<usize>,
    signal: Option<web_sys::AbortSignal>,
    on_progress: Option<Function>,
}

use crate::js::support::{abortable, get, type_error};

impl Options {
    fn read(options: &JsValue) -> Result<Self, JsValue> {
        let none = options.is_undefined() || options.is_null();
        let field = |k: &str| {
            if none {
                JsValue::UNDEFINED
            } else {
                get(options, k)
            }
        };
        let mode = match field("mode").as_string().as_deref() {
            None | Some("handle") => Mode::Handle,
            Some("columns") => Mode::Columns,
            Some("objects") => Mode::Objects,
            Some(other) => {
                return Err(type_error(format!(
                    "parseJson: mode must be 'handle', 'columns' or 'objects', not '{other}'"
                )))
            }
        };
        let fields = match field("fields") {
            v if v.is_undefined() || v.is_null() => Vec::new(),
            v => v
                .dyn_into::<Array>()
                .map_err(|_| type_error("parseJson: fields must be an array of strings"))?
                .iter()
                .map(|f| f.as_string())
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| type_error("parseJson: fields must be an array of strings"))?,
        };
        let parts = match field("parts") {
            v if v.is_undefined() || v.is_null() => None,
            v => match v.as_f64() {
                Some(n) if n >= 1.0 && n.fract() == 0.0 => Some((n as usize).min(json::MAX_PARTS)),
                _ => {
                    return Err(type_error(
                        "parseJson: parts must be a whole number of at least 1",
                    ))
                }
            },
        };
        Ok(Options {
            mode,
            parts,
            pointer: field("pointer").as_string().unwrap_or_default(),
            fields,
            budget_ms: field("budgetMs")
                .as_f64()
                .filter(|b| *b > 0.0)
                .unwrap_or(4.0),
            slot_budget_ms: field("frameBudgetMs")
                .as_f64()
                .filter(|b| *b > 0.0)
                .unwrap_or(DEFAULT_SLOT_BUDGET_MS),
            signal: field("signal").dyn_into().ok(),
            on_progress: field("onProgress").dyn_into().ok(),
        })
    }

    fn progress(&self, stage: &str, done: f64, total: f64) {
        if let Some(f) = &self.on_progress {
            call_progress(f, stage, done, total);
        }
    }

    /// With `onProgress`: a port the isolate reports bytes parsed to, each report passed on as
    /// stage `"parsing"`, and the listener that waits for the last of them (see
    /// [`ProgressListener::finish`]). Without: nothing.
    fn parse_progress(
        &self,
    ) -> Result<
        (
            crate::json::progress::ProgressPort,
            Option<ProgressListener>,
        ),
        JsValue,
    > {
        use crate::json::progress::{ProgressPort, END};
        let Some(f) = self.on_progress.clone() else {
            return Ok((ProgressPort::none(), None));
        };
        let port = Rc::new(RefCell::new(
            ReceivePort::<crate::json::progress::Report>::new()?,
        ));
        let send = port.borrow().send_port();
        let reader = port.clone();
        let (ended, on_end) = futures_channel::oneshot::channel::<()>();
        wasm_bindgen_futures::spawn_local(async move {
            // Ends at the isolate's last report, or when the listener closes the port.
            while let Some(Ok(report)) =
                std::future::poll_fn(|cx| Pin::new(&mut *reader.borrow_mut()).poll_next(cx)).await
            {
                if report == END {
                    break;
                }
                let (done, total) = report;
                call_progress(&f, "parsing", done as f64, total as f64);
            }
            let _ = ended.send(());
        });
        Ok((
            ProgressPort::to(send),
            Some(ProgressListener { port, on_end }),
        ))
    }
}

/// The caller's end of a parse's progress port. Dropped, it closes the port (reports still on
/// their way are dropped: the parse failed or was abandoned).
struct ProgressListener {
    port: Rc<RefCell<ReceivePort<crate::json::progress::Report>>>,
    on_end: futures_channel::oneshot::Receiver<()>,
}

/// How long a parse that succeeded waits for its last progress report. The isolate sends it
/// before its result, so it is normally already here; the bound only keeps a lost one from
/// holding the result forever.
const LAST_REPORT_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

impl ProgressListener {
    /// Waits until every report of a parse that succeeded has been passed on: reports and result
    /// come on different ports, which carry no order between them (see `json::progress`).
    async fn finish(mut self) {
        let mut delay = crate::platform::timer::Delay::new(LAST_REPORT_WAIT);
        std::future::poll_fn(|cx| {
            if Pin::new(&mut self.on_end).poll(cx).is_ready() {
                return std::task::Poll::Ready(());
            }
            Pin::new(&mut delay).poll(cx)
        })
        .await;
    }
}

impl Drop for ProgressListener {
    fn drop(&mut self) {
        if let Ok(port) = self.port.try_borrow() {
            port.close();
        }
    }
}

/// Waits for the last progress report of a parse that succeeded, if anyone listens.
async fn reports_done(listening: Option<ProgressListener>) {
    if let Some(listener) = listening {
        listener.finish().await;
    }
}

fn call_progress(f: &Function, stage: &str, done: f64, total: f64) {
    let info = Object::new();
    let _ = Reflect::set(&info, &"stage".into(), &stage.into());
    let _ = Reflect::set(&info, &"done".into(), &done.into());
    let _ = Reflect::set(&info, &"total".into(), &total.into());
    // A throwing progress callback must not break the parse.
    let _ = f.call1(&JsValue::UNDEFINED, &info);
}

/// The JS source as a [`JsonSource`], without touching its bytes on this thread.
async fn source_of(source: JsValue) -> Result<JsonSource, JsValue> {
    if let Some(text) = source.dyn_ref::<JsString>() {
        return Ok(JsonSource::Text(text.clone()));
    }
    if let Some(buffer) = source.dyn_ref::<js_sys::ArrayBuffer>() {
        return Ok(JsonSource::Bytes(TransferBuffer::from_array_buffer(
            buffer.clone(),
        )?));
    }
    if let Some(view) = source.dyn_ref::<Uint8Array>() {
        // A view over part of a buffer is copied (once, natively) so that only its bytes move.
        let whole = view.byte_offset() == 0 && view.byte_length() == view.buffer().byte_length();
        let buffer = if whole {
            view.buffer()
        } else {
            view.slice(0, view.length()).buffer()
        };
        return Ok(JsonSource::Bytes(TransferBuffer::from_array_buffer(
            buffer,
        )?));
    }
    if let Some(blob) = source.dyn_ref::<web_sys::Blob>() {
        return Ok(JsonSource::Blob(blob.clone()));
    }
    let class = Reflect::get(&source, &"constructor".into())
        .ok()
        .and_then(|c| Reflect::get(&c, &"name".into()).ok())
        .and_then(|n| n.as_string())
        .unwrap_or_default();
    match class.as_str() {
        // The isolate reads the body (moved there as a stream) and fetches the request itself.
        "Response" => Ok(JsonSource::Response(source.unchecked_into())),
        "Request" => Ok(JsonSource::Request(source.unchecked_into())),
        "URL" => {
            let url = source
                .as_string()
                .or_else(|| get(&source, "href").as_string())
                .ok_or_else(|| type_error("parseJson: could not read the URL"))?;
            Ok(JsonSource::Url(url))
        }
        _ => Err(type_error(
            "parseJson: source must be a JSON string, ArrayBuffer, Uint8Array, Blob, Response, \
             Request or URL",
        )),
    }
}

#[wasm_bindgen(typescript_custom_section)]
const TS_JSON: &str = r#"
/**
 * What `parseJson` reads: JSON text as a string (sent to the isolate in slices), bytes of JSON
 * text (an `ArrayBuffer` or a `Uint8Array`: moved by transfer, so detached here; a view over
 * part of a buffer is copied first), a `Blob`/`File` or a `Response` (read in the isolate), or
 * a `URL` or `Request` (fetched by the isolate). A string is always JSON text, never a URL.
 */
export type ParseJsonSource = string | ArrayBuffer | Uint8Array | Blob | Response | Request | URL;

/** What `onProgress` receives. */
export interface JsonProgress {
    /**
     * `"sending"` (a string source, in UTF-16 units); `"parsing"`: 0 of 1 at the start, then bytes
     * parsed of the document's bytes about every 4 MiB (top-level arrays; a document cut into
     * parts reports its first part only), then 1 of 1 when done; `"delivering"` (records, mode
     * `objects`; from the root array the total is estimated from the bytes parsed until the parse
     * is over, since records are delivered while the isolate parses). `done / total` is the
     * fraction done in every stage.
     */
    stage: "sending" | "parsing" | "delivering";
    done: number;
    total: number;
}

/** Options of `JsonDocument.objects` (and of `parseJson` in mode `objects`). */
export interface JsonObjectsOptions {
    /** JSON pointer of the array to deliver (modes `columns` and `objects`). Default: `""`, the root. */
    pointer?: string;
    /** Main-thread time per slice of records, in milliseconds (mode `objects`). Default: 4. */
    budgetMs?: number;
    /**
     * Mode `objects`: main-thread milliseconds of work after each rendered frame (slices are
     * parsed right after a frame until this is spent, then the next frame is awaited). This is
     * the most: after a missed frame it shrinks (to a quarter at least) and grows back while
     * frames are kept. Default: 10.
     */
    frameBudgetMs?: number;
    /** Called as the work advances; an exception it throws is ignored. */
    onProgress?: (progress: JsonProgress) => void;
    /** Aborting it rejects with the signal's `reason` (an `AbortError` by default). */
    signal?: AbortSignal;
}

/** Options of `parseJson`. */
export interface ParseJsonOptions extends JsonObjectsOptions {
    /**
     * What `parseJson` resolves with: `"handle"` (default) a `JsonDocument` kept in its isolate,
     * `"columns"` a `JsonColumns`, `"objects"` the array at `pointer` as JS objects, delivered
     * in slices across frames.
     */
    mode?: "handle" | "columns" | "objects";
    /** Mode `columns`: the fields (paths such as `"location/lat"`). Default: the scalar fields of the first record. */
    fields?: readonly string[];
    /**
     * Mode `columns` with `fields` and the root array: cut a large document (4 MiB a part or more)
     * into at most this many parts, parsed by as many isolates at once; 1 parses it in one piece.
     * The result is the same either way. Default: `navigator.hardwareConcurrency - 1` (at least 1, at most 8).
     */
    parts?: number;
}

/** Strings of a column: record `i` is `utf8[offsets[i]..offsets[i + 1]]` (empty where missing). */
export interface JsonTextColumn {
    kind: "text";
    /** All strings, UTF-8, concatenated. */
    utf8: Uint8Array;
    /** `length + 1` offsets into `utf8`. */
    offsets: Uint32Array;
}

/** Booleans of a column: 1 true, 0 false, 2 missing. */
export interface JsonBoolColumn {
    kind: "bool";
    values: Uint8Array;
}

/**
 * One column: numbers as a `Float64Array` (`NaN` where a record lacks the field or holds
 * something else), strings, booleans, or `null` when no record holds a number, string or boolean
 * there.
 */
export type JsonColumn = Float64Array | JsonTextColumn | JsonBoolColumn | null;

/** Fields of an array of records as typed columns, moved here by transfer. */
export interface JsonColumns {
    /** Number of records. */
    length: number;
    /** One column per field asked for, by field path. */
    columns: Record<string, JsonColumn>;
    /** How many parts the document was parsed in at once (option `parts`); 1 when read in one piece. */
    parts: number;
}

/** `JsonDocument.kind`: the type of the top-level value (`"closed"` once the document is closed). */
export type JsonKind = "array" | "object" | "string" | "number" | "boolean" | "null" | "closed";

/**
 * `parseJson(source, options?)`: parses JSON in an isolate, leaving this thread free. With mode
 * `"handle"` (the default) resolves with a `JsonDocument` kept in its isolate (query it with
 * `len`, `get`, `slice`, `select`; free it with `close()`). Malformed JSON rejects with a
 * `JsonError`: `offset`, `line`, `column` in the source's units (UTF-16 units for a string, bytes
 * otherwise) and `byteOffset` in bytes of the UTF-8 text.
 */
export function parseJson(source: ParseJsonSource, options?: ParseJsonOptions & { mode?: "handle" }): Promise<JsonDocument>;
/** `parseJson(source, {mode: "columns", fields?, pointer?})`: the fields of the array of records at `pointer` as typed columns. */
export function parseJson(source: ParseJsonSource, options: ParseJsonOptions & { mode: "columns" }): Promise<JsonColumns>;
/** `parseJson(source, {mode: "objects", pointer?, budgetMs?})`: the array at `pointer` as JS objects, delivered in slices within `budgetMs` of main-thread time each, right after frames; a value that is not an array rejects with a `JsonError`. */
export function parseJson(source: ParseJsonSource, options: ParseJsonOptions & { mode: "objects" }): Promise<unknown[]>;
/** `parseJson(source, options?)`: the result's type follows `options.mode`. */
export function parseJson(source: ParseJsonSource, options?: ParseJsonOptions): Promise<JsonDocument | JsonColumns | unknown[]>;
"#;

/// `parseJson(source, options?)`: parses JSON in an isolate; see docs/json.md for sources, modes
/// and options. Its TypeScript declaration (one overload per mode) is in `TS_JSON` above.
#[wasm_bindgen(js_name = parseJson, skip_typescript)]
pub async fn parse_json(source: JsValue, options: JsValue) -> Result<JsValue, JsValue> {
    let options = Options::read(&options)?;
    let signal = options.signal.clone();
    abortable(signal.as_ref(), async {
        options.progress("parsing", 0.0, 1.0);
        let source = source_of(source).await?;
        let from_string = matches!(source, JsonSource::Text(_));
        let fault = |f| json_error(f, from_string);
        let total = match &source {
            JsonSource::Text(text) => text.length() as f64,
            _ => 0.0,
        };
        let on_slice = |done: u32| options.progress("sending", done as f64, total);
        let (progress, listening) = options.parse_progress()?;
        if options.mode == Mode::Objects && options.pointer.is_empty() {
            // The root array's elements come while the isolate parses; no document is kept.
            let reports = (progress, listening);
            return objects_streamed(source, &options, on_slice, reports, from_string).await;
        }
        if options.mode == Mode::Columns && options.pointer.is_empty() && !options.fields.is_empty()
        {
            // The records' fields are picked out as the parse goes; no document is kept.
            let fields: Vec<&str> = options.fields.iter().map(String::as_str).collect();
            let parts = options.parts.unwrap_or_else(json::default_parts);
            let columns = crate::json::document::parse_columns_with(
                source, &fields, parts, on_slice, progress,
            )
            .await
            .map_err(fault)?;
            reports_done(listening).await;
            options.progress("parsing", 1.0, 1.0);
            return Ok(columns_to_js(columns));
        }
        let doc = Rc::new(
            JsonDocument::parse_with(source, on_slice, progress)
                .await
                .map_err(fault)?,
        );
        reports_done(listening).await;
        options.progress("parsing", 1.0, 1.0);
        match options.mode {
            Mode::Handle => Ok(JsonDocumentJs {
                doc: RefCell::new(Some(doc)),
            }
            .into()),
            Mode::Columns => {
                let fields = if options.fields.is_empty() {
                    default_fields(&doc, &options.pointer).await?
                } else {
                    options.fields.clone()
                };
                let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
                Ok(columns_to_js(doc.select(&options.pointer, &refs).await?))
            }
            Mode::Objects => objects(&doc, &options).await,
        }
    })
    .await
}

/// A parse's failure in JS. A `JsonError`'s `offset` and `column` are in the units of the source
/// the caller gave: UTF-16 units for a JS string (as `JSON.parse`'s own positions are), bytes
/// otherwise; `byteOffset` is always the offset in bytes of the UTF-8 text (a leading byte order
/// mark counted), so both are at hand.
fn json_error(fault: JsonFault, from_string: bool) -> JsValue {
    let num = |n: u64| JsValue::from(n as f64);
    match (&fault.error, fault.utf16) {
        (
            IsolateError::Json {
                message,
                offset: Some(byte_offset),
                line,
                ..
            },
            Some((offset, column)),
        ) if from_string => crate::js::js_error(
            "JsonError",
            &format!("invalid JSON at offset {offset} (byte {byte_offset}): {message}"),
            &[
                ("offset", num(offset)),
                ("line", line.map_or(JsValue::NULL, num)),
                ("column", num(column)),
                ("byteOffset", num(*byte_offset)),
            ],
        ),
        _ => JsValue::from(IsolateError::from(fault)),
    }
}

/// The scalar-valued keys of the first record, in document order.
async fn default_fields(doc: &JsonDocument, pointer: &str) -> Result<Vec<String>, JsValue> {
    // An empty array has no first record, hence no fields (and no error); a value that is not an
    // array rejects here, as `select` would.
    if doc.array_len(pointer).await? == 0 {
        return Ok(Vec::new());
    }
    Ok(doc.scalar_keys(&format!("{pointer}/0")).await?)
}

fn columns_to_js(cols: Columns) -> JsValue {
    let out = Object::new();
    let columns = Object::new();
    for (name, column) in cols.fields.iter().zip(cols.columns) {
        let value: JsValue = match column {
            Column::Number(values) => values.view().into(),
            Column::Text { utf8, offsets } => {
                let o = Object::new();
                let _ = Reflect::set(&o, &"kind".into(), &"text".into());
                let _ = Reflect::set(&o, &"utf8".into(), &utf8.view());
                let _ = Reflect::set(&o, &"offsets".into(), &offsets.view());
                o.into()
            }
            Column::Bool(values) => {
                let o = Object::new();
                let _ = Reflect::set(&o, &"kind".into(), &"bool".into());
                let _ = Reflect::set(&o, &"values".into(), &values.view());
                o.into()
            }
            _ => JsValue::NULL,
        };
        let _ = Reflect::set(&columns, &JsValue::from_str(name), &value);
    }
    let _ = Reflect::set(&out, &"length".into(), &(cols.len as f64).into());
    let _ = Reflect::set(&out, &"columns".into(), &columns);
    let _ = Reflect::set(&out, &"parts".into(), &cols.parts.into());
    out.into()
}

/// Parses JSON text bytes on this thread (for small slices).
fn parse_text(bytes: &TransferBuffer<u8>) -> Result<JsValue, JsValue> {
    let decoder = web_sys::TextDecoder::new()?;
    let text = decoder.decode_with_buffer_source(&bytes.view())?;
    js_sys::JSON::parse(&text)
}

#[wasm_bindgen(module = "/src/json/page.js")]
extern "C" {
    /// `JSON.parse` of a slice of records, appended to `out`; the number appended.
    #[wasm_bindgen(js_name = appendParsed, catch)]
    fn append_parsed(out: &Array, bytes: &Uint8Array) -> Result<f64, JsValue>;
    /// The next slot of main-thread time: right after the next frame is rendered (or a plain
    /// macrotask where no frame will come); resolves with its start time.
    #[wasm_bindgen(js_name = nextSlot)]
    fn next_slot(max_wait_ms: f64) -> Promise;
}

/// Slices requested from the isolate ahead of the one being parsed: the isolate cuts the next
/// ones while this thread parses, so a slot never waits for text.
const SLICES_AHEAD: usize = 3;

/// How long a slot waits for a frame before it starts without one (a page hidden meanwhile
/// renders no frames).
const SLOT_MAX_WAIT_MS: f64 = 100.0;

/// Main-thread time in *slots* that start right after a frame is rendered (`nextSlot`), for
/// building objects without losing a frame.
///
/// Why frames are kept: a slot takes slices only while the time spent since it started, plus
/// what the next slice is expected to cost (measured per byte on the slices before), stays within
/// the slot's budget; then it waits for the next frame. So the page's own work between two frames
/// is bounded by the slot budget, and what the engine adds on top (the garbage collections of the
/// growing graph, which land in whichever slice allocates when the heap fills, or run between
/// tasks) has the rest of the frame interval to fit in. The cost per byte is re-measured on every
/// slice, slow to forget a costly one (a collection landed in it) and quick to learn one.
/// docs/json.md has the figures.
struct Slots {
    /// When the current slot started; `None` before the first.
    start: Option<f64>,
    /// The slot budget now, and at most (`frameBudgetMs`).
    budget_ms: f64,
    max_budget_ms: f64,
    /// What the first slice is expected to cost, before anything is measured.
    first_guess_ms: f64,
    /// Main-thread milliseconds per byte of text, once measured.
    per_byte: Option<f64>,
}

/// An interval between two slot starts longer than this means a frame was missed (the demo's
/// frame monitor counts rAF gaps over 25 ms: 60 Hz jitter alone reaches about 22 ms).
const MISSED_FRAME_MS: f64 = 25.0;

impl Slots {
    fn new(budget_ms: f64, first_guess_ms: f64) -> Self {
        Slots {
            start: None,
            budget_ms,
            max_budget_ms: budget_ms,
            first_guess_ms,
            per_byte: None,
        }
    }

    /// `JSON.parse` of `text` (a JSON array), its elements appended to `out`, in the current slot
    /// if its expected cost fits there, else at the start of the next one. Returns the number of
    /// elements appended and the milliseconds it took.
    ///
    /// The budget adapts to what the frames show: when the slot after a full one starts a missed
    /// frame later (a collection, the page's own work, or a busy machine took the rest of the
    /// interval), the budget shrinks to 60 %, down to a quarter of `frameBudgetMs`; each slot on
    /// time gives back half a millisecond. So the pauses that cannot be measured from inside a
    /// slice still size the slots.
    async fn append(&mut self, out: &Array, text: &Uint8Array) -> Result<(f64, f64), JsValue> {
        let now = crate::platform::host::now;
        let bytes = f64::from(text.length().max(1));
        let expected = self.per_byte.map_or(self.first_guess_ms, |p| p * bytes);
        let asked = now();
        let fits = self
            .start
            .is_some_and(|start| asked - start + expected <= self.budget_ms);
        if !fits {
            let start = JsFuture::from(next_slot(SLOT_MAX_WAIT_MS))
                .await?
                .as_f64()
                .unwrap_or_else(now);
            // Only a slot asked for as soon as the one before was full tells whether frames
            // were kept: after a wait for data the interval says nothing.
            if let Some(previous) = self.start.filter(|p| asked - p <= self.budget_ms + 4.0) {
                self.budget_ms = if start - previous > MISSED_FRAME_MS {
                    (self.budget_ms * 0.6).max(self.max_budget_ms / 4.0)
                } else {
                    (self.budget_ms + 0.5).min(self.max_budget_ms)
                };
            }
            self.start = Some(start);
        }
        let t0 = now();
        let appended = append_parsed(out, text)?;
        let spent = now() - t0;
        let measured = spent.max(0.01) / bytes;
        self.per_byte = Some(
            self.per_byte
                .map_or(measured, |p| measured.max(p * 0.5 + measured * 0.5)),
        );
        Ok((appended, spent))
    }
}

/// Bytes of text per run (one `JSON.parse` call) in mode `objects` from the root array, per
/// millisecond of `budgetMs`: 256 KiB at the default 4 ms. `JSON.parse` builds records at
/// roughly 100–250 KB per ms in both engines here (measured on the demo's datasets), so a run
/// stays within its budget and a slot holds several; the slot is then filled run by run from
/// the measured cost. Smaller runs would cost more calls and messages for nothing.
const RUN_BYTES_PER_BUDGET_MS: f64 = 64.0 * 1024.0;
const MIN_RUN_BYTES: f64 = 16.0 * 1024.0;

/// What the loop of [`objects_streamed`] waits for.
enum StreamEvent {
    Chunk(Option<Result<crate::json::inside::ArrayChunk, IsolateError>>),
    End(Result<(u64, u64), JsonFault>),
}

/// Mode `objects` for the root array: the isolate sends runs of elements as JSON text *while* it
/// parses (`json::inside::stream_root_array`), and this thread `JSON.parse`s them in slots right
/// after frames ([`Slots`]). So building objects starts once the first runs have been read, not
/// after the whole document has been parsed, and no document is kept. A malformed document
/// rejects as soon as the isolate reports the error, whatever has been built by then.
async fn objects_streamed(
    source: JsonSource,
    options: &Options,
    on_slice: impl FnMut(u32),
    reports: (
        crate::json::progress::ProgressPort,
        Option<ProgressListener>,
    ),
    from_string: bool,
) -> Result<JsValue, JsValue> {
    let (progress, mut listening) = reports;
    use std::collections::VecDeque;
    use std::task::Poll;
    let mut port = ReceivePort::<crate::json::inside::ArrayChunk>::new()?;
    let run_bytes =
        (options.budget_ms * RUN_BYTES_PER_BUDGET_MS).clamp(MIN_RUN_BYTES, 16.0 * 1048576.0);
    let mut end = Box::pin(crate::json::document::stream_root_array_with(
        source,
        on_slice,
        progress,
        port.send_port(),
        run_bytes as u32,
    ));
    let out = Array::new();
    let mut slots = Slots::new(options.slot_budget_ms, options.budget_ms);
    let mut runs: VecDeque<Uint8Array> = VecDeque::new();
    // (messages sent, elements) once the isolate has finished.
    let mut finished: Option<(u64, u64)> = None;
    let mut received = 0u64;
    // Elements received, and the estimated total until the isolate has finished.
    let mut coming = 0u64;
    let mut estimate = 0.0;
    let mut delivered = 0.0;
    loop {
        if let Some(run) = runs.pop_front() {
            let (appended, _) = slots.append(&out, &run).await?;
            delivered += appended;
            let total = finished.map_or(estimate, |(_, n)| n as f64);
            options.progress("delivering", delivered, total.max(delivered));
            continue;
        }
        if finished.is_some_and(|(messages, _)| received >= messages) {
            break;
        }
        // The end first: a failure rejects at once, with runs still queued.
        let event = std::future::poll_fn(|cx| {
            if finished.is_none() {
                if let Poll::Ready(result) = end.as_mut().poll(cx) {
                    return Poll::Ready(StreamEvent::End(result));
                }
            }
            Pin::new(&mut port).poll_next(cx).map(StreamEvent::Chunk)
        })
        .await;
        match event {
            StreamEvent::End(Ok(done)) => {
                finished = Some(done);
                reports_done(listening.take()).await;
                options.progress("parsing", 1.0, 1.0);
            }
            StreamEvent::End(Err(fault)) => return Err(json_error(fault, from_string)),
            StreamEvent::Chunk(Some(Ok(chunk))) => {
                received += 1;
                let text = chunk.text.view();
                let mut from = 0;
                for &to in &chunk.ends {
                    runs.push_back(text.subarray(from, to));
                    from = to;
                }
                coming += u64::from(chunk.elements);
                estimate = (coming as f64 * chunk.of as f64 / chunk.upto.max(1) as f64).round();
            }
            StreamEvent::Chunk(Some(Err(e))) => return Err(e.into()),
            StreamEvent::Chunk(None) => return Err(IsolateError::Closed.into()),
        }
    }
    port.close();
    Ok(out.into())
}

/// Delivers the array at `pointer` of a parsed document as JS objects, slice by slice: each
/// slice is parsed here by `JSON.parse` (cheaper than rebuilding a structured clone) and appended
/// to the result, in [`Slots`] right after frames. Each slice is sized to `budget_ms` from the
/// measured cost per record, so a slot holds several.
async fn objects(doc: &JsonDocument, options: &Options) -> Result<JsValue, JsValue> {
    use std::collections::VecDeque;
    let pointer = options.pointer.as_str();
    // What `objects` delivers is an array: anything else rejects with a `JsonError`, whatever its
    // kind (docs/json.md), rather than some values resolving `[]`.
    let len = doc.array_len(pointer).await?;
    let out = Array::new();
    let mut slots = Slots::new(options.slot_budget_ms, options.budget_ms);
    let mut size: u64 = 256;
    let mut requested = 0u64;
    let mut in_flight = VecDeque::with_capacity(SLICES_AHEAD);
    loop {
        while in_flight.len() < SLICES_AHEAD && requested < len {
            let end = (requested + size).min(len);
            in_flight.push_back((
                requested,
                end,
                doc.slice_text_handle(pointer, requested, end),
            ));
            requested = end;
        }
        let Some((_, end, request)) = in_flight.pop_front() else {
            break;
        };
        let slice = request.await?.map_err(IsolateError::from)?;
        let (appended, spent) = slots.append(&out, &slice.view()).await?;
        options.progress("delivering", end as f64, len as f64);
        let measured = spent.max(0.01) / appended.max(1.0);
        // Slices of 80 % of the budget; grow at most 4x per step.
        size = ((options.budget_ms * 0.8 / measured) as u64).clamp(16, size * 4);
    }
    Ok(out.into())
}

/// A parsed JSON document kept in its isolate (JS class `JsonDocument`).
#[wasm_bindgen(js_name = JsonDocument)]
pub struct JsonDocumentJs {
    doc: RefCell<Option<Rc<JsonDocument>>>,
}

impl JsonDocumentJs {
    fn doc(&self) -> Result<Rc<JsonDocument>, JsValue> {
        self.doc
            .borrow()
            .clone()
            .ok_or_else(|| IsolateError::Closed.into())
    }

    fn promise<F, Fut>(&self, f: F) -> Promise
    where
        F: FnOnce(Rc<JsonDocument>) -> Fut,
        Fut: Future<Output = Result<JsValue, JsValue>> + 'static,
    {
        match self.doc() {
            Ok(doc) => future_to_promise(f(doc)),
            Err(e) => Promise::reject(&e),
        }
    }
}

#[wasm_bindgen(js_class = JsonDocument)]
impl JsonDocumentJs {
    /// Size of the JSON text in bytes.
    #[wasm_bindgen(getter, js_name = byteLength)]
    pub fn byte_length(&self) -> f64 {
        self.doc().map_or(0.0, |d| d.info().byte_length as f64)
    }

    /// `"array"`, `"object"`, `"string"`, `"number"`, `"boolean"` or `"null"` (`"closed"` after
    /// `close()`).
    #[wasm_bindgen(getter, unchecked_return_type = "JsonKind")]
    pub fn kind(&self) -> String {
        self.doc()
            .map_or_else(|_| "closed".into(), |d| d.info().kind.clone())
    }

    /// Elements (array) or distinct keys (object, as `JSON.parse` keeps them) at the top level.
    #[wasm_bindgen(getter)]
    pub fn length(&self) -> f64 {
        self.doc().map_or(0.0, |d| d.info().len as f64)
    }

    /// `len(pointer = "")`: length of the array, object (distinct keys) or string (UTF-16 units,
    /// as JS `.length`) at a JSON pointer.
    #[wasm_bindgen(unchecked_return_type = "Promise<number>")]
    pub fn len(&self, pointer: Option<String>) -> Promise {
        self.promise(|doc| async move {
            Ok((doc.len(&pointer.unwrap_or_default()).await? as f64).into())
        })
    }

    /// `get(pointer = "")`: the value at a JSON pointer (keep it small).
    #[wasm_bindgen(unchecked_return_type = "Promise<unknown>")]
    pub fn get(&self, pointer: Option<String>) -> Promise {
        self.promise(|doc| async move {
            // The original text, parsed here: keys stay in document order.
            parse_text(&doc.get_text(&pointer.unwrap_or_default()).await?)
        })
    }

    /// `slice(pointer, start, end)`: elements `start..end` of an array, as JS objects.
    #[wasm_bindgen(unchecked_return_type = "Promise<unknown[]>")]
    pub fn slice(&self, pointer: Option<String>, start: f64, end: f64) -> Promise {
        self.promise(|doc| async move {
            let text = doc
                .slice_text(
                    &pointer.unwrap_or_default(),
                    start.max(0.0) as u64,
                    end.max(0.0) as u64,
                )
                .await?;
            parse_text(&text)
        })
    }

    /// `select(pointer, fields)`: fields of an array of records as typed columns.
    #[wasm_bindgen(unchecked_return_type = "Promise<JsonColumns>")]
    pub fn select(
        &self,
        pointer: Option<String>,
        #[wasm_bindgen(unchecked_param_type = "readonly string[]")] fields: Vec<String>,
    ) -> Promise {
        self.promise(|doc| async move {
            let refs: Vec<&str> = fields.iter().map(String::as_str).collect();
            Ok(columns_to_js(
                doc.select(&pointer.unwrap_or_default(), &refs).await?,
            ))
        })
    }

    /// `objects({pointer, budgetMs, onProgress, signal})`: the whole array as JS objects,
    /// delivered in slices within a main-thread time budget per slice.
    #[wasm_bindgen(unchecked_return_type = "Promise<unknown[]>")]
    pub fn objects(
        &self,
        #[wasm_bindgen(unchecked_optional_param_type = "JsonObjectsOptions")] options: JsValue,
    ) -> Promise {
        let options = match Options::read(&options) {
            Ok(o) => o,
            Err(e) => return Promise::reject(&e),
        };
        self.promise(|doc| async move {
            let signal = options.signal.clone();
            abortable(signal.as_ref(), objects(&doc, &options)).await
        })
    }

    /// Stops the document's isolate; later calls reject.
    pub fn close(&self) {
        self.doc.borrow_mut().take();
    }
}

/// `prewarmJson()`: starts a JSON isolate now, so the next `parseJson` pays no worker start.
#[wasm_bindgen(js_name = prewarmJson)]
pub fn prewarm_json() -> Result<(), JsValue> {
    Ok(JsonDocument::prewarm()?)
}

/// `generateDataset(kind, megabytes, seed = 1)`: JSON text (`Uint8Array`) of about that size,
/// generated in an isolate and moved here by transfer. `kind` is `"points"` or `"products"`.
#[wasm_bindgen(js_name = generateDataset)]
pub async fn generate_dataset(
    #[wasm_bindgen(unchecked_param_type = "\"points\" | \"products\"")] kind: String,
    megabytes: f64,
    seed: Option<f64>,
) -> Result<Uint8Array, JsValue> {
    let seed = seed.unwrap_or(1.0).max(1.0) as u64;
    let bytes = crate::run::run(crate::json::dataset::generate, (kind, megabytes, seed))
        .await?
        .map_err(type_error)?;
    Ok(bytes.view())
}
