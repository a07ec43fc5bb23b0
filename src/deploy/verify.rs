//! `sweep verify`: the checkpoint is the model its metadata describes.

use std::path::PathBuf;

use serde::Serialize;

use super::{DeployError, LoadedModel};
use crate::data::{StoredSplit, stored_split, truth};
use crate::metrics::{Task, evaluate};

/// Largest difference accepted between a stored and a recomputed metric.
pub const TOLERANCE: f64 = 1e-6;

/// One metric of the best epoch, as stored and as measured again.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricCheck {
    /// Metric name.
    pub name: String,
    /// In best.json.
    pub stored: f64,
    /// Recomputed from the checkpoint on the validation split.
    pub measured: f64,
    /// Within [`TOLERANCE`].
    pub ok: bool,
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VerifyReport {
    /// The model folder.
    pub dir: PathBuf,
    /// The objective that trained it, and its version.
    pub objective: String,
    /// The checkpoint's sha256 (it matched the record, or loading would have failed).
    pub checkpoint_sha256: String,
    /// The epoch best.json claims.
    pub epoch: usize,
    /// Rows of the validation split.
    pub valid_rows: usize,
    /// Every recomputable metric.
    pub checks: Vec<MetricCheck>,
    /// Metrics that cannot be recomputed from the checkpoint, with why.
    pub not_recomputable: Vec<(String, String)>,
}

impl VerifyReport {
    /// Whether every check passed.
    pub fn ok(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }
}

/// The model's own validation split, rebuilt from its data (which must be unchanged).
pub fn stored_validation_split(model: &LoadedModel) -> Result<StoredSplit, DeployError> {
    Ok(stored_split(&model.data()?, &model.preprocessing)?)
}

/// Re-evaluates the checkpoint on its stored validation split and compares
/// every best-epoch metric in its metadata.
pub fn verify(model: &LoadedModel) -> Result<VerifyReport, DeployError> {
    let split = stored_validation_split(model)?;
    let predictions = model.predict(&split.x)?;
    let measured = evaluate(predictions.outputs(), truth(&split.targets, &model.preprocessing));
    let mut checks = Vec::new();
    let mut not_recomputable = Vec::new();
    for (name, &stored) in &model.meta.metrics {
        match measured.get(name) {
            Some(&m) => checks.push(MetricCheck {
                name: name.clone(),
                stored,
                measured: m,
                // Relative for large values (regression errors in original units).
                ok: (m - stored).abs() <= TOLERANCE * stored.abs().max(1.0),
            }),
            None if Task::is_training_metric(name) => not_recomputable
                .push((name.clone(), "averaged over the epoch's training batches, while the weights changed".into())),
            None => not_recomputable.push((name.clone(), "not defined for this data".into())),
        }
    }
    Ok(VerifyReport {
        dir: model.dir.clone(),
        objective: format!("{} {}", model.objective.name(), model.objective.version()),
        checkpoint_sha256: model.checkpoint_sha256.clone(),
        epoch: model.meta.epoch,
        valid_rows: split.targets.len(),
        checks,
        not_recomputable,
    })
}
