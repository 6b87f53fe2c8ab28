//! `experiment batch-norm`: training accuracy with and without batch normalization for 16
//! weight scales from 1 down to 1e-4 (the book's batch_norm_test, Fig. 6-19).

use super::{
    Common, Ctx, Done, Experiment, Report, accuracy_series, apply_common, eval_epochs, fmt_spread,
    overlay, overlay_optimizer, settings_from,
};
use crate::report::{self, Grid, LineChart, PALETTE, Table, fmt_num};
use anyhow::Result;
use optimlab::experiments::OptimizerChoice;
use optimlab::experiments::batch_norm::{self, Config};
use std::path::Path;

#[derive(clap::Args, Clone, Debug, Default)]
pub struct Flags {
    /// Epochs, i.e. accuracy measurements (book: 20)
    #[arg(long)]
    epochs: Option<usize>,
    /// Training samples used (book: 1000)
    #[arg(long)]
    train_size: Option<usize>,
    /// Mini-batch size (book: 100)
    #[arg(long)]
    batch_size: Option<usize>,
    /// The optimizer as name or name:lr (book: sgd:0.01)
    #[arg(long)]
    optimizer: Option<OptimizerChoice>,
    /// Learning rate of the optimizer
    #[arg(long)]
    lr: Option<f64>,
    /// Hidden layer sizes (book: five of 100)
    #[arg(long, value_delimiter = ',')]
    hidden: Option<Vec<usize>>,
    /// Weight standard deviations (book: 16 from 1 to 1e-4, evenly on a log scale)
    #[arg(long, value_delimiter = ',')]
    scales: Option<Vec<f64>>,
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
    overlay(&mut c.evaluations, &flags.epochs);
    overlay(&mut c.train_size, &flags.train_size);
    overlay(&mut c.batch_size, &flags.batch_size);
    overlay_optimizer(&mut c.optimizer, &flags.optimizer, flags.lr);
    overlay(&mut c.hidden, &flags.hidden);
    overlay(&mut c.scales, &flags.scales);
    c.validate()?;
    Ok(Box::new(Prepared { config: c }))
}

impl Experiment for Prepared {
    fn name(&self) -> &'static str {
        "batch-norm"
    }

    fn needs_data(&self) -> bool {
        true
    }

    fn execute(&self, ctx: &Ctx<'_>, dir: &Path) -> Result<Done> {
        let c = &self.config;
        let out = batch_norm::run(c, ctx.data()?, &ctx.progress("batch-norm"))?;
        let epochs = eval_epochs(&out.eval_iters, out.train_size, out.batch_size);
        let panels: Vec<LineChart> = out
            .scales
            .iter()
            .map(|s| {
                let mut chart = LineChart::new(
                    format!("W std = {}", fmt_num(s.weight_std)),
                    "epoch",
                    "train accuracy",
                );
                chart.y_range = Some((0.0, 1.0));
                let bn = accuracy_series(
                    &s.with_bn,
                    &epochs,
                    "batch norm",
                    "",
                    (PALETTE[0], PALETTE[0]),
                );
                let plain = accuracy_series(
                    &s.without_bn,
                    &epochs,
                    "without batch norm",
                    "",
                    (PALETTE[1], PALETTE[1]),
                );
                for series in bn.into_iter().take(1) {
                    chart = chart.series(series);
                }
                for series in plain.into_iter().take(1) {
                    chart = chart.series(series.dashed());
                }
                chart
            })
            .collect();
        let cols = if panels.len() >= 16 {
            4
        } else {
            panels.len().clamp(1, 4)
        };
        let mut grid = Grid::new(
            format!(
                "Training accuracy with and without batch normalization, network {}",
                out.network
            ),
            panels,
            cols,
        );
        grid.panel_size = (330, 260);
        let fig = report::save(&grid, dir, "accuracy")?;
        let n = out.seeds.len();
        let mut table = Table::new(&[
            "W std",
            "final train acc, batch norm",
            "final train acc, without",
        ]);
        for s in &out.scales {
            table.row(vec![
                fmt_num(s.weight_std),
                fmt_spread(&s.with_bn.final_train, n),
                fmt_spread(&s.without_bn.final_train, n),
            ]);
        }
        let above = |bn: bool| {
            out.scales.iter().filter(|s| if bn { &s.with_bn } else { &s.without_bn }.final_train.mean > out.chance_threshold).count()
        };
        let title = "Batch normalization";
        let intro = [
            "The same network trains from weights drawn at 16 standard deviations, from 1 down to 1e-4, once with batch normalization after every hidden dense layer (solid) and once without (dashed).",
            "Without batch normalization only a narrow band of scales learns at all; with it, training accuracy rises quickly for almost every scale: the network becomes far less sensitive to its initial weights.",
        ];
        Report {
            name: "batch-norm",
            title,
            intro: &intro,
            figures: vec![fig],
            key_numbers: table,
            summary: format!(
                "{} of {} scales end above {} accuracy with batch norm, {} without",
                above(true),
                out.scales.len(),
                out.chance_threshold,
                above(false)
            ),
        }
        .write(dir, c, &out)
    }
}
