//! A seeded xorshift64* generator: "random" choices in tests and scenarios
//! (kill moments, records, delays) that replay from their seed.

/// A small seeded generator; not for anything secret.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        // Zero is xorshift's one fixed point.
        Rng(seed.max(1))
    }

    /// A seed from `CONCORD_TEST_SEED`, else `default`; printed so that a
    /// failing run can be replayed.
    pub fn from_env(default: u64) -> Rng {
        let seed = std::env::var("CONCORD_TEST_SEED")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(default);
        eprintln!("seed {seed} (replay with CONCORD_TEST_SEED={seed})");
        Rng::new(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform enough in `low..high`; panics on an empty range.
    pub fn range(&mut self, low: u64, high: u64) -> u64 {
        assert!(high > low, "empty range {low}..{high}");
        low + self.next_u64() % (high - low)
    }

    /// An index into a slice of `len` elements.
    pub fn index(&mut self, len: usize) -> usize {
        let len = u64::try_from(len).expect("a length fits u64");
        usize::try_from(self.range(0, len)).expect("below a usize length")
    }
}
