//! Which reference an update rule reproduces when the book's code and PyTorch differ.

use serde::{Deserialize, Serialize};

/// The form of an update rule whose book and PyTorch versions differ (momentum, Nesterov, Adam).
///
/// Rules whose book version is PyTorch's formula with other defaults (AdaGrad, RMSprop) have no
/// flavour: the book preset only changes their defaults.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flavour {
    /// The book's reference code (`common/optimizer.py`).
    Book,
    /// torch.optim's single-tensor code path.
    #[default]
    Torch,
}

impl Flavour {
    pub fn name(self) -> &'static str {
        match self {
            Flavour::Book => "book",
            Flavour::Torch => "torch",
        }
    }
}

impl std::str::FromStr for Flavour {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "book" => Ok(Flavour::Book),
            "torch" => Ok(Flavour::Torch),
            other => Err(format!(
                "unknown flavour '{other}' (expected book or torch)"
            )),
        }
    }
}

impl From<crate::Preset> for Flavour {
    fn from(p: crate::Preset) -> Self {
        match p {
            crate::Preset::Book => Flavour::Book,
            crate::Preset::Torch => Flavour::Torch,
        }
    }
}
