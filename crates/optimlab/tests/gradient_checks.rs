//! Backprop against central differences, for every layer and for whole networks (f64).

use optimlab::Preset;
use optimlab::nn::grad_check::{GradCheck, check_layer, check_network};
use optimlab::nn::*;
use optimlab::rng::{Purpose, stream};
use optimlab::tensor::Matrix;
use rand::RngExt;
use rand_distr::StandardNormal;

fn random_matrix(rows: usize, cols: usize, seed: u64) -> Matrix<f64> {
    let mut rng = stream(seed, Purpose::Data);
    let v: Vec<f64> = (0..rows * cols)
        .map(|_| rng.sample(StandardNormal))
        .collect();
    Matrix::from_vec(rows, cols, v).unwrap()
}

fn assert_within(checks: &[GradCheck], mean_tol: f64, what: &str) {
    assert!(!checks.is_empty());
    for c in checks {
        println!(
            "{what} {}: mean {:.3e} max {:.3e}",
            c.name, c.mean_abs, c.max_abs
        );
        assert!(
            c.mean_abs <= mean_tol,
            "{what}: {} mean abs error {:.3e} > {mean_tol:.0e}",
            c.name,
            c.mean_abs
        );
    }
}

fn labels(n: usize, classes: usize) -> Vec<usize> {
    (0..n).map(|i| (i * 7 + 3) % classes).collect()
}

#[test]
fn dense_layer() {
    let mut layer = Dense::<f64>::new(1, 5, 4);
    fill_normal(
        layer.weight_mut().as_mut_slice(),
        0.5,
        &mut stream(1, Purpose::Init),
    );
    let x = random_matrix(3, 5, 2);
    assert_within(
        &check_layer(&mut layer, &x, Mode::Train, 1e-5),
        1e-9,
        "dense",
    );
}

#[test]
fn activations() {
    for kind in [Activation::Sigmoid, Activation::Tanh, Activation::Relu] {
        let mut layer = ActivationLayer::<f64>::new(kind);
        let x = random_matrix(4, 6, 3);
        assert_within(
            &check_layer(&mut layer, &x, Mode::Train, 1e-6),
            1e-9,
            kind.name(),
        );
    }
}

#[test]
fn batch_norm_in_both_presets_and_modes() {
    for preset in [Preset::Book, Preset::Torch] {
        for mode in [Mode::Train, Mode::Eval] {
            let mut layer = BatchNorm::<f64>::new(1, 5, BatchNormConfig::preset(preset));
            // Non-trivial gamma/beta and running statistics.
            layer.visit_params(&mut |p| {
                for (i, v) in p.value.iter_mut().enumerate() {
                    *v += 0.1 * (i as f64 + 1.0);
                }
            });
            let warm = random_matrix(8, 5, 9);
            layer.forward(&warm, Mode::Train);
            let x = random_matrix(4, 5, 4);
            let checks = check_layer(&mut layer, &x, mode, 1e-5);
            assert_within(&checks, 1e-8, &format!("batch norm {preset:?} {mode:?}"));
        }
    }
}

#[test]
fn dropout_with_a_frozen_mask() {
    for style in [DropoutStyle::Book, DropoutStyle::Inverted] {
        let cfg = DropoutConfig { p: 0.4, style };
        let mut layer = Dropout::<f64>::new(cfg, stream(5, Purpose::Dropout(1)));
        let x = random_matrix(4, 6, 6);
        assert_within(
            &check_layer(&mut layer, &x, Mode::Train, 1e-6),
            1e-9,
            "dropout",
        );
    }
}

fn net_config(preset: Preset, activation: Activation) -> NetworkConfig {
    let mut c = NetworkConfig::new(preset, 6, vec![5, 4, 5], 3);
    c.activation = activation;
    c.init = Init::Std(0.6);
    c
}

#[test]
fn smooth_networks_with_every_option() {
    for preset in [Preset::Book, Preset::Torch] {
        for activation in [Activation::Sigmoid, Activation::Tanh] {
            let mut cfg = net_config(preset, activation);
            cfg.batch_norm = Some(BatchNormConfig::preset(preset));
            cfg.dropout = Some(DropoutConfig {
                p: 0.2,
                style: DropoutStyle::preset(preset),
            });
            cfg.weight_decay = 0.1;
            let mut net = Network::<f64>::build(&cfg, 11).unwrap();
            let x = random_matrix(4, 6, 12);
            let checks = check_network(&mut net, &x, &labels(4, 3), 1e-5).unwrap();
            assert_within(&checks, 1e-7, &format!("{preset:?} {activation:?} net"));
        }
    }
}

#[test]
fn relu_networks() {
    for bn in [false, true] {
        let mut cfg = net_config(Preset::Torch, Activation::Relu);
        cfg.init = Init::He;
        if bn {
            cfg.batch_norm = Some(BatchNormConfig::preset(Preset::Torch));
        }
        let mut net = Network::<f64>::build(&cfg, 21).unwrap();
        let x = random_matrix(5, 6, 22);
        let checks = check_network(&mut net, &x, &labels(5, 3), 1e-6).unwrap();
        assert_within(&checks, 1e-6, &format!("relu net bn={bn}"));
        // Every parameter of the network was checked, named as the book names them.
        let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names[..2], ["W1", "b1"]);
        assert!(names.contains(&"W4") && names.contains(&"b4"));
        assert_eq!(names.contains(&"gamma1"), bn);
    }
}

/// A layer whose backward is off by a factor: the check must flag it.
struct WrongSquare {
    out: Matrix<f64>,
    dx: Matrix<f64>,
}

impl Layer<f64> for WrongSquare {
    fn describe(&self) -> String {
        "wrong-square".into()
    }
    fn output_features(&self, input: usize) -> Result<usize, NnError> {
        Ok(input)
    }
    fn forward(&mut self, x: &Matrix<f64>, _: Mode) {
        self.out = x.clone();
        self.out.as_mut_slice().iter_mut().for_each(|v| *v *= *v);
    }
    fn output(&self) -> &Matrix<f64> {
        &self.out
    }
    fn backward(&mut self, x: &Matrix<f64>, dout: &Matrix<f64>, _: bool) {
        self.dx = dout.clone();
        // d(x²)/dx is 2x; this says 2.01x.
        for (d, &v) in self.dx.as_mut_slice().iter_mut().zip(x.as_slice()) {
            *d *= 2.01 * v;
        }
    }
    fn input_grad(&self) -> &Matrix<f64> {
        &self.dx
    }
}

#[test]
fn a_wrong_backward_is_caught() {
    let mut layer = WrongSquare {
        out: Matrix::default(),
        dx: Matrix::default(),
    };
    let x = random_matrix(3, 4, 8);
    let checks = check_layer(&mut layer, &x, Mode::Train, 1e-5);
    assert!(checks[0].mean_abs > 1e-3, "{checks:?}");
}
