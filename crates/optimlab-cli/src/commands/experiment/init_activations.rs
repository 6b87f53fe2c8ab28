//! `experiment init-activations`: histograms of each hidden layer's activations for several
//! weight scales and activation functions (the book's weight_init_activation_histogram,
//! Figs. 6-10 to 6-14).

use super::{
    Common, Ctx, Done, Experiment, Report, apply_common, fmt_value, init_compare::parse_inits,
    overlay, settings_from,
};
use crate::report::{self, Grid, Histogram, PALETTE, Table};
use anyhow::Result;
use optimlab::experiments::init_activations::{self, Config};
use optimlab::nn::Activation;
use std::path::Path;

#[derive(clap::Args, Clone, Debug, Default)]
pub struct Flags {
    /// Input samples (book: 1000)
    #[arg(long)]
    samples: Option<usize>,
    /// Units per layer (book: 100)
    #[arg(long)]
    width: Option<usize>,
    /// Hidden layers (book: 5)
    #[arg(long)]
    layers: Option<usize>,
    /// Histogram bins (book: 30)
    #[arg(long)]
    bins: Option<usize>,
    /// Weight scales: std values, xavier, glorot, he (default: 1,0.01,xavier,he)
    #[arg(long, value_delimiter = ',')]
    inits: Option<Vec<String>>,
    /// Activation functions (default: sigmoid,relu,tanh)
    #[arg(long, value_delimiter = ',')]
    activations: Option<Vec<Activation>>,
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
    overlay(&mut c.samples, &flags.samples);
    overlay(&mut c.width, &flags.width);
    overlay(&mut c.layers, &flags.layers);
    overlay(&mut c.bins, &flags.bins);
    if let Some(v) = &flags.inits {
        c.inits = parse_inits(v, c.preset)?;
    }
    overlay(&mut c.activations, &flags.activations);
    c.validate()?;
    Ok(Box::new(Prepared { config: c }))
}

impl Experiment for Prepared {
    fn name(&self) -> &'static str {
        "init-activations"
    }

    fn needs_data(&self) -> bool {
        false
    }

    fn execute(&self, ctx: &Ctx<'_>, dir: &Path) -> Result<Done> {
        let c = &self.config;
        let out = init_activations::run(c, &ctx.progress("init-activations"))?;
        let mut figures = Vec::new();
        let mut table = Table::new(&[
            "activation",
            "weights",
            "last layer std",
            "saturated share",
            "dead units",
        ]);
        for &act in &c.activations {
            let combos: Vec<_> = out
                .combinations
                .iter()
                .filter(|k| k.activation == act)
                .collect();
            let mut panels = Vec::new();
            for (ri, k) in combos.iter().enumerate() {
                // One seed: its counts; several: the mean count per bin.
                let counts: Vec<Vec<f64>> = match &k.spread {
                    Some(sp) => sp.iter().map(|l| l.counts_mean.clone()).collect(),
                    None => k
                        .seeds
                        .first()
                        .map(|s| {
                            s.iter()
                                .map(|l| l.counts.iter().map(|&n| n as f64).collect())
                                .collect()
                        })
                        .unwrap_or_default(),
                };
                // Exact zeros (ReLU's dead outputs, about half of all values) fill the first bin
                // and would flatten every other bar: the axis stops at the tallest bar without
                // them, as the book's figure does, and each panel prints their count.
                let zeros: Vec<f64> = (0..counts.len())
                    .map(|l| {
                        k.seeds.iter().map(|s| s[l].zeros as f64).sum::<f64>()
                            / k.seeds.len().max(1) as f64
                    })
                    .collect();
                let y_max = counts
                    .iter()
                    .zip(&zeros)
                    .flat_map(|(cnt, &z)| {
                        cnt.iter()
                            .enumerate()
                            .map(move |(b, &n)| if b == 0 { n - z } else { n })
                    })
                    .fold(0.0, f64::max);
                for (li, cnt) in counts.iter().enumerate() {
                    let bins = cnt.len().max(1);
                    let [lo, hi] = k.range;
                    let edges = (0..=bins)
                        .map(|b| lo + (hi - lo) * b as f64 / bins as f64)
                        .collect();
                    let mut h = Histogram::new(
                        format!("{} · layer {}", k.label, li + 1),
                        edges,
                        cnt.clone(),
                        PALETTE[ri % PALETTE.len()],
                    );
                    if zeros[li] > 0.0 {
                        let clipped = cnt.first().is_some_and(|&n| n > y_max);
                        h.note = format!(
                            "zeros: {}{}",
                            fmt_count(zeros[li]),
                            if clipped { " (bar clipped)" } else { "" }
                        );
                    }
                    h.y_max = Some(y_max);
                    panels.push(h);
                }
                if let Some(last) = k.seeds.first().and_then(|s| s.last()) {
                    table.row(vec![
                        act.name().to_string(),
                        k.label.clone(),
                        fmt_value(last.std),
                        fmt_value(last.saturated_share),
                        fmt_value(last.dead_unit_share),
                    ]);
                }
            }
            let mut grid = Grid::new(
                format!(
                    "{} activations per layer (rows: weight scale, columns: layer)",
                    act.name()
                ),
                panels,
                c.layers,
            );
            grid.panel_size = (250, 190);
            figures.push(report::save(&grid, dir, &format!("hist_{}", act.name()))?);
        }
        let title = "Activations by weight initialisation";
        let intro = [
            "A batch of random inputs passes through a stack of equally wide layers; each histogram shows one layer's activations. Rows are weight scales, columns are layers.",
            "With sigmoid, std 1 pushes the activations to 0 and 1 (saturation: vanishing gradients) and std 0.01 squeezes them around 0.5 (no diversity); Xavier keeps them spread. With ReLU, He's √(2/n) keeps every layer's spread alike while the smaller scales shrink layer by layer. About half of ReLU's outputs are exactly 0; drawn, that bar would flatten all the others, so as in the book the y-axis stops at the tallest other bar and each panel prints the count of zeros.",
            "The table gives the last layer's standard deviation, the share of saturated activations (sigmoid/tanh near their limits, ReLU at 0) and the share of units that never activate.",
        ];
        Report {
            name: "init-activations",
            title,
            intro: &intro,
            figures,
            key_numbers: table,
            summary: format!(
                "{} weight scales × {} activations, {} layers of {}",
                c.inits.len(),
                c.activations.len(),
                c.layers,
                c.width
            ),
        }
        .write(dir, c, &out)
    }
}

/// A count with thousands separators (a mean over seeds keeps one decimal).
fn fmt_count(n: f64) -> String {
    let whole = n.trunc() as u64;
    let digits = whole.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if n.fract() != 0.0 {
        out.push_str(&format!(".{}", ((n.fract() * 10.0).round() as u64).min(9)));
    }
    out
}
