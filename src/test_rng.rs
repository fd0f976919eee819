//! A tiny deterministic generator for the native fuzz tests (xorshift64): the same inputs on
//! every run, so a failure reproduces.

/// A generator of pseudo-random `u64`s from `seed` (0 is replaced by 1: xorshift would stay 0).
pub(crate) fn xorshift(seed: u64) -> impl FnMut() -> u64 {
    let mut state = seed.max(1);
    move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    }
}
