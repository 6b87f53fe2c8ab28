//! A storage in this process only: one model behind a mutex, shared by threads through `Arc`.
//! For tests and one-off runs; nothing survives the process.

/// Checks a state that ends a trial (shared by the back ends).
pub(crate) use super::model::check_final;
use super::model::{Model, lease_value};
use super::{Storage, StudyInfo, TrialChanges, TrialsSeen, attrs, iso_now};
use crate::tune::distribution::Distribution;
use crate::tune::error::Result;
use crate::tune::trial::{Direction, FrozenTrial, TrialState};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

#[derive(Default)]
pub struct MemoryStorage {
    model: Mutex<Model>,
}

impl MemoryStorage {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Model> {
        // A panic while holding the lock leaves the model consistent (every change is a
        // single assignment or push), so a poisoned lock is still usable.
        self.model.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies `f` to trial `id` under the lock if `worker` holds the trial's lease.
    fn fenced_write(&self, id: u64, worker: &str, f: impl FnOnce(&mut FrozenTrial)) -> Result<()> {
        f(self.lock().fenced(id, worker)?);
        Ok(())
    }
}

impl Storage for MemoryStorage {
    fn create_study(
        &self,
        name: &str,
        direction: Direction,
        system_attrs: &BTreeMap<String, Value>,
    ) -> Result<StudyInfo> {
        self.lock().create_study(name, direction, system_attrs)
    }

    fn find_study(&self, name: &str) -> Result<Option<StudyInfo>> {
        Ok(self.lock().find_study(name).map(|s| s.info.clone()))
    }

    fn studies(&self) -> Result<Vec<StudyInfo>> {
        Ok(self
            .lock()
            .studies
            .values()
            .map(|s| s.info.clone())
            .collect())
    }

    fn set_study_user_attr(&self, study: u64, key: &str, value: &Value) -> Result<()> {
        let mut m = self.lock();
        m.study_mut(study)?
            .info
            .user_attrs
            .insert(key.into(), value.clone());
        Ok(())
    }

    fn set_study_system_attr(&self, study: u64, key: &str, value: &Value) -> Result<()> {
        let mut m = self.lock();
        m.study_mut(study)?
            .info
            .system_attrs
            .insert(key.into(), value.clone());
        Ok(())
    }

    fn claim_trial(
        &self,
        study: u64,
        worker: &str,
        lease: Duration,
        budget: Option<u64>,
    ) -> Result<Option<FrozenTrial>> {
        self.lock().claim(study, worker, lease, budget)
    }

    fn heartbeat(&self, trial_id: u64, worker: &str, lease: Duration) -> Result<()> {
        self.fenced_write(trial_id, worker, |t| {
            t.system_attrs
                .insert(attrs::LEASE.into(), lease_value(worker, lease));
        })
    }

    fn set_param(
        &self,
        trial_id: u64,
        worker: &str,
        name: &str,
        dist: &Distribution,
        internal: f64,
    ) -> Result<()> {
        self.fenced_write(trial_id, worker, |t| {
            t.params.insert(name.into(), (dist.clone(), internal));
        })
    }

    fn set_params(
        &self,
        trial_id: u64,
        worker: &str,
        params: &[(&str, &Distribution, f64)],
    ) -> Result<()> {
        self.fenced_write(trial_id, worker, |t| {
            for &(name, dist, internal) in params {
                t.params.insert(name.into(), (dist.clone(), internal));
            }
        })
    }

    fn report(&self, trial_id: u64, worker: &str, step: u64, value: f64) -> Result<()> {
        self.fenced_write(trial_id, worker, |t| {
            t.intermediate.insert(step, value);
        })
    }

    fn set_trial_user_attr(
        &self,
        trial_id: u64,
        worker: &str,
        key: &str,
        value: &Value,
    ) -> Result<()> {
        self.fenced_write(trial_id, worker, |t| {
            t.user_attrs.insert(key.into(), value.clone());
        })
    }

    fn finish(
        &self,
        trial_id: u64,
        worker: &str,
        state: TrialState,
        value: Option<f64>,
    ) -> Result<()> {
        check_final(state)?;
        self.fenced_write(trial_id, worker, |t| {
            t.state = state;
            t.value = value;
            t.datetime_complete = Some(iso_now());
        })
    }

    fn reap_expired(&self, study: u64, max_retries: u32) -> Result<Vec<u64>> {
        self.lock().reap(study, max_retries)
    }

    fn trials(&self, study: u64) -> Result<Vec<FrozenTrial>> {
        self.lock().study_trials(study)
    }

    fn trials_since(&self, study: u64, seen: &TrialsSeen) -> Result<TrialChanges> {
        self.lock().changed_since(study, seen.version)
    }

    fn import_trial(&self, study: u64, trial: &FrozenTrial) -> Result<u64> {
        let mut m = self.lock();
        let id = m.add_trial(study, trial.clone())?;
        Ok(m.trial(id)?.number)
    }
}
