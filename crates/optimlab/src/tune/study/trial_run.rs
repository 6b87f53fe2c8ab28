//! One trial's life in the caller's hands: [`Study::ask`] claims it and samples its
//! parameters, the objective reads them from the [`TrialRun`] and reports intermediate values
//! to the pruner, and [`Study::tell`] stores how it ended. The worker loop is this plus a
//! heartbeat thread.

use super::{Study, claim_budget};
use crate::tune::distribution::{Distribution, ParamValue};
use crate::tune::error::{Result, TuneError};
use crate::tune::pruner::PruneContext;
use crate::tune::sampler::SampleContext;
use crate::tune::storage::Storage;
use crate::tune::trial::{FrozenTrial, Params, TrialState};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The lease [`Study::ask`] claims under. Nobody renews it: a trial asked in this process
/// and never told (the process died) stays Running this long before a worker fails it and
/// re-queues its parameters.
pub const IN_PROCESS_LEASE: Duration = Duration::from_secs(24 * 3600);

/// The worker name [`Study::ask`] claims as.
const IN_PROCESS_WORKER: &str = "ask";

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
    /// The worker was told to stop: [`Study::tell`] fails the trial and re-queues its
    /// parameters (within the retry limit), so the budget is not spent on it.
    Interrupted,
}

impl From<TuneError> for TrialStop {
    fn from(e: TuneError) -> Self {
        match e {
            TuneError::LeaseLost { .. } => TrialStop::LeaseLost,
            TuneError::Interrupted { .. } => TrialStop::Interrupted,
            other => TrialStop::Failed(other.to_string()),
        }
    }
}

/// The objective's answer: the trial's value, or why there is none. Also what
/// [`Study::tell`] takes: `Ok(value)`, `Err(TrialStop::Pruned)` or
/// `Err(TrialStop::Failed(why))`.
pub type ObjectiveResult = std::result::Result<f64, TrialStop>;

/// A trial that was told (or lost).
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

/// One trial as the objective sees it: its parameters, and where to report.
pub struct TrialRun<'a> {
    pub(super) study: &'a Study,
    pub(super) worker: String,
    pub(super) lease: Duration,
    pub(super) trial: FrozenTrial,
    /// Set once a heartbeat found the lease taken over.
    pub(super) lost: Arc<AtomicBool>,
    pub(super) last: Option<(u64, f64)>,
    /// Raised when the worker is told to stop: the next report answers `Interrupted`.
    pub(super) stop: Option<Arc<AtomicBool>>,
    /// The retry limit the trial was claimed with (for re-queueing it when interrupted).
    pub(super) max_retries: u32,
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

    /// Whether the worker was told to stop (the objective should return
    /// `Err(TrialStop::Interrupted)`).
    pub fn stop_requested(&self) -> bool {
        self.stop.as_ref().is_some_and(|s| s.load(Ordering::SeqCst))
    }

    /// Stores the intermediate value of `step` and asks the pruner whether to stop, judging
    /// against the study's trials as stored. `LeaseLost` once the trial was taken over,
    /// `Interrupted` once the worker was told to stop (nothing is stored then).
    pub fn report(&mut self, step: u64, value: f64) -> Result<Decision> {
        if self.lease_lost() {
            return Err(TuneError::LeaseLost {
                number: self.trial.number,
            });
        }
        if self.stop_requested() {
            return Err(TuneError::Interrupted {
                number: self.trial.number,
            });
        }
        let storage = &self.study.storage;
        storage.report(self.trial.id, &self.worker, step, value)?;
        self.trial.intermediate.insert(step, value);
        self.last = Some((step, value));
        let cache = self.study.cached_trials()?;
        let trials = &cache.trials;
        let current = trials
            .get(self.trial.number as usize)
            .filter(|t| t.number == self.trial.number)
            .unwrap_or(&self.trial);
        let ctx = PruneContext {
            trials,
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
            .set_trial_user_attr(self.trial.id, &self.worker, key, value)
    }

    /// Renews the trial's lease for as long as it was claimed with. A trial from
    /// [`Study::ask_leased`] whose objective outlives the lease must call this (or another
    /// worker fails it); `LeaseLost` once it was taken over.
    pub fn heartbeat(&self) -> Result<()> {
        renew(
            self.study.storage.as_ref(),
            self.trial.id,
            &self.worker,
            self.lease,
            &self.lost,
        )
    }
}

/// Renews a lease, and marks it lost when the storage says so.
pub(super) fn renew(
    storage: &dyn Storage,
    trial_id: u64,
    worker: &str,
    lease: Duration,
    lost: &AtomicBool,
) -> Result<()> {
    let r = storage.heartbeat(trial_id, worker, lease);
    if let Err(TuneError::LeaseLost { .. }) = r {
        lost.store(true, Ordering::SeqCst);
    }
    r
}

/// What a claim gave: a trial to run, or one that ended before it could (its sampler could
/// not propose, or its lease was lost while its parameters were stored).
pub(super) enum Claimed<'a> {
    Run(TrialRun<'a>),
    Ended(TrialOutcome),
}

impl Study {
    /// Claims the next trial and samples its parameters, for an objective run in this
    /// process that [`tell`](Study::tell)s within [`IN_PROCESS_LEASE`] (no heartbeat is
    /// needed). `None` once the budget is spent (or the sampler's grid is exhausted).
    /// Workers on other machines sharing the storage should use [`Study::ask_leased`].
    ///
    /// ```
    /// use optimlab::tune::storage::memory::MemoryStorage;
    /// use optimlab::tune::study::{Study, TrialStop};
    /// use optimlab::tune::{Direction, Distribution, ParamSpec, Space, StudySettings};
    /// use std::sync::Arc;
    ///
    /// let space = Space {
    ///     params: vec![ParamSpec::new(
    ///         "x",
    ///         Distribution::Float { low: -10.0, high: 10.0, step: None, log: false },
    ///     )],
    /// };
    /// let settings = StudySettings {
    ///     sampler: Some("random".into()),
    ///     seed: Some(1),
    ///     budget: Some(100),
    ///     ..StudySettings::default()
    /// };
    /// let study = Study::create_or_open(
    ///     Arc::new(MemoryStorage::new()),
    ///     "quadratic",
    ///     Direction::Minimize,
    ///     &space,
    ///     &settings,
    /// )?;
    /// while let Some(trial) = study.ask()? {
    ///     let x = trial.float("x").unwrap();
    ///     if x > 9.5 {
    ///         // An objective that cannot give a value fails its trial; the study goes on.
    ///         study.tell(trial, Err(TrialStop::Failed("out of the model's range".into())))?;
    ///         continue;
    ///     }
    ///     study.tell(trial, Ok((x - 2.0).powi(2)))?;
    /// }
    /// let best = study.best_trial()?.unwrap();
    /// assert!(best.value.unwrap() < 1.0);
    /// # Ok::<(), optimlab::tune::TuneError>(())
    /// ```
    pub fn ask(&self) -> Result<Option<TrialRun<'_>>> {
        self.ask_leased(IN_PROCESS_WORKER, IN_PROCESS_LEASE, 1)
    }

    /// Claims the next trial as `worker` under `lease`, as the worker loop does: trials whose
    /// lease expired are failed first and their parameters re-queued (up to `max_retries`
    /// times), a re-queued trial is claimed before a new one, and the caller renews the lease
    /// with [`TrialRun::heartbeat`]. A trial the sampler cannot propose parameters for is
    /// stored as failed with the reason, which is returned as the error.
    pub fn ask_leased(
        &self,
        worker: &str,
        lease: Duration,
        max_retries: u32,
    ) -> Result<Option<TrialRun<'_>>> {
        match self.claim(worker, lease, max_retries)? {
            None => Ok(None),
            Some(Claimed::Run(run)) => Ok(Some(run)),
            Some(Claimed::Ended(o)) => Err(match o.error {
                Some(msg) => TuneError::Config(format!("trial {}: {msg}", o.number)),
                None => TuneError::LeaseLost { number: o.number },
            }),
        }
    }

    /// Stores how an asked trial ended: `Ok(value)` completes it (a non-finite value fails
    /// it), `Err(TrialStop::Pruned)` prunes it (keeping the last reported value),
    /// `Err(TrialStop::Failed(why))` fails it with the reason. If the lease was lost meanwhile
    /// nothing is stored and the outcome's state is `None`.
    pub fn tell(&self, trial: TrialRun<'_>, result: ObjectiveResult) -> Result<TrialOutcome> {
        if trial.study.info.id != self.info.id || trial.study.name() != self.name() {
            return Err(TuneError::Config(format!(
                "trial {} was asked from study '{}', not '{}'",
                trial.number(),
                trial.study.name(),
                self.name()
            )));
        }
        let storage = &self.storage;
        let worker = trial.worker.as_str();
        if trial.lease_lost() {
            return Ok(lost_outcome(&trial.trial));
        }
        let (state, value, error) = match result {
            Ok(v) if v.is_finite() => (TrialState::Complete, Some(v), None),
            Ok(v) => (
                TrialState::Fail,
                None,
                Some(format!("the objective returned {v}")),
            ),
            Err(TrialStop::Pruned) => (TrialState::Pruned, trial.last.map(|(_, v)| v), None),
            Err(TrialStop::Failed(msg)) => (TrialState::Fail, None, Some(msg)),
            Err(TrialStop::LeaseLost) => return Ok(lost_outcome(&trial.trial)),
            Err(TrialStop::Interrupted) => return self.release(&trial),
        };
        if let Some(msg) = &error {
            // Kept with the trial so `status` and reports can say why it failed.
            match storage.set_trial_user_attr(trial.trial.id, worker, "fail_reason", &json!(msg)) {
                Ok(()) => {}
                Err(TuneError::LeaseLost { .. }) => return Ok(lost_outcome(&trial.trial)),
                Err(e) => return Err(e),
            }
        }
        finish(self, worker, &trial.trial, state, value, error)
    }

    /// Ends an interrupted trial at once: it fails (with the reason), its lease is given up
    /// and its parameters are re-queued as a retry would be, so that the next worker runs
    /// them and the budget is not spent on a trial nobody finished.
    fn release(&self, trial: &TrialRun<'_>) -> Result<TrialOutcome> {
        let storage = &self.storage;
        let worker = trial.worker.as_str();
        let msg = "interrupted (the worker was told to stop)".to_string();
        let t = &trial.trial;
        let step = storage
            .set_trial_user_attr(t.id, worker, "fail_reason", &json!(msg))
            // A lease that expires now: reaping fails the trial and re-queues its
            // parameters under the same rules as for a worker that died.
            .and_then(|()| storage.heartbeat(t.id, worker, Duration::ZERO));
        match step {
            Ok(()) => {}
            Err(TuneError::LeaseLost { .. }) => return Ok(lost_outcome(t)),
            Err(e) => return Err(e),
        }
        // The reaper compares the expiry with a later clock reading.
        std::thread::sleep(Duration::from_millis(2));
        self.storage.reap_expired(self.info.id, trial.max_retries)?;
        self.ended_here.fetch_add(1, Ordering::SeqCst);
        let state = self
            .cached_trials()?
            .trials
            .get(t.number as usize)
            .filter(|x| x.id == t.id)
            .map(|x| x.state);
        let params = t
            .params
            .iter()
            .map(|(k, (d, v))| (k.clone(), d.to_external(*v)))
            .collect();
        Ok(TrialOutcome {
            number: t.number,
            state: state.filter(|s| s.is_finished()),
            value: None,
            params,
            error: Some(msg),
            best: self.best_trial()?.and_then(|b| b.value),
        })
    }

    /// Reaps expired leases, claims a trial under `lease` and samples what it does not have
    /// yet (a re-queued retry keeps its parameters). `None` when the budget is spent.
    pub(super) fn claim(
        &self,
        worker: &str,
        lease: Duration,
        max_retries: u32,
    ) -> Result<Option<Claimed<'_>>> {
        let storage = &self.storage;
        // Reaping reads every Running trial: it runs once a period, not before every claim.
        // A claim that finds nothing to do reaps first in any case, so a study is never
        // given up while an expired trial waits to be re-queued.
        let reaped = self.reap(lease, max_retries, false)?;
        let mut claimed = storage.claim_trial(self.info.id, worker, lease, claim_budget(self))?;
        if claimed.is_none() && !reaped {
            self.reap(lease, max_retries, true)?;
            claimed = storage.claim_trial(self.info.id, worker, lease, claim_budget(self))?;
        }
        let Some(mut trial) = claimed else {
            return Ok(None);
        };
        let fixed = trial.internal_params();
        let sampled = if self.sampler.needs_history() {
            let cache = self.cached_trials()?;
            self.sampler.sample(&SampleContext {
                space: &self.space,
                trials: &cache.trials,
                number: trial.number,
                direction: self.direction(),
                fixed: &fixed,
            })
        } else {
            self.sampler.sample(&SampleContext {
                space: &self.space,
                trials: &[],
                number: trial.number,
                direction: self.direction(),
                fixed: &fixed,
            })
        };
        let sampled = match sampled {
            Ok(p) => p,
            Err(e) => {
                // A sampler that cannot propose fails this trial (with the reason); the
                // study goes on to the next one.
                let msg = format!("sampler {}: {e}", self.sampler.name());
                if let Err(e) =
                    storage.set_trial_user_attr(trial.id, worker, "fail_reason", &json!(msg))
                    && !matches!(e, TuneError::LeaseLost { .. })
                {
                    return Err(e);
                }
                let outcome = finish(self, worker, &trial, TrialState::Fail, None, Some(msg))?;
                return Ok(Some(Claimed::Ended(outcome)));
            }
        };
        // All sampled parameters in one write (one transaction or journal append).
        let new: Vec<(&str, &Distribution, f64)> = self
            .space
            .params
            .iter()
            .filter(|spec| !fixed.contains_key(&spec.name))
            .filter_map(|spec| {
                let &v = sampled.get(&spec.name)?;
                Some((spec.name.as_str(), &spec.dist, v))
            })
            .collect();
        if !new.is_empty() {
            match storage.set_params(trial.id, worker, &new) {
                Ok(()) => {
                    for (name, dist, v) in new {
                        trial.params.insert(name.to_string(), (dist.clone(), v));
                    }
                }
                Err(TuneError::LeaseLost { .. }) => {
                    return Ok(Some(Claimed::Ended(lost_outcome(&trial))));
                }
                Err(e) => return Err(e),
            }
        }
        Ok(Some(Claimed::Run(TrialRun {
            study: self,
            worker: worker.to_string(),
            lease,
            trial,
            lost: Arc::new(AtomicBool::new(false)),
            last: None,
            stop: None,
            max_retries,
        })))
    }
}

/// A trial whose lease was lost before anything about its end was stored.
fn lost_outcome(trial: &FrozenTrial) -> TrialOutcome {
    TrialOutcome {
        number: trial.number,
        state: None,
        value: None,
        params: BTreeMap::new(),
        error: None,
        best: None,
    }
}

fn finish(
    study: &Study,
    worker: &str,
    trial: &FrozenTrial,
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
        Ok(()) => {
            study.ended_here.fetch_add(1, Ordering::SeqCst);
        }
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
