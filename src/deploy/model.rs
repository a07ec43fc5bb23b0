//! A model loaded from its folder, ready to predict.

use std::path::{Path, PathBuf};

use super::DeployError;
use crate::data::Preprocessing;
use crate::metrics::softmax_rows;
use crate::objective::mlp::{Mlp, load_checkpoint, predict_logits};
use crate::store::{self, BestMetadata, TrialRecord, names};

/// A trained model with everything needed to apply it to raw rows.
pub struct LoadedModel {
    /// Where it was loaded from.
    pub dir: PathBuf,
    /// `best.json`: the epoch, metrics, params and settings of the checkpoint.
    pub meta: BestMetadata,
    /// Column order, standardization and label mapping.
    pub preprocessing: Preprocessing,
    /// The checkpoint's bytes (already checked against `meta.checkpoint_sha256`).
    pub checkpoint: Vec<u8>,
    /// Their sha256, which matches the trial's record.
    pub checkpoint_sha256: String,
    mlp: Mlp,
}

/// Class probabilities for some rows.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictions {
    /// `n × n_classes`, row-major.
    pub probabilities: Vec<f64>,
    /// Class index of each row (the most probable; the first on ties).
    pub classes: Vec<usize>,
    /// The raw logits, `n × n_classes`.
    pub logits: Vec<f32>,
}

impl LoadedModel {
    /// Loads `dir`, refusing a checkpoint whose sha256 differs from its metadata.
    pub fn load(dir: &Path) -> Result<Self, DeployError> {
        let meta_path = dir.join(names::BEST_METADATA);
        let pre_path = dir.join(names::PREPROCESSING);
        if !meta_path.exists() || !pre_path.exists() {
            return Err(DeployError::NotAModel { dir: dir.to_path_buf() });
        }
        let meta: BestMetadata = store::read_json(&meta_path)?;
        let preprocessing: Preprocessing = store::read_json(&pre_path)?;
        let path = dir.join(&meta.checkpoint);
        let checkpoint = std::fs::read(&path).map_err(StoreError::io(&path))?;
        let actual = store::sha256_hex(&checkpoint);
        // The record of the finished trial holds the checksum (older results: best.json).
        let record_path = dir.join(names::RECORD);
        let recorded = match record_path.exists() {
            true => store::read_json::<TrialRecord>(&record_path)?.checkpoint_sha256,
            false => None,
        };
        let Some(expected) = recorded.or_else(|| meta.checkpoint_sha256.clone()) else {
            return Err(DeployError::Unfinished { path: record_path });
        };
        if actual != expected {
            return Err(DeployError::ChecksumMismatch { path, expected, actual });
        }
        let n_features = preprocessing.feature_columns.len();
        let n_classes = preprocessing.classes.len();
        let mlp = load_checkpoint(checkpoint.clone(), &meta.settings, n_features, n_classes)
            .map_err(|e| DeployError::Checkpoint { path: path.clone(), message: e.to_string() })?;
        Ok(LoadedModel { dir: dir.to_path_buf(), meta, preprocessing, checkpoint, checkpoint_sha256: actual, mlp })
    }

    /// The network itself.
    pub fn mlp(&self) -> &Mlp {
        &self.mlp
    }

    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.preprocessing.classes.len()
    }

    /// Standardizes raw feature rows (`n × features`, in the model's column order).
    pub fn standardize(&self, raw: &[f64]) -> Vec<f32> {
        let p = &self.preprocessing;
        let d = p.feature_columns.len();
        raw.chunks(d)
            .flat_map(|row| row.iter().enumerate().map(|(j, v)| ((v - p.means[j]) / p.stds[j]) as f32))
            .collect()
    }

    /// Predicts raw feature rows (`n × features`, in the model's column order).
    pub fn predict(&self, raw: &[f64]) -> Result<Predictions, DeployError> {
        self.predict_standardized(&self.standardize(raw))
    }

    /// Predicts rows that are already standardized.
    pub fn predict_standardized(&self, x: &[f32]) -> Result<Predictions, DeployError> {
        let d = self.preprocessing.feature_columns.len();
        let k = self.n_classes();
        let logits = predict_logits(&self.mlp, x, d).map_err(|e| DeployError::Checkpoint {
            path: self.dir.join(&self.meta.checkpoint),
            message: e.to_string(),
        })?;
        let probabilities = softmax_rows(&logits, k);
        let classes = crate::metrics::argmax_rows(&logits, k);
        Ok(Predictions { probabilities, classes, logits })
    }
}

use crate::store::StoreError;
