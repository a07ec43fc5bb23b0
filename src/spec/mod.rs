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

pub(crate) use crate::callback::{EarlyStoppingSpec, EarlyTerminate};
pub(crate) use crate::metrics::{Goal, Monitor, Task};
pub(crate) use crate::objective::command::CommandSpec;
pub(crate) use crate::sampler::Method;
pub(crate) use crate::store::{PublishSpec, ReportSpec, Selection, WandbTarget};
pub(crate) use validate::parse;

use crate::data::{Categorical, CsvOptions, MissingSpec, StepsSpec, Unseen};
use crate::objective::Catalog;
use crate::params::{Params, hex};
use crate::plan::Plan;
use crate::space::Domain;
use crate::store::SweepManifest;
use crate::text::one_line;

/// A mistake in a spec file, with enough context to fix it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SpecError {
    /// The file could not be read.
    #[error("{}: cannot read the sweep spec: {source}", one_line(&file.display().to_string()))]
    Read { file: PathBuf, source: std::io::Error },
    /// The file is not valid TOML, has an unknown key, or a value is wrong.
    #[error(
        "{}:{}{}{}",
        one_line(&file.display().to_string()),
        line.map(|l| format!("{l}: ")).unwrap_or_default(),
        one_line(key),
        one_line(message)
    )]
    Invalid {
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
pub(crate) struct DataSpec {
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
    /// Text columns one-hot encoded as categories.
    #[serde(default, skip_serializing_if = "Categorical::is_none")]
    pub categorical: Categorical,
    /// What missing feature cells become.
    #[serde(default, skip_serializing_if = "MissingSpec::is_default")]
    pub missing: MissingSpec,
    /// What counts as a missing cell (default: empty, NA, NaN, null).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub na_values: Option<Vec<String>>,
    /// What a category the training rows never had becomes at prediction.
    #[serde(default, skip_serializing_if = "is_ignore")]
    pub unseen: Unseen,
}

fn is_ignore(unseen: &Unseen) -> bool {
    *unseen == Unseen::Ignore
}

fn is_classification(task: &Task) -> bool {
    *task == Task::Classification
}

impl DataSpec {
    /// Whether a test split is held out.
    pub(crate) fn has_test(&self) -> bool {
        self.test_fraction.is_some() || self.test_path.is_some()
    }

    /// The CSV file and its column choice, when the bundled loader reads the rows.
    pub(crate) fn csv(&self) -> Option<(&Path, CsvOptions)> {
        let path = self.path.as_deref()?;
        let options = CsvOptions {
            target: self.target.clone().unwrap_or_else(|| "target".into()),
            features: self.features.clone(),
            drop: self.drop.clone(),
            steps: StepsSpec {
                categorical: self.categorical.clone(),
                missing: self.missing.clone(),
                na_values: self.na_values.clone(),
                unseen: self.unseen,
            },
        };
        Some((path, options))
    }
}

/// A validated sweep spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SweepSpec {
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
    /// The trackers published to after each aggregation (`[publish]`; not hashed: it changes no result).
    #[serde(skip)]
    pub publish: PublishSpec,
    /// `objective = "command"`: the program each trial runs (`[command]`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<CommandSpec>,
    /// Where trials compute (`[resources]`). Not hashed: every trial records
    /// its device, and `--device` may choose another one for a run.
    #[serde(skip)]
    pub resources: crate::device::Resources,
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
pub(crate) enum CheckpointPolicy {
    /// Only the best epoch's, overwritten on improvement (the default).
    #[default]
    Best,
    /// The best one, plus every epoch's under `epochs/` (to measure what best-only saves).
    EveryEpoch,
}

/// The `[slurm]` table: defaults for `sweep slurm`, each overridable on the command line.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct SlurmDefaults {
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
    pub(crate) fn hash(&self) -> String {
        let canonical = serde_json::to_string(self).unwrap_or_default();
        hex(&Sha256::digest(canonical.as_bytes())[..8])
    }

    /// The trials this spec plans: with `cv_folds`, every configuration once per fold.
    pub(crate) fn plan(&self) -> Plan {
        Plan::new(&self.method, &self.parameters, self.seed, self.trials_per_config())
    }

    /// Trials per configuration: the folds of cross-validation, else `repeats`.
    pub(crate) fn trials_per_config(&self) -> usize {
        self.data.cv_folds.unwrap_or(self.repeats)
    }

    /// The manifest of a results folder made by this spec, with `trials` planned trials.
    pub(crate) fn manifest(&self, trials: usize) -> SweepManifest {
        SweepManifest {
            name: self.name.clone(),
            format_version: crate::store::MANIFEST_FORMAT_VERSION,
            spec_hash: self.hash(),
            spec_file: self.source.clone(),
            trials,
            spec: crate::store::RecordedSpec::new(serde_json::to_value(self).unwrap_or(serde_json::Value::Null)),
            created_at: crate::store::now_rfc3339(),
            sweep_version: env!("CARGO_PKG_VERSION").to_string(),
            register_as: self.register_as.clone(),
            selection: Some(self.selection.clone()),
            report: Some(self.report),
            publish: (self.publish != PublishSpec::default()).then(|| self.publish.clone()),
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
pub(crate) fn load(path: &Path, catalog: &Catalog) -> Result<SweepSpec, SpecError> {
    let (spec, notices) = load_with_notices(path, catalog)?;
    for notice in notices {
        eprintln!("{notice}");
    }
    Ok(spec)
}

/// [`load`], returning what it would say instead of saying it (a worker
/// process of a run reads the spec its parent has already reported on).
pub(crate) fn load_with_notices(path: &Path, catalog: &Catalog) -> Result<(SweepSpec, Vec<String>), SpecError> {
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

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::objective::builtin;

    const SPEC: &str = r#"name = "fuzz"
method = "random"
trials = 3
seed = 1
workers = 2
[data]
path = "data/digits.csv"
valid_fraction = 0.2
[metric]
name = "mcc"
goal = "maximize"
[train]
epochs = 2
early_stopping = { patience = 2, min_delta = 0.0 }
[parameters]
lr = { distribution = "log_uniform_values", min = 0.001, max = 0.1 }
hidden = { values = [16, 32] }
dropout = { value = 0.1 }
"#;

    const WANDB: &str = "name: fuzz\nmethod: bayes\nrun_cap: 4\nmetric:\n  name: mcc\n  goal: maximize\n\
        parameters:\n  lr:\n    distribution: log_uniform_values\n    min: 0.001\n    max: 0.1\n  hidden:\n    values: [16, 32]\n";

    /// Text with the kinds of trouble a spec can hold: names with `/`, `..`,
    /// NUL and newlines, very long values, odd numbers, and stray TOML.
    fn nasty() -> impl Strategy<Value = String> {
        prop_oneof![
            any::<String>(),
            "[a-z./\\\\\\x00\\n\"'\\[\\]{}=#,@-]{0,40}",
            Just("../../etc".to_string()),
            Just("a/b".to_string()),
            Just("nul\0byte".to_string()),
            (1usize..3).prop_map(|k| "x".repeat(4097 * k)),
            Just("1e999".to_string()),
            Just("-0".to_string()),
            Just("nan".to_string()),
            Just("9223372036854775808".to_string()),
        ]
    }

    /// `base` with a few edits: text inserted, a range deleted, or a value replaced.
    fn mutated(base: &'static str) -> impl Strategy<Value = String> {
        proptest::collection::vec((any::<prop::sample::Index>(), 0..4u8, nasty()), 1..4).prop_map(move |edits| {
            let mut text = base.to_string();
            for (at, kind, insert) in edits {
                let mut i = at.index(text.len() + 1);
                while !text.is_char_boundary(i) {
                    i -= 1;
                }
                match kind {
                    0 => text.insert_str(i, &insert),
                    1 => {
                        let mut end = (i + insert.len() % 16 + 1).min(text.len());
                        while !text.is_char_boundary(end) {
                            end += 1;
                        }
                        text.replace_range(i..end, "");
                    }
                    2 => {
                        // Replace the value of the line at `i`: `key = <nasty>`, quoted or not.
                        let start = text[..i].rfind('\n').map_or(0, |p| p + 1);
                        let end = text[i..].find('\n').map_or(text.len(), |p| i + p);
                        if let Some(eq) = text[start..end].find('=').map(|p| start + p) {
                            let quoted = format!(" \"{}\"", insert.replace('\\', "\\\\").replace('"', "\\\""));
                            text.replace_range(eq + 1..end, if i % 2 == 0 { &quoted } else { &insert });
                        }
                    }
                    _ => text.insert_str(i, &format!("\n{insert} = {insert:?}\n")),
                }
            }
            text
        })
    }

    fn check(result: Result<SweepSpec, SpecError>, file: &Path) -> Result<(), TestCaseError> {
        if let Err(e) = result {
            let message = e.to_string();
            prop_assert!(message.starts_with(&file.display().to_string()), "does not name the file: {message}");
            prop_assert!(!message.contains(['\n', '\r', '\0']), "not one line: {message:?}");
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

        #[test]
        fn any_toml_text_is_a_spec_or_one_line_naming_the_file(text in prop_oneof![mutated(SPEC), any::<String>()]) {
            let catalog = Catalog::new(builtin()).unwrap();
            let file = Path::new("sweeps/fuzz.toml");
            check(parse(&text, file, &catalog), file)?;
        }

        #[test]
        fn any_wandb_text_is_a_spec_or_one_line_naming_the_file(text in prop_oneof![mutated(WANDB), any::<String>()]) {
            let catalog = Catalog::new(builtin()).unwrap();
            let file = Path::new("sweeps/fuzz.yaml");
            check(wandb::parse(&text, file, &catalog).map(|(spec, _)| spec), file)?;
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 500, failure_persistence: None, ..ProptestConfig::default() })]

        /// Bytes from a file, not text: invalid UTF-8 included.
        #[test]
        fn any_file_is_a_spec_or_one_line_naming_the_file(
            bytes in prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..300),
                (mutated(SPEC), proptest::collection::vec(any::<u8>(), 1..4), any::<prop::sample::Index>())
                    .prop_map(|(text, junk, at)| {
                        let mut bytes = text.into_bytes();
                        let at = at.index(bytes.len() + 1);
                        bytes.splice(at..at, junk);
                        bytes
                    }),
            ],
            yaml in any::<bool>(),
        ) {
            let catalog = Catalog::new(builtin()).unwrap();
            let dir = tempfile::tempdir().unwrap();
            let file = dir.path().join(if yaml { "s.yaml" } else { "s.toml" });
            std::fs::write(&file, &bytes).unwrap();
            check(load_with_notices(&file, &catalog).map(|(spec, _)| spec), &file)?;
        }
    }
}
