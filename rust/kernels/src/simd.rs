//! Runtime dispatch of a kernel body to an AVX2/FMA build of it on x86-64, and the sparse
//! products' inner loop ([`gather_sum`]) written out for AVX-512 and AVX2.

/// Whether the CPU has AVX2 and FMA (checked once, cached by std).
#[inline]
pub(crate) fn has_avx2() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx2") && std::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `y += a * x` elementwise (the caller's target features decide the vector width).
#[inline(always)]
pub(crate) fn axpy(y: &mut [f32], a: f32, x: &[f32]) {
    for (yi, xi) in y.iter_mut().zip(x) {
        *yi += a * *xi;
    }
}

/// Whether the CPU has AVX-512F (checked once, cached by std).
#[inline]
pub(crate) fn has_avx512() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::is_x86_feature_detected!("avx512f")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `dst[i] = sum_e val[e] * src[idx[e] * n + off + i]` for `i < dst.len()` (overwrites `dst`).
///
/// The hot loop of the sparse products: columns are taken in blocks that fit the vector
/// registers, so each block of `dst` is accumulated in registers while all selected rows of
/// `src` stream through. Explicit AVX-512 and AVX2 versions use fused multiply-adds and
/// never spill an accumulator; the portable one is left to the compiler.
#[inline]
pub(crate) fn gather_sum(
    dst: &mut [f32],
    idx: &[i32],
    val: &[f32],
    src: &[f32],
    n: usize,
    off: usize,
) {
    assert_eq!(idx.len(), val.len(), "one value per index");
    #[cfg(target_arch = "x86_64")]
    {
        if has_avx512() {
            // SAFETY: the CPU supports AVX-512F.
            return unsafe { x86::gather_avx512(dst, idx, val, src, n, off) };
        }
        if has_avx2() {
            // SAFETY: the CPU supports AVX2 and FMA.
            return unsafe { x86::gather_avx2(dst, idx, val, src, n, off) };
        }
    }
    gather_portable(dst, idx, val, src, n, off)
}

#[inline(always)]
fn gather_block<const C: usize>(
    dst: &mut [f32],
    idx: &[i32],
    val: &[f32],
    src: &[f32],
    n: usize,
    off: usize,
) {
    let mut acc = [0.0f32; C];
    for (&k, &v) in idx.iter().zip(val) {
        let s = &src[k as usize * n + off..][..C];
        for i in 0..C {
            acc[i] += v * s[i];
        }
    }
    dst[..C].copy_from_slice(&acc);
}

fn gather_portable(dst: &mut [f32], idx: &[i32], val: &[f32], src: &[f32], n: usize, off: usize) {
    let w = dst.len();
    let mut c = 0;
    while c + 16 <= w {
        gather_block::<16>(&mut dst[c..], idx, val, src, n, off + c);
        c += 16;
    }
    while c < w {
        gather_block::<1>(&mut dst[c..], idx, val, src, n, off + c);
        c += 1;
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::x86_64::*;

    /// AVX-512: up to 16 accumulators of 16 lanes (half the 32 registers), masked tail.
    #[target_feature(enable = "avx512f")]
    pub(super) fn gather_avx512(
        dst: &mut [f32],
        idx: &[i32],
        val: &[f32],
        src: &[f32],
        n: usize,
        off: usize,
    ) {
        let w = dst.len();
        let mut c = 0;
        while c + 256 <= w {
            block512::<16>(&mut dst[c..c + 256], idx, val, src, n, off + c);
            c += 256;
        }
        while c + 128 <= w {
            block512::<8>(&mut dst[c..c + 128], idx, val, src, n, off + c);
            c += 128;
        }
        while c + 16 <= w {
            block512::<1>(&mut dst[c..c + 16], idx, val, src, n, off + c);
            c += 16;
        }
        if c < w {
            let rest = w - c;
            let mask: __mmask16 = ((1u32 << rest) - 1) as __mmask16;
            let mut acc = _mm512_setzero_ps();
            for (&k, &v) in idx.iter().zip(val) {
                let s = &src[k as usize * n + off + c..][..rest];
                // SAFETY: the mask reads only the `rest` floats of `s`.
                let x = unsafe { _mm512_maskz_loadu_ps(mask, s.as_ptr()) };
                acc = _mm512_fmadd_ps(_mm512_set1_ps(v), x, acc);
            }
            // SAFETY: the mask writes only the `rest` floats left in `dst`.
            unsafe { _mm512_mask_storeu_ps(dst[c..].as_mut_ptr(), mask, acc) };
        }
    }

    /// AVX2: 12 accumulators of 8 lanes (16 registers, so one is left for the broadcast).
    #[target_feature(enable = "avx2,fma")]
    pub(super) fn gather_avx2(
        dst: &mut [f32],
        idx: &[i32],
        val: &[f32],
        src: &[f32],
        n: usize,
        off: usize,
    ) {
        let w = dst.len();
        let mut c = 0;
        while c + 96 <= w {
            block256::<12>(&mut dst[c..c + 96], idx, val, src, n, off + c);
            c += 96;
        }
        while c + 32 <= w {
            block256::<4>(&mut dst[c..c + 32], idx, val, src, n, off + c);
            c += 32;
        }
        while c + 8 <= w {
            block256::<1>(&mut dst[c..c + 8], idx, val, src, n, off + c);
            c += 8;
        }
        if c < w {
            super::gather_portable(&mut dst[c..], idx, val, src, n, off + c);
        }
    }

    /// `$name::<V>`: one block of `V` vectors of `$lanes` floats, accumulated in registers.
    macro_rules! block {
        ($name:ident, $feature:literal, $lanes:literal, $zero:ident, $splat:ident, $load:ident,
         $fma:ident, $store:ident) => {
            #[inline]
            #[target_feature(enable = $feature)]
            fn $name<const V: usize>(
                dst: &mut [f32],
                idx: &[i32],
                val: &[f32],
                src: &[f32],
                n: usize,
                off: usize,
            ) {
                let mut acc = [$zero(); V];
                for (&k, &v) in idx.iter().zip(val) {
                    let s = &src[k as usize * n + off..][..$lanes * V];
                    let b = $splat(v);
                    for (j, a) in acc.iter_mut().enumerate() {
                        // SAFETY: s holds $lanes * V floats.
                        let x = unsafe { $load(s.as_ptr().add($lanes * j)) };
                        *a = $fma(b, x, *a);
                    }
                }
                let d = &mut dst[..$lanes * V];
                for (j, a) in acc.iter().enumerate() {
                    // SAFETY: d holds $lanes * V floats.
                    unsafe { $store(d.as_mut_ptr().add($lanes * j), *a) };
                }
            }
        };
    }
    block!(
        block512,
        "avx512f",
        16,
        _mm512_setzero_ps,
        _mm512_set1_ps,
        _mm512_loadu_ps,
        _mm512_fmadd_ps,
        _mm512_storeu_ps
    );
    block!(
        block256,
        "avx2,fma",
        8,
        _mm256_setzero_ps,
        _mm256_set1_ps,
        _mm256_loadu_ps,
        _mm256_fmadd_ps,
        _mm256_storeu_ps
    );
}

/// Define `$name(args)` that runs `$body` compiled for AVX2+FMA when the CPU has them.
macro_rules! dispatch {
    ($(#[$m:meta])* $vis:vis fn $name:ident($($arg:ident : $ty:ty),* $(,)?) $body:block) => {
        $(#[$m])*
        $vis fn $name($($arg: $ty),*) {
            #[inline(always)]
            fn body($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            fn fast($($arg: $ty),*) { body($($arg),*) }
            #[cfg(target_arch = "x86_64")]
            {
                if $crate::simd::has_avx2() {
                    // SAFETY: the CPU supports the features `fast` was compiled for.
                    unsafe { return fast($($arg),*) }
                }
            }
            body($($arg),*)
        }
    };
}
pub(crate) use dispatch;

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(
        idx: &[i32],
        val: &[f32],
        src: &[f32],
        n: usize,
        off: usize,
        w: usize,
    ) -> Vec<f64> {
        (0..w)
            .map(|i| {
                idx.iter()
                    .zip(val)
                    .map(|(&k, &v)| v as f64 * src[k as usize * n + off + i] as f64)
                    .sum()
            })
            .collect()
    }

    #[test]
    fn every_gather_version_sums_the_selected_rows() {
        // widths around every block size and the masked / scalar tails, at column offsets
        let (rows, n) = (40usize, 700usize);
        let mut state = 11u64;
        let mut rnd = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 40) as f32 / (1u64 << 24) as f32) - 0.5
        };
        let src: Vec<f32> = (0..rows * n).map(|_| rnd()).collect();
        let idx: Vec<i32> = vec![3, 0, 17, 39, 17, 8];
        let val: Vec<f32> = idx.iter().map(|_| rnd() * 4.0).collect();
        for w in [
            0usize, 1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 95, 96, 97, 127, 128, 129, 255, 256, 257,
            300, 512, 600,
        ] {
            for off in [0usize, 5, 100] {
                let want = reference(&idx, &val, &src, n, off, w);
                let mut versions: Vec<(&str, Vec<f32>)> = Vec::new();
                let mut d = vec![f32::NAN; w];
                gather_portable(&mut d, &idx, &val, &src, n, off);
                versions.push(("portable", d));
                let mut d = vec![f32::NAN; w];
                gather_sum(&mut d, &idx, &val, &src, n, off);
                versions.push(("dispatched", d));
                #[cfg(target_arch = "x86_64")]
                {
                    if has_avx2() {
                        let mut d = vec![f32::NAN; w];
                        // SAFETY: checked above.
                        unsafe { x86::gather_avx2(&mut d, &idx, &val, &src, n, off) };
                        versions.push(("avx2", d));
                    }
                    if has_avx512() {
                        let mut d = vec![f32::NAN; w];
                        // SAFETY: checked above.
                        unsafe { x86::gather_avx512(&mut d, &idx, &val, &src, n, off) };
                        versions.push(("avx512", d));
                    }
                }
                for (name, got) in versions {
                    for (i, (&g, &r)) in got.iter().zip(&want).enumerate() {
                        assert!(
                            (g as f64 - r).abs() <= 1e-5 * (1.0 + r.abs()),
                            "{name}: width {w}, offset {off}, column {i}: {g} vs {r}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    #[should_panic]
    fn a_row_past_the_source_panics_instead_of_reading_out_of_bounds() {
        let src = vec![1.0f32; 4 * 64];
        let mut d = vec![0.0f32; 64];
        gather_sum(&mut d, &[4], &[1.0], &src, 64, 0);
    }
}
