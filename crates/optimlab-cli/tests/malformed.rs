//! A corpus of malformed inputs: every one ends in exit code 1, a single `error:` line on
//! stderr, no panic, and every user file as it was.

mod common;
use common::*;
use std::collections::BTreeMap;
use std::path::Path;

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let name = p.strip_prefix(dir).unwrap().display().to_string();
                files.insert(name, std::fs::read(&p).unwrap());
            }
        }
    }
    files
}

#[test]
fn malformed_inputs_give_one_error_line_and_change_nothing() {
    let dir = temp_dir("malformed");
    let w = |name: &str, bytes: &[u8]| std::fs::write(dir.join(name), bytes).unwrap();
    w("garbage.safetensors", b"not a safetensors file at all");
    w("huge-header.safetensors", &u64::MAX.to_le_bytes());
    w("empty.csv", b"");
    w("header-only.csv", b"a,b,label\n");
    w("ragged.csv", b"1,2,0\n1,2\n");
    w("bad-label.csv", b"1,2,-1\n1,2,0\n");
    w("inf.csv", b"1,inf,0\n1,2,0\n");
    w("binary.csv", &[0xff, 0xfe, 0x00, 0x01]);
    w("bad.toml", b"epochs = [");
    w("nan.toml", b"lr = nan\n");
    w("unknown.toml", b"learning_rate = 0.1\n");
    std::fs::create_dir(dir.join("idx")).unwrap();
    for f in [
        "train-images-idx3-ubyte",
        "train-labels-idx1-ubyte",
        "t10k-images-idx3-ubyte",
        "t10k-labels-idx1-ubyte",
    ] {
        std::fs::write(dir.join("idx").join(f), [0u8, 0, 8, 3, 0, 0, 0, 9]).unwrap();
    }
    std::fs::create_dir(dir.join("gz")).unwrap();
    for f in [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ] {
        std::fs::write(dir.join("gz").join(f), b"\x1f\x8bnot really gzip").unwrap();
    }
    let before = snapshot(&dir);
    let cases: &[&[&str]] = &[
        &["eval", "--model", "garbage.safetensors"],
        &["eval", "--model", "huge-header.safetensors"],
        &[
            "predict",
            "--model",
            "garbage.safetensors",
            "--input",
            "ragged.csv",
        ],
        &[
            "export",
            "--model",
            "garbage.safetensors",
            "--format",
            "npz",
            "--out",
            "x.npz",
        ],
        &["train", "--init-from", "garbage.safetensors", "--out", "r"],
        &["data", "info", "--data", "empty.csv"],
        &["data", "info", "--data", "header-only.csv"],
        &["data", "info", "--data", "ragged.csv"],
        &["data", "info", "--data", "bad-label.csv"],
        &["data", "info", "--data", "inf.csv"],
        &["data", "info", "--data", "binary.csv"],
        &["data", "info", "--data", "idx"],
        &["data", "info", "--data", "gz"],
        &["train", "--config", "bad.toml", "--out", "r"],
        &["train", "--config", "nan.toml", "--out", "r"],
        &["train", "--config", "unknown.toml", "--out", "r"],
        &["train", "--data", "ragged.csv", "--out", "r"],
        &["train", "--resume", "idx"],
        &["train", "--lr", "-1", "--out", "r"],
        &["train", "--hidden", "0", "--out", "r"],
        &[
            "experiment",
            "optimizers",
            "--data",
            "ragged.csv",
            "--out",
            "rep",
        ],
    ];
    for args in cases {
        let out = optimlab_in(&dir, args);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(err.starts_with("error: "), "{args:?}: {err}");
        assert_eq!(snapshot(&dir), before, "{args:?} changed the files");
    }
}
