//! `sweep verify`: the checkpoint is the model its metadata describes, on its
//! validation split and, where it has test metrics, on its test split.

use std::path::PathBuf;

use serde::Serialize;

use super::{DeployError, LoadedModel, evaluate_split};
use crate::data::{SplitName, StoredSplit, stored_split, truth};
use crate::device::{Backend, DeviceInfo};
use crate::metrics::{Task, evaluate};
use crate::store::{self, SplitEvaluation, names};

/// Largest difference accepted between a stored and a recomputed metric, on
/// the hardware the model trained on (relative, absolute below 1).
pub(crate) const TOLERANCE: f64 = 1e-6;

/// The same, where the model computes on other hardware than it trained on
/// (a GPU's model on the CPU): float sums run in another order there, so the
/// outputs agree to about 1e-6 and the metrics to this (measured: the book's
/// GPU page).
pub(crate) const CROSS_DEVICE_TOLERANCE: f64 = 1e-5;

/// One metric of the best epoch, as stored and as measured again.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct MetricCheck {
    /// Metric name.
    pub name: String,
    /// In best.json.
    pub stored: f64,
    /// Recomputed from the checkpoint on the validation split.
    pub measured: f64,
    /// Within the report's tolerance.
    pub ok: bool,
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct VerifyReport {
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
    /// Rows of the test split, when the model's `test.json` claims test metrics.
    pub test_rows: Option<usize>,
    /// Every metric `test.json` claims, recomputed on the test split.
    pub test_checks: Vec<MetricCheck>,
    /// The device the checks computed on.
    pub device: String,
    /// The device the model trained on, where its record says.
    pub trained_on: Option<String>,
    /// The tolerance of the checks: [`TOLERANCE`] on the hardware the model
    /// trained on, else [`CROSS_DEVICE_TOLERANCE`].
    pub tolerance: f64,
}

impl VerifyReport {
    /// Whether every check passed.
    pub(crate) fn ok(&self) -> bool {
        self.checks.iter().chain(&self.test_checks).all(|c| c.ok)
    }
}

fn check(name: &str, stored: f64, measured: f64, tolerance: f64) -> MetricCheck {
    MetricCheck {
        name: name.to_string(),
        stored,
        measured,
        // Relative for large values (regression errors in original units).
        ok: (measured - stored).abs() <= tolerance * stored.abs().max(1.0),
    }
}

/// The tolerance for a model computing on `here` that trained on `trained`
/// (records of earlier versions name no device: they trained on the CPU).
pub(crate) fn tolerance(here: &DeviceInfo, trained: Option<&DeviceInfo>) -> f64 {
    let same = match trained {
        Some(t) => here.same_hardware(t),
        None => here.backend == Backend::Cpu,
    };
    if same { TOLERANCE } else { CROSS_DEVICE_TOLERANCE }
}

/// The model's own validation split, rebuilt from its data (which must be unchanged).
pub(crate) fn stored_validation_split(model: &LoadedModel) -> Result<StoredSplit, DeployError> {
    Ok(stored_split(&model.data()?, &model.preprocessing)?)
}

/// Re-evaluates the checkpoint on its stored validation split and compares
/// every best-epoch metric in its metadata; and on its test split, every
/// metric its `test.json` claims. A refit has no validation split: its
/// validation metrics are its folds' means, which no checkpoint reproduces.
pub(crate) fn verify(model: &LoadedModel) -> Result<VerifyReport, DeployError> {
    let trained_on = model.record.as_ref().and_then(|r| r.device.as_ref());
    let tolerance = tolerance(&model.device, trained_on);
    let mut checks = Vec::new();
    let mut not_recomputable = Vec::new();
    let refit = model.record.as_ref().and_then(|r| r.refit.as_ref());
    let valid_rows = if let Some(refit) = refit {
        for name in model.meta.metrics.keys() {
            not_recomputable.push((
                name.clone(),
                format!(
                    "a mean over the {} cross-validation folds of configuration {}; the refit has no validation split",
                    refit.fold_trials.len(),
                    refit.config
                ),
            ));
        }
        0
    } else {
        let split = stored_validation_split(model)?;
        let predictions = model.predict(&split.x)?;
        let measured = evaluate(predictions.outputs(), truth(&split.targets, &model.preprocessing));
        for (name, &stored) in &model.meta.metrics {
            match measured.get(name) {
                Some(&m) => checks.push(check(name, stored, m, tolerance)),
                None if Task::is_training_metric(name) => not_recomputable.push((
                    name.clone(),
                    "averaged over the epoch's training batches, while the weights changed".into(),
                )),
                None => not_recomputable.push((name.clone(), "not defined for this data".into())),
            }
        }
        split.targets.len()
    };
    let test_path = model.dir.join(names::TEST_METRICS);
    let (mut test_rows, mut test_checks) = (None, Vec::new());
    if test_path.exists() {
        let claimed: SplitEvaluation = store::read_json(&test_path)?;
        if claimed.checkpoint_sha256 != model.checkpoint_sha256 {
            return Err(DeployError::ChecksumMismatch {
                path: model.dir.join(&model.meta.checkpoint),
                record: test_path,
                expected: claimed.checkpoint_sha256,
                actual: model.checkpoint_sha256.clone(),
            });
        }
        let measured = evaluate_split(model, SplitName::Test)?;
        test_rows = Some(measured.rows);
        for (name, &stored) in &claimed.metrics {
            let m = measured.metrics.get(name).copied().unwrap_or(f64::NAN);
            test_checks.push(check(name, stored, m, tolerance));
        }
    }
    Ok(VerifyReport {
        dir: model.dir.clone(),
        objective: format!("{} {}", model.objective.name(), model.objective.version()),
        checkpoint_sha256: model.checkpoint_sha256.clone(),
        epoch: model.meta.epoch,
        valid_rows,
        checks,
        not_recomputable,
        test_rows,
        test_checks,
        device: model.device.label(),
        trained_on: trained_on.map(DeviceInfo::label),
        tolerance,
    })
}
