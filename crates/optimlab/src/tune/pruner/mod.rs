//! Pruners stop unpromising trials early, from the intermediate values (validation metric per
//! epoch) stored with the study's trials — nothing else, so any decision can be recomputed
//! from the storage alone.
//!
//! The semantics are Optuna's (`MedianPruner`/`PercentilePruner`, `ThresholdPruner`,
//! `SuccessiveHalvingPruner`, `HyperbandPruner`); where Optuna keeps state in the storage
//! (ASHA's rung values in system attributes) the same values are recomputed here from the
//! intermediate values.

pub mod hyperband;
pub mod median;
pub mod successive_halving;
pub mod threshold;

use super::error::{Result, TuneError};
use super::trial::{Direction, FrozenTrial};

/// What a pruner sees when trial `trial` has just reported its value at `step`.
pub struct PruneContext<'a> {
    /// Every trial of the study, in number order (the current one included, as stored).
    pub trials: &'a [FrozenTrial],
    /// The trial being judged, with its intermediate values up to `step`.
    pub trial: &'a FrozenTrial,
    pub step: u64,
    pub direction: Direction,
}

pub trait Pruner: Send + Sync {
    /// Whether the trial should stop now.
    fn prune(&self, ctx: &PruneContext) -> bool;

    fn name(&self) -> &str;
}

/// The pruner names `parse` accepts.
pub const NAMES: &str = "none, median, percentile:P, threshold, asha, hyperband";

/// Never prunes.
pub struct NopPruner;

impl Pruner for NopPruner {
    fn prune(&self, _: &PruneContext) -> bool {
        false
    }
    fn name(&self) -> &str {
        "none"
    }
}

/// A pruner from its command-line name, `name` or `name:key=value,…`. `max_resource` is the
/// number of steps (epochs) a full trial reports, which successive halving and Hyperband need
/// (0 = unknown: they then estimate it from the completed trials, as Optuna's `auto` does).
///
/// - `none`
/// - `median[:startup=5,warmup=0,interval=1,min_trials=1]`
/// - `percentile:P[,startup=5,warmup=0,interval=1,min_trials=1]`
/// - `threshold:lower=L,upper=U[,warmup=0,interval=1]` (at least one bound)
/// - `asha[:min_resource=auto,reduction_factor=3,min_early_stopping_rate=0,bootstrap_count=0]`
/// - `hyperband[:min_resource=1,max_resource=auto,reduction_factor=3,bootstrap_count=0,seed=0]`
pub fn parse(name: &str, max_resource: u64) -> Result<Box<dyn Pruner>> {
    let (base, options) = match name.split_once(':') {
        Some((b, o)) => (b, Some(o)),
        None => (name, None),
    };
    let pruner: Box<dyn Pruner> = match (base, options) {
        ("none", None) => Box::new(NopPruner),
        ("median", options) => Box::new(median::PercentilePruner::parse_median(options)?),
        ("percentile", Some(p)) => Box::new(median::PercentilePruner::parse(p)?),
        ("percentile", None) => {
            return Err(TuneError::Config(format!(
                "pruner '{name}' needs a percentile: percentile:P with P in [0, 100], e.g. percentile:25"
            )));
        }
        ("threshold", options) => Box::new(threshold::ThresholdPruner::parse(options)?),
        ("asha", options) => Box::new(successive_halving::SuccessiveHalvingPruner::parse(
            options,
            max_resource,
        )?),
        ("hyperband", options) => {
            Box::new(hyperband::HyperbandPruner::parse(options, max_resource)?)
        }
        _ => {
            return Err(TuneError::Config(format!(
                "unknown pruner '{name}': expected one of {NAMES}"
            )));
        }
    };
    Ok(pruner)
}

/// `key=value` options of one pruner, checked against the keys it knows.
pub(crate) struct Options<'a> {
    pruner: &'a str,
    pairs: Vec<(&'a str, &'a str)>,
}

impl<'a> Options<'a> {
    /// Splits `a=1,b=2`; an empty item, an item without `=`, a repeated key or a key not in
    /// `known` is an error naming the pruner.
    pub(crate) fn parse(pruner: &'a str, text: Option<&'a str>, known: &[&str]) -> Result<Self> {
        let mut pairs: Vec<(&str, &str)> = Vec::new();
        for item in text.unwrap_or("").split(',') {
            let item = item.trim();
            if item.is_empty() {
                if text.is_some_and(|t| !t.trim().is_empty()) {
                    return Err(config(pruner, "has an empty option (two commas?)"));
                }
                continue;
            }
            let Some((k, v)) = item.split_once('=') else {
                return Err(config(
                    pruner,
                    &format!(
                        "option '{item}' is not key=value (options: {})",
                        known.join(", ")
                    ),
                ));
            };
            let (k, v) = (k.trim(), v.trim());
            if !known.contains(&k) {
                return Err(config(
                    pruner,
                    &format!("unknown option '{k}' (options: {})", known.join(", ")),
                ));
            }
            if pairs.iter().any(|(seen, _)| *seen == k) {
                return Err(config(pruner, &format!("option '{k}' is given twice")));
            }
            pairs.push((k, v));
        }
        Ok(Self { pruner, pairs })
    }

    pub(crate) fn raw(&self, key: &str) -> Option<&'a str> {
        self.pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    /// A finite float, or `default` when absent.
    pub(crate) fn f64(&self, key: &str, default: f64) -> Result<f64> {
        match self.raw(key) {
            None => Ok(default),
            Some(v) => v
                .parse::<f64>()
                .ok()
                .filter(|x| x.is_finite())
                .ok_or_else(|| {
                    config(
                        self.pruner,
                        &format!("{key} must be a finite number, got '{v}'"),
                    )
                }),
        }
    }

    /// A whole number ≥ `min`, or `default` when absent.
    pub(crate) fn u64(&self, key: &str, default: u64, min: u64) -> Result<u64> {
        match self.raw(key) {
            None => Ok(default),
            Some(v) => v.parse::<u64>().ok().filter(|x| *x >= min).ok_or_else(|| {
                config(
                    self.pruner,
                    &format!("{key} must be a whole number ≥ {min}, got '{v}'"),
                )
            }),
        }
    }

    /// Like [`Options::u64`], but `auto` (or absence) gives `None`.
    pub(crate) fn u64_or_auto(&self, key: &str, min: u64) -> Result<Option<u64>> {
        match self.raw(key) {
            None | Some("auto") => Ok(None),
            Some(_) => self.u64(key, 0, min).map(Some),
        }
    }
}

/// A configuration error naming the pruner.
pub(crate) fn config(pruner: &str, what: &str) -> TuneError {
    TuneError::Config(format!("pruner '{pruner}': {what}"))
}

/// The trial's intermediate values at steps up to `step` (what it had reported when the
/// decision was made), so a decision recomputed later sees the same curve.
pub(crate) fn curve_until(trial: &FrozenTrial, step: u64) -> impl Iterator<Item = (u64, f64)> {
    trial.intermediate.range(..=step).map(|(s, v)| (*s, *v))
}

/// Optuna's `_is_first_in_interval_step`: with pruning checked every `interval` steps after
/// `warmup`, whether `step` is the first reported step at or after the latest check point.
pub(crate) fn is_first_in_interval_step(
    trial: &FrozenTrial,
    step: u64,
    warmup: u64,
    interval: u64,
) -> bool {
    let nearest_lower = (step - warmup) / interval * interval + warmup;
    match trial.intermediate.range(..step).next_back() {
        Some((previous, _)) => *previous < nearest_lower,
        None => true,
    }
}
