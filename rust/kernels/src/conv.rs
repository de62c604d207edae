//! Event-driven 2-D convolution (one group, no dilation) of sparse inputs.
//!
//! Each input event `(c, iy, ix)` of value `v` adds `v * W[:, c, ky, kx]` to every output
//! position it reaches. Weights are taken as `[C, KH, KW, O]` and outputs are channels-last
//! `[R, HO, WO, O]`, so each addition is a contiguous vector of `O` output channels.

use rayon::prelude::*;

use crate::simd::{axpy, dispatch};
use crate::sparse::CsrRef;
use crate::{check_len, KernelError, Result};

/// The geometry of a convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConvShape {
    /// Input channels.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output channels.
    pub o: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Stride (both axes).
    pub stride: usize,
    /// Zero padding (both axes).
    pub pad: usize,
    /// The input's columns are `(y, x, c)` (channels-last) instead of `(c, y, x)`.
    pub channels_last: bool,
}

impl ConvShape {
    /// Output height.
    pub fn ho(&self) -> usize {
        (self.h + 2 * self.pad).saturating_sub(self.kh) / self.stride + 1
    }

    /// Output width.
    pub fn wo(&self) -> usize {
        (self.w + 2 * self.pad).saturating_sub(self.kw) / self.stride + 1
    }

    fn check(&self, m: &CsrRef<'_>) -> Result<()> {
        if self.stride == 0 || self.kh == 0 || self.kw == 0 {
            return Err(KernelError::Invalid(
                "stride and kernel size must be >= 1".into(),
            ));
        }
        if self.h + 2 * self.pad < self.kh || self.w + 2 * self.pad < self.kw {
            return Err(KernelError::Invalid(
                "kernel larger than the padded input".into(),
            ));
        }
        check_len("input columns", m.cols, self.c * self.h * self.w)
    }

    /// `(c, iy, ix)` of input column `k`.
    #[inline(always)]
    fn decode(&self, k: usize) -> (usize, usize, usize) {
        if self.channels_last {
            let (pix, c) = (k / self.c, k % self.c);
            (c, pix / self.w, pix % self.w)
        } else {
            let (c, rest) = (k / (self.h * self.w), k % (self.h * self.w));
            (c, rest / self.w, rest % self.w)
        }
    }

    /// For input row `i` and kernel row `k`: the output row, if the pair meets one.
    #[inline(always)]
    fn out_index(&self, i: usize, k: usize, size: usize) -> Option<usize> {
        let p = i + self.pad;
        if p < k || (p - k) % self.stride != 0 {
            return None;
        }
        let o = (p - k) / self.stride;
        (o < size).then_some(o)
    }
}

/// `out [R, HO, WO, O] = conv(x, W) (+ bias)` from the events of `x [R, C*H*W]`.
pub fn forward(
    m: &CsrRef<'_>,
    s: &ConvShape,
    w: &[f32],
    bias: Option<&[f32]>,
    out: &mut [f32],
) -> Result<()> {
    s.check(m)?;
    let (ho, wo) = (s.ho(), s.wo());
    check_len("weight", w.len(), s.c * s.kh * s.kw * s.o)?;
    check_len("out", out.len(), m.rows * ho * wo * s.o)?;
    if let Some(b) = bias {
        check_len("bias", b.len(), s.o)?;
    }
    let per = ho * wo * s.o;
    if per == 0 {
        return Ok(());
    }
    if s.stride == 1 {
        let wf = flip_kx(s, w);
        out.par_chunks_mut(per).enumerate().for_each(|(r, orow)| {
            forward_row_s1(m, s, &wf, bias, r, orow);
        });
    } else {
        out.par_chunks_mut(per).enumerate().for_each(|(r, orow)| {
            forward_row(m, s, w, bias, r, orow);
        });
    }
    Ok(())
}

/// `[C, KH, KW, O]` weights with the `KW` axis reversed (an involution).
fn flip_kx(s: &ConvShape, w: &[f32]) -> Vec<f32> {
    let o = s.o;
    let mut f = vec![0.0; w.len()];
    for c in 0..s.c {
        for ky in 0..s.kh {
            for kx in 0..s.kw {
                let src = ((c * s.kh + ky) * s.kw + kx) * o;
                let dst = ((c * s.kh + ky) * s.kw + (s.kw - 1 - kx)) * o;
                f[dst..dst + o].copy_from_slice(&w[src..src + o]);
            }
        }
    }
    f
}

/// For stride 1: the range of flipped kernel columns `kx'` an input column `ix` reaches, and
/// the output column of the first: `ox = ix + pad + 1 - kw + kx'`.
#[inline(always)]
fn reach(i: usize, pad: usize, k: usize, size: usize) -> Option<(usize, usize, usize)> {
    // kx' = k - 1 - kx with 0 <= ix + pad - kx < size
    let p = i + pad; // ox = p - kx
    let kx_max = p.min(k - 1); // ox >= 0
    let kx_min = (p + 1).saturating_sub(size);
    if kx_min > kx_max {
        return None;
    }
    let f0 = k - 1 - kx_max;
    let f1 = k - 1 - kx_min;
    Some((f0, f1 - f0 + 1, p - kx_max))
}

dispatch! {
    fn forward_row_s1(m: &CsrRef<'_>, s: &ConvShape, wf: &[f32], bias: Option<&[f32]>, r: usize, orow: &mut [f32]) {
        let (ho, wo, o) = (s.ho(), s.wo(), s.o);
        match bias {
            Some(b) => orow.chunks_mut(o).for_each(|px| px.copy_from_slice(b)),
            None => orow.fill(0.0),
        }
        let (a, b) = (m.indptr[r] as usize, m.indptr[r + 1] as usize);
        for e in a..b {
            let k = m.indices[e] as usize;
            let v = m.values[e];
            let (c, iy, ix) = s.decode(k);
            let Some((f0, nx, ox0)) = reach(ix, s.pad, s.kw, wo) else { continue };
            let len = nx * o;
            for ky in 0..s.kh {
                let Some(oy) = s.out_index(iy, ky, ho) else { continue };
                let wi = ((c * s.kh + ky) * s.kw + f0) * o;
                let oi = (oy * wo + ox0) * o;
                axpy(&mut orow[oi..oi + len], v, &wf[wi..wi + len]);
            }
        }
    }
}

dispatch! {
    fn forward_row(m: &CsrRef<'_>, s: &ConvShape, w: &[f32], bias: Option<&[f32]>, r: usize, orow: &mut [f32]) {
        let (ho, wo, o) = (s.ho(), s.wo(), s.o);
        match bias {
            Some(b) => orow.chunks_mut(o).for_each(|px| px.copy_from_slice(b)),
            None => orow.fill(0.0),
        }
        let (a, b) = (m.indptr[r] as usize, m.indptr[r + 1] as usize);
        for e in a..b {
            let k = m.indices[e] as usize;
            let v = m.values[e];
            let (c, iy, ix) = s.decode(k);
            for ky in 0..s.kh {
                let Some(oy) = s.out_index(iy, ky, ho) else { continue };
                for kx in 0..s.kw {
                    let Some(ox) = s.out_index(ix, kx, wo) else { continue };
                    let wi = ((c * s.kh + ky) * s.kw + kx) * o;
                    let oi = (oy * wo + ox) * o;
                    axpy(&mut orow[oi..oi + o], v, &w[wi..wi + o]);
                }
            }
        }
    }
}

/// Weight gradient `gw [C, KH, KW, O]` from the events of `x` and `g [R, HO, WO, O]`.
pub fn weight_grad(m: &CsrRef<'_>, s: &ConvShape, g: &[f32], gw: &mut [f32]) -> Result<()> {
    s.check(m)?;
    let (ho, wo) = (s.ho(), s.wo());
    check_len("grad", g.len(), m.rows * ho * wo * s.o)?;
    let wlen = s.c * s.kh * s.kw * s.o;
    check_len("grad_weight", gw.len(), wlen)?;
    let threads = rayon::current_num_threads().max(1);
    let rows_per = m.rows.div_ceil(threads * 2).max(1);
    let s1 = s.stride == 1;
    let total = (0..m.rows.div_ceil(rows_per))
        .into_par_iter()
        .map(|blk| {
            let mut acc = vec![0.0f32; wlen];
            let r0 = blk * rows_per;
            let r1 = (r0 + rows_per).min(m.rows);
            if s1 {
                wgrad_rows_s1(m, s, g, r0, r1, &mut acc);
            } else {
                wgrad_rows(m, s, g, r0, r1, &mut acc);
            }
            acc
        })
        .reduce(
            || vec![0.0f32; wlen],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                a
            },
        );
    if s1 {
        gw.copy_from_slice(&flip_kx(s, &total));
    } else {
        gw.copy_from_slice(&total);
    }
    Ok(())
}

dispatch! {
    fn wgrad_rows_s1(m: &CsrRef<'_>, s: &ConvShape, g: &[f32], r0: usize, r1: usize, acc: &mut [f32]) {
        let (ho, wo, o) = (s.ho(), s.wo(), s.o);
        let per = ho * wo * o;
        for r in r0..r1 {
            let grow = &g[r * per..(r + 1) * per];
            let (a, b) = (m.indptr[r] as usize, m.indptr[r + 1] as usize);
            for e in a..b {
                let k = m.indices[e] as usize;
                let v = m.values[e];
                let (c, iy, ix) = s.decode(k);
                let Some((f0, nx, ox0)) = reach(ix, s.pad, s.kw, wo) else { continue };
                let len = nx * o;
                for ky in 0..s.kh {
                    let Some(oy) = s.out_index(iy, ky, ho) else { continue };
                    let wi = ((c * s.kh + ky) * s.kw + f0) * o;
                    let oi = (oy * wo + ox0) * o;
                    axpy(&mut acc[wi..wi + len], v, &grow[oi..oi + len]);
                }
            }
        }
    }
}

dispatch! {
    fn wgrad_rows(m: &CsrRef<'_>, s: &ConvShape, g: &[f32], r0: usize, r1: usize, acc: &mut [f32]) {
        let (ho, wo, o) = (s.ho(), s.wo(), s.o);
        let per = ho * wo * o;
        for r in r0..r1 {
            let grow = &g[r * per..(r + 1) * per];
            let (a, b) = (m.indptr[r] as usize, m.indptr[r + 1] as usize);
            for e in a..b {
                let k = m.indices[e] as usize;
                let v = m.values[e];
                let (c, iy, ix) = s.decode(k);
                for ky in 0..s.kh {
                    let Some(oy) = s.out_index(iy, ky, ho) else { continue };
                    for kx in 0..s.kw {
                        let Some(ox) = s.out_index(ix, kx, wo) else { continue };
                        let wi = ((c * s.kh + ky) * s.kw + kx) * o;
                        let oi = (oy * wo + ox) * o;
                        axpy(&mut acc[wi..wi + o], v, &grow[oi..oi + o]);
                    }
                }
            }
        }
    }
}
