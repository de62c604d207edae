//! Event-driven products of a sparse (mostly binary spike) matrix with a dense one.
//!
//! An input `X [R, K]` is turned into a CSR event list once ([`Csr::from_dense`]); then
//! `Y = X W^T` is accumulated row by row from the rows of `W^T [K, N]` that the events select
//! ([`Csr::matmul`]), and the weight gradient `dW^T = X^T G` from the rows of `G [R, N]`
//! ([`Csr::t_matmul`]). Work is proportional to the number of events, not to `R * K`.

use rayon::prelude::*;

use crate::par::SyncPtr;
use crate::simd::{axpy, dispatch};
use crate::{check_len, KernelError, Result};

/// A sparse `[rows, cols]` matrix in compressed-sparse-row form.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Csr {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Row `r`'s entries are `indptr[r]..indptr[r + 1]`.
    pub indptr: Vec<i64>,
    /// Column of each entry.
    pub indices: Vec<i32>,
    /// Value of each entry.
    pub values: Vec<f32>,
}

const ROW_BLOCK: usize = 16;

impl Csr {
    /// The non-zeros of a dense row-major `[rows, cols]` matrix, or `None` when there are more
    /// than `max_nnz` of them (the caller then takes the dense path).
    pub fn from_dense(x: &[f32], rows: usize, cols: usize, max_nnz: usize) -> Result<Option<Csr>> {
        check_len("x", x.len(), rows * cols)?;
        if cols > i32::MAX as usize {
            return Err(KernelError::Invalid(format!("too many columns: {cols}")));
        }
        let blocks: Vec<(Vec<u32>, Vec<i32>, Vec<f32>)> = (0..rows.div_ceil(ROW_BLOCK))
            .into_par_iter()
            .map(|b| {
                let r0 = b * ROW_BLOCK;
                let r1 = (r0 + ROW_BLOCK).min(rows);
                let mut counts = Vec::with_capacity(r1 - r0);
                let mut idx = Vec::new();
                let mut val = Vec::new();
                for r in r0..r1 {
                    let row = &x[r * cols..(r + 1) * cols];
                    let before = idx.len();
                    for (k, &v) in row.iter().enumerate() {
                        if v != 0.0 {
                            idx.push(k as i32);
                            val.push(v);
                        }
                    }
                    counts.push((idx.len() - before) as u32);
                }
                (counts, idx, val)
            })
            .collect();
        let nnz: usize = blocks.iter().map(|b| b.1.len()).sum();
        if nnz > max_nnz {
            return Ok(None);
        }
        let mut indptr = Vec::with_capacity(rows + 1);
        let mut indices = Vec::with_capacity(nnz);
        let mut values = Vec::with_capacity(nnz);
        indptr.push(0i64);
        let mut acc = 0i64;
        for (counts, idx, val) in blocks {
            for c in counts {
                acc += c as i64;
                indptr.push(acc);
            }
            indices.extend_from_slice(&idx);
            values.extend_from_slice(&val);
        }
        Ok(Some(Csr {
            rows,
            cols,
            indptr,
            indices,
            values,
        }))
    }

    /// A borrowed view of this matrix.
    pub fn view(&self) -> CsrRef<'_> {
        CsrRef {
            rows: self.rows,
            cols: self.cols,
            indptr: &self.indptr,
            indices: &self.indices,
            values: &self.values,
        }
    }
}

/// A borrowed CSR matrix (for example arrays handed over from Python).
#[derive(Clone, Copy, Debug)]
pub struct CsrRef<'a> {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// Row `r`'s entries are `indptr[r]..indptr[r + 1]`.
    pub indptr: &'a [i64],
    /// Column of each entry.
    pub indices: &'a [i32],
    /// Value of each entry.
    pub values: &'a [f32],
}

impl CsrRef<'_> {
    /// Check that the arrays describe a valid matrix (monotone `indptr`, indices in range).
    pub fn validate(&self) -> Result<()> {
        check_len("indptr", self.indptr.len(), self.rows + 1)?;
        check_len("values", self.values.len(), self.indices.len())?;
        if self.indptr[0] != 0 || *self.indptr.last().unwrap_or(&0) as usize != self.indices.len() {
            return Err(KernelError::Invalid(
                "indptr does not span the entries".into(),
            ));
        }
        if self.indptr.windows(2).any(|w| w[1] < w[0]) {
            return Err(KernelError::Invalid("indptr is not monotone".into()));
        }
        if self
            .indices
            .iter()
            .any(|&k| k < 0 || k as usize >= self.cols)
        {
            return Err(KernelError::Invalid(
                "a column index is out of range".into(),
            ));
        }
        Ok(())
    }

    pub(crate) fn row(&self, r: usize) -> (&[i32], &[f32]) {
        let (a, b) = (self.indptr[r] as usize, self.indptr[r + 1] as usize);
        (&self.indices[a..b], &self.values[a..b])
    }

    /// `out [R, N] = self [R, K] @ wt [K, N] (+ bias [N])`; `out` is overwritten.
    pub fn matmul(
        &self,
        wt: &[f32],
        n: usize,
        bias: Option<&[f32]>,
        out: &mut [f32],
    ) -> Result<()> {
        check_len("weight", wt.len(), self.cols * n)?;
        check_len("out", out.len(), self.rows * n)?;
        if let Some(b) = bias {
            check_len("bias", b.len(), n)?;
        }
        if n == 0 {
            return Ok(());
        }
        out.par_chunks_mut(n).enumerate().for_each(|(r, orow)| {
            let (idx, val) = self.row(r);
            matmul_row(orow, idx, val, wt, n, bias);
        });
        Ok(())
    }

    /// `gwt [K, N] = self^T [K, R] @ g [R, N]`; `gwt` is overwritten.
    pub fn t_matmul(&self, g: &[f32], n: usize, gwt: &mut [f32]) -> Result<()> {
        check_len("grad", g.len(), self.rows * n)?;
        check_len("grad_weight", gwt.len(), self.cols * n)?;
        if n == 0 {
            return Ok(());
        }
        let threads = rayon::current_num_threads().max(1);
        let width = n.div_ceil(threads).div_ceil(16) * 16;
        let width = width.clamp(16, n.max(16)).min(n);
        let ptr = SyncPtr::new(gwt);
        (0..n.div_ceil(width)).into_par_iter().for_each(|c| {
            let c0 = c * width;
            let c1 = (c0 + width).min(n);
            t_matmul_cols(self, g, n, c0, c1, ptr);
        });
        Ok(())
    }
}

dispatch! {
    fn matmul_row(orow: &mut [f32], idx: &[i32], val: &[f32], wt: &[f32], n: usize, bias: Option<&[f32]>) {
        match bias {
            Some(b) => orow.copy_from_slice(b),
            None => orow.fill(0.0),
        }
        for (&k, &v) in idx.iter().zip(val) {
            let k = k as usize;
            axpy(orow, v, &wt[k * n..(k + 1) * n]);
        }
    }
}

dispatch! {
    fn t_matmul_cols(m: &CsrRef<'_>, g: &[f32], n: usize, c0: usize, c1: usize, out: SyncPtr) {
        let w = c1 - c0;
        for k in 0..m.cols {
            // SAFETY: columns [c0, c1) of every row belong to this task alone.
            unsafe { out.slice(k * n + c0, w) }.fill(0.0);
        }
        for r in 0..m.rows {
            let (idx, val) = m.row(r);
            let grow = &g[r * n + c0..r * n + c1];
            for (&k, &v) in idx.iter().zip(val) {
                // SAFETY: as above.
                let orow = unsafe { out.slice(k as usize * n + c0, w) };
                axpy(orow, v, grow);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_dense_products() {
        let (r, k, n) = (5, 7, 3);
        let x: Vec<f32> = (0..r * k)
            .map(|i| if i % 3 == 0 { 1.0 } else { 0.0 })
            .collect();
        let wt: Vec<f32> = (0..k * n).map(|i| i as f32 * 0.1 - 1.0).collect();
        let g: Vec<f32> = (0..r * n).map(|i| (i as f32).sin()).collect();
        let owned = Csr::from_dense(&x, r, k, usize::MAX).unwrap().unwrap();
        let m = owned.view();
        m.validate().unwrap();
        let mut out = vec![0.0; r * n];
        m.matmul(&wt, n, None, &mut out).unwrap();
        let mut gwt = vec![1.0; k * n];
        m.t_matmul(&g, n, &mut gwt).unwrap();
        for i in 0..r {
            for j in 0..n {
                let d: f32 = (0..k).map(|q| x[i * k + q] * wt[q * n + j]).sum();
                assert!((out[i * n + j] - d).abs() < 1e-5);
            }
        }
        for q in 0..k {
            for j in 0..n {
                let d: f32 = (0..r).map(|i| x[i * k + q] * g[i * n + j]).sum();
                assert!((gwt[q * n + j] - d).abs() < 1e-5);
            }
        }
        assert!(Csr::from_dense(&x, r, k, 2).unwrap().is_none());
    }
}
