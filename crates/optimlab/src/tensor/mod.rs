//! Dense matrices, the GEMM wrapper and the element types.

mod denormal;
mod gemm;
mod matrix;
mod scalar;

pub use denormal::FlushDenormals;
#[cfg(feature = "parallel")]
pub(crate) use denormal::{set_thread_float_mode, thread_float_mode};
pub(crate) use gemm::gemm_views;
pub use gemm::{Op, Threads, gemm, gemm_clock};
pub use matrix::Matrix;
pub use scalar::{DType, Scalar};
