//! `sweep.json`: which spec a results folder belongs to, and the settings
//! the steps after the trials (aggregation, selection, publishing) read back,
//! so that `sweep aggregate` on a cluster does what `sweep run` would have.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};

use super::StoreError;
use crate::space::Domain;

/// The layout of `sweep.json` this version writes and reads.
///
/// Version 1 is the layout of [`SweepManifest`] as it stands: every folder
/// written before the field existed is version 1 too (read without the key),
/// with `register_as`, `selection` and `report` absent in the oldest ones
/// (read as their defaults). Bump it when a reader must tell two layouts
/// apart, and keep reading the older ones in [`SweepManifest::read`]; a folder
/// of a later version is refused rather than misread.
pub(crate) const MANIFEST_FORMAT_VERSION: u32 = 1;

/// `sweep.json`: which spec a results folder belongs to.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SweepManifest {
    /// The layout of this file ([`MANIFEST_FORMAT_VERSION`]).
    #[serde(default = "first_format")]
    pub format_version: u32,
    /// Sweep name.
    pub name: String,
    /// Spec hash.
    pub spec_hash: String,
    /// The spec file it was created from.
    pub spec_file: PathBuf,
    /// Number of planned trials.
    pub trials: usize,
    /// The validated spec.
    pub spec: RecordedSpec,
    /// When the folder was created.
    pub created_at: String,
    /// Version of sweep that created it.
    pub sweep_version: String,
    /// The spec's `register_as`: the model name the top trial is registered under.
    #[serde(default)]
    pub register_as: Option<String>,
    /// How aggregation picks and judges the models (absent in the oldest folders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selection: Option<Selection>,
    /// What aggregation publishes (`[report]`; absent in the oldest folders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub report: Option<ReportSpec>,
    /// Where aggregation publishes to (`[publish]`; absent when the spec has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish: Option<PublishSpec>,
}

fn first_format() -> u32 {
    1
}

impl SweepManifest {
    /// Reads `sweep.json` at `path`, refusing a layout later than this version reads.
    pub(crate) fn read(path: &Path) -> Result<SweepManifest, StoreError> {
        let manifest: SweepManifest = super::read_json(path)?;
        if manifest.format_version > MANIFEST_FORMAT_VERSION {
            return Err(StoreError::Parse {
                path: path.to_path_buf(),
                message: format!(
                    "format_version {} is newer than this sweep reads (up to {MANIFEST_FORMAT_VERSION}); \
                     use the sweep version that wrote it ({})",
                    manifest.format_version, manifest.sweep_version
                ),
            });
        }
        Ok(manifest)
    }
}

/// The `[report]` table: what aggregation publishes besides the leaderboard,
/// registry and report.html. Stored in the manifest, so `sweep aggregate`
/// (a SLURM array's aggregation job) does the same as `sweep run`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ReportSpec {
    /// `tensorboard = true`: TensorBoard event files under `results/<name>/tensorboard/`.
    #[serde(default)]
    pub tensorboard: bool,
}

/// The `[publish]` table: the trackers aggregation writes the sweep out for, stored in the
/// manifest like `[report]` so `sweep aggregate` (a SLURM array's aggregation job) does the same.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct PublishSpec {
    /// `wandb = { project = "...", entity = "..." }`: W&B offline runs under `results/<name>/wandb/`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wandb: Option<WandbTarget>,
}

/// Where W&B runs go once synced.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct WandbTarget {
    /// The project; default: the sweep's name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// The entity (user or team); default: the one `wandb sync` logs in as.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity: Option<String>,
}

/// Refuses a W&B project or entity name W&B refuses (empty, over 128 characters, or holding
/// one of `/ \ # ? % :`), before anything is written.
pub(crate) fn check_wandb_name(name: &str) -> Result<(), String> {
    const FORBIDDEN: &[char] = &['/', '\\', '#', '?', '%', ':'];
    if name.trim().is_empty() {
        return Err("got an empty name, expected a W&B project or entity name".into());
    }
    let chars = name.chars().count();
    if chars > 128 {
        return Err(format!("got a name of {chars} characters, W&B takes at most 128"));
    }
    if let Some(c) = name.chars().find(|c| FORBIDDEN.contains(c) || c.is_control()) {
        return Err(format!(
            "got \"{name}\", which holds {c:?}; W&B names cannot hold / \\ # ? % : or control characters"
        ));
    }
    Ok(())
}

/// How the aggregator picks and judges models, after the trials: stored in
/// the results folder's manifest, so `sweep aggregate` does the same.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Selection {
    /// `[data] test_top`: how many of the top models are evaluated on the test split.
    pub test_top: usize,
    /// `[metric] bootstrap`: resamples for the intervals and ties (0: none).
    pub bootstrap: usize,
    /// `[data] refit`: retrain the winning configuration on every non-test row.
    pub refit: bool,
    /// `[select] constraints`: what the picked model must meet.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<crate::pick::Constraint>,
    /// `[metric] trade_off`: what the monitored metric is traded against (`pareto_rank`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub trade_off: Vec<crate::pick::TradeOff>,
}

impl Default for Selection {
    fn default() -> Self {
        Selection { test_top: 5, bootstrap: 1000, refit: false, constraints: Vec::new(), trade_off: Vec::new() }
    }
}

/// The validated spec a manifest records, kept as the spec module wrote it (a
/// `SweepSpec`, which the store cannot name: the spec sits above it), with
/// typed readers for what the steps after the trials need. Readers are
/// lenient: a folder of an earlier version whose spec lacks a key, or holds
/// it in another shape, reads as if the key were not set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub(crate) struct RecordedSpec(serde_json::Value);

/// What the results themselves depend on in a recorded spec.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub(crate) struct RecordedSplits {
    /// The sweep's seed (0 where none is recorded).
    #[serde(default, deserialize_with = "lenient")]
    pub seed: u64,
    /// `[data]`'s split keys.
    #[serde(default, deserialize_with = "lenient")]
    pub data: RecordedData,
}

/// The split keys of a recorded `[data]` table.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub(crate) struct RecordedData {
    /// `test_fraction`, when the test split is a share of the rows.
    #[serde(default, deserialize_with = "lenient")]
    pub test_fraction: Option<f64>,
    /// `test_path`, when the test split is a file of its own.
    #[serde(default, deserialize_with = "lenient")]
    pub test_path: Option<PathBuf>,
    /// `cv_folds`, under cross-validation.
    #[serde(default, deserialize_with = "lenient")]
    pub cv_folds: Option<usize>,
}

impl RecordedData {
    /// Whether the sweep holds out a test split.
    pub(crate) fn has_test(&self) -> bool {
        self.test_fraction.is_some() || self.test_path.is_some()
    }
}

/// A key of an earlier layout that no longer reads as `T` reads as unset.
fn lenient<'de, D: Deserializer<'de>, T: DeserializeOwned + Default>(d: D) -> Result<T, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    Ok(serde_json::from_value(value).unwrap_or_default())
}

impl RecordedSpec {
    /// Records a spec as its serialized form.
    pub(crate) fn new(spec: serde_json::Value) -> Self {
        RecordedSpec(spec)
    }

    /// The whole spec as `T` (the spec module's `SweepSpec`); fails for a spec
    /// of a layout `T` does not read.
    pub(crate) fn parse<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        serde_json::from_value(self.0.clone())
    }

    /// The seed and split keys (defaults for what is not recorded).
    pub(crate) fn splits(&self) -> RecordedSplits {
        serde_json::from_value(self.0.clone()).unwrap_or_default()
    }

    /// The spec's `description`, where it has one.
    pub(crate) fn description(&self) -> Option<String> {
        self.0.get("description").and_then(|d| d.as_str()).map(String::from)
    }

    /// The swept parameters' domains (none when an earlier layout does not read as domains).
    pub(crate) fn parameters(&self) -> BTreeMap<String, Domain> {
        #[derive(Deserialize)]
        struct Parameters {
            #[serde(default, deserialize_with = "lenient")]
            parameters: BTreeMap<String, Domain>,
        }
        serde_json::from_value::<Parameters>(self.0.clone()).map(|p| p.parameters).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest_json(extra: &str, spec: &str) -> String {
        format!(
            r#"{{{extra}"name":"s","spec_hash":"h","spec_file":"s.toml","trials":2,"spec":{spec},
                "created_at":"2026-01-01T00:00:00Z","sweep_version":"0.1.0"}}"#
        )
    }

    #[test]
    fn a_folder_without_a_format_version_reads_as_version_1_and_a_later_one_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("sweep.json");
        std::fs::write(&path, manifest_json("", "{}")).unwrap();
        let old = SweepManifest::read(&path).unwrap();
        assert_eq!(old.format_version, 1);
        assert_eq!((old.selection, old.report, old.register_as), (None, None, None), "the oldest keys are optional");

        std::fs::write(&path, manifest_json(r#""format_version":2,"#, "{}")).unwrap();
        let err = SweepManifest::read(&path).unwrap_err().to_string();
        assert!(err.contains("format_version 2 is newer than this sweep reads (up to 1)"), "{err}");
    }

    #[test]
    fn a_new_manifest_writes_its_version_first_and_reads_back_equal() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("sweep.json");
        std::fs::write(&path, manifest_json(r#""format_version":1,"#, r#"{"seed":3}"#)).unwrap();
        let manifest = SweepManifest::read(&path).unwrap();
        let written = serde_json::to_string(&manifest).unwrap();
        assert!(written.starts_with(r#"{"format_version":1,"name":"s""#), "{written}");
        assert_eq!(serde_json::from_str::<SweepManifest>(&written).unwrap(), manifest);
    }

    #[test]
    fn the_recorded_splits_are_typed_and_lenient_to_earlier_layouts() {
        let spec = RecordedSpec::new(serde_json::json!({
            "seed": 7, "data": {"test_fraction": 0.2, "cv_folds": 5, "path": "d.csv"}
        }));
        let splits = spec.splits();
        assert_eq!(splits.seed, 7);
        assert_eq!(splits.data.cv_folds, Some(5));
        assert!(splits.data.has_test());
        let by_path = RecordedSpec::new(serde_json::json!({"data": {"test_path": "t.csv"}})).splits();
        assert_eq!((by_path.seed, by_path.data.has_test()), (0, true));

        // A key in another shape (a negative seed, a string of folds) is unset, and the rest still reads.
        let odd =
            RecordedSpec::new(serde_json::json!({"seed": -1, "data": {"cv_folds": "five", "test_fraction": 0.1}}));
        assert_eq!(
            odd.splits(),
            RecordedSplits {
                seed: 0,
                data: RecordedData { test_fraction: Some(0.1), test_path: None, cv_folds: None }
            }
        );
        assert_eq!(RecordedSpec::new(serde_json::Value::Null).splits(), RecordedSplits::default());
        assert!(RecordedSpec::new(serde_json::json!({"parameters": 3})).parameters().is_empty());
    }
}
