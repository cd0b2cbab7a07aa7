//! A small seeded generator: xoshiro256** (Blackman & Vigna), seeded through SplitMix64.
//! Written out here so that a seed gives the same trace on every machine and every version
//! of every dependency.

/// SplitMix64: one step. Used to spread a seed over xoshiro's state and to derive
/// independent sub-seeds.
#[must_use]
pub fn splitmix64(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// xoshiro256**.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rng {
    s: [u64; 4],
}

impl Rng {
    #[must_use]
    pub fn new(seed: u64) -> Rng {
        let mut sm = seed;
        let s = [
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
            splitmix64(&mut sm),
        ];
        Rng { s }
    }

    /// A generator for a named purpose, independent of the others drawn from `seed`.
    #[must_use]
    pub fn derived(seed: u64, stream: u64) -> Rng {
        let mut sm = seed ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03);
        Rng::new(splitmix64(&mut sm))
    }

    pub fn next_u64(&mut self) -> u64 {
        let result = self.s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = self.s[1] << 17;
        self.s[2] ^= self.s[0];
        self.s[3] ^= self.s[1];
        self.s[1] ^= self.s[2];
        self.s[0] ^= self.s[3];
        self.s[2] ^= t;
        self.s[3] = self.s[3].rotate_left(45);
        result
    }

    /// Uniform in `[0, 1)`, 53 bits.
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Uniform in `(0, 1]`: safe under a logarithm.
    pub fn f64_open0(&mut self) -> f64 {
        1.0 - self.f64()
    }

    /// Uniform in `[lo, hi)`.
    pub fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.f64()
    }

    /// Uniform integer in `[0, n)` (`n > 0`), by multiply-shift (bias below 2^-64·n).
    pub fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// Exponential with mean `mean`.
    pub fn exp(&mut self, mean: f64) -> f64 {
        -mean * self.f64_open0().ln()
    }

    /// Standard normal (Box–Muller, one value per call).
    pub fn normal(&mut self) -> f64 {
        let r = (-2.0 * self.f64_open0().ln()).sqrt();
        r * (std::f64::consts::TAU * self.f64()).cos()
    }

    /// Lognormal with the given mean and log-scale standard deviation `sigma`.
    pub fn lognormal(&mut self, mean: f64, sigma: f64) -> f64 {
        let mu = mean.ln() - sigma * sigma / 2.0;
        (mu + sigma * self.normal()).exp()
    }

    /// Weibull with `scale` and `shape`.
    pub fn weibull(&mut self, scale: f64, shape: f64) -> f64 {
        scale * (-self.f64_open0().ln()).powf(1.0 / shape)
    }

    /// An index drawn with probability proportional to `weights` (cumulative sums, last =
    /// total). `None` when the total is not positive.
    pub fn pick_cumulative(&mut self, cumulative: &[f64]) -> Option<usize> {
        let total = *cumulative.last()?;
        if total.is_nan() || total <= 0.0 {
            return None;
        }
        let x = self.f64() * total;
        Some(
            cumulative
                .partition_point(|&c| c <= x)
                .min(cumulative.len() - 1),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xoshiro_reference_output() {
        // xoshiro256** with state [1, 2, 3, 4] (the reference implementation's first outputs).
        let mut r = Rng { s: [1, 2, 3, 4] };
        let got: Vec<u64> = (0..3).map(|_| r.next_u64()).collect();
        assert_eq!(got, [11_520, 0, 1_509_978_240]);
    }

    #[test]
    fn same_seed_same_stream_and_sane_moments() {
        let mut a = Rng::new(42);
        let mut b = Rng::new(42);
        for _ in 0..100 {
            assert_eq!(a.next_u64(), b.next_u64());
        }
        assert_ne!(
            Rng::derived(42, 1).next_u64(),
            Rng::derived(42, 2).next_u64()
        );
        let mut r = Rng::new(7);
        let n = 200_000;
        let mean = |f: &mut dyn FnMut() -> f64| (0..n).map(|_| f()).sum::<f64>() / f64::from(n);
        assert!((mean(&mut || r.exp(10.0)) - 10.0).abs() < 0.1);
        assert!((mean(&mut || r.lognormal(200.0, 0.6)) - 200.0).abs() < 2.0);
        assert!(mean(&mut || r.normal()).abs() < 0.01);
        // Weibull(scale, shape 1) is exponential.
        assert!((mean(&mut || r.weibull(5.0, 1.0)) - 5.0).abs() < 0.05);
        let c = [1.0, 1.0, 4.0];
        let hits = (0..n).filter(|_| r.pick_cumulative(&c) == Some(2)).count();
        assert!((hits as f64 / f64::from(n) - 0.75).abs() < 0.01);
        assert_eq!(r.pick_cumulative(&[0.0]), None);
        assert!((0..1000).all(|_| r.below(7) < 7));
    }
}
