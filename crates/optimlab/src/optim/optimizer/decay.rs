//! Weight decay: coupled (L2, into the gradient) or decoupled (into the weights), applied
//! before the update rule so every rule gets it the same way.

use crate::optim::OptimError;
use crate::tensor::Scalar;
use serde::{Deserialize, Serialize};

/// Weight decay, as PyTorch's optimizers apply it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "lambda")]
pub enum WeightDecay {
    #[default]
    None,
    /// Coupled L2: `g ← g + λ·w` before the rule (torch.optim's `weight_decay` in SGD, Adam, …).
    L2(f64),
    /// Decoupled: `w ← w · (1 − lr·λ)` before the rule (AdamW, Lion; Loshchilov & Hutter).
    Decoupled(f64),
}

impl WeightDecay {
    pub fn lambda(self) -> f64 {
        match self {
            WeightDecay::None => 0.0,
            WeightDecay::L2(l) | WeightDecay::Decoupled(l) => l,
        }
    }

    /// Decays one parameter whose learning rate is `lr`: into `grad` (L2) or `value`
    /// (decoupled).
    pub(super) fn apply<T: Scalar>(self, lr: f64, value: &mut [T], grad: &mut [T]) {
        match self {
            WeightDecay::None => {}
            WeightDecay::L2(l) => {
                let l = T::from_f64(l);
                for (g, &w) in grad.iter_mut().zip(value.iter()) {
                    *g += l * w;
                }
            }
            WeightDecay::Decoupled(l) => {
                let keep = T::from_f64(1.0 - lr * l);
                value.iter_mut().for_each(|w| *w *= keep);
            }
        }
    }
}

pub(super) fn check_weight_decay(wd: WeightDecay) -> Result<(), OptimError> {
    let l = wd.lambda();
    if l.is_finite() && l >= 0.0 {
        Ok(())
    } else {
        Err(OptimError::Invalid {
            name: "weight_decay",
            value: l,
            expected: "a finite number ≥ 0",
        })
    }
}
