//! Objectives: what a trial trains. The built-in one is a Burn MLP classifier
//! ([`mlp::MlpObjective`]); a user plugs in their own Burn model by
//! implementing [`Objective`] and [`EpochTrainer`].
//!
//! The runner owns the epoch loop, the callbacks and every file write; an
//! objective only trains, evaluates and serialises its model, so the
//! best-model semantics hold for any model.

pub mod mlp;
pub mod settings;

use std::collections::BTreeMap;

use crate::data::Prepared;
use crate::plan::TrialSpec;
use settings::TrainSettings;

/// Why a trial could not go on.
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
    /// Anything else; the message says what.
    #[error("{0}")]
    Failed(String),
}

/// A trainable model for one trial, driven epoch by epoch by the runner.
pub trait EpochTrainer {
    /// Trains one pass over the training split; returns the mean training loss.
    fn train_epoch(&mut self) -> Result<f64, TrialError>;

    /// The model's logits on the validation split, `n_valid × n_classes`, row-major.
    fn validation_logits(&mut self) -> Result<Vec<f32>, TrialError>;

    /// The current weights as a safetensors file whose header carries `metadata`.
    fn checkpoint(&self, metadata: &BTreeMap<String, String>) -> Result<Vec<u8>, TrialError>;
}

/// Builds a fresh trainer for each trial.
pub trait Objective: Send + Sync {
    /// A short name, stored in trial records.
    fn name(&self) -> &str;

    /// A new model for `trial`, with weights drawn from the trial's own seed.
    /// It must not touch any process-global RNG, so that concurrent trials stay reproducible.
    fn start(
        &self,
        trial: &TrialSpec,
        settings: &TrainSettings,
        data: &Prepared,
    ) -> Result<Box<dyn EpochTrainer>, TrialError>;

    /// A rough, relative cost of training a trial with these settings. The
    /// runner starts the costliest trials first, so the last ones to finish are
    /// short and no worker idles through a long tail; results do not depend on
    /// it. The default treats all trials alike (plan order).
    fn cost_hint(&self, settings: &TrainSettings, data: &Prepared) -> f64 {
        let _ = (settings, data);
        1.0
    }
}
