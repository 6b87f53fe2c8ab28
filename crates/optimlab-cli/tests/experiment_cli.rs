//! Drives `optimlab experiment` in temp dirs with small settings: every experiment writes
//! results.json, PNG and SVG figures and index.html; numbers match the library; several seeds
//! draw bands; bad input fails in one line and leaves no report; the pages pass a headless
//! Chromium check when `chromium` is installed.

mod common;
use common::*;
use std::path::Path;
use std::process::Output;

fn results(dir: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(dir.join("results.json")).expect("results.json");
    serde_json::from_str(&text).expect("results.json is JSON")
}

/// The report folder holds results.json, index.html and, for every figure the page shows, a
/// non-trivial PNG (by its signature) and an SVG.
fn assert_report(dir: &Path) {
    let html = std::fs::read_to_string(dir.join("index.html")).expect("index.html");
    results(dir);
    let pngs: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "png"))
        .collect();
    assert!(!pngs.is_empty(), "no PNG in {}", dir.display());
    for png in &pngs {
        let bytes = std::fs::read(png).unwrap();
        assert!(
            bytes.len() > 5_000 && bytes.starts_with(b"\x89PNG\r\n\x1a\n"),
            "{}",
            png.display()
        );
        let svg = png.with_extension("svg");
        let text = std::fs::read_to_string(&svg).expect("an SVG beside each PNG");
        assert!(
            text.contains("<svg") && text.contains("<text"),
            "{}",
            svg.display()
        );
        let name = png.file_name().unwrap().to_str().unwrap();
        assert!(
            html.contains(&format!("src=\"{name}\"")),
            "index.html shows {name}"
        );
    }
    assert!(!html.contains("<script"), "no scripts in a report");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no network addresses"
    );
}

fn run_in(dir: &Path, args: &[&str]) -> Output {
    let out = optimlab_in(dir, args);
    assert_ok(&out);
    out
}

/// Asserts a one-line error, exit status 1, and no report where it would have gone.
fn assert_refused(out: &Output, needle: &str, report: &Path) {
    assert_one_line_error(out, needle);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).lines().count(),
        1,
        "one line"
    );
    assert!(
        !report.join("index.html").exists(),
        "no report at {}",
        report.display()
    );
}

/// No staging folders are left beside the reports.
fn assert_no_leftovers(parent: &Path) {
    for e in std::fs::read_dir(parent).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        assert!(
            !name.contains(".partial-") && !name.contains(".old-"),
            "left over: {name}"
        );
    }
}

#[test]
fn trajectories_report_holds_the_librarys_numbers() {
    let dir = temp_dir("exp-traj");
    let out = run_in(&dir, &["experiment", "trajectories", "--out", "t"]);
    let report = dir.join("t");
    assert_report(&report);
    // The terminal shows the key numbers.
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("final f") && text.contains("adagrad"),
        "{text}"
    );
    let v = results(&report);
    assert_eq!(v["experiment"], "trajectories");
    assert_eq!(v["settings"]["steps"], 30);
    let paths = v["output"]["paths"].as_array().unwrap();
    let names: Vec<&str> = paths
        .iter()
        .map(|p| p["optimizer"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"
        ]
    );
    // The same numbers as the library computes (book preset: f64), and the book's Adam path.
    for (name, lr) in [
        ("sgd", 0.95),
        ("momentum", 0.1),
        ("adagrad", 1.5),
        ("adam", 0.3),
    ] {
        let mut config =
            optimlab::optim::OptimizerConfig::new(name.parse().unwrap(), optimlab::Preset::Book);
        config.lr = Some(lr);
        let mut opt = config.resolve().unwrap().build::<f64>().unwrap();
        let lib = optimlab::experiments::trajectory::run(
            optimlab::experiments::trajectory::TestFunction::Book,
            &mut opt,
            [-7.0, 2.0],
            30,
        )
        .unwrap();
        let p = paths
            .iter()
            .find(|p| p["optimizer"]["name"] == name)
            .unwrap();
        let got: Vec<[f64; 2]> =
            serde_json::from_value(p["trajectory"]["positions"].clone()).unwrap();
        let values: Vec<f64> = serde_json::from_value(p["trajectory"]["values"].clone()).unwrap();
        assert_eq!(got, lib.positions, "{name}");
        assert_eq!(values, lib.values, "{name}");
    }
    let adam = paths
        .iter()
        .find(|p| p["optimizer"]["name"] == "adam")
        .unwrap();
    let last = &adam["trajectory"]["positions"][30];
    assert!((last[0].as_f64().unwrap() - 0.1360068524).abs() < 1e-9);
    assert!((last[1].as_f64().unwrap() - 0.3182453755).abs() < 1e-9);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn every_training_experiment_writes_a_report() {
    let dir = temp_dir("exp-each");
    let cases: &[&[&str]] = &[
        &["optimizers", "--iters", "40", "--optimizers", "sgd,adam"],
        &["init-compare", "--iters", "40", "--inits", "0.01,he"],
        &[
            "init-activations",
            "--samples",
            "200",
            "--layers",
            "3",
            "--activations",
            "sigmoid,relu",
        ],
        &[
            "batch-norm",
            "--epochs",
            "3",
            "--train-size",
            "200",
            "--scales",
            "1,0.01",
        ],
        &[
            "weight-decay",
            "--epochs",
            "4",
            "--train-size",
            "100",
            "--test-size",
            "100",
            "--weight-decay",
            "0,0.1",
        ],
        &[
            "dropout",
            "--epochs",
            "4",
            "--train-size",
            "100",
            "--test-size",
            "100",
            "--dropout",
            "0,0.15,0.2",
        ],
    ];
    for case in cases {
        let name = case[0];
        let mut args = vec![
            "experiment",
            name,
            "--data",
            "digits",
            "--quiet",
            "--out",
            name,
        ];
        args.extend_from_slice(&case[1..]);
        let out = run_in(&dir, &args);
        assert!(
            out.stdout.is_empty(),
            "--quiet prints nothing: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let report = dir.join(name);
        assert_report(&report);
        let v = results(&report);
        assert_eq!(v["experiment"], name);
        assert!(
            v["settings"]["seed"].is_number(),
            "{name}: settings recorded"
        );
    }
    // Spot checks that the settings flowed through to the numbers.
    let v = results(&dir.join("optimizers"));
    let curves = v["output"]["optimizers"].as_array().unwrap();
    assert_eq!(curves.len(), 2);
    assert_eq!(curves[0]["loss"][0].as_array().unwrap().len(), 40);
    let v = results(&dir.join("dropout"));
    assert_eq!(v["output"]["settings"].as_array().unwrap().len(), 3);
    assert_eq!(v["output"]["eval_iters"].as_array().unwrap().len(), 4);
    let v = results(&dir.join("init-activations"));
    assert_eq!(v["output"]["combinations"].as_array().unwrap().len(), 8);
    assert!(dir.join("init-activations/hist_sigmoid.png").exists());
    assert_no_leftovers(&dir);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn several_seeds_draw_a_band() {
    let dir = temp_dir("exp-seeds");
    let base = [
        "experiment",
        "optimizers",
        "--data",
        "digits",
        "--quiet",
        "--iters",
        "30",
        "--optimizers",
        "sgd,adam",
    ];
    let mut one = base.to_vec();
    one.extend(["--out", "one"]);
    run_in(&dir, &one);
    let mut two = base.to_vec();
    two.extend(["--out", "two", "--seeds", "2"]);
    run_in(&dir, &two);
    let v = results(&dir.join("two"));
    let sgd = &v["output"]["optimizers"][0];
    assert_eq!(
        sgd["loss"].as_array().unwrap().len(),
        2,
        "one curve per seed"
    );
    let band = &sgd["smoothed_band"];
    let (min, max): (Vec<f64>, Vec<f64>) = (
        serde_json::from_value(band["min"].clone()).unwrap(),
        serde_json::from_value(band["max"].clone()).unwrap(),
    );
    assert!(min.iter().zip(&max).any(|(a, b)| b > a), "the seeds differ");
    // The band is a filled polygon in the figure; one seed draws none.
    let svg_two = std::fs::read_to_string(dir.join("two/loss.svg")).unwrap();
    let svg_one = std::fs::read_to_string(dir.join("one/loss.svg")).unwrap();
    assert!(
        svg_two.matches("<polygon").count() >= 2,
        "a band per optimizer"
    );
    assert_eq!(svg_one.matches("<polygon").count(), 0);
    assert!(results(&dir.join("one"))["output"]["optimizers"][0]["smoothed_band"].is_null());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_input_fails_in_one_line_and_writes_nothing() {
    let dir = temp_dir("exp-bad");
    let out = dir.join("r");
    let o = |args: &[&str]| {
        let mut a = vec!["experiment"];
        a.extend_from_slice(args);
        a.extend(["--out", "r"]);
        optimlab_in(&dir, &a)
    };
    let unknown = optimlab_in(&dir, &["experiment", "nonsense", "--out", "r"]);
    assert_refused(&unknown, "unknown experiment 'nonsense'", &out);
    let listed = String::from_utf8_lossy(&unknown.stderr).into_owned();
    for name in [
        "trajectories",
        "batch-norm",
        "weight-decay",
        "dropout",
        "all",
    ] {
        assert!(listed.contains(name), "the error lists {name}: {listed}");
    }
    assert_refused(
        &o(&["weight-decay", "--data", "digits", "--lr=-0.1"]),
        "learning rate",
        &out,
    );
    assert_refused(
        &o(&["optimizers", "--data", "digits", "--optimizers", "sgd:-1"]),
        "learning rate",
        &out,
    );
    assert_refused(
        &o(&["optimizers", "--data", "digits", "--seeds", "0"]),
        "seeds",
        &out,
    );
    assert_refused(&o(&["trajectories", "--seeds", "0"]), "seeds", &out);
    assert_refused(
        &o(&["dropout", "--data", "digits", "--dropout", "1.5"]),
        "dropout",
        &out,
    );
    assert_refused(
        &o(&[
            "optimizers",
            "--data",
            dir.join("no-such-data").to_str().unwrap(),
        ]),
        "--data",
        &out,
    );
    let cfg = dir.join("bad.toml");
    std::fs::write(&cfg, "iterations = 10\nno_such_setting = 1\n").unwrap();
    assert_refused(
        &o(&[
            "optimizers",
            "--data",
            "digits",
            "--config",
            cfg.to_str().unwrap(),
        ]),
        "--config",
        &out,
    );
    let all_cfg = dir.join("all.toml");
    std::fs::write(&all_cfg, "[optimisers]\niterations = 10\n").unwrap();
    let typo = optimlab_in(
        &dir,
        &[
            "experiment",
            "all",
            "--config",
            all_cfg.to_str().unwrap(),
            "--out",
            "r",
        ],
    );
    assert_refused(&typo, "unknown experiment table [optimisers]", &out);
    // An --out that cannot be a folder: below a file.
    std::fs::write(dir.join("file"), "x").unwrap();
    let blocked = optimlab_in(&dir, &["experiment", "trajectories", "--out", "file/sub"]);
    assert_refused(&blocked, "--out", &dir.join("file/sub"));
    // A folder of other files is not replaced.
    std::fs::create_dir(dir.join("mine")).unwrap();
    std::fs::write(dir.join("mine/notes.txt"), "keep").unwrap();
    let foreign = optimlab_in(&dir, &["experiment", "trajectories", "--out", "mine"]);
    assert_refused(&foreign, "--out", &dir.join("mine"));
    assert_eq!(
        std::fs::read_to_string(dir.join("mine/notes.txt")).unwrap(),
        "keep"
    );
    assert_no_leftovers(&dir);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_failed_run_keeps_the_earlier_report() {
    let dir = temp_dir("exp-keep");
    let args = [
        "experiment",
        "optimizers",
        "--data",
        "digits",
        "--quiet",
        "--iters",
        "20",
        "--out",
        "r",
    ];
    let mut first = args.to_vec();
    first.extend(["--optimizers", "sgd"]);
    run_in(&dir, &first);
    let before = std::fs::read(dir.join("r/results.json")).unwrap();
    // A learning rate this large makes the loss diverge mid-run, after the staging folder exists.
    let mut second = args.to_vec();
    second.extend(["--optimizers", "sgd:1e12"]);
    let out = optimlab_in(&dir, &second);
    assert_one_line_error(&out, "diverged");
    assert_eq!(std::fs::read(dir.join("r/results.json")).unwrap(), before);
    assert_report(&dir.join("r"));
    assert_no_leftovers(&dir);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn all_writes_an_index_of_every_report_and_the_pages_pass_chromium() {
    let dir = temp_dir("exp-all");
    let cfg = dir.join("small.toml");
    std::fs::write(
        &cfg,
        r#"
[trajectories]
steps = 10
[optimizers]
iterations = 20
[init-activations]
samples = 100
layers = 2
[init-compare]
iterations = 20
[batch-norm]
evaluations = 2
train_size = 100
scales = [1.0, 0.1, 0.01, 0.001]
[weight-decay]
evaluations = 3
train_size = 100
test_size = 100
[dropout]
evaluations = 3
train_size = 100
test_size = 100
ratios = [0.0, 0.2]
"#,
    )
    .unwrap();
    let out = run_in(
        &dir,
        &[
            "experiment",
            "all",
            "--data",
            "digits",
            "--config",
            cfg.to_str().unwrap(),
            "--out",
            "all",
        ],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("index:"), "{text}");
    let root = dir.join("all");
    let index = std::fs::read_to_string(root.join("index.html")).unwrap();
    for name in [
        "trajectories",
        "optimizers",
        "init-activations",
        "init-compare",
        "batch-norm",
        "weight-decay",
        "dropout",
    ] {
        assert!(
            index.contains(&format!("href=\"{name}/index.html\"")),
            "index links {name}"
        );
        assert_report(&root.join(name));
    }
    // The index links the playground, written next to the reports (unless the binary was
    // built without the wasm32 target, which the index then says).
    let playground = root.join("playground/index.html").is_file();
    if playground {
        assert!(
            index.contains("href=\"playground/index.html\""),
            "index links the playground"
        );
    } else {
        assert!(index.contains("No interactive playground"), "{index}");
    }
    assert_eq!(results(&root.join("trajectories"))["settings"]["steps"], 10);
    // ReLU's spike of exact zeros is clipped and counted in every panel, as in the book.
    let relu = std::fs::read_to_string(root.join("init-activations/hist_relu.svg")).unwrap();
    assert!(
        relu.matches("zeros: ").count() >= 5,
        "no zero counts in the ReLU figure"
    );
    assert!(relu.contains("(bar clipped)"));
    assert_eq!(
        results(&root.join("batch-norm"))["output"]["scales"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    assert_no_leftovers(&dir);

    let chromium = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("chromium").is_file()))
        .unwrap_or(false);
    if !chromium {
        println!("skipped: the headless Chromium check (chromium is not on PATH)");
    } else {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/check_report.sh");
        let check = std::process::Command::new("sh")
            .arg(&script)
            .arg(&root)
            .output()
            .expect("run check_report.sh");
        let report = String::from_utf8_lossy(&check.stdout);
        assert!(
            check.status.success(),
            "{report}{}",
            String::from_utf8_lossy(&check.stderr)
        );
        // The index, seven reports and, when the binary has it, the playground page.
        let pages = if playground { 9 } else { 8 };
        assert!(
            report.contains(&format!("{pages} passed, 0 failed")),
            "{report}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
