//! `optimlab train`: train a network on a data set and report accuracy per epoch.

use anyhow::{Result, bail};
use optimlab::Preset;
use optimlab::data::digits;
use optimlab::nn::{
    Activation, BatchNormConfig, DropoutConfig, DropoutStyle, Init, Network, NetworkConfig,
};
use optimlab::optim::OptimizerConfig;
use optimlab::tensor::{DType, Scalar, Threads};
use optimlab::train::{BatchOrder, TrainConfig, Trainer};

#[derive(clap::Args)]
#[command(
    allow_negative_numbers = true,
    after_help = "Examples:\n  \
    optimlab train\n  \
    optimlab train --optimizer sgd --lr 0.1 --hidden 50,50 --epochs 30 --preset book"
)]
pub struct Args {
    /// Data set: `digits` (embedded 8×8 handwritten digits)
    #[arg(long, default_value = "digits")]
    data: String,
    /// Hidden layer sizes, comma-separated
    #[arg(long, default_value = "100,100", value_delimiter = ',')]
    hidden: Vec<usize>,
    /// relu, sigmoid or tanh
    #[arg(long, default_value = "relu")]
    activation: Activation,
    /// he, xavier (book: √(1/n), torch: Glorot), glorot, or a fixed std such as 0.01
    #[arg(long, default_value = "he")]
    init: String,
    /// Batch normalization after every hidden dense layer
    #[arg(long)]
    batch_norm: bool,
    /// Dropout probability after every hidden activation (0 = off)
    #[arg(long, default_value_t = 0.0)]
    dropout: f64,
    /// λ: the book's L2 in the loss (book preset) or the optimizer's weight decay (torch)
    #[arg(long, default_value_t = 0.0)]
    weight_decay: f64,
    /// sgd, momentum, nesterov, adagrad, rmsprop, adam, adamw, amsgrad, nadam, radam, adadelta, lion
    #[arg(long, default_value = "adam")]
    optimizer: String,
    #[arg(long)]
    lr: Option<f64>,
    #[arg(long)]
    momentum: Option<f64>,
    #[arg(long)]
    beta1: Option<f64>,
    #[arg(long)]
    beta2: Option<f64>,
    #[arg(long)]
    eps: Option<f64>,
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    #[arg(long, default_value_t = 20)]
    epochs: usize,
    /// shuffle, replacement (the book's) or sequential
    #[arg(long, default_value = "shuffle")]
    order: BatchOrder,
    /// book or torch
    #[arg(long, default_value = "torch")]
    preset: Preset,
    /// f32 or f64 (default: the preset's)
    #[arg(long)]
    dtype: Option<DType>,
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// GEMM threads
    #[arg(long, default_value_t = 1)]
    threads: usize,
    /// Print nothing but the final line
    #[arg(long)]
    quiet: bool,
}

pub fn run(args: Args) -> Result<()> {
    match args.dtype.unwrap_or(args.preset.dtype()) {
        DType::F32 => run_typed::<f32>(&args),
        DType::F64 => run_typed::<f64>(&args),
    }
}

fn run_typed<T: Scalar>(args: &Args) -> Result<()> {
    if args.data != "digits" {
        bail!(
            "unknown data set '{}' (this build trains on the embedded 'digits')",
            args.data
        );
    }
    if args.threads == 0 {
        bail!("invalid --threads 0: must be at least 1");
    }
    let (train, test) = digits::train_test()?;
    let preset = args.preset;
    let mut net_config = NetworkConfig::new(preset, train.dim, args.hidden.clone(), train.classes);
    net_config.activation = args.activation;
    net_config.init = Init::parse(&args.init, preset).map_err(anyhow::Error::msg)?;
    if args.batch_norm {
        net_config.batch_norm = Some(BatchNormConfig::preset(preset));
    }
    if args.dropout != 0.0 {
        net_config.dropout = Some(DropoutConfig {
            p: args.dropout,
            style: DropoutStyle::preset(preset),
        });
    }
    let mut opt_config = OptimizerConfig::new(&args.optimizer, preset);
    opt_config.lr = args.lr;
    opt_config.momentum = args.momentum;
    opt_config.beta1 = args.beta1;
    opt_config.beta2 = args.beta2;
    opt_config.eps = args.eps;
    // The book adds ½λ‖W‖² to the loss; PyTorch's optimizers decay every parameter.
    match preset {
        Preset::Book => net_config.weight_decay = args.weight_decay,
        Preset::Torch if args.weight_decay != 0.0 => {
            opt_config.weight_decay = Some(args.weight_decay)
        }
        Preset::Torch => {}
    }
    let mut net = Network::<T>::build_with_threads(&net_config, args.seed, Threads(args.threads))?;
    let mut optimizer = opt_config.build::<T>()?;
    let train_config = TrainConfig {
        epochs: args.epochs,
        batch_size: args.batch_size,
        order: args.order,
        seed: args.seed,
        eval_batch: 1000,
        flush_denormals: true,
    };
    train_config.validate()?;
    let (x, xt) = (train.to_matrix::<T>(), test.to_matrix::<T>());
    if !args.quiet {
        eprintln!(
            "{}: {} train / {} test samples; {}; {} ({} preset, {})",
            train.name,
            train.len(),
            test.len(),
            net.describe(),
            args.optimizer,
            preset.name(),
            T::NAME
        );
    }
    let mut trainer = Trainer {
        net: &mut net,
        optimizer: &mut optimizer,
        config: train_config,
    };
    let quiet = args.quiet;
    let records = trainer.fit((&x, &train.labels), Some((&xt, &test.labels)), |r| {
        if !quiet {
            eprintln!(
                "epoch {:>3}  loss {:.4}  train acc {:.4}  test acc {:.4}  ({:.2} s)",
                r.epoch,
                r.train_loss,
                r.train_acc,
                r.test_acc.unwrap_or(f64::NAN),
                r.seconds
            );
        }
    })?;
    let last = records.last().expect("at least one epoch");
    println!(
        "final: train acc {:.4}, test acc {:.4} after {} epochs ({} iterations, {:.2} s)",
        last.train_acc,
        last.test_acc.unwrap_or(f64::NAN),
        last.epoch,
        last.iter,
        last.seconds
    );
    Ok(())
}
