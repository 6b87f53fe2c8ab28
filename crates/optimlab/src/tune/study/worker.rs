//! The worker loop: ask, run the objective while a heartbeat thread renews the lease, tell;
//! until the budget is spent. Many workers, in threads or on other machines, share a study
//! through its storage alone.

use super::Study;
use super::trial_run::{Claimed, ObjectiveResult, TrialOutcome, TrialRun, TrialStop, renew};
use crate::tune::error::{Result, TuneError};
use crate::tune::trial::TrialState;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Duration;

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
            break;
        };
        ran += 1;
        let outcome = match claimed {
            Claimed::Ended(outcome) => outcome,
            Claimed::Run(mut run) => {
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
