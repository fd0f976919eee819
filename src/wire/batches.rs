//! A sequence in batches: how [`run_vec`](crate::run::run_vec) moves a large `Vec<T>` so that
//! the receiving thread can decode it a few batches at a time, between frames.
//!
//! A plain output is one MessagePack value, and serde decodes a value in one call: for half a
//! million records that is one task of 50–60 ms on the receiving thread, three or four lost
//! frames. A sequence is instead written as its elements back to back (each one MessagePack
//! value), cut into batches of about [`BATCH_BYTES`], with a table of the batches at the end:
//!
//! ```text
//! element 0, element 1, ...                       MessagePack values, back to back
//! (bytes u32, elements u32) for each batch        little-endian
//! batch count u32, element count u64              the footer, last 12 bytes
//! ```
//!
//! The table comes last because the isolate learns it while it writes; the reader starts from
//! the footer. Reading is total: a table that does not fit the bytes, or a batch that does not
//! hold its elements exactly, is an error, never a panic or an out-of-bounds read.
//!
//! [`ByteSource`] lets the reader copy one batch at a time out of a large reply that is still a
//! JS `ArrayBuffer`, instead of copying the whole reply into wasm memory in one task.

use crate::error::IsolateError;
use crate::wire::attachments::{self, Attachments, Incoming};
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::borrow::Cow;
use std::ops::Range;

/// About how many encoded bytes a batch holds. Decoding 64 KiB of small records takes well under
/// a millisecond in an optimized build (and some 10 ms in a debug build), so a slice of a frame
/// holds several batches, and neither a slow element type nor a debug build makes one batch a
/// long task. A batch's table entry costs 8 bytes: 0.01 % of the batch.
pub(crate) const BATCH_BYTES: usize = 64 * 1024;

const FOOTER_LEN: usize = 12;
const TABLE_ENTRY_LEN: usize = 8;

/// Encodes `items` after `reserve` zero bytes (room for the envelope header) as batches, with
/// the JS values they carry.
pub(crate) fn encode_after<T: Serialize>(
    reserve: usize,
    items: &[T],
) -> Result<(Vec<u8>, Attachments), IsolateError> {
    encode_with(reserve, items, BATCH_BYTES)
}

fn encode_with<T: Serialize>(
    reserve: usize,
    items: &[T],
    batch_bytes: usize,
) -> Result<(Vec<u8>, Attachments), IsolateError> {
    let mut out = vec![0u8; reserve];
    let mut table: Vec<(u32, u32)> = Vec::new();
    let (result, attached) = attachments::collect(|| -> Result<(), IsolateError> {
        let mut batch_start = out.len();
        let mut batch_count = 0u32;
        for item in items {
            rmp_serde::encode::write(&mut out, item).map_err(IsolateError::codec)?;
            batch_count += 1;
            if out.len() - batch_start >= batch_bytes {
                table.push((to_u32(out.len() - batch_start)?, batch_count));
                batch_start = out.len();
                batch_count = 0;
            }
        }
        if batch_count > 0 {
            table.push((to_u32(out.len() - batch_start)?, batch_count));
        }
        Ok(())
    });
    result?;
    out.reserve(table.len() * TABLE_ENTRY_LEN + FOOTER_LEN);
    for (bytes, count) in &table {
        out.extend_from_slice(&bytes.to_le_bytes());
        out.extend_from_slice(&count.to_le_bytes());
    }
    out.extend_from_slice(&to_u32(table.len())?.to_le_bytes());
    out.extend_from_slice(&(items.len() as u64).to_le_bytes());
    Ok((out, attached))
}

fn to_u32(n: usize) -> Result<u32, IsolateError> {
    u32::try_from(n).map_err(|_| IsolateError::Codec {
        message: format!("a sequence of {n} bytes or elements is over the 4 GiB limit"),
    })
}

/// Bytes the reader takes a range at a time.
pub(crate) trait ByteSource {
    /// Length in bytes.
    fn len(&self) -> usize;
    /// The bytes of `range` (within `0..len()`).
    fn read(&self, range: Range<usize>) -> Cow<'_, [u8]>;
}

impl ByteSource for &[u8] {
    fn len(&self) -> usize {
        <[u8]>::len(self)
    }
    fn read(&self, range: Range<usize>) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self[range])
    }
}

impl ByteSource for Vec<u8> {
    fn len(&self) -> usize {
        <[u8]>::len(self)
    }
    fn read(&self, range: Range<usize>) -> Cow<'_, [u8]> {
        Cow::Borrowed(&self[range])
    }
}

/// Reads a batched sequence from `source[start..]`, one batch per [`next_batch`](Self::next_batch).
pub(crate) struct BatchReader<S> {
    source: S,
    /// Byte ranges in `source` and element counts, in order.
    batches: Vec<(Range<usize>, u32)>,
    next: usize,
    total: u64,
    incoming: Incoming,
}

fn malformed(why: impl std::fmt::Display) -> IsolateError {
    IsolateError::Codec {
        message: format!("a batched sequence is malformed: {why}"),
    }
}

fn le_u32(bytes: &[u8]) -> u32 {
    let mut b = [0u8; 4];
    b.copy_from_slice(&bytes[..4]);
    u32::from_le_bytes(b)
}

impl<S: ByteSource> BatchReader<S> {
    /// Reads the footer and the table of `source[start..]`.
    pub(crate) fn new(
        source: S,
        start: usize,
        attached: Attachments,
    ) -> Result<Self, IsolateError> {
        let len = source.len();
        if len < start || len - start < FOOTER_LEN {
            return Err(malformed("it is shorter than its footer"));
        }
        let footer = source.read(len - FOOTER_LEN..len);
        let count = le_u32(&footer[..4]) as usize;
        let mut total_bytes = [0u8; 8];
        total_bytes.copy_from_slice(&footer[4..12]);
        let total = u64::from_le_bytes(total_bytes);
        let table_len = count
            .checked_mul(TABLE_ENTRY_LEN)
            .filter(|t| *t <= len - start - FOOTER_LEN)
            .ok_or_else(|| malformed(format!("its table of {count} batches does not fit")))?;
        let table_start = len - FOOTER_LEN - table_len;
        let table = source.read(table_start..len - FOOTER_LEN);
        let mut batches = Vec::with_capacity(count);
        let mut at = start;
        let mut elements = 0u64;
        for entry in table.chunks_exact(TABLE_ENTRY_LEN) {
            let bytes = le_u32(&entry[..4]) as usize;
            let n = le_u32(&entry[4..]);
            let end = at
                .checked_add(bytes)
                .filter(|e| *e <= table_start)
                .ok_or_else(|| malformed("a batch runs past the elements"))?;
            batches.push((at..end, n));
            at = end;
            elements += u64::from(n);
        }
        if at != table_start {
            return Err(malformed("the batches do not cover the elements"));
        }
        if elements != total {
            return Err(malformed(format!(
                "its batches hold {elements} elements, its footer says {total}"
            )));
        }
        Ok(BatchReader {
            source,
            batches,
            next: 0,
            total,
            incoming: attached.into(),
        })
    }

    /// A capacity for the decoded sequence: its element count, but never more than its bytes
    /// (each element takes at least one), so a corrupt footer cannot make us reserve gigabytes.
    pub(crate) fn capacity_hint(&self) -> usize {
        let bytes: usize = self.batches.iter().map(|(range, _)| range.len()).sum();
        usize::try_from(self.total).unwrap_or(usize::MAX).min(bytes)
    }

    /// Decodes the next batch onto `out`: `None` once every batch is read.
    pub(crate) fn next_batch<T: DeserializeOwned>(
        &mut self,
        out: &mut Vec<T>,
    ) -> Option<Result<(), IsolateError>> {
        let (range, count) = self.batches.get(self.next)?.clone();
        let index = self.next;
        self.next += 1;
        let bytes = self.source.read(range.clone());
        let result = attachments::provide_from(&mut self.incoming, || {
            if bytes.len() != range.len() {
                // The source changed under us (e.g. its buffer was detached).
                return Err(malformed(format!(
                    "batch {index} should be {} bytes, {} could be read",
                    range.len(),
                    bytes.len()
                )));
            }
            let mut rest: &[u8] = &bytes;
            let mut de = rmp_serde::Deserializer::new(&mut rest);
            for k in 0..count {
                let item = T::deserialize(&mut de).map_err(|e| IsolateError::Codec {
                    message: format!(
                        "element {k} of batch {index} of {} (bytes {}..{} of {}): {e}",
                        self.batches.len(),
                        range.start,
                        range.end,
                        self.source.len()
                    ),
                })?;
                out.push(item);
            }
            drop(de);
            if rest.is_empty() {
                Ok(())
            } else {
                Err(malformed("a batch holds more than its elements"))
            }
        });
        if result.is_err() {
            self.next = self.batches.len(); // nothing after a bad batch is read
        }
        Some(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Serialize, Deserialize, Debug, PartialEq, Clone)]
    struct Product {
        id: u64,
        name: String,
        price: f64,
        category: Option<String>,
    }

    fn products(n: usize) -> Vec<Product> {
        (0..n)
            .map(|i| Product {
                id: i as u64,
                name: format!("product {i}"),
                price: i as f64 * 0.25,
                category: (i % 3 == 0).then(|| "tools".to_string()),
            })
            .collect()
    }

    fn read_all<T: DeserializeOwned>(bytes: &[u8], start: usize) -> Result<Vec<T>, IsolateError> {
        let mut reader = BatchReader::new(bytes, start, Attachments::default())?;
        let mut out = Vec::new();
        while let Some(r) = reader.next_batch(&mut out) {
            r?;
        }
        assert_eq!(out.len() as u64, reader.total);
        assert_eq!(out.len(), reader.capacity_hint());
        Ok(out)
    }

    #[test]
    fn round_trips_in_many_batches() {
        let items = products(10_000);
        let (bytes, _) = encode_with(7, &items, 1000).unwrap();
        assert_eq!(&bytes[..7], &[0; 7]);
        let reader = BatchReader::new(&bytes[..], 7, Attachments::default()).unwrap();
        assert!(
            reader.batches.len() > 100,
            "{} batches",
            reader.batches.len()
        );
        assert_eq!(read_all::<Product>(&bytes, 7).unwrap(), items);
    }

    #[test]
    fn empty_and_single_sequences() {
        for n in [0, 1] {
            let items = products(n);
            let (bytes, _) = encode_after(3, &items).unwrap();
            assert_eq!(read_all::<Product>(&bytes, 3).unwrap(), items);
        }
    }

    #[test]
    fn a_large_element_is_its_own_batch() {
        let items = vec!["x".repeat(3 * BATCH_BYTES), "y".to_string()];
        let (bytes, _) = encode_after(0, &items).unwrap();
        let reader = BatchReader::new(&bytes[..], 0, Attachments::default()).unwrap();
        assert_eq!(reader.batches.len(), 2);
        assert_eq!(read_all::<String>(&bytes, 0).unwrap(), items);
    }

    #[test]
    fn wrong_element_type_is_a_codec_error_naming_the_element() {
        let (bytes, _) = encode_after(0, &products(10)).unwrap();
        let Err(IsolateError::Codec { message }) = read_all::<u32>(&bytes, 0) else {
            panic!("a Product read as u32 must be a codec error");
        };
        assert!(
            message.starts_with("element 0 of batch 0 of 1 (bytes 0.."),
            "{message}"
        );
    }

    #[test]
    fn every_truncation_and_corruption_is_an_error_not_a_panic() {
        let (bytes, _) = encode_with(0, &products(50), 200).unwrap();
        for cut in 0..bytes.len() {
            let _ = read_all::<Product>(&bytes[..cut], 0);
        }
        let mut rng = crate::test_rng::xorshift(7);
        for _ in 0..2000 {
            let mut b = bytes.clone();
            let i = (rng() as usize) % b.len();
            b[i] ^= (rng() as u8) | 1;
            let _ = read_all::<Product>(&b, 0);
        }
        // A footer claiming more elements than the batches hold.
        let mut b = bytes.clone();
        let n = b.len();
        b[n - 8] ^= 1;
        assert!(matches!(
            read_all::<Product>(&b, 0),
            Err(IsolateError::Codec { .. })
        ));
    }
}
