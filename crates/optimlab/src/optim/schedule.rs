//! Learning-rate schedules, as torch.optim.lr_scheduler's, with a compact string form for the
//! command line (`step:30,0.1`, `cosine:100`, `warmup:500+cosine:10000`, …).
//!
//! `k` counts scheduler steps, i.e. torch's `scheduler.step()` calls: the lr of the first
//! optimizer step is the schedule's value at `k = 0`. Time-based schedules advance with
//! [`Scheduler::step`]; reduce-on-plateau advances with [`Scheduler::observe`].

use serde::{Deserialize, Serialize};
use std::f64::consts::PI;
use std::fmt;

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
    /// `total_steps` (an error in torch) keep the value at `total_steps`.
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

fn finite_non_neg(name: &'static str, v: f64) -> Result<(), ScheduleError> {
    require(v.is_finite() && v >= 0.0, name, v, "a finite number ≥ 0")
}

fn at_least_one(name: &'static str, v: u64) -> Result<(), ScheduleError> {
    require(v >= 1, name, v as f64, "an integer ≥ 1")
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

    /// The closed form `lr(k)` for base rate `base`; `base` itself for reduce-on-plateau
    /// (whose rate depends on the metrics, see [`Scheduler`]).
    pub fn lr_at(&self, base: f64, k: u64) -> f64 {
        let kf = k as f64;
        match self {
            Schedule::Constant | Schedule::Plateau(_) => base,
            Schedule::Step { step_size, gamma } => base * gamma.powf((k / step_size) as f64),
            Schedule::Exponential { gamma } => base * gamma.powf(kf),
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
                let step = k.min(*total_steps) as f64;
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

fn parse_num<T: std::str::FromStr>(input: &str, what: &str, s: &str) -> Result<T, ScheduleError> {
    s.trim().parse().map_err(|_| ScheduleError::Parse {
        input: input.to_string(),
        reason: format!("{what} '{s}' is not a valid number"),
    })
}

impl std::str::FromStr for Schedule {
    type Err = ScheduleError;

    fn from_str(input: &str) -> Result<Self, Self::Err> {
        let err = |reason: String| ScheduleError::Parse {
            input: input.to_string(),
            reason,
        };
        let s = input.trim();
        // `warmup:…+then`: split at the first '+' that starts a name (not an exponent's sign).
        let plus = s
            .char_indices()
            .find(|&(i, c)| c == '+' && s[i + 1..].starts_with(|n: char| n.is_ascii_alphabetic()));
        let (head, then) = match plus {
            Some((i, _)) => (&s[..i], Some(&s[i + 1..])),
            None => (s, None),
        };
        let (kind, args) = head.split_once(':').unwrap_or((head, ""));
        let args: Vec<&str> = if args.trim().is_empty() {
            vec![]
        } else {
            args.split(',').collect()
        };
        let arity = |min: usize, max: usize| {
            if (min..=max).contains(&args.len()) {
                Ok(())
            } else {
                Err(err(format!(
                    "'{kind}' takes {min} to {max} arguments, got {}",
                    args.len()
                )))
            }
        };
        let num = |i: usize, what: &str, default: f64| -> Result<f64, ScheduleError> {
            args.get(i)
                .map_or(Ok(default), |a| parse_num(input, what, a))
        };
        let int = |i: usize, what: &str, default: u64| -> Result<u64, ScheduleError> {
            args.get(i)
                .map_or(Ok(default), |a| parse_num(input, what, a))
        };
        if then.is_some() && kind.trim() != "warmup" {
            return Err(err("only 'warmup' can be followed by '+SCHEDULE'".into()));
        }
        let schedule = match kind.trim() {
            "constant" => {
                arity(0, 0)?;
                Schedule::Constant
            }
            "step" => {
                arity(1, 2)?;
                Schedule::Step {
                    step_size: int(0, "step size", 0)?,
                    gamma: num(1, "gamma", 0.1)?,
                }
            }
            "exp" | "exponential" => {
                arity(1, 1)?;
                Schedule::Exponential {
                    gamma: num(0, "gamma", 0.0)?,
                }
            }
            "cosine" => {
                arity(1, 2)?;
                Schedule::Cosine {
                    t_max: int(0, "T_max", 0)?,
                    eta_min: num(1, "eta_min", 0.0)?,
                }
            }
            "linear" => {
                arity(3, 3)?;
                Schedule::Linear {
                    start_factor: num(0, "start factor", 0.0)?,
                    end_factor: num(1, "end factor", 0.0)?,
                    total_iters: int(2, "total iterations", 0)?,
                }
            }
            "warmup" => {
                arity(1, 2)?;
                let then = match then {
                    Some(t) => t.parse()?,
                    None => Schedule::Constant,
                };
                Schedule::warmup(
                    int(0, "warm-up steps", 0)?,
                    num(1, "start factor", 0.01)?,
                    then,
                )
            }
            "onecycle" => {
                arity(2, 3)?;
                let mut s = Schedule::one_cycle(num(0, "max lr", 0.0)?, int(1, "total steps", 0)?);
                if let Schedule::OneCycle { pct_start, .. } = &mut s {
                    *pct_start = num(2, "pct_start", 0.3)?;
                }
                s
            }
            "plateau" => {
                arity(0, 3)?;
                let d = Plateau::default();
                let mode = match args.get(2).map(|m| m.trim()) {
                    None | Some("min") => PlateauMode::Min,
                    Some("max") => PlateauMode::Max,
                    Some(other) => {
                        return Err(err(format!("plateau mode '{other}' is not min or max")));
                    }
                };
                Schedule::Plateau(Plateau {
                    factor: num(0, "factor", d.factor)?,
                    patience: int(1, "patience", d.patience)?,
                    mode,
                    ..d
                })
            }
            other => return Err(err(format!("unknown schedule '{other}'"))),
        };
        schedule.validate()?;
        Ok(schedule)
    }
}

impl fmt::Display for Schedule {
    /// The compact form; parameters the compact form cannot express are omitted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Constant => write!(f, "constant"),
            Schedule::Step { step_size, gamma } => write!(f, "step:{step_size},{gamma}"),
            Schedule::Exponential { gamma } => write!(f, "exp:{gamma}"),
            Schedule::Cosine { t_max, eta_min } => write!(f, "cosine:{t_max},{eta_min}"),
            Schedule::Linear {
                start_factor,
                end_factor,
                total_iters,
            } => {
                write!(f, "linear:{start_factor},{end_factor},{total_iters}")
            }
            Schedule::Warmup {
                steps,
                start_factor,
                then,
            } => match **then {
                Schedule::Constant => write!(f, "warmup:{steps},{start_factor}"),
                _ => write!(f, "warmup:{steps},{start_factor}+{then}"),
            },
            Schedule::OneCycle {
                max_lr,
                total_steps,
                pct_start,
                ..
            } => {
                write!(f, "onecycle:{max_lr},{total_steps},{pct_start}")
            }
            Schedule::Plateau(p) => {
                let mode = if p.mode == PlateauMode::Min {
                    "min"
                } else {
                    "max"
                };
                write!(f, "plateau:{},{},{mode}", p.factor, p.patience)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lrs(s: &str, base: f64, n: usize) -> Vec<f64> {
        let mut sch = Scheduler::new(s.parse().unwrap(), base).unwrap();
        let mut out = vec![sch.lr()];
        out.extend((1..n).map(|_| sch.step()));
        out
    }

    fn close(a: &[f64], b: &[f64]) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| (x - y).abs() <= 1e-12 * y.abs().max(1.0))
    }

    #[test]
    fn parses_the_compact_forms() {
        assert_eq!(
            "step:30,0.1".parse(),
            Ok(Schedule::Step {
                step_size: 30,
                gamma: 0.1
            })
        );
        assert_eq!(
            "step:30".parse(),
            Ok(Schedule::Step {
                step_size: 30,
                gamma: 0.1
            })
        );
        assert_eq!(
            "exp:0.95".parse(),
            Ok(Schedule::Exponential { gamma: 0.95 })
        );
        assert_eq!(
            "cosine:100".parse(),
            Ok(Schedule::Cosine {
                t_max: 100,
                eta_min: 0.0
            })
        );
        assert_eq!(
            "warmup:500".parse(),
            Ok(Schedule::warmup(500, 0.01, Schedule::Constant))
        );
        assert_eq!(
            "warmup:5,1e-3+cosine:100,1e+0".parse(),
            Ok(Schedule::warmup(
                5,
                1e-3,
                Schedule::Cosine {
                    t_max: 100,
                    eta_min: 1.0
                }
            ))
        );
        assert_eq!(
            "onecycle:0.01,1000".parse(),
            Ok(Schedule::one_cycle(0.01, 1000))
        );
        let p = Plateau {
            factor: 0.5,
            patience: 3,
            mode: PlateauMode::Max,
            ..Plateau::default()
        };
        assert_eq!("plateau:0.5,3,max".parse(), Ok(Schedule::Plateau(p)));
        assert_eq!("plateau".parse(), Ok(Schedule::Plateau(Plateau::default())));
        assert_eq!(" constant ".parse(), Ok(Schedule::Constant));
    }

    #[test]
    fn display_round_trips() {
        for s in [
            "step:30,0.1",
            "exp:0.95",
            "cosine:100,0.001",
            "linear:0.1,1,10",
            "warmup:500,0.01",
            "warmup:5,0.1+step:3,0.5",
            "onecycle:0.01,1000,0.25",
            "plateau:0.1,10,min",
            "constant",
        ] {
            let parsed: Schedule = s.parse().unwrap();
            assert_eq!(parsed.to_string(), s);
        }
    }

    #[test]
    fn bad_strings_are_parse_errors_quoting_the_input() {
        for s in [
            "",
            "steps:3",
            "step",
            "step:a",
            "step:3,0.1,4",
            "exp:0.9+cosine:3",
            "plateau:0.1,2,up",
            "cosine:-3",
        ] {
            match s.parse::<Schedule>() {
                Err(e @ ScheduleError::Parse { .. }) => {
                    assert!(e.to_string().contains(&format!("'{s}'")), "{e}")
                }
                other => panic!("{s}: {other:?}"),
            }
        }
    }

    #[test]
    fn invalid_parameters_are_named() {
        let name = |s: &str| match s.parse::<Schedule>() {
            Err(ScheduleError::Invalid { name, .. }) => name,
            other => panic!("{s}: {other:?}"),
        };
        assert_eq!(name("step:0"), "step_size");
        assert_eq!(name("step:3,-1"), "gamma");
        assert_eq!(name("exp:NaN"), "gamma");
        assert_eq!(name("cosine:0"), "t_max");
        assert_eq!(name("linear:0,1,5"), "start_factor");
        assert_eq!(name("linear:0.5,2,5"), "end_factor");
        assert_eq!(name("warmup:0"), "warmup steps");
        assert_eq!(name("warmup:5+plateau"), "warmup steps");
        assert_eq!(name("onecycle:0.1,10,0.05"), "pct_start");
        assert_eq!(name("onecycle:-1,100"), "max_lr");
        assert_eq!(name("plateau:1.0"), "factor");
        let err = Scheduler::new(Schedule::Constant, -1.0).unwrap_err();
        assert!(matches!(
            err,
            ScheduleError::Invalid {
                name: "base lr",
                ..
            }
        ));
    }

    #[test]
    fn closed_forms() {
        assert!(close(
            &lrs("step:2,0.5", 1.0, 5),
            &[1.0, 1.0, 0.5, 0.5, 0.25]
        ));
        assert!(close(&lrs("exp:0.5", 2.0, 3), &[2.0, 1.0, 0.5]));
        assert!(close(&lrs("cosine:2", 1.0, 5), &[1.0, 0.5, 0.0, 0.5, 1.0]));
        assert!(close(
            &lrs("linear:0.5,1,2", 1.0, 4),
            &[0.5, 0.75, 1.0, 1.0]
        ));
        assert!(close(
            &lrs("warmup:2,0.5+exp:0.5", 1.0, 5),
            &[0.5, 0.75, 1.0, 0.5, 0.25]
        ));
        let one = lrs("onecycle:1,10", 123.0, 12);
        assert!(close(&one[..1], &[0.04]) && close(&one[2..3], &[1.0]));
        assert!(close(&one[9..10], &[0.04 / 1e4]));
        assert_eq!(one[10], one[11], "held after total_steps");
    }

    #[test]
    fn plateau_moves_only_with_observations() {
        let mut s = Scheduler::new("plateau:0.5,1".parse().unwrap(), 1.0).unwrap();
        assert!(s.needs_metric());
        assert_eq!(s.step(), 1.0);
        let got: Vec<f64> = [1.0, 1.0, 1.0, 0.5, 0.5, 0.5]
            .iter()
            .map(|&m| s.observe(m))
            .collect();
        assert_eq!(got, [1.0, 1.0, 0.5, 0.5, 0.5, 0.25]);
        let mut c = Scheduler::new(Schedule::Constant, 0.1).unwrap();
        assert_eq!((c.observe(3.0), c.steps()), (0.1, 0));
    }

    #[test]
    fn scheduler_state_round_trips_through_json() {
        let mut s = Scheduler::new("plateau:0.5,0".parse().unwrap(), 1.0).unwrap();
        s.observe(2.0);
        let mut t: Scheduler = serde_json::from_str(&serde_json::to_string(&s).unwrap()).unwrap();
        assert_eq!(t, s);
        assert_eq!((s.observe(3.0), t.observe(3.0)), (0.5, 0.5));
    }
}
