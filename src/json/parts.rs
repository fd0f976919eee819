//! One large top-level JSON array cut into parts that several isolates parse at the same time
//! (`parse_columns` on a multi-core machine).
//!
//! Where to cut is guessed, not scanned for: knowing for sure that a `,` separates two top-level
//! elements takes reading every byte before it (it could be inside a string), which is most of the
//! work a parse does. So the cuts are guessed cheaply near evenly spaced offsets — a `,` followed
//! by what looks like the start of a record (the first record's opening bytes, e.g. `{"id":`) —
//! and every part is made a complete JSON array of its own:
//!
//! - part 0: the text up to the first cut's `,`, with `]` in place of that `,`;
//! - a middle part: `[`, the text between two cuts, `]` (again in place of the `,`);
//! - the last part: `[` and the rest of the text (which closes the array itself).
//!
//! Why a guess cannot make a wrong result: part 0 starts where the document starts. If it parses
//! and holds at least one element, its `]` closed the top-level array right after a complete
//! element, so the `,` it replaced was a separator of top-level elements, and the next part starts at a true element boundary, in the state a parse of the
//! whole text would be in there (inside the top-level array, expecting a value). By induction
//! every part that parses with at least one element, after parts that all did, holds exactly the elements the whole text
//! holds there, in order, and the last part ends the document as the whole text does. (An empty
//! part proves nothing: `[]` between the two commas of `1,,2` parses.) If any part fails to parse (a wrong guess, or the document really is malformed) the caller reads the whole
//! text in one piece — which then gives the same result or the same error, at the same offset, as
//! if it had never been cut. The bytes between a `,` and the next part's start are whitespace,
//! and every other byte is in exactly one part, so UTF-8 checks see every byte too.

use crate::json::columns::{columns_of_text, ColumnsBuilder};

/// A cut between two parts: `comma` is the `,` (replaced by `]` at the end of the part before),
/// `start` the first byte of the next part's first element.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Cut {
    pub comma: usize,
    pub start: usize,
}

/// Below this, a part is not worth an isolate of its own: a message, a copy and a merge cost a
/// few milliseconds, parsing 4 MiB about 10–30.
pub(crate) const MIN_PART_BYTES: usize = 4 << 20;

/// The longest record signature looked for (the first record's bytes up to its first `:`).
const MAX_SIGNATURE: usize = 64;

/// Up to `parts - 1` cuts of `text`, in increasing order, each near `k · len / parts` and no part
/// smaller than [`MIN_PART_BYTES`]; fewer (none) when the text is small, is not an array, or no
/// plausible cut is found near a target.
pub(crate) fn guess_cuts(text: &[u8], parts: usize) -> Vec<Cut> {
    let parts = parts.min(text.len() / MIN_PART_BYTES);
    if parts < 2 {
        return Vec::new();
    }
    let Some(signature) = record_signature(text) else {
        return Vec::new();
    };
    let step = text.len() / parts;
    let mut cuts: Vec<Cut> = Vec::with_capacity(parts - 1);
    for k in 1..parts {
        let from = (k * step).max(cuts.last().map_or(0, |c| c.start + 1));
        // Look no further than half a part: a cut far from its target only unbalances the parts.
        let until = (from + step / 2).min(text.len());
        if let Some(cut) = find_cut(text, signature, from, until) {
            cuts.push(cut);
        }
    }
    cuts
}

/// The bytes a record of the top-level array starts with: `{"key":` up to the first record's
/// first `:` when the first element is an object with a plain first key, else its first byte.
/// `None` when the text is not an array or the array is empty.
fn record_signature(text: &[u8]) -> Option<&[u8]> {
    // After a byte order mark, which the parser skips too.
    let open = skip_ws(text, crate::json::tape::text_start(text));
    if text.get(open) != Some(&b'[') {
        return None;
    }
    let first = skip_ws(text, open + 1);
    match text.get(first)? {
        b'{' => {
            let window = &text[first..text.len().min(first + MAX_SIGNATURE)];
            match window.iter().position(|&b| b == b':') {
                // Only a plain key: `{"name":` (no whitespace, no escapes inside).
                Some(colon)
                    if window[1] == b'"'
                        && !window[..colon]
                            .iter()
                            .any(|b| b.is_ascii_whitespace() || *b == b'\\') =>
                {
                    Some(&window[..=colon])
                }
                _ => Some(&window[..1]),
            }
        }
        b']' => None,
        _ => Some(&text[first..=first]),
    }
}

/// The first `,` in `from..until` followed (after whitespace) by `signature` and preceded (before
/// whitespace) by the end of a value.
fn find_cut(text: &[u8], signature: &[u8], from: usize, until: usize) -> Option<Cut> {
    let mut at = from;
    while at < until {
        let comma = at + text[at..until].iter().position(|&b| b == b',')?;
        at = comma + 1;
        let start = skip_ws(text, comma + 1);
        if !text[start..].starts_with(signature) {
            continue;
        }
        let before = text[..comma].iter().rposition(|b| !b.is_ascii_whitespace());
        if before.is_some_and(|i| matches!(text[i], b'}' | b']' | b'"' | b'0'..=b'9' | b'e' | b'l'))
            && reads_like_elements(text, start)
        {
            return Some(Cut { comma, start });
        }
    }
    None
}

/// How many values in a row [`reads_like_elements`] wants to see.
const LOOKAHEAD_VALUES: usize = 8;
/// The longest value [`skip_value`] looks through.
const MAX_LOOKAHEAD: usize = 64 << 10;

/// Whether `start` reads like the start of a top-level element: several values in a row at one
/// level, separated by `,` (or the array's end with nothing after it). A guard against records
/// nested in records (`"tags":[{"id":2},{"id":3}]`), which start like top-level ones; a wrong
/// guess costs a second parse, so it is worth a little reading here.
fn reads_like_elements(text: &[u8], start: usize) -> bool {
    let mut pos = start;
    for _ in 0..LOOKAHEAD_VALUES {
        let Some(end) = skip_value(text, pos) else {
            return false;
        };
        pos = skip_ws(text, end);
        match text.get(pos) {
            Some(b',') => pos = skip_ws(text, pos + 1),
            Some(b']') => return skip_ws(text, pos + 1) == text.len(),
            _ => return false,
        }
    }
    true
}

/// The end of the value at `pos`, going by brackets and strings only (nothing is validated), or
/// `None` when no value starts there or it runs past [`MAX_LOOKAHEAD`] bytes.
fn skip_value(text: &[u8], pos: usize) -> Option<usize> {
    let limit = text.len().min(pos + MAX_LOOKAHEAD);
    let mut depth = 0usize;
    let mut i = pos;
    while i < limit {
        match text[i] {
            b'"' => {
                i += 1;
                while i < limit && text[i] != b'"' {
                    i += if text[i] == b'\\' { 2 } else { 1 };
                }
                if i >= limit {
                    return None;
                }
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ if depth > 0 => {}
            b',' | b':' | b' ' | b'\n' | b'\r' | b'\t' => return None,
            _ => {
                // A number or a literal: up to the next delimiter.
                let len = text[i..limit]
                    .iter()
                    .position(|b| matches!(b, b',' | b']' | b'}' | b' ' | b'\n' | b'\r' | b'\t'))?;
                return Some(i + len);
            }
        }
        i += 1;
    }
    None
}

fn skip_ws(text: &[u8], mut pos: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = text.get(pos) {
        pos += 1;
    }
    pos
}

/// The columns of one part, or `None` when it does not parse or holds no element: then the cut
/// was a wrong guess or the document is malformed, and the caller reads it whole.
pub(crate) fn part_columns(
    part: &[u8],
    fields: &[String],
    on_record: impl FnMut(u32),
) -> Option<ColumnsBuilder> {
    columns_of_text(part, fields, on_record)
        .ok()
        .filter(|b| b.len() > 0)
}

/// Part `i` (of `cuts.len() + 1`) as pieces: whether it opens with `[`, the bytes of the text it
/// takes, and whether it closes with `]` (see the module's comment).
pub(crate) fn part_pieces<'t>(text: &'t [u8], cuts: &[Cut], i: usize) -> (bool, &'t [u8], bool) {
    let start = if i == 0 { 0 } else { cuts[i - 1].start };
    match cuts.get(i) {
        Some(cut) => (i > 0, &text[start..cut.comma], true),
        None => (i > 0, &text[start..], false),
    }
}

/// Part `i` as one buffer (the isolates build theirs as JS buffers: `json::part_buffer`).
#[cfg(test)]
pub(crate) fn part_text(text: &[u8], cuts: &[Cut], i: usize) -> Vec<u8> {
    let (open, body, close) = part_pieces(text, cuts, i);
    let mut out = Vec::with_capacity(body.len() + 2);
    if open {
        out.push(b'[');
    }
    out.extend_from_slice(body);
    if close {
        out.push(b']');
    }
    out
}

/// Runs `f` on part 0 of `text` without copying it: the first cut's `,` is swapped for `]` while
/// `f` runs, then put back.
pub(crate) fn with_first_part<R>(text: &mut [u8], cuts: &[Cut], f: impl FnOnce(&[u8]) -> R) -> R {
    match cuts.first() {
        None => f(text),
        Some(cut) => {
            let comma = text[cut.comma];
            text[cut.comma] = b']';
            let out = f(&text[..=cut.comma]);
            text[cut.comma] = comma;
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json::columns::{ColumnBuilder, RecordColumn};
    use crate::test_rng::xorshift;

    /// What `parse_columns` does across isolates, on one thread: cut, parse every part, join;
    /// the whole text in one piece when a part fails or a column's type does not carry over.
    /// Also says whether the cut result was used.
    fn in_parts(
        text: &[u8],
        fields: &[String],
        cuts: &[Cut],
    ) -> (Option<(u64, Vec<RecordColumn>)>, bool) {
        let mut owned = text.to_vec();
        let first = with_first_part(&mut owned, cuts, |part| part_columns(part, fields, |_| {}));
        assert_eq!(owned, text, "part 0's `,` was put back");
        let rest: Option<Vec<(u64, Vec<ColumnBuilder>)>> = (1..=cuts.len())
            .map(|i| {
                part_columns(&part_text(text, cuts, i), fields, |_| {})
                    .map(ColumnsBuilder::into_parts)
            })
            .collect();
        if let (Some(mut builder), Some(rest)) = (first, rest) {
            if rest
                .into_iter()
                .all(|(len, parts)| builder.append(len, parts).is_ok())
            {
                return (Some(builder.finish()), true);
            }
        }
        (
            columns_of_text(text, fields, |_| {})
                .ok()
                .map(ColumnsBuilder::finish),
            false,
        )
    }

    fn whole(text: &[u8], fields: &[String]) -> Option<(u64, Vec<RecordColumn>)> {
        columns_of_text(text, fields, |_| {})
            .ok()
            .map(ColumnsBuilder::finish)
    }

    fn fields(names: &[&str]) -> Vec<String> {
        names.iter().map(|s| s.to_string()).collect()
    }

    /// Every cut at every `,` of `text` (right or wrong), one at a time and in pairs.
    fn every_cut(text: &[u8]) -> Vec<Vec<Cut>> {
        let cuts: Vec<Cut> = (0..text.len())
            .filter(|&i| text[i] == b',')
            .map(|comma| Cut {
                comma,
                start: skip_ws(text, comma + 1),
            })
            .collect();
        let mut out: Vec<Vec<Cut>> = cuts.iter().map(|c| vec![*c]).collect();
        for (i, a) in cuts.iter().enumerate() {
            for b in &cuts[i + 1..] {
                if b.comma >= a.start {
                    out.push(vec![*a, *b]);
                }
            }
        }
        out
    }

    #[test]
    fn any_cut_gives_the_same_columns_as_the_whole_text_wrong_guesses_included() {
        // Commas inside strings, nested records that look like top-level ones, escapes, nulls
        // before the first value, types that change between parts, and malformed texts.
        let texts = [
            r#"[{"a":1,"s":"x,{\"a\":2}","b":null},{"a":2,"s":"y","b":true}, {"a":"3","s":null,"b":false},{"a":[{"a":4},{"a":5}]}]"#,
            r#"[{"a":null},{"a":null},{"a":"t"},{"a":null},{"a":2}]"#,
            r#"[{"a":null},{"a":1},{"a":"t"},{"b":[1,2,3]},{"a":{"x":1}},{"a":false}]"#,
            r#"[{"s":"é,\u00e9"}, {"s":"a"} ,{"s":""},{"t":1},{"s":"z"}]"#,
            r#"[[1,2],[3,4],[5,{"0":6}],7,"8,9"]"#,
            r#"{"a":[1,2,3],"b":[{"a":1},{"a":2}]}"#,
            r#"[{"a":1},{"a":2},{"a":3]"#,
            r#"[{"a":1},{"a":2},{"a":3}]  x"#,
            r#"[{"a":1},,{"a":3}]"#,
            r#"[{"a":1},{"a":2}"#,
        ];
        let f = fields(&["a", "s", "b", "0", "1"]);
        for text in texts {
            let expected = whole(text.as_bytes(), &f);
            let mut used = 0;
            for cuts in every_cut(text.as_bytes()) {
                let (got, cut_used) = in_parts(text.as_bytes(), &f, &cuts);
                // Debug output compares NaN as equal (NaN marks missing numbers).
                assert_eq!(
                    format!("{got:?}"),
                    format!("{expected:?}"),
                    "{text} cut at {cuts:?}"
                );
                used += usize::from(cut_used);
            }
            // Every valid array here has cuts that hold: the joins themselves were compared.
            if expected.is_some() {
                assert!(used > 0, "{text}: no cut was ever used");
            }
        }
    }

    #[test]
    fn generated_arrays_cut_where_guessed_and_everywhere_else() {
        let mut next = xorshift(0x5eed_5917);
        let f = fields(&["id", "v", "s", "n/x"]);
        for round in 0..120 {
            let records = 1 + (next() % 9) as usize;
            let mut text = String::from("[");
            for r in 0..records {
                if r > 0 {
                    text.push_str(if next() % 3 == 0 { " ,\n " } else { "," });
                }
                let v = match next() % 5 {
                    0 => "null".to_string(),
                    1 => format!("{}", (next() % 1000) as f64 / 8.0),
                    2 => "\"v,{\\\"id\\\":1}\"".to_string(),
                    3 => "true".to_string(),
                    _ => r#"[{"id":0},{"id":1}]"#.to_string(),
                };
                text.push_str(&format!(
                    r#"{{"id":{r},"v":{v},"s":"r{r}","n":{{"x":{}}}}}"#,
                    next() % 7
                ));
            }
            text.push(']');
            if round % 10 == 0 {
                text.truncate(text.len() - 1 - (next() % 3) as usize); // malformed
            }
            let bytes = text.as_bytes();
            let expected = whole(bytes, &f);
            for cuts in every_cut(bytes) {
                let (got, _) = in_parts(bytes, &f, &cuts);
                assert_eq!(
                    format!("{got:?}"),
                    format!("{expected:?}"),
                    "{text} cut at {cuts:?}"
                );
            }
        }
    }

    #[test]
    fn guesses_land_on_record_starts_and_leave_small_texts_whole() {
        let record = r#"{"id":1,"tags":[{"id":2},{"id":3}],"s":"x,{\"id\":4}"}"#;
        let n = 3 * MIN_PART_BYTES / record.len() + 10;
        let mut text = String::with_capacity(n * (record.len() + 1) + 2);
        text.push('[');
        for i in 0..n {
            if i > 0 {
                text.push(',');
            }
            text.push_str(record);
        }
        text.push(']');
        let bytes = text.as_bytes();
        let cuts = guess_cuts(bytes, 3);
        assert_eq!(cuts.len(), 2, "{cuts:?}");
        for cut in &cuts {
            // Each cut is a `,` between two top-level records: the record before ends right there.
            assert_eq!(&bytes[cut.comma - 1..cut.start + 6], br#"},{"id":"#);
            // Record i spans 1 + i·(L+1) .. 1 + i·(L+1) + L, so the `,` after it is at (i+1)·(L+1).
            assert_eq!(cut.comma % (record.len() + 1), 0);
        }
        let f = fields(&["id"]);
        let (got, used) = in_parts(bytes, &f, &cuts);
        assert!(used);
        assert_eq!(format!("{got:?}"), format!("{:?}", whole(bytes, &f)));
        // Small texts, scalars, objects and empty arrays are not cut.
        assert!(guess_cuts(&bytes[..MIN_PART_BYTES], 4).is_empty());
        let object = format!(r#"{{"a":{text}}}"#);
        assert!(guess_cuts(object.as_bytes(), 4).is_empty());
        assert!(guess_cuts(b"[]", 4).is_empty());
        assert!(guess_cuts(bytes, 1).is_empty());
    }
}
