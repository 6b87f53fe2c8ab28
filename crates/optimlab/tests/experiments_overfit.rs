//! Overfitting on 300 Fashion-MNIST images: weight decay and dropout shrink the gap between
//! training and test accuracy.

mod experiments_support;

use experiments_support::{fashion_mnist, quiet, timed};
use optimlab::experiments::overfit::{Output, dropout, weight_decay};

fn gaps(out: &Output) -> Vec<(String, f64, f64, f64)> {
    out.settings
        .iter()
        .map(|s| {
            let c = &s.curves;
            (
                c.label.clone(),
                c.final_train.mean,
                c.final_test.unwrap().mean,
                c.final_gap.unwrap().mean,
            )
        })
        .collect()
}

#[test]
fn weight_decay_shrinks_the_gap() {
    let Some(data) = fashion_mnist() else { return };
    // 100 of the book's 200 epochs, measured every 10 epochs on the first 2000 test images:
    // the network has memorised the 300 images by then.
    let config = weight_decay::Config {
        evaluations: 11,
        eval_every: Some(30),
        test_size: Some(2000),
        ..weight_decay::Config::default()
    };
    let out = timed("weight decay test run", || {
        weight_decay::run(&config, &data, &quiet).unwrap()
    });
    let g = gaps(&out);
    eprintln!("{g:?}");
    assert_eq!(out.eval_iters.last(), Some(&300));
    assert_eq!(out.test_size, 2000);
    let (plain, decayed) = (&g[0], &g[1]);
    assert!(
        plain.1 > 0.9,
        "without decay the 300 images are learnt: {g:?}"
    );
    assert!(plain.3 > 0.15, "{g:?}");
    assert!(decayed.3 < plain.3 - 0.05, "{g:?}");
}

#[test]
fn more_dropout_smaller_gap() {
    let Some(data) = fashion_mnist() else { return };
    let config = dropout::Config {
        evaluations: 11,
        eval_every: Some(30),
        test_size: Some(2000),
        ..dropout::Config::default()
    };
    let out = timed("dropout test run", || {
        dropout::run(&config, &data, &quiet).unwrap()
    });
    let g = gaps(&out);
    eprintln!("{g:?}");
    assert_eq!(g[0].0, "no dropout");
    assert!(g[0].3 > g[1].3 && g[1].3 > g[2].3, "{g:?}");
    assert!(g[2].3 < g[0].3 - 0.05, "{g:?}");
}
