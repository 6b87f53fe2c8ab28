//! SGD with momentum, classic or Nesterov, in the book's or PyTorch's form.

use super::check::{closed_unit, unit};
use super::{Flavour, OptimError, ParamState, StepContext, UpdateRule};
use crate::tensor::{Scalar, vectorised};
use serde::{Deserialize, Serialize};

/// Classic (heavy-ball) or Nesterov momentum.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MomentumKind {
    #[default]
    Classic,
    Nesterov,
}

/// SGD with momentum `α` (one velocity buffer per parameter).
///
/// Book form (`Flavour::Book`, velocity `v` starts at 0, `dampening` must be 0):
/// - classic: `v ← α·v − lr·g;  W ← W + v`
/// - Nesterov: `W ← W + α²·v − (1+α)·lr·g;  v ← α·v − lr·g` (the update uses the old `v`)
///
/// PyTorch form (`Flavour::Torch`, `torch.optim.SGD`, dampening `d`):
/// - `b ← g` on the first step, else `b ← α·b + (1−d)·g`
/// - classic: `W ← W − lr·b`;  Nesterov: `W ← W − lr·(g + α·b)` (needs `α > 0`, `d = 0`)
///
/// Defaults: α 0.9, d 0 (book: lr 0.01; torch: lr 1e-3).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Momentum {
    pub momentum: f64,
    pub dampening: f64,
    pub kind: MomentumKind,
    pub flavour: Flavour,
}

impl Default for Momentum {
    fn default() -> Self {
        Momentum {
            momentum: 0.9,
            dampening: 0.0,
            kind: MomentumKind::Classic,
            flavour: Flavour::Torch,
        }
    }
}

impl Momentum {
    pub fn new(momentum: f64, kind: MomentumKind, flavour: Flavour) -> Self {
        Momentum {
            momentum,
            kind,
            flavour,
            ..Default::default()
        }
    }

    pub fn validate(&self) -> Result<(), OptimError> {
        unit("momentum", self.momentum)?;
        closed_unit("dampening", self.dampening)?;
        let needs_zero = self.flavour == Flavour::Book || self.kind == MomentumKind::Nesterov;
        if needs_zero && self.dampening != 0.0 {
            return Err(OptimError::Invalid {
                name: "dampening",
                value: self.dampening,
                expected: "0 (the book's momentum and Nesterov momentum have no dampening)",
            });
        }
        if self.kind == MomentumKind::Nesterov && self.momentum <= 0.0 {
            return Err(OptimError::Invalid {
                name: "momentum",
                value: self.momentum,
                expected: "a number in (0, 1) for Nesterov momentum",
            });
        }
        Ok(())
    }
}

impl<T: Scalar> UpdateRule<T> for Momentum {
    fn name(&self) -> &'static str {
        match self.kind {
            MomentumKind::Classic => "momentum",
            MomentumKind::Nesterov => "nesterov",
        }
    }

    fn buffer_names(&self) -> &'static [&'static str] {
        match self.flavour {
            Flavour::Book => &["velocity"],
            Flavour::Torch => &["momentum_buffer"],
        }
    }

    fn update(&self, ctx: &StepContext, value: &mut [T], grad: &[T], state: &mut ParamState<T>) {
        let lr = T::from_f64(ctx.lr);
        let a = T::from_f64(self.momentum);
        let buf = &mut state.buffers[0];
        vectorised(
            #[inline(always)]
            || match (self.flavour, self.kind) {
                (Flavour::Book, MomentumKind::Classic) => {
                    for ((w, &g), v) in value.iter_mut().zip(grad).zip(buf.iter_mut()) {
                        *v = a * *v - lr * g;
                        *w += *v;
                    }
                }
                (Flavour::Book, MomentumKind::Nesterov) => {
                    let (a2, lr1) = (a * a, T::from_f64((1.0 + self.momentum) * ctx.lr));
                    for ((w, &g), v) in value.iter_mut().zip(grad).zip(buf.iter_mut()) {
                        *w += a2 * *v - lr1 * g;
                        *v = a * *v - lr * g;
                    }
                }
                (Flavour::Torch, kind) => {
                    let keep = T::from_f64(1.0 - self.dampening);
                    let first = ctx.t == 1;
                    for ((w, &g), b) in value.iter_mut().zip(grad).zip(buf.iter_mut()) {
                        *b = if first { g } else { a * *b + keep * g };
                        let d = match kind {
                            MomentumKind::Classic => *b,
                            MomentumKind::Nesterov => g + a * *b,
                        };
                        *w -= lr * d;
                    }
                }
            },
        );
    }
}
