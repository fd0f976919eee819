//! The parent's side of an isolate: starting its Web Worker, posting calls to it, and turning
//! what the worker or the browser reports into events ([`worker`]). [`crate::pool`] and
//! [`crate::isolate`] are built on it.

pub(crate) mod worker;
