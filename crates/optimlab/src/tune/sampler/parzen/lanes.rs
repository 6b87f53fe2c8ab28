//! The mixture's log-sum-exp in 8 independent lanes with an inline exp: straight-line code
//! that vectorises (AVX-512 or AVX2 where the caller is compiled for it) and gives the same
//! sums on every CPU, since the lanes are added in a fixed order and no FMA is used.

/// ln Σ eˣ over `v`, from its largest element m as m + ln Σ e^(x − m), in 8 independent
/// lanes (the same sums on every CPU, and vectorisable).
#[inline(always)]
pub(super) fn log_sum_exp(v: &[f64]) -> f64 {
    let mut top = [f64::NEG_INFINITY; 8];
    let chunks = v.chunks_exact(8);
    let rest = chunks.remainder();
    for c in chunks {
        for (t, &x) in top.iter_mut().zip(c) {
            *t = if x > *t { x } else { *t };
        }
    }
    let m = top
        .into_iter()
        .chain(rest.iter().copied())
        .fold(f64::NEG_INFINITY, f64::max);
    let m = if m == f64::NEG_INFINITY { 0.0 } else { m };
    let mut sum = [0.0f64; 8];
    let chunks = v.chunks_exact(8);
    for c in chunks {
        for (s, &x) in sum.iter_mut().zip(c) {
            *s += exp_nonpositive(x - m);
        }
    }
    let tail: f64 = rest.iter().map(|&x| exp_nonpositive(x - m)).sum();
    let lanes = ((sum[0] + sum[1]) + (sum[2] + sum[3])) + ((sum[4] + sum[5]) + (sum[6] + sum[7]));
    m + (lanes + tail).ln()
}

/// eʸ for y ≤ 0, to about an ulp, in straight-line code that vectorises: y = k·ln 2 + r
/// with |r| ≤ ln 2 / 2, e^r by its Taylor polynomial to degree 13 (truncation under 1e-17),
/// 2ᵏ assembled from its bits. Below −708 the result is 0: such a term is under 1e-307 of
/// the sum it joins (whose largest term is 1), so it could not change it.
#[inline(always)]
fn exp_nonpositive(y: f64) -> f64 {
    const LOG2_E: f64 = std::f64::consts::LOG2_E;
    // ln 2 split so that k · LN2_HI is exact for |k| < 2¹¹ (fdlibm's split).
    const LN2_HI: f64 = 6.931_471_803_691_238e-1;
    const LN2_LO: f64 = 1.908_214_929_270_587_7e-10;
    // 1.5 · 2⁵²: adding it rounds to an integer, kept in the low bits of the sum.
    const SHIFTER: f64 = 6_755_399_441_055_744.0;
    const C: [f64; 14] = [
        1.0,
        1.0,
        1.0 / 2.0,
        1.0 / 6.0,
        1.0 / 24.0,
        1.0 / 120.0,
        1.0 / 720.0,
        1.0 / 5_040.0,
        1.0 / 40_320.0,
        1.0 / 362_880.0,
        1.0 / 3_628_800.0,
        1.0 / 39_916_800.0,
        1.0 / 479_001_600.0,
        1.0 / 6_227_020_800.0,
    ];
    let in_range = y > -708.0;
    let yc = if in_range { y } else { -708.0 };
    let t = yc * LOG2_E + SHIFTER;
    let k = t - SHIFTER;
    let r = (yc - k * LN2_HI) - k * LN2_LO;
    let mut p = C[13];
    for &c in C[..13].iter().rev() {
        p = p * r + c;
    }
    let exponent = t
        .to_bits()
        .wrapping_sub(SHIFTER.to_bits())
        .wrapping_add(1023);
    let e = p * f64::from_bits(exponent << 52);
    if in_range {
        e
    } else if y.is_nan() {
        y
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_nonpositive_is_within_two_ulps_of_exp() {
        let mut worst: f64 = 0.0;
        for i in 0..200_000 {
            let y = -(i as f64) * 0.003_541_7;
            let (got, want) = (exp_nonpositive(y), y.exp());
            if y > -708.0 {
                worst = worst.max((got - want).abs() / want);
            } else {
                assert_eq!(got, 0.0);
            }
        }
        assert!(worst < 4.5e-16, "{worst:e}");
        assert_eq!(exp_nonpositive(0.0), 1.0);
        assert_eq!(exp_nonpositive(f64::NEG_INFINITY), 0.0);
        assert!(exp_nonpositive(f64::NAN).is_nan());
        let v = [-1.0, 2.0, f64::NEG_INFINITY, 0.5, -3.0, 1.0];
        let want = v.iter().map(|x| x.exp()).sum::<f64>().ln();
        assert!((log_sum_exp(&v) - want).abs() < 1e-15);
        assert_eq!(log_sum_exp(&[f64::NEG_INFINITY; 5]), f64::NEG_INFINITY);
    }
}
