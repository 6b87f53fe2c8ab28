//! The random forest Optuna's fANOVA fits: scikit-learn's `RandomForestRegressor` with
//! bootstrap samples, every feature tried at every node (`max_features = 1.0`), squared-error
//! splits, and the tree builder's rules (depth-first; a node is a leaf at `max_depth`, below
//! `min_samples_split` samples, or when its values are equal; a split leaves at least
//! `min_samples_leaf` samples on each side; values closer than 1e-7 are not split apart; the
//! threshold is the midpoint of the neighbouring values, in single precision as scikit-learn
//! stores features). Only the random streams differ: the bootstrap draws and the order in
//! which features are tried (which decides ties between equally good splits).

use crate::rng::{Purpose, Rng, stream};
use rand::RngExt;

/// scikit-learn's `FEATURE_THRESHOLD`: feature values closer than this are one value.
const FEATURE_THRESHOLD: f64 = 1e-7;

/// The forest's settings.
#[derive(Clone, Copy, Debug)]
pub struct ForestParams {
    pub n_trees: usize,
    pub max_depth: usize,
    pub min_samples_split: usize,
    pub min_samples_leaf: usize,
    pub seed: u64,
}

/// A node of a fitted tree: a split (`feature`, `threshold`, children) or a leaf.
#[derive(Clone, Debug)]
pub struct Node {
    /// The split: x[feature] ≤ threshold goes left.
    pub split: Option<Split>,
    /// The weighted mean of the node's training values.
    pub value: f64,
}

#[derive(Clone, Copy, Debug)]
pub struct Split {
    pub feature: usize,
    pub threshold: f64,
    pub left: usize,
    pub right: usize,
}

/// A fitted regression tree; node 0 is the root and every child comes after its parent.
#[derive(Clone, Debug)]
pub struct Tree {
    pub nodes: Vec<Node>,
}

/// Fits `p.n_trees` trees to rows `x` (all of the same length) and values `y`.
pub fn fit(x: &[Vec<f64>], y: &[f64], p: &ForestParams) -> Vec<Tree> {
    let n = x.len();
    // Features in single precision, as scikit-learn's trees keep them.
    let x32: Vec<Vec<f64>> = x
        .iter()
        .map(|row| row.iter().map(|&v| v as f32 as f64).collect())
        .collect();
    let mut rng = stream(p.seed, Purpose::Other(FOREST_STREAM));
    (0..p.n_trees)
        .map(|_| {
            let mut weights = vec![0.0; n];
            for _ in 0..n {
                weights[rng.random_range(0..n)] += 1.0;
            }
            let mut builder = Builder {
                x: &x32,
                y,
                weights: &weights,
                p,
                rng: &mut rng,
                nodes: Vec::new(),
            };
            let mut samples: Vec<usize> = (0..n).filter(|&i| weights[i] > 0.0).collect();
            builder.build(&mut samples, 0);
            Tree {
                nodes: builder.nodes,
            }
        })
        .collect()
}

/// The forest's random stream under the evaluator's seed.
const FOREST_STREAM: u64 = 0xFA_0BA;

struct Builder<'a> {
    x: &'a [Vec<f64>],
    y: &'a [f64],
    weights: &'a [f64],
    p: &'a ForestParams,
    rng: &'a mut Rng,
    nodes: Vec<Node>,
}

impl Builder<'_> {
    /// Adds the node for `samples` (and its subtree, left first) and returns its index.
    fn build(&mut self, samples: &mut [usize], depth: usize) -> usize {
        let (mut w, mut sum, mut sq) = (0.0, 0.0, 0.0);
        for &i in samples.iter() {
            let (wi, yi) = (self.weights[i], self.y[i]);
            w += wi;
            sum += wi * yi;
            sq += wi * yi * yi;
        }
        let mean = sum / w;
        let impurity = sq / w - mean * mean;
        let index = self.nodes.len();
        self.nodes.push(Node {
            split: None,
            value: mean,
        });
        let n = samples.len();
        let leaf = depth >= self.p.max_depth
            || n < self.p.min_samples_split
            || n < 2 * self.p.min_samples_leaf
            || impurity <= f64::EPSILON;
        if leaf {
            return index;
        }
        let Some((feature, threshold, pos)) = self.best_split(samples) else {
            return index;
        };
        // Order the samples by the chosen feature (stable: the search sorted the same way).
        samples.sort_by(|&a, &b| self.x[a][feature].total_cmp(&self.x[b][feature]));
        let (left, right) = samples.split_at_mut(pos);
        let l = self.build(left, depth + 1);
        let r = self.build(right, depth + 1);
        self.nodes[index].split = Some(Split {
            feature,
            threshold,
            left: l,
            right: r,
        });
        index
    }

    /// scikit-learn's `BestSplitter`: the split with the largest proxy improvement
    /// Σ_side (Σ w·y)² / Σ w over all features, in random order (the first found wins ties).
    fn best_split(&mut self, samples: &[usize]) -> Option<(usize, f64, usize)> {
        let n_features = self.x[0].len();
        let mut order: Vec<usize> = (0..n_features).collect();
        for i in (1..n_features).rev() {
            order.swap(i, self.rng.random_range(0..=i));
        }
        let (mut w_total, mut s_total) = (0.0, 0.0);
        for &i in samples {
            w_total += self.weights[i];
            s_total += self.weights[i] * self.y[i];
        }
        let n = samples.len();
        let min_leaf = self.p.min_samples_leaf;
        let mut best: Option<(usize, f64, usize)> = None;
        let mut best_proxy = f64::NEG_INFINITY;
        let mut sorted: Vec<usize> = samples.to_vec();
        for f in order {
            sorted.sort_by(|&a, &b| self.x[a][f].total_cmp(&self.x[b][f]));
            let xf = |k: usize| self.x[sorted[k]][f];
            if xf(n - 1) <= xf(0) + FEATURE_THRESHOLD {
                continue;
            }
            let (mut w_left, mut s_left) = (0.0, 0.0);
            let mut added = 0;
            let mut p = 0;
            while p < n {
                while p + 1 < n && xf(p + 1) <= xf(p) + FEATURE_THRESHOLD {
                    p += 1;
                }
                let p_prev = p;
                p += 1;
                if p >= n {
                    break;
                }
                if p < min_leaf || n - p < min_leaf {
                    continue;
                }
                while added < p {
                    let i = sorted[added];
                    w_left += self.weights[i];
                    s_left += self.weights[i] * self.y[i];
                    added += 1;
                }
                let (w_right, s_right) = (w_total - w_left, s_total - s_left);
                let proxy = s_left * s_left / w_left + s_right * s_right / w_right;
                if proxy > best_proxy {
                    best_proxy = proxy;
                    let mut threshold = xf(p_prev) / 2.0 + xf(p) / 2.0;
                    if threshold == xf(p) || threshold.is_infinite() {
                        threshold = xf(p_prev);
                    }
                    best = Some((f, threshold, p));
                }
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_splits_where_the_value_jumps_into_two_pure_leaves() {
        // y jumps at x0 = 0.5; x1 is noise. Every bootstrap tree is one split of x0 between
        // the nearest values drawn on either side of the jump, and two pure leaves.
        let x: Vec<Vec<f64>> = (0..20)
            .map(|i| vec![i as f64 / 20.0, ((i * 7) % 20) as f64 / 20.0])
            .collect();
        let y: Vec<f64> = x
            .iter()
            .map(|r| if r[0] < 0.5 { 0.0 } else { 1.0 })
            .collect();
        let p = ForestParams {
            n_trees: 8,
            max_depth: 64,
            min_samples_split: 2,
            min_samples_leaf: 1,
            seed: 3,
        };
        for tree in fit(&x, &y, &p) {
            assert_eq!(tree.nodes.len(), 3, "{tree:?}");
            let root = tree.nodes[0].split.expect("the root splits");
            assert_eq!(root.feature, 0);
            assert!(root.threshold > 0.3 && root.threshold < 0.7, "{root:?}");
            assert_eq!(tree.nodes[root.left].value, 0.0);
            assert_eq!(tree.nodes[root.right].value, 1.0);
        }
    }
}
