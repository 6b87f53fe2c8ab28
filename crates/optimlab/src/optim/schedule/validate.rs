//! Validation of a [`Schedule`]'s parameters, with the checks shared by [`super::Scheduler`].

use super::{Schedule, ScheduleError};

fn invalid(name: &'static str, value: f64, expected: &'static str) -> ScheduleError {
    ScheduleError::Invalid {
        name,
        value,
        expected,
    }
}

fn require(
    ok: bool,
    name: &'static str,
    value: f64,
    expected: &'static str,
) -> Result<(), ScheduleError> {
    if ok {
        Ok(())
    } else {
        Err(invalid(name, value, expected))
    }
}

fn finite_pos(name: &'static str, v: f64) -> Result<(), ScheduleError> {
    require(v.is_finite() && v > 0.0, name, v, "a finite number > 0")
}

pub(super) fn finite_non_neg(name: &'static str, v: f64) -> Result<(), ScheduleError> {
    require(v.is_finite() && v >= 0.0, name, v, "a finite number ≥ 0")
}

fn at_least_one(name: &'static str, v: u64) -> Result<(), ScheduleError> {
    require(v >= 1, name, v as f64, "an integer ≥ 1")
}

impl Schedule {
    pub fn validate(&self) -> Result<(), ScheduleError> {
        match self {
            Schedule::Constant => Ok(()),
            Schedule::Step { step_size, gamma } => {
                at_least_one("step_size", *step_size)?;
                finite_pos("gamma", *gamma)
            }
            Schedule::Exponential { gamma } => finite_pos("gamma", *gamma),
            Schedule::Cosine { t_max, eta_min } => {
                at_least_one("t_max", *t_max)?;
                finite_non_neg("eta_min", *eta_min)
            }
            Schedule::Linear {
                start_factor,
                end_factor,
                total_iters,
            } => {
                let s = *start_factor;
                require(s > 0.0 && s <= 1.0, "start_factor", s, "a number in (0, 1]")?;
                let e = *end_factor;
                require(
                    (0.0..=1.0).contains(&e),
                    "end_factor",
                    e,
                    "a number in [0, 1]",
                )?;
                at_least_one("total_iters", *total_iters)
            }
            Schedule::Warmup {
                steps,
                start_factor,
                then,
            } => {
                at_least_one("warmup steps", *steps)?;
                let s = *start_factor;
                require(s > 0.0 && s <= 1.0, "start_factor", s, "a number in (0, 1]")?;
                if let Schedule::Plateau(_) = **then {
                    return Err(invalid(
                        "warmup steps",
                        *steps as f64,
                        "a time-based schedule after the warm-up, not plateau",
                    ));
                }
                then.validate()
            }
            Schedule::OneCycle {
                max_lr,
                total_steps,
                pct_start,
                div_factor,
                final_div_factor,
            } => {
                finite_pos("max_lr", *max_lr)?;
                require(
                    *total_steps >= 2,
                    "total_steps",
                    *total_steps as f64,
                    "an integer ≥ 2",
                )?;
                let p = *pct_start;
                let ok = p < 1.0 && p * *total_steps as f64 > 1.0;
                require(ok, "pct_start", p, "a number in (1/total_steps, 1)")?;
                finite_pos("div_factor", *div_factor)?;
                finite_pos("final_div_factor", *final_div_factor)
            }
            Schedule::Plateau(p) => {
                require(
                    (0.0..1.0).contains(&p.factor),
                    "factor",
                    p.factor,
                    "a number in [0, 1)",
                )?;
                finite_non_neg("threshold", p.threshold)?;
                finite_non_neg("min_lr", p.min_lr)
            }
        }
    }
}
