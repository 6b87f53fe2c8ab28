//! Element-wise activations: ReLU, sigmoid, tanh.

use super::{Layer, Mode, NnError};
use crate::tensor::{Matrix, Scalar, vectorised};
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Activation {
    /// `max(0, x)`; derivative 1 where the output is positive, else 0.
    Relu,
    /// `1 / (1 + e^{−x})`; derivative `y(1 − y)`.
    Sigmoid,
    /// `tanh x`; derivative `1 − y²`.
    Tanh,
}

impl Activation {
    pub fn name(self) -> &'static str {
        match self {
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
        }
    }

    #[inline(always)]
    pub fn apply<T: Scalar>(self, x: T) -> T {
        match self {
            Activation::Relu => x.max(T::zero()),
            Activation::Sigmoid => T::one() / (T::one() + (-x).exp()),
            Activation::Tanh => x.tanh(),
        }
    }

    /// The derivative expressed through the output `y`.
    #[inline(always)]
    pub fn derivative_from_output<T: Scalar>(self, y: T) -> T {
        match self {
            Activation::Relu => {
                if y > T::zero() {
                    T::one()
                } else {
                    T::zero()
                }
            }
            Activation::Sigmoid => y * (T::one() - y),
            Activation::Tanh => T::one() - y * y,
        }
    }
}

impl std::str::FromStr for Activation {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "relu" => Ok(Activation::Relu),
            "sigmoid" => Ok(Activation::Sigmoid),
            "tanh" => Ok(Activation::Tanh),
            other => Err(format!(
                "unknown activation '{other}' (expected relu, sigmoid or tanh)"
            )),
        }
    }
}

#[inline(always)]
fn relu<T: Scalar>(out: &mut [T], x: &[T]) {
    for (o, &v) in out.iter_mut().zip(x) {
        *o = Activation::Relu.apply(v);
    }
}

/// `dx = g·f'(y)`; `kind` is a constant at every call site.
#[inline(always)]
fn chain_rule<T: Scalar>(dx: &mut [T], g: &[T], y: &[T], kind: Activation) {
    for ((d, &g), &y) in dx.iter_mut().zip(g).zip(y) {
        *d = g * kind.derivative_from_output(y);
    }
}

/// An activation as a layer. It remembers its output, from which each derivative follows.
pub struct ActivationLayer<T> {
    kind: Activation,
    out: Matrix<T>,
    dx: Matrix<T>,
}

impl<T: Scalar> ActivationLayer<T> {
    pub fn new(kind: Activation) -> Self {
        Self {
            kind,
            out: Matrix::default(),
            dx: Matrix::default(),
        }
    }
}

impl<T: Scalar> Layer<T> for ActivationLayer<T> {
    fn describe(&self) -> String {
        self.kind.name().to_string()
    }

    fn output_features(&self, input: usize) -> Result<usize, NnError> {
        Ok(input)
    }

    fn forward(&mut self, x: &Matrix<T>, _mode: Mode) {
        self.out.resize(x.rows(), x.cols());
        let kind = self.kind;
        let out = self.out.as_mut_slice();
        match kind {
            // ReLU is a vector max; sigmoid and tanh call libm per element.
            Activation::Relu => vectorised(
                #[inline(always)]
                || relu(out, x.as_slice()),
            ),
            _ => {
                for (o, &v) in out.iter_mut().zip(x.as_slice()) {
                    *o = kind.apply(v);
                }
            }
        }
    }

    fn output(&self) -> &Matrix<T> {
        &self.out
    }

    fn backward(&mut self, _x: &Matrix<T>, dout: &Matrix<T>, need_input_grad: bool) {
        if !need_input_grad {
            return;
        }
        self.dx.resize(dout.rows(), dout.cols());
        let kind = self.kind;
        let (dx, y) = (self.dx.as_mut_slice(), self.out.as_slice());
        let g = dout.as_slice();
        // One loop per kind, so that each is branch-free and vectorises (a `match` on the kind
        // inside the loop compiled to a data-dependent branch per element for ReLU).
        match kind {
            Activation::Relu => vectorised(
                #[inline(always)]
                || chain_rule(dx, g, y, Activation::Relu),
            ),
            Activation::Sigmoid => vectorised(
                #[inline(always)]
                || chain_rule(dx, g, y, Activation::Sigmoid),
            ),
            Activation::Tanh => vectorised(
                #[inline(always)]
                || chain_rule(dx, g, y, Activation::Tanh),
            ),
        }
    }

    fn input_grad(&self) -> &Matrix<T> {
        &self.dx
    }
}
