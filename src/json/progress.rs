//! How far a parse has got: the isolate reports bytes parsed on a port of the caller's, and ends
//! with a last message on that same port, so the caller can pass on every report before it
//! settles the parse.
//!
//! Why the end message: messages on different `MessagePort`s carry no order between them (each
//! port is its own task source, <https://html.spec.whatwg.org/multipage/web-messaging.html#message-ports>),
//! and a parse's result comes back on its worker's channel, not on this port. Under load Firefox
//! delivered a result before three of its four reports (CI, 2026-11-28); the caller then closed
//! the port and the reports were lost.

use crate::port::SendPort;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Bytes between two progress reports: one small message each (25 for 100 MB).
pub(crate) const PROGRESS_STEP: u32 = 4 << 20;

/// One report: `(bytes parsed, bytes in all)`, or [`END`].
pub(crate) type Report = (u64, u64);

/// The last report of a parse: nothing follows it on the port.
pub(crate) const END: Report = (u64::MAX, u64::MAX);

/// Where the caller wants to hear how far a parse has got (or nowhere).
///
/// The copy the isolate receives sends [`END`] when it is dropped — when the task that took it
/// returns, whatever it returns — so that every report is on the port before the result leaves.
/// The caller's own copy never does.
pub(crate) struct ProgressPort {
    port: Option<SendPort<Report>>,
    /// True for the copy a task received (it is the one that ends the reports).
    received: bool,
}

impl ProgressPort {
    /// No one is listening.
    pub(crate) fn none() -> Self {
        ProgressPort {
            port: None,
            received: false,
        }
    }

    /// Reports go to `port`.
    pub(crate) fn to(port: SendPort<Report>) -> Self {
        ProgressPort {
            port: Some(port),
            received: false,
        }
    }

    fn send(&self, report: Report) {
        if let Some(port) = &self.port {
            // A caller that stopped listening is no reason to stop parsing.
            let _ = port.send(report);
        }
    }
}

impl Drop for ProgressPort {
    fn drop(&mut self) {
        if self.received {
            self.send(END);
        }
    }
}

// By hand, as the port alone: a derived implementation for a struct is kilobytes of wasm.
impl Serialize for ProgressPort {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.port.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for ProgressPort {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(ProgressPort {
            port: Option::deserialize(deserializer)?,
            received: true,
        })
    }
}

/// Reports bytes parsed to a [`ProgressPort`], every [`PROGRESS_STEP`] bytes. Offsets come from
/// the elements of a top-level array as they complete; other documents report nothing midway.
pub(crate) struct ParseProgress<'p> {
    port: &'p ProgressPort,
    total: u64,
    next: u32,
}

impl<'p> ParseProgress<'p> {
    pub(crate) fn new(port: &'p ProgressPort, total: usize) -> Self {
        ParseProgress {
            port,
            total: total as u64,
            next: PROGRESS_STEP,
        }
    }

    pub(crate) fn at(&mut self, offset: u32) {
        if offset >= self.next {
            self.next = offset.saturating_add(PROGRESS_STEP);
            self.port.send((u64::from(offset), self.total));
        }
    }
}
