//! Dense matrices, the GEMM wrapper and the element types.

mod denormal;
mod gemm;
mod matrix;
mod scalar;
mod vector;

pub use denormal::FlushDenormals;
#[cfg(feature = "parallel")]
pub(crate) use denormal::{set_thread_float_mode, thread_float_mode};
pub(crate) use gemm::gemm_views;
pub use gemm::{Op, Threads, gemm, gemm_clock};
pub use matrix::Matrix;
pub use scalar::{DType, Scalar};
#[cfg(test)]
pub(crate) use vector::baseline;
pub(crate) use vector::{prefetch, vectorised};
