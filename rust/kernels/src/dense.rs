//! Small dense helpers the event-driven layers need around their kernels: a transpose and
//! column sums, parallel over rayon and writing into cached buffers (no page faults, no
//! OpenMP barriers on a busy machine).

use rayon::prelude::*;

use crate::par::SyncPtr;
use crate::simd::{dispatch, gather_sum};
use crate::{check_len, Result};

const TILE: usize = 32;

/// `out [cols, rows] = x [rows, cols]^T`.
pub fn transpose(x: &[f32], rows: usize, cols: usize, out: &mut [f32]) -> Result<()> {
    check_len("x", x.len(), rows * cols)?;
    check_len("out", out.len(), rows * cols)?;
    let ptr = SyncPtr::new(out);
    (0..cols.div_ceil(TILE)).into_par_iter().for_each(|cb| {
        let c0 = cb * TILE;
        let c1 = (c0 + TILE).min(cols);
        for r0 in (0..rows).step_by(TILE) {
            let r1 = (r0 + TILE).min(rows);
            for c in c0..c1 {
                // SAFETY: output rows [c0, c1) belong to this task alone.
                let dst = unsafe { ptr.slice(c * rows + r0, r1 - r0) };
                for (d, r) in dst.iter_mut().zip(r0..r1) {
                    *d = x[r * cols + c];
                }
            }
        }
    });
    Ok(())
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
