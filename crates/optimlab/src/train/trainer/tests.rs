//! The trainer's options on a tiny synthetic problem (two separable classes).

use super::*;
use crate::Preset;
use crate::data::Features;
use crate::nn::NetworkConfig;
use crate::optim::OptimizerConfig;

fn blobs(n: usize) -> Dataset {
    let mut values = Vec::with_capacity(n * 2);
    let labels: Vec<usize> = (0..n).map(|i| i % 2).collect();
    for (i, &l) in labels.iter().enumerate() {
        let jitter = (i % 7) as f32 * 0.05;
        let centre = if l == 0 { -1.0 } else { 1.0 };
        values.extend([centre + jitter, centre - jitter]);
    }
    Dataset {
        name: "blobs".into(),
        features: Features::F32(values),
        labels,
        dim: 2,
        classes: 2,
    }
}

fn trainer(config: TrainConfig, lr: f64, train_len: usize) -> Trainer<f64> {
    let net = Network::build(&NetworkConfig::new(Preset::Book, 2, vec![8], 2), 3).unwrap();
    let mut opt = OptimizerConfig::new(crate::optim::OptimizerName::Sgd, Preset::Book);
    opt.lr = Some(lr);
    let optimizer = opt.build::<f64>().unwrap();
    Trainer::new(net, optimizer, None, config, train_len).unwrap()
}

fn config() -> TrainConfig {
    let mut c = TrainConfig::new(Preset::Book);
    c.batch_size = 10;
    c.epochs = 2;
    c
}

#[test]
fn evaluates_at_the_chosen_iterations_and_not_at_epoch_ends() {
    let train = blobs(40);
    let data = TrainData {
        train: &train,
        val: None,
        test: Some(&train),
    };
    let mut c = config();
    c.iters = Some(7);
    c.eval_at = EvalAt::Every(3);
    let mut t = trainer(c, 0.1, train.len());
    let mut evaluated = Vec::new();
    loop {
        let (record, progress) = t
            .run_epoch(&data, |r| {
                if let Some(e) = r.eval {
                    assert!(e.test.is_some() && e.val.is_none());
                    assert_eq!(e.train.samples, 40);
                    evaluated.push(r.iter);
                }
            })
            .unwrap();
        assert_eq!((record.train_acc, record.test_acc), (None, None));
        if progress == Progress::Done {
            break;
        }
    }
    // The book's loop: after the update of iterations 0, 3, 6.
    assert_eq!(evaluated, [0, 3, 6]);

    let mut c = config();
    c.eval_at = EvalAt::EpochEnd;
    let mut t = trainer(c, 0.1, train.len());
    let (record, _) = t.run_epoch(&data, |r| assert!(r.eval.is_none())).unwrap();
    assert!(record.train_acc.is_some() && record.test_acc.is_some());
}

#[test]
fn a_diverged_run_stops_or_is_recorded() {
    let train = blobs(40);
    let data = TrainData {
        train: &train,
        val: None,
        test: None,
    };
    // A learning rate this large overflows within a few steps.
    let lr = 1e200;
    let mut t = trainer(config(), lr, train.len());
    let err = t.run_epoch(&data, |_| {}).unwrap_err();
    assert!(matches!(err, TrainError::Diverged { .. }), "{err}");

    let mut c = config();
    c.on_divergence = OnDivergence::Record;
    c.eval_at = EvalAt::Every(1);
    let mut t = trainer(c, lr, train.len());
    let mut losses = Vec::new();
    while t.run_epoch(&data, |r| losses.push(r.loss)).unwrap().1 == Progress::Continue {}
    let first = t.diverged_at().expect("the run diverged");
    assert_eq!(losses.len(), 8, "training went on to the end of the budget");
    assert!(losses[..first].iter().all(|l| l.is_finite()));
    assert!(!losses[first].is_finite());
    assert_eq!(t.state().diverged_at, Some(first), "kept for a resume");
}

#[test]
fn evaluation_needs_a_positive_interval_and_early_stopping_epoch_ends() {
    let mut c = config();
    c.eval_at = EvalAt::Every(0);
    assert!(
        c.validate()
            .unwrap_err()
            .to_string()
            .contains("evaluation interval")
    );
    let mut c = config();
    c.eval_at = EvalAt::Every(5);
    c.early_stopping = Some(crate::train::EarlyStopping {
        patience: 2,
        monitor: crate::train::Monitor::ValAcc,
        min_delta: 0.0,
    });
    assert!(
        c.validate()
            .unwrap_err()
            .to_string()
            .contains("early stopping")
    );
}

#[test]
fn flushing_subnormals_is_opt_in_and_scoped_to_run_epoch() {
    assert!(!TrainConfig::new(Preset::Torch).flush_denormals);
    assert!(!TrainConfig::new(Preset::Book).flush_denormals);
    fn subnormal_survives() -> bool {
        std::hint::black_box(1e-30f32) * std::hint::black_box(1e-10f32) > 0.0
    }
    // A fresh thread, so the mode of other tests does not matter.
    std::thread::spawn(|| {
        let train = blobs(20);
        let data = TrainData {
            train: &train,
            val: None,
            test: None,
        };
        let mut c = config();
        c.flush_denormals = true;
        let mut t = trainer(c, 0.1, train.len());
        let mut inside = Vec::new();
        t.run_epoch(&data, |_| inside.push(subnormal_survives()))
            .unwrap();
        if crate::tensor::FlushDenormals::supported() {
            assert!(inside.iter().all(|&s| !s), "flushed while training");
        }
        assert!(
            subnormal_survives(),
            "the thread's mode is back after run_epoch"
        );
    })
    .join()
    .unwrap();
}
