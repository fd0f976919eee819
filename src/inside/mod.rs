//! What runs inside an isolate: the dispatcher the worker's bootstrap hands every message to
//! ([`dispatch`]), and what the isolate's own code may ask of its life ([`lifecycle`]:
//! `should_stop`, `exit`; [`pause`]: `is_paused`).

pub(crate) mod dispatch;
pub(crate) mod lifecycle;
pub(crate) mod panic_notice;
pub(crate) mod pause;
