//! Objectives: what a trial trains. Implement [`Objective`] and [`Trainer`]
//! for your own Burn model and every subcommand of `sweep` works for it; the
//! built-in MLP ([`mlp::MlpObjective`]) goes through exactly this API.
//!
//! The runner owns the epoch loop, the callbacks, the metrics and every file
//! write; an objective declares its parameters, trains, reports its raw
//! outputs on the validation rows, and serialises and reloads its model. So
//! the best-model guarantee (the checkpoint is the best epoch's, its metadata
//! describes exactly that epoch) holds for any model.
//!
//! ```
//! use std::collections::BTreeMap;
//! use burn::tensor::Device;
//! use sweep::prelude::*;
//!
//! /// Predicts the mean of the training targets, whatever the input: a baseline.
//! struct MeanBaseline;
//!
//! struct MeanTrainer { mean: f32, rows: usize }
//!
//! impl Trainer for MeanTrainer {
//!     fn train_epoch(&mut self) -> Result<f64, TrialError> { Ok(0.0) }
//!     fn validate(&mut self) -> Result<Vec<f32>, TrialError> { Ok(vec![self.mean; self.rows]) }
//!     fn checkpoint(&self, _: &BTreeMap<String, String>) -> Result<Vec<u8>, TrialError> {
//!         Ok(self.mean.to_le_bytes().to_vec())
//!     }
//! }
//!
//! struct MeanModel(f32);
//!
//! impl Model for MeanModel {
//!     fn predict(&self, _x: &[f32], rows: usize) -> Result<Vec<f32>, TrialError> { Ok(vec![self.0; rows]) }
//! }
//!
//! impl Objective for MeanBaseline {
//!     fn name(&self) -> &str { "mean" }
//!     fn tasks(&self) -> &[Task] { &[Task::Regression] }
//!     fn schema(&self) -> Schema { Schema::new().param(ParamDef::int("epochs", 1, 1..=1, "one pass is enough")) }
//!     fn start(&self, trial: &TrialContext<'_>) -> Result<Box<dyn Trainer>, TrialError> {
//!         let y = trial.data.train_values().ok_or_else(|| TrialError::failed("regression only"))?;
//!         let mean = y.iter().sum::<f32>() / y.len() as f32;
//!         Ok(Box::new(MeanTrainer { mean, rows: trial.data.n_valid() }))
//!     }
//!     fn load(&self, bytes: &[u8], _: &ResolvedParams, _: DataShape, _: &Device) -> Result<Box<dyn Model>, TrialError> {
//!         let raw: [u8; 4] = bytes.try_into().map_err(|_| TrialError::failed("not a mean checkpoint"))?;
//!         Ok(Box::new(MeanModel(f32::from_le_bytes(raw))))
//!     }
//! }
//!
//! let catalog = Catalog::new(vec![Box::new(MeanBaseline)]).unwrap();
//! assert_eq!(catalog.names(), "mean");
//! ```

mod catalog;
pub(crate) mod command;
pub mod mlp;
pub mod onnx;
mod tensors;
pub mod weights;

use std::collections::BTreeMap;

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

pub use crate::store::ProgramRun;
pub use catalog::{Catalog, CatalogError, builtin};
pub use tensors::{Forward, rows_tensor, to_vec};

use burn::tensor::Device;

use crate::data::{DataShape, DataSource, Prepared, Targets};
use crate::device::{Backend, DeviceInfo, TrialDevice};
use crate::metrics::{Metrics, Task};
use crate::params::{ParamError, ResolvedParams, Schema};

/// The RNG of a trial ([`TrialContext::rng`]).
pub type TrialRng = ChaCha8Rng;

/// Whether `objective` trains on `backend` (its [`Objective::devices`]); the
/// one check behind the spec's `[resources] device`, `--device` and a model's load.
pub(crate) fn check_device(objective: &dyn Objective, backend: Backend) -> Result<(), crate::device::DeviceError> {
    if objective.devices().contains(&backend) {
        return Ok(());
    }
    Err(crate::device::DeviceError::Unsupported {
        objective: objective.name().to_string(),
        backend,
        supported: objective.devices().to_vec(),
    })
}

/// One epoch of mini-batches: the row indices `0..rows` in an order drawn
/// from `rng`, cut into batches of `batch` rows (the last may be shorter), as
/// `i64` for an `Int` tensor to `select` with.
pub fn shuffled_batches(rng: &mut TrialRng, rows: usize, batch: usize) -> Vec<Vec<i64>> {
    let mut order: Vec<i64> = (0..rows as i64).collect();
    order.shuffle(rng);
    order.chunks(batch.max(1)).map(<[i64]>::to_vec).collect()
}

/// Why a trial could not go on (or a model could not be loaded).
#[derive(Debug, thiserror::Error)]
pub enum TrialError {
    /// The loss or the outputs became NaN or infinite.
    #[error("diverged at epoch {epoch}: {what}")]
    Diverged {
        /// 1-based epoch.
        epoch: usize,
        /// What was not finite.
        what: String,
    },
    /// A parameter could not be read.
    #[error(transparent)]
    Param(#[from] ParamError),
    /// Anything else; the message says what.
    #[error("{0}")]
    Failed(String),
}

impl TrialError {
    /// A failure with this message.
    pub fn failed(message: impl std::fmt::Display) -> Self {
        TrialError::Failed(message.to_string())
    }
}

/// How the runner runs an objective's trials side by side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Parallelism {
    /// As threads of one process. For objectives that draw every random number
    /// from [`TrialContext::rng`] and compute without Burn's autodiff (whose
    /// graph sits behind a process-global lock): the built-in MLP.
    Threads,
    /// Each trial alone in a worker process (this binary, re-invoked). The
    /// runner seeds Burn's process-global RNG from the trial's seed there, so
    /// `burn::nn` initialisation, `Dropout` and `Tensor::random` are
    /// reproducible, and autodiff graphs of different trials never share a lock.
    Processes,
}

/// Everything a trial's trainer is built from.
#[derive(Debug, Clone, Copy)]
pub struct TrialContext<'a> {
    /// Position of the trial in the plan.
    pub index: usize,
    /// Its id (`t0007-1a2b3c4d`).
    pub id: &'a str,
    /// Its own seed: every random number of the trial must come from it.
    pub seed: u64,
    /// Its parameters: every parameter of the objective's schema, resolved.
    pub params: &'a ResolvedParams,
    /// The split, standardized, shared by all trials (with cross-validation:
    /// by the trials of one fold). A test split is never part of it; it has
    /// no rows for an objective that [owns its data](Objective::owns_data).
    pub data: &'a Prepared,
    /// The trial's folder, where an objective that runs a program keeps the
    /// program's logs; `None` outside a sweep.
    pub dir: Option<&'a std::path::Path>,
    /// `[command]`, for the command objective.
    pub(crate) command: Option<&'a command::CommandSpec>,
    /// The monitored metric, which a program is told.
    pub(crate) monitor: Option<&'a crate::metrics::Monitor>,
    /// The device this trial's worker opened ([`TrialContext::device`]).
    pub(crate) device: &'a TrialDevice,
}

impl<'a> TrialContext<'a> {
    /// A fresh RNG seeded from the trial's seed: initial weights, shuffles
    /// and dropout masks drawn from it depend on the trial alone, never on
    /// which trials run beside it.
    pub fn rng(&self) -> TrialRng {
        TrialRng::seed_from_u64(self.seed)
    }

    /// The training rows' class indices; an error for a regression task.
    pub fn train_classes(&self) -> Result<&'a [usize], TrialError> {
        self.data.train_classes().ok_or_else(|| TrialError::failed("this objective trains classification only"))
    }

    /// The device to create the model and its tensors on: the CPU, or the GPU
    /// this trial's worker process opened (`[resources]`). Never hard-code
    /// one: a model built on another device than the trial's trains there,
    /// unrecorded.
    pub fn device(&self) -> &'a Device {
        &self.device.device
    }

    /// What the device is (backend, index, adapter and driver), as the trial's record stores it.
    pub fn device_info(&self) -> &'a DeviceInfo {
        &self.device.info
    }

    /// The maximum number of epochs the runner will ask for.
    pub fn epochs(&self) -> Result<usize, TrialError> {
        Ok(self.params.epochs()?)
    }
}

/// What an epoch's validation gave, for the runner's metrics.
#[derive(Debug, Clone, PartialEq)]
pub enum Validation {
    /// Raw outputs on the sweep's validation rows, as [`Trainer::validate`] returns them.
    Outputs(Vec<f32>),
    /// Raw outputs (row-major, `targets.len()` rows) on validation rows of the
    /// trainer's own, with their targets: the runner computes the metric
    /// table from them, and keeps of `reported` only what it does not compute
    /// (such as `train_loss`).
    Own {
        /// Logits (one per class) or predictions, in the targets' units.
        outputs: Vec<f32>,
        /// Class indices, or real targets (`Targets::Values`, `original` read).
        targets: Targets,
        /// The metrics the trainer reported beside them.
        reported: Metrics,
    },
    /// Metrics the trainer computed itself, taken as they are.
    Metrics(Metrics),
}

/// One trial's model while it trains, driven epoch by epoch by the runner.
pub trait Trainer {
    /// Whether there is another epoch to train; a trainer that runs a
    /// program learns here that the program ended on its own (`false`: the
    /// trial ends as complete).
    fn next_epoch(&mut self) -> Result<bool, TrialError> {
        Ok(true)
    }

    /// Trains one pass over the training rows; returns the mean training loss.
    fn train_epoch(&mut self) -> Result<f64, TrialError>;

    /// The model's raw outputs on the validation rows (`data.valid_x`), row-major
    /// `n_valid × data.n_outputs()`: logits for classification, predictions (in
    /// the standardized units of `data.train_values()`) for regression. The
    /// runner computes every metric from them.
    fn validate(&mut self) -> Result<Vec<f32>, TrialError>;

    /// What this epoch's validation gave; [`Trainer::validate`]'s outputs unless overridden.
    fn validation(&mut self) -> Result<Validation, TrialError> {
        self.validate().map(Validation::Outputs)
    }

    /// What the runner's callbacks decided for `epoch`: `save` (the
    /// checkpoint is asked for next) and `stop` (no epoch follows). A trainer
    /// that runs a program passes the decision on to it.
    fn decided(&mut self, epoch: usize, save: bool, stop: bool) -> Result<(), TrialError> {
        let _ = (epoch, save, stop);
        Ok(())
    }

    /// Called once after the last epoch: a program is waited for here, and
    /// its exit status judged.
    fn finish(&mut self) -> Result<(), TrialError> {
        Ok(())
    }

    /// Whether [`Trainer::checkpoint`]'s bytes are stored exactly as given,
    /// never given a canonical safetensors header: a program's own file, or a
    /// safetensors file whose header is canonical already.
    fn verbatim(&self) -> bool {
        false
    }

    /// The program this trainer runs, for the trial's record.
    fn program(&self) -> Option<ProgramRun> {
        None
    }

    /// The current weights as bytes [`Objective::load`] reads back; a
    /// safetensors file whose header carries `metadata` is the convention
    /// ([`weights::save`] writes one).
    fn checkpoint(&self, metadata: &BTreeMap<String, String>) -> Result<Vec<u8>, TrialError>;
}

/// A trained model, loaded from its checkpoint, for `predict`, `verify` and `export`.
pub trait Model {
    /// Outputs for `rows` standardized feature rows (`x` is `rows × n_features`),
    /// as [`Trainer::validate`] gives them.
    fn predict(&self, x: &[f32], rows: usize) -> Result<Vec<f32>, TrialError>;

    /// One line on the architecture, for the model card.
    fn describe(&self) -> String {
        String::new()
    }

    /// Cost fields of the model's own, beside the ones sweep measures
    /// (`params`, `checkpoint_bytes`, latencies, `rows_per_s`): stored in the
    /// trial's record under `cost.extra`, for instance a count of
    /// multiply-adds per row. Called once, when the trial ends.
    fn cost_fields(&self) -> Metrics {
        Metrics::new()
    }

    /// The weights in PyTorch's layout (`export --layout pytorch`), where the objective offers it.
    fn pytorch_weights(&self) -> Option<Result<Vec<u8>, TrialError>> {
        None
    }

    /// Python (numpy) code for the model card that computes the outputs from
    /// the exported weights, where the objective offers it.
    fn numpy_snippet(&self, pytorch_layout: bool) -> Option<String> {
        let _ = pytorch_layout;
        None
    }

    /// Python source of a `torch.nn.Module` subclass named `Network`, built
    /// with no arguments, whose `state_dict()` has exactly the keys and
    /// shapes of [`Model::pytorch_weights`], and whose `forward` maps
    /// standardized rows to the raw outputs [`Model::predict`] gives. `torch`
    /// and `nn` (`torch.nn`) are imported. `export --layout pytorch` writes it
    /// into `model.py` beside a subclass `Model` that adds the
    /// standardization and the softmax (or the target's scale), so the user's
    /// code never repeats them. Without it, the model card says that no
    /// module description exists instead of guessing one.
    fn pytorch_module(&self) -> Option<String> {
        None
    }

    /// Adds the network to `graph` for `export --format onnx`, where the
    /// objective offers it: from `input`, the standardized rows (float32
    /// `[N, features]`), to the raw outputs [`Model::predict`] gives
    /// (`[N, outputs]`); returns the name of that output. Sweep adds the
    /// graph's input, the standardization and the output head around it
    /// ([`crate::objective::onnx`]); [`crate::objective::onnx::OnnxGraph::linear`] writes a Burn
    /// `Linear`. Leave out what only training does (dropout).
    fn onnx(&self, graph: &mut crate::objective::onnx::OnnxGraph, input: &str) -> Option<Result<String, TrialError>> {
        let _ = (graph, input);
        None
    }
}

/// What a sweep trains: a model family, its parameters, and how to load it.
pub trait Objective: Send + Sync {
    /// Its name: what a spec's `objective = "..."` selects and a trial's record names.
    fn name(&self) -> &str;

    /// Its version, stored with every model. Change it when checkpoints of the
    /// old code would no longer load as the same model; a model whose record
    /// names another version is refused.
    fn version(&self) -> &str {
        "1"
    }

    /// One line for `sweep objectives`.
    fn description(&self) -> &str {
        ""
    }

    /// Its parameters: what `[train]` and `[parameters]` may set.
    fn schema(&self) -> Schema;

    /// The tasks it can train (`[data] task`).
    fn tasks(&self) -> &[Task] {
        &[Task::Classification]
    }

    /// The devices it can train on (`[resources] device`): the CPU unless it
    /// builds its model on [`TrialContext::device`] and loads it on the
    /// device [`Objective::load`] is given.
    fn devices(&self) -> &[Backend] {
        &[Backend::Cpu]
    }

    /// How its trials run side by side.
    fn parallelism(&self) -> Parallelism {
        Parallelism::Threads
    }

    /// Whether it reads its data itself (a program of the user's): the spec
    /// then needs no `[data]` beyond `task`, and trials get no rows.
    fn owns_data(&self) -> bool {
        false
    }

    /// Its own data source, when its rows do not come from one CSV file.
    fn data_source(&self) -> Option<&dyn DataSource> {
        None
    }

    /// A new model for `trial`, with weights drawn from the trial's own seed.
    /// The refit of a cross-validation's winner calls it with a split whose
    /// validation part is empty, and never calls [`Trainer::validate`].
    fn start(&self, trial: &TrialContext<'_>) -> Result<Box<dyn Trainer>, TrialError>;

    /// The model a checkpoint of this objective holds, with the trial's
    /// parameters and the data's shape, on `device` (the CPU, or the GPU the
    /// model trained on where this binary and machine have it).
    fn load(
        &self,
        checkpoint: &[u8],
        params: &ResolvedParams,
        shape: DataShape,
        device: &Device,
    ) -> Result<Box<dyn Model>, TrialError>;

    /// A rough, relative cost of a trial with these parameters. The runner
    /// starts the costliest trials first, so no worker idles through a long
    /// tail; results do not depend on it. The default treats all trials alike.
    fn cost_hint(&self, params: &ResolvedParams, data: &Prepared) -> f64 {
        let _ = (params, data);
        1.0
    }

    /// What a trained model's cost to serve depends on, where that is less than its weights:
    /// models of equal keys do the same work per row (the same architecture and sizes), so a
    /// process times the first of them and gives the others its latencies, its `rows_per_s`
    /// and [`Model::cost_fields`], saying so in `cost.method`; their own checkpoint sizes and
    /// tensor counts are still taken. Timing each one again would only add the machine's
    /// noise between models that cost the same. `None` (the default) times every model.
    fn serving_key(&self, params: &ResolvedParams, shape: DataShape) -> Option<String> {
        let _ = (params, shape);
        None
    }
}
