//! `optimlab tune`, driven through the real binary on the embedded digits data.

mod common;

use common::{assert_ok, assert_one_line_error, optimlab_in, stdout_json, temp_dir};
use serde_json::Value;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A small, fast space: two log-scale floats over a tiny network.
fn write_space(dir: &Path, epochs: u32, hidden: &str, extra: &str) -> String {
    let text = format!(
        "[params]\n\
         lr = {{ type = \"float\", low = 1e-3, high = 0.3, log = true }}\n\
         weight_decay = {{ type = \"float\", low = 1e-8, high = 1e-3, log = true }}\n\
         [train]\n\
         data = \"digits\"\n\
         hidden = [{hidden}]\n\
         epochs = {epochs}\n\
         optimizer = \"sgd\"\n\
         batch_size = 32\n\
         {extra}"
    );
    let path = dir.join("space.toml");
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// `tune CMD --study s --storage STORAGE REST…`: every test works on one study named `s`.
fn tune<'a>(cmd: &'a str, storage: &'a str, rest: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["tune", cmd, "--study", "s", "--storage", storage];
    args.extend_from_slice(rest);
    args
}

/// `tune run` of study `s` over `space` with a budget of `trials`, then `rest`.
fn run_args<'a>(
    storage: &'a str,
    space: &'a str,
    trials: &'a str,
    rest: &[&'a str],
) -> Vec<&'a str> {
    let mut args = tune("run", storage, &["--space", space, "--trials", trials]);
    args.extend_from_slice(rest);
    args
}

/// Asserts a run logged `n` trials on stderr (one `trial …` line each).
fn assert_trial_lines(out: &Output, n: usize) {
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.lines().filter(|l| l.starts_with("trial")).count(),
        n,
        "{err}"
    );
}

/// The `rep/results.json` a report wrote into `dir`.
fn read_results(dir: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(dir.join("rep/results.json")).unwrap()).unwrap()
}

/// Writes study `s`'s report into `dir/rep` and reads its results.
fn results(dir: &Path, storage: &str) -> Value {
    assert_ok(&optimlab_in(
        dir,
        &tune("report", storage, &["--out", "rep"]),
    ));
    read_results(dir)
}

fn trials_of(r: &Value) -> Vec<Value> {
    r["trials"].as_array().unwrap().clone()
}

fn count(r: &Value, state: &str) -> u64 {
    r["counts"][state].as_u64().unwrap()
}

#[test]
fn a_run_completes_its_trials_and_best_json_has_the_format() {
    let dir = temp_dir("tune-run");
    let space = write_space(&dir, 2, "16", "");
    let out = optimlab_in(
        &dir,
        &run_args(
            "sqlite:t.db",
            &space,
            "6",
            &["--sampler", "random", "--workers", "2"],
        ),
    );
    assert_ok(&out);
    assert_trial_lines(&out, 6);
    let best = stdout_json(&optimlab_in(
        &dir,
        &tune("best", "sqlite:t.db", &["--json"]),
    ));
    let obj = best.as_object().unwrap();
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort();
    assert_eq!(keys, ["number", "params", "value"]);
    let params = best["params"].as_object().unwrap();
    assert_eq!(params.len(), 2);
    let lr = params["lr"].as_f64().unwrap();
    assert!((1e-3..=0.3).contains(&lr));
    let r = results(&dir, "sqlite:t.db");
    assert_eq!(count(&r, "COMPLETE"), 6);
    // The best is the largest validation accuracy of the complete trials.
    let max = trials_of(&r)
        .iter()
        .filter_map(|t| t["value"].as_f64())
        .fold(f64::MIN, f64::max);
    assert_eq!(best["value"].as_f64().unwrap(), max);
    // Curves are kept per epoch for the report.
    assert_eq!(
        trials_of(&r)[0]["curves"]["val_acc"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // --retrain trains the best settings on the whole training set and tests once; with
    // --json the test accuracy and the saved model's folder are in the JSON.
    let out = optimlab_in(&dir, &tune("best", "sqlite:t.db", &["--json", "--retrain"]));
    let retrained = stdout_json(&out);
    assert_eq!(retrained["number"], best["number"]);
    let acc = retrained["retrain"]["test_acc"].as_f64().unwrap();
    assert!(acc > 0.1 && acc <= 1.0, "{acc}");
    let model_dir = retrained["retrain"]["model_dir"].as_str().unwrap();
    assert!(
        dir.join(model_dir).join("model.safetensors").is_file(),
        "{retrained}"
    );
    // The saved model is a training run: `eval` measures the same test accuracy.
    let eval = optimlab_in(&dir, &["eval", "--model", model_dir]);
    assert_ok(&eval);
    let text = String::from_utf8_lossy(&eval.stdout);
    assert!(text.contains(&format!("{acc:.4}")), "{text} vs {acc}");
}

#[test]
fn rerunning_resumes_up_to_the_budget_without_redoing_trials() {
    let dir = temp_dir("tune-resume");
    let space = write_space(&dir, 2, "16", "");
    let run = |n: &str| {
        optimlab_in(
            &dir,
            &run_args("sqlite:t.db", &space, n, &["--sampler", "random"]),
        )
    };
    assert_ok(&run("3"));
    let first = trials_of(&results(&dir, "sqlite:t.db"));
    let out = run("5");
    assert_ok(&out);
    assert_trial_lines(&out, 2);
    let second = trials_of(&results(&dir, "sqlite:t.db"));
    assert_eq!(second.len(), 5);
    for (a, b) in first.iter().zip(&second) {
        assert_eq!(a["params"], b["params"]);
        assert_eq!(a["value"], b["value"]);
    }
    // At the budget: nothing more to do.
    let out = run("5");
    assert_ok(&out);
    assert_eq!(trials_of(&results(&dir, "sqlite:t.db")).len(), 5);
}

#[test]
fn the_same_seed_gives_the_same_trials() {
    let dir = temp_dir("tune-seed");
    let space = write_space(&dir, 2, "16", "");
    let run = |db: &str, seed: &str| {
        let storage = format!("sqlite:{db}");
        assert_ok(&optimlab_in(
            &dir,
            &run_args(
                &storage,
                &space,
                "4",
                &["--sampler", "random", "--seed", seed, "--quiet"],
            ),
        ));
        trials_of(&results(&dir, &storage))
            .iter()
            .map(|t| (t["params"].clone(), t["value"].clone()))
            .collect::<Vec<_>>()
    };
    let a = run("a.db", "7");
    let b = run("b.db", "7");
    let c = run("c.db", "8");
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn a_killed_worker_s_trial_fails_and_is_rerun_by_another_worker() {
    let dir = temp_dir("tune-kill");
    // Trials slow enough (a second or more) to be killed in the middle of one.
    let space = write_space(&dir, 40, "256, 256", "");
    let storage = "sqlite:t.db";
    let bin = env!("CARGO_BIN_EXE_optimlab");
    let mut victim = Command::new(bin)
        .current_dir(&dir)
        .args(run_args(
            storage,
            &space,
            "2",
            &[
                "--sampler",
                "random",
                "--lease",
                "2",
                "--heartbeat",
                "0.5",
                "--quiet",
            ],
        ))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until it holds a running trial.
    let started = Instant::now();
    loop {
        let out = optimlab_in(&dir, &tune("status", storage, &[]));
        if String::from_utf8_lossy(&out.stdout).contains("running: trial 0") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no trial started"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // SIGKILL: no chance to clean up.
    victim.kill().unwrap();
    victim.wait().unwrap();
    std::thread::sleep(Duration::from_millis(2500));
    let out = optimlab_in(
        &dir,
        &tune("worker", storage, &["--lease", "2", "--heartbeat", "0.5"]),
    );
    assert_ok(&out);
    let r = results(&dir, storage);
    let trials = trials_of(&r);
    let t0 = &trials[0];
    assert_eq!(t0["state"], "FAIL", "{t0}");
    // Its parameters were re-queued and completed by the second worker, once.
    let retries: Vec<&Value> = trials
        .iter()
        .filter(|t| t["params"] == t0["params"] && t["number"] != 0)
        .collect();
    assert_eq!(retries.len(), 1, "{trials:?}");
    assert_eq!(retries[0]["state"], "COMPLETE");
    // The budget counts the retry, not the failed trial: two complete trials in all.
    assert_eq!(count(&r, "COMPLETE"), 2);
    assert_eq!(count(&r, "RUNNING"), 0);
}

#[test]
fn four_workers_on_sqlite_finish_200_short_trials() {
    let dir = temp_dir("tune-many");
    let space = write_space(&dir, 1, "4", "train_limit = 100\n");
    let storage = "sqlite:t.db";
    let bin = env!("CARGO_BIN_EXE_optimlab");
    let spawn = |args: &[&str]| {
        Command::new(bin)
            .current_dir(&dir)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let first = spawn(&run_args(
        storage,
        &space,
        "200",
        &["--sampler", "random", "--quiet"],
    ));
    let started = Instant::now();
    while !optimlab_in(&dir, &tune("status", storage, &[]))
        .status
        .success()
    {
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the study never appeared"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let others: Vec<_> = (0..3)
        .map(|_| spawn(&tune("worker", storage, &["--quiet"])))
        .collect();
    for child in std::iter::once(first).chain(others) {
        let out = child.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{err}");
        assert!(!err.contains("locked"), "{err}");
    }
    let r = results(&dir, storage);
    assert_eq!(count(&r, "COMPLETE"), 200);
    let numbers: Vec<u64> = trials_of(&r)
        .iter()
        .map(|t| t["number"].as_u64().unwrap())
        .collect();
    assert_eq!(numbers, (0..200).collect::<Vec<_>>());
}

#[test]
fn bad_input_is_one_line_and_loses_nothing() {
    let dir = temp_dir("tune-bad");
    let space = write_space(&dir, 1, "8", "");
    let run = |space: &str, extra: &[&str]| {
        let mut args = tune("run", "sqlite:t.db", &["--space", space, "--quiet"]);
        args.extend_from_slice(extra);
        optimlab_in(&dir, &args)
    };
    assert_ok(&run(&space, &["--trials", "2"]));

    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        "[params]\nlr = { type = \"float\", low = 1e-3, high = 0.3, log = true }\n\
         momentum = { type = \"float\", low = 0.99, high = 0.5 }\n",
    )
    .unwrap();
    let out = run(bad.to_str().unwrap(), &["--trials", "2"]);
    assert_one_line_error(&out, "line 3");
    assert_one_line_error(&out, "momentum");

    let unknown_key = dir.join("unknown.toml");
    std::fs::write(
        &unknown_key,
        "[params]\nlearning_rate = { type = \"float\", low = 1e-3, high = 0.3 }\n[train]\ndata = \"digits\"\n",
    )
    .unwrap();
    assert_one_line_error(
        &run(unknown_key.to_str().unwrap(), &["--trials", "2"]),
        "learning_rate",
    );

    assert_one_line_error(
        &run(&space, &["--trials", "2", "--sampler", "nope"]),
        "nope",
    );
    assert_one_line_error(&run(&space, &["--trials", "2", "--pruner", "nope"]), "nope");
    let out = optimlab_in(
        &dir,
        &run_args("sqlite:/no/such/dir/t.db", &space, "2", &[]),
    );
    assert_one_line_error(&out, "/no/such/dir/t.db");
    let out = optimlab_in(&dir, &tune("status", "bogus://x", &[]));
    assert_one_line_error(&out, "bogus://x");

    // The same study name with another space is refused, and its trials are untouched.
    let other = write_space(&dir, 1, "8", "");
    std::fs::write(
        &other,
        std::fs::read_to_string(&other)
            .unwrap()
            .replace("high = 1e-3", "high = 1e-2"),
    )
    .unwrap();
    let before = results(&dir, "sqlite:t.db");
    let out = run(&other, &["--trials", "4"]);
    assert_one_line_error(&out, "weight_decay");
    assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
    let after = results(&dir, "sqlite:t.db");
    assert_eq!(before["trials"], after["trials"]);
    assert_eq!(count(&after, "COMPLETE"), 2);
}

#[test]
fn a_diverged_trial_fails_and_the_study_goes_on() {
    let dir = temp_dir("tune-diverge");
    // Half the choices blow the loss up at once.
    let space = dir.join("space.toml");
    std::fs::write(
        &space,
        "[params]\nlr = { type = \"categorical\", choices = [0.05, 1e30] }\n\
         [train]\ndata = \"digits\"\nhidden = [16]\nepochs = 2\noptimizer = \"sgd\"\n",
    )
    .unwrap();
    let out = optimlab_in(
        &dir,
        &run_args(
            "sqlite:t.db",
            space.to_str().unwrap(),
            "8",
            &["--sampler", "random"],
        ),
    );
    assert_ok(&out);
    let r = results(&dir, "sqlite:t.db");
    assert_eq!(count(&r, "FAIL") + count(&r, "COMPLETE"), 8);
    assert!(
        count(&r, "FAIL") >= 1 && count(&r, "COMPLETE") >= 1,
        "{}",
        r["counts"]
    );
    for t in trials_of(&r) {
        let big = t["params"]["lr"].as_f64().unwrap() > 1.0;
        assert_eq!(t["state"], if big { "FAIL" } else { "COMPLETE" }, "{t}");
        if big {
            assert!(
                t["fail_reason"].as_str().unwrap().contains("diverged"),
                "{t}"
            );
        }
    }
}

#[test]
fn the_pruner_stops_trials_and_keeps_their_last_value() {
    let dir = temp_dir("tune-prune");
    let space = write_space(&dir, 4, "16", "");
    let out = optimlab_in(
        &dir,
        &run_args(
            "sqlite:t.db",
            &space,
            "10",
            &["--sampler", "random", "--pruner", "threshold:lower=0.6"],
        ),
    );
    assert_ok(&out);
    let r = results(&dir, "sqlite:t.db");
    assert!(count(&r, "PRUNED") >= 1, "{}", r["counts"]);
    for t in trials_of(&r) {
        let steps = t["intermediate"].as_array().unwrap();
        let last = steps.last().unwrap()[1].as_f64().unwrap();
        if t["state"] == "PRUNED" {
            assert!(last < 0.6, "{t}");
            assert_eq!(t["value"].as_f64().unwrap(), last);
            assert!(steps.len() < 4 || last < 0.6);
        } else {
            assert_eq!(steps.len(), 4, "{t}");
        }
    }
}

#[test]
fn export_and_import_copy_every_trial_between_storages() {
    let dir = temp_dir("tune-copy");
    let space = write_space(&dir, 2, "16", "");
    assert_ok(&optimlab_in(
        &dir,
        &run_args(
            "sqlite:a.db",
            &space,
            "4",
            &[
                "--sampler",
                "random",
                "--pruner",
                "threshold:lower=0.5",
                "--quiet",
            ],
        ),
    ));
    let copy = |cmd: &str, from: &str, to: &str| {
        optimlab_in(
            &dir,
            &["tune", cmd, "--study", "s", "--from", from, "--to", to],
        )
    };
    assert_ok(&copy("export", "sqlite:a.db", "journal:s.jsonl"));
    assert_ok(&copy("import", "journal:s.jsonl", "sqlite:b.db"));
    let a = results(&dir, "sqlite:a.db");
    let b = results(&dir, "sqlite:b.db");
    assert_eq!(a["trials"], b["trials"]);
    assert_eq!(a["settings"], b["settings"]);
    // A copy never merges into an existing study.
    let out = copy("export", "sqlite:a.db", "sqlite:b.db");
    assert_one_line_error(&out, "exists there already");
    assert_eq!(results(&dir, "sqlite:b.db")["trials"], a["trials"]);
}

#[test]
fn book_search_prints_the_best_like_the_book_and_writes_a_report() {
    let dir = temp_dir("tune-book");
    let out = optimlab_in(
        &dir,
        &[
            "experiment",
            "search",
            "--data",
            "digits",
            "--train-limit",
            "300",
            "--epochs",
            "3",
            "--trials",
            "6",
            "--top",
            "4",
            "--out",
            "rep",
            "--quiet",
        ],
    );
    assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    let best: Vec<&str> = text.lines().filter(|l| l.starts_with("Best-")).collect();
    assert_eq!(best.len(), 4, "{text}");
    assert!(best[0].starts_with("Best-1(val acc:"), "{text}");
    assert!(
        best[0].contains(") | lr:") && best[0].contains(", weight decay:"),
        "{text}"
    );
    let r = read_results(&dir);
    assert_eq!(count(&r, "COMPLETE"), 6);
    // The printed best is the study's best.
    let v = r["best"]["value"].as_f64().unwrap();
    assert!(
        best[0].contains(&format!("val acc:{v}")),
        "{} vs {v}",
        best[0]
    );
    for t in trials_of(&r) {
        let lr = t["params"]["lr"].as_f64().unwrap();
        let wd = t["params"]["weight_decay"].as_f64().unwrap();
        assert!((1e-6..=1e-2).contains(&lr) && (1e-8..=1e-4).contains(&wd));
    }
    assert!(dir.join("rep/curves.png").is_file() && dir.join("rep/index.html").is_file());
}

// ---------------------------------------------------------------------------------------
// Workers that die, stop or are told to stop, on every shared storage; journals Optuna reads.

/// `tune CMD --study STUDY --storage STORAGE REST…`.
fn tune_study<'a>(
    cmd: &'a str,
    storage: &'a str,
    study: &'a str,
    rest: &[&'a str],
) -> Vec<&'a str> {
    let mut args = vec!["tune", cmd, "--study", study, "--storage", storage];
    args.extend_from_slice(rest);
    args
}

/// Short leases so that a dead worker's trial is noticed within seconds, yet longer than the
/// other workers take for the rest of the budget: they must wait for it, not just find it
/// expired on their next claim.
const SHORT_LEASE: &[&str] = &["--lease", "5", "--heartbeat", "0.5"];

fn spawn_in(dir: &Path, args: &[&str]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_optimlab"))
        .current_dir(dir)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

fn signal(child: &std::process::Child, sig: &str) {
    let ok = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap()
        .success();
    assert!(ok, "kill {sig}");
}

/// Polls `tune status` until a line satisfies `pred` (a study that does not exist yet is
/// polled again).
fn wait_status(dir: &Path, storage: &str, study: &str, what: &str, pred: impl Fn(&str) -> bool) {
    let started = Instant::now();
    loop {
        let out = optimlab_in(dir, &tune_study("status", storage, study, &[]));
        if String::from_utf8_lossy(&out.stdout).lines().any(&pred) {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(180),
            "timed out waiting for {what}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The study's report (results.json) for any storage and study name.
fn results_of(dir: &Path, storage: &str, study: &str) -> Value {
    let out_dir = format!("rep-{study}");
    assert_ok(&optimlab_in(
        dir,
        &tune_study("report", storage, study, &["--out", &out_dir]),
    ));
    serde_json::from_str(&std::fs::read_to_string(dir.join(out_dir).join("results.json")).unwrap())
        .unwrap()
}

/// Every trial final, `budget` complete, and each failed trial's parameters re-run.
fn assert_budget_finished(r: &Value, budget: u64) {
    assert_eq!(count(r, "RUNNING"), 0, "{r}");
    assert_eq!(count(r, "WAITING"), 0, "{r}");
    assert_eq!(count(r, "COMPLETE"), budget, "{r}");
}

/// The PostgreSQL server of the tests, or `None` (and a clear "skipped").
fn postgres_url(test: &str) -> Option<String> {
    match std::env::var("OPTIMLAB_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            println!(
                "skipped {test} on PostgreSQL: OPTIMLAB_TEST_POSTGRES not set (run under scripts/with_postgres.sh)"
            );
            None
        }
    }
}

/// A study name no other test run uses (PostgreSQL tests share one database).
fn unique_study(base: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{base}-{}-{nanos}", std::process::id())
}

/// Three worker processes share a budget of 5; one is SIGKILLed in the middle of a trial.
/// The two others finish the budget: the dead trial's lease runs out, it is failed and its
/// parameters are run again, and they leave only once every trial is final.
fn a_killed_worker_s_trial_is_finished_by_the_others(storage: &str, study: &str) -> Value {
    let dir = temp_dir(&format!("tune-sigkill-{}", &study[..4]));
    let space = write_space(&dir, 40, "256, 256", "");
    let mut run = tune_study("run", storage, study, &["--space", &space, "--trials", "5"]);
    run.extend_from_slice(&["--sampler", "random"]);
    run.extend_from_slice(SHORT_LEASE);
    let victim = spawn_in(&dir, &run);
    let tag = format!("-{}-", victim.id());
    wait_status(&dir, storage, study, "a trial on the first worker", |l| {
        l.starts_with("running:") && l.contains(&tag)
    });
    let mut worker = tune_study("worker", storage, study, &[]);
    worker.extend_from_slice(SHORT_LEASE);
    let others: Vec<_> = (0..2).map(|_| spawn_in(&dir, &worker)).collect();
    // Mid-trial: the victim's trial has 40 epochs of a 256-256 network to go.
    let mut victim = victim;
    victim.kill().unwrap();
    victim.wait().unwrap();
    let killed_at = Instant::now();
    for child in others {
        let out = child.wait_with_output().unwrap();
        assert_ok(&out);
    }
    // Not asserted (no timing assertions): shown with --nocapture for the notes.
    eprintln!(
        "{storage}: the other workers finished {:.1} s after the SIGKILL (lease 5 s)",
        killed_at.elapsed().as_secs_f64()
    );
    let r = results_of(&dir, storage, study);
    assert_budget_finished(&r, 5);
    let failed: Vec<&Value> = r["trials"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["state"] == "FAIL")
        .collect();
    assert!(
        !failed.is_empty(),
        "the killed trial should have failed: {r}"
    );
    for f in failed {
        let reruns = r["trials"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["params"] == f["params"] && t["state"] == "COMPLETE")
            .count();
        assert_eq!(reruns, 1, "{f} was not run again: {r}");
    }
    let out = optimlab_in(&dir, &tune_study("status", storage, study, &[]));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains(": 5 trials of 5 (+"), "{text}");
    r
}

/// A worker stopped (SIGSTOP) past its lease: another worker fails its trial and runs the
/// parameters again; when the stopped worker resumes (SIGCONT), its late result is refused
/// (the trial stays failed) and it leaves once the budget is finished.
fn a_stopped_worker_s_late_result_is_refused(storage: &str, study: &str) {
    let dir = temp_dir(&format!("tune-sigstop-{}", &study[..4]));
    let space = write_space(&dir, 30, "256, 256", "");
    let mut run = tune_study("run", storage, study, &["--space", &space, "--trials", "3"]);
    run.extend_from_slice(&["--sampler", "random"]);
    run.extend_from_slice(SHORT_LEASE);
    let stopped = spawn_in(&dir, &run);
    let tag = format!("-{}-", stopped.id());
    wait_status(&dir, storage, study, "trial 0 on the first worker", |l| {
        l.starts_with("running: trial 0 ") && l.contains(&tag)
    });
    signal(&stopped, "-STOP");
    let mut worker = tune_study("worker", storage, study, &[]);
    worker.extend_from_slice(SHORT_LEASE);
    // The other worker cannot leave before trial 0's lease runs out and its retry is run.
    let out = optimlab_in(&dir, &worker);
    assert_ok(&out);
    let r = results_of(&dir, storage, study);
    assert_budget_finished(&r, 3);
    assert_eq!(r["trials"][0]["state"], "FAIL", "{r}");
    signal(&stopped, "-CONT");
    let out = stopped.wait_with_output().unwrap();
    assert_ok(&out);
    let err = String::from_utf8_lossy(&out.stderr);
    // Its trial's result was dropped: the lease was lost, nothing it wrote late counted.
    assert!(
        err.lines().any(|l| l.starts_with("trial    0 LOST")),
        "{err}"
    );
    let after = results_of(&dir, storage, study);
    assert_eq!(after["trials"], r["trials"]);
    // Trial 0 failed, was re-queued, and its retry counted for the budget.
    let retry = after["trials"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["number"] != 0 && t["params"] == after["trials"][0]["params"])
        .cloned();
    assert_eq!(retry.map(|t| t["state"].clone()), Some("COMPLETE".into()));
}

#[test]
fn sigkill_on_sqlite_the_others_finish_the_budget() {
    a_killed_worker_s_trial_is_finished_by_the_others("sqlite:t.db", "kill");
}

#[test]
fn sigkill_on_the_journal_the_others_finish_the_budget_and_optuna_reads_it() {
    let r = a_killed_worker_s_trial_is_finished_by_the_others("journal:t.jsonl", "kjou");
    // The retry path wrote it (a reaped trial re-queued and re-run): Optuna reads the same.
    let dir = std::env::temp_dir().join(format!(
        "optimlab-cli-tune-sigkill-kjou-{}",
        std::process::id()
    ));
    assert_optuna_reads(&dir.join("t.jsonl"), "kjou", &r);
}

#[test]
fn sigkill_on_postgres_the_others_finish_the_budget() {
    if let Some(url) = postgres_url("sigkill") {
        a_killed_worker_s_trial_is_finished_by_the_others(&url, &unique_study("kpos"));
    }
}

#[test]
fn sigstop_on_sqlite_fencing_refuses_the_late_result() {
    a_stopped_worker_s_late_result_is_refused("sqlite:t.db", "stop");
}

#[test]
fn sigstop_on_the_journal_fencing_refuses_the_late_result() {
    a_stopped_worker_s_late_result_is_refused("journal:t.jsonl", "sjou");
}

#[test]
fn sigstop_on_postgres_fencing_refuses_the_late_result() {
    if let Some(url) = postgres_url("sigstop") {
        a_stopped_worker_s_late_result_is_refused(&url, &unique_study("spos"));
    }
}

/// A study whose only worker died is finished by the next `tune run`: it waits for the
/// dead trial's lease, fails it and runs its parameters again.
#[test]
fn a_study_whose_workers_all_died_is_finished_by_the_next_run() {
    let dir = temp_dir("tune-all-died");
    let space = write_space(&dir, 40, "256, 256", "");
    let storage = "sqlite:t.db";
    let mut run = run_args(storage, &space, "2", &["--sampler", "random"]);
    run.extend_from_slice(SHORT_LEASE);
    let mut victim = spawn_in(&dir, &run);
    wait_status(&dir, storage, "s", "a running trial", |l| {
        l.starts_with("running: trial 0")
    });
    victim.kill().unwrap();
    victim.wait().unwrap();
    // At once, while the dead trial's lease still runs: the new run waits for it.
    let started = Instant::now();
    let out = optimlab_in(&dir, &run);
    assert_ok(&out);
    eprintln!(
        "the next run finished the dead worker's study in {:.1} s (lease 5 s, heartbeat 0.5 s)",
        started.elapsed().as_secs_f64()
    );
    // It said what it waited for.
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("waiting for 1 trial running elsewhere; next lease expiry in"),
        "{err}"
    );
    let r = results(&dir, storage);
    assert_budget_finished(&r, 2);
    assert_eq!(trials_of(&r)[0]["state"], "FAIL");
}

/// SIGINT/SIGTERM during `tune run`: the running trial fails and is re-queued, its lease is
/// released (nobody has to wait for it), the resume command is printed and the exit status is
/// 128 + the signal.
fn a_signal_gives_the_trial_back(
    storage: &str,
    sig: &str,
    code: i32,
) -> (std::path::PathBuf, Value) {
    let dir = temp_dir(&format!("tune-signal{code}"));
    let space = write_space(&dir, 40, "256, 256", "");
    let child = spawn_in(
        &dir,
        &run_args(storage, &space, "3", &["--sampler", "random"]),
    );
    wait_status(&dir, storage, "s", "a running trial", |l| {
        l.starts_with("running: trial 0")
    });
    signal(&child, sig);
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{err}");
    assert!(
        err.contains(&format!(
            "continue with: optimlab tune worker --study s --storage {storage}"
        )),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    let r = results(&dir, storage);
    assert_eq!(count(&r, "RUNNING"), 0, "{r}");
    assert_eq!(trials_of(&r)[0]["state"], "FAIL", "{r}");
    assert_eq!(
        count(&r, "WAITING"),
        1,
        "the trial's parameters are re-queued: {r}"
    );
    // The retry runs first, with the interrupted trial's parameters.
    let out = optimlab_in(&dir, &tune("worker", storage, &["--quiet"]));
    assert_ok(&out);
    let r = results(&dir, storage);
    assert_budget_finished(&r, 3);
    let t = trials_of(&r);
    assert_eq!(t[1]["params"], t[0]["params"]);
    assert_eq!(t[1]["state"], "COMPLETE");
    (dir, r)
}

#[test]
fn sigint_gives_the_trial_back_and_prints_how_to_resume() {
    let (dir, r) = a_signal_gives_the_trial_back("journal:t.jsonl", "-INT", 130);
    assert_optuna_reads(&dir.join("t.jsonl"), "s", &r);
    assert_lines_are_optunas(&dir, &["t.jsonl"]);
}

#[test]
fn sigterm_on_sqlite_gives_the_trial_back_too() {
    a_signal_gives_the_trial_back("sqlite:t.db", "-TERM", 143);
}

const OPTUNA_DUMP: &str = r#"
import json, math, sys
import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
optuna.logging.set_verbosity(optuna.logging.ERROR)
study = optuna.load_study(study_name=sys.argv[2], storage=JournalStorage(JournalFileBackend(sys.argv[1])))
f = lambda v: v if v is not None and math.isfinite(v) else None
print(json.dumps([{"number": t.number, "state": t.state.name, "value": f(t.value), "params": t.params,
    "intermediate": [[s, f(v)] for s, v in sorted(t.intermediate_values.items())]}
    for t in study.get_trials(deepcopy=False)]))
"#;

/// Whether Python's Optuna can be imported (a test without it says it skipped).
fn optuna_available() -> bool {
    let ok = Command::new("python3")
        .args(["-c", "import optuna"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        println!("skipped the Optuna check: python3 cannot import optuna (pip install optuna)");
    }
    ok
}

/// Optuna 5 loads the journal and sees the trials optimlab reports: numbers, states,
/// values, parameters and intermediate values.
fn assert_optuna_reads(journal: &Path, study: &str, results: &Value) {
    if !optuna_available() {
        return;
    }
    let out = Command::new("python3")
        .args(["-c", OPTUNA_DUMP])
        .arg(journal)
        .arg(study)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "Optuna cannot load {}: {}",
        journal.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    let seen: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    let ours: Vec<Value> = trials_of(results)
        .iter()
        .map(|t| {
            serde_json::json!({"number": t["number"], "state": t["state"], "value": t["value"],
                "params": t["params"], "intermediate": t["intermediate"]})
        })
        .collect();
    assert_eq!(seen, ours);
}

/// Optuna 5 writes a journal through every operation optimlab uses (study and trial
/// attributes, enqueued and added trials: create-trial with a template, parameters,
/// intermediate values, state changes); prints each line's op code and keys.
const OPTUNA_SHAPES: &str = r#"
import json, sys
import optuna
from optuna.distributions import FloatDistribution
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState, create_trial
optuna.logging.set_verbosity(optuna.logging.ERROR)
path = sys.argv[1]
storage = JournalStorage(JournalFileBackend(path))
study = optuna.create_study(study_name="o", storage=storage, direction="maximize")
study.set_user_attr("u", 1)
storage.set_study_system_attr(study._study_id, "k", {"a": 1})
study.enqueue_trial({"x": 0.5})
def objective(t):
    x = t.suggest_float("x", 0, 1)
    t.report(x, 0)
    t.set_user_attr("a", 1)
    storage.set_trial_system_attr(t._trial_id, "b", 2)
    if t.number == 2:
        raise optuna.TrialPruned()
    return x
study.optimize(objective, n_trials=3)
d = {"x": FloatDistribution(0, 1)}
study.add_trial(create_trial(params={"x": 0.1}, distributions=d, value=0.1,
    intermediate_values={0: 0.2}, user_attrs={"a": 1}, system_attrs={"b": 2}))
study.add_trial(create_trial(state=TrialState.FAIL, params={"x": 0.2}, distributions=d))
study.add_trial(create_trial(state=TrialState.WAITING, params={"x": 0.3}, distributions=d))
shapes = sorted({json.dumps([l["op_code"], sorted(l)]) for l in map(json.loads, open(path))})
print(json.dumps([json.loads(s) for s in shapes]))
"#;

/// Asserts every line of the journals has an op code and keys Optuna writes too, and no
/// create-trial carries both `value` and `values` (Optuna refuses such a file).
fn assert_lines_are_optunas(dir: &Path, journals: &[&str]) {
    if !optuna_available() {
        return;
    }
    let reference = dir.join("optuna-shapes.jsonl");
    let _ = std::fs::remove_file(&reference);
    let out = Command::new("python3")
        .args(["-c", OPTUNA_SHAPES])
        .arg(&reference)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let shapes: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    for journal in journals {
        let text = std::fs::read_to_string(dir.join(journal)).unwrap();
        for line in text.lines() {
            // Python's non-finite literals are not JSON: only the keys matter here.
            let v: Value = serde_json::from_str(
                &line
                    .replace("-Infinity", "null")
                    .replace("Infinity", "null")
                    .replace("NaN", "null"),
            )
            .unwrap();
            let mut keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
            keys.sort();
            let shape = serde_json::json!([v["op_code"], keys]);
            assert!(
                shapes.contains(&shape),
                "{journal}: Optuna never writes a line of this shape: {line}\nOptuna's: {shapes:?}"
            );
            assert!(
                v["value"].is_null() || v["values"].is_null(),
                "{journal}: both value and values: {line}"
            );
        }
    }
}

/// Every path that writes a journal gives one Optuna loads: run, worker, export (from SQLite)
/// and import (into a journal), a torn last line cut off before the next append; and the
/// read-only commands create no file on a mistyped path.
#[test]
fn optuna_loads_every_journal_optimlab_writes() {
    let dir = temp_dir("tune-optuna-paths");
    let space = write_space(&dir, 2, "16", "");
    // run, with the metric spelled as in the docs.
    assert_ok(&optimlab_in(
        &dir,
        &run_args(
            "journal:run.jsonl",
            &space,
            "3",
            &["--sampler", "random", "--metric", "val_acc", "--quiet"],
        ),
    ));
    // worker: the budget raised by a second run, then a worker of the study.
    assert_ok(&optimlab_in(
        &dir,
        &run_args(
            "journal:run.jsonl",
            &space,
            "3",
            &["--sampler", "random", "--metric", "val-acc", "--quiet"],
        ),
    ));
    let r = results(&dir, "journal:run.jsonl");
    assert_eq!(count(&r, "COMPLETE"), 3);
    assert_optuna_reads(&dir.join("run.jsonl"), "s", &r);

    // export from SQLite (with a pruner, so PRUNED trials and their values are copied).
    assert_ok(&optimlab_in(
        &dir,
        &run_args(
            "sqlite:a.db",
            &space,
            "4",
            &[
                "--sampler",
                "random",
                "--pruner",
                "threshold:lower=0.6",
                "--quiet",
            ],
        ),
    ));
    let copy = |cmd: &str, from: &str, to: &str| {
        optimlab_in(
            &dir,
            &["tune", cmd, "--study", "s", "--from", from, "--to", to],
        )
    };
    assert_ok(&copy("export", "sqlite:a.db", "journal:export.jsonl"));
    let a = results(&dir, "sqlite:a.db");
    assert_optuna_reads(&dir.join("export.jsonl"), "s", &a);
    // import into a journal (from the journal the run wrote).
    assert_ok(&copy("import", "journal:run.jsonl", "journal:import.jsonl"));
    assert_optuna_reads(&dir.join("import.jsonl"), "s", &r);

    // Torn tail: a writer died mid-line. The next append cuts it off under the lock.
    let torn = dir.join("run.jsonl");
    let mut text = std::fs::read(&torn).unwrap();
    text.extend_from_slice(br#"{"op_code": 6, "worker_id": "dead", "trial_id": 0, "sta"#);
    std::fs::write(&torn, &text).unwrap();
    assert_ok(&optimlab_in(
        &dir,
        &run_args(
            "journal:run.jsonl",
            &space,
            "4",
            &["--sampler", "random", "--quiet"],
        ),
    ));
    let after = std::fs::read_to_string(&torn).unwrap();
    assert!(
        !after.contains("\"dead\""),
        "the torn fragment is still there"
    );
    assert!(after.ends_with('\n'));
    let r = results(&dir, "journal:run.jsonl");
    assert_eq!(count(&r, "COMPLETE"), 4);
    assert_optuna_reads(&torn, "s", &r);

    // Line by line, what optimlab wrote is what Optuna writes.
    assert_lines_are_optunas(&dir, &["run.jsonl", "export.jsonl", "import.jsonl"]);

    // Read-only commands on a mistyped path: one line, and no file appears.
    for (cmd, extra) in [
        ("status", vec![]),
        ("best", vec![]),
        ("report", vec!["--out", "rep-x"]),
    ] {
        for url in ["sqlite:typo.db", "journal:typo.jsonl"] {
            let out = optimlab_in(&dir, &tune(cmd, url, &extra));
            assert_one_line_error(&out, url);
            assert_eq!(String::from_utf8_lossy(&out.stderr).lines().count(), 1);
        }
    }
    assert!(!dir.join("typo.db").exists() && !dir.join("typo.jsonl").exists());
    assert!(!dir.join("rep-x").exists());
}

/// Values the train settings refuse are refused when the space is loaded, before anything
/// is stored; a combination only a trial reaches fails that trial, and the study goes on.
#[test]
fn searched_values_are_checked_against_the_settings_limits() {
    let dir = temp_dir("tune-limits");
    let write = |name: &str, params: &str| {
        let path = dir.join(name);
        std::fs::write(
            &path,
            format!("[params]\n{params}\n[train]\ndata = \"digits\"\nhidden = [16]\nepochs = 1\n"),
        )
        .unwrap();
        path.to_str().unwrap().to_string()
    };
    let cases = [
        (
            "dropout.toml",
            "dropout = { type = \"float\", low = 0.0, high = 1.5 }",
            "dropout",
        ),
        (
            "hidden.toml",
            "hidden = { type = \"categorical\", choices = [\"16\", \"200000,200000\"] }",
            "bytes",
        ),
        (
            "together.toml",
            "hidden = { type = \"categorical\", choices = [\"16\", \"20000,20000\"] }\n\
             batch_size = { type = \"int\", low = 16, high = 200000 }",
            "together",
        ),
    ];
    for (file, params, needle) in cases {
        let space = write(file, params);
        let out = optimlab_in(&dir, &run_args("sqlite:t.db", &space, "2", &["--quiet"]));
        assert_one_line_error(&out, needle);
        assert!(!dir.join("t.db").exists(), "{file}: nothing is stored");
    }
    // Only reachable with the condition's parent set: fails the trial, never the process.
    let space = write(
        "conditional.toml",
        "optimizer = { type = \"categorical\", choices = [\"sgd\", \"adam\"] }\n\
         hidden = { type = \"categorical\", choices = [\"20000,20000\"], when = { optimizer = [\"sgd\"] } }\n\
         batch_size = { type = \"categorical\", choices = [65536] }",
    );
    let out = optimlab_in(
        &dir,
        &run_args(
            "sqlite:c.db",
            &space,
            "2",
            &["--sampler", "grid", "--quiet"],
        ),
    );
    assert_ok(&out);
    let r = results(&dir, "sqlite:c.db");
    assert_eq!(count(&r, "RUNNING"), 0, "{r}");
    assert_eq!(count(&r, "FAIL"), 1, "{r}");
    let failed = trials_of(&r)
        .into_iter()
        .find(|t| t["state"] == "FAIL")
        .unwrap();
    assert_eq!(failed["params"]["optimizer"], "sgd");
    let why = failed["fail_reason"].as_str().unwrap_or("");
    assert!(why.contains("bytes"), "{failed}");
}
