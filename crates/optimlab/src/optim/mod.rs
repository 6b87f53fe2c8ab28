//! Parameter update rules, weight decay, gradient clipping, parameter groups and schedules.
//!
//! An [`Optimizer`] combines one [`UpdateRule`] (the maths of SGD, Adam, …, one file each) with
//! the pieces every rule shares: weight decay ([`WeightDecay`]), parameter groups, gradient
//! clipping and the per-parameter state, which is readable and restorable by name.

mod adadelta;
mod adagrad;
mod adam;
mod check;
mod config;
mod flavour;
mod lion;
mod momentum;
mod nadam;
mod name;
mod optimizer;
mod radam;
mod rmsprop;
pub mod schedule;
mod sgd;

pub use optimizer::{
    Clip, Optimizer, OptimizerState, ParamGroup, ParamState, Select, StepContext, WeightDecay,
};
pub use sgd::Sgd;

pub use adadelta::Adadelta;
pub use adagrad::Adagrad;
pub use adam::{Adam, adamw};
pub use config::{OptimizerConfig, ResolvedOptimizer, Rule};
pub use flavour::Flavour;
pub use lion::Lion;
pub use momentum::{Momentum, MomentumKind};
pub use nadam::NAdam;
pub use name::OptimizerName;
pub use radam::RAdam;
pub use rmsprop::RmsProp;
pub use schedule::{Schedule, ScheduleError, Scheduler};

use crate::tensor::Scalar;

/// `base^exp` from the pure-Rust `libm`, identical on every platform: the platform's `pow`
/// (glibc natively, another in wasm32) can differ in the last bit, and an update rule's bias
/// correction would then move a path computed in the browser off the command line's.
pub(crate) fn pow(base: f64, exp: f64) -> f64 {
    libm::pow(base, exp)
}

/// Errors from building or stepping an optimizer or schedule.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum OptimError {
    #[error("invalid {name} = {value}: expected {expected}")]
    Invalid {
        name: &'static str,
        value: f64,
        expected: &'static str,
    },
    #[error("unknown optimizer '{0}' (expected one of: {list})", list = crate::optim::OPTIMIZER_NAMES.join(", "))]
    UnknownOptimizer(String),
    #[error("parameter order changed: expected '{expected}', found '{found}'")]
    ParamMismatch { expected: String, found: String },
    #[error("optimizer state has no entry '{0}'")]
    MissingState(String),
    /// A 2-D trajectory longer than [`crate::experiments::trajectory::MAX_STEPS`].
    #[error("{steps} steps would need {} to record the path, above the limit of {max} steps", crate::nn::human_bytes(*.steps as u128 * 24))]
    TooManySteps { steps: usize, max: usize },
    #[error("optimizer state '{key}' has {found} elements, the parameter has {expected}")]
    StateShape {
        key: String,
        expected: usize,
        found: usize,
    },
}

/// Every optimizer name the command line and configs accept (as [`OptimizerName::ALL`] spells
/// them).
pub const OPTIMIZER_NAMES: &[&str] = &[
    "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw", "amsgrad", "nadam",
    "radam", "adadelta", "lion",
];

/// The maths of one optimizer: how one parameter moves given its gradient and its state.
///
/// Weight decay, clipping, parameter groups and schedules are applied by [`Optimizer`] around
/// the rule, so a rule's `update` reads like its formula.
pub trait UpdateRule<T: Scalar>: Send + Sync {
    /// Lower-case name, as on the command line.
    fn name(&self) -> &'static str;
    /// Names of the per-parameter buffers (each as long as the parameter), in state order.
    fn buffer_names(&self) -> &'static [&'static str] {
        &[]
    }
    /// Names of the per-parameter scalar states, in state order.
    fn scalar_names(&self) -> &'static [&'static str] {
        &[]
    }
    /// Fresh state for a parameter of `len` elements (zeros unless the rule says otherwise).
    fn init_state(&self, len: usize) -> ParamState<T> {
        ParamState {
            step: 0,
            buffers: vec![vec![T::zero(); len]; self.buffer_names().len()],
            scalars: vec![0.0; self.scalar_names().len()],
        }
    }
    /// One update of one parameter. `state.step == ctx.t` has already been incremented.
    fn update(&self, ctx: &StepContext, value: &mut [T], grad: &[T], state: &mut ParamState<T>);
}

#[cfg(test)]
mod vector_tests {
    use super::*;
    use crate::tensor::baseline;

    fn rules<T: Scalar>() -> Vec<Box<dyn UpdateRule<T>>> {
        vec![
            Box::new(Sgd),
            Box::new(Momentum::default()),
            Box::new(Momentum::new(0.9, MomentumKind::Nesterov, Flavour::Torch)),
            Box::new(Momentum::new(0.9, MomentumKind::Classic, Flavour::Book)),
            Box::new(Momentum::new(0.9, MomentumKind::Nesterov, Flavour::Book)),
            Box::new(Adagrad::default()),
            Box::new(RmsProp::default()),
            Box::new(RmsProp {
                momentum: 0.9,
                centered: true,
                ..Default::default()
            }),
            Box::new(Adam::default()),
            Box::new(Adam::book()),
            Box::new(Adam::amsgrad()),
            Box::new(NAdam::default()),
            Box::new(RAdam::default()),
            Box::new(Adadelta::default()),
            Box::new(Lion::default()),
        ]
    }

    /// Every rule's vectorised pass (AVX-512 or AVX2 where the CPU has it) gives the same bits
    /// as its baseline build, over enough steps to reach RAdam's rectified branch.
    fn same_bits<T: Scalar>() {
        let n = 1037; // not a multiple of any vector width: the tails run too
        let grad = |t: usize| -> Vec<T> {
            (0..n)
                .map(|i| T::from_f64(((i * 7 + t * 13) as f64 * 0.37).sin() * 1e-2))
                .collect()
        };
        for rule in rules::<T>() {
            let w0: Vec<T> = (0..n)
                .map(|i| T::from_f64((i as f64 * 0.11).cos()))
                .collect();
            let (mut wa, mut wb) = (w0.clone(), w0);
            let (mut sa, mut sb) = (rule.init_state(n), rule.init_state(n));
            for t in 1..=8u64 {
                let ctx = StepContext { lr: 1e-2, t };
                let g = grad(t as usize);
                rule.update(&ctx, &mut wa, &g, &mut sa);
                baseline(|| rule.update(&ctx, &mut wb, &g, &mut sb));
            }
            let bits = |v: &[T]| v.iter().map(|x| x.as_f64().to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&wa), bits(&wb), "{} weights", rule.name());
            for (a, b) in sa.buffers.iter().zip(&sb.buffers) {
                assert_eq!(bits(a), bits(b), "{} state", rule.name());
            }
        }
    }

    #[test]
    fn vectorised_updates_round_as_the_baseline() {
        same_bits::<f32>();
        same_bits::<f64>();
    }
}
