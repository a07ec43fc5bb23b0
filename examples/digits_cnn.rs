//! Sweep your own Burn model: a small CNN on the bundled digits, each row's 64 pixels an 8×8
//! image, written with `burn::nn`, autodiff and Adam. `main_with` gives it the whole CLI:
//!   cargo run --release --example digits_cnn -- run examples/digits_cnn.toml
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

/// Conv(1 → channels, kernel × kernel) → ReLU → 2×2 max-pool → Dropout → Linear(→ classes).
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
}

impl Forward for Cnn {
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

    fn schema(&self) -> Schema {
        Schema::new()
            .param(ParamDef::int("channels", 8, 1..=256, "convolution channels"))
            .param(ParamDef::int("kernel", 3, 1..=7, "convolution kernel size"))
            .param(ParamDef::float("lr", 0.001, "Adam's learning rate").positive())
            .param(ParamDef::float("dropout", 0.0, "dropout before the head").fraction())
            .param(ParamDef::int("batch_size", 64, 1..=4096, "mini-batch size"))
    }

    // burn::nn's init and Dropout draw from Burn's global RNG: one trial per process.
    fn parallelism(&self) -> Parallelism {
        Parallelism::Processes
    }

    // Built on the trial's device, loaded on the one it is given: the CPU, or a GPU
    // with `[resources] device = "wgpu"` in a build with `--features wgpu`.
    fn devices(&self) -> &[Backend] {
        &[Backend::Cpu, Backend::Wgpu]
    }

    fn start(&self, trial: &TrialContext<'_>) -> Result<Box<dyn Trainer>, TrialError> {
        let device = trial.device().clone().autodiff();
        Ok(Box::new(CnnTrainer {
            model: Cnn::new(trial.params, trial.data.n_outputs(), &device)?,
            optimizer: AdamConfig::new().init(),
            lr: trial.params.f64("lr")?,
            batch_size: trial.params.usize("batch_size")?,
            rng: trial.rng(),
            x: trial.train_x(&device),
            y: trial.train_labels(&device)?,
            valid_x: trial.valid_x(trial.device()),
        }))
    }

    fn load(
        &self,
        checkpoint: &[u8],
        params: &ResolvedParams,
        shape: DataShape,
        device: &Device,
    ) -> Result<Box<dyn Model>, TrialError> {
        let skeleton = Cnn::new(params, shape.n_outputs, device)?;
        Ok(Box::new(weights::load(skeleton, checkpoint)?))
    }

    // The costliest trials start first, so that no worker idles through a long tail at the
    // end: multiply-adds per row of the convolution (same padding: 64 positions) and the head.
    fn cost_hint(&self, params: &ResolvedParams, data: &Prepared) -> f64 {
        let (Ok(channels), Ok(kernel)) = (params.usize("channels"), params.usize("kernel")) else {
            return 1.0;
        };
        let per_row = 64 * channels * kernel * kernel + channels * 16 * data.n_outputs();
        (per_row * data.n_train()) as f64
    }
}

struct CnnTrainer {
    model: Cnn,
    optimizer: ModuleOptimizer,
    lr: f64,
    batch_size: usize,
    rng: TrialRng,
    x: Tensor<2>,
    y: Tensor<1, Int>,
    valid_x: Tensor<2>,
}

impl Trainer for CnnTrainer {
    fn train_epoch(&mut self) -> Result<f64, TrialError> {
        let (rows, device) = (self.y.dims()[0], self.x.device());
        let (loss_fn, mut total) = (CrossEntropyLossConfig::new().init(&device), 0.0);
        for batch in shuffled_batches(&mut self.rng, rows, self.batch_size) {
            let n = batch.len();
            let idx = Tensor::<1, Int>::from_data(TensorData::new(batch, [n]), &device);
            let logits = self.model.forward(self.x.clone().select(0, idx.clone()));
            let loss = loss_fn.forward(logits, self.y.clone().select(0, idx));
            total += loss.clone().into_scalar::<f32>() as f64 * n as f64;
            let grads = GradientsParams::from_grads(loss.backward(), &self.model);
            self.model = self.optimizer.step(self.lr, self.model.clone(), grads);
        }
        Ok(total / rows as f64)
    }

    fn validate(&mut self) -> Result<Vec<f32>, TrialError> {
        to_vec(self.model.valid().forward(self.valid_x.clone()))
    }

    fn checkpoint(&self, metadata: &BTreeMap<String, String>) -> Result<Vec<u8>, TrialError> {
        weights::save(&self.model.valid(), metadata)
    }
}

fn main() -> std::process::ExitCode {
    let mut objectives = builtin(); // the built-in MLP too, to compare both in one binary
    objectives.push(Box::new(DigitsCnn));
    sweep::cli::main_with(objectives)
}
