//! One module per subcommand.

pub mod bench;
mod checkpointing;
pub mod data;
mod data_source;
pub mod experiment;
pub mod experiment_search;
pub mod model;
mod run;
mod settings;
pub mod train;
pub mod trajectory;
pub mod tune;

/// Parses `X,Y` into a pair of finite numbers.
pub fn parse_point(s: &str) -> Result<[f64; 2], String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    let bad = || format!("invalid point '{s}': expected X,Y (two numbers, e.g. -7,2)");
    if parts.len() != 2 {
        return Err(bad());
    }
    let x: f64 = parts[0].parse().map_err(|_| bad())?;
    let y: f64 = parts[1].parse().map_err(|_| bad())?;
    if !(x.is_finite() && y.is_finite()) {
        return Err(bad());
    }
    Ok([x, y])
}

/// The hyperparameter flags every optimizer-building command shares (unset ones: the preset's).
pub struct Hyper {
    pub lr: Option<f64>,
    pub momentum: Option<f64>,
    pub beta1: Option<f64>,
    pub beta2: Option<f64>,
    pub eps: Option<f64>,
    pub rho: Option<f64>,
}

impl Hyper {
    /// An optimizer config for `name` under `preset` with these flags set.
    pub fn config(self, name: &str, preset: optimlab::Preset) -> optimlab::optim::OptimizerConfig {
        let mut c = optimlab::optim::OptimizerConfig::new(name, preset);
        c.lr = self.lr;
        c.momentum = self.momentum;
        c.beta1 = self.beta1;
        c.beta2 = self.beta2;
        c.eps = self.eps;
        c.rho = self.rho;
        c
    }
}
