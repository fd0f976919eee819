//! The byte scans of the tape parser ([`super::parse_into`]): where a string's plain bytes end,
//! where whitespace ends, and whether a text is valid UTF-8. Two implementations answer the same
//! questions with the same answers:
//!
//! - [`Scalar`]: a byte (and eight-byte word) loop; compiled everywhere.
//! - [`Blocks`]: 64 bytes classified at once, 16 at a time with SIMD, into one bit per byte, kept
//!   while the parser moves through them. Used when the target has 128-bit SIMD (wasm32 with
//!   `simd128`, x86_64 with SSE2, its baseline); elsewhere [`Fast`] is [`Scalar`].
//!
//! The idea is simdjson's stage 1 (classify a block of bytes into bit masks with vector compares,
//! then walk the masks with `trailing_zeros`), but kept inside the one-pass parser instead of as a
//! separate pass with an index: the parser asks, at a position, for the next byte of a class, and
//! the answer comes from the masks of the block that holds the position (computed when the
//! parser first enters the block, starting at that position). A block is never classified twice:
//! the parser only moves forward. Strings of a few bytes (keys) then cost a shift and a
//! `trailing_zeros`, not a scan of their own; long strings and indentation go 64 bytes a step.
//!
//! The intrinsics are written per architecture (`core::arch::wasm32`, `core::arch::x86_64`):
//! `std::simd` is unstable, and a loop over `[u8; 16]` does not reliably become a vector compare
//! and a bit mask (`i8x16.bitmask`, `pmovmskb`) in either backend. What differs per architecture
//! is only the three functions that classify 16 bytes into a `u16`; [`portable`] has the same
//! three as plain loops, and the tests hold each architecture's to them byte for byte.

// This project's wasm builds leave `simd128` off (see .cargo/config.toml), so there `Blocks` is
// compiled for the tests and for users who turn SIMD on, but the parser does not call it.
#![cfg_attr(
    all(target_arch = "wasm32", not(target_feature = "simd128")),
    allow(dead_code)
)]

/// The scans the parser needs. Both implementations give the same answers for the same text,
/// whatever the order of the calls (the tests check this, natively and in the browser).
pub(crate) trait Scan: Default {
    /// The first position at or after `from` of `"`, `\\` or a byte below 0x20 (what ends a run
    /// of plain string bytes), or `None` if there is none before the end of `text`.
    fn string_stop(&mut self, text: &[u8], from: usize) -> Option<usize>;

    /// The first position at or after `pos` that is not JSON whitespace (`text.len()` if there is
    /// none; `pos` itself if `pos` is past the end).
    fn skip_ws(&mut self, text: &[u8], pos: usize) -> usize;

    /// The first position at or after `from` that is not an ASCII digit (`text.len()` if there
    /// is none; `from` itself if `from` is past the end).
    fn digits_end(&mut self, text: &[u8], from: usize) -> usize;

    /// Where `text` stops being valid UTF-8 ([`std::str::Utf8Error::valid_up_to`]), or `Ok`.
    fn check_utf8(text: &[u8]) -> Result<(), usize>;
}

/// The scans the parser uses in this build: [`Blocks`] where the target has 128-bit SIMD.
#[cfg(any(
    all(target_arch = "wasm32", target_feature = "simd128"),
    all(target_arch = "x86_64", target_feature = "sse2")
))]
pub(crate) type Fast = Blocks;
/// The scans the parser uses in this build: [`Scalar`], as the target has no 128-bit SIMD
/// enabled (for wasm32: built without `-C target-feature=+simd128`).
#[cfg(not(any(
    all(target_arch = "wasm32", target_feature = "simd128"),
    all(target_arch = "x86_64", target_feature = "sse2")
)))]
pub(crate) type Fast = Scalar;

/// Whether [`Fast`] classifies with SIMD instructions in this build.
#[allow(dead_code)] // only the tests ask
pub(crate) const SIMD: bool = cfg!(any(
    all(target_arch = "wasm32", target_feature = "simd128"),
    all(target_arch = "x86_64", target_feature = "sse2")
));

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

#[inline]
fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\n' | b'\r' | b'\t')
}

/// The scans as byte loops (strings eight bytes at a time): the reference, and what a build
/// without SIMD uses.
// Outside the tests, unused where `Fast` is `Blocks`.
#[cfg_attr(
    any(
        all(target_arch = "wasm32", target_feature = "simd128"),
        all(target_arch = "x86_64", target_feature = "sse2")
    ),
    allow(dead_code)
)]
#[derive(Default)]
pub(crate) struct Scalar;

impl Scan for Scalar {
    /// Eight bytes at a time while eight remain. The word test is the classic "has a zero byte"
    /// trick: for each byte `b` of `w ^ pattern`, `(b - 1) & !b & 0x80` is set when `b == 0`,
    /// and for `w` itself `(b - 0x20) & !b & 0x80` when `b < 0x20`. A borrow can flag a byte
    /// *above* a true match, never below one, so the lowest flag is exact — and the lowest is all
    /// we use.
    #[inline]
    fn string_stop(&mut self, text: &[u8], from: usize) -> Option<usize> {
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

    #[inline]
    fn skip_ws(&mut self, text: &[u8], mut pos: usize) -> usize {
        while text.get(pos).copied().is_some_and(is_ws) {
            pos += 1;
        }
        pos
    }

    #[inline]
    fn digits_end(&mut self, text: &[u8], mut from: usize) -> usize {
        while text.get(from).is_some_and(u8::is_ascii_digit) {
            from += 1;
        }
        from
    }

    fn check_utf8(text: &[u8]) -> Result<(), usize> {
        std::str::from_utf8(text)
            .map(|_| ())
            .map_err(|e| e.valid_up_to())
    }
}

/// The three 16-byte classifications as plain loops: bit `i` of the result is byte `i`.
#[cfg_attr(
    any(
        all(target_arch = "wasm32", target_feature = "simd128"),
        all(target_arch = "x86_64", target_feature = "sse2")
    ),
    allow(dead_code)
)]
mod portable {
    fn mask(bytes: &[u8; 16], class: impl Fn(u8) -> bool) -> u16 {
        bytes
            .iter()
            .enumerate()
            .fold(0, |m, (i, &b)| m | (u16::from(class(b)) << i))
    }

    /// `"`, `\\` and bytes below 0x20.
    pub(super) fn stop16(bytes: &[u8; 16]) -> u16 {
        mask(bytes, |b| super::STRING_STOP[b as usize])
    }

    /// Space, tab, line feed, carriage return.
    pub(super) fn space16(bytes: &[u8; 16]) -> u16 {
        mask(bytes, super::is_ws)
    }

    /// `0` to `9`.
    pub(super) fn digit16(bytes: &[u8; 16]) -> u16 {
        mask(bytes, |b| b.is_ascii_digit())
    }

    /// Bytes of 0x80 and above.
    pub(super) fn non_ascii16(bytes: &[u8; 16]) -> u16 {
        mask(bytes, |b| b >= 0x80)
    }
}

/// The 16-byte classifications with WebAssembly SIMD (`simd128`).
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
mod simd {
    use core::arch::wasm32::{
        u8x16_bitmask, u8x16_eq, u8x16_lt, u8x16_splat, u8x16_sub, v128, v128_load, v128_or,
    };

    #[inline(always)]
    fn load(bytes: &[u8; 16]) -> v128 {
        // SAFETY: `bytes` is a reference to 16 initialized bytes, exactly the 16 bytes that
        // `v128.load` reads; the instruction takes any alignment (the pointer needs none).
        unsafe { v128_load(bytes.as_ptr().cast::<v128>()) }
    }

    /// `"`, `\\` and bytes below 0x20 (unsigned compare).
    #[inline(always)]
    pub(super) fn stop16(bytes: &[u8; 16]) -> u16 {
        let v = load(bytes);
        let quote = u8x16_eq(v, u8x16_splat(b'"'));
        let backslash = u8x16_eq(v, u8x16_splat(b'\\'));
        let control = u8x16_lt(v, u8x16_splat(0x20));
        u8x16_bitmask(v128_or(v128_or(quote, backslash), control))
    }

    /// Space, tab, line feed, carriage return.
    #[inline(always)]
    pub(super) fn space16(bytes: &[u8; 16]) -> u16 {
        let v = load(bytes);
        let a = v128_or(
            u8x16_eq(v, u8x16_splat(b' ')),
            u8x16_eq(v, u8x16_splat(b'\n')),
        );
        let b = v128_or(
            u8x16_eq(v, u8x16_splat(b'\r')),
            u8x16_eq(v, u8x16_splat(b'\t')),
        );
        u8x16_bitmask(v128_or(a, b))
    }

    /// `0` to `9`: `b - b'0'` (wrapping) below 10.
    #[inline(always)]
    pub(super) fn digit16(bytes: &[u8; 16]) -> u16 {
        let v = u8x16_sub(load(bytes), u8x16_splat(b'0'));
        u8x16_bitmask(u8x16_lt(v, u8x16_splat(10)))
    }

    /// Bytes of 0x80 and above: the top bit of each byte.
    #[inline(always)]
    pub(super) fn non_ascii16(bytes: &[u8; 16]) -> u16 {
        u8x16_bitmask(load(bytes))
    }
}

/// The 16-byte classifications with SSE2 (part of every x86_64 target's baseline): natively, the
/// SIMD path runs and is tested with the same algorithm as in the browser.
#[cfg(all(target_arch = "x86_64", target_feature = "sse2"))]
mod simd {
    use core::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8, _mm_sub_epi8,
    };

    // The intrinsics below need SSE2, which this module's `cfg` guarantees is enabled for the
    // whole build (so every CPU this code runs on has it). Each function is one `unsafe` block
    // around its load and the compares, which compiles both where these intrinsics are `unsafe fn`
    // (Rust 1.85, this crate's minimum) and where they are safe in an SSE2 context (later).

    /// `"`, `\\` and bytes below 0x20 (`min(b, 0x1f) == b` is the unsigned `b <= 0x1f`).
    #[inline(always)]
    pub(super) fn stop16(bytes: &[u8; 16]) -> u16 {
        // SAFETY: SSE2 is enabled (see above). `_mm_loadu_si128` reads 16 bytes from the pointer,
        // which points at `bytes`: 16 initialized bytes; the unaligned load needs no alignment.
        unsafe {
            let v: __m128i = _mm_loadu_si128(bytes.as_ptr().cast::<__m128i>());
            let quote = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8));
            let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
            let control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
            _mm_movemask_epi8(_mm_or_si128(_mm_or_si128(quote, backslash), control)) as u16
        }
    }

    /// Space, tab, line feed, carriage return.
    #[inline(always)]
    pub(super) fn space16(bytes: &[u8; 16]) -> u16 {
        // SAFETY: as in `stop16`: SSE2 is enabled, and the load reads exactly `bytes`.
        unsafe {
            let v: __m128i = _mm_loadu_si128(bytes.as_ptr().cast::<__m128i>());
            let a = _mm_or_si128(
                _mm_cmpeq_epi8(v, _mm_set1_epi8(b' ' as i8)),
                _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\n' as i8)),
            );
            let b = _mm_or_si128(
                _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\r' as i8)),
                _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\t' as i8)),
            );
            _mm_movemask_epi8(_mm_or_si128(a, b)) as u16
        }
    }

    /// `0` to `9`: `b - b'0'` (wrapping) at most 9, unsigned.
    #[inline(always)]
    pub(super) fn digit16(bytes: &[u8; 16]) -> u16 {
        // SAFETY: as in `stop16`: SSE2 is enabled, and the load reads exactly `bytes`.
        unsafe {
            let v = _mm_loadu_si128(bytes.as_ptr().cast::<__m128i>());
            let v = _mm_sub_epi8(v, _mm_set1_epi8(b'0' as i8));
            _mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(9)), v)) as u16
        }
    }

    /// Bytes of 0x80 and above: the top bit of each byte.
    #[inline(always)]
    pub(super) fn non_ascii16(bytes: &[u8; 16]) -> u16 {
        // SAFETY: as in `stop16`: SSE2 is enabled, and the load reads exactly `bytes`.
        unsafe { _mm_movemask_epi8(_mm_loadu_si128(bytes.as_ptr().cast::<__m128i>())) as u16 }
    }
}

#[cfg(not(any(
    all(target_arch = "wasm32", target_feature = "simd128"),
    all(target_arch = "x86_64", target_feature = "sse2")
)))]
use portable as simd;

/// Bit `i` of the result is `class16` of byte `i` of the 64 bytes of `block`.
#[inline(always)]
fn mask64(block: &[u8; 64], class16: impl Fn(&[u8; 16]) -> u16) -> u64 {
    let part = |i: usize| {
        let bytes: &[u8; 16] = block[16 * i..16 * i + 16]
            .try_into()
            .expect("16 of 64 bytes");
        u64::from(class16(bytes)) << (16 * i)
    };
    part(0) | part(1) | part(2) | part(3)
}

/// The mask (see [`mask64`]) of the 64 bytes of `text` from `at`, the bytes past its end read as
/// `pad`. Straight from the text where 64 bytes remain (no copy).
#[inline(always)]
fn classify(text: &[u8], at: usize, pad: u8, class16: impl Fn(&[u8; 16]) -> u16) -> u64 {
    match text.get(at..at + 64) {
        Some(full) => mask64(full.try_into().expect("64 bytes"), class16),
        None => mask64(&block_at(text, at, pad), class16),
    }
}

/// The 64 bytes of `text` from `at`, or its tail padded with `pad` to 64.
#[inline(always)]
fn block_at(text: &[u8], at: usize, pad: u8) -> [u8; 64] {
    let mut block = [pad; 64];
    match text.get(at..at + 64) {
        Some(full) => block.copy_from_slice(full),
        None => {
            let tail = text.get(at..).unwrap_or(&[]);
            block[..tail.len()].copy_from_slice(tail);
        }
    }
    block
}

/// The scans from bit masks of 64-byte blocks (see the module documentation). One instance
/// serves one text: the masks cached are that text's.
pub(crate) struct Blocks {
    /// `string_stop` bits of `text[stop_at..stop_at + 64]`; positions past the end of the text
    /// are set (padding with `"`), so a scan always stops in the block that holds the end.
    stop_at: usize,
    stop: u64,
    /// Whitespace bits of `text[space_at..space_at + 64]`; positions past the end are clear.
    space_at: usize,
    space: u64,
    /// Digit bits of `text[digit_at..digit_at + 64]`; positions past the end are clear.
    digit_at: usize,
    digit: u64,
}

impl Default for Blocks {
    fn default() -> Self {
        // No block yet: `usize::MAX` is never a position of a text (those are below 4 GiB).
        Blocks {
            stop_at: usize::MAX,
            stop: 0,
            space_at: usize::MAX,
            space: 0,
            digit_at: usize::MAX,
            digit: 0,
        }
    }
}

/// `mask` (of the block at `base`) from position `at` on, if `at` is inside the block.
#[inline(always)]
fn from_position(base: usize, mask: u64, at: usize) -> Option<u64> {
    match at.checked_sub(base) {
        Some(offset) if offset < 64 => Some(mask >> offset),
        _ => None,
    }
}

impl Scan for Blocks {
    #[inline]
    fn string_stop(&mut self, text: &[u8], from: usize) -> Option<usize> {
        let mut at = from;
        loop {
            if let Some(rest) = from_position(self.stop_at, self.stop, at) {
                if rest != 0 {
                    let found = at + rest.trailing_zeros() as usize;
                    return (found < text.len()).then_some(found);
                }
                at = self.stop_at + 64;
            }
            if at >= text.len() {
                return None;
            }
            self.stop = classify(text, at, b'"', simd::stop16);
            self.stop_at = at;
        }
    }

    #[inline]
    fn skip_ws(&mut self, text: &[u8], pos: usize) -> usize {
        // Compact JSON has no whitespace between tokens: one compare, no block.
        if !text.get(pos).copied().is_some_and(is_ws) {
            return pos;
        }
        let mut at = pos;
        loop {
            if let Some(rest) = from_position(self.space_at, !self.space, at) {
                if rest != 0 {
                    return at + rest.trailing_zeros() as usize;
                }
                at = self.space_at + 64;
            }
            if at >= text.len() {
                return text.len();
            }
            self.space = classify(text, at, 0, simd::space16);
            self.space_at = at;
        }
    }

    #[inline]
    fn digits_end(&mut self, text: &[u8], from: usize) -> usize {
        let mut at = from;
        loop {
            if let Some(rest) = from_position(self.digit_at, !self.digit, at) {
                if rest != 0 {
                    return at + rest.trailing_zeros() as usize;
                }
                at = self.digit_at + 64;
            }
            if at >= text.len() {
                // Only digits from `from` to the end (a block ends with a clear bit past the end).
                return from.max(text.len());
            }
            self.digit = classify(text, at, 0, simd::digit16);
            self.digit_at = at;
        }
    }

    fn check_utf8(text: &[u8]) -> Result<(), usize> {
        check_utf8_in_blocks(text)
    }
}

/// Where `text` stops being valid UTF-8 (as [`std::str::Utf8Error::valid_up_to`]), or `Ok` if
/// it is valid. ASCII goes 64 bytes a step with SIMD (the common case: JSON is mostly ASCII);
/// each stretch that holds other bytes goes to `std::str::from_utf8`, cut only before a byte
/// that is not a continuation byte (`0b10xx_xxxx`). No sequence spans such a cut, valid or not,
/// so the pieces are valid exactly when the whole is, and the first error is the same one.
fn check_utf8_in_blocks(text: &[u8]) -> Result<(), usize> {
    let mut at = 0;
    while at < text.len() {
        // Skip whole ASCII blocks.
        let non_ascii = classify(text, at, 0, simd::non_ascii16);
        if non_ascii == 0 {
            at += 64;
            continue;
        }
        let start = at + non_ascii.trailing_zeros() as usize;
        let mut end = (start + 64).min(text.len());
        while text.get(end).is_some_and(|&b| b & 0xC0 == 0x80) {
            end += 1;
        }
        if let Err(e) = std::str::from_utf8(&text[start..end]) {
            return Err(start + e.valid_up_to());
        }
        at = end;
    }
    Ok(())
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    /// Every byte value in every lane, on its own and beside every other class: the build's
    /// classification (SSE2 natively) is the portable one, bit for bit.
    #[test]
    fn simd_classes_are_the_portable_ones() {
        type Class = fn(&[u8; 16]) -> u16;
        let classes: [(Class, Class); 4] = [
            (simd::stop16, portable::stop16),
            (simd::space16, portable::space16),
            (simd::digit16, portable::digit16),
            (simd::non_ascii16, portable::non_ascii16),
        ];
        let mut next = crate::test_rng::xorshift(0x0C1A_55E5_u64);
        for (fast, reference) in classes {
            for fill in [b'a', b' ', b'"', 0x00, 0x80, 0xFF] {
                for lane in 0..16 {
                    for byte in 0..=255u8 {
                        let mut bytes = [fill; 16];
                        bytes[lane] = byte;
                        assert_eq!(fast(&bytes), reference(&bytes), "{bytes:?}");
                    }
                }
            }
            for _ in 0..100_000 {
                let bytes: [u8; 16] = std::array::from_fn(|_| next() as u8);
                assert_eq!(fast(&bytes), reference(&bytes), "{bytes:?}");
            }
        }
    }

    /// The byte class of each of the three scans, as one byte loop.
    fn reference_stop(text: &[u8], from: usize) -> Option<usize> {
        (from..text.len()).find(|&i| STRING_STOP[text[i] as usize])
    }

    fn reference_digits(text: &[u8], pos: usize) -> usize {
        if pos > text.len() {
            return pos;
        }
        (pos..text.len())
            .find(|&i| !text[i].is_ascii_digit())
            .unwrap_or(text.len())
    }

    fn reference_ws(text: &[u8], pos: usize) -> usize {
        if pos > text.len() {
            return pos;
        }
        (pos..text.len())
            .find(|&i| !is_ws(text[i]))
            .unwrap_or(text.len())
    }

    fn random_text(next: &mut impl FnMut() -> u64, len: usize) -> Vec<u8> {
        (0..len)
            .map(|_| match next() % 16 {
                0 => b'"',
                1 => b'\\',
                2 => (next() % 0x20) as u8,
                3 => b' ',
                4 => b'\n',
                7..=8 => b'0' + (next() % 10) as u8,
                5..=6 => 0x80 | (next() % 0x80) as u8,
                _ => b' ' + (next() % 0x5f) as u8,
            })
            .collect()
    }

    /// Both scanners answer as the byte loops do, for every start position in order (how the
    /// parser asks), and for random positions (each a new scanner: a block is valid for any
    /// position inside it, not only for the one that loaded it).
    #[test]
    fn both_scanners_find_what_the_byte_loops_find() {
        let mut next = crate::test_rng::xorshift(0x51_7CC1_B727_220A);
        // Every byte value at every offset of a 150-byte run (three blocks), behind every stop.
        for byte in 0..=255u8 {
            for at in (0..150).step_by(7).chain([63, 64, 65, 127, 128, 149]) {
                for fill in [b'a', b' ', b'7'] {
                    let mut text = vec![fill; 150];
                    text[at] = byte;
                    let mut blocks = Blocks::default();
                    for from in 0..=text.len() {
                        let want = reference_stop(&text, from);
                        assert_eq!(Scalar.string_stop(&text, from), want);
                        assert_eq!(blocks.string_stop(&text, from), want, "{byte} at {at}");
                    }
                    let mut blocks = Blocks::default();
                    for pos in 0..=text.len() + 1 {
                        let want = reference_ws(&text, pos);
                        assert_eq!(Scalar.skip_ws(&text, pos), want);
                        assert_eq!(blocks.skip_ws(&text, pos), want, "{byte} at {at}");
                        let want = reference_digits(&text, pos);
                        assert_eq!(Scalar.digits_end(&text, pos), want);
                        assert_eq!(blocks.digits_end(&text, pos), want, "{byte} at {at}");
                    }
                }
            }
        }
        for _ in 0..3_000 {
            let len = (next() % 300) as usize;
            let text = random_text(&mut next, len);
            let mut blocks = Blocks::default();
            let mut pos = 0;
            while pos <= len {
                let want = reference_stop(&text, pos);
                assert_eq!(Scalar.string_stop(&text, pos), want);
                assert_eq!(blocks.string_stop(&text, pos), want, "{text:?} {pos}");
                let want = reference_ws(&text, pos);
                assert_eq!(blocks.skip_ws(&text, pos), want, "{text:?} {pos}");
                let want = reference_digits(&text, pos);
                assert_eq!(blocks.digits_end(&text, pos), want, "{text:?} {pos}");
                pos += 1 + (next() % 40) as usize;
            }
            let from = (next() as usize) % (len + 2);
            assert_eq!(
                Blocks::default().string_stop(&text, from),
                reference_stop(&text, from)
            );
        }
    }

    /// `Blocks::check_utf8` finds exactly what `std::str::from_utf8` finds: valid and invalid sequences
    /// of every kind at every position around the block edges, in ASCII and in non-ASCII text.
    #[test]
    fn utf8_check_is_from_utf8() {
        let pieces: &[&[u8]] = &[
            b"a",
            "é".as_bytes(),
            "€".as_bytes(),
            "😀".as_bytes(),
            b"\x80",
            b"\xBF",
            b"\xC0\xAF",
            b"\xC3",
            b"\xE2\x82",
            b"\xED\xA0\x80",
            b"\xF0\x9F\x98",
            b"\xF4\x90\x80\x80",
            b"\xFF",
            b"\xEF\xBB\xBF",
        ];
        let expect = |text: &[u8]| {
            std::str::from_utf8(text)
                .map(|_| ())
                .map_err(|e| e.valid_up_to())
        };
        for filler in ["a", "é", "中", "😀"] {
            for piece in pieces {
                for at in 0..140 {
                    let mut text = filler.repeat(150).into_bytes();
                    text.truncate(150);
                    let at = at.min(text.len());
                    text.splice(at..at, piece.iter().copied());
                    for cut in [text.len(), at + 1, at + piece.len() / 2] {
                        let part = &text[..cut.min(text.len())];
                        assert_eq!(Blocks::check_utf8(part), expect(part), "{part:?}");
                    }
                }
            }
        }
        let mut next = crate::test_rng::xorshift(0x0BAD_C0DE);
        for _ in 0..20_000 {
            let len = (next() % 200) as usize;
            let mut text: Vec<u8> = Vec::new();
            while text.len() < len {
                match next() % 8 {
                    0 => text.push(next() as u8),
                    1..=3 => text.push(b'a'),
                    _ => text.extend_from_slice(pieces[(next() as usize) % pieces.len()]),
                }
            }
            assert_eq!(Blocks::check_utf8(&text), expect(&text), "{text:?}");
        }
    }
}
