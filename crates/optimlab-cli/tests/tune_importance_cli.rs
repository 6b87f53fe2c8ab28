//! `optimlab tune report --importance`: PED-ANOVA by default, fANOVA and one-way ANOVA on
//! request, named in results.json and on the page.

mod common;

use common::{assert_ok, assert_one_line_error, optimlab_in, temp_dir};
use serde_json::Value;
use std::path::Path;

fn report(dir: &Path, out: &str, extra: &[&str]) -> Value {
    let mut args = vec![
        "tune",
        "report",
        "--study",
        "s",
        "--storage",
        "sqlite:t.db",
        "--out",
        out,
    ];
    args.extend_from_slice(extra);
    assert_ok(&optimlab_in(dir, &args));
    serde_json::from_str(&std::fs::read_to_string(dir.join(out).join("results.json")).unwrap())
        .unwrap()
}

#[test]
fn the_report_uses_ped_anova_unless_told_otherwise() {
    let dir = temp_dir("tune-importance");
    std::fs::write(
        dir.join("space.toml"),
        "[params]\n\
         lr = { type = \"float\", low = 1e-4, high = 0.5, log = true }\n\
         batch_size = { type = \"int\", low = 16, high = 64, step = 16 }\n\
         [train]\n\
         data = \"digits\"\n\
         hidden = [8]\n\
         epochs = 1\n\
         optimizer = \"sgd\"\n",
    )
    .unwrap();
    assert_ok(&optimlab_in(
        &dir,
        &[
            "tune",
            "run",
            "--study",
            "s",
            "--storage",
            "sqlite:t.db",
            "--space",
            "space.toml",
            "--trials",
            "12",
            "--sampler",
            "random",
            "--quiet",
        ],
    ));
    for (out, flag, name, page_words) in [
        ("rep", None, "ped-anova", "PED-ANOVA"),
        ("rep-fanova", Some("fanova"), "fanova", "fANOVA"),
        ("rep-anova", Some("anova"), "anova", "One-way ANOVA"),
    ] {
        let extra: Vec<&str> = flag.map_or(vec![], |f| vec!["--importance", f]);
        let r = report(&dir, out, &extra);
        assert_eq!(r["importance_evaluator"], name);
        let shares = r["importance"].as_array().unwrap();
        let mut params: Vec<&str> = shares
            .iter()
            .map(|s| s["param"].as_str().unwrap())
            .collect();
        params.sort();
        assert_eq!(params, ["batch_size", "lr"], "{name}");
        let total: f64 = shares
            .iter()
            .map(|s| s["importance"].as_f64().unwrap())
            .sum();
        assert!((total - 1.0).abs() < 1e-9, "{name}: {shares:?}");
        // Largest first.
        assert!(shares[0]["importance"].as_f64() >= shares[1]["importance"].as_f64());
        let page = std::fs::read_to_string(dir.join(out).join("index.html")).unwrap();
        assert!(
            page.contains(page_words),
            "{name}: the page names the evaluator"
        );
        // Assessed (not the "too few trials" sentence): the bar chart is drawn.
        assert!(dir.join(out).join("importance.svg").exists(), "{name}");
    }
    let out = optimlab_in(
        &dir,
        &[
            "tune",
            "report",
            "--study",
            "s",
            "--storage",
            "sqlite:t.db",
            "--out",
            "x",
            "--importance",
            "shap",
        ],
    );
    assert_one_line_error(&out, "shap");
    assert!(!dir.join("x").exists());
}
