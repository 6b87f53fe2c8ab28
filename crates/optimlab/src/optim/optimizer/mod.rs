//! The optimizer: one update rule plus what every rule shares: weight decay ([`decay`]),
//! clipping ([`clip`]), parameter groups ([`groups`]) and per-parameter state ([`state`]).

mod clip;
mod decay;
mod groups;
mod state;

pub use clip::Clip;
pub use decay::WeightDecay;
pub use groups::{ParamGroup, Select};
pub use state::{OptimizerState, ParamState};

use super::{OptimError, UpdateRule};
use crate::param::{ParamMut, Parameters};
use crate::tensor::Scalar;
use decay::check_weight_decay;

/// What an update rule sees of the step it is asked to make.
#[derive(Clone, Copy, Debug)]
pub struct StepContext {
    /// Learning rate for this parameter (schedule and group scale applied).
    pub lr: f64,
    /// How many updates this parameter has had, this one included (1 on the first update).
    pub t: u64,
}

/// An update rule with weight decay, parameter groups, clipping and per-parameter state.
pub struct Optimizer<T: Scalar> {
    rule: Box<dyn UpdateRule<T>>,
    /// Base learning rate; schedules set it between steps.
    pub lr: f64,
    pub weight_decay: WeightDecay,
    pub groups: Vec<ParamGroup>,
    pub clip: Option<Clip>,
    names: Vec<String>,
    states: Vec<ParamState<T>>,
}

impl<T: Scalar> Optimizer<T> {
    pub fn new(rule: Box<dyn UpdateRule<T>>, lr: f64) -> Result<Self, OptimError> {
        check_lr(lr)?;
        Ok(Self {
            rule,
            lr,
            weight_decay: WeightDecay::None,
            groups: Vec::new(),
            clip: None,
            names: Vec::new(),
            states: Vec::new(),
        })
    }

    pub fn with_weight_decay(mut self, wd: WeightDecay) -> Result<Self, OptimError> {
        check_weight_decay(wd)?;
        self.weight_decay = wd;
        Ok(self)
    }

    pub fn with_groups(mut self, groups: Vec<ParamGroup>) -> Result<Self, OptimError> {
        for g in &groups {
            g.check()?;
        }
        self.groups = groups;
        Ok(self)
    }

    pub fn with_clip(mut self, clip: Option<Clip>) -> Result<Self, OptimError> {
        if let Some(c) = clip {
            c.check()?;
        }
        self.clip = clip;
        Ok(self)
    }

    /// Sets the learning rate (e.g. from a schedule).
    pub fn set_lr(&mut self, lr: f64) -> Result<(), OptimError> {
        check_lr(lr)?;
        self.lr = lr;
        Ok(())
    }

    pub fn rule(&self) -> &dyn UpdateRule<T> {
        self.rule.as_ref()
    }

    /// Applies one update to every parameter, using (and possibly modifying: clipping, L2)
    /// the gradients the parameters hold. Returns the global gradient L2 norm before clipping
    /// when clipping by norm, else `None`.
    pub fn step(&mut self, params: &mut dyn Parameters<T>) -> Result<Option<f64>, OptimError> {
        let norm = self.clip.and_then(|c| c.apply(params));

        let mut error = None;
        let mut index = 0usize;
        let Self {
            rule,
            lr,
            weight_decay,
            groups,
            names,
            states,
            ..
        } = self;
        params.visit_params(&mut |p: ParamMut<'_, T>| {
            if error.is_some() {
                return;
            }
            if index == names.len() {
                // First sight of this parameter: create its state.
                names.push(p.name.to_string());
                states.push(rule.init_state(p.value.len()));
            } else if names[index] != p.name
                || states[index]
                    .buffers
                    .iter()
                    .any(|b| b.len() != p.value.len())
            {
                error = Some(OptimError::ParamMismatch {
                    expected: names[index].clone(),
                    found: p.name.to_string(),
                });
                return;
            }
            let group = groups.iter().find(|g| g.select.matches(p.name, p.kind));
            let p_lr = *lr * group.map_or(1.0, |g| g.lr_scale);
            let wd = group.and_then(|g| g.weight_decay).unwrap_or(*weight_decay);
            wd.apply(p_lr, p.value, p.grad);
            let state = &mut states[index];
            state.step += 1;
            let ctx = StepContext {
                lr: p_lr,
                t: state.step,
            };
            rule.update(&ctx, p.value, p.grad, state);
            index += 1;
        });
        match error {
            Some(e) => Err(e),
            None => Ok(norm),
        }
    }
}

pub(crate) fn check_lr(lr: f64) -> Result<(), OptimError> {
    if lr.is_finite() && lr >= 0.0 {
        Ok(())
    } else {
        Err(OptimError::Invalid {
            name: "lr",
            value: lr,
            expected: "a finite number ≥ 0",
        })
    }
}
