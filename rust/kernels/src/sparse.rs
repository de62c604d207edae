//! Event-driven products of a sparse (mostly binary spike) matrix with a dense one.
//!
//! An input `X [R, K]` is turned into a CSR event list once ([`Csr::from_dense`]); then
//! `Y = X W^T` is accumulated row by row from the rows of `W^T [K, N]` that the events select
//! ([`Csr::matmul`]), and the weight gradient `dW^T = X^T G` from the rows of `G [R, N]`
//! ([`Csr::t_matmul`]). Work is proportional to the number of events, not to `R * K`.

use rayon::prelude::*;

use crate::dense::transpose_block;
use crate::par::SyncPtr;
use crate::simd::{dispatch, gather_sum};
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
const KBLOCK: usize = 16;
const PANEL: usize = 1024;

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
                    scan_row(row, &mut idx, &mut val);
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
        // Column panels of `wt` small enough to stay in L2 while every row reads them.
        let width = std::env::var("SPIKEFLOW_PANEL")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(PANEL);
        let ptr = SyncPtr::new(out);
        for c0 in (0..n).step_by(width) {
            let c1 = (c0 + width).min(n);
            (0..self.rows)
                .into_par_iter()
                .with_min_len(16)
                .for_each(|r| {
                    let (idx, val) = self.row(r);
                    // SAFETY: row r, columns [c0, c1) belong to this task alone.
                    let orow = unsafe { ptr.slice(r * n + c0, c1 - c0) };
                    matmul_panel(orow, idx, val, wt, n, c0, bias.map(|b| &b[c0..c1]));
                });
        }
        Ok(())
    }

    /// `gwt [K, N] = self^T [K, R] @ g [R, N]`; `gwt` is overwritten.
    ///
    /// The events are regrouped by column first (a counting sort), so that every row of `gwt`
    /// is accumulated in one place from the rows of `g`, like [`CsrRef::matmul`].
    pub fn t_matmul(&self, g: &[f32], n: usize, gwt: &mut [f32]) -> Result<()> {
        check_len("grad", g.len(), self.rows * n)?;
        check_len("grad_weight", gwt.len(), self.cols * n)?;
        with_transpose(self, |t| t.matmul(g, n, None, gwt))
    }

    /// The weight gradient in torch's `[N, K]` layout: `gw = g^T [N, R] @ self [R, K]`.
    ///
    /// Columns of `self` are taken 16 at a time: their rows of `self^T @ g` are accumulated
    /// in a small buffer, then stored transposed (8x8 register tiles) as 16-float runs of
    /// `gw`'s rows; `gw` is overwritten.
    pub fn grad_weight(&self, g: &[f32], n: usize, gw: &mut [f32]) -> Result<()> {
        check_len("grad", g.len(), self.rows * n)?;
        check_len("grad_weight", gw.len(), self.cols * n)?;
        if n == 0 || self.cols == 0 {
            return Ok(());
        }
        let k = self.cols;
        let ptr = SyncPtr::new(gw);
        with_transpose(self, |tv| {
            (0..k.div_ceil(KBLOCK)).into_par_iter().for_each(|b| {
                let k0 = b * KBLOCK;
                let k1 = (k0 + KBLOCK).min(k);
                // the block's rows of g^T-products, in a per-thread buffer (every element is
                // written before it is read, so it is not cleared: 145 x 32 KiB per B4 step)
                ACC.with(|cell| {
                    let mut acc = cell.borrow_mut();
                    if acc.len() < (k1 - k0) * n {
                        acc.resize((k1 - k0) * n, 0.0);
                    }
                    let acc = &mut acc[..(k1 - k0) * n];
                    grad_weight_block(&tv, g, n, k0, k1, acc);
                    // SAFETY: gw[j * k + k0 + kk] for j < n, kk < k1 - k0 lies in gw (length
                    // n * k) and columns [k0, k1) of every row belong to this task alone.
                    unsafe { transpose_block(acc, n, k1 - k0, n, ptr.at(k0), k) };
                });
            });
        });
        Ok(())
    }

    /// The transpose `[cols, rows]` (events grouped by column, rows ascending within each).
    pub fn transpose(&self) -> Csr {
        let mut t = Csr::default();
        self.transpose_into(&mut t);
        t
    }

    /// [`CsrRef::transpose`] into `t`, reusing its arrays' memory (the weight-gradient pass
    /// keeps one per thread, so its ~1.5 MB of event arrays are not faulted in every step).
    ///
    /// A counting sort, split over row blocks: each block counts its events per column, the
    /// prefix sums give every (block, column) pair its own run of slots, and the blocks then
    /// fill their runs in parallel; earlier blocks come first, so rows stay ascending.
    pub fn transpose_into(&self, t: &mut Csr) {
        let nnz = self.indices.len();
        let cols = self.cols;
        let blocks = if nnz < 1 << 15 {
            1
        } else {
            rayon::current_num_threads().clamp(1, self.rows.max(1))
        };
        let per = self.rows.div_ceil(blocks).max(1);
        let ranges: Vec<(usize, usize)> = (0..blocks)
            .map(|b| (b * per, ((b + 1) * per).min(self.rows)))
            .filter(|(a, b)| a < b)
            .collect();
        // counts[b * cols + k]: block b's events in column k, then its first slot there
        let mut counts = vec![0i64; ranges.len() * cols];
        counts
            .par_chunks_mut(cols.max(1))
            .zip(ranges.par_iter())
            .for_each(|(c, &(r0, r1))| {
                let (a, b) = (self.indptr[r0] as usize, self.indptr[r1] as usize);
                for &k in &self.indices[a..b] {
                    c[k as usize] += 1;
                }
            });
        // column starts, then each block's first slot in every column
        let indptr = &mut t.indptr;
        indptr.clear();
        indptr.resize(cols + 1, 0);
        let nb = ranges.len();
        for k in 0..cols {
            let mut at = indptr[k];
            for b in 0..nb {
                let n = counts[b * cols + k];
                counts[b * cols + k] = at;
                at += n;
            }
            indptr[k + 1] = at;
        }
        // Each block's run of column k ends where the next block's begins. The bound is
        // checked on every write: the arrays may be numpy memory that another Python thread
        // could change between the counting and the filling pass.
        let ends: Vec<i64> = (0..nb * cols)
            .map(|i| {
                if i + cols < nb * cols {
                    counts[i + cols]
                } else {
                    indptr[i % cols.max(1) + 1]
                }
            })
            .collect();
        t.indices.clear();
        t.indices.resize(nnz, 0);
        t.values.clear();
        t.values.resize(nnz, 0.0);
        let (ip, vp) = (SyncPtr::new(&mut t.indices), SyncPtr::new(&mut t.values));
        counts
            .par_chunks_mut(cols.max(1))
            .zip(ends.par_chunks(cols.max(1)))
            .zip(ranges.par_iter())
            .for_each(|((next, end), &(r0, r1))| {
                for r in r0..r1 {
                    let (idx, val) = self.row(r);
                    for (&k, &v) in idx.iter().zip(val) {
                        let slot = &mut next[k as usize];
                        assert!(*slot < end[k as usize], "events changed during transpose");
                        // SAFETY: slots [start, end) of column k belong to this block alone
                        // and the assert keeps the write inside them.
                        unsafe {
                            ip.slice(*slot as usize, 1)[0] = r as i32;
                            vp.slice(*slot as usize, 1)[0] = v;
                        }
                        *slot += 1;
                    }
                }
            });
        t.rows = self.cols;
        t.cols = self.rows;
    }
}

thread_local! {
    /// The weight-gradient pass's transposed events, reused from call to call.
    static TRANSPOSED: std::cell::RefCell<Csr> = std::cell::RefCell::new(Csr::default());
    /// Each pool thread's accumulation buffer for one block of weight-gradient rows.
    static ACC: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Events above which the scratch is released after use instead of kept (64 MiB of arrays).
const SCRATCH_KEEP: usize = 1 << 23;

/// Run `f` on the transpose of `m`, built in this thread's reusable scratch.
fn with_transpose<R>(m: &CsrRef<'_>, f: impl FnOnce(CsrRef<'_>) -> R) -> R {
    TRANSPOSED.with(|cell| match cell.try_borrow_mut() {
        Ok(mut t) => {
            m.transpose_into(&mut t);
            let r = f(t.view());
            if t.indices.capacity() > SCRATCH_KEEP {
                *t = Csr::default(); // one huge batch should not pin its memory for good
            }
            r
        }
        // re-entered on this thread (not done by the kernels, but harmless): a fresh one
        Err(_) => f(m.transpose().view()),
    })
}

/// Append the non-zeros of `row` and their columns.
fn scan_row(row: &[f32], idx: &mut Vec<i32>, val: &mut Vec<f32>) {
    #[cfg(target_arch = "x86_64")]
    {
        if crate::simd::has_avx2() {
            // SAFETY: the CPU supports AVX2.
            return unsafe { scan_row_avx2(row, idx, val) };
        }
    }
    scan_tail(row, 0, idx, val);
}

fn scan_tail(row: &[f32], from: usize, idx: &mut Vec<i32>, val: &mut Vec<f32>) {
    for (i, &v) in row.iter().enumerate().skip(from) {
        if v != 0.0 {
            idx.push(i as i32);
            val.push(v);
        }
    }
}

/// For each 8-bit mask, the positions of its set bits, packed to the front.
const fn pack_table() -> [[i32; 8]; 256] {
    let mut table = [[0i32; 8]; 256];
    let mut mask = 0;
    while mask < 256 {
        let (mut bit, mut slot) = (0, 0);
        while bit < 8 {
            if mask & (1 << bit) != 0 {
                table[mask][slot] = bit;
                slot += 1;
            }
            bit += 1;
        }
        mask += 1;
    }
    table
}

static PACK: [[i32; 8]; 256] = pack_table();

/// 8 floats at a time without branches: one compare gives a mask, a table lookup packs the
/// non-zeros' columns and values to the front, and all 8 lanes are stored; only the first
/// `popcount(mask)` of them are kept. (Branching on the mask mispredicts on spike data,
/// where about a third of the 8-float chunks hold an event.)
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn scan_row_avx2(row: &[f32], idx: &mut Vec<i32>, val: &mut Vec<f32>) {
    use std::arch::x86_64::*;
    let n8 = row.len() / 8 * 8;
    // every store writes 8 lanes at the current end: room for all of them up front
    idx.reserve(n8 + 8);
    val.reserve(n8 + 8);
    let mut len = idx.len();
    debug_assert_eq!(len, val.len());
    let (ip, vp) = (idx.as_mut_ptr(), val.as_mut_ptr());
    let zero = _mm256_setzero_ps();
    let mut base = 0;
    while base < n8 {
        // SAFETY: base + 8 <= row.len() (unaligned load); `len + 8 <=` both capacities,
        // because len grows by at most 8 per chunk and n8 + 8 slots were reserved.
        unsafe {
            let v = _mm256_loadu_ps(row.as_ptr().add(base));
            let mask = _mm256_movemask_ps(_mm256_cmp_ps::<_CMP_NEQ_UQ>(v, zero)) as usize;
            let perm = _mm256_loadu_si256(PACK[mask].as_ptr() as *const __m256i);
            let cols = _mm256_add_epi32(perm, _mm256_set1_epi32(base as i32));
            _mm256_storeu_si256(ip.add(len) as *mut __m256i, cols);
            _mm256_storeu_ps(vp.add(len), _mm256_permutevar8x32_ps(v, perm));
            len += mask.count_ones() as usize;
        }
        base += 8;
    }
    // SAFETY: the first `len` entries of both vectors are initialised (stored above).
    unsafe {
        idx.set_len(len);
        val.set_len(len);
    }
    scan_tail(row, n8, idx, val);
}

dispatch! {
    fn grad_weight_block(t: &CsrRef<'_>, g: &[f32], n: usize, k0: usize, k1: usize, acc: &mut [f32]) {
        for kk in k0..k1 {
            let (idx, val) = t.row(kk);
            gather_sum(&mut acc[(kk - k0) * n..(kk - k0 + 1) * n], idx, val, g, n, 0);
        }
    }
}

dispatch! {
    fn matmul_panel(
        orow: &mut [f32], idx: &[i32], val: &[f32], wt: &[f32], n: usize, c0: usize,
        bias: Option<&[f32]>,
    ) {
        gather_sum(orow, idx, val, wt, n, c0);
        if let Some(b) = bias {
            orow.iter_mut().zip(b).for_each(|(o, b)| *o += b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_scan_finds_every_nonzero_in_order() {
        // widths around the 8-lane chunks, densities from empty to full, NaN and -0.0
        let mut state = 7u64;
        for cols in [0usize, 1, 7, 8, 9, 15, 16, 17, 63, 100] {
            for density in [0.0, 0.05, 0.5, 1.0] {
                let rows = 21;
                let x: Vec<f32> = (0..rows * cols)
                    .map(|i| {
                        state = state.wrapping_mul(6364136223846793005).wrapping_add(1);
                        let u = (state >> 40) as f64 / (1u64 << 24) as f64;
                        match i % 97 {
                            5 => f32::NAN,
                            6 => -0.0,
                            _ if u < density => 0.5 + u as f32,
                            _ => 0.0,
                        }
                    })
                    .collect();
                let csr = Csr::from_dense(&x, rows, cols, usize::MAX)
                    .unwrap()
                    .unwrap();
                let mut indptr = vec![0i64];
                let (mut idx, mut val) = (vec![], vec![]);
                for r in 0..rows {
                    for c in 0..cols {
                        let v = x[r * cols + c];
                        if v != 0.0 || v.is_nan() {
                            idx.push(c as i32);
                            val.push(v);
                        }
                    }
                    indptr.push(idx.len() as i64);
                }
                assert_eq!(csr.indptr, indptr, "cols {cols} density {density}");
                assert_eq!(csr.indices, idx, "cols {cols} density {density}");
                let same = csr
                    .values
                    .iter()
                    .zip(&val)
                    .all(|(a, b)| a.to_bits() == b.to_bits());
                assert!(same && csr.values.len() == val.len());
            }
        }
    }

    #[test]
    fn parallel_transpose_groups_by_column_with_rows_ascending() {
        // enough events for the split over row blocks (the small tests take one block)
        let (rows, cols) = (301, 1999);
        let x: Vec<f32> = (0..rows * cols)
            .map(|i| {
                if (i * 7919) % 10 == 0 {
                    (i % 13) as f32 + 1.0
                } else {
                    0.0
                }
            })
            .collect();
        let csr = Csr::from_dense(&x, rows, cols, usize::MAX)
            .unwrap()
            .unwrap();
        assert!(csr.indices.len() >= 1 << 15);
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .unwrap();
            let t = pool.install(|| csr.view().transpose());
            let mut indptr = vec![0i64];
            let (mut idx, mut val) = (vec![], vec![]);
            for c in 0..cols {
                for r in 0..rows {
                    if x[r * cols + c] != 0.0 {
                        idx.push(r as i32);
                        val.push(x[r * cols + c]);
                    }
                }
                indptr.push(idx.len() as i64);
            }
            assert_eq!((t.rows, t.cols), (cols, rows));
            assert_eq!(t.indptr, indptr, "{threads} threads");
            assert_eq!(t.indices, idx, "{threads} threads");
            assert_eq!(t.values, val, "{threads} threads");
        }
    }

    #[test]
    fn grad_weight_is_the_transpose_of_t_matmul() {
        // outputs and inputs around the 8x8 store tiles and the 16-column blocks
        for (r, k, n) in [(40, 37, 20), (33, 16, 8), (9, 50, 9), (64, 129, 64)] {
            let x: Vec<f32> = (0..r * k)
                .map(|i| {
                    if (i * 31) % 7 == 0 {
                        (i % 5) as f32 + 0.5
                    } else {
                        0.0
                    }
                })
                .collect();
            let g: Vec<f32> = (0..r * n).map(|i| (i as f32 * 0.37).sin()).collect();
            let csr = Csr::from_dense(&x, r, k, usize::MAX).unwrap().unwrap();
            let mut gwt = vec![f32::NAN; k * n];
            csr.view().t_matmul(&g, n, &mut gwt).unwrap();
            let mut gw = vec![f32::NAN; k * n];
            csr.view().grad_weight(&g, n, &mut gw).unwrap();
            for q in 0..k {
                for j in 0..n {
                    assert_eq!(
                        gw[j * k + q].to_bits(),
                        gwt[q * n + j].to_bits(),
                        "{r}x{k}x{n} ({q}, {j})"
                    );
                }
            }
        }
    }

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
        let mut gw = vec![1.0; k * n];
        m.grad_weight(&g, n, &mut gw).unwrap();
        for q in 0..k {
            for j in 0..n {
                assert_eq!(gw[j * k + q], gwt[q * n + j]);
            }
        }
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
