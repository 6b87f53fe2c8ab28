//! Flushing of subnormal floats to zero, for the duration of a scope.
//!
//! Subnormal numbers (below 1.2e-38 in f32) are handled by slow microcode on x86: an Adam state
//! `v ≈ g²` of a tiny gradient can make the update several times slower. Flushing them to zero
//! changes values only below that threshold, which no training result depends on
//! (`torch.set_flush_denormal(True)` does the same). The mode belongs to the thread, so a
//! library must not leave it changed: [`FlushDenormals`] restores it when dropped.

use std::marker::PhantomData;

/// MXCSR bit 15: flush-to-zero; bit 6: denormals-are-zero.
#[cfg(target_arch = "x86_64")]
const FTZ_DAZ: u32 = 0x8040;

/// Sets flush-to-zero and denormals-are-zero on the current thread (x86-64; elsewhere
/// nothing) while it lives, and puts the previous MXCSR value back when dropped.
#[must_use = "the previous mode comes back as soon as the guard is dropped"]
pub struct FlushDenormals {
    #[cfg(target_arch = "x86_64")]
    previous: u32,
    /// MXCSR is per thread: the guard must be dropped on the thread that made it.
    _not_send: PhantomData<*const ()>,
}

impl FlushDenormals {
    // No `Default`: making a guard changes the thread's state, which a default value should not.
    #[allow(clippy::new_without_default)]
    pub fn new() -> Self {
        #[cfg(target_arch = "x86_64")]
        {
            let previous = mxcsr::get();
            mxcsr::set(previous | FTZ_DAZ);
            Self {
                previous,
                _not_send: PhantomData,
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        {
            Self {
                _not_send: PhantomData,
            }
        }
    }

    /// Whether flushing takes effect on this architecture.
    pub fn supported() -> bool {
        cfg!(target_arch = "x86_64")
    }
}

impl Drop for FlushDenormals {
    fn drop(&mut self) {
        #[cfg(target_arch = "x86_64")]
        mxcsr::set(self.previous);
    }
}

/// The calling thread's floating-point mode (MXCSR on x86-64; 0 elsewhere), so that work
/// handed to another thread runs with the same subnormal handling (and so the same bits).
#[cfg(feature = "parallel")]
pub(crate) fn thread_float_mode() -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        mxcsr::get()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        0
    }
}

/// Sets the calling thread's floating-point mode to one read by [`thread_float_mode`].
#[cfg(feature = "parallel")]
pub(crate) fn set_thread_float_mode(mode: u32) {
    #[cfg(target_arch = "x86_64")]
    mxcsr::set(mode);
    #[cfg(not(target_arch = "x86_64"))]
    let _ = mode;
}

#[cfg(target_arch = "x86_64")]
mod mxcsr {
    // The intrinsics are deprecated in favour of inline assembly, but do exactly this; SSE2 is
    // baseline on x86-64, so they are always available.
    #[allow(deprecated)]
    pub(super) fn get() -> u32 {
        // SAFETY: reading MXCSR has no preconditions.
        unsafe { std::arch::x86_64::_mm_getcsr() }
    }

    #[allow(deprecated)]
    pub(super) fn set(value: u32) {
        // SAFETY: callers only toggle the FTZ/DAZ bits of a value read from MXCSR.
        unsafe { std::arch::x86_64::_mm_setcsr(value) }
    }
}

#[cfg(test)]
mod tests {
    use super::FlushDenormals;

    fn product_of_tiny() -> f32 {
        std::hint::black_box(1e-30f32) * std::hint::black_box(1e-10f32)
    }

    #[test]
    fn subnormals_become_zero_inside_the_guard_only() {
        // A fresh thread, so that other tests' mode does not matter.
        std::thread::spawn(|| {
            assert!(product_of_tiny() > 0.0, "subnormal by default");
            {
                let _guard = FlushDenormals::new();
                if FlushDenormals::supported() {
                    assert_eq!(product_of_tiny(), 0.0);
                }
            }
            assert!(product_of_tiny() > 0.0, "the default mode is back");
        })
        .join()
        .unwrap();
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_previous_mode_is_restored_exactly() {
        use super::{FTZ_DAZ, mxcsr};
        std::thread::spawn(|| {
            let before = mxcsr::get();
            assert_eq!(before & FTZ_DAZ, 0);
            {
                let _outer = FlushDenormals::new();
                assert_eq!(mxcsr::get() & FTZ_DAZ, FTZ_DAZ);
                {
                    // Nested: the inner guard restores the outer one's mode, not the default.
                    let _inner = FlushDenormals::new();
                }
                assert_eq!(mxcsr::get() & FTZ_DAZ, FTZ_DAZ);
            }
            assert_eq!(mxcsr::get(), before);
        })
        .join()
        .unwrap();
    }
}
