//! Training sessions: a network, its optimizer and a data set, kept between requests so the
//! page can train a few iterations at a time and draw as it goes.
//!
//! A session is built from the same [`RunConfig`] as `optimlab train` (its keys: `hidden`,
//! `activation`, `init`, `batch_norm`, `dropout`, `optimizer`, `lr`, `momentum`, …,
//! `weight_decay`, `batch_size`, `preset`, `dtype`, `seed`), and trained by the library's
//! [`Trainer`]. Sessions with the same settings but another optimizer start from the same
//! weights: the initial weights depend on the seed and the layers only.

use optimlab::data::Dataset;
use optimlab::data::toy::{self, Toy};
use optimlab::nn::Mode;
use optimlab::tensor::{DType, Matrix, Scalar};
use optimlab::train::{EvalAt, Evaluation, OnDivergence, RunConfig, TrainData, Trainer};
use serde::Deserialize;
use serde_json::{Value, json};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

/// The decision-boundary grid: `GRID × GRID` points over [−6, 6]².
pub const GRID: usize = 48;
/// Points of a 2-D set (TensorFlow Playground's 500).
const POINTS: usize = 500;

/// What a session trains on; the other keys of the request are a [`RunConfig`]'s.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct DataRequest {
    /// `digits` (the embedded 8×8 images, 80/20 split) or a 2-D set: `circle`, `xor`,
    /// `gauss`, `spiral`.
    #[serde(default = "digits")]
    data: String,
    /// 2-D sets: noise in [0, 0.5].
    #[serde(default)]
    noise: f64,
    /// 2-D sets: the share of points held out for testing, in (0, 1).
    #[serde(default = "half")]
    test_fraction: f64,
    /// 2-D sets: the seed of the points (apart from the run's `seed`).
    #[serde(default)]
    data_seed: u64,
}

fn digits() -> String {
    "digits".into()
}
fn half() -> f64 {
    0.5
}

enum Net {
    F32(Trainer<f32>),
    F64(Trainer<f64>),
}

struct Session {
    net: Net,
    train: Dataset,
    test: Dataset,
    /// The boundary grid's points as features, for 2-D sets.
    grid: Option<Dataset>,
}

thread_local! {
    static SESSIONS: RefCell<BTreeMap<u32, Session>> = const { RefCell::new(BTreeMap::new()) };
    static NEXT_ID: RefCell<u32> = const { RefCell::new(1) };
}

/// Splits a request into its data keys and its run settings.
fn split_request(value: Value) -> Result<(DataRequest, RunConfig), String> {
    let Value::Object(mut all) = value else {
        return Err("invalid request: expected a JSON object".into());
    };
    let mut data = serde_json::Map::new();
    for key in ["data", "noise", "test_fraction", "data_seed"] {
        if let Some(v) = all.remove(key) {
            data.insert(key.into(), v);
        }
    }
    let data: DataRequest =
        serde_json::from_value(Value::Object(data)).map_err(|e| format!("invalid request: {e}"))?;
    // Through TOML, so an unknown or misspelt setting is refused as `optimlab train` does.
    let table =
        toml::Table::try_from(Value::Object(all)).map_err(|e| format!("invalid request: {e}"))?;
    let run = RunConfig::from_table(table, "session").map_err(|e| e.to_string())?;
    if run.data.is_some() || run.epochs.is_some() || run.iters.is_some() {
        return Err(
            "session: data, epochs and iters are not settings of a session (the page steps it)"
                .into(),
        );
    }
    Ok((data, run))
}

/// The (train, test) sets a request names.
fn load(data: &DataRequest) -> Result<(Dataset, Dataset), String> {
    if data.data == "digits" {
        return optimlab::data::digits::train_test().map_err(|e| e.to_string());
    }
    let kind: Toy = data.data.parse()?;
    if !(0.0..=0.5).contains(&data.noise) {
        return Err(format!(
            "noise {}: expected a number in [0, 0.5]",
            data.noise
        ));
    }
    if !(data.test_fraction > 0.0 && data.test_fraction < 1.0) {
        return Err(format!(
            "test_fraction {}: expected a number in (0, 1)",
            data.test_fraction
        ));
    }
    let all = kind.dataset(POINTS, data.noise, data.data_seed);
    let (train, test) = all.split(data.test_fraction, data.data_seed);
    if train.len() < 2 || test.is_empty() {
        return Err(format!(
            "test_fraction {}: leaves too few points to train or test",
            data.test_fraction
        ));
    }
    Ok((train, test))
}

/// The boundary grid's points, row by row from the top left (y = 6) to the bottom right.
fn grid() -> Dataset {
    let mut features = Vec::with_capacity(2 * GRID * GRID);
    for r in 0..GRID {
        for c in 0..GRID {
            let x = -6.0 + 12.0 * (c as f64 + 0.5) / GRID as f64;
            let y = 6.0 - 12.0 * (r as f64 + 0.5) / GRID as f64;
            features.push((x / toy::SCALE) as f32);
            features.push((y / toy::SCALE) as f32);
        }
    }
    Dataset {
        name: "grid".into(),
        features: optimlab::data::Features::F32(features),
        labels: vec![0; GRID * GRID],
        dim: 2,
        classes: 2,
    }
}

/// The points of a 2-D set as `[x, y, label]` in the plane's coordinates.
fn points(d: &Dataset) -> Vec<[f64; 3]> {
    let m = d.to_matrix::<f64>();
    (0..d.len())
        .map(|i| {
            let r = m.row(i);
            [r[0] * toy::SCALE, r[1] * toy::SCALE, d.labels[i] as f64]
        })
        .collect()
}

/// Creates a session; answers its id, the network, the iterations per epoch and, for 2-D
/// sets, the points.
pub fn create(value: Value) -> Result<Value, String> {
    let (data, run) = split_request(value)?;
    let (train, test) = load(&data)?;
    let mut resolved = run.resolve().map_err(|e| e.to_string())?;
    // The page decides when to stop; a diverged run is shown, not an error.
    resolved.train.iters = None;
    resolved.train.epochs = 1 << 20;
    resolved.train.eval_at = EvalAt::Never;
    resolved.train.on_divergence = OnDivergence::Record;
    let net = match resolved.dtype {
        DType::F32 => Net::F32(resolved.trainer(&train).map_err(|e| e.to_string())?),
        DType::F64 => Net::F64(resolved.trainer(&train).map_err(|e| e.to_string())?),
    };
    let (describe, per_epoch) = match &net {
        Net::F32(t) => (t.net.describe(), t.iters_per_epoch()),
        Net::F64(t) => (t.net.describe(), t.iters_per_epoch()),
    };
    let two_d = data.data != "digits";
    let answer = json!({
        "network": describe,
        "iters_per_epoch": per_epoch,
        "train_size": train.len(),
        "test_size": test.len(),
        "dtype": resolved.dtype.name(),
        "optimizer": resolved.optimizer,
        "train_points": if two_d { json!(points(&train)) } else { Value::Null },
        "test_points": if two_d { json!(points(&test)) } else { Value::Null },
    });
    let session = Session {
        net,
        train,
        test,
        grid: two_d.then(grid),
    };
    let id = NEXT_ID.with(|n| {
        let mut n = n.borrow_mut();
        let id = *n;
        *n += 1;
        id
    });
    SESSIONS.with(|s| s.borrow_mut().insert(id, session));
    let mut answer = answer;
    answer["id"] = json!(id);
    Ok(answer)
}

/// Trains a session further.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepRequest {
    pub id: u32,
    /// Iterations (mini-batches) to train before measuring.
    pub iters: usize,
    /// Whether to answer the boundary grid's class-1 probabilities (2-D sets).
    #[serde(default)]
    pub boundary: bool,
}

/// The most iterations one step request may ask for (the page asks for a few at a time).
const MAX_ITERS: usize = 100_000;

pub fn step(req: StepRequest) -> Result<Value, String> {
    if req.iters == 0 || req.iters > MAX_ITERS {
        return Err(format!("iters {}: expected 1 to {MAX_ITERS}", req.iters));
    }
    SESSIONS.with(|s| {
        let mut sessions = s.borrow_mut();
        let session = sessions
            .get_mut(&req.id)
            .ok_or_else(|| format!("no session {}", req.id))?;
        let Session {
            net,
            train,
            test,
            grid,
        } = session;
        let grid = grid.as_ref().filter(|_| req.boundary);
        match net {
            Net::F32(t) => step_typed(t, train, test, grid, req.iters),
            Net::F64(t) => step_typed(t, train, test, grid, req.iters),
        }
    })
}

fn step_typed<T: Scalar>(
    trainer: &mut Trainer<T>,
    train: &Dataset,
    test: &Dataset,
    grid: Option<&Dataset>,
    iters: usize,
) -> Result<Value, String> {
    let data = TrainData {
        train,
        val: None,
        test: None,
    };
    let mut losses = Vec::with_capacity(iters);
    while losses.len() < iters {
        let want = iters - losses.len();
        let stop = AtomicBool::new(false);
        let mut seen = 0;
        trainer
            .run_epoch_until(
                &data,
                |r| {
                    losses.push(r.loss);
                    seen += 1;
                    if seen >= want {
                        stop.store(true, Ordering::Relaxed);
                    }
                },
                &stop,
            )
            .map_err(|e| e.to_string())?;
    }
    let finite = |e: Evaluation| json!({ "loss": finite_or_null(e.loss), "accuracy": e.accuracy });
    let on_train = trainer.evaluate(train, None).map_err(|e| e.to_string())?;
    let on_test = trainer.evaluate(test, None).map_err(|e| e.to_string())?;
    let boundary = match grid {
        Some(g) => {
            let x: Matrix<T> = g.to_matrix();
            trainer
                .net
                .loss(&x, &g.labels, Mode::Eval)
                .map_err(|e| e.to_string())?;
            let p = trainer.net.probabilities();
            // Rounded: the heat map needs no more, and the message stays small.
            let probs: Vec<f64> = (0..p.rows())
                .map(|r| (p.get(r, 1).as_f64() * 1000.0).round() / 1000.0)
                .collect();
            json!(probs)
        }
        None => Value::Null,
    };
    let mean = losses.iter().sum::<f64>() / losses.len() as f64;
    Ok(json!({
        "iter": trainer.iter(),
        "epoch": trainer.iter() as f64 / trainer.iters_per_epoch() as f64,
        "losses": losses.iter().map(|&l| finite_or_null(l)).collect::<Vec<_>>(),
        "loss": finite_or_null(mean),
        "train": finite(on_train),
        "test": finite(on_test),
        "diverged_at": trainer.diverged_at(),
        "boundary": boundary,
    }))
}

/// JSON has no NaN or infinity: a diverged loss is `null`.
fn finite_or_null(v: f64) -> Value {
    if v.is_finite() { json!(v) } else { Value::Null }
}

pub fn free(id: u32) {
    SESSIONS.with(|s| s.borrow_mut().remove(&id));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(request: Value) -> u32 {
        create(request).unwrap()["id"].as_u64().unwrap() as u32
    }

    fn train(id: u32, iters: usize, boundary: bool) -> Value {
        step(StepRequest {
            id,
            iters,
            boundary,
        })
        .unwrap()
    }

    #[test]
    fn digits_learn_and_settings_matter() {
        let base = json!({"hidden": [50], "optimizer": "adam", "lr": 0.01, "seed": 1});
        let a = session(base.clone());
        let r = train(a, 200, false);
        assert_eq!(r["iter"], 200);
        assert!(r["test"]["accuracy"].as_f64().unwrap() > 0.9, "{r}");
        // Same settings, same numbers; another optimizer, other numbers.
        let b = session(base.clone());
        assert_eq!(train(b, 200, false)["losses"], r["losses"]);
        let mut sgd = base.clone();
        sgd["optimizer"] = json!("sgd");
        let c = session(sgd);
        assert_ne!(train(c, 200, false)["losses"], r["losses"]);
        for id in [a, b, c] {
            free(id);
        }
        assert!(
            step(StepRequest {
                id: a,
                iters: 1,
                boundary: false
            })
            .is_err()
        );
    }

    #[test]
    fn toy_sets_answer_points_and_a_boundary() {
        let created =
            create(json!({"data": "xor", "noise": 0.1, "hidden": [8, 8], "lr": 0.03, "optimizer": "adam", "batch_size": 10}))
                .unwrap();
        let id = created["id"].as_u64().unwrap() as u32;
        assert_eq!(created["train_points"].as_array().unwrap().len(), 250);
        let r = train(id, 300, true);
        assert_eq!(r["boundary"].as_array().unwrap().len(), GRID * GRID);
        assert!(r["train"]["accuracy"].as_f64().unwrap() > 0.85, "{r}");
        free(id);
    }

    #[test]
    fn bad_settings_are_refused_in_one_line() {
        for bad in [
            json!({"data": "moon"}),
            json!({"hidden": [10], "learning_rate": 0.1}),
            json!({"data": "circle", "noise": 2}),
            json!({"epochs": 3}),
            json!({"optimizer": "adam", "lr": -1}),
        ] {
            let e = create(bad.clone()).unwrap_err();
            assert!(!e.contains('\n') && !e.is_empty(), "{bad}: {e}");
        }
    }
}
