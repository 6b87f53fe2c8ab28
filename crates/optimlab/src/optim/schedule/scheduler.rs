//! The stateful [`Scheduler`]: a schedule in motion, including reduce-on-plateau's state.

use super::validate::finite_non_neg;
use super::{PlateauMode, Schedule, ScheduleError};
use serde::{Deserialize, Serialize};

/// A schedule in motion: yields the lr for the next optimizer step.
///
/// Call [`Scheduler::step`] after every optimizer step (time-based schedules) and
/// [`Scheduler::observe`] with the monitored metric after every evaluation (reduce-on-plateau);
/// each is a no-op for the other kind, so a trainer can call both. Serialisable for checkpoints.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Scheduler {
    schedule: Schedule,
    base_lr: f64,
    k: u64,
    lr: f64,
    /// Reduce-on-plateau state: best metric so far, bad observations, cooldown left.
    best: Option<f64>,
    bad: u64,
    cooldown_left: u64,
}

impl Scheduler {
    pub fn new(schedule: Schedule, base_lr: f64) -> Result<Self, ScheduleError> {
        schedule.validate()?;
        finite_non_neg("base lr", base_lr)?;
        let lr = schedule.lr_at(base_lr, 0);
        Ok(Scheduler {
            schedule,
            base_lr,
            k: 0,
            lr,
            best: None,
            bad: 0,
            cooldown_left: 0,
        })
    }

    /// The learning rate for the next optimizer step.
    pub fn lr(&self) -> f64 {
        self.lr
    }

    /// How many times the schedule has advanced.
    pub fn steps(&self) -> u64 {
        self.k
    }

    pub fn schedule(&self) -> &Schedule {
        &self.schedule
    }

    /// Whether the schedule advances with [`Scheduler::observe`] rather than [`Scheduler::step`].
    pub fn needs_metric(&self) -> bool {
        matches!(self.schedule, Schedule::Plateau(_))
    }

    /// Advances a time-based schedule by one step; returns the new lr.
    pub fn step(&mut self) -> f64 {
        if !self.needs_metric() {
            self.k += 1;
            self.lr = self.schedule.lr_at(self.base_lr, self.k);
        }
        self.lr
    }

    /// Feeds the monitored metric to reduce-on-plateau (torch's `scheduler.step(metric)`);
    /// returns the new lr.
    pub fn observe(&mut self, metric: f64) -> f64 {
        let Schedule::Plateau(p) = self.schedule else {
            return self.lr;
        };
        self.k += 1;
        let better = match (self.best, p.mode) {
            (None, _) => !metric.is_nan(),
            (Some(b), PlateauMode::Min) => metric < b * (1.0 - p.threshold),
            (Some(b), PlateauMode::Max) => metric > b * (1.0 + p.threshold),
        };
        if better {
            self.best = Some(metric);
            self.bad = 0;
        } else {
            self.bad += 1;
        }
        if self.cooldown_left > 0 {
            self.cooldown_left -= 1;
            self.bad = 0;
        }
        if self.bad > p.patience {
            let new = (self.lr * p.factor).max(p.min_lr);
            if self.lr - new > 1e-8 {
                self.lr = new;
            }
            self.cooldown_left = p.cooldown;
            self.bad = 0;
        }
        self.lr
    }
}
