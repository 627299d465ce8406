//! The build targets baseline x86-64 (SSE2), so one binary runs on every x86 CPU; plain
//! loops are vectorised four lanes wide, and widening a byte or a half to a float takes
//! several instructions per lane. [`widest`] runs a closure compiled again for the widest
//! vectors the CPU has (AVX-512, else AVX2 with FMA), picked at run time. The closure and
//! what it calls must inline (`#[inline(always)]`) for the features to reach their loops.

/// Calls `f` inside a function compiled for the CPU's widest vectors.
#[inline(always)]
pub(crate) fn widest<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx512f") && is_x86_feature_detected!("avx512bw") {
            // SAFETY: the features it was compiled for are present.
            return unsafe { avx512(f) };
        }
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: as above.
            return unsafe { avx2(f) };
        }
    }
    f()
}

/// Calls `f` inside a function compiled for 256-bit vectors (AVX2 with FMA) where the CPU
/// has them. For loops bound by memory, where the width only has to keep up: 256 bits is
/// what GCC and Clang pick for Skylake-SP and later by default (prefer-vector-width), so
/// these loops are the code BabelStream's `-march=native` build runs.
#[inline(always)]
pub(crate) fn wide256<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
            // SAFETY: the features it was compiled for are present.
            return unsafe { avx2(f) };
        }
    }
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
fn avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}
