//! Per-parameter state: what each rule keeps between steps, and its named form for
//! checkpoints (`"W1.exp_avg"`, `"W1.step"`).

use super::{Optimizer, merged};
use crate::optim::OptimError;
use crate::param::Parameters;
use crate::tensor::Scalar;
use std::collections::BTreeMap;

/// The state an update rule keeps for one parameter: buffers as long as the parameter
/// (named by [`UpdateRule::buffer_names`](crate::optim::UpdateRule::buffer_names)) and scalars (named by [`UpdateRule::scalar_names`](crate::optim::UpdateRule::scalar_names)).
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

impl<T: Scalar> Optimizer<T> {
    /// The state keyed by name (`"W1.exp_avg"`, `"W1.step"`), for checkpoints.
    pub fn state(&self) -> OptimizerState<T> {
        let mut out = OptimizerState::default();
        for ((name, st), hi) in self.names.iter().zip(&self.states).zip(&self.upper) {
            let st = &merged(st, hi.as_ref());
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
        self.upper = states.iter().map(|_| None).collect();
        self.states = states;
        Ok(())
    }
}
