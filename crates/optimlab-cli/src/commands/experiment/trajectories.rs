//! `experiment trajectories`: optimizer paths over the level lines of a 2-D function (the
//! book's Fig. 6-8: SGD 0.95, Momentum 0.1, AdaGrad 1.5, Adam 0.3, plus Nesterov, RMSprop, AdamW).

use super::{
    Common, Ctx, Done, Experiment, Report, apply_common, fmt_value, overlay, settings_from,
};
use crate::report::{
    self, ContourChart, Grid, LineChart, PathLine, Series, Table, fmt_num, series_color,
};
use anyhow::{Result, bail};
use optimlab::Preset;
use optimlab::experiments::OptimizerChoice;
use optimlab::experiments::trajectory::{self, TestFunction, Trajectory};
use optimlab::tensor::{DType, Scalar};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(clap::Args, Clone, Debug, Default)]
pub struct Flags {
    /// Updates per optimizer (default 30)
    #[arg(long, visible_alias = "iters")]
    steps: Option<usize>,
    /// Optimizers as name or name:lr, e.g. sgd:0.95,adam:0.3
    #[arg(long, value_delimiter = ',')]
    optimizers: Option<Vec<OptimizerChoice>>,
    /// book (x²/20 + y², default), rosenbrock, beale or saddle
    #[arg(long)]
    function: Option<TestFunction>,
    /// Starting point X,Y (default: the function's customary start; −7,2 for book)
    #[arg(long, value_parser = crate::commands::parse_point, allow_hyphen_values = true)]
    start: Option<[f64; 2]>,
}

/// The settings (TOML keys of `--config`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub preset: Preset,
    pub seed: u64,
    pub seeds: usize,
    pub function: TestFunction,
    /// Default: the function's customary start.
    pub start: Option<[f64; 2]>,
    pub steps: usize,
    pub optimizers: Vec<OptimizerChoice>,
}

impl Default for Config {
    fn default() -> Self {
        let o = |n: &str, lr: f64| OptimizerChoice::new(n, Some(lr));
        Config {
            preset: Preset::Book,
            seed: 0,
            seeds: 1,
            function: TestFunction::Book,
            start: None,
            steps: 30,
            optimizers: vec![
                o("sgd", 0.95),
                o("momentum", 0.1),
                o("nesterov", 0.1),
                o("adagrad", 1.5),
                o("rmsprop", 0.3),
                o("adam", 0.3),
                o("adamw", 0.3),
            ],
        }
    }
}

/// Every path, with the settings that made it.
#[derive(Clone, Debug, Serialize)]
pub struct Output {
    pub dtype: DType,
    pub start: [f64; 2],
    pub paths: Vec<OptimizerPath>,
}

#[derive(Clone, Debug, Serialize)]
pub struct OptimizerPath {
    pub label: String,
    /// Every hyperparameter the optimizer ran with.
    pub optimizer: optimlab::optim::ResolvedOptimizer,
    pub trajectory: Trajectory,
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
    overlay(&mut c.steps, &flags.steps);
    overlay(&mut c.optimizers, &flags.optimizers);
    overlay(&mut c.function, &flags.function);
    if let Some(s) = flags.start {
        c.start = Some(s);
    }
    if c.seeds == 0 {
        bail!("invalid seeds = 0: expected at least 1");
    }
    if c.steps == 0 {
        bail!("invalid steps = 0: expected at least 1");
    }
    if c.optimizers.is_empty() {
        bail!("invalid optimizers = []: expected a non-empty list");
    }
    if let Some(s) = c.start.filter(|s| !(s[0].is_finite() && s[1].is_finite())) {
        bail!(
            "invalid start = {},{}: expected two finite numbers",
            s[0],
            s[1]
        );
    }
    for o in &c.optimizers {
        o.resolve(c.preset)?.build::<f64>()?;
    }
    Ok(Box::new(Prepared { config: c }))
}

/// Runs every optimizer from the start point (the paths are deterministic: seeds do not
/// change them).
pub fn compute(c: &Config) -> Result<Output> {
    fn paths<T: Scalar>(c: &Config, start: [f64; 2]) -> Result<Vec<OptimizerPath>> {
        c.optimizers
            .iter()
            .map(|o| {
                let resolved = o.resolve(c.preset)?;
                let mut opt = resolved.build::<T>()?;
                let trajectory = trajectory::run(c.function, &mut opt, start, c.steps)?;
                Ok(OptimizerPath {
                    label: o.label(),
                    optimizer: resolved,
                    trajectory,
                })
            })
            .collect()
    }
    let start = c.start.unwrap_or(c.function.default_start());
    let dtype = c.preset.dtype();
    let paths = match dtype {
        DType::F32 => paths::<f32>(c, start)?,
        DType::F64 => paths::<f64>(c, start)?,
    };
    Ok(Output {
        dtype,
        start,
        paths,
    })
}

/// The plotted box and level values of each function (the book's view for its function).
fn view(f: TestFunction) -> ((f64, f64), (f64, f64), Vec<f64>) {
    match f {
        TestFunction::Book => (
            (-10.0, 10.0),
            (-5.0, 5.0),
            vec![0.5, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0],
        ),
        TestFunction::Rosenbrock => (
            (-2.0, 2.0),
            (-1.0, 3.0),
            vec![0.5, 2.0, 8.0, 32.0, 128.0, 512.0],
        ),
        TestFunction::Beale => (
            (-4.5, 4.5),
            (-4.5, 4.5),
            vec![1.0, 4.0, 16.0, 64.0, 256.0, 1024.0, 4096.0],
        ),
        TestFunction::Saddle => (
            (-2.0, 2.0),
            (-2.0, 2.0),
            vec![-3.0, -2.0, -1.0, -0.25, 0.25, 1.0, 2.0, 3.0],
        ),
    }
}

fn minimum(f: TestFunction) -> Option<[f64; 2]> {
    match f {
        TestFunction::Book => Some([0.0, 0.0]),
        TestFunction::Rosenbrock => Some([1.0, 1.0]),
        TestFunction::Beale => Some([3.0, 0.5]),
        TestFunction::Saddle => None,
    }
}

impl Experiment for Prepared {
    fn name(&self) -> &'static str {
        "trajectories"
    }

    fn needs_data(&self) -> bool {
        false
    }

    fn execute(&self, _ctx: &Ctx<'_>, dir: &Path) -> Result<Done> {
        let c = &self.config;
        let out = compute(c)?;
        let (xr, yr, levels) = view(c.function);
        let f = c.function;
        let base = ContourChart::sample("", xr, yr, 161, |x, y| f.value(x, y)).levels(levels);
        let panels: Vec<ContourChart> = out
            .paths
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut chart = base.clone().path(PathLine {
                    name: p.label.clone(),
                    color: series_color(p.optimizer.name.as_str(), i),
                    points: p.trajectory.positions.clone(),
                });
                chart.title = format!("{} (lr {})", p.optimizer.name, fmt_num(p.optimizer.lr));
                chart.marker = minimum(f);
                chart
            })
            .collect();
        let mut grid = Grid::new(
            format!(
                "Paths on {} from ({}, {}), {} steps",
                function_text(f),
                out.start[0],
                out.start[1],
                c.steps
            ),
            panels,
            4.min(out.paths.len()),
        );
        grid.panel_size = (400, 340);
        let fig1 = report::save(&grid, dir, "trajectories")?;

        let mut chart = LineChart::new("f(x, y) along each path", "step", "f(x, y)");
        chart.log_y = f != TestFunction::Saddle;
        chart.legend_position = plotters::chart::SeriesLabelPosition::LowerLeft;
        for (i, p) in out.paths.iter().enumerate() {
            chart = chart.series(Series::indexed(
                p.label.clone(),
                series_color(p.optimizer.name.as_str(), i),
                p.trajectory.values.clone(),
            ));
        }
        let fig2 = report::save(&chart, dir, "values")?;

        let mut table = Table::new(&["optimizer", "lr", "final x", "final y", "final f"]);
        for p in &out.paths {
            let last = p
                .trajectory
                .positions
                .last()
                .copied()
                .unwrap_or([f64::NAN; 2]);
            let fv = p.trajectory.values.last().copied().unwrap_or(f64::NAN);
            table.row(vec![
                p.optimizer.name.to_string(),
                fmt_num(p.optimizer.lr),
                fmt_value(last[0]),
                fmt_value(last[1]),
                fmt_value(fv),
            ]);
        }
        let title = "Optimizer trajectories";
        let intro = [
            "Each optimizer starts at the same point and takes the same number of steps on a function whose valley is much flatter along x than along y (f = x²/20 + y² in the book).",
            "Plain SGD zig-zags across the steep direction and crawls along the flat one; Momentum and Nesterov build up speed along the valley and overshoot; AdaGrad and RMSprop scale each coordinate by its gradient history, so the steep direction is damped quickly; Adam combines both ideas.",
            "The paths are deterministic: --seeds repeats give the same paths.",
        ];
        Report {
            name: "trajectories",
            title,
            intro: &intro,
            figures: vec![fig1, fig2],
            key_numbers: table,
            summary: format!(
                "{} optimizers, {} steps on {}",
                out.paths.len(),
                c.steps,
                function_text(f)
            ),
        }
        .write(dir, c, &out)
    }
}

fn function_text(f: TestFunction) -> &'static str {
    match f {
        TestFunction::Book => "f = x²/20 + y²",
        TestFunction::Rosenbrock => "Rosenbrock's function",
        TestFunction::Beale => "Beale's function",
        TestFunction::Saddle => "the saddle x² − y²",
    }
}
