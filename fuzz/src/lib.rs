//! What each fuzz target does with its input. Shared by the libFuzzer targets
//! (`fuzz_targets/*.rs`) and by the ordinary test suite, which replays the seed corpus and every
//! input that once crashed (`crates/optimlab/tests/fuzz_regressions.rs` includes this file).
//!
//! Each function feeds the bytes to the library's real reader and returns whether it accepted
//! them. An error is a fine outcome; a panic, an abort, an out-of-memory or a hang is a bug.
//! When a reader accepts the input, the function also checks what it returned (shapes agree, a
//! written config reads back), so that a reader which accepts garbage and fails later is caught
//! here too.

use optimlab::data::csv::{self, CsvHeader, LabelColumn};
use optimlab::data::{Dataset, Features, idx};
use optimlab::train::checkpoint;
use optimlab::train::{Model, RunConfig};
use optimlab::tune::Storage;
use optimlab::tune::space::{Space, SpaceFile, spaced_grid};
use optimlab::tune::storage::journal::JournalStorage;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// A target: feeds the input to a reader, returns whether the reader accepted it.
pub type Target = fn(&[u8]) -> bool;

/// Every target by name, as `scripts/fuzz.sh` and the replay tests know them.
pub const TARGETS: &[(&str, Target)] = &[
    ("idx", idx),
    ("idx_gz", idx_gz),
    ("csv", csv),
    ("model", model),
    ("model_config", model_config),
    ("checkpoint", checkpoint),
    ("run_config", run_config),
    ("tune_space", tune_space),
    ("journal", journal),
];

/// An IDX file as it is on disk (raw, or gzip when it starts with `1f 8b`), read as images and
/// as labels.
pub fn idx(data: &[u8]) -> bool {
    let images = idx::parse_images(data, "fuzz");
    if let Ok(img) = &images {
        assert_eq!(img.pixels.len(), img.count * img.rows * img.cols);
    }
    let labels = idx::parse_labels(data, "fuzz");
    images.is_ok() || labels.is_ok()
}

/// The input as the content of a valid gzip stream: the gzip path must agree with the raw one.
pub fn idx_gz(data: &[u8]) -> bool {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    enc.write_all(data).expect("gzip into memory");
    let gz = enc.finish().expect("gzip into memory");
    let raw = idx::parse_images(data, "fuzz");
    let unzipped = idx::parse_images(&gz, "fuzz");
    match (&raw, &unzipped) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (Err(_), Err(_)) => {}
        // A raw file that starts with the gzip magic is read as gzip: no comparison then.
        _ if data.starts_with(&[0x1f, 0x8b]) => {}
        _ => panic!("raw and gzip disagree: {raw:?} vs {unzipped:?}"),
    }
    let raw_labels = idx::parse_labels(data, "fuzz").ok();
    let unzipped_labels = idx::parse_labels(&gz, "fuzz").ok();
    if !data.starts_with(&[0x1f, 0x8b]) {
        assert_eq!(raw_labels, unzipped_labels, "raw and gzip labels disagree");
    }
    unzipped.is_ok() || unzipped_labels.is_some()
}

/// CSV text; the first byte picks the header mode and the label column.
pub fn csv(data: &[u8]) -> bool {
    let Some((&mode, rest)) = data.split_first() else {
        return false;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return false;
    };
    let header = [CsvHeader::Auto, CsvHeader::Yes, CsvHeader::No][mode as usize % 3];
    let label = match (mode / 3) % 4 {
        0 => LabelColumn::Last,
        1 => LabelColumn::Index(0),
        2 => LabelColumn::Index(1),
        _ => LabelColumn::Name("label".into()),
    };
    let Ok(ds) = csv::parse_with(text, &label, header, "fuzz.csv") else {
        return false;
    };
    ds.validate()
        .expect("a parsed CSV is a consistent data set");
    assert!(!ds.is_empty() && ds.dim >= 1);
    true
}

/// A model file (`model.safetensors`); a model that loads must evaluate and predict.
pub fn model(data: &[u8]) -> bool {
    let Ok(mut m) = Model::from_bytes(data, "fuzz.safetensors") else {
        return false;
    };
    let (dim, classes) = (m.input_size(), m.output_size());
    let set = Dataset {
        name: "zeros".into(),
        features: Features::F32(vec![0.0; 2 * dim]),
        labels: vec![0, classes - 1],
        dim,
        classes,
    };
    let e = m.evaluate(&set).expect("a loaded model evaluates");
    assert_eq!(e.samples, 2);
    let p = m.predict(&set).expect("a loaded model predicts");
    assert_eq!(p.len(), 2);
    assert!(p.iter().all(|row| row.len() == classes));
    true
}

/// The tensors of a real model file (the first model seed).
const MODEL_SEED: &[u8] = include_bytes!("../seeds/model/model.safetensors");

/// A model file whose `config` metadata is the input (TOML) and whose tensors are those of a
/// real 64-16-10 model: explores what a configuration makes the loader build, which byte
/// mutations of a whole file rarely reach (the header's length must stay consistent).
pub fn model_config(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let n = u64::from_le_bytes(MODEL_SEED[..8].try_into().expect("8 bytes")) as usize;
    let mut header: serde_json::Value =
        serde_json::from_slice(&MODEL_SEED[8..8 + n]).expect("the seed's header");
    header["__metadata__"]["config"] = serde_json::Value::String(text.to_string());
    let mut json = serde_json::to_vec(&header).expect("JSON");
    json.resize(json.len().div_ceil(8) * 8, b' ');
    let mut file = (json.len() as u64).to_le_bytes().to_vec();
    file.extend_from_slice(&json);
    file.extend_from_slice(&MODEL_SEED[8 + n..]);
    model(&file)
}

/// A checkpoint, read to resume (both element types) and as initial weights.
pub fn checkpoint(data: &[u8]) -> bool {
    let path = Path::new("fuzz.safetensors");
    let resumable = checkpoint::load_from_bytes::<f32>(path, data).is_ok()
        | checkpoint::load_from_bytes::<f64>(path, data).is_ok();
    let Ok(w) = checkpoint::load_weights_from_bytes::<f32>(path, data) else {
        assert!(!resumable, "a checkpoint that resumes has readable weights");
        return false;
    };
    for t in w.tensors.values() {
        assert_eq!(t.values.len(), t.shape.iter().product::<usize>());
    }
    true
}

/// A run configuration (`train --config`); one that reads and resolves must write back as
/// TOML that reads back the same.
pub fn run_config(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let Ok(config) = RunConfig::from_toml_str(text, "fuzz.toml") else {
        return false;
    };
    if config.resolve().is_err() {
        return false;
    }
    let written = config.to_toml().expect("a resolved config writes as TOML");
    let back = RunConfig::from_toml_str(&written, "written")
        .unwrap_or_else(|e| panic!("written config does not read back: {e}\n{written}"));
    assert_eq!(
        back.to_toml().expect("writes again"),
        written,
        "config changed in a round trip"
    );
    true
}

/// A search-space file (`tune --space`).
pub fn tune_space(data: &[u8]) -> bool {
    let Ok(text) = std::str::from_utf8(data) else {
        return false;
    };
    let Ok(file) = SpaceFile::from_toml_str(text, "fuzz.toml") else {
        return false;
    };
    let json = file.space.to_json();
    let back = Space::from_json(&json)
        .unwrap_or_else(|e| panic!("a space does not read back from its JSON: {e}\n{json}"));
    assert_eq!(back.to_json(), json, "space changed in a JSON round trip");
    for p in &file.space.params {
        let _ = spaced_grid(&p.dist, 5);
    }
    let _ = RunConfig::from_table(file.train, "fuzz.toml [train]");
    true
}

/// A journal file (`journal:PATH`, Optuna's format), replayed by opening it.
pub fn journal(data: &[u8]) -> bool {
    static N: AtomicU64 = AtomicU64::new(0);
    let path = std::env::temp_dir().join(format!(
        "optimlab-fuzz-journal-{}-{}.log",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::write(&path, data).expect("write the journal to a temp file");
    let path_str = path.to_str().expect("temp path is UTF-8").to_string();
    let mut accepted = false;
    if let Ok(storage) = JournalStorage::open(&path_str)
        && let Ok(studies) = storage.studies()
    {
        accepted = studies.iter().all(|s| storage.trials(s.id).is_ok());
    }
    let _ = std::fs::remove_file(&path);
    accepted
}
