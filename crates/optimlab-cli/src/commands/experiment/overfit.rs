//! `experiment weight-decay` and `experiment dropout`: train and test accuracy of a large
//! network on 300 samples, without and with the regulariser (the book's overfit_weight_decay
//! and overfit_dropout, Figs. 6-20 to 6-23).

use super::{
    Common, Ctx, Done, Experiment, Report, accuracy_series, apply_common, eval_epochs, fmt_list,
    fmt_spread, overlay, overlay_optimizer, settings_from,
};
use crate::report::{self, Grid, LineChart, PALETTE, Table, fmt_num};
use anyhow::Result;
use optimlab::experiments::OptimizerChoice;
use optimlab::experiments::overfit::{self, dropout, weight_decay};
use std::path::Path;

/// The settings both experiments share, as flags.
#[derive(clap::Args, Clone, Debug, Default)]
pub struct Shared {
    /// Epochs, i.e. accuracy measurements (book: 201)
    #[arg(long)]
    epochs: Option<usize>,
    /// Training samples used (book: 300, to overfit)
    #[arg(long)]
    train_size: Option<usize>,
    /// Test samples used (default: the whole test set)
    #[arg(long)]
    test_size: Option<usize>,
    /// Mini-batch size (book: 100)
    #[arg(long)]
    batch_size: Option<usize>,
    /// The optimizer as name or name:lr (book: sgd:0.01)
    #[arg(long)]
    optimizer: Option<OptimizerChoice>,
    /// Learning rate of the optimizer
    #[arg(long)]
    lr: Option<f64>,
    /// Hidden layer sizes (book: six of 100)
    #[arg(long, value_delimiter = ',')]
    hidden: Option<Vec<usize>>,
}

#[derive(clap::Args, Clone, Debug, Default)]
pub struct WeightDecayFlags {
    #[command(flatten)]
    shared: Shared,
    /// λ values to compare, e.g. 0,0.1 (book)
    #[arg(long, value_delimiter = ',')]
    weight_decay: Option<Vec<f64>>,
}

#[derive(clap::Args, Clone, Debug, Default)]
pub struct DropoutFlags {
    #[command(flatten)]
    shared: Shared,
    /// Dropout ratios to compare, e.g. 0,0.15,0.2
    #[arg(long, value_delimiter = ',')]
    dropout: Option<Vec<f64>>,
}

/// Sets the settings both configs share from the `Shared` flags (the two configs are
/// different types with the same field names).
macro_rules! apply_shared {
    ($c:expr, $f:expr) => {
        overlay(&mut $c.evaluations, &$f.epochs);
        overlay(&mut $c.train_size, &$f.train_size);
        if let Some(v) = $f.test_size {
            $c.test_size = Some(v);
        }
        overlay(&mut $c.batch_size, &$f.batch_size);
        overlay_optimizer(&mut $c.optimizer, &$f.optimizer, $f.lr);
        overlay(&mut $c.hidden, &$f.hidden);
    };
}

struct WeightDecay {
    config: weight_decay::Config,
}

struct Dropout {
    config: dropout::Config,
}

pub fn prepare_weight_decay(
    common: &Common,
    flags: &WeightDecayFlags,
    file: Option<toml::Table>,
) -> Result<Box<dyn Experiment>> {
    let mut c: weight_decay::Config = settings_from(file, common)?;
    apply_common!(c, common);
    apply_shared!(c, flags.shared);
    overlay(&mut c.lambdas, &flags.weight_decay);
    c.validate()?;
    Ok(Box::new(WeightDecay { config: c }))
}

pub fn prepare_dropout(
    common: &Common,
    flags: &DropoutFlags,
    file: Option<toml::Table>,
) -> Result<Box<dyn Experiment>> {
    let mut c: dropout::Config = settings_from(file, common)?;
    apply_common!(c, common);
    apply_shared!(c, flags.shared);
    overlay(&mut c.ratios, &flags.dropout);
    c.validate()?;
    Ok(Box::new(Dropout { config: c }))
}

/// The report of either study: one panel per setting of the regulariser `what` (train solid,
/// test dashed) and the key-number table.
fn report<'a>(
    dir: &Path,
    out: &overfit::Output,
    what: &str,
    name: &'static str,
    title: &'a str,
    intro: &'a [&'a str],
    summary: String,
) -> Result<Report<'a>> {
    let epochs = eval_epochs(&out.eval_iters, out.train_size, out.batch_size);
    let panels: Vec<LineChart> = out
        .settings
        .iter()
        .map(|s| {
            let mut chart = LineChart::new(
                format!("{what} = {}", fmt_num(s.value)),
                "epoch",
                "accuracy",
            );
            chart.y_range = Some((0.0, 1.0));
            for series in accuracy_series(
                &s.curves,
                &epochs,
                "train",
                "test",
                (PALETTE[0], PALETTE[1]),
            ) {
                chart = chart.series(series);
            }
            chart
        })
        .collect();
    let cols = panels.len().min(3);
    let mut grid = Grid::new(
        format!(
            "Accuracy on {} training samples, network {}",
            out.train_size, out.network
        ),
        panels,
        cols,
    );
    grid.panel_size = (520, 380);
    let fig = report::save(&grid, dir, "accuracy")?;
    let n = out.seeds.len();
    let mut table = Table::new(&[
        what,
        "final train acc",
        "final test acc",
        "train − test gap",
    ]);
    for s in &out.settings {
        let c = &s.curves;
        let opt = |v: Option<optimlab::experiments::Spread>| {
            v.map(|v| fmt_spread(&v, n)).unwrap_or_else(|| "–".into())
        };
        table.row(vec![
            fmt_num(s.value),
            fmt_spread(&c.final_train, n),
            opt(c.final_test),
            opt(c.final_gap),
        ]);
    }
    Ok(Report {
        name,
        title,
        intro,
        figures: vec![fig],
        key_numbers: table,
        summary,
    })
}

impl Experiment for WeightDecay {
    fn name(&self) -> &'static str {
        "weight-decay"
    }

    fn needs_data(&self) -> bool {
        true
    }

    fn execute(&self, ctx: &Ctx<'_>, dir: &Path) -> Result<Done> {
        let c = &self.config;
        let out = weight_decay::run(c, ctx.data()?, &ctx.progress("weight-decay"))?;
        let title = "Overfitting and weight decay";
        let intro = [
            "A deep network (six hidden layers of 100 units) trains on only 300 samples, so it can memorise them: training accuracy climbs towards 100 % while test accuracy stalls far below. That gap is overfitting.",
            "Weight decay adds ½λ‖W‖² to the loss (book preset; torch preset: the optimizer's weight decay), pulling the weights towards zero. With λ = 0.1 the training accuracy no longer reaches 100 % and the gap to the test accuracy narrows.",
            "Solid lines: training accuracy; dashed: test accuracy; shaded bands: min–max over seeds.",
        ];
        let summary = format!(
            "λ ∈ {{{}}}, {} epochs on {} samples",
            fmt_list(&c.lambdas),
            c.evaluations,
            out.train_size
        );
        report(dir, &out, "λ", "weight-decay", title, &intro, summary)?.write(dir, c, &out)
    }
}

impl Experiment for Dropout {
    fn name(&self) -> &'static str {
        "dropout"
    }

    fn needs_data(&self) -> bool {
        true
    }

    fn execute(&self, ctx: &Ctx<'_>, dir: &Path) -> Result<Done> {
        let c = &self.config;
        let out = dropout::run(c, ctx.data()?, &ctx.progress("dropout"))?;
        let title = "Overfitting and dropout";
        let intro = [
            "The same over-sized network and 300 training samples as in the weight-decay experiment, now with dropout after every hidden activation: each training step silences a random share of the units.",
            "Without dropout the network memorises the training set; with it, training accuracy rises more slowly and the gap between training and test accuracy shrinks.",
            "Solid lines: training accuracy; dashed: test accuracy; shaded bands: min–max over seeds.",
        ];
        let summary = format!(
            "ratios {}, {} epochs on {} samples",
            fmt_list(&c.ratios),
            c.evaluations,
            out.train_size
        );
        report(
            dir,
            &out,
            "dropout ratio",
            "dropout",
            title,
            &intro,
            summary,
        )?
        .write(dir, c, &out)
    }
}
