//! The wire protocol between a parent and its isolates.
//!
//! A message is a JS array `[buffer, ...attachments]` posted on the worker's own channel (calls
//! and replies; see `IsolateWorker::post` for why not a `MessageChannel`) or on a port
//! ([`SendPort`](crate::port::SendPort) messages).
//! `buffer` is one `ArrayBuffer` (transferred, never copied by the browser) that holds an
//! envelope header followed by the payload bytes; `attachments` are the JS transferables the
//! payload refers to by index.
//!
//! Header, little-endian:
//!
//! ```text
//! 0..4   magic  b"WISO"
//! 4      version (PROTOCOL_VERSION)
//! 5      kind   1 = call, 2 = done, 3 = failed, 4 = port message, 5 = stop, 6 = new sender
//! 6..14  id     u64, chosen by the caller, echoed in the reply (0 for message, stop, new sender)
//! call:    trampoline u32, task u32, attachments u32
//! done:    attachments u32
//! failed:  code u8, message (u32 length + UTF-8), location (u8 present + u32 length + UTF-8)
//! message: attachments u32
//! stop:    nothing
//! new sender: nothing (one attachment: the new MessagePort)
//! ...    payload (call, done and message)
//! ```
//!
//! Decoding is total: any byte string yields an [`Envelope`] or a [`ProtocolError`], never a
//! panic (the `decoder_never_panics` test and `npm test`'s bounded fuzz run check that).

use crate::error::IsolateError;
use std::fmt;

/// The version this build speaks. A peer with another version is answered with an error.
pub const PROTOCOL_VERSION: u8 = 1;
const MAGIC: &[u8; 4] = b"WISO";
const KIND_CALL: u8 = 1;
const KIND_DONE: u8 = 2;
const KIND_FAILED: u8 = 3;
const KIND_MESSAGE: u8 = 4;
const KIND_STOP: u8 = 5;
const KIND_NEW_SENDER: u8 = 6;
/// Bytes before the kind-specific part.
const PREFIX_LEN: usize = 14;
/// Length of a call header: payloads are encoded after this many reserved bytes.
pub const CALL_HEADER_LEN: usize = PREFIX_LEN + 12;
/// Length of a done header.
pub const DONE_HEADER_LEN: usize = PREFIX_LEN + 4;
/// Length of a port message header.
pub const MESSAGE_HEADER_LEN: usize = PREFIX_LEN + 4;

/// One decoded message header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Envelope {
    /// Parent → isolate: run `task` through `trampoline` on the payload.
    Call {
        /// Correlates the reply.
        id: u64,
        /// Function-table index of the monomorphised trampoline that decodes, calls, encodes.
        trampoline: u32,
        /// Function-table index of the user's `fn`.
        task: u32,
        /// How many JS transferables follow the buffer.
        attachments: u32,
    },
    /// Isolate → parent: the task's encoded output is the payload.
    Done {
        /// The call's id.
        id: u64,
        /// How many JS transferables follow the buffer.
        attachments: u32,
    },
    /// Any direction: a message on a [`SendPort`](crate::port::SendPort); the payload is the value.
    Message {
        /// How many JS transferables follow the buffer.
        attachments: u32,
    },
    /// Parent → isolate: stop at the next event (`Isolate::kill(Priority::BeforeNextEvent)`).
    Stop,
    /// Any direction, on a port: its one attachment is a new `MessagePort` that the receiving
    /// [`ReceivePort`](crate::port::ReceivePort) listens to from now on. Sent when a copy of a
    /// [`SendPort`](crate::port::SendPort) that came from elsewhere is itself sent on: a
    /// `MessagePort` can be in one thread only, so the copy gets a channel of its own.
    NewSender,
    /// Isolate → parent: the task failed.
    Failed {
        /// The call's id (0 when the call's own header could not be read).
        id: u64,
        /// What went wrong.
        failure: Failure,
    },
}

/// Why a call failed inside the isolate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The class of failure.
    pub code: FailureCode,
    /// A human-readable explanation.
    pub message: String,
    /// `file:line:column` of a panic.
    pub location: Option<String>,
}

/// Classes of [`Failure`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum FailureCode {
    /// The task panicked; the isolate's instance is poisoned.
    Panicked = 1,
    /// Input or output (de)serialization failed.
    Codec = 2,
    /// The call message was malformed.
    Protocol = 3,
}

impl Failure {
    /// The same failure with another code.
    pub fn with_code(mut self, code: FailureCode) -> Self {
        self.code = code;
        self
    }
}

impl FailureCode {
    fn from_u8(b: u8) -> Option<Self> {
        match b {
            1 => Some(Self::Panicked),
            2 => Some(Self::Codec),
            3 => Some(Self::Protocol),
            _ => None,
        }
    }
}

impl From<Failure> for IsolateError {
    fn from(f: Failure) -> Self {
        match f.code {
            FailureCode::Panicked => IsolateError::Panicked {
                message: f.message,
                location: f.location,
            },
            FailureCode::Codec => IsolateError::Codec { message: f.message },
            FailureCode::Protocol => IsolateError::Protocol { message: f.message },
        }
    }
}

/// Why bytes are not a valid message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// Fewer bytes than a header needs.
    Truncated {
        /// Which field ran past the end.
        field: &'static str,
    },
    /// The first four bytes are not `WISO`.
    BadMagic,
    /// A version this build does not speak.
    UnsupportedVersion(u8),
    /// An unknown message kind.
    UnknownKind(u8),
    /// An unknown failure code.
    UnknownFailureCode(u8),
    /// A string field is not UTF-8.
    BadUtf8 {
        /// Which field.
        field: &'static str,
    },
    /// Bytes after a message kind that carries no payload.
    TrailingBytes(usize),
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Truncated { field } => write!(f, "message truncated in field `{field}`"),
            Self::BadMagic => f.write_str("not a wasm-isolates message (bad magic)"),
            Self::UnsupportedVersion(v) => write!(
                f,
                "protocol version {v} is not supported (this build speaks {PROTOCOL_VERSION})"
            ),
            Self::UnknownKind(k) => write!(f, "unknown message kind {k}"),
            Self::UnknownFailureCode(c) => write!(f, "unknown failure code {c}"),
            Self::BadUtf8 { field } => write!(f, "field `{field}` is not valid UTF-8"),
            Self::TrailingBytes(n) => write!(f, "{n} unexpected bytes after the message"),
        }
    }
}

impl std::error::Error for ProtocolError {}

impl From<ProtocolError> for IsolateError {
    fn from(e: ProtocolError) -> Self {
        IsolateError::protocol(e)
    }
}

impl Envelope {
    /// The id this message correlates to.
    pub fn id(&self) -> u64 {
        match self {
            Self::Call { id, .. } | Self::Done { id, .. } | Self::Failed { id, .. } => *id,
            Self::Message { .. } | Self::Stop | Self::NewSender => 0,
        }
    }

    /// Encodes the header followed by `payload` into one buffer.
    ///
    /// ```
    /// use wasm_isolates::protocol::Envelope;
    /// let msg = Envelope::Done { id: 7, attachments: 0 }.encode(b"out");
    /// let (env, payload) = Envelope::decode(&msg).unwrap();
    /// assert_eq!(env, Envelope::Done { id: 7, attachments: 0 });
    /// assert_eq!(payload, b"out");
    /// ```
    pub fn encode(&self, payload: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(PREFIX_LEN + 16 + payload.len());
        self.encode_header(&mut out);
        out.extend_from_slice(payload);
        out
    }

    /// Writes a call or done header over the first bytes of `message`, which the payload
    /// encoder reserved ([`CALL_HEADER_LEN`] / [`DONE_HEADER_LEN`] bytes), so the payload is
    /// never copied to prepend it.
    ///
    /// ```
    /// use wasm_isolates::protocol::{Envelope, DONE_HEADER_LEN};
    /// let mut message = vec![0u8; DONE_HEADER_LEN];
    /// message.extend_from_slice(b"out");
    /// Envelope::Done { id: 3, attachments: 0 }.write_header(&mut message);
    /// assert_eq!(Envelope::decode(&message).unwrap().1, b"out");
    /// ```
    ///
    /// # Panics
    /// If `self` is a `Failed` envelope (variable length) or `message` is shorter than the header.
    pub fn write_header(&self, message: &mut [u8]) {
        let mut header = Vec::with_capacity(CALL_HEADER_LEN);
        self.encode_header(&mut header);
        assert!(
            !matches!(self, Self::Failed { .. }) && header.len() <= message.len(),
            "write_header needs a fixed-size envelope and room for it"
        );
        message[..header.len()].copy_from_slice(&header);
    }

    /// Writes the header alone into `out` (the payload is appended by the caller).
    pub fn encode_header(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(MAGIC);
        out.push(PROTOCOL_VERSION);
        match self {
            Self::Call {
                id,
                trampoline,
                task,
                attachments,
            } => {
                out.push(KIND_CALL);
                out.extend_from_slice(&id.to_le_bytes());
                out.extend_from_slice(&trampoline.to_le_bytes());
                out.extend_from_slice(&task.to_le_bytes());
                out.extend_from_slice(&attachments.to_le_bytes());
            }
            Self::Done { id, attachments } => {
                out.push(KIND_DONE);
                out.extend_from_slice(&id.to_le_bytes());
                out.extend_from_slice(&attachments.to_le_bytes());
            }
            Self::Message { attachments } => {
                out.push(KIND_MESSAGE);
                out.extend_from_slice(&0u64.to_le_bytes());
                out.extend_from_slice(&attachments.to_le_bytes());
            }
            Self::Stop => {
                out.push(KIND_STOP);
                out.extend_from_slice(&0u64.to_le_bytes());
            }
            Self::NewSender => {
                out.push(KIND_NEW_SENDER);
                out.extend_from_slice(&0u64.to_le_bytes());
            }
            Self::Failed { id, failure } => {
                out.push(KIND_FAILED);
                out.extend_from_slice(&id.to_le_bytes());
                out.push(failure.code as u8);
                put_str(out, &failure.message);
                match &failure.location {
                    Some(loc) => {
                        out.push(1);
                        put_str(out, loc);
                    }
                    None => out.push(0),
                }
            }
        }
    }

    /// Decodes a message, returning its header and the payload that follows it.
    ///
    /// ```
    /// use wasm_isolates::protocol::{Envelope, ProtocolError};
    /// assert_eq!(Envelope::decode(b"nope"), Err(ProtocolError::BadMagic));
    /// ```
    pub fn decode(bytes: &[u8]) -> Result<(Envelope, &[u8]), ProtocolError> {
        let mut r = Reader { bytes, pos: 0 };
        if r.take(4, "magic")? != MAGIC {
            return Err(ProtocolError::BadMagic);
        }
        let version = r.u8("version")?;
        if version != PROTOCOL_VERSION {
            return Err(ProtocolError::UnsupportedVersion(version));
        }
        let kind = r.u8("kind")?;
        let id = r.u64("id")?;
        let env = match kind {
            KIND_CALL => Envelope::Call {
                id,
                trampoline: r.u32("trampoline")?,
                task: r.u32("task")?,
                attachments: r.u32("attachments")?,
            },
            KIND_DONE => Envelope::Done {
                id,
                attachments: r.u32("attachments")?,
            },
            KIND_MESSAGE => Envelope::Message {
                attachments: r.u32("attachments")?,
            },
            KIND_STOP => {
                r.finish()?;
                Envelope::Stop
            }
            KIND_NEW_SENDER => {
                r.finish()?;
                Envelope::NewSender
            }
            KIND_FAILED => {
                let code_byte = r.u8("code")?;
                let code = FailureCode::from_u8(code_byte)
                    .ok_or(ProtocolError::UnknownFailureCode(code_byte))?;
                let message = r.string("message")?;
                let location = match r.u8("location flag")? {
                    0 => None,
                    _ => Some(r.string("location")?),
                };
                r.finish()?;
                Envelope::Failed {
                    id,
                    failure: Failure {
                        code,
                        message,
                        location,
                    },
                }
            }
            other => return Err(ProtocolError::UnknownKind(other)),
        };
        Ok((env, &bytes[r.pos..]))
    }

    /// Reads just the id of a message whose remainder may be malformed, so that an error reply
    /// can still be correlated. `None` when even the prefix is unreadable.
    pub fn peek_id(bytes: &[u8]) -> Option<u64> {
        if bytes.len() < PREFIX_LEN || &bytes[..4] != MAGIC {
            return None;
        }
        let mut id = [0u8; 8];
        id.copy_from_slice(&bytes[6..14]);
        Some(u64::from_le_bytes(id))
    }
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    // Strings here are error messages; clamp absurd ones rather than fail.
    let bytes = s.as_bytes();
    let len = bytes.len().min(u32::MAX as usize);
    out.extend_from_slice(&(len as u32).to_le_bytes());
    out.extend_from_slice(&bytes[..len]);
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], ProtocolError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or(ProtocolError::Truncated { field })?;
        let s = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(s)
    }
    fn finish(&self) -> Result<(), ProtocolError> {
        match self.bytes.len() - self.pos {
            0 => Ok(()),
            rest => Err(ProtocolError::TrailingBytes(rest)),
        }
    }
    fn u8(&mut self, field: &'static str) -> Result<u8, ProtocolError> {
        Ok(self.take(1, field)?[0])
    }
    fn u32(&mut self, field: &'static str) -> Result<u32, ProtocolError> {
        let mut b = [0u8; 4];
        b.copy_from_slice(self.take(4, field)?);
        Ok(u32::from_le_bytes(b))
    }
    fn u64(&mut self, field: &'static str) -> Result<u64, ProtocolError> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8, field)?);
        Ok(u64::from_le_bytes(b))
    }
    fn string(&mut self, field: &'static str) -> Result<String, ProtocolError> {
        let len = self.u32(field)? as usize;
        let raw = self.take(len, field)?;
        String::from_utf8(raw.to_vec()).map_err(|_| ProtocolError::BadUtf8 { field })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn samples() -> Vec<Envelope> {
        vec![
            Envelope::Call {
                id: 1,
                trampoline: 17,
                task: 42,
                attachments: 2,
            },
            Envelope::Done {
                id: u64::MAX,
                attachments: 0,
            },
            Envelope::Failed {
                id: 9,
                failure: Failure {
                    code: FailureCode::Panicked,
                    message: "boom ünïcode".into(),
                    location: Some("src/x.rs:1:2".into()),
                },
            },
            Envelope::Failed {
                id: 0,
                failure: Failure {
                    code: FailureCode::Codec,
                    message: String::new(),
                    location: None,
                },
            },
            Envelope::Message { attachments: 3 },
            Envelope::Stop,
            Envelope::NewSender,
        ]
    }

    #[test]
    fn round_trips_every_kind() {
        for env in samples() {
            let payload: &[u8] = if matches!(
                env,
                Envelope::Failed { .. } | Envelope::Stop | Envelope::NewSender
            ) {
                b""
            } else {
                b"\x00payload\xff"
            };
            let bytes = env.encode(payload);
            let (back, rest) = Envelope::decode(&bytes).expect("decodes");
            assert_eq!(back, env);
            assert_eq!(rest, payload);
            assert_eq!(Envelope::peek_id(&bytes), Some(env.id()));
        }
    }

    #[test]
    fn fixed_header_lengths_hold() {
        let mut out = Vec::new();
        samples()[0].encode_header(&mut out);
        assert_eq!(out.len(), CALL_HEADER_LEN);
        out.clear();
        samples()[1].encode_header(&mut out);
        assert_eq!(out.len(), DONE_HEADER_LEN);
    }

    #[test]
    fn rejects_wrong_version() {
        let mut bytes = samples()[0].encode(b"");
        bytes[4] = 99;
        assert_eq!(
            Envelope::decode(&bytes),
            Err(ProtocolError::UnsupportedVersion(99))
        );
        // The id is still readable, so the reply can be correlated.
        assert_eq!(Envelope::peek_id(&bytes), Some(1));
    }

    #[test]
    fn rejects_unknown_kind_and_code() {
        let mut bytes = samples()[0].encode(b"");
        bytes[5] = 200;
        assert_eq!(
            Envelope::decode(&bytes),
            Err(ProtocolError::UnknownKind(200))
        );
        let mut bytes = samples()[2].encode(b"");
        bytes[PREFIX_LEN] = 77;
        assert_eq!(
            Envelope::decode(&bytes),
            Err(ProtocolError::UnknownFailureCode(77))
        );
    }

    #[test]
    fn rejects_every_truncation() {
        for env in samples() {
            let bytes = env.encode(b"");
            for cut in 0..bytes.len() {
                assert!(
                    Envelope::decode(&bytes[..cut]).is_err(),
                    "{env:?} cut at {cut} decoded"
                );
            }
        }
    }

    #[test]
    fn rejects_bad_utf8_and_trailing_bytes() {
        let env = &samples()[2];
        let mut bytes = env.encode(b"");
        bytes[PREFIX_LEN + 1 + 4] = 0xff; // first byte of the message string
        assert_eq!(
            Envelope::decode(&bytes),
            Err(ProtocolError::BadUtf8 { field: "message" })
        );
        let mut bytes = env.encode(b"");
        bytes.push(0);
        assert_eq!(
            Envelope::decode(&bytes),
            Err(ProtocolError::TrailingBytes(1))
        );
    }

    #[test]
    fn huge_declared_length_is_truncation_not_allocation() {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&[PROTOCOL_VERSION, KIND_FAILED]);
        bytes.extend_from_slice(&5u64.to_le_bytes());
        bytes.push(FailureCode::Codec as u8);
        bytes.extend_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(
            Envelope::decode(&bytes),
            Err(ProtocolError::Truncated { field: "message" })
        );
    }

    /// A small deterministic fuzz: random and mutated inputs never panic.
    #[test]
    fn decoder_never_panics() {
        let mut next = crate::test_rng::xorshift(0x9E37_79B9_7F4A_7C15u64);
        let seeds: Vec<Vec<u8>> = samples().iter().map(|e| e.encode(b"xyz")).collect();
        let iterations: usize = std::env::var("WASM_ISOLATES_FUZZ_ITERS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(200_000);
        for i in 0..iterations {
            let mut bytes = seeds[i % seeds.len()].clone();
            let flips = (next() % 4) as usize;
            for _ in 0..=flips {
                match next() % 3 {
                    0 if !bytes.is_empty() => {
                        let at = (next() as usize) % bytes.len();
                        bytes[at] = next() as u8;
                    }
                    1 if !bytes.is_empty() => {
                        let at = (next() as usize) % bytes.len();
                        bytes.truncate(at);
                    }
                    _ => bytes.push(next() as u8),
                }
            }
            let _ = Envelope::decode(&bytes);
            let _ = Envelope::peek_id(&bytes);
        }
    }
}
