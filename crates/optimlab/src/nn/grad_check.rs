//! Numerical gradients by central differences, and checks of backprop against them.
//!
//! Use `f64`: in `f32` the rounding error of the difference quotient swamps the comparison.

use super::{Layer, Mode, Network, NnError, Parameters};
use crate::rng::{self, Purpose};
use crate::tensor::{Matrix, Scalar};
use rand::RngExt;

/// How far backprop's gradient of one tensor is from the numerical one.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct GradCheck {
    pub name: String,
    /// Mean of |analytic − numerical| over the tensor's elements (the book's measure).
    pub mean_abs: f64,
    pub max_abs: f64,
    /// max |a − n| / max(|a| + |n|, 1e-12).
    pub max_rel: f64,
}

impl GradCheck {
    fn compare(name: &str, analytic: &[f64], numerical: &[f64]) -> Self {
        let mut sum = 0.0;
        let mut max_abs = 0.0f64;
        let mut max_rel = 0.0f64;
        for (&a, &n) in analytic.iter().zip(numerical) {
            let d = (a - n).abs();
            sum += d;
            max_abs = max_abs.max(d);
            max_rel = max_rel.max(d / (a.abs() + n.abs()).max(1e-12));
        }
        GradCheck {
            name: name.to_string(),
            mean_abs: sum / analytic.len().max(1) as f64,
            max_abs,
            max_rel,
        }
    }
}

/// `(f(v + h) − f(v − h)) / 2h` for every element of `values`, restoring each element after.
pub fn numerical_gradient<T: Scalar>(
    values: &mut [T],
    h: f64,
    mut f: impl FnMut(&[T]) -> f64,
) -> Vec<f64> {
    let mut grad = vec![0.0; values.len()];
    for i in 0..values.len() {
        let orig = values[i];
        values[i] = T::from_f64(orig.as_f64() + h);
        let plus = f(values);
        values[i] = T::from_f64(orig.as_f64() - h);
        let minus = f(values);
        values[i] = orig;
        grad[i] = (plus - minus) / (2.0 * h);
    }
    grad
}

/// Sets element `index` of parameter number `param` (in visit order) and returns the old value.
fn poke<T: Scalar>(net: &mut dyn Parameters<T>, param: usize, index: usize, v: T) -> T {
    let mut k = 0;
    let mut old = v;
    net.visit_params(&mut |p| {
        if k == param {
            old = p.value[index];
            p.value[index] = v;
        }
        k += 1;
    });
    old
}

/// The most parameters [`check_network`] checks: each costs two forward passes.
pub const MAX_CHECKED_PARAMS: usize = 1_000_000;

/// Refuses, before the network is built, a check [`check_network`] would refuse.
pub fn check_size(config: &super::NetworkConfig) -> Result<(), NnError> {
    let params = config.parameter_count();
    if params > MAX_CHECKED_PARAMS as u128 {
        return Err(NnError::GradCheckTooLarge {
            params: usize::try_from(params).unwrap_or(usize::MAX),
            max: MAX_CHECKED_PARAMS,
        });
    }
    Ok(())
}

/// Compares the network's backprop gradients with central differences of its training-mode
/// loss on `(x, labels)`, for every parameter. Dropout masks are frozen during the check.
pub fn check_network<T: Scalar>(
    net: &mut Network<T>,
    x: &Matrix<T>,
    labels: &[usize],
    h: f64,
) -> Result<Vec<GradCheck>, NnError> {
    // Two forward passes per parameter: a huge network would run for days.
    let mut count = 0usize;
    net.visit_params(&mut |p| count += p.value.len());
    if count > MAX_CHECKED_PARAMS {
        return Err(NnError::GradCheckTooLarge {
            params: count,
            max: MAX_CHECKED_PARAMS,
        });
    }
    net.loss(x, labels, Mode::Train)?;
    net.freeze_dropout_masks(true);
    net.backward(x, labels)?;
    let mut analytic: Vec<(String, Vec<f64>)> = Vec::new();
    net.visit_params(&mut |p| {
        analytic.push((
            p.name.to_string(),
            p.grad.iter().map(|g| g.as_f64()).collect(),
        ));
    });
    let mut out = Vec::new();
    for (pi, (name, a)) in analytic.iter().enumerate() {
        let mut numerical = vec![0.0; a.len()];
        for (i, num) in numerical.iter_mut().enumerate() {
            let orig = poke(net, pi, i, T::zero());
            let mut eval = |v: f64| -> Result<f64, NnError> {
                poke(net, pi, i, T::from_f64(v));
                Ok(net.loss(x, labels, Mode::Train)?.as_f64())
            };
            let plus = eval(orig.as_f64() + h)?;
            let minus = eval(orig.as_f64() - h)?;
            poke(net, pi, i, orig);
            *num = (plus - minus) / (2.0 * h);
        }
        out.push(GradCheck::compare(name, a, &numerical));
    }
    net.freeze_dropout_masks(false);
    Ok(out)
}

/// Checks one layer on its own: the loss is `Σ out ⊙ R` for a fixed random `R`, so
/// `dout = R`. Returns the check of the input gradient (named `"input"`) and of each parameter.
pub fn check_layer<T: Scalar>(
    layer: &mut dyn Layer<T>,
    x: &Matrix<T>,
    mode: Mode,
    h: f64,
) -> Vec<GradCheck> {
    layer.freeze_dropout_mask(true);
    layer.forward(x, mode);
    let (rows, cols) = layer.output().shape();
    let mut rng = rng::stream(0, Purpose::Other(17));
    let r: Vec<f64> = (0..rows * cols)
        .map(|_| rng.random::<f64>() * 2.0 - 1.0)
        .collect();
    let dout = Matrix::from_f64(rows, cols, &r).expect("shape");
    layer.backward(x, &dout, true);
    let dx: Vec<f64> = layer
        .input_grad()
        .as_slice()
        .iter()
        .map(|v| v.as_f64())
        .collect();
    let mut params: Vec<(String, Vec<f64>)> = Vec::new();
    layer.visit_params(&mut |p| {
        params.push((
            p.name.to_string(),
            p.grad.iter().map(|g| g.as_f64()).collect(),
        ));
    });

    let objective = |layer: &mut dyn Layer<T>, input: &Matrix<T>| -> f64 {
        layer.forward(input, mode);
        layer
            .output()
            .as_slice()
            .iter()
            .zip(&r)
            .map(|(o, w)| o.as_f64() * w)
            .sum()
    };

    let mut out = Vec::new();
    let mut xv = x.clone();
    let (xr, xc) = x.shape();
    let num_dx = numerical_gradient(xv.as_mut_slice(), h, |vals| {
        let m = Matrix::from_vec(xr, xc, vals.to_vec()).expect("shape");
        objective(layer, &m)
    });
    out.push(GradCheck::compare("input", &dx, &num_dx));

    for (pi, (name, a)) in params.iter().enumerate() {
        let mut numerical = vec![0.0; a.len()];
        for (i, num) in numerical.iter_mut().enumerate() {
            let orig = poke_layer(layer, pi, i, T::zero());
            poke_layer(layer, pi, i, T::from_f64(orig.as_f64() + h));
            let plus = objective(layer, x);
            poke_layer(layer, pi, i, T::from_f64(orig.as_f64() - h));
            let minus = objective(layer, x);
            poke_layer(layer, pi, i, orig);
            *num = (plus - minus) / (2.0 * h);
        }
        out.push(GradCheck::compare(name, a, &numerical));
    }
    layer.freeze_dropout_mask(false);
    out
}

fn poke_layer<T: Scalar>(layer: &mut dyn Layer<T>, param: usize, index: usize, v: T) -> T {
    let mut k = 0;
    let mut old = v;
    layer.visit_params(&mut |p| {
        if k == param {
            old = p.value[index];
            p.value[index] = v;
        }
        k += 1;
    });
    old
}
