//! optimlab's `tpe` against Optuna 5's `TPESampler`: the Parzen estimators' log densities on a
//! fixed history (a committed fixture, and again live when Optuna is installed), and the
//! median best value on five test functions with Optuna run live (skipped without Optuna).
//! The reference script is `tests/fixtures/tpe/optuna_tpe.py`.

use optimlab::tune::distribution::{Distribution, ParamValue};
use optimlab::tune::sampler::SampleContext;
use optimlab::tune::sampler::parzen::ParzenParams;
use optimlab::tune::sampler::tpe::{
    TpeConfig, TpeSampler, estimator, search_space_groups, split_trials,
};
use optimlab::tune::space::{ParamSpec, Space};
use optimlab::tune::trial::{Direction, FrozenTrial, Params, TrialState};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The partition of Optuna's `_SearchSpaceGroup` for the same parameter sets, trial by trial:
/// [['lr', 'opt'], ['mom'], ['beta']]; a single-valued parameter is left out of the groups.
#[test]
fn group_decomposition_partitions_parameters_as_optuna() {
    let float = |low: f64, high: f64| Distribution::Float {
        low,
        high,
        step: None,
        log: false,
    };
    let mut space = Space::default();
    for (name, dist) in [
        ("lr", float(0.0, 1.0)),
        ("opt", float(0.0, 2.0)),
        ("mom", float(0.0, 1.0)),
        ("beta", float(0.0, 1.0)),
        ("fixed", float(1.0, 1.0)),
    ] {
        space.params.push(ParamSpec::new(name, dist));
    }
    let sets: [&[&str]; 4] = [
        &["lr", "opt", "mom", "fixed"],
        &["lr", "opt", "fixed"],
        &["lr", "opt", "beta", "mom", "fixed"],
        &["lr", "opt", "beta", "fixed"],
    ];
    let trials: Vec<FrozenTrial> = sets
        .iter()
        .enumerate()
        .map(|(i, names)| FrozenTrial {
            id: i as u64,
            number: i as u64,
            state: TrialState::Complete,
            value: Some(i as f64),
            params: names
                .iter()
                .map(|n| (n.to_string(), (space.get(n).unwrap().dist.clone(), 1.0)))
                .collect(),
            intermediate: BTreeMap::new(),
            user_attrs: BTreeMap::new(),
            system_attrs: BTreeMap::new(),
            datetime_start: None,
            datetime_complete: None,
        })
        .collect();
    let refs: Vec<&FrozenTrial> = trials.iter().collect();
    let groups: Vec<Vec<&str>> = search_space_groups(&refs, &space)
        .iter()
        .map(|g| g.iter().map(|s| s.name.as_str()).collect())
        .collect();
    assert_eq!(groups, vec![vec!["lr", "opt"], vec!["mom"], vec!["beta"]]);
}

// The test functions and a sequential study with the default `tpe`.
#[allow(dead_code)]
#[path = "../examples/tpe_quality.rs"]
mod quality;
use quality::{best_of, functions, median};

fn fixture_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tpe")
}

/// A Python that has Optuna: `OPTIMLAB_PYTHON`, the peers' virtualenv, or `python3`.
fn python_with_optuna() -> Option<String> {
    let mut candidates = Vec::new();
    if let Ok(p) = std::env::var("OPTIMLAB_PYTHON") {
        candidates.push(p);
    }
    candidates.push("/work/.venv-peers/bin/python".into());
    candidates.push("python3".into());
    candidates.into_iter().find(|p| {
        Command::new(p)
            .args(["-c", "import optuna"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

fn space_from_json(v: &Value) -> Space {
    let mut s = Space::default();
    for (name, d) in v.as_object().unwrap() {
        let f = |k: &str| d[k].as_f64().unwrap();
        let dist = match d["type"].as_str().unwrap() {
            "categorical" => Distribution::Categorical {
                choices: d["choices"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| ParamValue::from_json(c).unwrap())
                    .collect(),
            },
            "int" => Distribution::Int {
                low: d["low"].as_i64().unwrap(),
                high: d["high"].as_i64().unwrap(),
                step: d["step"].as_i64().unwrap(),
                log: d["log"].as_bool().unwrap(),
            },
            _ => Distribution::Float {
                low: f("low"),
                high: f("high"),
                step: d["step"].as_f64(),
                log: d["log"].as_bool().unwrap(),
            },
        };
        s.params.push(ParamSpec::new(name.clone(), dist));
    }
    s
}

fn trials_from_json(v: &Value, space: &Space) -> Vec<FrozenTrial> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|t| FrozenTrial {
            id: t["number"].as_u64().unwrap(),
            number: t["number"].as_u64().unwrap(),
            state: match t["state"].as_str().unwrap() {
                "COMPLETE" => TrialState::Complete,
                "PRUNED" => TrialState::Pruned,
                "FAIL" => TrialState::Fail,
                "RUNNING" => TrialState::Running,
                s => panic!("state {s}"),
            },
            value: t["value"].as_f64(),
            params: t["params"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| {
                    let dist = space.get(k).unwrap().dist.clone();
                    (k.clone(), (dist, v.as_f64().unwrap()))
                })
                .collect(),
            intermediate: t["intermediate"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.parse().unwrap(), v.as_f64().unwrap()))
                .collect(),
            user_attrs: BTreeMap::new(),
            system_attrs: BTreeMap::new(),
            datetime_start: None,
            datetime_complete: None,
        })
        .collect()
}

/// Checks optimlab's split and densities against a file written by `optuna_tpe.py densities`.
fn check_densities(path: &Path) {
    let d: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let space = space_from_json(&d["space"]);
    let trials = trials_from_json(&d["trials"], &space);
    let number = d["number"].as_u64().unwrap();
    let (below, above) = split_trials(&trials, number, Direction::Minimize, true);
    let numbers = |v: &Value| -> Vec<u64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_u64().unwrap())
            .collect()
    };
    assert_eq!(
        below.iter().map(|t| t.number).collect::<Vec<_>>(),
        numbers(&d["below"])
    );
    assert_eq!(
        above.iter().map(|t| t.number).collect::<Vec<_>>(),
        numbers(&d["above"])
    );
    let sampler = TpeSampler::new(TpeConfig::parse(None, 0).unwrap());
    let fixed = Params::new();
    let ctx = SampleContext {
        space: &space,
        trials: &trials,
        number,
        direction: Direction::Minimize,
        fixed: &fixed,
    };
    let mut worst: f64 = 0.0;
    let mut count = 0;
    for (gname, g) in d["groups"].as_object().unwrap() {
        let group: Vec<&ParamSpec> = g["params"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| space.get(n.as_str().unwrap()).unwrap())
            .collect();
        let l = estimator(&below, &group, ParzenParams::default());
        let a = estimator(&above, &group, ParzenParams::default());
        // The sampler's own estimators, which it builds from what it remembers of the trials.
        let names: Vec<&str> = group.iter().map(|s| s.name.as_str()).collect();
        let (sl, sa) = sampler.estimators(&ctx, &names).unwrap();
        let f = |v: &Value| -> Vec<f64> {
            v.as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap())
                .collect()
        };
        for (i, p) in g["points"].as_array().unwrap().iter().enumerate() {
            let x = f(p);
            for (est, key) in [
                (&l, "log_pdf_below"),
                (&a, "log_pdf_above"),
                (&sl, "log_pdf_below"),
                (&sa, "log_pdf_above"),
            ] {
                let want = g[key][i].as_f64().unwrap();
                let got = est.log_pdf(&x);
                let err = (got - want).abs() / want.abs().max(1.0);
                worst = worst.max(err);
                count += 1;
                assert!(
                    err < 1e-9,
                    "{gname} point {i} {x:?} {key}: optimlab {got}, Optuna {want}"
                );
            }
        }
    }
    eprintln!(
        "{}: {count} log densities agree with Optuna's, worst relative error {worst:.1e}",
        path.display()
    );
}

#[test]
fn parzen_log_densities_match_the_optuna_fixture() {
    check_densities(&fixture_dir().join("tpe_densities.json"));
}

#[test]
fn parzen_log_densities_match_live_optuna() {
    let Some(python) = python_with_optuna() else {
        eprintln!("skipped: optuna not installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("densities.json");
    let st = Command::new(&python)
        .arg(fixture_dir().join("optuna_tpe.py"))
        .arg("densities")
        .arg(&out)
        .status()
        .unwrap();
    assert!(st.success(), "optuna_tpe.py densities failed");
    check_densities(&out);
}

/// 15 seeds × 200 trials per function: optimlab's median regret (best value minus the minimum)
/// is at most 1.5 × Optuna's. Not fewer seeds: on Styblinski–Tang and the mixed function the
/// regret is mostly how many dimensions (or the categorical) ended in a wrong basin, so a
/// median over 5 or 10 seeds is a lottery (at 10 seeds Optuna 16.9 against optimlab 29.4 on
/// Styblinski–Tang, at 20 seeds 28.9 against 28.7). Optuna takes about a minute here.
#[test]
fn tpe_median_best_is_within_1_5x_of_optuna() {
    let Some(python) = python_with_optuna() else {
        eprintln!("skipped: optuna not installed");
        return;
    };
    const SEEDS: u64 = 15;
    const TRIALS: u64 = 200;
    // Optuna runs while optimlab's studies run.
    let optuna = Command::new(&python)
        .arg(fixture_dir().join("optuna_tpe.py"))
        .args(["quality", &SEEDS.to_string(), &TRIALS.to_string()])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let ours: Vec<(&str, f64)> = functions()
        .into_iter()
        .map(|(name, space, f)| {
            let best = (0..SEEDS).map(|s| best_of(s, &space, f, TRIALS)).collect();
            (name, median(best))
        })
        .collect();
    let out = optuna.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "optuna_tpe.py quality failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let optuna: Value = serde_json::from_slice(&out.stdout).unwrap();
    let mut failures = Vec::new();
    for (name, ours) in ours {
        let theirs = median(
            optuna[name]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect(),
        );
        eprintln!("{name}: median regret optimlab {ours:.4e}, Optuna {theirs:.4e}");
        if ours > 1.5 * theirs {
            failures.push(format!("{name}: optimlab {ours} > 1.5 × Optuna {theirs}"));
        }
    }
    assert!(failures.is_empty(), "{failures:?}");
}
