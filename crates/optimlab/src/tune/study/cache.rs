//! The study's trials as this process last read them, brought up to date before each use
//! with [`Storage::trials_since`]: only what changed is read and copied, and the best trial
//! is kept as trials finish, so neither costs O(trials) per trial.

use crate::tune::error::{Result, TuneError};
use crate::tune::storage::{Storage, TrialChanges, TrialsSeen};
use crate::tune::trial::{Direction, FrozenTrial, TrialState};

/// Trials by number (numbers are 0, 1, 2, … with no gap), the best one's number, and what
/// the storage needs to answer "what changed since".
#[derive(Default)]
pub(crate) struct TrialCache {
    pub trials: Vec<FrozenTrial>,
    seen: TrialsSeen,
    best: Option<usize>,
}

impl TrialCache {
    /// Brings the cache up to date. If the changes do not fit what is held (a number out of
    /// sequence, another trial under a held number: the storage was replaced or reset), the
    /// cache is dropped and read whole; on an error it is dropped too.
    pub fn refresh(
        &mut self,
        storage: &dyn Storage,
        study: u64,
        direction: Direction,
    ) -> Result<()> {
        let result = storage.trials_since(study, &self.seen).and_then(|changes| {
            if self.apply(changes, direction) {
                return Ok(());
            }
            *self = TrialCache::default();
            let changes = storage.trials_since(study, &self.seen)?;
            if self.apply(changes, direction) {
                Ok(())
            } else {
                Err(TuneError::Corrupt(format!(
                    "study #{study}: trial numbers are not 0, 1, 2, …"
                )))
            }
        });
        if result.is_err() {
            *self = TrialCache::default();
        }
        result
    }

    /// The best complete trial (direction aware; the lowest number wins a tie).
    pub fn best(&self) -> Option<&FrozenTrial> {
        self.best.map(|n| &self.trials[n])
    }

    /// Applies changes; false if they do not fit.
    fn apply(&mut self, changes: TrialChanges, direction: Direction) -> bool {
        if changes.all {
            self.trials.clear();
            self.seen.unfinished.clear();
            self.best = None;
        }
        let mut best_changed = false;
        let mut unfinished = std::mem::take(&mut self.seen.unfinished);
        for t in changes.trials {
            let n = t.number as usize;
            if n < self.trials.len() {
                if self.trials[n].id != t.id {
                    return false;
                }
                if self.best == Some(n) && self.trials[n] != t {
                    best_changed = true;
                }
                self.trials[n] = t;
            } else if n == self.trials.len() {
                self.trials.push(t);
            } else {
                return false;
            }
            if is_unfinished(&self.trials[n]) {
                unfinished.push(n as u64);
            }
            if !best_changed && better(&self.trials[n], self.best(), direction) {
                self.best = Some(n);
            }
        }
        if best_changed {
            self.best = super::best_of(&self.trials, direction).map(|t| t.number as usize);
        }
        unfinished.sort_unstable();
        unfinished.dedup();
        unfinished.retain(|&n| is_unfinished(&self.trials[n as usize]));
        let unfinished_ids = unfinished
            .iter()
            .map(|&n| self.trials[n as usize].id)
            .collect();
        self.seen = TrialsSeen {
            version: changes.version,
            count: self.trials.len() as u64,
            unfinished,
            unfinished_ids,
        };
        true
    }
}

fn is_unfinished(t: &FrozenTrial) -> bool {
    matches!(t.state, TrialState::Waiting | TrialState::Running)
}

/// Whether `t` is a complete trial better than `best` (as [`super::best_of`] decides).
fn better(t: &FrozenTrial, best: Option<&FrozenTrial>, direction: Direction) -> bool {
    if t.state != TrialState::Complete {
        return false;
    }
    let Some(v) = t.value.filter(|v| v.is_finite()) else {
        return false;
    };
    match best {
        None => true,
        Some(b) => {
            let bv = b.value.unwrap_or(f64::NAN);
            direction.better(v, bv) || (v == bv && t.number < b.number)
        }
    }
}
