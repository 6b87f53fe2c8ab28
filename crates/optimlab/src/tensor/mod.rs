//! Dense matrices, the GEMM wrapper and the element types.

mod denormal;
mod gemm;
mod matrix;
mod scalar;

pub use denormal::FlushDenormals;
pub use gemm::{Op, Threads, gemm};
pub use matrix::Matrix;
pub use scalar::{DType, Scalar};
