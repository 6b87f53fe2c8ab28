//! optimlab's parameter importance against Optuna 5's `get_param_importances` on the same
//! trials: Optuna builds a seeded study in a journal file and prints its importances
//! (`tests/fixtures/importance/optuna_importance.py`); optimlab reads the journal and computes
//! its own. PED-ANOVA must agree to 1e-9; fANOVA's forests draw other random numbers, so its
//! shares are compared with the mean of Optuna's over five seeds, within 0.05 (Optuna's own
//! spread between seeds is about that). Skipped, saying so, without Python and Optuna; the
//! fANOVA comparisons are skipped, saying so, without scikit-learn (Optuna's fANOVA needs it).

use optimlab::tune::storage;
use optimlab::tune::study::importance::{Evaluator, Fanova, param_importances};
use optimlab::tune::trial::FrozenTrial;
use optimlab::tune::{Direction, TrialState};
use serde_json::Value;
use std::path::Path;
use std::process::Command;

/// PED-ANOVA is the same computation as Optuna's: only rounding differs.
const PED_ANOVA_TOLERANCE: f64 = 1e-9;
/// fANOVA: absolute difference of a share from the mean of Optuna's over its seeds.
const FANOVA_TOLERANCE: f64 = 0.05;
/// Optuna's fANOVA seeds averaged.
const FANOVA_SEEDS: usize = 5;

/// A Python with Optuna: `OPTIMLAB_PYTHON`, or `python3`.
fn python() -> Option<String> {
    let mut candidates = Vec::new();
    if let Ok(p) = std::env::var("OPTIMLAB_PYTHON") {
        candidates.push(p);
    }
    candidates.push("python3".into());
    candidates.into_iter().find(|p| {
        Command::new(p)
            .args(["-c", "import optuna"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

struct Case {
    optuna_ped: Vec<(String, f64)>,
    /// `None` without scikit-learn.
    optuna_fanova: Option<Vec<Vec<(String, f64)>>>,
    trials: Vec<FrozenTrial>,
    direction: Direction,
}

fn shares(v: &Value) -> Vec<(String, f64)> {
    let mut s: Vec<(String, f64)> = v
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, x)| (k.clone(), x.as_f64().unwrap()))
        .collect();
    s.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    s
}

/// Runs the scenario in Optuna and reads its journal back; `None` (skipped) without Optuna.
fn case(scenario: &str) -> Option<Case> {
    let Some(python) = python() else {
        eprintln!("skipped: python3 with optuna not found");
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let journal = dir.path().join("study.jsonl");
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/importance/optuna_importance.py");
    let out = Command::new(python)
        .arg(&script)
        .arg(&journal)
        .arg(scenario)
        .arg(FANOVA_SEEDS.to_string())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "optuna failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = storage::open(&format!("journal:{}", journal.display())).unwrap();
    let info = s.find_study(scenario).unwrap().unwrap();
    let trials = s.trials(info.id).unwrap();
    Some(Case {
        optuna_ped: shares(&v["ped_anova"]),
        optuna_fanova: v["fanova"]
            .as_array()
            .map(|runs| runs.iter().map(shares).collect()),
        trials,
        direction: info.direction,
    })
}

fn get(s: &[(String, f64)], name: &str) -> f64 {
    s.iter()
        .find(|x| x.0 == name)
        .unwrap_or_else(|| panic!("{name} missing from {s:?}"))
        .1
}

fn names(s: &[(String, f64)]) -> Vec<&str> {
    s.iter().map(|x| x.0.as_str()).collect()
}

/// Checks PED-ANOVA and (with scikit-learn) fANOVA on `c` against Optuna's.
fn compare(scenario: &str, c: &Case) {
    let ped = param_importances(&c.trials, c.direction, &Evaluator::default());
    let mut want = names(&c.optuna_ped);
    let mut got = names(&ped);
    want.sort();
    got.sort();
    assert_eq!(got, want, "{scenario}: the parameters assessed");
    let mut ped_diff: f64 = 0.0;
    for (name, share) in &c.optuna_ped {
        ped_diff = ped_diff.max((get(&ped, name) - share).abs());
    }
    assert!(
        ped_diff < PED_ANOVA_TOLERANCE,
        "{scenario}: PED-ANOVA differs by {ped_diff}\n optimlab {ped:?}\n optuna   {:?}",
        c.optuna_ped
    );

    eprintln!("{scenario}: PED-ANOVA max |optimlab - optuna| = {ped_diff:.2e}");
    let Some(optuna_fanova) = &c.optuna_fanova else {
        eprintln!("{scenario}: fANOVA comparison skipped: scikit-learn not installed");
        return;
    };
    let started = std::time::Instant::now();
    let fanova = param_importances(
        &c.trials,
        c.direction,
        &Evaluator::Fanova(Fanova::default()),
    );
    eprintln!(
        "{scenario}: optimlab's fANOVA took {:.2?} on {} trials",
        started.elapsed(),
        c.trials.len()
    );
    let mut want = names(&optuna_fanova[0]);
    let mut got = names(&fanova);
    want.sort();
    got.sort();
    assert_eq!(got, want, "{scenario}: the parameters fANOVA assesses");
    let mut fanova_diff: f64 = 0.0;
    let mut spread: f64 = 0.0;
    for name in want {
        let runs: Vec<f64> = optuna_fanova.iter().map(|s| get(s, name)).collect();
        let mean = runs.iter().sum::<f64>() / runs.len() as f64;
        for r in &runs {
            spread = spread.max((r - mean).abs());
        }
        fanova_diff = fanova_diff.max((get(&fanova, name) - mean).abs());
    }
    eprintln!(
        "{scenario}: fANOVA max |optimlab - mean(optuna)| = {fanova_diff:.4} (optuna's own \
         seeds: up to {spread:.4} from their mean)\n  optimlab fANOVA {fanova:?}\n  optuna \
         fANOVA seed 0 {:?}",
        optuna_fanova[0]
    );
    assert!(
        fanova_diff < FANOVA_TOLERANCE,
        "{scenario}: fANOVA differs from Optuna's mean by {fanova_diff}\n optimlab {fanova:?}\n \
         optuna {:?}",
        optuna_fanova
    );
}

/// One parameter drives the value: both evaluators rank it first, as Optuna does.
#[test]
fn a_dominant_parameter_ranks_first_like_optuna() {
    let Some(c) = case("dominant") else { return };
    compare("dominant", &c);
    for evaluator in [Evaluator::default(), Evaluator::Fanova(Fanova::default())] {
        let ours = param_importances(&c.trials, c.direction, &evaluator);
        assert_eq!(ours[0].0, "x", "{}: {ours:?}", evaluator.name());
        assert!(ours[0].1 > 0.5, "{}: {ours:?}", evaluator.name());
    }
    assert_eq!(c.optuna_ped[0].0, "x");
    for run in c.optuna_fanova.iter().flatten() {
        assert_eq!(run[0].0, "x");
    }
}

/// Four trials: the top 10 % is one trial; PED-ANOVA still gives Optuna's shares. fANOVA on
/// four points is mostly noise, so only the parameters it assesses are compared.
#[test]
fn a_handful_of_trials_like_optuna() {
    let Some(c) = case("few") else { return };
    let ped = param_importances(&c.trials, c.direction, &Evaluator::default());
    for (name, share) in &c.optuna_ped {
        assert!(
            (get(&ped, name) - share).abs() < PED_ANOVA_TOLERANCE,
            "{ped:?} {c:?}",
            c = c.optuna_ped
        );
    }
    if let Some(runs) = &c.optuna_fanova {
        let fanova = param_importances(
            &c.trials,
            c.direction,
            &Evaluator::Fanova(Fanova::default()),
        );
        let mut got = names(&fanova);
        let mut want = names(&runs[0]);
        got.sort();
        want.sort();
        assert_eq!(got, want);
    }
}

/// Floats, log floats, stepped floats, ints, log ints, categoricals, a single-valued
/// parameter, failed and pruned trials.
#[test]
fn mixed_parameters_get_optunas_shares() {
    let Some(c) = case("mixed") else { return };
    assert!(c.trials.iter().any(|t| t.state == TrialState::Fail));
    assert!(c.trials.iter().any(|t| t.state == TrialState::Pruned));
    compare("mixed", &c);
    let ped = param_importances(&c.trials, c.direction, &Evaluator::default());
    assert_eq!(get(&ped, "fixed"), 0.0);
    // The same ranking as Optuna's.
    assert_eq!(names(&ped), names(&c.optuna_ped));
}

/// Conditional parameters: PED-ANOVA over the trials where each is active (as Optuna's
/// condPED-ANOVA), fANOVA only over the parameters every trial has.
#[test]
fn conditional_parameters_like_optuna() {
    let Some(c) = case("conditional") else { return };
    compare("conditional", &c);
    let ped = param_importances(&c.trials, c.direction, &Evaluator::default());
    assert!(names(&ped).contains(&"momentum"), "{ped:?}");
}

/// The top quantile of a maximised study is its largest values.
#[test]
fn a_maximised_study_like_optuna() {
    let Some(c) = case("maximize") else { return };
    assert_eq!(c.direction, Direction::Maximize);
    compare("maximize", &c);
}
