//! Asynchronous successive halving (Optuna's `SuccessiveHalvingPruner`, ASHA).
//!
//! Rung k sits at step `min_resource · η^(k + s)` (η the reduction factor, s the minimum
//! early-stopping rate). When a trial first reports a step at or past a rung, its value there
//! is compared with the values of every trial that has reached that rung (the trial itself
//! included): it continues only if it is within the best ⌊n/η⌋ of the n (at least the best
//! one), else it is pruned. Optuna writes each trial's rung values into system attributes;
//! here a trial's value at a rung is recomputed as its intermediate value at the first step it
//! reported at or past the rung, which is the value Optuna stores.

use super::{Options, PruneContext, Pruner, config};
use crate::tune::error::Result;
use crate::tune::trial::{Direction, FrozenTrial, TrialState};

/// ASHA with Optuna's defaults (η = 3, s = 0, no bootstrap).
#[derive(Clone, Debug, PartialEq)]
pub struct SuccessiveHalvingPruner {
    /// The step of the first rung (with s = 0). `None`: Optuna's estimate, the last step of
    /// the longest completed trial / 100 (at least 1); no pruning until a trial completes.
    pub min_resource: Option<u64>,
    /// η ≥ 2: the fraction 1/η of the trials at a rung goes on.
    pub reduction_factor: u64,
    /// s: the first rung is at `min_resource · η^s`.
    pub min_early_stopping_rate: u64,
    /// A trial is pruned at a rung that fewer than `bootstrap_count + 1` trials have reached
    /// (Optuna's `bootstrap_count`; 0 disables it).
    pub bootstrap_count: u64,
}

const KEYS: &[&str] = &[
    "min_resource",
    "reduction_factor",
    "min_early_stopping_rate",
    "bootstrap_count",
];

impl Default for SuccessiveHalvingPruner {
    fn default() -> Self {
        Self {
            min_resource: None,
            reduction_factor: 3,
            min_early_stopping_rate: 0,
            bootstrap_count: 0,
        }
    }
}

impl SuccessiveHalvingPruner {
    /// `min_resource=auto,reduction_factor=3,min_early_stopping_rate=0,bootstrap_count=0`.
    /// With `min_resource=auto` and a known `max_resource` (> 0 steps per full trial), the first
    /// rung is at max(1, max_resource / 100), which is what Optuna's estimate gives once a full
    /// trial has completed; with `max_resource` 0 (unknown) Optuna's estimate is used.
    pub fn parse(options: Option<&str>, max_resource: u64) -> Result<Self> {
        let name = match options {
            Some(o) => format!("asha:{o}"),
            None => "asha".to_string(),
        };
        let o = Options::parse(&name, options, KEYS)?;
        let min_resource = match o.u64_or_auto("min_resource", 1)? {
            Some(m) => Some(m),
            None if max_resource > 0 => Some((max_resource / 100).max(1)),
            None => None,
        };
        let pruner = Self {
            min_resource,
            reduction_factor: o.u64("reduction_factor", 3, 2)?,
            min_early_stopping_rate: o.u64("min_early_stopping_rate", 0, 0)?,
            bootstrap_count: o.u64("bootstrap_count", 0, 0)?,
        };
        if pruner.min_resource.is_some() && pruner.rung_step(0).is_none() {
            return Err(config(&name, "the first rung's step overflows"));
        }
        Ok(pruner)
    }

    /// The step of rung `k` (`None` past u64).
    fn rung_step_with(&self, min_resource: u64, k: u64) -> Option<u64> {
        let exp = u32::try_from(k.checked_add(self.min_early_stopping_rate)?).ok()?;
        min_resource.checked_mul(self.reduction_factor.checked_pow(exp)?)
    }

    fn rung_step(&self, k: u64) -> Option<u64> {
        self.rung_step_with(self.min_resource?, k)
    }

    /// The decision for `ctx` with the competition limited to the trials `compete` accepts
    /// (Hyperband: the trials of the same bracket).
    pub(crate) fn prune_among(
        &self,
        ctx: &PruneContext,
        compete: impl Fn(&FrozenTrial) -> bool,
    ) -> bool {
        let step = ctx.step;
        let Some(&value) = ctx.trial.intermediate.get(&step) else {
            return false;
        };
        let min_resource = match self.min_resource {
            Some(m) => m,
            None => match estimate_min_resource(ctx.trials) {
                Some(m) => m,
                None => return false,
            },
        };
        // Rungs passed at earlier reports were already decided (the trial went on).
        let previous = ctx
            .trial
            .intermediate
            .range(..step)
            .next_back()
            .map(|(s, _)| *s);
        let mut rung = 0u64;
        if let Some(previous) = previous {
            while self
                .rung_step_with(min_resource, rung)
                .is_some_and(|r| r <= previous)
            {
                rung += 1;
            }
        }
        let others: Vec<&FrozenTrial> = ctx
            .trials
            .iter()
            .filter(|t| t.number != ctx.trial.number && compete(t))
            .collect();
        loop {
            let Some(rung_step) = self.rung_step_with(min_resource, rung) else {
                return false;
            };
            if step < rung_step {
                return false;
            }
            if value.is_nan() {
                return true;
            }
            let mut competing: Vec<f64> = others
                .iter()
                .filter_map(|t| value_at_rung(t, rung_step))
                .collect();
            competing.push(value);
            if competing.len() as u64 <= self.bootstrap_count {
                return true;
            }
            if !promotable(value, competing, self.reduction_factor, ctx.direction) {
                return true;
            }
            rung += 1;
        }
    }
}

/// A trial's value at the rung at `rung_step`: its value at the first step it reported at or
/// past the rung (NaN values, which Optuna never records, count as not reached).
pub(crate) fn value_at_rung(trial: &FrozenTrial, rung_step: u64) -> Option<f64> {
    trial
        .intermediate
        .range(rung_step..)
        .next()
        .map(|(_, v)| *v)
        .filter(|v| !v.is_nan())
}

/// Optuna's `_is_trial_promotable_to_next_rung`: within the best ⌊n/η⌋ (at least the best).
fn promotable(value: f64, mut competing: Vec<f64>, eta: u64, direction: Direction) -> bool {
    let index = (competing.len() / eta as usize).saturating_sub(1);
    competing.sort_by(f64::total_cmp);
    match direction {
        Direction::Minimize => value <= competing[index],
        Direction::Maximize => value >= competing[competing.len() - 1 - index],
    }
}

/// Optuna's `_estimate_min_resource`: the last step of the longest completed trial / 100.
pub(crate) fn estimate_min_resource(trials: &[FrozenTrial]) -> Option<u64> {
    trials
        .iter()
        .filter(|t| t.state == TrialState::Complete)
        .filter_map(|t| t.intermediate.keys().next_back().copied())
        .max()
        .map(|last| (last / 100).max(1))
}

impl Pruner for SuccessiveHalvingPruner {
    fn prune(&self, ctx: &PruneContext) -> bool {
        self.prune_among(ctx, |_| true)
    }

    fn name(&self) -> &str {
        "asha"
    }
}
