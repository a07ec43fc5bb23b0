//! Sweep your own Burn model: a small CNN on the bundled digits, each row's
//! 64 pixels read as an 8×8 image, written with `burn::nn` modules, Burn's
//! autodiff and Burn's Adam. `main_with` gives it the whole `sweep` CLI.
//!
//! ```sh
//! cargo run --release --example digits_cnn -- run examples/digits_cnn.toml
//! cargo run --release --example digits_cnn -- predict results/digits-cnn/trials/<id> --split valid
//! ```

use std::collections::BTreeMap;

use burn::module::Module;
use burn::nn::conv::{Conv2d, Conv2dConfig};
use burn::nn::loss::CrossEntropyLossConfig;
use burn::nn::pool::{MaxPool2d, MaxPool2dConfig};
use burn::nn::{Dropout, DropoutConfig, Linear, LinearConfig, PaddingConfig2d};
use burn::optim::{AdamConfig, GradientsParams, ModuleOptimizer};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Int, Tensor, TensorData};
use sweep::prelude::*;

/// Conv(1 → channels, kernel × kernel, same padding) → ReLU → 2×2 max-pool → Dropout → Linear(→ 10).
#[derive(Module, Debug)]
struct Cnn {
    conv: Conv2d,
    pool: MaxPool2d,
    dropout: Dropout,
    head: Linear,
}

impl Cnn {
    fn new(p: &ResolvedParams, classes: usize, device: &Device) -> Result<Self, TrialError> {
        let (channels, kernel) = (p.usize("channels")?, p.usize("kernel")?);
        Ok(Cnn {
            conv: Conv2dConfig::new([1, channels], [kernel, kernel]).with_padding(PaddingConfig2d::Same).init(device),
            pool: MaxPool2dConfig::new([2, 2]).init(),
            dropout: DropoutConfig::new(p.f64("dropout")?).init(),
            head: LinearConfig::new(channels * 16, classes).init(device),
        })
    }

    /// `x`: rows of 64 pixels; returns one logit per class.
    fn forward(&self, x: Tensor<2>) -> Tensor<2> {
        let [rows, _] = x.dims();
        let h = self.pool.forward(relu(self.conv.forward(x.reshape([rows, 1, 8, 8]))));
        self.head.forward(self.dropout.forward(h.flatten(1, 3)))
    }
}

struct DigitsCnn;

impl Objective for DigitsCnn {
    fn name(&self) -> &str {
        "digits_cnn"
    }

    fn description(&self) -> &str {
        "a small CNN on 8x8 digit images (64 pixel columns)"
    }

    fn schema(&self) -> Schema {
        Schema::new()
            .param(ParamDef::int("channels", 8, 1..=256, "convolution channels"))
            .param(ParamDef::int("kernel", 3, 1..=7, "convolution kernel size"))
            .param(ParamDef::float("lr", 0.001, "Adam's learning rate").positive())
            .param(ParamDef::float("dropout", 0.0, "dropout before the head").fraction())
            .param(ParamDef::int("batch_size", 64, 1..=4096, "mini-batch size"))
    }

    // burn::nn initialisation and Dropout draw from Burn's process-global RNG,
    // and autodiff graphs share a lock: each trial gets a process of its own.
    fn parallelism(&self) -> Parallelism {
        Parallelism::Processes
    }

    fn start(&self, trial: &TrialContext<'_>) -> Result<Box<dyn Trainer>, TrialError> {
        let data = trial.data;
        if data.n_features != 64 {
            return Err(TrialError::failed(format!("expected 64 pixel columns, got {}", data.n_features)));
        }
        let device = Device::flex().autodiff();
        let labels: Vec<i64> = trial.train_classes()?.iter().map(|&y| y as i64).collect();
        Ok(Box::new(CnnTrainer {
            model: Cnn::new(trial.params, data.n_outputs(), &device)?,
            optimizer: AdamConfig::new().init(),
            lr: trial.params.f64("lr")?,
            batch_size: trial.params.usize("batch_size")?,
            rng: trial.rng(),
            train_x: Tensor::from_data(TensorData::new(data.train_x.clone(), [data.n_train(), 64]), &device),
            train_y: Tensor::from_data(TensorData::new(labels, [data.n_train()]), &device),
            valid_x: Tensor::from_data(TensorData::new(data.valid_x.clone(), [data.n_valid(), 64]), &Device::flex()),
            device,
        }))
    }

    fn load(&self, checkpoint: &[u8], params: &ResolvedParams, shape: DataShape) -> Result<Box<dyn Model>, TrialError> {
        let skeleton = Cnn::new(params, shape.n_outputs, &Device::flex())?;
        Ok(Box::new(CnnModel(weights::load(skeleton, checkpoint)?)))
    }
}

struct CnnTrainer {
    model: Cnn,
    optimizer: ModuleOptimizer,
    lr: f64,
    batch_size: usize,
    rng: TrialRng,
    train_x: Tensor<2>,
    train_y: Tensor<1, Int>,
    valid_x: Tensor<2>,
    device: Device,
}

impl Trainer for CnnTrainer {
    fn train_epoch(&mut self) -> Result<f64, TrialError> {
        let (rows, loss_fn) = (self.train_y.dims()[0], CrossEntropyLossConfig::new().init(&self.device));
        let mut total = 0.0;
        for batch in shuffled_batches(&mut self.rng, rows, self.batch_size) {
            let n = batch.len();
            let idx = Tensor::<1, Int>::from_data(TensorData::new(batch, [n]), &self.device);
            let logits = self.model.forward(self.train_x.clone().select(0, idx.clone()));
            let loss = loss_fn.forward(logits, self.train_y.clone().select(0, idx));
            total += loss.clone().into_scalar::<f32>() as f64 * n as f64;
            let grads = GradientsParams::from_grads(loss.backward(), &self.model);
            self.model = self.optimizer.step(self.lr, self.model.clone(), grads);
        }
        Ok(total / rows as f64)
    }

    fn validate(&mut self) -> Result<Vec<f32>, TrialError> {
        CnnModel(self.model.valid()).predict_tensor(self.valid_x.clone())
    }

    fn checkpoint(&self, metadata: &BTreeMap<String, String>) -> Result<Vec<u8>, TrialError> {
        weights::save(&self.model.valid(), metadata)
    }
}

struct CnnModel(Cnn);

impl CnnModel {
    fn predict_tensor(&self, x: Tensor<2>) -> Result<Vec<f32>, TrialError> {
        self.0.forward(x).into_data().try_into_vec::<f32>().map_err(|e| TrialError::failed(format!("{e:?}")))
    }
}

impl Model for CnnModel {
    fn predict(&self, x: &[f32], rows: usize) -> Result<Vec<f32>, TrialError> {
        self.predict_tensor(Tensor::from_data(TensorData::new(x.to_vec(), [rows, 64]), &Device::flex()))
    }

    fn describe(&self) -> String {
        format!("CNN: {:?}", self.0.conv.weight.dims())
    }
}

fn main() -> std::process::ExitCode {
    // The built-in MLP too, so one binary sweeps and compares both.
    let mut objectives = builtin();
    objectives.push(Box::new(DigitsCnn));
    sweep::cli::main_with(objectives)
}
