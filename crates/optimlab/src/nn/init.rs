//! Weight initialisation: the scale of the initial weights decides whether activations keep
//! their spread through many layers (the chapter's activation-histogram study).

use crate::preset::Preset;
use crate::tensor::Scalar;
use rand::RngExt;
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

/// How the initial weights `W ~ N(0, σ²)` of a dense layer are scaled. Biases start at zero.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Init {
    /// A fixed σ (the book's `weight_init_std`, e.g. 0.01).
    Std(f64),
    /// The book's "Xavier": σ = √(1/fan_in).
    BookXavier,
    /// Glorot & Bengio: σ = √(2/(fan_in + fan_out)).
    Glorot,
    /// He et al.: σ = √(2/fan_in), for ReLU.
    He,
}

impl Init {
    /// The standard deviation for a layer of the given fan-in and fan-out.
    pub fn std(self, fan_in: usize, fan_out: usize) -> f64 {
        match self {
            Init::Std(s) => s,
            Init::BookXavier => (1.0 / fan_in as f64).sqrt(),
            Init::Glorot => (2.0 / (fan_in + fan_out) as f64).sqrt(),
            Init::He => (2.0 / fan_in as f64).sqrt(),
        }
    }

    /// Parses `he`, `glorot`, `xavier` (the preset's meaning: √(1/n) for `book`, Glorot for
    /// `torch`), `book-xavier`, or a number (a fixed σ).
    pub fn parse(s: &str, preset: Preset) -> Result<Init, String> {
        match s {
            "he" => Ok(Init::He),
            "glorot" => Ok(Init::Glorot),
            "book-xavier" => Ok(Init::BookXavier),
            "xavier" => Ok(match preset {
                Preset::Book => Init::BookXavier,
                Preset::Torch => Init::Glorot,
            }),
            other => match other.parse::<f64>() {
                Ok(v) if v.is_finite() && v > 0.0 => Ok(Init::Std(v)),
                _ => Err(format!(
                    "invalid init '{other}': expected he, xavier, glorot, book-xavier or a positive std"
                )),
            },
        }
    }

    pub fn validate(self) -> Result<(), super::NnError> {
        match self {
            Init::Std(s) if !(s.is_finite() && s > 0.0) => Err(super::NnError::Invalid {
                name: "init std",
                value: s,
                expected: "a finite number > 0",
            }),
            _ => Ok(()),
        }
    }
}

/// Fills `out` with N(0, σ²) samples.
pub fn fill_normal<T: Scalar>(out: &mut [T], std: f64, rng: &mut crate::rng::Rng) {
    for v in out {
        let z: f64 = rng.sample(StandardNormal);
        *v = T::from_f64(z * std);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_follow_their_formulas() {
        assert_eq!(Init::He.std(50, 10), (2.0f64 / 50.0).sqrt());
        assert_eq!(Init::BookXavier.std(100, 10), 0.1);
        assert_eq!(Init::Glorot.std(30, 70), (2.0f64 / 100.0).sqrt());
        assert_eq!(Init::parse("xavier", Preset::Book), Ok(Init::BookXavier));
        assert_eq!(Init::parse("xavier", Preset::Torch), Ok(Init::Glorot));
        assert_eq!(Init::parse("0.01", Preset::Torch), Ok(Init::Std(0.01)));
        assert!(Init::parse("-1", Preset::Torch).is_err());
        assert!(Init::parse("kaiming?", Preset::Torch).is_err());
    }

    #[test]
    fn samples_have_the_requested_spread() {
        let mut rng = crate::rng::stream(1, crate::rng::Purpose::Init);
        let mut w = vec![0.0f64; 20_000];
        fill_normal(&mut w, 0.5, &mut rng);
        let mean = w.iter().sum::<f64>() / w.len() as f64;
        let var = w.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / w.len() as f64;
        assert!(mean.abs() < 0.02, "mean {mean}");
        assert!((var.sqrt() - 0.5).abs() < 0.02, "std {}", var.sqrt());
    }
}
