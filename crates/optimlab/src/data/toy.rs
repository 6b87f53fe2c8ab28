//! TensorFlow Playground's 2-D classification sets (circle, XOR, Gaussian clusters, spiral),
//! generated from a seed: the playground page's toy data.
//!
//! Points lie in about [−6, 6]², as in TensorFlow Playground; the features are the coordinates
//! divided by [`SCALE`] (about [−1, 1]), and the labels are 0 and 1.

use super::{Dataset, Features};
use crate::rng::{self, Purpose};
use rand::RngExt;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

/// Coordinates are divided by this to make the features.
pub const SCALE: f64 = 6.0;

/// Which set.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Toy {
    /// A disc of one class inside a ring of the other.
    #[default]
    Circle,
    /// The four quadrants, alternating classes.
    Xor,
    /// Two Gaussian clusters; noise widens them until they overlap.
    Gauss,
    /// Two interleaved spirals.
    Spiral,
}

impl Toy {
    pub const ALL: [Toy; 4] = [Toy::Circle, Toy::Xor, Toy::Gauss, Toy::Spiral];

    pub fn name(self) -> &'static str {
        match self {
            Toy::Circle => "circle",
            Toy::Xor => "xor",
            Toy::Gauss => "gauss",
            Toy::Spiral => "spiral",
        }
    }

    /// `n` points drawn as TensorFlow Playground draws them (half of each class, except XOR,
    /// which is uniform over the plane) with `noise` in [0, 0.5], as its slider (0–50 %); the
    /// same seed gives the same points.
    pub fn points(self, n: usize, noise: f64, seed: u64) -> Vec<([f64; 2], usize)> {
        let mut rng = rng::stream(seed, Purpose::Data);
        let mut uniform = |lo: f64, hi: f64| lo + (hi - lo) * rng.random::<f64>();
        let half = n / 2;
        let mut out = Vec::with_capacity(n);
        match self {
            Toy::Circle => {
                let radius = 5.0;
                for (count, (r0, r1)) in [(half, (0.0, 0.5)), (n - half, (0.7, 1.0))] {
                    for _ in 0..count {
                        let r = uniform(radius * r0, radius * r1);
                        let angle = uniform(0.0, 2.0 * std::f64::consts::PI);
                        let (x, y) = (r * angle.sin(), r * angle.cos());
                        let nx = uniform(-radius, radius) * noise;
                        let ny = uniform(-radius, radius) * noise;
                        // The label is where the noisy point falls, as in TF Playground.
                        let inside = (x + nx).hypot(y + ny) < radius * 0.5;
                        out.push(([x, y], usize::from(inside)));
                    }
                }
            }
            Toy::Xor => {
                let padding = 0.3;
                for _ in 0..n {
                    let mut x = uniform(-5.0, 5.0);
                    x += if x > 0.0 { padding } else { -padding };
                    let mut y = uniform(-5.0, 5.0);
                    y += if y > 0.0 { padding } else { -padding };
                    let nx = uniform(-5.0, 5.0) * noise;
                    let ny = uniform(-5.0, 5.0) * noise;
                    out.push(([x, y], usize::from((x + nx) * (y + ny) >= 0.0)));
                }
            }
            Toy::Gauss => {
                // Variance 0.5 without noise, 4 at the most noise.
                let variance = 0.5 + noise.clamp(0.0, 0.5) / 0.5 * 3.5;
                let normal = Normal::new(0.0, variance.sqrt()).expect("finite σ");
                for (count, c, label) in [(half, 2.0, 1), (n - half, -2.0, 0)] {
                    for _ in 0..count {
                        let x = c + normal.sample(&mut rng);
                        let y = c + normal.sample(&mut rng);
                        out.push(([x, y], label));
                    }
                }
            }
            Toy::Spiral => {
                for (count, delta, label) in [(half, 0.0, 1), (n - half, std::f64::consts::PI, 0)] {
                    for i in 0..count {
                        let r = i as f64 / count as f64 * 5.0;
                        let t = 1.75 * i as f64 / count as f64 * 2.0 * std::f64::consts::PI + delta;
                        let x = r * t.sin() + uniform(-1.0, 1.0) * noise;
                        let y = r * t.cos() + uniform(-1.0, 1.0) * noise;
                        out.push(([x, y], label));
                    }
                }
            }
        }
        out
    }

    /// [`Toy::points`] as a data set of two features (coordinates / [`SCALE`]) and two classes.
    pub fn dataset(self, n: usize, noise: f64, seed: u64) -> Dataset {
        let points = self.points(n, noise, seed);
        let mut features = Vec::with_capacity(2 * points.len());
        let mut labels = Vec::with_capacity(points.len());
        for ([x, y], label) in points {
            features.push((x / SCALE) as f32);
            features.push((y / SCALE) as f32);
            labels.push(label);
        }
        Dataset {
            name: self.name().into(),
            features: Features::F32(features),
            labels,
            dim: 2,
            classes: 2,
        }
    }
}

impl std::str::FromStr for Toy {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Toy::ALL
            .into_iter()
            .find(|t| t.name() == s)
            .ok_or_else(|| format!("unknown 2-D set '{s}' (expected circle, xor, gauss or spiral)"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_are_balanced_seeded_and_labelled_by_their_rule() {
        for toy in Toy::ALL {
            let a = toy.dataset(200, 0.0, 3);
            a.validate().unwrap();
            assert_eq!(a, toy.dataset(200, 0.0, 3), "{toy:?} is seeded");
            // (Without noise the spiral is the same curve for every seed.)
            let noisy = toy.dataset(200, 0.2, 3);
            assert_ne!(
                noisy,
                toy.dataset(200, 0.2, 4),
                "{toy:?} depends on the seed"
            );
            let ones = a.labels.iter().filter(|&&l| l == 1).count();
            if toy == Toy::Xor {
                // Uniform over the plane: about half in each class.
                assert!((70..130).contains(&ones), "{toy:?}: {ones}");
            } else {
                assert_eq!(ones, 100, "{toy:?}");
            }
        }
        // Without noise the labels follow the geometry exactly.
        for ([x, y], label) in Toy::Circle.points(100, 0.0, 1) {
            assert_eq!(label == 1, x.hypot(y) < 2.5);
        }
        for ([x, y], label) in Toy::Xor.points(100, 0.0, 1) {
            assert_eq!(label == 1, x * y >= 0.0);
        }
    }
}
