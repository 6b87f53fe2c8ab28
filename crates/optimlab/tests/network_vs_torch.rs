//! The network library against its two references, on a 6-5-4-3 net with fixed weights:
//! PyTorch (float64, `nn.Linear`, `nn.BatchNorm1d`, `F.cross_entropy`, autograd) for the
//! `torch` preset, and the book's NumPy `MultiLayerNetExtend` for the `book` preset.
//!
//! The fixture `fixtures/torch_network.json` is written by `fixtures/gen_torch_network.py`
//! (see its docstring for the cases). Per case the test builds the net through
//! `NetworkConfig`/`Network::build` with the preset's own batch-norm and loss choices, loads
//! W/b/gamma/beta (not the running statistics: their initial values are part of what is
//! checked), then for every step: training loss, every gradient, running statistics, eval
//! logits on a separate batch, optionally eval-mode loss and gradients, then `p -= lr·grad`.
//! Everything in f64 must agree to 1e-10 (absolute, relative above 1).

use optimlab::Preset;
use optimlab::nn::*;
use optimlab::tensor::{Matrix, Scalar};
use serde::Deserialize;
use std::collections::BTreeMap;

const FIXTURE: &str = include_str!("fixtures/torch_network.json");
const TOL_F64: f64 = 1e-10;
/// The torch cases are also run in f32 (the torch preset's element type) as a sanity check.
const TOL_F32: f64 = 1e-5;

type Tensors = BTreeMap<String, Vec<f64>>;

#[derive(Deserialize)]
struct Fixture {
    settings: Settings,
    cases: Vec<Case>,
}

#[derive(Deserialize)]
struct Settings {
    sizes: Vec<usize>,
    batch: usize,
    eval_batch: usize,
    torch_bn: BnSettings,
    book_bn: BookBnSettings,
}

#[derive(Deserialize)]
struct BnSettings {
    eps: f64,
    momentum: f64,
}

#[derive(Deserialize)]
struct BookBnSettings {
    eps: f64,
    keep: f64,
}

#[derive(Deserialize)]
struct Case {
    name: String,
    preset: String,
    activation: String,
    batch_norm: bool,
    weight_decay: f64,
    lr: f64,
    params: Tensors,
    eval_x: Vec<f64>,
    initial_running: Option<Tensors>,
    steps: Vec<Step>,
}

#[derive(Deserialize)]
struct Step {
    x: Vec<f64>,
    labels: Vec<usize>,
    loss: f64,
    grads: Tensors,
    running: Option<Tensors>,
    eval_logits: Vec<f64>,
    eval_loss: Option<f64>,
    eval_grads: Option<Tensors>,
}

fn fixture() -> Fixture {
    serde_json::from_str(FIXTURE).expect("fixtures/torch_network.json parses")
}

fn case<'a>(fx: &'a Fixture, name: &str) -> &'a Case {
    fx.cases
        .iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no case {name} in the fixture"))
}

fn close(got: f64, want: f64, tol: f64) -> bool {
    (got - want).abs() <= tol * want.abs().max(1.0)
}

fn assert_scalar(what: &str, got: f64, want: f64, tol: f64) {
    assert!(
        close(got, want, tol),
        "{what}: got {got:.17e}, want {want:.17e} (diff {:.3e}, tol {tol:.0e})",
        (got - want).abs()
    );
}

fn assert_slice<T: Scalar>(what: &str, got: &[T], want: &[f64], tol: f64) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    let mut worst = 0.0f64;
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let g = g.as_f64();
        assert!(
            close(g, w, tol),
            "{what}[{i}]: got {g:.17e}, want {w:.17e} (diff {:.3e}, tol {tol:.0e})",
            (g - w).abs()
        );
        worst = worst.max((g - w).abs());
    }
    println!("  {what}: max abs diff {worst:.2e}");
}

/// Same names, same values.
fn assert_tensors(what: &str, got: &Tensors, want: &Tensors, tol: f64) {
    let (gk, wk): (Vec<_>, Vec<_>) = (got.keys().collect(), want.keys().collect());
    assert_eq!(gk, wk, "{what}: tensor names");
    for (name, w) in want {
        assert_slice(&format!("{what} {name}"), &got[name], w, tol);
    }
}

fn matrix<T: Scalar>(values: &[f64], cols: usize) -> Matrix<T> {
    assert_eq!(values.len() % cols, 0);
    let v: Vec<T> = values.iter().map(|&v| T::from_f64(v)).collect();
    Matrix::from_vec(values.len() / cols, cols, v).unwrap()
}

fn preset(c: &Case) -> Preset {
    c.preset.parse().unwrap()
}

fn build<T: Scalar>(c: &Case, sizes: &[usize]) -> Network<T> {
    let p = preset(c);
    let mut config = NetworkConfig::new(
        p,
        sizes[0],
        sizes[1..sizes.len() - 1].to_vec(),
        sizes[sizes.len() - 1],
    );
    config.activation = c.activation.parse().unwrap();
    config.batch_norm = c.batch_norm.then(|| BatchNormConfig::preset(p));
    config.weight_decay = c.weight_decay;
    // The loss is the preset's (book: −log(y+1e-7), torch: exact log-softmax).
    assert_eq!(config.loss, CrossEntropy::preset(p));
    Network::build(&config, 7).unwrap()
}

/// Loads W/b/gamma/beta from the fixture; checks names, shapes and that the running
/// statistics start where the reference's do.
fn load<T: Scalar>(net: &mut Network<T>, c: &Case, sizes: &[usize], tol: f64) {
    let mut loaded = Vec::new();
    let mut running = Tensors::new();
    net.visit_tensors_mut(&mut |name, shape, values| {
        if name.starts_with("running_") {
            running.insert(
                name.to_string(),
                values.iter().map(|v| v.as_f64()).collect(),
            );
            return;
        }
        let want = c
            .params
            .get(name)
            .unwrap_or_else(|| panic!("{}: network tensor {name} not in the fixture", c.name));
        if let Some(i) = name.strip_prefix('W') {
            let i: usize = i.parse().unwrap();
            assert_eq!(
                shape,
                [sizes[i - 1], sizes[i]],
                "{}: shape of {name}",
                c.name
            );
        } else {
            assert_eq!(shape, [values.len()], "{}: shape of {name}", c.name);
        }
        assert_eq!(values.len(), want.len(), "{}: size of {name}", c.name);
        for (v, &w) in values.iter_mut().zip(want) {
            *v = T::from_f64(w);
        }
        loaded.push(name.to_string());
    });
    loaded.sort();
    let expected: Vec<String> = c.params.keys().cloned().collect();
    assert_eq!(loaded, expected, "{}: parameters loaded", c.name);
    match &c.initial_running {
        Some(want) => assert_tensors(&format!("{} initial", c.name), &running, want, tol),
        None => assert!(running.is_empty(), "{}: unexpected running stats", c.name),
    }
}

fn grads<T: Scalar>(net: &mut Network<T>) -> Tensors {
    let mut out = Tensors::new();
    net.visit_params(&mut |p| {
        out.insert(
            p.name.to_string(),
            p.grad.iter().map(|g| g.as_f64()).collect(),
        );
    });
    out
}

fn running<T: Scalar>(net: &Network<T>) -> Tensors {
    let mut out = Tensors::new();
    net.visit_tensors(&mut |name, _, values| {
        if name.starts_with("running_") {
            out.insert(
                name.to_string(),
                values.iter().map(|v| v.as_f64()).collect(),
            );
        }
    });
    out
}

fn sgd<T: Scalar>(net: &mut Network<T>, grads: &Tensors, lr: f64) {
    net.visit_params(&mut |p| {
        for (v, &g) in p.value.iter_mut().zip(&grads[p.name]) {
            *v = T::from_f64(v.as_f64() - lr * g);
        }
    });
}

fn run_case<T: Scalar>(name: &str, tol: f64) {
    let fx = fixture();
    let sizes = &fx.settings.sizes;
    let (input, classes) = (sizes[0], sizes[sizes.len() - 1]);
    let c = case(&fx, name);
    println!("{name} ({}):", T::NAME);
    let mut net = build::<T>(c, sizes);
    load(&mut net, c, sizes, tol);
    let eval_x = matrix::<T>(&c.eval_x, input);
    assert_eq!(eval_x.rows(), fx.settings.eval_batch);
    for (s, step) in c.steps.iter().enumerate() {
        let what = format!("{name} step {s}");
        let x = matrix::<T>(&step.x, input);
        assert_eq!(x.rows(), fx.settings.batch);

        let loss = net.loss(&x, &step.labels, Mode::Train).unwrap();
        assert_scalar(&format!("{what} loss"), loss.as_f64(), step.loss, tol);
        net.backward(&x, &step.labels).unwrap();
        let g = grads(&mut net);
        assert_tensors(&format!("{what} grad"), &g, &step.grads, tol);
        let want_running = step.running.clone().unwrap_or_default();
        assert_eq!(step.running.is_some(), c.batch_norm);
        assert_tensors(&what, &running(&net), &want_running, tol);

        let logits = net.forward(&eval_x, Mode::Eval).unwrap();
        assert_eq!(logits.shape(), (fx.settings.eval_batch, classes));
        assert_slice(
            &format!("{what} eval logits"),
            logits.as_slice(),
            &step.eval_logits,
            tol,
        );
        // An evaluation pass leaves the running statistics alone.
        assert_tensors(
            &format!("{what} after eval"),
            &running(&net),
            &want_running,
            tol,
        );

        if let (Some(want_loss), Some(want_grads)) = (step.eval_loss, &step.eval_grads) {
            let loss = net.loss(&x, &step.labels, Mode::Eval).unwrap();
            assert_scalar(&format!("{what} eval loss"), loss.as_f64(), want_loss, tol);
            net.backward(&x, &step.labels).unwrap();
            assert_tensors(
                &format!("{what} eval-mode grad"),
                &grads(&mut net),
                want_grads,
                tol,
            );
        }
        sgd(&mut net, &g, c.lr);
    }
}

#[test]
fn fixture_matches_the_presets() {
    let fx = fixture();
    let torch = BatchNormConfig::preset(Preset::Torch);
    assert_eq!(torch.eps, fx.settings.torch_bn.eps);
    assert_eq!(torch.momentum, fx.settings.torch_bn.momentum);
    let book = BatchNormConfig::preset(Preset::Book);
    assert_eq!(book.eps, fx.settings.book_bn.eps);
    assert_eq!(1.0 - book.momentum, fx.settings.book_bn.keep);
    let mut names: Vec<&str> = fx.cases.iter().map(|c| c.name.as_str()).collect();
    names.sort();
    assert_eq!(
        names,
        [
            "book_bn_3",
            "book_bn_wd",
            "book_wd",
            "torch_relu",
            "torch_relu_bn_3",
            "torch_sigmoid",
            "torch_tanh_bn",
        ],
        "every fixture case has a test below"
    );
}

#[test]
fn torch_relu() {
    run_case::<f64>("torch_relu", TOL_F64);
}

#[test]
fn torch_sigmoid() {
    run_case::<f64>("torch_sigmoid", TOL_F64);
}

#[test]
fn torch_tanh_batch_norm() {
    run_case::<f64>("torch_tanh_bn", TOL_F64);
}

#[test]
fn torch_relu_batch_norm_three_steps() {
    run_case::<f64>("torch_relu_bn_3", TOL_F64);
}

#[test]
fn book_batch_norm_three_steps() {
    run_case::<f64>("book_bn_3", TOL_F64);
}

#[test]
fn book_weight_decay() {
    run_case::<f64>("book_wd", TOL_F64);
}

#[test]
fn book_batch_norm_weight_decay() {
    run_case::<f64>("book_bn_wd", TOL_F64);
}

#[test]
fn torch_cases_in_f32() {
    for name in [
        "torch_relu",
        "torch_sigmoid",
        "torch_tanh_bn",
        "torch_relu_bn_3",
    ] {
        run_case::<f32>(name, TOL_F32);
    }
}
