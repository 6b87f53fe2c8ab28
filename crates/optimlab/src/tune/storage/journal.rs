//! (in progress)

use super::{Storage, StudyInfo};
use crate::tune::distribution::Distribution;
use crate::tune::error::{Result, TuneError};
use crate::tune::trial::{Direction, FrozenTrial, TrialState};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

#[derive(Default)]
pub struct JournalStorage;

impl JournalStorage {
    pub fn open(_url: &str) -> Result<Self> {
        Err(TuneError::Storage(
            "journal storage is not implemented yet".into(),
        ))
    }
}

fn todo<T>() -> Result<T> {
    Err(TuneError::Storage("not implemented yet".into()))
}

impl Storage for JournalStorage {
    fn create_study(
        &self,
        _: &str,
        _: Direction,
        _: &BTreeMap<String, Value>,
    ) -> Result<StudyInfo> {
        todo()
    }
    fn find_study(&self, _: &str) -> Result<Option<StudyInfo>> {
        todo()
    }
    fn studies(&self) -> Result<Vec<StudyInfo>> {
        todo()
    }
    fn set_study_user_attr(&self, _: u64, _: &str, _: &Value) -> Result<()> {
        todo()
    }
    fn set_study_system_attr(&self, _: u64, _: &str, _: &Value) -> Result<()> {
        todo()
    }
    fn claim_trial(
        &self,
        _: u64,
        _: &str,
        _: Duration,
        _: Option<u64>,
    ) -> Result<Option<FrozenTrial>> {
        todo()
    }
    fn heartbeat(&self, _: u64, _: &str, _: Duration) -> Result<()> {
        todo()
    }
    fn set_param(&self, _: u64, _: &str, _: &str, _: &Distribution, _: f64) -> Result<()> {
        todo()
    }
    fn report(&self, _: u64, _: &str, _: u64, _: f64) -> Result<()> {
        todo()
    }
    fn set_trial_user_attr(&self, _: u64, _: &str, _: &str, _: &Value) -> Result<()> {
        todo()
    }
    fn finish(&self, _: u64, _: &str, _: TrialState, _: Option<f64>) -> Result<()> {
        todo()
    }
    fn reap_expired(&self, _: u64, _: u32) -> Result<Vec<u64>> {
        todo()
    }
    fn trials(&self, _: u64) -> Result<Vec<FrozenTrial>> {
        todo()
    }
    fn import_trial(&self, _: u64, _: &FrozenTrial) -> Result<u64> {
        todo()
    }
}
