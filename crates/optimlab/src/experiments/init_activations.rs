//! How the initial weight scale shapes the activations of deep layers (the book's
//! `weight_init_activation_histogram.py`): 1000 samples of 100 N(0, 1) features through five
//! bias-free layers of 100 units, for each weight σ and activation; a histogram and summary
//! statistics of every layer's outputs.
//!
//! Under each seed every combination sees the same input and the same standard-normal weight
//! draws, scaled by its σ, so the histograms differ only by the scale and the activation.

use super::common::{self, ExperimentError, Progress, Row, Spread, Tracker};
use crate::Preset;
use crate::nn::{Activation, Init, fill_normal};
use crate::rng::{self, Purpose};
use crate::tensor::{DType, Matrix, Op, Scalar, Threads, gemm};
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub preset: Preset,
    /// Element type; the preset's when unset.
    pub dtype: Option<DType>,
    pub seed: u64,
    /// Repeats, with seeds `seed, seed + 1, …`.
    pub seeds: usize,
    /// Input rows (samples).
    pub samples: usize,
    /// Units per layer (and input features).
    pub width: usize,
    pub layers: usize,
    /// Histogram bins over each activation's range.
    pub bins: usize,
    pub inits: Vec<Init>,
    pub activations: Vec<Activation>,
    /// An output within this distance of a sigmoid/tanh asymptote counts as saturated.
    pub saturation: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            preset: Preset::Book,
            dtype: None,
            seed: 0,
            seeds: 1,
            samples: 1000,
            width: 100,
            layers: 5,
            bins: 30,
            inits: vec![Init::Std(1.0), Init::Std(0.01), Init::BookXavier, Init::He],
            activations: vec![Activation::Sigmoid, Activation::Relu, Activation::Tanh],
            saturation: 0.01,
        }
    }
}

impl Config {
    pub fn validate(&self) -> Result<(), ExperimentError> {
        common::check_at_least_one("seeds", self.seeds)?;
        common::check_at_least_one("samples", self.samples)?;
        common::check_at_least_one("width", self.width)?;
        common::check_at_least_one("layers", self.layers)?;
        common::check_at_least_one("bins", self.bins)?;
        common::check_not_empty("inits", self.inits.len())?;
        common::check_not_empty("activations", self.activations.len())?;
        for init in &self.inits {
            init.validate()?;
        }
        if !(self.saturation > 0.0 && self.saturation < 0.5) {
            return Err(ExperimentError::invalid(
                "saturation",
                self.saturation,
                "a distance in (0, 0.5)",
            ));
        }
        Ok(())
    }
}

/// The histogram range of an activation's outputs, as the book plots them: (0, 1) for sigmoid
/// and ReLU (ReLU outputs above 1 fall outside), (−1, 1) for tanh.
pub fn histogram_range(activation: Activation) -> [f64; 2] {
    match activation {
        Activation::Sigmoid | Activation::Relu => [0.0, 1.0],
        Activation::Tanh => [-1.0, 1.0],
    }
}

/// One layer's outputs under one seed.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerStats {
    /// Counts per bin over the range (NumPy's `histogram`: the last bin includes its right edge).
    pub counts: Vec<u64>,
    /// Values below / above the range (not in any bin).
    pub below: u64,
    pub above: u64,
    /// Values exactly 0 (ReLU's dead outputs: they all fall in the first bin, a spike that
    /// dwarfs the other bars, so plots clip it and print this count).
    #[serde(default)]
    pub zeros: u64,
    /// `(below + above) / values`.
    pub outside_share: f64,
    pub mean: f64,
    pub std: f64,
    /// Share of values at an asymptote: within `saturation` of 0 or 1 (sigmoid), of ±1 (tanh);
    /// exactly 0 (ReLU, a dead output).
    pub saturated_share: f64,
    /// Share of units saturated (or dead) on every sample.
    pub dead_unit_share: f64,
}

/// One layer's numbers over seeds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerSpread {
    pub counts_mean: Vec<f64>,
    pub outside_share: Spread,
    pub mean: Spread,
    pub std: Spread,
    pub saturated_share: Spread,
    pub dead_unit_share: Spread,
}

/// One (initialisation, activation) pair.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Combination {
    pub init: Init,
    /// `std=1`, `Xavier`, `He`, …
    pub label: String,
    pub activation: Activation,
    /// The σ of every layer's weights.
    pub weight_std: f64,
    pub range: [f64; 2],
    /// `layers[seed index][layer]`.
    pub seeds: Vec<Vec<LayerStats>>,
    /// Per layer, over seeds (when there is more than one).
    pub spread: Option<Vec<LayerSpread>>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Output {
    pub preset: Preset,
    pub dtype: DType,
    pub samples: usize,
    pub width: usize,
    pub layers: usize,
    pub bins: usize,
    pub seeds: Vec<u64>,
    pub combinations: Vec<Combination>,
}

impl Output {
    /// Per combination, the last layer's saturated (dead) share and std (first seed).
    pub fn summary(&self) -> Vec<Row> {
        let mut rows = Vec::new();
        for c in &self.combinations {
            let Some(last) = c.seeds.first().and_then(|s| s.last()) else {
                continue;
            };
            let name = format!("{} {}, layer {}", c.label, c.activation.name(), self.layers);
            rows.push(Row::new(format!("{name} std"), last.std));
            rows.push(Row::new(
                format!("{name} saturated share"),
                last.saturated_share,
            ));
        }
        rows
    }
}

/// Statistics of one layer's outputs `z` (samples × units).
fn layer_stats<T: Scalar>(
    z: &Matrix<T>,
    activation: Activation,
    bins: usize,
    saturation: f64,
) -> LayerStats {
    let [lo, hi] = histogram_range(activation);
    let mut counts = vec![0u64; bins];
    let (mut below, mut above, mut zeros) = (0u64, 0u64, 0u64);
    let (mut sum, mut sum_sq, mut saturated) = (0.0, 0.0, 0u64);
    let is_saturated = |v: f64| match activation {
        Activation::Sigmoid => v < saturation || v > 1.0 - saturation,
        Activation::Tanh => v.abs() > 1.0 - saturation,
        Activation::Relu => v <= 0.0,
    };
    let units = z.cols();
    let mut alive = vec![false; units];
    for r in 0..z.rows() {
        for (j, &t) in z.row(r).iter().enumerate() {
            let v = t.as_f64();
            sum += v;
            sum_sq += v * v;
            zeros += u64::from(v == 0.0);
            if is_saturated(v) {
                saturated += 1;
            } else {
                alive[j] = true;
            }
            if v < lo {
                below += 1;
            } else if v > hi {
                above += 1;
            } else {
                let b = (((v - lo) / (hi - lo)) * bins as f64) as usize;
                counts[b.min(bins - 1)] += 1;
            }
        }
    }
    let n = z.len().max(1) as f64;
    let mean = sum / n;
    LayerStats {
        counts,
        below,
        above,
        zeros,
        outside_share: (below + above) as f64 / n,
        mean,
        std: (sum_sq / n - mean * mean).max(0.0).sqrt(),
        saturated_share: saturated as f64 / n,
        dead_unit_share: alive.iter().filter(|a| !**a).count() as f64 / units.max(1) as f64,
    }
}

/// The layers' statistics for one combination under one seed.
fn forward<T: Scalar>(
    config: &Config,
    init: Init,
    activation: Activation,
    seed: u64,
) -> Vec<LayerStats> {
    let (n, w) = (config.samples, config.width);
    let mut x = Matrix::<T>::zeros(n, w);
    fill_normal(x.as_mut_slice(), 1.0, &mut rng::stream(seed, Purpose::Data));
    let mut weights = Matrix::<T>::zeros(w, w);
    let mut a = Matrix::<T>::zeros(n, w);
    let mut init_rng = rng::stream(seed, Purpose::Init);
    let std = init.std(w, w);
    let mut out = Vec::with_capacity(config.layers);
    for _ in 0..config.layers {
        fill_normal(weights.as_mut_slice(), std, &mut init_rng);
        gemm(
            &mut a,
            &x,
            Op::N,
            &weights,
            Op::N,
            T::one(),
            false,
            Threads(1),
        );
        for v in a.as_mut_slice() {
            *v = activation.apply(*v);
        }
        out.push(layer_stats(&a, activation, config.bins, config.saturation));
        std::mem::swap(&mut x, &mut a);
    }
    out
}

pub fn run(
    config: &Config,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Output, ExperimentError> {
    config.validate()?;
    let seeds = common::seed_list(config.seed, config.seeds);
    let dtype = common::dtype(config.preset, config.dtype);
    let pairs: Vec<(Init, Activation)> = config
        .inits
        .iter()
        .flat_map(|&i| config.activations.iter().map(move |&a| (i, a)))
        .collect();
    let jobs: Vec<(usize, u64)> = (0..pairs.len())
        .flat_map(|p| seeds.iter().map(move |&s| (p, s)))
        .collect();
    let tracker = Tracker::new(jobs.len() as u64, progress);
    let results: Vec<Vec<LayerStats>> = crate::parallel::map(&jobs, |&(p, seed)| {
        let (init, activation) = pairs[p];
        let stats = match dtype {
            DType::F32 => forward::<f32>(config, init, activation, seed),
            DType::F64 => forward::<f64>(config, init, activation, seed),
        };
        tracker.advance(
            1,
            &format!("{} {}", common::init_label(init), activation.name()),
        );
        stats
    });
    let mut results = results.into_iter();
    let combinations = pairs
        .iter()
        .map(|&(init, activation)| {
            let per_seed: Vec<Vec<LayerStats>> = results.by_ref().take(seeds.len()).collect();
            let spread = (seeds.len() > 1).then(|| {
                (0..config.layers)
                    .map(|l| {
                        let layer = |f: fn(&LayerStats) -> f64| {
                            Spread::of(per_seed.iter().map(|s| f(&s[l])))
                        };
                        LayerSpread {
                            counts_mean: (0..config.bins)
                                .map(|b| {
                                    per_seed.iter().map(|s| s[l].counts[b] as f64).sum::<f64>()
                                        / per_seed.len() as f64
                                })
                                .collect(),
                            outside_share: layer(|s| s.outside_share),
                            mean: layer(|s| s.mean),
                            std: layer(|s| s.std),
                            saturated_share: layer(|s| s.saturated_share),
                            dead_unit_share: layer(|s| s.dead_unit_share),
                        }
                    })
                    .collect()
            });
            Combination {
                init,
                label: common::init_label(init),
                activation,
                weight_std: init.std(config.width, config.width),
                range: histogram_range(activation),
                seeds: per_seed,
                spread,
            }
        })
        .collect();
    Ok(Output {
        preset: config.preset,
        dtype,
        samples: config.samples,
        width: config.width,
        layers: config.layers,
        bins: config.bins,
        seeds,
        combinations,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_counts_every_value_once() {
        let z = Matrix::<f64>::from_f64(2, 3, &[0.0, 0.5, 1.0, 1.5, -0.2, 0.99]).unwrap();
        let s = layer_stats(&z, Activation::Relu, 10, 0.01);
        assert_eq!(s.counts.iter().sum::<u64>() + s.below + s.above, 6);
        assert_eq!((s.below, s.above), (1, 1));
        assert_eq!(s.zeros, 1);
        assert_eq!(s.counts[0], 1); // 0.0
        assert_eq!(s.counts[5], 1); // 0.5
        assert_eq!(s.counts[9], 2); // 0.99 and the right edge 1.0
        // ReLU: 0.0 and −0.2 are dead values; no unit is dead on both samples.
        assert!((s.saturated_share - 2.0 / 6.0).abs() < 1e-15);
        assert_eq!(s.dead_unit_share, 0.0);
    }

    #[test]
    fn seeds_repeat_and_settings_are_checked() {
        let config = Config {
            samples: 50,
            width: 20,
            seeds: 2,
            ..Config::default()
        };
        let a = run(&config, &|_| {}).unwrap();
        assert_eq!(a, run(&config, &|_| {}).unwrap());
        assert_eq!(a.combinations.len(), 12);
        assert!(a.combinations[0].spread.is_some());
        let e = run(
            &Config {
                bins: 0,
                ..Config::default()
            },
            &|_| {},
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("bins = 0"), "{e}");
    }
}
