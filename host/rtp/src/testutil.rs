//! A tiny deterministic PRNG for the property-style tests (xorshift32): the
//! same seed gives the same inputs on every run, so a failure reproduces.

pub struct Prng(u32);

impl Prng {
    pub fn new(seed: u32) -> Self {
        Prng(seed.max(1))
    }

    pub fn next_u32(&mut self) -> u32 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.0 = x;
        x
    }

    /// Uniform-enough value in `0..n` (n > 0).
    pub fn below(&mut self, n: u32) -> u32 {
        self.next_u32() % n
    }
}
