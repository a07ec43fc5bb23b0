//! The sweep spec: a TOML file, loaded and validated once at the boundary.
//!
//! Key names follow W&B sweep configs where they overlap (`method`,
//! `metric.name`, `metric.goal`, `parameters.X.values`, `distribution`, `min`,
//! `max`). After [`load`] succeeds, the rest of the program works with the
//! typed [`SweepSpec`] and never re-checks user input.

mod raw;
mod validate;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::params::{Params, hex};
use crate::space::Domain;

pub use validate::parse;

/// A mistake in a spec file, with enough context to fix it.
#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    /// The file could not be read.
    #[error("{file}: cannot read the sweep spec: {source}")]
    Read {
        /// The spec file.
        file: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is not valid TOML, has an unknown key, or a value is wrong.
    #[error("{file}:{}{key}{message}", line.map(|l| format!("{l}: ")).unwrap_or_default())]
    Invalid {
        /// The spec file.
        file: PathBuf,
        /// 1-based line, where known.
        line: Option<usize>,
        /// `key: ` prefix (the dotted key path), or empty when unknown.
        key: String,
        /// What is wrong: the value and what was expected.
        message: String,
    },
}

/// How trials are planned.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "method", rename_all = "snake_case")]
pub enum Method {
    /// Every combination of the listed values.
    Grid,
    /// `trials` seeded draws from the parameter domains.
    Random {
        /// How many trials to draw.
        trials: usize,
    },
    /// Tree-structured Parzen Estimator: `trials` proposals, each from the results
    /// of the batches before it.
    Tpe {
        /// How many configurations to propose.
        trials: usize,
        /// Start-up trials, candidates, gamma.
        settings: crate::sampler::tpe::TpeSettings,
    },
}

/// Whether larger or smaller values of the monitored metric are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Goal {
    /// Larger is better.
    Maximize,
    /// Smaller is better.
    Minimize,
}

impl Goal {
    /// `auto`: minimize names that contain "loss" or "error", maximize the rest.
    pub fn auto_for(metric: &str) -> Goal {
        if metric.contains("loss") || metric.contains("error") { Goal::Minimize } else { Goal::Maximize }
    }
}

/// Where the data come from and how they are split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSpec {
    /// CSV file, relative to the current directory.
    pub path: PathBuf,
    /// Name of the label column.
    pub target: String,
    /// Share of each class held out for validation.
    pub valid_fraction: f64,
}

/// The monitored metric: what the best-model callback watches and what ranks trials.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricSpec {
    /// One of [`crate::metrics::METRIC_NAMES`].
    pub name: String,
    /// Direction of improvement (`auto` already resolved).
    pub goal: Goal,
    /// An epoch counts as better only when it beats the best by more than this.
    pub min_delta: f64,
}

/// Stop a trial after `patience` epochs without improvement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EarlyStoppingSpec {
    /// Epochs without improvement before stopping.
    pub patience: usize,
    /// Minimum change that counts as improvement.
    pub min_delta: f64,
}

/// Early termination across trials (`[early_terminate]`).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EarlyTerminate {
    /// Asynchronous successive halving: at rung epochs `min_epochs · etaᵏ` (below
    /// `max_epochs`), a trial goes on only if its best value so far is in the top
    /// 1/eta of the trials that reached that rung before it.
    Asha {
        /// First rung (grace period).
        min_epochs: usize,
        /// Reduction factor.
        eta: usize,
        /// No rung at or after this epoch.
        max_epochs: usize,
    },
    /// Median stopping rule: after `warmup_epochs`, stop a trial whose best value
    /// so far is worse than the median of earlier trials' best values at the same epoch.
    Median {
        /// Epochs before any decision.
        warmup_epochs: usize,
        /// Earlier trials needed at that epoch before deciding.
        min_trials: usize,
    },
}

/// A validated sweep spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepSpec {
    /// The file it came from (not part of the spec hash).
    #[serde(skip)]
    pub source: PathBuf,
    /// Sweep name; results go to `results/<name>/`.
    pub name: String,
    /// Free text for people (not part of the spec hash).
    #[serde(skip)]
    pub description: Option<String>,
    /// Grid or random.
    pub method: Method,
    /// Sweep seed: the split and every trial's seed derive from it.
    pub seed: u64,
    /// Seeds per configuration (`repeats`, default 1).
    #[serde(default = "one")]
    pub repeats: usize,
    /// Concurrent trials asked for by the spec (results never depend on it).
    #[serde(skip)]
    pub workers: Option<usize>,
    /// Data source and split.
    pub data: DataSpec,
    /// Monitored metric.
    pub metric: MetricSpec,
    /// Settings fixed for every trial (`[train]`).
    pub train: Params,
    /// Optional per-trial early stopping.
    pub early_stopping: Option<EarlyStoppingSpec>,
    /// Optional early termination across trials.
    #[serde(default)]
    pub early_terminate: Option<EarlyTerminate>,
    /// Swept parameters and their domains.
    pub parameters: BTreeMap<String, Domain>,
    /// Which checkpoints a trial keeps (not hashed: it changes no metric).
    #[serde(skip)]
    pub checkpoint: CheckpointPolicy,
    /// Register the top trial as a new version of this model after each aggregation
    /// (not hashed: it changes no result).
    #[serde(skip)]
    pub register_as: Option<String>,
    /// Defaults for `sweep slurm` (`[slurm]`); never changes results, so not hashed.
    #[serde(skip)]
    pub slurm: SlurmDefaults,
}

/// Which checkpoints a trial writes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum CheckpointPolicy {
    /// Only the best epoch's, overwritten on improvement (the default).
    #[default]
    Best,
    /// The best one, plus every epoch's under `epochs/` (to measure what best-only saves).
    EveryEpoch,
}

/// The `[slurm]` table: defaults for `sweep slurm`, each overridable on the command line.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SlurmDefaults {
    /// `--partition`.
    pub partition: Option<String>,
    /// `--time`, in SLURM's format (`30`, `1:00:00`, `1-00:00:00`).
    pub time: Option<String>,
    /// `--cpus-per-task`.
    pub cpus_per_task: Option<u32>,
    /// `--mem` (`4G`, `500M`).
    pub mem: Option<String>,
    /// At most this many array tasks at once (`%K`).
    pub max_parallel: Option<u32>,
    /// Extra `sbatch` arguments, one per element.
    pub sbatch_args: Vec<String>,
}

impl SweepSpec {
    /// A hash of everything that decides the trials' results (not `workers`,
    /// not the file's name): two specs with the same hash plan and train the same trials.
    pub fn hash(&self) -> String {
        let canonical = serde_json::to_string(self).unwrap_or_default();
        hex(&Sha256::digest(canonical.as_bytes())[..8])
    }
}

fn one() -> usize {
    1
}

/// Reads and validates a spec file.
pub fn load(path: &Path) -> Result<SweepSpec, SpecError> {
    let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read { file: path.to_path_buf(), source })?;
    parse(&text, path)
}
