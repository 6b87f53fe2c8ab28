//! CSV data through `--data FILE.csv`: header detection, label column, the fixed 20 % test
//! split, and errors naming file, line and column.

use optimlab::data::{DataConfig, DataError, Features};
use std::path::{Path, PathBuf};

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

fn config(path: &Path, label: Option<&str>) -> DataConfig {
    DataConfig {
        data: path.display().to_string(),
        label_column: label.map(str::to_string),
        ..DataConfig::default()
    }
}

fn err(r: Result<impl std::fmt::Debug, DataError>) -> String {
    let e = r.unwrap_err().to_string();
    assert!(!e.contains('\n'), "one line: {e}");
    e
}

/// 50 rows: x, y, label (label = row % 3).
fn table(header: bool, label_first: bool) -> String {
    let mut s = String::new();
    if header {
        s += if label_first {
            "class,x,y\n"
        } else {
            "x,y,class\n"
        };
    }
    for i in 0..50 {
        let (x, y, l) = (i as f32 / 50.0, 1.0 - i as f32 / 50.0, i % 3);
        s += &if label_first {
            format!("{l},{x},{y}\n")
        } else {
            format!("{x},{y},{l}\n")
        };
    }
    s
}

#[test]
fn csv_loads_with_and_without_header_and_splits_20_percent() {
    let dir = tempfile::tempdir().unwrap();
    let plain = write(dir.path(), "plain.csv", &table(false, false));
    let named = write(dir.path(), "named.csv", &table(true, true));
    let a = config(&plain, None).prepare().unwrap();
    let b = config(&named, Some("class")).prepare().unwrap();
    let c = config(&named, Some("0")).prepare().unwrap();
    for s in [&a, &b, &c] {
        assert_eq!((s.train.len(), s.test.len()), (40, 10));
        assert_eq!((s.dim(), s.classes()), (2, 3));
        assert!(matches!(s.train.features, Features::F32(_)));
    }
    assert_eq!(a.train.features, b.train.features);
    assert_eq!(a.test.labels, b.test.labels);
    assert_eq!(b, c);
    assert_eq!(a.train.name, "plain/train");
    // The split is fixed: the same file gives the same test set every time.
    assert_eq!(config(&plain, None).prepare().unwrap(), a);
    // Validation comes from the 40 training rows.
    let mut v = config(&plain, None);
    v.val_fraction = 0.25;
    let s = v.prepare().unwrap();
    assert_eq!(
        (s.train.len(), s.val.unwrap().len(), s.test.len()),
        (30, 10, 10)
    );
}

#[test]
fn ragged_rows_are_errors_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        dir.path(),
        "ragged.csv",
        "x,y,label\n0.1,0.2,1\n0.3,2\n0.5,0.6,0\n",
    );
    let e = err(config(&p, None).prepare());
    assert!(e.contains("ragged.csv:3:"), "{e}");
    assert!(e.contains("2 fields, expected 3"), "{e}");
    let p = write(dir.path(), "long.csv", "0.1,0.2,1\n0.3,0.4,0.5,2\n");
    let e = err(config(&p, None).prepare());
    assert!(e.contains("long.csv:2: 4 fields, expected 3"), "{e}");
}

#[test]
fn non_numbers_are_errors_naming_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "words.csv", "a,b,label\n0.1,0.2,1\n0.3,abc,0\n");
    let e = err(config(&p, None).prepare());
    assert!(
        e.contains("words.csv:3: column 1: 'abc' is not a number"),
        "{e}"
    );
    let p = write(dir.path(), "inf.csv", "0.1,0.2,1\n0.3,inf,0\n");
    let e = err(config(&p, None).prepare());
    assert!(
        e.contains("inf.csv:2: column 1: 'inf' is not a number"),
        "{e}"
    );
    let p = write(dir.path(), "label.csv", "0.1,0.2,1\n0.3,0.4,cat\n");
    let e = err(config(&p, None).prepare());
    assert!(
        e.contains("label.csv:2: column 2: label 'cat' is not a number"),
        "{e}"
    );
    let p = write(dir.path(), "neg.csv", "0.1,0.2,1\n0.3,0.4,-2\n");
    let e = err(config(&p, None).prepare());
    assert!(
        e.contains("neg.csv:2: column 2: label '-2' is not an integer"),
        "{e}"
    );
}

#[test]
fn bad_csv_files_and_flags() {
    let dir = tempfile::tempdir().unwrap();
    let e = err(config(&dir.path().join("absent.csv"), None).prepare());
    assert!(e.contains("absent.csv: not found"), "{e}");
    let p = write(dir.path(), "empty.csv", "\n\n");
    let e = err(config(&p, None).prepare());
    assert!(e.contains("empty.csv: no data"), "{e}");
    let p = write(dir.path(), "tiny.csv", "0.1,1\n");
    let e = err(config(&p, None).prepare());
    assert!(e.contains("too few"), "{e}");
    let p = write(dir.path(), "t.csv", &table(true, false));
    let e = err(config(&p, Some("nope")).prepare());
    assert!(e.contains("'nope': no such column"), "{e}");
    let e = err(config(&p, Some("9")).prepare());
    assert!(e.contains("--label-column 9"), "{e}");
    let bin = dir.path().join("bin.csv");
    std::fs::write(&bin, [0xff, 0xfe, 0x00, 0x41]).unwrap();
    let e = err(config(&bin, None).prepare());
    assert!(e.contains("bin.csv: not UTF-8"), "{e}");
}
