//! `sweep verify` for a model a program trained (`objective = "command"`).
//! sweep cannot load the program's checkpoint, so it checks what it stored
//! itself: the checkpoint's sha256 against the trial's record; best.json
//! against the record and against the history line of its epoch (the last
//! one saved); and, where the program sent its raw validation outputs, every
//! metric of sweep's table recomputed from the stored outputs. Where the
//! trial recorded a `[command] predict` and stored outputs, it also runs the
//! model again: the predict command on the stored checkpoint must give the
//! stored outputs, and every metric recomputed from its predictions must be
//! best.json's.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde::Serialize;

use super::DeployError;
use super::verify::{MetricCheck, TOLERANCE};
use crate::data::SplitName;
use crate::metrics::{TargetScale, Task, Truth, evaluate};
use crate::objective::command::{argv, protocol};
use crate::store::{
    self, BestMetadata, HistoryFile, SplitEvaluation, StoredOutputs, TrialRecord, decode_outputs, names,
};

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
    /// The model run again by `[command] predict`; `None` with [`Self::not_rerun`] saying why.
    pub rerun: Option<Rerun>,
    /// Why the model was not run again.
    pub not_rerun: Option<String>,
}

/// The predict command's predictions on the stored checkpoint, against what the trial stored.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct Rerun {
    /// The command line run, `${checkpoint}` and `${output}` filled in.
    pub argv: Vec<String>,
    /// Where it ran.
    pub cwd: PathBuf,
    /// Rows it predicted.
    pub rows: usize,
    /// Outputs per row.
    pub width: usize,
    /// Outputs that differ from the stored best-epoch outputs by more than
    /// [`TOLERANCE`] relative (absolute below 1).
    pub differing: usize,
    /// The first of them: row, column, stored, predicted.
    pub first_difference: Option<(usize, usize, f32, f32)>,
    /// The table's metrics recomputed from the predictions against the stored targets.
    pub checks: Vec<MetricCheck>,
}

impl Rerun {
    /// Whether the predictions are the stored outputs, and give best.json's metrics.
    pub(crate) fn ok(&self) -> bool {
        self.differing == 0 && self.checks.iter().all(|c| c.ok)
    }
}

impl ProgramVerifyReport {
    /// Whether every check passed.
    pub(crate) fn ok(&self) -> bool {
        self.consistency.iter().all(|c| c.ok)
            && self.checks.iter().all(|c| c.ok)
            && self.rerun.as_ref().is_none_or(Rerun::ok)
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
    let (meta, path, actual) = checked_checkpoint(dir, record)?;
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
    let stored = stored_outputs(dir, record)?;
    let checks = match &stored {
        Some(s) => compare_metrics(&meta, &measure(&s.values, s, record.task)),
        None => Vec::new(),
    };
    let predict = record.program.as_ref().and_then(|p| p.predict.as_ref().map(|argv| (p, argv)));
    let (rerun, not_rerun) = match (predict, &stored) {
        (Some((run, predict)), Some(stored)) => {
            (Some(rerun(dir, &path, run, predict, stored, record.task, &meta)?), None)
        }
        (None, _) => (None, Some("the trial records no [command] predict, so the model was not run again".into())),
        (Some(_), None) => (
            None,
            Some(
                "the program sent no validation outputs, so there is nothing to compare [command] predict's \
                 predictions with; the model was not run again"
                    .into(),
            ),
        ),
    };
    Ok(ProgramVerifyReport {
        dir: dir.to_path_buf(),
        objective: format!("{} {}", record.objective, record.objective_version),
        checkpoint_sha256: actual,
        epoch: meta.epoch,
        consistency,
        valid_rows: stored.as_ref().map_or(0, |s| s.rows),
        checks,
        rerun,
        not_rerun,
    })
}

/// Checks a program's checkpoint against its record's sha256 alone: what
/// publishing needs before it ships the bytes, without [`verify_program`]'s
/// running of the trial's `[command] predict` (a program of the user's that
/// a push should not start).
pub(crate) fn check_program_checkpoint(dir: &Path, record: &TrialRecord) -> Result<(), DeployError> {
    checked_checkpoint(dir, record).map(|_| ())
}

/// best.json, the checkpoint's path, and its sha256, which must be the trial record's.
fn checked_checkpoint(dir: &Path, record: &TrialRecord) -> Result<(BestMetadata, PathBuf, String), DeployError> {
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
    Ok((meta, path, actual))
}

/// `sweep evaluate --split valid` of a program's model: the metrics of the
/// predictions `[command] predict` writes from the stored checkpoint, against
/// the stored validation targets. The program owns its data, so sweep knows
/// no other split, and without a predict command or stored outputs it cannot
/// evaluate at all.
pub(crate) fn evaluate_program(
    dir: &Path,
    record: &TrialRecord,
    split: SplitName,
) -> Result<SplitEvaluation, DeployError> {
    let refused = |what| DeployError::ProgramModel { dir: dir.to_path_buf(), name: record.objective.clone(), what };
    let Some((run, predict)) = record.program.as_ref().and_then(|p| p.predict.as_ref().map(|argv| (p, argv))) else {
        return Err(refused("evaluate (its trial records no [command] predict)"));
    };
    if split != SplitName::Valid {
        return Err(DeployError::NoSuchSplit {
            dir: dir.to_path_buf(),
            split: split.as_str(),
            why: format!(
                "objective \"{}\" owns its data: sweep knows only the validation rows the program sent (--split valid)",
                record.objective
            ),
        });
    }
    let (_, path, sha) = checked_checkpoint(dir, record)?;
    let Some(stored) = stored_outputs(dir, record)? else {
        return Err(refused("evaluate (its program sent no validation outputs and targets)"));
    };
    let (_, predicted) = run_predict(dir, &path, run, predict, &stored)?;
    Ok(SplitEvaluation {
        split,
        rows: predicted.rows,
        metrics: super::evaluate::split_metrics(measure(&predicted.values, &stored, record.task)),
        checkpoint_sha256: sha,
        evaluated_at: store::now_rfc3339(),
    })
}

/// Runs the trial's predict command on `checkpoint` in its recorded working
/// directory and environment, writing into a folder of its own outside the
/// model's (verify changes nothing there), and compares its predictions with
/// the stored outputs and best.json.
fn rerun(
    dir: &Path,
    checkpoint: &Path,
    run: &store::ProgramRun,
    predict: &[String],
    stored: &StoredOutputs,
    task: Task,
    meta: &BestMetadata,
) -> Result<Rerun, DeployError> {
    let (argv, predicted) = run_predict(dir, checkpoint, run, predict, stored)?;
    let (differing, first_difference) = differences(&stored.values, &predicted.values, stored.width);
    Ok(Rerun {
        argv,
        cwd: run.cwd.clone(),
        rows: predicted.rows,
        width: predicted.width,
        differing,
        first_difference,
        checks: compare_metrics(meta, &measure(&predicted.values, stored, task)),
    })
}

/// Runs the predict command (see [`rerun`]): its filled command line and
/// predictions, as many rows and outputs per row as `stored`.
fn run_predict(
    dir: &Path,
    checkpoint: &Path,
    run: &store::ProgramRun,
    predict: &[String],
    stored: &StoredOutputs,
) -> Result<(Vec<String>, protocol::Predictions), DeployError> {
    let checkpoint = std::path::absolute(checkpoint)
        .map_err(|source| store::StoreError::Io { path: checkpoint.to_path_buf(), source })?;
    let scratch = Scratch::new().map_err(|source| DeployError::Write { path: std::env::temp_dir(), source })?;
    let output = scratch.0.join("predictions.json");
    let argv = argv::fill_predict(predict, &checkpoint, &output);
    let failed = |message: String| DeployError::Predict { dir: dir.to_path_buf(), argv: argv.clone(), message };
    let Some((program, args)) = argv.split_first() else {
        return Err(failed("expanded to nothing".into()));
    };
    let result = Command::new(program)
        .args(args)
        .current_dir(&run.cwd)
        .envs(&run.env)
        .env("SWEEP_CHECKPOINT", &checkpoint)
        .env("SWEEP_OUTPUT", &output)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| failed(format!("cannot start it (in {}): {e}", run.cwd.display())))?;
    if !result.status.success() {
        return Err(failed(format!("{}; its stderr ends: {}", result.status, tail(&result.stderr))));
    }
    let bytes = std::fs::read(&output)
        .map_err(|e| failed(format!("it exited 0 but wrote no predictions to {} ({e})", output.display())))?;
    let predicted = protocol::parse_predictions(&bytes).map_err(|m| failed(format!("it {m}")))?;
    if (predicted.rows, predicted.width) != (stored.rows, stored.width) {
        return Err(failed(format!(
            "it predicted {} rows of {} outputs; the trial stored {} rows of {} at epoch {}",
            predicted.rows, predicted.width, stored.rows, stored.width, stored.epoch
        )));
    }
    Ok((argv, predicted))
}

/// How many predicted values differ from the stored ones beyond
/// [`TOLERANCE`] (relative, absolute below 1), and the first as (row,
/// column, stored, predicted). Non-finite values must be equal.
fn differences(stored: &[f32], predicted: &[f32], width: usize) -> (usize, Option<(usize, usize, f32, f32)>) {
    let differ = |s: f32, p: f32| {
        let (s64, p64) = (f64::from(s), f64::from(p));
        if s64.is_finite() && p64.is_finite() {
            (p64 - s64).abs() > TOLERANCE * s64.abs().max(1.0)
        } else {
            !(s == p || (s.is_nan() && p.is_nan()))
        }
    };
    let mut wrong = stored.iter().zip(predicted).enumerate().filter(|(_, (s, p))| differ(**s, **p));
    let first = wrong.next().map(|(i, (&s, &p))| (i / width.max(1), i % width.max(1), s, p));
    (first.map_or(0, |_| 1 + wrong.count()), first)
}

/// The last lines of a program's stderr, for a message.
fn tail(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let tail = crate::objective::command::last_lines(text.trim_end(), 10);
    if tail.is_empty() { "(nothing)".into() } else { tail }
}

/// A folder of its own under the system's temporary folder, removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> std::io::Result<Self> {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
        let path = std::env::temp_dir().join(format!("sweep-predict-{}-{nanos}", std::process::id()));
        std::fs::create_dir(&path)?;
        Ok(Scratch(path))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Best effort: a leftover folder in the temporary folder harms nothing.
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The stored validation outputs, checked against the trial's record (`None`: the program sent none).
fn stored_outputs(dir: &Path, record: &TrialRecord) -> Result<Option<StoredOutputs>, DeployError> {
    let (Some(expected), path) = (&record.valid_outputs_sha256, dir.join(names::VALID_OUTPUTS)) else {
        return Ok(None);
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
    decode_outputs(&bytes).map(Some).map_err(|e| DeployError::Checkpoint { path: path.clone(), message: e.to_string() })
}

/// The table's metrics of `values` (rows like the stored outputs) against the stored targets.
fn measure(values: &[f32], stored: &StoredOutputs, task: Task) -> crate::metrics::Metrics {
    let labels: Vec<usize> = stored.targets.iter().map(|&k| k as usize).collect();
    let truth = match task {
        Task::Regression => {
            Truth::Values { values: &stored.targets, scale: stored.scale.unwrap_or(TargetScale::IDENTITY) }
        }
        Task::Classification => Truth::Classes { labels: &labels, n_classes: stored.width },
    };
    evaluate(values, truth)
}

/// Every metric of best.json that `measured` has, compared.
fn compare_metrics(meta: &BestMetadata, measured: &crate::metrics::Metrics) -> Vec<MetricCheck> {
    meta.metrics
        .iter()
        .filter_map(|(name, &stored)| {
            measured.get(name).map(|&m| MetricCheck {
                name: name.clone(),
                stored,
                measured: m,
                ok: (m - stored).abs() <= TOLERANCE * stored.abs().max(1.0),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_count_values_beyond_the_relative_tolerance_and_name_the_first() {
        let stored = [1.0, 0.0, 1000.0, f32::NAN];
        assert_eq!(differences(&stored, &[1.0, 0.0, 1000.0005, f32::NAN], 2), (0, None), "within 1e-6 relative");
        assert_eq!(differences(&stored, &[1.0, 0.5, 1000.0, 3.0], 2), (2, Some((0, 1, 0.0, 0.5))));
        assert_eq!(differences(&stored, &[1.0, 0.0, 1000.1, f32::NAN], 2).1, Some((1, 0, 1000.0, 1000.1)));
    }

    #[test]
    fn a_stderr_tail_keeps_the_last_lines() {
        let long: String = (0..30).map(|i| format!("line {i}\n")).collect();
        let t = tail(long.as_bytes());
        assert!(t.starts_with("line 20") && t.ends_with("line 29"), "{t}");
        assert_eq!(tail(b""), "(nothing)");
    }
}
