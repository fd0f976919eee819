//! How a task's input and output travel: MessagePack bytes in one transferred `ArrayBuffer`.
//!
//! Both ends of a message are the same Rust program, so a compact binary format beats a
//! structured clone of JS values (no JS object graph is built on either side, and the buffer is
//! transferred, not copied, by the browser). MessagePack (`rmp-serde`) is self-describing, so
//! every serde type works, including `serde_json::Value`, untagged enums and `#[serde(flatten)]`,
//! which non-self-describing formats reject.

use crate::error::IsolateError;
use crate::wire::attachments::{self, Attachments};
use serde::{de::DeserializeOwned, Serialize};

/// Serializes `value` after `reserve` zero bytes (room for the envelope header, written later
/// in place, so the payload is never copied to prepend it), collecting the JS values it carries.
pub(crate) fn encode_after<T: Serialize + ?Sized>(
    reserve: usize,
    value: &T,
) -> Result<(Vec<u8>, Attachments), IsolateError> {
    let mut out = vec![0u8; reserve];
    let (result, attached) = attachments::collect(|| rmp_serde::encode::write(&mut out, value));
    result.map_err(IsolateError::codec)?;
    Ok((out, attached))
}

/// Deserializes a value of type `T` from `bytes`, taking the JS values it refers to from
/// `attached`.
pub(crate) fn decode<T: DeserializeOwned>(
    bytes: &[u8],
    attached: Attachments,
) -> Result<T, IsolateError> {
    attachments::provide(attached, || rmp_serde::from_slice(bytes)).map_err(IsolateError::codec)
}

/// The MessagePack header `rmp_serde` writes before the bytes of `text` (a `str 32` for the
/// large strings this is used for; the shorter forms for the rest), so that a caller can send
/// the header and then the string's own bytes, never copying them into one buffer.
// Used by the pool (wasm); the native tests cover it.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub(crate) fn str_header(text: &str) -> Result<Vec<u8>, IsolateError> {
    let len = text.len();
    let mut out = Vec::with_capacity(5);
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len < 1 << 8 {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len < 1 << 16 {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        let len = u32::try_from(len).map_err(|_| IsolateError::Codec {
            message: format!("a string of {len} bytes is over MessagePack's 4 GiB limit"),
        })?;
        out.push(0xdb);
        out.extend_from_slice(&len.to_be_bytes());
    }
    Ok(out)
}

/// `input` itself when it is a `String` of more than `above` bytes (and at most 4 GiB): the
/// caller then sends [`str_header`] and the string's own bytes (the seed's
/// `compute(parse_products, body)`: staged a slice per task instead of copied in one). Stable
/// Rust has no specialization; `Any` tells the type apart at run time, and the `Option` lets the
/// string move out of a value of a generic type.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
pub(crate) fn take_large_string<I: 'static>(input: &mut Option<I>, above: usize) -> Option<String> {
    let slot = (input as &mut dyn std::any::Any).downcast_mut::<Option<String>>()?;
    let text = slot.as_ref()?;
    if text.len() > above && u32::try_from(text.len()).is_ok() {
        slot.take()
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use std::collections::BTreeMap;

    #[derive(Serialize, Deserialize, Debug, PartialEq)]
    #[serde(untagged)]
    enum Untagged {
        Num(f64),
        Text(String),
    }

    #[test]
    fn round_trips_self_describing_types() {
        let v = vec![Untagged::Num(1.5), Untagged::Text("a".into())];
        let (bytes, _) = encode_after(3, &v).unwrap();
        assert_eq!(&bytes[..3], &[0, 0, 0]);
        assert_eq!(
            decode::<Vec<Untagged>>(&bytes[3..], Attachments::default()).unwrap(),
            v
        );
        let m: BTreeMap<String, u64> = [("k".to_string(), u64::MAX)].into();
        let (bytes, _) = encode_after(0, &m).unwrap();
        assert_eq!(
            decode::<BTreeMap<String, u64>>(&bytes, Attachments::default()).unwrap(),
            m
        );
    }

    #[test]
    fn a_string_header_then_its_bytes_is_what_rmp_serde_writes() {
        for len in [0, 31, 32, 255, 256, 65_535, 65_536, 5 << 20] {
            let text = "é".repeat(len / 2) + &"x".repeat(len % 2);
            let (whole, _) = encode_after(0, &text).unwrap();
            let mut split = str_header(&text).unwrap();
            split.extend_from_slice(text.as_bytes());
            assert_eq!(split, whole, "a string of {} bytes", text.len());
        }
    }

    #[test]
    fn only_a_large_string_is_taken_apart() {
        let big = "x".repeat(11);
        let mut input = Some(big.clone());
        assert_eq!(
            take_large_string(&mut input, 10).as_deref(),
            Some("xxxxxxxxxxx")
        );
        assert!(input.is_none(), "the string moved out");

        let mut small = Some("x".repeat(10));
        assert_eq!(take_large_string(&mut small, 10), None);
        assert!(small.is_some(), "a small string stays");

        let mut bytes = Some(big.clone().into_bytes());
        assert_eq!(take_large_string(&mut bytes, 10), None);
        let mut pair = Some((big, 1u8));
        assert_eq!(take_large_string(&mut pair, 10), None);
        assert!(pair.is_some());
    }

    #[test]
    fn wrong_type_is_a_codec_error() {
        let (bytes, _) = encode_after(0, &"text").unwrap();
        assert!(matches!(
            decode::<u32>(&bytes, Attachments::default()),
            Err(IsolateError::Codec { .. })
        ));
        assert!(matches!(
            decode::<u32>(&[0xc1], Attachments::default()),
            Err(IsolateError::Codec { .. })
        ));
    }
}
