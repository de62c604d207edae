//! Runtime dispatch of a kernel body to an AVX2/FMA build of it on x86-64.

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

/// `dst[i] = sum_e val[e] * src[idx[e] * n + off + i]` for `i < dst.len()` (overwrites `dst`).
///
/// Columns are taken in register-sized blocks (128, then 16, then one at a time), so each
/// block of `dst` stays in registers while all selected rows of `src` stream through.
#[inline(always)]
pub(crate) fn gather_sum(
    dst: &mut [f32],
    idx: &[i32],
    val: &[f32],
    src: &[f32],
    n: usize,
    off: usize,
) {
    #[inline(always)]
    fn block<const C: usize>(
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
    let w = dst.len();
    let mut c = 0;
    while c + 128 <= w {
        block::<128>(&mut dst[c..], idx, val, src, n, off + c);
        c += 128;
    }
    while c + 16 <= w {
        block::<16>(&mut dst[c..], idx, val, src, n, off + c);
        c += 16;
    }
    while c < w {
        block::<1>(&mut dst[c..], idx, val, src, n, off + c);
        c += 1;
    }
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
