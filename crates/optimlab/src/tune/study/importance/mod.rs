//! Parameter importance: how much each parameter matters to the objective value, from the
//! trials of a study. Three evaluators:
//!
//! - [`PedAnova`] (the default, as in Optuna 5): how much each parameter's distribution in the
//!   best 10 % of the trials differs from its distribution in all of them;
//! - [`Fanova`]: the share of a random forest's prediction variance each parameter explains;
//! - [`Evaluator::Anova`]: a one-way analysis of variance per parameter (see [`anova`]).
//!
//! PED-ANOVA and fANOVA follow Optuna's implementations step for step, so
//! `optuna.importance.get_param_importances(study, evaluator=…)` gives the same ranking and
//! shares on the same trials (fANOVA's forest draws other random numbers, so its shares agree
//! only approximately). Only complete trials with a finite value count; PED-ANOVA also assesses
//! conditional parameters (over the trials where they are active), fANOVA only the parameters
//! every complete trial has.

pub mod anova;
pub mod fanova;
mod forest;
pub mod ped_anova;

pub use fanova::Fanova;
pub use ped_anova::PedAnova;

use crate::tune::distribution::Distribution;
use crate::tune::trial::{Direction, FrozenTrial, TrialState};

/// Which importance evaluator to use.
#[derive(Clone, Debug, PartialEq)]
pub enum Evaluator {
    PedAnova(PedAnova),
    Fanova(Fanova),
    Anova,
}

impl Default for Evaluator {
    fn default() -> Self {
        Evaluator::PedAnova(PedAnova::default())
    }
}

impl Evaluator {
    /// The evaluator's name on the command line: `ped-anova`, `fanova` or `anova`.
    pub fn name(&self) -> &'static str {
        match self {
            Evaluator::PedAnova(_) => "ped-anova",
            Evaluator::Fanova(_) => "fanova",
            Evaluator::Anova => "anova",
        }
    }

    /// The evaluator's name in prose: `PED-ANOVA`, `fANOVA` or `one-way ANOVA`.
    pub fn label(&self) -> &'static str {
        match self {
            Evaluator::PedAnova(_) => "PED-ANOVA",
            Evaluator::Fanova(_) => "fANOVA",
            Evaluator::Anova => "one-way ANOVA",
        }
    }

    /// The evaluator with its default settings, by [`Evaluator::name`].
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "ped-anova" => Evaluator::PedAnova(PedAnova::default()),
            "fanova" => Evaluator::Fanova(Fanova::default()),
            "anova" => Evaluator::Anova,
            _ => return None,
        })
    }

    /// One sentence on what the importance means, for reports.
    pub fn description(&self) -> String {
        match self {
            Evaluator::PedAnova(p) => format!(
                "PED-ANOVA (Optuna's default): how far each parameter's distribution in the best \
                 {}% of the complete trials is from its distribution in {} (Pearson divergence \
                 of Parzen estimates), normalised to sum to 1.",
                p.target_quantile * 100.0,
                if p.region_quantile == 1.0 {
                    "all of them".to_string()
                } else {
                    format!("the best {}%", p.region_quantile * 100.0)
                }
            ),
            Evaluator::Fanova(f) => format!(
                "fANOVA: the share of the variance of a random forest's prediction ({} trees) \
                 that each parameter explains on its own, normalised to sum to 1.",
                f.n_trees
            ),
            Evaluator::Anova => "One-way ANOVA: the bias-corrected share of the variance of the \
                 values that each parameter explains on its own (values binned); interactions \
                 between parameters are not credited. Normalised to sum to 1."
                .to_string(),
        }
    }

    /// Unnormalised importances, largest first (ties by name).
    pub fn evaluate(&self, trials: &[FrozenTrial], direction: Direction) -> Vec<(String, f64)> {
        let mut scores = match self {
            Evaluator::PedAnova(p) => p.evaluate(trials, direction),
            Evaluator::Fanova(f) => f.evaluate(trials),
            Evaluator::Anova => anova::evaluate(trials),
        };
        scores.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        scores
    }
}

/// Importances normalised as Optuna's `get_param_importances`: they sum to 1, and are equal
/// when no parameter scores above 0 (too few trials, or the values do not vary). Largest first.
pub fn param_importances(
    trials: &[FrozenTrial],
    direction: Direction,
    evaluator: &Evaluator,
) -> Vec<(String, f64)> {
    normalise(evaluator.evaluate(trials, direction))
}

/// Scales `scores` to sum to 1 (equal shares when they sum to 0).
pub fn normalise(mut scores: Vec<(String, f64)>) -> Vec<(String, f64)> {
    let total: f64 = scores.iter().map(|s| s.1).sum();
    let n = scores.len() as f64;
    for (_, s) in &mut scores {
        *s = if total == 0.0 { 1.0 / n } else { *s / total };
    }
    scores
}

/// Complete trials with a finite value: the only ones importance is assessed on.
fn finite_complete(trials: &[FrozenTrial]) -> Vec<&FrozenTrial> {
    trials
        .iter()
        .filter(|t| t.state == TrialState::Complete && t.value.is_some_and(f64::is_finite))
        .collect()
}

/// Whether a distribution has only one value (Optuna's `single()`).
fn single(d: &Distribution) -> bool {
    match *d {
        Distribution::Float {
            low, high, step, ..
        } => low == high || step.is_some_and(|s| high - low < s),
        Distribution::Int {
            low,
            high,
            step,
            log,
        } => low == high || (!log && high - low < step),
        Distribution::Categorical { ref choices } => choices.len() <= 1,
    }
}

#[cfg(test)]
mod tests;
