//! Activation histograms at the book's settings: σ = 1 saturates sigmoid, σ = 0.01 collapses
//! it to 0.5, Xavier keeps it spread.

use optimlab::experiments::init_activations::{Config, Output, run};
use optimlab::nn::{Activation, Init};

fn layer(
    out: &Output,
    init: Init,
    activation: Activation,
    l: usize,
) -> &optimlab::experiments::init_activations::LayerStats {
    let c = out
        .combinations
        .iter()
        .find(|c| c.init == init && c.activation == activation)
        .unwrap();
    &c.seeds[0][l]
}

#[test]
fn the_books_three_sigmoid_pictures() {
    let out = run(&Config::default(), &|_| {}).unwrap();
    assert_eq!(out.combinations.len(), 12);
    let bins = out.bins;
    for l in 0..5 {
        // σ = 1: most values in the outer bins (near 0 and 1), few in the middle.
        let s = layer(&out, Init::Std(1.0), Activation::Sigmoid, l);
        let total: u64 = s.counts.iter().sum();
        let edges = s.counts[0] + s.counts[bins - 1];
        assert!(
            edges as f64 > 0.5 * total as f64,
            "layer {l}: {:?}",
            s.counts
        );
        assert!(s.saturated_share > 0.4, "layer {l}: {}", s.saturated_share);
        // σ = 0.01: everything piles up around 0.5 (the bins of [0.37, 0.63)).
        let t = layer(&out, Init::Std(0.01), Activation::Sigmoid, l);
        let middle: u64 = t.counts[11..19].iter().sum();
        assert_eq!(middle, 100_000, "layer {l}: {:?}", t.counts);
        assert!(
            (t.mean - 0.5).abs() < 0.01 && t.std < 0.03,
            "layer {l}: {t:?}"
        );
        assert_eq!(t.saturated_share, 0.0);
        // Xavier: spread out, neither at the edges nor collapsed.
        let x = layer(&out, Init::BookXavier, Activation::Sigmoid, l);
        let used = x.counts.iter().filter(|&&c| c > 1000).count();
        assert!(used >= 8, "layer {l}: {:?}", x.counts);
        assert!(x.std > 0.05 && x.saturated_share < 0.05, "layer {l}: {x:?}");
    }
    // ReLU with std 0.01 shrinks toward 0 layer by layer; He keeps its spread.
    let tiny = layer(&out, Init::Std(0.01), Activation::Relu, 4);
    let he = layer(&out, Init::He, Activation::Relu, 4);
    assert!(tiny.std < 1e-4 && he.std > 0.3, "{} {}", tiny.std, he.std);
}
