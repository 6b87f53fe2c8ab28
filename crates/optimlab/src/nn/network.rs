//! The multi-layer network: `Dense → [BatchNorm] → activation → [Dropout]` per hidden layer,
//! then `Dense → softmax cross-entropy`, as the book's `MultiLayerNetExtend`.

use super::{
    Activation, ActivationLayer, BatchNorm, BatchNormConfig, CrossEntropy, Dense, Dropout,
    DropoutConfig, Init, Layer, Mode, NnError, ParamKind, ParamMut, Parameters,
    SoftmaxCrossEntropy, TensorVisitor, TensorVisitorMut, init::fill_normal, loss::argmax_rows,
};
use crate::preset::Preset;
use crate::rng::{self, Purpose};
use crate::tensor::{Matrix, Scalar, Threads};
use serde::{Deserialize, Serialize};

/// The most memory a network may need to train (parameters, gradients, optimizer state and
/// one batch's activations, as [`NetworkConfig::memory_bytes`] estimates it): 16 GiB. Larger
/// sizes are almost always typos, and would abort the process when allocated; they are
/// refused with the bytes they would need.
pub const MEMORY_CEILING: u64 = 16 << 30;

/// `1.5 GiB`-style rendering of a byte count, for size errors.
pub fn human_bytes(bytes: u128) -> String {
    const UNITS: [&str; 6] = ["bytes", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < UNITS.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} bytes")
    } else {
        format!("{v:.1} {}", UNITS[u])
    }
}

/// Everything that defines a network's architecture and initial weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NetworkConfig {
    pub input: usize,
    pub hidden: Vec<usize>,
    pub output: usize,
    pub activation: Activation,
    pub init: Init,
    /// Batch norm after every hidden dense layer, when set.
    pub batch_norm: Option<BatchNormConfig>,
    /// Dropout after every hidden activation, when set.
    pub dropout: Option<DropoutConfig>,
    /// The book's L2 weight decay λ: `½λ‖W‖²` is added to the loss for every weight matrix
    /// (not biases) and `λW` to its gradient. Optimizer-side decay is separate.
    pub weight_decay: f64,
    pub loss: CrossEntropy,
}

impl NetworkConfig {
    /// ReLU, He init, no batch norm, no dropout, no weight decay, the preset's cross-entropy.
    pub fn new(preset: Preset, input: usize, hidden: Vec<usize>, output: usize) -> Self {
        Self {
            input,
            hidden,
            output,
            activation: Activation::Relu,
            init: Init::He,
            batch_norm: None,
            dropout: None,
            weight_decay: 0.0,
            loss: CrossEntropy::preset(preset),
        }
    }

    pub fn validate(&self) -> Result<(), NnError> {
        if self.hidden.is_empty() {
            return Err(NnError::EmptyHidden);
        }
        if self.input == 0 {
            return Err(NnError::ZeroSize("input size".into()));
        }
        if self.output == 0 {
            return Err(NnError::ZeroSize("output size".into()));
        }
        if let Some(i) = self.hidden.iter().position(|&h| h == 0) {
            return Err(NnError::ZeroSize(format!("hidden layer {}", i + 1)));
        }
        if !(self.weight_decay.is_finite() && self.weight_decay >= 0.0) {
            return Err(NnError::Invalid {
                name: "weight decay",
                value: self.weight_decay,
                expected: "a finite number ≥ 0",
            });
        }
        self.init.validate()?;
        // The parameters alone (one sample): caught for every library user that builds one.
        self.check_memory(1, 4)?;
        if let Some(bn) = &self.batch_norm {
            bn.validate()?;
        }
        if let Some(d) = &self.dropout {
            d.validate()?;
        }
        Ok(())
    }
}

impl NetworkConfig {
    /// Number of weights and biases (batch-norm scales and shifts included). Sizes not known
    /// yet (input or output 0) count as 0, so this is a lower bound until the data is loaded.
    pub fn parameter_count(&self) -> u128 {
        let sizes = self.sizes();
        let dense: u128 = sizes.windows(2).map(|w| w[0] * w[1] + w[1]).sum();
        let bn: u128 = if self.batch_norm.is_some() {
            self.hidden.iter().map(|&h| 2 * h as u128).sum()
        } else {
            0
        };
        dense + bn
    }

    fn sizes(&self) -> Vec<u128> {
        std::iter::once(self.input)
            .chain(self.hidden.iter().copied())
            .chain(std::iter::once(self.output))
            .map(|n| n as u128)
            .collect()
    }

    /// Estimated bytes to train with batches of `batch` samples of `elem_bytes`-byte floats:
    /// four copies of the parameters (values, gradients, two optimizer moments) and four of
    /// every layer's outputs per sample (dense, batch norm, activation, dropout mask).
    pub fn memory_bytes(&self, batch: usize, elem_bytes: usize) -> u128 {
        let units: u128 = self.sizes().iter().sum();
        let elem = elem_bytes as u128;
        4 * self.parameter_count() * elem + 4 * units * batch.max(1) as u128 * elem
    }

    /// Refuses a network whose [`memory_bytes`](Self::memory_bytes) exceed [`MEMORY_CEILING`].
    pub fn check_memory(&self, batch: usize, elem_bytes: usize) -> Result<(), NnError> {
        let bytes = self.memory_bytes(batch, elem_bytes);
        if bytes > MEMORY_CEILING as u128 {
            // Input and output are 0 until the data is loaded: shown as `?`.
            let last = self.hidden.len() + 1;
            let layers: Vec<String> = (self.sizes().iter().enumerate())
                .map(|(i, &n)| match n {
                    0 if i == 0 || i == last => "?".to_string(),
                    n => n.to_string(),
                })
                .collect();
            return Err(NnError::TooLarge {
                what: format!(
                    "the network {} ({} parameters, batches of {batch})",
                    layers.join("-"),
                    self.parameter_count()
                ),
                bytes,
                limit: MEMORY_CEILING as u128,
            });
        }
        Ok(())
    }
}

/// A feed-forward network of [`Layer`]s ending in softmax cross-entropy.
pub struct Network<T: Scalar> {
    layers: Vec<Box<dyn Layer<T>>>,
    loss: SoftmaxCrossEntropy<T>,
    input: usize,
    output: usize,
    weight_decay: T,
    has_loss_grad: bool,
    predictions: Vec<usize>,
    threads: Threads,
}

impl<T: Scalar> Network<T> {
    /// Builds and initialises a network; weights come from the `Init` stream of `seed`,
    /// dropout masks from one stream per dropout layer.
    pub fn build(config: &NetworkConfig, seed: u64) -> Result<Self, NnError> {
        Self::build_with_threads(config, seed, Threads::default())
    }

    pub fn build_with_threads(
        config: &NetworkConfig,
        seed: u64,
        threads: Threads,
    ) -> Result<Self, NnError> {
        config.validate()?;
        let mut init_rng = rng::stream(seed, Purpose::Init);
        let mut layers: Vec<Box<dyn Layer<T>>> = Vec::new();
        let sizes: Vec<usize> = std::iter::once(config.input)
            .chain(config.hidden.iter().copied())
            .chain(std::iter::once(config.output))
            .collect();
        let l2 = T::from_f64(config.weight_decay);
        for (i, pair) in sizes.windows(2).enumerate() {
            let index = i + 1;
            let (fan_in, fan_out) = (pair[0], pair[1]);
            let mut dense = Dense::new(index, fan_in, fan_out).with_threads(threads);
            fill_normal(
                dense.weight_mut().as_mut_slice(),
                config.init.std(fan_in, fan_out),
                &mut init_rng,
            );
            dense.l2 = l2;
            layers.push(Box::new(dense));
            if index == sizes.len() - 1 {
                break;
            }
            if let Some(bn) = config.batch_norm {
                layers.push(Box::new(BatchNorm::new(index, fan_out, bn)));
            }
            layers.push(Box::new(ActivationLayer::new(config.activation)));
            if let Some(d) = config.dropout {
                let stream = rng::stream(seed, Purpose::Dropout(index));
                layers.push(Box::new(Dropout::new(d, stream)));
            }
        }
        let mut net = Self::from_layers(config.input, layers, config.loss)?;
        net.weight_decay = l2;
        net.threads = threads;
        Ok(net)
    }

    /// A network from any stack of layers; checks that each layer accepts the previous
    /// layer's output width.
    pub fn from_layers(
        input: usize,
        layers: Vec<Box<dyn Layer<T>>>,
        loss: CrossEntropy,
    ) -> Result<Self, NnError> {
        let mut width = input;
        for layer in &layers {
            width = layer.output_features(width)?;
        }
        Ok(Self {
            layers,
            loss: SoftmaxCrossEntropy::new(loss),
            input,
            output: width,
            weight_decay: T::zero(),
            has_loss_grad: false,
            predictions: Vec::new(),
            threads: Threads::default(),
        })
    }

    pub fn input_size(&self) -> usize {
        self.input
    }
    pub fn output_size(&self) -> usize {
        self.output
    }
    pub fn layers(&self) -> &[Box<dyn Layer<T>>] {
        &self.layers
    }
    pub fn layers_mut(&mut self) -> &mut [Box<dyn Layer<T>>] {
        &mut self.layers
    }

    /// One line per layer, e.g. `Dense(784→100) → relu → …`.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self.layers.iter().map(|l| l.describe()).collect();
        format!("{} → softmax-CE", parts.join(" → "))
    }

    fn check_input(&self, x: &Matrix<T>) -> Result<(), NnError> {
        if x.cols() != self.input {
            return Err(NnError::InputShape {
                expected: self.input,
                found: x.cols(),
            });
        }
        Ok(())
    }

    fn check_labels(&self, x: &Matrix<T>, labels: &[usize]) -> Result<(), NnError> {
        if labels.len() != x.rows() {
            return Err(NnError::LabelCount {
                rows: x.rows(),
                labels: labels.len(),
            });
        }
        if let Some(&bad) = labels.iter().find(|&&t| t >= self.output) {
            return Err(NnError::LabelRange {
                label: bad,
                classes: self.output,
            });
        }
        Ok(())
    }

    /// The logits (scores before softmax) for a batch.
    pub fn forward<'a>(
        &'a mut self,
        x: &'a Matrix<T>,
        mode: Mode,
    ) -> Result<&'a Matrix<T>, NnError> {
        self.check_input(x)?;
        self.has_loss_grad = false;
        for i in 0..self.layers.len() {
            let (before, rest) = self.layers.split_at_mut(i);
            let input = before.last().map_or(x, |l| l.output());
            rest[0].forward(input, mode);
        }
        Ok(self.layers.last().map_or(x, |l| l.output()))
    }

    /// Forward pass and mean loss (plus `½λ‖W‖²` when the network has weight decay).
    pub fn loss(&mut self, x: &Matrix<T>, labels: &[usize], mode: Mode) -> Result<T, NnError> {
        self.check_labels(x, labels)?;
        self.forward(x, mode)?;
        let logits = self.layers.last().map_or(x, |l| l.output());
        let mut loss = self.loss.forward(logits, labels);
        if self.weight_decay != T::zero() {
            loss += self.weight_penalty();
        }
        self.has_loss_grad = true;
        Ok(loss)
    }

    /// `½λ Σ‖W‖²` over the weight matrices.
    pub fn weight_penalty(&mut self) -> T {
        let mut sum = T::zero();
        self.visit_params(&mut |p| {
            if p.kind == ParamKind::Weight {
                sum += p.value.iter().fold(T::zero(), |s, &w| s + w * w);
            }
        });
        T::from_f64(0.5) * self.weight_decay * sum
    }

    /// Back-propagates the loss of the last [`Network::loss`] call; gradients are then held by
    /// the parameters (see [`Parameters`]). The first layer's input gradient is not computed.
    pub fn backward(&mut self, x: &Matrix<T>, labels: &[usize]) -> Result<(), NnError> {
        if !self.has_loss_grad {
            return Err(NnError::NoForward);
        }
        self.check_labels(x, labels)?;
        let Self { layers, loss, .. } = self;
        let dlogits = loss.backward(labels);
        let n = layers.len();
        for i in (0..n).rev() {
            let (before, rest) = layers.split_at_mut(i);
            let (current, after) = rest.split_first_mut().expect("i < n");
            let input = before.last().map_or(x, |l| l.output());
            let dout = after.first().map_or(dlogits, |l| l.input_grad());
            current.backward(input, dout, i > 0);
        }
        Ok(())
    }

    /// The softmax probabilities of the last [`Network::loss`] call.
    pub fn probabilities(&self) -> &Matrix<T> {
        self.loss.probs()
    }

    /// Predicted classes for `x`, evaluated in chunks of `batch` rows (evaluation mode).
    pub fn predict(&mut self, x: &Matrix<T>, batch: usize) -> Result<Vec<usize>, NnError> {
        self.check_input(x)?;
        let batch = batch.max(1);
        let mut out = Vec::with_capacity(x.rows());
        let mut chunk = Matrix::default();
        let mut start = 0;
        let indices: Vec<usize> = (0..x.rows()).collect();
        let mut predictions = std::mem::take(&mut self.predictions);
        while start < x.rows() {
            let end = (start + batch).min(x.rows());
            chunk.gather_rows(x, &indices[start..end]);
            let logits = self.forward(&chunk, Mode::Eval)?;
            argmax_rows(logits, &mut predictions);
            out.extend_from_slice(&predictions);
            start = end;
        }
        self.predictions = predictions;
        Ok(out)
    }

    /// Each named tensor (parameters and batch-norm running statistics) with its shape.
    pub fn visit_tensors(&self, f: &mut TensorVisitor<'_, T>) {
        for l in &self.layers {
            l.visit_tensors(f);
        }
    }

    pub fn visit_tensors_mut(&mut self, f: &mut TensorVisitorMut<'_, T>) {
        for l in &mut self.layers {
            l.visit_tensors_mut(f);
        }
    }

    /// The random streams of the layers that have one (dropout), in layer order: saved and
    /// restored by checkpoints so a resumed run draws the same masks.
    pub fn rngs_mut(&mut self) -> Vec<&mut crate::rng::Rng> {
        self.layers.iter_mut().filter_map(|l| l.rng_mut()).collect()
    }

    /// Freeze (or release) every dropout mask, so repeated training forwards are identical
    /// (numerical gradient checks need this).
    pub fn freeze_dropout_masks(&mut self, freeze: bool) {
        for l in &mut self.layers {
            l.freeze_dropout_mask(freeze);
        }
    }
}

impl<T: Scalar> Parameters<T> for Network<T> {
    fn visit_params(&mut self, f: &mut dyn FnMut(ParamMut<'_, T>)) {
        for l in &mut self.layers {
            l.visit_params(f);
        }
    }

    fn threads(&self) -> usize {
        self.threads.0
    }
}
