//! `sweep run SPEC`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::finish::{AfterAggregation, Settings};
use super::{CliError, table};
use crate::device::Placement;
use crate::objective::{Catalog, Parallelism};
use crate::output::{RunCounts, SweepOutput};
use crate::runner::{
    self, EventLog, ExistingResults, FanOut, ProgressBarReporter, Reporter, RunOptions, SilentReporter,
};
use crate::selection::SweepModels;
use crate::spec;
use crate::store::SweepDir;

/// Arguments of `sweep run`.
#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// The sweep spec: TOML, or a W&B sweep file (.yaml, .yml).
    pub spec: PathBuf,
    /// Trials at once (default: the spec's `workers`, else the number of cores).
    #[arg(long, short = 'j')]
    pub workers: Option<usize>,
    /// Folder that holds one results folder per sweep.
    #[arg(long, default_value = "results")]
    pub results_dir: PathBuf,
    /// Keep the complete trials of an earlier run of the same spec and run the rest.
    #[arg(long, conflicts_with = "fresh")]
    pub resume: bool,
    /// With --resume, also run again the trials that failed or diverged.
    #[arg(long, requires = "resume")]
    pub retry_failed: bool,
    /// Delete the sweep's earlier results and start over.
    #[arg(long)]
    pub fresh: bool,
    /// No progress bar and no table.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Run trials as threads or as worker processes, overriding what the
    /// objective declares (to measure one against the other; threads are
    /// reproducible only for objectives that declare them).
    #[arg(long, value_enum)]
    pub parallelism: Option<ParallelismArg>,
    /// With early_terminate: prune each trial at its rungs against whatever the
    /// others have reached by then (asynchronous ASHA), instead of in batches of
    /// `workers` trials judged by the batches before them (reproducible, the default).
    #[arg(long = "async")]
    pub asynchronous: bool,
    /// Print one JSON document on stdout (the sweep's counts, best model,
    /// top trials and files) instead of the table; the progress bar and
    /// warnings stay on stderr.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub device: super::devices::DeviceArgs,
}

/// `--parallelism`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ParallelismArg {
    /// Threads of this process.
    Threads,
    /// A worker process per concurrent trial.
    Processes,
}

/// Runs the sweep, aggregates it and prints the top 5.
pub(super) fn run(args: RunArgs, catalog: &Catalog) -> Result<ExitCode, CliError> {
    let started = std::time::Instant::now();
    let json_out = super::json::reserve_if(args.json)?;
    let spec = spec::load(&args.spec, catalog)?;
    let asked = match args.workers.or(spec.workers) {
        Some(0) => return Err(CliError::Usage("--workers must be at least 1".into())),
        asked => asked,
    };
    // Before anything is written: a device this binary lacks or the machine does not have is an error.
    // On a GPU, `trials_per_device` is the concurrency; the spec's `workers` counts CPU cores, so
    // only `--workers` caps it.
    let resources = args.device.apply(&spec.resources, catalog.get(&spec.objective))?;
    let placement = Placement::resolve(&resources, args.workers)?;
    let workers = match (placement.workers(), asked) {
        (Some(slots), _) => slots,
        (None, Some(n)) => n,
        (None, None) => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
    };
    let existing = match (args.resume, args.fresh) {
        (true, _) => ExistingResults::Resume { retry_failed: args.retry_failed },
        (_, true) => ExistingResults::Fresh,
        _ => ExistingResults::Refuse,
    };
    let parallelism = args.parallelism.map(|p| match p {
        ParallelismArg::Threads => Parallelism::Threads,
        ParallelismArg::Processes => Parallelism::Processes,
    });
    let options = RunOptions {
        workers,
        results_root: args.results_dir.clone(),
        existing,
        faults: super::faults_from_env()?,
        parallelism,
        asynchronous: args.asynchronous,
        placement,
    };
    if let (Some(Parallelism::Threads), Some(objective)) = (parallelism, catalog.get(&spec.objective))
        && objective.parallelism() == Parallelism::Processes
        && workers > 1
    {
        eprintln!(
            "warning: objective \"{}\" declares worker processes: as threads its trials share Burn's RNG and \
             autodiff graph, so their results depend on timing and are not reproducible",
            objective.name()
        );
    }
    let terminal: Box<dyn Reporter> =
        if args.quiet { Box::new(SilentReporter) } else { Box::new(ProgressBarReporter::new()) };
    let log = EventLog::new(&SweepDir::new(args.results_dir.join(&spec.name)), existing == ExistingResults::Fresh);
    let mut reporter = FanOut::new(vec![terminal, Box::new(log)]);
    let summary = runner::run_sweep(&spec, catalog, &options, &mut reporter)?;
    let models = SweepModels { catalog, spec: Some(spec.clone()), dir: summary.dir.clone() };
    let after =
        AfterAggregation { report: spec.report, publish: spec.publish.clone(), register_as: spec.register_as.clone() };
    let finished = super::finish::finish(&summary.dir, &models, Settings::Given(after))?;
    let problems = finished.failed_trials() + finished.judged.problems.len();
    let code = finished.exit_code(true);
    if let Some(out) = json_out {
        let mut document = SweepOutput::new("run", &summary.dir, &finished.board, &finished.judged);
        let parallelism = match summary.parallelism {
            Parallelism::Threads => "threads",
            Parallelism::Processes => "processes",
        };
        document.trials.planned = Some(summary.planned);
        document.run = Some(RunCounts {
            run_now: summary.records.len(),
            resumed: summary.resumed,
            by_other_processes: summary.by_others,
            workers,
            parallelism,
        });
        document.files.report = finished.report.as_deref().map(crate::output::absolute);
        document.registered = finished.registered;
        document.duration_s = started.elapsed().as_secs_f64();
        out.print(&document)?;
        return Ok(code);
    }
    if !args.quiet {
        let mut out = std::io::stdout().lock();
        table::print_top(&mut out, &finished.board, 5)?;
        use std::io::Write;
        writeln!(
            out,
            "\n{} trials ({} run now, {} resumed{}), {} failed or diverged; workers: {}{}",
            summary.planned,
            summary.records.len(),
            summary.resumed,
            if summary.by_others > 0 { format!(", {} by other processes", summary.by_others) } else { String::new() },
            problems,
            workers,
            if summary.parallelism == Parallelism::Processes { " (processes)" } else { "" }
        )?;
        finished.print_files(&mut out, &summary.dir)?;
        writeln!(out, "registry:    {}", summary.dir.file(crate::store::names::REGISTRY).display())?;
    }
    Ok(code)
}
