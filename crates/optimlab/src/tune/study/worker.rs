//! The worker loop: ask, run the objective while a heartbeat thread renews the lease, tell;
//! until every trial of the budget is final. Many workers, in threads or on other machines,
//! share a study through its storage alone.
//!
//! Once the budget is claimed, a worker does not leave while other workers still run trials:
//! one of them may die, and its trial would stay Running with nobody to reap it. It waits,
//! polling at the heartbeat rate, reaps leases that run out and runs the retries they
//! re-queue, and stops when no trial is Running or Waiting.

use super::Study;
use super::trial_run::{Claimed, ObjectiveResult, TrialOutcome, TrialRun, TrialStop, renew};
use crate::tune::error::{Result, TuneError};
use crate::tune::storage::{attrs, unix_now};
use crate::tune::trial::TrialState;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::{Duration, Instant};

/// Told about each trial a worker finishes.
pub type TrialCallback = Arc<dyn Fn(&TrialOutcome) + Send + Sync>;

/// Told, at each poll, what a worker with nothing left to claim waits for.
pub type WaitCallback = Arc<dyn Fn(&Waiting) + Send + Sync>;

/// What keeps a worker from stopping once the budget is claimed: trials not yet final.
#[derive(Clone, Debug, PartialEq)]
pub struct Waiting {
    /// Running trials held by other workers (other processes or threads).
    pub running: u64,
    /// Of those, the ones without a lease (run by another tool, such as Optuna): they end
    /// only when that tool ends them.
    pub unleased: u64,
    /// Waiting trials (retries) not yet claimed.
    pub waiting: u64,
    /// Seconds until the soonest lease of the running trials runs out (negative: it ran
    /// out and the trial is reaped at the next poll).
    pub next_expiry: Option<f64>,
}

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
    /// Told what the worker waits for while other workers finish the budget.
    pub on_wait: Option<WaitCallback>,
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
            on_wait: None,
        }
    }
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
/// exhausted), runs `objective` on each and stores the outcome, then waits until every trial
/// is final, reaping expired leases and running the retries (see the module doc). `stop`
/// ends it early: a trial running then fails and is re-queued. An error from the objective,
/// a panic or a diverged loss fails that trial only; a storage error stops the worker.
pub fn run_worker(
    study: &Study,
    worker_id: &str,
    options: &WorkerOptions,
    objective: &(dyn Fn(&mut TrialRun) -> ObjectiveResult + Sync),
) -> Result<WorkerReport> {
    let mut report = WorkerReport::default();
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
        let Some(claimed) = study.claim(worker_id, options.lease, options.max_retries)? else {
            let Some(waiting) = study.waiting_for(worker_id)? else {
                break;
            };
            if let Some(cb) = &options.on_wait {
                cb(&waiting);
            }
            sleep_unless_stopped(study, options.heartbeat, options.stop.as_deref());
            continue;
        };
        ran += 1;
        let outcome = match claimed {
            Claimed::Ended(outcome) => outcome,
            Claimed::Run(mut run) => {
                run.stop = options.stop.clone();
                // Told to stop, the objective's next report answers `Interrupted`.
                let result = run_objective(study, &mut run, options, objective);
                study.tell(run, result)?
            }
        };
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

/// Sleeps `d`, waking early when `stop` is raised or another worker thread of this process
/// ends a trial (the last trials of a study end without waiting out a heartbeat).
fn sleep_unless_stopped(study: &Study, d: Duration, stop: Option<&AtomicBool>) {
    let until = Instant::now() + d;
    let ended = study.ended_here.load(Ordering::SeqCst);
    loop {
        if stop.is_some_and(|s| s.load(Ordering::SeqCst))
            || study.ended_here.load(Ordering::SeqCst) != ended
        {
            return;
        }
        let left = until.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(left.min(Duration::from_millis(50)));
    }
}

impl Study {
    /// What a worker with nothing to claim waits for: `None` when every trial of the study
    /// is final (the budget is finished), else the trials still Running or Waiting.
    pub fn waiting_for(&self, worker: &str) -> Result<Option<Waiting>> {
        let cache = self.cached_trials()?;
        let now = unix_now();
        let mut w = Waiting {
            running: 0,
            unleased: 0,
            waiting: 0,
            next_expiry: None,
        };
        for t in &cache.trials {
            match t.state {
                TrialState::Waiting => w.waiting += 1,
                TrialState::Running => {
                    let lease = t.system_attrs.get(attrs::LEASE);
                    let holder = lease.and_then(|l| l.get("worker")).and_then(|v| v.as_str());
                    if holder == Some(worker) {
                        continue;
                    }
                    w.running += 1;
                    match lease
                        .and_then(|l| l.get("expires"))
                        .and_then(|v| v.as_f64())
                    {
                        Some(e) => {
                            let left = e - now;
                            w.next_expiry = Some(w.next_expiry.map_or(left, |x: f64| x.min(left)));
                        }
                        None => w.unleased += 1,
                    }
                }
                _ => {}
            }
        }
        Ok((w.running + w.waiting > 0).then_some(w))
    }
}

/// Runs the objective while a heartbeat thread renews the lease; a panic fails the trial.
fn run_objective(
    study: &Study,
    run: &mut TrialRun,
    options: &WorkerOptions,
    objective: &(dyn Fn(&mut TrialRun) -> ObjectiveResult + Sync),
) -> ObjectiveResult {
    let storage = study.storage.as_ref();
    let (trial_id, worker, lost) = (run.trial.id, run.worker.clone(), run.lost.clone());
    let (done_tx, done_rx) = mpsc::channel::<()>();
    let result = std::thread::scope(|s| {
        // The heartbeat renews the lease until the objective returns.
        s.spawn(move || {
            while let Err(mpsc::RecvTimeoutError::Timeout) = done_rx.recv_timeout(options.heartbeat)
            {
                match renew(storage, trial_id, &worker, options.lease, &lost) {
                    Ok(()) => {}
                    Err(TuneError::LeaseLost { .. }) => break,
                    // A passing storage hiccup: the next beat tries again.
                    Err(_) => {}
                }
            }
        });
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| objective(run)));
        drop(done_tx);
        r
    });
    result.unwrap_or_else(|panic| {
        let msg = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_else(|| "the objective panicked".into());
        Err(TrialStop::Failed(format!("panic: {msg}")))
    })
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
