//! TPE quality on the test functions that `tests/fixtures/tpe/optuna_tpe.py quality` runs
//! with Optuna: prints `{"function": [regret per seed], …}`, the regret being the best value of
//! a sequential study with the default `tpe` minus the function's minimum.
//!
//!     cargo run --release -p optimlab --example tpe_quality -- SEEDS TRIALS [FUNCTION ...]
//!
//! `scripts/bench_tpe_quality.py` compares the two; `tests/tune_tpe_optuna.rs` reuses the
//! functions.

use optimlab::tune::distribution::{Distribution, ParamValue};
use optimlab::tune::sampler::tpe::{TpeConfig, TpeSampler};
use optimlab::tune::sampler::{SampleContext, Sampler};
use optimlab::tune::space::{ParamSpec, Space};
use optimlab::tune::trial::{Direction, FrozenTrial, Params, TrialState};
use std::collections::BTreeMap;

/// Styblinski–Tang's minimum per dimension.
const ST_MIN: f64 = -39.166_165_703_771_42;

fn floats(n: usize, low: f64, high: f64) -> Space {
    let mut s = Space::default();
    for i in 0..n {
        s.params.push(ParamSpec::new(
            format!("x{i}"),
            Distribution::Float {
                low,
                high,
                step: None,
                log: false,
            },
        ));
    }
    s
}

fn xs(p: &Params, n: usize) -> Vec<f64> {
    (0..n).map(|i| p[&format!("x{i}")]).collect()
}

fn sphere5(p: &Params) -> f64 {
    xs(p, 5).iter().map(|x| x * x).sum()
}

fn rosenbrock4(p: &Params) -> f64 {
    let x = xs(p, 4);
    (0..3)
        .map(|i| 100.0 * (x[i + 1] - x[i] * x[i]).powi(2) + (1.0 - x[i]).powi(2))
        .sum()
}

fn styblinski_tang5(p: &Params) -> f64 {
    0.5 * xs(p, 5)
        .iter()
        .map(|v| v.powi(4) - 16.0 * v * v + 5.0 * v)
        .sum::<f64>()
        - 5.0 * ST_MIN
}

fn mixed(p: &Params) -> f64 {
    let off = [1.0, 0.0, 2.0, 3.0][p["c"] as usize];
    off + p["x0"].powi(2)
        + (p["x1"] - 1.0).powi(2)
        + ((p["n"] - 8.0) / 4.0).powi(2)
        + (p["lr"].log10() + 3.0).powi(2)
}

fn mixed_space() -> Space {
    let choices = ["a", "b", "c", "d"]
        .iter()
        .map(|c| ParamValue::Str(c.to_string()))
        .collect();
    let mut s = Space::default();
    s.params
        .push(ParamSpec::new("c", Distribution::Categorical { choices }));
    s.params.extend(floats(2, -5.0, 5.0).params);
    s.params.push(ParamSpec::new(
        "n",
        Distribution::Int {
            low: 0,
            high: 20,
            step: 2,
            log: false,
        },
    ));
    s.params.push(ParamSpec::new(
        "lr",
        Distribution::Float {
            low: 1e-5,
            high: 1e-1,
            step: None,
            log: true,
        },
    ));
    s
}

/// opt ∈ {sgd, momentum, adam}, lr log-scale; `mom` only with momentum, `beta` only with adam.
fn conditional(p: &Params) -> f64 {
    let base = (p["lr"].log10() + 3.0).powi(2);
    match p["opt"] as usize {
        1 => base + 0.3 + 10.0 * (p["mom"] - 0.9).powi(2),
        2 => base + 20.0 * (p["beta"] - 0.95).powi(2),
        _ => base + 0.6,
    }
}

fn conditional_space() -> Space {
    let float = |low: f64, high: f64, log: bool| Distribution::Float {
        low,
        high,
        step: None,
        log,
    };
    let choices = ["sgd", "momentum", "adam"]
        .iter()
        .map(|c| ParamValue::Str(c.to_string()))
        .collect();
    let when = |choice: &str| vec![("opt".to_string(), vec![ParamValue::Str(choice.into())])];
    let mut s = Space::default();
    s.params
        .push(ParamSpec::new("opt", Distribution::Categorical { choices }));
    s.params.push(ParamSpec::new("lr", float(1e-5, 1e-1, true)));
    let mut mom = ParamSpec::new("mom", float(0.5, 0.99, false));
    mom.when = when("momentum");
    s.params.push(mom);
    let mut beta = ParamSpec::new("beta", float(0.8, 0.999, false));
    beta.when = when("adam");
    s.params.push(beta);
    s
}

pub type Objective = fn(&Params) -> f64;

pub fn functions() -> Vec<(&'static str, Space, Objective)> {
    vec![
        ("sphere5", floats(5, -5.0, 5.0), sphere5 as Objective),
        ("rosenbrock4", floats(4, -2.0, 2.0), rosenbrock4),
        ("styblinski_tang5", floats(5, -5.0, 5.0), styblinski_tang5),
        ("mixed", mixed_space(), mixed),
        ("conditional", conditional_space(), conditional),
    ]
}

/// The best value of a sequential study of `n` trials with the default `tpe`.
pub fn best_of(seed: u64, space: &Space, f: Objective, n: u64) -> f64 {
    let s = TpeSampler::new(TpeConfig::parse(None, seed).unwrap());
    let mut trials: Vec<FrozenTrial> = Vec::new();
    let mut best = f64::INFINITY;
    for number in 0..n {
        let p = s
            .sample(&SampleContext {
                space,
                trials: &trials,
                number,
                direction: Direction::Minimize,
                fixed: &Params::new(),
            })
            .unwrap();
        let v = f(&p);
        best = best.min(v);
        trials.push(FrozenTrial {
            id: number,
            number,
            state: TrialState::Complete,
            value: Some(v),
            params: p
                .iter()
                .map(|(k, x)| (k.clone(), (space.get(k).unwrap().dist.clone(), *x)))
                .collect(),
            intermediate: BTreeMap::new(),
            user_attrs: BTreeMap::new(),
            system_attrs: BTreeMap::new(),
            datetime_start: None,
            datetime_complete: None,
        });
    }
    best.max(0.0)
}

pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() < 2 {
        eprintln!("usage: tpe_quality SEEDS TRIALS [FUNCTION ...]");
        std::process::exit(2);
    }
    let seeds: u64 = args[0].parse().expect("SEEDS");
    let trials: u64 = args[1].parse().expect("TRIALS");
    let names = &args[2..];
    let mut out = serde_json::Map::new();
    for (name, space, f) in functions() {
        if !names.is_empty() && !names.iter().any(|n| n == name) {
            continue;
        }
        let best: Vec<f64> = (0..seeds).map(|s| best_of(s, &space, f, trials)).collect();
        out.insert(name.to_string(), serde_json::json!(best));
    }
    println!("{}", serde_json::Value::Object(out));
}
