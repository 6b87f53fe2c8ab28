//! Export: `.npz` with the book's names (read back by the zip reader here and, when the peer
//! Python environment exists, by NumPy itself) and weights-only safetensors.

use optimlab::Preset;
use optimlab::nn::{BatchNormConfig, Mode, Network, NetworkConfig};
use optimlab::optim::OptimizerConfig;
use optimlab::tensor::{Matrix, Scalar};
use optimlab::train::{checkpoint, export};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

const PYTHON: &str = "/work/.venv-peers/bin/python";

struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("optimlab-{tag}-{}-{n}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// A trained 6-5-4-3 batch-norm network (running statistics are not at their start values).
fn trained<T: Scalar>() -> Network<T> {
    let mut cfg = NetworkConfig::new(Preset::Torch, 6, vec![5, 4], 3);
    cfg.batch_norm = Some(BatchNormConfig::preset(Preset::Torch));
    let mut net = Network::<T>::build(&cfg, 3).unwrap();
    let mut opt = OptimizerConfig::new("adam".parse().unwrap(), Preset::Torch)
        .build::<T>()
        .unwrap();
    let values: Vec<f64> = (0..8 * 6)
        .map(|i| ((i * 37 % 101) as f64 / 50.0) - 1.0)
        .collect();
    let x = Matrix::from_f64(8, 6, &values).unwrap();
    let labels: Vec<usize> = (0..8).map(|i| i % 3).collect();
    for _ in 0..3 {
        net.loss(&x, &labels, Mode::Train).unwrap();
        net.backward(&x, &labels).unwrap();
        opt.step(&mut net).unwrap();
    }
    net
}

/// (name, shape, values as f64) for each tensor.
fn tensors<T: Scalar>(net: &Network<T>) -> Vec<(String, Vec<usize>, Vec<f64>)> {
    let mut out = Vec::new();
    net.visit_tensors(&mut |name, shape, values| {
        out.push((
            name.to_string(),
            shape.to_vec(),
            values.iter().map(|v| v.as_f64()).collect(),
        ));
    });
    out
}

/// Parses one `.npy` v1.0 file: (descr, shape, data bytes).
fn parse_npy(bytes: &[u8]) -> (String, Vec<usize>, Vec<u8>) {
    assert_eq!(&bytes[..8], b"\x93NUMPY\x01\x00");
    let len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
    assert_eq!((10 + len) % 64, 0, "header aligned to 64 bytes");
    let header = std::str::from_utf8(&bytes[10..10 + len]).unwrap();
    assert!(header.ends_with('\n'));
    assert!(header.contains("'fortran_order': False"), "{header}");
    let descr = header.split("'descr': '").nth(1).unwrap()[..3].to_string();
    let dims = header.split("'shape': (").nth(1).unwrap();
    let dims = &dims[..dims.find(')').unwrap()];
    let shape = dims
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| d.parse().unwrap())
        .collect();
    (descr, shape, bytes[10 + len..].to_vec())
}

fn npz_matches<T: Scalar>() {
    let dir = TempDir::new("npz");
    let path = dir.0.join("model.npz");
    let net = trained::<T>();
    export::export_npz(&path, &net).unwrap();
    assert_eq!(
        fs::read_dir(&dir.0).unwrap().count(),
        1,
        "no temp file left"
    );

    let mut zip = zip::ZipArchive::new(fs::File::open(&path).unwrap()).unwrap();
    let expected = tensors(&net);
    assert_eq!(zip.len(), expected.len());
    let descr = if T::NAME == "f32" { "<f4" } else { "<f8" };
    for (name, shape, values) in &expected {
        let mut entry = zip.by_name(&format!("{name}.npy")).unwrap();
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        let (d, s, data) = parse_npy(&bytes);
        assert_eq!(d, descr, "{name}");
        assert_eq!(&s, shape, "{name}");
        let read: Vec<f64> = if T::NAME == "f32" {
            data.chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap()) as f64)
                .collect()
        } else {
            data.chunks_exact(8)
                .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
                .collect()
        };
        assert_eq!(&read, values, "{name}");
    }
    numpy_reads(
        &path,
        &expected,
        if T::NAME == "f32" {
            "float32"
        } else {
            "float64"
        },
    );
}

/// NumPy's own reader agrees (skipped, with a note, without the peer Python environment).
fn numpy_reads(path: &Path, expected: &[(String, Vec<usize>, Vec<f64>)], dtype: &str) {
    if !Path::new(PYTHON).exists() {
        eprintln!("note: {PYTHON} not found; NumPy check of the .npz skipped");
        return;
    }
    let script = "import json, sys, numpy as np\n\
                  d = np.load(sys.argv[1])\n\
                  print(json.dumps({k: [str(v.dtype), list(v.shape), [float(x).hex() for x in v.ravel()]] for k, v in d.items()}))";
    let out = std::process::Command::new(PYTHON)
        .args(["-c", script])
        .arg(path)
        .output()
        .unwrap();
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        if err.contains("No module named 'numpy'") {
            eprintln!("note: NumPy not installed for {PYTHON}; check skipped");
            return;
        }
        panic!("numpy failed: {err}");
    }
    let parsed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let map = parsed.as_object().unwrap();
    assert_eq!(map.len(), expected.len());
    for (name, shape, values) in expected {
        let entry = &map[name.as_str()];
        assert_eq!(entry[0], dtype, "{name}");
        let s: Vec<usize> = entry[1]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap() as usize)
            .collect();
        assert_eq!(&s, shape, "{name}");
        let v: Vec<f64> = entry[2]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| parse_hex_float(h.as_str().unwrap()))
            .collect();
        assert_eq!(&v, values, "{name}");
    }
}

/// Python's `float.hex()`: `[-]0x1.8000000000000p+1`, `0x0.0p+0`.
fn parse_hex_float(s: &str) -> f64 {
    let (sign, s) = match s.strip_prefix('-') {
        Some(rest) => (-1.0, rest),
        None => (1.0, s),
    };
    let s = s.strip_prefix("0x").unwrap();
    let (mantissa, exp) = s.split_once('p').unwrap();
    let (int, frac) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let mut bits: u64 = u64::from_str_radix(int, 16).unwrap();
    for c in frac.chars() {
        bits = (bits << 4) | c.to_digit(16).unwrap() as u64;
    }
    let exp: i32 = exp.parse::<i32>().unwrap() - 4 * frac.len() as i32;
    // Exact: `bits` has at most 53 significant bits and scaling by 2^exp is exact.
    sign * (bits as f64) * 2f64.powi(exp)
}

#[test]
fn npz_has_the_books_names_and_exact_values_f32() {
    npz_matches::<f32>();
}

#[test]
fn npz_has_the_books_names_and_exact_values_f64() {
    npz_matches::<f64>();
}

#[test]
fn npz_names_are_the_books() {
    let dir = TempDir::new("npz-names");
    let path = dir.0.join("model.npz");
    export::export_npz(&path, &trained::<f64>()).unwrap();
    let zip = zip::ZipArchive::new(fs::File::open(&path).unwrap()).unwrap();
    let mut names: Vec<&str> = zip.file_names().collect();
    names.sort();
    let mut expected = vec![
        "W1.npy",
        "b1.npy",
        "gamma1.npy",
        "beta1.npy",
        "running_mean1.npy",
        "running_var1.npy",
        "W2.npy",
        "b2.npy",
        "gamma2.npy",
        "beta2.npy",
        "running_mean2.npy",
        "running_var2.npy",
        "W3.npy",
        "b3.npy",
    ];
    expected.sort();
    assert_eq!(names, expected);
}

#[test]
fn exported_safetensors_reload_bitwise() {
    let dir = TempDir::new("export-st");
    let path = dir.0.join("weights.safetensors");
    let net = trained::<f32>();
    export::export_safetensors(&path, &net, Some(r#"{"hidden":[5,4]}"#)).unwrap();
    let w = checkpoint::load_weights::<f32>(&path).unwrap();
    assert_eq!(w.format(), Some(checkpoint::WEIGHTS_FORMAT));
    assert_eq!(w.config(), Some(r#"{"hidden":[5,4]}"#));
    assert_eq!(w.metadata["dtype"], "f32");
    let mut cfg = NetworkConfig::new(Preset::Torch, 6, vec![5, 4], 3);
    cfg.batch_norm = Some(BatchNormConfig::preset(Preset::Torch));
    let mut other = Network::<f32>::build(&cfg, 77).unwrap();
    w.apply_to_network(&mut other).unwrap();
    let bits = |n: &Network<f32>| -> Vec<u32> {
        let mut v = Vec::new();
        n.visit_tensors(&mut |_, _, x| v.extend(x.iter().map(|f| f.to_bits())));
        v
    };
    assert_eq!(bits(&other), bits(&net));
}
