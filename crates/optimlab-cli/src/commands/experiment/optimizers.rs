//! `experiment optimizers`: training loss of several optimizers on the same network and
//! batches (the book's optimizer comparison on MNIST, Fig. 6-9).

use super::{
    Common, Ctx, Done, Experiment, Report, apply_common, fmt_spread, overlay, save_loss_chart,
    settings_from,
};
use crate::report::Table;
use anyhow::Result;
use optimlab::experiments::OptimizerChoice;
use optimlab::experiments::optimizers::{self, Config};
use optimlab::nn::Activation;
use std::path::Path;

#[derive(clap::Args, Clone, Debug, Default)]
pub struct Flags {
    /// Training iterations per optimizer (book: 2000)
    #[arg(long)]
    iters: Option<usize>,
    /// Optimizers as name or name:lr (book: sgd:0.01,momentum:0.01,adagrad:0.01,adam:0.001)
    #[arg(long, value_delimiter = ',')]
    optimizers: Option<Vec<OptimizerChoice>>,
    /// Mini-batch size (book: 128)
    #[arg(long)]
    batch_size: Option<usize>,
    /// Hidden layer sizes (book: 100,100,100,100)
    #[arg(long, value_delimiter = ',')]
    hidden: Option<Vec<usize>>,
    /// relu (book), sigmoid or tanh
    #[arg(long)]
    activation: Option<Activation>,
    /// Iterations averaged for the final-loss table (book's plot: last 100)
    #[arg(long)]
    tail: Option<usize>,
}

struct Prepared {
    config: Config,
}

pub fn prepare(
    common: &Common,
    flags: &Flags,
    file: Option<toml::Table>,
) -> Result<Box<dyn Experiment>> {
    let mut c: Config = settings_from(file, common)?;
    apply_common!(c, common);
    overlay(&mut c.iterations, &flags.iters);
    overlay(&mut c.optimizers, &flags.optimizers);
    overlay(&mut c.batch_size, &flags.batch_size);
    overlay(&mut c.hidden, &flags.hidden);
    overlay(&mut c.activation, &flags.activation);
    overlay(&mut c.tail, &flags.tail);
    c.validate()?;
    Ok(Box::new(Prepared { config: c }))
}

impl Experiment for Prepared {
    fn name(&self) -> &'static str {
        "optimizers"
    }

    fn needs_data(&self) -> bool {
        true
    }

    fn execute(&self, ctx: &Ctx<'_>, dir: &Path) -> Result<Done> {
        let c = &self.config;
        let out = optimizers::run(c, ctx.data()?, &ctx.progress("optimizers"))?;
        let curves: Vec<_> = out
            .optimizers
            .iter()
            .map(|o| (o.optimizer.name.as_str(), &o.curves))
            .collect();
        // The book shows 0..1; keep the start of every curve in view when it is higher.
        let y_range = match out
            .optimizers
            .iter()
            .filter_map(|o| o.curves.smoothed.first().and_then(|s| s.first()))
            .copied()
            .reduce(f64::max)
        {
            Some(top) => (0.0, top.max(1.0) * 1.05),
            None => (0.0, 1.0),
        };
        let fig = save_loss_chart(
            dir,
            &format!("Training loss, network {}", out.network),
            &curves,
            y_range,
        )?;
        let mut table = Table::new(&[
            "optimizer",
            "lr",
            &format!("loss, mean of last {}", out.tail),
        ]);
        for o in &out.optimizers {
            table.row(vec![
                o.curves.label.clone(),
                crate::report::fmt_num(o.optimizer.lr),
                fmt_spread(&o.curves.tail_mean, out.seeds.len()),
            ]);
        }
        let title = "Optimizers compared";
        let intro = [
            "Every optimizer trains the same network from the same initial weights on the same mini-batches; only the update rule differs.",
            "The thick lines are the losses smoothed as the book smooths them (an 11-point Kaiser window, β = 2); the faint lines underneath are the raw per-iteration losses. With several seeds the thick line is the mean and the shaded band spans the minimum and maximum.",
            "In the book, AdaGrad and Adam (and Momentum) learn faster than plain SGD, whose loss falls slowest.",
        ];
        Report {
            name: "optimizers",
            title,
            intro: &intro,
            figures: vec![fig],
            key_numbers: table,
            summary: format!(
                "{} optimizers, {} iterations of batch {}, network {}",
                out.optimizers.len(),
                out.iterations,
                out.batch_size,
                out.network
            ),
        }
        .write(dir, c, &out)
    }
}
