//! The book's `smooth_curve`: a normalised Kaiser window (length 11, β = 2) run over the
//! curve with 10 reflected points on each side, so a noisy loss curve reads as a trend.

/// The window length of the book's `smooth_curve`.
pub const WINDOW: usize = 11;
/// The Kaiser window's β in the book's `smooth_curve`.
pub const BETA: f64 = 2.0;

/// The modified Bessel function of the first kind, order 0: `Σ ((x/2)ᵏ / k!)²`.
fn bessel_i0(x: f64) -> f64 {
    let q = x * x / 4.0;
    let (mut term, mut sum) = (1.0, 1.0);
    for k in 1..200 {
        term *= q / (k * k) as f64;
        sum += term;
        if term < sum * 1e-17 {
            break;
        }
    }
    sum
}

/// NumPy's `np.kaiser(len, beta)`: `I0(β·√(1 − (2n/(M−1) − 1)²)) / I0(β)`.
pub fn kaiser(len: usize, beta: f64) -> Vec<f64> {
    if len == 1 {
        return vec![1.0];
    }
    let m = (len - 1) as f64;
    (0..len)
        .map(|n| {
            let r = 2.0 * n as f64 / m - 1.0;
            bessel_i0(beta * (1.0 - r * r).max(0.0).sqrt()) / bessel_i0(beta)
        })
        .collect()
}

/// The book's `smooth_curve(x)`:
///
/// ```python
/// s = np.r_[x[window_len-1:0:-1], x, x[-1:-window_len:-1]]
/// w = np.kaiser(window_len, 2)
/// y = np.convolve(w/w.sum(), s, mode='valid')
/// return y[5:len(y)-5]
/// ```
///
/// The result is as long as `x`. Curves shorter than the window come back unchanged (the
/// book's function returns a different length for them).
pub fn smooth_curve(x: &[f64]) -> Vec<f64> {
    let n = x.len();
    if n < WINDOW {
        return x.to_vec();
    }
    let half = WINDOW - 1;
    let mut s = Vec::with_capacity(n + 2 * half);
    s.extend((1..=half).rev().map(|i| x[i]));
    s.extend_from_slice(x);
    s.extend((n - half..n).rev().map(|i| x[i]));
    let w = kaiser(WINDOW, BETA);
    let total: f64 = w.iter().sum();
    let w: Vec<f64> = w.iter().map(|v| v / total).collect();
    // `valid` convolution (the window is symmetric, so no flip is needed), then [5:-5].
    let skip = WINDOW / 2;
    (skip..skip + n)
        .map(|j| w.iter().zip(&s[j..j + WINDOW]).map(|(a, b)| a * b).sum())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kaiser_matches_numpy() {
        // np.kaiser(11, 2)
        let want = [
            0.4386762798370488,
            0.6113943543616491,
            0.7676749968275236,
            0.8921614338542881,
            0.9723298008693713,
            1.0,
            0.9723298008693713,
            0.8921614338542881,
            0.7676749968275236,
            0.6113943543616491,
            0.4386762798370488,
        ];
        for (g, w) in kaiser(11, 2.0).iter().zip(want) {
            assert!((g - w).abs() < 1e-14, "{g} vs {w}");
        }
    }

    #[test]
    fn a_constant_stays_constant_and_length_is_kept() {
        let x = vec![0.7; 40];
        let y = smooth_curve(&x);
        assert_eq!(y.len(), 40);
        assert!(y.iter().all(|v| (v - 0.7).abs() < 1e-14));
        assert_eq!(smooth_curve(&[1.0, 2.0]), vec![1.0, 2.0]);
    }
}
