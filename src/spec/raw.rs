//! Serde structs that mirror the TOML file one to one (a W&B YAML file is
//! turned into the same TOML first, see [`super::wandb`]). Unknown keys are
//! rejected here; meaning is checked in [`super::validate`].

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSpec {
    pub name: Spanned<String>,
    pub objective: Option<Spanned<String>>,
    pub method: Spanned<String>,
    pub seed: Option<Spanned<i64>>,
    pub workers: Option<Spanned<i64>>,
    pub trials: Option<Spanned<i64>>,
    pub repeats: Option<Spanned<i64>>,
    pub description: Option<String>,
    pub register_as: Option<Spanned<String>>,
    pub checkpoint: Option<Spanned<String>>,
    /// Read key by key: its keys depend on the objective's data source.
    pub data: Option<Spanned<BTreeMap<String, Spanned<toml::Value>>>>,
    pub metric: RawMetric,
    #[serde(default)]
    pub train: BTreeMap<String, Spanned<toml::Value>>,
    #[serde(default)]
    pub parameters: BTreeMap<String, Spanned<RawParam>>,
    pub slurm: Option<RawSlurm>,
    pub tpe: Option<Spanned<crate::sampler::tpe::RawTpe>>,
    pub nsga2: Option<Spanned<crate::sampler::nsga2::RawNsga2>>,
    pub early_terminate: Option<Spanned<RawEarlyTerminate>>,
    pub report: Option<RawReport>,
    pub publish: Option<RawPublish>,
    pub command: Option<Spanned<RawCommand>>,
    pub resources: Option<Spanned<RawResources>>,
    pub select: Option<RawSelect>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawResources {
    pub device: Option<Spanned<String>>,
    pub devices: Option<Spanned<Vec<Spanned<i64>>>>,
    pub trials_per_device: Option<Spanned<i64>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSelect {
    pub constraints: Option<Vec<Spanned<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawCommand {
    pub argv: Option<Spanned<Vec<String>>>,
    pub program: Option<Spanned<String>>,
    pub interpreter: Option<Spanned<String>>,
    pub cwd: Option<Spanned<String>>,
    #[serde(default)]
    pub env: BTreeMap<String, Spanned<String>>,
    pub timeout: Option<Spanned<f64>>,
    pub predict: Option<Spanned<Vec<String>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawPublish {
    pub wandb: Option<Spanned<RawWandbTarget>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawWandbTarget {
    pub project: Option<Spanned<String>>,
    pub entity: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawReport {
    pub tensorboard: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEarlyTerminate {
    #[serde(rename = "type")]
    pub kind: String,
    pub min_epochs: Option<i64>,
    pub eta: Option<i64>,
    pub max_epochs: Option<i64>,
    pub warmup_epochs: Option<i64>,
    pub min_trials: Option<i64>,
    /// W&B's hyperband keys.
    pub min_iter: Option<i64>,
    pub max_iter: Option<i64>,
    pub s: Option<i64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawSlurm {
    pub partition: Option<Spanned<String>>,
    pub time: Option<Spanned<String>>,
    pub cpus_per_task: Option<Spanned<i64>>,
    pub mem: Option<Spanned<String>>,
    pub max_parallel: Option<Spanned<i64>>,
    #[serde(default)]
    pub sbatch_args: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawMetric {
    pub name: Spanned<String>,
    pub goal: Option<Spanned<String>>,
    pub min_delta: Option<Spanned<f64>>,
    pub bootstrap: Option<Spanned<i64>>,
    /// Each a column name, or `{ name, goal }`.
    pub trade_off: Option<Vec<Spanned<toml::Value>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawParam {
    pub values: Option<Vec<toml::Value>>,
    pub value: Option<toml::Value>,
    pub distribution: Option<String>,
    pub min: Option<toml::Value>,
    pub max: Option<toml::Value>,
    /// W&B's weights of `values` (a categorical with probabilities).
    pub probabilities: Option<Vec<toml::Value>>,
    /// The step of the `q_*` distributions.
    pub q: Option<toml::Value>,
    /// Mean of `normal` (of the logarithm, for `log_normal`).
    pub mu: Option<toml::Value>,
    /// Standard deviation of `normal` (of the logarithm, for `log_normal`).
    pub sigma: Option<toml::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct RawEarlyStopping {
    pub patience: i64,
    #[serde(default)]
    pub min_delta: f64,
}
