//! The one matrix-multiply entry point, over faer.
//!
//! Transposed operands are faer views of the same row-major storage: nothing is copied.

use super::{Matrix, Scalar};
use faer::{Accum, MatMut, MatRef};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// How many threads a GEMM may use. One by default: at the shapes of these networks two threads
/// gain little and collapse when the other core is busy; parallelise across runs instead.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Threads(pub usize);

impl Default for Threads {
    fn default() -> Self {
        Threads(1)
    }
}

/// Products with fewer multiply-adds than this run on one thread even when more are allowed:
/// below it, splitting the work costs more than it saves (measured on the book workload,
/// where every product but the first layer's is under it).
#[cfg(feature = "parallel")]
const PARALLEL_MIN_MACS: usize = 4 << 20;

impl Threads {
    fn par(self, macs: usize) -> faer::Par {
        #[cfg(feature = "parallel")]
        if self.0 > 1 && macs >= PARALLEL_MIN_MACS {
            return faer::Par::rayon(self.0);
        }
        // Without the `parallel` feature every product runs on the calling thread.
        let _ = macs;
        faer::Par::Seq
    }
}

/// Whether an operand enters the product as stored or transposed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    N,
    T,
}

/// `dst = alpha · op(a) · op(b)` (`accumulate == false`) or `dst += alpha · op(a) · op(b)`.
///
/// `dst` must already have the product's shape; a mismatch is a programming error (layers
/// check shapes at their boundaries and report them as typed errors).
// The argument list mirrors BLAS's gemm (operands, transposes, α, β, threads).
#[allow(clippy::too_many_arguments)]
pub fn gemm<T: Scalar>(
    dst: &mut Matrix<T>,
    a: &Matrix<T>,
    op_a: Op,
    b: &Matrix<T>,
    op_b: Op,
    alpha: T,
    accumulate: bool,
    threads: Threads,
) {
    let av = a.view();
    let bv = b.view();
    let av = if op_a == Op::T { av.transpose() } else { av };
    let bv = if op_b == Op::T { bv.transpose() } else { bv };
    assert_eq!(
        (dst.rows(), dst.cols(), av.ncols()),
        (av.nrows(), bv.ncols(), bv.nrows()),
        "gemm shape mismatch"
    );
    gemm_views(dst.view_mut(), av, bv, alpha, accumulate, threads);
}

/// [`gemm`] on faer views (row blocks of a batch, transposes already applied).
pub(crate) fn gemm_views<T: Scalar>(
    dst: MatMut<'_, T>,
    a: MatRef<'_, T>,
    b: MatRef<'_, T>,
    alpha: T,
    accumulate: bool,
    threads: Threads,
) {
    let accum = if accumulate {
        Accum::Add
    } else {
        Accum::Replace
    };
    let macs = a.nrows() * a.ncols() * b.ncols();
    faer::linalg::matmul::matmul(dst, accum, a, b, alpha, threads.par(macs));
    clear_upper_vector_state();
}

static CLOCK_ON: AtomicBool = AtomicBool::new(false);
static CLOCK_NANOS: AtomicU64 = AtomicU64::new(0);

/// Wall time spent in GEMM sections, for `optimlab bench`'s GEMM share of a step. Off by
/// default: then [`gemm_clock::timed`] costs one relaxed load.
pub mod gemm_clock {
    use super::*;

    /// Starts (or stops) accumulating the time of [`timed`] sections.
    pub fn enable(on: bool) {
        CLOCK_ON.store(on, Ordering::Relaxed);
    }

    /// The time accumulated since the last call, in nanoseconds.
    pub fn take_nanos() -> u64 {
        CLOCK_NANOS.swap(0, Ordering::Relaxed)
    }

    /// Runs `f`, adding its wall time to the clock when the clock is on. Callers wrap a whole
    /// GEMM section (all shards of a batch split), so time is counted once per section.
    #[inline]
    pub fn timed<R>(f: impl FnOnce() -> R) -> R {
        if !CLOCK_ON.load(Ordering::Relaxed) {
            return f();
        }
        let t0 = std::time::Instant::now();
        let r = f();
        CLOCK_NANOS.fetch_add(t0.elapsed().as_nanos() as u64, Ordering::Relaxed);
        r
    }
}

/// faer's kernels run in AVX/AVX-512 and may return with the upper halves of the vector
/// registers dirty. The rest of the crate is compiled for baseline SSE, and SSE instructions
/// (including libm's `exp`) after dirty AVX state pay a large transition penalty: measured
/// here, a 10 µs softmax took 300 µs right after a GEMM. `vzeroupper` clears that state.
#[inline]
fn clear_upper_vector_state() {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx") {
            // SAFETY: the CPU supports AVX (checked above); vzeroupper only clears the
            // upper halves of vector registers, which hold nothing live between calls.
            unsafe { zero_upper() }
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx")]
unsafe fn zero_upper() {
    std::arch::x86_64::_mm256_zeroupper();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                for p in 0..k {
                    c[i * n + j] += a[i * k + p] * b[p * n + j];
                }
            }
        }
        c
    }

    fn transpose(x: &[f64], r: usize, c: usize) -> Vec<f64> {
        let mut t = vec![0.0; r * c];
        for i in 0..r {
            for j in 0..c {
                t[j * r + i] = x[i * c + j];
            }
        }
        t
    }

    #[test]
    fn all_transpose_combinations_match_naive_product() {
        let (m, k, n) = (5, 7, 3);
        let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.11).cos()).collect();
        let want = naive(&a, &b, m, k, n);
        for (op_a, op_b) in [
            (Op::N, Op::N),
            (Op::T, Op::N),
            (Op::N, Op::T),
            (Op::T, Op::T),
        ] {
            let am = if op_a == Op::T {
                Matrix::<f64>::from_vec(k, m, transpose(&a, m, k)).unwrap()
            } else {
                Matrix::from_vec(m, k, a.clone()).unwrap()
            };
            let bm = if op_b == Op::T {
                Matrix::<f64>::from_vec(n, k, transpose(&b, k, n)).unwrap()
            } else {
                Matrix::from_vec(k, n, b.clone()).unwrap()
            };
            let mut c = Matrix::from_vec(m, n, vec![1.0; m * n]).unwrap();
            gemm(&mut c, &am, op_a, &bm, op_b, 2.0, true, Threads(1));
            for (got, w) in c.as_slice().iter().zip(&want) {
                assert!((got - (1.0 + 2.0 * w)).abs() < 1e-12, "{op_a:?} {op_b:?}");
            }
        }
    }
}
