//! Unit tests of optimizer configs: validation, preset defaults, serde and state restore.

use super::*;
use crate::optim::{
    Adagrad, Adam, Momentum, MomentumKind, OPTIMIZER_NAMES, OptimizerState, RmsProp, Sgd,
};
use crate::param::{ParamKind, ParamMut, Parameters};

/// A weight and a bias whose gradients are a fixed non-linear function of the values.
struct Toy {
    w: Vec<f64>,
    b: Vec<f64>,
    gw: Vec<f64>,
    gb: Vec<f64>,
}

impl Toy {
    fn new() -> Self {
        Toy {
            w: vec![0.5, -1.0, 2.0, 0.1],
            b: vec![0.3, -0.2],
            gw: vec![0.0; 4],
            gb: vec![0.0; 2],
        }
    }
    fn grads(&mut self) {
        for (g, (i, &w)) in self.gw.iter_mut().zip(self.w.iter().enumerate()) {
            *g = (3.0 * w + i as f64).sin() + 0.1 * w;
        }
        for (g, &b) in self.gb.iter_mut().zip(&self.b) {
            *g = (b - 0.7).tanh();
        }
    }
}

impl Parameters<f64> for Toy {
    fn visit_params(&mut self, f: &mut dyn FnMut(ParamMut<'_, f64>)) {
        f(ParamMut {
            name: "W1",
            kind: ParamKind::Weight,
            shape: &[2, 2],
            value: &mut self.w,
            grad: &mut self.gw,
        });
        f(ParamMut {
            name: "b1",
            kind: ParamKind::Bias,
            shape: &[2],
            value: &mut self.b,
            grad: &mut self.gb,
        });
    }
}

fn cfg(name: &str) -> OptimizerConfig {
    OptimizerConfig::new(name.parse().unwrap(), Preset::Torch)
}

fn invalid_name(c: &OptimizerConfig) -> &'static str {
    match c.build::<f64>() {
        Err(OptimError::Invalid { name, .. }) => name,
        Err(e) => panic!("unexpected error {e}"),
        Ok(_) => panic!("{c:?} was accepted"),
    }
}

#[test]
fn invalid_values_are_named_errors() {
    let with = |name: &str, f: &dyn Fn(&mut OptimizerConfig)| {
        let mut c = cfg(name);
        f(&mut c);
        invalid_name(&c)
    };
    assert_eq!(with("sgd", &|c| c.lr = Some(-0.1)), "lr");
    assert_eq!(with("adam", &|c| c.lr = Some(f64::NAN)), "lr");
    assert_eq!(with("adam", &|c| c.beta1 = Some(1.0)), "beta1");
    assert_eq!(with("nadam", &|c| c.beta2 = Some(-0.1)), "beta2");
    assert_eq!(with("lion", &|c| c.beta2 = Some(f64::NAN)), "beta2");
    assert_eq!(with("rmsprop", &|c| c.eps = Some(0.0)), "eps");
    assert_eq!(with("adagrad", &|c| c.eps = Some(-1e-8)), "eps");
    assert_eq!(with("momentum", &|c| c.momentum = Some(1.0)), "momentum");
    assert_eq!(with("sgd", &|c| c.momentum = Some(-0.5)), "momentum");
    assert_eq!(
        with("adam", &|c| c.weight_decay = Some(-0.01)),
        "weight_decay"
    );
    assert_eq!(
        with("adamw", &|c| c.weight_decay = Some(f64::NAN)),
        "weight_decay"
    );
    assert_eq!(with("adadelta", &|c| c.rho = Some(1.5)), "rho");
    assert_eq!(with("nesterov", &|c| c.dampening = Some(0.1)), "dampening");
    assert_eq!(with("nesterov", &|c| c.momentum = Some(0.0)), "momentum");
    assert_eq!(with("nesterov", &|c| c.nesterov = Some(false)), "nesterov");
    assert_eq!(with("amsgrad", &|c| c.amsgrad = Some(false)), "amsgrad");
    assert_eq!(
        with("adamw", &|c| c.decoupled_weight_decay = Some(false)),
        "decoupled_weight_decay"
    );
    assert_eq!(
        with("sgd", &|c| c.decoupled_weight_decay = Some(true)),
        "decoupled_weight_decay"
    );
    assert_eq!(with("sgd", &|c| c.beta1 = Some(0.9)), "beta1");
    assert_eq!(with("adagrad", &|c| c.amsgrad = Some(true)), "amsgrad");
    assert_eq!(
        with("adagrad", &|c| c.flavour = Some(Flavour::Book)),
        "flavour"
    );
    assert_eq!(with("sgd", &|c| c.clip = Some(Clip::Norm(0.0))), "clip");
    let mut book = OptimizerConfig::new("momentum".parse().unwrap(), Preset::Book);
    book.dampening = Some(0.5);
    assert_eq!(invalid_name(&book), "dampening");
}

#[test]
fn unknown_name_is_an_error_listing_the_names() {
    let err = "adamx".parse::<OptimizerName>().unwrap_err();
    assert_eq!(err, OptimError::UnknownOptimizer("adamx".into()));
    assert!(err.to_string().contains("adamw"), "{err}");
    let json = serde_json::from_str::<OptimizerConfig>(r#"{"optimizer": "adamx"}"#);
    assert!(json.unwrap_err().to_string().contains("adamx"));
    // An unset name is the default optimizer, as for `optimlab train`.
    assert_eq!(
        OptimizerConfig::default().resolve().unwrap().name,
        OptimizerName::Adam
    );
}

#[test]
fn presets_fill_torch_and_book_defaults() {
    let torch = |n: &str| cfg(n).resolve().unwrap();
    let book = |n: &str| {
        OptimizerConfig::new(n.parse().unwrap(), Preset::Book)
            .resolve()
            .unwrap()
    };
    let lrs: Vec<f64> = OPTIMIZER_NAMES.iter().map(|n| torch(n).lr).collect();
    assert_eq!(
        lrs,
        [
            1e-3, 1e-3, 1e-3, 1e-2, 1e-2, 1e-3, 1e-3, 1e-3, 2e-3, 1e-3, 1.0, 1e-4
        ]
    );
    assert_eq!(torch("sgd").rule, Rule::Sgd(Sgd));
    assert_eq!(
        torch("nesterov").rule,
        Rule::Momentum(Momentum::new(0.9, MomentumKind::Nesterov, Flavour::Torch))
    );
    assert_eq!(torch("adagrad").rule, Rule::Adagrad(Adagrad::default()));
    assert_eq!(torch("rmsprop").rule, Rule::RmsProp(RmsProp::default()));
    assert_eq!(torch("adam").rule, Rule::Adam(Adam::default()));
    assert_eq!(torch("amsgrad").rule, Rule::Adam(Adam::amsgrad()));
    assert_eq!(torch("adamw").weight_decay, WeightDecay::Decoupled(0.01));
    assert_eq!(torch("adam").weight_decay, WeightDecay::None);
    assert!(torch("adamw").groups.is_empty());

    let lrs: Vec<f64> = ["sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam"]
        .iter()
        .map(|n| book(n).lr)
        .collect();
    assert_eq!(lrs, [0.01, 0.01, 0.01, 0.01, 0.01, 0.001]);
    assert_eq!(
        book("momentum").rule,
        Rule::Momentum(Momentum::new(0.9, MomentumKind::Classic, Flavour::Book))
    );
    assert_eq!(book("adagrad").rule, Rule::Adagrad(Adagrad::book()));
    assert_eq!(book("rmsprop").rule, Rule::RmsProp(RmsProp::book()));
    assert_eq!(book("adam").rule, Rule::Adam(Adam::book()));
    assert_eq!(book("amsgrad").rule, Rule::Adam(Adam::amsgrad()));
    assert_eq!(book("nadam"), torch("nadam"));

    let mut c = OptimizerConfig::new("sgd".parse().unwrap(), Preset::Book);
    c.weight_decay = Some(0.1);
    let r = c.resolve().unwrap();
    assert_eq!(r.weight_decay, WeightDecay::L2(0.1));
    assert_eq!(r.groups, vec![ParamGroup::no_decay_on_bias_and_norm()]);
    let mut c = cfg("radam");
    (c.weight_decay, c.decoupled_weight_decay) = (Some(0.1), Some(true));
    assert_eq!(
        c.resolve().unwrap().weight_decay,
        WeightDecay::Decoupled(0.1)
    );
}

#[test]
fn config_round_trips_through_json() {
    // `name` is read as an alias of `optimizer`; the preset is the caller's, not a key.
    let json = r#"{"name": "rmsprop", "alpha": 0.9, "clip": {"kind": "norm", "max": 1.0}}"#;
    let c: OptimizerConfig = serde_json::from_str(json).unwrap();
    assert_eq!(
        (c.name, c.rho, c.clip),
        (
            Some(OptimizerName::Rmsprop),
            Some(0.9),
            Some(Clip::Norm(1.0))
        )
    );
    let text = serde_json::to_string(&c).unwrap();
    assert!(text.contains(r#""optimizer":"rmsprop""#), "{text}");
    let back: OptimizerConfig = serde_json::from_str(&text).unwrap();
    assert_eq!(back, c);
    assert!(serde_json::from_str::<OptimizerConfig>(r#"{"preset": "book"}"#).is_err());
}

fn run(opt: &mut Optimizer<f64>, toy: &mut Toy, steps: usize) {
    for _ in 0..steps {
        toy.grads();
        opt.step(toy).unwrap();
    }
}

/// Every optimizer, both presets, with weight decay, momentum and AMSGrad where they apply.
fn all_configs() -> Vec<OptimizerConfig> {
    let mut out = Vec::new();
    for preset in [Preset::Book, Preset::Torch] {
        for name in OPTIMIZER_NAMES {
            let mut c = OptimizerConfig::new(name.parse().unwrap(), preset);
            c.lr = Some(0.05);
            c.weight_decay = Some(0.01);
            out.push(c.clone());
            match *name {
                "rmsprop" => (c.momentum, c.centered) = (Some(0.5), Some(true)),
                "adam" => c.amsgrad = Some(true),
                "sgd" => c.momentum = Some(0.9),
                _ => continue,
            }
            out.push(c);
        }
    }
    out
}

#[test]
fn state_restored_into_a_fresh_optimizer_continues_identically() {
    for c in all_configs() {
        let (mut a, mut toy_a) = (c.build::<f64>().unwrap(), Toy::new());
        run(&mut a, &mut toy_a, 12);

        let (mut b, mut toy_b) = (c.build::<f64>().unwrap(), Toy::new());
        run(&mut b, &mut toy_b, 5);
        let saved: OptimizerState<f64> = b.state();
        let mut fresh = c.build::<f64>().unwrap();
        fresh.load_state(&mut toy_b, &saved).unwrap();
        assert_eq!(fresh.state(), saved, "{c:?}");
        run(&mut fresh, &mut toy_b, 7);
        assert_eq!((toy_a.w, toy_a.b), (toy_b.w, toy_b.b), "{c:?}");
    }
}

#[test]
fn resolved_optimizers_round_trip_through_json() {
    for c in all_configs() {
        let r = c.resolve().unwrap();
        let json = serde_json::to_string(&r).unwrap();
        assert_eq!(
            serde_json::from_str::<ResolvedOptimizer>(&json).unwrap(),
            r,
            "{json}"
        );
    }
}

#[test]
fn missing_state_is_an_error() {
    let mut c = cfg("nadam");
    c.lr = Some(0.01);
    let mut opt = c.build::<f64>().unwrap();
    let mut toy = Toy::new();
    run(&mut opt, &mut toy, 2);
    let mut saved = opt.state();
    let mu = |t: f64| 0.9 * (1.0 - 0.5 * 0.96f64.powf(t * 0.004));
    assert!((saved.scalars["W1.mu_product"] - mu(1.0) * mu(2.0)).abs() < 1e-15);
    saved.scalars.remove("b1.mu_product");
    let err = c
        .build::<f64>()
        .unwrap()
        .load_state(&mut toy, &saved)
        .unwrap_err();
    assert_eq!(err, OptimError::MissingState("b1.mu_product".into()));
}
