//! A LIF population over all `T` grid steps: forward spikes and the surrogate-gradient backward.
//!
//! Buffers are flat `[T, N]` (time-major). Per step and neuron:
//! `h = beta * v + x + bias`, `z = (h >= v_th)`, then the reset — `v = h - z (v_th - v_reset)`
//! (subtract) or `v = h (1 - z) + z v_reset` (value). The forward saves `h` for the backward.
//! Parameters are one value (len 1) or one per feature (len `F`, neuron `n` has feature `n % F`).

use rayon::prelude::*;

use crate::par::SyncPtr;
use crate::simd::dispatch;
use crate::{check_len, KernelError, Result};

/// Surrogate derivative of the Heaviside step, evaluated at `x = h - v_th`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Surrogate {
    /// `1 / (1 + alpha |x|)^2`.
    FastSigmoid(f32),
    /// `alpha / 2 / (1 + (pi/2 alpha x)^2)`.
    Arctan(f32),
    /// `max(0, 1 - alpha |x|) alpha`.
    Triangle(f32),
    /// `1` where `|x| <= 1 / (2 alpha)` (everywhere when `alpha == 0`), else `0`.
    StraightThrough(f32),
}

impl Surrogate {
    /// The surrogate with code `code` (0 fast sigmoid, 1 arctan, 2 triangle, 3 straight-through).
    pub fn from_code(code: u32, alpha: f32) -> Result<Self> {
        Ok(match code {
            0 => Surrogate::FastSigmoid(alpha),
            1 => Surrogate::Arctan(alpha),
            2 => Surrogate::Triangle(alpha),
            3 => Surrogate::StraightThrough(alpha),
            _ => {
                return Err(KernelError::Invalid(format!(
                    "unknown surrogate code {code}"
                )))
            }
        })
    }

    /// The derivative at `x`.
    #[inline(always)]
    pub fn derivative(self, x: f32) -> f32 {
        match self {
            Surrogate::FastSigmoid(a) => {
                let d = 1.0 + a * x.abs();
                1.0 / (d * d)
            }
            Surrogate::Arctan(a) => {
                let u = std::f32::consts::FRAC_PI_2 * a * x;
                (a / 2.0) / (1.0 + u * u)
            }
            Surrogate::Triangle(a) => (1.0 - a * x.abs()).max(0.0) * a,
            Surrogate::StraightThrough(a) => {
                if a == 0.0 || x.abs() <= 0.5 / a {
                    1.0
                } else {
                    0.0
                }
            }
        }
    }
}

/// The parameters of the population (each slice of length 1 or `F`).
#[derive(Clone, Copy, Debug)]
pub struct LifParams<'a> {
    /// Leak per step.
    pub beta: &'a [f32],
    /// Threshold (relative to rest).
    pub v_th: &'a [f32],
    /// Reset value (relative to rest).
    pub v_reset: &'a [f32],
    /// Constant drive per step.
    pub bias: &'a [f32],
    /// Reset by subtraction (`true`) or to `v_reset` (`false`).
    pub subtract: bool,
}

impl LifParams<'_> {
    /// The number of features `F` (1 when every parameter is a single value).
    fn features(&self, n: usize) -> Result<usize> {
        let f = [self.beta, self.v_th, self.v_reset, self.bias]
            .iter()
            .map(|s| s.len())
            .max()
            .unwrap_or(1);
        for (name, s) in [
            ("beta", self.beta),
            ("v_th", self.v_th),
            ("v_reset", self.v_reset),
            ("bias", self.bias),
        ] {
            if s.len() != 1 && s.len() != f {
                return Err(KernelError::Invalid(format!(
                    "{name} has {} values; expected 1 or {f}",
                    s.len()
                )));
            }
        }
        if f == 0 || n % f != 0 {
            return Err(KernelError::Invalid(format!(
                "{n} neurons are not a whole number of {f}-feature groups"
            )));
        }
        Ok(f)
    }
}

#[inline(always)]
fn at(s: &[f32], f: usize) -> f32 {
    if s.len() == 1 {
        s[0]
    } else {
        s[f]
    }
}

/// Chunk of neurons per task: a multiple of `f` when `f` is small, so features line up.
fn chunk_len(n: usize) -> usize {
    let threads = rayon::current_num_threads().max(1);
    let per = n.div_ceil(threads * 4).max(1024);
    per.min(n.max(1))
}

/// Membrane right after the (possible) spike `s` of pre-reset membrane `hh`.
#[inline(always)]
fn after_reset(subtract: bool, hh: f32, s: f32, th: f32, vr: f32) -> f32 {
    if subtract {
        hh - s * (th - vr)
    } else {
        hh * (1.0 - s) + s * vr
    }
}

/// Gradient reaching the pre-reset membrane `hh` from the next step's membrane gradient `g`,
/// the spike gradient `gz` and the surrogate derivative `d` (`keep` = 0 detaches the reset).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn reset_grad(
    subtract: bool,
    hh: f32,
    th: f32,
    vr: f32,
    g: f32,
    gz: f32,
    d: f32,
    keep: f32,
) -> f32 {
    if subtract {
        g + (gz + keep * g * (vr - th)) * d
    } else {
        let s = if hh >= th { 1.0 } else { 0.0 };
        g * (1.0 - s) + (gz + keep * g * (vr - hh)) * d
    }
}

dispatch! {
    fn fwd_chunk(
        x: &[f32], z: SyncPtr<f32>, h: SyncPtr<f32>, v: &mut [f32], n: usize, t_steps: usize,
        n0: usize, p: &LifParams<'_>, f: usize,
    ) {
        let len = v.len();
        for t in 0..t_steps {
            let base = t * n + n0;
            let xs = &x[base..base + len];
            // SAFETY: this task alone owns neurons [n0, n0 + len) of every step.
            let (zs, hs) = unsafe { (z.slice(base, len), h.slice(base, len)) };
            if f == 1 {
                let (b, th, vr, bias) = (p.beta[0], p.v_th[0], p.v_reset[0], p.bias[0]);
                for i in 0..len {
                    let hh = b * v[i] + xs[i] + bias;
                    let s = if hh >= th { 1.0 } else { 0.0 };
                    hs[i] = hh;
                    zs[i] = s;
                    v[i] = after_reset(p.subtract, hh, s, th, vr);
                }
            } else {
                let mut fi = n0 % f;
                for i in 0..len {
                    let hh = at(p.beta, fi) * v[i] + xs[i] + at(p.bias, fi);
                    let th = at(p.v_th, fi);
                    let vr = at(p.v_reset, fi);
                    let s = if hh >= th { 1.0 } else { 0.0 };
                    hs[i] = hh;
                    zs[i] = s;
                    v[i] = after_reset(p.subtract, hh, s, th, vr);
                    fi += 1;
                    if fi == f {
                        fi = 0;
                    }
                }
            }
        }
    }
}

/// Forward over `t_steps` steps of `n = v.len()` neurons.
///
/// `x`: inputs `[T, N]`; `v`: the initial membrane on entry, the final one on return;
/// `z`: spikes out `[T, N]`; `h`: the pre-reset membrane out `[T, N]` (for [`backward`]).
pub fn forward(
    x: &[f32],
    t_steps: usize,
    p: &LifParams<'_>,
    v: &mut [f32],
    z: &mut [f32],
    h: &mut [f32],
) -> Result<()> {
    let n = v.len();
    check_len("x", x.len(), t_steps * n)?;
    check_len("z", z.len(), t_steps * n)?;
    check_len("h", h.len(), t_steps * n)?;
    let f = p.features(n)?;
    let (zp, hp) = (SyncPtr::new(z), SyncPtr::new(h));
    let chunk = chunk_len(n);
    v.par_chunks_mut(chunk).enumerate().for_each(|(c, vc)| {
        fwd_chunk(x, zp, hp, vc, n, t_steps, c * chunk, p, f);
    });
    Ok(())
}

#[inline(always)]
fn bwd_steps<S: Fn(f32) -> f32>(
    gz: &[f32],
    h: &[f32],
    gx: SyncPtr<f32>,
    gv: &mut [f32],
    n: usize,
    t_steps: usize,
    n0: usize,
    p: &LifParams<'_>,
    f: usize,
    sg: S,
    detach_reset: bool,
) {
    let len = gv.len();
    let keep = if detach_reset { 0.0 } else { 1.0 };
    for t in (0..t_steps).rev() {
        let base = t * n + n0;
        let (gzs, hs) = (&gz[base..base + len], &h[base..base + len]);
        // SAFETY: this task alone owns neurons [n0, n0 + len) of every step.
        let gxs = unsafe { gx.slice(base, len) };
        if f == 1 {
            let (b, th, vr) = (p.beta[0], p.v_th[0], p.v_reset[0]);
            for i in 0..len {
                let hh = hs[i];
                let d = sg(hh - th);
                let g = gv[i];
                let gh = reset_grad(p.subtract, hh, th, vr, g, gzs[i], d, keep);
                gxs[i] = gh;
                gv[i] = gh * b;
            }
        } else {
            let mut fi = n0 % f;
            for i in 0..len {
                let (b, th, vr) = (at(p.beta, fi), at(p.v_th, fi), at(p.v_reset, fi));
                let hh = hs[i];
                let d = sg(hh - th);
                let g = gv[i];
                let gh = reset_grad(p.subtract, hh, th, vr, g, gzs[i], d, keep);
                gxs[i] = gh;
                gv[i] = gh * b;
                fi += 1;
                if fi == f {
                    fi = 0;
                }
            }
        }
    }
}

dispatch! {
    fn bwd_chunk(
        gz: &[f32], h: &[f32], gx: SyncPtr<f32>, gv: &mut [f32], n: usize, t_steps: usize,
        n0: usize, p: &LifParams<'_>, f: usize, sg: Surrogate, detach_reset: bool,
    ) {
        match sg {
            Surrogate::FastSigmoid(a) => bwd_steps(gz, h, gx, gv, n, t_steps, n0, p, f, |x: f32| {
                let d = 1.0 + a * x.abs();
                1.0 / (d * d)
            }, detach_reset),
            Surrogate::Arctan(a) => bwd_steps(gz, h, gx, gv, n, t_steps, n0, p, f, |x: f32| {
                let u = std::f32::consts::FRAC_PI_2 * a * x;
                (a / 2.0) / (1.0 + u * u)
            }, detach_reset),
            Surrogate::Triangle(a) => bwd_steps(gz, h, gx, gv, n, t_steps, n0, p, f, |x: f32| {
                (1.0 - a * x.abs()).max(0.0) * a
            }, detach_reset),
            Surrogate::StraightThrough(_) => {
                bwd_steps(gz, h, gx, gv, n, t_steps, n0, p, f, |x: f32| sg.derivative(x), detach_reset)
            }
        }
    }
}

/// Backward of [`forward`]: from `gz = dL/dz` `[T, N]` and `gv` = dL/d(final membrane) on
/// entry, writes `gx = dL/dx` `[T, N]` and leaves dL/d(initial membrane) in `gv`.
pub fn backward(
    gz: &[f32],
    h: &[f32],
    t_steps: usize,
    p: &LifParams<'_>,
    sg: Surrogate,
    detach_reset: bool,
    gv: &mut [f32],
    gx: &mut [f32],
) -> Result<()> {
    let n = gv.len();
    check_len("gz", gz.len(), t_steps * n)?;
    check_len("h", h.len(), t_steps * n)?;
    check_len("gx", gx.len(), t_steps * n)?;
    let f = p.features(n)?;
    let gxp = SyncPtr::new(gx);
    let chunk = chunk_len(n);
    gv.par_chunks_mut(chunk).enumerate().for_each(|(c, gc)| {
        bwd_chunk(
            gz,
            h,
            gxp,
            gc,
            n,
            t_steps,
            c * chunk,
            p,
            f,
            sg,
            detach_reset,
        );
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtract_reset_keeps_residue() {
        let p = LifParams {
            beta: &[1.0],
            v_th: &[1.0],
            v_reset: &[0.0],
            bias: &[0.0],
            subtract: true,
        };
        let x = [0.6, 0.6, 0.6, 0.0];
        let (mut v, mut z, mut h) = ([0.0], [0.0; 4], [0.0; 4]);
        forward(&x, 4, &p, &mut v, &mut z, &mut h).unwrap();
        assert_eq!(z, [0.0, 1.0, 0.0, 0.0]);
        assert!((v[0] - 0.8).abs() < 1e-6);
    }

    #[test]
    fn wrong_lengths_are_errors() {
        let p = LifParams {
            beta: &[1.0, 2.0],
            v_th: &[1.0],
            v_reset: &[0.0],
            bias: &[0.0],
            subtract: true,
        };
        let (mut v, mut z, mut h) = ([0.0; 3], [0.0; 3], [0.0; 3]);
        assert!(forward(&[0.0; 3], 1, &p, &mut v, &mut z, &mut h).is_err());
        assert!(forward(&[0.0; 2], 1, &p, &mut v, &mut z, &mut h).is_err());
    }
}
