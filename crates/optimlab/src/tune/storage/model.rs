//! The in-memory picture of a storage's studies and trials, and the rules every back end
//! shares: numbering, claims under a budget, lease fencing, re-queueing of expired trials.
//!
//! The memory storage keeps one `Model` behind a mutex; the journal storage rebuilds one by
//! replaying its file. The SQL storages apply the same rules in SQL.

use super::{StudyInfo, TrialChanges, attrs, iso_now, unix_now};
use crate::tune::error::{Result, TuneError};
use crate::tune::trial::{Direction, FrozenTrial, TrialState};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// One study and its trial ids in number order.
#[derive(Clone, Debug)]
pub(crate) struct StudyRec {
    pub info: StudyInfo,
    pub trials: Vec<u64>,
    /// The ids of the trials touched (created or borrowed mutably), in order, repeats kept:
    /// its length is the study's version, and `log[v..]` is what changed since version `v`.
    pub log: Vec<u64>,
    /// How much of `log` `unfinished` and `requeued` have taken in.
    synced: usize,
    /// Ids of the Waiting and Running trials (as of `synced`).
    unfinished: BTreeSet<u64>,
    /// Ids of the trials marked `optimlab:requeued_as` (they do not count for the budget).
    requeued: BTreeSet<u64>,
}

/// Studies by id; trials by id (the index into `trials`), each with its study id.
#[derive(Clone, Debug, Default)]
pub(crate) struct Model {
    pub studies: BTreeMap<u64, StudyRec>,
    pub trials: Vec<(u64, FrozenTrial)>,
    pub next_study: u64,
}

/// What a claim should do next.
#[derive(Debug, PartialEq)]
pub(crate) enum Claim {
    /// Take this Waiting trial (its id).
    Waiting(u64),
    /// Create a new trial.
    New,
    /// Budget spent and nothing waits.
    Nothing,
}

/// A fresh trial with nothing set (the id and number are the model's to assign).
pub(crate) fn blank_trial(state: TrialState) -> FrozenTrial {
    FrozenTrial {
        id: 0,
        number: 0,
        state,
        value: None,
        params: BTreeMap::new(),
        intermediate: BTreeMap::new(),
        user_attrs: BTreeMap::new(),
        system_attrs: BTreeMap::new(),
        datetime_start: None,
        datetime_complete: None,
    }
}

/// The lease attribute value for `worker` holding a trial for `lease` from now.
pub(crate) fn lease_value(worker: &str, lease: Duration) -> Value {
    json!({"worker": worker, "expires": unix_now() + lease.as_secs_f64()})
}

/// The worker holding a trial's lease and when it expires (unix seconds).
pub(crate) fn lease_of(t: &FrozenTrial) -> Option<(&str, f64)> {
    let l = t.system_attrs.get(attrs::LEASE)?;
    Some((l.get("worker")?.as_str()?, l.get("expires")?.as_f64()?))
}

/// Whether `worker` may write to the trial: Running and leased to it.
pub(crate) fn check_fence(t: &FrozenTrial, worker: &str) -> Result<()> {
    match lease_of(t) {
        Some((w, _)) if t.state == TrialState::Running && w == worker => Ok(()),
        _ => Err(TuneError::LeaseLost { number: t.number }),
    }
}

/// Checks a state that ends a trial.
pub(crate) fn check_final(state: TrialState) -> Result<()> {
    if state.is_finished() {
        Ok(())
    } else {
        Err(TuneError::Storage(format!(
            "a trial can only finish as COMPLETE, PRUNED or FAIL, not {}",
            state.name()
        )))
    }
}

/// Whether a trial counts toward the study's budget: everything but failed trials that were
/// re-queued (their retry counts instead).
pub(crate) fn counts_for_budget(t: &FrozenTrial) -> bool {
    !t.system_attrs.contains_key(attrs::REQUEUED_AS)
}

/// How many times a trial's parameters were retried so far.
pub(crate) fn retries_of(t: &FrozenTrial) -> u64 {
    t.system_attrs
        .get(attrs::RETRIES)
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

/// The Waiting copy that re-queues a failed trial: same parameters, `retry_of`, `retries`+1,
/// and Optuna's `fixed_params` so that Optuna workers keep the parameters too.
pub(crate) fn requeue_copy(old: &FrozenTrial) -> FrozenTrial {
    let mut t = blank_trial(TrialState::Waiting);
    t.params = old.params.clone();
    t.system_attrs
        .insert(attrs::RETRY_OF.into(), Value::from(old.number));
    t.system_attrs
        .insert(attrs::RETRIES.into(), Value::from(retries_of(old) + 1));
    let fixed: serde_json::Map<String, Value> = old
        .params
        .iter()
        .map(|(k, (d, v))| (k.clone(), d.to_external(*v).to_json()))
        .collect();
    t.system_attrs
        .insert(attrs::FIXED_PARAMS.into(), Value::Object(fixed));
    t
}

/// Trials assembled from a SQL storage's rows: first each trial's own row (in number order),
/// then the rows of its parameters, intermediate values and attributes, matched by trial id.
/// The SQLite and PostgreSQL storages read the same shape of tables.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
#[derive(Default)]
pub(crate) struct TrialRows {
    trials: Vec<FrozenTrial>,
    index: BTreeMap<u64, usize>,
}

#[cfg(any(feature = "sqlite", feature = "postgres"))]
impl TrialRows {
    /// Adds a trial from its own row, with no parameters, values or attributes yet.
    pub fn push(
        &mut self,
        id: u64,
        number: u64,
        state: TrialState,
        value: Option<f64>,
        datetime_start: Option<String>,
        datetime_complete: Option<String>,
    ) -> &mut FrozenTrial {
        let mut t = blank_trial(state);
        t.id = id;
        t.number = number;
        t.value = value;
        t.datetime_start = datetime_start;
        t.datetime_complete = datetime_complete;
        self.index.insert(id, self.trials.len());
        self.trials.push(t);
        self.trials.last_mut().expect("just pushed")
    }

    pub fn is_empty(&self) -> bool {
        self.trials.is_empty()
    }

    /// The ids of the trials read so far.
    pub fn ids(&self) -> impl Iterator<Item = u64> + '_ {
        self.index.keys().copied()
    }

    /// The trial with this id, if its row was read (a child row of another trial is ignored).
    pub fn get_mut(&mut self, id: u64) -> Option<&mut FrozenTrial> {
        self.index.get(&id).map(|&i| &mut self.trials[i])
    }

    /// The trials in the order their rows came.
    pub fn into_trials(self) -> Vec<FrozenTrial> {
        self.trials
    }
}

/// The map an attribute row belongs in: the system attributes or the user's.
#[cfg(any(feature = "sqlite", feature = "postgres"))]
pub(crate) fn attr_map<'a>(
    user: &'a mut BTreeMap<String, Value>,
    system_attrs: &'a mut BTreeMap<String, Value>,
    system: bool,
) -> &'a mut BTreeMap<String, Value> {
    if system { system_attrs } else { user }
}

impl Model {
    pub fn study(&self, id: u64) -> Result<&StudyRec> {
        self.studies
            .get(&id)
            .ok_or_else(|| TuneError::NoStudy(format!("#{id}")))
    }

    pub fn study_mut(&mut self, id: u64) -> Result<&mut StudyRec> {
        self.studies
            .get_mut(&id)
            .ok_or_else(|| TuneError::NoStudy(format!("#{id}")))
    }

    pub fn find_study(&self, name: &str) -> Option<&StudyRec> {
        self.studies.values().find(|s| s.info.name == name)
    }

    /// Adds a study under the next id; fails if the name is taken.
    pub fn create_study(
        &mut self,
        name: &str,
        direction: Direction,
        system_attrs: &BTreeMap<String, Value>,
    ) -> Result<StudyInfo> {
        if self.find_study(name).is_some() {
            return Err(TuneError::StudyMismatch(format!(
                "a study named '{name}' already exists"
            )));
        }
        let id = self.next_study;
        self.next_study += 1;
        let info = StudyInfo {
            id,
            name: name.to_string(),
            direction,
            user_attrs: BTreeMap::new(),
            system_attrs: system_attrs.clone(),
        };
        self.studies.insert(
            id,
            StudyRec {
                info: info.clone(),
                trials: Vec::new(),
                log: Vec::new(),
                synced: 0,
                unfinished: BTreeSet::new(),
                requeued: BTreeSet::new(),
            },
        );
        Ok(info)
    }

    pub fn trial(&self, id: u64) -> Result<&FrozenTrial> {
        self.trials
            .get(id as usize)
            .map(|(_, t)| t)
            .ok_or_else(|| TuneError::Storage(format!("no trial with id {id}")))
    }

    /// A trial to change: recorded in its study's log as changed.
    pub fn trial_mut(&mut self, id: u64) -> Result<&mut FrozenTrial> {
        let (study, t) = self
            .trials
            .get_mut(id as usize)
            .ok_or_else(|| TuneError::Storage(format!("no trial with id {id}")))?;
        if let Some(s) = self.studies.get_mut(study) {
            s.log.push(id);
        }
        Ok(t)
    }

    /// Brings a study's index of unfinished and re-queued trials up to date with its log.
    fn sync_index(&mut self, study: u64) -> Result<()> {
        let s = self
            .studies
            .get_mut(&study)
            .ok_or_else(|| TuneError::NoStudy(format!("#{study}")))?;
        for &id in &s.log[s.synced..] {
            let t = &self.trials[id as usize].1;
            if matches!(t.state, TrialState::Waiting | TrialState::Running) {
                s.unfinished.insert(id);
            } else {
                s.unfinished.remove(&id);
            }
            if counts_for_budget(t) {
                s.requeued.remove(&id);
            } else {
                s.requeued.insert(id);
            }
        }
        s.synced = s.log.len();
        Ok(())
    }

    /// The trials of a study changed since `version` (a length of its log; `None`: all),
    /// in number order, and the study's version now.
    pub fn changed_since(&self, study: u64, version: Option<u64>) -> Result<TrialChanges> {
        let s = self.study(study)?;
        let now = s.log.len() as u64;
        Ok(match version {
            Some(v) if v <= now => {
                // Ids grow with numbers within a study: id order is number order.
                let ids: BTreeSet<u64> = s.log[v as usize..].iter().copied().collect();
                TrialChanges {
                    trials: ids
                        .iter()
                        .map(|&id| self.trials[id as usize].1.clone())
                        .collect(),
                    all: false,
                    version: Some(now),
                }
            }
            _ => TrialChanges {
                trials: self.study_trials(study)?,
                all: true,
                version: Some(now),
            },
        })
    }

    /// The trial if `worker` may write to it.
    pub fn fenced(&mut self, id: u64, worker: &str) -> Result<&mut FrozenTrial> {
        let t = self.trial_mut(id)?;
        check_fence(t, worker)?;
        Ok(t)
    }

    /// Adds a trial to a study under the next id and number; returns the id.
    pub fn add_trial(&mut self, study: u64, mut t: FrozenTrial) -> Result<u64> {
        let id = self.trials.len() as u64;
        let s = self.study_mut(study)?;
        t.id = id;
        t.number = s.trials.len() as u64;
        s.trials.push(id);
        s.log.push(id);
        self.trials.push((study, t));
        Ok(id)
    }

    /// The study's trials in number order.
    pub fn study_trials(&self, study: u64) -> Result<Vec<FrozenTrial>> {
        let s = self.study(study)?;
        Ok(s.trials
            .iter()
            .map(|&id| self.trials[id as usize].1.clone())
            .collect())
    }

    /// What a claim takes: the lowest-numbered Waiting trial, else a new one within budget.
    /// What a claim takes. Ids grow with numbers within a study, so the lowest Waiting id
    /// is the lowest-numbered Waiting trial. O(unfinished trials), not O(trials).
    pub fn next_claim(&mut self, study: u64, budget: Option<u64>) -> Result<Claim> {
        self.sync_index(study)?;
        let s = self.study(study)?;
        if let Some(&id) = s
            .unfinished
            .iter()
            .find(|&&id| self.trials[id as usize].1.state == TrialState::Waiting)
        {
            return Ok(Claim::Waiting(id));
        }
        let counted = (s.trials.len() - s.requeued.len()) as u64;
        Ok(match budget {
            Some(b) if counted >= b => Claim::Nothing,
            _ => Claim::New,
        })
    }

    /// Running trials of the study whose lease has expired by `now`.
    pub fn expired(&mut self, study: u64, now: f64) -> Result<Vec<u64>> {
        self.sync_index(study)?;
        let s = self.study(study)?;
        Ok(s.unfinished
            .iter()
            .copied()
            .filter(|&id| {
                let t = &self.trials[id as usize].1;
                t.state == TrialState::Running && lease_of(t).is_some_and(|(_, exp)| exp < now)
            })
            .collect())
    }

    /// Claims directly on the model (memory storage): see [`super::Storage::claim_trial`].
    pub fn claim(
        &mut self,
        study: u64,
        worker: &str,
        lease: Duration,
        budget: Option<u64>,
    ) -> Result<Option<FrozenTrial>> {
        let id = match self.next_claim(study, budget)? {
            Claim::Nothing => return Ok(None),
            Claim::Waiting(id) => id,
            Claim::New => self.add_trial(study, blank_trial(TrialState::Waiting))?,
        };
        let t = self.trial_mut(id)?;
        t.state = TrialState::Running;
        t.datetime_start = Some(iso_now());
        t.system_attrs
            .insert(attrs::LEASE.into(), lease_value(worker, lease));
        Ok(Some(t.clone()))
    }

    /// Reaps directly on the model (memory storage): see [`super::Storage::reap_expired`].
    pub fn reap(&mut self, study: u64, max_retries: u32) -> Result<Vec<u64>> {
        let mut failed = Vec::new();
        for id in self.expired(study, unix_now())? {
            let t = self.trial_mut(id)?;
            t.state = TrialState::Fail;
            t.datetime_complete = Some(iso_now());
            let old = t.clone();
            failed.push(old.number);
            if retries_of(&old) < u64::from(max_retries) {
                let new_id = self.add_trial(study, requeue_copy(&old))?;
                let new_number = self.trial(new_id)?.number;
                self.trial_mut(id)?
                    .system_attrs
                    .insert(attrs::REQUEUED_AS.into(), Value::from(new_number));
            }
        }
        Ok(failed)
    }
}
