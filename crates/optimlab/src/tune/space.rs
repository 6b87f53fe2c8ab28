//! The search space: named parameters with distributions, some active only when earlier
//! parameters take given values (conditional parameters, e.g. momentum only for momentum SGD).

use super::distribution::{Distribution, ParamValue};
use super::trial::Params;

/// One searched parameter.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSpec {
    pub name: String,
    pub dist: Distribution,
    /// Active only when each named (earlier) parameter takes one of the listed values.
    pub when: Vec<(String, Vec<ParamValue>)>,
}

/// Parameters in the order they are sampled (a condition refers only to earlier ones).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Space {
    pub params: Vec<ParamSpec>,
}

impl Space {
    pub fn get(&self, name: &str) -> Option<&ParamSpec> {
        self.params.iter().find(|p| p.name == name)
    }

    /// Whether `spec` is active given the internal values assigned so far.
    pub fn is_active(&self, spec: &ParamSpec, assigned: &Params) -> bool {
        spec.when.iter().all(|(parent, allowed)| {
            let Some(parent_spec) = self.get(parent) else {
                return false;
            };
            match assigned.get(parent) {
                Some(v) => allowed.contains(&parent_spec.dist.to_external(*v)),
                None => false,
            }
        })
    }
}
