//! The model registry that spans sweeps: `results/registry/`, plain files,
//! no server, safe to rsync.
//!
//! ```text
//! results/registry/
//!   .lock                      held (flock) while the registry changes
//!   models/<name>/model.json   versions with their lineage, and aliases
//!   models/<name>/v<N>/        the registered trial's files (hard links or copies):
//!                              best.safetensors, best.json, preprocessing.json, trial.json, history.csv
//! ```
//!
//! A registered model keeps its own files, so deleting the sweep's folder does
//! not break it. Every change takes the lock, then writes `model.json`
//! atomically, so two `register`/`alias` commands at once cannot corrupt it.

mod model_ref;

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub(crate) use model_ref::{ModelRef, Selector, validate_name};

use crate::metrics::{Metrics, Monitor};
use crate::params::Params;
use crate::store::{self, StoreError, SweepDir, TrialRecord, names};

/// Why a registry operation failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RegistryError {
    /// A name or alias that cannot be a folder name.
    #[error(
        "{what} {value:?} is not allowed: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit (no '/', no '..')"
    )]
    BadName {
        /// "model name" or "alias".
        what: &'static str,
        value: String,
    },
    /// A model reference that does not parse; `why` is what part of it is wrong.
    #[error("{reference:?} is not a model reference: {why}")]
    BadRef { reference: String, why: String },
    /// No such model.
    #[error("no model \"{name}\" in {registry}; registered models: {known}")]
    UnknownModel {
        name: String,
        registry: PathBuf,
        /// What there is.
        known: String,
    },
    /// No such version or alias.
    #[error("model \"{name}\" has no {what}; it has versions 1 to {latest} and aliases: {aliases}")]
    UnknownSelector {
        name: String,
        /// "version 7" or "alias \"prod\"".
        what: String,
        /// The latest version.
        latest: u32,
        /// The aliases.
        aliases: String,
    },
    /// The trial cannot be registered.
    #[error("{dir}: {message}")]
    NotRegistrable { dir: PathBuf, message: String },
    /// Files could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An alias is a name that cannot be read as a version: not a number, not `latest`.
pub(crate) fn validate_alias(alias: &str) -> Result<(), RegistryError> {
    validate_name(alias, "alias")?;
    if alias.parse::<u32>().is_ok() || alias == "latest" {
        return Err(RegistryError::BadName { what: "alias", value: alias.to_string() });
    }
    Ok(())
}

/// One registered version of a model, with its lineage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ModelVersion {
    /// 1, 2, ...
    pub version: u32,
    /// The sweep it came from.
    pub sweep: String,
    /// The trial.
    pub trial_id: String,
    /// Hash of the sweep's spec.
    pub spec_hash: String,
    /// Swept params.
    pub params: Params,
    /// Every parameter of the objective, resolved.
    pub settings: Params,
    /// The objective that trained it.
    #[serde(default = "mlp")]
    pub objective: String,
    /// Its version.
    #[serde(default = "first_version")]
    pub objective_version: String,
    /// The trial's seed.
    pub seed: u64,
    /// The epoch of the checkpoint.
    pub best_epoch: usize,
    /// All metrics of that epoch.
    pub metrics: Metrics,
    /// What the sweep ranked by.
    pub monitor: Monitor,
    /// SHA-256 of the training data file.
    pub data_fingerprint: String,
    /// SHA-256 of the checkpoint.
    pub checkpoint_sha256: String,
    /// When the trial finished.
    pub trained_at: String,
    /// When it was registered.
    pub registered_at: String,
    /// The trial folder it was copied from.
    pub source: PathBuf,
    /// Every metric on its sweep's test split, when it was evaluated there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test_metrics: Option<Metrics>,
    /// For a refit: what it retrains and its cross-validated metrics (`metrics` are their means).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refit: Option<crate::store::RefitInfo>,
    /// The device that trained it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<crate::device::DeviceInfo>,
}

fn mlp() -> String {
    "mlp".to_string()
}

fn first_version() -> String {
    "1".to_string()
}

/// `models/<name>/model.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct ModelEntry {
    /// The model's name.
    pub name: String,
    /// Every version, oldest first.
    pub versions: Vec<ModelVersion>,
    /// Alias → version.
    pub aliases: BTreeMap<String, u32>,
}

impl ModelEntry {
    /// Aliases pointing at `version`.
    pub(crate) fn aliases_of(&self, version: u32) -> Vec<&str> {
        self.aliases.iter().filter(|(_, v)| **v == version).map(|(a, _)| a.as_str()).collect()
    }
}

#[derive(Debug, Clone)]
pub(crate) struct Registry {
    root: PathBuf,
}

/// Files a version folder holds, copied from the trial folder.
const VERSION_FILES: [&str; 5] =
    [names::CHECKPOINT, names::BEST_METADATA, names::PREPROCESSING, names::RECORD, names::HISTORY];
/// Files copied too where the trial has them.
const OPTIONAL_VERSION_FILES: [&str; 2] = [names::TEST_METRICS, names::VALID_OUTPUTS];

impl Registry {
    /// The registry at `root` (it need not exist yet).
    pub(crate) fn new(root: impl Into<PathBuf>) -> Self {
        Registry { root: root.into() }
    }

    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    fn model_dir(&self, name: &str) -> PathBuf {
        self.root.join("models").join(name)
    }

    /// The folder holding a version's files.
    pub(crate) fn version_dir(&self, name: &str, version: u32) -> PathBuf {
        self.model_dir(name).join(format!("v{version}"))
    }

    /// Takes the registry's exclusive lock until the returned file is dropped.
    fn lock(&self) -> Result<File, StoreError> {
        std::fs::create_dir_all(&self.root).map_err(StoreError::io(&self.root))?;
        let path = self.root.join(".lock");
        let file =
            File::options().create(true).truncate(false).write(true).open(&path).map_err(StoreError::io(&path))?;
        file.lock().map_err(StoreError::io(&path))?;
        Ok(file)
    }

    /// A model's entry, if registered.
    pub(crate) fn entry(&self, name: &str) -> Result<Option<ModelEntry>, RegistryError> {
        let path = self.model_dir(name).join("model.json");
        if !path.exists() {
            return Ok(None);
        }
        Ok(Some(store::read_json(&path)?))
    }

    /// Every model, by name.
    pub(crate) fn list(&self) -> Result<Vec<ModelEntry>, RegistryError> {
        let models = self.root.join("models");
        let Ok(dir) = std::fs::read_dir(&models) else {
            return Ok(Vec::new());
        };
        let mut names: Vec<String> =
            dir.filter_map(|e| e.ok()).filter_map(|e| e.file_name().into_string().ok()).collect();
        names.sort();
        let mut out = Vec::new();
        for name in names {
            if let Some(entry) = self.entry(&name)? {
                out.push(entry);
            }
        }
        Ok(out)
    }

    /// Registers trial `trial_id` of the sweep in `sweep_dir` as a new version of
    /// `name`. If the latest version already is that very checkpoint, returns it
    /// unchanged (`false`); otherwise the new version (`true`).
    pub(crate) fn register(
        &self,
        sweep_dir: &SweepDir,
        trial_id: &str,
        name: &str,
    ) -> Result<(ModelVersion, bool), RegistryError> {
        validate_name(name, "model name")?;
        let trial_dir = sweep_dir.trial_dir(trial_id);
        let refuse = |message: String| RegistryError::NotRegistrable { dir: trial_dir.clone(), message };
        let record_path = trial_dir.join(names::RECORD);
        if !record_path.exists() {
            return Err(refuse(format!("no complete trial \"{trial_id}\" here (no {})", names::RECORD)));
        }
        let record: TrialRecord = store::read_json(&record_path)?;
        if !record.status.has_model() {
            return Err(refuse(format!(
                "trial {trial_id} {}, only completed trials can be registered",
                record.status.as_str()
            )));
        }
        let (Some(best_epoch), Some(sha)) = (record.best_epoch, record.checkpoint_sha256.clone()) else {
            return Err(refuse(format!("trial {trial_id} saved no checkpoint")));
        };
        let checkpoint = trial_dir.join(names::CHECKPOINT);
        let bytes = std::fs::read(&checkpoint).map_err(StoreError::io(&checkpoint))?;
        let actual = store::sha256_hex(&bytes);
        if actual != sha {
            return Err(refuse(format!(
                "checkpoint sha256 is {actual}, but the trial record says {sha}; refusing to register a model its metadata does not describe"
            )));
        }

        let _lock = self.lock()?;
        let mut entry = self.entry(name)?.unwrap_or_else(|| ModelEntry {
            name: name.to_string(),
            versions: Vec::new(),
            aliases: BTreeMap::new(),
        });
        if let Some(last) = entry.versions.last().filter(|v| v.checkpoint_sha256 == sha && v.trial_id == trial_id) {
            return Ok((last.clone(), false));
        }
        let version = entry.versions.last().map_or(1, |v| v.version + 1);
        let dir = self.version_dir(name, version);
        // A leftover from a registration that died half-way: it was never in model.json.
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(StoreError::io(&dir))?;
        }
        std::fs::create_dir_all(&dir).map_err(StoreError::io(&dir))?;
        let test: Option<store::SplitEvaluation> = store::read_json(&trial_dir.join(names::TEST_METRICS))
            .ok()
            .filter(|t: &store::SplitEvaluation| t.checkpoint_sha256 == sha);
        let optional = OPTIONAL_VERSION_FILES.into_iter().filter(|f| match *f {
            names::TEST_METRICS => test.is_some(),
            other => trial_dir.join(other).exists(),
        });
        // A version folder that model.json does not list is nobody's: one that could not be
        // completed (a full disk) goes at once, leaving no half copy behind.
        let unlisted = |e: StoreError| {
            let _ = std::fs::remove_dir_all(&dir);
            e
        };
        for file in VERSION_FILES.into_iter().chain(optional) {
            let from = trial_dir.join(file);
            let to = dir.join(file);
            // Trial files are only ever replaced by rename, never changed in place, so a hard link is safe.
            if std::fs::hard_link(&from, &to).is_err() {
                std::fs::copy(&from, &to).map_err(StoreError::io(&to)).map_err(unlisted)?;
            }
        }
        let registered = ModelVersion {
            version,
            sweep: record.sweep.clone(),
            trial_id: record.id.clone(),
            spec_hash: record.spec_hash.clone(),
            params: record.params.clone(),
            settings: record.settings.clone(),
            objective: record.objective.clone(),
            objective_version: record.objective_version.clone(),
            seed: record.seed,
            best_epoch,
            metrics: record.best_metrics.clone(),
            monitor: record.monitor.clone(),
            data_fingerprint: record.data_fingerprint.clone(),
            checkpoint_sha256: sha,
            trained_at: record.finished_at.clone(),
            registered_at: store::now_rfc3339(),
            source: std::path::absolute(&trial_dir).unwrap_or(trial_dir.clone()),
            test_metrics: test.map(|t| t.metrics),
            refit: record.refit.clone(),
            device: record.device.clone(),
        };
        entry.versions.push(registered.clone());
        store::write_json(&self.model_dir(name).join("model.json"), &entry).map_err(unlisted)?;
        Ok((registered, true))
    }

    /// Points `alias` at `name`'s `version` (creating or moving it).
    pub(crate) fn set_alias(&self, name: &str, version: u32, alias: &str) -> Result<Option<u32>, RegistryError> {
        validate_alias(alias)?;
        // An unknown model is bad input: say so before the lock creates the registry's folder.
        self.require(name)?;
        let _lock = self.lock()?;
        let mut entry = self.require(name)?;
        if !entry.versions.iter().any(|v| v.version == version) {
            return Err(unknown_selector(&entry, format!("version {version}")));
        }
        let previous = entry.aliases.insert(alias.to_string(), version);
        store::write_json(&self.model_dir(name).join("model.json"), &entry)?;
        Ok(previous)
    }

    fn require(&self, name: &str) -> Result<ModelEntry, RegistryError> {
        validate_name(name, "model name")?;
        self.entry(name)?.ok_or_else(|| RegistryError::UnknownModel {
            name: name.to_string(),
            registry: self.root.clone(),
            known: self
                .list()
                .map(|l| l.iter().map(|e| e.name.clone()).collect::<Vec<_>>().join(", "))
                .unwrap_or_default(),
        })
    }

    /// The version a `NAME[@VERSION|@ALIAS]` reference means, and its folder.
    pub(crate) fn resolve(
        &self,
        name: &str,
        selector: &Selector,
    ) -> Result<(ModelEntry, ModelVersion, PathBuf), RegistryError> {
        let entry = self.require(name)?;
        let version = match selector {
            Selector::Latest => entry.versions.last().map(|v| v.version),
            Selector::Version(v) => Some(*v),
            Selector::Alias(a) => entry.aliases.get(a).copied(),
        };
        let found = version.and_then(|v| entry.versions.iter().find(|x| x.version == v)).cloned();
        let Some(found) = found else {
            let what = match selector {
                Selector::Alias(a) => format!("alias \"{a}\""),
                Selector::Version(v) => format!("version {v}"),
                Selector::Latest => "versions".into(),
            };
            return Err(unknown_selector(&entry, what));
        };
        let dir = self.version_dir(name, found.version);
        Ok((entry, found, dir))
    }
}

fn unknown_selector(entry: &ModelEntry, what: String) -> RegistryError {
    RegistryError::UnknownSelector {
        name: entry.name.clone(),
        what,
        latest: entry.versions.last().map_or(0, |v| v.version),
        aliases: if entry.aliases.is_empty() {
            "none".into()
        } else {
            entry.aliases.iter().map(|(a, v)| format!("{a}→{v}")).collect::<Vec<_>>().join(", ")
        },
    }
}
