//! Flushing of subnormal floats to zero.
//!
//! Subnormal numbers (below 1.2e-38 in f32) are handled by slow microcode on x86: an Adam state
//! `v ≈ g²` of a tiny gradient can make the update several times slower. Flushing them to zero
//! changes values only below that threshold, which no training result depends on
//! (`torch.set_flush_denormal(True)` does the same).

/// Sets flush-to-zero and denormals-are-zero for the calling thread (x86-64; elsewhere a
/// no-op). Returns whether the mode is supported here.
pub fn flush_denormals() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        // MXCSR bit 15: flush-to-zero; bit 6: denormals-are-zero. SSE2 is baseline on x86-64.
        #[allow(deprecated)]
        unsafe {
            use std::arch::x86_64::{_mm_getcsr, _mm_setcsr};
            _mm_setcsr(_mm_getcsr() | 0x8040);
        }
        true
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn subnormals_become_zero_on_this_thread() {
        // Run on a fresh thread so other tests keep the default mode.
        std::thread::spawn(|| {
            let tiny = std::hint::black_box(1e-30f32);
            assert!(
                tiny * std::hint::black_box(1e-10f32) > 0.0,
                "subnormal by default"
            );
            if super::flush_denormals() {
                let tiny = std::hint::black_box(1e-30f32);
                assert_eq!(tiny * std::hint::black_box(1e-10f32), 0.0);
            }
        })
        .join()
        .unwrap();
    }
}
