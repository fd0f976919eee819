//! A validating JSON parser into a flat *tape*: one small node per value, pointing into the
//! original text. No allocation per string, key or number, no recursion (so nesting depth is
//! bounded by memory, not by the stack), and the text of any value stays available as a byte
//! range — a page of records is sent as the original bytes, never re-serialized.
//!
//! `serde_json::Value` was measured here at 46–87 MB/s natively on the 50 MB points dataset
//! (one allocation per key and string, a map per object); this tape is what makes parsing in an
//! isolate competitive with the engine's `JSON.parse`.

use std::fmt;

/// What a node is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    Null,
    True,
    False,
    Number,
    /// A string without escapes: its bytes are the text between the quotes.
    Str,
    /// A string with escapes: unescape on use.
    EscStr,
    Array,
    Object,
}

/// One value. `start..end` is its text (for strings, without the quotes); `next` is the index of
/// the node after this value and all its descendants (its next sibling, if any).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Node {
    pub kind: Kind,
    pub start: u32,
    pub end: u32,
    pub next: u32,
}

/// Where and why the text is not JSON. `offset` and `column` count bytes of the text (a leading
/// byte order mark included); `utf16_offset` and `utf16_column` count the UTF-16 units of the same
/// prefix, which is what a JS string's positions are (a JS string source is encoded to this text
/// one code point for one, so these are positions in that string).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SyntaxError {
    pub message: String,
    pub offset: u64,
    pub line: u64,
    pub column: u64,
    pub utf16_offset: u64,
    pub utf16_column: u64,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} at line {} column {}",
            self.message, self.line, self.column
        )
    }
}

/// A parsed document: the text and its tape. Node 0 is the root.
pub(crate) struct Tape {
    pub text: Vec<u8>,
    pub nodes: Vec<Node>,
}

fn error_at(text: &[u8], offset: usize, message: impl Into<String>) -> SyntaxError {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    SyntaxError {
        message: message.into(),
        offset: offset as u64,
        line,
        column: (offset - line_start) as u64 + 1,
        utf16_offset: utf16_len(before) as u64,
        utf16_column: utf16_len(&before[line_start..]) as u64 + 1,
    }
}

/// UTF-16 units of valid UTF-8 `bytes` (JS `.length` of the same text): one per code point, two
/// for those beyond U+FFFF (the four-byte sequences). Every byte that is not a continuation byte
/// starts a code point.
pub(crate) fn utf16_len(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .map(|&b| usize::from(b & 0xC0 != 0x80) + usize::from(b >= 0xF0))
        .sum()
}

/// The UTF-8 byte order mark. Bytes that start with it are read as `TextDecoder` and
/// `Response.json()` read them: the mark is skipped. A JS string is different — there U+FEFF is
/// a character and `JSON.parse` rejects it — so string sources check for it before parsing (see
/// `json::inside::read_source`).
pub(crate) const BOM: &[u8] = b"\xEF\xBB\xBF";

/// Where the JSON text of `text` starts: after a leading byte order mark, if any.
#[inline]
pub(crate) fn text_start(text: &[u8]) -> usize {
    if text.starts_with(BOM) {
        BOM.len()
    } else {
        0
    }
}

/// `bytes` made valid UTF-8 the way `TextDecoder` (and so `Response.json()`, `Blob.text()`)
/// decodes them: each maximal invalid sequence becomes U+FFFD. Valid input is returned as it is,
/// without a copy; only invalid input is rebuilt. Positions in errors then count bytes of the
/// repaired text (each replacement is the three bytes of U+FFFD).
pub(crate) fn repair_utf8(bytes: Vec<u8>) -> Vec<u8> {
    match std::str::from_utf8(&bytes) {
        Ok(_) => bytes,
        Err(_) => String::from_utf8_lossy(&bytes).into_owned().into_bytes(),
    }
}

fn describe(byte: Option<&u8>) -> String {
    match byte {
        None => "unexpected end of input".into(),
        Some(b) if b.is_ascii_graphic() => format!("unexpected character `{}`", *b as char),
        Some(b) => format!("unexpected byte 0x{b:02x}"),
    }
}

impl Tape {
    /// Parses `text`, which must hold exactly one JSON value (RFC 8259), surrounded by optional
    /// whitespace.
    #[cfg(test)]
    pub(crate) fn parse(text: Vec<u8>) -> Result<Tape, SyntaxError> {
        Self::parse_watched(text, |_| {})
    }

    /// Parses `text` as [`parse`](Self::parse) does, calling `on_element(offset)` with the start
    /// offset of each element of a top-level array as it is completed (for progress).
    pub(crate) fn parse_watched(
        text: Vec<u8>,
        mut on_element: impl FnMut(u32),
    ) -> Result<Tape, SyntaxError> {
        if u32::try_from(text.len()).is_err() {
            return Err(error_at(&text, 0, "text is larger than 4 GiB"));
        }
        if let Err(e) = std::str::from_utf8(&text) {
            return Err(error_at(&text, e.valid_up_to(), "invalid UTF-8"));
        }
        // Roughly one node per 6 bytes of typical JSON.
        let mut nodes = Vec::with_capacity(text.len() / 6 + 1);
        parse_into(&text, &mut nodes, &mut |view, node| {
            on_element(view.nodes[node].start);
            false
        })?;
        Ok(Tape { text, nodes })
    }

    pub(crate) fn root(&self) -> usize {
        0
    }

    /// A borrowed view, for the readers below.
    #[inline]
    pub(crate) fn view(&self) -> TapeView<'_> {
        TapeView {
            text: &self.text,
            nodes: &self.nodes,
        }
    }

    pub(crate) fn node(&self, i: usize) -> &Node {
        &self.nodes[i]
    }

    /// See [`TapeView::json_text`].
    pub(crate) fn json_text(&self, i: usize) -> &[u8] {
        self.view().json_text(i)
    }

    /// See [`TapeView::children`].
    pub(crate) fn children(&self, i: usize) -> Children<'_> {
        self.view().children(i)
    }

    /// See [`TapeView::string`].
    pub(crate) fn string(&self, i: usize) -> Option<std::borrow::Cow<'_, str>> {
        self.view().string(i)
    }

    /// See [`TapeView::pointer`].
    pub(crate) fn pointer(&self, i: usize, pointer: &str) -> Option<usize> {
        self.view().pointer(i, pointer)
    }
}

/// The text and the nodes of a tape, borrowed: what the readers need, also while the tape is
/// still being built (see [`for_each_root_element`]).
#[derive(Clone, Copy)]
pub(crate) struct TapeView<'a> {
    pub text: &'a [u8],
    pub nodes: &'a [Node],
}

impl<'a> TapeView<'a> {
    #[inline]
    pub(crate) fn node(&self, i: usize) -> &'a Node {
        &self.nodes[i]
    }

    /// The raw text of node `i` (for strings: between the quotes, still escaped).
    pub(crate) fn raw(&self, i: usize) -> &'a [u8] {
        let n = &self.nodes[i];
        &self.text[n.start as usize..n.end as usize]
    }

    /// The full JSON text of node `i` (strings with their quotes).
    pub(crate) fn json_text(&self, i: usize) -> &'a [u8] {
        let n = &self.nodes[i];
        match n.kind {
            Kind::Str | Kind::EscStr => &self.text[n.start as usize - 1..n.end as usize + 1],
            _ => self.raw(i),
        }
    }

    /// Children of an array, or key and value nodes alternating for an object.
    pub(crate) fn children(&self, i: usize) -> Children<'a> {
        let n = &self.nodes[i];
        let end = n.next as usize;
        Children {
            tape: *self,
            at: if matches!(n.kind, Kind::Array | Kind::Object) {
                i + 1
            } else {
                end
            },
            end,
        }
    }

    /// The string value of a string node (unescaped).
    pub(crate) fn string(&self, i: usize) -> Option<std::borrow::Cow<'a, str>> {
        let raw = self.raw(i);
        match self.nodes[i].kind {
            // Validated as UTF-8 at parse time; `from_utf8` cannot fail here, checked anyway.
            Kind::Str => std::str::from_utf8(raw)
                .ok()
                .map(std::borrow::Cow::Borrowed),
            Kind::EscStr => unescape(raw).map(std::borrow::Cow::Owned),
            _ => None,
        }
    }

    /// Whether string node `i` equals `key` (without allocating for unescaped keys).
    pub(crate) fn string_eq(&self, i: usize, key: &str) -> bool {
        match self.nodes[i].kind {
            Kind::Str => self.raw(i) == key.as_bytes(),
            Kind::EscStr => self.string(i).is_some_and(|s| s == key),
            _ => false,
        }
    }

    /// Length of string node `i` as JS counts it (`.length`: UTF-16 units) once `JSON.parse`d.
    /// A lone surrogate escape is one unit there, as the U+FFFD it becomes here is.
    pub(crate) fn string_utf16_len(&self, i: usize) -> Option<usize> {
        match self.nodes[i].kind {
            Kind::Str => Some(utf16_len(self.raw(i))),
            Kind::EscStr => Some(utf16_len(unescape(self.raw(i))?.as_bytes())),
            _ => None,
        }
    }

    /// The identity of key node `i`: its raw bytes when unescaped, else its unescaped bytes with
    /// lone surrogates kept apart (see [`Surrogates::Keep`]). Two keys name the same JS property
    /// exactly when their identities are equal.
    fn key_identity(&self, i: usize) -> std::borrow::Cow<'a, [u8]> {
        let raw = self.raw(i);
        match self.nodes[i].kind {
            Kind::EscStr => unescape_bytes(raw, Surrogates::Keep)
                .map_or(std::borrow::Cow::Borrowed(raw), std::borrow::Cow::Owned),
            _ => std::borrow::Cow::Borrowed(raw),
        }
    }

    /// The key nodes of object node `i` that `JSON.parse` keeps as properties, in its order:
    /// a repeated key once, at its first place (its value is the last one's: see
    /// [`member`](Self::member)). So `len` and `Object.keys(JSON.parse(text)).length` agree.
    pub(crate) fn distinct_keys(&self, i: usize) -> Vec<usize> {
        let mut seen = std::collections::HashSet::new();
        let mut keys = Vec::new();
        let mut it = self.children(i);
        while let (Some(k), Some(_)) = (it.next(), it.next()) {
            if seen.insert(self.key_identity(k)) {
                keys.push(k);
            }
        }
        keys
    }

    pub(crate) fn number(&self, i: usize) -> Option<f64> {
        match self.nodes[i].kind {
            Kind::Number => {
                let raw = self.raw(i);
                short_decimal(raw).or_else(|| std::str::from_utf8(raw).ok()?.parse().ok())
            }
            _ => None,
        }
    }

    /// The value of member `key` of object node `i`; of its last occurrence if the key appears
    /// more than once, as `JSON.parse` does.
    pub(crate) fn member(&self, i: usize, key: &str) -> Option<usize> {
        if self.nodes[i].kind != Kind::Object {
            return None;
        }
        let mut found = None;
        let mut it = self.children(i);
        while let (Some(k), Some(v)) = (it.next(), it.next()) {
            if self.string_eq(k, key) {
                found = Some(v);
            }
        }
        found
    }

    /// Element `index` of array node `i`.
    pub(crate) fn element(&self, i: usize, index: usize) -> Option<usize> {
        if self.nodes[i].kind != Kind::Array {
            return None;
        }
        self.children(i).nth(index)
    }

    /// Resolves a JSON pointer (RFC 6901) from node `i`.
    pub(crate) fn pointer(&self, i: usize, pointer: &str) -> Option<usize> {
        self.resolve(i, &pointer_tokens(pointer)?)
    }

    /// Resolves pointer tokens (from [`pointer_tokens`]) from node `i`; split once, resolve
    /// against many records.
    pub(crate) fn resolve(&self, mut i: usize, tokens: &[String]) -> Option<usize> {
        for token in tokens {
            i = match self.nodes[i].kind {
                Kind::Object => self.member(i, token)?,
                Kind::Array => {
                    let valid = !token.is_empty()
                        && token.bytes().all(|b| b.is_ascii_digit())
                        && (token == "0" || !token.starts_with('0'));
                    if !valid {
                        return None;
                    }
                    self.element(i, token.parse().ok()?)?
                }
                _ => return None,
            };
        }
        Some(i)
    }
}

/// Validates `text` like [`Tape::parse`] and, when the top-level value is an array, calls
/// `on_element(view, node)` for each of its elements as soon as it is parsed, with `view` holding
/// that element's nodes (and everything before it that was kept). No tape is kept: each element's
/// nodes are dropped after its call, so memory stays at one element's nodes and the element is
/// read while it is still in cache — the fast way to pull fields out of a big array of records.
/// Returns the top-level value's kind and the number of elements (0 unless an array).
pub(crate) fn for_each_root_element(
    text: &[u8],
    mut on_element: impl FnMut(TapeView<'_>, usize),
) -> Result<(Kind, u64), SyntaxError> {
    if u32::try_from(text.len()).is_err() {
        return Err(error_at(text, 0, "text is larger than 4 GiB"));
    }
    if let Err(e) = std::str::from_utf8(text) {
        return Err(error_at(text, e.valid_up_to(), "invalid UTF-8"));
    }
    let mut nodes = Vec::with_capacity(1024);
    let mut count = 0u64;
    parse_into(text, &mut nodes, &mut |view, node| {
        on_element(view, node);
        count += 1;
        true
    })?;
    let kind = nodes.first().map_or(Kind::Null, |n| n.kind);
    Ok((kind, if kind == Kind::Array { count } else { 0 }))
}

/// Exact powers of ten (every one up to 1e22 is exactly representable as an f64).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The value of a validated JSON number without an exponent whose digits fit in 2^53 and that
/// has at most 22 fraction digits (`-12.345678`, `1700000000000`), else `None`. Then the digits
/// and the power of ten are both exact f64s, and one IEEE division rounds correctly (Clinger's
/// fast path), so the result equals `str::parse` — at several times its speed, which is what
/// `select` spends its time on. Everything else goes to `str::parse`.
fn short_decimal(raw: &[u8]) -> Option<f64> {
    let (negative, digits) = match raw.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, raw),
    };
    let (int, fraction) = match digits.iter().position(|&b| b == b'.') {
        Some(dot) => (&digits[..dot], &digits[dot + 1..]),
        None => (digits, &[][..]),
    };
    let scale = *POW10.get(fraction.len())?;
    if int.is_empty() {
        return None;
    }
    let mut mantissa: u64 = 0;
    // Significant digits (leading zeros take no room): at most 19, so no u64 overflow.
    let mut significant = 0u32;
    for &b in int.iter().chain(fraction) {
        let digit = b.wrapping_sub(b'0');
        if digit > 9 {
            return None; // an exponent: `str::parse`
        }
        mantissa = mantissa * 10 + u64::from(digit);
        significant += u32::from(mantissa != 0);
        if significant > 19 {
            return None;
        }
    }
    if mantissa > 1 << 53 {
        return None;
    }
    let value = mantissa as f64 / scale;
    Some(if negative { -value } else { value })
}

/// The unescaped reference tokens of a JSON pointer (`""` → none; `None` if it does not start
/// with `/`).
pub(crate) fn pointer_tokens(pointer: &str) -> Option<Vec<String>> {
    if pointer.is_empty() {
        return Some(Vec::new());
    }
    Some(
        pointer
            .strip_prefix('/')?
            .split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect(),
    )
}

/// Iterator over the direct children of a container node.
pub(crate) struct Children<'a> {
    tape: TapeView<'a>,
    at: usize,
    end: usize,
}

impl Iterator for Children<'_> {
    type Item = usize;
    fn next(&mut self) -> Option<usize> {
        if self.at >= self.end {
            return None;
        }
        let i = self.at;
        self.at = self.tape.nodes[i].next as usize;
        Some(i)
    }
}

fn unescape(raw: &[u8]) -> Option<String> {
    String::from_utf8(unescape_bytes(raw, Surrogates::Replace)?).ok()
}

/// What [`unescape_bytes`] makes of a `\\u` escape of a lone surrogate.
#[derive(Clone, Copy, PartialEq)]
enum Surrogates {
    /// U+FFFD, as in JSON.parse's well-formed string output: valid UTF-8.
    Replace,
    /// The surrogate's own three-byte sequence (WTF-8): not valid UTF-8, but two strings are
    /// equal exactly when the JS strings `JSON.parse` makes of them are — what telling object
    /// keys apart needs (`"\\ud800"` and `"\\ud801"` are two keys in JS).
    Keep,
}

fn unescape_bytes(raw: &[u8], surrogates: Surrogates) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    let push = |out: &mut Vec<u8>, c: char| {
        let mut buf = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
    };
    while i < raw.len() {
        let run = raw[i..]
            .iter()
            .position(|&b| b == b'\\')
            .unwrap_or(raw.len() - i);
        out.extend_from_slice(&raw[i..i + run]);
        i += run;
        if i >= raw.len() {
            break;
        }
        let esc = *raw.get(i + 1)?;
        i += 2;
        match esc {
            b'"' => out.push(b'"'),
            b'\\' => out.push(b'\\'),
            b'/' => out.push(b'/'),
            b'b' => out.push(8),
            b'f' => out.push(12),
            b'n' => out.push(b'\n'),
            b'r' => out.push(b'\r'),
            b't' => out.push(b'\t'),
            b'u' => {
                let hi = hex4(raw.get(i..i + 4)?)?;
                i += 4;
                if (0xD800..0xDC00).contains(&hi) {
                    let lo = (raw.get(i..i + 2) == Some(b"\\u"))
                        .then(|| raw.get(i + 2..i + 6).and_then(hex4))
                        .flatten()
                        .filter(|lo| (0xDC00..0xE000).contains(lo));
                    if let Some(lo) = lo {
                        i += 6;
                        push(
                            &mut out,
                            char::from_u32(0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00))?,
                        );
                        continue;
                    }
                }
                match char::from_u32(hi) {
                    Some(c) => push(&mut out, c),
                    // A lone surrogate (high without a low after it, or a low alone).
                    None if surrogates == Surrogates::Keep => out.extend_from_slice(&[
                        0xE0 | (hi >> 12) as u8,
                        0x80 | ((hi >> 6) & 0x3F) as u8,
                        0x80 | (hi & 0x3F) as u8,
                    ]),
                    None => push(&mut out, '\u{FFFD}'),
                }
            }
            _ => return None,
        }
    }
    Some(out)
}

fn hex4(b: &[u8]) -> Option<u32> {
    // Exactly four hex digits (`from_str_radix` alone would also take a sign: found by the fuzz
    // test, input `"\u+d80"`).
    if b.len() != 4 || !b.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    u32::from_str_radix(std::str::from_utf8(b).ok()?, 16).ok()
}

#[inline]
fn skip_ws(text: &[u8], mut pos: usize) -> usize {
    while let Some(b' ' | b'\n' | b'\r' | b'\t') = text.get(pos) {
        pos += 1;
    }
    pos
}

/// What the parser expects next inside a container.
#[derive(Clone, Copy, PartialEq)]
enum Expect {
    /// A value (top level, after `[`, `,` in an array, or `:`).
    Value,
    /// After `[`: a value or `]`.
    FirstElement,
    /// After `{`: a key or `}`.
    FirstKey,
    /// After `,` in an object: a key.
    Key,
}

/// The parser. `on_root_element(view, node)` is called for each element of a top-level array
/// once it is complete; when it returns true, the element's nodes are dropped (the tape keeps
/// the array node only, its `next` no longer meaningful): see [`for_each_root_element`].
fn parse_into(
    text: &[u8],
    nodes: &mut Vec<Node>,
    on_root_element: &mut impl FnMut(TapeView<'_>, usize) -> bool,
) -> Result<(), SyntaxError> {
    // Open containers: node index.
    let mut stack: Vec<usize> = Vec::new();
    let mut pos = skip_ws(text, text_start(text));
    let mut expect = Expect::Value;
    // The node of the value completed last.
    let mut done: usize;
    loop {
        // 1. Parse one value (or key, or close an empty container).
        let b = text.get(pos).copied();
        if matches!(expect, Expect::FirstKey | Expect::Key) {
            if expect == Expect::FirstKey && b == Some(b'}') {
                (pos, done) = close(text, nodes, &mut stack, pos)?;
            } else if b == Some(b'"') {
                pos = string(text, nodes, pos)?;
                pos = skip_ws(text, pos);
                if text.get(pos) != Some(&b':') {
                    return Err(error_at(
                        text,
                        pos,
                        format!("{} (expected `:`)", describe(text.get(pos))),
                    ));
                }
                pos = skip_ws(text, pos + 1);
                expect = Expect::Value;
                continue;
            } else {
                return Err(error_at(
                    text,
                    pos,
                    format!("{} (expected a key)", describe(text.get(pos))),
                ));
            }
        } else if expect == Expect::FirstElement && b == Some(b']') {
            (pos, done) = close(text, nodes, &mut stack, pos)?;
        } else {
            match b {
                Some(b'{') | Some(b'[') => {
                    let kind = if b == Some(b'{') {
                        Kind::Object
                    } else {
                        Kind::Array
                    };
                    stack.push(nodes.len());
                    nodes.push(Node {
                        kind,
                        start: pos as u32,
                        end: 0,
                        next: 0,
                    });
                    pos = skip_ws(text, pos + 1);
                    expect = if kind == Kind::Object {
                        Expect::FirstKey
                    } else {
                        Expect::FirstElement
                    };
                    continue;
                }
                Some(b'"') => pos = string(text, nodes, pos)?,
                Some(b'-' | b'0'..=b'9') => pos = number(text, nodes, pos)?,
                Some(b't') => pos = literal(text, nodes, pos, b"true", Kind::True)?,
                Some(b'f') => pos = literal(text, nodes, pos, b"false", Kind::False)?,
                Some(b'n') => pos = literal(text, nodes, pos, b"null", Kind::Null)?,
                other => {
                    return Err(error_at(
                        text,
                        pos,
                        format!("{} (expected a value)", describe(other.as_ref())),
                    ))
                }
            }
            done = nodes.len() - 1;
        }
        // 2. After a complete value: `,`, a closing bracket, or the end.
        loop {
            // Inside the top level (node 0) when it is an array: `done` is one of its elements.
            if stack.len() == 1 && nodes[0].kind == Kind::Array {
                let view = TapeView { text, nodes };
                if on_root_element(view, done) {
                    nodes.truncate(done);
                }
            }
            pos = skip_ws(text, pos);
            let Some(&top) = stack.last() else {
                if pos != text.len() {
                    return Err(error_at(
                        text,
                        pos,
                        format!("{} after the value", describe(text.get(pos))),
                    ));
                }
                return Ok(());
            };
            let in_object = nodes[top].kind == Kind::Object;
            match text.get(pos) {
                Some(b',') => {
                    pos = skip_ws(text, pos + 1);
                    expect = if in_object {
                        Expect::Key
                    } else {
                        Expect::Value
                    };
                    break;
                }
                Some(b'}') if in_object => (pos, done) = close(text, nodes, &mut stack, pos)?,
                Some(b']') if !in_object => (pos, done) = close(text, nodes, &mut stack, pos)?,
                other => {
                    let want = if in_object {
                        "`,` or `}`"
                    } else {
                        "`,` or `]`"
                    };
                    return Err(error_at(
                        text,
                        pos,
                        format!("{} (expected {want})", describe(other)),
                    ));
                }
            }
        }
    }
}

/// Closes the innermost container at the bracket at `pos`: the position after it and the
/// container's node.
fn close(
    text: &[u8],
    nodes: &mut [Node],
    stack: &mut Vec<usize>,
    pos: usize,
) -> Result<(usize, usize), SyntaxError> {
    let Some(i) = stack.pop() else {
        return Err(error_at(text, pos, "unbalanced bracket"));
    };
    let next = nodes.len() as u32;
    let n = &mut nodes[i];
    n.end = pos as u32 + 1;
    n.next = next;
    Ok((pos + 1, i))
}

/// Bytes that end the fast scan through a string: `"`, `\\` and control characters.
const STRING_STOP: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        t[b] = true;
        b += 1;
    }
    t[b'"' as usize] = true;
    t[b'\\' as usize] = true;
    t
};

/// The first byte at or after `from` that ends a run of plain string bytes (`"`, `\\` or a
/// control character; see [`STRING_STOP`]), eight bytes at a time while eight remain.
///
/// The word test is the classic "has a zero byte" trick: for each byte `b` of `w ^ pattern`,
/// `(b - 1) & !b & 0x80` is set when `b == 0`, and for `w` itself `(b - 0x20) & !b & 0x80` when
/// `b < 0x20`. A borrow can flag a byte *above* a true match, never below one, so the lowest flag
/// is exact — and the lowest is all we use.
#[inline]
fn string_stop(text: &[u8], from: usize) -> Option<usize> {
    const LOW: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let zero_byte = |x: u64| x.wrapping_sub(LOW) & !x & HIGH;
    let mut i = from;
    while let Some(chunk) = text.get(i..i + 8) {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        let flags = zero_byte(w ^ (LOW * u64::from(b'"')))
            | zero_byte(w ^ (LOW * u64::from(b'\\')))
            | (w.wrapping_sub(LOW * 0x20) & !w & HIGH);
        if flags != 0 {
            return Some(i + (flags.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    text.get(i..)?
        .iter()
        .position(|&b| STRING_STOP[b as usize])
        .map(|run| i + run)
}

fn string(text: &[u8], nodes: &mut Vec<Node>, pos: usize) -> Result<usize, SyntaxError> {
    let start = pos + 1;
    let mut i = start;
    let mut escaped = false;
    loop {
        // Fast scan to the next byte that needs a look.
        i = string_stop(text, i)
            .ok_or_else(|| error_at(text, text.len(), "unterminated string"))?;
        match text[i] {
            b'"' => break,
            b'\\' => {
                escaped = true;
                match text.get(i + 1) {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                    Some(b'u') => {
                        if text.get(i + 2..i + 6).and_then(hex4).is_none() {
                            return Err(error_at(text, i, "invalid \\u escape"));
                        }
                        i += 6;
                    }
                    _ => return Err(error_at(text, i, "invalid escape")),
                }
            }
            _ => return Err(error_at(text, i, "control character in a string")),
        }
    }
    nodes.push(Node {
        kind: if escaped { Kind::EscStr } else { Kind::Str },
        start: start as u32,
        end: i as u32,
        next: nodes.len() as u32 + 1,
    });
    Ok(i + 1)
}

fn number(text: &[u8], nodes: &mut Vec<Node>, pos: usize) -> Result<usize, SyntaxError> {
    let mut i = pos;
    let digits = |i: &mut usize| {
        let s = *i;
        while text.get(*i).is_some_and(u8::is_ascii_digit) {
            *i += 1;
        }
        *i > s
    };
    if text.get(i) == Some(&b'-') {
        i += 1;
    }
    match text.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            digits(&mut i);
        }
        other => {
            return Err(error_at(
                text,
                i,
                format!("{} in a number", describe(other)),
            ))
        }
    }
    if text.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return Err(error_at(text, i, "expected a digit after `.`"));
        }
    }
    if let Some(b'e' | b'E') = text.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = text.get(i) {
            i += 1;
        }
        if !digits(&mut i) {
            return Err(error_at(text, i, "expected a digit in the exponent"));
        }
    }
    nodes.push(Node {
        kind: Kind::Number,
        start: pos as u32,
        end: i as u32,
        next: nodes.len() as u32 + 1,
    });
    Ok(i)
}

fn literal(
    text: &[u8],
    nodes: &mut Vec<Node>,
    pos: usize,
    word: &[u8],
    kind: Kind,
) -> Result<usize, SyntaxError> {
    if text.get(pos..pos + word.len()) != Some(word) {
        return Err(error_at(
            text,
            pos,
            "invalid literal (expected true, false or null)",
        ));
    }
    nodes.push(Node {
        kind,
        start: pos as u32,
        end: (pos + word.len()) as u32,
        next: nodes.len() as u32 + 1,
    });
    Ok(pos + word.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn tape(s: &str) -> Result<Tape, SyntaxError> {
        Tape::parse(s.as_bytes().to_vec())
    }

    /// Rebuilds a serde_json Value from the tape, to compare with serde_json's own parse.
    fn to_value(t: &Tape, i: usize) -> Value {
        view_value(t.view(), i)
    }

    fn view_value(t: TapeView<'_>, i: usize) -> Value {
        match t.node(i).kind {
            Kind::Null => Value::Null,
            Kind::True => Value::Bool(true),
            Kind::False => Value::Bool(false),
            Kind::Number => serde_json::from_slice(t.raw(i)).unwrap(),
            Kind::Str | Kind::EscStr => Value::String(t.string(i).unwrap().into_owned()),
            Kind::Array => Value::Array(t.children(i).map(|c| view_value(t, c)).collect()),
            Kind::Object => {
                let mut map = serde_json::Map::new();
                let mut it = t.children(i);
                while let (Some(k), Some(v)) = (it.next(), it.next()) {
                    map.insert(t.string(k).unwrap().into_owned(), view_value(t, v));
                }
                Value::Object(map)
            }
        }
    }

    const VALID: &[&str] = &[
        "0",
        "-0",
        "1.5e10",
        "-12.25E-3",
        "true",
        "false",
        "null",
        "\"\"",
        "\"a\\\"b\\\\c\\/\\n\\u00e9\\ud83d\\ude00\"",
        "[]",
        "{}",
        " [ 1 , 2 ] ",
        "{\"a\":{\"b\":[1,{\"c\":null}]},\"d\":\"é\"}",
        "[[[[[]]]]]",
        "{\"a\":1,\"a\":2}",
        "\"\\ud800\"",
    ];

    #[test]
    fn agrees_with_serde_json_on_valid_input() {
        for s in VALID {
            let t = tape(s).unwrap_or_else(|e| panic!("{s}: {e}"));
            let expected: Value =
                serde_json::from_str(s).unwrap_or_else(|_| Value::String("\u{FFFD}".into()));
            if *s != "\"\\ud800\"" {
                assert_eq!(to_value(&t, t.root()), expected, "{s}");
            }
            assert_eq!(t.json_text(t.root()), s.trim().as_bytes());
        }
    }

    const INVALID: &[&str] = &[
        "",
        " ",
        "[",
        "]",
        "{",
        "[1,]",
        "[,1]",
        "{\"a\"}",
        "{\"a\":}",
        "{\"a\":1,}",
        "{1:2}",
        "01",
        "1.",
        "1e",
        "-",
        ".5",
        "+1",
        "tru",
        "nul",
        "\"abc",
        "\"\\x\"",
        "\"\\u12\"",
        "\"a\u{1}\"",
        "[1 2]",
        "1 2",
        "[1]]",
        "{\"a\":1}}",
        "[\"a\":1]",
        "{\"a\" 1}",
        "NaN",
        "Infinity",
        "'a'",
    ];

    #[test]
    fn rejects_what_serde_json_rejects() {
        for s in INVALID {
            assert!(
                serde_json::from_str::<Value>(s).is_err(),
                "serde_json accepts {s}"
            );
            assert!(tape(s).is_err(), "tape accepts {s:?}");
        }
        assert!(
            Tape::parse(vec![b'"', 0xff, b'"']).is_err(),
            "invalid UTF-8"
        );
    }

    #[test]
    fn errors_say_where() {
        let Err(e) = tape("[1,\n 2,\n x]") else {
            panic!("accepted")
        };
        assert_eq!((e.offset, e.line, e.column), (9, 3, 2));
        assert!(e.message.contains("`x`"), "{}", e.message);
    }

    /// A UTF-8 byte order mark is skipped as `TextDecoder` skips it — once, and only at the
    /// start; positions after it still count it (they are offsets into the bytes given).
    #[test]
    fn a_byte_order_mark_is_skipped_once() {
        let t = Tape::parse(b"\xEF\xBB\xBF [1,2]".to_vec()).unwrap();
        assert_eq!(t.node(t.root()).kind, Kind::Array);
        assert_eq!(t.json_text(t.root()), b"[1,2]");
        let mut seen = 0;
        for_each_root_element(b"\xEF\xBB\xBF[1,2]", |_, _| seen += 1).unwrap();
        assert_eq!(seen, 2);
        let Err(e) = Tape::parse(b"\xEF\xBB\xBF[1,\n x]".to_vec()) else {
            panic!("accepted")
        };
        assert_eq!((e.offset, e.line, e.column), (8, 2, 2));
        let Err(e) = Tape::parse(b"\xEF\xBB\xBF[x]".to_vec()) else {
            panic!("accepted")
        };
        // Bytes 3 (the mark) + 1; the mark is one UTF-16 unit (U+FEFF) before it.
        assert_eq!(
            (e.offset, e.column, e.utf16_offset, e.utf16_column),
            (4, 5, 2, 3)
        );
        for twice in [
            &b"\xEF\xBB\xBF\xEF\xBB\xBF[]"[..],
            b" \xEF\xBB\xBF[]",
            b"[]\xEF\xBB\xBF",
            b"\xEF\xBB",
        ] {
            assert!(Tape::parse(twice.to_vec()).is_err(), "{twice:?}");
        }
    }

    /// Error positions in UTF-16 units count a four-byte character as two units, others as one.
    #[test]
    fn errors_say_where_in_utf16_units() {
        let Err(e) = tape("[\"é😀\",\n\"😀\", x]") else {
            panic!("accepted")
        };
        assert_eq!((e.line, e.column, e.offset), (2, 9, 19));
        assert_eq!((e.utf16_offset, e.utf16_column), (14, 7));
        let js_like: Vec<u16> = "[\"é😀\",\n\"😀\", x]".encode_utf16().collect();
        assert_eq!(js_like[e.utf16_offset as usize], u16::from(b'x'));
        assert_eq!(utf16_len("aé😀\u{FFFD}".as_bytes()), 1 + 1 + 2 + 1);
    }

    /// Invalid UTF-8 is replaced as `TextDecoder` replaces it, valid text is left alone.
    #[test]
    fn invalid_utf8_is_repaired_like_text_decoder() {
        let valid = "[\"é😀\"]".as_bytes().to_vec();
        let ptr = valid.as_ptr();
        let same = repair_utf8(valid);
        assert_eq!(same.as_ptr(), ptr, "valid text is not copied");
        // A lone continuation byte, a truncated sequence, an overlong form, a surrogate encoded
        // in UTF-8, and bytes that can never appear: one U+FFFD per maximal invalid subpart.
        for (bad, good) in [
            (&b"\"\x80\""[..], "\"\u{FFFD}\""),
            (b"\"\xE2\x82\"", "\"\u{FFFD}\""),
            (b"\"\xC0\xAF\"", "\"\u{FFFD}\u{FFFD}\""),
            (b"\"\xED\xA0\x80\"", "\"\u{FFFD}\u{FFFD}\u{FFFD}\""),
            (b"\"\xFF\xFEa\"", "\"\u{FFFD}\u{FFFD}a\""),
        ] {
            assert_eq!(repair_utf8(bad.to_vec()), good.as_bytes(), "{bad:?}");
            assert!(Tape::parse(repair_utf8(bad.to_vec())).is_ok());
        }
    }

    /// `len` of an object counts keys as `JSON.parse` keeps them: a repeated key once, an escaped
    /// spelling of a key the same key, two different lone surrogates two keys.
    #[test]
    fn repeated_keys_count_once() {
        for (text, keys) in [
            (r#"{}"#, vec![]),
            (r#"{"a":1,"a":2}"#, vec!["a"]),
            (r#"{"a":1,"b":2,"a":3}"#, vec!["a", "b"]),
            (r#"{"a":1,"\u0061":2,"b":[{"a":1,"a":1}]}"#, vec!["a", "b"]),
            (
                r#"{"\ud800":1,"\ud801":2,"\ud800":3}"#,
                vec!["\u{FFFD}", "\u{FFFD}"],
            ),
            (r#"{"\ud83d\ude00":1,"😀":2}"#, vec!["😀"]),
        ] {
            let t = tape(text).unwrap();
            let found: Vec<String> = t
                .view()
                .distinct_keys(t.root())
                .into_iter()
                .map(|k| t.string(k).unwrap().into_owned())
                .collect();
            assert_eq!(found, keys, "{text}");
        }
    }

    /// String length in UTF-16 units, as JS `.length` gives it after `JSON.parse`.
    #[test]
    fn string_length_in_utf16_units() {
        for (text, units) in [
            (r#""""#, 0),
            (r#""abc""#, 3),
            (r#""é""#, 1),
            (r#""😀""#, 2),
            (r#""\ud83d\ude00""#, 2),
            (r#""\ud800""#, 1),
            (r#""\udc00\ud800x""#, 3),
            (r#""a\n\u00e9""#, 3),
        ] {
            let t = tape(text).unwrap();
            assert_eq!(t.view().string_utf16_len(t.root()), Some(units), "{text}");
        }
    }

    #[test]
    fn deep_nesting_needs_no_stack() {
        let depth = 200_000;
        let s = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
        let t = tape(&s).unwrap();
        assert_eq!(t.nodes.len(), depth);
        assert!(tape(&"[".repeat(depth)).is_err(), "unclosed");
    }

    #[test]
    fn pointers_members_and_elements() {
        let t = tape(r#"{"a/b":[10,{"x~y":"z"}],"k":"v\u0041"}"#).unwrap();
        let r = t.root();
        assert_eq!(
            t.view().number(t.pointer(r, "/a~1b/0").unwrap()),
            Some(10.0)
        );
        assert_eq!(
            t.string(t.pointer(r, "/a~1b/1/x~0y").unwrap()).unwrap(),
            "z"
        );
        assert_eq!(t.string(t.pointer(r, "/k").unwrap()).unwrap(), "vA");
        assert!(t.pointer(r, "/a~1b/01").is_none());
        assert!(t.pointer(r, "/a~1b/2").is_none());
        assert!(t.pointer(r, "/nope").is_none());
        assert!(t.pointer(r, "x").is_none());
        assert_eq!(t.children(t.pointer(r, "/a~1b").unwrap()).count(), 2);
        // A repeated key counts by its last value, as JSON.parse has it.
        let t = tape(r#"{"k":1,"k":2}"#).unwrap();
        assert_eq!(
            t.view().number(t.pointer(t.root(), "/k").unwrap()),
            Some(2.0)
        );
    }

    /// The fast path for short decimals gives bit for bit what `str::parse` gives, or declines.
    #[test]
    fn short_decimal_matches_str_parse() {
        for (text, fast) in [
            ("0", true),
            ("-0", true),
            ("48.123456", true),
            ("1700000000000", true),
            ("9007199254740992", true),
            ("9007199254740993", false), // above 2^53
            ("1e5", false),
            ("0.0000000000000000000001", true), // 22 fraction digits
            ("0.00000000000000000000001", false), // 23
            ("12345678901234567890", false),    // 20 digits
        ] {
            let parsed: f64 = text.parse().unwrap();
            match short_decimal(text.as_bytes()) {
                Some(v) => {
                    assert!(fast, "{text} took the fast path");
                    assert_eq!(v.to_bits(), parsed.to_bits(), "{text}");
                }
                None => assert!(!fast, "{text} declined"),
            }
        }
        let mut next = crate::test_rng::xorshift(0x9E37_79B9_7F4A_7C15u64);
        let mut fast = 0;
        for _ in 0..200_000 {
            let mantissa = next() >> (next() % 64);
            let digits = mantissa.to_string();
            let point = (next() % 24) as usize;
            let text = if point == 0 || point > digits.len() {
                digits.clone()
            } else {
                let (int, frac) = digits.split_at(digits.len() - point);
                format!("{}.{frac}", if int.is_empty() { "0" } else { int })
            };
            let text = if next() % 2 == 0 {
                format!("-{text}")
            } else {
                text
            };
            let parsed: f64 = text.parse().unwrap();
            if let Some(v) = short_decimal(text.as_bytes()) {
                fast += 1;
                assert_eq!(v.to_bits(), parsed.to_bits(), "{text}");
            }
        }
        assert!(fast > 10_000, "the fast path was taken {fast} times");
    }

    /// Differential fuzz: random mutations of valid documents are accepted by the tape exactly
    /// when serde_json accepts them, and then give the same value. Iterations from
    /// `WASM_ISOLATES_FUZZ_ITERS` (default 20,000; docs/tests.md records the long runs).
    #[test]
    fn differential_fuzz_against_serde_json() {
        let mut next = crate::test_rng::xorshift(0x2545_F491_4F6C_DD1Du64);
        let alphabet = b"[]{}\",:0123456789.eE+-tfnrulsa \\/u\n";
        let iterations: usize = std::env::var("WASM_ISOLATES_FUZZ_ITERS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(20_000);
        let (mut accepted, mut rejected) = (0, 0);
        for n in 0..iterations {
            let mut bytes = VALID[n % VALID.len()].as_bytes().to_vec();
            for _ in 0..=(next() % 3) {
                let at = if bytes.is_empty() {
                    0
                } else {
                    (next() as usize) % (bytes.len() + 1)
                };
                match next() % 3 {
                    0 if at < bytes.len() => {
                        bytes[at] = alphabet[(next() as usize) % alphabet.len()]
                    }
                    1 if at < bytes.len() => {
                        bytes.remove(at);
                    }
                    _ => bytes.insert(at, alphabet[(next() as usize) % alphabet.len()]),
                }
            }
            let ours = Tape::parse(bytes.clone());
            let theirs = serde_json::from_slice::<Value>(&bytes);
            match (ours, theirs) {
                (Ok(t), Ok(v)) => {
                    accepted += 1;
                    // Lone surrogates: serde_json refuses them, so they never reach here.
                    assert_eq!(
                        to_value(&t, t.root()),
                        v,
                        "{:?}",
                        String::from_utf8_lossy(&bytes)
                    );
                }
                (Err(_), Err(_)) => rejected += 1,
                (Ok(_), Err(e)) => {
                    // Where serde_json is stricter than JSON.parse, we follow JSON.parse: lone
                    // surrogates (`\ud800` without a low surrogate) and numbers beyond f64
                    // (JSON.parse gives Infinity).
                    let text = String::from_utf8_lossy(&bytes).to_lowercase();
                    let surrogate = [
                        "\\ud8", "\\ud9", "\\uda", "\\udb", "\\udc", "\\udd", "\\ude", "\\udf",
                    ]
                    .iter()
                    .any(|p| text.contains(p));
                    let out_of_range = e.to_string().contains("number out of range");
                    assert!(surrogate || out_of_range, "tape accepts {text:?}: {e}");
                }
                (Err(e), Ok(_)) => {
                    panic!("tape rejects {:?}: {e}", String::from_utf8_lossy(&bytes))
                }
            }
        }
        assert!(
            accepted > 0 && rejected > 0,
            "{accepted} accepted, {rejected} rejected"
        );
    }

    /// The structure of node `i`: kinds, text ranges and children (checks every node field).
    fn shape(t: TapeView<'_>, i: usize) -> String {
        let n = t.node(i);
        let children: Vec<String> = t.children(i).map(|c| shape(t, c)).collect();
        format!("{:?}{}..{}[{}]", n.kind, n.start, n.end, children.join(","))
    }

    /// `for_each_root_element` must see exactly what `Tape::parse` builds: the same elements
    /// (same values, same text), the same kind and count, and the same error where it fails.
    fn assert_root_elements_match(bytes: &[u8]) {
        let mut seen = Vec::new();
        let streamed = for_each_root_element(bytes, |view, node| {
            seen.push((shape(view, node), view.json_text(node).to_vec()));
        });
        match (Tape::parse(bytes.to_vec()), streamed) {
            (Ok(t), Ok((kind, count))) => {
                let root = t.node(t.root()).kind;
                assert_eq!(kind, root);
                let expected: Vec<_> = if root == Kind::Array {
                    t.children(t.root())
                        .map(|c| (shape(t.view(), c), t.json_text(c).to_vec()))
                        .collect()
                } else {
                    Vec::new()
                };
                assert_eq!(count, expected.len() as u64);
                assert_eq!(seen, expected, "{:?}", String::from_utf8_lossy(bytes));
            }
            (Err(a), Err(b)) => assert_eq!(a, b),
            (a, b) => panic!(
                "{:?}: parse {:?}, for_each_root_element {:?}",
                String::from_utf8_lossy(bytes),
                a.map(|_| ()),
                b
            ),
        }
    }

    #[test]
    fn root_elements_stream_like_the_tape() {
        for s in VALID {
            assert_root_elements_match(s.as_bytes());
        }
        assert_root_elements_match(br#"[{"a":1,"b":[true,{"c":null}]},[],{},"x",-0.5,[[1],[2]]]"#);
        assert_root_elements_match(br#"{"not":"an array"}"#);
        // Mutations of arrays of records: valid ones must agree, broken ones fail the same way.
        let mut next = crate::test_rng::xorshift(0x9E37_79B9_7F4A_7C15u64);
        let alphabet = b"[]{}\",:0123456789.eE-tfnul \\";
        for n in 0..5_000 {
            let mut bytes = format!(
                "[{},{}]",
                VALID[n % VALID.len()],
                VALID[(n / 3) % VALID.len()]
            )
            .into_bytes();
            for _ in 0..(next() % 3) {
                let at = (next() as usize) % bytes.len();
                let b = alphabet[(next() as usize) % alphabet.len()];
                if next() % 2 == 0 {
                    bytes[at] = b;
                } else {
                    bytes.insert(at, b);
                }
            }
            assert_root_elements_match(&bytes);
        }
    }

    #[test]
    fn string_stop_finds_the_first_stop_byte() {
        let simple = |text: &[u8], from: usize| {
            text[from..]
                .iter()
                .position(|&b| STRING_STOP[b as usize])
                .map(|run| from + run)
        };
        let mut next = crate::test_rng::xorshift(0x51_7CC1_B727_220A);
        // Every byte value at every offset of a 20-byte run, behind every other stop byte.
        for stop in 0..=255u8 {
            for at in 0..20 {
                let mut text = vec![b'a'; 20];
                text[at] = stop;
                for from in 0..=at {
                    assert_eq!(
                        string_stop(&text, from),
                        simple(&text, from),
                        "{stop} at {at} from {from}"
                    );
                }
            }
        }
        // Random text, mostly plain bytes and UTF-8 (bytes over 0x7f must never stop the scan).
        for _ in 0..20_000 {
            let len = (next() % 40) as usize;
            let text: Vec<u8> = (0..len)
                .map(|_| match next() % 16 {
                    0 => b'"',
                    1 => b'\\',
                    2 => (next() % 0x20) as u8,
                    3..=5 => 0x80 | (next() % 0x80) as u8,
                    _ => b' ' + (next() % 0x5f) as u8,
                })
                .collect();
            let from = if len == 0 {
                0
            } else {
                (next() as usize) % (len + 1)
            };
            assert_eq!(
                string_stop(&text, from),
                simple(&text, from),
                "{text:?} from {from}"
            );
        }
    }
}
