//! The built-in objective: a multi-layer perceptron classifier on Burn's flex
//! CPU backend, trained by a plain loop.
//!
//! Burn's `device.seed()` RNG is process-global and shared by threads, so
//! weights and dropout masks come from the trial's own ChaCha RNG instead:
//! two trials running at once give the same results as one after the other.

use std::collections::BTreeMap;

use burn::module::{Module, Param};
use burn::nn::Linear;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{
    Adam, AdamConfig, AdamState, AdamW, AdamWConfig, AdamWState, GradientsParams, ModuleOptimizer, Optimizer, Sgd,
    SgdConfig, SgdState,
};
use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot, SafetensorsStore};
use burn::tensor::activation::{log_softmax, relu};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::seq::SliceRandom;
use rand::{Rng, RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_xoshiro::Xoshiro256PlusPlus;

use super::settings::TrainSettings;
use super::{EpochTrainer, Objective, TrialError};
use crate::data::Prepared;
use crate::plan::TrialSpec;

/// `layers × [Linear(hidden), ReLU, Dropout]`, then `Linear(n_classes)`.
#[derive(Module, Debug)]
pub struct Mlp {
    hidden: Vec<Linear>,
    out: Linear,
}

impl Mlp {
    /// PyTorch's default init: weights and biases uniform in ±1/√fan_in,
    /// drawn from `rng`. Weights are stored `[in, out]` (Burn's layout).
    pub fn new(rng: &mut ChaCha8Rng, n_in: usize, hidden: usize, layers: usize, n_out: usize, device: &Device) -> Self {
        let mut linear = |d_in: usize, d_out: usize| {
            let bound = 1.0 / (d_in as f32).sqrt();
            let mut draw = |n: usize| -> Vec<f32> { (0..n).map(|_| rng.random_range(-bound..bound)).collect() };
            let w = draw(d_in * d_out);
            let b = draw(d_out);
            Linear {
                weight: Param::from_tensor(Tensor::from_data(TensorData::new(w, [d_in, d_out]), device)),
                bias: Some(Param::from_tensor(Tensor::from_data(TensorData::new(b, [d_out]), device))),
            }
        };
        let mut layers_vec = Vec::with_capacity(layers);
        let mut d_in = n_in;
        for _ in 0..layers {
            layers_vec.push(linear(d_in, hidden));
            d_in = hidden;
        }
        let out = linear(d_in, n_out);
        Mlp { hidden: layers_vec, out }
    }

    /// Logits for `x`; `masks` (one per hidden layer, already scaled by 1/keep) apply dropout.
    pub fn forward(&self, x: Tensor<2>, masks: Option<Vec<Tensor<2>>>) -> Tensor<2> {
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

/// Rebuilds a trained [`Mlp`] from a checkpoint written by this objective, on
/// the plain (inference) device.
pub fn load_checkpoint(
    bytes: Vec<u8>,
    settings: &TrainSettings,
    n_features: usize,
    n_classes: usize,
) -> Result<Mlp, TrialError> {
    let device = Device::flex();
    // The initial values are overwritten by the checkpoint; only the shapes matter.
    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let mut model = Mlp::new(&mut rng, n_features, settings.hidden, settings.layers, n_classes, &device);
    let mut store = SafetensorsStore::from_bytes(Some(bytes));
    let applied = model.load_from(&mut store).map_err(|e| TrialError::Failed(format!("loading checkpoint: {e}")))?;
    if !applied.errors.is_empty() || !applied.missing.is_empty() {
        return Err(TrialError::Failed(format!(
            "checkpoint does not fit a {}x{} MLP: {:?} {:?}",
            settings.layers, settings.hidden, applied.errors, applied.missing
        )));
    }
    Ok(model)
}

/// Logits of `model` for `x` (`n × n_features`, row-major, already standardized).
pub fn predict_logits(model: &Mlp, x: &[f32], n_features: usize) -> Result<Vec<f32>, TrialError> {
    let n = x.len() / n_features.max(1);
    let input = Tensor::from_data(TensorData::new(x.to_vec(), [n, n_features]), &Device::flex());
    model
        .forward(input, None)
        .into_data()
        .try_into_vec::<f32>()
        .map_err(|e| TrialError::Failed(format!("reading logits: {e:?}")))
}

/// The weights in PyTorch's layout (`Linear` weights `[out, in]`), for export;
/// key names stay Burn's (`hidden.0.weight`, `out.bias`).
pub fn pytorch_layout_bytes(model: &Mlp) -> Result<Vec<u8>, TrialError> {
    let mut store = SafetensorsStore::from_bytes(None).with_to_adapter(BurnToPyTorchAdapter);
    model.save_into(&mut store).map_err(|e| TrialError::Failed(format!("saving checkpoint: {e}")))?;
    store.get_bytes().map_err(|e| TrialError::Failed(format!("saving checkpoint: {e}")))
}

/// How the trainer computes gradients.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum Gradients {
    /// The MLP's backward pass written out, on plain tensors (the default).
    /// Burn's autodiff records every op into one process-global graph behind a
    /// lock that concurrent trials contend for, and only its own backward pass
    /// frees that graph; for this fixed architecture the gradients are a few
    /// lines, and the tests check them against autodiff.
    #[default]
    Manual,
    /// Burn's autodiff and `ModuleOptimizer`: the reference the manual pass is tested against.
    Autodiff,
}

/// The built-in MLP classifier objective.
#[derive(Debug, Default, Clone, Copy)]
pub struct MlpObjective {
    /// How gradients are computed.
    pub gradients: Gradients,
}

impl Objective for MlpObjective {
    fn name(&self) -> &str {
        "mlp"
    }

    fn start(
        &self,
        trial: &TrialSpec,
        s: &TrainSettings,
        data: &Prepared,
    ) -> Result<Box<dyn EpochTrainer>, TrialError> {
        let plain = Device::flex();
        let device = match self.gradients {
            Gradients::Manual => plain.clone(),
            Gradients::Autodiff => Device::flex().autodiff(),
        };
        let mut rng = ChaCha8Rng::seed_from_u64(trial.seed);
        let dropout_rng = Xoshiro256PlusPlus::seed_from_u64(rng.next_u64());
        let model = Mlp::new(&mut rng, data.n_features, s.hidden, s.layers, data.n_classes, &device);
        let stepper = match self.gradients {
            Gradients::Manual => Stepper::Manual {
                optim: ParamOptimizer::new(s),
                states: (0..=s.layers).map(|_| (None, None)).collect(),
            },
            Gradients::Autodiff => Stepper::Autodiff(build_module_optimizer(s)),
        };
        let n_train = data.train_y.len();
        let train_x = Tensor::from_data(TensorData::new(data.train_x.clone(), [n_train, data.n_features]), &device);
        let labels: Vec<i64> = data.train_y.iter().map(|&y| y as i64).collect();
        let train_y = Tensor::<1, Int>::from_data(TensorData::new(labels, [n_train]), &device);
        let mut onehot = vec![0.0f32; n_train * data.n_classes];
        for (i, &y) in data.train_y.iter().enumerate() {
            onehot[i * data.n_classes + y] = 1.0;
        }
        let train_onehot = Tensor::from_data(TensorData::new(onehot, [n_train, data.n_classes]), &device);
        let n_valid = data.valid_y.len();
        let valid_x = Tensor::from_data(TensorData::new(data.valid_x.clone(), [n_valid, data.n_features]), &plain);
        Ok(Box::new(MlpTrainer {
            model: Some(model),
            stepper,
            settings: s.clone(),
            rng,
            dropout_rng,
            device,
            train_x,
            train_y,
            train_onehot,
            n_train,
            valid_x,
        }))
    }

    /// Multiply-adds of the forward pass per row, times rows and epochs.
    fn cost_hint(&self, s: &TrainSettings, data: &Prepared) -> f64 {
        let mut widths = vec![data.n_features];
        widths.extend(std::iter::repeat_n(s.hidden, s.layers));
        widths.push(data.n_classes);
        let per_row: usize = widths.windows(2).map(|w| w[0] * w[1]).sum();
        per_row as f64 * data.train_y.len() as f64 * s.epochs as f64
    }
}

/// The optimizer the settings ask for, as Burn configures it (epsilon 1e-8 as
/// in PyTorch, so results compare with the Python peers; SGD without dampening).
fn configs(s: &TrainSettings) -> (AdamConfig, AdamWConfig, SgdConfig) {
    let decay = (s.weight_decay > 0.0).then(|| WeightDecayConfig::new(s.weight_decay as f32));
    let momentum = (s.momentum > 0.0).then(|| MomentumConfig::new().with_momentum(s.momentum).with_dampening(0.0));
    (
        AdamConfig::new().with_epsilon(1e-8).with_weight_decay(decay.clone()),
        AdamWConfig::new().with_epsilon(1e-8).with_weight_decay(s.weight_decay as f32),
        SgdConfig::new().with_weight_decay(decay).with_momentum(momentum),
    )
}

fn build_module_optimizer(s: &TrainSettings) -> ModuleOptimizer {
    let (adam, adamw, sgd) = configs(s);
    match s.optimizer.as_str() {
        "adamw" => adamw.init(),
        "sgd" => sgd.init(),
        _ => adam.init(),
    }
}

/// Burn's optimizers applied one parameter tensor at a time (their
/// [`Optimizer::step`]), the same update `ModuleOptimizer` makes, without autodiff.
#[derive(Clone)]
enum ParamOptimizer {
    Adam(Adam),
    AdamW(AdamW),
    Sgd(Sgd),
}

/// A parameter's optimizer state.
#[derive(Clone)]
enum ParamState<const D: usize> {
    Adam(AdamState<D>),
    AdamW(AdamWState<D>),
    Sgd(SgdState<D>),
}

impl ParamOptimizer {
    fn new(s: &TrainSettings) -> Self {
        let (adam, adamw, sgd) = configs(s);
        match s.optimizer.as_str() {
            "adamw" => ParamOptimizer::AdamW(adamw.build()),
            "sgd" => ParamOptimizer::Sgd(sgd.build()),
            _ => ParamOptimizer::Adam(adam.build()),
        }
    }

    fn step<const D: usize>(
        &self,
        lr: f64,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<ParamState<D>>,
    ) -> (Tensor<D>, Option<ParamState<D>>) {
        match self {
            ParamOptimizer::Adam(o) => {
                let state = match state {
                    Some(ParamState::Adam(s)) => Some(s),
                    _ => None,
                };
                let (t, s) = o.step(lr, tensor, grad, state);
                (t, s.map(ParamState::Adam))
            }
            ParamOptimizer::AdamW(o) => {
                let state = match state {
                    Some(ParamState::AdamW(s)) => Some(s),
                    _ => None,
                };
                let (t, s) = o.step(lr, tensor, grad, state);
                (t, s.map(ParamState::AdamW))
            }
            ParamOptimizer::Sgd(o) => {
                let state = match state {
                    Some(ParamState::Sgd(s)) => Some(s),
                    _ => None,
                };
                let (t, s) = o.step(lr, tensor, grad, state);
                (t, s.map(ParamState::Sgd))
            }
        }
    }
}

/// How a training step updates the model.
enum Stepper {
    /// Manual gradients, per-tensor optimizer; one (weight, bias) state per Linear, hidden layers then output.
    Manual { optim: ParamOptimizer, states: Vec<(Option<ParamState<2>>, Option<ParamState<1>>)> },
    /// Autodiff gradients and Burn's `ModuleOptimizer`.
    Autodiff(ModuleOptimizer),
}

struct MlpTrainer {
    // An Option so the model can be moved through an optimizer step and put back.
    model: Option<Mlp>,
    stepper: Stepper,
    settings: TrainSettings,
    /// Initial weights, then the per-epoch shuffle.
    rng: ChaCha8Rng,
    /// Dropout masks: millions of draws per trial, so a faster generator, seeded from `rng`.
    dropout_rng: Xoshiro256PlusPlus,
    device: Device,
    train_x: Tensor<2>,
    train_y: Tensor<1, Int>,
    train_onehot: Tensor<2>,
    n_train: usize,
    valid_x: Tensor<2>,
}

impl MlpTrainer {
    fn model(&self) -> Result<&Mlp, TrialError> {
        self.model.as_ref().ok_or_else(|| TrialError::Failed("model lost after an earlier error".into()))
    }

    /// Inverted-dropout masks (0 or 1/keep), one per hidden layer, drawn from
    /// the trial's RNG as raw 32-bit words compared with keep·2³²: a quarter
    /// of the bytes of drawing an f64 per unit, and a loop that vectorises.
    fn dropout_masks(&mut self, batch: usize) -> Option<Vec<Tensor<2>>> {
        let p = self.settings.dropout;
        if p <= 0.0 || self.settings.layers == 0 {
            return None;
        }
        let keep = 1.0 - p;
        let scale = (1.0 / keep) as f32;
        let threshold = (keep * 4_294_967_296.0).round().min(u32::MAX as f64) as u32;
        let n = batch * self.settings.hidden;
        let mut words = vec![0u32; n];
        let masks = (0..self.settings.layers)
            .map(|_| {
                self.dropout_rng.fill(&mut words[..]);
                let values: Vec<f32> = words.iter().map(|&w| scale * f32::from(u8::from(w < threshold))).collect();
                Tensor::from_data(TensorData::new(values, [batch, self.settings.hidden]), &self.device)
            })
            .collect();
        Some(masks)
    }

    fn autodiff_step(
        optimizer: &mut ModuleOptimizer,
        lr: f64,
        model: Mlp,
        x: Tensor<2>,
        y: Tensor<1, Int>,
        masks: Option<Vec<Tensor<2>>>,
    ) -> (Mlp, f32) {
        let [batch] = y.dims();
        let logits = model.forward(x, masks);
        let loss = log_softmax(logits, 1).gather(1, y.reshape([batch, 1])).mean().neg();
        let loss_value: f32 = loss.clone().into_scalar();
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        (optimizer.step(lr, model, grads), loss_value)
    }

    /// The backward pass of `layers × [Linear, ReLU, dropout]` + Linear + softmax
    /// cross-entropy, written out: dlogits = (softmax − onehot) / B, then back
    /// through each Linear (dW = aᵀg, db = Σg, da = gWᵀ), the dropout mask and
    /// the ReLU gate (z > 0). Returns the loss and each Linear's (dW, db), hidden
    /// layers first, output last.
    fn manual_gradients(
        model: &Mlp,
        x: Tensor<2>,
        onehot: Tensor<2>,
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
        let logits = model.out.forward(a.clone());
        inputs.push(a);
        let log_probs = log_softmax(logits, 1);
        let loss: f32 = (log_probs.clone() * onehot.clone()).sum().into_scalar::<f32>() / -(batch as f32);
        let mut g = (log_probs.exp() - onehot).div_scalar(batch as f32);

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
}

/// Applies one optimizer step to a Linear layer's weight and bias.
fn update_linear(
    optim: &ParamOptimizer,
    lr: f64,
    layer: Linear,
    (grad_w, grad_b): (Tensor<2>, Tensor<1>),
    state: &mut (Option<ParamState<2>>, Option<ParamState<1>>),
) -> Linear {
    let (id, w, mapper) = layer.weight.consume();
    let (w, sw) = optim.step(lr, w, grad_w, state.0.take());
    state.0 = sw;
    let bias = layer.bias.map(|bias| {
        let (id, b, mapper) = bias.consume();
        let (b, sb) = optim.step(lr, b, grad_b, state.1.take());
        state.1 = sb;
        Param::from_mapped_value(id, b, mapper)
    });
    Linear { weight: Param::from_mapped_value(id, w, mapper), bias }
}

impl EpochTrainer for MlpTrainer {
    fn train_epoch(&mut self) -> Result<f64, TrialError> {
        let mut order: Vec<i64> = (0..self.n_train as i64).collect();
        order.shuffle(&mut self.rng);
        let lr = self.settings.lr;
        let mut loss_sum = 0.0f64;
        for chunk in order.chunks(self.settings.batch_size) {
            let batch = chunk.len();
            let idx = Tensor::<1, Int>::from_data(TensorData::new(chunk.to_vec(), [batch]), &self.device);
            let x = self.train_x.clone().select(0, idx.clone());
            let masks = self.dropout_masks(batch);
            let model =
                self.model.take().ok_or_else(|| TrialError::Failed("model lost after an earlier error".into()))?;
            let (model, loss) = match &mut self.stepper {
                Stepper::Autodiff(optimizer) => {
                    let y = self.train_y.clone().select(0, idx);
                    Self::autodiff_step(optimizer, lr, model, x, y, masks)
                }
                Stepper::Manual { optim, states } => {
                    let onehot = self.train_onehot.clone().select(0, idx);
                    let (loss, grads) = Self::manual_gradients(&model, x, onehot, masks);
                    let mut grads = grads.into_iter();
                    let mut states = states.iter_mut();
                    let mut step = |layer: Linear| match (grads.next(), states.next()) {
                        (Some(g), Some(st)) => update_linear(optim, lr, layer, g, st),
                        _ => layer,
                    };
                    let hidden: Vec<Linear> = model.hidden.into_iter().map(&mut step).collect();
                    let out = step(model.out);
                    (Mlp { hidden, out }, loss)
                }
            };
            self.model = Some(model);
            loss_sum += loss as f64 * batch as f64;
        }
        Ok(loss_sum / self.n_train as f64)
    }

    fn validation_logits(&mut self) -> Result<Vec<f32>, TrialError> {
        let model = self.model()?.valid();
        model
            .forward(self.valid_x.clone(), None)
            .into_data()
            .try_into_vec::<f32>()
            .map_err(|e| TrialError::Failed(format!("reading validation logits: {e:?}")))
    }

    fn checkpoint(&self, metadata: &BTreeMap<String, String>) -> Result<Vec<u8>, TrialError> {
        let mut store = SafetensorsStore::from_bytes(None);
        for (k, v) in metadata {
            store = store.metadata(k.clone(), v.clone());
        }
        self.model()?
            .valid()
            .save_into(&mut store)
            .map_err(|e| TrialError::Failed(format!("saving checkpoint: {e}")))?;
        store.get_bytes().map_err(|e| TrialError::Failed(format!("saving checkpoint: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tensor2(rng: &mut ChaCha8Rng, rows: usize, cols: usize, device: &Device) -> (Vec<f32>, Tensor<2>) {
        let v: Vec<f32> = (0..rows * cols).map(|_| rng.random_range(-1.0..1.0)).collect();
        (v.clone(), Tensor::from_data(TensorData::new(v, [rows, cols]), device))
    }

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap()
    }

    #[test]
    fn manual_gradients_match_autodiff() {
        let (batch, d_in, hidden, layers, classes) = (7, 5, 6, 2, 3);
        let plain = Device::flex();
        let ad = Device::flex().autodiff();
        let manual_model = Mlp::new(&mut ChaCha8Rng::seed_from_u64(1), d_in, hidden, layers, classes, &plain);
        let ad_model = Mlp::new(&mut ChaCha8Rng::seed_from_u64(1), d_in, hidden, layers, classes, &ad);

        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let (xv, x) = tensor2(&mut rng, batch, d_in, &plain);
        let labels: Vec<usize> = (0..batch).map(|i| i % classes).collect();
        let mut onehot = vec![0.0f32; batch * classes];
        for (i, &y) in labels.iter().enumerate() {
            onehot[i * classes + y] = 1.0;
        }
        // Dropout masks with zeros and the 1/keep scale, as training makes them.
        let mask_values: Vec<Vec<f32>> = (0..layers)
            .map(|_| (0..batch * hidden).map(|_| if rng.random::<f32>() < 0.7 { 1.0 / 0.7 } else { 0.0 }).collect())
            .collect();
        let masks = |device: &Device| -> Vec<Tensor<2>> {
            mask_values.iter().map(|m| Tensor::from_data(TensorData::new(m.clone(), [batch, hidden]), device)).collect()
        };

        let onehot_t = Tensor::from_data(TensorData::new(onehot, [batch, classes]), &plain);
        let (loss, grads) = MlpTrainer::manual_gradients(&manual_model, x, onehot_t, Some(masks(&plain)));

        let x_ad = Tensor::from_data(TensorData::new(xv, [batch, d_in]), &ad);
        let y: Vec<i64> = labels.iter().map(|&y| y as i64).collect();
        let y = Tensor::<1, Int>::from_data(TensorData::new(y, [batch]), &ad);
        let logits = ad_model.forward(x_ad, Some(masks(&ad)));
        let ad_loss = log_softmax(logits, 1).gather(1, y.reshape([batch, 1])).mean().neg();
        let ad_loss_value: f32 = ad_loss.clone().into_scalar();
        let ad_grads = ad_loss.backward();

        assert!((loss - ad_loss_value).abs() < 1e-5, "{loss} vs {ad_loss_value}");
        let layers_ad: Vec<&Linear> = ad_model.hidden.iter().chain([&ad_model.out]).collect();
        assert_eq!(grads.len(), layers_ad.len());
        for ((gw, gb), layer) in grads.into_iter().zip(layers_ad) {
            let want_w = values(layer.weight.val().grad(&ad_grads).unwrap());
            let want_b = values(layer.bias.as_ref().unwrap().val().grad(&ad_grads).unwrap());
            for (got, want) in [(values(gw), want_w), (values(gb), want_b)] {
                assert_eq!(got.len(), want.len());
                for (g, w) in got.iter().zip(&want) {
                    assert!((g - w).abs() <= 1e-5 + 1e-4 * w.abs(), "manual {g} vs autodiff {w}");
                }
            }
        }
    }

    fn toy_data() -> Prepared {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (n, d) = (90, 4);
        let x: Vec<f32> = (0..n * d).map(|_| rng.random_range(-1.0..1.0)).collect();
        let y: Vec<usize> = x.chunks(d).map(|r| usize::from(r[0] + r[1] > 0.0) + usize::from(r[2] > 0.5)).collect();
        Prepared {
            train_x: x[..60 * d].to_vec(),
            train_y: y[..60].to_vec(),
            valid_x: x[60 * d..].to_vec(),
            valid_y: y[60..].to_vec(),
            n_features: d,
            n_classes: 3,
            preprocessing: crate::data::Preprocessing {
                data_path: "toy.csv".into(),
                data_fingerprint: String::new(),
                target: "y".into(),
                feature_columns: (0..d).map(|i| format!("x{i}")).collect(),
                means: vec![0.0; d],
                stds: vec![1.0; d],
                classes: vec!["0".into(), "1".into(), "2".into()],
                split_seed: 0,
                valid_fraction: 0.33,
                valid_rows: (60..n).collect(),
            },
        }
    }

    #[test]
    fn cost_hint_counts_forward_multiply_adds_by_hand() {
        use crate::params::{ParamValue, Params};
        let data = toy_data(); // 4 features, 3 classes, 60 training rows
        let settings = |hidden, layers| {
            let p = Params::from([
                ("hidden".to_string(), ParamValue::Int(hidden)),
                ("layers".to_string(), ParamValue::Int(layers)),
                ("epochs".to_string(), ParamValue::Int(2)),
            ]);
            TrainSettings::resolve(&Params::new(), &p)
        };
        let objective = MlpObjective::default();
        // 4·8 + 8·8 + 8·3 = 120 per row; × 60 rows × 2 epochs.
        assert_eq!(objective.cost_hint(&settings(8, 2), &data), 14_400.0);
        // Logistic regression: 4·3 per row.
        assert_eq!(objective.cost_hint(&settings(8, 0), &data), 1_440.0);
    }

    #[test]
    fn manual_and_autodiff_training_agree_for_every_optimizer() {
        let data = toy_data();
        for optimizer in ["adam", "adamw", "sgd"] {
            let params = crate::params::Params::from([
                ("optimizer".to_string(), crate::params::ParamValue::Str(optimizer.into())),
                ("dropout".to_string(), crate::params::ParamValue::Float(0.25)),
                ("weight_decay".to_string(), crate::params::ParamValue::Float(0.001)),
                ("lr".to_string(), crate::params::ParamValue::Float(0.01)),
                ("batch_size".to_string(), crate::params::ParamValue::Int(16)),
                ("layers".to_string(), crate::params::ParamValue::Int(2)),
                ("hidden".to_string(), crate::params::ParamValue::Int(8)),
            ]);
            let settings = TrainSettings::resolve(&crate::params::Params::new(), &params);
            let trial = TrialSpec { index: 0, id: "t".into(), seed: 5, params, config: 0, repeat: 0 };
            let run = |gradients| {
                let mut t = MlpObjective { gradients }.start(&trial, &settings, &data).unwrap();
                let losses: Vec<f64> = (0..3).map(|_| t.train_epoch().unwrap()).collect();
                (losses, t.validation_logits().unwrap())
            };
            let (manual_losses, manual_logits) = run(Gradients::Manual);
            let (ad_losses, ad_logits) = run(Gradients::Autodiff);
            for (m, a) in manual_losses.iter().zip(&ad_losses) {
                assert!((m - a).abs() < 1e-4, "{optimizer}: loss {m} vs {a}");
            }
            for (m, a) in manual_logits.iter().zip(&ad_logits) {
                assert!((m - a).abs() < 1e-3, "{optimizer}: logit {m} vs {a}");
            }
            assert!(manual_losses[2] < manual_losses[0], "{optimizer} learns: {manual_losses:?}");
        }
    }
}

#[cfg(test)]
mod checkpoint_cost {
    use super::*;

    #[test]
    #[ignore = "a measurement, run by hand: cargo test --release -- --ignored checkpoint_cost --nocapture"]
    fn where_checkpoint_time_goes() {
        let device = Device::flex();
        let model = Mlp::new(&mut ChaCha8Rng::seed_from_u64(1), 64, 256, 2, 10, &device);
        let n = 200;
        let t = std::time::Instant::now();
        let mut bytes = Vec::new();
        for _ in 0..n {
            let mut store = SafetensorsStore::from_bytes(None);
            model.valid().save_into(&mut store).unwrap();
            bytes = store.get_bytes().unwrap();
        }
        let save = t.elapsed().as_secs_f64() / n as f64;
        let t = std::time::Instant::now();
        for _ in 0..n {
            let _ = crate::store::canonical_safetensors(&bytes).unwrap();
        }
        let canon = t.elapsed().as_secs_f64() / n as f64;
        let t = std::time::Instant::now();
        for _ in 0..n {
            let _ = crate::store::sha256_hex(&bytes);
        }
        let sha = t.elapsed().as_secs_f64() / n as f64;
        let dir = tempfile::tempdir().unwrap();
        let t = std::time::Instant::now();
        for _ in 0..n {
            crate::store::write_atomic_deferred(&dir.path().join("c.safetensors"), &bytes).unwrap();
        }
        let write = t.elapsed().as_secs_f64() / n as f64;
        let t = std::time::Instant::now();
        for _ in 0..n {
            crate::store::replace_via_spare(&dir.path().join("d.safetensors"), &bytes).unwrap();
        }
        let spare = t.elapsed().as_secs_f64() / n as f64;
        println!(
            "{} bytes: save_into {:.0} µs, canonical {:.0} µs, sha256 {:.0} µs, write (temp + rename) {:.0} µs, \
             write (spare + exchange, as trials do) {:.0} µs",
            bytes.len(),
            save * 1e6,
            canon * 1e6,
            sha * 1e6,
            write * 1e6,
            spare * 1e6
        );
    }
}
