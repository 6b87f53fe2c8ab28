//! The optimizer: one update rule plus what every rule shares: weight decay ([`decay`]),
//! clipping ([`clip`]), parameter groups ([`groups`]) and per-parameter state ([`state`]).

mod clip;
mod decay;
mod groups;
mod state;

pub use clip::Clip;
pub use decay::WeightDecay;
pub use groups::{ParamGroup, Select};
pub use state::{OptimizerState, ParamState};

use super::{OptimError, UpdateRule};
use crate::parallel::join;
use crate::param::{ParamMut, Parameters};
use crate::tensor::Scalar;
use decay::check_weight_decay;

/// What an update rule sees of the step it is asked to make.
#[derive(Clone, Copy, Debug)]
pub struct StepContext {
    /// Learning rate for this parameter (schedule and group scale applied).
    pub lr: f64,
    /// How many updates this parameter has had, this one included (1 on the first update).
    pub t: u64,
}

/// An update rule with weight decay, parameter groups, clipping and per-parameter state.
pub struct Optimizer<T: Scalar> {
    rule: Box<dyn UpdateRule<T>>,
    /// Base learning rate; schedules set it between steps.
    pub lr: f64,
    pub weight_decay: WeightDecay,
    pub groups: Vec<ParamGroup>,
    pub clip: Option<Clip>,
    names: Vec<String>,
    states: Vec<ParamState<T>>,
    /// The state of the upper half of each tensor updated in two halves ([`split_point`]);
    /// `states` then holds the lower half's. `None` for tensors updated whole.
    upper: Vec<Option<ParamState<T>>>,
}

/// Tensors of at least this many elements are updated in two halves at once (the halves'
/// weight decay and update rule on the caller's thread and on the helper of
/// [`crate::parallel::join`]) when the parameters allow two threads: the book network's first
/// weight matrix (78,400) and the wide network's two large ones (0.8M, 1M). Smaller tensors
/// are updated whole: below ≈ 30k elements a pass takes a few µs and the hand-off would eat
/// the gain. Every rule updates each element from its own state and the step's scalars only,
/// so the halves give the same bits as one pass.
const SPLIT_MIN_LEN: usize = 1 << 15;

/// Where a tensor of `len` elements is cut, when it is updated in two halves with `threads`
/// threads: a multiple of 64 elements, so a vectorised rule sees the same lanes either way.
fn split_point(len: usize, threads: usize) -> Option<usize> {
    (threads > 1 && len >= SPLIT_MIN_LEN).then(|| (len / 2).next_multiple_of(64))
}

/// Moves the elements from `at` on of every buffer of `lo` into a new state (allocates once,
/// the first time a tensor is split).
fn split_state<T: Scalar>(lo: &mut ParamState<T>, at: usize) -> ParamState<T> {
    ParamState {
        step: lo.step,
        buffers: lo.buffers.iter_mut().map(|b| b.split_off(at)).collect(),
        scalars: lo.scalars.clone(),
    }
}

/// `lo` and `hi` as one state again: buffers concatenated; the scalars are the same in both.
fn merged<T: Scalar>(lo: &ParamState<T>, hi: Option<&ParamState<T>>) -> ParamState<T> {
    let mut st = lo.clone();
    if let Some(hi) = hi {
        for (b, h) in st.buffers.iter_mut().zip(&hi.buffers) {
            b.extend_from_slice(h);
        }
    }
    st
}

impl<T: Scalar> Optimizer<T> {
    pub fn new(rule: Box<dyn UpdateRule<T>>, lr: f64) -> Result<Self, OptimError> {
        check_lr(lr)?;
        Ok(Self {
            rule,
            lr,
            weight_decay: WeightDecay::None,
            groups: Vec::new(),
            clip: None,
            names: Vec::new(),
            states: Vec::new(),
            upper: Vec::new(),
        })
    }

    pub fn with_weight_decay(mut self, wd: WeightDecay) -> Result<Self, OptimError> {
        check_weight_decay(wd)?;
        self.weight_decay = wd;
        Ok(self)
    }

    pub fn with_groups(mut self, groups: Vec<ParamGroup>) -> Result<Self, OptimError> {
        for g in &groups {
            g.check()?;
        }
        self.groups = groups;
        Ok(self)
    }

    pub fn with_clip(mut self, clip: Option<Clip>) -> Result<Self, OptimError> {
        if let Some(c) = clip {
            c.check()?;
        }
        self.clip = clip;
        Ok(self)
    }

    /// Sets the learning rate (e.g. from a schedule).
    pub fn set_lr(&mut self, lr: f64) -> Result<(), OptimError> {
        check_lr(lr)?;
        self.lr = lr;
        Ok(())
    }

    pub fn rule(&self) -> &dyn UpdateRule<T> {
        self.rule.as_ref()
    }

    /// Applies one update to every parameter, using (and possibly modifying: clipping, L2)
    /// the gradients the parameters hold. Returns the global gradient L2 norm before clipping
    /// when clipping by norm, else `None`. Large tensors are updated in two halves at once
    /// when `params` allows two threads (see [`SPLIT_MIN_LEN`]): the same bits either way.
    pub fn step(&mut self, params: &mut dyn Parameters<T>) -> Result<Option<f64>, OptimError> {
        let norm = self.clip.and_then(|c| c.apply(params));
        let threads = params.threads();

        let mut error = None;
        let mut index = 0usize;
        let Self {
            rule,
            lr,
            weight_decay,
            groups,
            names,
            states,
            upper,
            ..
        } = self;
        let rule: &dyn UpdateRule<T> = rule.as_ref();
        params.visit_params(&mut |p: ParamMut<'_, T>| {
            if error.is_some() {
                return;
            }
            let n = p.value.len();
            if index == names.len() {
                // First sight of this parameter: create its state.
                names.push(p.name.to_string());
                states.push(rule.init_state(n));
                upper.push(None);
            } else {
                let hi_len = |b: usize| upper[index].as_ref().map_or(0, |h| h.buffers[b].len());
                let bad_len = (states[index].buffers.iter().enumerate())
                    .any(|(b, buf)| buf.len() + hi_len(b) != n);
                if names[index] != p.name || bad_len {
                    error = Some(OptimError::ParamMismatch {
                        expected: names[index].clone(),
                        found: p.name.to_string(),
                    });
                    return;
                }
            }
            let (lo, hi) = (&mut states[index], &mut upper[index]);
            // The state takes the shape of this step's update: halves, or whole.
            let cut = split_point(n, threads);
            match (cut, hi.as_ref()) {
                (Some(at), None) => *hi = Some(split_state(lo, at)),
                (None, Some(h)) => {
                    *lo = merged(lo, Some(h));
                    *hi = None;
                }
                _ => {}
            }
            let group = groups.iter().find(|g| g.select.matches(p.name, p.kind));
            let p_lr = *lr * group.map_or(1.0, |g| g.lr_scale);
            let wd = group.and_then(|g| g.weight_decay).unwrap_or(*weight_decay);
            lo.step += 1;
            let ctx = StepContext {
                lr: p_lr,
                t: lo.step,
            };
            let update = |value: &mut [T], grad: &mut [T], state: &mut ParamState<T>| {
                wd.apply(p_lr, value, grad);
                rule.update(&ctx, value, grad, state);
            };
            match (hi, cut) {
                (Some(hi), Some(at)) => {
                    hi.step = lo.step;
                    let (v0, v1) = p.value.split_at_mut(at);
                    let (g0, g1) = p.grad.split_at_mut(at);
                    join(|| update(v0, g0, lo), || update(v1, g1, hi));
                }
                _ => update(p.value, p.grad, lo),
            }
            index += 1;
        });
        match error {
            Some(e) => Err(e),
            None => Ok(norm),
        }
    }
}

pub(crate) fn check_lr(lr: f64) -> Result<(), OptimError> {
    if lr.is_finite() && lr >= 0.0 {
        Ok(())
    } else {
        Err(OptimError::Invalid {
            name: "lr",
            value: lr,
            expected: "a finite number ≥ 0",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{Adam, NAdam, WeightDecay};
    use crate::param::ParamKind;

    /// One tensor large enough to be split and one that is not, with a thread count.
    struct Big {
        threads: usize,
        w: Vec<f32>,
        gw: Vec<f32>,
        b: Vec<f32>,
        gb: Vec<f32>,
    }

    impl Big {
        fn new() -> Self {
            let n = 3 * SPLIT_MIN_LEN + 77;
            Big {
                threads: 1,
                w: (0..n).map(|i| (i as f32 * 0.37).sin()).collect(),
                gw: vec![0.0; n],
                b: vec![0.5; 10],
                gb: vec![0.0; 10],
            }
        }
        fn grads(&mut self, step: usize) {
            for (i, (g, &w)) in self.gw.iter_mut().zip(&self.w).enumerate() {
                *g = ((i + step) as f32 * 0.013).cos() * 1e-3 + 0.1 * w;
            }
            self.gb.iter_mut().for_each(|g| *g = 0.01 * step as f32);
        }
    }

    impl Parameters<f32> for Big {
        fn visit_params(&mut self, f: &mut dyn FnMut(ParamMut<'_, f32>)) {
            let shape = [self.w.len()];
            f(ParamMut {
                name: "W1",
                kind: ParamKind::Weight,
                shape: &shape,
                value: &mut self.w,
                grad: &mut self.gw,
            });
            f(ParamMut {
                name: "b1",
                kind: ParamKind::Bias,
                shape: &[10],
                value: &mut self.b,
                grad: &mut self.gb,
            });
        }
        fn threads(&self) -> usize {
            self.threads
        }
    }

    /// Parameters and exported state after five steps, with the thread count of each step.
    fn run(rule: Box<dyn UpdateRule<f32>>, threads: [usize; 5]) -> (Vec<f32>, OptimizerState<f32>) {
        let mut p = Big::new();
        let mut opt = Optimizer::new(rule, 1e-2)
            .unwrap()
            .with_weight_decay(WeightDecay::Decoupled(0.01))
            .unwrap();
        for (step, &t) in threads.iter().enumerate() {
            p.threads = t;
            p.grads(step);
            opt.step(&mut p).unwrap();
        }
        (p.w, opt.state())
    }

    #[test]
    fn updating_big_tensors_in_two_halves_gives_the_same_bits() {
        for rule in [0, 1] {
            let make = || -> Box<dyn UpdateRule<f32>> {
                match rule {
                    0 => Box::new(Adam::default()),
                    _ => Box::new(NAdam::default()),
                }
            };
            let one = run(make(), [1; 5]);
            assert!(split_point(one.0.len(), 2).is_some(), "the tensor is split");
            let two = run(make(), [2; 5]);
            // Threads changing between steps: the state is split and merged again.
            let mixed = run(make(), [2, 1, 2, 2, 1]);
            assert_eq!(one.0, two.0, "rule {rule}: values");
            assert_eq!(one.1, two.1, "rule {rule}: state");
            assert_eq!(one.0, mixed.0, "rule {rule}: values, mixed threads");
            assert_eq!(one.1, mixed.1, "rule {rule}: state, mixed threads");
        }
    }

    #[test]
    fn a_split_state_saves_and_loads_whole() {
        let mut p = Big::new();
        p.threads = 2;
        let mut opt = Optimizer::new(Box::new(Adam::default()), 1e-2).unwrap();
        p.grads(0);
        opt.step(&mut p).unwrap();
        let saved = opt.state();
        assert_eq!(saved.tensors["W1.exp_avg"].len(), p.w.len());
        let mut restored = Optimizer::new(Box::new(Adam::default()), 1e-2).unwrap();
        restored.load_state(&mut p, &saved).unwrap();
        let mut q = Big {
            w: p.w.clone(),
            ..Big::new()
        };
        for (params, opt) in [(&mut p, &mut opt), (&mut q, &mut restored)] {
            params.threads = 2;
            params.grads(1);
            opt.step(params).unwrap();
        }
        assert_eq!(p.w, q.w);
        assert_eq!(opt.state(), restored.state());
    }
}
