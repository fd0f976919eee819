//! A JS string source as it reaches its isolate: slice by slice (the caller encodes one slice
//! per task, so that no task of its own is long), either kept as text for a parse that needs the
//! whole of it (columns cut into parts, objects mode), or parsed as each slice arrives, so that
//! for a document (`handle` mode) the caller's encoding and the isolate's parse overlap instead
//! of adding up.

use crate::json::tape::{self, StreamParser, SyntaxError, Tape};

/// What an isolate holds of a string source between its slices.
#[derive(Default)]
pub(crate) enum StagedText {
    /// Nothing staged.
    #[default]
    Empty,
    /// The text so far, for a parse that needs all of it.
    Text(Vec<u8>),
    /// The text so far, parsed as far as it goes; once malformed, the first error (later slices
    /// are dropped: the verdict cannot change).
    Parsing(Box<StreamParser>),
    Failed(SyntaxError),
}

/// How the caller stages a slice.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SliceOf {
    /// The first slice of a string: whatever was staged before is dropped (a staging the caller
    /// abandoned).
    pub first: bool,
    /// Parse as the slices arrive (a document); else keep the text whole.
    pub parse: bool,
    /// Bytes the whole text takes, as far as the caller can tell (its UTF-16 length): sizes
    /// the buffers once.
    pub size_hint: u32,
}

impl StagedText {
    /// Appends a slice of `len` bytes, which `fill` writes in place. Returns the bytes staged so
    /// far.
    pub(crate) fn push(&mut self, len: usize, fill: impl FnOnce(&mut [u8]), of: SliceOf) -> u64 {
        if of.first || matches!(self, StagedText::Empty) {
            let hint = of.size_hint as usize;
            *self = if of.parse {
                StagedText::Parsing(Box::new(StreamParser::new(hint)))
            } else {
                StagedText::Text(Vec::with_capacity(hint))
            };
        }
        match self {
            StagedText::Text(text) => {
                let at = text.len();
                text.resize(at + len, 0);
                fill(&mut text[at..]);
                text.len() as u64
            }
            StagedText::Parsing(parser) => {
                let pushed = parser.push_with(len, fill, &mut tape::keep_every_element);
                let received = parser.received_text();
                // In a JS string U+FEFF is a character, not a byte order mark, and `JSON.parse`
                // rejects it; the parser skips it as the mark it is in bytes.
                let bom = received.starts_with(tape::BOM);
                let received = received.len() as u64;
                if bom {
                    *self = StagedText::Failed(bom_in_a_string());
                } else if let Err(e) = pushed {
                    *self = StagedText::Failed(e);
                }
                received
            }
            StagedText::Failed(_) | StagedText::Empty => 0,
        }
    }

    /// The parsed document (or the text parsed whole, when it was kept as text).
    pub(crate) fn finish_tape(self) -> Result<Tape, SyntaxError> {
        match self {
            StagedText::Parsing(parser) => parser.finish_tape(),
            StagedText::Failed(e) => Err(e),
            // Kept as text, then wanted as a tape after all: parsed as one slice, through the
            // same parser (another instantiation of `Tape::parse_watched` would be kilobytes).
            StagedText::Text(text) => {
                let mut staged = StagedText::Empty;
                let of = SliceOf {
                    first: true,
                    parse: true,
                    size_hint: u32::try_from(text.len()).unwrap_or(u32::MAX),
                };
                staged.push(text.len(), |into| into.copy_from_slice(&text), of);
                staged.finish_tape()
            }
            StagedText::Empty => StreamParser::new(0).finish_tape(),
        }
    }

    /// The text, for a parse that needs all of it; a staging that parsed as it went gives its
    /// text too (its error, if any, comes again from the parse of the whole).
    pub(crate) fn into_text(self) -> Result<Vec<u8>, SyntaxError> {
        let text = match self {
            StagedText::Text(text) => text,
            StagedText::Parsing(parser) => parser.into_text(),
            StagedText::Failed(e) => return Err(e),
            StagedText::Empty => Vec::new(),
        };
        if text.starts_with(tape::BOM) {
            return Err(bom_in_a_string());
        }
        Ok(text)
    }
}

/// The error for a JS string that starts with U+FEFF.
pub(crate) fn bom_in_a_string() -> SyntaxError {
    SyntaxError {
        message: "unexpected character U+FEFF (a byte order mark is not JSON whitespace in a \
                  string)"
            .into(),
        offset: 0,
        line: 1,
        column: 1,
        utf16_offset: 0,
        utf16_column: 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stage(text: &[u8], piece: usize, parse: bool) -> StagedText {
        let mut staged = StagedText::default();
        for (i, chunk) in text.chunks(piece.max(1)).enumerate() {
            staged.push(
                chunk.len(),
                |into| into.copy_from_slice(chunk),
                SliceOf {
                    first: i == 0,
                    parse,
                    size_hint: text.len() as u32,
                },
            );
        }
        staged
    }

    fn summary(r: Result<Tape, SyntaxError>) -> Result<(usize, usize), (String, u64, u64)> {
        r.map(|t| (t.text.len(), t.nodes.len()))
            .map_err(|e| (e.message, e.offset, e.utf16_offset))
    }

    #[test]
    fn parsing_as_slices_arrive_equals_parsing_the_whole() {
        let docs: [&[u8]; 6] = [
            br#"{"a":[1,2,{"b":"x\"y"}],"c":null}"#,
            "[\"é\",\"日本\",\"😀\",-1.5e3,true]".as_bytes(),
            br#"[1,2,"#,
            br#"{"a":1}x"#,
            b"  [ ]  ",
            b"",
        ];
        for doc in docs {
            let whole = summary(Tape::parse(doc.to_vec()));
            for piece in [1, 2, 3, 7, 64] {
                assert_eq!(
                    summary(stage(doc, piece, true).finish_tape()),
                    whole,
                    "{:?} in pieces of {piece}",
                    String::from_utf8_lossy(doc)
                );
                assert_eq!(summary(stage(doc, piece, false).finish_tape()), whole);
                assert_eq!(stage(doc, piece, false).into_text().unwrap(), doc);
            }
        }
    }

    #[test]
    fn a_leading_u_feff_is_an_error_in_a_string() {
        let doc = "\u{FEFF}[1]".as_bytes();
        assert!(Tape::parse(doc.to_vec()).is_ok(), "bytes skip a BOM");
        for parse in [true, false] {
            for piece in [1, 3, 64] {
                let Err(e) = stage(doc, piece, parse).finish_tape() else {
                    panic!("U+FEFF accepted in a string (pieces of {piece}, parse {parse})");
                };
                assert!(e.message.contains("U+FEFF"), "{}", e.message);
                assert_eq!((e.offset, e.utf16_column), (0, 1));
            }
        }
    }

    #[test]
    fn a_first_slice_drops_an_abandoned_staging() {
        let mut staged = stage(b"[1,2,", 2, true);
        staged.push(
            3,
            |into| into.copy_from_slice(b"[3]"),
            SliceOf {
                first: true,
                parse: true,
                size_hint: 3,
            },
        );
        assert_eq!(
            summary(staged.finish_tape()),
            summary(Tape::parse(b"[3]".to_vec()))
        );
    }
}
