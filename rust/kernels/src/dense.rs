//! Small dense helpers the event-driven layers need around their kernels: a transpose and
//! column sums, parallel over rayon and writing into cached buffers (no page faults, no
//! OpenMP barriers on a busy machine).

use rayon::prelude::*;

use crate::par::SyncPtr;
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

#[cfg(test)]
mod tests {
    use super::*;

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
