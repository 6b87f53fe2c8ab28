//! [`RunConfig`]: every setting of a training run, as TOML, as flags, and as a library value.

use super::RunError;
use crate::Preset;
use crate::data::DataConfig;
use crate::nn::Activation;
use crate::optim::OptimizerConfig;
use crate::tensor::DType;
use crate::train::{BatchOrder, Monitor, ScheduleUnit};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Every setting of a training run, each optional: unset ones take the preset's default.
///
/// This one struct is the `optimlab train --config` TOML schema, the `config.toml` of a run
/// folder, the command's flags (with the `clap` feature) and what a library user fills in.
/// The optimizer's options are the library's [`OptimizerConfig`], flattened in: its keys
/// (`optimizer`, `lr`, `momentum`, `nesterov`, `beta1`, …, `weight_decay`) sit beside the
/// others.
///
/// ```
/// use optimlab::train::RunConfig;
///
/// let config = RunConfig::from_toml_str(
///     "hidden = [50]\noptimizer = \"momentum\"\nlr = 0.05\nnesterov = true\nepochs = 2\n",
///     "run.toml",
/// )
/// .unwrap();
/// let resolved = config.resolve().unwrap();
/// assert_eq!(resolved.optimizer.lr, 0.05);
/// assert_eq!(resolved.train.epochs, 2);
/// // A key no setting has is refused, with its line.
/// let err = RunConfig::from_toml_str("epochs = 2\nlearning_rate = 0.1\n", "run.toml");
/// assert!(err.unwrap_err().to_string().contains("learning_rate"));
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
#[cfg_attr(feature = "clap", derive(clap::Args))]
pub struct RunConfig {
    /// digits (embedded, default), fashion-mnist, mnist, a folder of MNIST-format files, or a .csv
    #[cfg_attr(feature = "clap", arg(long))]
    pub data: Option<String>,
    /// Label column of a CSV file (index, or name with a header)
    #[cfg_attr(feature = "clap", arg(long))]
    pub label_column: Option<String>,
    /// Whether a CSV file's first row is a header: auto (when none of its fields is a
    /// number), yes or no
    #[cfg_attr(feature = "clap", arg(long))]
    pub header: Option<crate::data::csv::CsvHeader>,
    /// Number of classes, when the labels do not show it (a label at or above it is an error)
    #[cfg_attr(feature = "clap", arg(long))]
    pub classes: Option<usize>,
    /// Train on the first N training samples only
    #[cfg_attr(feature = "clap", arg(long))]
    pub train_limit: Option<usize>,
    /// Test on the first N test samples only
    #[cfg_attr(feature = "clap", arg(long))]
    pub test_limit: Option<usize>,
    /// Fraction of the training set held out for validation (0 = none)
    #[cfg_attr(feature = "clap", arg(long))]
    pub val_fraction: Option<f64>,
    /// Hidden layer sizes, e.g. 100,100
    #[cfg_attr(feature = "clap", arg(long, value_delimiter = ','))]
    pub hidden: Option<Vec<usize>>,
    /// relu, sigmoid or tanh
    #[cfg_attr(feature = "clap", arg(long))]
    pub activation: Option<Activation>,
    /// he, xavier (book: √(1/n), torch: Glorot), glorot, or a fixed std such as 0.01
    #[cfg_attr(feature = "clap", arg(long))]
    pub init: Option<String>,
    /// Batch normalization after every hidden dense layer
    #[cfg_attr(feature = "clap", arg(long, num_args = 0..=1, default_missing_value = "true"))]
    pub batch_norm: Option<bool>,
    /// Dropout probability after every hidden activation (0 = off)
    #[cfg_attr(feature = "clap", arg(long))]
    pub dropout: Option<f64>,
    /// The update rule and its hyperparameters (keys `optimizer`, `lr`, `momentum`, …).
    #[serde(flatten)]
    #[cfg_attr(feature = "clap", command(flatten))]
    pub optimizer: OptimizerConfig,
    /// LR schedule: step:30,0.1 | exp:0.95 | cosine:T | warmup:N[+…] | onecycle:MAX,TOTAL | plateau
    #[cfg_attr(feature = "clap", arg(long))]
    pub schedule: Option<String>,
    /// When a time-based schedule advances: iter (default) or epoch
    #[cfg_attr(feature = "clap", arg(long))]
    pub schedule_unit: Option<ScheduleUnit>,
    /// Clip gradients to this global L2 norm
    #[cfg_attr(feature = "clap", arg(long))]
    pub clip_norm: Option<f64>,
    /// Clip every gradient element to [−V, V]
    #[cfg_attr(feature = "clap", arg(long))]
    pub clip_value: Option<f64>,
    /// Samples per mini-batch, e.g. 100 (default 32)
    #[cfg_attr(feature = "clap", arg(long))]
    pub batch_size: Option<usize>,
    /// Epochs to train (default 20)
    #[cfg_attr(feature = "clap", arg(long, conflicts_with = "iters"))]
    pub epochs: Option<usize>,
    /// Train for this many iterations instead of epochs
    #[cfg_attr(feature = "clap", arg(long))]
    pub iters: Option<usize>,
    /// shuffle (torch default), replacement (book default) or sequential
    #[cfg_attr(feature = "clap", arg(long))]
    pub order: Option<BatchOrder>,
    /// Evaluate on the first N samples of each set only
    #[cfg_attr(feature = "clap", arg(long))]
    pub eval_limit: Option<usize>,
    /// Stop after this many epochs without validation improvement
    #[cfg_attr(feature = "clap", arg(long))]
    pub early_stop: Option<usize>,
    /// What early stopping watches: val_acc (default) or val_loss
    #[cfg_attr(feature = "clap", arg(long))]
    pub early_stop_metric: Option<Monitor>,
    /// Write the resumable checkpoint every N epochs (default 1)
    #[cfg_attr(feature = "clap", arg(long))]
    pub checkpoint_every: Option<usize>,
    /// Start from the weights in this .safetensors file
    #[cfg_attr(feature = "clap", arg(long))]
    pub init_from: Option<String>,
    /// book or torch (default)
    #[cfg_attr(feature = "clap", arg(long))]
    pub preset: Option<Preset>,
    /// f32 or f64 (default: the preset's)
    #[cfg_attr(feature = "clap", arg(long))]
    pub dtype: Option<DType>,
    /// Seed of every random stream (init, batches, dropout), e.g. 42 (default 0)
    #[cfg_attr(feature = "clap", arg(long))]
    pub seed: Option<u64>,
    /// GEMM threads
    #[cfg_attr(feature = "clap", arg(long))]
    pub threads: Option<usize>,
    /// Written into a run folder's `config.toml` for the record: every value the settings
    /// resolved to (network, optimizer, schedule, trainer). Ignored when read back.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "clap", arg(skip))]
    pub resolved: Option<toml::Table>,
}

/// TOML keys accepted as other spellings of a key (serde aliases).
const ALIASES: &[(&str, &str)] = &[("alpha", "rho"), ("name", "optimizer")];

impl RunConfig {
    /// Reads a TOML run config (`origin` names it in errors). Unknown keys are refused with
    /// their line, so a typo never silently falls back to a default.
    pub fn from_toml_str(text: &str, origin: &str) -> Result<RunConfig, RunError> {
        let table: toml::Table = toml::from_str(text).map_err(|e| toml_error(text, origin, &e))?;
        Self::from_table_in(table, origin, Some(text))
    }

    /// A run config from a TOML table (a space file's `[train]`, a tuning trial's settings),
    /// refusing unknown keys as [`RunConfig::from_toml_str`] does.
    pub fn from_table(table: toml::Table, origin: &str) -> Result<RunConfig, RunError> {
        Self::from_table_in(table, origin, None)
    }

    fn from_table_in(
        table: toml::Table,
        origin: &str,
        text: Option<&str>,
    ) -> Result<RunConfig, RunError> {
        let config: RunConfig =
            toml::Value::Table(table.clone())
                .try_into()
                .map_err(|e: toml::de::Error| {
                    // A table has no positions: read the text again for the line.
                    match text.map(|t| (t, toml::from_str::<RunConfig>(t))) {
                        Some((t, Err(with_span))) => toml_error(t, origin, &with_span),
                        _ => RunError::Config(format!("{origin}: {}", e.message().trim())),
                    }
                })?;
        // Flattened structs cannot deny unknown fields in serde: a key that did not survive the
        // round trip was not read by any setting.
        let known = config.table()?;
        for key in table.keys() {
            let alias = ALIASES.iter().find(|(a, _)| a == key).map(|(_, k)| *k);
            if !known.contains_key(key) && !alias.is_some_and(|k| known.contains_key(k)) {
                let line = text
                    .and_then(|t| {
                        t.lines()
                            .position(|l| l.trim_start().starts_with(key.as_str()))
                    })
                    .map(|i| format!(" (line {})", i + 1))
                    .unwrap_or_default();
                return Err(RunError::Config(format!(
                    "{origin}{line}: unknown setting '{key}' (not a key of `optimlab train --config`)"
                )));
            }
        }
        Ok(config)
    }

    /// Reads a TOML run config file.
    pub fn from_path(path: &Path) -> Result<RunConfig, RunError> {
        let text = std::fs::read_to_string(path).map_err(|e| RunError::io(path, e))?;
        Self::from_toml_str(&text, &path.display().to_string())
    }

    /// The settings as TOML (unset ones absent).
    pub fn to_toml(&self) -> Result<String, RunError> {
        toml::to_string(self)
            .map_err(|e| RunError::Config(format!("cannot write the settings: {e}")))
    }

    /// The settings as a TOML table (unset ones absent). TOML keeps NaN and infinities, so
    /// they reach validation instead of being lost; integers TOML cannot hold (≥ 2⁶³) are
    /// refused here with the setting's name.
    pub fn table(&self) -> Result<toml::Table, RunError> {
        toml::Table::try_from(self).map_err(|e| {
            let msg = e.to_string();
            if msg.contains("too large") {
                RunError::Config(format!(
                    "{}: a whole number must be below 2^63 (9223372036854775808)",
                    self.too_large_key().unwrap_or("a setting")
                ))
            } else {
                RunError::Config(format!("cannot represent the settings: {msg}"))
            }
        })
    }

    fn too_large_key(&self) -> Option<&'static str> {
        let big = |v: Option<u64>| v.is_some_and(|v| v > i64::MAX as u64);
        let big_usize = |v: Option<usize>| big(v.map(|v| v as u64));
        [
            ("seed", big(self.seed)),
            ("train_limit", big_usize(self.train_limit)),
            ("test_limit", big_usize(self.test_limit)),
            ("batch_size", big_usize(self.batch_size)),
            ("epochs", big_usize(self.epochs)),
            ("iters", big_usize(self.iters)),
            ("eval_limit", big_usize(self.eval_limit)),
            ("early_stop", big_usize(self.early_stop)),
            ("checkpoint_every", big_usize(self.checkpoint_every)),
            ("threads", big_usize(self.threads)),
            ("classes", big_usize(self.classes)),
            (
                "hidden",
                self.hidden
                    .iter()
                    .flatten()
                    .any(|&h| h as u64 > i64::MAX as u64),
            ),
        ]
        .into_iter()
        .find(|(_, b)| *b)
        .map(|(k, _)| k)
    }

    /// Names of the settings that are set.
    pub fn set_keys(&self) -> Result<Vec<String>, RunError> {
        Ok(self.table()?.keys().cloned().collect())
    }

    /// Sets every field that `flags` sets. Setting `epochs` or `iters` clears the other.
    pub fn overlay(&mut self, flags: &RunConfig) -> Result<(), RunError> {
        let mut base = self.table()?;
        if flags.epochs.is_some() || flags.iters.is_some() {
            base.remove("epochs");
            base.remove("iters");
        }
        base.extend(flags.table()?);
        *self = toml::Value::Table(base)
            .try_into()
            .map_err(|e: toml::de::Error| RunError::Config(e.message().to_string()))?;
        Ok(())
    }

    /// The data these settings name, with their limits and validation hold-out.
    pub fn data_config(&self) -> DataConfig {
        DataConfig {
            data: self.data.clone().unwrap_or_else(|| "digits".into()),
            label_column: self.label_column.clone(),
            header: self.header.unwrap_or_default(),
            classes: self.classes,
            val_fraction: self.val_fraction.unwrap_or(0.0),
            train_limit: self.train_limit,
            test_limit: self.test_limit,
            cache: None,
        }
    }

    /// The data set's name (`digits` when unset).
    pub fn data_name(&self) -> &str {
        self.data.as_deref().unwrap_or("digits")
    }
}

/// toml's message spans lines (with a source excerpt); keep it to one.
fn toml_error(text: &str, origin: &str, e: &toml::de::Error) -> RunError {
    let msg = e.message().trim().to_string();
    let at = e
        .span()
        .map(|s| {
            let line = text[..s.start].matches('\n').count() + 1;
            format!(" (line {line})")
        })
        .unwrap_or_default();
    RunError::Config(format!("{origin}{at}: {msg}"))
}
