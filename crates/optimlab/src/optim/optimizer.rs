//! The optimizer: one update rule plus what every rule shares.

use super::{OptimError, UpdateRule};
use crate::param::{ParamKind, ParamMut, Parameters};
use crate::tensor::Scalar;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

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
}

/// Gradient clipping, applied to all gradients before any update.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "max")]
pub enum Clip {
    /// Scale all gradients by `max / (‖g‖₂ + 1e-6)` when the global L2 norm exceeds `max`
    /// (`torch.nn.utils.clip_grad_norm_`).
    Norm(f64),
    /// Clamp every gradient element to `[−max, max]` (`torch.nn.utils.clip_grad_value_`).
    Value(f64),
}

/// Which parameters a [`ParamGroup`] applies to.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Select {
    Kinds(Vec<ParamKind>),
    Names(Vec<String>),
}

impl Select {
    fn matches(&self, name: &str, kind: ParamKind) -> bool {
        match self {
            Select::Kinds(kinds) => kinds.contains(&kind),
            Select::Names(names) => names.iter().any(|n| n == name),
        }
    }
}

/// Per-group overrides, like torch.optim's param groups. The first group that selects a
/// parameter applies; parameters no group selects use the optimizer's own settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ParamGroup {
    pub select: Select,
    /// Multiplies the learning rate for these parameters.
    #[serde(default = "one")]
    pub lr_scale: f64,
    /// Replaces the optimizer's weight decay for these parameters.
    #[serde(default)]
    pub weight_decay: Option<WeightDecay>,
}

fn one() -> f64 {
    1.0
}

impl ParamGroup {
    /// The usual group: no weight decay on biases and batch-norm parameters.
    pub fn no_decay_on_bias_and_norm() -> Self {
        ParamGroup {
            select: Select::Kinds(vec![
                ParamKind::Bias,
                ParamKind::NormScale,
                ParamKind::NormShift,
            ]),
            lr_scale: 1.0,
            weight_decay: Some(WeightDecay::None),
        }
    }
}

/// What an update rule sees of the step it is asked to make.
#[derive(Clone, Copy, Debug)]
pub struct StepContext {
    /// Learning rate for this parameter (schedule and group scale applied).
    pub lr: f64,
    /// How many updates this parameter has had, this one included (1 on the first update).
    pub t: u64,
}

/// The state an update rule keeps for one parameter: buffers as long as the parameter
/// (named by [`UpdateRule::buffer_names`]) and scalars (named by [`UpdateRule::scalar_names`]).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ParamState<T> {
    pub step: u64,
    pub buffers: Vec<Vec<T>>,
    pub scalars: Vec<f64>,
}

/// Optimizer state keyed by name: `"W1.exp_avg"` → tensor, `"W1.step"` → scalar.
/// This is what checkpoints store.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct OptimizerState<T> {
    pub tensors: BTreeMap<String, Vec<T>>,
    pub scalars: BTreeMap<String, f64>,
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
            if !(g.lr_scale.is_finite() && g.lr_scale >= 0.0) {
                return Err(OptimError::Invalid {
                    name: "lr_scale",
                    value: g.lr_scale,
                    expected: "a finite number ≥ 0",
                });
            }
            if let Some(wd) = g.weight_decay {
                check_weight_decay(wd)?;
            }
        }
        self.groups = groups;
        Ok(self)
    }

    pub fn with_clip(mut self, clip: Option<Clip>) -> Result<Self, OptimError> {
        if let Some(Clip::Norm(m) | Clip::Value(m)) = clip
            && !(m.is_finite() && m > 0.0)
        {
            return Err(OptimError::Invalid {
                name: "clip",
                value: m,
                expected: "a finite number > 0",
            });
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
        let norm = match self.clip {
            Some(Clip::Norm(max)) => {
                let mut sq = 0.0f64;
                params.visit_params(&mut |p| {
                    sq += p.grad.iter().map(|g| g.as_f64() * g.as_f64()).sum::<f64>();
                });
                let total = sq.sqrt();
                let coef = max / (total + 1e-6);
                if coef < 1.0 {
                    let c = T::from_f64(coef);
                    params.visit_params(&mut |p| p.grad.iter_mut().for_each(|g| *g *= c));
                }
                Some(total)
            }
            Some(Clip::Value(max)) => {
                let (lo, hi) = (T::from_f64(-max), T::from_f64(max));
                params
                    .visit_params(&mut |p| p.grad.iter_mut().for_each(|g| *g = g.max(lo).min(hi)));
                None
            }
            None => None,
        };

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
            match wd {
                WeightDecay::None => {}
                WeightDecay::L2(l) => {
                    let l = T::from_f64(l);
                    for (g, &w) in p.grad.iter_mut().zip(p.value.iter()) {
                        *g += l * w;
                    }
                }
                WeightDecay::Decoupled(l) => {
                    let keep = T::from_f64(1.0 - p_lr * l);
                    p.value.iter_mut().for_each(|w| *w *= keep);
                }
            }
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

    /// The state keyed by name (`"W1.exp_avg"`, `"W1.step"`), for checkpoints.
    pub fn state(&self) -> OptimizerState<T> {
        let mut out = OptimizerState::default();
        for (name, st) in self.names.iter().zip(&self.states) {
            out.scalars.insert(format!("{name}.step"), st.step as f64);
            for (bn, buf) in self.rule.buffer_names().iter().zip(&st.buffers) {
                out.tensors.insert(format!("{name}.{bn}"), buf.clone());
            }
            for (sn, v) in self.rule.scalar_names().iter().zip(&st.scalars) {
                out.scalars.insert(format!("{name}.{sn}"), *v);
            }
        }
        out
    }

    /// Restores state saved by [`Optimizer::state`] for the parameters of `params`.
    /// Every expected entry must be present with the right length.
    pub fn load_state(
        &mut self,
        params: &mut dyn Parameters<T>,
        saved: &OptimizerState<T>,
    ) -> Result<(), OptimError> {
        let mut names = Vec::new();
        let mut states = Vec::new();
        let mut error = None;
        let rule = self.rule.as_ref();
        params.visit_params(&mut |p| {
            if error.is_some() {
                return;
            }
            let name = p.name;
            let mut st = rule.init_state(p.value.len());
            let result = (|| {
                let step = *saved
                    .scalars
                    .get(&format!("{name}.step"))
                    .ok_or_else(|| OptimError::MissingState(format!("{name}.step")))?;
                st.step = step as u64;
                for (bn, buf) in rule.buffer_names().iter().zip(st.buffers.iter_mut()) {
                    let key = format!("{name}.{bn}");
                    let v = saved
                        .tensors
                        .get(&key)
                        .ok_or_else(|| OptimError::MissingState(key.clone()))?;
                    if v.len() != buf.len() {
                        return Err(OptimError::StateShape {
                            key,
                            expected: buf.len(),
                            found: v.len(),
                        });
                    }
                    buf.copy_from_slice(v);
                }
                for (sn, s) in rule.scalar_names().iter().zip(st.scalars.iter_mut()) {
                    let key = format!("{name}.{sn}");
                    *s = *saved
                        .scalars
                        .get(&key)
                        .ok_or_else(|| OptimError::MissingState(key.clone()))?;
                }
                Ok(())
            })();
            match result {
                Ok(()) => {
                    names.push(name.to_string());
                    states.push(st);
                }
                Err(e) => error = Some(e),
            }
        });
        if let Some(e) = error {
            return Err(e);
        }
        self.names = names;
        self.states = states;
        Ok(())
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

fn check_weight_decay(wd: WeightDecay) -> Result<(), OptimError> {
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
