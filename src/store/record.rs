//! What a trial leaves behind. The aggregator rebuilds everything from these
//! records alone, so a local run, a resumed run and a cluster run agree.

use serde::{Deserialize, Serialize};

use crate::metrics::{Metrics, Monitor, Task};
use crate::params::Params;

/// How a trial ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum TrialStatus {
    /// Trained to the end (or to an early stop).
    Completed,
    /// Stopped by early termination across trials (ASHA, median rule); keeps its best checkpoint.
    Pruned,
    /// Loss or outputs became NaN/inf.
    Diverged,
    /// An error or a panic.
    Failed,
}

impl TrialStatus {
    /// Whether the trial left a usable model: completed, or pruned with its best checkpoint.
    pub(crate) fn has_model(self) -> bool {
        matches!(self, TrialStatus::Completed | TrialStatus::Pruned)
    }

    /// The status as written in the leaderboard.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            TrialStatus::Completed => "completed",
            TrialStatus::Pruned => "pruned",
            TrialStatus::Diverged => "diverged",
            TrialStatus::Failed => "failed",
        }
    }
}

/// `trials/<id>/trial.json`: the trial's final record. It is written into the
/// trial's `running.json` when the trial ends and renamed into place once
/// the trial's other files are durable ([`super::commit_records`]), so a
/// `trial.json` that exists is complete.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct TrialRecord {
    /// Sweep name.
    pub sweep: String,
    /// Hash of the spec that planned this trial.
    pub spec_hash: String,
    /// Position in the plan.
    pub index: usize,
    /// Stable id.
    pub id: String,
    /// The trial's seed.
    pub seed: u64,
    /// Swept params.
    pub params: Params,
    /// Which configuration of the plan (`index / repeats`).
    #[serde(default)]
    pub config: usize,
    /// Which repeat of its configuration; with cross-validation, its validation fold.
    #[serde(default)]
    pub repeat: usize,
    /// Every parameter of the objective, resolved (swept, `[train]`, defaults).
    pub settings: Params,
    /// Which objective trained it.
    pub objective: String,
    /// That objective's version; a binary whose objective has another refuses to load the model.
    #[serde(default = "first_version")]
    pub objective_version: String,
    /// What the model predicts.
    #[serde(default)]
    pub task: Task,
    /// What the best-model callback monitored.
    pub monitor: Monitor,
    /// How it ended.
    pub status: TrialStatus,
    /// Error text for failed and diverged trials.
    pub message: Option<String>,
    /// Epoch of the saved checkpoint (1-based).
    pub best_epoch: Option<usize>,
    /// Epochs trained.
    pub epochs_run: usize,
    /// All metrics of the best epoch.
    pub best_metrics: Metrics,
    /// Checkpoint path relative to the sweep folder.
    pub checkpoint: Option<String>,
    /// SHA-256 of the checkpoint file.
    pub checkpoint_sha256: Option<String>,
    /// SHA-256 of the data file.
    pub data_fingerprint: String,
    /// Wall time of the trial.
    pub duration_s: f64,
    /// Of which: serialising and writing checkpoints.
    #[serde(default)]
    pub checkpoint_s: f64,
    /// Checkpoint bytes written.
    #[serde(default)]
    pub checkpoint_bytes: u64,
    /// When it started (RFC 3339); empty in records of sweep 0.1.0 before it was kept.
    #[serde(default)]
    pub started_at: String,
    /// When it finished (RFC 3339).
    pub finished_at: String,
    /// The host of the process that trained it (empty in records of earlier versions).
    #[serde(default)]
    pub host: String,
    /// That process's id.
    #[serde(default)]
    pub pid: u32,
    /// Which attempt at the trial this record ends: 1, or more when a claim was
    /// taken over from a dead process or a failed trial was run again (0 in
    /// records of earlier versions).
    #[serde(default)]
    pub attempt: usize,
    /// Only in the record of a refit: the configuration it retrains and its
    /// cross-validated metrics.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refit: Option<RefitInfo>,
    /// SHA-256 of `best_valid_outputs.safetensors`, which aggregation checks
    /// before it bootstraps from the file: a flipped bit in the outputs would
    /// otherwise change the leaderboard's intervals unnoticed (absent in
    /// records of earlier versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_outputs_sha256: Option<String>,
    /// The program a command objective ran (argv, working directory, the
    /// variables sweep set): enough to rerun the trial by hand.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub program: Option<ProgramRun>,
    /// The device that trained it: backend, index, adapter and driver
    /// (absent in records of earlier versions, which all trained on the CPU).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<crate::device::DeviceInfo>,
    /// What the best model costs to serve, measured when the trial ended
    /// (absent for trials without a model and in records of earlier versions).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<ModelCost>,
}

/// A model's cost to serve: its size, and how fast it predicts on the
/// device the sweep trained on. The sizes are results (they follow from the
/// spec and the seed); the timings are not, and identity checks skip them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ModelCost {
    /// Tensor elements of the checkpoint (safetensors only).
    pub params: Option<u64>,
    /// Size of the checkpoint file.
    pub checkpoint_bytes: u64,
    /// Median time of one `predict` of one row, in milliseconds.
    pub latency_p50_ms: Option<f64>,
    /// Its 95th percentile.
    pub latency_p95_ms: Option<f64>,
    /// Rows per second of `predict` on a batch of 1,024 rows.
    pub rows_per_s: Option<f64>,
    /// How the timings were taken (repetitions, clock).
    pub method: String,
    /// Cost fields the objective's model adds (`Model::cost_fields`).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub extra: Metrics,
    /// How long measuring took, in milliseconds.
    #[serde(default)]
    pub measure_ms: f64,
}

impl ModelCost {
    /// A cost column's value (an objective's own field by its name).
    pub(crate) fn get(&self, column: &str) -> Option<f64> {
        match column {
            "params" => self.params.map(|p| p as f64),
            "checkpoint_bytes" => Some(self.checkpoint_bytes as f64),
            "latency_p50_ms" => self.latency_p50_ms,
            "latency_p95_ms" => self.latency_p95_ms,
            "rows_per_s" => self.rows_per_s,
            other => self.extra.get(other).copied(),
        }
    }
}

/// What a refit model retrains, and the estimate of its quality that comes
/// from its configuration's folds (it has no validation split of its own).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RefitInfo {
    /// The configuration (plan number) that won the cross-validation.
    pub config: usize,
    /// Its fold trials, by fold.
    pub fold_trials: Vec<String>,
    /// Their best epochs, by fold; the refit trains for their median.
    pub fold_best_epochs: Vec<usize>,
    /// Mean of every best-epoch metric over the completed folds.
    pub cv_mean: Metrics,
    /// Their sample standard deviation.
    pub cv_std: Metrics,
}

/// `test.json` (and what `sweep evaluate` prints): a model's metrics on one
/// part of its split, measured from its checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SplitEvaluation {
    /// The part: train, valid or test.
    pub split: crate::data::SplitName,
    /// Its rows.
    pub rows: usize,
    /// Every metric of the task computed on them; `loss` is the model's loss there.
    pub metrics: Metrics,
    /// The checkpoint they describe.
    pub checkpoint_sha256: String,
    /// When they were measured (RFC 3339).
    pub evaluated_at: String,
}

impl TrialRecord {
    /// A completed one-epoch record with no params, metrics or checkpoint: the base
    /// for synthetic records (benchmarks, tests), which set what they need.
    pub(crate) fn synthetic(sweep: &str, id: &str, monitor: Monitor) -> Self {
        TrialRecord {
            sweep: sweep.to_string(),
            spec_hash: String::new(),
            index: 0,
            id: id.to_string(),
            seed: 0,
            params: Params::new(),
            config: 0,
            repeat: 0,
            settings: Params::new(),
            objective: "mlp".into(),
            objective_version: first_version(),
            task: Task::Classification,
            monitor,
            status: TrialStatus::Completed,
            message: None,
            best_epoch: Some(1),
            epochs_run: 1,
            best_metrics: Metrics::new(),
            checkpoint: None,
            checkpoint_sha256: None,
            data_fingerprint: String::new(),
            duration_s: 0.0,
            checkpoint_s: 0.0,
            checkpoint_bytes: 0,
            started_at: String::new(),
            finished_at: String::new(),
            host: String::new(),
            pid: 0,
            attempt: 0,
            refit: None,
            valid_outputs_sha256: None,
            program: None,
            device: None,
            cost: None,
        }
    }
}

/// `trials/<id>/best.json`: describes exactly the checkpoint beside it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct BestMetadata {
    /// Trial id.
    pub trial_id: String,
    /// The epoch whose weights the checkpoint holds (1-based).
    pub epoch: usize,
    /// Every metric of that epoch.
    pub metrics: Metrics,
    /// Swept params.
    pub params: Params,
    /// Every parameter of the objective, resolved.
    pub settings: Params,
    /// The objective that trained it, and its version.
    #[serde(default = "default_objective")]
    pub objective: String,
    /// The objective's version.
    #[serde(default = "first_version")]
    pub objective_version: String,
    /// The trial's seed.
    pub seed: u64,
    /// SHA-256 of the data file.
    pub data_fingerprint: String,
    /// The checkpoint's file name, beside this file.
    pub checkpoint: String,
    /// SHA-256 of the checkpoint file, in results written by earlier versions.
    /// Now the trial's record (`trial.json`) carries it, taken once when the trial
    /// ends: hashing every save cost more than the rest of checkpointing. The
    /// checkpoint's own header (epoch, metrics) ties it to this file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checkpoint_sha256: Option<String>,
}

/// Records written before objectives had versions: the built-in MLP's first.
fn first_version() -> String {
    "1".to_string()
}

fn default_objective() -> String {
    "mlp".to_string()
}

/// A program a trainer runs, as a trial's record keeps it: enough to run it again by hand.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramRun {
    /// The command line, macros expanded.
    pub argv: Vec<String>,
    /// Its working directory.
    pub cwd: std::path::PathBuf,
    /// The variables sweep set on top of its own environment.
    pub env: std::collections::BTreeMap<String, String>,
    /// `[command] predict` expanded for this trial, `${checkpoint}` and
    /// `${output}` left for `sweep verify` to fill (absent without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub predict: Option<Vec<String>>,
}
