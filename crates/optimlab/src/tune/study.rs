//! A study: a storage, a search space, a sampler and a pruner, and the worker loop that claims
//! trials, runs the objective and stores what it reports.
//!
//! Everything a worker needs is stored with the study (system attributes `optimlab:*`), so a
//! worker on another machine opens the study by name and runs it with no other input. Workers
//! coordinate only through the storage: a trial is claimed under a lease that a heartbeat
//! thread renews while the objective runs; a worker that dies stops renewing, the lease
//! expires, and the next worker to look fails the trial and re-queues its parameters.

pub mod importance;

use super::distribution::ParamValue;
use super::error::{Result, TuneError};
use super::pruner::{self, PruneContext, Pruner};
use super::sampler::{self, SampleContext, Sampler};
use super::space::Space;
use super::storage::{Storage, StudyInfo, attrs};
use super::trial::{Direction, FrozenTrial, Params, TrialState};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

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
    /// The study's settings, as stored: `sampler`, `pruner`, `seed`, `budget`,
    /// `max_resource` (steps a full trial reports, for the pruner) and whatever the objective
    /// needs (train settings, metric), as a JSON object.
    pub settings: Map<String, Value>,
    sampler: Box<dyn Sampler>,
    pruner: Box<dyn Pruner>,
}

impl Study {
    /// Creates the study, or opens it if it exists. An existing study with another space,
    /// direction or objective setting is refused with [`TuneError::StudyMismatch`] naming what
    /// differs, and nothing stored changes. `settings` must be a JSON object (see
    /// [`Study::settings`]); its budget, sampler, pruner and seed replace the stored ones.
    pub fn create_or_open(
        storage: Arc<dyn Storage>,
        name: &str,
        direction: Direction,
        space: &Space,
        settings: &Value,
    ) -> Result<Study> {
        let Value::Object(settings) = settings else {
            return Err(TuneError::Config(
                "study settings must be a JSON object".into(),
            ));
        };
        if settings.contains_key("space") {
            return Err(TuneError::Config(
                "'space' is not a study setting (it is stored on its own)".into(),
            ));
        }
        // Build the sampler and pruner first: a bad name is refused before anything is stored.
        let (sampler_box, pruner_box) = build_strategies(settings)?;
        let space_json = space.to_json();
        match storage.find_study(name)? {
            None => {
                let mut system = BTreeMap::new();
                system.insert(attrs::SPACE.to_string(), space_json);
                for (k, v) in settings {
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
                })
            }
            Some(info) => {
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
                    stored.keys().chain(settings.keys()).collect();
                for key in keys {
                    if MUTABLE_SETTINGS.contains(&key.as_str()) {
                        continue;
                    }
                    let (a, b) = (stored.get(key), settings.get(key));
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
                    if let Some(v) = settings.get(*key)
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
                    if let Some(v) = settings.get(*key) {
                        merged.insert(key.to_string(), v.clone());
                    }
                }
                Ok(Study {
                    storage,
                    info,
                    space: space.clone(),
                    settings: merged,
                    sampler: sampler_box,
                    pruner: pruner_box,
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
        let settings = stored_settings(&info);
        let (sampler, pruner) = build_strategies(&settings)?;
        Ok(Study {
            storage,
            info,
            space,
            settings,
            sampler,
            pruner,
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
        self.settings.get("budget").and_then(Value::as_u64)
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

    /// The best complete trial (direction aware; the lowest number wins a tie).
    pub fn best_trial(&self) -> Result<Option<FrozenTrial>> {
        Ok(best_of(&self.trials()?, self.direction()).cloned())
    }

    /// How many trials are in each state.
    pub fn status(&self) -> Result<BTreeMap<&'static str, u64>> {
        Ok(count_states(&self.trials()?))
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

fn build_strategies(settings: &Map<String, Value>) -> Result<(Box<dyn Sampler>, Box<dyn Pruner>)> {
    let seed = settings.get("seed").and_then(Value::as_u64).unwrap_or(0);
    let sampler = sampler::parse(
        settings
            .get("sampler")
            .and_then(Value::as_str)
            .unwrap_or("random"),
        seed,
    )?;
    let max_resource = settings
        .get("max_resource")
        .and_then(Value::as_u64)
        .unwrap_or(1);
    let pruner = pruner::parse(
        settings
            .get("pruner")
            .and_then(Value::as_str)
            .unwrap_or("none"),
        max_resource,
    )?;
    Ok((sampler, pruner))
}

/// What the pruner said after a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Continue,
    Prune,
}

/// Why an objective stopped without a value.
#[derive(Debug)]
pub enum TrialStop {
    /// The pruner stopped the trial (after a [`Decision::Prune`]).
    Pruned,
    /// The trial failed (an error, a diverged loss); the study goes on.
    Failed(String),
    /// The worker lost the trial's lease: whatever it computed is dropped.
    LeaseLost,
}

impl From<TuneError> for TrialStop {
    fn from(e: TuneError) -> Self {
        match e {
            TuneError::LeaseLost { .. } => TrialStop::LeaseLost,
            other => TrialStop::Failed(other.to_string()),
        }
    }
}

/// The objective's answer: the trial's value, or why there is none.
pub type ObjectiveResult = std::result::Result<f64, TrialStop>;

/// One trial as the objective sees it.
pub struct TrialRun<'a> {
    study: &'a Study,
    worker: &'a str,
    trial: FrozenTrial,
    lost: &'a AtomicBool,
    last: Option<(u64, f64)>,
}

impl TrialRun<'_> {
    pub fn number(&self) -> u64 {
        self.trial.number
    }

    /// The trial's parameters (external values) by name.
    pub fn params(&self) -> BTreeMap<String, ParamValue> {
        self.trial
            .params
            .iter()
            .map(|(k, (d, v))| (k.clone(), d.to_external(*v)))
            .collect()
    }

    pub fn param(&self, name: &str) -> Option<ParamValue> {
        self.trial.param(name)
    }

    pub fn float(&self, name: &str) -> Option<f64> {
        self.param(name).and_then(|v| v.as_f64())
    }

    pub fn int(&self, name: &str) -> Option<i64> {
        match self.param(name)? {
            ParamValue::Int(i) => Some(i),
            _ => None,
        }
    }

    /// Internal parameter values.
    pub fn internal_params(&self) -> Params {
        self.trial.internal_params()
    }

    /// Whether the trial's lease was lost (the objective should stop: its result is dropped).
    pub fn lease_lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// The last intermediate value reported.
    pub fn last_reported(&self) -> Option<(u64, f64)> {
        self.last
    }

    /// Stores the intermediate value of `step` and asks the pruner whether to stop, judging
    /// against the study's trials as stored. `LeaseLost` once the trial was taken over.
    pub fn report(&mut self, step: u64, value: f64) -> Result<Decision> {
        if self.lease_lost() {
            return Err(TuneError::LeaseLost {
                number: self.trial.number,
            });
        }
        let storage = &self.study.storage;
        storage.report(self.trial.id, self.worker, step, value)?;
        self.trial.intermediate.insert(step, value);
        self.last = Some((step, value));
        let trials = storage.trials(self.study.info.id)?;
        let current = trials
            .iter()
            .find(|t| t.number == self.trial.number)
            .unwrap_or(&self.trial);
        let ctx = PruneContext {
            trials: &trials,
            trial: current,
            step,
            direction: self.study.direction(),
        };
        Ok(if self.study.pruner.prune(&ctx) {
            Decision::Prune
        } else {
            Decision::Continue
        })
    }

    pub fn set_user_attr(&self, key: &str, value: &Value) -> Result<()> {
        self.study
            .storage
            .set_trial_user_attr(self.trial.id, self.worker, key, value)
    }
}

/// Told about each trial a worker finishes.
pub type TrialCallback = Arc<dyn Fn(&TrialOutcome) + Send + Sync>;

/// How a worker runs trials.
#[derive(Clone)]
pub struct WorkerOptions {
    /// How long a claim holds without a heartbeat.
    pub lease: Duration,
    /// How often the heartbeat renews the lease (well under `lease`).
    pub heartbeat: Duration,
    /// How often the parameters of a trial whose worker died are retried.
    pub max_retries: u32,
    /// Stop after this many trials run by this worker.
    pub max_trials: Option<u64>,
    /// Set to stop the worker after its current trial.
    pub stop: Option<Arc<AtomicBool>>,
    /// Told about each trial this worker finishes (progress lines).
    pub on_trial: Option<TrialCallback>,
}

impl Default for WorkerOptions {
    fn default() -> Self {
        WorkerOptions {
            lease: Duration::from_secs(60),
            heartbeat: Duration::from_secs(10),
            max_retries: 1,
            max_trials: None,
            stop: None,
            on_trial: None,
        }
    }
}

/// A trial a worker finished (or lost).
#[derive(Clone, Debug)]
pub struct TrialOutcome {
    pub number: u64,
    /// `None`: the lease was lost and nothing was stored.
    pub state: Option<TrialState>,
    pub value: Option<f64>,
    pub params: BTreeMap<String, ParamValue>,
    /// Why the trial failed.
    pub error: Option<String>,
    /// The study's best value once this trial was stored.
    pub best: Option<f64>,
}

/// What a worker did.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WorkerReport {
    pub complete: u64,
    pub pruned: u64,
    pub failed: u64,
    /// Trials whose lease was lost (their results were dropped).
    pub lost: u64,
}

/// A trial worker: claims trials until the budget is spent (or the sampler's grid is
/// exhausted, or `stop` is set), runs `objective` on each and stores the outcome. An error
/// from the objective, a panic or a diverged loss fails that trial only; a storage error
/// stops the worker.
pub fn run_worker(
    study: &Study,
    worker_id: &str,
    options: &WorkerOptions,
    objective: &(dyn Fn(&mut TrialRun) -> ObjectiveResult + Sync),
) -> Result<WorkerReport> {
    let mut report = WorkerReport::default();
    let budget = match (study.budget(), sampler_limit(study)) {
        (Some(b), Some(m)) => Some(b.min(m)),
        (b, m) => b.or(m),
    };
    let max_retries = options.max_retries;
    let mut ran = 0u64;
    loop {
        if options
            .stop
            .as_ref()
            .is_some_and(|s| s.load(Ordering::SeqCst))
            || options.max_trials.is_some_and(|m| ran >= m)
        {
            break;
        }
        study.storage.reap_expired(study.info.id, max_retries)?;
        let Some(claimed) =
            study
                .storage
                .claim_trial(study.info.id, worker_id, options.lease, budget)?
        else {
            break;
        };
        ran += 1;
        let outcome = run_trial(study, worker_id, options, claimed, objective)?;
        match outcome.state {
            Some(TrialState::Complete) => report.complete += 1,
            Some(TrialState::Pruned) => report.pruned += 1,
            Some(_) => report.failed += 1,
            None => report.lost += 1,
        }
        if let Some(cb) = &options.on_trial {
            cb(&outcome);
        }
    }
    Ok(report)
}

/// Runs `k` workers as threads of this process sharing the study's storage; worker `i` is
/// named `{prefix}-{i}`. Returns the sum of their reports; the first storage error wins.
pub fn run_workers(
    study: &Study,
    k: usize,
    prefix: &str,
    options: &WorkerOptions,
    objective: &(dyn Fn(&mut TrialRun) -> ObjectiveResult + Sync),
) -> Result<WorkerReport> {
    let results: Vec<Result<WorkerReport>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..k.max(1))
            .map(|i| {
                let id = format!("{prefix}-{i}");
                s.spawn(move || run_worker(study, &id, options, objective))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(TuneError::Storage("a worker thread panicked".into())))
            })
            .collect()
    });
    let mut total = WorkerReport::default();
    for r in results {
        let r = r?;
        total.complete += r.complete;
        total.pruned += r.pruned;
        total.failed += r.failed;
        total.lost += r.lost;
    }
    Ok(total)
}

/// How many trials the sampler can propose (a grid's size), when it is finite.
fn sampler_limit(study: &Study) -> Option<u64> {
    study.sampler.max_trials(&study.space)
}

/// A worker name unique to this process on this machine: `host-pid`.
pub fn default_worker_prefix() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| {
            std::fs::read_to_string("/etc/hostname")
                .ok()
                .map(|h| h.trim().to_string())
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into());
    format!("{host}-{}", std::process::id())
}

fn run_trial(
    study: &Study,
    worker: &str,
    options: &WorkerOptions,
    claimed: FrozenTrial,
    objective: &(dyn Fn(&mut TrialRun) -> ObjectiveResult + Sync),
) -> Result<TrialOutcome> {
    let storage = &study.storage;
    let mut trial = claimed;
    let lost_outcome = |trial: &FrozenTrial| TrialOutcome {
        number: trial.number,
        state: None,
        value: None,
        params: BTreeMap::new(),
        error: None,
        best: None,
    };
    // Sample what the trial does not have yet (a re-queued retry keeps its parameters).
    let fixed = trial.internal_params();
    let trials = storage.trials(study.info.id)?;
    let ctx = SampleContext {
        space: &study.space,
        trials: &trials,
        number: trial.number,
        direction: study.direction(),
        fixed: &fixed,
    };
    let sampled = match study.sampler.sample(&ctx) {
        Ok(p) => p,
        Err(e) => {
            // A sampler that cannot propose fails this trial (with the reason) and the
            // worker goes on to the next one.
            let msg = format!("sampler {}: {e}", study.sampler.name());
            if let Err(e) =
                storage.set_trial_user_attr(trial.id, worker, "fail_reason", &json!(msg))
                && !matches!(e, TuneError::LeaseLost { .. })
            {
                return Err(e);
            }
            return finish(study, worker, trial, TrialState::Fail, None, Some(msg));
        }
    };
    for spec in &study.space.params {
        let Some(&v) = sampled.get(&spec.name) else {
            continue;
        };
        if fixed.contains_key(&spec.name) {
            continue;
        }
        match storage.set_param(trial.id, worker, &spec.name, &spec.dist, v) {
            Ok(()) => {
                trial
                    .params
                    .insert(spec.name.clone(), (spec.dist.clone(), v));
            }
            Err(TuneError::LeaseLost { .. }) => return Ok(lost_outcome(&trial)),
            Err(e) => return Err(e),
        }
    }

    let lost = AtomicBool::new(false);
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let trial_id = trial.id;
    let result = std::thread::scope(|s| {
        // The heartbeat renews the lease until the objective returns.
        let lost = &lost;
        s.spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = done_rx.recv_timeout(options.heartbeat)
            {
                match storage.heartbeat(trial_id, worker, options.lease) {
                    Ok(()) => {}
                    Err(TuneError::LeaseLost { .. }) => {
                        lost.store(true, Ordering::SeqCst);
                        break;
                    }
                    // A passing storage hiccup: the next beat tries again.
                    Err(_) => {}
                }
            }
        });
        let mut run = TrialRun {
            study,
            worker,
            trial: trial.clone(),
            lost,
            last: None,
        };
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| objective(&mut run)));
        drop(done_tx);
        (r, run.last)
    });
    let (result, last) = result;
    if lost.load(Ordering::SeqCst) {
        return Ok(lost_outcome(&trial));
    }
    let (state, value, error) = match result {
        Ok(Ok(v)) if v.is_finite() => (TrialState::Complete, Some(v), None),
        Ok(Ok(v)) => (
            TrialState::Fail,
            None,
            Some(format!("the objective returned {v}")),
        ),
        Ok(Err(TrialStop::Pruned)) => (TrialState::Pruned, last.map(|(_, v)| v), None),
        Ok(Err(TrialStop::Failed(msg))) => (TrialState::Fail, None, Some(msg)),
        Ok(Err(TrialStop::LeaseLost)) => return Ok(lost_outcome(&trial)),
        Err(panic) => {
            let msg = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "the objective panicked".into());
            (TrialState::Fail, None, Some(format!("panic: {msg}")))
        }
    };
    if let Some(msg) = &error {
        // Kept with the trial so `status` and reports can say why it failed.
        match storage.set_trial_user_attr(trial.id, worker, "fail_reason", &json!(msg)) {
            Ok(()) => {}
            Err(TuneError::LeaseLost { .. }) => return Ok(lost_outcome(&trial)),
            Err(e) => return Err(e),
        }
    }
    finish(study, worker, trial, state, value, error)
}

fn finish(
    study: &Study,
    worker: &str,
    trial: FrozenTrial,
    state: TrialState,
    value: Option<f64>,
    error: Option<String>,
) -> Result<TrialOutcome> {
    let params = trial
        .params
        .iter()
        .map(|(k, (d, v))| (k.clone(), d.to_external(*v)))
        .collect();
    match study.storage.finish(trial.id, worker, state, value) {
        Ok(()) => {}
        Err(TuneError::LeaseLost { .. }) => {
            return Ok(TrialOutcome {
                number: trial.number,
                state: None,
                value: None,
                params,
                error: None,
                best: None,
            });
        }
        Err(e) => return Err(e),
    }
    let best = study.best_trial()?.and_then(|t| t.value);
    Ok(TrialOutcome {
        number: trial.number,
        state: Some(state),
        value,
        params,
        error,
        best,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tune::distribution::Distribution;
    use crate::tune::space::ParamSpec;
    use crate::tune::storage::memory::MemoryStorage;

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

    fn settings(budget: u64) -> Value {
        json!({"sampler": "random", "pruner": "none", "seed": 3, "budget": budget, "train": {"epochs": 2}})
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
        other["train"] = json!({"epochs": 3});
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
