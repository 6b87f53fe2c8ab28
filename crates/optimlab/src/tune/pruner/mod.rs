//! Pruners stop unpromising trials early, from the intermediate values (validation metric per
//! epoch) stored with the study's trials — nothing else, so any decision can be recomputed
//! from the storage alone.

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

/// A pruner from its command-line name. `max_resource` is the number of steps (epochs) a full
/// trial reports, which successive halving and Hyperband need.
pub fn parse(name: &str, max_resource: u64) -> Result<Box<dyn Pruner>> {
    let (base, options) = match name.split_once(':') {
        Some((b, o)) => (b, Some(o)),
        None => (name, None),
    };
    let pruner: Box<dyn Pruner> = match (base, options) {
        ("none", None) => Box::new(NopPruner),
        ("median", None) => Box::new(median::PercentilePruner::median()),
        ("percentile", Some(p)) => Box::new(median::PercentilePruner::parse(p)?),
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
