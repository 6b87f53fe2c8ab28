//! Drives the real `optimlab` binary: training runs, resume, model commands.

mod common;
use common::*;

#[test]
fn train_on_embedded_digits_reaches_95_percent() {
    let dir = temp_dir("digits");
    let out = optimlab_in(&dir, &["train", "--quiet"]);
    assert_ok(&out);
    let text = String::from_utf8_lossy(&out.stdout);
    let acc: f64 = text
        .split("test acc ")
        .nth(1)
        .and_then(|s| s.split_whitespace().next())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("no test accuracy in {text:?}"));
    assert!(acc >= 0.95, "test accuracy {acc}");
    // The default run folder holds the documented files.
    let run = dir.join("runs/digits-adam");
    for f in [
        "config.toml",
        "history.jsonl",
        "summary.json",
        "model.safetensors",
    ] {
        assert!(run.join(f).is_file(), "{f} missing");
    }
}

#[test]
fn run_folder_history_and_summary_follow_the_documented_format() {
    let dir = temp_dir("history");
    let out = optimlab_in(
        &dir,
        &[
            "train",
            "--epochs",
            "2",
            "--val-fraction",
            "0.1",
            "--batch-size",
            "100",
            "--out",
            "r",
            "--quiet",
        ],
    );
    assert_ok(&out);
    let history = std::fs::read_to_string(dir.join("r/history.jsonl")).unwrap();
    let lines: Vec<serde_json::Value> = history
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let iters: Vec<_> = lines.iter().filter(|v| v["kind"] == "iter").collect();
    let epochs: Vec<_> = lines.iter().filter(|v| v["kind"] == "epoch").collect();
    assert_eq!(epochs.len(), 2);
    // 1438 training digits, 10 % held out: 1294 samples, 13 batches of 100 per epoch.
    assert_eq!(iters.len(), 26);
    assert_eq!(iters[0]["iter"], 0);
    assert!(iters[0]["loss"].as_f64().unwrap().is_finite());
    assert!(iters[0]["lr"].as_f64().unwrap() > 0.0);
    assert_eq!(epochs[1]["epoch"], 2);
    assert_eq!(epochs[1]["iter"], 26);
    for key in ["train_loss", "train_acc", "val_acc", "test_acc", "seconds"] {
        assert!(epochs[1][key].is_number(), "{key} missing");
    }
    assert!(history.lines().all(|l| l.starts_with("{\"kind\":")));
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("r/summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["final_test_acc"], epochs[1]["test_acc"]);
    assert_eq!(summary["status"], "completed");
}

#[test]
fn config_file_settings_are_overridden_by_flags() {
    let dir = temp_dir("config");
    std::fs::write(
        dir.join("c.toml"),
        "optimizer = \"sgd\"\nlr = 0.2\nhidden = [30]\nepochs = 1\nbatch_size = 50\n",
    )
    .unwrap();
    let out = optimlab_in(
        &dir,
        &[
            "train", "--config", "c.toml", "--lr", "0.1", "--out", "r", "--quiet",
        ],
    );
    assert_ok(&out);
    let config = std::fs::read_to_string(dir.join("r/config.toml")).unwrap();
    assert!(config.contains("optimizer = \"sgd\""), "{config}");
    assert!(config.contains("lr = 0.1"), "{config}");
    assert!(config.contains("hidden = [30]"), "{config}");
    // Every resolved value is recorded, with the sizes the data gave.
    let table: toml::Table = config.parse().unwrap();
    let resolved = &table["resolved"];
    assert_eq!(resolved["network"]["input"].as_integer(), Some(64));
    assert_eq!(resolved["network"]["output"].as_integer(), Some(10));
    assert_eq!(resolved["optimizer"]["rule"]["rule"].as_str(), Some("sgd"));
    assert_eq!(resolved["train"]["batch_size"].as_integer(), Some(50));
    // The written config is itself a valid config file.
    let again = optimlab_in(
        &dir,
        &[
            "train",
            "--config",
            "r/config.toml",
            "--out",
            "r2",
            "--quiet",
        ],
    );
    assert_ok(&again);
}

#[test]
fn bad_config_files_name_the_line_and_key() {
    let dir = temp_dir("badtoml");
    std::fs::write(dir.join("typo.toml"), "epochs = 1\nlearning_rate = 0.1\n").unwrap();
    let out = optimlab_in(&dir, &["train", "--config", "typo.toml"]);
    assert_one_line_error(&out, "learning_rate");
    assert_one_line_error(&out, "line 2");
    std::fs::write(dir.join("type.toml"), "epochs = \"many\"\n").unwrap();
    assert_one_line_error(
        &optimlab_in(&dir, &["train", "--config", "type.toml"]),
        "line 1",
    );
    assert_one_line_error(
        &optimlab_in(&dir, &["train", "--config", "missing.toml"]),
        "missing.toml",
    );
}

#[test]
fn divergence_stops_with_its_own_exit_code() {
    let dir = temp_dir("diverge");
    let out = optimlab_in(
        &dir,
        &[
            "train",
            "--optimizer",
            "sgd",
            "--lr",
            "1e30",
            "--epochs",
            "3",
            "--out",
            "r",
            "--quiet",
        ],
    );
    assert_eq!(
        out.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("diverged") && !err.contains("panicked"),
        "{err}"
    );
    let summary = std::fs::read_to_string(dir.join("r/summary.json")).unwrap();
    assert!(summary.contains("\"diverged\""), "{summary}");
}

#[test]
fn unwritable_out_is_a_one_line_error() {
    let dir = temp_dir("unwritable");
    std::fs::write(dir.join("file"), "not a folder").unwrap();
    assert_one_line_error(
        &optimlab_in(&dir, &["train", "--out", "file/run", "--quiet"]),
        "file/run",
    );
}

#[test]
fn train_rejects_bad_network_settings() {
    assert_one_line_error(&optimlab(&["train", "--dropout", "1.0"]), "dropout");
    assert_one_line_error(&optimlab(&["train", "--dropout", "-0.1"]), "dropout");
    assert_one_line_error(&optimlab(&["train", "--hidden", ""]), "hidden");
    assert_one_line_error(&optimlab(&["train", "--init", "-3"]), "init");
    assert_one_line_error(&optimlab(&["train", "--lr", "-1"]), "lr");
    assert_one_line_error(&optimlab(&["train", "--epochs", "0"]), "epochs");
    assert_one_line_error(
        &optimlab(&[
            "train",
            "--train-limit",
            "33",
            "--batch-size",
            "32",
            "--batch-norm",
        ]),
        "single sample",
    );
    assert_one_line_error(
        &optimlab(&["train", "--val-fraction", "1.0"]),
        "val-fraction",
    );
    assert_one_line_error(&optimlab(&["train", "--schedule", "step:x"]), "step:x");
    assert_one_line_error(
        &optimlab(&["train", "--optimizer", "sgd", "--beta1", "0.9"]),
        "beta1",
    );
    assert_one_line_error(&optimlab(&["train", "--batch-size", "0"]), "batch size");
}

fn weights_f64(path: &std::path::Path, dtype: &str) -> Vec<(String, Vec<f64>)> {
    use optimlab::train::checkpoint::load_weights;
    match dtype {
        "f32" => load_weights::<f32>(path)
            .unwrap()
            .tensors
            .into_iter()
            .map(|(k, t)| (k, t.values.iter().map(|&v| v as f64).collect()))
            .collect(),
        _ => load_weights::<f64>(path)
            .unwrap()
            .tensors
            .into_iter()
            .map(|(k, t)| (k, t.values))
            .collect(),
    }
}

#[test]
fn resume_is_bit_identical_to_an_uninterrupted_run_in_both_dtypes() {
    for dtype in ["f32", "f64"] {
        let dir = temp_dir(&format!("resume-{dtype}"));
        let common = [
            "--dtype",
            dtype,
            "--batch-norm",
            "--dropout",
            "0.1",
            "--hidden",
            "40,30",
            "--optimizer",
            "adam",
            "--schedule",
            "exp:0.99",
            "--val-fraction",
            "0.1",
            "--quiet",
        ];
        let run = |args: &[&str]| {
            let mut all = vec!["train"];
            all.extend_from_slice(args);
            let out = optimlab_in(&dir, &all);
            assert_ok(&out);
        };
        let mut a = vec!["--epochs", "4", "--out", "full"];
        a.extend_from_slice(&common);
        run(&a);
        let mut b = vec!["--epochs", "2", "--out", "split"];
        b.extend_from_slice(&common);
        run(&b);
        run(&["--resume", "split", "--epochs", "4", "--quiet"]);
        let full = weights_f64(&dir.join("full/model.safetensors"), dtype);
        let split = weights_f64(&dir.join("split/model.safetensors"), dtype);
        assert_eq!(full.len(), split.len());
        for ((n1, v1), (n2, v2)) in full.iter().zip(&split) {
            assert_eq!(n1, n2);
            assert!(
                v1.iter().zip(v2).all(|(a, b)| a.to_bits() == b.to_bits()),
                "{dtype} {n1} differs"
            );
        }
        // The resumed history continues where the first part stopped.
        let history = std::fs::read_to_string(dir.join("split/history.jsonl")).unwrap();
        let epochs: Vec<u64> = history
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
            .filter(|v| v["kind"] == "epoch")
            .map(|v| v["epoch"].as_u64().unwrap())
            .collect();
        assert_eq!(epochs, vec![1, 2, 3, 4]);
    }
}

#[test]
fn resume_of_a_corrupt_or_foreign_checkpoint_is_a_one_line_error() {
    let dir = temp_dir("resume-bad");
    let out = optimlab_in(&dir, &["train", "--epochs", "1", "--out", "r", "--quiet"]);
    assert!(out.status.success());
    // Nothing to do: the run already has 1 epoch.
    assert_one_line_error(
        &optimlab_in(&dir, &["train", "--resume", "r", "--epochs", "1"]),
        "nothing to do",
    );
    let ckpt = dir.join("r/checkpoint.safetensors");
    let bytes = std::fs::read(&ckpt).unwrap();
    std::fs::write(&ckpt, &bytes[..bytes.len() / 2]).unwrap();
    assert_one_line_error(
        &optimlab_in(&dir, &["train", "--resume", "r", "--epochs", "2"]),
        "checkpoint.safetensors",
    );
    // A weights-only file (not a checkpoint) in its place.
    std::fs::copy(dir.join("r/model.safetensors"), &ckpt).unwrap();
    assert_one_line_error(
        &optimlab_in(&dir, &["train", "--resume", "r", "--epochs", "2"]),
        "checkpoint.safetensors",
    );
    assert_one_line_error(
        &optimlab_in(&dir, &["train", "--resume", "nowhere", "--epochs", "2"]),
        "nowhere",
    );
}

#[test]
fn init_from_names_missing_and_misshaped_tensors() {
    let dir = temp_dir("init-from");
    let out = optimlab_in(
        &dir,
        &[
            "train", "--epochs", "1", "--hidden", "20", "--out", "small", "--quiet",
        ],
    );
    assert!(out.status.success());
    let ok = optimlab_in(
        &dir,
        &[
            "train",
            "--epochs",
            "1",
            "--hidden",
            "20",
            "--init-from",
            "small/model.safetensors",
            "--out",
            "again",
            "--quiet",
        ],
    );
    assert_ok(&ok);
    let bad = optimlab_in(
        &dir,
        &[
            "train",
            "--epochs",
            "1",
            "--hidden",
            "30,30",
            "--init-from",
            "small/model.safetensors",
            "--quiet",
        ],
    );
    assert_one_line_error(&bad, "W1");
    assert_one_line_error(&bad, "W3");
}

#[test]
fn fashion_mnist_book_workload_one_epoch_reaches_82_percent() {
    if !std::path::Path::new("/usr/share/datasets/fashion-mnist").is_dir() {
        eprintln!(
            "skipped: Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"
        );
        return;
    }
    let dir = temp_dir("fashion");
    let out = optimlab_in(
        &dir,
        &[
            "train",
            "--data",
            "fashion-mnist",
            "--hidden",
            "100,100,100,100",
            "--optimizer",
            "adam",
            "--batch-size",
            "128",
            "--epochs",
            "1",
            "--preset",
            "torch",
            "--out",
            "r",
            "--quiet",
        ],
    );
    assert_ok(&out);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("r/summary.json")).unwrap())
            .unwrap();
    let acc = summary["final_test_acc"].as_f64().unwrap();
    assert!(acc >= 0.82, "test accuracy {acc}");
    assert_eq!(summary["train_samples"], 60000);
    assert_eq!(summary["test_samples"], 10000);
}

#[test]
fn eval_predict_export_and_gradcheck_work_on_a_trained_model() {
    let dir = temp_dir("model-cmds");
    let out = optimlab_in(&dir, &["train", "--epochs", "3", "--out", "r", "--quiet"]);
    assert!(out.status.success());
    let model = "r/model.safetensors";
    let v = stdout_json(&optimlab_in(&dir, &["eval", "--model", model, "--json"]));
    let acc = v["accuracy"].as_f64().unwrap();
    assert!(acc > 0.5, "{acc}");
    let confusion = v["confusion"].as_array().unwrap();
    assert_eq!(confusion.len(), 10);
    let total: u64 = confusion
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .map(|c| c.as_u64().unwrap())
        .sum();
    assert_eq!(total, v["samples"].as_u64().unwrap());
    // The same accuracy as training reported for the test set.
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("r/summary.json")).unwrap())
            .unwrap();
    assert!((summary["final_test_acc"].as_f64().unwrap() - acc).abs() < 1e-12);

    std::fs::write(
        dir.join("x.csv"),
        format!(
            "{}\n{}\n",
            vec!["0.5"; 64].join(","),
            vec!["0"; 64].join(",")
        ),
    )
    .unwrap();
    let p = optimlab_in(&dir, &["predict", "--model", model, "--input", "x.csv"]);
    assert_ok(&p);
    let text = String::from_utf8_lossy(&p.stdout);
    let rows: Vec<&str> = text.lines().collect();
    assert_eq!(rows.len(), 3);
    let probs: f64 = rows[1]
        .split(',')
        .skip(2)
        .map(|v| v.parse::<f64>().unwrap())
        .sum();
    assert!((probs - 1.0).abs() < 1e-4);
    std::fs::write(dir.join("bad.csv"), "0.1,0.2\n").unwrap();
    assert_one_line_error(
        &optimlab_in(&dir, &["predict", "--model", model, "--input", "bad.csv"]),
        "features",
    );

    let e = optimlab_in(
        &dir,
        &[
            "export", "--model", model, "--format", "npz", "--out", "m.npz",
        ],
    );
    assert_ok(&e);
    assert!(std::fs::metadata(dir.join("m.npz")).unwrap().len() > 64 * 100 * 4);
    assert_one_line_error(
        &optimlab_in(&dir, &["eval", "--model", "nothing.safetensors"]),
        "nothing.safetensors",
    );

    let g = stdout_json(&optimlab_in(
        &dir,
        &["gradcheck", "--activation", "tanh", "--json"],
    ));
    for c in g.as_array().unwrap() {
        assert!(c["mean_abs"].as_f64().unwrap() < 1e-7, "{c}");
    }
}

#[test]
fn non_finite_values_are_rejected_not_replaced_by_defaults() {
    let dir = temp_dir("nan");
    for flag in [
        "--lr",
        "--beta1",
        "--eps",
        "--weight-decay",
        "--dropout",
        "--clip-norm",
        "--val-fraction",
    ] {
        for value in ["NaN", "inf"] {
            let out = optimlab_in(
                &dir,
                &[
                    "train", flag, value, "--epochs", "1", "--out", "r", "--quiet",
                ],
            );
            assert!(!out.status.success(), "{flag} {value} was accepted");
            assert!(!dir.join("r").exists(), "{flag} {value} left a run folder");
        }
    }
    std::fs::write(dir.join("c.toml"), "lr = nan\n").unwrap();
    assert_one_line_error(&optimlab_in(&dir, &["train", "--config", "c.toml"]), "lr");
}

#[test]
fn resume_mid_epoch_is_bit_identical_too() {
    let dir = temp_dir("resume-iters");
    let common = ["--dropout", "0.2", "--hidden", "30", "--quiet"];
    let run = |args: &[&str]| {
        let mut all = vec!["train"];
        all.extend_from_slice(args);
        let out = optimlab_in(&dir, &all);
        assert_ok(&out);
    };
    run(&[&["--iters", "70", "--out", "full"][..], &common].concat());
    run(&[&["--iters", "30", "--out", "part"][..], &common].concat());
    run(&["--resume", "part", "--iters", "70", "--quiet"]);
    let full = weights_f64(&dir.join("full/model.safetensors"), "f32");
    let part = weights_f64(&dir.join("part/model.safetensors"), "f32");
    for ((n, a), (_, b)) in full.iter().zip(&part) {
        assert!(
            a.iter().zip(b).all(|(x, y)| x.to_bits() == y.to_bits()),
            "{n} differs"
        );
    }
    // One history: iterations 0..70 once each.
    let history = std::fs::read_to_string(dir.join("part/history.jsonl")).unwrap();
    let iters: Vec<u64> = history
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["kind"] == "iter")
        .map(|v| v["iter"].as_u64().unwrap())
        .collect();
    assert_eq!(iters, (0..70).collect::<Vec<u64>>());
}

#[test]
fn resume_refuses_changed_settings_and_fresh_runs_refuse_used_folders() {
    let dir = temp_dir("resume-flags");
    assert!(
        optimlab_in(&dir, &["train", "--epochs", "1", "--out", "r", "--quiet"])
            .status
            .success()
    );
    assert_one_line_error(
        &optimlab_in(
            &dir,
            &["train", "--resume", "r", "--epochs", "2", "--lr", "0.5"],
        ),
        "--lr",
    );
    assert_one_line_error(
        &optimlab_in(&dir, &["train", "--epochs", "1", "--out", "r"]),
        "--resume",
    );
    assert_one_line_error(
        &optimlab_in(&dir, &["train", "--epochs", "1", "--iters", "5"]),
        "iters",
    );
    let es = optimlab_in(&dir, &["train", "--early-stop", "2", "--out", "es"]);
    assert_one_line_error(&es, "val-fraction");
    assert!(!dir.join("es").exists(), "a failed start left a run folder");
}

#[test]
fn an_early_stopped_run_is_not_resumed() {
    let dir = temp_dir("early-stopped");
    let out = optimlab_in(
        &dir,
        &[
            "train",
            "--val-fraction",
            "0.2",
            "--early-stop",
            "1",
            "--early-stop-metric",
            "val_loss",
            "--optimizer",
            "sgd",
            "--lr",
            "0.5",
            "--epochs",
            "60",
            "--out",
            "r",
            "--quiet",
        ],
    );
    assert_ok(&out);
    let summary = std::fs::read_to_string(dir.join("r/summary.json")).unwrap();
    assert!(summary.contains("early_stopped"), "{summary}");
    assert_one_line_error(
        &optimlab_in(&dir, &["train", "--resume", "r", "--epochs", "80"]),
        "stopped early",
    );
}

/// Every option of every update rule is reachable from flags and from TOML, and lands in the
/// resolved optimizer that `config.toml` records.
#[test]
fn every_optimizer_option_is_a_flag_and_a_config_key() {
    let dir = temp_dir("optoptions");
    let resolved = |folder: &str| -> toml::Table {
        let text = std::fs::read_to_string(dir.join(folder).join("config.toml")).unwrap();
        let table: toml::Table = toml::from_str(&text).unwrap();
        table["resolved"]["optimizer"].as_table().unwrap().clone()
    };
    let common = [
        "train",
        "--hidden",
        "8",
        "--epochs",
        "1",
        "--train-limit",
        "200",
        "--quiet",
    ];
    let run = |extra: &[&str], out: &str| {
        let mut args: Vec<&str> = common.to_vec();
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--out", out]);
        assert_ok(&optimlab_in(&dir, &args));
    };
    run(
        &[
            "--optimizer",
            "sgd",
            "--momentum",
            "0.8",
            "--nesterov",
            "--dampening",
            "0",
        ],
        "nesterov",
    );
    let r = resolved("nesterov");
    assert_eq!(r["rule"]["rule"].as_str(), Some("momentum"));
    assert_eq!(r["rule"]["kind"].as_str(), Some("nesterov"), "{r:?}");
    assert_eq!(r["rule"]["momentum"].as_float(), Some(0.8));

    run(
        &[
            "--optimizer",
            "adam",
            "--amsgrad",
            "--weight-decay",
            "0.01",
            "--decoupled-weight-decay",
            "--no-decay-on-bias-and-norm",
        ],
        "amsgrad",
    );
    let r = resolved("amsgrad");
    assert_eq!(r["rule"]["amsgrad"].as_bool(), Some(true));
    assert_eq!(
        r["weight_decay"]["kind"].as_str(),
        Some("decoupled"),
        "{r:?}"
    );
    assert!(!r["groups"].as_array().unwrap().is_empty(), "{r:?}");

    std::fs::write(
        dir.join("rmsprop.toml"),
        "optimizer = \"rmsprop\"\ncentered = true\nalpha = 0.9\nhidden = [8]\nepochs = 1\ntrain_limit = 200\n",
    )
    .unwrap();
    assert_ok(&optimlab_in(
        &dir,
        &[
            "train",
            "--config",
            "rmsprop.toml",
            "--quiet",
            "--out",
            "rmsprop",
        ],
    ));
    let r = resolved("rmsprop");
    assert_eq!(r["rule"]["centered"].as_bool(), Some(true), "{r:?}");
    assert_eq!(r["rule"]["rho"].as_float(), Some(0.9), "{r:?}");

    // An option the rule does not have is refused, from flags as from the file.
    assert_one_line_error(
        &optimlab_in(
            &dir,
            &["train", "--optimizer", "adam", "--centered", "--out", "bad"],
        ),
        "centered",
    );
    assert!(!dir.join("bad").exists());
}
