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
use burn::optim::{AdamConfig, AdamWConfig, GradientsParams, ModuleOptimizer, SgdConfig};
use burn::store::{BurnToPyTorchAdapter, ModuleSnapshot, SafetensorsStore};
use burn::tensor::activation::{log_softmax, relu};
use burn::tensor::{Device, Int, Tensor, TensorData};
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

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
    pub fn new(
        rng: &mut ChaCha8Rng,
        n_in: usize,
        hidden: usize,
        layers: usize,
        n_out: usize,
        device: &Device,
    ) -> Self {
        let mut linear = |d_in: usize, d_out: usize| {
            let bound = 1.0 / (d_in as f32).sqrt();
            let mut draw = |n: usize| -> Vec<f32> {
                (0..n).map(|_| rng.random_range(-bound..bound)).collect()
            };
            let w = draw(d_in * d_out);
            let b = draw(d_out);
            Linear {
                weight: Param::from_tensor(Tensor::from_data(
                    TensorData::new(w, [d_in, d_out]),
                    device,
                )),
                bias: Some(Param::from_tensor(Tensor::from_data(
                    TensorData::new(b, [d_out]),
                    device,
                ))),
            }
        };
        let mut layers_vec = Vec::with_capacity(layers);
        let mut d_in = n_in;
        for _ in 0..layers {
            layers_vec.push(linear(d_in, hidden));
            d_in = hidden;
        }
        let out = linear(d_in, n_out);
        Mlp {
            hidden: layers_vec,
            out,
        }
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
    let mut model = Mlp::new(
        &mut rng,
        n_features,
        settings.hidden,
        settings.layers,
        n_classes,
        &device,
    );
    let mut store = SafetensorsStore::from_bytes(Some(bytes));
    let applied = model
        .load_from(&mut store)
        .map_err(|e| TrialError::Failed(format!("loading checkpoint: {e}")))?;
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
    let input = Tensor::from_data(
        TensorData::new(x.to_vec(), [n, n_features]),
        &Device::flex(),
    );
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
    model
        .save_into(&mut store)
        .map_err(|e| TrialError::Failed(format!("saving checkpoint: {e}")))?;
    store
        .get_bytes()
        .map_err(|e| TrialError::Failed(format!("saving checkpoint: {e}")))
}

/// The built-in MLP classifier objective.
#[derive(Debug, Default, Clone, Copy)]
pub struct MlpObjective;

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
        let device = Device::flex().autodiff();
        let plain = Device::flex();
        let mut rng = ChaCha8Rng::seed_from_u64(trial.seed);
        let model = Mlp::new(
            &mut rng,
            data.n_features,
            s.hidden,
            s.layers,
            data.n_classes,
            &device,
        );
        let optimizer = build_optimizer(s);
        let n_train = data.train_y.len();
        let train_x = Tensor::from_data(
            TensorData::new(data.train_x.clone(), [n_train, data.n_features]),
            &device,
        );
        let labels: Vec<i64> = data.train_y.iter().map(|&y| y as i64).collect();
        let train_y = Tensor::<1, Int>::from_data(TensorData::new(labels, [n_train]), &device);
        let n_valid = data.valid_y.len();
        let valid_x = Tensor::from_data(
            TensorData::new(data.valid_x.clone(), [n_valid, data.n_features]),
            &plain,
        );
        Ok(Box::new(MlpTrainer {
            model: Some(model),
            optimizer,
            settings: s.clone(),
            rng,
            device,
            train_x,
            train_y,
            n_train,
            valid_x,
        }))
    }
}

fn build_optimizer(s: &TrainSettings) -> ModuleOptimizer {
    let decay = (s.weight_decay > 0.0).then(|| WeightDecayConfig::new(s.weight_decay as f32));
    match s.optimizer.as_str() {
        // epsilon 1e-8 as in PyTorch, so results compare with the Python peers.
        "adamw" => AdamWConfig::new()
            .with_epsilon(1e-8)
            .with_weight_decay(s.weight_decay as f32)
            .init(),
        "sgd" => SgdConfig::new()
            .with_weight_decay(decay)
            .with_momentum((s.momentum > 0.0).then(|| {
                MomentumConfig::new()
                    .with_momentum(s.momentum)
                    .with_dampening(0.0)
            }))
            .init(),
        _ => AdamConfig::new()
            .with_epsilon(1e-8)
            .with_weight_decay(decay)
            .init(),
    }
}

struct MlpTrainer {
    // An Option so the model can be moved through `optimizer.step` and put back.
    model: Option<Mlp>,
    optimizer: ModuleOptimizer,
    settings: TrainSettings,
    rng: ChaCha8Rng,
    device: Device,
    train_x: Tensor<2>,
    train_y: Tensor<1, Int>,
    n_train: usize,
    valid_x: Tensor<2>,
}

impl MlpTrainer {
    fn model(&self) -> Result<&Mlp, TrialError> {
        self.model
            .as_ref()
            .ok_or_else(|| TrialError::Failed("model lost after an earlier error".into()))
    }

    fn dropout_masks(&mut self, batch: usize) -> Option<Vec<Tensor<2>>> {
        let p = self.settings.dropout;
        if p <= 0.0 || self.settings.layers == 0 {
            return None;
        }
        let keep = 1.0 - p;
        let scale = (1.0 / keep) as f32;
        let n = batch * self.settings.hidden;
        let masks = (0..self.settings.layers)
            .map(|_| {
                let values: Vec<f32> = (0..n)
                    .map(|_| {
                        if self.rng.random::<f64>() < keep {
                            scale
                        } else {
                            0.0
                        }
                    })
                    .collect();
                Tensor::from_data(
                    TensorData::new(values, [batch, self.settings.hidden]),
                    &self.device,
                )
            })
            .collect();
        Some(masks)
    }
}

impl EpochTrainer for MlpTrainer {
    fn train_epoch(&mut self) -> Result<f64, TrialError> {
        let mut order: Vec<i64> = (0..self.n_train as i64).collect();
        order.shuffle(&mut self.rng);
        let mut loss_sum = 0.0f64;
        for chunk in order.chunks(self.settings.batch_size) {
            let batch = chunk.len();
            let idx =
                Tensor::<1, Int>::from_data(TensorData::new(chunk.to_vec(), [batch]), &self.device);
            let x = self.train_x.clone().select(0, idx.clone());
            let y = self.train_y.clone().select(0, idx);
            let masks = self.dropout_masks(batch);
            let model = self
                .model
                .take()
                .ok_or_else(|| TrialError::Failed("model lost after an earlier error".into()))?;
            let logits = model.forward(x, masks);
            let loss = log_softmax(logits, 1)
                .gather(1, y.reshape([batch, 1]))
                .mean()
                .neg();
            let loss_value: f32 = loss.clone().into_scalar();
            let grads = GradientsParams::from_grads(loss.backward(), &model);
            self.model = Some(self.optimizer.step(self.settings.lr, model, grads));
            loss_sum += loss_value as f64 * batch as f64;
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
        store
            .get_bytes()
            .map_err(|e| TrialError::Failed(format!("saving checkpoint: {e}")))
    }
}
