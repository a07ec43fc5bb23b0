//! `sweep verify`: the checkpoint is the model its metadata describes.

use std::path::PathBuf;

use serde::Serialize;

use super::{DeployError, LoadedModel};
use crate::data::load_csv;
use crate::metrics::evaluate;

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
    /// The checkpoint's sha256 (it matched best.json, or loading would have failed).
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

/// The model's own validation split, rebuilt from its data file (which must be
/// unchanged): raw features in model column order, and class indices.
pub fn stored_validation_split(model: &LoadedModel) -> Result<(Vec<f64>, Vec<usize>), DeployError> {
    let pre = &model.preprocessing;
    let data = load_csv(&pre.data_path, &pre.target)?;
    if data.fingerprint != pre.data_fingerprint {
        return Err(DeployError::DataChanged {
            path: pre.data_path.clone(),
            expected: pre.data_fingerprint.clone(),
            actual: data.fingerprint,
        });
    }
    let d = data.features.len();
    let mut x = Vec::with_capacity(pre.valid_rows.len() * d);
    let mut y = Vec::with_capacity(pre.valid_rows.len());
    for &row in &pre.valid_rows {
        x.extend_from_slice(&data.x[row * d..(row + 1) * d]);
        y.push(data.y[row]);
    }
    Ok((x, y))
}

/// Re-evaluates the checkpoint on its stored validation split and compares
/// every best-epoch metric in its metadata.
pub fn verify(model: &LoadedModel) -> Result<VerifyReport, DeployError> {
    let (x, y) = stored_validation_split(model)?;
    let predictions = model.predict(&x)?;
    let measured = evaluate(&predictions.logits, &y, model.n_classes());
    let mut checks = Vec::new();
    let mut not_recomputable = Vec::new();
    for (name, &stored) in &model.meta.metrics {
        match measured.get(name) {
            Some(&m) => checks.push(MetricCheck {
                name: name.clone(),
                stored,
                measured: m,
                ok: (m - stored).abs() <= TOLERANCE,
            }),
            None if name == "train_loss" => {
                not_recomputable.push((name.clone(), "averaged over the epoch's training batches, with dropout".into()))
            }
            None => not_recomputable.push((name.clone(), "not defined for this data".into())),
        }
    }
    Ok(VerifyReport {
        dir: model.dir.clone(),
        checkpoint_sha256: model.checkpoint_sha256.clone(),
        epoch: model.meta.epoch,
        valid_rows: y.len(),
        checks,
        not_recomputable,
    })
}
