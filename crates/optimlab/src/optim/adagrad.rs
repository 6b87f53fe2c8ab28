//! AdaGrad (Duchi et al. 2011), as torch.optim.Adagrad.

use super::check::{non_negative, positive};
use super::{OptimError, ParamState, StepContext, UpdateRule};
use crate::tensor::{Scalar, vectorised};
use serde::{Deserialize, Serialize};

/// AdaGrad: `h ← h + g²;  W ← W − lr_t·g / (√h + ε)` with `lr_t = lr / (1 + (t−1)·lr_decay)`
/// and `h` starting at `initial_accumulator_value`.
///
/// The book's AdaGrad is this formula with ε 1e-7 (lr 0.01). Defaults (torch): lr 1e-2,
/// lr_decay 0, initial_accumulator_value 0, ε 1e-10.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Adagrad {
    pub eps: f64,
    pub lr_decay: f64,
    pub initial_accumulator_value: f64,
}

impl Default for Adagrad {
    fn default() -> Self {
        Adagrad {
            eps: 1e-10,
            lr_decay: 0.0,
            initial_accumulator_value: 0.0,
        }
    }
}

impl Adagrad {
    /// The book's AdaGrad: ε 1e-7.
    pub fn book() -> Self {
        Adagrad {
            eps: 1e-7,
            ..Default::default()
        }
    }

    pub fn validate(&self) -> Result<(), OptimError> {
        positive("eps", self.eps)?;
        non_negative("lr_decay", self.lr_decay)?;
        non_negative("initial_accumulator_value", self.initial_accumulator_value)
    }
}

impl<T: Scalar> UpdateRule<T> for Adagrad {
    fn name(&self) -> &'static str {
        "adagrad"
    }

    fn buffer_names(&self) -> &'static [&'static str] {
        &["sum"]
    }

    fn init_state(&self, len: usize) -> ParamState<T> {
        let h0 = T::from_f64(self.initial_accumulator_value);
        ParamState {
            step: 0,
            buffers: vec![vec![h0; len]],
            scalars: vec![],
        }
    }

    fn update(&self, ctx: &StepContext, value: &mut [T], grad: &[T], state: &mut ParamState<T>) {
        let clr = T::from_f64(ctx.lr / (1.0 + (ctx.t - 1) as f64 * self.lr_decay));
        let eps = T::from_f64(self.eps);
        vectorised(
            #[inline(always)]
            || {
                for ((w, &g), h) in value.iter_mut().zip(grad).zip(state.buffers[0].iter_mut()) {
                    *h += g * g;
                    *w -= clr * g / (h.sqrt() + eps);
                }
            },
        );
    }
}
