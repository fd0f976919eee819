//! A validating JSON parser into a flat *tape*: one small node per value, pointing into the
//! original text. No allocation per string, key or number, no recursion (so nesting depth is
//! bounded by memory, not by the stack), and the text of any value stays available as a byte
//! range — a page of records is sent as the original bytes, never re-serialized.
//!
//! `serde_json::Value` was measured here at 46–87 MB/s natively on the 50 MB points dataset
//! (one allocation per key and string, a map per object); this tape is what makes parsing in an
//! isolate competitive with the engine's `JSON.parse`.

use std::fmt;

// `#[path]`: the same file is found when this one is compiled into the browser tests
// (tests/common/json.rs), where it is a path-included module.
#[path = "scan.rs"]
mod scan;
use scan::{Fast, Scan};

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
    match Fast::check_utf8(&bytes) {
        Ok(()) => bytes,
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
        on_element: impl FnMut(u32),
    ) -> Result<Tape, SyntaxError> {
        Self::parse_watched_with::<Fast>(text, on_element)
    }

    /// [`parse_watched`](Self::parse_watched) with the scans of `S`: [`scan::Fast`] in the
    /// build, either one in the tests that hold the two to the same results.
    fn parse_watched_with<S: Scan>(
        text: Vec<u8>,
        mut on_element: impl FnMut(u32),
    ) -> Result<Tape, SyntaxError> {
        check_size_and_utf8::<S>(&text)?;
        // Roughly one node per 6 bytes of typical JSON.
        let mut nodes = Vec::with_capacity(text.len() / 6 + 1);
        parse_into::<S>(&text, &mut nodes, &mut |view, node| {
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
    on_element: impl FnMut(TapeView<'_>, usize),
) -> Result<(Kind, u64), SyntaxError> {
    for_each_root_element_with::<Fast>(text, on_element)
}

/// [`for_each_root_element`] with the scans of `S` (see [`Tape::parse_watched_with`]).
fn for_each_root_element_with<S: Scan>(
    text: &[u8],
    mut on_element: impl FnMut(TapeView<'_>, usize),
) -> Result<(Kind, u64), SyntaxError> {
    check_size_and_utf8::<S>(text)?;
    let mut nodes = Vec::with_capacity(1024);
    let mut count = 0u64;
    parse_into::<S>(text, &mut nodes, &mut |view, node| {
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

/// What every parse checks first: the size (node positions are `u32`) and the encoding.
fn check_size_and_utf8<S: Scan>(text: &[u8]) -> Result<(), SyntaxError> {
    if u32::try_from(text.len()).is_err() {
        return Err(error_at(text, 0, "text is larger than 4 GiB"));
    }
    S::check_utf8(text).map_err(|valid_up_to| error_at(text, valid_up_to, "invalid UTF-8"))
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
fn parse_into<S: Scan>(
    text: &[u8],
    nodes: &mut Vec<Node>,
    on_root_element: &mut impl FnMut(TapeView<'_>, usize) -> bool,
) -> Result<(), SyntaxError> {
    let scan = &mut S::default();
    // Open containers: node index.
    let mut stack: Vec<usize> = Vec::new();
    let mut pos = scan.skip_ws(text, text_start(text));
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
                pos = string(text, nodes, pos, scan)?;
                pos = scan.skip_ws(text, pos);
                if text.get(pos) != Some(&b':') {
                    return Err(error_at(
                        text,
                        pos,
                        format!("{} (expected `:`)", describe(text.get(pos))),
                    ));
                }
                pos = scan.skip_ws(text, pos + 1);
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
                    pos = scan.skip_ws(text, pos + 1);
                    expect = if kind == Kind::Object {
                        Expect::FirstKey
                    } else {
                        Expect::FirstElement
                    };
                    continue;
                }
                Some(b'"') => pos = string(text, nodes, pos, scan)?,
                Some(b'-' | b'0'..=b'9') => pos = number(text, nodes, pos, scan)?,
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
            pos = scan.skip_ws(text, pos);
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
                    pos = scan.skip_ws(text, pos + 1);
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

fn string(
    text: &[u8],
    nodes: &mut Vec<Node>,
    pos: usize,
    scan: &mut impl Scan,
) -> Result<usize, SyntaxError> {
    let start = pos + 1;
    let mut i = start;
    let mut escaped = false;
    loop {
        // Fast scan to the next byte that needs a look.
        i = scan
            .string_stop(text, i)
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

fn number(
    text: &[u8],
    nodes: &mut Vec<Node>,
    pos: usize,
    scan: &mut impl Scan,
) -> Result<usize, SyntaxError> {
    let mut i = pos;
    let mut digits = |i: &mut usize| {
        let s = *i;
        *i = scan.digits_end(text, s);
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

/// The SIMD and the scalar scans held to the same results: the same nodes (kind, text range,
/// `next`), the same progress calls, the same root elements, the same errors (message, offset,
/// line, column, UTF-16 positions). Run natively by the tests below and in the browser by
/// tests/common/json.rs, which compiles this file into the browser tests for it.
#[cfg(test)]
#[cfg_attr(target_arch = "wasm32", allow(dead_code))] // the lib's own tests run natively only
pub(crate) mod differential {
    use super::scan::{Blocks, Scalar, Scan};
    use super::*;

    /// Whether the build's scans use SIMD (wasm32 with `simd128`, x86_64).
    pub(crate) const SIMD: bool = super::scan::SIMD;

    /// Everything a parse with `S` gives that the rest of the crate can see.
    type Outcome = (
        Result<Vec<(Kind, u32, u32, u32)>, SyntaxError>,
        Vec<u32>,
        Result<(Kind, u64), SyntaxError>,
        Vec<(usize, Vec<(Kind, u32, u32, u32)>)>,
    );

    fn outcome<S: Scan>(text: &[u8]) -> Outcome {
        let fields = |n: &Node| (n.kind, n.start, n.end, n.next);
        let mut progress = Vec::new();
        let tape = Tape::parse_watched_with::<S>(text.to_vec(), |at| progress.push(at))
            .map(|t| t.nodes.iter().map(fields).collect());
        let mut elements = Vec::new();
        let streamed = for_each_root_element_with::<S>(text, |view, node| {
            let end = view.nodes[node].next as usize;
            elements.push((node, view.nodes[node..end].iter().map(fields).collect()));
        });
        (tape, progress, streamed, elements)
    }

    /// Parses `text` with both scans, whole and streamed, and panics where they differ.
    /// Returns whether the text is JSON.
    pub(crate) fn assert_scans_agree(text: &[u8]) -> bool {
        let scalar = outcome::<Scalar>(text);
        let blocks = outcome::<Blocks>(text);
        assert!(
            scalar == blocks,
            "the scans differ on {:?}:\nscalar {:?}\nblocks {:?}",
            String::from_utf8_lossy(text),
            scalar,
            blocks
        );
        scalar.0.is_ok()
    }

    /// The scalar parse's error for `text`, if it is not JSON (to compare with what the
    /// isolates report).
    pub(crate) fn scalar_error(text: &[u8]) -> Option<SyntaxError> {
        Tape::parse_watched_with::<Scalar>(text.to_vec(), |_| {}).err()
    }

    /// Valid documents of the tests (each kind of value, escapes, nesting).
    pub(crate) const VALID: &[&str] = &[
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

    /// Malformed documents of the tests, one per kind of error.
    pub(crate) const INVALID: &[&str] = &[
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

    /// The other inputs of the tests: positions after a byte order mark and a line feed, in
    /// UTF-16 units, invalid UTF-8, repeated keys, string lengths, pointers, root elements.
    pub(crate) const OTHER: &[&[u8]] = &[
        b"[1,\n 2,\n x]",
        b"\xEF\xBB\xBF [1,2]",
        b"\xEF\xBB\xBF[1,\n x]",
        b"\xEF\xBB\xBF[x]",
        b"\xEF\xBB\xBF\xEF\xBB\xBF[]",
        b" \xEF\xBB\xBF[]",
        b"[]\xEF\xBB\xBF",
        b"\xEF\xBB",
        "[\"é😀\",\n\"😀\", x]".as_bytes(),
        b"\"\x80\"",
        b"\"\xE2\x82\"",
        b"\"\xC0\xAF\"",
        b"\"\xED\xA0\x80\"",
        b"\"\xFF\xFEa\"",
        b"[\"\xFF\"",
        br#"{"a":1,"b":2,"a":3}"#,
        br#"{"a":1,"\u0061":2,"b":[{"a":1,"a":1}]}"#,
        br#"{"\ud800":1,"\ud801":2,"\ud800":3}"#,
        r#"{"\ud83d\ude00":1,"😀":2}"#.as_bytes(),
        br#""\udc00\ud800x""#,
        br#""a\n\u00e9""#,
        br#"{"a/b":[10,{"x~y":"z"}],"k":"v\u0041"}"#,
        br#"[{"a":1,"b":[true,{"c":null}]},[],{},"x",-0.5,[[1],[2]]]"#,
        br#"{"not":"an array"}"#,
        br#"{"\u+d80":1}"#,
    ];

    /// A small deterministic generator (xorshift64), so that a failure reproduces.
    pub(crate) fn rng(seed: u64) -> impl FnMut() -> u64 {
        let mut state = seed.max(1);
        move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        }
    }

    /// What may stand between two tokens: nothing most often, else a run of any length and
    /// mix (indentation runs past a 64-byte block).
    fn whitespace(next: &mut impl FnMut() -> u64, out: &mut Vec<u8>) {
        match next() % 8 {
            0..=3 => {}
            4 => out.push(b' '),
            5 => {
                out.push(b'\n');
                out.extend(std::iter::repeat_n(b' ', (next() % 80) as usize));
            }
            _ => {
                for _ in 0..next() % 140 {
                    out.push(b" \t\r\n"[(next() % 4) as usize]);
                }
            }
        }
    }

    /// The body of a string: plain bytes, every escape, multi-byte characters, runs long enough
    /// to cross blocks. Valid unless `next` says otherwise (a control byte, a bad escape).
    fn string_body(next: &mut impl FnMut() -> u64, out: &mut Vec<u8>) {
        let pieces: &[&[u8]] = &[
            b"a",
            b"abcdefghijklmnopqrstuvwxyz",
            b"\\\"",
            b"\\\\",
            b"\\/",
            b"\\b",
            b"\\f",
            b"\\n",
            b"\\r",
            b"\\t",
            b"\\u00e9",
            b"\\uD83D\\uDE00",
            b"\\ud800",
            "é".as_bytes(),
            "€".as_bytes(),
            "😀".as_bytes(),
            b"\x7f",
            b" ",
        ];
        let len = match next() % 4 {
            0 => 0,
            1 | 2 => next() % 6,
            _ => next() % 40,
        };
        for _ in 0..len {
            out.extend_from_slice(pieces[(next() as usize) % pieces.len()]);
        }
    }

    /// A random JSON document: objects and arrays up to `depth` deep, all kinds of values.
    pub(crate) fn document(next: &mut impl FnMut() -> u64, depth: u32, out: &mut Vec<u8>) {
        whitespace(next, out);
        match next() % if depth == 0 { 6 } else { 9 } {
            0 => out.extend_from_slice(b"null"),
            1 => out.extend_from_slice([&b"true"[..], b"false"][(next() % 2) as usize]),
            2 | 3 => {
                let number = match next() % 4 {
                    0 => format!("{}", next() % 1000),
                    1 => format!("-{}.{}", next() % 100, next() % 1_000_000),
                    2 => format!("{}e{}", next() % 10, (next() % 40) as i64 - 20),
                    _ => format!("{}.{:06}", 48 + next() % 4, next() % 1_000_000),
                };
                out.extend_from_slice(number.as_bytes());
            }
            4 | 5 => {
                out.push(b'"');
                string_body(next, out);
                out.push(b'"');
            }
            kind => {
                let object = kind == 6;
                out.push(if object { b'{' } else { b'[' });
                for i in 0..next() % 6 {
                    if i > 0 {
                        whitespace(next, out);
                        out.push(b',');
                    }
                    if object {
                        whitespace(next, out);
                        out.push(b'"');
                        string_body(next, out);
                        out.push(b'"');
                        whitespace(next, out);
                        out.push(b':');
                    }
                    document(next, depth - 1, out);
                }
                whitespace(next, out);
                out.push(if object { b'}' } else { b']' });
            }
        }
        whitespace(next, out);
    }

    /// A string that holds `special` after `before` plain bytes, `skip` bytes into an array:
    /// every escape and byte class at every offset from the string's start and from the text's.
    pub(crate) fn aligned_strings(mut each: impl FnMut(&[u8])) {
        let specials: Vec<Vec<u8>> = [
            &br#"\""#[..],
            br"\\",
            br"\/",
            br"\b",
            br"\f",
            br"\n",
            br"\r",
            br"\t",
            br"\u00e9",
            br"\uD83D\uDE00",
            br"\u12",
            br"\u12g4",
            br"\x",
            br"\",
            b"\"",
            "é".as_bytes(),
            "😀".as_bytes(),
            b"\xC3",
            b"\x7f",
            b"\xFF",
        ]
        .iter()
        .map(|s| s.to_vec())
        .chain((0..0x20u8).map(|b| vec![b]))
        .collect();
        for skip in [0usize, 1, 15, 16, 63] {
            for before in 0..70 {
                for special in &specials {
                    let mut text = vec![b'['];
                    text.extend(std::iter::repeat_n(b' ', skip));
                    text.push(b'"');
                    text.extend(std::iter::repeat_n(b'a', before));
                    text.extend_from_slice(special);
                    text.extend_from_slice(b"bc\",\"d\"]");
                    each(&text);
                    // The same, cut right after the special: the end of the text in the string.
                    each(&text[..1 + skip + 1 + before + special.len()]);
                }
            }
        }
    }

    /// Runs every check on `documents` random documents from `seed`: the tests' inputs, the
    /// aligned strings, random documents, every prefix of some of them (truncations) and
    /// mutations of them. Returns how many inputs were JSON and how many were not.
    pub(crate) fn check_all(seed: u64, documents: usize) -> (usize, usize) {
        let mut counts = (0, 0);
        let mut check = |text: &[u8]| {
            if assert_scans_agree(text) {
                counts.0 += 1;
            } else {
                counts.1 += 1;
            }
        };
        for text in VALID.iter().chain(INVALID) {
            check(text.as_bytes());
        }
        for text in OTHER {
            check(text);
        }
        check("[".repeat(10_000).as_bytes());
        aligned_strings(&mut check);
        let mut next = rng(seed);
        let alphabet = b"[]{}\",:0123456789.eE+-tfnrulsa \\/u\n\t\x01\x80";
        for n in 0..documents {
            let mut text = Vec::new();
            let depth = 1 + (next() % 5) as u32;
            document(&mut next, depth, &mut text);
            check(&text);
            if n % 16 == 0 {
                for end in 0..text.len() {
                    check(&text[..end]);
                }
            }
            for _ in 0..2 {
                let mut mutated = text.clone();
                for _ in 0..=(next() % 3) {
                    let at = (next() as usize) % (mutated.len() + 1);
                    let b = alphabet[(next() as usize) % alphabet.len()];
                    match next() % 3 {
                        0 if at < mutated.len() => mutated[at] = b,
                        1 if at < mutated.len() => {
                            mutated.remove(at);
                        }
                        _ => mutated.insert(at, b),
                    }
                }
                check(&mutated);
            }
        }
        counts
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::differential::{assert_scans_agree, INVALID, VALID};
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
            assert_scans_agree(&bytes);
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
            assert_scans_agree(&bytes);
        }
    }

    /// The SIMD scans (SSE2 here, `simd128` in the browser) give what the scalar scans give, on
    /// every input of these tests and on generated ones (see [`differential::check_all`]).
    #[test]
    fn simd_and_scalar_scans_parse_the_same() {
        assert_eq!(
            differential::SIMD,
            cfg!(target_arch = "x86_64"),
            "the build's scans"
        );
        let (valid, invalid) = differential::check_all(0xD1FF_5EED, 3_000);
        assert!(
            valid > 3_000 && invalid > 3_000,
            "{valid} valid, {invalid} invalid"
        );
    }

    /// Parse throughput of the scalar and the SIMD scans on generated 50 MB documents:
    /// `cargo test --release --lib -- --ignored --nocapture simd_vs_scalar_throughput`.
    #[test]
    #[ignore = "a benchmark: run it in release mode"]
    fn simd_vs_scalar_throughput() {
        use super::scan::{Blocks, Scalar};
        use std::time::Instant;
        let mb = 50 * 1024 * 1024;
        let mut next = crate::test_rng::xorshift(0x5EED);
        let mut documents: Vec<(&str, Vec<u8>)> = Vec::new();
        let mut points = |pretty: bool| {
            let (nl, indent, field, colon) = if pretty {
                ("\n", "  ", "\n    ", ": ")
            } else {
                ("", "", "", ":")
            };
            let mut out = String::from("[");
            let mut id = 0u64;
            while out.len() < mb {
                out.push_str(&format!(
                    r#"{}{nl}{indent}{{{field}"id"{colon}{id},{field}"courier"{colon}"c-{}",{field}"lat"{colon}{}.{:06},{field}"lon"{colon}{}.{:06},{field}"speed"{colon}{}.{:02},{field}"ts"{colon}{},{field}"status"{colon}"{}"{nl}{indent}}}"#,
                    if id == 0 { "" } else { "," },
                    next() % 500,
                    48 + next() % 4,
                    next() % 1_000_000,
                    2 + next() % 6,
                    next() % 1_000_000,
                    next() % 90,
                    next() % 100,
                    1_700_000_000_000u64 + id * 1000,
                    ["moving", "idle", "delivering"][(next() % 3) as usize],
                ));
                id += 1;
            }
            out.push_str(nl);
            out.push(']');
            out
        };
        documents.push(("points (compact)", points(false).into_bytes()));
        documents.push(("points (pretty)", points(true).into_bytes()));
        let words = [
            "lorem",
            "ipsum",
            "dolor",
            "sit",
            "amet",
            "consectetur",
            "adipiscing",
            "elit",
            "sed",
            "do",
            "eiusmod",
            "tempor",
            "incididunt",
            "ut",
            "labore",
            "et",
            "dolore",
            "magna",
            "aliqua",
            "café",
            "naïve",
            "Zürich",
        ];
        let mut sentence = |n: u64| {
            (0..n)
                .map(|_| words[(next() % words.len() as u64) as usize])
                .collect::<Vec<_>>()
                .join(" ")
        };
        let mut texts = String::from("[");
        let mut id = 0u64;
        while texts.len() < mb {
            texts.push_str(&format!(
                r#"{}{{"id":{id},"title":"{}","body":"{}","author":{{"name":"{}","email":"user{id}@example.com"}},"tags":["{}","{}"],"quote":"she said \"{}\"\n"}}"#,
                if id == 0 { "" } else { "," },
                sentence(6),
                sentence(60),
                sentence(2),
                sentence(1),
                sentence(1),
                sentence(5),
            ));
            id += 1;
        }
        texts.push(']');
        documents.push(("string-heavy", texts.into_bytes()));
        // Each measure: the fastest of 7 runs, scalar and SIMD alternating (this machine is
        // shared: alternating spreads its load over both). The text's copy that a tape parse
        // takes is made before the clock starts.
        type Run = fn(Vec<u8>) -> usize;
        let tape_with: [Run; 2] = [
            |t| {
                Tape::parse_watched_with::<Scalar>(t, |_| {})
                    .unwrap()
                    .nodes
                    .len()
            },
            |t| {
                Tape::parse_watched_with::<Blocks>(t, |_| {})
                    .unwrap()
                    .nodes
                    .len()
            },
        ];
        let each_with: [Run; 2] = [
            |t| {
                for_each_root_element_with::<Scalar>(&t, |_, _| {})
                    .unwrap()
                    .1 as usize
            },
            |t| {
                for_each_root_element_with::<Blocks>(&t, |_, _| {})
                    .unwrap()
                    .1 as usize
            },
        ];
        let utf8_with: [Run; 2] = [
            |t| usize::from(Scalar::check_utf8(&t).is_ok()),
            |t| usize::from(Blocks::check_utf8(&t).is_ok()),
        ];
        println!("MB/s, scalar → SIMD scans (native, x86_64 SSE2, release):");
        for (name, text) in &documents {
            let mut best = [[f64::INFINITY; 2]; 3];
            for _ in 0..7 {
                for (measure, runs) in [tape_with, each_with, utf8_with].iter().enumerate() {
                    for (path, run) in runs.iter().enumerate() {
                        let copy = text.clone();
                        let t = Instant::now();
                        std::hint::black_box(run(copy));
                        best[measure][path] = best[measure][path].min(t.elapsed().as_secs_f64());
                    }
                }
            }
            let mbs = |secs: f64| text.len() as f64 / 1e6 / secs;
            let line = |[scalar, simd]: [f64; 2]| {
                format!(
                    "{:.0} → {:.0} ({:.2}×)",
                    mbs(scalar),
                    mbs(simd),
                    scalar / simd
                )
            };
            println!(
                "{name} ({:.1} MB): tape {}; for_each_root_element {}; UTF-8 check {}",
                text.len() as f64 / 1e6,
                line(best[0]),
                line(best[1]),
                line(best[2]),
            );
        }
    }
}
