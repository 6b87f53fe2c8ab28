//! A study: a storage, a search space, a sampler and a pruner. Trials are run either by the
//! worker loop ([`run_worker`], in `worker`), which claims trials, runs the objective and
//! stores what it reports, or one at a time by the caller with [`Study::ask`] and
//! [`Study::tell`] (in `trial_run`), for objectives that are plain functions.
//!
//! Everything a worker needs is stored with the study (system attributes `optimlab:*`), so a
//! worker on another machine opens the study by name and runs it with no other input. Workers
//! coordinate only through the storage: a trial is claimed under a lease that a heartbeat
//! thread renews while the objective runs; a worker that dies stops renewing, the lease
//! expires, and the next worker to look fails the trial and re-queues its parameters.

mod cache;
pub mod importance;
mod trial_run;
mod worker;

pub use trial_run::{
    Decision, IN_PROCESS_LEASE, ObjectiveResult, TrialOutcome, TrialRun, TrialStop,
};
pub use worker::{
    TrialCallback, WaitCallback, Waiting, WorkerOptions, WorkerReport, default_worker_prefix,
    run_worker, run_workers,
};

use super::error::{Result, TuneError};
use super::pruner::{self, Pruner};
use super::sampler::{self, Sampler};
use super::settings::StudySettings;
use super::space::Space;
use super::storage::{Storage, StudyInfo, attrs};
use super::trial::{Direction, FrozenTrial, TrialState};
use cache::TrialCache;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// The prefix of the study system attributes holding the study's settings.
const SETTING_PREFIX: &str = "optimlab:";

/// Settings that may change when a study is reopened (the budget grows, another sampler or
/// pruner takes over); every other setting defines the objective and must match.
const MUTABLE_SETTINGS: &[&str] = &["budget", "sampler", "pruner", "seed"];

/// A study opened for running or reading.
pub struct Study {
    pub storage: Arc<dyn Storage>,
    pub info: StudyInfo,
    pub space: Space,
    /// The study's settings, as stored (reopening may have changed the mutable ones).
    pub settings: StudySettings,
    sampler: Box<dyn Sampler>,
    pruner: Box<dyn Pruner>,
    /// The trials as last read, refreshed with only what changed (see `cache`).
    cache: Mutex<TrialCache>,
    /// When expired leases were last reaped, and how often to.
    reaping: Mutex<ReapClock>,
    /// Trials ended by this process (a waiting worker thread wakes when it changes).
    ended_here: std::sync::atomic::AtomicU64,
}

/// How often a claim reaps expired leases at most: a lease that runs out is noticed within
/// this long (or half the shortest lease this study claimed under, if shorter).
pub const REAP_PERIOD: Duration = Duration::from_secs(1);

struct ReapClock {
    last: Option<Instant>,
    period: Duration,
}

impl Default for ReapClock {
    fn default() -> Self {
        ReapClock {
            last: None,
            period: REAP_PERIOD,
        }
    }
}

impl Study {
    /// Creates the study, or opens it if it exists. An existing study with another space,
    /// direction or objective setting is refused with [`TuneError::StudyMismatch`] naming what
    /// differs, and nothing stored changes. The given budget, sampler, pruner and seed
    /// replace the stored ones.
    pub fn create_or_open(
        storage: Arc<dyn Storage>,
        name: &str,
        direction: Direction,
        space: &Space,
        settings: &StudySettings,
    ) -> Result<Study> {
        if settings.extra.contains_key("space") {
            return Err(TuneError::Config(
                "'space' is not a study setting (it is stored on its own)".into(),
            ));
        }
        // Build the sampler and pruner first: a bad name is refused before anything is stored.
        let (sampler_box, pruner_box) = build_strategies(settings)?;
        // Compared and stored key by key, as the storage keeps them.
        let given = settings.to_map();
        let space_json = space.to_json();
        match storage.find_study(name)? {
            None => {
                let mut system = BTreeMap::new();
                system.insert(attrs::SPACE.to_string(), space_json);
                for (k, v) in &given {
                    system.insert(format!("{SETTING_PREFIX}{k}"), v.clone());
                }
                let info = storage.create_study(name, direction, &system)?;
                Ok(Study {
                    storage,
                    info,
                    space: space.clone(),
                    settings: settings.clone(),
                    sampler: sampler_box,
                    pruner: pruner_box,
                    cache: Mutex::default(),
                    reaping: Mutex::default(),
                    ended_here: Default::default(),
                })
            }
            Some(mut info) => {
                // A study another tool made (Optuna: no `optimlab:` attribute) is adopted:
                // it gets this space and these settings, and optimlab workers join it.
                if !info
                    .system_attrs
                    .keys()
                    .any(|k| k.starts_with(SETTING_PREFIX))
                {
                    let mut adopted = vec![(attrs::SPACE.to_string(), space_json.clone())];
                    for (k, v) in &given {
                        adopted.push((format!("{SETTING_PREFIX}{k}"), v.clone()));
                    }
                    for (k, v) in adopted {
                        storage.set_study_system_attr(info.id, &k, &v)?;
                        info.system_attrs.insert(k, v);
                    }
                }
                let mut differences = Vec::new();
                if info.direction != direction {
                    differences.push(format!(
                        "direction (stored {}, given {})",
                        direction_name(info.direction),
                        direction_name(direction)
                    ));
                }
                let stored_space = info.system_attrs.get(attrs::SPACE);
                if stored_space != Some(&space_json) {
                    differences.push(describe_space_difference(stored_space, space));
                }
                let stored = stored_settings(&info);
                let keys: std::collections::BTreeSet<&String> =
                    stored.keys().chain(given.keys()).collect();
                for key in keys {
                    if MUTABLE_SETTINGS.contains(&key.as_str()) {
                        continue;
                    }
                    let (a, b) = (stored.get(key), given.get(key));
                    if a != b {
                        differences.push(format!(
                            "{key} (stored {}, given {})",
                            short_json(a),
                            short_json(b)
                        ));
                    }
                }
                if !differences.is_empty() {
                    return Err(TuneError::StudyMismatch(format!(
                        "study '{name}' exists with a different {}; use another --study name",
                        differences.join(", ")
                    )));
                }
                for key in MUTABLE_SETTINGS {
                    if let Some(v) = given.get(*key)
                        && stored.get(*key) != Some(v)
                    {
                        storage.set_study_system_attr(
                            info.id,
                            &format!("{SETTING_PREFIX}{key}"),
                            v,
                        )?;
                    }
                }
                let mut merged = stored;
                for key in MUTABLE_SETTINGS {
                    if let Some(v) = given.get(*key) {
                        merged.insert(key.to_string(), v.clone());
                    }
                }
                let settings =
                    StudySettings::from_map(merged).map_err(|e| stored_error(name, e))?;
                Ok(Study {
                    storage,
                    info,
                    space: space.clone(),
                    settings,
                    sampler: sampler_box,
                    pruner: pruner_box,
                    cache: Mutex::default(),
                    reaping: Mutex::default(),
                    ended_here: Default::default(),
                })
            }
        }
    }

    /// Opens an existing study with everything it stored (a stateless `tune worker`).
    pub fn open(storage: Arc<dyn Storage>, name: &str) -> Result<Study> {
        let info = storage
            .find_study(name)?
            .ok_or_else(|| TuneError::NoStudy(name.to_string()))?;
        let space = match info.system_attrs.get(attrs::SPACE) {
            Some(v) => Space::from_json(v).map_err(|_| {
                TuneError::Corrupt(format!(
                    "study '{name}': the stored search space ({}) cannot be read",
                    attrs::SPACE
                ))
            })?,
            None => Space::default(),
        };
        let settings =
            StudySettings::from_map(stored_settings(&info)).map_err(|e| stored_error(name, e))?;
        let (sampler, pruner) = build_strategies(&settings)?;
        Ok(Study {
            storage,
            info,
            space,
            settings,
            sampler,
            pruner,
            cache: Mutex::default(),
            reaping: Mutex::default(),
            ended_here: Default::default(),
        })
    }

    pub fn name(&self) -> &str {
        &self.info.name
    }

    pub fn direction(&self) -> Direction {
        self.info.direction
    }

    /// The study-wide number of trials (`None`: until the sampler runs out).
    pub fn budget(&self) -> Option<u64> {
        self.settings.budget
    }

    pub fn sampler(&self) -> &dyn Sampler {
        self.sampler.as_ref()
    }

    pub fn pruner(&self) -> &dyn Pruner {
        self.pruner.as_ref()
    }

    /// Every trial, in number order.
    pub fn trials(&self) -> Result<Vec<FrozenTrial>> {
        self.storage.trials(self.info.id)
    }

    /// The best complete trial (direction aware; the lowest number wins a tie). Reads only
    /// what changed since the study last looked.
    pub fn best_trial(&self) -> Result<Option<FrozenTrial>> {
        Ok(self.cached_trials()?.best().cloned())
    }

    /// How many trials are in each state.
    pub fn status(&self) -> Result<BTreeMap<&'static str, u64>> {
        Ok(count_states(&self.cached_trials()?.trials))
    }

    /// The trials as stored, brought up to date with what changed since the last look.
    pub(crate) fn cached_trials(&self) -> Result<MutexGuard<'_, TrialCache>> {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        cache.refresh(self.storage.as_ref(), self.info.id, self.direction())?;
        Ok(cache)
    }

    /// Reaps expired leases if the last reap is a period old (`force`: now). Claiming under
    /// `lease` shortens the period to half of it.
    pub(crate) fn reap(&self, lease: Duration, max_retries: u32, force: bool) -> Result<bool> {
        let mut clock = self.reaping.lock().unwrap_or_else(|e| e.into_inner());
        clock.period = clock.period.min(lease / 2);
        if !force && clock.last.is_some_and(|t| t.elapsed() < clock.period) {
            return Ok(false);
        }
        self.storage.reap_expired(self.info.id, max_retries)?;
        clock.last = Some(Instant::now());
        Ok(true)
    }
}

/// The best complete trial with a finite value (the lowest number wins a tie).
pub fn best_of(trials: &[FrozenTrial], direction: Direction) -> Option<&FrozenTrial> {
    let mut best: Option<&FrozenTrial> = None;
    for t in trials {
        if t.state != TrialState::Complete {
            continue;
        }
        let Some(v) = t.value.filter(|v| v.is_finite()) else {
            continue;
        };
        if best.is_none_or(|b| direction.better(v, b.value.unwrap_or(f64::NAN))) {
            best = Some(t);
        }
    }
    best
}

/// How many trials were failed and re-queued (marked `optimlab:requeued_as`): they do not
/// count toward the budget, their retries do.
pub fn requeued_count(trials: &[FrozenTrial]) -> u64 {
    trials
        .iter()
        .filter(|t| t.system_attrs.contains_key(attrs::REQUEUED_AS))
        .count() as u64
}

/// Counts by state name (every state present, zero included).
pub fn count_states(trials: &[FrozenTrial]) -> BTreeMap<&'static str, u64> {
    let mut counts: BTreeMap<&'static str, u64> = [
        TrialState::Complete,
        TrialState::Pruned,
        TrialState::Fail,
        TrialState::Running,
        TrialState::Waiting,
    ]
    .iter()
    .map(|s| (s.name(), 0))
    .collect();
    for t in trials {
        *counts.entry(t.state.name()).or_default() += 1;
    }
    counts
}

fn direction_name(d: Direction) -> &'static str {
    match d {
        Direction::Minimize => "minimize",
        Direction::Maximize => "maximize",
    }
}

fn short_json(v: Option<&Value>) -> String {
    let text = v.map_or("nothing".to_string(), |v| v.to_string());
    if text.chars().count() > 60 {
        format!("{}…", text.chars().take(60).collect::<String>())
    } else {
        text
    }
}

fn describe_space_difference(stored: Option<&Value>, given: &Space) -> String {
    let Some(stored) = stored.and_then(|v| Space::from_json(v).ok()) else {
        return "search space".to_string();
    };
    let mut names = Vec::new();
    for p in &given.params {
        match stored.get(&p.name) {
            None => names.push(format!("{} (new)", p.name)),
            Some(s) if s != p => names.push(format!("{} (changed)", p.name)),
            _ => {}
        }
    }
    for p in &stored.params {
        if given.get(&p.name).is_none() {
            names.push(format!("{} (removed)", p.name));
        }
    }
    if names.is_empty() {
        "search space (parameter order)".to_string()
    } else {
        format!("search space: {}", names.join(", "))
    }
}

fn stored_settings(info: &StudyInfo) -> Map<String, Value> {
    info.system_attrs
        .iter()
        .filter(|(k, _)| k.as_str() != attrs::SPACE)
        .filter_map(|(k, v)| Some((k.strip_prefix(SETTING_PREFIX)?.to_string(), v.clone())))
        .collect()
}

/// A stored setting that cannot be read, named with its study.
fn stored_error(name: &str, e: TuneError) -> TuneError {
    TuneError::Corrupt(format!("study '{name}': {e}"))
}

fn build_strategies(settings: &StudySettings) -> Result<(Box<dyn Sampler>, Box<dyn Pruner>)> {
    let sampler = sampler::parse(settings.sampler_or_default(), settings.seed.unwrap_or(0))?;
    let pruner = pruner::parse(
        settings.pruner_or_default(),
        settings.max_resource.unwrap_or(1),
    )?;
    Ok((sampler, pruner))
}

/// The trials the study may still create: its budget, capped by what the sampler can
/// propose (a grid's size).
fn claim_budget(study: &Study) -> Option<u64> {
    match (study.budget(), study.sampler.max_trials(&study.space)) {
        (Some(b), Some(m)) => Some(b.min(m)),
        (b, m) => b.or(m),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tune::distribution::Distribution;
    use crate::tune::space::ParamSpec;
    use crate::tune::storage::memory::MemoryStorage;
    use serde_json::json;

    fn space(high: f64) -> Space {
        Space {
            params: vec![ParamSpec::new(
                "x",
                Distribution::Float {
                    low: 0.0,
                    high,
                    step: None,
                    log: false,
                },
            )],
        }
    }

    fn settings(budget: u64) -> StudySettings {
        serde_json::from_value(json!({"sampler": "random", "pruner": "none", "seed": 3, "budget": budget, "train": {"epochs": 2}})).unwrap()
    }

    #[test]
    fn workers_share_the_budget_and_failures_do_not_stop_the_study() {
        let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
        let study = Study::create_or_open(
            storage,
            "s",
            Direction::Maximize,
            &space(1.0),
            &settings(12),
        )
        .unwrap();
        let objective = |t: &mut TrialRun| -> ObjectiveResult {
            let x = t.float("x").unwrap();
            t.report(1, x / 2.0)?;
            if t.number() % 4 == 3 {
                return Err(TrialStop::Failed("odd one out".into()));
            }
            Ok(x)
        };
        let report = run_workers(&study, 3, "w", &WorkerOptions::default(), &objective).unwrap();
        assert_eq!(report.complete + report.failed, 12);
        assert_eq!(report.failed, 3);
        let trials = study.trials().unwrap();
        assert_eq!(trials.len(), 12);
        let best = study.best_trial().unwrap().unwrap();
        let max = trials
            .iter()
            .filter(|t| t.state == TrialState::Complete)
            .map(|t| t.value.unwrap())
            .fold(f64::MIN, f64::max);
        assert_eq!(best.value, Some(max));
        assert_eq!(study.status().unwrap()["FAIL"], 3);
        assert_eq!(
            trials[3].user_attrs.get("fail_reason"),
            Some(&json!("odd one out"))
        );
        // Budget spent: a new worker has nothing to do.
        let again = run_worker(&study, "late", &WorkerOptions::default(), &objective).unwrap();
        assert_eq!(again, WorkerReport::default());
    }

    #[test]
    fn a_worker_waits_for_a_dead_worker_s_trial_and_runs_its_retry() {
        let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
        let study =
            Study::create_or_open(storage, "s", Direction::Minimize, &space(1.0), &settings(3))
                .unwrap();
        // Trial 0 is held by a worker that will never report (its lease is short).
        let dead = study
            .ask_leased("dead", Duration::from_millis(300), 1)
            .unwrap()
            .unwrap();
        let dead_number = dead.number();
        drop(dead);
        let waits = Arc::new(Mutex::new(Vec::new()));
        let seen = waits.clone();
        let options = WorkerOptions {
            heartbeat: Duration::from_millis(20),
            on_wait: Some(Arc::new(move |w: &Waiting| {
                seen.lock().unwrap().push(w.clone())
            })),
            ..WorkerOptions::default()
        };
        let report = run_worker(&study, "live", &options, &|t: &mut TrialRun| {
            Ok(t.float("x").unwrap())
        })
        .unwrap();
        // Two new trials, then the dead trial's retry: the budget of 3 is complete.
        assert_eq!(report.complete, 3);
        let trials = study.trials().unwrap();
        assert_eq!(trials.len(), 4);
        assert_eq!(trials[dead_number as usize].state, TrialState::Fail);
        assert!(trials.iter().all(|t| t.state.is_finished()));
        assert_eq!(requeued_count(&trials), 1);
        // It said what it waited for: one trial running elsewhere, with its lease's expiry.
        let waits = waits.lock().unwrap();
        assert!(!waits.is_empty());
        assert_eq!(waits[0].running, 1);
        assert!(waits[0].next_expiry.is_some_and(|s| s <= 0.3));
    }

    #[test]
    fn a_stopped_worker_gives_its_trial_back_for_a_retry() {
        let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
        let study =
            Study::create_or_open(storage, "s", Direction::Minimize, &space(1.0), &settings(3))
                .unwrap();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let options = WorkerOptions {
            stop: Some(stop.clone()),
            ..WorkerOptions::default()
        };
        let flag = stop.clone();
        let report = run_worker(&study, "w", &options, &|t: &mut TrialRun| {
            // A signal arrives in the middle of the first trial.
            flag.store(true, std::sync::atomic::Ordering::SeqCst);
            t.report(0, 1.0)?;
            Ok(1.0)
        })
        .unwrap();
        assert_eq!((report.complete, report.failed), (0, 1));
        let trials = study.trials().unwrap();
        assert_eq!(trials[0].state, TrialState::Fail);
        assert!(
            trials[0].intermediate.is_empty(),
            "nothing reported after the stop"
        );
        assert_eq!(trials[1].state, TrialState::Waiting);
        assert_eq!(trials[1].params, trials[0].params);
        // The budget is not spent on it: a new worker runs the retry and two more.
        let report = run_worker(
            &study,
            "w2",
            &WorkerOptions::default(),
            &|t: &mut TrialRun| Ok(t.float("x").unwrap()),
        )
        .unwrap();
        assert_eq!(report.complete, 3);
    }

    #[test]
    fn reopening_with_another_space_or_objective_is_refused_and_changes_nothing() {
        let storage: Arc<dyn Storage> = Arc::new(MemoryStorage::new());
        Study::create_or_open(
            storage.clone(),
            "s",
            Direction::Maximize,
            &space(1.0),
            &settings(2),
        )
        .unwrap();
        let err = Study::create_or_open(
            storage.clone(),
            "s",
            Direction::Maximize,
            &space(2.0),
            &settings(5),
        )
        .err()
        .unwrap();
        assert!(matches!(err, TuneError::StudyMismatch(_)));
        assert!(err.to_string().contains("x (changed)"), "{err}");
        let mut other = settings(5);
        other.extra.insert("train".into(), json!({"epochs": 3}));
        let err = Study::create_or_open(
            storage.clone(),
            "s",
            Direction::Minimize,
            &space(1.0),
            &other,
        )
        .err()
        .unwrap();
        assert!(err.to_string().contains("direction"), "{err}");
        assert!(err.to_string().contains("train"), "{err}");
        // Nothing stored changed: the budget is still 2; a matching reopen may raise it.
        assert_eq!(Study::open(storage.clone(), "s").unwrap().budget(), Some(2));
        let s = Study::create_or_open(
            storage.clone(),
            "s",
            Direction::Maximize,
            &space(1.0),
            &settings(5),
        )
        .unwrap();
        assert_eq!(s.budget(), Some(5));
        assert_eq!(Study::open(storage, "s").unwrap().budget(), Some(5));
    }
}
