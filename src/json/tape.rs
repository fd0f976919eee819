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
#[derive(Clone, Copy, PartialEq, Debug)]
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

/// Where the parser is in the grammar. A parse of a whole text goes through these without
/// stopping; a parse fed piece by piece ([`StreamParser`]) stops at the end of the bytes so far
/// in any of them and picks up there when more arrive.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Phase {
    /// Nothing read: a byte order mark may come first.
    Start,
    /// At a value, key or closing bracket, as `expect` says (whitespace may come first).
    Value,
    /// Inside a string whose text starts at `start` (after its quote): the bytes before `at` are
    /// read (`at` is never inside an escape), `escaped` says whether they held an escape, `key`
    /// whether the string is an object's key.
    Str {
        start: usize,
        at: usize,
        escaped: bool,
        key: bool,
    },
    /// In a number that starts at `start`, whose bytes up to `scanned` can all belong to a
    /// number: it is read once a byte that cannot has arrived (or the text has ended).
    Number { start: usize, scanned: usize },
    /// After a key: `:` next.
    Colon,
    /// After a complete value: `,`, a closing bracket, or the end of the text.
    AfterValue,
}

/// What a parse keeps between two pieces of text: the open containers (node indices), the
/// position, and where it is in the grammar.
struct ParseState {
    stack: Vec<usize>,
    pos: usize,
    expect: Expect,
    phase: Phase,
}

impl ParseState {
    fn new() -> Self {
        ParseState {
            stack: Vec::new(),
            pos: 0,
            expect: Expect::Value,
            phase: Phase::Start,
        }
    }

    /// How far the parse has read: every byte before this is parsed.
    fn parsed(&self) -> usize {
        match self.phase {
            Phase::Str { at, .. } => at,
            Phase::Number { scanned, .. } => scanned,
            _ => self.pos,
        }
    }
}

/// Parses all of `text`, which must be valid UTF-8 and at most 4 GiB (see
/// [`check_size_and_utf8`]). `on_root_element(view, node)` is called for each element of a
/// top-level array once it is complete; when it returns true, the element's nodes are dropped
/// (the tape keeps the array node only, its `next` no longer meaningful): see
/// [`for_each_root_element`].
fn parse_into<S: Scan>(
    text: &[u8],
    nodes: &mut Vec<Node>,
    on_root_element: &mut impl FnMut(TapeView<'_>, usize) -> bool,
) -> Result<(), SyntaxError> {
    let mut state = ParseState::new();
    parse_step::<S, false>(text, true, &mut state, nodes, on_root_element).map(|_| ())
}

/// One JSON number byte or not: a byte that cannot continue a number ends it.
#[inline]
fn is_number_byte(b: u8) -> bool {
    matches!(b, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
}

/// The parser, from where `state` stands to the end of `text`. Returns `Ok(true)` when the
/// document is complete.
///
/// `STREAM` is false for a text parsed whole (`last` is then true): every check for the end of
/// the bytes so far compiles away, and this is the one-pass parser over a buffer. With `STREAM`
/// and `last` false, `text` is all the bytes that have arrived, and more may follow: wherever the
/// parser would read past the end of `text` — where a byte that has not arrived could change what
/// it decides — it stores where it is in `state` and returns `Ok(false)`; the next call, with
/// `text` grown, goes on from there. An error is only ever reported at a byte that has arrived
/// and whose meaning no later byte can change, so it is the error a parse of the whole text gives
/// (the differential tests in [`differential`] hold the two to the same nodes and errors for
/// every split of their inputs).
fn parse_step<S: Scan, const STREAM: bool>(
    text: &[u8],
    last: bool,
    state: &mut ParseState,
    nodes: &mut Vec<Node>,
    on_root_element: &mut impl FnMut(TapeView<'_>, usize) -> bool,
) -> Result<bool, SyntaxError> {
    // Bytes may follow `text`.
    let more = STREAM && !last;
    // A new scanner each call: a block it classified past the end of `text` is stale once `text`
    // has grown.
    let scan = &mut S::default();
    let stack = &mut state.stack;
    let mut pos = state.pos;
    let mut expect = state.expect;
    // Stops here: the next call goes on in `$phase` from `pos`, expecting `expect`.
    macro_rules! suspend {
        ($phase:expr) => {{
            state.phase = $phase;
            state.pos = pos;
            state.expect = expect;
            return Ok(false);
        }};
    }
    // Value `$done` is complete: an element of the top-level array is handed over.
    macro_rules! completed {
        ($done:expr) => {{
            let done = $done;
            if stack.len() == 1 && nodes[0].kind == Kind::Array {
                let view = TapeView { text, nodes };
                if on_root_element(view, done) {
                    nodes.truncate(done);
                }
            }
        }};
    }
    // After a key: `:`, then a value.
    macro_rules! colon {
        () => {{
            pos = scan.skip_ws(text, pos);
            match text.get(pos) {
                Some(b':') => {
                    pos = scan.skip_ws(text, pos + 1);
                    expect = Expect::Value;
                }
                None if more => suspend!(Phase::Colon),
                other => {
                    return Err(error_at(
                        text,
                        pos,
                        format!("{} (expected `:`)", describe(other)),
                    ))
                }
            }
        }};
    }
    // The string whose text starts at `$start`, read from `$at` on; a key's `:` after it.
    macro_rules! string_at {
        ($start:expr, $at:expr, $escaped:expr, $key:expr) => {{
            let (start, key) = ($start, $key);
            match string_end(text, more, $at, $escaped, scan)? {
                StringEnd::Quote { at, escaped } => {
                    nodes.push(Node {
                        kind: if escaped { Kind::EscStr } else { Kind::Str },
                        start: start as u32,
                        end: at as u32,
                        next: nodes.len() as u32 + 1,
                    });
                    pos = at + 1;
                    if key {
                        colon!();
                    } else {
                        completed!(nodes.len() - 1);
                    }
                }
                StringEnd::More { at, escaped } => suspend!(Phase::Str {
                    start,
                    at,
                    escaped,
                    key,
                }),
            }
        }};
    }
    // The number at `$start`.
    macro_rules! number_at {
        ($start:expr) => {{
            let start = $start;
            let end = number_end(text, start, scan);
            let reached = match &end {
                Ok(end) => *end,
                Err(e) => e.at,
            };
            // A number that reaches the end of the bytes so far may go on in the next piece.
            if more && reached == text.len() {
                suspend!(Phase::Number {
                    start,
                    scanned: text.len(),
                });
            }
            let end = end.map_err(|e| e.into_syntax_error(text))?;
            nodes.push(Node {
                kind: Kind::Number,
                start: start as u32,
                end: end as u32,
                next: nodes.len() as u32 + 1,
            });
            pos = end;
            completed!(nodes.len() - 1);
        }};
    }
    // `true`, `false` or `null` at `pos`.
    macro_rules! literal_at {
        ($word:expr, $kind:expr) => {{
            let word: &[u8] = $word;
            // Part of the word arrived, all of it right so far: wait for the rest. (A wrong byte
            // among those that arrived is the same error now as later.)
            if more && text.len() < pos + word.len() && word.starts_with(&text[pos..]) {
                suspend!(Phase::Value);
            }
            pos = literal(text, nodes, pos, word, $kind)?;
            completed!(nodes.len() - 1);
        }};
    }
    // Where the last call stopped (only `Start` in a parse of a whole text): finish what it cut,
    // and go on at a value (`after_value` false) or after one.
    let mut after_value = false;
    match state.phase {
        Phase::Start => {
            // Too few bytes to tell whether the text starts with a byte order mark.
            if more && text.len() < BOM.len() && BOM.starts_with(text) {
                suspend!(Phase::Start);
            }
            pos = scan.skip_ws(text, text_start(text));
        }
        // Whitespace that ran to the end of the last piece may go on in this one.
        Phase::Value => pos = scan.skip_ws(text, pos),
        Phase::Str {
            start,
            at,
            escaped,
            key,
        } => {
            string_at!(start, at, escaped, key);
            after_value = !key;
        }
        Phase::Number { start, scanned } => {
            // Nothing but number bytes arrived: read it once it is complete, not again and again
            // (a number of a megabyte must not cost a megabyte per piece).
            if more && !text[scanned..].iter().any(|&b| !is_number_byte(b)) {
                suspend!(Phase::Number {
                    start,
                    scanned: text.len(),
                });
            }
            number_at!(start);
            after_value = true;
        }
        Phase::Colon => colon!(),
        Phase::AfterValue => after_value = true,
    }
    loop {
        // 1. One value (or key, or the close of an empty container).
        if !after_value {
            let b = text.get(pos).copied();
            if matches!(expect, Expect::FirstKey | Expect::Key) {
                if expect == Expect::FirstKey && b == Some(b'}') {
                    let done;
                    (pos, done) = close(text, nodes, stack, pos)?;
                    completed!(done);
                } else if b == Some(b'"') {
                    string_at!(pos + 1, pos + 1, false, true);
                    continue;
                } else if more && b.is_none() {
                    suspend!(Phase::Value);
                } else {
                    return Err(error_at(
                        text,
                        pos,
                        format!("{} (expected a key)", describe(b.as_ref())),
                    ));
                }
            } else if expect == Expect::FirstElement && b == Some(b']') {
                let done;
                (pos, done) = close(text, nodes, stack, pos)?;
                completed!(done);
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
                    Some(b'"') => string_at!(pos + 1, pos + 1, false, false),
                    Some(b'-' | b'0'..=b'9') => number_at!(pos),
                    Some(b't') => literal_at!(b"true", Kind::True),
                    Some(b'f') => literal_at!(b"false", Kind::False),
                    Some(b'n') => literal_at!(b"null", Kind::Null),
                    None if more => suspend!(Phase::Value),
                    other => {
                        return Err(error_at(
                            text,
                            pos,
                            format!("{} (expected a value)", describe(other.as_ref())),
                        ))
                    }
                }
            }
        }
        after_value = false;
        // 2. After a complete value: `,`, a closing bracket, or the end.
        loop {
            pos = scan.skip_ws(text, pos);
            let Some(&top) = stack.last() else {
                if pos != text.len() {
                    return Err(error_at(
                        text,
                        pos,
                        format!("{} after the value", describe(text.get(pos))),
                    ));
                }
                // Whitespace, or something that is not, may still come.
                if more {
                    suspend!(Phase::AfterValue);
                }
                return Ok(true);
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
                Some(b'}') if in_object => {
                    let done;
                    (pos, done) = close(text, nodes, stack, pos)?;
                    completed!(done);
                }
                Some(b']') if !in_object => {
                    let done;
                    (pos, done) = close(text, nodes, stack, pos)?;
                    completed!(done);
                }
                None if more => suspend!(Phase::AfterValue),
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

/// Where [`string_end`] stopped.
enum StringEnd {
    /// At the closing quote, at `at`; `escaped` if the string holds an escape.
    Quote { at: usize, escaped: bool },
    /// At the end of the bytes so far, which may go on: read on from `at` when more arrive.
    More { at: usize, escaped: bool },
}

/// Reads a string from `i` (inside it, not inside an escape) to its closing quote. With `more`,
/// bytes may follow `text`: an end of `text` inside the string, or inside an escape whose bytes
/// so far are all right, is [`StringEnd::More`] rather than an error.
#[inline(always)]
fn string_end(
    text: &[u8],
    more: bool,
    mut i: usize,
    mut escaped: bool,
    scan: &mut impl Scan,
) -> Result<StringEnd, SyntaxError> {
    loop {
        // Fast scan to the next byte that needs a look.
        let Some(stop) = scan.string_stop(text, i) else {
            if more {
                return Ok(StringEnd::More {
                    at: text.len(),
                    escaped,
                });
            }
            return Err(error_at(text, text.len(), "unterminated string"));
        };
        i = stop;
        match text[i] {
            b'"' => return Ok(StringEnd::Quote { at: i, escaped }),
            b'\\' => {
                escaped = true;
                match text.get(i + 1) {
                    Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => i += 2,
                    Some(b'u') => {
                        if text.get(i + 2..i + 6).and_then(hex4).is_none() {
                            if more
                                && text.len() < i + 6
                                && text[i + 2..].iter().all(u8::is_ascii_hexdigit)
                            {
                                return Ok(StringEnd::More { at: i, escaped });
                            }
                            return Err(error_at(text, i, "invalid \\u escape"));
                        }
                        i += 6;
                    }
                    None if more => return Ok(StringEnd::More { at: i, escaped }),
                    _ => return Err(error_at(text, i, "invalid escape")),
                }
            }
            _ => return Err(error_at(text, i, "control character in a string")),
        }
    }
}

/// Why a number is malformed, and where: made a [`SyntaxError`] only when it is reported (a
/// streamed parse tries a number cut by the end of a piece, and drops the outcome, once per
/// piece; a line count over the whole text each time would make that quadratic).
struct NumberError {
    at: usize,
    /// 0: the first digit; 1: after `.`; 2: in the exponent.
    what: u8,
}

impl NumberError {
    fn into_syntax_error(self, text: &[u8]) -> SyntaxError {
        let message = match self.what {
            0 => format!("{} in a number", describe(text.get(self.at))),
            1 => "expected a digit after `.`".into(),
            _ => "expected a digit in the exponent".into(),
        };
        error_at(text, self.at, message)
    }
}

/// The end of the number at `pos`. It reads no byte past the first one that cannot belong to a
/// number ([`is_number_byte`]), and reads the byte at `text.len()` (finding none) exactly when
/// the end it returns, or the error's position, is `text.len()`.
#[inline(always)]
fn number_end(text: &[u8], pos: usize, scan: &mut impl Scan) -> Result<usize, NumberError> {
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
        _ => return Err(NumberError { at: i, what: 0 }),
    }
    if text.get(i) == Some(&b'.') {
        i += 1;
        if !digits(&mut i) {
            return Err(NumberError { at: i, what: 1 });
        }
    }
    if let Some(b'e' | b'E') = text.get(i) {
        i += 1;
        if let Some(b'+' | b'-') = text.get(i) {
            i += 1;
        }
        if !digits(&mut i) {
            return Err(NumberError { at: i, what: 2 });
        }
    }
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

/// A parse fed the text piece by piece as it arrives (the chunks of a download, or of a `Blob`
/// read as a stream), so that reading and parsing overlap. It gives what a parse of the whole
/// text gives — the same nodes, the same elements handed over, the same error (message, offset,
/// line, column) — and reports an error as soon as the byte that makes the text malformed has
/// arrived.
///
/// The bytes are read as [`repair_utf8`] reads the whole text (invalid UTF-8 becomes U+FFFD),
/// piece by piece: a character cut between two pieces waits for its rest. The text is kept
/// whole (the nodes point into it), in one buffer grown as pieces arrive.
pub(crate) struct StreamParser<S: Scan = Fast> {
    text: Vec<u8>,
    /// `text[..ready]` is valid UTF-8 ending at a character boundary: what the parser reads.
    /// After it come at most three bytes of a character whose rest has not arrived.
    ready: usize,
    nodes: Vec<Node>,
    state: ParseState,
    /// Elements of the top-level array handed over so far.
    elements: u64,
    scan: std::marker::PhantomData<S>,
}

/// The `on_root_element` of a parse that keeps every element (a tape). One function for every
/// such parse, so that they share one instantiation of the parser's loop (a closure per call site
/// made a copy of it each: ~10 kB of wasm apiece).
pub(crate) fn keep_every_element(_: TapeView<'_>, _: usize) -> bool {
    false
}

impl StreamParser<Fast> {
    /// A parse into a tape ([`finish_tape`](Self::finish_tape)) of about `size_hint` bytes (0 if
    /// unknown): the buffers are sized for it.
    pub(crate) fn new(size_hint: usize) -> Self {
        Self::with_scans(size_hint, true)
    }

    /// A parse that drops each element of the top-level array once handed over
    /// ([`finish_elements`](Self::finish_elements)): room for the text only.
    pub(crate) fn for_elements(size_hint: usize) -> Self {
        Self::with_scans(size_hint, false)
    }
}

impl<S: Scan> StreamParser<S> {
    /// [`new`](StreamParser::new) (`tape`) or [`for_elements`](StreamParser::for_elements) with
    /// the scans of `S` (the tests hold both to the same results).
    fn with_scans(size_hint: usize, tape: bool) -> Self {
        // A hint is a server's word: never reserve more than 1 GiB on it.
        let size_hint = size_hint.min(1 << 30);
        StreamParser {
            text: Vec::with_capacity(size_hint),
            ready: 0,
            // Roughly one node per 6 bytes of typical JSON (as `Tape::parse_watched`).
            nodes: Vec::with_capacity(if tape { size_hint / 6 + 1 } else { 1024 }),
            state: ParseState::new(),
            elements: 0,
            scan: std::marker::PhantomData,
        }
    }

    /// Bytes received so far.
    pub(crate) fn received(&self) -> usize {
        self.text.len()
    }

    /// The text received so far.
    pub(crate) fn received_text(&self) -> &[u8] {
        &self.text
    }

    /// The text received, whatever was parsed of it.
    pub(crate) fn into_text(self) -> Vec<u8> {
        self.text
    }

    /// Bytes parsed so far (of the text as repaired, see [`repair_utf8`]).
    pub(crate) fn parsed(&self) -> usize {
        self.state.parsed()
    }

    /// Parses the next piece of the text, as far as it goes. `on_root_element` is called as in
    /// [`for_each_root_element`] (return true to drop the element's nodes).
    #[cfg(test)]
    pub(crate) fn push(
        &mut self,
        piece: &[u8],
        on_root_element: &mut impl FnMut(TapeView<'_>, usize) -> bool,
    ) -> Result<(), SyntaxError> {
        self.push_with(
            piece.len(),
            |into| into.copy_from_slice(piece),
            on_root_element,
        )
    }

    /// [`push`](Self::push) of a piece of `len` bytes that `fill` writes in place (a JS array's
    /// bytes are copied straight into the text, not through a buffer of their own).
    pub(crate) fn push_with(
        &mut self,
        len: usize,
        fill: impl FnOnce(&mut [u8]),
        on_root_element: &mut impl FnMut(TapeView<'_>, usize) -> bool,
    ) -> Result<(), SyntaxError> {
        let at = self.text.len();
        self.text.resize(at + len, 0);
        fill(&mut self.text[at..]);
        self.run(false, on_root_element).map(|_| ())
    }

    /// The end of the text: parses what is left. The text (repaired) and its nodes, or the error
    /// a parse of the whole text gives.
    pub(crate) fn finish(
        mut self,
        on_root_element: &mut impl FnMut(TapeView<'_>, usize) -> bool,
    ) -> Result<(Vec<u8>, Vec<Node>), SyntaxError> {
        self.run(true, on_root_element)?;
        Ok((self.text, self.nodes))
    }

    /// The end of the text, as [`finish`](Self::finish), for a tape.
    pub(crate) fn finish_tape(self) -> Result<Tape, SyntaxError> {
        let (text, nodes) = self.finish(&mut keep_every_element)?;
        Ok(Tape { text, nodes })
    }

    /// The end of the text, as [`finish`](Self::finish), for a parse that drops each element's
    /// nodes ([`for_each_root_element`]): the top-level value's kind and the number of elements.
    pub(crate) fn finish_elements(
        mut self,
        on_root_element: &mut impl FnMut(TapeView<'_>, usize) -> bool,
    ) -> Result<(Kind, u64), SyntaxError> {
        self.run(true, on_root_element)?;
        let kind = self.nodes.first().map_or(Kind::Null, |n| n.kind);
        Ok((
            kind,
            if kind == Kind::Array {
                self.elements
            } else {
                0
            },
        ))
    }

    fn run(
        &mut self,
        last: bool,
        on_root_element: &mut impl FnMut(TapeView<'_>, usize) -> bool,
    ) -> Result<bool, SyntaxError> {
        // The whole text is checked for this first; a piece at a time, an error before the
        // 4 GiB mark comes first. (A text that large cannot be in wasm32's memory anyway.)
        if u32::try_from(self.text.len()).is_err() {
            return Err(error_at(&self.text, 0, "text is larger than 4 GiB"));
        }
        self.repair(last);
        let elements = &mut self.elements;
        let mut counted = |view: TapeView<'_>, node: usize| {
            *elements += 1;
            on_root_element(view, node)
        };
        parse_step::<S, true>(
            &self.text[..self.ready],
            last,
            &mut self.state,
            &mut self.nodes,
            &mut counted,
        )
    }

    /// Makes the bytes after `ready` valid UTF-8 as [`repair_utf8`] does for a whole text, and
    /// moves `ready` past them — except, unless this is the `last` piece, a character cut by the
    /// end of the piece (its rest decides whether it is valid). Decoding resumes at a character
    /// boundary (after a valid character or an invalid sequence), where the decoding of the whole
    /// text is too, so the pieces decode as the whole does.
    fn repair(&mut self, last: bool) {
        let Err(valid) = S::check_utf8(&self.text[self.ready..]) else {
            self.ready = self.text.len();
            return;
        };
        let from = self.ready + valid;
        let rest = self.text.split_off(from);
        let mut chunks = rest.utf8_chunks().peekable();
        while let Some(chunk) = chunks.next() {
            self.text.extend_from_slice(chunk.valid().as_bytes());
            let invalid = chunk.invalid();
            if invalid.is_empty() {
                continue;
            }
            // A sequence cut by the end of the piece (not invalid in itself): wait for its rest.
            let cut = std::str::from_utf8(invalid).is_err_and(|e| e.error_len().is_none());
            if !last && cut && chunks.peek().is_none() {
                self.ready = self.text.len();
                self.text.extend_from_slice(invalid);
                return;
            }
            self.text.extend_from_slice("\u{FFFD}".as_bytes());
        }
        self.ready = self.text.len();
    }
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

    /// One node's fields, to compare.
    type Fields = (Kind, u32, u32, u32);

    fn fields(n: &Node) -> Fields {
        (n.kind, n.start, n.end, n.next)
    }

    /// What a parse gives, whole or streamed: the tape's nodes, and the kind, count and nodes of
    /// the elements of a parse that drops them ([`for_each_root_element`]).
    type Parsed = (
        Result<Vec<Fields>, SyntaxError>,
        Result<(Kind, u64), SyntaxError>,
        Vec<(usize, Vec<Fields>)>,
    );

    /// The parse of the whole of `text`, read as bytes are read (invalid UTF-8 repaired).
    fn whole<S: Scan>(text: &[u8]) -> Parsed {
        let text = repair_utf8(text.to_vec());
        let tape = Tape::parse_watched_with::<S>(text.clone(), |_| {})
            .map(|t| t.nodes.iter().map(fields).collect());
        let mut elements = Vec::new();
        let each = for_each_root_element_with::<S>(&text, |view, node| {
            let end = view.nodes[node].next as usize;
            elements.push((node, view.nodes[node..end].iter().map(fields).collect()));
        });
        (tape, each, elements)
    }

    /// `text` in the pieces that the positions `cuts` (in order) make.
    fn pieces<'t>(text: &'t [u8], cuts: &[usize]) -> Vec<&'t [u8]> {
        let mut out = Vec::with_capacity(cuts.len() + 1);
        let mut at = 0;
        for &cut in cuts {
            let cut = cut.clamp(at, text.len());
            out.push(&text[at..cut]);
            at = cut;
        }
        out.push(&text[at..]);
        out
    }

    /// The parse of `text` fed to a [`StreamParser`] in pieces, and where an error came: the
    /// bytes received when a `push` returned it (`None`: at the end, from `finish`).
    fn streamed<S: Scan>(text: &[u8], cuts: &[usize]) -> (Parsed, Option<usize>) {
        let pieces = pieces(text, cuts);
        let mut parser = StreamParser::<S>::with_scans(0, true);
        let mut failed = None;
        let mut early = None;
        for piece in &pieces {
            if let Err(e) = parser.push(piece, &mut |_, _| false) {
                early = Some(parser.received());
                failed = Some(e);
                break;
            }
        }
        let tape = match failed {
            Some(e) => Err(e),
            None => parser
                .finish_tape()
                .map(|t| t.nodes.iter().map(fields).collect()),
        };
        let mut elements = Vec::new();
        let mut each = |view: TapeView<'_>, node: usize| {
            let end = view.nodes[node].next as usize;
            elements.push((node, view.nodes[node..end].iter().map(fields).collect()));
            true
        };
        let mut parser = StreamParser::<S>::with_scans(text.len(), false);
        let mut failed = None;
        for piece in &pieces {
            if let Err(e) = parser.push(piece, &mut each) {
                failed = Some(e);
                break;
            }
        }
        let each_result = match failed {
            Some(e) => Err(e),
            None => parser.finish_elements(&mut each),
        };
        ((tape, each_result, elements), early)
    }

    /// Feeds `text` to a streamed parse with both scans, cut at `cuts`, and panics where it
    /// differs from `expected` (the whole parse), or where a malformed text's error came later
    /// than with the piece that holds the bytes that decide it: the parser looks at most six
    /// bytes past an error's offset (a `\u` escape), plus three for a character cut between
    /// pieces. Only for valid UTF-8 (a repair moves offsets).
    fn assert_stream_agrees(text: &[u8], cuts: &[usize], expected: &Parsed) {
        for (scans, (got, early)) in [
            ("scalar", streamed::<Scalar>(text, cuts)),
            ("blocks", streamed::<Blocks>(text, cuts)),
        ] {
            assert!(
                &got == expected,
                "{scans} scans, streamed in pieces cut at {cuts:?}, differ on {:?}:\nwhole    {:?}\nstreamed {:?}",
                String::from_utf8_lossy(text),
                expected,
                got
            );
            if let (Err(e), true) = (&expected.0, std::str::from_utf8(text).is_ok()) {
                let decided = (e.offset as usize + 9).min(text.len());
                if decided < text.len() {
                    // The end of the first piece that holds byte `decided - 1`.
                    let due = cuts
                        .iter()
                        .copied()
                        .chain([text.len()])
                        .find(|&end| end >= decided)
                        .unwrap_or(text.len());
                    assert!(
                        early.is_some_and(|r| r <= due),
                        "{scans}: the error at {} of {:?} came at {early:?} bytes, due by {due} (cuts {cuts:?})",
                        e.offset,
                        String::from_utf8_lossy(text),
                    );
                }
            }
        }
    }

    /// Streams `text` in many splits and holds each to the whole parse: with `every`, at each
    /// single cut and byte by byte; always `random` times in random pieces (from `next`).
    /// Returns whether the text is JSON.
    pub(crate) fn check_stream_splits(
        text: &[u8],
        every: bool,
        random: usize,
        next: &mut impl FnMut() -> u64,
    ) -> bool {
        let expected = whole::<Scalar>(text);
        assert!(
            whole::<Blocks>(text) == expected,
            "the scans differ on {:?}",
            String::from_utf8_lossy(text)
        );
        let len = text.len();
        if every {
            for cut in 0..=len {
                assert_stream_agrees(text, &[cut], &expected);
            }
            let bytes: Vec<usize> = (1..len).collect();
            assert_stream_agrees(text, &bytes, &expected);
        }
        for _ in 0..random {
            let mut cuts = Vec::new();
            // Pieces of every size: a few bytes (cuts everywhere) to a large part of the text.
            let size = 1 + (next() % (1 + (len as u64 / (1 + next() % 16)))) as usize;
            let mut at = 0;
            while at < len {
                at += 1 + (next() as usize) % (2 * size);
                // Sometimes an empty piece.
                if next() % 8 == 0 {
                    cuts.push(at.min(len));
                }
                cuts.push(at.min(len));
            }
            assert_stream_agrees(text, &cuts, &expected);
        }
        expected.0.is_ok()
    }

    /// Streams every input of [`check_all`] (the tests' own, aligned strings, random documents
    /// and their mutations), small ones at every cut and byte by byte, and large generated ones
    /// in random pieces. Returns how many inputs were JSON and how many were not.
    pub(crate) fn check_stream_all(seed: u64, documents: usize) -> (usize, usize) {
        let mut next = rng(seed);
        let mut counts = (0, 0);
        let mut count = |valid: bool| {
            if valid {
                counts.0 += 1
            } else {
                counts.1 += 1
            }
        };
        for text in VALID.iter().chain(INVALID) {
            count(check_stream_splits(text.as_bytes(), true, 20, &mut next));
        }
        for text in OTHER {
            count(check_stream_splits(text, true, 20, &mut next));
        }
        count(check_stream_splits(
            "[".repeat(10_000).as_bytes(),
            false,
            3,
            &mut next,
        ));
        let mut aligned = Vec::new();
        aligned_strings(|text| aligned.push(text.to_vec()));
        for (i, text) in aligned.iter().enumerate() {
            // Every cut of some, random pieces of all.
            count(check_stream_splits(text, i % 17 == 0, 2, &mut next));
        }
        let alphabet = b"[]{}\",:0123456789.eE+-tfnrulsa \\/u\n\t\x01\x80";
        for n in 0..documents {
            let mut text = Vec::new();
            let depth = 1 + (next() % 5) as u32;
            document(&mut next, depth, &mut text);
            let small = text.len() <= 400;
            count(check_stream_splits(
                &text,
                small && n % 4 == 0,
                4,
                &mut next,
            ));
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
            count(check_stream_splits(
                &mutated,
                small && n % 4 == 1,
                4,
                &mut next,
            ));
        }
        // Large documents (an array of generated records), in random pieces.
        for _ in 0..3 {
            let mut text = b"[".to_vec();
            while text.len() < 300_000 {
                if text.len() > 1 {
                    text.push(b',');
                }
                document(&mut next, 4, &mut text);
            }
            text.push(b']');
            count(check_stream_splits(&text, false, 6, &mut next));
            // Broken near the end, and in the middle.
            for at in [text.len() - 3, text.len() / 2] {
                let mut broken = text.clone();
                broken.insert(at, b'}');
                count(check_stream_splits(&broken, false, 3, &mut next));
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

    /// A parse fed in pieces (a download, a `Blob` read as a stream) gives the whole parse's
    /// nodes, elements and errors, for every split of the tests' inputs and of generated ones
    /// (see [`differential::check_stream_all`]), and reports an error with the piece that holds
    /// its bytes.
    #[test]
    fn streamed_parse_is_the_whole_parse() {
        let (valid, invalid) = differential::check_stream_all(0x57AE_A11E, 1_500);
        assert!(
            valid > 1_000 && invalid > 1_000,
            "{valid} valid, {invalid} invalid"
        );
    }

    /// The same on every case of the conformance suite (tests/e2e/json-conformance.json), read
    /// with this parser (serde_json refuses the file's lone surrogate escapes).
    #[test]
    fn streamed_parse_is_the_whole_parse_on_the_conformance_cases() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/e2e/json-conformance.json"
        );
        let file = Tape::parse(std::fs::read(path).unwrap()).unwrap();
        let cases = file.pointer(file.root(), "/cases").unwrap();
        let mut next = crate::test_rng::xorshift(0xC0F0_4A11);
        let (mut seen, mut valid) = (0, 0);
        for case in file.children(cases) {
            let field = |name: &str| file.view().member(case, name);
            let text: Vec<u8> = if let Some(hex) = field("hex") {
                let hex = file.string(hex).unwrap();
                (0..hex.len() / 2)
                    .map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap())
                    .collect()
            } else if let Some(text) = field("text") {
                file.string(text).unwrap().into_owned().into_bytes()
            } else {
                let g = field("generate").unwrap();
                let kind = file.string(file.view().member(g, "kind").unwrap()).unwrap();
                let n = |name: &str| {
                    file.view()
                        .member(g, name)
                        .and_then(|v| file.view().number(v))
                        .unwrap_or(0.0) as usize
                };
                let unclosed = file.view().member(g, "unclosed").is_some();
                match &*kind {
                    "deep-arrays" => {
                        "[".repeat(n("depth")) + &"]".repeat(if unclosed { 0 } else { n("depth") })
                    }
                    "deep-objects" => "{\"a\":".repeat(n("depth")) + "1" + &"}".repeat(n("depth")),
                    "many-keys" => format!(
                        "{{{}}}",
                        (0..n("keys"))
                            .map(|i| format!("\"k{i}\":{i}"))
                            .collect::<Vec<_>>()
                            .join(",")
                    ),
                    "long-string" => format!("\"{}\"", "aé😀\\n".repeat(n("units") / 5 + 1)),
                    "many-elements" => format!(
                        "[{}]",
                        (0..n("elements"))
                            .map(|i| if i % 7 == 0 {
                                format!("{}", -(i as f64) / 8.0)
                            } else {
                                i.to_string()
                            })
                            .collect::<Vec<_>>()
                            .join(",")
                    ),
                    other => panic!("unknown generator {other}"),
                }
                .into_bytes()
            };
            seen += 1;
            let small = text.len() <= 300;
            if differential::check_stream_splits(
                &text,
                small,
                if small { 10 } else { 3 },
                &mut next,
            ) {
                valid += 1;
            }
        }
        assert!(seen >= 200 && valid > 50, "{seen} cases, {valid} valid");
    }

    /// A streamed parse fails with the byte that makes the text malformed: fed one byte at a
    /// time, the error comes from the `push` of that byte (not later, with the rest of an escape
    /// or a word), with the whole parse's position.
    #[test]
    fn errors_come_with_the_byte_that_decides_them() {
        for (text, decides) in [
            (&br#"["\u12"]"#[..], 6),
            (br#"["\u1x23"]"#, 5),
            (br#"["\x"]"#, 3),
            (b"[tru,", 4),
            (b"[nul]", 4),
            (b"[fx", 2),
            (b"[1.x", 3),
            (b"[-x", 2),
            (b"[1e+]", 4),
            (b"[1 2]", 3),
            (br#"{"a" 1}"#, 5),
            (br#"{"a":1,}"#, 7),
            (b"[1}", 2),
            (b"[1] x", 4),
            (b"\xEF\xBBx", 2),
            ("[\"é\x01\"]".as_bytes(), 4),
        ] {
            let whole = Tape::parse(repair_utf8(text.to_vec())).err().unwrap();
            let mut parser = StreamParser::new(0);
            let mut failed = None;
            for (i, byte) in text.iter().enumerate() {
                if let Err(e) = parser.push(&[*byte], &mut |_, _| false) {
                    failed = Some((i, e));
                    break;
                }
            }
            let text = String::from_utf8_lossy(text);
            let (at, error) = failed.unwrap_or_else(|| panic!("{text:?}: no error before the end"));
            assert_eq!(at, decides, "{text:?}: {error}");
            assert_eq!(error, whole, "{text:?}");
        }
    }

    /// A string or a number of megabytes that arrives in small pieces is read once, not once per
    /// piece: quadratic work here would not finish.
    #[test]
    fn long_tokens_in_small_pieces_are_read_once() {
        let n = 4 << 20;
        for text in [
            format!("[\"{}\"]", "ab\\u00e9".repeat(n / 8)),
            format!("[1{}.5e7]", "0".repeat(n)),
            format!("[{}]", " ".repeat(n)),
        ] {
            let mut parser = StreamParser::new(0);
            for piece in text.as_bytes().chunks(61) {
                parser.push(piece, &mut |_, _| false).unwrap();
            }
            let tape = parser.finish_tape().unwrap();
            assert_eq!(tape.nodes.len(), if text.ends_with(" ]") { 1 } else { 2 });
        }
    }

    /// Parse throughput of a whole text against the same text fed in 64 KiB pieces (as a
    /// download arrives), both scans, on generated 50 MB documents. CPU time of this thread
    /// (Linux `schedstat`), so that waiting for a core on a shared machine does not count:
    /// `cargo test --release --lib -- --ignored --nocapture stream_vs_whole_throughput`.
    #[test]
    #[ignore = "a benchmark: run it in release mode"]
    fn stream_vs_whole_throughput() {
        use super::scan::{Blocks, Scalar};
        let cpu = || {
            std::fs::read_to_string("/proc/thread-self/schedstat")
                .ok()
                .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
                .map(|ns| ns / 1e9)
        };
        let start = std::time::Instant::now();
        let clock = || cpu().unwrap_or_else(|| start.elapsed().as_secs_f64());
        let mut next = crate::test_rng::xorshift(0x5EED);
        let mut documents: Vec<(&str, Vec<u8>)> = Vec::new();
        for (name, pretty) in [("points, compact", false), ("points, indented", true)] {
            let (nl, field, colon) = if pretty {
                ("\n  ", "\n    ", ": ")
            } else {
                ("", "", ":")
            };
            let mut out = String::from("[");
            let mut id = 0u64;
            while out.len() < 50 << 20 {
                out.push_str(&format!(
                    r#"{}{nl}{{{field}"id"{colon}{id},{field}"courier"{colon}"c-{}",{field}"lat"{colon}{}.{:06},{field}"speed"{colon}{}.{:02},{field}"note"{colon}"caf\u00e9 {}"{nl}}}"#,
                    if id == 0 { "" } else { "," },
                    next() % 500,
                    48 + next() % 4,
                    next() % 1_000_000,
                    next() % 90,
                    next() % 100,
                    next() % 1000,
                ));
                id += 1;
            }
            out.push(']');
            documents.push((name, out.into_bytes()));
        }
        type Run = fn(&[u8]) -> usize;
        let piece = 64 << 10;
        let runs: [(&str, Run); 8] = [
            ("tape, whole, scalar", |t| {
                Tape::parse_watched_with::<Scalar>(t.to_vec(), |_| {})
                    .unwrap()
                    .nodes
                    .len()
            }),
            ("tape, pieces, scalar", |t| {
                let mut p = StreamParser::<Scalar>::with_scans(t.len(), true);
                for c in t.chunks(64 << 10) {
                    p.push(c, &mut |_, _| false).unwrap();
                }
                p.finish_tape().unwrap().nodes.len()
            }),
            ("tape, whole, SIMD", |t| {
                Tape::parse_watched_with::<Blocks>(t.to_vec(), |_| {})
                    .unwrap()
                    .nodes
                    .len()
            }),
            ("tape, pieces, SIMD", |t| {
                let mut p = StreamParser::<Blocks>::with_scans(t.len(), true);
                for c in t.chunks(64 << 10) {
                    p.push(c, &mut |_, _| false).unwrap();
                }
                p.finish_tape().unwrap().nodes.len()
            }),
            ("elements, whole, scalar", |t| {
                for_each_root_element_with::<Scalar>(t, |_, _| {})
                    .unwrap()
                    .1 as usize
            }),
            ("elements, pieces, scalar", |t| {
                let mut p = StreamParser::<Scalar>::with_scans(t.len(), false);
                for c in t.chunks(64 << 10) {
                    p.push(c, &mut |_, _| true).unwrap();
                }
                p.finish_elements(&mut |_, _| true).unwrap().1 as usize
            }),
            ("elements, whole, SIMD", |t| {
                for_each_root_element_with::<Blocks>(t, |_, _| {})
                    .unwrap()
                    .1 as usize
            }),
            ("elements, pieces, SIMD", |t| {
                let mut p = StreamParser::<Blocks>::with_scans(t.len(), false);
                for c in t.chunks(64 << 10) {
                    p.push(c, &mut |_, _| true).unwrap();
                }
                p.finish_elements(&mut |_, _| true).unwrap().1 as usize
            }),
        ];
        println!(
            "MB/s (CPU time{}), best of 7, pieces of {} KiB:",
            if cpu().is_some() {
                ""
            } else {
                ": unavailable, wall clock"
            },
            piece >> 10
        );
        for (name, text) in &documents {
            let mut best = [f64::INFINITY; 8];
            for _ in 0..7 {
                for (i, (_, run)) in runs.iter().enumerate() {
                    let t = clock();
                    std::hint::black_box(run(text));
                    best[i] = best[i].min(clock() - t);
                }
            }
            println!("{name} ({:.1} MB):", text.len() as f64 / 1e6);
            for (i, (label, _)) in runs.iter().enumerate() {
                println!("  {label:26} {:6.0}", text.len() as f64 / 1e6 / best[i]);
            }
        }
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
