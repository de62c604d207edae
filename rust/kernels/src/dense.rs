//! Small dense helpers the event-driven layers need around their kernels: a transpose and
//! column sums, parallel over rayon and writing into cached buffers (no page faults, no
//! OpenMP barriers on a busy machine).

use rayon::prelude::*;

use crate::par::SyncPtr;
use crate::simd::{dispatch, gather_sum};
use crate::{check_len, Result};

const TILE: usize = 32;

/// `out [cols, rows] = x [rows, cols]^T`.
///
/// Parallel over blocks of output rows, each written by [`transpose_block`].
pub fn transpose(x: &[f32], rows: usize, cols: usize, out: &mut [f32]) -> Result<()> {
    check_len("x", x.len(), rows * cols)?;
    check_len("out", out.len(), rows * cols)?;
    let ptr = SyncPtr::new(out);
    (0..cols.div_ceil(TILE)).into_par_iter().for_each(|cb| {
        let c0 = cb * TILE;
        let c1 = (c0 + TILE).min(cols);
        // SAFETY: output rows [c0, c1), i.e. out[c0 * rows .. c1 * rows], lie in `out` and
        // belong to this task alone.
        unsafe { transpose_block(&x[c0..], cols, rows, c1 - c0, ptr.at(c0 * rows), rows) };
    });
    Ok(())
}

/// Write the `h x w` block `src[i * sstride + j]` (`i < h`, `j < w`) transposed:
/// `dst[j * dstride + i] = src[i * sstride + j]`.
///
/// Full 8x8 tiles go through AVX2 registers where the CPU has AVX2 (eight row loads, a
/// register transpose, eight row stores); the edges element by element.
///
/// # Safety
/// `dst.add(j * dstride + i)` must be valid for writes for every `i < h`, `j < w`, and no
/// other thread may touch those elements during the call. (`src` is bounds-checked.)
pub(crate) unsafe fn transpose_block(
    src: &[f32],
    sstride: usize,
    h: usize,
    w: usize,
    dst: *mut f32,
    dstride: usize,
) {
    if h == 0 || w == 0 {
        return;
    }
    assert!(
        (h - 1) * sstride + w <= src.len(),
        "transpose_block: source too short"
    );
    let (h8, w8) = (h / 8 * 8, w / 8 * 8);
    #[cfg(target_arch = "x86_64")]
    let tiled = crate::simd::has_avx2() && h8 > 0 && w8 > 0 && {
        // SAFETY: the CPU supports AVX2; the tiles lie inside the block (caller's contract
        // for dst, the assert above for src).
        unsafe { transpose_tiles_avx2(src, sstride, h8, w8, dst, dstride) };
        true
    };
    #[cfg(not(target_arch = "x86_64"))]
    let tiled = false;
    // The rest element by element, TILE source rows at a time so that the rows being read
    // stay in L1 across the columns (all of the block without AVX2).
    for i0 in (0..h).step_by(TILE) {
        let i1 = (i0 + TILE).min(h);
        for j in 0..w {
            // the tiles covered i < h8 of the first w8 columns
            let from = if tiled && j < w8 { i0.max(h8) } else { i0 };
            for i in from..i1 {
                // SAFETY: i < h and j < w (caller's contract).
                unsafe { *dst.add(j * dstride + i) = src[i * sstride + j] };
            }
        }
    }
}

/// The 8x8 tiles of [`transpose_block`] (`h8`, `w8`: multiples of 8).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn transpose_tiles_avx2(
    src: &[f32],
    sstride: usize,
    h8: usize,
    w8: usize,
    dst: *mut f32,
    dstride: usize,
) {
    use std::arch::x86_64::*;
    for j in (0..w8).step_by(8) {
        for i in (0..h8).step_by(8) {
            // SAFETY: rows i..i+8 and columns j..j+8 lie in the block: the loads in `src`
            // (asserted by the caller), the stores in `dst` (the caller's contract).
            unsafe {
                let s = src.as_ptr().add(i * sstride + j);
                let l = |r: usize| _mm256_loadu_ps(s.add(r * sstride));
                let (a0, a1, a2, a3) = (l(0), l(1), l(2), l(3));
                let (a4, a5, a6, a7) = (l(4), l(5), l(6), l(7));
                let (t0, t1) = (_mm256_unpacklo_ps(a0, a1), _mm256_unpackhi_ps(a0, a1));
                let (t2, t3) = (_mm256_unpacklo_ps(a2, a3), _mm256_unpackhi_ps(a2, a3));
                let (t4, t5) = (_mm256_unpacklo_ps(a4, a5), _mm256_unpackhi_ps(a4, a5));
                let (t6, t7) = (_mm256_unpacklo_ps(a6, a7), _mm256_unpackhi_ps(a6, a7));
                let s0 = _mm256_shuffle_ps::<0x44>(t0, t2);
                let s1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
                let s2 = _mm256_shuffle_ps::<0x44>(t1, t3);
                let s3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
                let s4 = _mm256_shuffle_ps::<0x44>(t4, t6);
                let s5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
                let s6 = _mm256_shuffle_ps::<0x44>(t5, t7);
                let s7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
                let d = dst.add(j * dstride + i);
                let st = |r: usize, v: __m256| _mm256_storeu_ps(d.add(r * dstride), v);
                st(0, _mm256_permute2f128_ps::<0x20>(s0, s4));
                st(1, _mm256_permute2f128_ps::<0x20>(s1, s5));
                st(2, _mm256_permute2f128_ps::<0x20>(s2, s6));
                st(3, _mm256_permute2f128_ps::<0x20>(s3, s7));
                st(4, _mm256_permute2f128_ps::<0x31>(s0, s4));
                st(5, _mm256_permute2f128_ps::<0x31>(s1, s5));
                st(6, _mm256_permute2f128_ps::<0x31>(s2, s6));
                st(7, _mm256_permute2f128_ps::<0x31>(s3, s7));
            }
        }
    }
}

/// `out[j] = sum_r x[r, j]` for `x [rows, cols]`.
pub fn column_sums(x: &[f32], rows: usize, cols: usize, out: &mut [f32]) -> Result<()> {
    check_len("x", x.len(), rows * cols)?;
    check_len("out", out.len(), cols)?;
    if cols == 0 {
        return Ok(());
    }
    let threads = rayon::current_num_threads().max(1);
    let per = rows.div_ceil(threads * 4).max(64);
    let total = x
        .par_chunks(per * cols)
        .map(|block| {
            let mut acc = vec![0.0f32; cols];
            for row in block.chunks_exact(cols) {
                acc.iter_mut().zip(row).for_each(|(a, v)| *a += v);
            }
            acc
        })
        .reduce(
            || vec![0.0f32; cols],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(x, y)| *x += y);
                a
            },
        );
    out.copy_from_slice(&total);
    Ok(())
}

/// `out [rows, k] = g [rows, n] @ w [n, k]` for a narrow `n` (a small layer's input
/// gradient, e.g. 10 outputs): each output row is `n` scaled weight rows added up in L1.
/// BLAS gets no reuse out of so short an inner dimension, and on a busy 2-core machine
/// waking its thread pool for a 0.1 ms product costs more than the product.
pub fn narrow_matmul(
    g: &[f32],
    rows: usize,
    n: usize,
    w: &[f32],
    k: usize,
    out: &mut [f32],
) -> Result<()> {
    check_len("g", g.len(), rows * n)?;
    check_len("w", w.len(), n * k)?;
    check_len("out", out.len(), rows * k)?;
    if k == 0 {
        return Ok(());
    }
    if n == 0 {
        out.fill(0.0);
        return Ok(());
    }
    // each output row is `gather_sum` over all n weight rows, weighted by the gradient row
    let all_rows: Vec<i32> = (0..n as i32).collect();
    out.par_chunks_mut(k)
        .with_min_len(32)
        .zip(g.par_chunks(n).with_min_len(32))
        .for_each(|(orow, grow)| narrow_row(orow, &all_rows, grow, w, k));
    Ok(())
}

dispatch! {
    fn narrow_row(orow: &mut [f32], all_rows: &[i32], grow: &[f32], w: &[f32], k: usize) {
        gather_sum(orow, all_rows, grow, w, k, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_matmul_matches_the_definition() {
        for (rows, n, k) in [(70, 10, 33), (5, 1, 8), (0, 3, 4), (40, 3, 0), (6, 0, 5)] {
            let g: Vec<f32> = (0..rows * n)
                .map(|i| ((i * 37) % 11) as f32 - 5.0)
                .collect();
            let w: Vec<f32> = (0..n * k).map(|i| ((i * 13) % 7) as f32 * 0.25).collect();
            let mut out = vec![f32::NAN; rows * k];
            narrow_matmul(&g, rows, n, &w, k, &mut out).unwrap();
            for r in 0..rows {
                for c in 0..k {
                    let want: f32 = (0..n).map(|j| g[r * n + j] * w[j * k + c]).sum();
                    assert!((out[r * k + c] - want).abs() <= 1e-5 * want.abs().max(1.0));
                }
            }
        }
        assert!(narrow_matmul(&[1.0; 6], 2, 3, &[1.0; 5], 2, &mut [0.0; 4]).is_err());
    }

    #[test]
    fn transpose_every_edge_shape() {
        // around the 8x8 tiles and the 32-column blocks, and B4's weight
        for (r, c) in [
            (0, 5),
            (5, 0),
            (1, 1),
            (7, 9),
            (8, 8),
            (9, 7),
            (16, 33),
            (33, 65),
            (64, 64),
            (512, 2312),
        ] {
            let x: Vec<f32> = (0..r * c).map(|i| i as f32).collect();
            let mut t = vec![f32::NAN; r * c];
            transpose(&x, r, c, &mut t).unwrap();
            for i in 0..r {
                for j in 0..c {
                    assert_eq!(t[j * r + i], x[i * c + j], "{r}x{c} at ({i}, {j})");
                }
            }
        }
    }

    #[test]
    fn transpose_and_sums() {
        let (r, c) = (37, 70);
        let x: Vec<f32> = (0..r * c).map(|i| i as f32).collect();
        let mut t = vec![0.0; r * c];
        transpose(&x, r, c, &mut t).unwrap();
        for i in 0..r {
            for j in 0..c {
                assert_eq!(t[j * r + i], x[i * c + j]);
            }
        }
        let mut s = vec![0.0; c];
        column_sums(&x, r, c, &mut s).unwrap();
        for j in 0..c {
            let want: f32 = (0..r).map(|i| x[i * c + j]).sum();
            assert!((s[j] - want).abs() <= 1e-3 * want.abs().max(1.0));
        }
    }
}
