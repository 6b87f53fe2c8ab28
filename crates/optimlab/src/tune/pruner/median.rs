//! The median and percentile pruners (Optuna's `MedianPruner` and `PercentilePruner`).
//!
//! At step `s`, a trial is pruned when its best intermediate value so far is worse than the
//! P-th percentile of the values the COMPLETED trials reported at step `s` (direction aware:
//! when maximising, the (100 − P)-th percentile from below). The median pruner is P = 50.

use super::{Options, PruneContext, Pruner, config, curve_until, is_first_in_interval_step};
use crate::tune::error::Result;
use crate::tune::trial::{Direction, TrialState};

/// Prunes trials below the P-th percentile of the completed trials at the same step.
#[derive(Clone, Debug, PartialEq)]
pub struct PercentilePruner {
    /// P in [0, 100]: 25 keeps the best quarter's company, 50 is the median.
    pub percentile: f64,
    /// No pruning until this many trials have completed.
    pub n_startup_trials: usize,
    /// No pruning before this step.
    pub n_warmup_steps: u64,
    /// Pruning is checked every `interval_steps` steps after the warm-up.
    pub interval_steps: u64,
    /// No pruning at a step where fewer completed trials reported a value.
    pub n_min_trials: usize,
    name: String,
}

const KEYS: &[&str] = &["startup", "warmup", "interval", "min_trials"];

impl PercentilePruner {
    /// Optuna's defaults: 5 start-up trials, no warm-up, every step, one trial at the step.
    pub fn new(percentile: f64) -> Self {
        Self {
            percentile,
            n_startup_trials: 5,
            n_warmup_steps: 0,
            interval_steps: 1,
            n_min_trials: 1,
            name: format!("percentile:{percentile}"),
        }
    }

    /// The median pruner with Optuna's defaults.
    pub fn median() -> Self {
        Self {
            name: "median".into(),
            ..Self::new(50.0)
        }
    }

    /// `median` options: `startup=5,warmup=0,interval=1,min_trials=1`.
    pub fn parse_median(options: Option<&str>) -> Result<Self> {
        Self::median().with_options("median", options)
    }

    /// `percentile:` options: `P[,startup=5,warmup=0,interval=1,min_trials=1]`.
    pub fn parse(options: &str) -> Result<Self> {
        let full = format!("percentile:{options}");
        let (p, rest) = match options.split_once(',') {
            Some((p, rest)) => (p.trim(), Some(rest)),
            None => (options.trim(), None),
        };
        let percentile = p
            .parse::<f64>()
            .ok()
            .filter(|p| (0.0..=100.0).contains(p))
            .ok_or_else(|| {
                config(
                    &full,
                    &format!("the percentile must be a number in [0, 100], got '{p}'"),
                )
            })?;
        Self::new(percentile).with_options(&full, rest)
    }

    fn with_options(mut self, name: &str, options: Option<&str>) -> Result<Self> {
        let o = Options::parse(name, options, KEYS)?;
        self.n_startup_trials = o.u64("startup", self.n_startup_trials as u64, 0)? as usize;
        self.n_warmup_steps = o.u64("warmup", self.n_warmup_steps, 0)?;
        self.interval_steps = o.u64("interval", self.interval_steps, 1)?;
        self.n_min_trials = o.u64("min_trials", self.n_min_trials as u64, 1)? as usize;
        Ok(self)
    }
}

/// NumPy's `percentile` with linear interpolation, over the values that are not NaN
/// (`nanpercentile`); NaN when there are none.
pub(crate) fn nan_percentile(values: &[f64], p: f64) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| !x.is_nan()).collect();
    if v.is_empty() {
        return f64::NAN;
    }
    v.sort_by(f64::total_cmp);
    let rank = p / 100.0 * (v.len() - 1) as f64;
    let lo = rank.floor() as usize;
    let hi = rank.ceil() as usize;
    let frac = rank - lo as f64;
    if lo == hi || v[hi] == v[lo] {
        v[lo]
    } else {
        v[lo] + (v[hi] - v[lo]) * frac
    }
}

impl Pruner for PercentilePruner {
    fn prune(&self, ctx: &PruneContext) -> bool {
        let step = ctx.step;
        if !ctx.trial.intermediate.contains_key(&step) {
            return false;
        }
        let completed: Vec<_> = ctx
            .trials
            .iter()
            .filter(|t| t.state == TrialState::Complete && t.number != ctx.trial.number)
            .collect();
        if completed.is_empty() || completed.len() < self.n_startup_trials {
            return false;
        }
        if step < self.n_warmup_steps
            || !is_first_in_interval_step(ctx.trial, step, self.n_warmup_steps, self.interval_steps)
        {
            return false;
        }
        // The trial's best value so far (NaN only when every value is NaN): pruned.
        let best = curve_until(ctx.trial, step)
            .map(|(_, v)| v)
            .filter(|v| !v.is_nan())
            .reduce(|a, b| if ctx.direction.better(b, a) { b } else { a });
        let Some(best) = best else {
            return true;
        };
        let at_step: Vec<f64> = completed
            .iter()
            .filter_map(|t| t.intermediate.get(&step).copied())
            .collect();
        if at_step.len() < self.n_min_trials {
            return false;
        }
        let p = match ctx.direction {
            Direction::Minimize => self.percentile,
            Direction::Maximize => 100.0 - self.percentile,
        };
        let threshold = nan_percentile(&at_step, p);
        if threshold.is_nan() {
            return false;
        }
        match ctx.direction {
            Direction::Minimize => best > threshold,
            Direction::Maximize => best < threshold,
        }
    }

    fn name(&self) -> &str {
        &self.name
    }
}

#[cfg(test)]
mod tests {
    use super::nan_percentile;

    #[test]
    fn percentile_interpolates_as_numpy() {
        // np.percentile([1, 2, 3, 4], 25) == 1.75; np.nanpercentile ignores NaN.
        assert_eq!(nan_percentile(&[4.0, 1.0, 3.0, 2.0], 25.0), 1.75);
        assert_eq!(nan_percentile(&[1.0, f64::NAN, 3.0], 50.0), 2.0);
        assert_eq!(nan_percentile(&[5.0], 90.0), 5.0);
        assert!(nan_percentile(&[f64::NAN], 50.0).is_nan());
    }
}
