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
    // --json the JSON stays alone on stdout and the test accuracy goes to stderr.
    let out = optimlab_in(&dir, &tune("best", "sqlite:t.db", &["--json", "--retrain"]));
    assert_ok(&out);
    assert_eq!(stdout_json(&out)["number"], best["number"]);
    let err = String::from_utf8_lossy(&out.stderr);
    let acc: f64 = err
        .split("test acc ")
        .nth(1)
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("no test accuracy in {err:?}"));
    assert!(acc > 0.1 && acc <= 1.0, "{acc}");
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
