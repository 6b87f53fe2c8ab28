//! Optimizer configuration: a name, optional hyperparameters and a preset that fills the rest.
//!
//! `--preset torch` fills every unset hyperparameter with torch.optim's default and uses
//! PyTorch's formulas; `--preset book` uses the book's reference code for SGD, Momentum,
//! Nesterov, AdaGrad, RMSprop and Adam and PyTorch's formulas and defaults for the rest.

use super::{
    Adadelta, Adagrad, Adam, Clip, Flavour, Lion, Momentum, MomentumKind, NAdam, OptimError,
    Optimizer, ParamGroup, RAdam, RmsProp, Sgd, UpdateRule, WeightDecay,
};
use crate::Preset;
use crate::tensor::Scalar;
use serde::{Deserialize, Serialize};

/// What a user asks for: every hyperparameter is optional; [`OptimizerConfig::build`] fills
/// unset ones from the preset and rejects invalid or inapplicable ones.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OptimizerConfig {
    /// One of [`super::OPTIMIZER_NAMES`].
    pub name: String,
    #[serde(default)]
    pub preset: Preset,
    /// Overrides the preset's form of momentum / Nesterov / Adam.
    #[serde(default)]
    pub flavour: Option<Flavour>,
    #[serde(default)]
    pub lr: Option<f64>,
    #[serde(default)]
    pub momentum: Option<f64>,
    #[serde(default)]
    pub dampening: Option<f64>,
    #[serde(default)]
    pub nesterov: Option<bool>,
    #[serde(default)]
    pub beta1: Option<f64>,
    #[serde(default)]
    pub beta2: Option<f64>,
    #[serde(default)]
    pub eps: Option<f64>,
    /// RMSprop's smoothing (torch's `alpha`) or Adadelta's `rho`.
    #[serde(default, alias = "alpha")]
    pub rho: Option<f64>,
    #[serde(default)]
    pub centered: Option<bool>,
    #[serde(default)]
    pub amsgrad: Option<bool>,
    #[serde(default)]
    pub lr_decay: Option<f64>,
    #[serde(default)]
    pub initial_accumulator_value: Option<f64>,
    #[serde(default)]
    pub momentum_decay: Option<f64>,
    /// λ; L2 (coupled) except for adamw and lion, or with `decoupled_weight_decay`.
    #[serde(default)]
    pub weight_decay: Option<f64>,
    /// torch's flag of Adam, NAdam and RAdam.
    #[serde(default)]
    pub decoupled_weight_decay: Option<bool>,
    /// Exclude biases and batch-norm parameters from weight decay (book default: yes, as the
    /// book decays weights only; torch default: no, as with `model.parameters()`).
    #[serde(default)]
    pub no_decay_on_bias_and_norm: Option<bool>,
    #[serde(default)]
    pub clip: Option<Clip>,
}

/// One update rule with its hyperparameters, as resolved from a config.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "rule")]
pub enum Rule {
    Sgd(Sgd),
    Momentum(Momentum),
    Adagrad(Adagrad),
    RmsProp(RmsProp),
    Adam(Adam),
    NAdam(NAdam),
    RAdam(RAdam),
    Adadelta(Adadelta),
    Lion(Lion),
}

impl Rule {
    pub fn validate(&self) -> Result<(), OptimError> {
        match self {
            Rule::Sgd(_) => Ok(()),
            Rule::Momentum(r) => r.validate(),
            Rule::Adagrad(r) => r.validate(),
            Rule::RmsProp(r) => r.validate(),
            Rule::Adam(r) => r.validate(),
            Rule::NAdam(r) => r.validate(),
            Rule::RAdam(r) => r.validate(),
            Rule::Adadelta(r) => r.validate(),
            Rule::Lion(r) => r.validate(),
        }
    }

    pub fn boxed<T: Scalar>(self) -> Box<dyn UpdateRule<T>> {
        match self {
            Rule::Sgd(r) => Box::new(r),
            Rule::Momentum(r) => Box::new(r),
            Rule::Adagrad(r) => Box::new(r),
            Rule::RmsProp(r) => Box::new(r),
            Rule::Adam(r) => Box::new(r),
            Rule::NAdam(r) => Box::new(r),
            Rule::RAdam(r) => Box::new(r),
            Rule::Adadelta(r) => Box::new(r),
            Rule::Lion(r) => Box::new(r),
        }
    }
}

/// Everything a config resolves to, with every default filled in (serialisable, for reports).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ResolvedOptimizer {
    pub name: String,
    pub rule: Rule,
    pub lr: f64,
    pub weight_decay: WeightDecay,
    pub groups: Vec<ParamGroup>,
    pub clip: Option<Clip>,
}

impl ResolvedOptimizer {
    pub fn build<T: Scalar>(&self) -> Result<Optimizer<T>, OptimError> {
        self.rule.validate()?;
        Optimizer::new(self.rule.boxed(), self.lr)?
            .with_weight_decay(self.weight_decay)?
            .with_groups(self.groups.clone())?
            .with_clip(self.clip)
    }
}

/// Which optional fields each optimizer accepts (besides lr, weight decay, groups and clip).
fn accepted(name: &str) -> &'static [&'static str] {
    const ADAM: &[&str] = &[
        "flavour",
        "beta1",
        "beta2",
        "eps",
        "amsgrad",
        "decoupled_weight_decay",
    ];
    match name {
        "sgd" | "momentum" | "nesterov" => &["flavour", "momentum", "dampening", "nesterov"],
        "adagrad" => &["eps", "lr_decay", "initial_accumulator_value"],
        "rmsprop" => &["rho", "eps", "momentum", "centered"],
        "adam" | "adamw" | "amsgrad" => ADAM,
        "nadam" => &[
            "beta1",
            "beta2",
            "eps",
            "momentum_decay",
            "decoupled_weight_decay",
        ],
        "radam" => &["beta1", "beta2", "eps", "decoupled_weight_decay"],
        "adadelta" => &["rho", "eps"],
        "lion" => &["beta1", "beta2", "decoupled_weight_decay"],
        _ => &[],
    }
}

fn bool_f(b: Option<bool>) -> Option<f64> {
    b.map(|b| if b { 1.0 } else { 0.0 })
}

impl OptimizerConfig {
    pub fn new(name: impl Into<String>, preset: Preset) -> Self {
        OptimizerConfig {
            name: name.into(),
            preset,
            ..Default::default()
        }
    }

    /// Builds the optimizer, filling unset hyperparameters from the preset.
    pub fn build<T: Scalar>(&self) -> Result<Optimizer<T>, OptimError> {
        self.resolve()?.build()
    }

    /// The set optional fields, by name (booleans as 0/1, flavour book = 0, torch = 1).
    fn set_fields(&self) -> Vec<(&'static str, f64)> {
        let fields = [
            (
                "flavour",
                self.flavour
                    .map(|f| if f == Flavour::Book { 0.0 } else { 1.0 }),
            ),
            ("momentum", self.momentum),
            ("dampening", self.dampening),
            ("nesterov", bool_f(self.nesterov)),
            ("beta1", self.beta1),
            ("beta2", self.beta2),
            ("eps", self.eps),
            ("rho", self.rho),
            ("centered", bool_f(self.centered)),
            ("amsgrad", bool_f(self.amsgrad)),
            ("lr_decay", self.lr_decay),
            ("initial_accumulator_value", self.initial_accumulator_value),
            ("momentum_decay", self.momentum_decay),
            (
                "decoupled_weight_decay",
                bool_f(self.decoupled_weight_decay),
            ),
        ];
        fields
            .into_iter()
            .filter_map(|(n, v)| v.map(|v| (n, v)))
            .collect()
    }

    /// Fills defaults and checks every value; see the module docs for the presets.
    pub fn resolve(&self) -> Result<ResolvedOptimizer, OptimError> {
        let name = self.name.as_str();
        if !super::OPTIMIZER_NAMES.contains(&name) {
            return Err(OptimError::UnknownOptimizer(self.name.clone()));
        }
        let ok = accepted(name);
        if let Some((field, value)) = self.set_fields().into_iter().find(|(f, _)| !ok.contains(f)) {
            return Err(OptimError::Invalid {
                name: field,
                value,
                expected: "unset: not a hyperparameter of this optimizer",
            });
        }
        let book = self.preset == Preset::Book;
        let flavour = self.flavour.unwrap_or(self.preset.into());
        let contradiction = |field, value: Option<bool>, wanted: bool, expected| match value {
            Some(v) if v != wanted => Err(OptimError::Invalid {
                name: field,
                value: v as u8 as f64,
                expected,
            }),
            _ => Ok(()),
        };
        let (rule, lr) = match name {
            "sgd" | "momentum" | "nesterov" => {
                if name == "nesterov" {
                    contradiction(
                        "nesterov",
                        self.nesterov,
                        true,
                        "true or unset for 'nesterov'",
                    )?;
                }
                let nesterov = name == "nesterov" || self.nesterov == Some(true);
                let default_m = if name == "sgd" { 0.0 } else { 0.9 };
                let momentum = self.momentum.unwrap_or(default_m);
                let lr = if book { 0.01 } else { 1e-3 };
                if name == "sgd" && momentum == 0.0 && !nesterov {
                    (Rule::Sgd(Sgd), lr)
                } else {
                    let kind = if nesterov {
                        MomentumKind::Nesterov
                    } else {
                        MomentumKind::Classic
                    };
                    let mut m = Momentum::new(momentum, kind, flavour);
                    m.dampening = self.dampening.unwrap_or(0.0);
                    (Rule::Momentum(m), lr)
                }
            }
            "adagrad" => {
                let d = if book {
                    Adagrad::book()
                } else {
                    Adagrad::default()
                };
                let r = Adagrad {
                    eps: self.eps.unwrap_or(d.eps),
                    lr_decay: self.lr_decay.unwrap_or(d.lr_decay),
                    initial_accumulator_value: self
                        .initial_accumulator_value
                        .unwrap_or(d.initial_accumulator_value),
                };
                (Rule::Adagrad(r), 1e-2)
            }
            "rmsprop" => {
                let d = if book {
                    RmsProp::book()
                } else {
                    RmsProp::default()
                };
                let r = RmsProp {
                    rho: self.rho.unwrap_or(d.rho),
                    eps: self.eps.unwrap_or(d.eps),
                    momentum: self.momentum.unwrap_or(d.momentum),
                    centered: self.centered.unwrap_or(d.centered),
                };
                (Rule::RmsProp(r), 1e-2)
            }
            "adam" | "adamw" | "amsgrad" => {
                if name == "amsgrad" {
                    contradiction("amsgrad", self.amsgrad, true, "true or unset for 'amsgrad'")?;
                }
                // The book has only Adam; AdamW and AMSGrad are torch's in both presets.
                let flavour = if name == "adam" {
                    flavour
                } else {
                    self.flavour.unwrap_or_default()
                };
                let d = if flavour == Flavour::Book {
                    Adam::book()
                } else {
                    Adam::default()
                };
                let r = Adam {
                    beta1: self.beta1.unwrap_or(d.beta1),
                    beta2: self.beta2.unwrap_or(d.beta2),
                    eps: self.eps.unwrap_or(d.eps),
                    amsgrad: name == "amsgrad" || self.amsgrad.unwrap_or(false),
                    flavour,
                };
                (Rule::Adam(r), 1e-3)
            }
            "nadam" => {
                let d = NAdam::default();
                let r = NAdam {
                    beta1: self.beta1.unwrap_or(d.beta1),
                    beta2: self.beta2.unwrap_or(d.beta2),
                    eps: self.eps.unwrap_or(d.eps),
                    momentum_decay: self.momentum_decay.unwrap_or(d.momentum_decay),
                };
                (Rule::NAdam(r), 2e-3)
            }
            "radam" => {
                let d = RAdam::default();
                let r = RAdam {
                    beta1: self.beta1.unwrap_or(d.beta1),
                    beta2: self.beta2.unwrap_or(d.beta2),
                    eps: self.eps.unwrap_or(d.eps),
                };
                (Rule::RAdam(r), 1e-3)
            }
            "adadelta" => {
                let d = Adadelta::default();
                let r = Adadelta {
                    rho: self.rho.unwrap_or(d.rho),
                    eps: self.eps.unwrap_or(d.eps),
                };
                (Rule::Adadelta(r), 1.0)
            }
            "lion" => {
                let d = Lion::default();
                let r = Lion {
                    beta1: self.beta1.unwrap_or(d.beta1),
                    beta2: self.beta2.unwrap_or(d.beta2),
                };
                (Rule::Lion(r), 1e-4)
            }
            _ => unreachable!("checked against OPTIMIZER_NAMES"),
        };
        rule.validate()?;

        let always_decoupled = matches!(name, "adamw" | "lion");
        if always_decoupled {
            contradiction(
                "decoupled_weight_decay",
                self.decoupled_weight_decay,
                true,
                "true or unset: adamw and lion decay weights decoupled",
            )?;
        }
        let lambda = self
            .weight_decay
            .unwrap_or(if name == "adamw" { 0.01 } else { 0.0 });
        let weight_decay = if lambda == 0.0 {
            WeightDecay::None
        } else if always_decoupled || self.decoupled_weight_decay == Some(true) {
            WeightDecay::Decoupled(lambda)
        } else {
            WeightDecay::L2(lambda)
        };
        let groups = if self.no_decay_on_bias_and_norm.unwrap_or(book) && lambda != 0.0 {
            vec![ParamGroup::no_decay_on_bias_and_norm()]
        } else {
            vec![]
        };
        let resolved = ResolvedOptimizer {
            name: self.name.clone(),
            rule,
            lr: self.lr.unwrap_or(lr),
            weight_decay,
            groups,
            clip: self.clip,
        };
        resolved.build::<f64>()?; // validates lr, weight decay and clip
        Ok(resolved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nn::{ParamKind, ParamMut, Parameters};
    use crate::optim::{OPTIMIZER_NAMES, OptimizerState};

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
        OptimizerConfig::new(name, Preset::Torch)
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
        let mut book = OptimizerConfig::new("momentum", Preset::Book);
        book.dampening = Some(0.5);
        assert_eq!(invalid_name(&book), "dampening");
    }

    #[test]
    fn unknown_name_is_an_error_listing_the_names() {
        let err = cfg("adamx").build::<f32>().err().unwrap();
        assert_eq!(err, OptimError::UnknownOptimizer("adamx".into()));
        assert!(err.to_string().contains("adamw"), "{err}");
        assert!(OptimizerConfig::default().build::<f64>().is_err());
    }

    #[test]
    fn presets_fill_torch_and_book_defaults() {
        let torch = |n: &str| cfg(n).resolve().unwrap();
        let book = |n: &str| OptimizerConfig::new(n, Preset::Book).resolve().unwrap();
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

        let mut c = OptimizerConfig::new("sgd", Preset::Book);
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
        let json = r#"{"name": "rmsprop", "preset": "book", "alpha": 0.9, "clip": {"kind": "norm", "max": 1.0}}"#;
        let c: OptimizerConfig = serde_json::from_str(json).unwrap();
        assert_eq!(
            (c.rho, c.preset, c.clip),
            (Some(0.9), Preset::Book, Some(Clip::Norm(1.0)))
        );
        let back: OptimizerConfig =
            serde_json::from_str(&serde_json::to_string(&c).unwrap()).unwrap();
        assert_eq!(back, c);
        assert!(
            serde_json::from_str::<OptimizerConfig>(r#"{"name": "sgd", "lr_typo": 1}"#).is_err()
        );
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
                let mut c = OptimizerConfig::new(*name, preset);
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
}
