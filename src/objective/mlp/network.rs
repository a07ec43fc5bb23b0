//! The network: `layers × [Linear(hidden), ReLU, Dropout]`, then a Linear
//! head with one output per class (softmax cross-entropy) or one output
//! (mean squared error), and its backward pass written out.

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::tensor::activation::{log_softmax, relu};
use burn::tensor::{Device, Tensor, TensorData};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

/// `layers × [Linear(hidden), ReLU, Dropout]`, then `Linear(outputs)`.
#[derive(Module, Debug)]
pub(crate) struct Mlp {
    pub(super) hidden: Vec<Linear>,
    pub(super) out: Linear,
}

/// A batch's targets, as the head's loss reads them.
pub(super) enum BatchTargets {
    /// One-hot rows (`batch × classes`): softmax cross-entropy.
    OneHot(Tensor<2>),
    /// Standardized values (`batch × 1`): mean squared error.
    Values(Tensor<2>),
}

impl Mlp {
    /// [`initial_layers`] as Burn Linear layers on `device`.
    pub(crate) fn new(
        rng: &mut ChaCha8Rng,
        n_in: usize,
        hidden: usize,
        layers: usize,
        n_out: usize,
        device: &Device,
    ) -> Self {
        let mut linears: Vec<Linear> = initial_layers(rng, n_in, hidden, layers, n_out)
            .into_iter()
            .map(|l| linear(l.w, l.b, l.d_in, l.d_out, device))
            .collect();
        let out = linears.pop().unwrap_or_else(|| linear(Vec::new(), Vec::new(), 0, 0, device));
        Mlp { hidden: linears, out }
    }

    /// Outputs for `x`; `masks` (one per hidden layer, already scaled by 1/keep) apply dropout.
    pub(crate) fn forward(&self, x: Tensor<2>, masks: Option<Vec<Tensor<2>>>) -> Tensor<2> {
        let mut h = x;
        let mut masks = masks.map(Vec::into_iter);
        for layer in &self.hidden {
            h = relu(layer.forward(h));
            if let Some(mask) = masks.as_mut().and_then(Iterator::next) {
                h = h * mask;
            }
        }
        self.out.forward(h)
    }
}

/// One Linear layer's initial values: `w` is `d_in × d_out`, row-major (Burn's layout).
pub(super) struct InitialLayer {
    pub(super) w: Vec<f32>,
    pub(super) b: Vec<f32>,
    pub(super) d_in: usize,
    pub(super) d_out: usize,
}

/// PyTorch's default init of `layers × Linear(hidden)` and the head `Linear(n_out)`: weights and
/// biases uniform in ±1/√fan_in, drawn from `rng` layer by layer, weights before bias.
pub(super) fn initial_layers(
    rng: &mut ChaCha8Rng,
    n_in: usize,
    hidden: usize,
    layers: usize,
    n_out: usize,
) -> Vec<InitialLayer> {
    let widths: Vec<usize> =
        std::iter::once(n_in).chain(std::iter::repeat_n(hidden, layers)).chain(std::iter::once(n_out)).collect();
    widths
        .windows(2)
        .map(|pair| {
            let (d_in, d_out) = (pair[0], pair[1]);
            let bound = 1.0 / (d_in as f32).sqrt();
            let mut draw = |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-bound..bound)).collect() };
            let w = draw(d_in * d_out);
            InitialLayer { b: draw(d_out), w, d_in, d_out }
        })
        .collect()
}

/// A Linear layer with weights `w` (`d_in × d_out`, row-major) and bias `b`.
pub(super) fn linear(w: Vec<f32>, b: Vec<f32>, d_in: usize, d_out: usize, device: &Device) -> Linear {
    Linear {
        weight: Param::from_tensor(Tensor::from_data(TensorData::new(w, [d_in, d_out]), device)),
        bias: Some(Param::from_tensor(Tensor::from_data(TensorData::new(b, [d_out]), device))),
    }
}

/// The loss of `outputs` on a batch, as a tensor autodiff can differentiate.
pub(super) fn loss(outputs: Tensor<2>, targets: &BatchTargets) -> Tensor<1> {
    match targets {
        BatchTargets::OneHot(onehot) => {
            let [batch, _] = outputs.dims();
            (log_softmax(outputs, 1) * onehot.clone()).sum().div_scalar(-(batch as f32))
        }
        BatchTargets::Values(y) => {
            let diff = outputs - y.clone();
            (diff.clone() * diff).mean()
        }
    }
}

/// The backward pass of `layers × [Linear, ReLU, dropout]` + Linear + the
/// loss, written out: dloss/doutputs is (softmax − onehot) / B for
/// cross-entropy and 2 (outputs − y) / B for squared error, then back
/// through each Linear (dW = aᵀg, db = Σg, da = gWᵀ), the dropout mask and
/// the ReLU gate (z > 0). Returns the loss and each Linear's (dW, db), hidden
/// layers first, output last.
pub(super) fn manual_gradients(
    model: &Mlp,
    x: Tensor<2>,
    targets: BatchTargets,
    masks: Option<Vec<Tensor<2>>>,
) -> (f32, Vec<(Tensor<2>, Tensor<1>)>) {
    let [batch, _] = x.dims();
    let mut masks = masks.map(Vec::into_iter);
    let mut inputs = Vec::with_capacity(model.hidden.len() + 1);
    let mut gates = Vec::with_capacity(model.hidden.len());
    let mut a = x;
    for layer in &model.hidden {
        let z = layer.forward(a.clone());
        inputs.push(a);
        // ReLU's derivative as a 0/1 float tensor: a multiply is far cheaper than mask_fill on flex.
        let gate = z.clone().greater_elem(0.0).float();
        let mut h = relu(z);
        let mask = masks.as_mut().and_then(Iterator::next);
        if let Some(m) = &mask {
            h = h * m.clone();
        }
        gates.push((gate, mask));
        a = h;
    }
    let outputs = model.out.forward(a.clone());
    inputs.push(a);
    let (loss, mut g) = match targets {
        BatchTargets::OneHot(onehot) => {
            let log_probs = log_softmax(outputs, 1);
            let loss: f32 = (log_probs.clone() * onehot.clone()).sum().into_scalar::<f32>() / -(batch as f32);
            (loss, (log_probs.exp() - onehot).div_scalar(batch as f32))
        }
        BatchTargets::Values(y) => {
            let diff = outputs - y;
            let loss: f32 = (diff.clone() * diff.clone()).sum().into_scalar::<f32>() / batch as f32;
            (loss, diff.mul_scalar(2.0 / batch as f32))
        }
    };

    let linear_grads = |input: Tensor<2>, g: &Tensor<2>| {
        let [_, d_out] = g.dims();
        (input.transpose().matmul(g.clone()), g.clone().sum_dim(0).reshape([d_out]))
    };
    let mut grads = Vec::with_capacity(model.hidden.len() + 1);
    if let Some(a) = inputs.pop() {
        grads.push(linear_grads(a, &g));
    }
    let mut next_weight = model.out.weight.val();
    for (layer, (gate, mask)) in model.hidden.iter().zip(gates).rev() {
        let mut ga = g.matmul(next_weight.transpose());
        if let Some(m) = mask {
            ga = ga * m;
        }
        g = ga * gate;
        if let Some(a) = inputs.pop() {
            grads.push(linear_grads(a, &g));
        }
        next_weight = layer.weight.val();
    }
    grads.reverse();
    (loss, grads)
}
