//! Average pooling with window = stride (no padding) over `[R, C, H, W]` images stored
//! channels-first (NCHW) or channels-last (NHWC); the backward spreads each output gradient
//! evenly over its window. Rows and columns left over when `H` or `W` is not a multiple of
//! the window are ignored, as in torch.

use rayon::prelude::*;

use crate::{check_len, KernelError, Result};

/// The geometry of a pooling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolShape {
    /// Images.
    pub r: usize,
    /// Channels.
    pub c: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Window size (and stride).
    pub k: usize,
    /// Memory layout: channels-last (`true`) or channels-first.
    pub channels_last: bool,
}

impl PoolShape {
    fn check(&self) -> Result<(usize, usize)> {
        if self.k == 0 || self.k > self.h || self.k > self.w {
            return Err(KernelError::Invalid(format!(
                "pooling window {} does not fit a {}x{} image",
                self.k, self.h, self.w
            )));
        }
        Ok((self.h / self.k, self.w / self.k))
    }
}

/// `out = avg_pool(x)`; both in the layout of `s`.
pub fn forward(s: &PoolShape, x: &[f32], out: &mut [f32]) -> Result<()> {
    let (ho, wo) = s.check()?;
    check_len("x", x.len(), s.r * s.c * s.h * s.w)?;
    check_len("out", out.len(), s.r * s.c * ho * wo)?;
    let (k, c, h, w) = (s.k, s.c, s.h, s.w);
    let scale = 1.0 / (k * k) as f32;
    if out.is_empty() {
        return Ok(());
    }
    if s.channels_last {
        out.par_chunks_mut(wo * c)
            .enumerate()
            .for_each(|(ro, orow)| {
                let (r, oy) = (ro / ho, ro % ho);
                orow.fill(0.0);
                for dy in 0..k {
                    let iy = oy * k + dy;
                    let irow = &x[((r * h + iy) * w) * c..((r * h + iy) * w + w) * c];
                    for ox in 0..wo {
                        let o = &mut orow[ox * c..(ox + 1) * c];
                        for dx in 0..k {
                            let i = &irow[(ox * k + dx) * c..(ox * k + dx + 1) * c];
                            o.iter_mut().zip(i).for_each(|(a, b)| *a += b);
                        }
                    }
                }
                orow.iter_mut().for_each(|a| *a *= scale);
            });
    } else {
        out.par_chunks_mut(ho * wo)
            .enumerate()
            .for_each(|(plane, o)| {
                let xin = &x[plane * h * w..(plane + 1) * h * w];
                for oy in 0..ho {
                    for ox in 0..wo {
                        let mut acc = 0.0;
                        for dy in 0..k {
                            let row =
                                &xin[(oy * k + dy) * w + ox * k..(oy * k + dy) * w + ox * k + k];
                            acc += row.iter().sum::<f32>();
                        }
                        o[oy * wo + ox] = acc * scale;
                    }
                }
            });
    }
    Ok(())
}

/// `gx` from `g = dL/d out`: each input of a window gets `g / k^2` (leftover rows/columns 0).
pub fn backward(s: &PoolShape, g: &[f32], gx: &mut [f32]) -> Result<()> {
    let (ho, wo) = s.check()?;
    check_len("grad", g.len(), s.r * s.c * ho * wo)?;
    check_len("grad_input", gx.len(), s.r * s.c * s.h * s.w)?;
    let (k, c, h, w) = (s.k, s.c, s.h, s.w);
    let scale = 1.0 / (k * k) as f32;
    if gx.is_empty() {
        return Ok(());
    }
    if s.channels_last {
        gx.par_chunks_mut(w * c).enumerate().for_each(|(ri, grow)| {
            let (r, iy) = (ri / h, ri % h);
            let oy = iy / k;
            if oy >= ho {
                grow.fill(0.0);
                return;
            }
            let gsrc = &g[((r * ho + oy) * wo) * c..((r * ho + oy) * wo + wo) * c];
            for ix in 0..w {
                let dst = &mut grow[ix * c..(ix + 1) * c];
                let ox = ix / k;
                if ox >= wo {
                    dst.fill(0.0);
                } else {
                    let src = &gsrc[ox * c..(ox + 1) * c];
                    dst.iter_mut().zip(src).for_each(|(d, s)| *d = s * scale);
                }
            }
        });
    } else {
        gx.par_chunks_mut(h * w)
            .enumerate()
            .for_each(|(plane, gi)| {
                let go = &g[plane * ho * wo..(plane + 1) * ho * wo];
                for iy in 0..h {
                    let oy = iy / k;
                    for ix in 0..w {
                        let ox = ix / k;
                        gi[iy * w + ix] = if oy < ho && ox < wo {
                            go[oy * wo + ox] * scale
                        } else {
                            0.0
                        };
                    }
                }
            });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layouts_agree() {
        let (r, c, h, w, k) = (2, 3, 5, 4, 2);
        let nchw: Vec<f32> = (0..r * c * h * w).map(|i| (i % 7) as f32).collect();
        let mut nhwc = vec![0.0; nchw.len()];
        for ri in 0..r {
            for ci in 0..c {
                for y in 0..h {
                    for x in 0..w {
                        nhwc[((ri * h + y) * w + x) * c + ci] =
                            nchw[((ri * c + ci) * h + y) * w + x];
                    }
                }
            }
        }
        let (ho, wo) = (h / k, w / k);
        let mut a = vec![0.0; r * c * ho * wo];
        let mut b = vec![0.0; r * c * ho * wo];
        let s1 = PoolShape {
            r,
            c,
            h,
            w,
            k,
            channels_last: false,
        };
        let s2 = PoolShape {
            channels_last: true,
            ..s1
        };
        forward(&s1, &nchw, &mut a).unwrap();
        forward(&s2, &nhwc, &mut b).unwrap();
        for ri in 0..r {
            for ci in 0..c {
                for y in 0..ho {
                    for x in 0..wo {
                        let p = a[((ri * c + ci) * ho + y) * wo + x];
                        let q = b[((ri * ho + y) * wo + x) * c + ci];
                        assert_eq!(p, q);
                        let want = (nchw[((ri * c + ci) * h + 2 * y) * w + 2 * x]
                            + nchw[((ri * c + ci) * h + 2 * y) * w + 2 * x + 1]
                            + nchw[((ri * c + ci) * h + 2 * y + 1) * w + 2 * x]
                            + nchw[((ri * c + ci) * h + 2 * y + 1) * w + 2 * x + 1])
                            / 4.0;
                        assert!((p - want).abs() < 1e-6);
                    }
                }
            }
        }
        let mut g1 = vec![1.0; nchw.len()];
        backward(&s1, &a, &mut g1).unwrap();
        assert_eq!(g1[4 * w], 0.0); // row 4 is left over
        assert_eq!(g1[0], a[0] / 4.0);
    }
}
