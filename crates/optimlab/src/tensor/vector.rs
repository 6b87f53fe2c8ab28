//! Element-wise passes compiled for the widest vector unit the CPU has.
//!
//! The crate targets baseline x86-64 (SSE2: two f64 or four f32 per instruction). [`vectorised`]
//! runs a closure through a copy of itself compiled for AVX-512 or AVX2 when the CPU has them,
//! so the loops inlined into it process 8/16 (4/8) elements per instruction. Nothing here uses
//! FMA or approximate instructions: every element rounds exactly as in the baseline build, so a
//! result does not depend on the machine (the scalar loops stay the reference; tests compare).

/// Runs `f`, compiled for AVX-512F or AVX2 when the CPU supports them (x86-64 only).
///
/// Mark the closure `#[inline(always)]` (otherwise LLVM may keep it as a separate function
/// compiled for the baseline: Adam's pass measured 156 µs instead of 45); loops in it should
/// be plain slice loops or `#[inline(always)]` helpers, since anything it calls out of line
/// runs as compiled for the baseline.
#[inline(always)]
pub(crate) fn vectorised<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(test)]
    if BASELINE.get() {
        return f();
    }
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the CPU supports AVX-512F (checked above).
            return unsafe { run_avx512(f) };
        }
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2 (checked above).
            return unsafe { run_avx2(f) };
        }
    }
    f()
}

#[cfg(test)]
thread_local! {
    static BASELINE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `f` with every [`vectorised`] pass in it compiled for the baseline, the reference
/// the vector builds are compared with.
#[cfg(test)]
pub(crate) fn baseline<R>(f: impl FnOnce() -> R) -> R {
    BASELINE.set(true);
    let r = f();
    BASELINE.set(false);
    r
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn run_avx512<R>(f: impl FnOnce() -> R) -> R {
    f()
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn run_avx2<R>(f: impl FnOnce() -> R) -> R {
    f()
}

/// Asks the CPU to start loading `bytes` bytes at `ptr` into its caches (a hint: no effect on
/// results, and a no-op off x86-64). Used to fetch the next row of a gather while copying this
/// one: rows of a random mini-batch are far apart, so the hardware prefetcher cannot guess them.
#[inline(always)]
pub(crate) fn prefetch<T>(row: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let bytes = std::mem::size_of_val(row);
        let p = row.as_ptr().cast::<i8>();
        let mut offset = 0;
        while offset < bytes {
            // SAFETY: a prefetch never faults, and `p + offset` stays inside `row`.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.add(offset)) };
            offset += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = row;
}
