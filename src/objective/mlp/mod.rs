//! The built-in objective: a multi-layer perceptron on Burn's flex CPU
//! backend, for classification (softmax cross-entropy) and regression (mean
//! squared error on standardized targets), trained by a plain loop.
//!
//! It is an [`Objective`] like any user's, with no shortcut into the runner.
//! Burn's `device.seed()` RNG is process-global and shared by threads, so
//! weights and dropout masks come from the trial's own RNG instead: two
//! trials running at once give the same results as one after the other, and
//! the MLP can run as threads ([`Parallelism::Threads`]).

mod fused;
mod gemm;
mod network;
mod optimizer;
pub(crate) mod settings;

use std::collections::BTreeMap;

use burn::module::Module;
use burn::nn::Linear;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot, SafetensorsStore};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::seq::SliceRandom;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_xoshiro::Xoshiro256PlusPlus;

use fused::{FusedMlp, FusedStepper, Head};
pub(crate) use network::Mlp;
use network::{BatchTargets, initial_layers, loss, manual_gradients};
use optimizer::{LinearState, ParamOptimizer, module_optimizer};
pub(crate) use settings::MlpSettings;

use super::{Model, Objective, Parallelism, Trainer, TrialContext, TrialError, rows_tensor, to_vec, weights};
use crate::data::{DataShape, Prepared, Targets};
use crate::device::Backend;
use crate::metrics::Task;
use crate::params::{ResolvedParams, Schema};

/// How the trainer computes gradients.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Gradients {
    /// On the CPU, [`Gradients::Manual`]'s arithmetic as loops over flat buffers
    /// (`fused.rs`), bit for bit the same, without a tensor per operation; on a GPU,
    /// [`Gradients::Manual`] itself (the default).
    #[default]
    Fused,
    /// The MLP's backward pass written out, on plain tensors.
    /// Burn's autodiff records every op into one process-global graph behind a
    /// lock that concurrent trials contend for, and only its own backward pass
    /// frees that graph; for this fixed architecture the gradients are a few
    /// lines, and the tests check them against autodiff. What [`Gradients::Fused`]
    /// runs on a GPU; selected by name only in the tests.
    #[cfg_attr(not(test), allow(dead_code))]
    Manual,
    /// Burn's autodiff and `ModuleOptimizer`: the reference the manual pass is tested against.
    /// No command selects it, so outside the tests it is never built.
    #[cfg_attr(not(test), allow(dead_code))]
    Autodiff,
}

/// The built-in MLP objective (`objective = "mlp"`).
#[derive(Debug, Default, Clone, Copy)]
pub struct MlpObjective {
    /// How gradients are computed.
    pub(crate) gradients: Gradients,
}

impl Objective for MlpObjective {
    fn name(&self) -> &str {
        "mlp"
    }

    fn description(&self) -> &str {
        "multi-layer perceptron: layers x [Linear(hidden), ReLU, Dropout], then a softmax or regression head"
    }

    fn schema(&self) -> Schema {
        settings::schema()
    }

    fn tasks(&self) -> &[Task] {
        &[Task::Classification, Task::Regression]
    }

    fn devices(&self) -> &[Backend] {
        &[Backend::Cpu, Backend::Wgpu]
    }

    fn parallelism(&self) -> Parallelism {
        match self.gradients {
            Gradients::Fused | Gradients::Manual => Parallelism::Threads,
            Gradients::Autodiff => Parallelism::Processes,
        }
    }

    fn start(&self, trial: &TrialContext<'_>) -> Result<Box<dyn Trainer>, TrialError> {
        let s = MlpSettings::from_params(trial.params)?;
        let data = trial.data;
        let plain = trial.device().clone();
        let device = match self.gradients {
            Gradients::Fused | Gradients::Manual => plain.clone(),
            Gradients::Autodiff => plain.clone().autodiff(),
        };
        let mut rng = trial.rng();
        let dropout_rng = Xoshiro256PlusPlus::seed_from_u64(rng.next_u64());
        if self.gradients == Gradients::Fused && trial.device_info().backend == Backend::Cpu {
            let net = FusedMlp::new(initial_layers(&mut rng, data.n_features, s.hidden, s.layers, data.n_outputs()));
            return Ok(Box::new(FusedTrainer::new(trial, net, s, rng, dropout_rng)));
        }
        let model = Mlp::new(&mut rng, data.n_features, s.hidden, s.layers, data.n_outputs(), &device);
        let stepper = match self.gradients {
            Gradients::Fused | Gradients::Manual => Stepper::Manual {
                optim: ParamOptimizer::new(&s),
                states: (0..=s.layers).map(|_| (None, None)).collect(),
            },
            Gradients::Autodiff => Stepper::Autodiff(module_optimizer(&s)),
        };
        let n_train = data.n_train();
        let train_x = trial.train_x(&device);
        let train_targets =
            Tensor::from_data(TensorData::new(train_targets(data), [n_train, data.n_outputs()]), &device);
        let valid_x = trial.valid_x(&plain);
        Ok(Box::new(MlpTrainer {
            model: Some(model),
            stepper,
            task: data.task,
            settings: s,
            rng,
            dropout_rng,
            device,
            train_x,
            train_targets,
            n_train,
            valid_x,
        }))
    }

    fn load(
        &self,
        checkpoint: &[u8],
        params: &ResolvedParams,
        shape: DataShape,
        device: &Device,
    ) -> Result<Box<dyn Model>, TrialError> {
        let s = MlpSettings::from_params(params)?;
        let model = MlpModel {
            checkpoint: checkpoint.to_vec(),
            module: std::cell::OnceCell::new(),
            fused: None,
            settings: s,
            shape,
            device: device.clone(),
        };
        // On the CPU the fused forward pass predicts (the outputs the tensor path gives, bit for bit,
        // at a fraction of the cost: each trial's cost to serve is measured through it); the Burn
        // module is built only for an export. A GPU predicts through the module.
        if *device == Device::flex() {
            let s = &model.settings;
            let fused = FusedMlp::from_safetensors(checkpoint, shape.n_features, s.hidden, s.layers, shape.n_outputs)
                .map_err(|e| {
                TrialError::failed(format!("the checkpoint does not fit the model built from its parameters: {e}"))
            })?;
            return Ok(Box::new(MlpModel { fused: Some(fused), ..model }));
        }
        model.module()?;
        Ok(Box::new(model))
    }

    /// Dropout acts only in training, and the weights' values do not change the work.
    fn serving_key(&self, params: &ResolvedParams, shape: DataShape) -> Option<String> {
        let s = MlpSettings::from_params(params).ok()?;
        Some(format!(
            "mlp: {} features, {} x hidden {}, {} outputs",
            shape.n_features, s.layers, s.hidden, shape.n_outputs
        ))
    }

    /// Multiply-adds of the forward pass per row, times rows and epochs.
    fn cost_hint(&self, params: &ResolvedParams, data: &Prepared) -> f64 {
        let Ok(s) = MlpSettings::from_params(params) else {
            return 1.0;
        };
        let mut widths = vec![data.n_features];
        widths.extend(std::iter::repeat_n(s.hidden, s.layers));
        widths.push(data.n_outputs());
        let per_row: usize = widths.windows(2).map(|w| w[0] * w[1]).sum();
        per_row as f64 * data.n_train() as f64 * s.epochs as f64
    }
}

/// How a training step updates the model.
enum Stepper {
    /// Manual gradients, per-tensor optimizer; one (weight, bias) state per Linear, hidden layers then output.
    Manual { optim: ParamOptimizer, states: Vec<LinearState> },
    /// Autodiff gradients and Burn's `ModuleOptimizer`.
    Autodiff(ModuleOptimizer),
}

struct MlpTrainer {
    // An Option so the model can be moved through an optimizer step and put back.
    model: Option<Mlp>,
    stepper: Stepper,
    task: Task,
    settings: MlpSettings,
    /// Initial weights, then the per-epoch shuffle.
    rng: ChaCha8Rng,
    /// Dropout masks: millions of draws per trial, so a faster generator, seeded from `rng`.
    dropout_rng: Xoshiro256PlusPlus,
    device: Device,
    train_x: Tensor<2>,
    /// One-hot rows (classification) or standardized values, `n_train × outputs`.
    train_targets: Tensor<2>,
    n_train: usize,
    valid_x: Tensor<2>,
}

impl MlpTrainer {
    fn model(&self) -> Result<&Mlp, TrialError> {
        self.model.as_ref().ok_or_else(|| TrialError::failed("model lost after an earlier error"))
    }

    fn dropout_masks(&mut self, batch: usize) -> Option<Vec<Tensor<2>>> {
        let masks = dropout_masks(&mut self.dropout_rng, &self.settings, batch)?;
        let shape = [batch, self.settings.hidden];
        Some(masks.into_iter().map(|m| Tensor::from_data(TensorData::new(m, shape), &self.device)).collect())
    }

    fn batch_targets(&self, idx: Tensor<1, Int>) -> BatchTargets {
        let rows = self.train_targets.clone().select(0, idx);
        match self.task {
            Task::Classification => BatchTargets::OneHot(rows),
            Task::Regression => BatchTargets::Values(rows),
        }
    }
}

impl Trainer for MlpTrainer {
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
            let targets = self.batch_targets(idx);
            let model = self.model.take().ok_or_else(|| TrialError::failed("model lost after an earlier error"))?;
            let (model, loss) = match &mut self.stepper {
                Stepper::Autodiff(optimizer) => {
                    let batch_loss = loss(model.forward(x, masks), &targets);
                    let value: f32 = batch_loss.clone().into_scalar();
                    let grads = GradientsParams::from_grads(batch_loss.backward(), &model);
                    (optimizer.step(lr, model, grads), value)
                }
                Stepper::Manual { optim, states } => {
                    let (loss, grads) = manual_gradients(&model, x, targets, masks);
                    let mut grads = grads.into_iter();
                    let mut states = states.iter_mut();
                    let mut step = |layer: Linear| match (grads.next(), states.next()) {
                        (Some(g), Some(st)) => optim.update_linear(lr, layer, g, st),
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

    fn validate(&mut self) -> Result<Vec<f32>, TrialError> {
        to_vec(self.model()?.valid().forward(self.valid_x.clone(), None))
    }

    fn checkpoint(&self, metadata: &BTreeMap<String, String>) -> Result<Vec<u8>, TrialError> {
        weights::save(&self.model()?.valid(), metadata)
    }
}

/// The training targets, `n_train × outputs`: one-hot rows, or standardized values.
fn train_targets(data: &Prepared) -> Vec<f32> {
    match &data.train_y {
        Targets::Classes(labels) => {
            let k = data.n_outputs();
            let mut onehot = vec![0.0f32; labels.len() * k];
            for (i, &y) in labels.iter().enumerate() {
                onehot[i * k + y] = 1.0;
            }
            onehot
        }
        Targets::Values { model, .. } => model.clone(),
    }
}

/// Inverted-dropout masks (0 or 1/keep), one `batch × hidden` mask per hidden
/// layer, drawn as raw 32-bit words compared with keep·2³²: a quarter of the
/// bytes of drawing an f64 per unit, and a loop that vectorises.
fn dropout_masks(rng: &mut Xoshiro256PlusPlus, s: &MlpSettings, batch: usize) -> Option<Vec<Vec<f32>>> {
    let mut masks = Vec::new();
    draw_dropout_masks(rng, s, batch, &mut Vec::new(), &mut masks).then_some(masks)
}

/// [`dropout_masks`] into buffers reused from batch to batch; false without dropout.
fn draw_dropout_masks(
    rng: &mut Xoshiro256PlusPlus,
    s: &MlpSettings,
    batch: usize,
    words: &mut Vec<u32>,
    masks: &mut Vec<Vec<f32>>,
) -> bool {
    let p = s.dropout;
    if p <= 0.0 || s.layers == 0 {
        return false;
    }
    let keep = 1.0 - p;
    let scale = (1.0 / keep) as f32;
    let threshold = (keep * 4_294_967_296.0).round().min(u32::MAX as f64) as u32;
    words.resize(batch * s.hidden, 0);
    masks.resize_with(s.layers, Vec::new);
    for mask in masks.iter_mut() {
        fill_words(rng, words);
        mask.clear();
        mask.extend(words.iter().map(|&w| scale * f32::from(u8::from(w < threshold))));
    }
    true
}

/// The words `rng.fill(words)` draws, without the byte-by-byte copies of rand's
/// `fill_bytes_via_next`: each `next_u64` gives two words, low half first, and an odd last
/// word is `next_u32`.
fn fill_words(rng: &mut Xoshiro256PlusPlus, words: &mut [u32]) {
    let mut pairs = words.chunks_exact_mut(2);
    for pair in &mut pairs {
        let x = rng.next_u64();
        pair[0] = x as u32;
        pair[1] = (x >> 32) as u32;
    }
    if let [last] = pairs.into_remainder() {
        *last = rng.next_u32();
    }
}

/// The CPU trainer: the same trial as [`MlpTrainer`] with [`Gradients::Manual`]
/// (same initial weights, shuffles, masks and arithmetic), through `fused.rs`.
struct FusedTrainer {
    stepper: FusedStepper,
    settings: MlpSettings,
    /// The per-epoch shuffle.
    rng: ChaCha8Rng,
    dropout_rng: Xoshiro256PlusPlus,
    train_x: Vec<f32>,
    train_targets: Vec<f32>,
    /// One batch's targets, gathered.
    batch_targets: Vec<f32>,
    /// One batch's dropout masks, and the words they are drawn from.
    masks: Vec<Vec<f32>>,
    words: Vec<u32>,
    n_features: usize,
    n_outputs: usize,
    n_train: usize,
    valid_x: Vec<f32>,
    n_valid: usize,
    /// [`FusedMlp::forward`]'s buffers.
    valid_buffers: (Vec<f32>, Vec<f32>),
}

impl FusedTrainer {
    fn new(
        trial: &TrialContext<'_>,
        net: FusedMlp,
        settings: MlpSettings,
        rng: ChaCha8Rng,
        dropout_rng: Xoshiro256PlusPlus,
    ) -> Self {
        let data = trial.data;
        let head = match data.task {
            Task::Classification => Head::CrossEntropy,
            Task::Regression => Head::SquaredError,
        };
        FusedTrainer {
            stepper: FusedStepper::new(net, &settings, head),
            settings,
            rng,
            dropout_rng,
            train_x: data.train_x.clone(),
            train_targets: train_targets(data),
            batch_targets: Vec::new(),
            masks: Vec::new(),
            words: Vec::new(),
            n_features: data.n_features,
            n_outputs: data.n_outputs(),
            n_train: data.n_train(),
            valid_x: data.valid_x.clone(),
            n_valid: data.n_valid(),
            valid_buffers: (Vec::new(), Vec::new()),
        }
    }
}

impl Trainer for FusedTrainer {
    fn train_epoch(&mut self) -> Result<f64, TrialError> {
        let mut order: Vec<usize> = (0..self.n_train).collect();
        order.shuffle(&mut self.rng);
        let (d, k) = (self.n_features, self.n_outputs);
        let mut loss_sum = 0.0f64;
        for chunk in order.chunks(self.settings.batch_size) {
            let batch = chunk.len();
            let x = self.stepper.batch_input();
            x.clear();
            self.batch_targets.clear();
            for &row in chunk {
                x.extend_from_slice(&self.train_x[row * d..(row + 1) * d]);
                self.batch_targets.extend_from_slice(&self.train_targets[row * k..(row + 1) * k]);
            }
            let dropout =
                draw_dropout_masks(&mut self.dropout_rng, &self.settings, batch, &mut self.words, &mut self.masks);
            let masks = dropout.then_some(&self.masks[..]);
            let loss = self.stepper.step(batch, &self.batch_targets, masks, self.settings.lr);
            loss_sum += loss as f64 * batch as f64;
        }
        Ok(loss_sum / self.n_train as f64)
    }

    fn validate(&mut self) -> Result<Vec<f32>, TrialError> {
        self.stepper.net.forward(&self.valid_x, self.n_valid, &mut self.valid_buffers);
        Ok(self.valid_buffers.0.clone())
    }

    fn checkpoint(&self, metadata: &BTreeMap<String, String>) -> Result<Vec<u8>, TrialError> {
        Ok(self.stepper.net.safetensors(metadata))
    }

    // Its header is canonical as written (sorted, compact, padded): parsing and printing it
    // again took 2 % of W-trivial.
    fn verbatim(&self) -> bool {
        true
    }
}

/// A trained MLP, loaded from its checkpoint.
pub(crate) struct MlpModel {
    checkpoint: Vec<u8>,
    /// Burn's module of the checkpoint: built at load on a GPU, on the CPU only when an export needs it.
    module: std::cell::OnceCell<Mlp>,
    /// The CPU's forward pass.
    fused: Option<FusedMlp>,
    settings: MlpSettings,
    shape: DataShape,
    device: Device,
}

impl MlpModel {
    fn module(&self) -> Result<&Mlp, TrialError> {
        if let Some(module) = self.module.get() {
            return Ok(module);
        }
        let (s, shape) = (&self.settings, &self.shape);
        // The initial values are overwritten by the checkpoint; only the shapes matter.
        let skeleton = Mlp::new(
            &mut ChaCha8Rng::seed_from_u64(0),
            shape.n_features,
            s.hidden,
            s.layers,
            shape.n_outputs,
            &self.device,
        );
        let module = weights::load(skeleton, &self.checkpoint)?;
        Ok(self.module.get_or_init(|| module))
    }
}

impl Model for MlpModel {
    fn predict(&self, x: &[f32], rows: usize) -> Result<Vec<f32>, TrialError> {
        match &self.fused {
            Some(fused) => {
                let mut buffers = (Vec::new(), Vec::new());
                fused.forward(x, rows, &mut buffers);
                Ok(buffers.0)
            }
            None => to_vec(self.module()?.forward(rows_tensor(x, rows, &self.device), None)),
        }
    }

    fn describe(&self) -> String {
        let s = &self.settings;
        let head = match self.shape.task {
            Task::Classification => format!("Linear({}), softmax", self.shape.n_outputs),
            Task::Regression => "Linear(1), a regression head".to_string(),
        };
        format!("MLP: {} x [Linear({}), ReLU, Dropout({})], then {head}", s.layers, s.hidden, s.dropout)
    }

    /// Linear weights `[out, in]`; key names stay Burn's (`hidden.0.weight`, `out.bias`).
    fn pytorch_weights(&self) -> Option<Result<Vec<u8>, TrialError>> {
        let mut store = SafetensorsStore::from_bytes(None).with_to_adapter(BurnToPyTorchAdapter);
        let saved = self.module().and_then(|module| {
            module.save_into(&mut store).map_err(|e| TrialError::failed(format!("saving weights: {e}")))
        });
        Some(saved.and_then(|()| store.get_bytes().map_err(|e| TrialError::failed(format!("saving weights: {e}")))))
    }

    /// `hidden` (an `nn.ModuleList`) and `out`, the names of the weights' keys.
    fn pytorch_module(&self) -> Option<String> {
        let s = &self.settings;
        let mut d_in = self.shape.n_features;
        let mut hidden = Vec::new();
        for _ in 0..s.layers {
            hidden.push(format!("nn.Linear({d_in}, {})", s.hidden));
            d_in = s.hidden;
        }
        Some(format!(
            r#"class Network(nn.Module):
    """{describe}: standardized rows in, raw outputs out (dropout only acts in training, so it is left out)."""

    def __init__(self):
        super().__init__()
        self.hidden = nn.ModuleList([{hidden}])
        self.out = nn.Linear({d_in}, {n_out})

    def forward(self, x):
        for layer in self.hidden:
            x = torch.relu(layer(x))
        return self.out(x)
"#,
            describe = self.describe(),
            hidden = hidden.join(", "),
            n_out = self.shape.n_outputs,
        ))
    }

    /// One `Gemm` per Linear, a `Relu` after each hidden one; dropout is the identity at inference.
    fn onnx(&self, graph: &mut crate::objective::onnx::OnnxGraph, input: &str) -> Option<Result<String, TrialError>> {
        let build = |graph: &mut crate::objective::onnx::OnnxGraph| {
            let module = self.module()?;
            let mut h = input.to_string();
            for (i, layer) in module.hidden.iter().enumerate() {
                let z = graph.linear(&h, layer, &format!("hidden.{i}"))?;
                h = graph.node("Relu", &[&z], &[])?;
            }
            graph.linear(&h, &module.out, "out")
        };
        Some(build(graph))
    }

    fn numpy_snippet(&self, pytorch_layout: bool) -> Option<String> {
        let t = if pytorch_layout { ".T" } else { "" };
        let layers = self.settings.layers;
        let (name, head) = match self.shape.task {
            Task::Classification => (
                "predict_proba",
                "    z = np.exp(z - z.max(axis=1, keepdims=True))\n    \
                 return z / z.sum(axis=1, keepdims=True)   # column k is the probability of pre[\"classes\"][k]\n",
            ),
            Task::Regression => (
                "predict",
                "    scale = pre[\"target_scale\"]\n    \
                 return z[:, 0] * scale[\"std\"] + scale[\"mean\"]   # in the target's original units\n",
            ),
        };
        Some(format!(
            r#"import json
import numpy as np
from safetensors.numpy import load_file

w = load_file("model.safetensors")
pre = json.load(open("preprocessing.json"))

def {name}(rows):
    """rows: n x features, columns in pre["feature_columns"] order, raw (unstandardized) values."""
    h = (np.asarray(rows, dtype=np.float64) - pre["means"]) / pre["stds"]
    for i in range({layers}):
        h = np.maximum(h @ w[f"hidden.{{i}}.weight"]{t} + w[f"hidden.{{i}}.bias"], 0.0)
    z = h @ w["out.weight"]{t} + w["out.bias"]
{head}"#
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Table, TargetColumn};
    use crate::params::{ParamValue, Params};
    use rand::Rng;

    fn tensor2(rng: &mut ChaCha8Rng, rows: usize, cols: usize, device: &Device) -> (Vec<f32>, Tensor<2>) {
        let v: Vec<f32> = (0..rows * cols).map(|_| rng.random_range(-1.0..1.0)).collect();
        (v.clone(), Tensor::from_data(TensorData::new(v, [rows, cols]), device))
    }

    fn values<const D: usize>(t: Tensor<D>) -> Vec<f32> {
        t.into_data().convert::<f32>().try_into_vec::<f32>().unwrap()
    }

    /// Manual gradients against Burn's autodiff, for a head with `outputs`
    /// outputs and batch targets built by `targets` on a device.
    fn check_gradients(outputs: usize, targets: impl Fn(&Device) -> BatchTargets) {
        let (batch, d_in, hidden, layers) = (7, 5, 6, 2);
        let plain = Device::flex();
        let ad = Device::flex().autodiff();
        let manual_model = Mlp::new(&mut ChaCha8Rng::seed_from_u64(1), d_in, hidden, layers, outputs, &plain);
        let ad_model = Mlp::new(&mut ChaCha8Rng::seed_from_u64(1), d_in, hidden, layers, outputs, &ad);

        let mut rng = ChaCha8Rng::seed_from_u64(2);
        let (xv, x) = tensor2(&mut rng, batch, d_in, &plain);
        // Dropout masks with zeros and the 1/keep scale, as training makes them.
        let mask_values: Vec<Vec<f32>> = (0..layers)
            .map(|_| (0..batch * hidden).map(|_| if rng.random::<f32>() < 0.7 { 1.0 / 0.7 } else { 0.0 }).collect())
            .collect();
        let masks = |device: &Device| -> Vec<Tensor<2>> {
            mask_values.iter().map(|m| Tensor::from_data(TensorData::new(m.clone(), [batch, hidden]), device)).collect()
        };
        let (loss_value, grads) = manual_gradients(&manual_model, x, targets(&plain), Some(masks(&plain)));

        let x_ad = Tensor::from_data(TensorData::new(xv, [batch, d_in]), &ad);
        let ad_loss = loss(ad_model.forward(x_ad, Some(masks(&ad))), &targets(&ad));
        let ad_loss_value: f32 = ad_loss.clone().into_scalar();
        let ad_grads = ad_loss.backward();

        assert!((loss_value - ad_loss_value).abs() < 1e-5, "{loss_value} vs {ad_loss_value}");
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

    #[test]
    fn manual_gradients_match_autodiff_for_cross_entropy() {
        let (batch, classes) = (7, 3);
        let mut onehot = vec![0.0f32; batch * classes];
        for i in 0..batch {
            onehot[i * classes + i % classes] = 1.0;
        }
        check_gradients(classes, |d| {
            BatchTargets::OneHot(Tensor::from_data(TensorData::new(onehot.clone(), [batch, classes]), d))
        });
    }

    #[test]
    fn manual_gradients_match_autodiff_for_squared_error() {
        let y: Vec<f32> = (0..7).map(|i| i as f32 * 0.3 - 1.0).collect();
        check_gradients(1, |d| BatchTargets::Values(Tensor::from_data(TensorData::new(y.clone(), [7, 1]), d)));
    }

    /// 90 rows of 4 features: 3 classes, or a smooth function of the features.
    fn toy_data(task: Task) -> Prepared {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let (n, d) = (90, 4);
        let x: Vec<f64> = (0..n * d).map(|_| rng.random_range(-1.0..1.0)).collect();
        let targets = match task {
            Task::Classification => TargetColumn::Text(
                x.chunks(d).map(|r| (usize::from(r[0] + r[1] > 0.0) + usize::from(r[2] > 0.5)).to_string()).collect(),
            ),
            Task::Regression => {
                TargetColumn::Numbers(x.chunks(d).map(|r| 50.0 + 20.0 * r[0] - 10.0 * r[1] * r[2]).collect())
            }
        };
        let table = Table {
            path: "toy.csv".into(),
            fingerprint: String::new(),
            target: "y".into(),
            features: (0..d).map(|i| format!("x{i}")).collect(),
            x,
            targets,
            lines: Vec::new(),
        };
        crate::data::prepare(&table, task, 0.33, 0).unwrap()
    }

    fn params(entries: &[(&str, ParamValue)]) -> ResolvedParams {
        let swept: Params = entries.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        settings::schema().resolve(&Params::new(), &swept)
    }

    /// Trial 0 of a sweep outside a results folder, with `seed`, on `device`.
    fn context<'a>(
        params: &'a ResolvedParams,
        data: &'a Prepared,
        seed: u64,
        device: &'a crate::device::TrialDevice,
    ) -> TrialContext<'a> {
        TrialContext { index: 0, id: "t", seed, params, data, dir: None, command: None, monitor: None, device }
    }

    #[test]
    fn cost_hint_counts_forward_multiply_adds_by_hand() {
        let data = toy_data(Task::Classification); // 4 features, 3 classes
        let rows = data.n_train() as f64;
        let p = |hidden, layers| {
            params(&[
                ("hidden", ParamValue::Int(hidden)),
                ("layers", ParamValue::Int(layers)),
                ("epochs", ParamValue::Int(2)),
            ])
        };
        let objective = MlpObjective::default();
        // 4·8 + 8·8 + 8·3 = 120 per row; × rows × 2 epochs.
        assert_eq!(objective.cost_hint(&p(8, 2), &data), 120.0 * rows * 2.0);
        // Logistic regression: 4·3 per row.
        assert_eq!(objective.cost_hint(&p(8, 0), &data), 12.0 * rows * 2.0);
    }

    #[test]
    fn manual_and_autodiff_training_agree_for_every_optimizer_and_task() {
        let cpu = crate::device::TrialDevice::cpu();
        for task in [Task::Classification, Task::Regression] {
            let data = toy_data(task);
            for optimizer in ["adam", "adamw", "sgd"] {
                let p = params(&[
                    ("optimizer", ParamValue::Str(optimizer.into())),
                    ("dropout", ParamValue::Float(0.25)),
                    ("weight_decay", ParamValue::Float(0.001)),
                    ("lr", ParamValue::Float(0.01)),
                    ("batch_size", ParamValue::Int(16)),
                    ("layers", ParamValue::Int(2)),
                    ("hidden", ParamValue::Int(8)),
                ]);
                let trial = context(&p, &data, 5, &cpu);
                let run = |gradients| {
                    let mut t = MlpObjective { gradients }.start(&trial).unwrap();
                    let losses: Vec<f64> = (0..3).map(|_| t.train_epoch().unwrap()).collect();
                    (losses, t.validate().unwrap())
                };
                let (manual_losses, manual_out) = run(Gradients::Manual);
                let (ad_losses, ad_out) = run(Gradients::Autodiff);
                for (m, a) in manual_losses.iter().zip(&ad_losses) {
                    assert!((m - a).abs() < 1e-4, "{task:?} {optimizer}: loss {m} vs {a}");
                }
                assert_eq!(manual_out.len(), data.n_valid() * data.n_outputs());
                for (m, a) in manual_out.iter().zip(&ad_out) {
                    assert!((m - a).abs() < 1e-3, "{task:?} {optimizer}: output {m} vs {a}");
                }
                assert!(manual_losses[2] < manual_losses[0], "{task:?} {optimizer} learns: {manual_losses:?}");
            }
        }
    }

    #[test]
    fn mask_words_are_the_words_rand_fills() {
        for n in [0, 1, 2, 3, 7, 8, 9, 64, 1001] {
            let (mut a, mut b) = (Xoshiro256PlusPlus::seed_from_u64(9), Xoshiro256PlusPlus::seed_from_u64(9));
            let mut words = vec![0u32; n];
            a.fill(&mut words[..]);
            let mut got = vec![0u32; n];
            fill_words(&mut b, &mut got);
            assert_eq!(got, words, "{n} words");
            assert_eq!(a.next_u64(), b.next_u64(), "{n} words: the generators end in the same state");
        }
    }

    #[test]
    fn the_fused_checkpoint_is_written_canonical_and_stored_as_it_is() {
        let cpu = crate::device::TrialDevice::cpu();
        let data = toy_data(Task::Classification);
        let p = params(&[
            ("lr", ParamValue::Float(0.01)),
            ("batch_size", ParamValue::Int(16)),
            ("layers", ParamValue::Int(2)),
            ("hidden", ParamValue::Int(8)),
        ]);
        let trial = context(&p, &data, 5, &cpu);
        let mut t = MlpObjective { gradients: Gradients::Fused }.start(&trial).unwrap();
        t.train_epoch().unwrap();
        let metadata: BTreeMap<String, String> = [
            ("sweep.metrics", r#"{"mcc":0.5,"accuracy":1.0}"#),
            ("sweep.epoch", "1"),
            ("a key", "ünïcode, \"quoted\", tab\t"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let bytes = t.checkpoint(&metadata).unwrap();
        assert!(t.verbatim());
        assert!(crate::store::canonical_safetensors(&bytes).unwrap() == bytes, "the header is not canonical");
    }

    #[test]
    fn fused_training_is_bit_identical_to_the_tensor_path() {
        let cpu = crate::device::TrialDevice::cpu();
        for task in [Task::Classification, Task::Regression] {
            let data = toy_data(task);
            for optimizer in ["adam", "adamw", "sgd"] {
                for (layers, dropout, weight_decay, momentum) in
                    [(2, 0.25, 0.001, 0.9), (1, 0.0, 0.0, 0.0), (0, 0.0, 0.01, 0.5), (11, 0.1, 0.0, 0.9)]
                {
                    let p = params(&[
                        ("optimizer", ParamValue::Str(optimizer.into())),
                        ("dropout", ParamValue::Float(dropout)),
                        ("weight_decay", ParamValue::Float(weight_decay)),
                        ("momentum", ParamValue::Float(momentum)),
                        ("lr", ParamValue::Float(0.01)),
                        ("batch_size", ParamValue::Int(16)),
                        ("layers", ParamValue::Int(layers)),
                        ("hidden", ParamValue::Int(8)),
                    ]);
                    let trial = context(&p, &data, 5, &cpu);
                    let run = |gradients| {
                        let mut t = MlpObjective { gradients }.start(&trial).unwrap();
                        let losses: Vec<u64> = (0..3).map(|_| t.train_epoch().unwrap().to_bits()).collect();
                        let outputs: Vec<u32> = t.validate().unwrap().iter().map(|v| v.to_bits()).collect();
                        // Burn writes the header's keys in any order; the store sorts them before writing.
                        let checkpoint = t.checkpoint(&BTreeMap::new()).unwrap();
                        (losses, outputs, crate::store::canonical_safetensors(&checkpoint).unwrap())
                    };
                    let what = format!("{task:?} {optimizer} layers={layers} dropout={dropout} decay={weight_decay}");
                    let (fused, tensor) = (run(Gradients::Fused), run(Gradients::Manual));
                    assert_eq!(fused.0, tensor.0, "{what}: losses");
                    assert_eq!(fused.1, tensor.1, "{what}: validation outputs");
                    assert!(fused.2 == tensor.2, "{what}: checkpoints differ");
                }
            }
        }
    }

    #[test]
    fn a_checkpoint_reloads_as_the_same_model() {
        let cpu = crate::device::TrialDevice::cpu();
        let data = toy_data(Task::Regression);
        let p = params(&[("hidden", ParamValue::Int(8))]);
        let trial = context(&p, &data, 1, &cpu);
        let objective = MlpObjective::default();
        let mut trainer = objective.start(&trial).unwrap();
        trainer.train_epoch().unwrap();
        let outputs = trainer.validate().unwrap();
        let bytes = trainer.checkpoint(&BTreeMap::new()).unwrap();
        let model = objective.load(&bytes, &p, data.shape(), &Device::flex()).unwrap();
        assert_eq!(model.predict(&data.valid_x, data.n_valid()).unwrap(), outputs);
        let wider = params(&[("hidden", ParamValue::Int(9))]);
        assert!(
            objective.load(&bytes, &wider, data.shape(), &Device::flex()).is_err(),
            "a checkpoint of another shape is refused"
        );
    }
    #[test]
    fn the_cpu_predicts_what_the_burn_module_predicts_bit_for_bit() {
        let cpu = crate::device::TrialDevice::cpu();
        for task in [Task::Classification, Task::Regression] {
            let data = toy_data(task);
            for layers in [0, 1, 3] {
                let p = params(&[("hidden", ParamValue::Int(12)), ("layers", ParamValue::Int(layers))]);
                let trial = context(&p, &data, 3, &cpu);
                let objective = MlpObjective::default();
                let mut trainer = objective.start(&trial).unwrap();
                trainer.train_epoch().unwrap();
                let bytes = trainer.checkpoint(&BTreeMap::new()).unwrap();
                let model = objective.load(&bytes, &p, data.shape(), &Device::flex()).unwrap();
                let s = MlpSettings::from_params(&p).unwrap();
                let skeleton = Mlp::new(
                    &mut ChaCha8Rng::seed_from_u64(9),
                    data.n_features,
                    s.hidden,
                    s.layers,
                    data.n_outputs(),
                    &Device::flex(),
                );
                let module = weights::load(skeleton, &bytes).unwrap();
                let mut rng = ChaCha8Rng::seed_from_u64(4);
                for rows in [1, 2, 7, 64, 1024] {
                    let x: Vec<f32> = (0..rows * data.n_features).map(|_| rng.random_range(-3.0..3.0)).collect();
                    let bits = |v: Vec<f32>| v.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                    let burn = to_vec(module.forward(rows_tensor(&x, rows, &Device::flex()), None)).unwrap();
                    assert_eq!(
                        bits(model.predict(&x, rows).unwrap()),
                        bits(burn),
                        "{task:?}, {layers} layers, {rows} rows"
                    );
                }
            }
        }
    }

    #[test]
    fn a_checkpoint_that_does_not_fit_is_refused_with_the_tensor_named() {
        let cpu = crate::device::TrialDevice::cpu();
        let data = toy_data(Task::Classification);
        let p = params(&[("hidden", ParamValue::Int(4)), ("layers", ParamValue::Int(1))]);
        let trial = context(&p, &data, 1, &cpu);
        let objective = MlpObjective::default();
        let bytes = objective.start(&trial).unwrap().checkpoint(&BTreeMap::new()).unwrap();
        let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
        let with_header = |edit: &dyn Fn(&mut serde_json::Value)| {
            let mut h = header.clone();
            edit(&mut h);
            let text = h.to_string();
            let mut out = (text.len() as u64).to_le_bytes().to_vec();
            out.extend_from_slice(text.as_bytes());
            out.extend_from_slice(&bytes[8 + header_len..]);
            out
        };
        let refusal = |bytes: &[u8]| match objective.load(bytes, &p, data.shape(), &Device::flex()) {
            Ok(_) => panic!("loaded"),
            Err(e) => e.to_string(),
        };
        assert!(objective.load(&with_header(&|_| {}), &p, data.shape(), &Device::flex()).is_ok());
        let missing = refusal(&with_header(&|h| drop(h.as_object_mut().unwrap().remove("out.bias"))));
        assert!(missing.contains("`out.bias` is missing"), "{missing}");
        let extra = refusal(&with_header(&|h| h["hidden.1.bias"] = h["out.bias"].clone()));
        assert!(extra.contains("`hidden.1.bias` is not a tensor of this model"), "{extra}");
        let dtype = refusal(&with_header(&|h| h["hidden.0.weight"]["dtype"] = "F16".into()));
        assert!(dtype.contains("`hidden.0.weight` has dtype \"F16\""), "{dtype}");
        let offsets = refusal(&with_header(&|h| h["out.weight"]["data_offsets"][1] = 1_000_000.into()));
        assert!(offsets.contains("`out.weight`'s data offsets"), "{offsets}");
        assert!(refusal(&bytes[..bytes.len() - 1]).contains("data offsets"));
        assert!(refusal(&bytes[..12]).contains("shorter than its header"));
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
            bytes = weights::save(&model.valid(), &BTreeMap::new()).unwrap();
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
