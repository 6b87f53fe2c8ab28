//! fANOVA (Hutter et al., ICML 2014) as Optuna's `FanovaImportanceEvaluator` computes it.
//!
//! - The parameters are those of every complete trial with the same distribution (Optuna's
//!   intersection search space, so conditional parameters are left out); single-valued ones
//!   score 0.
//! - A random forest ([`super::forest`]) is fitted to the complete trials with finite values:
//!   numeric parameters as they are (no log), categorical ones one-hot, each column bounded by
//!   its domain (0..1 for one-hot columns).
//! - For each tree, the variance of its prediction over the domain (uniform measure) is split
//!   functionally: a parameter's share is the variance of the tree's prediction averaged over
//!   all other parameters, as a function of that parameter alone (evaluated at the midpoints of
//!   the intervals between the tree's split values, weighted by their lengths), divided by the
//!   tree's total variance. The importance is the mean share over the trees with a variance.

use super::finite_complete;
use super::forest::{self, ForestParams, Tree};
use super::single;
use crate::tune::distribution::Distribution;
use crate::tune::trial::{FrozenTrial, TrialState};

/// fANOVA's settings (Optuna's defaults; Optuna's default seed is random, ours is 0).
#[derive(Clone, Debug, PartialEq)]
pub struct Fanova {
    pub n_trees: usize,
    pub max_depth: usize,
    pub seed: u64,
}

impl Default for Fanova {
    fn default() -> Self {
        Fanova {
            n_trees: 64,
            max_depth: 64,
            seed: 0,
        }
    }
}

impl Fanova {
    /// Unnormalised importances of the parameters every complete trial has.
    pub fn evaluate(&self, trials: &[FrozenTrial]) -> Vec<(String, f64)> {
        let space = intersection_space(trials);
        let (multi, singles): (Vec<_>, Vec<_>) = space.into_iter().partition(|(_, d)| !single(d));
        let zeros = |names: &[(String, Distribution)]| -> Vec<(String, f64)> {
            names.iter().map(|(n, _)| (n.clone(), 0.0)).collect()
        };
        if multi.is_empty() {
            return zeros(&singles);
        }
        let mut all = zeros(&multi);
        all.extend(zeros(&singles));
        let done: Vec<&FrozenTrial> = finite_complete(trials)
            .into_iter()
            .filter(|t| {
                multi
                    .iter()
                    .chain(&singles)
                    .all(|(n, _)| t.params.contains_key(n))
            })
            .collect();
        if done.len() <= 1 {
            return all;
        }
        // Columns: one per numeric parameter, one per choice of a categorical one.
        let mut bounds = Vec::new();
        let mut columns_of = Vec::new();
        for (_, d) in &multi {
            let first = bounds.len();
            match d {
                Distribution::Categorical { choices } => {
                    bounds.extend(std::iter::repeat_n((0.0, 1.0), choices.len()))
                }
                Distribution::Float { low, high, .. } => bounds.push((*low, *high)),
                Distribution::Int { low, high, .. } => bounds.push((*low as f64, *high as f64)),
            }
            columns_of.push((first..bounds.len()).collect::<Vec<_>>());
        }
        let x: Vec<Vec<f64>> = done
            .iter()
            .map(|t| {
                let mut row = vec![0.0; bounds.len()];
                for ((name, d), cols) in multi.iter().zip(&columns_of) {
                    let v = t.params[name].1;
                    match d {
                        Distribution::Categorical { .. } => {
                            row[cols[0] + (v as usize).min(cols.len() - 1)] = 1.0
                        }
                        _ => row[cols[0]] = v,
                    }
                }
                row
            })
            .collect();
        let y: Vec<f64> = done.iter().map(|t| t.value.unwrap_or(f64::NAN)).collect();
        let params = ForestParams {
            n_trees: self.n_trees,
            max_depth: self.max_depth,
            min_samples_split: 2,
            min_samples_leaf: 1,
            seed: self.seed,
        };
        let trees: Vec<FanovaTree> = forest::fit(&x, &y, &params)
            .into_iter()
            .map(|t| FanovaTree::new(t, &bounds))
            .collect();
        // Optuna stops here with an error ("zero total variance in all trees"); nothing can be
        // credited, so every parameter scores 0.
        if trees.iter().all(|t| t.variance <= 0.0) {
            return all;
        }
        for ((_, score), cols) in all.iter_mut().zip(&columns_of) {
            let fractions: Vec<f64> = trees
                .iter()
                .filter(|t| t.variance > 0.0)
                .map(|t| t.marginal_variance(cols).max(0.0) / t.variance)
                .collect();
            *score = fractions.iter().sum::<f64>() / fractions.len() as f64;
        }
        all
    }
}

/// Optuna's `intersection_search_space` over the complete trials: the parameters whose
/// distribution is the same in all of them, by name.
fn intersection_space(trials: &[FrozenTrial]) -> Vec<(String, Distribution)> {
    let mut complete = trials.iter().filter(|t| t.state == TrialState::Complete);
    let Some(first) = complete.next() else {
        return Vec::new();
    };
    let mut space: Vec<(String, Distribution)> = first
        .params
        .iter()
        .map(|(n, (d, _))| (n.clone(), d.clone()))
        .collect();
    for t in complete {
        space.retain(|(n, d)| t.params.get(n).is_some_and(|(td, _)| td == d));
    }
    space
}

/// Optuna's `_FanovaTree`: a fitted tree with each node's volume-weighted mean prediction
/// over its part of the domain.
struct FanovaTree {
    tree: Tree,
    bounds: Vec<(f64, f64)>,
    /// Per node: (mean prediction over the node's box, the box's volume).
    stats: Vec<(f64, f64)>,
    /// Per feature: midpoints and lengths of the intervals between its split values.
    midpoints: Vec<Vec<f64>>,
    sizes: Vec<Vec<f64>>,
    /// Per node and feature: whether the subtree below splits on the feature.
    subtree_splits: Vec<Vec<bool>>,
    /// The prediction's variance over the domain.
    variance: f64,
}

impl FanovaTree {
    fn new(tree: Tree, bounds: &[(f64, f64)]) -> Self {
        let n_nodes = tree.nodes.len();
        let n_features = bounds.len();
        // Leaves: their value and the volume of their box; parents: the children's weighted mean.
        let mut boxes: Vec<Option<Vec<(f64, f64)>>> = vec![None; n_nodes];
        boxes[0] = Some(bounds.to_vec());
        let mut stats = vec![(0.0, 0.0); n_nodes];
        for i in 0..n_nodes {
            let b = boxes[i].take().expect("parents come before children");
            match tree.nodes[i].split {
                None => stats[i] = (tree.nodes[i].value, volume(&b)),
                Some(s) => {
                    let mut left = b.clone();
                    left[s.feature].1 = s.threshold;
                    let mut right = b;
                    right[s.feature].0 = s.threshold;
                    boxes[s.left] = Some(left);
                    boxes[s.right] = Some(right);
                }
            }
        }
        for i in (0..n_nodes).rev() {
            if let Some(s) = tree.nodes[i].split {
                let (vl, wl) = stats[s.left];
                let (vr, wr) = stats[s.right];
                stats[i] = ((vl * wl + vr * wr) / (wl + wr), wl + wr);
            }
        }
        let mut split_values: Vec<Vec<f64>> = vec![Vec::new(); n_features];
        for node in &tree.nodes {
            if let Some(s) = node.split {
                split_values[s.feature].push(s.threshold);
            }
        }
        let (mut midpoints, mut sizes) = (Vec::new(), Vec::new());
        for (f, values) in split_values.iter_mut().enumerate() {
            values.sort_by(f64::total_cmp);
            values.dedup();
            let edges: Vec<f64> = std::iter::once(bounds[f].0)
                .chain(values.iter().copied())
                .chain(std::iter::once(bounds[f].1))
                .collect();
            midpoints.push(edges.windows(2).map(|w| 0.5 * (w[1] + w[0])).collect());
            sizes.push(edges.windows(2).map(|w| w[1] - w[0]).collect());
        }
        let mut subtree_splits = vec![vec![false; n_features]; n_nodes];
        for i in (0..n_nodes).rev() {
            if let Some(s) = tree.nodes[i].split {
                let mut row = subtree_splits[s.left].clone();
                for (r, c) in row.iter_mut().zip(&subtree_splits[s.right]) {
                    *r |= *c;
                }
                row[s.feature] = true;
                subtree_splits[i] = row;
            }
        }
        let leaves: Vec<(f64, f64)> = (0..n_nodes)
            .filter(|&i| tree.nodes[i].split.is_none())
            .map(|i| stats[i])
            .collect();
        let variance = weighted_variance(&leaves);
        FanovaTree {
            tree,
            bounds: bounds.to_vec(),
            stats,
            midpoints,
            sizes,
            subtree_splits,
            variance,
        }
    }

    /// The variance, over `features`, of the prediction averaged over all other features.
    fn marginal_variance(&self, features: &[usize]) -> f64 {
        let mut points = Vec::new();
        let mut index = vec![0usize; features.len()];
        let mut at = vec![0.0; features.len()];
        'combos: loop {
            let mut size = 1.0;
            for (k, &f) in features.iter().enumerate() {
                at[k] = self.midpoints[f][index[k]];
                size *= self.sizes[f][index[k]];
            }
            let (value, weight) = self.marginalized(features, &at);
            points.push((value, weight * size));
            // The next combination, the last feature fastest (itertools.product's order).
            for k in (0..features.len()).rev() {
                index[k] += 1;
                if index[k] < self.midpoints[features[k]].len() {
                    continue 'combos;
                }
                index[k] = 0;
            }
            break;
        }
        weighted_variance(&points)
    }

    /// The tree's prediction with `features` fixed at `at`, averaged over the other features,
    /// and the weight of that average (Optuna's `_get_marginalized_statistics`).
    fn marginalized(&self, features: &[usize], at: &[f64]) -> (f64, f64) {
        let active = |f: usize| features.iter().position(|&g| g == f);
        // Only the fixed features' intervals narrow along a path; the others count as [0, 1].
        let start: Vec<(f64, f64)> = features.iter().map(|&f| self.bounds[f]).collect();
        let mut stack = vec![(0usize, start)];
        let mut leaves: Vec<(f64, f64)> = Vec::new();
        while let Some((i, b)) = stack.pop() {
            if let Some(s) = self.tree.nodes[i].split {
                if let Some(k) = active(s.feature) {
                    let mut next = b;
                    if at[k] <= s.threshold {
                        next[k].1 = s.threshold;
                        stack.push((s.left, next));
                    } else {
                        next[k].0 = s.threshold;
                        stack.push((s.right, next));
                    }
                    continue;
                }
                if features.iter().any(|&f| self.subtree_splits[i][f]) {
                    stack.push((s.left, b.clone()));
                    stack.push((s.right, b));
                    continue;
                }
            }
            let (value, weight) = self.stats[i];
            leaves.push((value, weight / volume(&b)));
        }
        let total: f64 = leaves.iter().map(|l| l.1).sum();
        let mean = leaves.iter().map(|(v, w)| v * w).sum::<f64>() / total;
        (mean, total)
    }
}

fn volume(b: &[(f64, f64)]) -> f64 {
    b.iter().map(|(lo, hi)| hi - lo).product()
}

/// The variance of values under weights (`np.average` twice); exactly 0 for equal values,
/// which the rounding of the weighted mean could otherwise turn into 1e-32.
fn weighted_variance(points: &[(f64, f64)]) -> f64 {
    if points.iter().all(|p| p.0 == points[0].0) {
        return 0.0;
    }
    let total: f64 = points.iter().map(|p| p.1).sum();
    let mean = points.iter().map(|(v, w)| v * w).sum::<f64>() / total;
    points
        .iter()
        .map(|(v, w)| (v - mean).powi(2) * w)
        .sum::<f64>()
        / total
}
