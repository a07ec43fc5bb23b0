//! The trial runner: runs the planned trials `workers` at a time, isolates
//! their failures, and streams their events to one reporter on the calling
//! thread. Trials run as threads, each inside a single-thread rayon pool (one
//! compute thread per trial), or, for objectives that need it, each in a
//! worker process of its own ([`worker`]). [`run_single_trial`] runs one trial
//! of the plan on its own, as a SLURM array task does.
//!
//! One job a file: [`open`](OpenSweep) opens a sweep, `dispatch` runs trials on
//! the workers, `claiming` shares them with other processes, `adaptive` runs
//! batches and proposals, `single` the one-process shares (array tasks, worker
//! processes), `results_dir` the `--resume`/`--fresh` policy, `trial` the one
//! epoch loop, `curves` reads the peers' curves early termination judges by.

mod adaptive;
mod claiming;
pub(crate) mod cost;
mod curves;
mod dispatch;
mod events;
mod open;
mod progress;
mod results_dir;
mod single;
mod trial;
pub(crate) mod worker;

use std::path::PathBuf;

pub(crate) use dispatch::single_thread_pool;
pub(crate) use events::{
    FanOut, NoEvents, Reporter,
    log::{self as event_log, EventLog},
};
use open::write_preprocessing;
pub(crate) use open::{OpenSweep, SweepData};
pub(crate) use progress::{ProgressBarReporter, SilentReporter};
pub(crate) use results_dir::prepare_results_dir;
pub(crate) use single::{SingleTrial, run_next_trials, run_single_trial, serve_worker};
pub(crate) use trial::train_last_epoch;
pub(crate) use trial::{InjectedFaults, RunningMarker, TrialEnv};

use crate::data::DataError;
use crate::device::{Placement, TrialDevice};
use crate::objective::{Catalog, Parallelism};
use crate::plan::TrialSpec;
use crate::spec::SweepSpec;
use crate::store::{StorageFault, StoreError, SweepDir, TrialRecord};
use claiming::Claiming;
use dispatch::{Workers, costliest_first, dispatch_until_done, worker_count};
use worker::WorkerCommand;

/// What to do when the results folder already holds trials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExistingResults {
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
pub(crate) struct RunOptions {
    /// Trials at once.
    pub workers: usize,
    /// The folder that holds one folder per sweep (`results/`).
    pub results_root: PathBuf,
    /// Policy for an existing results folder.
    pub existing: ExistingResults,
    /// Trials to break on purpose (test hook).
    pub faults: InjectedFaults,
    /// Run trials as threads or processes whatever the objective declares
    /// (to measure one against the other); `None` follows the objective.
    pub parallelism: Option<Parallelism>,
    /// With early termination: judge each trial at its rungs against whatever
    /// the others have reached by then, instead of in reproducible batches.
    pub asynchronous: bool,
    /// The devices the workers use; on a GPU, one worker process per slot.
    pub placement: Placement,
}

/// Why a sweep could not run (as opposed to trials that failed, which are data).
#[derive(Debug, thiserror::Error)]
pub(crate) enum RunError {
    /// The data are unusable.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The spec asks for something the data cannot give.
    #[error("{file}: {message}")]
    SpecVsData {
        file: PathBuf,
        /// What does not fit.
        message: String,
    },
    /// The spec names an objective this binary does not have.
    #[error(
        "{file}: objective \"{name}\" is not in this binary, which has: {known}; run it with the binary that defines it"
    )]
    UnknownObjective {
        file: PathBuf,
        /// The objective it names.
        name: String,
        /// The objectives there are.
        known: String,
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
        file: PathBuf,
        /// The index asked for.
        index: usize,
        /// The last valid index.
        last: usize,
    },
    /// A single trial of an adaptive plan was asked for.
    #[error(
        "{file}: method = \"{method}\" proposes each trial from the results of the ones before it, so no trial of its plan can run by its index; run the sweep with `sweep run`, or as an array with `sweep slurm`, whose tasks take proposals (`sweep trial --next`)"
    )]
    Adaptive {
        file: PathBuf,
        /// The spec's method.
        method: &'static str,
    },
    /// A worker process was started for another spec or other data than its parent's.
    #[error(
        "{file}: this worker process reads {what} than the run that started it (the spec or the data changed meanwhile)"
    )]
    WorkerMismatch {
        file: PathBuf,
        /// "another spec" or "other data".
        what: &'static str,
    },
    /// Reading or writing the results folder failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Device(#[from] crate::device::DeviceError),
    /// The results folder's filesystem is full or read-only: the run stopped
    /// at the first trial that could not write, and left it without a record.
    #[error(
        "{fault}; stopped there: the {committed} trial(s) committed so far are kept, and the trial(s) in \
         training were left without a record; free some space (or make the folder writable), then run again \
         with --resume to train the rest"
    )]
    StorageUnavailable {
        /// The write that failed.
        fault: StorageFault,
        /// Trials with a record in the results folder.
        committed: usize,
    },
    /// The worker pool could not start.
    #[error("cannot start {workers} worker threads: {message}")]
    Pool {
        /// Workers asked for.
        workers: usize,
        message: String,
    },
}

/// What a run did.
#[derive(Debug, Clone)]
pub(crate) struct RunSummary {
    /// The sweep's results folder.
    pub dir: SweepDir,
    /// Trials in the plan.
    pub planned: usize,
    /// Complete trials kept from an earlier run.
    pub resumed: usize,
    /// Records of the trials this run trained.
    pub records: Vec<TrialRecord>,
    /// Trials of the plan that other processes trained meanwhile (they shared the results folder).
    pub by_others: usize,
    /// How the trials ran side by side.
    pub parallelism: Parallelism,
}

/// How a run hands out its trials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Every trial is known up front: costliest first, as workers free up.
    Listed,
    /// In batches, each proposed from (an adaptive sampler) or judged against
    /// (early termination) the batches before it: reproducible.
    Batches,
    /// An adaptive sampler with `--async`: each free worker takes a proposal
    /// from whatever is committed by then.
    Proposals,
}

fn mode(adaptive: bool, early_terminate: bool, asynchronous: bool) -> Mode {
    match (adaptive, early_terminate, asynchronous) {
        (true, _, true) => Mode::Proposals,
        (true, _, false) | (false, true, false) => Mode::Batches,
        (false, _, _) => Mode::Listed,
    }
}

/// Plans and runs a sweep, then leaves the per-trial records on disk (the
/// caller aggregates them).
pub(crate) fn run_sweep(
    spec: &SweepSpec,
    catalog: &Catalog,
    options: &RunOptions,
    reporter: &mut dyn Reporter,
) -> Result<RunSummary, RunError> {
    let sweep = OpenSweep::open(spec, catalog, &options.results_root)?;
    let OpenSweep { data, plan, dir, objective, .. } = &sweep;
    let done = prepare_results_dir(spec, plan, dir, options.existing)?;
    write_preprocessing(dir, data)?;
    let mode = mode(plan.is_adaptive(), spec.early_terminate.is_some(), options.asynchronous);
    let batched = mode == Mode::Batches;
    let mut todo: Vec<TrialSpec> =
        if batched { Vec::new() } else { plan.trials().filter(|t| !done.contains(&t.id)).collect() };
    if mode == Mode::Listed {
        todo = costliest_first(todo, |t| objective.cost_hint(&sweep.params(t), data.for_trial(t)));
    }

    let claiming = Claiming::new(options.existing);
    let n = worker_count(options.workers, batched, todo.len());
    let placement = &options.placement;
    // On a GPU each worker is a process that opens exactly its device; a run of one
    // worker trains here, on that worker's device.
    let parallelism = match placement.backend.is_gpu() {
        true => Parallelism::Processes,
        false => options.parallelism.unwrap_or(objective.parallelism()),
    };
    let here = match placement.slots.first() {
        Some(&index) if n == 1 => crate::device::open(placement.backend, index)?,
        _ => TrialDevice::cpu(),
    };
    let env = sweep.env(&options.faults, here);
    let env = TrialEnv { seed_burn: env.seed_burn || parallelism == Parallelism::Processes, ..env };
    let workers = Workers::start(n, parallelism, options, |exe| WorkerCommand {
        exe,
        spec: spec.source.clone(),
        results_root: options.results_root.clone(),
        spec_hash: env.spec_hash.clone(),
        data_fingerprint: data.main.preprocessing.data_fingerprint.clone(),
        device: None,
    })?;

    for warning in data.notes.iter().cloned().chain(data.summary.warnings()) {
        let source = data.main.preprocessing.data_path.display();
        reporter.on_warning(&format!("{source}: {warning}"));
    }
    reporter.on_start(plan.len(), done.len());
    // Trial panics are caught and recorded; keep the default hook from also
    // printing them over the progress bar.
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let records = match mode {
        Mode::Proposals => adaptive::run_proposals(&sweep, &workers, &env, reporter, &claiming),
        Mode::Batches => adaptive::run_in_batches(plan, dir, &done, &workers, &env, reporter, &claiming),
        Mode::Listed => Ok(dispatch_until_done(&workers, &todo, &env, reporter, &claiming)),
    };
    std::panic::set_hook(previous_hook);
    let mut records = records?;
    if let Some(fault) = claiming.take_fault() {
        let committed = dir.scan().map_or(done.len() + records.len(), |s| s.complete.len());
        return Err(RunError::StorageUnavailable { fault, committed });
    }
    reporter.on_finish();
    records.sort_by_key(|r| r.index);
    let by_others = plan.len().saturating_sub(done.len() + records.len());
    Ok(RunSummary {
        dir: dir.clone(),
        planned: plan.len(),
        resumed: done.len(),
        records,
        by_others,
        parallelism: workers.parallelism(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adaptive_and_early_terminated_sweeps_run_in_batches_unless_asynchronous() {
        assert_eq!(mode(false, false, false), Mode::Listed);
        assert_eq!(mode(false, false, true), Mode::Listed, "--async changes nothing without results to wait for");
        assert_eq!(mode(false, true, false), Mode::Batches);
        assert_eq!(mode(false, true, true), Mode::Listed, "asynchronous early termination reads its peers live");
        assert_eq!(mode(true, false, false), Mode::Batches);
        assert_eq!(mode(true, true, false), Mode::Batches);
        assert_eq!(mode(true, false, true), Mode::Proposals);
        assert_eq!(mode(true, true, true), Mode::Proposals);
    }
}
