//! One trial: the epoch loop, the callbacks' decisions, and every file the
//! trial writes, all inside the trial's own folder.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::callback::{Actions, BestModel, Callback, EarlyStopping, PeerCurves, Pruner};
use crate::data::Prepared;
use crate::metrics::{self, METRIC_NAMES, Metrics};
use crate::objective::settings::TrainSettings;
use crate::objective::{Objective, TrialError};
use crate::plan::TrialSpec;
use crate::spec::{CheckpointPolicy, EarlyTerminate, SweepSpec};
use crate::store::{self, BestMetadata, Monitored, SweepDir, TrialRecord, TrialStatus, names};

/// What every trial of a sweep (or of one batch) shares.
#[derive(Clone)]
pub struct TrialEnv<'a> {
    /// The validated spec.
    pub spec: &'a SweepSpec,
    /// Its hash.
    pub spec_hash: String,
    /// The prepared data.
    pub data: &'a Prepared,
    /// What trains each trial.
    pub objective: &'a dyn Objective,
    /// Where results go.
    pub dir: &'a SweepDir,
    /// Trials to break on purpose (a test hook).
    pub faults: &'a InjectedFaults,
    /// With early termination: the earlier trials' best-so-far curves.
    pub peers: Option<PeerCurves>,
}

/// Faults injected on purpose, so tests can show that one broken trial never
/// stops a sweep and that a dead process is recognised and rerun.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InjectedFaults {
    /// `SWEEP_FAIL_TRIALS`: these trial indices panic (recorded as `failed`).
    pub panic: BTreeSet<usize>,
    /// `SWEEP_ABORT_TRIALS`: these abort the whole process mid-trial, leaving no record.
    pub abort: BTreeSet<usize>,
}

/// `running.json`: who is running a trial. A folder with this marker but no
/// `trial.json` is a trial in progress, or one whose process died.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunningMarker {
    /// Host name of the process.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// When the trial started (RFC 3339).
    pub started_at: String,
    /// `SLURM_JOB_ID`, when run by SLURM.
    pub slurm_job_id: Option<String>,
    /// `SLURM_ARRAY_JOB_ID`_`SLURM_ARRAY_TASK_ID`, when run as an array task.
    pub slurm_array_task: Option<String>,
}

impl RunningMarker {
    /// A marker for this process, now.
    pub fn now() -> Self {
        let var = |k: &str| std::env::var(k).ok();
        RunningMarker {
            host: store::hostname(),
            pid: std::process::id(),
            started_at: store::now_rfc3339(),
            slurm_job_id: var("SLURM_JOB_ID"),
            slurm_array_task: var("SLURM_ARRAY_JOB_ID")
                .zip(var("SLURM_ARRAY_TASK_ID"))
                .map(|(j, t)| format!("{j}_{t}")),
        }
    }
}

/// What is known of a trial so far; kept outside the loop so a failure late
/// in training still reports the best epoch that was saved.
#[derive(Default)]
struct Progress {
    best_epoch: Option<usize>,
    best_metrics: Metrics,
    checkpoint_sha256: Option<String>,
    epochs_run: usize,
    checkpoint_seconds: f64,
    checkpoint_bytes: u64,
}

/// Runs one trial to its end on the current thread and writes its record;
/// never panics. Call it inside a one-thread rayon pool: Burn's flex backend
/// runs large GEMMs on the current pool, and one thread per trial keeps
/// concurrent trials from oversubscribing the cores.
pub fn run_trial(env: &TrialEnv, trial: &TrialSpec) -> TrialRecord {
    let start = Instant::now();
    let started_at = store::now_rfc3339();
    let settings = TrainSettings::resolve(&env.spec.train, &trial.params);
    let trial_dir = env.dir.trial_dir(&trial.id);
    let mut progress = Progress::default();

    let outcome = catch_unwind(AssertUnwindSafe(|| -> Result<Option<usize>, TrialError> {
        if env.faults.panic.contains(&trial.index) {
            panic!("injected failure for trial index {} (SWEEP_FAIL_TRIALS)", trial.index);
        }
        reset_trial_dir(&trial_dir)?;
        store::write_json_deferred(&trial_dir.join(names::RUNNING), &RunningMarker::now()).map_err(failed)?;
        if env.faults.abort.contains(&trial.index) {
            std::process::abort();
        }
        store::write_json_deferred(&trial_dir.join(names::PREPROCESSING), &env.data.preprocessing).map_err(failed)?;
        train(env, trial, &settings, &trial_dir, &mut progress)
    }));

    let (status, message) = match outcome {
        Ok(Ok(None)) => (TrialStatus::Completed, None),
        Ok(Ok(Some(epoch))) => {
            let rule = match env.spec.early_terminate {
                Some(EarlyTerminate::Asha { .. }) => "asha",
                _ => "the median rule",
            };
            (TrialStatus::Pruned, Some(format!("pruned by {rule} at epoch {epoch}")))
        }
        Ok(Err(e @ TrialError::Diverged { .. })) => (TrialStatus::Diverged, Some(e.to_string())),
        Ok(Err(e)) => (TrialStatus::Failed, Some(e.to_string())),
        Err(payload) => (TrialStatus::Failed, Some(format!("panicked: {}", panic_message(&*payload)))),
    };
    let record = TrialRecord {
        sweep: env.spec.name.clone(),
        spec_hash: env.spec_hash.clone(),
        index: trial.index,
        id: trial.id.clone(),
        seed: trial.seed,
        params: trial.params.clone(),
        config: trial.config,
        repeat: trial.repeat,
        settings,
        objective: env.objective.name().to_string(),
        monitor: monitored(env.spec),
        status,
        message,
        best_epoch: progress.best_epoch,
        epochs_run: progress.epochs_run,
        best_metrics: progress.best_metrics,
        checkpoint: progress
            .checkpoint_sha256
            .as_ref()
            .map(|_| format!("{}/{}/{}", names::TRIALS, trial.id, names::CHECKPOINT)),
        checkpoint_sha256: progress.checkpoint_sha256,
        data_fingerprint: env.data.preprocessing.data_fingerprint.clone(),
        duration_s: start.elapsed().as_secs_f64(),
        checkpoint_s: progress.checkpoint_seconds,
        checkpoint_bytes: progress.checkpoint_bytes,
        started_at,
        finished_at: store::now_rfc3339(),
    };
    // The commit point: the trial's files become durable, then its record, which
    // is what makes the trial count as complete (a crash before it means a rerun).
    let files =
        [names::CHECKPOINT, names::BEST_METADATA, names::HISTORY, names::PREPROCESSING].map(|f| trial_dir.join(f));
    let write = std::fs::create_dir_all(&trial_dir)
        .map_err(store::StoreError::io(&trial_dir))
        .and_then(|_| {
            store::sync_paths(&files.iter().map(PathBuf::as_path).collect::<Vec<_>>())
                .map_err(store::StoreError::io(&trial_dir))
        })
        .and_then(|_| store::write_json(&trial_dir.join(names::RECORD), &record));
    // The record now says how the trial ended; the marker would only mislead `sweep status`.
    let _ = std::fs::remove_file(trial_dir.join(names::RUNNING));
    match write {
        Ok(()) => record,
        Err(e) => TrialRecord {
            status: TrialStatus::Failed,
            message: Some(format!("cannot write the trial record: {e}")),
            ..record
        },
    }
}

fn monitored(spec: &SweepSpec) -> Monitored {
    Monitored { metric: spec.metric.name.clone(), goal: spec.metric.goal, min_delta: spec.metric.min_delta }
}

fn failed(e: impl std::fmt::Display) -> TrialError {
    TrialError::Failed(e.to_string())
}

/// A rerun starts clean: an incomplete earlier attempt leaves no stale checkpoint behind.
fn reset_trial_dir(dir: &Path) -> Result<(), TrialError> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(|e| failed(format!("{}: {e}", dir.display())))?;
    }
    std::fs::create_dir_all(dir).map_err(|e| failed(format!("{}: {e}", dir.display())))
}

fn train(
    env: &TrialEnv,
    trial: &TrialSpec,
    settings: &TrainSettings,
    dir: &Path,
    progress: &mut Progress,
) -> Result<Option<usize>, TrialError> {
    let metric = &env.spec.metric;
    let mut pruner = match (env.spec.early_terminate, &env.peers) {
        (Some(rule), Some(peers)) => Some(Pruner::new(rule, &metric.name, metric.goal, peers.clone())),
        _ => None,
    };
    let mut best_model = BestModel::new(&metric.name, metric.goal, metric.min_delta);
    let mut early_stopping = env
        .spec
        .early_stopping
        .as_ref()
        .map(|es| EarlyStopping::new(&metric.name, metric.goal, es.patience, es.min_delta));
    let mut trainer = env.objective.start(trial, settings, env.data)?;
    let mut history: Vec<(Metrics, bool)> = Vec::with_capacity(settings.epochs);

    for epoch in 1..=settings.epochs {
        let train_loss = trainer.train_epoch()?;
        progress.epochs_run = epoch;
        if !train_loss.is_finite() {
            return Err(TrialError::Diverged { epoch, what: format!("train_loss is {train_loss}") });
        }
        let logits = trainer.validation_logits()?;
        if logits.iter().any(|v| !v.is_finite()) {
            return Err(TrialError::Diverged { epoch, what: "validation outputs are not finite".into() });
        }
        let mut epoch_metrics = metrics::evaluate(&logits, &env.data.valid_y, env.data.n_classes);
        epoch_metrics.insert("train_loss".into(), train_loss);

        let mut actions = best_model.on_epoch_end(epoch, &epoch_metrics);
        if let Some(es) = early_stopping.as_mut() {
            actions = actions.merge(es.on_epoch_end(epoch, &epoch_metrics));
        }
        if let Some(p) = pruner.as_mut() {
            actions = actions.merge(p.on_epoch_end(epoch, &epoch_metrics));
        }
        if env.spec.checkpoint == CheckpointPolicy::EveryEpoch {
            let started = Instant::now();
            let bytes = trainer.checkpoint(&BTreeMap::from([("sweep.epoch".to_string(), epoch.to_string())]))?;
            let path = dir.join("epochs").join(format!("epoch-{epoch:04}.safetensors"));
            std::fs::create_dir_all(dir.join("epochs")).map_err(failed)?;
            store::write_atomic_deferred(&path, &bytes).map_err(|e| failed(format!("{}: {e}", path.display())))?;
            progress.checkpoint_bytes += bytes.len() as u64;
            progress.checkpoint_seconds += started.elapsed().as_secs_f64();
        }
        if actions.save_best {
            save_best(env, trial, settings, dir, epoch, &epoch_metrics, &*trainer, progress)?;
        }
        history.push((epoch_metrics, actions.save_best));
        store::write_atomic_deferred(&dir.join(names::HISTORY), &history_csv(&history)?)
            .map_err(|e| failed(format!("{}: {e}", dir.join(names::HISTORY).display())))?;
        let Actions { stop, prune, .. } = actions;
        if prune {
            return Ok(Some(epoch));
        }
        if stop {
            break;
        }
    }
    Ok(None)
}

#[allow(clippy::too_many_arguments)]
fn save_best(
    env: &TrialEnv,
    trial: &TrialSpec,
    settings: &TrainSettings,
    dir: &Path,
    epoch: usize,
    epoch_metrics: &Metrics,
    trainer: &dyn crate::objective::EpochTrainer,
    progress: &mut Progress,
) -> Result<(), TrialError> {
    let started = Instant::now();
    // The checkpoint describes itself too: its header carries the epoch and metrics,
    // so even a checkpoint copied away from its best.json stays self-explanatory.
    let header = BTreeMap::from([
        ("sweep.trial_id".to_string(), trial.id.clone()),
        ("sweep.epoch".to_string(), epoch.to_string()),
        ("sweep.metrics".to_string(), json(epoch_metrics)),
        ("sweep.params".to_string(), json(&trial.params)),
        ("sweep.seed".to_string(), trial.seed.to_string()),
        ("sweep.data_fingerprint".to_string(), env.data.preprocessing.data_fingerprint.clone()),
    ]);
    let bytes = store::canonical_safetensors(&trainer.checkpoint(&header)?).map_err(failed)?;
    let sha = store::sha256_hex(&bytes);
    let path = dir.join(names::CHECKPOINT);
    store::write_atomic_deferred(&path, &bytes).map_err(|e| failed(format!("{}: {e}", path.display())))?;
    let meta = BestMetadata {
        trial_id: trial.id.clone(),
        epoch,
        metrics: epoch_metrics.clone(),
        params: trial.params.clone(),
        settings: settings.clone(),
        seed: trial.seed,
        data_fingerprint: env.data.preprocessing.data_fingerprint.clone(),
        checkpoint: names::CHECKPOINT.to_string(),
        checkpoint_sha256: sha.clone(),
    };
    store::write_json_deferred(&dir.join(names::BEST_METADATA), &meta).map_err(failed)?;
    progress.best_epoch = Some(epoch);
    progress.best_metrics = epoch_metrics.clone();
    progress.checkpoint_sha256 = Some(sha);
    progress.checkpoint_bytes += bytes.len() as u64;
    progress.checkpoint_seconds += started.elapsed().as_secs_f64();
    Ok(())
}

/// Compact JSON for the checkpoint header.
fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// `epoch, <every metric>, saved_best`; a metric a trial does not have stays empty.
fn history_csv(history: &[(Metrics, bool)]) -> Result<Vec<u8>, TrialError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["epoch"];
    header.extend_from_slice(METRIC_NAMES);
    header.push("saved_best");
    w.write_record(&header).map_err(failed)?;
    for (i, (m, saved)) in history.iter().enumerate() {
        let mut row = vec![(i + 1).to_string()];
        row.extend(METRIC_NAMES.iter().map(|name| m.get(*name).map(|v| v.to_string()).unwrap_or_default()));
        row.push(saved.to_string());
        w.write_record(&row).map_err(failed)?;
    }
    w.into_inner().map_err(failed)
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_string()
    }
}
