//! Random streams derived from (seed, purpose, ids), and fast samplers.
//!
//! Every random quantity comes from its own stream, keyed by what it is for (connectivity of
//! projection 3, Poisson drive of population 1 in batch sample 17, ...). Streams never depend
//! on thread count or call order elsewhere, so the same seed gives the same network and spikes.
use rand::{Rng, RngCore, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

pub type Stream = Xoshiro256PlusPlus;

/// Purposes of random streams (part of the stream key).
#[derive(Clone, Copy, Debug)]
#[repr(u64)]
pub enum Purpose {
    Connect = 1,
    Weights = 2,
    Delays = 3,
    InitialV = 4,
    Poisson = 5,
    /// Structural plasticity: creation times and partners of new synapses.
    Rewire = 6,
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A stream keyed by `(seed, purpose, a, b)`.
pub fn stream(seed: u64, purpose: Purpose, a: u64, b: u64) -> Stream {
    let mut h = splitmix(seed);
    h = splitmix(h ^ purpose as u64);
    h = splitmix(h ^ a.wrapping_mul(0xD6E8_FEB8_6659_FD93));
    h = splitmix(h ^ b.wrapping_mul(0xA076_1D64_78BD_642F));
    Xoshiro256PlusPlus::seed_from_u64(h)
}

/// Uniform integer in `0..n` (n > 0), Lemire's multiply-shift without bias.
#[inline]
pub fn below(rng: &mut Stream, n: u32) -> u32 {
    rng.gen_range(0..n)
}

/// Uniform float in (0, 1].
#[inline]
pub fn open01(rng: &mut Stream) -> f64 {
    1.0 - rng.gen::<f64>()
}

/// Standard normal deviate (polar Box–Muller without caching, so streams stay simple).
pub fn normal(rng: &mut Stream) -> f64 {
    loop {
        let u = 2.0 * rng.gen::<f64>() - 1.0;
        let v = 2.0 * rng.gen::<f64>() - 1.0;
        let s = u * u + v * v;
        if s > 0.0 && s < 1.0 {
            return u * (-2.0 * s.ln() / s).sqrt();
        }
    }
}

/// Poisson sampler for a fixed mean: inversion of a uniform u32 against the CDF scaled to
/// 2^32, sped up by a guide table (the top bits of the uniform give the first candidate, so
/// a draw is one table read and, almost always, one compare). `rand_distr` for large means.
/// Checkpoints store only the mean: the tables are rebuilt from it, identically.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(from = "f64", into = "f64")]
pub struct PoissonSampler {
    mean: f64,
    /// `thresholds[k]` = P(X <= k) scaled to 2^32 (saturated).
    thresholds: Vec<u32>,
    /// `guide[c]` = the draw for the smallest uniform of cell `c` (cells of 2^20).
    guide: Vec<u8>,
    large: Option<rand_distr::Poisson<f64>>,
}

const GUIDE_BITS: u32 = 12;

impl From<f64> for PoissonSampler {
    fn from(mean: f64) -> Self {
        PoissonSampler::new(mean)
    }
}

impl From<PoissonSampler> for f64 {
    fn from(s: PoissonSampler) -> f64 {
        s.mean
    }
}

impl PoissonSampler {
    pub fn new(mean: f64) -> Self {
        if mean > 12.0 {
            return Self {
                mean,
                thresholds: Vec::new(),
                guide: Vec::new(),
                large: rand_distr::Poisson::new(mean).ok(),
            };
        }
        let scale = 4_294_967_296.0_f64;
        let mut thresholds = Vec::new();
        let mut p = (-mean).exp();
        let mut cdf = 0.0;
        let mut k = 0u32;
        while cdf < 1.0 - 1e-12 && k < 200 {
            cdf += p;
            thresholds.push((cdf.min(1.0) * scale).min(u32::MAX as f64) as u32);
            k += 1;
            p *= mean / k as f64;
        }
        let shift = 32 - GUIDE_BITS;
        let guide = (0..1u64 << GUIDE_BITS)
            .map(|c| {
                let u = (c << shift) as u32;
                thresholds.iter().take_while(|&&t| u >= t).count().min(255) as u8
            })
            .collect();
        Self {
            mean,
            thresholds,
            guide,
            large: None,
        }
    }

    pub fn mean(&self) -> f64 {
        self.mean
    }

    /// One draw.
    #[inline]
    pub fn sample(&self, rng: &mut Stream) -> u32 {
        if let Some(d) = &self.large {
            return rng.sample(d) as u32;
        }
        let u = rng.next_u32();
        let mut k = self.guide[(u >> (32 - GUIDE_BITS)) as usize] as usize;
        while k < self.thresholds.len() && u >= self.thresholds[k] {
            k += 1;
        }
        k as u32
    }
}

/// One Poisson draw for an arbitrary mean (slower; per-source rates).
pub fn poisson(rng: &mut Stream, mean: f64) -> u32 {
    if mean <= 0.0 {
        return 0;
    }
    if mean > 12.0 {
        return rand_distr::Poisson::new(mean)
            .map(|d| rng.sample(d) as u32)
            .unwrap_or(0);
    }
    let u = rng.gen::<f64>();
    let mut p = (-mean).exp();
    let mut cdf = p;
    let mut k = 0u32;
    while u > cdf && k < 400 {
        k += 1;
        p *= mean / k as f64;
        cdf += p;
    }
    k
}

/// Exponential waiting time with the given rate (per ms).
#[inline]
pub fn exponential(rng: &mut Stream, rate: f64) -> f64 {
    -open01(rng).ln() / rate
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poisson_table_mean_and_variance() {
        for &m in &[0.05, 0.5, 2.0, 7.5, 20.0] {
            let s = PoissonSampler::new(m);
            let mut rng = stream(1, Purpose::Poisson, 0, 0);
            let n = 200_000;
            let xs: Vec<f64> = (0..n).map(|_| s.sample(&mut rng) as f64).collect();
            let mean = xs.iter().sum::<f64>() / n as f64;
            let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
            let tol = 5.0 * (m / n as f64).sqrt();
            assert!((mean - m).abs() < tol, "mean {mean} vs {m}");
            assert!((var - m).abs() < 0.05 * m + 10.0 * tol, "var {var} vs {m}");
        }
    }

    #[test]
    fn streams_differ_by_key_and_repeat_by_key() {
        let a: u64 = stream(7, Purpose::Connect, 1, 0).next_u64();
        let b: u64 = stream(7, Purpose::Connect, 2, 0).next_u64();
        let c: u64 = stream(7, Purpose::Connect, 1, 0).next_u64();
        assert_ne!(a, b);
        assert_eq!(a, c);
    }
}
