//! Pausing, seen from inside an isolate: whether its parent holds it paused, and how a receive
//! port waits until it is resumed. Apart from `lifecycle` because ports use it, and `lifecycle`
//! uses ports (`exit` sends on one).

use crate::platform::timer::Timer;
use crate::wire::control;
use std::cell::RefCell;
use std::task::Waker;
use std::time::Duration;

/// Inside an isolate: true while its parent holds it paused ([`Isolate::pause`](crate::isolate::Isolate::pause)).
pub fn is_paused() -> bool {
    control::with_own(|b| b.load(control::PAUSE) != 0).unwrap_or(false)
}

thread_local! {
    static PAUSE_POLL: RefCell<Option<Timer>> = const { RefCell::new(None) };
    static PAUSED_WAKERS: RefCell<Vec<Waker>> = const { RefCell::new(Vec::new()) };
}

/// Called by a receive port's `poll_next`: when this isolate is paused, parks the waker and
/// checks again every 10 ms (resuming needs no message, only the control word).
pub(crate) fn paused_here(waker: &Waker) -> bool {
    if !is_paused() {
        return false;
    }
    PAUSED_WAKERS.with(|w| w.borrow_mut().push(waker.clone()));
    PAUSE_POLL.with(|p| {
        if p.borrow().is_none() {
            *p.borrow_mut() = Some(Timer::start(Duration::from_millis(10), || {
                PAUSE_POLL.with(|p| p.borrow_mut().take());
                for w in PAUSED_WAKERS.with(|w| std::mem::take(&mut *w.borrow_mut())) {
                    w.wake();
                }
            }));
        }
    });
    true
}
