//! Where data comes from (`--data`) and how the flags turn it into train / validation / test.

use super::csv::{self, CsvHeader, LabelColumn};
use super::{DataError, Dataset, digits, idx};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Where Debian's `dataset-fashion-mnist` package installs Fashion-MNIST.
pub const SYSTEM_FASHION_MNIST: &str = "/usr/share/datasets/fashion-mnist";
/// Seed of the fixed test split of data without one (CSV files), as for the digits.
pub const CSV_SPLIT_SEED: u64 = digits::SPLIT_SEED;
/// Fraction of a CSV file held out as its test set, as for the digits.
pub const CSV_TEST_FRACTION: f64 = digits::TEST_FRACTION;
/// Seed of the validation split: fixed, so every run (and every trial of a study) validates on
/// the same samples whatever its `--seed`.
pub const VAL_SPLIT_SEED: u64 = 0x7a1;

/// The cache folder: `override_dir` (`--cache`), else `$OPTIMLAB_CACHE`, else
/// `$XDG_CACHE_HOME/optimlab`, else `~/.cache/optimlab`. Not created here.
pub fn cache_dir(override_dir: Option<&Path>) -> Result<PathBuf, DataError> {
    if let Some(d) = override_dir {
        return Ok(d.to_path_buf());
    }
    let env = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    if let Some(d) = env("OPTIMLAB_CACHE") {
        return Ok(d);
    }
    if let Some(d) = env("XDG_CACHE_HOME") {
        return Ok(d.join("optimlab"));
    }
    if let Some(d) = env("HOME") {
        return Ok(d.join(".cache").join("optimlab"));
    }
    Err(DataError::Config {
        flag: "--cache".into(),
        value: "(unset)".into(),
        problem:
            "no cache folder: set --cache DIR or $OPTIMLAB_CACHE (no $XDG_CACHE_HOME or $HOME)"
                .into(),
    })
}

/// A data source, as named by `--data`.
#[derive(Clone, Debug, PartialEq)]
pub enum DataSource {
    /// `digits`: the embedded 8×8 digits (the default), split 80/20 with a fixed seed.
    Digits,
    /// `fashion-mnist`: Debian's copy in `system_dir`, else `cache_dir/fashion-mnist`.
    FashionMnist {
        system_dir: PathBuf,
        cache_dir: PathBuf,
    },
    /// `mnist`: `cache_dir/mnist` (see `optimlab data download mnist`).
    Mnist { cache_dir: PathBuf },
    /// A folder holding the four MNIST-format files (raw or `.gz`).
    Folder(PathBuf),
    /// A CSV file: label column + features; 20 % held out as test with a fixed seed.
    Csv {
        path: PathBuf,
        label: LabelColumn,
        header: CsvHeader,
    },
}

impl DataSource {
    /// Parses a `--data` value. The names `digits`, `fashion-mnist` and `mnist` win over
    /// folders of the same name (write `./mnist` for a folder). Any other value is a path: an
    /// existing folder is an MNIST-format folder, a `.csv` name or an existing file a CSV file.
    /// `cache` is the cache folder (see [`cache_dir`]); `label` applies to CSV files only.
    pub fn parse(data: &str, label: Option<&str>, cache: &Path) -> Result<DataSource, DataError> {
        let source = match data {
            "digits" => DataSource::Digits,
            "fashion-mnist" => DataSource::FashionMnist {
                system_dir: SYSTEM_FASHION_MNIST.into(),
                cache_dir: cache.to_path_buf(),
            },
            "mnist" => DataSource::Mnist {
                cache_dir: cache.to_path_buf(),
            },
            "" => {
                return Err(DataError::Config {
                    flag: "--data".into(),
                    value: "''".into(),
                    problem: "empty; expected digits, fashion-mnist, mnist, a folder of MNIST-format files or a .csv file".into(),
                });
            }
            path => {
                let p = PathBuf::from(path);
                let is_csv = p.extension().is_some_and(|e| e.eq_ignore_ascii_case("csv"));
                if p.is_dir() {
                    DataSource::Folder(p)
                } else if is_csv || p.is_file() {
                    DataSource::Csv {
                        path: p,
                        label: label.map(LabelColumn::parse).unwrap_or_default(),
                        header: CsvHeader::Auto,
                    }
                } else {
                    return Err(DataError::Missing {
                        path: path.into(),
                        hint: "--data takes digits, fashion-mnist, mnist, a folder of MNIST-format files or a .csv file".into(),
                    });
                }
            }
        };
        if let (Some(l), false) = (label, matches!(source, DataSource::Csv { .. })) {
            return Err(DataError::Config {
                flag: "--label-column".into(),
                value: l.into(),
                problem: format!("applies to CSV files only, and --data {data} is not one"),
            });
        }
        Ok(source)
    }

    /// A short name for messages and data-set names.
    pub fn name(&self) -> String {
        match self {
            DataSource::Digits => "digits".into(),
            DataSource::FashionMnist { .. } => "fashion-mnist".into(),
            DataSource::Mnist { .. } => "mnist".into(),
            DataSource::Folder(p) => p.display().to_string(),
            DataSource::Csv { path, .. } => path.display().to_string(),
        }
    }

    /// The class count of a named data set: 10 for `digits`, `mnist` and `fashion-mnist`, so a
    /// stray label in their files is an error rather than a wider network. `None` for folders
    /// and CSV files, whose labels tell it.
    pub fn known_classes(&self) -> Option<usize> {
        match self {
            DataSource::Digits | DataSource::FashionMnist { .. } | DataSource::Mnist { .. } => {
                Some(10)
            }
            DataSource::Folder(_) | DataSource::Csv { .. } => None,
        }
    }

    /// The folder an MNIST-format source is read from (the first that holds all four files),
    /// or the error saying where it looked and how to get it.
    pub fn folder(&self) -> Result<Option<PathBuf>, DataError> {
        match self {
            DataSource::Digits | DataSource::Csv { .. } => Ok(None),
            DataSource::Folder(p) => Ok(Some(p.clone())),
            DataSource::FashionMnist {
                system_dir,
                cache_dir,
            } => {
                let cached = cache_dir.join("fashion-mnist");
                [system_dir.clone(), cached.clone()]
                    .into_iter()
                    .find(|d| idx::is_mnist_folder(d))
                    .map(Some)
                    .ok_or_else(|| DataError::Missing {
                        path: format!(
                            "fashion-mnist: {} and {}",
                            system_dir.display(),
                            cached.display()
                        ),
                        hint: "install it with `apt-get install dataset-fashion-mnist` or `optimlab data download fashion-mnist`".into(),
                    })
            }
            DataSource::Mnist { cache_dir } => {
                let cached = cache_dir.join("mnist");
                if idx::is_mnist_folder(&cached) {
                    Ok(Some(cached))
                } else {
                    Err(DataError::Missing {
                        path: format!("mnist: {}", cached.display()),
                        hint: "get it with `optimlab data download mnist`".into(),
                    })
                }
            }
        }
    }

    /// Loads the (train, test) sets.
    pub fn load(&self) -> Result<(Dataset, Dataset), DataError> {
        match self {
            DataSource::Digits => digits::train_test(),
            DataSource::Csv {
                path,
                label,
                header,
            } => {
                let all = csv::load_with(path, label, *header)?;
                let (mut train, mut test) = all.split(CSV_TEST_FRACTION, CSV_SPLIT_SEED);
                if train.is_empty() || test.is_empty() {
                    return Err(DataError::invalid(
                        path.display(),
                        format!(
                            "{} samples are too few to hold out {} % as a test set",
                            all.len(),
                            CSV_TEST_FRACTION * 100.0
                        ),
                    ));
                }
                train.name = format!("{}/train", all.name);
                test.name = format!("{}/test", all.name);
                Ok((train, test))
            }
            _ => {
                let dir = self.folder()?.expect("an MNIST-format source has a folder");
                idx::load_folder(&dir, &self.name())
            }
        }
    }
}

/// The data flags of `train`, `eval` and `data info`, resolved by [`DataConfig::prepare`].
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// `--data`: `digits` (default), `fashion-mnist`, `mnist`, a folder or a `.csv` file.
    pub data: String,
    /// `--label-column` (CSV only): `last` (default), `first`, a 0-based index or a header name.
    pub label_column: Option<String>,
    /// `--val-fraction` in [0, 1): the part of the training set (after `train_limit`) held out
    /// for validation, chosen with a fixed seed; 0 means no validation set.
    pub val_fraction: f64,
    /// `--train-limit N`: only the first N training samples (the book's "first 300 images").
    pub train_limit: Option<usize>,
    /// `--test-limit N`: only the first N test samples.
    pub test_limit: Option<usize>,
    /// `--cache DIR`: overrides the cache folder (see [`cache_dir`]).
    pub cache: Option<PathBuf>,
    /// `--header` (CSV only): whether the first row is a header (default: detected).
    pub header: CsvHeader,
    /// `--classes N`: the class count, when the labels do not show it; a label ≥ N is an
    /// error. Unset: 10 for the named sets (`digits`, `mnist`, `fashion-mnist`, see
    /// [`DataSource::known_classes`]); else the largest label + 1, refused when most of those classes have no
    /// sample (a stray 255 or 9999 among labels 0–9).
    pub classes: Option<usize>,
}

impl Default for DataConfig {
    fn default() -> Self {
        DataConfig {
            data: "digits".into(),
            label_column: None,
            val_fraction: 0.0,
            train_limit: None,
            test_limit: None,
            cache: None,
            header: CsvHeader::Auto,
            classes: None,
        }
    }
}

/// Training, optional validation and test sets.
#[derive(Clone, Debug, PartialEq)]
pub struct Splits {
    pub train: Dataset,
    pub val: Option<Dataset>,
    pub test: Dataset,
}

impl Splits {
    /// Features per sample (the same in every split).
    pub fn dim(&self) -> usize {
        self.train.dim
    }
    /// Classes (the same in every split).
    pub fn classes(&self) -> usize {
        self.train.classes
    }
}

impl DataConfig {
    /// The data source these flags name.
    pub fn source(&self) -> Result<DataSource, DataError> {
        let cache = cache_dir(self.cache.as_deref())?;
        let mut source = DataSource::parse(&self.data, self.label_column.as_deref(), &cache)?;
        if let DataSource::Csv { header, .. } = &mut source {
            *header = self.header;
        }
        Ok(source)
    }

    /// The class count of `train` and `test` (see [`DataConfig::classes`]); `known` is the
    /// count and name of a named data set, used when `--classes` is unset.
    fn check_classes(
        &self,
        train: &Dataset,
        test: &Dataset,
        known: Option<(usize, String)>,
    ) -> Result<usize, DataError> {
        let labels = || train.labels.iter().chain(&test.labels).copied();
        let Some(max) = labels().max() else {
            return Ok(self
                .classes
                .or(known.map(|(n, _)| n))
                .unwrap_or(train.classes));
        };
        if let (None, Some((n, name))) = (self.classes, &known) {
            let stray = [train, test].into_iter().find_map(|set| {
                let i = set.labels.iter().position(|&l| l >= *n)?;
                Some((&set.name, i, set.labels[i]))
            });
            if let Some((set, i, bad)) = stray {
                return Err(DataError::invalid(
                    set,
                    format!(
                        "sample {i} has label {bad}, but {name} has {n} classes (labels 0..{}); a corrupt file? (--classes N to allow more)",
                        n - 1
                    ),
                ));
            }
            return Ok(*n);
        }
        if let Some(n) = self.classes {
            if n == 0 || max >= n {
                let (set, i) = train
                    .labels
                    .iter()
                    .position(|&l| l >= n)
                    .map(|i| (&train.name, i))
                    .or_else(|| {
                        test.labels
                            .iter()
                            .position(|&l| l >= n)
                            .map(|i| (&test.name, i))
                    })
                    .unwrap_or((&train.name, 0));
                return Err(DataError::Config {
                    flag: "--classes".into(),
                    value: n.to_string(),
                    problem: format!("sample {i} of {set} has label {max}, not below {n}"),
                });
            }
            return Ok(n);
        }
        let mut seen = vec![false; max + 1];
        labels().for_each(|l| seen[l] = true);
        let empty = seen.iter().filter(|s| !**s).count();
        if empty * 2 > max + 1 {
            let (set, i) = train
                .labels
                .iter()
                .position(|&l| l == max)
                .map(|i| (&train.name, i))
                .or_else(|| {
                    test.labels
                        .iter()
                        .position(|&l| l == max)
                        .map(|i| (&test.name, i))
                })
                .unwrap_or((&train.name, 0));
            return Err(DataError::invalid(
                set,
                format!(
                    "sample {i} has label {max}, which makes {} classes of which {empty} have no sample; a stray label? (--classes {} if intended)",
                    max + 1,
                    max + 1
                ),
            ));
        }
        // A loader may know more classes than the labels show (digits: 10).
        Ok(train.classes.max(test.classes).max(max + 1))
    }

    /// Checks the numeric flags without loading anything.
    pub fn check(&self) -> Result<(), DataError> {
        let bad = |flag: &str, value: String, problem: &str| DataError::Config {
            flag: flag.into(),
            value,
            problem: problem.into(),
        };
        if !(self.val_fraction >= 0.0 && self.val_fraction < 1.0) {
            return Err(bad(
                "--val-fraction",
                self.val_fraction.to_string(),
                "must be in [0, 1) (0: no validation set)",
            ));
        }
        if self.train_limit == Some(0) {
            return Err(bad("--train-limit", "0".into(), "must be at least 1"));
        }
        if self.test_limit == Some(0) {
            return Err(bad("--test-limit", "0".into(), "must be at least 1"));
        }
        Ok(())
    }

    /// Loads the data, keeps the first `train_limit` training and `test_limit` test samples,
    /// then holds out `val_fraction` of the (limited) training set for validation — the book's
    /// order: `x_train[:N]`, then a shuffled 20 % as validation. The test set is never touched
    /// by the validation split.
    pub fn prepare(&self) -> Result<Splits, DataError> {
        self.check()?;
        let source = self.source()?;
        let (train, test) = source.load()?;
        let known = source.known_classes().map(|n| (n, source.name()));
        self.split_known(train, test, known)
    }

    /// [`prepare`](Self::prepare) on already loaded (train, test) sets.
    pub fn split(&self, train: Dataset, test: Dataset) -> Result<Splits, DataError> {
        self.split_known(train, test, None)
    }

    fn split_known(
        &self,
        mut train: Dataset,
        mut test: Dataset,
        known: Option<(usize, String)>,
    ) -> Result<Splits, DataError> {
        self.check()?;
        let classes = self.check_classes(&train, &test, known)?;
        train.classes = classes;
        test.classes = classes;
        let limit = |d: Dataset, n: Option<usize>| match n {
            Some(n) if n < d.len() => {
                let mut t = d.take(n);
                t.name = d.name;
                t
            }
            _ => d,
        };
        let train = limit(train, self.train_limit);
        let test = limit(test, self.test_limit);
        if self.val_fraction == 0.0 {
            return Ok(Splits {
                train,
                val: None,
                test,
            });
        }
        let (mut rest, mut val) = train.split(self.val_fraction, VAL_SPLIT_SEED);
        if val.is_empty() || rest.is_empty() {
            return Err(DataError::Config {
                flag: "--val-fraction".into(),
                value: self.val_fraction.to_string(),
                problem: format!(
                    "of {} training samples leaves {} for validation and {} for training; both need at least 1",
                    train.len(),
                    val.len(),
                    rest.len()
                ),
            });
        }
        let base = train.name.strip_suffix("/train").unwrap_or(&train.name);
        val.name = format!("{base}/val");
        rest.name = train.name.clone();
        Ok(Splits {
            train: rest,
            val: Some(val),
            test,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_to_sources() {
        let cache = Path::new("/nonexistent-cache");
        assert_eq!(
            DataSource::parse("digits", None, cache).unwrap(),
            DataSource::Digits
        );
        assert!(matches!(
            DataSource::parse("mnist", None, cache).unwrap(),
            DataSource::Mnist { .. }
        ));
        assert!(matches!(
            DataSource::parse("x.CSV", Some("2"), cache).unwrap(),
            DataSource::Csv {
                label: LabelColumn::Index(2),
                ..
            }
        ));
        let e = DataSource::parse("digits", Some("2"), cache)
            .unwrap_err()
            .to_string();
        assert!(e.contains("CSV files only"), "{e}");
        let e = DataSource::parse("/no/such/thing", None, cache)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("/no/such/thing: not found"), "{e}");
    }

    #[test]
    fn mnist_missing_says_how_to_get_it() {
        let e = DataSource::Mnist {
            cache_dir: "/nonexistent-cache".into(),
        }
        .load()
        .unwrap_err()
        .to_string();
        assert!(e.contains("/nonexistent-cache/mnist"), "{e}");
        assert!(e.contains("optimlab data download mnist"), "{e}");
    }

    #[test]
    fn flags_are_checked() {
        for v in [-0.1, 1.0, f64::NAN] {
            let c = DataConfig {
                val_fraction: v,
                ..DataConfig::default()
            };
            assert!(
                c.check()
                    .unwrap_err()
                    .to_string()
                    .starts_with("--val-fraction")
            );
        }
        let c = DataConfig {
            train_limit: Some(0),
            ..DataConfig::default()
        };
        assert!(c.prepare().is_err());
    }

    #[test]
    fn digits_with_limits_and_validation() {
        let c = DataConfig {
            val_fraction: 0.2,
            train_limit: Some(500),
            test_limit: Some(100),
            ..DataConfig::default()
        };
        let s = c.prepare().unwrap();
        assert_eq!(s.train.len(), 400);
        assert_eq!(s.val.as_ref().unwrap().len(), 100);
        assert_eq!(s.test.len(), 100);
        let (train, test) = digits::train_test().unwrap();
        assert_eq!(s.test.labels, test.labels[..100]);
        // Validation and training samples come from the first 500 training samples only.
        let first = train.take(500);
        let mut all: Vec<usize> = s.train.labels.clone();
        all.extend(&s.val.as_ref().unwrap().labels);
        all.sort();
        let mut want = first.labels.clone();
        want.sort();
        assert_eq!(all, want);
        // The same flags give the same split.
        assert_eq!(c.prepare().unwrap(), s);
    }
}
