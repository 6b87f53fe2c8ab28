//! The objective of a tuning study of networks: train with a trial's settings and score on the
//! validation split.
//!
//! A trial's settings are the space file's `[train]` table (the keys of a
//! [`crate::train::RunConfig`]) overlaid with the trial's parameters. The data is loaded once
//! per [`Objective`] and shared by every trial; the test set is never looked at while tuning.
//! Training is [`crate::train::Trainer`]'s loop, reporting each epoch's metric to the pruner.
//!
//! ```no_run
//! use optimlab::tune::objective::{Final, Metric, Objective, ObjectiveSpec};
//! use optimlab::tune::Space;
//!
//! let (space, train) = Space::from_toml_str(
//!     "[params]\nlr = { type = \"float\", low = 1e-4, high = 1e-1, log = true }\n[train]\nepochs = 3\n",
//!     "space.toml",
//! )?;
//! let spec = ObjectiveSpec { train, metric: Metric::ValAcc, final_value: Final::Last };
//! let objective = Objective::new(spec, &space)?;
//! // Give `|trial| objective.run(trial)` to a worker (`tune::study::run_worker`).
//! # let _ = objective;
//! # Ok::<(), optimlab::tune::TuneError>(())
//! ```

use super::study::{Decision, ObjectiveResult, TrialRun, TrialStop};
use super::{Direction, ParamValue, Space, TuneError};
use crate::data::Splits;
use crate::tensor::{DType, Scalar};
use crate::train::{Progress, ResolvedRun, RunConfig, TrainData, TrainError};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::collections::BTreeMap;

type Result<T> = std::result::Result<T, TuneError>;

fn config_error(e: impl std::fmt::Display) -> TuneError {
    TuneError::Config(e.to_string())
}

/// The validation metric a study optimises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    /// Validation accuracy, maximised.
    #[cfg_attr(feature = "clap", value(alias = "val_acc"))]
    ValAcc,
    /// Validation loss, minimised.
    #[cfg_attr(feature = "clap", value(alias = "val_loss"))]
    ValLoss,
}

impl Metric {
    pub fn direction(self) -> Direction {
        match self {
            Metric::ValAcc => Direction::Maximize,
            Metric::ValLoss => Direction::Minimize,
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Metric::ValAcc => "val_acc",
            Metric::ValLoss => "val_loss",
        }
    }
}

/// Which epoch's metric is the trial's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "clap", derive(clap::ValueEnum))]
#[serde(rename_all = "snake_case")]
pub enum Final {
    /// The last epoch's (what the book reports).
    Last,
    /// The best epoch's.
    Best,
}

/// Settings that choose or split the data: loaded once per worker, so they cannot be searched.
const DATA_KEYS: &[&str] = &[
    "data",
    "label_column",
    "train_limit",
    "test_limit",
    "val_fraction",
    "eval_limit",
];

/// Settings that make no sense per trial (run folders, resumption, threads).
const FIXED_KEYS: &[&str] = &[
    "checkpoint_every",
    "init_from",
    "threads",
    "seed",
    "resolved",
];

/// Everything the objective needs, as stored with the study (system attributes).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ObjectiveSpec {
    /// The `[train]` table of the space file.
    pub train: toml::Table,
    pub metric: Metric,
    #[serde(rename = "final")]
    pub final_value: Final,
}

/// A ready objective: the base settings, checked against the space, and the loaded data.
pub struct Objective {
    pub spec: ObjectiveSpec,
    pub base: RunConfig,
    pub splits: Splits,
    /// Flush subnormal floats to zero while training (faster on x86; off by default).
    pub flush_denormals: bool,
}

impl ObjectiveSpec {
    /// The base settings with the defaults tuning needs: a 20 % validation split unless set,
    /// one GEMM thread per trial (parallelism comes from running trials side by side).
    pub fn base_settings(&self) -> Result<RunConfig> {
        let mut s = RunConfig::from_table(self.train.clone(), "[train]").map_err(config_error)?;
        s.val_fraction.get_or_insert(0.2);
        if s.val_fraction == Some(0.0) {
            return Err(config_error(
                "[train] val_fraction = 0: tuning scores trials on the validation split, so it must be above 0",
            ));
        }
        if s.iters.is_some() {
            return Err(config_error(
                "[train] iters: tuning reports once per epoch, so set epochs instead",
            ));
        }
        if s.threads.is_some_and(|t| t != 1) {
            return Err(config_error(
                "[train] threads: each trial trains on one thread; run more trials at once with --workers",
            ));
        }
        s.threads = Some(1);
        Ok(s)
    }

    /// Checks the space against the settings before anything is stored or trained: every
    /// searched name is a train setting that can vary per trial, and every value the space
    /// allows (its bounds and choices) gives valid settings.
    pub fn check(&self, space: &Space) -> Result<u64> {
        self.check_with(space, None)
    }

    /// [`check`](Self::check), with the data's input size and class count when known (the
    /// network's memory then counts its first and last layers too). Besides each value on
    /// its own, the values that need the most memory are checked together.
    pub fn check_with(&self, space: &Space, dims: Option<(usize, usize)>) -> Result<u64> {
        let base = self.base_settings()?;
        let resolved = base.resolve().map_err(config_error)?;
        for p in &space.params {
            let name = p.name.as_str();
            if DATA_KEYS.contains(&name) {
                return Err(config_error(format!(
                    "search space: '{name}' cannot be searched (the data is loaded once for every trial); set it in [train]"
                )));
            }
            if FIXED_KEYS.contains(&name) || name == "epochs" || name == "iters" {
                return Err(config_error(format!(
                    "search space: '{name}' cannot be searched; set it in [train]"
                )));
            }
            for value in representative_values(&p.dist) {
                // A conditional parameter is checked where it is active (momentum with the
                // optimizer that uses it), so its parents take a value that activates it.
                let mut params = activating_parents(space, p);
                params.insert(name.to_string(), value.clone());
                let bad = |e: &dyn std::fmt::Display| {
                    config_error(format!("search space: parameter '{name}' = {value}: {e}"))
                };
                let settings = overlay(&base, &params).map_err(|e| bad(&e))?;
                let r = settings.resolve().map_err(|e| bad(&e))?;
                check_network(&r, dims).map_err(|e| bad(&e))?;
            }
        }
        check_largest(&base, space, dims)?;
        Ok(resolved.train.epochs as u64)
    }
}

impl Objective {
    /// Checks the spec against the space and loads the data.
    pub fn new(spec: ObjectiveSpec, space: &Space) -> Result<Objective> {
        spec.check(space)?;
        let base = spec.base_settings()?;
        let splits = base.data_config().prepare().map_err(config_error)?;
        // Again with the data's sizes: the first and last layers count now.
        spec.check_with(space, Some((splits.train.dim, splits.train.classes)))?;
        if splits.val.as_ref().is_none_or(|v| v.is_empty()) {
            return Err(config_error(
                "the validation split is empty: raise val_fraction or use more training samples",
            ));
        }
        Ok(Objective {
            spec,
            base,
            splits,
            flush_denormals: false,
        })
    }

    /// Runs one trial: trains with the trial's settings, reports the metric after each epoch
    /// (the pruner may stop it), records the curves as the user attribute `curves`.
    pub fn run(&self, trial: &mut TrialRun) -> ObjectiveResult {
        let settings =
            overlay(&self.base, &trial.params()).map_err(|e| TrialStop::Failed(e.to_string()))?;
        let resolved = settings
            .resolve()
            .map_err(|e| TrialStop::Failed(e.to_string()))?;
        // A value the space check could not rule out (a combination of parameters) fails
        // this trial with the reason, before anything is allocated.
        let dims = (self.splits.train.dim, self.splits.train.classes);
        check_network(&resolved, Some(dims)).map_err(TrialStop::Failed)?;
        match resolved.dtype {
            DType::F32 => self.train::<f32>(resolved, trial),
            DType::F64 => self.train::<f64>(resolved, trial),
        }
    }

    fn train<T: Scalar>(&self, mut resolved: ResolvedRun, trial: &mut TrialRun) -> ObjectiveResult {
        let fail = |e: &dyn std::fmt::Display| TrialStop::Failed(e.to_string());
        resolved.train.flush_denormals = self.flush_denormals;
        let mut trainer = resolved
            .trainer::<T>(&self.splits.train)
            .map_err(|e| fail(&e))?;
        let data = TrainData {
            train: &self.splits.train,
            val: self.splits.val.as_ref(),
            test: None,
        };
        let direction = self.spec.metric.direction();
        let mut curves = Curves::default();
        let mut best: Option<f64> = None;
        let outcome = loop {
            match trainer.run_epoch(&data, |_| {}) {
                Ok((record, progress)) => {
                    let value = match self.spec.metric {
                        Metric::ValAcc => record.val_acc,
                        Metric::ValLoss => record.val_loss,
                    }
                    .unwrap_or(f64::NAN);
                    curves.push(&record);
                    if !value.is_finite() {
                        break Err(TrialStop::Failed(format!(
                            "the validation {} became {value} at epoch {}",
                            self.spec.metric.name(),
                            record.epoch
                        )));
                    }
                    if best.is_none_or(|b| direction.better(value, b)) {
                        best = Some(value);
                    }
                    match trial.report(record.epoch as u64, value) {
                        Ok(Decision::Continue) => {}
                        Ok(Decision::Prune) => break Err(TrialStop::Pruned),
                        Err(e) => break Err(e.into()),
                    }
                    if progress != Progress::Continue {
                        let v = match self.spec.final_value {
                            Final::Last => Some(value),
                            Final::Best => best,
                        };
                        break v.ok_or_else(|| TrialStop::Failed("no epoch was trained".into()));
                    }
                }
                Err(TrainError::Diverged { loss, iter }) => {
                    break Err(TrialStop::Failed(format!(
                        "diverged: the loss became {loss} at iteration {iter}"
                    )));
                }
                Err(e) => break Err(fail(&e)),
            }
        };
        if !matches!(outcome, Err(TrialStop::LeaseLost))
            && let Err(e) = trial.set_user_attr("curves", &curves.to_json())
        {
            return Err(e.into());
        }
        outcome
    }
}

/// Trains `settings` to the end on the whole training split (no validation hold-out unless
/// the settings ask for one) and returns the test accuracy: how a tuned configuration is
/// finally judged.
pub fn retrain(settings: &RunConfig) -> Result<f64> {
    let resolved = settings.resolve().map_err(config_error)?;
    let splits = settings.data_config().prepare().map_err(config_error)?;
    match resolved.dtype {
        DType::F32 => retrain_typed::<f32>(resolved, &splits),
        DType::F64 => retrain_typed::<f64>(resolved, &splits),
    }
}

/// As [`retrain`], as a training run in the folder `dir` (absent or empty): it keeps the
/// saved model (`model.safetensors`), its configuration and history there. Returns the test
/// accuracy.
pub fn retrain_into(settings: &RunConfig, dir: &std::path::Path) -> Result<f64> {
    let run = crate::train::Run::start(settings.clone(), dir)
        .map_err(config_error)?
        .flush_denormals(true);
    let summary = run
        .train(&mut crate::train::NoObserver)
        .map_err(config_error)?;
    summary
        .final_test_acc
        .ok_or_else(|| config_error("the retrained run measured no test accuracy"))
}

fn retrain_typed<T: Scalar>(mut resolved: ResolvedRun, splits: &Splits) -> Result<f64> {
    let mut trainer = resolved.trainer::<T>(&splits.train).map_err(config_error)?;
    let data = TrainData {
        train: &splits.train,
        val: None,
        test: None,
    };
    loop {
        let (_, progress) = trainer.run_epoch(&data, |_| {}).map_err(config_error)?;
        if progress != Progress::Continue {
            break;
        }
    }
    Ok(trainer
        .evaluate(&splits.test, None)
        .map_err(config_error)?
        .accuracy)
}

/// Per-epoch curves of a trial, kept for the report.
#[derive(Default)]
struct Curves {
    train_loss: Vec<f64>,
    train_acc: Vec<Option<f64>>,
    val_loss: Vec<Option<f64>>,
    val_acc: Vec<Option<f64>>,
}

impl Curves {
    fn push(&mut self, r: &crate::train::EpochRecord) {
        self.train_loss.push(r.train_loss);
        self.train_acc.push(r.train_acc);
        self.val_loss.push(r.val_loss);
        self.val_acc.push(r.val_acc);
    }
    fn to_json(&self) -> Value {
        // JSON has no NaN: non-finite values become null.
        let f = |v: f64| if v.is_finite() { json!(v) } else { Value::Null };
        let o = |v: &Option<f64>| v.map_or(Value::Null, f);
        json!({
            "train_loss": self.train_loss.iter().map(|v| f(*v)).collect::<Vec<_>>(),
            "train_acc": self.train_acc.iter().map(o).collect::<Vec<_>>(),
            "val_loss": self.val_loss.iter().map(o).collect::<Vec<_>>(),
            "val_acc": self.val_acc.iter().map(o).collect::<Vec<_>>(),
        })
    }
}

/// The base settings with the parameters set. A string parameter named `hidden` ("100,100")
/// becomes the list of layer sizes.
pub fn overlay(base: &RunConfig, params: &BTreeMap<String, ParamValue>) -> Result<RunConfig> {
    let mut table = base.table().map_err(config_error)?;
    for (name, value) in params {
        let v = match (name.as_str(), value) {
            ("hidden", ParamValue::Str(s)) => toml::Value::Array(
                s.split(',')
                    .map(|x| {
                        x.trim()
                            .parse::<i64>()
                            .map(toml::Value::Integer)
                            .map_err(|_| {
                                config_error(format!(
                                    "hidden = \"{s}\": expected sizes such as \"100,100\""
                                ))
                            })
                    })
                    .collect::<Result<_>>()?,
            ),
            ("hidden", ParamValue::Int(i)) => toml::Value::Array(vec![toml::Value::Integer(*i)]),
            (_, ParamValue::Bool(b)) => toml::Value::Boolean(*b),
            (_, ParamValue::Int(i)) => toml::Value::Integer(*i),
            (_, ParamValue::Float(x)) => toml::Value::Float(*x),
            (_, ParamValue::Str(s)) => toml::Value::String(s.clone()),
            (_, ParamValue::Null) => continue,
        };
        table.insert(name.clone(), v);
    }
    RunConfig::from_table(table, "trial settings").map_err(config_error)
}

/// The network a trial would train, with the data's sizes (placeholders of 1 when unknown).
fn network_of(r: &ResolvedRun, dims: Option<(usize, usize)>) -> crate::nn::NetworkConfig {
    let mut n = r.network.clone();
    let (input, output) = dims.unwrap_or((1, 1));
    n.input = input;
    n.output = output;
    n
}

/// What resolving leaves to building the network: its own limits (dropout in [0, 1), layer
/// sizes) and the memory training takes ([`crate::nn::MEMORY_CEILING`]), as `train` checks.
fn check_network(r: &ResolvedRun, dims: Option<(usize, usize)>) -> std::result::Result<(), String> {
    let n = network_of(r, dims);
    n.validate().map_err(|e| e.to_string())?;
    n.check_memory(r.train.batch_size, r.dtype.bytes())
        .map_err(|e| e.to_string())
}

/// Checks the unconditional parameters together, each at the value that needs the most
/// memory on its own (say the widest `hidden` with the largest `batch_size`).
fn check_largest(base: &RunConfig, space: &Space, dims: Option<(usize, usize)>) -> Result<()> {
    let mut corner = BTreeMap::new();
    for p in space.params.iter().filter(|p| p.when.is_empty()) {
        let largest = representative_values(&p.dist)
            .into_iter()
            .filter_map(|v| {
                let params = BTreeMap::from([(p.name.clone(), v.clone())]);
                let r = overlay(base, &params).ok()?.resolve().ok()?;
                let bytes = network_of(&r, dims).memory_bytes(r.train.batch_size, r.dtype.bytes());
                Some((bytes, v))
            })
            .max_by_key(|(bytes, _)| *bytes);
        if let Some((_, v)) = largest {
            corner.insert(p.name.clone(), v);
        }
    }
    if corner.len() < 2 {
        return Ok(());
    }
    let too_large = |e: &dyn std::fmt::Display| {
        let values: Vec<String> = corner.iter().map(|(k, v)| format!("{k} = {v}")).collect();
        config_error(format!("search space: {} together: {e}", values.join(", ")))
    };
    let Ok(settings) = overlay(base, &corner) else {
        return Ok(());
    };
    let r = match settings.resolve() {
        Ok(r) => r,
        Err(e @ crate::train::RunError::Nn(crate::nn::NnError::TooLarge { .. })) => {
            return Err(too_large(&e));
        }
        // Values that cannot be combined are the sampler's business, not a size problem.
        Err(_) => return Ok(()),
    };
    network_of(&r, dims)
        .check_memory(r.train.batch_size, r.dtype.bytes())
        .map_err(|e| too_large(&e))
}

/// Values of `p`'s parents (and theirs, up the chain) under which `p` is active: the first
/// allowed value of each condition.
fn activating_parents(space: &Space, p: &super::ParamSpec) -> BTreeMap<String, ParamValue> {
    let mut params = BTreeMap::new();
    let mut pending: Vec<&super::ParamSpec> = vec![p];
    while let Some(spec) = pending.pop() {
        for (parent, allowed) in &spec.when {
            if let Some(value) = allowed.first() {
                params
                    .entry(parent.clone())
                    .or_insert_with(|| value.clone());
            }
            if let Some(parent_spec) = space.get(parent) {
                pending.push(parent_spec);
            }
        }
    }
    params
}

/// Values that exercise a distribution's range: its bounds, or every choice.
fn representative_values(d: &super::Distribution) -> Vec<ParamValue> {
    use super::Distribution as D;
    match d {
        D::Float { low, high, .. } => vec![ParamValue::Float(*low), ParamValue::Float(*high)],
        D::Int { low, high, .. } => vec![ParamValue::Int(*low), ParamValue::Int(*high)],
        D::Categorical { choices } => choices.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec_and_space(text: &str) -> (ObjectiveSpec, Space) {
        let (space, train) = Space::from_toml_str(text, "space.toml").unwrap();
        let spec = ObjectiveSpec {
            train,
            metric: Metric::ValAcc,
            final_value: Final::Last,
        };
        (spec, space)
    }

    #[test]
    fn a_conditional_parameter_is_checked_where_it_is_active() {
        let (spec, space) = spec_and_space(
            r#"
[params]
lr = { type = "float", low = 1e-6, high = 1e-2, log = true }
optimizer = { type = "categorical", choices = ["sgd", "momentum", "adam"] }
momentum = { type = "float", low = 0.5, high = 0.99, when = { optimizer = ["momentum"] } }
[train]
data = "digits"
epochs = 2
"#,
        );
        assert_eq!(spec.check(&space).unwrap(), 2);
    }

    #[test]
    fn a_parameter_the_settings_reject_is_refused_at_the_start() {
        // Momentum is not a hyperparameter of Adam: unconditioned, it is refused.
        let (spec, space) = spec_and_space(
            r#"
[params]
momentum = { type = "float", low = 0.5, high = 0.99 }
[train]
data = "digits"
optimizer = "adam"
"#,
        );
        let e = spec.check(&space).unwrap_err().to_string();
        assert!(e.contains("'momentum'"), "{e}");
    }
}
