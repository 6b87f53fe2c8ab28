//! Elapsed wall time that also works in a browser.
//!
//! `std::time::Instant::now()` panics on `wasm32-unknown-unknown`, which has no clock without
//! JavaScript. There a [`Stopwatch`] reads zero; the page that hosts the library times runs
//! itself.

/// Measures the wall time since it was started.
#[derive(Clone, Copy, Debug)]
pub struct Stopwatch {
    #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
    started: std::time::Instant,
}

impl Stopwatch {
    pub fn start() -> Self {
        Stopwatch {
            #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
            started: std::time::Instant::now(),
        }
    }

    /// Seconds since [`Stopwatch::start`] (always 0 on `wasm32-unknown-unknown`).
    pub fn seconds(&self) -> f64 {
        #[cfg(not(all(target_arch = "wasm32", target_os = "unknown")))]
        {
            self.started.elapsed().as_secs_f64()
        }
        #[cfg(all(target_arch = "wasm32", target_os = "unknown"))]
        {
            0.0
        }
    }
}
