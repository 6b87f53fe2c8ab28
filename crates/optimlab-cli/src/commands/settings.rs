//! The settings of a training run: as flags, as TOML, and fully resolved.

use anyhow::{Result, anyhow, bail};
use optimlab::Preset;
use optimlab::nn::{Activation, BatchNormConfig, DropoutConfig, DropoutStyle, Init, NetworkConfig};
use optimlab::optim::{Clip, ResolvedOptimizer, Schedule};
use optimlab::tensor::DType;
use optimlab::train::{BatchOrder, EarlyStopping, Monitor, ScheduleUnit, TrainConfig};
use serde::{Deserialize, Serialize};

/// Every setting of `optimlab train`, each optional: unset ones take the preset's default.
/// The same struct is the command's flags and the `--config` TOML file's keys.
#[derive(Clone, Debug, Default, PartialEq, clap::Args, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainSettings {
    /// digits (embedded, default), fashion-mnist, mnist, a folder of MNIST-format files, or a .csv
    #[arg(long)]
    pub data: Option<String>,
    /// Label column of a CSV file (index, or name with a header)
    #[arg(long)]
    pub label_column: Option<String>,
    /// Train on the first N training samples only
    #[arg(long)]
    pub train_limit: Option<usize>,
    /// Test on the first N test samples only
    #[arg(long)]
    pub test_limit: Option<usize>,
    /// Fraction of the training set held out for validation (0 = none)
    #[arg(long)]
    pub val_fraction: Option<f64>,
    /// Hidden layer sizes, e.g. 100,100
    #[arg(long, value_delimiter = ',')]
    pub hidden: Option<Vec<usize>>,
    /// relu, sigmoid or tanh
    #[arg(long)]
    pub activation: Option<Activation>,
    /// he, xavier (book: √(1/n), torch: Glorot), glorot, or a fixed std such as 0.01
    #[arg(long)]
    pub init: Option<String>,
    /// Batch normalization after every hidden dense layer
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub batch_norm: Option<bool>,
    /// Dropout probability after every hidden activation (0 = off)
    #[arg(long)]
    pub dropout: Option<f64>,
    /// λ: the book's ½λ‖W‖² in the loss (book preset) or the optimizer's weight decay (torch)
    #[arg(long)]
    pub weight_decay: Option<f64>,
    /// sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw, amsgrad, nadam, radam, adadelta, lion
    #[arg(long)]
    pub optimizer: Option<String>,
    #[arg(long)]
    pub lr: Option<f64>,
    #[arg(long)]
    pub momentum: Option<f64>,
    #[arg(long)]
    pub beta1: Option<f64>,
    #[arg(long)]
    pub beta2: Option<f64>,
    #[arg(long)]
    pub eps: Option<f64>,
    /// RMSprop's / Adadelta's decay rate
    #[arg(long)]
    pub rho: Option<f64>,
    /// LR schedule: step:30,0.1 | exp:0.95 | cosine:T | warmup:N[+…] | onecycle:MAX,TOTAL | plateau
    #[arg(long)]
    pub schedule: Option<String>,
    /// When a time-based schedule advances: iter (default) or epoch
    #[arg(long)]
    pub schedule_unit: Option<ScheduleUnit>,
    /// Clip gradients to this global L2 norm
    #[arg(long)]
    pub clip_norm: Option<f64>,
    /// Clip every gradient element to [−V, V]
    #[arg(long)]
    pub clip_value: Option<f64>,
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Epochs to train (default 20)
    #[arg(long, conflicts_with = "iters")]
    pub epochs: Option<usize>,
    /// Train for this many iterations instead of epochs
    #[arg(long)]
    pub iters: Option<usize>,
    /// shuffle (torch default), replacement (book default) or sequential
    #[arg(long)]
    pub order: Option<BatchOrder>,
    /// Evaluate on the first N samples of each set only
    #[arg(long)]
    pub eval_limit: Option<usize>,
    /// Stop after this many epochs without validation improvement
    #[arg(long)]
    pub early_stop: Option<usize>,
    /// What early stopping watches: val_acc (default) or val_loss
    #[arg(long)]
    pub early_stop_metric: Option<Monitor>,
    /// Write the resumable checkpoint every N epochs (default 1)
    #[arg(long)]
    pub checkpoint_every: Option<usize>,
    /// Start from the weights in this .safetensors file
    #[arg(long)]
    pub init_from: Option<String>,
    /// book or torch (default)
    #[arg(long)]
    pub preset: Option<Preset>,
    /// f32 or f64 (default: the preset's)
    #[arg(long)]
    pub dtype: Option<DType>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// GEMM threads
    #[arg(long)]
    pub threads: Option<usize>,
    /// Written by `train` for the record: every value the settings resolved to (network,
    /// optimizer, schedule, trainer). Ignored when read back.
    #[arg(skip)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolved: Option<toml::Table>,
}

impl TrainSettings {
    /// The settings as a TOML table (unset ones absent). TOML keeps NaN and infinities, so
    /// they reach validation instead of being lost.
    fn table(&self) -> toml::Table {
        toml::Table::try_from(self).expect("settings serialise to TOML")
    }

    /// Names of the settings that are set.
    pub fn set_keys(&self) -> Vec<String> {
        self.table().keys().cloned().collect()
    }

    /// Sets every field that `flags` sets. Setting `epochs` or `iters` clears the other.
    pub fn overlay(&mut self, flags: &TrainSettings) {
        let mut base = self.table();
        if flags.epochs.is_some() || flags.iters.is_some() {
            base.remove("epochs");
            base.remove("iters");
        }
        base.extend(flags.table());
        *self = toml::Value::Table(base)
            .try_into()
            .expect("the same struct");
    }
}

/// Settings with every default filled in, validated.
pub struct Resolved {
    /// The settings as given plus defaults; written to `config.toml` (with `resolved`).
    pub settings: TrainSettings,
    pub preset: Preset,
    pub dtype: DType,
    pub seed: u64,
    pub threads: usize,
    pub network: NetworkConfig,
    pub optimizer: ResolvedOptimizer,
    pub schedule: Option<Schedule>,
    pub train: TrainConfig,
    pub checkpoint_every: usize,
}

impl Resolved {
    pub fn new(mut s: TrainSettings) -> Result<Self> {
        let preset = s.preset.unwrap_or_default();
        let dtype = s.dtype.unwrap_or(preset.dtype());
        let seed = s.seed.unwrap_or(0);
        let threads = s.threads.unwrap_or(1);
        if threads == 0 {
            bail!("invalid threads = 0: must be at least 1");
        }
        s.data.get_or_insert_with(|| "digits".into());
        super::data_source::data_config(&s).check()?;

        let hidden = s.hidden.clone().unwrap_or_else(|| vec![100, 100]);
        // Input and output sizes are set once the data is loaded.
        let mut network = NetworkConfig::new(preset, 0, hidden, 0);
        if let Some(a) = s.activation {
            network.activation = a;
        }
        if let Some(init) = &s.init {
            network.init = Init::parse(init, preset).map_err(|e| anyhow!(e))?;
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

        let mut opt = super::Hyper {
            lr: s.lr,
            momentum: s.momentum,
            beta1: s.beta1,
            beta2: s.beta2,
            eps: s.eps,
            rho: s.rho,
        }
        .config(s.optimizer.as_deref().unwrap_or("adam"), preset);
        // The book adds ½λ‖W‖² to the loss; PyTorch's optimizers decay every parameter.
        match (preset, s.weight_decay) {
            (Preset::Book, Some(wd)) => network.weight_decay = wd,
            (Preset::Torch, Some(wd)) => opt.weight_decay = Some(wd),
            (_, None) => {}
        }
        opt.clip = match (s.clip_norm, s.clip_value) {
            (Some(_), Some(_)) => bail!("set clip_norm or clip_value, not both"),
            (Some(n), None) => Some(Clip::Norm(n)),
            (None, Some(v)) => Some(Clip::Value(v)),
            (None, None) => None,
        };
        let optimizer = opt.resolve()?;
        optimizer.build::<f64>()?; // validates every value

        let schedule = s
            .schedule
            .as_deref()
            .map(|text| text.parse::<Schedule>())
            .transpose()?;

        let mut train = TrainConfig::new(preset);
        train.seed = seed;
        train.flush_denormals = true; // the library's default is off; the CLI wants the speed
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
            bail!("set epochs or iters, not both");
        }
        if train.early_stopping.is_some() && s.val_fraction.unwrap_or(0.0) == 0.0 {
            bail!("early stopping watches the validation set: set --val-fraction too");
        }
        train.validate()?;
        let checkpoint_every = s.checkpoint_every.unwrap_or(1);
        if checkpoint_every == 0 {
            bail!("invalid checkpoint_every = 0: must be at least 1");
        }
        // Make the common choices explicit, so config.toml reads as the run really was.
        s.preset = Some(preset);
        s.dtype = Some(dtype);
        s.seed = Some(seed);
        s.threads = Some(threads);
        s.hidden = Some(network.hidden.clone());
        s.activation = Some(network.activation);
        s.optimizer = Some(optimizer.name.clone());
        s.lr = Some(optimizer.lr);
        s.batch_size = Some(train.batch_size);
        s.order = Some(train.order);
        if train.iters.is_none() {
            s.epochs = Some(train.epochs);
        }
        s.checkpoint_every = Some(checkpoint_every);
        Ok(Self {
            settings: s,
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

    pub fn data_name(&self) -> &str {
        self.settings.data.as_deref().unwrap_or("digits")
    }

    /// `config.toml`: the settings (with the common choices made explicit; `--resume` reads
    /// them back) and a `[resolved]` table with every value they resolved to.
    pub fn to_toml(&self) -> Result<String> {
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
        let mut settings = self.settings.clone();
        settings.resolved = Some(toml::Table::try_from(&record)?);
        Ok(toml::to_string(&settings)?)
    }
}
