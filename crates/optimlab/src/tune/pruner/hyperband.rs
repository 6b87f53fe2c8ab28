//! Hyperband (Optuna's `HyperbandPruner`): several successive-halving brackets run side by
//! side, bracket i with minimum early-stopping rate i, so some trials are judged early and
//! often and others late — a hedge against pruning slow starters.
//!
//! n_brackets = ⌊log_η(max_resource / min_resource)⌋ + 1 (computed exactly in integers, where
//! Optuna's floating-point logarithm can round 243/1 with η = 3 down to 4 brackets). Each
//! trial belongs to one bracket, chosen by a seeded hash of its number weighted by each
//! bracket's budget ⌈n_brackets · η^s / (s + 1)⌉, s = n_brackets − 1 − i (Optuna hashes the
//! study name with the number; the number alone keeps the choice a function of what is
//! stored). A trial competes only with the trials of its own bracket.

use super::successive_halving::SuccessiveHalvingPruner;
use super::{Options, PruneContext, Pruner, config};
use crate::tune::error::Result;
use crate::tune::trial::{FrozenTrial, TrialState};

/// Hyperband over successive-halving brackets.
#[derive(Clone, Debug, PartialEq)]
pub struct HyperbandPruner {
    /// The first rung's step in bracket 0.
    pub min_resource: u64,
    /// Steps of a full trial; `None`: the last step of the longest completed trial + 1, as
    /// Optuna's `auto` (no pruning until a trial completes).
    pub max_resource: Option<u64>,
    /// η ≥ 2.
    pub reduction_factor: u64,
    /// Passed to each bracket (Optuna's `bootstrap_count`).
    pub bootstrap_count: u64,
    /// Mixed into the bracket hash.
    pub seed: u64,
}

const KEYS: &[&str] = &[
    "min_resource",
    "max_resource",
    "reduction_factor",
    "bootstrap_count",
    "seed",
];

impl HyperbandPruner {
    /// `min_resource=1,max_resource=auto,reduction_factor=3,bootstrap_count=0,seed=0`; `auto`
    /// takes `max_resource` from the caller (the epochs of a full trial) when it is > 0.
    pub fn parse(options: Option<&str>, max_resource: u64) -> Result<Self> {
        let name = match options {
            Some(o) => format!("hyperband:{o}"),
            None => "hyperband".to_string(),
        };
        let o = Options::parse(&name, options, KEYS)?;
        let min_resource = o.u64("min_resource", 1, 1)?;
        let max_resource = match o.u64_or_auto("max_resource", 1)? {
            Some(m) => Some(m),
            None => (max_resource > 0).then_some(max_resource),
        };
        if let Some(max) = max_resource
            && max < min_resource
        {
            return Err(config(
                &name,
                &format!("max_resource ({max}) is below min_resource ({min_resource})"),
            ));
        }
        Ok(Self {
            min_resource,
            max_resource,
            reduction_factor: o.u64("reduction_factor", 3, 2)?,
            bootstrap_count: o.u64("bootstrap_count", 0, 0)?,
            seed: o.u64("seed", 0, 0)?,
        })
    }

    /// ⌊log_η(max / min)⌋ + 1: the number of k ≥ 0 with min · η^k ≤ max.
    pub fn n_brackets(&self, max_resource: u64) -> u64 {
        let mut n = 0;
        let mut r = Some(self.min_resource);
        while let Some(step) = r.filter(|s| *s <= max_resource) {
            n += 1;
            r = step.checked_mul(self.reduction_factor);
        }
        n.max(1)
    }

    /// Each bracket's share of trials, ⌈n · η^s / (s + 1)⌉ with s = n − 1 − i.
    pub fn budgets(&self, n_brackets: u64) -> Vec<u64> {
        (0..n_brackets)
            .map(|i| {
                let s = n_brackets - 1 - i;
                let top =
                    (n_brackets as u128) * (self.reduction_factor as u128).saturating_pow(s as u32);
                top.div_ceil(s as u128 + 1).min(u64::MAX as u128 / 64) as u64
            })
            .collect()
    }

    /// The bracket of trial `number` among `n_brackets`.
    pub fn bracket(&self, number: u64, n_brackets: u64) -> u64 {
        let budgets = self.budgets(n_brackets);
        let total: u64 = budgets.iter().sum();
        let mut n = splitmix64(number ^ splitmix64(self.seed)) % total;
        for (i, b) in budgets.iter().enumerate() {
            if n < *b {
                return i as u64;
            }
            n -= b;
        }
        n_brackets - 1
    }

    fn resolved_max(&self, trials: &[FrozenTrial]) -> Option<u64> {
        self.max_resource.or_else(|| {
            trials
                .iter()
                .filter(|t| t.state == TrialState::Complete)
                .filter_map(|t| t.intermediate.keys().next_back())
                .max()
                .map(|last| last + 1)
        })
    }
}

/// SplitMix64's output function: a well-mixed 64-bit hash.
fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Pruner for HyperbandPruner {
    fn prune(&self, ctx: &PruneContext) -> bool {
        let Some(max_resource) = self.resolved_max(ctx.trials) else {
            return false;
        };
        let n_brackets = self.n_brackets(max_resource.max(self.min_resource));
        let bracket = self.bracket(ctx.trial.number, n_brackets);
        let asha = SuccessiveHalvingPruner {
            min_resource: Some(self.min_resource),
            reduction_factor: self.reduction_factor,
            min_early_stopping_rate: bracket,
            bootstrap_count: self.bootstrap_count,
        };
        asha.prune_among(ctx, |t| self.bracket(t.number, n_brackets) == bracket)
    }

    fn name(&self) -> &str {
        "hyperband"
    }
}
