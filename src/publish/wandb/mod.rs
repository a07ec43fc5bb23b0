//! Weights & Biases offline runs of a finished sweep, one per trial, which `wandb sync`
//! uploads later from any machine that reaches W&B:
//!
//! ```text
//! results/<sweep>/wandb/                             (or --dir)
//!   offline-run-<start, UTC>-<run id>/
//!     run-<run id>.wandb         the transaction log: header, run (config, group, tags), metric
//!                                definitions, one history row per epoch, summary (best_<metric>,
//!                                best_epoch, test_<metric>), files, artifact, exit, final, footer
//!     files/trial.json, files/history.csv   the run's files
//!     artifact/                  the best model's files (links or copies), the manifest's local paths
//! ```
//!
//! The run id is a hash of the trial's `trial.json`, and every time comes from the records, so
//! exporting again writes the same bytes (files that already hold them are not touched), and a
//! trial whose record changed (run again) gets a new run, the old one's folder removed.

mod artifact;
mod log_file;
mod proto;
mod run;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::{AfterAggregation, PublishError, Publisher, SweepView};
use crate::deploy::{DeployError, LoadedModel};
use crate::objective::Catalog;
use crate::store::{self, HistoryFile, SplitEvaluation, StoreError, TrialRecord, names};
use artifact::Staged;
use run::{ArtifactPlan, RunIdentity, TrialData};

/// The folder, inside a sweep's results folder, that holds the runs by default.
pub(crate) const FOLDER: &str = "wandb";
/// The folder of the artifact's files inside a run's folder.
const ARTIFACT_FOLDER: &str = "artifact";
/// The alias of the registry's top pick; every model artifact has [`BEST_ALIAS`].
const CHAMPION_ALIAS: &str = "champion";
const BEST_ALIAS: &str = "best";

/// Where the runs go.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct WandbOptions {
    /// The W&B project; default: the sweep's name.
    pub project: Option<String>,
    /// The W&B entity (user or team); default: the one `wandb sync` logs in as.
    pub entity: Option<String>,
    /// The folder of the runs; default: `results/<sweep>/wandb`.
    pub dir: Option<PathBuf>,
}

/// Why runs could not be written. The results folder is never written outside the export folder.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WandbError {
    /// The folder holds no sweep.
    #[error("{}: not a sweep's results folder (no sweep.json and no trials/*/trial.json)", dir.display())]
    NotASweep { dir: PathBuf },
    /// A results file could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A trial's history holds something sweep did not write.
    #[error(transparent)]
    History(#[from] store::HistoryError),
    /// A record's time is not one sweep writes.
    #[error("{}: got time \"{time}\", expected an RFC 3339 time", path.display())]
    Time { path: PathBuf, time: String },
    /// A trial's model could not be read for its artifact (a checkpoint that does not match its
    /// record, or an objective this binary lacks).
    #[error("trial {trial}: {source} (its W&B artifact needs the model; `sweep verify` checks it)")]
    Model { trial: String, source: Box<DeployError> },
    /// The export folder could not be written.
    #[error("{}: cannot write W&B's offline runs: {source}", path.display())]
    Write { path: PathBuf, source: std::io::Error },
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Exported {
    /// The folder of the runs: what `wandb sync <dir>/offline-run-*` takes.
    pub dir: PathBuf,
    /// Runs (one per trial with a record).
    pub runs: usize,
    /// Of those, runs with a model artifact.
    pub artifacts: usize,
    /// Records written over all runs.
    pub records: usize,
    /// Files written or replaced (0 when an earlier export left the same bytes).
    pub written: usize,
    /// Run folders of trials that no longer exist (or whose record changed), removed.
    pub removed: usize,
    /// Trial folders without a record (running, or died), left out.
    pub skipped: usize,
    /// The W&B project.
    pub project: String,
}

fn write_err(path: &Path) -> impl FnOnce(std::io::Error) -> WandbError + '_ {
    move |source| WandbError::Write { path: path.to_path_buf(), source }
}

/// Writes one offline run per complete trial of `view` (see the module's doc).
pub(crate) fn export_view(view: &SweepView, catalog: &Catalog, options: &WandbOptions) -> Result<Exported, WandbError> {
    let Some(sweep) = view.sweep_name().map(str::to_string) else {
        return Err(WandbError::NotASweep { dir: view.root().to_path_buf() });
    };
    let project = options.project.clone().unwrap_or_else(|| sweep.clone());
    let out = options.dir.clone().unwrap_or_else(|| view.dir().file(FOLDER));
    std::fs::create_dir_all(&out).map_err(write_err(&out))?;
    // Manifest paths must hold wherever `wandb sync` starts.
    let out = std::path::absolute(&out).map_err(write_err(&out))?;
    // The champion is the pick, which meets the sweep's constraints; with none meeting them, none.
    let champion = view.registry()?.and_then(|r| r.pick().map(|m| m.trial_id.clone()));
    let export = Export {
        view,
        catalog,
        out: &out,
        sweep: &sweep,
        project: &project,
        entity: options.entity.as_deref(),
        champion: champion.as_deref(),
    };
    let outcomes: Vec<Result<TrialRun, WandbError>> =
        view.records().par_iter().map(|record| export.trial(record)).collect();
    let mut kept = BTreeSet::new();
    let mut exported = Exported {
        dir: out.clone(),
        runs: 0,
        artifacts: 0,
        records: 0,
        written: 0,
        removed: 0,
        skipped: 0,
        project: project.clone(),
    };
    for outcome in outcomes {
        let run = outcome?;
        kept.insert(run.folder);
        exported.runs += 1;
        exported.records += run.records;
        exported.artifacts += usize::from(run.artifact);
        exported.written += run.written;
    }
    exported.removed = remove_stale_runs(&out, &kept, &sweep)?;
    exported.skipped = view.incomplete().len();
    if exported.written > 0 || exported.removed > 0 {
        store::sync_tree(&out).map_err(write_err(&out))?;
    }
    Ok(exported)
}

/// The run id of a trial: 16 hex digits of the sha256 of its `trial.json`, so the same record
/// always makes the same run and a changed one a new run.
fn run_id(record_bytes: &[u8]) -> String {
    store::sha256_hex(record_bytes)[..16].to_string()
}

/// `offline-run-YYYYMMDD_HHMMSS-<id>`, as W&B names the folders `wandb sync` takes.
fn folder_name(start: f64, run_id: &str) -> String {
    let at = std::time::UNIX_EPOCH + std::time::Duration::from_secs(start.floor() as u64);
    // "1970-01-01T00:00:00Z": the digits of the date, then of the time.
    let stamp: String =
        humantime::format_rfc3339_seconds(at).to_string().chars().filter(char::is_ascii_digit).collect();
    format!("offline-run-{}_{}-{run_id}", &stamp[..8], &stamp[8..])
}

/// An artifact name W&B accepts (letters, digits, `-`, `_`, `.`).
fn artifact_name(sweep: &str, trial: &str) -> String {
    format!("{sweep}-{trial}")
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') { c } else { '_' })
        .collect()
}

fn since_epoch(path: &Path, time: &str) -> Result<std::time::Duration, WandbError> {
    store::since_epoch(time).ok_or_else(|| WandbError::Time { path: path.to_path_buf(), time: time.to_string() })
}

/// What every trial's export shares.
struct Export<'a> {
    view: &'a SweepView,
    catalog: &'a Catalog,
    /// The folder of the runs, absolute.
    out: &'a Path,
    sweep: &'a str,
    project: &'a str,
    entity: Option<&'a str>,
    /// The registry's top pick.
    champion: Option<&'a str>,
}

/// What one trial's export wrote.
struct TrialRun {
    /// The run's folder name.
    folder: String,
    records: usize,
    artifact: bool,
    /// Files written (0 when they held the same bytes already).
    written: usize,
}

impl Export<'_> {
    /// Writes one trial's run folder.
    fn trial(&self, record: &TrialRecord) -> Result<TrialRun, WandbError> {
        let Export { view, catalog, out, sweep, project, entity, champion } = *self;
        let trial_dir = view.dir().trial_dir(&record.id);
        let record_path = trial_dir.join(names::RECORD);
        let record_bytes = std::fs::read(&record_path).map_err(StoreError::io(&record_path))?;
        let run_id = run_id(&record_bytes);
        let started = since_epoch(&record_path, &record.started_at)?;
        let start = started.as_secs_f64();
        let end = since_epoch(&record_path, &record.finished_at)?.as_secs_f64().max(start);
        let folder = folder_name(start, &run_id);
        let run_dir = out.join(&folder);
        let files_dir = run_dir.join("files");
        std::fs::create_dir_all(&files_dir).map_err(write_err(&files_dir))?;
        let mut written = 0;

        let history_path = trial_dir.join(names::HISTORY);
        let mut run_files = vec![names::RECORD.to_string()];
        written += usize::from(
            artifact::write_if_changed(&files_dir.join(names::RECORD), &record_bytes).map_err(write_err(&files_dir))?,
        );
        // Read once: parsed for the history rows, and copied as the run's file.
        let history = match std::fs::read(&history_path) {
            Ok(bytes) => {
                let epochs = HistoryFile::parse(&history_path, &bytes)?.epochs()?;
                written += usize::from(
                    artifact::write_if_changed(&files_dir.join(names::HISTORY), &bytes)
                        .map_err(write_err(&files_dir))?,
                );
                run_files.push(names::HISTORY.to_string());
                epochs
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(StoreError::io(&history_path)(e).into()),
        };
        let test_path = trial_dir.join(names::TEST_METRICS);
        let test = if test_path.exists() {
            let evaluation: SplitEvaluation = store::read_json(&test_path)?;
            Some(evaluation.metrics.into_iter().collect::<BTreeMap<String, f64>>())
        } else {
            None
        };

        let artifact = if record.status.has_model() && record.checkpoint.is_some() {
            let is_champion = champion == Some(record.id.as_str());
            let (plan, count) =
                stage_artifact(catalog, record, &trial_dir, &run_dir.join(ARTIFACT_FOLDER), sweep, is_champion)?;
            written += count;
            Some(plan)
        } else {
            None
        };

        // W&B takes tags of up to 64 characters: 12 hex digits tell sweeps and data sets apart.
        let short = |hash: &str| hash.chars().take(12).collect::<String>();
        let mut tags = Vec::new();
        if !record.spec_hash.is_empty() {
            tags.push(format!("spec-{}", short(&record.spec_hash)));
        }
        if !record.data_fingerprint.is_empty() {
            tags.push(format!("data-{}", short(&record.data_fingerprint)));
        }
        tags.push(record.status.as_str().to_string());
        let identity = RunIdentity { run_id: &run_id, project, entity, sweep, tags };
        let has_artifact = artifact.is_some();
        let data = TrialData { record, started, start, end, history, test, run_files, artifact };
        let mut log = log_file::LogFile::new();
        for r in run::records(&identity, &data) {
            log.push(r);
        }
        let records = log.records();
        let log_path = run_dir.join(format!("run-{run_id}.wandb"));
        written += usize::from(artifact::write_if_changed(&log_path, &log.into_bytes()).map_err(write_err(&log_path))?);
        Ok(TrialRun { folder, records, artifact: has_artifact, written })
    }
}

/// Stages the best model's files for its artifact: checkpoint, `best.json`, `preprocessing.json`
/// and the model card.
fn stage_artifact(
    catalog: &Catalog,
    record: &TrialRecord,
    trial_dir: &Path,
    to: &Path,
    sweep: &str,
    champion: bool,
) -> Result<(ArtifactPlan, usize), WandbError> {
    let model_error = |source| WandbError::Model { trial: record.id.clone(), source: Box::new(source) };
    // Loading checks the checkpoint against the record's sha256, so the artifact holds the
    // very weights the record names, and lets the card describe the model. A program's model
    // (objective "command") cannot be loaded: its checkpoint is checked against the record
    // alone, and it goes without a card, with trial.json in place of preprocessing.json.
    let model = match crate::deploy::program_record(trial_dir, catalog).map_err(model_error)? {
        Some(_) => {
            crate::deploy::check_program_checkpoint(trial_dir, record).map_err(model_error)?;
            None
        }
        None => Some(LoadedModel::load(trial_dir, catalog).map_err(model_error)?),
    };
    std::fs::create_dir_all(to).map_err(write_err(to))?;
    let mut files = Vec::new();
    let mut written = 0;
    let read = |name: &str| -> Result<Vec<u8>, WandbError> {
        let path = trial_dir.join(name);
        Ok(std::fs::read(&path).map_err(StoreError::io(&path))?)
    };
    let mut stage = |name: &str, source: Option<&Path>, bytes: &[u8]| -> Result<(), WandbError> {
        let local = to.join(name);
        let wrote = match source {
            Some(source) => artifact::stage_file(source, bytes, &local),
            None => artifact::write_if_changed(&local, bytes),
        }
        .map_err(write_err(&local))?;
        written += usize::from(wrote);
        files.push(Staged {
            path: name.to_string(),
            local_path: local,
            md5_b64: artifact::md5_b64(bytes),
            size: bytes.len() as u64,
        });
        Ok(())
    };
    let checkpoint_sha256 = match &model {
        Some(model) => {
            stage(&model.meta.checkpoint, Some(&trial_dir.join(&model.meta.checkpoint)), &model.checkpoint)?;
            for name in [names::BEST_METADATA, names::PREPROCESSING] {
                let bytes = read(name)?;
                stage(name, Some(&trial_dir.join(name)), &bytes)?;
            }
            let (card_json, card_md) = crate::deploy::model_card_files(model, &trial_dir.display().to_string());
            stage("model_card.json", None, &card_json)?;
            stage("model_card.md", None, card_md.as_bytes())?;
            model.checkpoint_sha256.clone()
        }
        None => {
            for name in [names::CHECKPOINT, names::BEST_METADATA, names::RECORD] {
                let bytes = read(name)?;
                stage(name, Some(&trial_dir.join(name)), &bytes)?;
            }
            record.checkpoint_sha256.clone().unwrap_or_default()
        }
    };

    let mut metadata = serde_json::Map::new();
    for (metric, value) in &record.best_metrics {
        metadata.insert(metric.clone(), serde_json::json!(value));
    }
    metadata.insert("best_epoch".into(), serde_json::json!(record.best_epoch));
    metadata.insert("params".into(), serde_json::json!(record.params));
    metadata.insert("seed".into(), serde_json::json!(record.seed.to_string()));
    metadata.insert("checkpoint_sha256".into(), serde_json::json!(checkpoint_sha256));
    metadata.insert("data_fingerprint".into(), serde_json::json!(record.data_fingerprint));
    metadata.insert("trial_id".into(), serde_json::json!(record.id));
    metadata.insert("sweep".into(), serde_json::json!(sweep));
    let mut aliases = vec![BEST_ALIAS.to_string()];
    if champion {
        aliases.push(CHAMPION_ALIAS.to_string());
    }
    let plan = ArtifactPlan { name: artifact_name(sweep, &record.id), aliases, metadata: metadata.into(), files };
    Ok((plan, written))
}

/// Removes the run folders of this sweep (their `files/trial.json` names it) that this export did
/// not write: trials gone, or run again under a new run id. Other folders stay.
fn remove_stale_runs(out: &Path, kept: &BTreeSet<String>, sweep: &str) -> Result<usize, WandbError> {
    let mut removed = 0;
    for entry in std::fs::read_dir(out).map_err(write_err(out))? {
        let entry = entry.map_err(write_err(out))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("offline-run-") || kept.contains(&name) || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let ours = store::read_json::<TrialRecord>(&entry.path().join("files").join(names::RECORD))
            .is_ok_and(|r| r.sweep == sweep);
        if ours {
            std::fs::remove_dir_all(entry.path()).map_err(write_err(&entry.path()))?;
            removed += 1;
        }
    }
    Ok(removed)
}

/// `sweep wandb export` as a publisher, and what `[publish] wandb = { project = "..." }` runs
/// after every aggregation.
pub(crate) struct WandbPublisher<'a> {
    pub options: WandbOptions,
    pub catalog: &'a Catalog,
}

impl WandbPublisher<'_> {
    /// The line `run`, `aggregate` and `sweep wandb export` print about what was written.
    pub(crate) fn line(exported: &Exported) -> String {
        format!(
            "wandb:       {} ({} offline runs, {} model artifacts, project \"{}\"; upload with `wandb sync {}/offline-run-*`)",
            exported.dir.display(),
            exported.runs,
            exported.artifacts,
            exported.project,
            exported.dir.display()
        )
    }
}

impl Publisher for WandbPublisher<'_> {
    fn failure(&self) -> &'static str {
        "W&B offline runs not written"
    }

    fn publish(&self, view: &SweepView) -> Result<String, PublishError> {
        Ok(Self::line(&export_view(view, self.catalog, &self.options)?))
    }
}

/// Enabled by `[publish] wandb = { project = "...", entity = "..." }`: the default folder.
pub(crate) fn after_aggregation<'a>(settings: AfterAggregation<'a>) -> Option<Box<dyn Publisher + 'a>> {
    let target = settings.publish.wandb.as_ref()?;
    let options = WandbOptions { project: target.project.clone(), entity: target.entity.clone(), dir: None };
    Some(Box::new(WandbPublisher { options, catalog: settings.catalog }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_folders_are_named_as_wandb_names_them() {
        assert_eq!(folder_name(0.0, "abc"), "offline-run-19700101_000000-abc");
        // 2026-11-30T16:08:21Z
        assert_eq!(folder_name(1_796_054_901.6, "0123"), "offline-run-20261130_160821-0123");
        assert_eq!(folder_name(951_782_400.0, "x"), "offline-run-20000229_000000-x", "a leap day");
    }

    #[test]
    fn run_ids_follow_the_record() {
        assert_eq!(run_id(b"{}"), run_id(b"{}"));
        assert_ne!(run_id(b"{\"status\":\"failed\"}"), run_id(b"{\"status\":\"completed\"}"));
        assert_eq!(run_id(b"{}").len(), 16);
    }

    #[test]
    fn artifact_names_keep_to_wandbs_characters() {
        assert_eq!(artifact_name("digits grid", "t0001-ab/c"), "digits_grid-t0001-ab_c");
    }
}
