//! The fuzz targets' inputs, replayed by the ordinary test suite (stable `cargo test`), through
//! the very functions the libFuzzer targets call (`fuzz/src/lib.rs`):
//! - every input that once made a target crash, hang or run out of memory
//!   (`tests/fixtures/fuzz/<target>/`), which must now be refused with an error;
//! - the seed corpus (`fuzz/seeds/<target>/`, written by `scripts/fuzz_seeds.py` from real
//!   files), which the readers must accept.
//!
//! See docs/fuzzing.md.

#[path = "../../../fuzz/src/lib.rs"]
mod targets;

use std::path::{Path, PathBuf};

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.expect("a directory entry").path())
            .filter(|p| p.is_file())
            .collect(),
        Err(_) => Vec::new(),
    };
    out.sort();
    out
}

/// Runs `f` on `input`, turning a panic into a message naming the file.
fn replay(target: &str, f: fn(&[u8]) -> bool, input: &Path) -> Result<bool, String> {
    let data = std::fs::read(input).expect("read the input");
    std::panic::catch_unwind(|| f(&data)).map_err(|p| {
        let msg = p
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| p.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        format!("{target}: {} panics: {msg}", input.display())
    })
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn every_crash_found_by_fuzzing_is_now_an_error() {
    let base = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/fuzz");
    let mut failures = Vec::new();
    let mut replayed = 0;
    for (target, f) in targets::TARGETS {
        for input in files(&base.join(target)) {
            replayed += 1;
            match replay(target, *f, &input) {
                Ok(false) => {}
                Ok(true) => failures.push(format!(
                    "{target}: {} is accepted; a crash input should be refused",
                    input.display()
                )),
                Err(e) => failures.push(e),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(replayed > 0, "no regression inputs in {}", base.display());
}

#[test]
fn the_seed_corpus_is_accepted_by_every_target() {
    let seeds = root().join("fuzz/seeds");
    let mut failures = Vec::new();
    for (target, f) in targets::TARGETS {
        let inputs = files(&seeds.join(target));
        if inputs.is_empty() {
            failures.push(format!(
                "{target}: no seeds in {} (python3 scripts/fuzz_seeds.py)",
                seeds.join(target).display()
            ));
        }
        for input in inputs {
            match replay(target, *f, &input) {
                Ok(true) => {}
                Ok(false) => {
                    failures.push(format!("{target}: the seed {} is refused", input.display()))
                }
                Err(e) => failures.push(e),
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The targets' own checks catch what they claim to: a file a reader refuses is `false`, a
/// valid one `true` (so the two tests above can fail).
#[test]
fn targets_tell_accepted_from_refused() {
    let images = optimlab::data::idx::encode(&[1, 2, 2], &[0, 1, 2, 3]);
    assert!(targets::idx(&images));
    assert!(targets::idx_gz(&images));
    assert!(!targets::idx(&images[..images.len() - 1]));
    assert!(targets::csv(b"\x00x,label\n0.5,1\n"));
    assert!(!targets::csv(b"\x00x,label\n0.5,-1\n"));
    assert!(!targets::model(b"not a safetensors file"));
    assert!(!targets::checkpoint(&[0xff; 16]));
    assert!(targets::run_config(b"hidden = [8]\nepochs = 1\n"));
    assert!(!targets::run_config(b"hiden = [8]\n"));
    assert!(targets::tune_space(
        b"[params]\nlr = { type = \"float\", low = 0.001, high = 0.1, log = true }\n"
    ));
    assert!(!targets::tune_space(b"[params]\nlr = 3\n"));
    assert!(targets::journal(b""));
    assert!(!targets::journal(b"{\"op_code\": 99}\n"));
}

/// The model whose metadata claims a 64-8000000-10 network for the tensors of a 64-16-10 one
/// is refused before the network is built: building it first allocated gigabytes (an
/// out-of-memory under the fuzzer's 2 GiB limit) and only then failed on the shapes.
#[test]
fn a_model_configuration_larger_than_its_tensors_is_refused_before_allocating() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/fuzz/model/config-claims-8000000-hidden-units");
    let bytes = std::fs::read(&path).unwrap();
    let e = optimlab::train::Model::from_bytes(&bytes, &path)
        .err()
        .expect("refused")
        .to_string();
    assert!(
        e.contains("describes a network of 616000010 parameters (layers 64-8000000-10)")
            && e.contains("the file holds"),
        "{e}"
    );
}
