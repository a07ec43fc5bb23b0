//! The JSON documents that `--json` prints: one per command, alone on stdout,
//! for scripts and pipelines (`sweep run spec.toml --json | jq .best`).
//!
//! Their shapes are an interface, documented in the book (`docs/src/reference/json.md`): within one
//! [`SCHEMA_VERSION`] fields may be added, never renamed, removed or given
//! another meaning. Every path is absolute, so a document stays usable from
//! another working directory. A value that is not a finite number (a
//! diverged metric) is `null`, as JSON has no NaN.

use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::aggregate::{Judged, Leaderboard, SweepRegistry};
use crate::metrics::{Metrics, Monitor, Task};
use crate::params::Params;
use crate::store::claim::ClaimInfo;
use crate::store::{SplitEvaluation, SweepDir, TrialRecord, TrialStatus, names};

/// The version of every document's shape; raised only when a field changes meaning or goes.
pub(crate) const SCHEMA_VERSION: u32 = 1;

/// The absolute form of `path` (from the working directory, without touching the filesystem).
pub(crate) fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf())
}

/// `sweep run --json` and `sweep aggregate --json`: the sweep after aggregation.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SweepOutput {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `run` or `aggregate`.
    pub command: &'static str,
    /// The sweep's name.
    pub sweep: String,
    /// Hash of the spec its trials were planned from.
    pub spec_hash: String,
    /// The sweep's results folder.
    pub results_dir: PathBuf,
    /// `classification` or `regression`.
    pub task: Task,
    /// The ranking key: `metric`, `goal`, `min_delta`.
    pub metric: Monitor,
    /// How many trials ended how.
    pub trials: TrialCounts,
    /// What this run did (`null` for `aggregate`).
    pub run: Option<RunCounts>,
    /// The registry's top pick (what `register_as` registers), `null` when no trial has a model.
    pub best: Option<BestModel>,
    /// The first trials of the leaderboard (at most [`SweepOutput::TOP`]), best first.
    pub top: Vec<RankedTrial>,
    /// The files aggregation wrote.
    pub files: SweepFiles,
    /// The model registered under the spec's `register_as`, if any.
    pub registered: Option<Registered>,
    /// What went wrong besides failed trials (printed as warnings too); any makes the exit code 1.
    pub problems: Vec<String>,
    /// Wall time of the command, in seconds.
    pub duration_s: f64,
}

impl SweepOutput {
    /// Trials listed in `top`, as in the table the command prints without `--json`.
    pub(crate) const TOP: usize = 5;

    /// The document of a leaderboard that aggregation just wrote into `dir`.
    pub(crate) fn new(command: &'static str, dir: &SweepDir, board: &Leaderboard, judged: &Judged) -> Self {
        let count = |s: TrialStatus| board.rows.iter().filter(|r| r.status == s).count();
        let planned = dir.manifest().ok().flatten().map(|m| m.trials);
        let registry = SweepRegistry::from_leaderboard(board);
        let best = registry.pick().map(|m| BestModel {
            trial_id: m.trial_id.clone(),
            rank: m.rank,
            config_rank: m.config_rank,
            refit: m.refit.is_some(),
            metric: board.monitor.metric.clone(),
            value: finite(m.metrics.get(&board.monitor.metric).copied()),
            best_epoch: m.best_epoch,
            checkpoint: absolute(&dir.root().join(&m.checkpoint)),
            checkpoint_sha256: m.checkpoint_sha256.clone(),
            params: m.params.clone(),
            metrics: m.metrics.clone(),
            test_metrics: m.test_metrics.clone(),
        });
        let top = board
            .rows
            .iter()
            .take(Self::TOP)
            .enumerate()
            .map(|(i, r)| {
                let u = board.uncertainty.get(&r.id);
                let has_model = r.status.has_model();
                RankedTrial {
                    rank: i + 1,
                    trial_id: r.id.clone(),
                    status: r.status,
                    value: finite(r.best_metrics.get(&board.monitor.metric).copied().filter(|_| has_model)),
                    best_epoch: r.best_epoch.filter(|_| has_model),
                    epochs_run: r.epochs_run,
                    interval: u.map(|u| [u.low, u.high]),
                    tied_with_top: u.and_then(|u| u.tied_with_top),
                    params: r.params.clone(),
                    test_metrics: board.test.get(&r.id).cloned(),
                    message: r.message.clone(),
                }
            })
            .collect();
        let file = |name: &str| absolute(&dir.file(name));
        SweepOutput {
            schema_version: SCHEMA_VERSION,
            command,
            sweep: board.sweep.clone(),
            spec_hash: board.spec_hash.clone(),
            results_dir: absolute(dir.root()),
            task: board.task,
            metric: board.monitor.clone(),
            trials: TrialCounts {
                planned,
                recorded: board.rows.len(),
                completed: count(TrialStatus::Completed),
                pruned: count(TrialStatus::Pruned),
                failed: count(TrialStatus::Failed),
                diverged: count(TrialStatus::Diverged),
                incomplete: board.incomplete.len(),
            },
            run: None,
            best,
            top,
            files: SweepFiles {
                leaderboard: file(names::LEADERBOARD),
                registry: file(names::REGISTRY),
                history: file(names::HISTORY),
                leaderboard_by_config: board.repeats.then(|| file(names::LEADERBOARD_BY_CONFIG)),
                report: None,
            },
            registered: None,
            problems: judged.problems.clone(),
            duration_s: 0.0,
        }
    }
}

/// Trials of a sweep by how they ended.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TrialCounts {
    /// Trials in the plan (for TPE and random search, the budget); `null` without a `sweep.json`.
    pub planned: Option<usize>,
    /// Trials with a record, in the leaderboard (the refit of a cross-validation not counted).
    pub recorded: usize,
    /// Trained to the end or to an early stop.
    pub completed: usize,
    /// Stopped by early termination; they keep their best checkpoint.
    pub pruned: usize,
    /// Ended by an error.
    pub failed: usize,
    /// Ended by a loss or outputs that were not finite.
    pub diverged: usize,
    /// Trial folders without a record (running, or died).
    pub incomplete: usize,
}

/// What `sweep run` did.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RunCounts {
    /// Trials trained by this run.
    pub run_now: usize,
    /// Complete trials kept from an earlier run (`--resume`).
    pub resumed: usize,
    /// Trials other processes trained into the same folder meanwhile.
    pub by_other_processes: usize,
    /// Trials at once.
    pub workers: usize,
    /// `threads` or `processes`.
    pub parallelism: &'static str,
}

/// The model a sweep recommends.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct BestModel {
    /// Its trial (a folder under `trials/`).
    pub trial_id: String,
    /// Its leaderboard rank (0 for the refit of a cross-validation, which is no ranked trial).
    pub rank: usize,
    /// With repeats or folds: the rank of its configuration by the mean metric.
    pub config_rank: Option<usize>,
    /// Whether it is the refit of a cross-validation's winning configuration.
    pub refit: bool,
    /// The monitored metric.
    pub metric: String,
    /// Its value at the best epoch (for a refit, the cross-validated mean).
    pub value: Option<f64>,
    /// The epoch of the checkpoint.
    pub best_epoch: usize,
    /// The checkpoint file.
    pub checkpoint: PathBuf,
    /// Its SHA-256.
    pub checkpoint_sha256: String,
    /// Its swept params.
    pub params: Params,
    /// Every metric of its best epoch.
    pub metrics: Metrics,
    /// Every metric on the test split, where it was evaluated there.
    pub test_metrics: Option<Metrics>,
}

/// One row of the leaderboard.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct RankedTrial {
    /// 1-based, as in leaderboard.csv.
    pub rank: usize,
    /// The trial.
    pub trial_id: String,
    /// `completed`, `pruned`, `failed` or `diverged`.
    pub status: TrialStatus,
    /// The monitored metric at its best epoch (`null` without a model).
    pub value: Option<f64>,
    /// Its best epoch (`null` without a model).
    pub best_epoch: Option<usize>,
    /// Epochs trained.
    pub epochs_run: usize,
    /// The 95 % bootstrap interval of `value`, with the bootstrap on.
    pub interval: Option<[f64; 2]>,
    /// Whether the data cannot tell it from the top trial (bootstrap).
    pub tied_with_top: Option<bool>,
    /// Its swept params.
    pub params: Params,
    /// Every metric on the test split, where it was evaluated there.
    pub test_metrics: Option<Metrics>,
    /// Why it failed or diverged, or which rule pruned it.
    pub message: Option<String>,
}

/// The files of a sweep's results folder that aggregation writes.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SweepFiles {
    /// Every trial, ranked.
    pub leaderboard: PathBuf,
    /// The sweep's models, best first.
    pub registry: PathBuf,
    /// Every epoch of every trial, long format.
    pub history: PathBuf,
    /// Configurations ranked over their repeats (with `repeats` or folds only).
    pub leaderboard_by_config: Option<PathBuf>,
    /// report.html (`null` when it could not be written; the warning says why).
    pub report: Option<PathBuf>,
}

/// A model registered under a name.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct Registered {
    /// The model's name.
    pub name: String,
    /// Its version under that name.
    pub version: u32,
    /// The trial it is.
    pub trial_id: String,
    /// Whether this version is new (false: the name's latest version already was this trial).
    pub new: bool,
}

impl std::fmt::Display for Registered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Registered { name, version, trial_id, new } = self;
        if *new {
            write!(f, "registered {name}@{version} ← trial {trial_id} (register_as)")
        } else {
            write!(f, "{name}@{version} already is trial {trial_id} (register_as)")
        }
    }
}

/// `sweep trial --json`: the trials this call handled.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TrialOutput {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `trial`.
    pub command: &'static str,
    /// The sweep's name.
    pub sweep: String,
    /// The sweep's results folder.
    pub results_dir: PathBuf,
    /// `--index`: the one trial; `--next`: every proposal trained, in order.
    pub trials: Vec<TrialOutcome>,
}

/// What happened to one trial.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TrialOutcome {
    /// `ran`; `already_done` (a record was there and kept); `held_elsewhere`
    /// (another live process trains it; nothing was run).
    pub outcome: &'static str,
    /// Its position in the plan.
    pub index: usize,
    /// Its record (`null` when held elsewhere).
    pub trial: Option<TrialSummary>,
    /// Who holds it, when held elsewhere and readable.
    pub held_by: Option<ClaimInfo>,
}

impl TrialOutcome {
    /// A trial with a record in `dir`.
    pub(crate) fn recorded(outcome: &'static str, dir: &SweepDir, record: &TrialRecord) -> Self {
        TrialOutcome { outcome, index: record.index, trial: Some(TrialSummary::new(dir, record)), held_by: None }
    }
}

/// A trial's record, in short.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TrialSummary {
    /// The trial's id (its folder under `trials/`).
    pub id: String,
    /// `completed`, `pruned`, `failed` or `diverged`.
    pub status: TrialStatus,
    /// Why it failed or diverged, or which rule pruned it.
    pub message: Option<String>,
    /// The monitored metric.
    pub metric: String,
    /// Its value at the best epoch (`null` without one).
    pub value: Option<f64>,
    /// The epoch of the checkpoint.
    pub best_epoch: Option<usize>,
    /// Epochs trained.
    pub epochs_run: usize,
    /// Every metric of the best epoch.
    pub best_metrics: Metrics,
    /// Its swept params.
    pub params: Params,
    /// Its seed.
    pub seed: u64,
    /// The checkpoint file (`null` without a model).
    pub checkpoint: Option<PathBuf>,
    /// Its SHA-256.
    pub checkpoint_sha256: Option<String>,
    /// The trial folder.
    pub dir: PathBuf,
    /// Wall time of the trial, in seconds.
    pub duration_s: f64,
}

impl TrialSummary {
    /// The summary of `record`, a trial of the sweep in `dir`.
    pub(crate) fn new(dir: &SweepDir, record: &TrialRecord) -> Self {
        let has_model = record.status.has_model();
        TrialSummary {
            id: record.id.clone(),
            status: record.status,
            message: record.message.clone(),
            metric: record.monitor.metric.clone(),
            value: finite(record.best_metrics.get(&record.monitor.metric).copied()),
            best_epoch: record.best_epoch,
            epochs_run: record.epochs_run,
            best_metrics: record.best_metrics.clone(),
            params: record.params.clone(),
            seed: record.seed,
            checkpoint: record.checkpoint.as_ref().filter(|_| has_model).map(|c| absolute(&dir.root().join(c))),
            checkpoint_sha256: record.checkpoint_sha256.clone().filter(|_| has_model),
            dir: absolute(&dir.trial_dir(&record.id)),
            duration_s: record.duration_s,
        }
    }
}

/// `sweep slurm --json`: what was submitted, or with `--dry-run` what would be.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SlurmOutput {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `slurm`.
    pub command: &'static str,
    /// The sweep's name.
    pub sweep: String,
    /// The sweep's results folder.
    pub results_dir: PathBuf,
    /// `--dry-run`: nothing was written or submitted.
    pub dry_run: bool,
    /// Whether jobs were submitted (false with `--dry-run`, or with nothing to submit).
    pub submitted: bool,
    /// The array jobs' ids, as sbatch printed them (empty when nothing was submitted).
    pub array_job_ids: Vec<String>,
    /// The aggregation job's id, which runs after the array whatever its tasks' states.
    pub aggregate_job_id: Option<String>,
    /// TPE: the array tasks take proposals (`sweep trial --next`) until the budget is spent.
    pub next: bool,
    /// The trial indices the arrays run (with `next`, the task numbers).
    pub array_indices: Vec<usize>,
    /// Trials in the plan (for TPE, the budget).
    pub planned: usize,
    /// The cluster's MaxArraySize the arrays were split by (`null` when there was nothing to submit).
    pub max_array_size: Option<usize>,
    /// The job scripts (`null` when there is nothing to submit).
    pub scripts: Option<SlurmScripts>,
    /// The folder of the jobs' logs.
    pub logs: PathBuf,
}

/// The job scripts of a submission.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SlurmScripts {
    /// The array jobs' scripts: one, or several where the sweep exceeds MaxArraySize.
    pub arrays: Vec<ArrayScript>,
    /// The aggregation job's script.
    pub aggregate: ScriptFile,
}

/// One array job's script and the trials it runs.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ArrayScript {
    /// Where it is (or would be) written.
    pub path: PathBuf,
    /// Its text.
    pub text: String,
    /// Its `--array` task ids (without `%K`).
    pub array: String,
    /// Added to `$SLURM_ARRAY_TASK_ID` to get the trial index.
    pub offset: usize,
    /// The trial indices it runs.
    pub trials: Vec<usize>,
}

/// A job script: where it is (or would be) written, and its text.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ScriptFile {
    /// Its path.
    pub path: PathBuf,
    /// Its content.
    pub text: String,
}

/// `sweep export --json`: the files written.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ExportOutput {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `export`.
    pub command: &'static str,
    /// The model as given on the command line.
    pub model: String,
    /// The folder it was loaded from.
    pub model_dir: PathBuf,
    /// The folder written into.
    pub to: PathBuf,
    /// `safetensors` (weights + preprocessing.json) or `onnx` (model.onnx).
    pub format: &'static str,
    /// The weights' layout for `safetensors`: `burn` or `pytorch`; null for `onnx`.
    pub layout: Option<&'static str>,
    /// Every file written, in order.
    pub files: Vec<ExportedFile>,
}

/// One exported file.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct ExportedFile {
    /// Its path.
    pub path: PathBuf,
    /// Its size.
    pub bytes: u64,
    /// Its SHA-256.
    pub sha256: String,
}

/// `sweep evaluate --json`: a model's metrics on one part of its split.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct EvaluateOutput {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// `evaluate`.
    pub command: &'static str,
    /// The model as given on the command line.
    pub model: String,
    /// The folder it was loaded from.
    pub model_dir: PathBuf,
    /// `split`, `rows`, `metrics`, `checkpoint_sha256`, `evaluated_at`.
    #[serde(flatten)]
    pub evaluation: SplitEvaluation,
}

fn finite(value: Option<f64>) -> Option<f64> {
    value.filter(|v| v.is_finite())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_reads_as_before() {
        let r = Registered { name: "digits".into(), version: 2, trial_id: "t0001-ab".into(), new: true };
        assert_eq!(r.to_string(), "registered digits@2 ← trial t0001-ab (register_as)");
        let r = Registered { new: false, ..r };
        assert_eq!(r.to_string(), "digits@2 already is trial t0001-ab (register_as)");
    }

    #[test]
    fn a_diverged_value_is_null_not_invalid_json() {
        let monitor = Monitor::new("mcc", crate::metrics::Goal::Maximize, 0.0);
        let mut record = TrialRecord::synthetic("s", "t0000-x", monitor);
        record.status = TrialStatus::Diverged;
        record.best_metrics.insert("mcc".into(), f64::NAN);
        let summary = TrialSummary::new(&SweepDir::new("results/s"), &record);
        let json = serde_json::to_value(&summary).unwrap();
        assert!(json["value"].is_null());
        assert_eq!(json["status"], "diverged");
        assert!(json["checkpoint"].is_null());
        assert!(json["dir"].as_str().unwrap().starts_with('/'), "{json}");
    }
}
