//! Trials as a storage keeps them.

use super::distribution::{Distribution, ParamValue};
use serde_json::Value;
use std::collections::BTreeMap;

/// A trial's life: Waiting (queued, e.g. a re-queued retry) → Running (held by a worker under
/// a lease) → Complete | Pruned | Fail. The numbers are Optuna's `TrialState` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TrialState {
    Running = 0,
    Complete = 1,
    Pruned = 2,
    Fail = 3,
    Waiting = 4,
}

impl TrialState {
    pub fn from_code(code: i64) -> Option<Self> {
        Some(match code {
            0 => TrialState::Running,
            1 => TrialState::Complete,
            2 => TrialState::Pruned,
            3 => TrialState::Fail,
            4 => TrialState::Waiting,
            _ => return None,
        })
    }

    pub fn code(self) -> i64 {
        self as i64
    }

    pub fn is_finished(self) -> bool {
        matches!(
            self,
            TrialState::Complete | TrialState::Pruned | TrialState::Fail
        )
    }

    /// Optuna's name (`COMPLETE`, …), used in text output and exports.
    pub fn name(self) -> &'static str {
        match self {
            TrialState::Running => "RUNNING",
            TrialState::Complete => "COMPLETE",
            TrialState::Pruned => "PRUNED",
            TrialState::Fail => "FAIL",
            TrialState::Waiting => "WAITING",
        }
    }
}

/// Whether a study looks for the largest or the smallest objective value. Optuna's
/// `StudyDirection` numbers: MINIMIZE = 1, MAXIMIZE = 2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Direction {
    Minimize = 1,
    Maximize = 2,
}

impl Direction {
    pub fn from_code(code: i64) -> Option<Self> {
        match code {
            1 => Some(Direction::Minimize),
            2 => Some(Direction::Maximize),
            _ => None,
        }
    }

    pub fn code(self) -> i64 {
        self as i64
    }

    /// True when `a` is strictly better than `b`.
    pub fn better(self, a: f64, b: f64) -> bool {
        match self {
            Direction::Minimize => a < b,
            Direction::Maximize => a > b,
        }
    }
}

/// Internal parameter values by name (see [`Distribution`]).
pub type Params = BTreeMap<String, f64>;

/// One trial, as read back from a storage.
#[derive(Clone, Debug, PartialEq)]
pub struct FrozenTrial {
    /// The storage's id (unique across studies).
    pub id: u64,
    /// The number within its study: 0, 1, 2, … in creation order, never reused.
    pub number: u64,
    pub state: TrialState,
    /// The objective value (Complete trials; Optuna also allows it on Pruned ones).
    pub value: Option<f64>,
    /// Internal values with their distributions.
    pub params: BTreeMap<String, (Distribution, f64)>,
    /// Intermediate values by step (epoch).
    pub intermediate: BTreeMap<u64, f64>,
    pub user_attrs: BTreeMap<String, Value>,
    pub system_attrs: BTreeMap<String, Value>,
    /// ISO-8601 times as Optuna writes them ("%Y-%m-%dT%H:%M:%S.%f").
    pub datetime_start: Option<String>,
    pub datetime_complete: Option<String>,
}

impl FrozenTrial {
    /// The external value of a parameter.
    pub fn param(&self, name: &str) -> Option<ParamValue> {
        self.params.get(name).map(|(d, v)| d.to_external(*v))
    }

    /// Internal parameter values only.
    pub fn internal_params(&self) -> Params {
        self.params
            .iter()
            .map(|(k, (_, v))| (k.clone(), *v))
            .collect()
    }

    /// The last reported intermediate value.
    pub fn last_intermediate(&self) -> Option<(u64, f64)> {
        self.intermediate.iter().next_back().map(|(s, v)| (*s, *v))
    }
}
