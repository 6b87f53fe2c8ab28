//! Stochastic gradient descent.

use super::{ParamState, StepContext, UpdateRule};
use crate::tensor::{Scalar, vectorised};
use serde::{Deserialize, Serialize};

/// Plain SGD: `W ← W − lr·g`.
///
/// Defaults: none beyond the learning rate (book 0.01, torch.optim.SGD 1e-3).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sgd;

impl<T: Scalar> UpdateRule<T> for Sgd {
    fn name(&self) -> &'static str {
        "sgd"
    }

    fn update(&self, ctx: &StepContext, value: &mut [T], grad: &[T], _: &mut ParamState<T>) {
        let lr = T::from_f64(ctx.lr);
        vectorised(
            #[inline(always)]
            || {
                for (w, &g) in value.iter_mut().zip(grad) {
                    *w -= lr * g;
                }
            },
        );
    }
}
