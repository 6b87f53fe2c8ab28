//! Optimizer paths on 2-D test functions (the chapter's first figure).

use crate::Preset;
use crate::nn::{ParamKind, ParamMut, Parameters};
use crate::optim::{OptimError, Optimizer, OptimizerConfig, OptimizerName, ResolvedOptimizer};
use crate::tensor::{DType, Scalar};
use serde::{Deserialize, Serialize};

/// A 2-D function with its gradient.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TestFunction {
    /// The book's `f = x²/20 + y²`: a valley twenty times flatter along x; minimum (0, 0).
    #[default]
    Book,
    /// Rosenbrock's `(1 − x)² + 100(y − x²)²`: a curved valley; minimum (1, 1).
    Rosenbrock,
    /// Beale's `(1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²`; minimum (3, 0.5).
    Beale,
    /// The saddle `x² − y²`: no minimum; (0, 0) is a saddle point.
    Saddle,
}

impl TestFunction {
    pub const ALL: [TestFunction; 4] = [
        TestFunction::Book,
        TestFunction::Rosenbrock,
        TestFunction::Beale,
        TestFunction::Saddle,
    ];

    pub fn name(self) -> &'static str {
        match self {
            TestFunction::Book => "book",
            TestFunction::Rosenbrock => "rosenbrock",
            TestFunction::Beale => "beale",
            TestFunction::Saddle => "saddle",
        }
    }

    /// A customary starting point.
    pub fn default_start(self) -> [f64; 2] {
        match self {
            TestFunction::Book => [-7.0, 2.0],
            TestFunction::Rosenbrock => [-1.5, 2.0],
            TestFunction::Beale => [1.0, 1.5],
            TestFunction::Saddle => [-1.0, 0.001],
        }
    }

    pub fn value<T: Scalar>(self, x: T, y: T) -> T {
        let c = T::from_f64;
        match self {
            TestFunction::Book => x * x / c(20.0) + y * y,
            TestFunction::Rosenbrock => {
                let a = c(1.0) - x;
                let b = y - x * x;
                a * a + c(100.0) * b * b
            }
            TestFunction::Beale => {
                let t1 = c(1.5) - x + x * y;
                let t2 = c(2.25) - x + x * y * y;
                let t3 = c(2.625) - x + x * y * y * y;
                t1 * t1 + t2 * t2 + t3 * t3
            }
            TestFunction::Saddle => x * x - y * y,
        }
    }

    /// `(∂f/∂x, ∂f/∂y)`. For the book's function this is `(x/10, 2y)`, as the book computes it.
    pub fn gradient<T: Scalar>(self, x: T, y: T) -> (T, T) {
        let c = T::from_f64;
        match self {
            TestFunction::Book => (x / c(10.0), c(2.0) * y),
            TestFunction::Rosenbrock => {
                let b = y - x * x;
                (c(-2.0) * (c(1.0) - x) - c(400.0) * x * b, c(200.0) * b)
            }
            TestFunction::Beale => {
                let t1 = c(1.5) - x + x * y;
                let t2 = c(2.25) - x + x * y * y;
                let t3 = c(2.625) - x + x * y * y * y;
                let dx = c(2.0)
                    * (t1 * (y - c(1.0)) + t2 * (y * y - c(1.0)) + t3 * (y * y * y - c(1.0)));
                let dy = c(2.0) * (t1 * x + t2 * c(2.0) * x * y + t3 * c(3.0) * x * y * y);
                (dx, dy)
            }
            TestFunction::Saddle => (c(2.0) * x, c(-2.0) * y),
        }
    }
}

impl std::str::FromStr for TestFunction {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        TestFunction::ALL
            .into_iter()
            .find(|f| f.name() == s)
            .ok_or_else(|| {
                format!("unknown function '{s}' (expected book, rosenbrock, beale or saddle)")
            })
    }
}

/// A point in the plane as two parameters, `x` and `y`, as the book keeps them.
pub struct Point<T> {
    pub x: [T; 1],
    pub y: [T; 1],
    grad_x: [T; 1],
    grad_y: [T; 1],
}

impl<T: Scalar> Point<T> {
    pub fn new(x: T, y: T) -> Self {
        Self {
            x: [x],
            y: [y],
            grad_x: [T::zero()],
            grad_y: [T::zero()],
        }
    }
}

impl<T: Scalar> Parameters<T> for Point<T> {
    fn visit_params(&mut self, f: &mut dyn FnMut(ParamMut<'_, T>)) {
        f(ParamMut {
            name: "x",
            kind: ParamKind::Other,
            shape: &[1],
            value: &mut self.x,
            grad: &mut self.grad_x,
        });
        f(ParamMut {
            name: "y",
            kind: ParamKind::Other,
            shape: &[1],
            value: &mut self.y,
            grad: &mut self.grad_y,
        });
    }
}

/// The path an optimizer takes: `positions[0]` is the start, `positions[k]` the point after
/// `k` updates; `values[k]` is `f` there.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Trajectory {
    pub function: TestFunction,
    pub optimizer: String,
    pub positions: Vec<[f64; 2]>,
    pub values: Vec<f64>,
}

/// The longest path [`run`] records (24 bytes a point: 240 MB): a billion steps would
/// otherwise abort on allocation.
pub const MAX_STEPS: usize = 10_000_000;

/// Runs `steps` updates of `optimizer` on `function` from `start`; refuses more than
/// [`MAX_STEPS`].
pub fn run<T: Scalar>(
    function: TestFunction,
    optimizer: &mut Optimizer<T>,
    start: [f64; 2],
    steps: usize,
) -> Result<Trajectory, OptimError> {
    if steps > MAX_STEPS {
        return Err(OptimError::TooManySteps {
            steps,
            max: MAX_STEPS,
        });
    }
    let mut p = Point::new(T::from_f64(start[0]), T::from_f64(start[1]));
    let mut positions = Vec::with_capacity(steps + 1);
    let mut values = Vec::with_capacity(steps + 1);
    let record = |p: &Point<T>, positions: &mut Vec<[f64; 2]>, values: &mut Vec<f64>| {
        positions.push([p.x[0].as_f64(), p.y[0].as_f64()]);
        values.push(function.value(p.x[0], p.y[0]).as_f64());
    };
    record(&p, &mut positions, &mut values);
    for _ in 0..steps {
        let (gx, gy) = function.gradient(p.x[0], p.y[0]);
        p.grad_x[0] = gx;
        p.grad_y[0] = gy;
        optimizer.step(&mut p)?;
        record(&p, &mut positions, &mut values);
    }
    Ok(Trajectory {
        function,
        optimizer: optimizer.rule().name().to_string(),
        positions,
        values,
    })
}

/// A path as `optimlab trajectory` and the playground page ask for it: the function, start,
/// number of updates, preset, element type and the optimizer's settings (flattened, with the
/// keys of `optimlab train`: `optimizer`, `flavour`, `lr`, `momentum`, `beta1`, …).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Request {
    #[serde(default)]
    pub function: TestFunction,
    /// The function's customary start when unset.
    #[serde(default)]
    pub start: Option<[f64; 2]>,
    #[serde(default = "default_steps")]
    pub steps: usize,
    #[serde(default)]
    pub preset: Preset,
    /// The preset's when unset.
    #[serde(default)]
    pub dtype: Option<DType>,
    /// SGD when no `optimizer` is named.
    #[serde(flatten)]
    pub optimizer: OptimizerConfig,
}

fn default_steps() -> usize {
    30
}

/// A request's path with every setting it resolved to (`optimlab trajectory --json`).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub function: TestFunction,
    pub optimizer: OptimizerName,
    pub preset: Preset,
    pub dtype: DType,
    pub steps: usize,
    pub start: [f64; 2],
    pub config: ResolvedOptimizer,
    pub positions: Vec<[f64; 2]>,
    pub values: Vec<f64>,
}

impl Request {
    /// Resolves the optimizer against the preset and runs it.
    pub fn run(&self) -> Result<Report, OptimError> {
        let mut config = self.optimizer.clone();
        config.name.get_or_insert(OptimizerName::Sgd);
        config.preset = self.preset;
        let resolved = config.resolve()?;
        let dtype = self.dtype.unwrap_or(self.preset.dtype());
        let start = self.start.unwrap_or(self.function.default_start());
        let path = match dtype {
            DType::F32 => run(
                self.function,
                &mut resolved.build::<f32>()?,
                start,
                self.steps,
            )?,
            DType::F64 => run(
                self.function,
                &mut resolved.build::<f64>()?,
                start,
                self.steps,
            )?,
        };
        Ok(Report {
            function: self.function,
            optimizer: resolved.name,
            preset: self.preset,
            dtype,
            steps: self.steps,
            start,
            config: resolved,
            positions: path.positions,
            values: path.values,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gradients_match_central_differences() {
        for f in TestFunction::ALL {
            for &(x, y) in &[(-1.3f64, 0.7f64), (0.4, -2.1), (2.0, 1.1)] {
                let (gx, gy) = f.gradient(x, y);
                let h = 1e-6;
                let nx = (f.value(x + h, y) - f.value(x - h, y)) / (2.0 * h);
                let ny = (f.value(x, y + h) - f.value(x, y - h)) / (2.0 * h);
                assert!((gx - nx).abs() < 1e-5 * (1.0 + nx.abs()), "{f:?} dx");
                assert!((gy - ny).abs() < 1e-5 * (1.0 + ny.abs()), "{f:?} dy");
            }
        }
    }

    #[test]
    fn a_billion_steps_are_refused_before_allocating() {
        let config = crate::optim::OptimizerConfig {
            name: Some(crate::optim::OptimizerName::Sgd),
            ..Default::default()
        };
        let mut opt = config.resolve().unwrap().build::<f64>().unwrap();
        let err = run(TestFunction::Book, &mut opt, [1.0, 1.0], 1_000_000_000).unwrap_err();
        assert!(matches!(err, OptimError::TooManySteps { .. }), "{err}");
        assert!(err.to_string().contains("1000000000 steps"), "{err}");
    }

    #[test]
    fn minima_are_where_documented() {
        assert_eq!(TestFunction::Rosenbrock.value(1.0f64, 1.0), 0.0);
        assert!(TestFunction::Beale.value(3.0f64, 0.5).abs() < 1e-15);
        assert_eq!(TestFunction::Book.gradient(0.0f64, 0.0), (0.0, 0.0));
    }
}
