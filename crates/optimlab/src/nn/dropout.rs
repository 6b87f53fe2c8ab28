//! Dropout (Srivastava et al.): in training, zero each activation with probability `p`.

use super::{Layer, Mode, NnError};
use crate::preset::Preset;
use crate::rng::Rng;
use crate::tensor::{Matrix, Scalar};
use rand::RngExt;
use serde::{Deserialize, Serialize};

/// How the expected activation is kept equal between training and evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DropoutStyle {
    /// The book's: train `x·mask`, evaluate `x·(1 − p)`.
    Book,
    /// PyTorch's: train `x·mask/(1 − p)`, evaluate `x`.
    Inverted,
}

impl DropoutStyle {
    pub fn preset(preset: Preset) -> Self {
        match preset {
            Preset::Book => DropoutStyle::Book,
            Preset::Torch => DropoutStyle::Inverted,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct DropoutConfig {
    /// Probability of dropping an activation, in [0, 1).
    pub p: f64,
    pub style: DropoutStyle,
}

impl DropoutConfig {
    pub fn validate(&self) -> Result<(), NnError> {
        if (0.0..1.0).contains(&self.p) {
            Ok(())
        } else {
            Err(NnError::Invalid {
                name: "dropout p",
                value: self.p,
                expected: "a probability in [0, 1)",
            })
        }
    }
}

/// Keeps an element when a uniform draw exceeds `p` (the book's `rand > ratio`); the mask
/// holds the factor each element is multiplied by (0, or 1 / 1/(1−p)).
pub struct Dropout<T> {
    config: DropoutConfig,
    rng: Rng,
    mask: Matrix<T>,
    out: Matrix<T>,
    dx: Matrix<T>,
    freeze_mask: bool,
}

impl<T: Scalar> Dropout<T> {
    pub fn new(config: DropoutConfig, rng: Rng) -> Self {
        Self {
            config,
            rng,
            mask: Matrix::default(),
            out: Matrix::default(),
            dx: Matrix::default(),
            freeze_mask: false,
        }
    }
}

impl<T: Scalar> Layer<T> for Dropout<T> {
    fn describe(&self) -> String {
        format!("Dropout({})", self.config.p)
    }

    fn output_features(&self, input: usize) -> Result<usize, NnError> {
        Ok(input)
    }

    fn forward(&mut self, x: &Matrix<T>, mode: Mode) {
        self.out.resize(x.rows(), x.cols());
        let p = self.config.p;
        match mode {
            Mode::Train => {
                let reuse = self.freeze_mask && self.mask.shape() == x.shape();
                if !reuse {
                    self.mask.resize(x.rows(), x.cols());
                    let keep = T::from_f64(match self.config.style {
                        DropoutStyle::Book => 1.0,
                        DropoutStyle::Inverted => 1.0 / (1.0 - p),
                    });
                    for m in self.mask.as_mut_slice() {
                        let u: f64 = self.rng.random();
                        *m = if u > p { keep } else { T::zero() };
                    }
                }
                for ((o, &v), &m) in self
                    .out
                    .as_mut_slice()
                    .iter_mut()
                    .zip(x.as_slice())
                    .zip(self.mask.as_slice())
                {
                    *o = v * m;
                }
            }
            Mode::Eval => {
                let scale = T::from_f64(match self.config.style {
                    DropoutStyle::Book => 1.0 - p,
                    DropoutStyle::Inverted => 1.0,
                });
                for (o, &v) in self.out.as_mut_slice().iter_mut().zip(x.as_slice()) {
                    *o = v * scale;
                }
            }
        }
    }

    fn output(&self) -> &Matrix<T> {
        &self.out
    }

    fn backward(&mut self, _x: &Matrix<T>, dout: &Matrix<T>, need_input_grad: bool) {
        if !need_input_grad {
            return;
        }
        self.dx.resize(dout.rows(), dout.cols());
        for ((d, &g), &m) in self
            .dx
            .as_mut_slice()
            .iter_mut()
            .zip(dout.as_slice())
            .zip(self.mask.as_slice())
        {
            *d = g * m;
        }
    }

    fn input_grad(&self) -> &Matrix<T> {
        &self.dx
    }

    fn rng_mut(&mut self) -> Option<&mut Rng> {
        Some(&mut self.rng)
    }

    fn freeze_dropout_mask(&mut self, freeze: bool) {
        self.freeze_mask = freeze;
    }
}
