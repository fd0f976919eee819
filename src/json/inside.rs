//! The JSON service inside its isolate: the document it holds, the tasks that parse and query
//! it, and the parts of a document cut across several isolates.

use crate::json::body::{self, Body};
use crate::json::columns::{columns_of_text, ColumnBuilder, ColumnsBuilder, ColumnsTextError};
use crate::json::parts::{self, Cut};
use crate::json::progress::{ParseProgress, ProgressPort};
use crate::json::staged::{SliceOf, StagedText};
use crate::json::tape::{self, Kind, StreamParser, Tape, TapeView};
use crate::json::wire::{
    failure, finish_columns, syntax_failure, Columns, DocumentInfo, JsonFailure, Source,
};
use crate::port::SendPort;
use crate::wire::control::CancellationToken;
use crate::wire::transfer::TransferBuffer;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::cell::RefCell;

thread_local! {
    /// The document this isolate holds (one per isolate: each `JsonDocument` has its own).
    pub(crate) static DOC: RefCell<Option<Tape>> = const { RefCell::new(None) };
    /// Node indices of the elements of the array last sliced, so paging through an array of
    /// N records costs O(N) in all rather than O(N) per page.
    pub(crate) static ELEMENTS: RefCell<Option<(usize, Vec<u32>)>> = const { RefCell::new(None) };
    /// A string source's slices (see `json::staged`).
    pub(crate) static STAGED: RefCell<StagedText> = const { RefCell::new(StagedText::Empty) };
}

/// Appends a slice of a JS string source, encoded as UTF-8 by the caller (`written` bytes of
/// `bytes`, which has room to spare), to what is staged for the next parse: parsed at once for a
/// document, kept as text otherwise (see `json::staged`). Returns the bytes staged so far.
pub(crate) fn stage_text(slice: (TransferBuffer<u8>, u32, bool, bool, u32)) -> u64 {
    // A tuple, not `SliceOf` itself: a derived `Deserialize` for a struct is kilobytes of wasm.
    let (bytes, written, first, parse, size_hint) = slice;
    let of = SliceOf {
        first,
        parse,
        size_hint,
    };
    let view = bytes.view();
    let written = written.min(view.length());
    STAGED.with(|s| {
        s.borrow_mut().push(
            written as usize,
            |into| view.subarray(0, written).copy_to(into),
            of,
        )
    })
}

/// Frees the isolate's document: two large tapes need not coexist.
fn free_document() {
    DOC.with(|d| d.borrow_mut().take());
    ELEMENTS.with(|e| e.borrow_mut().take());
}

/// Parses `bytes` into the isolate's document.
pub(crate) fn parse_bytes(
    bytes: Vec<u8>,
    progress: &ProgressPort,
) -> Result<DocumentInfo, JsonFailure> {
    free_document();
    let mut report = ParseProgress::new(progress, bytes.len());
    let tape = Tape::parse_watched(bytes, |offset| report.at(offset)).map_err(syntax_failure)?;
    Ok(keep(tape))
}

/// Keeps `tape` as the isolate's document; what the caller learns of it.
fn keep(tape: Tape) -> DocumentInfo {
    let root = tape.root();
    let (kind, len) = match tape.node(root).kind {
        Kind::Array => ("array", tape.children(root).count()),
        // Distinct keys, as `Object.keys(JSON.parse(text)).length` counts them.
        Kind::Object => ("object", tape.view().distinct_keys(root).len()),
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
    info
}

/// Parses `source` into the isolate's document. A URL, `Request`, `Response` or `Blob` is read
/// as a stream and parsed piece by piece as it arrives (see `json::body`); bytes and a staged
/// string are parsed whole.
pub(crate) async fn parse_source(
    args: (Source, ProgressPort),
) -> Result<DocumentInfo, JsonFailure> {
    let token = CancellationToken::current();
    let (source, progress) = args;
    if matches!(source, Source::Staged) {
        // Parsed as its slices arrived: only the end is left.
        free_document();
        let staged = STAGED.with(|s| std::mem::take(&mut *s.borrow_mut()));
        return Ok(keep(staged.finish_tape().map_err(syntax_failure)?));
    }
    if !body::is_streamed(&source) {
        return parse_bytes(read_source(source).await?, &progress);
    }
    free_document();
    let mut body = Body::open(source).await?;
    let mut parser = StreamParser::new(body::capacity(body.length));
    body.parse_into(&mut parser, &progress, token, &mut tape::keep_every_element)
        .await?;
    Ok(keep(parser.finish_tape().map_err(syntax_failure)?))
}

/// The bytes of `source`, read whole in the isolate.
pub(crate) async fn read_source(source: Source) -> Result<Vec<u8>, JsonFailure> {
    let bytes = match source {
        Source::Bytes(buffer) => buffer.to_vec(),
        Source::Staged => {
            let staged = STAGED.with(|s| std::mem::take(&mut *s.borrow_mut()));
            // Valid UTF-8 already: it was encoded from a JS string.
            return staged.into_text().map_err(syntax_failure);
        }
        Source::Url(url) => {
            let buffer =
                wasm_bindgen_futures::JsFuture::from(crate::platform::host::fetch_bytes(&url))
                    .await
                    .map_err(|e| failure(crate::wire::message::js_message(&e)))?;
            js_sys::Uint8Array::new(&buffer).to_vec()
        }
        Source::Blob(blob) => {
            let buffer =
                wasm_bindgen_futures::JsFuture::from(crate::platform::host::blob_bytes(&blob.0))
                    .await
                    .map_err(|e| failure(crate::wire::message::js_message(&e)))?;
            js_sys::Uint8Array::new(&buffer).to_vec()
        }
        source @ (Source::Request { .. } | Source::Stream { .. }) => {
            Body::open(source).await?.read_all().await?
        }
    };
    crate::wire::control::report_progress(bytes.len().min(i32::MAX as usize) as u32);
    // Bytes are read as `TextDecoder` reads them: invalid UTF-8 becomes U+FFFD (docs/json.md).
    Ok(tape::repair_utf8(bytes))
}

pub(crate) fn with_node<R>(
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
pub(crate) fn elements<R>(
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

pub(crate) fn len_at(pointer: String) -> Result<u64, JsonFailure> {
    with_node(&pointer, |tape, node| {
        Ok(match tape.node(node).kind {
            Kind::Array => elements(tape, node, &pointer, <[u32]>::len)?,
            Kind::Object => tape.view().distinct_keys(node).len(),
            // UTF-16 units, as JS `.length` counts them.
            Kind::Str | Kind::EscStr => tape.view().string_utf16_len(node).unwrap_or(0),
            _ => 0,
        } as u64)
    })
}

/// Elements of the array at `pointer`; an error naming the pointer for anything else (what mode
/// `objects` delivers is an array, whatever the value).
pub(crate) fn array_len_at(pointer: String) -> Result<u64, JsonFailure> {
    with_node(&pointer, |tape, node| {
        elements(tape, node, &pointer, |list| list.len() as u64)
    })
}

pub(crate) fn to_value(tape: &Tape, node: usize) -> Result<Value, JsonFailure> {
    serde_json::from_slice(tape.json_text(node)).map_err(|e| failure(e.to_string()))
}

pub(crate) fn get_at(pointer: String) -> Result<Value, JsonFailure> {
    with_node(&pointer, to_value)
}

/// The value at `pointer` as its original JSON text (key order kept).
pub(crate) fn text_at(pointer: String) -> Result<TransferBuffer<u8>, JsonFailure> {
    with_node(&pointer, |tape, node| {
        Ok(TransferBuffer::from_slice(tape.json_text(node)))
    })
}

/// Keys of the object at `pointer` whose values are numbers, strings or booleans, in order.
pub(crate) fn scalar_keys_at(pointer: String) -> Result<Vec<String>, JsonFailure> {
    with_node(&pointer, |tape, node| {
        let view = tape.view();
        let mut keys = Vec::new();
        if tape.node(node).kind != Kind::Object {
            // A record that is not an object has no fields.
            return Ok(keys);
        }
        // A repeated key once, judged by its last value (the one `JSON.parse` keeps).
        for k in view.distinct_keys(node) {
            let Some(key) = tape.string(k) else { continue };
            let scalar = view.member(node, &key).is_some_and(|v| {
                !matches!(tape.node(v).kind, Kind::Array | Kind::Object | Kind::Null)
            });
            if scalar {
                keys.push(key.into_owned());
            }
        }
        Ok(keys)
    })
}

pub(crate) fn clamp_range(len: usize, start: u64, end: u64) -> std::ops::Range<usize> {
    let end = (end.min(len as u64)) as usize;
    let start = (start as usize).min(end);
    start..end
}

/// Elements `start..end` of the array at `pointer` as JSON text: the original bytes from the
/// first element to the last, in brackets — one copy, no re-serialization.
pub(crate) fn slice_text_bytes(
    pointer: &str,
    start: u64,
    end: u64,
) -> Result<Vec<u8>, JsonFailure> {
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

pub(crate) fn slice_at(args: (String, u64, u64)) -> Result<Vec<Value>, JsonFailure> {
    let (pointer, start, end) = args;
    let text = slice_text_bytes(&pointer, start, end)?;
    serde_json::from_slice(&text).map_err(|e| failure(e.to_string()))
}

/// A slice as JSON text, for `JSON.parse` on the receiving thread (cheaper there than
/// rebuilding a structured clone).
pub(crate) fn slice_text_at(args: (String, u64, u64)) -> Result<TransferBuffer<u8>, JsonFailure> {
    let (pointer, start, end) = args;
    slice_text_bytes(&pointer, start, end).map(|t| TransferBuffer::from_slice(&t))
}

/// Runs of elements of the root array on their way to `parseJson(…, {mode: 'objects'})`, in one
/// message: `text` holds the runs one after the other, each its elements' original text in
/// brackets (`[` … `]`, ready for `JSON.parse` as it is), and `ends` where each run ends in
/// `text`. Several runs a message keep the receiving thread's messages few (one per
/// [`STREAM_MESSAGE_BYTES`]) while each run stays small enough for a slice of its time.
#[derive(Serialize, Deserialize)]
pub(crate) struct ArrayChunk {
    pub(crate) text: TransferBuffer<u8>,
    pub(crate) ends: Vec<u32>,
    /// Elements in all the runs.
    pub(crate) elements: u32,
    /// Offset in the document where the last run ends, and the document's length (bytes).
    pub(crate) upto: u64,
    pub(crate) of: u64,
}

/// Bytes of runs gathered into one message of [`stream_root_array`].
pub(crate) const STREAM_MESSAGE_BYTES: usize = 1 << 20;

/// Parses `source` without keeping a document and, when its top-level value is an array, sends
/// its elements to `sink` in runs of about `run_bytes` of text *while* it parses: the caller
/// builds objects from the first runs while this isolate is still reading the rest, instead of
/// waiting for a whole document to be parsed first. Returns how many messages were sent and how
/// many elements they hold, or the failure (malformed JSON — possibly after some messages were
/// sent — or a value other than an array, with the message an array asked of a document gives).
pub(crate) async fn stream_root_array(
    args: (Source, SendPort<ArrayChunk>, u32, ProgressPort),
) -> Result<(u64, u64), JsonFailure> {
    let (source, sink, run_bytes, progress) = args;
    let text = read_source(source).await?;
    let mut report = ParseProgress::new(&progress, text.len());
    let run_bytes = run_bytes.max(1) as usize;
    let mut runs = Runs {
        sink,
        of: text.len() as u64,
        message: Vec::with_capacity(STREAM_MESSAGE_BYTES + run_bytes + 2),
        ends: Vec::new(),
        elements: 0,
        upto: 0,
        messages: 0,
    };
    let mut open: Option<(usize, usize, u32)> = None; // (start, end, elements) of the open run
    let (kind, count) = tape::for_each_root_element(&text, |view, node| {
        let element = view.json_text(node);
        let start = element.as_ptr() as usize - view.text.as_ptr() as usize;
        let end = start + element.len();
        let (first, _, n) = open.unwrap_or((start, end, 0));
        report.at(view.nodes[node].start);
        if end - first >= run_bytes {
            runs.close(view.text, (first, end, n + 1));
            if runs.message.len() >= STREAM_MESSAGE_BYTES {
                runs.send();
            }
            open = None;
        } else {
            open = Some((first, end, n + 1));
        }
    })
    .map_err(syntax_failure)?;
    if kind != Kind::Array {
        return Err(failure("the value at `` is not an array".to_string()));
    }
    if let Some(run) = open {
        runs.close(&text, run);
    }
    runs.send();
    Ok((runs.messages, count))
}

/// The message [`stream_root_array`] is filling.
struct Runs {
    sink: SendPort<ArrayChunk>,
    of: u64,
    message: Vec<u8>,
    ends: Vec<u32>,
    elements: u32,
    upto: u64,
    messages: u64,
}

impl Runs {
    /// Adds the run of elements `start..end` of `text` (`n` of them) to the message.
    fn close(&mut self, text: &[u8], (start, end, n): (usize, usize, u32)) {
        self.message.push(b'[');
        self.message.extend_from_slice(&text[start..end]);
        self.message.push(b']');
        self.ends.push(self.message.len() as u32);
        self.elements += n;
        self.upto = end as u64;
    }

    /// Sends the message, if it holds a run.
    fn send(&mut self) {
        if self.ends.is_empty() {
            return;
        }
        let chunk = ArrayChunk {
            text: TransferBuffer::from_slice(&self.message),
            ends: std::mem::take(&mut self.ends),
            elements: std::mem::take(&mut self.elements),
            upto: self.upto,
            of: self.of,
        };
        self.message.clear();
        // A caller that stopped listening cancels this task; until then, keep parsing.
        let _ = self.sink.send(chunk);
        self.messages += 1;
    }
}

pub(crate) fn select_at(args: (String, Vec<String>)) -> Result<Columns, JsonFailure> {
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
pub(crate) fn columns_failure(e: ColumnsTextError) -> JsonFailure {
    match e {
        ColumnsTextError::Syntax(e) => syntax_failure(e),
        ColumnsTextError::NotAnArray => failure(
            "the top-level value is not an array (columns are taken from an array of records)",
        ),
    }
}

/// `fields` of the records of `text`'s top-level array, picked out while it is parsed (see
/// [`tape::for_each_root_element`]): no tape is kept, so this needs neither the memory of
/// one nor a second walk over it.
pub(crate) fn columns_of_whole(
    text: &[u8],
    fields: Vec<String>,
    progress: &ProgressPort,
) -> Result<Columns, JsonFailure> {
    let mut report = ParseProgress::new(progress, text.len());
    let builder =
        columns_of_text(text, &fields, |offset| report.at(offset)).map_err(columns_failure)?;
    Ok(finish_columns(builder, fields))
}

/// `fields` of the records of `body`'s top-level array, picked out as the body arrives and is
/// parsed: [`columns_of_whole`] piece by piece.
async fn columns_of_body(
    mut body: Body,
    fields: Vec<String>,
    progress: &ProgressPort,
    token: CancellationToken,
) -> Result<Columns, JsonFailure> {
    let mut builder = ColumnsBuilder::new(&fields);
    let mut parser = StreamParser::for_elements(body::capacity(body.length));
    let mut on_record = |view: TapeView<'_>, record: usize| {
        builder.record(view, record);
        true
    };
    body.parse_into(&mut parser, progress, token, &mut on_record)
        .await?;
    let (kind, _) = parser
        .finish_elements(&mut on_record)
        .map_err(syntax_failure)?;
    if kind != Kind::Array {
        return Err(columns_failure(ColumnsTextError::NotAnArray));
    }
    Ok(finish_columns(builder, fields))
}

// ------------------------------------------------ `parse_columns` across several isolates
//
// The first isolate reads the source and guesses where to cut it (`json::parts`); each other part
// goes to an isolate of its own, by transfer through the calling thread (a constant-time hand-on);
// all parts are parsed at once; the first isolate joins the columns — or, when a guess was wrong,
// the document malformed or a part lost with its isolate, reads its whole text again, which gives
// exactly what one isolate alone would have.

thread_local! {
    /// In the first isolate of a cut document: what it needs to join the parts.
    pub(crate) static CUT: RefCell<Option<CutDocument>> = const { RefCell::new(None) };
}

pub(crate) struct CutDocument {
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
pub(crate) enum CutOutcome {
    /// Not worth cutting (small, not an array, or no cut found): the columns, or the error.
    Whole(Result<Columns, JsonFailure>),
    /// The texts of parts 1.. for other isolates; part 0 stays here.
    Parts(Vec<TransferBuffer<u8>>),
}

/// One part's columns as its isolate built them, to be continued by the first isolate.
#[derive(Serialize, Deserialize)]
pub(crate) struct PartColumns {
    len: u64,
    columns: Vec<WireColumnPart>,
}

#[derive(Serialize, Deserialize)]
pub(crate) enum WireColumnPart {
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
pub(crate) async fn columns_cut(
    args: (Source, Vec<String>, u32, ProgressPort),
) -> Result<CutOutcome, JsonFailure> {
    let token = CancellationToken::current();
    let (source, fields, parts, progress) = args;
    free_document();
    CUT.with(|c| c.borrow_mut().take());
    let text = if body::is_streamed(&source) {
        let body = Body::open(source).await?;
        // Parts need the whole text first (their cuts are guessed in it): a source that its
        // length says would be cut is read whole; any other is parsed as it arrives, in one
        // part (an unknown length too: compressed or chunked).
        let whole = body
            .length
            .is_some_and(|n| parts >= 2 && n / parts::MIN_PART_BYTES as u64 >= 2);
        if !whole {
            let columns = columns_of_body(body, fields, &progress, token).await;
            return Ok(CutOutcome::Whole(columns));
        }
        tape::repair_utf8(body.read_all().await?)
    } else {
        read_source(source).await?
    };
    let cuts = parts::guess_cuts(&text, parts as usize);
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
pub(crate) fn part_buffer(
    text: &[u8],
    cuts: &[Cut],
    i: usize,
) -> Result<TransferBuffer<u8>, JsonFailure> {
    let (open, body, close) = parts::part_pieces(text, cuts, i);
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

/// First isolate: builds part 0's columns (in place: see `parts::with_first_part`).
pub(crate) fn columns_first_part(_: ()) {
    CUT.with(|c| {
        if let Some(doc) = c.borrow_mut().as_mut() {
            let mut report = ParseProgress::new(&doc.progress, doc.text.len());
            doc.first = parts::with_first_part(&mut doc.text, &doc.cuts, |part| {
                parts::part_columns(part, &doc.fields, |offset| report.at(offset))
            });
        }
    });
}

/// Another isolate: the columns of one part, or `None` when it does not parse.
pub(crate) fn columns_of_part(args: (TransferBuffer<u8>, Vec<String>)) -> Option<PartColumns> {
    let (text, fields) = args;
    parts::part_columns(&text.to_vec(), &fields, |_| {}).map(PartColumns::from)
}

/// First isolate: part 0's columns continued by the others' (`None` for a part that did not
/// parse or whose isolate failed); or the whole text read again when they do not all join.
pub(crate) fn columns_join(parts: Vec<Option<PartColumns>>) -> Result<Columns, JsonFailure> {
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
    columns_of_whole(&doc.text, doc.fields, &ProgressPort::none())
}

/// Runs in a JSON isolate whose document was dropped: frees it, so the isolate can be reused.
pub(crate) fn release(_: ()) {
    DOC.with(|d| d.borrow_mut().take());
    ELEMENTS.with(|e| e.borrow_mut().take());
    STAGED.with(|s| std::mem::take(&mut *s.borrow_mut()));
    // A cut document whose parts were abandoned (the caller aborted) holds its whole text.
    CUT.with(|c| c.borrow_mut().take());
}
