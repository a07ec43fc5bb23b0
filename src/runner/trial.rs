//! One trial: the epoch loop, the callbacks' decisions, and every file the
//! trial writes, all inside the trial's own folder.

use std::collections::{BTreeMap, BTreeSet};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::SweepData;
use super::events::{EventSink, RunEvent};
use crate::callback::{self, Actions, PeerCurves};
use crate::device::TrialDevice;
use crate::metrics::{self, Metrics};
use crate::objective::{Objective, ProgramRun, TrialContext, TrialError, Validation};
use crate::params::{ResolvedParams, Schema};
use crate::plan::TrialSpec;
use crate::spec::{CheckpointPolicy, SweepSpec};
use crate::store::{self, BestMetadata, StorageFault, SweepDir, TrialFolder, TrialRecord, TrialStatus, names};

/// What every trial of a sweep (or of one batch) shares.
#[derive(Clone)]
pub(crate) struct TrialEnv<'a> {
    /// The validated spec.
    pub spec: &'a SweepSpec,
    /// Its hash.
    pub spec_hash: String,
    /// The prepared data (each fold's, with cross-validation).
    pub data: &'a SweepData,
    /// What trains each trial.
    pub objective: &'a dyn Objective,
    /// The objective's parameters, which resolve each trial's values.
    pub schema: &'a Schema,
    /// Where results go.
    pub dir: &'a SweepDir,
    /// Trials to break on purpose (a test hook).
    pub faults: &'a InjectedFaults,
    /// With early termination: the earlier trials' best-so-far curves.
    pub peers: Option<PeerCurves>,
    /// With early termination and no `peers`: read the other trials' curves
    /// from the results folder whenever a decision is due.
    pub asynchronous: bool,
    /// Seed Burn's process-global RNG from each trial's seed before it starts:
    /// set where this process runs one trial at a time.
    pub seed_burn: bool,
    /// The device this process's trials train on.
    pub device: TrialDevice,
    /// The timings of the models this process timed, shared by its workers.
    pub serving_costs: std::sync::Arc<super::cost::ServingCosts>,
}

/// Faults injected on purpose, so tests can show that one broken trial never
/// stops a sweep and that a dead process is recognised and rerun.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct InjectedFaults {
    /// `SWEEP_FAIL_TRIALS`: these trial indices panic (recorded as `failed`).
    pub panic: BTreeSet<usize>,
    /// `SWEEP_ABORT_TRIALS`: these abort the whole process mid-trial, leaving no record.
    pub abort: BTreeSet<usize>,
}

/// `running.json`: who is running a trial. A folder with this marker but no
/// `trial.json` is a trial in progress, or one whose process died.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct RunningMarker {
    /// Host name of the process.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// When the trial started (RFC 3339); a claim file, which serves as the
    /// marker of the trial it claims, says `claimed_at`.
    #[serde(alias = "claimed_at")]
    pub started_at: String,
    /// `SLURM_JOB_ID`, when run by SLURM.
    pub slurm_job_id: Option<String>,
    /// `SLURM_ARRAY_JOB_ID`_`SLURM_ARRAY_TASK_ID`, when run as an array task.
    pub slurm_array_task: Option<String>,
}

impl RunningMarker {
    /// A marker for this process, now.
    pub(crate) fn now() -> Self {
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
    /// The best epoch's validation outputs, written once when the trial ends.
    best_outputs: Option<BestOutputs>,
    /// The program a command objective ran.
    program: Option<ProgramRun>,
    /// The first write that failed because the filesystem is full or read-only.
    storage_fault: Option<StorageFault>,
    /// SHA-256 of the validation outputs file, once written.
    valid_outputs_sha256: Option<String>,
    /// With [`Keep::Last`]: the last epoch's checkpoint, as the objective wrote it.
    last_checkpoint: Option<Vec<u8>>,
    /// What the best model costs to serve.
    cost: Option<store::ModelCost>,
    /// The bytes of the best checkpoint last written, kept so that sealing it hashes them
    /// without reading the file back (one checkpoint in memory, which the trainer's own
    /// model already outweighs).
    best_checkpoint: Option<Vec<u8>>,
}

/// An epoch's raw validation outputs, for the bootstrap.
struct BestOutputs {
    values: Vec<f32>,
    /// On rows of the objective's own: their targets and the outputs per row.
    own: Option<(Vec<f64>, usize)>,
}

impl Progress {
    /// The trial's error for a failed write of `path`; notes a full or
    /// read-only filesystem, which is no fault of the trial's.
    fn write_failed(&mut self, path: &Path, e: std::io::Error) -> TrialError {
        if self.storage_fault.is_none() {
            self.storage_fault = StorageFault::of(path, &e);
        }
        failed(format!("{}: {e}", path.display()))
    }
}

/// A trial that has run to its end but whose record is not yet committed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FinishedTrial {
    /// How it ended.
    pub record: TrialRecord,
    /// Its folder, with the record waiting in the marker; or why it could not be written.
    pub folder: Result<PathBuf, String>,
    /// The trial could not write its files because the filesystem is full or
    /// read-only: it was abandoned, its folder removed where that was
    /// possible, and it has no record, so that `--resume` runs it again
    /// instead of keeping it as failed.
    #[serde(default)]
    pub storage_fault: Option<StorageFault>,
}

impl FinishedTrial {
    /// A trial that ended outside the code that runs it (its worker process
    /// died): its folder gets a `failed` record saying why, left for [`commit`].
    pub(crate) fn died(env: &TrialEnv, trial: &TrialSpec, message: String) -> Self {
        let record = TrialRecord {
            status: TrialStatus::Failed,
            message: Some(message),
            epochs_run: 0,
            best_epoch: None,
            // The worker that died had its own device, which this process does not know.
            device: None,
            ..base_record(env, trial, env.schema.resolve(&env.spec.train, &trial.params), store::now_rfc3339())
        };
        let dir = env.dir.trial_dir(&trial.id);
        let folder = json_file(&record)
            .map_err(|e| e.to_string())
            .and_then(|bytes| TrialFolder::record_without_folder(&dir, &bytes).map_err(|e| e.to_string()))
            .map(|()| dir);
        FinishedTrial { record, folder, storage_fault: None }
    }
}

/// Runs one trial to its end and commits its record on its own; never panics.
/// See [`run_trial_uncommitted`] and [`commit`].
pub(super) fn run_trial(
    env: &TrialEnv,
    trial: &TrialSpec,
    events: &dyn EventSink,
) -> Result<TrialRecord, StorageFault> {
    let finished = run_trial_uncommitted(env, trial, events);
    commit(env.dir, vec![finished]).pop().unwrap_or_else(|| unreachable!("one trial in, one record out"))
}

/// Commits finished trials together: their files become durable, then their
/// records (`trial.json`), which is what makes a trial count as complete; a
/// crash before that means a rerun. A trial whose record cannot be written
/// comes back as failed; one that met a full or read-only filesystem, in
/// training or here, comes back as that [`StorageFault`], without a record.
pub(super) fn commit(dir: &SweepDir, finished: Vec<FinishedTrial>) -> Vec<Result<TrialRecord, StorageFault>> {
    let folders: Vec<PathBuf> = finished.iter().filter_map(to_commit).collect();
    let mut outcomes = store::commit_records(dir.root(), &folders).into_iter();
    finished
        .into_iter()
        .map(|f| {
            let outcome = match (&f.storage_fault, &f.folder) {
                (None, Ok(_)) => outcomes.next(),
                _ => None,
            };
            committed(f, outcome.and_then(Result::err))
        })
        .collect()
}

/// The folder whose record a finished trial has to commit, if any.
fn to_commit(f: &FinishedTrial) -> Option<PathBuf> {
    f.storage_fault.is_none().then(|| f.folder.clone().ok()).flatten()
}

/// What a finished trial becomes once its commit is over: its record, a
/// failed record where the record could not be written (`error`), or the
/// [`StorageFault`] it met.
fn committed(f: FinishedTrial, error: Option<std::io::Error>) -> Result<TrialRecord, StorageFault> {
    if let Some(fault) = f.storage_fault {
        return Err(fault);
    }
    let error = match (&f.folder, error) {
        (Ok(folder), Some(e)) => match StorageFault::of(&folder.join(names::RECORD), &e) {
            Some(fault) => return Err(fault),
            None => Some(e.to_string()),
        },
        (Ok(_), None) => None,
        (Err(e), _) => Some(e.clone()),
    };
    Ok(match error {
        None => f.record,
        Some(e) => TrialRecord {
            status: TrialStatus::Failed,
            message: Some(format!("cannot write the trial record: {e}")),
            ..f.record
        },
    })
}

/// [`commit`] for a stream of groups, paying one barrier per group instead of
/// two: each [`GroupCommit::step`]'s barrier makes the records that the
/// previous step published durable, together with the files of the new group,
/// whose records it then publishes. A trial comes back, and counts as done,
/// only once its record is durable: one step after it was published.
#[derive(Default)]
pub(super) struct GroupCommit {
    /// Trials whose `trial.json` the last step renamed into place, not yet durable.
    published: Vec<FinishedTrial>,
}

impl GroupCommit {
    /// Whether no published record waits for a barrier.
    pub(super) fn is_idle(&self) -> bool {
        self.published.is_empty()
    }

    /// One barrier: returns the previous step's trials, now committed, and
    /// those of `finished` that end here (a storage fault, no folder, a
    /// record that could not be published); the others wait for the next step.
    pub(super) fn step(
        &mut self,
        dir: &SweepDir,
        finished: Vec<FinishedTrial>,
    ) -> Vec<Result<TrialRecord, StorageFault>> {
        let published = std::mem::take(&mut self.published);
        let sealing: Vec<PathBuf> = published.iter().filter_map(to_commit).collect();
        let folders: Vec<PathBuf> = finished.iter().filter_map(to_commit).collect();
        let (sealed, renamed) = store::commit_step(dir.root(), &sealing, &folders);
        let mut done: Vec<_> = published
            .into_iter()
            .map(|f| {
                let error = sealed.as_ref().err().map(|e| std::io::Error::new(e.kind(), e.to_string()));
                committed(f, error)
            })
            .collect();
        let mut renamed = renamed.into_iter();
        for f in finished {
            match to_commit(&f).and(renamed.next()) {
                Some(Ok(())) => self.published.push(f),
                Some(Err(e)) => done.push(committed(f, Some(e))),
                None => done.push(committed(f, None)),
            }
        }
        done
    }
}

/// Runs one trial to its end on the current thread and leaves its record to
/// [`commit`]; never panics. Call it inside a one-thread rayon pool: Burn's
/// flex backend runs large GEMMs on the current pool, and one thread per trial
/// keeps concurrent trials from oversubscribing the cores.
pub(super) fn run_trial_uncommitted(env: &TrialEnv, trial: &TrialSpec, events: &dyn EventSink) -> FinishedTrial {
    let start = Instant::now();
    let started_at = store::now_rfc3339();
    let params = env.schema.resolve(&env.spec.train, &trial.params);
    let trial_dir = env.dir.trial_dir(&trial.id);
    let mut progress = Progress::default();
    let mut folder: Option<TrialFolder> = None;

    let outcome = catch_unwind(AssertUnwindSafe(|| -> Result<Option<(usize, &'static str)>, TrialError> {
        if env.faults.panic.contains(&trial.index) {
            panic!("injected failure for trial index {} (SWEEP_FAIL_TRIALS)", trial.index);
        }
        let marker = serde_json::to_vec_pretty(&RunningMarker::now()).map_err(failed)?;
        let columns = history_columns(env);
        let preprocessing = match env.data.folds.is_empty() {
            true => names::PREPROCESSING.to_string(),
            false => names::fold_preprocessing(trial.repeat),
        };
        // The claim this process took is the marker too (attempt 0: the trial runs unclaimed).
        let claim = (trial.attempt > 0).then(|| trial_dir.join(store::claim::claim_file_name(trial.attempt)));
        let (preprocessing, header) =
            (env.dir.file(&preprocessing), history_line(&[&["epoch"][..], &columns, &["saved_best"]].concat())?);
        let started = folder.insert(
            match claim.as_deref() {
                Some(claim) if trial.new_folder => {
                    TrialFolder::start_in_claimed(&trial_dir, &marker, claim, &preprocessing, &header)
                }
                claim => TrialFolder::start(&trial_dir, &marker, claim, &preprocessing, &header),
            }
            .map_err(|e| progress.write_failed(&trial_dir, e))?,
        );
        if env.faults.abort.contains(&trial.index) {
            std::process::abort();
        }
        events.emit(RunEvent::TrialStarted { index: trial.index, id: trial.id.clone() });
        train(env, trial, &params, started, &mut progress, events, Keep::Best)
    }));
    // The checkpoint's sha256 is taken once, of the final one, for trial.json: hashing
    // every save cost more than all the rest of checkpointing.
    let data = env.data.for_trial(trial);
    let sealed = match (folder.as_mut(), progress.best_epoch) {
        (Some(folder), Some(epoch)) => seal_best(folder, &mut progress).and_then(|checkpoint| {
            // Measured here, once, from the bytes the hash was taken of: the best epoch's model,
            // whatever epoch the loop ended on.
            if matches!(outcome, Ok(Ok(_))) {
                progress.cost = Some(super::cost::measure(
                    env.objective,
                    &checkpoint,
                    &params,
                    data,
                    &env.device.device,
                    start.elapsed(),
                    Some(super::cost::Reuse { known: &env.serving_costs, trial_id: &trial.id }),
                ));
            }
            let Some(best) = progress.best_outputs.take() else { return Ok(()) };
            let (targets, width, scale) = match best.own {
                Some((targets, width)) => (targets, width, None),
                None => (data.valid_y.stored(), data.n_outputs(), data.preprocessing.target_scale),
            };
            let outputs =
                store::StoredOutputs { epoch, rows: targets.len(), width, values: best.values, targets, scale };
            let path = folder.dir().join(names::VALID_OUTPUTS);
            let bytes = store::encode_outputs(&outputs);
            progress.valid_outputs_sha256 = Some(store::sha256_hex(&bytes));
            folder.replace(names::VALID_OUTPUTS, &bytes).map_err(|e| progress.write_failed(&path, e))
        }),
        _ => Ok(()),
    };
    let outcome = match (outcome, sealed) {
        (Ok(Ok(_)), Err(e)) => Ok(Err(e)),
        (outcome, _) => outcome,
    };

    let (status, message) = match outcome {
        Ok(Ok(None)) => (TrialStatus::Completed, None),
        Ok(Ok(Some((epoch, rule)))) => (TrialStatus::Pruned, Some(format!("pruned by {rule} at epoch {epoch}"))),
        Ok(Err(e @ TrialError::Diverged { .. })) => (TrialStatus::Diverged, Some(e.to_string())),
        Ok(Err(e)) => (TrialStatus::Failed, Some(e.to_string())),
        Err(payload) => (TrialStatus::Failed, Some(panicked(&panic_message(&*payload), &env.device))),
    };
    let record = TrialRecord {
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
        duration_s: start.elapsed().as_secs_f64(),
        checkpoint_s: progress.checkpoint_seconds,
        checkpoint_bytes: progress.checkpoint_bytes,
        valid_outputs_sha256: progress.valid_outputs_sha256,
        program: progress.program,
        cost: progress.cost,
        ..base_record(env, trial, params, started_at)
    };
    if let Some(fault) = progress.storage_fault {
        return abandon(folder, trial_dir, record, fault);
    }
    let mut storage_fault = None;
    let finished = json_file(&record)
        .map_err(|e| e.to_string())
        .and_then(|bytes| {
            match folder {
                Some(folder) => folder.finish(&bytes),
                // A trial that failed before its folder existed still leaves a record.
                None => TrialFolder::record_without_folder(&trial_dir, &bytes),
            }
            .map_err(|e| {
                storage_fault = StorageFault::of(&trial_dir.join(names::RUNNING), &e);
                format!("{}: {e}", trial_dir.display())
            })
        })
        .map(|()| trial_dir.clone());
    match storage_fault {
        Some(fault) => abandon(None, trial_dir, record, fault),
        None => FinishedTrial { record, folder: finished, storage_fault: None },
    }
}

/// Gives up a trial that the filesystem would not take (full or read-only):
/// its folder goes, where the filesystem still lets it, so that no empty or
/// half-written file is left for later commands to trip over, space is given
/// back, and `--resume` runs the trial again from scratch.
fn abandon(folder: Option<TrialFolder>, dir: PathBuf, record: TrialRecord, fault: StorageFault) -> FinishedTrial {
    drop(folder);
    // On a read-only filesystem this fails too, but then nothing was written either.
    let _ = std::fs::remove_dir_all(&dir);
    let record = TrialRecord {
        status: TrialStatus::Failed,
        message: Some(format!("abandoned, not recorded: {fault}")),
        ..record
    };
    FinishedTrial { record, folder: Err(fault.to_string()), storage_fault: Some(fault) }
}

/// What a trial's record says before it has trained: who it is and what it trains.
fn base_record(env: &TrialEnv, trial: &TrialSpec, params: ResolvedParams, started_at: String) -> TrialRecord {
    TrialRecord {
        sweep: env.spec.name.clone(),
        spec_hash: env.spec_hash.clone(),
        index: trial.index,
        id: trial.id.clone(),
        seed: trial.seed,
        params: trial.params.clone(),
        config: trial.config,
        repeat: trial.repeat,
        settings: params.values().clone(),
        objective: env.objective.name().to_string(),
        objective_version: env.objective.version().to_string(),
        task: env.data.main.task,
        data_fingerprint: env.data.main.preprocessing.data_fingerprint.clone(),
        started_at,
        finished_at: store::now_rfc3339(),
        host: store::hostname(),
        pid: std::process::id(),
        attempt: trial.attempt.max(1),
        device: Some(env.device.info.clone()),
        ..TrialRecord::synthetic(&env.spec.name, &trial.id, env.spec.metric.clone())
    }
}

/// The columns of `history.csv` between `epoch` and `saved_best`: the
/// task's metrics, and the monitored one where a program reports a metric of its own.
fn history_columns<'a>(env: &TrialEnv<'a>) -> Vec<&'a str> {
    let mut columns = env.data.main.task.metric_names().to_vec();
    if !columns.contains(&env.spec.metric.metric.as_str()) {
        columns.push(&env.spec.metric.metric);
    }
    columns
}

fn failed(e: impl std::fmt::Display) -> TrialError {
    TrialError::Failed(e.to_string())
}

/// What the epoch loop keeps of a model.
#[derive(Clone, Copy)]
enum Keep<'a> {
    /// A trial: every epoch validates, and the callbacks keep the best one,
    /// stop early or prune.
    Best,
    /// No validation split (a refit): every epoch trains and the last one is
    /// kept, its checkpoint written with this header.
    Last(&'a BTreeMap<String, String>),
}

/// Trains `trial` on every non-test row (`data.main`, which has no
/// validation split) for its `epochs` through the one epoch loop, and returns
/// the last epoch's checkpoint as the objective writes it with `header`: the
/// refit of a cross-validation's winner. Its history.csv gets `epoch,train_loss` rows.
pub(crate) fn train_last_epoch(
    env: &TrialEnv,
    trial: &TrialSpec,
    params: &ResolvedParams,
    folder: &mut TrialFolder,
    header: &BTreeMap<String, String>,
) -> Result<Vec<u8>, TrialError> {
    let mut progress = Progress::default();
    train(env, trial, params, folder, &mut progress, &super::NoEvents, Keep::Last(header))?;
    progress.last_checkpoint.ok_or_else(|| failed("the epoch loop ended without a checkpoint"))
}

/// The epoch loop: train, validate, compute the metrics, ask the callbacks,
/// act on what they decide (with [`Keep::Last`]: train only, then keep the
/// last epoch). Returns the epoch and rule of a pruning.
fn train(
    env: &TrialEnv,
    trial: &TrialSpec,
    params: &ResolvedParams,
    folder: &mut TrialFolder,
    progress: &mut Progress,
    events: &dyn EventSink,
    keep: Keep,
) -> Result<Option<(usize, &'static str)>, TrialError> {
    let data = match keep {
        Keep::Best => env.data.for_trial(trial),
        Keep::Last(_) => &env.data.main,
    };
    let dir = folder.dir().to_path_buf();
    let pruning = match (env.spec.early_terminate, &env.peers) {
        (Some(rule), Some(peers)) => Some((rule, peers.clone())),
        (Some(rule), None) if env.asynchronous => {
            let (dir, monitor, own) = (env.dir.clone(), env.spec.metric.clone(), trial.id.clone());
            Some((
                rule,
                PeerCurves::Live(std::sync::Arc::new(move || super::curves::live_curves(&dir, &monitor, &own))),
            ))
        }
        _ => None,
    };
    let mut callbacks = callback::for_trial(&env.spec.metric, env.spec.early_stopping.as_ref(), pruning);
    if env.seed_burn {
        seed_burn(trial.seed, &env.device);
    }
    let ctx = TrialContext {
        index: trial.index,
        id: &trial.id,
        seed: trial.seed,
        params,
        data,
        dir: Some(&dir),
        command: env.spec.command.as_ref(),
        monitor: Some(&env.spec.metric),
        device: &env.device,
    };
    let mut trainer = env.objective.start(&ctx)?;
    progress.program = trainer.program();
    let columns = history_columns(env);
    let max_epochs = params.epochs()?;
    let mut pruned = None;

    for epoch in 1..=max_epochs {
        if !trainer.next_epoch()? {
            break;
        }
        let train_loss = trainer.train_epoch()?;
        progress.epochs_run = epoch;
        if !train_loss.is_finite() {
            return Err(TrialError::Diverged { epoch, what: format!("train_loss is {train_loss}") });
        }
        if let Keep::Last(_) = keep {
            let row = [epoch.to_string(), train_loss.to_string()];
            folder
                .append_history(&history_line(&row)?)
                .map_err(|e| progress.write_failed(&dir.join(names::HISTORY), e))?;
            continue;
        }
        let (epoch_metrics, outputs) = epoch_metrics(env, data, epoch, train_loss, trainer.validation()?)?;

        let Actions { save_best, stop, pruned_by } = callback::on_epoch_end(&mut callbacks, epoch, &epoch_metrics);
        trainer.decided(epoch, save_best, stop || pruned_by.is_some() || epoch == max_epochs)?;
        if env.spec.checkpoint == CheckpointPolicy::EveryEpoch {
            let started = Instant::now();
            let bytes =
                trainer.checkpoint(&BTreeMap::from([(store::header_keys::EPOCH.to_string(), epoch.to_string())]))?;
            let path = dir.join(names::EPOCHS).join(format!("epoch-{epoch:04}.safetensors"));
            std::fs::create_dir_all(dir.join(names::EPOCHS)).map_err(|e| progress.write_failed(&path, e))?;
            store::write_atomic_deferred(&path, &bytes).map_err(|e| progress.write_failed(&path, e))?;
            progress.checkpoint_bytes += bytes.len() as u64;
            progress.checkpoint_seconds += started.elapsed().as_secs_f64();
        }
        if save_best {
            save_best_checkpoint(env, trial, params, folder, epoch, &epoch_metrics, &*trainer, progress)?;
            progress.best_outputs = outputs;
            events.emit(RunEvent::CheckpointSaved { index: trial.index, id: trial.id.clone(), epoch });
        }
        let mut row = vec![epoch.to_string()];
        row.extend(columns.iter().map(|name| epoch_metrics.get(*name).map(|v| v.to_string()).unwrap_or_default()));
        row.push(save_best.to_string());
        folder.append_history(&history_line(&row)?).map_err(|e| progress.write_failed(&dir.join(names::HISTORY), e))?;
        events.emit(RunEvent::EpochEnded { index: trial.index, id: trial.id.clone(), epoch, metrics: epoch_metrics });
        if let Some(rule) = pruned_by {
            events.emit(RunEvent::Pruned { index: trial.index, id: trial.id.clone(), epoch, rule: rule.to_string() });
            pruned = Some((epoch, rule));
            break;
        }
        if stop {
            break;
        }
    }
    if let Keep::Last(header) = keep {
        progress.last_checkpoint = Some(trainer.checkpoint(header)?);
    }
    trainer.finish()?;
    Ok(pruned)
}

/// An epoch's metrics from what the trainer's validation gave, and the raw
/// outputs to keep should the epoch be the best: the sweep's validation rows
/// (checked against their count), rows of the objective's own with their
/// targets, or metrics the objective computed itself. Anything not finite
/// ends the trial as diverged.
fn epoch_metrics(
    env: &TrialEnv,
    data: &crate::data::Prepared,
    epoch: usize,
    train_loss: f64,
    validation: Validation,
) -> Result<(Metrics, Option<BestOutputs>), TrialError> {
    let expected = data.n_valid() * data.n_outputs();
    let (scored, outputs) = match validation {
        Validation::Outputs(outputs) => {
            if outputs.len() != expected {
                return Err(TrialError::Failed(format!(
                    "objective \"{}\" returned {} validation outputs at epoch {epoch}; expected {} rows x {} outputs = {expected}",
                    env.objective.name(),
                    outputs.len(),
                    data.n_valid(),
                    data.n_outputs()
                )));
            }
            if outputs.iter().any(|v| !v.is_finite()) {
                return Err(TrialError::Diverged { epoch, what: "validation outputs are not finite".into() });
            }
            let mut m = metrics::evaluate(&outputs, data.valid_truth());
            m.insert("train_loss".into(), train_loss);
            (m, BestOutputs { values: outputs, own: None })
        }
        Validation::Own { outputs, targets, reported } => {
            let rows = targets.len();
            let width = outputs.len().checked_div(rows).unwrap_or(0);
            if rows == 0 || width == 0 || outputs.len() != rows * width {
                return Err(TrialError::Failed(format!(
                    "objective \"{}\" returned {} validation outputs for {rows} targets at epoch {epoch}",
                    env.objective.name(),
                    outputs.len()
                )));
            }
            if outputs.iter().any(|v| !v.is_finite()) {
                return Err(TrialError::Diverged { epoch, what: "validation outputs are not finite".into() });
            }
            let original = targets.stored();
            let truth = match &targets {
                crate::data::Targets::Classes(labels) => metrics::Truth::Classes { labels, n_classes: width },
                crate::data::Targets::Values { original, .. } => {
                    metrics::Truth::Values { values: original, scale: metrics::TargetScale::IDENTITY }
                }
            };
            let mut m = metrics::evaluate(&outputs, truth);
            not_finite(epoch, &reported)?;
            for (name, value) in reported {
                m.entry(name).or_insert(value);
            }
            (m, BestOutputs { values: outputs, own: Some((original, width)) })
        }
        Validation::Metrics(m) => {
            not_finite(epoch, &m)?;
            (m, BestOutputs { values: Vec::new(), own: None })
        }
    };
    Ok((scored, (!outputs.values.is_empty()).then_some(outputs)))
}

/// A metric that is NaN or infinite ends the trial as diverged.
fn not_finite(epoch: usize, m: &Metrics) -> Result<(), TrialError> {
    match m.iter().find(|(_, v)| !v.is_finite()) {
        Some((name, v)) => Err(TrialError::Diverged { epoch, what: format!("{name} is {v}") }),
        None => Ok(()),
    }
}

/// Seeds Burn's process-global RNG (of flex and of the trial's device) from
/// a trial's seed, for objectives whose trials each run alone in a process.
/// Never `Device::default()`: in a build with a GPU backend that is the GPU,
/// which a CPU trial must not open.
pub(crate) fn seed_burn(trial_seed: u64, device: &TrialDevice) {
    let seed = crate::seed::derive_seed(trial_seed, "burn", 0);
    burn::tensor::Device::flex().seed(seed);
    if device.info.backend.is_gpu() {
        device.device.seed(seed);
    }
}

#[allow(clippy::too_many_arguments)]
fn save_best_checkpoint(
    env: &TrialEnv,
    trial: &TrialSpec,
    params: &ResolvedParams,
    folder: &mut TrialFolder,
    epoch: usize,
    epoch_metrics: &Metrics,
    trainer: &dyn crate::objective::Trainer,
    progress: &mut Progress,
) -> Result<(), TrialError> {
    let started = Instant::now();
    // The checkpoint describes itself too: its header carries the epoch and metrics,
    // so even a checkpoint copied away from its best.json stays self-explanatory.
    let header = BTreeMap::from([
        (store::header_keys::TRIAL_ID.to_string(), trial.id.clone()),
        (store::header_keys::OBJECTIVE.to_string(), format!("{} {}", env.objective.name(), env.objective.version())),
        (store::header_keys::EPOCH.to_string(), epoch.to_string()),
        (store::header_keys::METRICS.to_string(), json(epoch_metrics)),
        (store::header_keys::PARAMS.to_string(), json(&trial.params)),
        (store::header_keys::SEED.to_string(), trial.seed.to_string()),
        (store::header_keys::DATA_FINGERPRINT.to_string(), env.data.main.preprocessing.data_fingerprint.clone()),
    ]);
    let bytes = trainer.checkpoint(&header)?;
    // A safetensors checkpoint gets a canonical header, so identical weights give identical
    // bytes; an objective's own format, and a program's file, are stored as they are.
    let bytes = match trainer.verbatim() {
        true => bytes,
        false => store::canonical_safetensors(&bytes).unwrap_or(bytes),
    };
    let dir = folder.dir().to_path_buf();
    let mut in_folder = |name: &str, e: std::io::Error| progress.write_failed(&dir.join(name), e);
    folder.replace(names::CHECKPOINT, &bytes).map_err(|e| in_folder(names::CHECKPOINT, e))?;
    let meta = BestMetadata {
        trial_id: trial.id.clone(),
        epoch,
        metrics: epoch_metrics.clone(),
        params: trial.params.clone(),
        settings: params.values().clone(),
        objective: env.objective.name().to_string(),
        objective_version: env.objective.version().to_string(),
        seed: trial.seed,
        data_fingerprint: env.data.main.preprocessing.data_fingerprint.clone(),
        checkpoint: names::CHECKPOINT.to_string(),
        checkpoint_sha256: None,
    };
    folder.replace(names::BEST_METADATA, &json_file(&meta)?).map_err(|e| in_folder(names::BEST_METADATA, e))?;
    progress.best_epoch = Some(epoch);
    progress.best_metrics = epoch_metrics.clone();
    progress.checkpoint_bytes += bytes.len() as u64;
    progress.checkpoint_seconds += started.elapsed().as_secs_f64();
    progress.best_checkpoint = Some(bytes);
    Ok(())
}

/// The final checkpoint's sha256, for the trial's record; returns its bytes.
fn seal_best(folder: &TrialFolder, progress: &mut Progress) -> Result<Vec<u8>, TrialError> {
    let started = Instant::now();
    let bytes = match progress.best_checkpoint.take() {
        Some(bytes) => bytes,
        None => {
            let path = folder.dir().join(names::CHECKPOINT);
            std::fs::read(&path).map_err(|e| failed(format!("{}: {e}", path.display())))?
        }
    };
    progress.checkpoint_sha256 = Some(store::sha256_hex(&bytes));
    progress.checkpoint_seconds += started.elapsed().as_secs_f64();
    Ok(bytes)
}

/// Pretty JSON with a final newline, as every JSON file of the results folder.
fn json_file<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, TrialError> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(failed)?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Compact JSON for the checkpoint header.
fn json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// One line of `history.csv`: `epoch, <every metric>, saved_best`; a metric a
/// trial does not have stays empty.
fn history_line<S: AsRef<[u8]>>(fields: &[S]) -> Result<Vec<u8>, TrialError> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(fields).map_err(failed)?;
    w.into_inner().map_err(failed)
}

/// A trial's panic in words: a GPU that ran out of memory says so, and which
/// device it was, so the user knows to lower `trials_per_device` or the model's size.
fn panicked(message: &str, device: &TrialDevice) -> String {
    if device.info.backend.is_gpu() && crate::device::is_out_of_memory(message) {
        format!(
            "out of device memory on {}: lower [resources] trials_per_device or the model's size ({message})",
            device.info.label()
        )
    } else {
        format!("panicked: {message}")
    }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{Backend, DeviceInfo};

    #[test]
    fn a_gpu_out_of_memory_panic_says_so_and_names_the_device() {
        let gpu = TrialDevice {
            device: burn::tensor::Device::flex(),
            info: DeviceInfo {
                backend: Backend::Wgpu,
                index: Some(1),
                name: "NVIDIA H100".into(),
                driver: None,
                api: Some("vulkan".into()),
            },
        };
        let m = panicked("Error in Queue::submit: Out of Memory", &gpu);
        assert!(
            m.starts_with("out of device memory on wgpu:1 (NVIDIA H100): lower [resources] trials_per_device"),
            "{m}"
        );
        assert_eq!(panicked("index out of bounds", &gpu), "panicked: index out of bounds");
        assert_eq!(
            panicked("out of memory", &TrialDevice::cpu()),
            "panicked: out of memory",
            "the CPU's is no device's"
        );
    }
}
