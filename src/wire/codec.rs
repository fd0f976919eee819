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
