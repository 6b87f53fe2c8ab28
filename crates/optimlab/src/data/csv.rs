//! CSV data: one sample per line, comma-separated numbers, one column the class label.
//!
//! - Header ([`CsvHeader`], `--header auto|yes|no`): with `auto` (the default) the first row
//!   is a header when none of its fields is a number, data when all are; a first row with
//!   some of each (`NaN`, a typo such as `O.5`) is an error naming the field, never dropped.
//!   Header names may be quoted (`"label"`); data fields are plain numbers. A UTF-8 byte-order
//!   mark is ignored.
//! - Label column ([`LabelColumn`], `--label-column`): the last column by default (as in the
//!   embedded digits CSV and most exports); else a 0-based index, `first`, `last`, or a header
//!   name. Labels are non-negative integers (`3` or `3.0`); the class count is the largest
//!   label + 1, at most [`MAX_CLASSES`].
//! - Features: every other column, finite numbers, kept as f32 as they are (no scaling: scale
//!   them to about [0, 1] beforehand, as the built-in sets are).
//! - Blank lines are skipped; every other line must have as many fields as the first one.
//!
//! Every error names the file, line (1-based) and column (0-based, as `--label-column`).

use super::{DataError, Dataset, Features};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Whether the first row of a CSV file is a header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CsvHeader {
    /// A header when no field of the first row is a number; data when all are; else an error.
    #[default]
    Auto,
    Yes,
    No,
}

impl std::str::FromStr for CsvHeader {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(CsvHeader::Auto),
            "yes" => Ok(CsvHeader::Yes),
            "no" => Ok(CsvHeader::No),
            other => Err(format!(
                "unknown header mode '{other}' (expected auto, yes or no)"
            )),
        }
    }
}

impl std::fmt::Display for CsvHeader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CsvHeader::Auto => "auto",
            CsvHeader::Yes => "yes",
            CsvHeader::No => "no",
        })
    }
}

/// The largest class count a CSV may give (labels 0..MAX_CLASSES); a stray huge number in the
/// label column is an error, not a 10^9-wide output layer.
pub const MAX_CLASSES: usize = 10_000;

/// Which column holds the label.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum LabelColumn {
    #[default]
    Last,
    /// 0-based.
    Index(usize),
    /// A header name.
    Name(String),
}

impl LabelColumn {
    /// `last`, `first`, a 0-based index, or a header name.
    pub fn parse(s: &str) -> LabelColumn {
        let t = s.trim();
        match t {
            "last" => LabelColumn::Last,
            "first" => LabelColumn::Index(0),
            _ => match t.parse::<usize>() {
                Ok(i) => LabelColumn::Index(i),
                Err(_) => LabelColumn::Name(t.to_string()),
            },
        }
    }
}

impl std::fmt::Display for LabelColumn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LabelColumn::Last => write!(f, "last"),
            LabelColumn::Index(i) => write!(f, "{i}"),
            LabelColumn::Name(n) => write!(f, "{n}"),
        }
    }
}

/// Reads a CSV file into one data set named after the file (header detected).
pub fn load(path: &Path, label: &LabelColumn) -> Result<Dataset, DataError> {
    load_with(path, label, CsvHeader::Auto)
}

/// The header names when the first row of the file at `path` is a header under `mode`
/// (front ends say so when `auto` decided it), `None` when it is data.
pub fn header_of(path: &Path, mode: CsvHeader) -> Result<Option<Vec<String>>, DataError> {
    let text = read_text(path)?;
    let shown = path.display().to_string();
    let first = text
        .strip_prefix('\u{feff}')
        .unwrap_or(&text)
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
        .find(|(_, l)| !l.trim().is_empty());
    match first {
        None => Ok(None),
        Some((no, line)) => detect_header(line, no, mode, &shown),
    }
}

/// `Some(names)` when `line` (number `no`) is a header under `mode`.
fn detect_header(
    line: &str,
    no: usize,
    mode: CsvHeader,
    source: &str,
) -> Result<Option<Vec<String>>, DataError> {
    let fields: Vec<&str> = line.split(',').map(str::trim).collect();
    let names = || {
        Some(
            fields
                .iter()
                .map(|f| f.trim_matches('"').trim().to_string())
                .collect(),
        )
    };
    let numeric = fields.iter().filter(|f| parse_number(f).is_some()).count();
    Ok(match mode {
        CsvHeader::Yes => names(),
        CsvHeader::No => None,
        CsvHeader::Auto if numeric == 0 => names(),
        CsvHeader::Auto if numeric == fields.len() => None,
        CsvHeader::Auto => {
            let (col, field) = fields
                .iter()
                .enumerate()
                .find(|(_, f)| parse_number(f).is_none())
                .expect("a field is not a number");
            return Err(DataError::invalid(
                format!("{source}:{no}"),
                format!(
                    "column {col}: '{field}' is not a finite number, but {numeric} other fields of the first row are: a header has no numbers, a data row only numbers (fix the row, or say --header yes or no)"
                ),
            ));
        }
    })
}

fn read_text(path: &Path) -> Result<String, DataError> {
    let shown = path.display().to_string();
    std::fs::read_to_string(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => DataError::Missing {
            path: shown.clone(),
            hint: String::new(),
        },
        std::io::ErrorKind::InvalidData => DataError::invalid(&shown, "not UTF-8 text"),
        _ => DataError::io(&shown, e),
    })
}

/// Reads a CSV file into one data set named after the file, its first row read as `header`
/// says.
pub fn load_with(
    path: &Path,
    label: &LabelColumn,
    header: CsvHeader,
) -> Result<Dataset, DataError> {
    let shown = path.display().to_string();
    let text = read_text(path)?;
    let name = path
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| shown.clone());
    let mut ds = parse_with(&text, label, header, &shown)?;
    ds.name = name;
    Ok(ds)
}

/// Parses CSV text, detecting a header; `source` names it in errors.
pub fn parse(text: &str, label: &LabelColumn, source: &str) -> Result<Dataset, DataError> {
    parse_with(text, label, CsvHeader::Auto, source)
}

/// Parses CSV text with its first row read as `header` says; `source` names it in errors.
pub fn parse_with(
    text: &str,
    label: &LabelColumn,
    header: CsvHeader,
    source: &str,
) -> Result<Dataset, DataError> {
    // A byte-order mark (Excel's "CSV UTF-8") would make the first field unreadable.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let at = |line: usize, problem: String| DataError::invalid(format!("{source}:{line}"), problem);
    let mut lines = text
        .lines()
        .enumerate()
        .map(|(i, l)| (i + 1, l.strip_suffix('\r').unwrap_or(l)))
        .filter(|(_, l)| !l.trim().is_empty())
        .peekable();
    let Some(&(first_no, first)) = lines.peek() else {
        return Err(DataError::invalid(source, "no data (empty file)"));
    };
    let first_fields: Vec<&str> = first.split(',').map(str::trim).collect();
    let width = first_fields.len();
    if width < 2 {
        return Err(at(
            first_no,
            format!(
                "{width} column; expected a label column and at least one feature (comma-separated)"
            ),
        ));
    }
    let header = detect_header(first, first_no, header, source)?;
    if header.is_some() {
        lines.next();
    }
    let label_col = match label {
        LabelColumn::Last => width - 1,
        LabelColumn::Index(i) if *i < width => *i,
        LabelColumn::Index(i) => {
            return Err(at(
                first_no,
                format!(
                    "--label-column {i}: the file has {width} columns (0..{})",
                    width - 1
                ),
            ));
        }
        LabelColumn::Name(n) => match &header {
            Some(h) => h.iter().position(|c| c == n).ok_or_else(|| {
                at(
                    first_no,
                    format!(
                        "--label-column '{n}': no such column in the header ({})",
                        h.join(", ")
                    ),
                )
            })?,
            None => {
                return Err(at(
                    first_no,
                    format!(
                        "--label-column '{n}': the file has no header; give a 0-based column index"
                    ),
                ));
            }
        },
    };

    let mut features: Vec<f32> = Vec::new();
    let mut labels: Vec<usize> = Vec::new();
    for (no, line) in lines {
        let count = line.bytes().filter(|&b| b == b',').count() + 1;
        if count != width {
            return Err(at(
                no,
                format!("{count} fields, expected {width} as in line {first_no} (ragged rows)"),
            ));
        }
        for (col, field) in line.split(',').enumerate() {
            let field = field.trim();
            if col == label_col {
                let v = parse_number(field).ok_or_else(|| {
                    at(no, format!("column {col}: label '{field}' is not a number"))
                })?;
                if !(v >= 0.0 && v.fract() == 0.0 && v < MAX_CLASSES as f64) {
                    return Err(at(
                        no,
                        format!(
                            "column {col}: label '{field}' is not an integer in 0..{MAX_CLASSES}"
                        ),
                    ));
                }
                labels.push(v as usize);
            } else {
                let v = parse_number(field)
                    .ok_or_else(|| at(no, format!("column {col}: '{field}' is not a number")))?;
                features.push(v as f32);
            }
        }
    }
    if labels.is_empty() {
        return Err(DataError::invalid(source, "a header but no data rows"));
    }
    let classes = labels.iter().max().copied().unwrap_or(0) + 1;
    Ok(Dataset {
        name: source.to_string(),
        features: Features::F32(features),
        labels,
        dim: width - 1,
        classes,
    })
}

/// A finite number, or `None`.
fn parse_number(s: &str) -> Option<f64> {
    s.parse::<f64>().ok().filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_last_by_default_and_no_header() {
        let d = parse("0.5,1,2\n0,0.25,0\n", &LabelColumn::Last, "t.csv").unwrap();
        assert_eq!(d.dim, 2);
        assert_eq!(d.labels, vec![2, 0]);
        assert_eq!(d.classes, 3);
        assert_eq!(d.features, Features::F32(vec![0.5, 1.0, 0.0, 0.25]));
    }

    #[test]
    fn header_detected_and_label_by_name() {
        let text = "\"label\",a,b\n1,0.1,0.2\n\n3.0,0.3,0.4\n";
        let d = parse(text, &LabelColumn::parse("label"), "t.csv").unwrap();
        assert_eq!(d.labels, vec![1, 3]);
        assert_eq!(d.classes, 4);
        assert_eq!(d.features, Features::F32(vec![0.1, 0.2, 0.3, 0.4]));
        let d = parse(text, &LabelColumn::parse("0"), "t.csv").unwrap();
        assert_eq!(d.labels, vec![1, 3]);
    }

    #[test]
    fn bad_labels_and_columns_are_named() {
        let e = parse("1,2\n1,-1\n", &LabelColumn::Last, "t.csv")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("t.csv:2: column 1: label '-1'"), "{e}");
        let e = parse("1,2\n1,0.5\n", &LabelColumn::Last, "t.csv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("not an integer"), "{e}");
        let e = parse("1,2\n", &LabelColumn::Index(5), "t.csv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("--label-column 5"), "{e}");
        let e = parse("1,2\n", &LabelColumn::parse("y"), "t.csv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no header"), "{e}");
        let e = parse("a,b\n", &LabelColumn::Last, "t.csv")
            .unwrap_err()
            .to_string();
        assert!(e.contains("no data rows"), "{e}");
        let e = parse("1,nan\n2,3\n", &LabelColumn::Index(0), "t.csv")
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("t.csv:1: column 1: 'nan'"),
            "a NaN row is not a header: {e}"
        );
    }

    #[test]
    fn a_first_row_mixing_numbers_and_text_is_an_error_not_a_header() {
        for (text, field) in [
            ("O.5,1,2\n0.5,1,2\n", "'O.5'"),
            ("1,NaN,2\n1,1,2\n", "'NaN'"),
        ] {
            let e = parse(text, &LabelColumn::Last, "t.csv")
                .unwrap_err()
                .to_string();
            assert!(e.starts_with("t.csv:1:") && e.contains(field), "{e}");
            // Said explicitly, the row is data (and the typo an error) or a header.
            assert!(parse_with(text, &LabelColumn::Last, CsvHeader::No, "t.csv").is_err());
            let d = parse_with(text, &LabelColumn::Last, CsvHeader::Yes, "t.csv").unwrap();
            assert_eq!(d.labels, vec![2]);
        }
        // A numeric first row is data with --header yes refused only by the caller's choice.
        let d = parse_with("1,2\n3,4\n", &LabelColumn::Last, CsvHeader::Yes, "t.csv").unwrap();
        assert_eq!(d.labels, vec![4]);
    }

    #[test]
    fn a_byte_order_mark_is_ignored() {
        let d = parse("\u{feff}0.5,1\n0.25,0\n", &LabelColumn::Last, "t.csv").unwrap();
        assert_eq!(d.labels, vec![1, 0]);
        let d = parse(
            "\u{feff}a,label\n0.25,0\n",
            &LabelColumn::parse("label"),
            "t.csv",
        )
        .unwrap();
        assert_eq!(d.labels, vec![0]);
    }
}
