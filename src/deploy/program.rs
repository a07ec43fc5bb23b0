//! `sweep verify` for a model a program trained (`objective = "command"`).
//! sweep cannot load the program's checkpoint, so it checks what it stored
//! itself: the checkpoint's sha256 against the trial's record; best.json
//! against the record and against the history line of its epoch (the last
//! one saved); and, where the program sent its raw validation outputs, every
//! metric of sweep's table recomputed from the stored outputs.

use std::path::{Path, PathBuf};

use serde::Serialize;

use super::DeployError;
use super::verify::{MetricCheck, TOLERANCE};
use crate::metrics::{TargetScale, Task, Truth, evaluate};
use crate::store::{self, BestMetadata, HistoryFile, TrialRecord, decode_outputs, names};

/// One claim of the stored files, checked against another.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Consistency {
    /// What was compared.
    pub what: String,
    /// Whether they agree.
    pub ok: bool,
}

/// What `verify` found for a program's model.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct ProgramVerifyReport {
    /// The model folder.
    pub dir: PathBuf,
    /// The objective that trained it.
    pub objective: String,
    /// The checkpoint's sha256, which matched the trial's record.
    pub checkpoint_sha256: String,
    /// The epoch best.json claims.
    pub epoch: usize,
    /// best.json against trial.json and history.csv.
    pub consistency: Vec<Consistency>,
    /// Rows of the stored validation outputs (0: the program sent none).
    pub valid_rows: usize,
    /// The table's metrics recomputed from those outputs.
    pub checks: Vec<MetricCheck>,
}

impl ProgramVerifyReport {
    /// Whether every check passed.
    pub(crate) fn ok(&self) -> bool {
        self.consistency.iter().all(|c| c.ok) && self.checks.iter().all(|c| c.ok)
    }
}

/// The model folder's record when a program trained it (its objective owns
/// its data), else `None`: such a model goes to [`verify_program`], not to
/// [`super::LoadedModel::load`].
pub(crate) fn program_record(
    dir: &Path,
    catalog: &crate::objective::Catalog,
) -> Result<Option<TrialRecord>, DeployError> {
    let path = dir.join(names::RECORD);
    if !path.exists() {
        return Ok(None);
    }
    let record: TrialRecord = store::read_json(&path)?;
    Ok(catalog.get(&record.objective).filter(|o| o.owns_data()).map(|_| record))
}

/// Checks a program's model folder (see the module's comment).
pub(crate) fn verify_program(dir: &Path, record: &TrialRecord) -> Result<ProgramVerifyReport, DeployError> {
    let meta_path = dir.join(names::BEST_METADATA);
    if !meta_path.exists() {
        return Err(DeployError::NotAModel { dir: dir.to_path_buf() });
    }
    let meta: BestMetadata = store::read_json(&meta_path)?;
    let path = dir.join(&meta.checkpoint);
    let bytes = std::fs::read(&path).map_err(|source| store::StoreError::Io { path: path.clone(), source })?;
    let actual = store::sha256_hex(&bytes);
    let Some(expected) = record.checkpoint_sha256.clone() else {
        return Err(DeployError::Unfinished { path: dir.join(names::RECORD) });
    };
    if actual != expected {
        return Err(DeployError::ChecksumMismatch { path, record: dir.join(names::RECORD), expected, actual });
    }
    let mut consistency = vec![
        Consistency {
            what: format!("best.json epoch {} is trial.json's best_epoch", meta.epoch),
            ok: record.best_epoch == Some(meta.epoch),
        },
        Consistency {
            what: "best.json metrics are trial.json's best_metrics".into(),
            ok: record.best_metrics == meta.metrics,
        },
    ];
    let history_path = dir.join(names::HISTORY);
    let history = HistoryFile::read(&history_path)
        .map_err(|e| DeployError::Checkpoint { path: history_path.clone(), message: e.message.clone() })?;
    if let Some(history) = history {
        let lines = history.numeric_lines();
        let row = lines.iter().find(|l| l.get("epoch") == Some(&(meta.epoch as f64)));
        let same = row.is_some_and(|row| {
            meta.metrics
                .iter()
                .all(|(name, v)| row.get(name).is_none_or(|h| (h - v).abs() <= TOLERANCE * v.abs().max(1.0)))
        });
        consistency.push(Consistency {
            what: format!("history.csv's epoch {} has best.json's metrics", meta.epoch),
            ok: same,
        });
        let header = history.header();
        let at = |name: &str| header.iter().position(|h| h == name);
        let last_saved = match (at("epoch"), at("saved_best")) {
            (Some(e), Some(s)) => history
                .readable_lines()
                .filter(|l| l.cells.get(s).map(String::as_str) == Some("true"))
                .filter_map(|l| l.cells.get(e)?.parse::<usize>().ok())
                .last(),
            _ => None,
        };
        consistency.push(Consistency {
            what: format!("epoch {} is the last one history.csv marks saved_best", meta.epoch),
            ok: last_saved == Some(meta.epoch),
        });
    }
    let (valid_rows, checks) = recompute(dir, record, &meta)?;
    Ok(ProgramVerifyReport {
        dir: dir.to_path_buf(),
        objective: format!("{} {}", record.objective, record.objective_version),
        checkpoint_sha256: actual,
        epoch: meta.epoch,
        consistency,
        valid_rows,
        checks,
    })
}

/// The table's metrics from the stored validation outputs, against best.json.
fn recompute(dir: &Path, record: &TrialRecord, meta: &BestMetadata) -> Result<(usize, Vec<MetricCheck>), DeployError> {
    let (Some(expected), path) = (&record.valid_outputs_sha256, dir.join(names::VALID_OUTPUTS)) else {
        return Ok((0, Vec::new()));
    };
    let bytes = std::fs::read(&path).map_err(|source| store::StoreError::Io { path: path.clone(), source })?;
    let actual = store::sha256_hex(&bytes);
    if &actual != expected {
        return Err(DeployError::ChecksumMismatch {
            path,
            record: dir.join(names::RECORD),
            expected: expected.clone(),
            actual,
        });
    }
    let stored =
        decode_outputs(&bytes).map_err(|e| DeployError::Checkpoint { path: path.clone(), message: e.to_string() })?;
    let labels: Vec<usize> = stored.targets.iter().map(|&k| k as usize).collect();
    let truth = match record.task {
        Task::Regression => {
            Truth::Values { values: &stored.targets, scale: stored.scale.unwrap_or(TargetScale::IDENTITY) }
        }
        Task::Classification => Truth::Classes { labels: &labels, n_classes: stored.width },
    };
    let measured = evaluate(&stored.values, truth);
    let checks = meta
        .metrics
        .iter()
        .filter_map(|(name, &stored)| {
            measured.get(name).map(|&m| MetricCheck {
                name: name.clone(),
                stored,
                measured: m,
                ok: (m - stored).abs() <= TOLERANCE * stored.abs().max(1.0),
            })
        })
        .collect();
    Ok((stored.rows, checks))
}
