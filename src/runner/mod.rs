//! The trial runner: runs the planned trials `workers` at a time, each inside
//! a single-thread rayon pool (one compute thread per trial), isolates their failures, and streams their results to
//! one reporter on the calling thread.

mod progress;
mod trial;

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

pub use progress::{ProgressBarReporter, Reporter, SilentReporter};
pub use trial::{TrialEnv, run_trial};

use crate::data::{self, DataError};
use crate::objective::Objective;
use crate::plan::{Plan, TrialSpec};
use crate::spec::SweepSpec;
use crate::store::{self, StoreError, SweepDir, SweepManifest, TrialRecord, names};

/// What to do when the results folder already holds trials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExistingResults {
    /// Stop with a message that names `--resume` and `--fresh`.
    Refuse,
    /// Keep complete trials and run the rest.
    Resume,
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
    /// Trial indices to fail on purpose (test hook).
    pub fail_indices: BTreeSet<usize>,
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

/// Plans and runs a sweep, then leaves the per-trial records on disk (the
/// caller aggregates them).
pub fn run_sweep(
    spec: &SweepSpec,
    objective: &dyn Objective,
    options: &RunOptions,
    reporter: &mut dyn Reporter,
) -> Result<RunSummary, RunError> {
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

    let plan = Plan::new(spec);
    let dir = SweepDir::new(options.results_root.join(&spec.name));
    let done = prepare_results_dir(spec, &plan, &dir, options.existing)?;
    let todo: Vec<TrialSpec> = plan.trials().filter(|t| !done.contains(&t.id)).collect();

    let env = TrialEnv {
        spec,
        spec_hash: spec.hash(),
        data: &prepared,
        objective,
        dir: &dir,
        fail_indices: &options.fail_indices,
    };
    // One single-thread rayon pool per worker, driven by a plain thread. Calling
    // `install` from a rayon worker thread would let that thread steal sibling
    // trials while it waits (measured: all 36 grid trials at once with
    // --workers 1), so the dispatching threads must not be rayon workers.
    let n_threads = options.workers.clamp(1, todo.len().max(1));
    let pools = (0..n_threads)
        .map(|w| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(1)
                .thread_name(move |_| format!("sweep-trial-{w}"))
                .build()
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| RunError::Pool {
            workers: options.workers,
            message: e.to_string(),
        })?;

    reporter.on_start(plan.len(), done.len());
    // Trial panics are caught and recorded; keep the default hook from also
    // printing them over the progress bar.
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<TrialRecord>();
    let mut records = Vec::with_capacity(todo.len());
    std::thread::scope(|scope| {
        for pool in pools {
            let (tx, next, todo, env) = (tx.clone(), &next, &todo, &env);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(trial) = todo.get(i) else { break };
                    if tx.send(pool.install(|| run_trial(env, trial))).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for record in rx {
            reporter.on_trial_finished(&record);
            records.push(record);
        }
    });
    std::panic::set_hook(previous_hook);
    reporter.on_finish();
    records.sort_by_key(|r| r.index);
    Ok(RunSummary {
        dir,
        planned: plan.len(),
        resumed: done.len(),
        records,
    })
}

/// Applies the existing-results policy and writes the manifest; returns the
/// ids of complete trials to skip.
fn prepare_results_dir(
    spec: &SweepSpec,
    plan: &Plan,
    dir: &SweepDir,
    policy: ExistingResults,
) -> Result<BTreeSet<String>, RunError> {
    let conflict = |message: String| RunError::ExistingResults {
        dir: dir.root().to_path_buf(),
        message,
    };
    let hash = spec.hash();
    let mut done = BTreeSet::new();
    let manifest = match policy {
        _ if !dir.has_results() => None,
        ExistingResults::Refuse => {
            let scan = dir.scan()?;
            return Err(conflict(format!(
                "already holds {} complete and {} incomplete trial(s) of sweep \"{}\"; \
                 run again with --resume to keep them and run the rest, or --fresh to delete them and start over",
                scan.complete.len(),
                scan.incomplete.len(),
                spec.name
            )));
        }
        ExistingResults::Resume => {
            let manifest = dir.manifest()?;
            if let Some(old) = manifest
                .as_ref()
                .map(|m| &m.spec_hash)
                .filter(|h| **h != hash)
            {
                return Err(conflict(format!(
                    "was made by a different spec (hash {old}, this one is {hash}); resuming would mix \
                     their trials: use --fresh to start over, or give the sweep another name"
                )));
            }
            // Trials without a readable record are simply run again.
            let planned: BTreeSet<String> = plan.trials().map(|t| t.id).collect();
            done = dir
                .scan()?
                .complete
                .into_iter()
                .filter(|r| r.spec_hash == hash && planned.contains(&r.id))
                .map(|r| r.id)
                .collect();
            manifest
        }
        ExistingResults::Fresh => {
            // Deletes without reading: --fresh must work on any earlier folder, even a broken one.
            let trials = dir.trials_dir();
            if trials.exists() {
                std::fs::remove_dir_all(&trials).map_err(StoreError::io(&trials))?;
            }
            for name in [names::LEADERBOARD, names::REGISTRY, names::MANIFEST] {
                let path = dir.file(name);
                if path.exists() {
                    std::fs::remove_file(&path).map_err(StoreError::io(&path))?;
                }
            }
            None
        }
    };
    let trials = dir.trials_dir();
    std::fs::create_dir_all(&trials).map_err(StoreError::io(&trials))?;
    if manifest.is_none() {
        store::write_json(
            &dir.file(names::MANIFEST),
            &SweepManifest::new(spec, plan.len()),
        )?;
    }
    Ok(done)
}
