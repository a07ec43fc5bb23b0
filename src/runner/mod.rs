//! The trial runner: runs the planned trials `workers` at a time, each inside
//! a single-thread rayon pool (one compute thread per trial), isolates their
//! failures, and streams their results to one reporter on the calling thread.
//! [`run_single_trial`] runs one trial of the plan on its own, as a SLURM
//! array task does.

mod progress;
mod trial;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

pub use progress::{ProgressBarReporter, Reporter, SilentReporter};
pub use trial::{FinishedTrial, InjectedFaults, RunningMarker, TrialEnv, commit, run_trial, run_trial_uncommitted};

use crate::data::{self, DataError, Prepared};
use crate::objective::Objective;
use crate::objective::settings::TrainSettings;
use crate::plan::{Plan, TrialSpec};
use crate::spec::SweepSpec;
use crate::store::{self, StoreError, SweepDir, SweepManifest, TrialRecord, names};

/// What to do when the results folder already holds trials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExistingResults {
    /// Stop with a message that names `--resume` and `--fresh`.
    Refuse,
    /// Keep complete trials and run the rest.
    Resume {
        /// Also run again the trials that failed or diverged.
        retry_failed: bool,
    },
    /// Delete the sweep's earlier results and start over.
    Fresh,
}

/// How to run a sweep.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Trials at once.
    pub workers: usize,
    /// The folder that holds one folder per sweep (`results/`).
    pub results_root: PathBuf,
    /// Policy for an existing results folder.
    pub existing: ExistingResults,
    /// Trials to break on purpose (test hook).
    pub faults: InjectedFaults,
}

/// Why a sweep could not run (as opposed to trials that failed, which are data).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The data file is unusable.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The spec asks for something the data cannot give.
    #[error("{file}: {message}")]
    SpecVsData {
        /// The spec file.
        file: PathBuf,
        /// What does not fit.
        message: String,
    },
    /// The results folder already holds results this run must not mix with.
    #[error("{dir}: {message}")]
    ExistingResults {
        /// The sweep's results folder.
        dir: PathBuf,
        /// What is there and what to do.
        message: String,
    },
    /// A trial index outside the plan.
    #[error("{file}: --index {index} is outside the plan, which has trials 0 to {last}")]
    IndexOutOfRange {
        /// The spec file.
        file: PathBuf,
        /// The index asked for.
        index: usize,
        /// The last valid index.
        last: usize,
    },
    /// A single trial of an adaptive plan was asked for.
    #[error(
        "{file}: method = \"tpe\" and [early_terminate] judge each batch of trials by the ones before it, so such trials cannot run on their own (sweep trial, sweep slurm); run the sweep with `sweep run`"
    )]
    Adaptive {
        /// The spec file.
        file: PathBuf,
    },
    /// Reading or writing the results folder failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The worker pool could not start.
    #[error("cannot start {workers} worker threads: {message}")]
    Pool {
        /// Workers asked for.
        workers: usize,
        /// Why.
        message: String,
    },
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunSummary {
    /// The sweep's results folder.
    pub dir: SweepDir,
    /// Trials in the plan.
    pub planned: usize,
    /// Complete trials kept from an earlier run.
    pub resumed: usize,
    /// Records of the trials this run trained.
    pub records: Vec<TrialRecord>,
}

/// A sweep's data, plan and results folder, loaded and checked once.
pub struct OpenSweep {
    /// The split, ready for training.
    pub data: Prepared,
    /// The trials.
    pub plan: Plan,
    /// `results/<name>/`.
    pub dir: SweepDir,
}

/// Loads and checks the data and builds the plan; writes nothing.
pub fn open_sweep(spec: &SweepSpec, results_root: &std::path::Path) -> Result<OpenSweep, RunError> {
    let dataset = data::load_csv(&spec.data.path, &spec.data.target)?;
    let prepared = data::prepare(&dataset, spec.data.valid_fraction, spec.seed)?;
    if spec.metric.name == "auroc" && prepared.n_classes != 2 {
        return Err(RunError::SpecVsData {
            file: spec.source.clone(),
            message: format!(
                "metric.name = \"auroc\" needs a binary target, but \"{}\" has {} classes",
                spec.data.target, prepared.n_classes
            ),
        });
    }
    Ok(OpenSweep { data: prepared, plan: Plan::new(spec), dir: SweepDir::new(results_root.join(&spec.name)) })
}

/// Plans and runs a sweep, then leaves the per-trial records on disk (the
/// caller aggregates them).
pub fn run_sweep(
    spec: &SweepSpec,
    objective: &dyn Objective,
    options: &RunOptions,
    reporter: &mut dyn Reporter,
) -> Result<RunSummary, RunError> {
    let OpenSweep { data, plan, dir } = open_sweep(spec, &options.results_root)?;
    let done = prepare_results_dir(spec, &plan, &dir, options.existing)?;
    write_preprocessing(&dir, &data)?;
    // TPE and early termination judge each batch by the ones before it.
    let batched = plan.is_adaptive() || spec.early_terminate.is_some();
    let mut todo: Vec<TrialSpec> =
        if batched { Vec::new() } else { plan.trials().filter(|t| !done.contains(&t.id)).collect() };
    // Costliest first (stable: plan order among equals), so the run does not end on one long trial.
    let cost = |t: &TrialSpec| objective.cost_hint(&TrainSettings::resolve(&spec.train, &t.params), &data);
    let mut costs: Vec<(f64, TrialSpec)> = todo.drain(..).map(|t| (cost(&t), t)).collect();
    costs.sort_by(|a, b| b.0.total_cmp(&a.0));
    todo.extend(costs.into_iter().map(|(_, t)| t));

    let env = TrialEnv {
        spec,
        spec_hash: spec.hash(),
        data: &data,
        objective,
        dir: &dir,
        faults: &options.faults,
        peers: None,
    };
    // One single-thread rayon pool per worker, driven by a plain thread. Calling
    // `install` from a rayon worker thread would let that thread steal sibling
    // trials while it waits (measured: all 36 grid trials at once with
    // --workers 1), so the dispatching threads must not be rayon workers.
    let n_threads = if batched { options.workers.max(1) } else { options.workers.clamp(1, todo.len().max(1)) };
    let pools = (0..n_threads)
        .map(|w| single_thread_pool(&format!("sweep-trial-{w}")))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|message| RunError::Pool { workers: options.workers, message })?;

    reporter.on_start(plan.len(), done.len());
    // Trial panics are caught and recorded; keep the default hook from also
    // printing them over the progress bar.
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let records = if batched {
        run_in_batches(&plan, &dir, &done, &pools, &env, reporter)
    } else {
        Ok(dispatch(&pools, &todo, &env, reporter))
    };
    std::panic::set_hook(previous_hook);
    let mut records = records?;
    reporter.on_finish();
    records.sort_by_key(|r| r.index);
    Ok(RunSummary { dir, planned: plan.len(), resumed: done.len(), records })
}

/// How long the committer gathers finished trials before committing them as one
/// group. Every barrier stalls file creation in the trials still running (their
/// folders' metadata blocks are under writeback), so fewer, larger groups win.
const GROUP_COMMIT_WINDOW: std::time::Duration = std::time::Duration::from_millis(50);

/// Runs `todo` on the pools, one trial per pool at a time. The calling thread
/// commits the trials that finished meanwhile as one group (see
/// [`crate::store::commit_records`]) while the pools go on training, then
/// reports each committed record.
fn dispatch(
    pools: &[rayon::ThreadPool],
    todo: &[TrialSpec],
    env: &TrialEnv,
    reporter: &mut dyn Reporter,
) -> Vec<TrialRecord> {
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<FinishedTrial>();
    let mut records = Vec::with_capacity(todo.len());
    std::thread::scope(|scope| {
        for pool in pools {
            let (tx, next) = (tx.clone(), &next);
            // One `install` per worker, not per trial: each costs two thread hand-offs.
            scope.spawn(move || {
                pool.install(|| {
                    loop {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(trial) = todo.get(i) else { break };
                        if tx.send(run_trial_uncommitted(env, trial)).is_err() {
                            break;
                        }
                    }
                })
            });
        }
        drop(tx);
        while let Ok(first) = rx.recv() {
            let mut group = vec![first];
            let deadline = std::time::Instant::now() + GROUP_COMMIT_WINDOW;
            while let Ok(more) = rx.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now())) {
                group.push(more);
            }
            for record in commit(env.dir, group) {
                reporter.on_trial_finished(&record);
                records.push(record);
            }
        }
    });
    records
}

/// Writes the sweep's preprocessing file, which every trial links into its
/// folder, unless it is already there with the same content (array tasks of one
/// sweep start at once and agree on it).
fn write_preprocessing(dir: &SweepDir, data: &Prepared) -> Result<(), RunError> {
    let path = dir.file(names::PREPROCESSING);
    let mut bytes = serde_json::to_vec_pretty(&data.preprocessing)
        .map_err(|e| StoreError::Parse { path: path.clone(), message: e.to_string() })?;
    bytes.push(b'\n');
    if std::fs::read(&path).ok().as_deref() != Some(&bytes[..]) {
        store::write_atomic(&path, &bytes).map_err(StoreError::io(&path))?;
    }
    Ok(())
}

/// Batches of as many configurations as there are workers: with TPE each batch
/// is proposed from the results of all batches before it, with early
/// termination each batch is judged against them; either way the sweep is
/// reproducible for a fixed seed and worker count.
fn run_in_batches(
    plan: &Plan,
    dir: &SweepDir,
    done: &BTreeSet<String>,
    pools: &[rayon::ThreadPool],
    env: &TrialEnv,
    reporter: &mut dyn Reporter,
) -> Result<Vec<TrialRecord>, RunError> {
    let kept: std::collections::BTreeMap<usize, TrialRecord> =
        dir.scan()?.complete.into_iter().filter(|r| done.contains(&r.id)).map(|r| (r.index, r)).collect();
    let batch = pools.len().max(1);
    let repeats = plan.repeats();
    let mut all: Vec<TrialRecord> = Vec::with_capacity(plan.len());
    let mut fresh = Vec::new();
    let mut curves: std::collections::BTreeMap<usize, Vec<f64>> = Default::default();
    for first in (0..plan.configs()).step_by(batch) {
        let history = observations(&all, env.spec);
        let mut batch_env = env.clone();
        if env.spec.early_terminate.is_some() {
            for r in &all {
                curves.entry(r.index).or_insert_with(|| monitored_curve(dir, r, env.spec));
            }
            batch_env.peers = Some(std::sync::Arc::new(curves.values().cloned().collect()));
        }
        let last = (first + batch).min(plan.configs());
        let mut todo = Vec::new();
        for trial in (first * repeats..last * repeats).map(|i| plan.trial_given(i, &history)) {
            match kept.get(&trial.index) {
                Some(r) if r.id == trial.id => all.push(r.clone()),
                Some(r) => {
                    return Err(RunError::ExistingResults {
                        dir: dir.root().to_path_buf(),
                        message: format!(
                            "trial {} was {} in the earlier run but is proposed as {} now: TPE proposals depend \
                             on the worker count, so resume with the same --workers, or use --fresh",
                            trial.index, r.id, trial.id
                        ),
                    });
                }
                None => todo.push(trial),
            }
        }
        let records = dispatch(pools, &todo, &batch_env, reporter);
        all.extend(records.iter().cloned());
        all.sort_by_key(|r| r.index);
        fresh.extend(records);
    }
    Ok(fresh)
}

/// A finished trial's best-so-far monitored value per epoch, from its history.csv.
fn monitored_curve(dir: &SweepDir, record: &TrialRecord, spec: &SweepSpec) -> Vec<f64> {
    let path = dir.trial_dir(&record.id).join(names::HISTORY);
    let Ok(mut reader) = csv::Reader::from_path(&path) else {
        return Vec::new();
    };
    let column = reader.headers().ok().and_then(|h| h.iter().position(|c| c == spec.metric.name));
    let Some(column) = column else {
        return Vec::new();
    };
    let values: Vec<f64> = reader
        .records()
        .filter_map(Result::ok)
        .map(|row| row.get(column).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN))
        .collect();
    crate::callback::pruning::best_so_far(&values, spec.metric.goal)
}

/// What TPE learns from finished trials: per configuration, the mean best-epoch
/// monitored metric over its completed repeats, oriented so smaller is better.
fn observations(records: &[TrialRecord], spec: &SweepSpec) -> Vec<crate::sampler::tpe::Observation> {
    let mut by_config: std::collections::BTreeMap<usize, (crate::params::Params, Vec<f64>)> = Default::default();
    for r in records {
        let entry = by_config.entry(r.config).or_insert_with(|| (r.params.clone(), Vec::new()));
        if r.status.has_model()
            && let Some(v) = r.best_metrics.get(&spec.metric.name).filter(|v| v.is_finite())
        {
            entry.1.push(*v);
        }
    }
    by_config
        .into_values()
        .map(|(params, values)| {
            let mean = (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64);
            let loss = mean.map(|m| if spec.metric.goal == crate::spec::Goal::Maximize { -m } else { m });
            crate::sampler::tpe::Observation { params, loss }
        })
        .collect()
}

fn single_thread_pool(name: &str) -> Result<rayon::ThreadPool, String> {
    let name = name.to_string();
    rayon::ThreadPoolBuilder::new().num_threads(1).thread_name(move |_| name.clone()).build().map_err(|e| e.to_string())
}

/// How [`run_single_trial`] ended.
#[derive(Debug, Clone)]
pub enum SingleTrial {
    /// The trial ran now; its new record.
    Ran(TrialRecord),
    /// A record was already there and was kept.
    AlreadyDone(TrialRecord),
}

/// Runs trial `index` of the plan on its own (a SLURM array task), writing its
/// record into the shared results folder. A trial that already has a record
/// is left alone unless `force`, or `retry_failed` and it did not complete.
pub fn run_single_trial(
    spec: &SweepSpec,
    objective: &dyn Objective,
    results_root: &std::path::Path,
    index: usize,
    force: bool,
    retry_failed: bool,
    faults: &InjectedFaults,
) -> Result<SingleTrial, RunError> {
    let OpenSweep { data, plan, dir } = open_sweep(spec, results_root)?;
    if plan.is_adaptive() || spec.early_terminate.is_some() {
        return Err(RunError::Adaptive { file: spec.source.clone() });
    }
    if index >= plan.len() {
        return Err(RunError::IndexOutOfRange { file: spec.source.clone(), index, last: plan.len().saturating_sub(1) });
    }
    ensure_manifest(spec, &plan, &dir)?;
    write_preprocessing(&dir, &data)?;
    let trial = plan.trial(index);
    let record_path = dir.trial_dir(&trial.id).join(names::RECORD);
    if record_path.exists() && !force {
        // An unreadable record counts as no record: the trial runs again.
        if let Ok(record) = store::read_json::<TrialRecord>(&record_path) {
            let rerun = retry_failed && !record.status.has_model();
            if !rerun {
                return Ok(SingleTrial::AlreadyDone(record));
            }
        }
    }
    let env = TrialEnv { spec, spec_hash: spec.hash(), data: &data, objective, dir: &dir, faults, peers: None };
    let pool = single_thread_pool("sweep-trial").map_err(|message| RunError::Pool { workers: 1, message })?;
    Ok(SingleTrial::Ran(pool.install(|| run_trial(&env, &trial))))
}

/// Writes the manifest if the folder has none; refuses a folder made by another spec.
/// Safe when many array tasks start at once: each write is atomic and they agree.
fn ensure_manifest(spec: &SweepSpec, plan: &Plan, dir: &SweepDir) -> Result<(), RunError> {
    let hash = spec.hash();
    match dir.manifest()? {
        Some(m) if m.spec_hash != hash => Err(RunError::ExistingResults {
            dir: dir.root().to_path_buf(),
            message: format!(
                "was made by a different spec (hash {}, this one is {hash}); give the sweep another name \
                 or start over with `sweep run --fresh`",
                m.spec_hash
            ),
        }),
        Some(_) => Ok(()),
        None => {
            let trials = dir.trials_dir();
            std::fs::create_dir_all(&trials).map_err(StoreError::io(&trials))?;
            store::write_json(&dir.file(names::MANIFEST), &SweepManifest::new(spec, plan.len()))?;
            Ok(())
        }
    }
}

/// Applies the existing-results policy and writes the manifest; returns the
/// ids of trials to skip because their records are kept.
pub fn prepare_results_dir(
    spec: &SweepSpec,
    plan: &Plan,
    dir: &SweepDir,
    policy: ExistingResults,
) -> Result<BTreeSet<String>, RunError> {
    let conflict = |message: String| RunError::ExistingResults { dir: dir.root().to_path_buf(), message };
    let hash = spec.hash();
    let mut done = BTreeSet::new();
    match policy {
        _ if !dir.has_results() => {}
        ExistingResults::Refuse => {
            let scan = dir.scan()?;
            return Err(conflict(format!(
                "already holds {} complete and {} incomplete trial(s) of sweep \"{}\"; \
                 run again with --resume to keep them and run the rest (sweep slurm: --only-missing, \
                 --retry-failed), or --fresh to delete them and start over",
                scan.complete.len(),
                scan.incomplete.len(),
                spec.name
            )));
        }
        ExistingResults::Resume { retry_failed } => {
            if let Some(old) = dir.manifest()?.map(|m| m.spec_hash).filter(|h| *h != hash) {
                return Err(conflict(format!(
                    "was made by a different spec (hash {old}, this one is {hash}); resuming would mix \
                     their trials: use --fresh to start over, or give the sweep another name"
                )));
            }
            // Trials without a readable record are simply run again.
            // An adaptive plan's ids are known only as it runs; its records are matched by index then.
            let planned: BTreeSet<String> =
                if plan.is_adaptive() { Default::default() } else { plan.trials().map(|t| t.id).collect() };
            done = dir
                .scan()?
                .complete
                .into_iter()
                .filter(|r| r.spec_hash == hash && (plan.is_adaptive() || planned.contains(&r.id)))
                .filter(|r| !retry_failed || r.status.has_model())
                .map(|r| r.id)
                .collect();
        }
        ExistingResults::Fresh => {
            // The folders of trials planned again stay for their reruns to reuse
            // (store::TrialFolder), with their records retired at once so that an
            // interrupted fresh run never mixes old and new trials; the rest goes.
            // Nothing is read: --fresh must work on any earlier folder, even a broken one.
            let trials = dir.trials_dir();
            let planned: BTreeSet<String> =
                if plan.is_adaptive() { BTreeSet::new() } else { plan.trials().map(|t| t.id).collect() };
            if dir.retire_trials(&planned).is_err() && trials.exists() {
                std::fs::remove_dir_all(&trials).map_err(StoreError::io(&trials))?;
            }
            // preprocessing.json stays: the kept folders link to it, and it is rewritten if the data changed.
            for name in [names::LEADERBOARD, names::REGISTRY, names::MANIFEST] {
                let path = dir.file(name);
                if path.exists() {
                    std::fs::remove_file(&path).map_err(StoreError::io(&path))?;
                }
            }
        }
    }
    ensure_manifest(spec, plan, dir)?;
    Ok(done)
}
