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
