//! Synthetic JSON datasets for the demo and benchmarks, generated in an isolate with a fixed seed.

use crate::wire::transfer::TransferBuffer;
use std::fmt::Write;

/// A small, fast, seedable PRNG (xorshift64*): the same seed gives the same dataset everywhere.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

const STATUSES: [&str; 3] = ["moving", "idle", "delivering"];
const WORDS: [&str; 8] = [
    "fresh", "bulk", "eco", "spare", "mini", "pro", "basic", "large",
];

/// JSON text of about `megabytes` MB: an array of `"points"` (courier tracking records) or
/// `"products"` (nested records).
pub(crate) fn generate(args: (String, f64, u64)) -> Result<TransferBuffer<u8>, String> {
    let (kind, megabytes, seed) = args;
    if !(0.0..=1024.0).contains(&megabytes) {
        return Err(format!("dataset size {megabytes} MB is outside 0..=1024"));
    }
    let target = (megabytes * 1024.0 * 1024.0) as usize;
    let mut rng = Rng(seed.max(1));
    let mut out = String::with_capacity(target + 512);
    out.push('[');
    let mut id = 0u64;
    while out.len() < target || id == 0 {
        if id > 0 {
            out.push(',');
        }
        // Writing to a String cannot fail.
        let _ = match kind.as_str() {
            "points" => write!(
                out,
                r#"{{"id":{id},"courier":"c-{}","lat":{:.6},"lon":{:.6},"speed":{:.2},"ts":{},"status":"{}"}}"#,
                rng.below(500),
                48.0 + rng.unit() * 4.0,
                2.0 + rng.unit() * 6.0,
                rng.unit() * 90.0,
                1_700_000_000_000u64 + id * 1000,
                STATUSES[rng.below(3) as usize],
            ),
            "products" => write!(
                out,
                r#"{{"id":{id},"name":"{} {} {id}","price":{:.2},"tags":["{}","{}"],"dimensions":{{"w":{:.1},"h":{:.1},"d":{:.1}}},"stock":[{{"warehouse":"w-{}","qty":{}}},{{"warehouse":"w-{}","qty":{}}}]}}"#,
                WORDS[rng.below(8) as usize],
                WORDS[rng.below(8) as usize],
                rng.unit() * 500.0,
                WORDS[rng.below(8) as usize],
                WORDS[rng.below(8) as usize],
                rng.unit() * 100.0,
                rng.unit() * 100.0,
                rng.unit() * 100.0,
                rng.below(20),
                rng.below(1000),
                rng.below(20),
                rng.below(1000),
            ),
            other => {
                return Err(format!(
                    "unknown dataset kind `{other}` (points or products)"
                ))
            }
        };
        id += 1;
    }
    out.push(']');
    Ok(TransferBuffer::from_slice(out.as_bytes()))
}
