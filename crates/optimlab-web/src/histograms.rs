//! The initialisation study (`optimlab experiment init-activations`) for one initialisation
//! and activation: each layer's activation histogram, as the page draws it.

use optimlab::Preset;
use optimlab::experiments::init_activations::{self, Config};
use optimlab::nn::{Activation, Init};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Request {
    /// `he`, `xavier` (the book's √(1/n)), `glorot` or a fixed std such as `0.01`.
    pub init: String,
    pub activation: Activation,
    #[serde(default = "layers")]
    pub layers: usize,
    #[serde(default = "width")]
    pub width: usize,
    #[serde(default = "samples")]
    pub samples: usize,
    #[serde(default = "bins")]
    pub bins: usize,
    #[serde(default)]
    pub seed: u64,
}

fn layers() -> usize {
    5
}
fn width() -> usize {
    100
}
fn samples() -> usize {
    1000
}
fn bins() -> usize {
    30
}

/// Refuses studies that would keep the page busy for long.
const MAX_VALUES: usize = 2_000_000;

pub fn run(req: Request) -> Result<Value, String> {
    let init = Init::parse(&req.init, Preset::Book)?;
    if req.layers > 20 || req.samples.saturating_mul(req.width) > MAX_VALUES {
        return Err(format!(
            "{} layers of {} samples × {} units: too large for the page (at most 20 layers, \
             {MAX_VALUES} values a layer)",
            req.layers, req.samples, req.width
        ));
    }
    let config = Config {
        preset: Preset::Book,
        seed: req.seed,
        samples: req.samples,
        width: req.width,
        layers: req.layers,
        bins: req.bins,
        inits: vec![init],
        activations: vec![req.activation],
        ..Config::default()
    };
    let out = init_activations::run(&config, &|_| {}).map_err(|e| e.to_string())?;
    let c = &out.combinations[0];
    let layers: Vec<Value> = c.seeds[0]
        .iter()
        .map(|s| {
            json!({
                "counts": s.counts,
                "zeros": s.zeros,
                "below": s.below,
                "above": s.above,
                "mean": s.mean,
                "std": s.std,
                "saturated_share": s.saturated_share,
            })
        })
        .collect();
    Ok(json!({
        "label": c.label,
        "weight_std": c.weight_std,
        "range": c.range,
        "values_per_layer": req.samples * req.width,
        "layers": layers,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relu_layers_count_their_zeros() {
        let v = run(Request {
            init: "he".into(),
            activation: Activation::Relu,
            layers: 3,
            width: 50,
            samples: 200,
            bins: 20,
            seed: 0,
        })
        .unwrap();
        let layers = v["layers"].as_array().unwrap();
        assert_eq!(layers.len(), 3);
        for l in layers {
            let zeros = l["zeros"].as_u64().unwrap();
            // About half of ReLU's outputs are exactly 0, and they sit in the first bin.
            assert!((3000..7000).contains(&zeros), "{l}");
            assert!(l["counts"][0].as_u64().unwrap() >= zeros);
        }
        assert_eq!(v["label"], "He");
    }
}
