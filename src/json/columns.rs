//! Fields of an array of records as columns, built one record at a time — from a parsed tape
//! (`JsonDocument::select`) or while the text is parsed (`parse_columns`), which is why the
//! builder takes a [`TapeView`]. Plain vectors here; `json` moves them into transferable buffers.

use crate::json::tape::{for_each_root_element, pointer_tokens, Kind, SyntaxError, TapeView};

/// A finished column.
#[derive(Debug, PartialEq)]
pub(crate) enum RecordColumn {
    /// Numbers; NaN where a record lacks the field or holds something else.
    Number(Vec<f64>),
    /// 1 true, 0 false, 2 missing.
    Bool(Vec<u8>),
    /// Record `i` is `utf8[offsets[i]..offsets[i + 1]]` (empty where missing).
    Text { utf8: Vec<u8>, offsets: Vec<u32> },
    /// No number, string or boolean: the first value was an array or object, or there is none.
    Missing,
}

/// Why a part cannot continue the columns before it: the column's type was set by an earlier
/// part and this part typed it otherwise. The values that would have been kept are gone (a text
/// column does not keep numbers), so the document is read again in one piece.
#[derive(Debug, PartialEq)]
pub(crate) struct TypeMismatch;

/// Why no columns come out of a text.
#[derive(Debug)]
pub(crate) enum ColumnsTextError {
    Syntax(SyntaxError),
    NotAnArray,
}

/// The columns of `fields` over the top-level array of `text`, built while it is parsed;
/// `on_record(offset)` is called with each record's start offset (for progress).
pub(crate) fn columns_of_text(
    text: &[u8],
    fields: &[String],
    mut on_record: impl FnMut(u32),
) -> Result<ColumnsBuilder, ColumnsTextError> {
    let mut builder = ColumnsBuilder::new(fields);
    let (kind, _) = for_each_root_element(text, |view, record| {
        builder.record(view, record);
        on_record(view.nodes[record].start);
    })
    .map_err(ColumnsTextError::Syntax)?;
    if kind != Kind::Array {
        return Err(ColumnsTextError::NotAnArray);
    }
    Ok(builder)
}

/// Builds columns record by record: for each field (`"lat"` or a nested path
/// `"location/lat"`) the field's value in every record, typed by the first record that holds a
/// value other than `null` (a number, string or boolean; an array or object there makes the
/// column missing). One walk over each record's members serves all fields (their first
/// path tokens), instead of one walk per field. A key that appears twice counts by its last value,
/// as with `JSON.parse`.
pub(crate) struct ColumnsBuilder {
    /// Each field's path tokens.
    paths: Vec<Vec<String>>,
    /// Scratch: each field's value node in the current record.
    found: Vec<Option<usize>>,
    columns: Vec<ColumnBuilder>,
    len: u64,
}

/// One column being built. Also what one part of a split document (see `json::parts`) hands to
/// the part before it: unlike a [`RecordColumn`], it still tells "no value yet" (`Untyped`) from
/// "an array or object came first" (`Missing`), which decide differently how the next part joins.
#[derive(Debug, PartialEq)]
pub(crate) enum ColumnBuilder {
    /// No value yet other than `null`, in this many records.
    Untyped(usize),
    Number(Vec<f64>),
    Bool(Vec<u8>),
    Text {
        utf8: Vec<u8>,
        offsets: Vec<u32>,
    },
    /// The first value was an array or an object.
    Missing,
}

impl ColumnsBuilder {
    pub(crate) fn new(fields: &[String]) -> Self {
        ColumnsBuilder {
            paths: fields
                .iter()
                .map(|f| {
                    pointer_tokens(&format!("/{}", f.trim_start_matches('/'))).unwrap_or_default()
                })
                .collect(),
            found: vec![None; fields.len()],
            columns: fields.iter().map(|_| ColumnBuilder::Untyped(0)).collect(),
            len: 0,
        }
    }

    /// Adds record `record` (a node of `tape`).
    pub(crate) fn record(&mut self, tape: TapeView<'_>, record: usize) {
        self.len += 1;
        self.found.iter_mut().for_each(|f| *f = None);
        let is_object = tape.node(record).kind == Kind::Object;
        if is_object {
            // The hot loop of `columns` mode: every key of every record against every field.
            // Key lengths come from the nodes, so bytes are compared only when they match.
            let end = tape.node(record).next as usize;
            let mut key = record + 1;
            while key + 1 < end {
                let value = key + 1;
                let node = tape.node(key);
                match node.kind {
                    Kind::Str => {
                        let raw = tape.raw(key);
                        for (slot, path) in self.found.iter_mut().zip(&self.paths) {
                            if path.first().is_some_and(|first| first.as_bytes() == raw) {
                                *slot = Some(value);
                            }
                        }
                    }
                    Kind::EscStr => {
                        for (slot, path) in self.found.iter_mut().zip(&self.paths) {
                            if path.first().is_some_and(|first| tape.string_eq(key, first)) {
                                *slot = Some(value);
                            }
                        }
                    }
                    _ => {}
                }
                key = tape.node(value).next as usize;
            }
        }
        for ((column, path), slot) in self.columns.iter_mut().zip(&self.paths).zip(&self.found) {
            let value = match path.split_first() {
                Some((_, rest)) if is_object => slot.and_then(|v| tape.resolve(v, rest)),
                // Records that are arrays (`"0/1"`) or scalars: the general resolver.
                _ => tape.resolve(record, path),
            };
            column.push(tape, value);
        }
    }

    /// The number of records and one column per field.
    pub(crate) fn finish(self) -> (u64, Vec<RecordColumn>) {
        (
            self.len,
            self.columns
                .into_iter()
                .map(ColumnBuilder::finish)
                .collect(),
        )
    }
}

impl ColumnsBuilder {
    /// Records seen so far.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// The record count and the columns as they stand, for the next part to continue.
    pub(crate) fn into_parts(self) -> (u64, Vec<ColumnBuilder>) {
        (self.len, self.columns)
    }

    /// Continues these columns with those of the records that follow (`len` records, built by
    /// another builder for the same fields): the result equals one builder fed all records.
    pub(crate) fn append(
        &mut self,
        len: u64,
        parts: Vec<ColumnBuilder>,
    ) -> Result<(), TypeMismatch> {
        if parts.len() != self.columns.len() {
            return Err(TypeMismatch);
        }
        // Check every column before changing any, so a mismatch leaves `self` as it was.
        if !self.columns.iter().zip(&parts).all(|(c, p)| c.accepts(p)) {
            return Err(TypeMismatch);
        }
        for (column, part) in self.columns.iter_mut().zip(parts) {
            column.append(part);
        }
        self.len += len;
        Ok(())
    }
}

impl ColumnBuilder {
    fn push(&mut self, tape: TapeView<'_>, value: Option<usize>) {
        let kind = value.map(|v| tape.node(v).kind);
        if let ColumnBuilder::Untyped(before) = *self {
            *self = match kind {
                None | Some(Kind::Null) => ColumnBuilder::Untyped(before + 1),
                Some(Kind::Number) => ColumnBuilder::Number(vec![f64::NAN; before]),
                Some(Kind::True | Kind::False) => ColumnBuilder::Bool(vec![2; before]),
                Some(Kind::Str | Kind::EscStr) => ColumnBuilder::Text {
                    utf8: Vec::new(),
                    offsets: vec![0; before + 1],
                },
                Some(Kind::Array | Kind::Object) => ColumnBuilder::Missing,
            };
        }
        match self {
            ColumnBuilder::Untyped(_) | ColumnBuilder::Missing => {}
            ColumnBuilder::Number(values) => {
                values.push(value.and_then(|v| tape.number(v)).unwrap_or(f64::NAN));
            }
            ColumnBuilder::Bool(values) => values.push(match kind {
                Some(Kind::True) => 1,
                Some(Kind::False) => 0,
                _ => 2,
            }),
            ColumnBuilder::Text { utf8, offsets } => {
                if let Some(s) = value.and_then(|v| tape.string(v)) {
                    utf8.extend_from_slice(s.as_bytes());
                }
                offsets.push(utf8.len().min(u32::MAX as usize) as u32);
            }
        }
    }

    /// Whether `part` can follow this column (see [`TypeMismatch`]).
    fn accepts(&self, part: &ColumnBuilder) -> bool {
        match (self, part) {
            // The type is open, or already fixed as missing: anything may follow.
            (ColumnBuilder::Untyped(_) | ColumnBuilder::Missing, _) => true,
            // Records with nothing but `null` there read as missing values of any type.
            (_, ColumnBuilder::Untyped(_)) => true,
            (ColumnBuilder::Number(_), ColumnBuilder::Number(_)) => true,
            (ColumnBuilder::Bool(_), ColumnBuilder::Bool(_)) => true,
            (ColumnBuilder::Text { .. }, ColumnBuilder::Text { .. }) => true,
            _ => false,
        }
    }

    /// Appends `part` (checked with [`accepts`](Self::accepts)).
    fn append(&mut self, part: ColumnBuilder) {
        if let ColumnBuilder::Untyped(before) = *self {
            // As `push` does when the first value comes: the earlier records are missing values
            // of the type the part settled on; the part's own leading records are in it already.
            *self = match part {
                ColumnBuilder::Untyped(n) => ColumnBuilder::Untyped(before + n),
                ColumnBuilder::Missing => ColumnBuilder::Missing,
                ColumnBuilder::Number(values) => {
                    let mut all = vec![f64::NAN; before];
                    all.extend(values);
                    ColumnBuilder::Number(all)
                }
                ColumnBuilder::Bool(values) => {
                    let mut all = vec![2; before];
                    all.extend(values);
                    ColumnBuilder::Bool(all)
                }
                ColumnBuilder::Text { utf8, offsets } => {
                    let mut all = vec![0; before];
                    all.extend(offsets);
                    ColumnBuilder::Text { utf8, offsets: all }
                }
            };
            return;
        }
        match (self, part) {
            (ColumnBuilder::Missing, _) => {}
            (ColumnBuilder::Number(values), ColumnBuilder::Untyped(n)) => {
                values.extend(std::iter::repeat_n(f64::NAN, n));
            }
            (ColumnBuilder::Bool(values), ColumnBuilder::Untyped(n)) => {
                values.extend(std::iter::repeat_n(2, n));
            }
            (ColumnBuilder::Text { offsets, .. }, ColumnBuilder::Untyped(n)) => {
                let last = offsets.last().copied().unwrap_or(0);
                offsets.extend(std::iter::repeat_n(last, n));
            }
            (ColumnBuilder::Number(values), ColumnBuilder::Number(more)) => values.extend(more),
            (ColumnBuilder::Bool(values), ColumnBuilder::Bool(more)) => values.extend(more),
            (
                ColumnBuilder::Text { utf8, offsets },
                ColumnBuilder::Text {
                    utf8: u,
                    offsets: o,
                },
            ) => {
                let base = utf8.len() as u64;
                utf8.extend_from_slice(&u);
                // The part's offsets start at its own 0 (its first entry is the join point).
                offsets.extend(
                    o.iter()
                        .skip(1)
                        .map(|&x| (base + u64::from(x)).min(u64::from(u32::MAX)) as u32),
                );
            }
            // Excluded by `accepts`.
            _ => {}
        }
    }

    fn finish(self) -> RecordColumn {
        match self {
            ColumnBuilder::Untyped(_) | ColumnBuilder::Missing => RecordColumn::Missing,
            ColumnBuilder::Number(values) => RecordColumn::Number(values),
            ColumnBuilder::Bool(values) => RecordColumn::Bool(values),
            ColumnBuilder::Text { utf8, offsets } => RecordColumn::Text { utf8, offsets },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::tape::{for_each_root_element, Tape};

    /// Columns of `fields` over the top-level array of `json`, built from a tape and while
    /// streaming; both ways must agree.
    fn columns(json: &str, fields: &[&str]) -> (u64, Vec<RecordColumn>) {
        let fields: Vec<String> = fields.iter().map(|f| f.to_string()).collect();
        let tape = Tape::parse(json.as_bytes().to_vec()).expect("valid JSON");
        let mut from_tape = ColumnsBuilder::new(&fields);
        for record in tape.children(tape.root()) {
            from_tape.record(tape.view(), record);
        }
        let mut streamed = ColumnsBuilder::new(&fields);
        for_each_root_element(json.as_bytes(), |view, record| {
            streamed.record(view, record)
        })
        .expect("valid JSON");
        let (a, b) = (from_tape.finish(), streamed.finish());
        assert_eq!(format!("{a:?}"), format!("{b:?}"), "tape and stream differ"); // NaN-safe
        a
    }

    fn numbers(column: &RecordColumn) -> Vec<Option<f64>> {
        match column {
            RecordColumn::Number(v) => v.iter().map(|x| (!x.is_nan()).then_some(*x)).collect(),
            other => panic!("not a number column: {other:?}"),
        }
    }

    #[test]
    fn numbers_with_nan_where_missing_or_not_a_number() {
        let (len, cols) = columns(
            r#"[{"a":1.5},{"b":2},{"a":"x"},{"a":-0.25e1},7,null]"#,
            &["a"],
        );
        assert_eq!(len, 6);
        assert_eq!(
            numbers(&cols[0]),
            [Some(1.5), None, None, Some(-2.5), None, None]
        );
    }

    #[test]
    fn the_first_non_null_value_sets_the_type_and_earlier_records_are_filled() {
        let (_, cols) = columns(
            r#"[{"n":null,"s":null,"b":null},{},{"n":3,"s":"é\n","b":true},{"n":4,"s":5,"b":false},{"b":1}]"#,
            &["n", "s", "b"],
        );
        assert_eq!(numbers(&cols[0]), [None, None, Some(3.0), Some(4.0), None]);
        let text = "é\n".as_bytes();
        assert_eq!(
            cols[1],
            RecordColumn::Text {
                utf8: text.to_vec(),
                offsets: vec![
                    0,
                    0,
                    0,
                    text.len() as u32,
                    text.len() as u32,
                    text.len() as u32
                ],
            }
        );
        assert_eq!(cols[2], RecordColumn::Bool(vec![2, 2, 1, 0, 2]));
    }

    #[test]
    fn nested_paths_escaped_keys_and_array_records() {
        let (_, cols) = columns(
            r#"[{"d":{"w":1,"a/b":2}},{"d":{"w":3}},{"d":5},{"d\u0020x":{"w":9}}]"#,
            &["d/w", "/d/a~1b"],
        );
        assert_eq!(numbers(&cols[0]), [Some(1.0), Some(3.0), None, None]);
        assert_eq!(numbers(&cols[1]), [Some(2.0), None, None, None]);
        let (_, cols) = columns(r#"[[10,20],[30],{"1":40}]"#, &["1", "0"]);
        assert_eq!(numbers(&cols[0]), [Some(20.0), None, Some(40.0)]);
        assert_eq!(numbers(&cols[1]), [Some(10.0), Some(30.0), None]);
        // An escaped key matches its unescaped field name.
        let (_, cols) = columns(r#"[{"d\u0020x":1}]"#, &["d x"]);
        assert_eq!(numbers(&cols[0]), [Some(1.0)]);
    }

    #[test]
    fn a_repeated_key_counts_by_its_last_value_like_json_parse() {
        let (_, cols) = columns(r#"[{"a":1,"b":0,"a":2},{"a":3}]"#, &["a"]);
        assert_eq!(numbers(&cols[0]), [Some(2.0), Some(3.0)]);
    }

    #[test]
    fn missing_when_no_scalar_comes_first_or_nothing_is_there() {
        let (_, cols) = columns(r#"[{"a":[1],"c":null},{"a":2}]"#, &["a", "b", "c"]);
        assert_eq!(
            cols,
            [
                RecordColumn::Missing,
                RecordColumn::Missing,
                RecordColumn::Missing
            ]
        );
        let (len, cols) = columns("[]", &["a"]);
        assert_eq!((len, cols), (0, vec![RecordColumn::Missing]));
    }
}
