//! What the JSON service sends between the caller and its isolates: sources, document facts,
//! columns, and failures.

use crate::error::IsolateError;
use crate::json::columns::{ColumnsBuilder, RecordColumn};
use crate::json::tape;
use crate::wire::transfer::{TransferBuffer, Transferable};
use serde::{Deserialize, Serialize};

/// Where a document comes from.
#[derive(Serialize, Deserialize)]
pub(crate) enum Source {
    /// Bytes, moved by transfer.
    Bytes(TransferBuffer<u8>),
    /// A URL the isolate fetches itself.
    Url(String),
    /// A `Blob` (or `File`), read in the isolate.
    Blob(Transferable<web_sys::Blob>),
    /// A `Request`, made again and fetched in the isolate: its URL and the `RequestInit` to make
    /// it with (see `requestParts` in src/json/stream.js).
    Request {
        url: String,
        init: Transferable<js_sys::Object>,
    },
    /// A `Response`'s body: its `ReadableStream`, moved by transfer, and its length if known.
    Stream {
        body: Transferable<js_sys::Object>,
        length: Option<u64>,
    },
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

/// Fields of an array of records, column by column; see [`JsonDocument::select`](crate::json::JsonDocument::select).
#[derive(Serialize, Deserialize, Debug)]
#[non_exhaustive]
pub struct Columns {
    /// Number of records.
    pub len: u64,
    /// The field paths asked for, in order.
    pub fields: Vec<String>,
    /// One column per field.
    pub columns: Vec<Column>,
    /// How many parts the document was parsed in at once (see [`parse_columns_in_parts`](crate::json::parse_columns_in_parts)); 1
    /// when it was read in one piece.
    pub parts: u32,
}

/// Why a parse or a query failed, as the isolate reports it.
#[derive(Serialize, Deserialize, Debug)]
pub(crate) struct JsonFailure {
    message: String,
    /// Byte offset, line, byte column.
    position: Option<(u64, u64, u64)>,
    /// The same offset and column in UTF-16 units (for a JS string source).
    utf16: Option<(u64, u64)>,
}

/// A failure of the JSON service before it becomes an [`IsolateError`]: the error, and where a
/// syntax error lies in UTF-16 units (offset, column) — what the JS face reports for a JS string
/// source, whose positions are in its own units, not in the bytes the isolate parsed.
/// `IsolateError::Json` has room for one position only (bytes, as the Rust API documents).
#[derive(Debug)]
pub(crate) struct JsonFault {
    pub error: IsolateError,
    pub utf16: Option<(u64, u64)>,
}

impl From<IsolateError> for JsonFault {
    fn from(error: IsolateError) -> Self {
        JsonFault { error, utf16: None }
    }
}

impl From<JsonFailure> for JsonFault {
    fn from(f: JsonFailure) -> Self {
        let utf16 = f.utf16;
        JsonFault {
            error: f.into(),
            utf16,
        }
    }
}

impl From<JsonFault> for IsolateError {
    fn from(f: JsonFault) -> Self {
        f.error
    }
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

pub(crate) fn syntax_failure(e: tape::SyntaxError) -> JsonFailure {
    JsonFailure {
        message: e.message,
        position: Some((e.offset, e.line, e.column)),
        utf16: Some((e.utf16_offset, e.utf16_column)),
    }
}

pub(crate) fn failure(message: impl Into<String>) -> JsonFailure {
    JsonFailure {
        message: message.into(),
        position: None,
        utf16: None,
    }
}

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
pub(crate) fn finish_columns(builder: ColumnsBuilder, fields: Vec<String>) -> Columns {
    let (len, columns) = builder.finish();
    Columns {
        len,
        fields,
        columns: columns.into_iter().map(Column::from).collect(),
        parts: 1,
    }
}
