//! The two presets: `book` reproduces the book's reference code, `torch` behaves like PyTorch.
//!
//! A preset only fills defaults; every choice it makes can also be set on its own.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// The book's reference code: f64, ε 1e-7, non-inverted dropout, BN ε 1e-6, …
    Book,
    /// PyTorch's defaults: f32, torch.optim's hyperparameters, inverted dropout, …
    #[default]
    Torch,
}

impl Preset {
    pub fn name(self) -> &'static str {
        match self {
            Preset::Book => "book",
            Preset::Torch => "torch",
        }
    }

    /// The element type the preset trains in.
    pub fn dtype(self) -> crate::tensor::DType {
        match self {
            Preset::Book => crate::tensor::DType::F64,
            Preset::Torch => crate::tensor::DType::F32,
        }
    }
}

impl std::str::FromStr for Preset {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "book" => Ok(Preset::Book),
            "torch" => Ok(Preset::Torch),
            other => Err(format!("unknown preset '{other}' (expected book or torch)")),
        }
    }
}
