//! The compact string form of a [`Schedule`] (`step:30,0.1`, …): its `FromStr` and `Display`.

use super::{Plateau, PlateauMode, Schedule, ScheduleError};
use std::fmt;

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
