//! The strategy itself, apart from trials and parameters: the state in the normalised space,
//! its recombination weights, one generation's update (Hansen's tutorial, 2016) and the
//! eigendecomposition that sampling goes through.

use crate::rng::Rng;
use rand::RngExt;
use rand_distr::StandardNormal;

/// The strategy's state in the normalised space: mean, step size, covariance (with its
/// eigendecomposition C = B·diag(D²)·Bᵀ) and the two evolution paths.
#[derive(Clone, Debug)]
pub struct CmaState {
    pub mean: Vec<f64>,
    pub sigma: f64,
    /// C, row-major d × d.
    pub cov: Vec<f64>,
    pub p_sigma: Vec<f64>,
    pub p_c: Vec<f64>,
    /// The number of updates applied.
    pub updates: u32,
    /// Eigenvectors of C, column j in `b[i·d + j]`.
    b: Vec<f64>,
    /// Square roots of C's eigenvalues.
    d_sqrt: Vec<f64>,
    c_sigma: f64,
    d_sigma: f64,
    c_c: f64,
    c_1: f64,
    c_mu: f64,
    chi_n: f64,
}

/// Positive recombination weights for a population of `k` (μ = ⌊k/2⌋), and their μ_eff.
fn weights(k: usize) -> (Vec<f64>, f64) {
    let mu = (k / 2).max(1);
    let raw: Vec<f64> = (1..=mu)
        .map(|i| ((k as f64 + 1.0) / 2.0).ln() - (i as f64).ln())
        .collect();
    let sum: f64 = raw.iter().sum();
    let w: Vec<f64> = raw.iter().map(|x| x / sum).collect();
    let mu_eff = 1.0 / w.iter().map(|x| x * x).sum::<f64>();
    (w, mu_eff)
}

impl CmaState {
    /// The initial state: mean at the centre, C = I, σ = `sigma0`, learning rates for λ.
    pub fn new(d: usize, lambda: usize, sigma0: f64) -> Self {
        let n = d as f64;
        let (_, mu_eff) = weights(lambda);
        let c_sigma = (mu_eff + 2.0) / (n + mu_eff + 5.0);
        let d_sigma = 1.0 + 2.0 * (((mu_eff - 1.0) / (n + 1.0)).sqrt() - 1.0).max(0.0) + c_sigma;
        let c_c = (4.0 + mu_eff / n) / (n + 4.0 + 2.0 * mu_eff / n);
        let c_1 = 2.0 / ((n + 1.3).powi(2) + mu_eff);
        let c_mu =
            (1.0 - c_1).min(2.0 * (mu_eff - 2.0 + 1.0 / mu_eff) / ((n + 2.0).powi(2) + mu_eff));
        let mut identity = vec![0.0; d * d];
        for i in 0..d {
            identity[i * d + i] = 1.0;
        }
        Self {
            mean: vec![0.5; d],
            sigma: sigma0,
            cov: identity.clone(),
            p_sigma: vec![0.0; d],
            p_c: vec![0.0; d],
            updates: 0,
            b: identity,
            d_sqrt: vec![1.0; d],
            c_sigma,
            d_sigma,
            c_c,
            c_1,
            c_mu: c_mu.max(0.0),
            chi_n: n.sqrt() * (1.0 - 1.0 / (4.0 * n) + 1.0 / (21.0 * n * n)),
        }
    }

    fn dim(&self) -> usize {
        self.mean.len()
    }

    /// One generation's update from its solutions, best first.
    pub fn tell(&mut self, ranked: &[Vec<f64>]) {
        let d = self.dim();
        let (w, mu_eff) = weights(ranked.len());
        let ys: Vec<Vec<f64>> = ranked[..w.len()]
            .iter()
            .map(|x| {
                x.iter()
                    .zip(&self.mean)
                    .map(|(xi, mi)| (xi - mi) / self.sigma)
                    .collect()
            })
            .collect();
        let mut y_w = vec![0.0; d];
        for (wi, y) in w.iter().zip(&ys) {
            for (acc, yi) in y_w.iter_mut().zip(y) {
                *acc += wi * yi;
            }
        }
        for (m, yi) in self.mean.iter_mut().zip(&y_w) {
            *m += self.sigma * yi;
        }
        // C^{-1/2}·y_w = B·diag(1/D)·Bᵀ·y_w.
        let mut bt_y = vec![0.0; d];
        for (j, v) in bt_y.iter_mut().enumerate() {
            *v = (0..d).map(|i| self.b[i * d + j] * y_w[i]).sum::<f64>() / self.d_sqrt[j];
        }
        let c_inv_sqrt_y: Vec<f64> = (0..d)
            .map(|i| (0..d).map(|j| self.b[i * d + j] * bt_y[j]).sum())
            .collect();
        let cs = self.c_sigma;
        let ps_gain = (cs * (2.0 - cs) * mu_eff).sqrt();
        for (p, v) in self.p_sigma.iter_mut().zip(&c_inv_sqrt_y) {
            *p = (1.0 - cs) * *p + ps_gain * v;
        }
        let ps_norm = self.p_sigma.iter().map(|x| x * x).sum::<f64>().sqrt();
        let n = d as f64;
        let t = f64::from(self.updates + 1);
        let h_sigma = ps_norm / (1.0 - (1.0 - cs).powf(2.0 * t)).sqrt()
            < (1.4 + 2.0 / (n + 1.0)) * self.chi_n;
        let cc = self.c_c;
        let pc_gain = if h_sigma {
            (cc * (2.0 - cc) * mu_eff).sqrt()
        } else {
            0.0
        };
        for (p, yi) in self.p_c.iter_mut().zip(&y_w) {
            *p = (1.0 - cc) * *p + pc_gain * yi;
        }
        let delta = if h_sigma { 0.0 } else { cc * (2.0 - cc) };
        let keep = 1.0 - self.c_1 - self.c_mu + self.c_1 * delta;
        for i in 0..d {
            for j in 0..d {
                let rank_mu: f64 = w.iter().zip(&ys).map(|(wi, y)| wi * y[i] * y[j]).sum();
                self.cov[i * d + j] = keep * self.cov[i * d + j]
                    + self.c_1 * self.p_c[i] * self.p_c[j]
                    + self.c_mu * rank_mu;
            }
        }
        self.sigma *= ((cs / self.d_sigma) * (ps_norm / self.chi_n - 1.0)).exp();
        self.sigma = self.sigma.clamp(1e-12, 1e3);
        self.updates += 1;
        self.decompose();
    }

    /// Refreshes B and D from C (symmetrised; eigenvalues floored so that C stays positive
    /// definite with a condition number below 1e14).
    fn decompose(&mut self) {
        let d = self.dim();
        for i in 0..d {
            for j in 0..i {
                let v = 0.5 * (self.cov[i * d + j] + self.cov[j * d + i]);
                self.cov[i * d + j] = v;
                self.cov[j * d + i] = v;
            }
        }
        let (values, vectors) = jacobi_eigen(&self.cov, d);
        if values.iter().any(|v| !v.is_finite()) {
            // A broken C (non-finite values): start the shape afresh, keep mean and σ.
            self.cov = vec![0.0; d * d];
            for i in 0..d {
                self.cov[i * d + i] = 1.0;
            }
            self.b = self.cov.clone();
            self.d_sqrt = vec![1.0; d];
            self.p_c = vec![0.0; d];
            self.p_sigma = vec![0.0; d];
            return;
        }
        let top = values.iter().cloned().fold(f64::MIN_POSITIVE, f64::max);
        self.d_sqrt = values.iter().map(|v| v.max(top * 1e-14).sqrt()).collect();
        self.b = vectors;
    }

    /// A candidate in [0, 1]^d: m + σ·B·D·z, redrawn while outside the box (up to 100 times),
    /// then clipped.
    pub fn ask(&self, rng: &mut Rng) -> Vec<f64> {
        let d = self.dim();
        let mut x = vec![0.0; d];
        for _ in 0..100 {
            let z: Vec<f64> = (0..d)
                .map(|j| self.d_sqrt[j] * rng.sample::<f64, _>(StandardNormal))
                .collect();
            for (i, xi) in x.iter_mut().enumerate() {
                *xi = self.mean[i]
                    + self.sigma * (0..d).map(|j| self.b[i * d + j] * z[j]).sum::<f64>();
            }
            if x.iter().all(|v| (0.0..=1.0).contains(v)) {
                return x;
            }
        }
        x.iter().map(|v| v.clamp(0.0, 1.0)).collect()
    }
}

/// Eigenvalues and eigenvectors (columns, row-major d × d) of a symmetric matrix, by cyclic
/// Jacobi rotations — exact enough and simple for the handful of dimensions searched here.
pub fn jacobi_eigen(a: &[f64], d: usize) -> (Vec<f64>, Vec<f64>) {
    let mut a = a.to_vec();
    let mut v = vec![0.0; d * d];
    for i in 0..d {
        v[i * d + i] = 1.0;
    }
    for _sweep in 0..100 {
        let off: f64 = (0..d)
            .flat_map(|i| (0..d).filter(move |j| *j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * d + j] * a[i * d + j])
            .sum();
        let diag: f64 = (0..d).map(|i| a[i * d + i] * a[i * d + i]).sum();
        if off <= 1e-30 * diag.max(f64::MIN_POSITIVE) {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                let apq = a[p * d + q];
                if apq == 0.0 {
                    continue;
                }
                let theta = (a[q * d + q] - a[p * d + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..d {
                    let akp = a[k * d + p];
                    let akq = a[k * d + q];
                    a[k * d + p] = c * akp - s * akq;
                    a[k * d + q] = s * akp + c * akq;
                }
                for k in 0..d {
                    let apk = a[p * d + k];
                    let aqk = a[q * d + k];
                    a[p * d + k] = c * apk - s * aqk;
                    a[q * d + k] = s * apk + c * aqk;
                }
                for k in 0..d {
                    let vkp = v[k * d + p];
                    let vkq = v[k * d + q];
                    v[k * d + p] = c * vkp - s * vkq;
                    v[k * d + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    ((0..d).map(|i| a[i * d + i]).collect(), v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jacobi_diagonalises_a_symmetric_matrix() {
        let a = [4.0, 1.0, 2.0, 1.0, 3.0, 0.5, 2.0, 0.5, 5.0];
        let (values, v) = jacobi_eigen(&a, 3);
        // A·v_j = λ_j·v_j for every column, and V is orthonormal.
        for j in 0..3 {
            for i in 0..3 {
                let av: f64 = (0..3).map(|k| a[i * 3 + k] * v[k * 3 + j]).sum();
                assert!((av - values[j] * v[i * 3 + j]).abs() < 1e-12);
            }
            for k in 0..3 {
                let dot: f64 = (0..3).map(|i| v[i * 3 + j] * v[i * 3 + k]).sum();
                assert!((dot - if j == k { 1.0 } else { 0.0 }).abs() < 1e-12);
            }
        }
        assert!((values.iter().sum::<f64>() - 12.0).abs() < 1e-12);
    }

    #[test]
    fn weights_follow_the_tutorial() {
        // λ = 6: μ = 3, w ∝ ln 3.5 − ln i = (1.2528, 0.5596, 0.1542), μ_eff = 1/Σw² ≈ 2.0286.
        let (w, mu_eff) = weights(6);
        assert_eq!(w.len(), 3);
        assert!((w.iter().sum::<f64>() - 1.0).abs() < 1e-15);
        assert!(w[0] > w[1] && w[1] > w[2] && w[2] > 0.0);
        assert!((mu_eff - 2.0286).abs() < 1e-4, "{mu_eff}");
        assert!((w[0] - 1.2528 / 1.9666).abs() < 1e-4, "{w:?}");
    }
}
