//! A sweep as MLflow runs: one experiment, one run per trial, found again by
//! its trial-id tag, so pushing twice updates instead of duplicating.
//!
//! A run is complete once its tag `sweep.push_complete` holds the sha256 of the
//! trial's `trial.json`; that tag is set last. A push therefore skips complete
//! runs, finishes a run an interrupted push left behind (logging only the
//! metric points it lacks, since MLflow keeps every point it is sent), and
//! replaces the run of a trial whose record changed since (a failed trial run
//! again): MLflow cannot change a param or drop a metric point, so the old run
//! is marked superseded and deleted (restorable until `mlflow gc`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::client::{Client, MetricPoint, MlflowError, Run};
use crate::deploy::{DeployError, LoadedModel};
use crate::objective::Catalog;
use crate::publish::SweepView;
use crate::store::{self, SplitEvaluation, StoreError, SweepDir, TrialRecord, TrialStatus, names};

/// The tag that identifies a trial's run.
pub(crate) const TRIAL_TAG: &str = "sweep.trial_id";
/// Set last on a run, to the sha256 of the `trial.json` it shows.
pub(crate) const COMPLETE_TAG: &str = "sweep.push_complete";
/// Set first on a run: the sha256 of the `trial.json` it is being filled from.
pub(crate) const RECORD_TAG: &str = "sweep.record_sha256";

/// MLflow's limits per `runs/log-batch`.
const PARAMS_PER_BATCH: usize = 100;
const TAGS_PER_BATCH: usize = 100;
const METRICS_PER_BATCH: usize = 1000;
/// MLflow's longest tag value is 8000 characters; a failed trial's message can be longer.
const MAX_TAG_CHARS: usize = 5000;

/// What to push and where.
#[derive(Debug, Clone, Default)]
pub(crate) struct PushOptions {
    /// The experiment; default: the sweep's name.
    pub experiment: Option<String>,
    /// Register a trial's model as a version of this registered model.
    pub register: Option<Registration>,
}

/// `--register MODEL [--alias A] [--trial ID]`.
#[derive(Debug, Clone)]
pub(crate) struct Registration {
    /// Registered model name.
    pub model: String,
    /// Alias to point at the new version.
    pub alias: Option<String>,
    /// The trial to register; default: the sweep registry's top pick.
    pub trial: Option<String>,
}

/// What a push did.
#[derive(Debug, Clone, Default)]
pub(crate) struct PushSummary {
    /// The experiment's name.
    pub experiment: String,
    /// Its id.
    pub experiment_id: String,
    /// Its page in the MLflow UI.
    pub url: String,
    /// Whether this push created it.
    pub experiment_created: bool,
    /// Runs created and filled.
    pub created: usize,
    /// Runs an earlier, interrupted push had started, now complete.
    pub completed: usize,
    /// Runs that were complete already.
    pub up_to_date: usize,
    /// Older runs of re-run trials (or duplicates) that were marked superseded and deleted.
    pub superseded: usize,
    /// Trial folders without a record (running or died), not pushed.
    pub skipped: Vec<PathBuf>,
    /// The registered version.
    pub registered: Option<RegisteredVersion>,
}

/// A model version made (or found) by `--register`.
#[derive(Debug, Clone)]
pub(crate) struct RegisteredVersion {
    /// Registered model name.
    pub model: String,
    /// Version number.
    pub version: String,
    /// Whether this push created it (false: the same run's version existed).
    pub created: bool,
    /// The trial it holds.
    pub trial: String,
    /// Its run.
    pub run_id: String,
    /// The alias set, if any.
    pub alias: Option<String>,
}

/// Why a push stopped. Everything pushed before the error is kept, and the
/// next push completes the rest; the results folder is never written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PushError {
    /// The folder holds no sweep.
    #[error("{dir}: not a sweep's results folder (no sweep.json and no trials/*/trial.json)")]
    NotASweep { dir: PathBuf },
    /// The tracking URI is no server's address.
    #[error(transparent)]
    Uri(Box<MlflowError>),
    /// A results file could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// `--trial` names no complete trial of the sweep.
    #[error("{dir}: --trial {trial}: no complete trial with that id (complete trials: {known})")]
    UnknownTrial {
        dir: PathBuf,
        /// The id given.
        trial: String,
        /// Some ids that exist.
        known: String,
    },
    /// The trial to register has no model.
    #[error("{dir}: trial {trial} {status} and has no checkpoint to register; pick another with --trial")]
    NoModel {
        dir: PathBuf,
        trial: String,
        /// How it ended.
        status: &'static str,
    },
    /// `--register` without a registry to pick the top trial from.
    #[error("{path}: no top trial to register ({why}); run `sweep aggregate` first, or name one with --trial")]
    NoTopPick {
        /// registry.json.
        path: PathBuf,
        why: String,
    },
    /// The experiment name is taken by a deleted experiment.
    #[error(
        "{uri}: experiment \"{name}\" (id {id}) is deleted; restore it (`mlflow experiments restore --experiment-id {id}`), delete it for good (`mlflow gc`), or push to another with --experiment"
    )]
    DeletedExperiment { uri: String, name: String, id: String },
    /// Finding or creating the experiment failed.
    #[error("experiment \"{name}\": {source}")]
    Experiment {
        name: String,
        /// What the server said.
        source: Box<MlflowError>,
    },
    /// Pushing one trial failed.
    #[error(
        "trial {trial}: {source} ({done} of {total} trials were pushed completely; nothing in results/ changed; push again to complete the rest)"
    )]
    Trial {
        trial: String,
        /// What went wrong.
        source: Box<MlflowError>,
        /// Trials complete on the server so far.
        done: usize,
        /// Trials to push.
        total: usize,
    },
    /// A trial's model could not be read for its artifacts.
    #[error("trial {trial}: {source}")]
    Model { trial: String, source: Box<DeployError> },
    /// Registering the model failed.
    #[error(
        "registering trial {trial} as model \"{model}\": {source} (the runs are pushed; push again with --register to retry)"
    )]
    Register {
        model: String,
        trial: String,
        /// What the server said.
        source: Box<MlflowError>,
    },
}

/// Pushes every complete trial of the loaded sweep `view` to the server behind
/// `client`, then registers a model if asked. Reads the sweep, never writes it.
pub(crate) fn push_view(
    client: &Client,
    view: &SweepView,
    catalog: &Catalog,
    options: &PushOptions,
) -> Result<PushSummary, PushError> {
    let sweep = view.dir();
    let manifest = view.manifest();
    let records = view.records();
    let Some(sweep_name) = view.sweep_name().map(str::to_string) else {
        return Err(PushError::NotASweep { dir: view.root().to_path_buf() });
    };
    // Everything the user can get wrong is checked before the first request.
    let to_register = match &options.register {
        Some(r) => Some(trial_to_register(view, r)?),
        None => None,
    };

    let experiment = options.experiment.clone().unwrap_or_else(|| sweep_name.clone());
    let experiment_error = |source| PushError::Experiment { name: experiment.clone(), source: Box::new(source) };
    let (experiment_id, created) = match client.experiment_by_name(&experiment).map_err(experiment_error)? {
        Some(e) if e.lifecycle_stage == "deleted" => {
            return Err(PushError::DeletedExperiment {
                uri: client.uri().to_string(),
                name: e.name,
                id: e.experiment_id,
            });
        }
        Some(e) => (e.experiment_id, false),
        None => {
            // The kind makes MLflow 3's UI open the experiment on its runs, not on GenAI traces.
            let mut tags = vec![
                ("sweep.sweep".to_string(), sweep_name.clone()),
                ("mlflow.experimentKind".to_string(), "custom_model_development".to_string()),
            ];
            if let Some(m) = manifest {
                tags.push(("sweep.spec_hash".into(), m.spec_hash.clone()));
                if let Some(d) = m.spec.description() {
                    tags.push(("mlflow.note.content".into(), d));
                }
            }
            (client.create_experiment(&experiment, &tags).map_err(experiment_error)?, true)
        }
    };
    let mut existing: BTreeMap<String, Vec<Run>> = BTreeMap::new();
    for run in client.runs_with_tag(&experiment_id, TRIAL_TAG).map_err(experiment_error)? {
        if let Some(id) = run.tag(TRIAL_TAG) {
            existing.entry(id.to_string()).or_default().push(run.clone());
        }
    }

    let mut summary = PushSummary {
        url: client.experiment_url(&experiment_id),
        experiment,
        experiment_id: experiment_id.clone(),
        experiment_created: created,
        skipped: view.incomplete().to_vec(),
        ..PushSummary::default()
    };
    let total = records.len();
    let mut runs: BTreeMap<String, Run> = BTreeMap::new();
    for (done, record) in records.iter().enumerate() {
        let previous = existing.remove(&record.id).unwrap_or_default();
        let trial_error = |source| PushError::Trial { trial: record.id.clone(), source: Box::new(source), done, total };
        let (run, outcome, superseded) =
            push_trial(client, sweep, &experiment_id, record, previous, catalog, trial_error)?;
        match outcome {
            Outcome::Created => summary.created += 1,
            Outcome::Completed => summary.completed += 1,
            Outcome::UpToDate => summary.up_to_date += 1,
        }
        summary.superseded += superseded;
        runs.insert(record.id.clone(), run);
    }

    if let (Some(registration), Some(trial)) = (&options.register, to_register) {
        let run = &runs[&trial.id];
        let register_error = |source| PushError::Register {
            model: registration.model.clone(),
            trial: trial.id.clone(),
            source: Box::new(source),
        };
        summary.registered = Some(register(client, registration, &trial, run, &sweep_name).map_err(register_error)?);
    }
    Ok(summary)
}

enum Outcome {
    Created,
    Completed,
    UpToDate,
}

/// The trial `--register` means: `--trial`, else the top pick of `registry.json`.
fn trial_to_register(view: &SweepView, registration: &Registration) -> Result<TrialRecord, PushError> {
    let (sweep, records) = (view.dir(), view.records());
    let id = match &registration.trial {
        Some(id) => id.clone(),
        None => {
            let path = sweep.file(names::REGISTRY);
            let Some(registry) = view.registry()? else {
                return Err(PushError::NoTopPick { path, why: "the sweep has no registry.json".into() });
            };
            match registry.pick() {
                Some(top) => top.trial_id.clone(),
                None if registry.models.is_empty() => {
                    return Err(PushError::NoTopPick { path, why: "no trial of the sweep has a model".into() });
                }
                None => {
                    return Err(PushError::NoTopPick {
                        path,
                        why: "no model meets the sweep's [select] constraints (see the violates column)".into(),
                    });
                }
            }
        }
    };
    let Some(record) = records.iter().find(|r| r.id == id) else {
        let known: Vec<&str> = records.iter().take(5).map(|r| r.id.as_str()).collect();
        let more = if records.len() > 5 { ", ..." } else { "" };
        return Err(PushError::UnknownTrial {
            dir: sweep.root().to_path_buf(),
            trial: id,
            known: format!("{}{more}", known.join(", ")),
        });
    };
    if !record.status.has_model() {
        return Err(PushError::NoModel { dir: sweep.root().to_path_buf(), trial: id, status: record.status.as_str() });
    }
    Ok(record.clone())
}

/// Makes the run of one trial complete; returns it, what it took, and how
/// many older runs of the trial it superseded.
fn push_trial(
    client: &Client,
    sweep: &SweepDir,
    experiment_id: &str,
    record: &TrialRecord,
    previous: Vec<Run>,
    catalog: &Catalog,
    error: impl Fn(MlflowError) -> PushError,
) -> Result<(Run, Outcome, usize), PushError> {
    let trial_dir = sweep.trial_dir(&record.id);
    let record_path = trial_dir.join(names::RECORD);
    let record_bytes = std::fs::read(&record_path).map_err(StoreError::io(&record_path))?;
    let record_sha = store::sha256_hex(&record_bytes);

    let (mut current, mut older): (Vec<Run>, Vec<Run>) =
        previous.into_iter().partition(|r| r.tag(RECORD_TAG) == Some(record_sha.as_str()));
    // Of the runs showing this very record, keep a complete one (else the
    // first); the rest are duplicates of an interrupted push.
    current.sort_by_key(|r| r.tag(COMPLETE_TAG) != Some(record_sha.as_str()));
    let mut current = current.into_iter();
    let kept = current.next();
    older.extend(current);

    let (run, outcome) = match kept {
        Some(run) if run.tag(COMPLETE_TAG) == Some(record_sha.as_str()) => (run, Outcome::UpToDate),
        Some(run) => {
            fill_run(client, sweep, record, &record_bytes, &record_sha, &run, true, catalog, &error)?;
            (run, Outcome::Completed)
        }
        None => {
            let start = millis(&record.started_at).or_else(|| millis(&record.finished_at)).unwrap_or(0);
            let tags = vec![(TRIAL_TAG.to_string(), record.id.clone()), (RECORD_TAG.to_string(), record_sha.clone())];
            let run = client.create_run(experiment_id, &record.id, start, &tags).map_err(&error)?;
            fill_run(client, sweep, record, &record_bytes, &record_sha, &run, false, catalog, &error)?;
            (run, Outcome::Created)
        }
    };
    for old in &older {
        client.set_tag(&old.run_id, "sweep.superseded_by", &run.run_id).map_err(&error)?;
        client.delete_run(&old.run_id).map_err(&error)?;
    }
    Ok((run, outcome, older.len()))
}

/// Logs a trial's params, tags, metrics and artifacts into `run`, ends it,
/// and marks it complete. With `resumed`, only metric points the run lacks are sent.
#[allow(clippy::too_many_arguments)]
fn fill_run(
    client: &Client,
    sweep: &SweepDir,
    record: &TrialRecord,
    record_bytes: &[u8],
    record_sha: &str,
    run: &Run,
    resumed: bool,
    catalog: &Catalog,
    error: &impl Fn(MlflowError) -> PushError,
) -> Result<(), PushError> {
    let trial_dir = sweep.trial_dir(&record.id);
    let params: Vec<(String, String)> = record.settings.iter().map(|(k, v)| (k.clone(), v.to_string())).collect();
    let tags = run_tags(record);
    let param_chunks: Vec<&[(String, String)]> = params.chunks(PARAMS_PER_BATCH).collect();
    let tag_chunks: Vec<&[(String, String)]> = tags.chunks(TAGS_PER_BATCH).collect();
    for i in 0..param_chunks.len().max(tag_chunks.len()) {
        let p = param_chunks.get(i).copied().unwrap_or(&[]);
        let t = tag_chunks.get(i).copied().unwrap_or(&[]);
        client.log_batch(&run.run_id, p, t, &[]).map_err(error)?;
    }

    let mut metrics = metric_points(&trial_dir, record)?;
    if resumed {
        let keys: BTreeSet<String> = metrics.iter().map(|m| m.key.clone()).collect();
        let mut logged: BTreeSet<(String, i64, u64)> = BTreeSet::new();
        for key in keys {
            for p in client.metric_history(&run.run_id, &key).map_err(error)? {
                logged.insert((key.clone(), p.step, canonical_bits(p.value)));
            }
        }
        metrics.retain(|m| !logged.contains(&(m.key.clone(), m.step, canonical_bits(m.value))));
    }
    for chunk in metrics.chunks(METRICS_PER_BATCH) {
        client.log_batch(&run.run_id, &[], &[], chunk).map_err(error)?;
    }

    for (path, bytes) in artifacts(&trial_dir, record, record_bytes, catalog)? {
        client.upload_artifact(run, &path, &bytes).map_err(error)?;
    }
    let end = millis(&record.finished_at).unwrap_or(0);
    client.update_run(&run.run_id, mlflow_status(record.status), end).map_err(error)?;
    client.set_tag(&run.run_id, COMPLETE_TAG, record_sha).map_err(error)
}

/// The tags of a trial's run (besides the trial id and record hash it is created with).
fn run_tags(record: &TrialRecord) -> Vec<(String, String)> {
    let mut tags = vec![
        (TRIAL_TAG.to_string(), record.id.clone()),
        ("sweep.sweep".into(), record.sweep.clone()),
        ("sweep.index".into(), record.index.to_string()),
        ("sweep.status".into(), record.status.as_str().to_string()),
        ("sweep.seed".into(), record.seed.to_string()),
        ("sweep.spec_hash".into(), record.spec_hash.clone()),
        ("sweep.data_fingerprint".into(), record.data_fingerprint.clone()),
        ("sweep.objective".into(), format!("{} {}", record.objective, record.objective_version)),
        ("sweep.task".into(), record.task.as_str().to_string()),
        ("sweep.monitor".into(), format!("{} ({:?})", record.monitor.metric, record.monitor.goal).to_lowercase()),
        ("sweep.epochs_run".into(), record.epochs_run.to_string()),
        ("sweep.swept".into(), record.params.keys().cloned().collect::<Vec<_>>().join(",")),
    ];
    if let Some(epoch) = record.best_epoch {
        tags.push(("sweep.best_epoch".into(), epoch.to_string()));
    }
    if let Some(sha) = &record.checkpoint_sha256 {
        tags.push(("sweep.checkpoint_sha256".into(), sha.clone()));
    }
    if let Some(message) = &record.message {
        tags.push(("sweep.message".into(), message.chars().take(MAX_TAG_CHARS).collect()));
    }
    if let Some(refit) = &record.refit {
        tags.push(("sweep.refit_of_config".into(), refit.config.to_string()));
    }
    tags
}

/// Every epoch's metrics from `history.csv` (step = epoch), the best epoch's as
/// `best_<metric>` (step = that epoch; only for a trial with a model), and test metrics as `test_<metric>`.
/// history.csv has no times, so every point carries the trial's end time.
fn metric_points(trial_dir: &Path, record: &TrialRecord) -> Result<Vec<MetricPoint>, PushError> {
    let timestamp = millis(&record.finished_at).unwrap_or(0);
    let mut points = Vec::new();
    let history = store::read_metric_history(&trial_dir.join(names::HISTORY)).map_err(|e| StoreError::Parse {
        message: e.line.map(|l| format!("line {l}: {}", e.message)).unwrap_or(e.message),
        path: e.path,
    })?;
    for epoch in history {
        for (key, value) in epoch.metrics {
            points.push(MetricPoint { key, value, timestamp, step: epoch.epoch });
        }
    }
    let best_step = record.best_epoch.unwrap_or(0) as i64;
    // As in the leaderboard: a trial without a model has no best epoch to report.
    if record.status.has_model() {
        for (key, value) in &record.best_metrics {
            points.push(MetricPoint { key: format!("best_{key}"), value: *value, timestamp, step: best_step });
        }
    }
    let test = trial_dir.join(names::TEST_METRICS);
    if test.exists() {
        let evaluation: SplitEvaluation = store::read_json(&test)?;
        for (key, value) in &evaluation.metrics {
            points.push(MetricPoint { key: format!("test_{key}"), value: *value, timestamp, step: best_step });
        }
    }
    Ok(points)
}

/// The files of a trial's run: `trial.json` and `history.csv` at the top, and
/// for a trial with a model, `model/`: a folder `sweep predict` loads as it is
/// (checkpoint, best.json, preprocessing, trial.json) plus the model card.
fn artifacts(
    trial_dir: &Path,
    record: &TrialRecord,
    record_bytes: &[u8],
    catalog: &Catalog,
) -> Result<Vec<(String, Vec<u8>)>, PushError> {
    let read = |name: &str| -> Result<Vec<u8>, PushError> {
        let path = trial_dir.join(name);
        Ok(std::fs::read(&path).map_err(StoreError::io(&path))?)
    };
    let mut files = vec![(names::RECORD.to_string(), record_bytes.to_vec())];
    if trial_dir.join(names::HISTORY).exists() {
        files.push((names::HISTORY.to_string(), read(names::HISTORY)?));
    }
    if !record.status.has_model() {
        return Ok(files);
    }
    let model_error = |source| PushError::Model { trial: record.id.clone(), source: Box::new(source) };
    // Loading checks the checkpoint against the record's sha256 and that this
    // binary has the objective, so the card describes the very weights pushed.
    if crate::deploy::program_record(trial_dir, catalog).map_err(model_error)?.is_some() {
        // A program's checkpoint: checked against the record's sha256, pushed without a card sweep cannot write.
        crate::deploy::check_program_checkpoint(trial_dir, record).map_err(model_error)?;
        files.push((format!("model/{}", names::CHECKPOINT), read(names::CHECKPOINT)?));
        files.push((format!("model/{}", names::BEST_METADATA), read(names::BEST_METADATA)?));
        files.push((format!("model/{}", names::RECORD), record_bytes.to_vec()));
        return Ok(files);
    }
    let model = LoadedModel::load(trial_dir, catalog).map_err(model_error)?;
    let (card_json, card_md) = crate::deploy::model_card_files(&model, &trial_dir.display().to_string());
    files.push((format!("model/{}", model.meta.checkpoint), model.checkpoint.clone()));
    files.push((format!("model/{}", names::BEST_METADATA), read(names::BEST_METADATA)?));
    files.push((format!("model/{}", names::PREPROCESSING), read(names::PREPROCESSING)?));
    files.push((format!("model/{}", names::RECORD), record_bytes.to_vec()));
    files.push(("model/model_card.json".into(), card_json));
    files.push(("model/model_card.md".into(), card_md.into_bytes()));
    Ok(files)
}

/// Registers `trial`'s `model/` folder as a version of `registration.model`,
/// reusing the version an earlier push made from the same run, and sets the alias.
fn register(
    client: &Client,
    registration: &Registration,
    trial: &TrialRecord,
    run: &Run,
    sweep_name: &str,
) -> Result<RegisteredVersion, MlflowError> {
    let source = format!("{}/model", run.artifact_uri.trim_end_matches('/'));
    client
        .ensure_registered_model(&registration.model, &format!("Models from sweep {sweep_name} (pushed by sweep)"))?;
    let existing = client
        .model_versions_of_run(&registration.model, &run.run_id)?
        .into_iter()
        .find(|v| v.source.trim_end_matches('/') == source && v.run_id == run.run_id);
    let (version, created) = match existing {
        Some(v) => (v, false),
        None => {
            let metric = &trial.monitor.metric;
            let description = format!(
                "sweep {sweep_name}, trial {}: best {metric} = {} at epoch {}",
                trial.id,
                trial.best_metrics.get(metric).map(|v| v.to_string()).unwrap_or_else(|| "?".into()),
                trial.best_epoch.unwrap_or(0)
            );
            let mut tags = vec![
                (TRIAL_TAG.to_string(), trial.id.clone()),
                ("sweep.sweep".to_string(), sweep_name.to_string()),
                ("sweep.seed".to_string(), trial.seed.to_string()),
            ];
            if let Some(sha) = &trial.checkpoint_sha256 {
                tags.push(("sweep.checkpoint_sha256".into(), sha.clone()));
            }
            (client.create_model_version(&registration.model, &source, &run.run_id, &tags, &description)?, true)
        }
    };
    if let Some(alias) = &registration.alias {
        client.set_alias(&registration.model, alias, &version.version)?;
    }
    Ok(RegisteredVersion {
        model: registration.model.clone(),
        version: version.version,
        created,
        trial: trial.id.clone(),
        run_id: run.run_id.clone(),
        alias: registration.alias.clone(),
    })
}

/// RFC 3339 → milliseconds since the Unix epoch.
fn millis(rfc3339: &str) -> Option<i64> {
    i64::try_from(store::since_epoch(rfc3339)?.as_millis()).ok()
}

/// A value's bits for "is this point logged already": every NaN the same, and
/// infinities as the largest finite values, which MLflow's SQL store keeps instead.
fn canonical_bits(x: f64) -> u64 {
    if x.is_nan() {
        f64::NAN.to_bits()
    } else if x.is_infinite() {
        f64::MAX.copysign(x).to_bits()
    } else {
        x.to_bits()
    }
}

/// The MLflow status of a trial's run: a trial with a model finished, others failed.
pub(crate) fn mlflow_status(status: TrialStatus) -> &'static str {
    if status.has_model() { "FINISHED" } else { "FAILED" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_times_become_milliseconds() {
        assert_eq!(millis("1970-01-01T00:00:01.500000Z"), Some(1500));
        assert_eq!(millis("2026-11-30T16:00:00Z"), Some(1_796_054_400_000));
        assert_eq!(millis(""), None);
    }

    #[test]
    fn every_nan_counts_as_the_same_point() {
        assert_eq!(canonical_bits(f64::NAN), canonical_bits(-f64::NAN));
        assert_ne!(canonical_bits(0.5), canonical_bits(0.25));
        assert_eq!(canonical_bits(f64::NEG_INFINITY), canonical_bits(-f64::MAX));
    }

    #[test]
    fn pruned_trials_finish_and_failed_ones_fail() {
        assert_eq!(mlflow_status(TrialStatus::Pruned), "FINISHED");
        assert_eq!(mlflow_status(TrialStatus::Diverged), "FAILED");
    }
}
