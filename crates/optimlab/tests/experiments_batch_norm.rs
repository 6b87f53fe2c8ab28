//! Batch norm on Fashion-MNIST: with it the network learns at every initial weight scale,
//! without it only near the right scale.

mod experiments_support;

use experiments_support::{fashion_mnist, quiet, timed};
use optimlab::experiments::batch_norm::{Config, book_scales, run};

#[test]
fn batch_norm_learns_at_every_scale() {
    let Some(data) = fashion_mnist() else { return };
    // Every other book scale (1 … 1e-4 still spanned) and half the evaluations keep this short;
    // the conclusion already holds by then.
    let config = Config {
        scales: book_scales().into_iter().step_by(2).chain([1e-4]).collect(),
        evaluations: 10,
        ..Config::default()
    };
    let out = timed("batch norm test run", || {
        run(&config, &data, &quiet).unwrap()
    });
    assert_eq!(out.eval_iters, (0..10).map(|k| 10 * k).collect::<Vec<_>>());
    let finals: Vec<(f64, f64, f64)> = out
        .scales
        .iter()
        .map(|s| {
            (
                s.weight_std,
                s.with_bn.final_train.mean,
                s.without_bn.final_train.mean,
            )
        })
        .collect();
    eprintln!("{finals:?}");
    assert_eq!(finals.len(), 9);
    for &(std, bn, _) in &finals {
        assert!(bn > 0.2, "σ={std}: batch norm reached only {bn}");
    }
    let plain_learned = finals.iter().filter(|f| f.2 > 0.2).count();
    assert!(plain_learned <= 4, "{finals:?}");
    // σ = 1 without batch norm blows up (NaN loss within a few iterations, as in the book's
    // run); the run goes on and reports it, and batch norm keeps the same weights finite.
    assert!(out.scales[0].without_bn.diverged_at[0].is_some());
    assert!(
        out.scales
            .iter()
            .all(|s| s.with_bn.diverged_at[0].is_none())
    );
    // The smallest scales cannot move without batch norm.
    assert!(finals[finals.len() - 1].2 < 0.2, "{finals:?}");
}
