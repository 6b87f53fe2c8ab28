//! Checkpoints round-trip bit for bit: tensors, optimizer state, random streams and metadata,
//! so that a resumed run continues exactly as an uninterrupted one.

use optimlab::Preset;
use optimlab::nn::{BatchNormConfig, DropoutConfig, DropoutStyle, Mode, Network, NetworkConfig};
use optimlab::optim::{OPTIMIZER_NAMES, Optimizer, OptimizerConfig};
use optimlab::rng::{self, Purpose};
use optimlab::tensor::{Matrix, Scalar};
use optimlab::train::checkpoint::{self, CheckpointMeta};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// A fresh folder under the system temp folder, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(tag: &str) -> Self {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("optimlab-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn config(batch_norm: bool, dropout: bool) -> NetworkConfig {
    let mut c = NetworkConfig::new(Preset::Torch, 6, vec![5, 4], 3);
    if batch_norm {
        c.batch_norm = Some(BatchNormConfig::preset(Preset::Torch));
    }
    if dropout {
        c.dropout = Some(DropoutConfig {
            p: 0.3,
            style: DropoutStyle::preset(Preset::Torch),
        });
    }
    c
}

/// A fixed batch of 8 samples.
fn batch<T: Scalar>(k: usize) -> (Matrix<T>, Vec<usize>) {
    let values: Vec<f64> = (0..8 * 6)
        .map(|i| (((i + 7 * k) * 37 % 101) as f64 / 50.0) - 1.0)
        .collect();
    let x = Matrix::from_f64(8, 6, &values).unwrap();
    let labels = (0..8).map(|i| (i + k) % 3).collect();
    (x, labels)
}

fn train<T: Scalar>(net: &mut Network<T>, opt: &mut Optimizer<T>, from: usize, steps: usize) {
    for k in from..from + steps {
        let (x, labels) = batch::<T>(k);
        net.loss(&x, &labels, Mode::Train).unwrap();
        net.backward(&x, &labels).unwrap();
        opt.step(net).unwrap();
    }
}

/// Every tensor of the network as (name, shape, bit patterns).
fn bits<T: Scalar>(net: &Network<T>) -> Vec<(String, Vec<usize>, Vec<u64>)> {
    let mut out = Vec::new();
    net.visit_tensors(&mut |name, shape, values| {
        out.push((
            name.to_string(),
            shape.to_vec(),
            values.iter().map(|v| v.as_f64().to_bits()).collect(),
        ));
    });
    out
}

fn meta_of<T: Scalar>(net: &mut Network<T>) -> CheckpointMeta {
    let mut rngs = checkpoint::network_rngs(net);
    rngs.insert("batches".into(), rng::stream(3, Purpose::Batches));
    CheckpointMeta {
        epoch: 2,
        iter: 5,
        config: r#"{"hidden":[5,4],"lr":0.001}"#.into(),
        scheduler: Some(r#"{"kind":"step"}"#.into()),
        rngs,
        extra: BTreeMap::from([("note".to_string(), "hello".to_string())]),
    }
}

fn save_load_apply<T: Scalar>() {
    let dir = TempDir::new("roundtrip");
    let path = dir.0.join("model.safetensors");
    let mut net = Network::<T>::build(&config(true, true), 1).unwrap();
    let mut opt = OptimizerConfig::new("adam".parse().unwrap(), Preset::Torch)
        .build::<T>()
        .unwrap();
    train(&mut net, &mut opt, 0, 3); // non-trivial weights and running statistics
    let meta = meta_of(&mut net);
    checkpoint::save(&path, &net, Some(&opt), &meta).unwrap();

    let ck = checkpoint::load::<T>(&path).unwrap();
    assert_eq!(ck.meta, meta);
    assert_eq!(ck.optimizer.as_ref().unwrap(), &opt.state());
    let mut other = Network::<T>::build(&config(true, true), 99).unwrap();
    assert_ne!(bits(&other), bits(&net));
    ck.apply_to_network(&mut other).unwrap();
    assert_eq!(bits(&other), bits(&net));
    let names: Vec<String> = bits(&net).into_iter().map(|(n, _, _)| n).collect();
    for expected in [
        "W1",
        "b1",
        "gamma1",
        "beta1",
        "running_mean1",
        "running_var1",
        "W3",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected} in {names:?}"
        );
    }

    // The lenient reader gives the same tensors.
    let w = checkpoint::load_weights::<T>(&path).unwrap();
    assert_eq!(w.tensors, ck.weights.tensors);
    assert_eq!(w.format(), Some(checkpoint::FORMAT));
    assert_eq!(w.config(), Some(meta.config.as_str()));
}

#[test]
fn save_load_apply_is_bitwise_f32() {
    save_load_apply::<f32>();
}

#[test]
fn save_load_apply_is_bitwise_f64() {
    save_load_apply::<f64>();
}

/// `total` steps straight vs `split` steps, checkpoint, fresh objects, `total − split` more.
fn resume_matches<T: Scalar>(optimizer: &str, dropout: bool) {
    let (split, total) = (4, 9);
    let cfg = config(true, dropout);
    let opt_cfg = OptimizerConfig::new(optimizer.parse().unwrap(), Preset::Torch);

    let mut straight = Network::<T>::build(&cfg, 7).unwrap();
    let mut opt = opt_cfg.build::<T>().unwrap();
    train(&mut straight, &mut opt, 0, total);

    let dir = TempDir::new("resume");
    let path = dir.0.join("ck.safetensors");
    {
        let mut net = Network::<T>::build(&cfg, 7).unwrap();
        let mut opt = opt_cfg.build::<T>().unwrap();
        train(&mut net, &mut opt, 0, split);
        let meta = CheckpointMeta {
            iter: split as u64,
            rngs: checkpoint::network_rngs(&mut net),
            ..CheckpointMeta::default()
        };
        checkpoint::save(&path, &net, Some(&opt), &meta).unwrap();
    }
    let ck = checkpoint::load::<T>(&path).unwrap();
    let mut net = Network::<T>::build(&cfg, 12345).unwrap();
    let mut opt = opt_cfg.build::<T>().unwrap();
    ck.apply_to_network(&mut net).unwrap();
    ck.restore_network_rngs(&mut net).unwrap();
    opt.load_state(&mut net, ck.optimizer.as_ref().unwrap())
        .unwrap();
    train(&mut net, &mut opt, split, total - split);
    assert_eq!(
        bits(&net),
        bits(&straight),
        "{optimizer} ({}) resumed differs",
        T::NAME
    );
}

#[test]
fn adam_resume_is_bit_identical_f32() {
    resume_matches::<f32>("adam", false);
}

#[test]
fn adam_resume_is_bit_identical_f64() {
    resume_matches::<f64>("adam", false);
}

#[test]
fn every_optimizer_resumes_bit_identically() {
    for name in OPTIMIZER_NAMES {
        resume_matches::<f32>(name, false);
        resume_matches::<f64>(name, false);
    }
}

#[test]
fn dropout_streams_resume_bit_identically() {
    resume_matches::<f32>("adam", true);
    resume_matches::<f64>("sgd", true);
}

#[test]
fn without_the_saved_streams_dropout_differs() {
    // The control for the test above: the streams are what makes the difference.
    let cfg = config(false, true);
    let opt_cfg = OptimizerConfig::new("sgd".parse().unwrap(), Preset::Torch);
    let mut straight = Network::<f64>::build(&cfg, 7).unwrap();
    let mut opt = opt_cfg.build::<f64>().unwrap();
    train(&mut straight, &mut opt, 0, 6);

    let dir = TempDir::new("norng");
    let path = dir.0.join("ck.safetensors");
    let mut net = Network::<f64>::build(&cfg, 7).unwrap();
    let mut opt = opt_cfg.build::<f64>().unwrap();
    train(&mut net, &mut opt, 0, 3);
    checkpoint::save(&path, &net, Some(&opt), &CheckpointMeta::default()).unwrap();
    let ck = checkpoint::load::<f64>(&path).unwrap();
    let mut net = Network::<f64>::build(&cfg, 8).unwrap();
    let mut opt = opt_cfg.build::<f64>().unwrap();
    ck.apply_to_network(&mut net).unwrap();
    opt.load_state(&mut net, ck.optimizer.as_ref().unwrap())
        .unwrap();
    let err = ck.restore_network_rngs(&mut net).unwrap_err().to_string();
    assert!(
        err.contains("network.0") && err.contains("ck.safetensors"),
        "{err}"
    );
    train(&mut net, &mut opt, 3, 3);
    assert_ne!(bits(&net), bits(&straight));
}

#[test]
fn rng_state_round_trips() {
    use rand::RngExt;
    let dir = TempDir::new("rng");
    let path = dir.0.join("ck.safetensors");
    let net = Network::<f32>::build(&config(false, false), 1).unwrap();
    let mut stream = rng::stream(42, Purpose::Batches);
    for _ in 0..17 {
        let _: u64 = stream.random();
    }
    let meta = CheckpointMeta {
        rngs: BTreeMap::from([("batches".to_string(), stream.clone())]),
        ..CheckpointMeta::default()
    };
    checkpoint::save(&path, &net, None, &meta).unwrap();
    let ck = checkpoint::load::<f32>(&path).unwrap();
    assert!(ck.optimizer.is_none());
    let mut restored = ck.meta.rngs["batches"].clone();
    let a: Vec<u64> = (0..100).map(|_| stream.random()).collect();
    let b: Vec<u64> = (0..100).map(|_| restored.random()).collect();
    assert_eq!(a, b);
}

#[test]
fn save_replaces_an_existing_checkpoint_and_leaves_no_temp_file() {
    let dir = TempDir::new("replace");
    let path = dir.0.join("model.safetensors");
    let mut net = Network::<f32>::build(&config(false, false), 1).unwrap();
    let mut opt = OptimizerConfig::new("adam".parse().unwrap(), Preset::Torch)
        .build::<f32>()
        .unwrap();
    for epoch in 1..=3 {
        train(&mut net, &mut opt, epoch * 10, 2);
        let meta = CheckpointMeta {
            epoch: epoch as u64,
            ..CheckpointMeta::default()
        };
        checkpoint::save(&path, &net, Some(&opt), &meta).unwrap();
    }
    let entries: Vec<_> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(entries, vec![std::ffi::OsString::from("model.safetensors")]);
    let ck = checkpoint::load::<f32>(&path).unwrap();
    assert_eq!(ck.meta.epoch, 3);
    let mut other = Network::<f32>::build(&config(false, false), 2).unwrap();
    ck.apply_to_network(&mut other).unwrap();
    assert_eq!(bits(&other), bits(&net));
}
