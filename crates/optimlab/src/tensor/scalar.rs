//! The element types the maths is generic over: `f32` (the PyTorch preset's) and `f64` (the book's).

use std::fmt::{Debug, Display};

/// A floating-point element type usable in every kernel, layer and optimizer.
///
/// Coefficients that do not depend on the data (learning rates, bias corrections, …) are computed
/// in `f64` and converted once with [`Scalar::from_f64`], as PyTorch does with Python floats.
pub trait Scalar:
    faer::traits::RealField
    + num_traits::Float
    + Copy
    + Default
    + Debug
    + Display
    + Send
    + Sync
    + 'static
{
    /// `"f32"` or `"f64"`, as spelled on the command line and in checkpoints.
    const NAME: &'static str;
    fn from_f64(v: f64) -> Self;
    fn as_f64(self) -> f64;
    /// Lossless for counts up to 2^24 (f32) / 2^53 (f64), which bounds every batch size here.
    fn from_usize(v: usize) -> Self {
        Self::from_f64(v as f64)
    }
}

impl Scalar for f32 {
    const NAME: &'static str = "f32";
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    #[inline(always)]
    fn as_f64(self) -> f64 {
        self as f64
    }
}

impl Scalar for f64 {
    const NAME: &'static str = "f64";
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v
    }
    #[inline(always)]
    fn as_f64(self) -> f64 {
        self
    }
}

/// The element type chosen at run time (`--dtype`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    F32,
    F64,
}

impl DType {
    /// Bytes per element.
    pub fn bytes(self) -> usize {
        match self {
            DType::F32 => 4,
            DType::F64 => 8,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
        }
    }
}

impl std::str::FromStr for DType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "f32" => Ok(DType::F32),
            "f64" => Ok(DType::F64),
            other => Err(format!("unknown dtype '{other}' (expected f32 or f64)")),
        }
    }
}
