//! A tiny deterministic generator (splitmix64): the same seed gives the same tenant on
//! every machine and every release, which a crate's generator does not promise.

/// Deterministic random numbers for one call.
#[derive(Debug, Clone)]
pub(crate) struct CallRandom(u64);

fn splitmix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl CallRandom {
    /// The stream of one call: `seed`, a stream name, and the call's slot.
    pub(crate) fn new(seed: u64, stream: u64, slot: u64) -> Self {
        CallRandom(splitmix(
            seed ^ splitmix(stream.wrapping_add(splitmix(slot))),
        ))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        splitmix(self.0)
    }

    /// Uniform in [0, 1).
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [0, n).
    pub(crate) fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() >> 32) as usize * n) >> 32
    }

    /// Picks by weight.
    pub(crate) fn weighted<'a, T>(&mut self, choices: &'a [(T, u32)]) -> &'a T {
        let total: u32 = choices.iter().map(|(_, weight)| weight).sum();
        let mut pick = self.below(total as usize) as u32;
        for (choice, weight) in choices {
            if pick < *weight {
                return choice;
            }
            pick -= weight;
        }
        &choices[choices.len() - 1].0
    }

    /// Standard normal (Box-Muller).
    pub(crate) fn normal(&mut self) -> f64 {
        let u1 = self.unit().max(1e-12);
        let u2 = self.unit();
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}
