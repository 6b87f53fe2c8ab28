//! Bad checkpoints fail with one line naming the file and the problem, and a failed write
//! never leaves a partial file under the final name.

use optimlab::Preset;
use optimlab::nn::{Network, NetworkConfig};
use optimlab::optim::OptimizerConfig;
use optimlab::tensor::Scalar;
use optimlab::train::checkpoint::{self, CheckpointError, CheckpointMeta};
use optimlab::train::export;
use safetensors::{Dtype, tensor::TensorView};
use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

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
    fn entries(&self) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn net<T: Scalar>(hidden: Vec<usize>) -> Network<T> {
    Network::build(&NetworkConfig::new(Preset::Torch, 6, hidden, 3), 1).unwrap()
}

fn saved(dir: &TempDir, name: &str) -> PathBuf {
    let path = dir.0.join(name);
    let n = net::<f32>(vec![5, 4]);
    let opt = OptimizerConfig::new("adam".parse().unwrap(), Preset::Torch)
        .build::<f32>()
        .unwrap();
    checkpoint::save(&path, &n, Some(&opt), &CheckpointMeta::default()).unwrap();
    path
}

/// A one-line message naming the file.
fn message(e: &CheckpointError, path: &Path) -> String {
    let m = e.to_string();
    eprintln!("{m}");
    assert!(!m.contains('\n'), "one line: {m}");
    assert!(
        m.contains(&path.display().to_string()),
        "names the file: {m}"
    );
    m
}

/// The network's tensors as a plain safetensors file, like one written by PyTorch
/// (`save_file({"W1": w1.T.contiguous(), ...})`): `dtype` elements, no metadata.
fn foreign_file<T: Scalar>(path: &Path, n: &Network<T>, dtype: Dtype) {
    let mut data: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    n.visit_tensors(&mut |name, shape, values| {
        let bytes: Vec<u8> = match dtype {
            Dtype::F32 => values
                .iter()
                .flat_map(|v| (v.as_f64() as f32).to_le_bytes())
                .collect(),
            _ => values
                .iter()
                .flat_map(|v| v.as_f64().to_le_bytes())
                .collect(),
        };
        data.push((name.to_string(), shape.to_vec(), bytes));
    });
    let views: Vec<(String, TensorView<'_>)> = data
        .iter()
        .map(|(n, s, b)| (n.clone(), TensorView::new(dtype, s.clone(), b).unwrap()))
        .collect();
    fs::write(path, safetensors::serialize(views, None).unwrap()).unwrap();
}

#[test]
fn missing_file_is_named() {
    let dir = TempDir::new("missing");
    let path = dir.0.join("nope.safetensors");
    let e = checkpoint::load::<f32>(&path).unwrap_err();
    assert!(matches!(e, CheckpointError::NotFound { .. }));
    assert!(message(&e, &path).contains("no such file"));
    assert!(checkpoint::load_weights::<f32>(&path).is_err());
}

#[test]
fn truncated_and_garbage_files_are_corrupt() {
    let dir = TempDir::new("corrupt");
    let path = saved(&dir, "ck.safetensors");
    let bytes = fs::read(&path).unwrap();
    for (name, content) in [
        ("truncated.safetensors", bytes[..bytes.len() / 2].to_vec()),
        ("short-tail.safetensors", bytes[..bytes.len() - 1].to_vec()),
        ("header-only.safetensors", bytes[..5].to_vec()),
        ("empty.safetensors", Vec::new()),
        (
            "garbage.safetensors",
            (0..1000u32).map(|i| (i * 7919 % 251) as u8).collect(),
        ),
        (
            "text.safetensors",
            b"hello, world, this is not a model".to_vec(),
        ),
    ] {
        let p = dir.0.join(name);
        fs::write(&p, content).unwrap();
        let e = checkpoint::load::<f32>(&p).unwrap_err();
        assert!(
            matches!(e, CheckpointError::Corrupt { .. }),
            "{name}: {e:?}"
        );
        assert!(message(&e, &p).contains("not a safetensors file, or corrupt"));
        let e = checkpoint::load_weights::<f32>(&p).unwrap_err();
        assert!(
            matches!(e, CheckpointError::Corrupt { .. }),
            "{name}: {e:?}"
        );
    }
}

#[test]
fn foreign_safetensors_cannot_resume_but_serves_as_initial_weights() {
    let dir = TempDir::new("foreign");
    let path = dir.0.join("torch.safetensors");
    let source = net::<f64>(vec![5, 4]);
    foreign_file(&path, &source, Dtype::F64);

    let e = checkpoint::load::<f64>(&path).unwrap_err();
    assert!(matches!(e, CheckpointError::Foreign { .. }), "{e:?}");
    let m = message(&e, &path);
    assert!(
        m.contains("not an optimlab checkpoint") && m.contains("format"),
        "{m}"
    );

    // As initial weights: same dtype bit for bit …
    let w = checkpoint::load_weights::<f64>(&path).unwrap();
    assert_eq!(w.format(), None);
    let mut target =
        Network::<f64>::build(&NetworkConfig::new(Preset::Torch, 6, vec![5, 4], 3), 9).unwrap();
    w.apply_to_network(&mut target).unwrap();
    let (mut a, mut b) = (Vec::new(), Vec::new());
    source.visit_tensors(&mut |_, _, v| a.extend(v.iter().map(|x| x.to_bits())));
    target.visit_tensors(&mut |_, _, v| b.extend(v.iter().map(|x| x.to_bits())));
    assert_eq!(a, b);

    // … and converted to f32 (rounded like `as f32`).
    let w = checkpoint::load_weights::<f32>(&path).unwrap();
    let mut target = net::<f32>(vec![5, 4]);
    w.apply_to_network(&mut target).unwrap();
    let mut c = Vec::new();
    target.visit_tensors(&mut |_, _, v| c.extend(v.iter().copied()));
    let mut expected = Vec::new();
    source.visit_tensors(&mut |_, _, v| expected.extend(v.iter().map(|&x| x as f32)));
    assert_eq!(c, expected);
}

#[test]
fn exported_weights_cannot_resume() {
    let dir = TempDir::new("exported");
    let path = dir.0.join("weights.safetensors");
    export::export_safetensors(&path, &net::<f32>(vec![5, 4]), Some("{}")).unwrap();
    let e = checkpoint::load::<f32>(&path).unwrap_err();
    assert!(matches!(e, CheckpointError::Foreign { .. }), "{e:?}");
    assert!(message(&e, &path).contains("exported weights"));
}

#[test]
fn dtype_mismatch_is_an_error_for_resume_and_converted_for_weights() {
    let dir = TempDir::new("dtype");
    let path = saved(&dir, "f32.safetensors");
    let e = checkpoint::load::<f64>(&path).unwrap_err();
    assert!(matches!(e, CheckpointError::DType { .. }), "{e:?}");
    let m = message(&e, &path);
    assert!(m.contains("f32") && m.contains("f64"), "{m}");

    let w32 = checkpoint::load_weights::<f32>(&path).unwrap();
    let w64 = checkpoint::load_weights::<f64>(&path).unwrap();
    for (name, t) in &w32.tensors {
        let widened: Vec<f64> = t.values.iter().map(|&v| v as f64).collect();
        assert_eq!(widened, w64.tensors[name].values, "{name}");
        assert_eq!(t.shape, w64.tensors[name].shape);
    }
    // Optimizer state stays out of the weights.
    assert!(w32.tensors.keys().all(|k| !k.starts_with("optim/")));
    let mut n = net::<f64>(vec![5, 4]);
    w64.apply_to_network(&mut n).unwrap();
}

#[test]
fn missing_and_misshaped_tensors_are_all_named() {
    let dir = TempDir::new("mismatch");
    let path = saved(&dir, "ck.safetensors"); // 6-5-4-3
    let ck = checkpoint::load::<f32>(&path).unwrap();

    // 6-5-3-3-3: W2 and b2 and W3 mis-shaped, W4/b4 missing.
    let mut deeper = net::<f32>(vec![5, 3, 3]);
    let before = {
        let mut v = Vec::new();
        deeper.visit_tensors(&mut |_, _, x| v.extend_from_slice(x));
        v
    };
    let e = ck.apply_to_network(&mut deeper).unwrap_err();
    let m = message(&e, &path);
    assert!(m.contains("missing W4, b4"), "{m}");
    assert!(m.contains("W2 (file [5, 4], network [5, 3])"), "{m}");
    assert!(m.contains("b2 (file [4], network [3])"), "{m}");
    assert!(m.contains("W3 (file [4, 3], network [3, 3])"), "{m}");
    let CheckpointError::Mismatch {
        missing, misshaped, ..
    } = &e
    else {
        panic!("{e:?}")
    };
    assert_eq!(missing, &["W4", "b4"]);
    assert_eq!(misshaped.len(), 3);
    // Nothing was copied.
    let mut after = Vec::new();
    deeper.visit_tensors(&mut |_, _, x| after.extend_from_slice(x));
    assert_eq!(before, after);

    // 6-5-3: the file's W3 and b3 are not in the network.
    let mut shallower = net::<f32>(vec![5]);
    let e = ck.apply_to_network(&mut shallower).unwrap_err();
    let m = message(&e, &path);
    assert!(m.contains("W2 (file [5, 4], network [5, 3])"), "{m}");
    assert!(m.contains("not in the network W3, b3"), "{m}");
}

#[test]
fn extra_tensors_are_an_error_unless_allowed() {
    let dir = TempDir::new("extra");
    let path = dir.0.join("extra.safetensors");
    // A file with one more tensor than the network, e.g. PyTorch's BN counter.
    let n = net::<f32>(vec![5, 4]);
    let mut data: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    n.visit_tensors(&mut |name, shape, values| {
        data.push((
            name.to_string(),
            shape.to_vec(),
            values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        ));
    });
    data.push((
        "num_batches_tracked".into(),
        vec![1],
        0f32.to_le_bytes().to_vec(),
    ));
    let views: Vec<(String, TensorView<'_>)> = data
        .iter()
        .map(|(n, s, b)| {
            (
                n.clone(),
                TensorView::new(Dtype::F32, s.clone(), b).unwrap(),
            )
        })
        .collect();
    fs::write(&path, safetensors::serialize(views, None).unwrap()).unwrap();

    let w = checkpoint::load_weights::<f32>(&path).unwrap();
    let mut target = net::<f32>(vec![5, 4]);
    let e = w.apply_to_network(&mut target).unwrap_err();
    assert!(message(&e, &path).contains("not in the network num_batches_tracked"));
    let ignored = w.apply_to_network_allowing_extra(&mut target).unwrap();
    assert_eq!(ignored, ["num_batches_tracked"]);
}

#[test]
fn unsupported_element_type_is_named() {
    let dir = TempDir::new("i32");
    let path = dir.0.join("ints.safetensors");
    let bytes = [0u8; 4 * 30];
    let view = TensorView::new(Dtype::I32, vec![6, 5], &bytes).unwrap();
    fs::write(&path, safetensors::serialize([("W1", view)], None).unwrap()).unwrap();
    let e = checkpoint::load_weights::<f32>(&path).unwrap_err();
    let m = message(&e, &path);
    assert!(m.contains("'W1'") && m.contains("I32"), "{m}");
}

/// A file with our format marker and the given metadata overrides.
fn with_metadata(path: &Path, overrides: &[(&str, &str)]) {
    let mut meta: HashMap<String, String> = [
        ("format", "optimlab-checkpoint"),
        ("version", "1"),
        ("dtype", "f32"),
        ("epoch", "1"),
        ("iter", "10"),
        ("config", "{}"),
        ("rngs", "{}"),
        ("extra", "{}"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for (k, v) in overrides {
        meta.insert(k.to_string(), v.to_string());
    }
    let bytes = [0u8; 4 * 3];
    let view = TensorView::new(Dtype::F32, vec![3], &bytes).unwrap();
    fs::write(
        path,
        safetensors::serialize([("b3", view)], Some(meta)).unwrap(),
    )
    .unwrap();
}

#[test]
fn bad_metadata_is_named() {
    let dir = TempDir::new("meta");
    for (key, value, expect) in [
        ("rngs", "{not json", "'rngs'"),
        ("rngs", r#"{"batches": 3}"#, "'rngs'"),
        ("optimizer", "[1, 2", "'optimizer'"),
        ("extra", "7", "'extra'"),
        ("epoch", "two", "'epoch'"),
        ("iter", "-1", "'iter'"),
        ("version", "99", "version 99"),
        ("format", "something-else", "format 'something-else'"),
    ] {
        let path = dir.0.join(format!("{key}.safetensors"));
        with_metadata(&path, &[(key, value)]);
        let e = checkpoint::load::<f32>(&path).unwrap_err();
        let m = message(&e, &path);
        assert!(m.contains(expect), "{key}={value}: {m}");
    }
    // The unmodified file loads.
    let path = dir.0.join("good.safetensors");
    with_metadata(&path, &[]);
    let ck = checkpoint::load::<f32>(&path).unwrap();
    assert_eq!((ck.meta.epoch, ck.meta.iter), (1, 10));
    assert!(ck.optimizer.is_none());
}

#[test]
fn failed_writes_keep_the_old_file_and_leave_no_temp_file() {
    let dir = TempDir::new("atomic");
    let path = saved(&dir, "ck.safetensors");
    let old = fs::read(&path).unwrap();

    // The writer fails half-way: the old file stays, no temp file is left.
    let e = checkpoint::write_atomic(&path, |w| {
        w.write_all(b"partial")?;
        Err(std::io::Error::other("disk on fire"))
    })
    .unwrap_err();
    assert_eq!(e.to_string(), "disk on fire");
    assert_eq!(fs::read(&path).unwrap(), old);
    assert_eq!(dir.entries(), ["ck.safetensors"]);

    // The final name is a non-empty folder: the rename fails after the temp file was written.
    let folder = dir.0.join("taken.safetensors");
    fs::create_dir(&folder).unwrap();
    fs::write(folder.join("inside"), b"keep").unwrap();
    let n = net::<f32>(vec![5, 4]);
    let e = checkpoint::save(&folder, &n, None, &CheckpointMeta::default()).unwrap_err();
    message(&e, &folder);
    assert_eq!(fs::read(folder.join("inside")).unwrap(), b"keep");
    assert_eq!(dir.entries(), ["ck.safetensors", "taken.safetensors"]);
    let e = export::export_npz(&folder, &n).unwrap_err();
    message(&e, &folder);
    assert_eq!(dir.entries(), ["ck.safetensors", "taken.safetensors"]);

    // The parent is a file: nothing can be created, the error names the path.
    let blocked = path.join("ck.safetensors");
    let e = checkpoint::save(&blocked, &n, None, &CheckpointMeta::default()).unwrap_err();
    assert!(message(&e, &blocked).contains("cannot write"));
    assert_eq!(fs::read(&path).unwrap(), old);
    assert_eq!(dir.entries(), ["ck.safetensors", "taken.safetensors"]);

    // The folder does not exist.
    let nowhere = dir.0.join("no-such-folder").join("ck.safetensors");
    let e = export::export_safetensors(&nowhere, &n, None).unwrap_err();
    assert!(message(&e, &nowhere).contains("cannot write"));
}

#[test]
fn non_finite_weights_are_refused_naming_the_tensor() {
    let dir = TempDir::new("nan");
    for (bad, shown) in [(f64::NAN, "NaN"), (f64::INFINITY, "inf")] {
        let path = dir.0.join("nan.safetensors");
        let mut n = net::<f64>(vec![5, 4]);
        use optimlab::nn::Parameters;
        n.visit_params(&mut |p| {
            if p.name == "b2" {
                p.value[3] = bad;
            }
        });
        foreign_file(&path, &n, Dtype::F64);
        let e = checkpoint::load_weights::<f64>(&path).unwrap_err();
        assert!(matches!(e, CheckpointError::NonFinite { .. }), "{e}");
        let m = message(&e, &path);
        assert!(m.contains("'b2'") && m.contains(shown), "{m}");
        // A resumable checkpoint is read the same way.
        let opt = OptimizerConfig::new("sgd".parse().unwrap(), Preset::Torch)
            .build::<f64>()
            .unwrap();
        checkpoint::save(&path, &n, Some(&opt), &CheckpointMeta::default()).unwrap();
        let e = checkpoint::load::<f64>(&path).unwrap_err();
        assert!(message(&e, &path).contains("'b2'"), "{e}");
    }
}
