//! Where a task's reply goes. The pool settles it inside the worker's message handler: a
//! [`TaskHandle`] polls a cell shared with the pool (no channel in between), and the JS pool
//! hands over a callback that settles its promise there and then (no Rust future at all).

use super::*;
use std::task::Waker;

/// What a task ends with, before its output is decoded.
pub(crate) type ReplyResult = Result<ReplyPayload, IsolateError>;

/// The cell a [`TaskHandle`] polls and the pool fills.
pub(crate) struct ReplyCell {
    state: RefCell<CellState>,
}

enum CellState {
    Waiting(Option<Waker>),
    Ready(ReplyResult),
    Taken,
}

impl ReplyCell {
    pub(super) fn new() -> Rc<Self> {
        Rc::new(ReplyCell {
            state: RefCell::new(CellState::Waiting(None)),
        })
    }

    /// The reply once it is there (once only; `Closed` if polled again after that).
    pub(super) fn poll(&self, cx: &mut Context<'_>) -> Poll<ReplyResult> {
        let mut state = self.state.borrow_mut();
        match &mut *state {
            CellState::Waiting(waker) => {
                if !waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
                    *waker = Some(cx.waker().clone());
                }
                Poll::Pending
            }
            CellState::Ready(_) => match std::mem::replace(&mut *state, CellState::Taken) {
                CellState::Ready(result) => Poll::Ready(result),
                _ => Poll::Ready(Err(IsolateError::Closed)),
            },
            CellState::Taken => Poll::Ready(Err(IsolateError::Closed)),
        }
    }

    fn fill(&self, result: ReplyResult) {
        let waker = {
            let mut state = self.state.borrow_mut();
            match std::mem::replace(&mut *state, CellState::Ready(result)) {
                CellState::Waiting(waker) => waker,
                // Settled once already: keep the first outcome.
                other => {
                    *state = other;
                    None
                }
            }
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

/// A callback settling a task: the JS pool's way to resolve its promise in the message handler.
/// It runs while the pool's state is borrowed, so it must not call back into the pool (resolving
/// a JS promise does not: its reactions run later, as microtasks).
pub(crate) type ReplyCallback = Box<dyn FnOnce(ReplyResult)>;

/// The pool's end of one task's reply. Dropped unsent (the pool itself dropped), it settles the
/// task with [`IsolateError::Closed`], so no caller waits for ever.
pub(super) struct Reply(Option<ReplyTo>);

enum ReplyTo {
    Cell(Rc<ReplyCell>),
    // Made only by the JS pool (feature `js`).
    #[cfg_attr(not(feature = "js"), allow(dead_code))]
    Callback(ReplyCallback),
}

impl Reply {
    pub(super) fn cell(cell: Rc<ReplyCell>) -> Self {
        Reply(Some(ReplyTo::Cell(cell)))
    }

    #[cfg_attr(not(feature = "js"), allow(dead_code))]
    pub(super) fn callback(callback: ReplyCallback) -> Self {
        Reply(Some(ReplyTo::Callback(callback)))
    }

    pub(super) fn send(mut self, result: ReplyResult) {
        if let Some(to) = self.0.take() {
            to.deliver(result);
        }
    }
}

impl ReplyTo {
    fn deliver(self, result: ReplyResult) {
        match self {
            ReplyTo::Cell(cell) => cell.fill(result),
            ReplyTo::Callback(callback) => callback(result),
        }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        if let Some(to) = self.0.take() {
            to.deliver(Err(IsolateError::Closed));
        }
    }
}
