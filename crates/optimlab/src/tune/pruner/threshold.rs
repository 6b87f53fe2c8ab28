//! The threshold pruner (Optuna's `ThresholdPruner`): prunes a trial whose latest
//! intermediate value leaves [lower, upper], and any trial that reports NaN or ±∞ (a diverged
//! run). Optuna prunes NaN but lets ±∞ through when the bound on that side is unset; here ∞
//! is never a useful metric value. As in Optuna, at least one bound must be given: without
//! one the pruner would almost never act (a diverged trial fails on its own).

use super::{Options, PruneContext, Pruner, config, is_first_in_interval_step};
use crate::tune::error::Result;

/// Prunes values outside [lower, upper] and non-finite values.
#[derive(Clone, Debug, PartialEq)]
pub struct ThresholdPruner {
    /// Values below are pruned (−∞: no lower bound).
    pub lower: f64,
    /// Values above are pruned (+∞: no upper bound).
    pub upper: f64,
    /// No pruning before this step.
    pub n_warmup_steps: u64,
    /// Checked every `interval_steps` steps after the warm-up.
    pub interval_steps: u64,
}

const KEYS: &[&str] = &["lower", "upper", "warmup", "interval"];

impl ThresholdPruner {
    /// Bounds; `lower ≤ upper` is the caller's to keep (`parse` checks it).
    pub fn new(lower: f64, upper: f64) -> Self {
        Self {
            lower,
            upper,
            n_warmup_steps: 0,
            interval_steps: 1,
        }
    }

    /// `lower=L,upper=U,warmup=0,interval=1` (each optional).
    pub fn parse(options: Option<&str>) -> Result<Self> {
        let name = match options {
            Some(o) => format!("threshold:{o}"),
            None => "threshold".to_string(),
        };
        let o = Options::parse(&name, options, KEYS)?;
        let lower = o.f64("lower", f64::NEG_INFINITY)?;
        let upper = o.f64("upper", f64::INFINITY)?;
        if lower == f64::NEG_INFINITY && upper == f64::INFINITY {
            return Err(config(
                &name,
                "give a bound: lower=L, upper=U or both (e.g. threshold:lower=0.5)",
            ));
        }
        if lower > upper {
            return Err(config(
                &name,
                &format!("lower ({lower}) is above upper ({upper})"),
            ));
        }
        Ok(Self {
            lower,
            upper,
            n_warmup_steps: o.u64("warmup", 0, 0)?,
            interval_steps: o.u64("interval", 1, 1)?,
        })
    }
}

impl Pruner for ThresholdPruner {
    fn prune(&self, ctx: &PruneContext) -> bool {
        let step = ctx.step;
        let Some(&value) = ctx.trial.intermediate.get(&step) else {
            return false;
        };
        if step < self.n_warmup_steps
            || !is_first_in_interval_step(ctx.trial, step, self.n_warmup_steps, self.interval_steps)
        {
            return false;
        }
        !value.is_finite() || value < self.lower || value > self.upper
    }

    fn name(&self) -> &str {
        "threshold"
    }
}
