//! The trial runner: runs the planned trials `workers` at a time, isolates
//! their failures, and streams their events to one reporter on the calling
//! thread. Trials run as threads, each inside a single-thread rayon pool (one
//! compute thread per trial), or, for objectives that need it, each in a
//! worker process of its own ([`worker`]). [`run_single_trial`] runs one trial
//! of the plan on its own, as a SLURM array task does.

mod events;
mod progress;
mod trial;
pub mod worker;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};

pub use events::{
    EventSink, FanOut, NoEvents, Reporter, RunEvent,
    log::{self as event_log, EventLog},
};
pub use progress::{ProgressBarReporter, SilentReporter};
pub(crate) use trial::seed_burn;
pub use trial::{FinishedTrial, InjectedFaults, RunningMarker, TrialEnv, commit, run_trial, run_trial_uncommitted};
use worker::{ProcessWorker, WorkerCommand};

use crate::callback::PeerCurves;
use crate::data::{self, DataError, Prepared, SourceRef, SplitPlan, SplitSummary, TestPlan};
use crate::objective::{Catalog, Objective, Parallelism};
use crate::params::{ResolvedParams, Schema};
use crate::plan::{Plan, TrialSpec};
use crate::spec::SweepSpec;
use crate::store::{self, StorageFault, StoreError, SweepDir, TrialRecord, claim, names};

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
    /// Run trials as threads or processes whatever the objective declares
    /// (to measure one against the other); `None` follows the objective.
    pub parallelism: Option<Parallelism>,
    /// With early termination: judge each trial at its rungs against whatever
    /// the others have reached by then, instead of in reproducible batches.
    pub asynchronous: bool,
}

/// Why a sweep could not run (as opposed to trials that failed, which are data).
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The data are unusable.
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
    /// The spec names an objective this binary does not have.
    #[error(
        "{file}: objective \"{name}\" is not in this binary, which has: {known}; run it with the binary that defines it"
    )]
    UnknownObjective {
        /// The spec file.
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
        /// The spec file.
        file: PathBuf,
        /// The index asked for.
        index: usize,
        /// The last valid index.
        last: usize,
    },
    /// A single trial of an adaptive plan was asked for.
    #[error(
        "{file}: method = \"tpe\" proposes each trial from the results of the ones before it, so no trial of its plan can run by its index; run the sweep with `sweep run`, or as an array with `sweep slurm`, whose tasks take proposals (`sweep trial --next`)"
    )]
    Adaptive {
        /// The spec file.
        file: PathBuf,
    },
    /// A worker process was started for another spec or other data than its parent's.
    #[error(
        "{file}: this worker process reads {what} than the run that started it (the spec or the data changed meanwhile)"
    )]
    WorkerMismatch {
        /// The spec file.
        file: PathBuf,
        /// "another spec" or "other data".
        what: &'static str,
    },
    /// Reading or writing the results folder failed.
    #[error(transparent)]
    Store(#[from] StoreError),
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
    /// Trials of the plan that other processes trained meanwhile (they shared the results folder).
    pub by_others: usize,
    /// How the trials ran side by side.
    pub parallelism: Parallelism,
}

/// A sweep, opened once: its spec, objective, data, plan and results folder.
/// The one place `run`, `trial`, the worker processes and `bench` build them.
pub struct OpenSweep<'a> {
    /// The validated spec.
    pub spec: &'a SweepSpec,
    /// The objective it selects.
    pub objective: &'a dyn Objective,
    /// The objective's parameters.
    pub schema: Schema,
    /// The split, ready for training.
    pub data: SweepData,
    /// The trials.
    pub plan: Plan,
    /// `results/<name>/`.
    pub dir: SweepDir,
}

impl<'a> OpenSweep<'a> {
    /// Loads and checks the data and builds the plan; writes nothing.
    pub fn open(spec: &'a SweepSpec, catalog: &'a Catalog, results_root: &Path) -> Result<Self, RunError> {
        let objective = catalog.get(&spec.objective).ok_or_else(|| RunError::UnknownObjective {
            file: spec.source.clone(),
            name: spec.objective.clone(),
            known: catalog.names(),
        })?;
        let data = load_data(spec, objective)?;
        let dir = SweepDir::new(results_root.join(&spec.name));
        dir.refuse_links()?;
        Ok(OpenSweep { spec, objective, schema: objective.schema(), data, plan: spec.plan(), dir })
    }

    /// A trial's parameters, resolved.
    pub fn params(&self, trial: &TrialSpec) -> ResolvedParams {
        self.schema.resolve(&self.spec.train, &trial.params)
    }

    /// What every trial of this sweep shares.
    pub fn env<'b>(&'b self, faults: &'b InjectedFaults) -> TrialEnv<'b> {
        TrialEnv {
            spec: self.spec,
            spec_hash: self.spec.hash(),
            data: &self.data,
            objective: self.objective,
            schema: &self.schema,
            dir: &self.dir,
            faults,
            peers: None,
            // Early termination without batches (array tasks, `run --async`) reads its peers live.
            asynchronous: self.spec.early_terminate.is_some(),
            seed_burn: self.objective.parallelism() == Parallelism::Processes,
        }
    }
}

/// A sweep's data, split: what its trials train and validate on.
#[derive(Debug, Clone)]
pub struct SweepData {
    /// The split every trial uses; with cross-validation, every non-test row
    /// for training and none for validation (what a refit trains on).
    pub main: Prepared,
    /// With cross-validation: fold `k` validates on the `k`-th fold.
    pub folds: Vec<Prepared>,
    /// The parts of the split, their balance, and duplicated rows.
    pub summary: SplitSummary,
}

impl SweepData {
    /// The split trial `trial` trains on: its fold's, or the main one.
    pub fn for_trial(&self, trial: &TrialSpec) -> &Prepared {
        self.folds.get(trial.repeat).unwrap_or(&self.main)
    }
}

/// The spec's data, from the objective's own source or the bundled CSV
/// loader, split and checked against the spec. A separate test file is read
/// and checked here too, so a bad one stops the run before anything is written.
pub fn load_data(spec: &SweepSpec, objective: &dyn Objective) -> Result<SweepData, RunError> {
    let mismatch = |message: String| RunError::SpecVsData { file: spec.source.clone(), message };
    let (table, source) = match (objective.data_source(), spec.data.csv()) {
        (Some(src), _) => {
            let options = ResolvedParams::new(spec.data.options.clone());
            let source = SourceRef { objective: objective.name().to_string(), options: spec.data.options.clone() };
            (src.load(&options).map_err(DataError::Source)?, Some(source))
        }
        (None, Some((path, options))) => (data::load_csv(path, &options)?, None),
        (None, None) => return Err(mismatch("[data] has no path, and the objective brings no data source".into())),
    };
    let test_table = match (&spec.data.test_path, spec.data.csv()) {
        (Some(path), Some((_, options))) => {
            let options = data::CsvOptions { features: Some(table.features.clone()), drop: Vec::new(), ..options };
            Some(data::load_csv(path, &options)?)
        }
        _ => None,
    };
    let test = match (&test_table, spec.data.test_fraction) {
        (Some(t), _) => TestPlan::File { path: t.path.clone(), fingerprint: t.fingerprint.clone(), rows: t.rows() },
        (None, Some(fraction)) => TestPlan::Fraction(fraction),
        (None, None) => TestPlan::None,
    };
    let split = |cv| SplitPlan { valid_fraction: spec.data.valid_fraction, test: test.clone(), cv };
    let with_source = |mut prepared: Prepared| {
        prepared.preprocessing.source = source.clone();
        prepared
    };
    let folds = spec.data.cv_folds.unwrap_or(0);
    let main = with_source(data::prepare_split(
        &table,
        spec.data.task,
        &split(spec.data.cv_folds.map(|k| (k, None))),
        spec.seed,
    )?);
    let folds: Vec<Prepared> = (0..folds)
        .map(|k| {
            Ok(with_source(data::prepare_split(&table, spec.data.task, &split(Some((folds, Some(k)))), spec.seed)?))
        })
        .collect::<Result<_, DataError>>()?;
    let fold_pre: Vec<_> = folds.iter().map(|f| f.preprocessing.clone()).collect();
    let summary = SplitSummary::of_sweep(&table, test_table.as_ref(), &main.preprocessing, &fold_pre)?;
    Ok(SweepData { main, folds, summary })
}

/// Who runs the trials: one-thread rayon pools driven by plain threads, or
/// worker processes.
enum Workers {
    Threads(Vec<rayon::ThreadPool>),
    Processes(Vec<Mutex<ProcessWorker>>),
}

impl Workers {
    fn len(&self) -> usize {
        match self {
            Workers::Threads(p) => p.len(),
            Workers::Processes(p) => p.len(),
        }
    }
}

/// Plans and runs a sweep, then leaves the per-trial records on disk (the
/// caller aggregates them).
pub fn run_sweep(
    spec: &SweepSpec,
    catalog: &Catalog,
    options: &RunOptions,
    reporter: &mut dyn Reporter,
) -> Result<RunSummary, RunError> {
    let sweep = OpenSweep::open(spec, catalog, &options.results_root)?;
    let OpenSweep { data, plan, dir, objective, .. } = &sweep;
    let done = prepare_results_dir(spec, plan, dir, options.existing)?;
    write_preprocessing(dir, data)?;
    // TPE and early termination judge each batch by the ones before it.
    // TPE and batch-synchronous early termination judge each batch by the ones before it.
    let batched = (plan.is_adaptive() || spec.early_terminate.is_some()) && !options.asynchronous;
    let mut todo: Vec<TrialSpec> =
        if batched { Vec::new() } else { plan.trials().filter(|t| !done.contains(&t.id)).collect() };
    // Costliest first (stable: plan order among equals), so the run does not end on one long trial.
    let cost = |t: &TrialSpec| objective.cost_hint(&sweep.params(t), data.for_trial(t));
    let mut costs: Vec<(f64, TrialSpec)> = todo.drain(..).map(|t| (cost(&t), t)).collect();
    costs.sort_by(|a, b| b.0.total_cmp(&a.0));
    todo.extend(costs.into_iter().map(|(_, t)| t));

    let env = sweep.env(&options.faults);
    let claiming = Claiming::new(options.existing);
    let n = if batched { options.workers.max(1) } else { options.workers.clamp(1, todo.len().max(1)) };
    let parallelism = options.parallelism.unwrap_or(objective.parallelism());
    // One trial needs no second process: it runs here, alone, and just as reproducibly.
    let workers = if parallelism == Parallelism::Processes && n > 1 {
        let exe = std::env::current_exe().map_err(|e| RunError::Pool { workers: n, message: e.to_string() })?;
        let command = WorkerCommand {
            exe,
            spec: spec.source.clone(),
            results_root: options.results_root.clone(),
            spec_hash: env.spec_hash.clone(),
            data_fingerprint: data.main.preprocessing.data_fingerprint.clone(),
        };
        Workers::Processes((0..n).map(|_| Mutex::new(ProcessWorker::new(command.clone()))).collect())
    } else {
        // One single-thread rayon pool per worker, driven by a plain thread. Calling
        // `install` from a rayon worker thread would let that thread steal sibling
        // trials while it waits (measured: all 36 grid trials at once with
        // --workers 1), so the dispatching threads must not be rayon workers.
        Workers::Threads(
            (0..n)
                .map(|w| single_thread_pool(&format!("sweep-trial-{w}")))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|message| RunError::Pool { workers: options.workers, message })?,
        )
    };

    for warning in data.summary.warnings() {
        let source = data.main.preprocessing.data_path.display();
        reporter.on_warning(&format!("{source}: {warning}"));
    }
    reporter.on_start(plan.len(), done.len());
    // Trial panics are caught and recorded; keep the default hook from also
    // printing them over the progress bar.
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let records = if plan.is_adaptive() && options.asynchronous {
        run_proposals(&sweep, &workers, &env, reporter, &claiming)
    } else if batched {
        run_in_batches(plan, dir, &done, &workers, &env, reporter, &claiming)
    } else {
        Ok(dispatch_until_done(&workers, &todo, &env, reporter, &claiming))
    };
    std::panic::set_hook(previous_hook);
    let mut records = records?;
    if let Some(fault) = claiming.take_fault() {
        let committed = dir.scan().map_or(done.len() + records.len(), |s| s.complete.len());
        return Err(RunError::StorageUnavailable { fault, committed });
    }
    reporter.on_finish();
    records.sort_by_key(|r| r.index);
    let actual = match workers {
        Workers::Threads(_) => Parallelism::Threads,
        Workers::Processes(_) => Parallelism::Processes,
    };
    let by_others = plan.len().saturating_sub(done.len() + records.len());
    Ok(RunSummary {
        dir: dir.clone(),
        planned: plan.len(),
        resumed: done.len(),
        records,
        by_others,
        parallelism: actual,
    })
}

/// How long the committer gathers finished trials before committing them as one
/// group. Every barrier stalls file creation in the trials still running (their
/// folders' metadata blocks are under writeback), so fewer, larger groups win.
const GROUP_COMMIT_WINDOW: std::time::Duration = std::time::Duration::from_millis(50);

/// What worker threads tell the committer.
enum Message {
    Event(RunEvent),
    Finished(Box<FinishedTrial>),
}

impl From<RunEvent> for Message {
    fn from(event: RunEvent) -> Self {
        Message::Event(event)
    }
}

/// How this process takes its share of the trials from the results folder
/// ([`claim`]): the trials it holds, and those other processes held when it
/// came to them.
struct Claiming {
    held: claim::HeldClaims,
    stale_after: std::time::Duration,
    retry_failed: bool,
    elsewhere: Mutex<Vec<TrialSpec>>,
    /// The first trial write the filesystem refused (full or read-only):
    /// once set, no more trials are handed out.
    fault: Mutex<Option<StorageFault>>,
}

impl Claiming {
    fn new(existing: ExistingResults) -> Self {
        Claiming {
            held: claim::HeldClaims::new(),
            stale_after: claim::stale_after(),
            retry_failed: matches!(existing, ExistingResults::Resume { retry_failed: true }),
            elsewhere: Mutex::new(Vec::new()),
            fault: Mutex::new(None),
        }
    }

    /// Stops handing out trials: the filesystem takes no more writes.
    fn stop(&self, fault: StorageFault) {
        if let Ok(mut f) = self.fault.lock() {
            f.get_or_insert(fault);
        }
    }

    /// Whether a trial write met a full or read-only filesystem.
    fn stopped(&self) -> bool {
        self.fault.lock().map_or(true, |f| f.is_some())
    }

    fn take_fault(&self) -> Option<StorageFault> {
        self.fault.lock().ok().and_then(|mut f| f.take())
    }

    /// `trial` with its attempt, claimed for this process; `None` when another
    /// process finished it meanwhile, or holds it (then it is kept for later).
    fn claim(&self, dir: &SweepDir, trial: &TrialSpec) -> Option<TrialSpec> {
        let trial_dir = dir.trial_dir(&trial.id);
        let record: Option<TrialRecord> = store::read_json(&trial_dir.join(names::RECORD)).ok();
        if self.settled(record.as_ref()) {
            return None;
        }
        match claim::try_claim(&trial_dir, record.as_ref().map_or(0, |r| r.attempt), self.stale_after) {
            Ok(claim::Claim::Taken(info)) => {
                self.held.hold(&trial_dir, info.attempt);
                Some(TrialSpec { attempt: info.attempt, ..trial.clone() })
            }
            Ok(claim::Claim::Held(_)) => {
                if let Ok(mut later) = self.elsewhere.lock() {
                    later.push(trial.clone());
                }
                None
            }
            // The trial's own writes will say what is wrong with its folder.
            Err(_) => Some(trial.clone()),
        }
    }

    /// Whether a trial with this record needs no run from this process: it
    /// has a model, or it failed and failed trials are not retried.
    fn settled(&self, record: Option<&TrialRecord>) -> bool {
        record.is_some_and(|r| r.status.has_model() || !self.retry_failed)
    }

    /// The trials held elsewhere that are not settled yet.
    fn still_elsewhere(&self, dir: &SweepDir) -> Vec<TrialSpec> {
        let later = self.elsewhere.lock().map(|mut l| std::mem::take(&mut *l)).unwrap_or_default();
        let record = |t: &TrialSpec| store::read_json::<TrialRecord>(&dir.trial_dir(&t.id).join(names::RECORD)).ok();
        later.into_iter().filter(|t| !self.settled(record(t).as_ref())).collect()
    }
}

/// Asynchronous TPE: each worker, in any process or array task, asks for its
/// next trial when it is free. Under a lock on the results folder (`flock`,
/// which Linux's NFS client maps to NFSv4 byte-range locks) it proposes from
/// every trial committed so far, records the proposal in
/// `proposals/t<index>.json` (so a resumed run and every other process mean
/// the same trial by that index), claims it, and trains it after the lock is
/// released. A proposal whose claim went stale is handed out again first.
struct Proposals<'a> {
    sweep: &'a OpenSweep<'a>,
    claiming: &'a Claiming,
}

impl<'a> Proposals<'a> {
    fn folder(&self) -> PathBuf {
        self.sweep.dir.file("proposals")
    }

    /// The next trial for this process, claimed; `None` once every trial of
    /// the budget is proposed and none is free to take over.
    fn next(&self) -> Result<Option<TrialSpec>, RunError> {
        let lock_path = self.sweep.dir.file(".proposals.lock");
        let lock = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(StoreError::io(&lock_path))?;
        lock.lock().map_err(StoreError::io(&lock_path))?;
        let proposed = self.proposed()?;
        for trial in &proposed {
            if let Some(claimed) = self.claiming.claim(&self.sweep.dir, trial) {
                return Ok(Some(claimed));
            }
        }
        let index = proposed.len();
        let plan = &self.sweep.plan;
        if index >= plan.len() {
            return Ok(None);
        }
        let repeats = plan.repeats();
        let trial = if index % repeats == 0 {
            let committed: Vec<TrialRecord> =
                self.sweep.dir.scan()?.complete.into_iter().filter(|r| r.refit.is_none()).collect();
            plan.trial_given(index, &observations(&committed, self.sweep.spec))
        } else {
            // The other folds or repeats of a configuration train the params of its first trial.
            plan.trial_with_params(index, proposed[index - index % repeats].params.clone())
        };
        let folder = self.folder();
        std::fs::create_dir_all(&folder).map_err(StoreError::io(&folder))?;
        store::write_json(&folder.join(format!("t{index:04}.json")), &trial)?;
        Ok(self.claiming.claim(&self.sweep.dir, &trial))
    }

    /// Every proposal so far, by index.
    fn proposed(&self) -> Result<Vec<TrialSpec>, RunError> {
        let folder = self.folder();
        let mut files: Vec<PathBuf> = match std::fs::read_dir(&folder) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            other => other.map_err(StoreError::io(&folder))?.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        };
        files.retain(|p| p.extension().is_some_and(|e| e == "json"));
        files.sort();
        Ok(files.iter().map(|f| store::read_json::<TrialSpec>(f)).collect::<Result<_, _>>()?)
    }

    /// Proposals without a record that another live process holds.
    fn held_elsewhere(&self) -> Result<usize, RunError> {
        let stale_after = self.claiming.stale_after;
        Ok(self
            .proposed()?
            .iter()
            .filter(|t| {
                !self
                    .claiming
                    .settled(store::read_json(&self.sweep.dir.trial_dir(&t.id).join(names::RECORD)).ok().as_ref())
            })
            .filter(|t| {
                claim::current(&self.sweep.dir.trial_dir(&t.id)).ok().flatten().is_some_and(|c| {
                    !c.is_stale(stale_after) && !c.info.as_ref().is_some_and(claim::ClaimInfo::is_mine)
                })
            })
            .count())
    }
}

/// Runs asynchronous TPE on the workers until its budget is proposed and
/// every proposal has a record (waiting for, or taking over, those that other
/// processes hold).
fn run_proposals(
    sweep: &OpenSweep,
    workers: &Workers,
    env: &TrialEnv,
    reporter: &mut dyn Reporter,
    claiming: &Claiming,
) -> Result<Vec<TrialRecord>, RunError> {
    let proposals = Proposals { sweep, claiming };
    let failure: Mutex<Option<RunError>> = Mutex::new(None);
    let next = || match proposals.next() {
        Ok(t) => t,
        Err(e) => {
            if let Ok(mut f) = failure.lock() {
                f.get_or_insert(e);
            }
            None
        }
    };
    let mut records = dispatch_from(workers, &next, env, reporter, claiming);
    let mut announced = false;
    while failure.lock().map(|f| f.is_none()).unwrap_or(false) && !claiming.stopped() && proposals.held_elsewhere()? > 0
    {
        if !announced {
            reporter.on_note("waiting for the trials other processes are training");
            announced = true;
        }
        std::thread::sleep(WAIT_POLL);
        records.extend(dispatch_from(workers, &next, env, reporter, claiming));
    }
    match failure.into_inner().ok().flatten() {
        Some(e) => Err(e),
        None => Ok(records),
    }
}

/// `sweep trial --next` (an array task of an asynchronous TPE sweep): takes
/// proposals one at a time and trains them until the budget is spent.
pub fn run_next_trials(
    spec: &SweepSpec,
    catalog: &Catalog,
    results_root: &Path,
    faults: &InjectedFaults,
) -> Result<Vec<TrialRecord>, RunError> {
    let sweep = OpenSweep::open(spec, catalog, results_root)?;
    ensure_manifest(spec, &sweep.plan, &sweep.dir)?;
    write_preprocessing(&sweep.dir, &sweep.data)?;
    let env = sweep.env(faults);
    let claiming = Claiming::new(ExistingResults::Resume { retry_failed: false });
    let pool = single_thread_pool("sweep-trial").map_err(|message| RunError::Pool { workers: 1, message })?;
    let workers = Workers::Threads(vec![pool]);
    let records = run_proposals(&sweep, &workers, &env, &mut SilentReporter, &claiming)?;
    match claiming.take_fault() {
        Some(fault) => {
            let committed = sweep.dir.scan().map_or(records.len(), |s| s.complete.len());
            Err(RunError::StorageUnavailable { fault, committed })
        }
        None => Ok(records),
    }
}

/// How often a process waiting for other processes' trials looks again.
const WAIT_POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// [`dispatch`], then waits for the trials other processes held, taking over
/// those whose claim goes stale, until every trial of `todo` has a record.
fn dispatch_until_done(
    workers: &Workers,
    todo: &[TrialSpec],
    env: &TrialEnv,
    reporter: &mut dyn Reporter,
    claiming: &Claiming,
) -> Vec<TrialRecord> {
    let mut records = dispatch(workers, todo, env, reporter, claiming);
    let mut announced = false;
    loop {
        let waiting = claiming.still_elsewhere(env.dir);
        if waiting.is_empty() || claiming.stopped() {
            return records;
        }
        if !announced {
            reporter.on_note(&format!(
                "waiting for {} trial(s) that other processes are training in {}",
                waiting.len(),
                env.dir.root().display()
            ));
            announced = true;
        }
        std::thread::sleep(WAIT_POLL);
        records.extend(dispatch(workers, &waiting, env, reporter, claiming));
    }
}

/// Runs `todo` on the workers, one trial per worker at a time. The calling
/// thread passes events to the reporter as they come, and commits the trials
/// that finished meanwhile as one group (see [`crate::store::commit_records`])
/// while the workers go on training, then reports each committed record.
fn dispatch(
    workers: &Workers,
    todo: &[TrialSpec],
    env: &TrialEnv,
    reporter: &mut dyn Reporter,
    claiming: &Claiming,
) -> Vec<TrialRecord> {
    let next = AtomicUsize::new(0);
    // A trial is claimed just before it starts, so that processes sharing the folder share the work.
    let next_trial = || loop {
        let trial = todo.get(next.fetch_add(1, Ordering::Relaxed))?;
        if let Some(claimed) = claiming.claim(env.dir, trial) {
            return Some(claimed);
        }
    };
    dispatch_from(workers, &next_trial, env, reporter, claiming)
}

/// Runs the trials `next_trial` hands out (each already claimed) on the
/// workers, until it hands out none.
fn dispatch_from(
    workers: &Workers,
    next_trial: &(dyn Fn() -> Option<TrialSpec> + Sync),
    env: &TrialEnv,
    reporter: &mut dyn Reporter,
    claiming: &Claiming,
) -> Vec<TrialRecord> {
    let (tx, rx) = mpsc::channel::<Message>();
    let mut records = Vec::new();
    std::thread::scope(|scope| {
        match workers {
            Workers::Threads(pools) => {
                for pool in pools {
                    let tx = tx.clone();
                    // One `install` per worker, not per trial: each costs two thread hand-offs.
                    scope.spawn(move || {
                        pool.install(|| {
                            while !claiming.stopped()
                                && let Some(trial) = next_trial()
                            {
                                let finished = run_trial_uncommitted(env, &trial, &tx);
                                if let Some(fault) = &finished.storage_fault {
                                    claiming.stop(fault.clone());
                                }
                                if tx.send(Message::Finished(Box::new(finished))).is_err() {
                                    break;
                                }
                            }
                        })
                    });
                }
            }
            Workers::Processes(slots) => {
                for slot in slots {
                    let tx = tx.clone();
                    scope.spawn(move || {
                        let Ok(mut worker) = slot.lock() else { return };
                        while !claiming.stopped()
                            && let Some(trial) = next_trial()
                        {
                            let finished = worker.run(env, &trial, &tx);
                            if let Some(fault) = &finished.storage_fault {
                                claiming.stop(fault.clone());
                            }
                            if tx.send(Message::Finished(Box::new(finished))).is_err() {
                                break;
                            }
                        }
                    });
                }
            }
        }
        drop(tx);
        let mut group: Vec<FinishedTrial> = Vec::new();
        let mut deadline = std::time::Instant::now();
        let mut flush = |group: &mut Vec<FinishedTrial>, reporter: &mut dyn Reporter| {
            for committed in commit(env.dir, std::mem::take(group)) {
                match committed {
                    Ok(record) => {
                        claiming.held.release(&env.dir.trial_dir(&record.id));
                        reporter.on_event(&RunEvent::TrialCommitted { record: Box::new(record.clone()) });
                        records.push(record);
                    }
                    Err(fault) => claiming.stop(fault),
                }
            }
        };
        loop {
            let message = if group.is_empty() {
                match rx.recv() {
                    Ok(m) => m,
                    Err(_) => break,
                }
            } else {
                match rx.recv_timeout(deadline.saturating_duration_since(std::time::Instant::now())) {
                    Ok(m) => m,
                    Err(mpsc::RecvTimeoutError::Timeout) => {
                        flush(&mut group, reporter);
                        continue;
                    }
                    Err(mpsc::RecvTimeoutError::Disconnected) => break,
                }
            };
            match message {
                Message::Event(event) => reporter.on_event(&event),
                Message::Finished(finished) => {
                    if group.is_empty() {
                        deadline = std::time::Instant::now() + GROUP_COMMIT_WINDOW;
                    }
                    group.push(*finished);
                }
            }
        }
        flush(&mut group, reporter);
    });
    records
}

/// Writes the sweep's preprocessing files, which every trial links into its
/// folder (one per fold with cross-validation), and its split summary, each
/// unless it is already there with the same content (array tasks of one sweep
/// start at once and agree on them). Warns of rows duplicated across parts.
fn write_preprocessing(dir: &SweepDir, data: &SweepData) -> Result<(), RunError> {
    let mut files =
        vec![(names::PREPROCESSING.to_string(), json_bytes(&data.main.preprocessing, dir, names::PREPROCESSING)?)];
    for (k, fold) in data.folds.iter().enumerate() {
        let name = names::fold_preprocessing(k);
        files.push((name.clone(), json_bytes(&fold.preprocessing, dir, &name)?));
    }
    files.push((names::SPLITS.to_string(), json_bytes(&data.summary, dir, names::SPLITS)?));
    for (name, bytes) in files {
        let path = dir.file(&name);
        if std::fs::read(&path).ok().as_deref() != Some(&bytes[..]) {
            store::write_atomic(&path, &bytes).map_err(StoreError::io(&path))?;
        }
    }
    Ok(())
}

/// Pretty JSON with a final newline.
fn json_bytes<T: serde::Serialize>(value: &T, dir: &SweepDir, name: &str) -> Result<Vec<u8>, RunError> {
    let mut bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| StoreError::Parse { path: dir.file(name), message: e.to_string() })?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Batches of as many configurations as there are workers: with TPE each batch
/// is proposed from the results of all batches before it, with early
/// termination each batch is judged against them; either way the sweep is
/// reproducible for a fixed seed and worker count.
fn run_in_batches(
    plan: &Plan,
    dir: &SweepDir,
    done: &BTreeSet<String>,
    workers: &Workers,
    env: &TrialEnv,
    reporter: &mut dyn Reporter,
    claiming: &Claiming,
) -> Result<Vec<TrialRecord>, RunError> {
    let kept: std::collections::BTreeMap<usize, TrialRecord> =
        dir.scan()?.complete.into_iter().filter(|r| done.contains(&r.id)).map(|r| (r.index, r)).collect();
    let batch = workers.len().max(1);
    let repeats = plan.repeats();
    let mut all: Vec<TrialRecord> = Vec::with_capacity(plan.len());
    let mut fresh = Vec::new();
    let mut curves: std::collections::BTreeMap<usize, Vec<f64>> = Default::default();
    for first in (0..plan.configs()).step_by(batch) {
        let history = observations(&all, env.spec);
        let mut batch_env = TrialEnv { asynchronous: false, ..env.clone() };
        if env.spec.early_terminate.is_some() {
            for r in &all {
                curves.entry(r.index).or_insert_with(|| monitored_curve(dir, r, env.spec));
            }
            batch_env.peers = Some(PeerCurves::Fixed(std::sync::Arc::new(curves.values().cloned().collect())));
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
        let records = dispatch_until_done(workers, &todo, &batch_env, reporter, claiming);
        if claiming.stopped() {
            fresh.extend(records);
            break;
        }
        // Trials of the batch that another process trained count as much as this one's.
        let mine: BTreeSet<String> = records.iter().map(|r| r.id.clone()).collect();
        let theirs = todo
            .iter()
            .filter(|t| !mine.contains(&t.id))
            .filter_map(|t| store::read_json::<TrialRecord>(&dir.trial_dir(&t.id).join(names::RECORD)).ok());
        all.extend(records.iter().cloned().chain(theirs));
        all.sort_by_key(|r| r.index);
        fresh.extend(records);
    }
    Ok(fresh)
}

/// A finished trial's best-so-far monitored value per epoch, from its history.csv.
fn monitored_curve(dir: &SweepDir, record: &TrialRecord, spec: &SweepSpec) -> Vec<f64> {
    history_curve(&dir.trial_dir(&record.id).join(names::HISTORY), &spec.metric)
}

/// Every other trial's best-so-far monitored curve as far as it has got,
/// read from the trial folders (finished or running): what an asynchronous
/// pruning decision judges a trial against.
pub(crate) fn live_curves(dir: &SweepDir, monitor: &crate::metrics::Monitor, own: &str) -> Vec<Vec<f64>> {
    let Ok(entries) = std::fs::read_dir(dir.trials_dir()) else { return Vec::new() };
    let mut names: Vec<String> = entries.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect();
    names.sort();
    names
        .into_iter()
        .filter(|name| name != own && !name.starts_with("refit-"))
        .map(|name| history_curve(&dir.trial_dir(&name).join(names::HISTORY), monitor))
        .filter(|c| !c.is_empty())
        .collect()
}

/// The best-so-far curve of the monitored metric in a history.csv (empty when unreadable).
fn history_curve(path: &Path, monitor: &crate::metrics::Monitor) -> Vec<f64> {
    crate::callback::pruning::best_so_far(&store::read_history_column(path, &monitor.metric), monitor)
}

/// What TPE learns from finished trials: per configuration, the mean best-epoch
/// monitored metric over its completed repeats, oriented so smaller is better.
fn observations(records: &[TrialRecord], spec: &SweepSpec) -> Vec<crate::sampler::tpe::Observation> {
    let mut by_config: std::collections::BTreeMap<usize, (crate::params::Params, Vec<f64>)> = Default::default();
    for r in records {
        let entry = by_config.entry(r.config).or_insert_with(|| (r.params.clone(), Vec::new()));
        if r.status.has_model()
            && let Some(v) = r.best_metrics.get(&spec.metric.metric).filter(|v| v.is_finite())
        {
            entry.1.push(*v);
        }
    }
    by_config
        .into_values()
        .map(|(params, values)| {
            let mean = (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64);
            let loss = mean.map(|m| if spec.metric.goal == crate::metrics::Goal::Maximize { -m } else { m });
            crate::sampler::tpe::Observation { params, loss }
        })
        .collect()
}

pub(crate) fn single_thread_pool(name: &str) -> Result<rayon::ThreadPool, String> {
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
    /// Another live process holds the trial's claim (who, where readable); nothing was run.
    HeldElsewhere(Option<claim::ClaimInfo>),
}

/// Runs trial `index` of the plan on its own (a SLURM array task), writing its
/// record into the shared results folder. A trial that already has a record
/// is left alone unless `force`, or `retry_failed` and it did not complete.
pub fn run_single_trial(
    spec: &SweepSpec,
    catalog: &Catalog,
    results_root: &Path,
    index: usize,
    force: bool,
    retry_failed: bool,
    faults: &InjectedFaults,
) -> Result<SingleTrial, RunError> {
    let sweep = OpenSweep::open(spec, catalog, results_root)?;
    let OpenSweep { data, plan, dir, .. } = &sweep;
    if plan.is_adaptive() {
        return Err(RunError::Adaptive { file: spec.source.clone() });
    }
    if index >= plan.len() {
        return Err(RunError::IndexOutOfRange { file: spec.source.clone(), index, last: plan.len().saturating_sub(1) });
    }
    ensure_manifest(spec, plan, dir)?;
    write_preprocessing(dir, data)?;
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
    // A SLURM task requeued while its first run still trains, or a local run on the same
    // folder, must not train the trial twice at once.
    let trial_dir = dir.trial_dir(&trial.id);
    let earlier: Option<TrialRecord> = store::read_json(&record_path).ok();
    let trial = match claim::try_claim(&trial_dir, earlier.map_or(0, |r| r.attempt), claim::stale_after()) {
        Ok(claim::Claim::Taken(info)) => TrialSpec { attempt: info.attempt, ..trial },
        Ok(claim::Claim::Held(info)) => return Ok(SingleTrial::HeldElsewhere(info)),
        Err(e) => return Err(StoreError::Io { path: trial_dir, source: e }.into()),
    };
    let held = claim::HeldClaims::new();
    held.hold(&dir.trial_dir(&trial.id), trial.attempt);
    let env = sweep.env(faults);
    let pool = single_thread_pool("sweep-trial").map_err(|message| RunError::Pool { workers: 1, message })?;
    match pool.install(|| run_trial(&env, &trial, &NoEvents)) {
        Ok(record) => Ok(SingleTrial::Ran(record)),
        Err(fault) => {
            let committed = dir.scan().map_or(0, |s| s.complete.len());
            Err(RunError::StorageUnavailable { fault, committed })
        }
    }
}

/// The side of a worker process (`<binary> worker SPEC`): checks that it
/// reads the same spec and data as the run that started it, then runs the
/// trials it is sent until its stdin closes.
pub fn serve_worker(
    spec: &SweepSpec,
    catalog: &Catalog,
    results_root: &Path,
    spec_hash: &str,
    data_fingerprint: &str,
    faults: &InjectedFaults,
) -> Result<(), RunError> {
    let sweep = OpenSweep::open(spec, catalog, results_root)?;
    if spec.hash() != spec_hash {
        return Err(RunError::WorkerMismatch { file: spec.source.clone(), what: "another spec" });
    }
    if sweep.data.main.preprocessing.data_fingerprint != data_fingerprint {
        return Err(RunError::WorkerMismatch { file: spec.source.clone(), what: "other data" });
    }
    let env = TrialEnv { seed_burn: true, ..sweep.env(faults) };
    let pool = single_thread_pool("sweep-worker").map_err(|message| RunError::Pool { workers: 1, message })?;
    std::panic::set_hook(Box::new(|_| {}));
    worker::serve(&env, &pool).map_err(|e| StoreError::Io { path: PathBuf::from("<stdin>"), source: e })?;
    Ok(())
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
            store::write_json(&dir.file(names::MANIFEST), &spec.manifest(plan.len()))?;
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
            let stale_after = claim::stale_after();
            let live: Vec<claim::ClaimInfo> = scan
                .incomplete
                .iter()
                .filter_map(|t| claim::current(&t.dir).ok().flatten())
                .filter(|c| !c.is_stale(stale_after))
                .filter_map(|c| c.info)
                .collect();
            let mut holders: Vec<String> = live.iter().map(|c| format!("{} pid {}", c.host, c.pid)).collect();
            holders.sort();
            holders.dedup();
            let working = if live.is_empty() {
                String::new()
            } else {
                format!(
                    "; another process is working on it now ({}: {} trial(s) claimed), --resume joins it",
                    holders.join(", "),
                    live.len()
                )
            };
            return Err(conflict(format!(
                "already holds {} complete and {} incomplete trial(s) of sweep \"{}\"{working}; \
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
            let proposals = dir.file("proposals");
            if proposals.exists() {
                std::fs::remove_dir_all(&proposals).map_err(StoreError::io(&proposals))?;
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
