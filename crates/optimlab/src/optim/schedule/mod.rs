//! Learning-rate schedules, as torch.optim.lr_scheduler's, with a compact string form for the
//! command line (`step:30,0.1`, `cosine:100`, `warmup:500+cosine:10000`, …).
//!
//! `k` counts scheduler steps, i.e. torch's `scheduler.step()` calls: the lr of the first
//! optimizer step is the schedule's value at `k = 0`. Time-based schedules advance with
//! [`Scheduler::step`]; reduce-on-plateau advances with [`Scheduler::observe`].

mod parse;
mod scheduler;
#[cfg(test)]
mod tests;
mod validate;

pub use scheduler::Scheduler;

use serde::{Deserialize, Serialize};
use std::f64::consts::PI;

/// Errors from building or parsing a schedule.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum ScheduleError {
    #[error("invalid schedule parameter {name} = {value}: expected {expected}")]
    Invalid {
        name: &'static str,
        value: f64,
        expected: &'static str,
    },
    #[error("cannot parse schedule '{input}': {reason} (expected one of: {FORMS})")]
    Parse { input: String, reason: String },
}

const FORMS: &str = "constant, step:STEP_SIZE[,GAMMA], exp:GAMMA, cosine:T_MAX[,ETA_MIN], \
     linear:START,END,ITERS, warmup:STEPS[,START][+SCHEDULE], onecycle:MAX_LR,TOTAL[,PCT_START], \
     plateau[:FACTOR[,PATIENCE[,min|max]]]";

/// Whether a smaller (`Min`, e.g. a loss) or larger (`Max`, e.g. accuracy) metric is better.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PlateauMode {
    #[default]
    Min,
    Max,
}

/// ReduceLROnPlateau (relative threshold): a metric is an improvement when
/// `m < best·(1 − threshold)` (`Min`) or `m > best·(1 + threshold)` (`Max`); after more than
/// `patience` observations without improvement, `lr ← max(lr·factor, min_lr)` (skipped when the
/// change is below 1e-8) and `cooldown` observations are ignored.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Plateau {
    pub mode: PlateauMode,
    pub factor: f64,
    pub patience: u64,
    pub threshold: f64,
    pub cooldown: u64,
    pub min_lr: f64,
}

impl Default for Plateau {
    /// torch's defaults: min, factor 0.1, patience 10, threshold 1e-4, cooldown 0, min_lr 0.
    fn default() -> Self {
        Plateau {
            mode: PlateauMode::Min,
            factor: 0.1,
            patience: 10,
            threshold: 1e-4,
            cooldown: 0,
            min_lr: 0.0,
        }
    }
}

/// A learning-rate schedule; `lr(k)` for base rate `lr₀` after `k` scheduler steps.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Schedule {
    /// `lr₀`.
    Constant,
    /// StepLR: `lr₀·γ^⌊k/step_size⌋`.
    Step { step_size: u64, gamma: f64 },
    /// ExponentialLR: `lr₀·γᵏ`.
    Exponential { gamma: f64 },
    /// CosineAnnealingLR (closed form): `η_min + (lr₀ − η_min)·(1 + cos(πk/T))/2`.
    Cosine { t_max: u64, eta_min: f64 },
    /// LinearLR: `lr₀·(s + (e − s)·min(k, n)/n)`.
    Linear {
        start_factor: f64,
        end_factor: f64,
        total_iters: u64,
    },
    /// Linear warm-up from `start_factor·lr₀` to `lr₀` over `steps`, then `then` (restarted at
    /// its own `k = 0`), like `SequentialLR([LinearLR(start_factor, 1, steps), then], [steps])`.
    Warmup {
        steps: u64,
        start_factor: f64,
        then: Box<Schedule>,
    },
    /// OneCycleLR with cosine annealing, two phases (`three_phase=False`): from
    /// `max_lr/div_factor` up to `max_lr` until step `pct_start·total − 1`, then down to
    /// `max_lr/(div_factor·final_div_factor)` at step `total − 1`. Ignores the optimizer's lr,
    /// as torch does. Momentum cycling (`cycle_momentum`) is not implemented. Steps past
    /// `total_steps` (an error in torch) keep the value of the last step, `total_steps − 1`.
    OneCycle {
        max_lr: f64,
        total_steps: u64,
        pct_start: f64,
        div_factor: f64,
        final_div_factor: f64,
    },
    /// ReduceLROnPlateau, driven by [`Scheduler::observe`].
    Plateau(Plateau),
}

impl Schedule {
    /// OneCycleLR with torch's defaults (pct_start 0.3, div_factor 25, final_div_factor 1e4).
    pub fn one_cycle(max_lr: f64, total_steps: u64) -> Self {
        Schedule::OneCycle {
            max_lr,
            total_steps,
            pct_start: 0.3,
            div_factor: 25.0,
            final_div_factor: 1e4,
        }
    }

    /// Linear warm-up over `steps` from `start_factor·lr₀`, then `then`.
    pub fn warmup(steps: u64, start_factor: f64, then: Schedule) -> Self {
        Schedule::Warmup {
            steps,
            start_factor,
            then: Box::new(then),
        }
    }

    /// The closed form `lr(k)` for base rate `base`; `base` itself for reduce-on-plateau
    /// (whose rate depends on the metrics, see [`Scheduler`]).
    pub fn lr_at(&self, base: f64, k: u64) -> f64 {
        let kf = k as f64;
        match self {
            Schedule::Constant | Schedule::Plateau(_) => base,
            Schedule::Step { step_size, gamma } => {
                base * crate::optim::pow(*gamma, (k / step_size) as f64)
            }
            Schedule::Exponential { gamma } => base * crate::optim::pow(*gamma, kf),
            Schedule::Cosine { t_max, eta_min } => {
                eta_min + (base - eta_min) * (1.0 + (PI * kf / *t_max as f64).cos()) / 2.0
            }
            Schedule::Linear {
                start_factor: s,
                end_factor: e,
                total_iters: n,
            } => base * (s + (e - s) * k.min(*n) as f64 / *n as f64),
            Schedule::Warmup {
                steps,
                start_factor: s,
                then,
            } => {
                if k < *steps {
                    base * (s + (1.0 - s) * kf / *steps as f64)
                } else {
                    then.lr_at(base, k - steps)
                }
            }
            Schedule::OneCycle {
                max_lr,
                total_steps,
                pct_start,
                div_factor,
                final_div_factor,
            } => {
                let initial = max_lr / div_factor;
                let min = initial / final_div_factor;
                // Past the last step (an error in torch) the schedule stays at its end.
                let step = k.min(total_steps.saturating_sub(1)) as f64;
                let end_up = pct_start * *total_steps as f64 - 1.0;
                let end_down = *total_steps as f64 - 1.0;
                let anneal = |start: f64, end: f64, pct: f64| {
                    end + (start - end) / 2.0 * ((PI * pct).cos() + 1.0)
                };
                if step <= end_up {
                    anneal(initial, *max_lr, step / end_up)
                } else {
                    anneal(*max_lr, min, (step - end_up) / (end_down - end_up))
                }
            }
        }
    }
}
