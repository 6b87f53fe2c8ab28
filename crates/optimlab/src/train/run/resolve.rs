//! Preset resolution: a [`RunConfig`] with every default filled in and every value checked.

use super::{RunConfig, RunError};
use crate::Preset;
use crate::data::Dataset;
use crate::nn::{BatchNormConfig, DropoutConfig, DropoutStyle, Init, Network, NetworkConfig};
use crate::optim::{Clip, OptimizerName, ResolvedOptimizer, Schedule, Scheduler};
use crate::tensor::{DType, Scalar, Threads};
use crate::train::{EarlyStopping, Monitor, TrainConfig, Trainer};
use serde::Serialize;

/// A run's settings with every default filled in, validated: what a run is built from.
#[derive(Clone, Debug)]
pub struct ResolvedRun {
    /// The settings as given plus the common choices made explicit; `config.toml` holds them
    /// (with a `[resolved]` table of everything below).
    pub config: RunConfig,
    pub preset: Preset,
    pub dtype: DType,
    pub seed: u64,
    pub threads: usize,
    /// Input and output sizes are 0 until the data is loaded.
    pub network: NetworkConfig,
    pub optimizer: ResolvedOptimizer,
    pub schedule: Option<Schedule>,
    pub train: TrainConfig,
    pub checkpoint_every: usize,
}

impl RunConfig {
    /// Fills every unset setting from the preset and checks every value, without loading
    /// anything or touching the file system.
    pub fn resolve(&self) -> Result<ResolvedRun, RunError> {
        ResolvedRun::new(self.clone())
    }
}

impl ResolvedRun {
    fn new(mut s: RunConfig) -> Result<Self, RunError> {
        let invalid = |msg: String| Err(RunError::Config(msg));
        // Integers TOML cannot hold would fail only when config.toml is written: refuse now.
        s.table()?;
        let preset = s.preset.unwrap_or_default();
        let dtype = s.dtype.unwrap_or(preset.dtype());
        let seed = s.seed.unwrap_or(0);
        let threads = s.threads.unwrap_or(1);
        if threads == 0 {
            return invalid("invalid threads = 0: must be at least 1".into());
        }
        s.data.get_or_insert_with(|| "digits".into());
        s.data_config().check()?;

        let hidden = s.hidden.clone().unwrap_or_else(|| vec![100, 100]);
        let mut network = NetworkConfig::new(preset, 0, hidden, 0);
        if let Some(a) = s.activation {
            network.activation = a;
        }
        if let Some(init) = &s.init {
            network.init = Init::parse(init, preset).map_err(RunError::Config)?;
        }
        if s.batch_norm == Some(true) {
            network.batch_norm = Some(BatchNormConfig::preset(preset));
        }
        if let Some(p) = s.dropout.filter(|&p| p != 0.0) {
            network.dropout = Some(DropoutConfig {
                p,
                style: DropoutStyle::preset(preset),
            });
        }

        let mut opt = s.optimizer.clone();
        opt.preset = preset;
        // The book adds ½λ‖W‖² to the loss; PyTorch's optimizers decay every parameter.
        if preset == Preset::Book
            && let Some(wd) = opt.weight_decay.take()
        {
            network.weight_decay = wd;
        }
        if opt.clip.is_some() && (s.clip_norm.is_some() || s.clip_value.is_some()) {
            return invalid("set clip_norm or clip_value, not clip as well".into());
        }
        match (s.clip_norm, s.clip_value) {
            (Some(_), Some(_)) => return invalid("set clip_norm or clip_value, not both".into()),
            (Some(n), None) => opt.clip = Some(Clip::Norm(n)),
            (None, Some(v)) => opt.clip = Some(Clip::Value(v)),
            (None, None) => {}
        }
        let optimizer = opt.resolve()?;
        optimizer.build::<f64>()?; // validates every value

        let schedule = s
            .schedule
            .as_deref()
            .map(|text| text.parse::<Schedule>())
            .transpose()?;

        let mut train = TrainConfig::new(preset);
        train.seed = seed;
        if let Some(e) = s.epochs {
            train.epochs = e;
        }
        train.iters = s.iters;
        if let Some(b) = s.batch_size {
            train.batch_size = b;
        }
        if let Some(o) = s.order {
            train.order = o;
        }
        train.eval_limit = s.eval_limit;
        if let Some(u) = s.schedule_unit {
            train.schedule_unit = u;
        }
        if let Some(patience) = s.early_stop {
            train.early_stopping = Some(EarlyStopping {
                patience,
                monitor: s.early_stop_metric.unwrap_or(Monitor::ValAcc),
                min_delta: 0.0,
            });
        }
        if s.epochs.is_some() && s.iters.is_some() {
            return invalid("set epochs or iters, not both".into());
        }
        // Without a validation set plateau would quietly watch the training loss instead.
        if matches!(schedule, Some(Schedule::Plateau(_))) && s.val_fraction.unwrap_or(0.0) == 0.0 {
            return invalid(
                "--schedule plateau watches the validation loss: set --val-fraction too".into(),
            );
        }
        if train.early_stopping.is_some() && s.val_fraction.unwrap_or(0.0) == 0.0 {
            return invalid(
                "early stopping watches the validation set: set --val-fraction too".into(),
            );
        }
        train.validate()?;
        // Before any data is loaded: the hidden layers alone can be far too large.
        network.check_memory(train.batch_size, dtype.bytes())?;
        let checkpoint_every = s.checkpoint_every.unwrap_or(1);
        if checkpoint_every == 0 {
            return invalid("invalid checkpoint_every = 0: must be at least 1".into());
        }
        // Make the common choices explicit, so config.toml reads as the run really was.
        s.preset = Some(preset);
        s.dtype = Some(dtype);
        s.seed = Some(seed);
        s.threads = Some(threads);
        s.hidden = Some(network.hidden.clone());
        s.activation = Some(network.activation);
        s.optimizer.name = Some(optimizer.name);
        s.optimizer.lr = Some(optimizer.lr);
        s.batch_size = Some(train.batch_size);
        s.order = Some(train.order);
        if train.iters.is_none() {
            s.epochs = Some(train.epochs);
        }
        s.checkpoint_every = Some(checkpoint_every);
        Ok(Self {
            config: s,
            preset,
            dtype,
            seed,
            threads,
            network,
            optimizer,
            schedule,
            train,
            checkpoint_every,
        })
    }

    /// The trainer these settings describe — network (sized for `train`: its features in,
    /// its classes out), optimizer, schedule and loop settings — ready for its first epoch.
    pub fn trainer<T: Scalar>(&mut self, train: &Dataset) -> Result<Trainer<T>, RunError> {
        self.network.input = train.dim;
        self.network.output = train.classes;
        // Now with the data's input and output sizes: refuse what cannot be allocated.
        self.network
            .check_memory(self.train.batch_size, std::mem::size_of::<T>())?;
        let net =
            Network::<T>::build_with_threads(&self.network, self.seed, Threads(self.threads))?;
        let optimizer = self.optimizer.build::<T>()?;
        let scheduler = self
            .schedule
            .clone()
            .map(|s| Scheduler::new(s, self.optimizer.lr))
            .transpose()?;
        Ok(Trainer::new(
            net,
            optimizer,
            scheduler,
            self.train.clone(),
            train.len(),
        )?)
    }

    /// The data set's name.
    pub fn data_name(&self) -> &str {
        self.config.data_name()
    }

    /// The optimizer's name.
    pub fn optimizer_name(&self) -> OptimizerName {
        self.optimizer.name
    }

    /// `config.toml`: the settings (with the common choices made explicit; a resume reads
    /// them back) and a `[resolved]` table with every value they resolved to.
    pub fn to_toml(&self) -> Result<String, RunError> {
        #[derive(Serialize)]
        struct Record<'a> {
            preset: Preset,
            dtype: DType,
            network: &'a NetworkConfig,
            optimizer: &'a ResolvedOptimizer,
            #[serde(skip_serializing_if = "Option::is_none")]
            schedule: Option<String>,
            train: &'a TrainConfig,
        }
        let record = Record {
            preset: self.preset,
            dtype: self.dtype,
            network: &self.network,
            optimizer: &self.optimizer,
            schedule: self.schedule.as_ref().map(|s| s.to_string()),
            train: &self.train,
        };
        let mut settings = self.config.clone();
        settings.resolved = Some(
            toml::Table::try_from(&record)
                .map_err(|e| RunError::Config(format!("cannot write the settings: {e}")))?,
        );
        settings.to_toml()
    }
}
