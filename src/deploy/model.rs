//! A model loaded from its folder by the objective that trained it, ready to predict.

use std::path::{Path, PathBuf};

use super::DeployError;
use crate::data::{DataShape, Preprocessing, RawTable};
use crate::device::{DeviceInfo, TrialDevice};
use crate::metrics::{Task, softmax_rows};
use crate::objective::{Catalog, Model, Objective};
use crate::store::{self, BestMetadata, StoreError, TrialRecord, names};

/// A trained model with everything needed to apply it to raw rows.
pub(crate) struct LoadedModel<'a> {
    /// Where it was loaded from.
    pub dir: PathBuf,
    /// `best.json`: the epoch, metrics, params and settings of the checkpoint.
    pub meta: BestMetadata,
    /// The trial's record (absent only in folders of very old versions).
    pub record: Option<TrialRecord>,
    /// Column order, standardization, label mapping or target scale.
    pub preprocessing: Preprocessing,
    /// The checkpoint's bytes (already checked against the record's sha256).
    pub checkpoint: Vec<u8>,
    /// Their sha256, which matches the trial's record.
    pub checkpoint_sha256: String,
    /// The objective that trained it.
    pub objective: &'a dyn Objective,
    /// The device it computes on here: the one it trained on where this
    /// binary and machine have it, else the CPU.
    pub device: DeviceInfo,
    model: Box<dyn Model>,
}

/// What a model says about some rows.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Predictions {
    /// Classification.
    Classes {
        /// `n × n_classes` probabilities, row-major.
        probabilities: Vec<f64>,
        /// Class index of each row (the most probable; the first on ties).
        classes: Vec<usize>,
        /// The raw logits, `n × n_classes`.
        logits: Vec<f32>,
    },
    /// Regression.
    Values {
        /// Each row's prediction in the target's original units.
        values: Vec<f64>,
        /// The raw outputs, in the model's (standardized) units.
        outputs: Vec<f32>,
    },
}

impl Predictions {
    /// The model's raw outputs, as its trainer gave them during training.
    pub(crate) fn outputs(&self) -> &[f32] {
        match self {
            Predictions::Classes { logits, .. } => logits,
            Predictions::Values { outputs, .. } => outputs,
        }
    }

    /// Rows predicted.
    pub(crate) fn len(&self) -> usize {
        match self {
            Predictions::Classes { classes, .. } => classes.len(),
            Predictions::Values { values, .. } => values.len(),
        }
    }
}

impl<'a> LoadedModel<'a> {
    /// Loads `dir` with the objective its record names, refusing a checkpoint
    /// whose sha256 differs from the record, and a model of an objective (or
    /// an objective version) this binary does not have.
    pub(crate) fn load(dir: &Path, catalog: &'a Catalog) -> Result<Self, DeployError> {
        Self::load_on(dir, catalog, None)
    }

    /// [`LoadedModel::load`] on a device of `backend` where given: the one the
    /// model trained on, if it is of that backend and here, else the first.
    pub(crate) fn load_on(
        dir: &Path,
        catalog: &'a Catalog,
        backend: Option<crate::device::Backend>,
    ) -> Result<Self, DeployError> {
        let meta_path = dir.join(names::BEST_METADATA);
        let pre_path = dir.join(names::PREPROCESSING);
        if !meta_path.exists() || !pre_path.exists() {
            return Err(DeployError::NotAModel { dir: dir.to_path_buf() });
        }
        let meta: BestMetadata = store::read_json(&meta_path)?;
        let preprocessing: Preprocessing = store::read_json(&pre_path)?;
        let path = dir.join(&meta.checkpoint);
        // A damaged best.json can name a file that is not there: say where the name came from.
        let checkpoint = std::fs::read(&path).map_err(|e| {
            let source = std::io::Error::new(e.kind(), format!("{e} (the checkpoint {} names)", meta_path.display()));
            StoreError::Io { path: path.clone(), source }
        })?;
        let actual = store::sha256_hex(&checkpoint);
        // The record of the finished trial holds the checksum (older results: best.json).
        let record_path = dir.join(names::RECORD);
        let record: Option<TrialRecord> =
            if record_path.exists() { Some(store::read_json(&record_path)?) } else { None };
        let Some(expected) =
            record.as_ref().and_then(|r| r.checkpoint_sha256.clone()).or_else(|| meta.checkpoint_sha256.clone())
        else {
            return Err(DeployError::Unfinished { path: record_path });
        };
        if actual != expected {
            let record =
                if record.as_ref().is_some_and(|r| r.checkpoint_sha256.is_some()) { record_path } else { meta_path };
            return Err(DeployError::ChecksumMismatch { path, record, expected, actual });
        }
        let (name, version) = match &record {
            Some(r) => (r.objective.as_str(), r.objective_version.as_str()),
            None => (meta.objective.as_str(), meta.objective_version.as_str()),
        };
        let objective = catalog.get(name).ok_or_else(|| DeployError::UnknownObjective {
            dir: dir.to_path_buf(),
            name: name.to_string(),
            version: version.to_string(),
            known: catalog.names(),
        })?;
        if objective.version() != version {
            return Err(DeployError::ObjectiveVersion {
                dir: dir.to_path_buf(),
                name: name.to_string(),
                trained: version.to_string(),
                here: objective.version().to_string(),
            });
        }
        if objective.owns_data() {
            return Err(DeployError::ProgramModel {
                dir: dir.to_path_buf(),
                name: name.to_string(),
                what: "predict with",
            });
        }
        // Parameters added to an objective since the model was trained take their defaults.
        let params = objective.schema().resolve(&crate::params::Params::new(), &meta.settings);
        let trained_on = record.as_ref().and_then(|r| r.device.as_ref());
        if let Some(b) = backend {
            crate::objective::check_device(objective, b)?;
        }
        let device = match (backend, trained_on) {
            (Some(b), Some(info)) if info.backend == b && b.is_gpu() => crate::device::for_model(info),
            (Some(b), _) => crate::device::open(b, 0)?,
            (None, Some(info)) if objective.devices().contains(&info.backend) => crate::device::for_model(info),
            (None, _) => TrialDevice::cpu(),
        };
        let model = objective
            .load(&checkpoint, &params, DataShape::of(&preprocessing), &device.device)
            .map_err(|e| DeployError::Checkpoint { path: path.clone(), message: e.to_string() })?;
        Ok(LoadedModel {
            dir: dir.to_path_buf(),
            meta,
            record,
            preprocessing,
            checkpoint,
            checkpoint_sha256: actual,
            objective,
            device: device.info,
            model,
        })
    }

    /// The network itself.
    pub(crate) fn model(&self) -> &dyn Model {
        self.model.as_ref()
    }

    /// What it predicts.
    pub(crate) fn task(&self) -> Task {
        self.preprocessing.task
    }

    /// Predicts raw feature rows (`n × features`, in the model's column order).
    pub(crate) fn predict(&self, raw: &[f64]) -> Result<Predictions, DeployError> {
        let pre = &self.preprocessing;
        let rows = raw.len() / pre.feature_columns.len().max(1);
        let outputs = self.model.predict(&pre.standardize(raw), rows).map_err(|e| DeployError::Checkpoint {
            path: self.dir.join(&self.meta.checkpoint),
            message: e.to_string(),
        })?;
        let width = pre.outputs_per_row();
        if outputs.len() != rows * width {
            return Err(DeployError::Checkpoint {
                path: self.dir.join(&self.meta.checkpoint),
                message: format!(
                    "objective \"{}\" predicted {} values for {rows} rows; expected {width} per row",
                    self.objective.name(),
                    outputs.len()
                ),
            });
        }
        Ok(match pre.task {
            Task::Classification => Predictions::Classes {
                probabilities: softmax_rows(&outputs, width),
                classes: crate::metrics::argmax_rows(&outputs, width),
                logits: outputs,
            },
            Task::Regression => {
                let scale = pre.scale();
                Predictions::Values { values: outputs.iter().map(|&z| scale.to_original(z as f64)).collect(), outputs }
            }
        })
    }

    /// The rows it was trained from, read again: from its data source, or its
    /// CSV file with its feature columns. Refused when they changed.
    pub(crate) fn data(&self) -> Result<RawTable, DeployError> {
        let pre = &self.preprocessing;
        let table = match &pre.source {
            Some(source) => {
                let objective = self.objective;
                let Some(data_source) = objective.data_source() else {
                    return Err(DeployError::Checkpoint {
                        path: pre.data_path.clone(),
                        message: format!(
                            "objective \"{}\" no longer brings the data source it was trained on",
                            objective.name()
                        ),
                    });
                };
                RawTable::from(
                    &data_source
                        .load(&crate::params::ResolvedParams::new(source.options.clone()))
                        .map_err(crate::data::DataError::Source)?,
                )
            }
            None => crate::data::read_csv(&pre.data_path, &pre.csv_options())?,
        };
        if table.fingerprint != pre.data_fingerprint {
            return Err(DeployError::DataChanged {
                path: pre.data_path.clone(),
                expected: pre.data_fingerprint.clone(),
                actual: table.fingerprint,
            });
        }
        Ok(table)
    }

    /// The separate test file of its sweep (`[data] test_path`), read again
    /// with the model's feature columns. Refused when it changed.
    pub(crate) fn test_data(&self) -> Result<RawTable, DeployError> {
        let pre = &self.preprocessing;
        let Some(crate::data::TestSplit::File { path, fingerprint, .. }) = &pre.test else {
            return Err(DeployError::NoSuchSplit {
                dir: self.dir.clone(),
                split: "test",
                why: "its test rows are not a separate file".into(),
            });
        };
        let table = crate::data::read_csv(path, &pre.csv_options())?;
        if &table.fingerprint != fingerprint {
            return Err(DeployError::DataChanged {
                path: path.clone(),
                expected: fingerprint.clone(),
                actual: table.fingerprint,
            });
        }
        Ok(table)
    }
}
