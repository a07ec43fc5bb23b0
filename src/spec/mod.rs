//! The sweep spec: a TOML file, or a W&B sweep configuration in YAML (a
//! `.yaml` or `.yml` file, read as the TOML spec it means), loaded and
//! validated once at the boundary, against the objective it selects.
//!
//! Key names follow W&B sweep configs where they overlap (`method`,
//! `metric.name`, `metric.goal`, `parameters.X.values`, `distribution`, `min`,
//! `max`). After [`load`] succeeds, the rest of the program works with the
//! typed [`SweepSpec`] and never re-checks user input.

mod raw;
mod validate;
mod wandb;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

pub use crate::callback::{EarlyStoppingSpec, EarlyTerminate};
pub use crate::metrics::{Goal, Monitor, Task};
pub use crate::sampler::Method;
pub use validate::parse;

use crate::data::CsvOptions;
use crate::objective::Catalog;
use crate::params::{Params, hex};
use crate::plan::Plan;
use crate::space::Domain;
use crate::store::SweepManifest;

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

/// Where the rows come from and how they are split (`[data]`).
///
/// With the bundled CSV loader, `path` and `target` name the file and its
/// target column, and `features` or `drop` choose the feature columns. An
/// objective with its own data source reads `options` instead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataSpec {
    /// CSV file, relative to the current directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<PathBuf>,
    /// Name of the target column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Share of the rows (of each class, for classification) held out for validation.
    pub valid_fraction: f64,
    /// What the model predicts.
    #[serde(default, skip_serializing_if = "is_classification")]
    pub task: Task,
    /// Exactly these feature columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub features: Option<Vec<String>>,
    /// Every column but the target and these.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub drop: Vec<String>,
    /// An objective's own data source: its options, resolved.
    #[serde(default, skip_serializing_if = "Params::is_empty")]
    pub options: Params,
    /// Share of the rows (of each class) carved out first as the test split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_fraction: Option<f64>,
    /// A separate CSV file with the same columns as the test split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_path: Option<PathBuf>,
    /// Cross-validation: every configuration is trained once per fold.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cv_folds: Option<usize>,
}

fn is_classification(task: &Task) -> bool {
    *task == Task::Classification
}

impl DataSpec {
    /// Whether a test split is held out.
    pub fn has_test(&self) -> bool {
        self.test_fraction.is_some() || self.test_path.is_some()
    }

    /// The CSV file and its column choice, when the bundled loader reads the rows.
    pub fn csv(&self) -> Option<(&Path, CsvOptions)> {
        let path = self.path.as_deref()?;
        let options = CsvOptions {
            target: self.target.clone().unwrap_or_else(|| "target".into()),
            features: self.features.clone(),
            drop: self.drop.clone(),
        };
        Some((path, options))
    }
}

/// A validated sweep spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SweepSpec {
    /// The file it came from (not part of the spec hash).
    #[serde(skip)]
    pub source: PathBuf,
    /// Sweep name; results go to `results/<name>/`.
    pub name: String,
    /// The objective that trains each trial (`objective`, default `mlp`).
    #[serde(default = "default_objective", skip_serializing_if = "is_default_objective")]
    pub objective: String,
    /// Free text for people (not part of the spec hash).
    #[serde(skip)]
    pub description: Option<String>,
    /// Grid, random or TPE.
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
    /// The monitored metric.
    #[serde(serialize_with = "monitor_as_spec")]
    pub metric: Monitor,
    /// Parameters fixed for every trial (`[train]`), checked against the objective's schema.
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
    /// What aggregation does to pick and judge the models (not hashed: it
    /// changes no trial, so it may change between runs of one sweep).
    #[serde(skip)]
    pub selection: Selection,
    /// What is published after each aggregation (`[report]`; not hashed: it changes no result).
    #[serde(skip)]
    pub report: ReportSpec,
}

/// The `[report]` table: what aggregation publishes besides the leaderboard,
/// registry and report.html. Stored in the manifest, so `sweep aggregate`
/// (a SLURM array's aggregation job) does the same as `sweep run`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportSpec {
    /// `tensorboard = true`: TensorBoard event files under `results/<name>/tensorboard/`.
    #[serde(default)]
    pub tensorboard: bool,
}

/// How the aggregator picks and judges models, after the trials: stored in
/// the results folder's manifest, so `sweep aggregate` does the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Selection {
    /// `[data] test_top`: how many of the top models are evaluated on the test split.
    pub test_top: usize,
    /// `[metric] bootstrap`: resamples for the intervals and ties (0: none).
    pub bootstrap: usize,
    /// `[data] refit`: retrain the winning configuration on every non-test row.
    pub refit: bool,
}

impl Default for Selection {
    fn default() -> Self {
        Selection { test_top: 5, bootstrap: 1000, refit: false }
    }
}

fn default_objective() -> String {
    Catalog::DEFAULT.to_string()
}

fn is_default_objective(name: &String) -> bool {
    name == Catalog::DEFAULT
}

/// `[metric]` as the spec writes it (`name`, not `metric`), so that spec hashes
/// stay what they were before the monitored metric became one type.
fn monitor_as_spec<S: serde::Serializer>(m: &Monitor, s: S) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct AsSpec<'a> {
        name: &'a str,
        goal: Goal,
        min_delta: f64,
    }
    AsSpec { name: &m.metric, goal: m.goal, min_delta: m.min_delta }.serialize(s)
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

    /// The trials this spec plans: with `cv_folds`, every configuration once per fold.
    pub fn plan(&self) -> Plan {
        Plan::new(&self.method, &self.parameters, self.seed, self.trials_per_config())
    }

    /// Trials per configuration: the folds of cross-validation, else `repeats`.
    pub fn trials_per_config(&self) -> usize {
        self.data.cv_folds.unwrap_or(self.repeats)
    }

    /// The manifest of a results folder made by this spec, with `trials` planned trials.
    pub fn manifest(&self, trials: usize) -> SweepManifest {
        SweepManifest {
            name: self.name.clone(),
            spec_hash: self.hash(),
            spec_file: self.source.clone(),
            trials,
            spec: serde_json::to_value(self).unwrap_or(serde_json::Value::Null),
            created_at: crate::store::now_rfc3339(),
            sweep_version: env!("CARGO_PKG_VERSION").to_string(),
            register_as: self.register_as.clone(),
            selection: Some(self.selection),
            report: Some(self.report),
        }
    }
}

fn one() -> usize {
    1
}

/// Reads and validates a spec file against the objectives of `catalog`: a
/// `.yaml` or `.yml` file as a W&B sweep configuration, any other as TOML.
/// What a W&B file needs said (`method: bayes` runs TPE, keys sweep ignores)
/// goes to stderr.
pub fn load(path: &Path, catalog: &Catalog) -> Result<SweepSpec, SpecError> {
    let (spec, notices) = load_with_notices(path, catalog)?;
    for notice in notices {
        eprintln!("{notice}");
    }
    Ok(spec)
}

/// [`load`], returning what it would say instead of saying it (a worker
/// process of a run reads the spec its parent has already reported on).
pub fn load_with_notices(path: &Path, catalog: &Catalog) -> Result<(SweepSpec, Vec<String>), SpecError> {
    let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read { file: path.to_path_buf(), source })?;
    let extension = path.extension().and_then(|e| e.to_str()).unwrap_or_default().to_ascii_lowercase();
    match extension.as_str() {
        "yaml" | "yml" => wandb::parse(&text, path, catalog),
        "toml" => Ok((parse(&text, path, catalog)?, Vec::new())),
        _ => parse(&text, path, catalog).map(|spec| (spec, Vec::new())).map_err(|e| match e {
            SpecError::Invalid { file, line, key, message } => SpecError::Invalid {
                file,
                line,
                key,
                message: format!(
                    "{message} (read as TOML: sweep reads .toml files as TOML and .yaml or .yml files as \
                     W&B sweep configurations, and tries TOML for any other)"
                ),
            },
            other => other,
        }),
    }
}
