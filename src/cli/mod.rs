//! Command-line interface: clap definitions, one handler file per subcommand,
//! and the one place where errors become exit codes.
//!
//! [`main_with`] gives any binary the whole CLI for the objectives it passes;
//! the `sweep` binary is `main_with(objective::builtin())`.
//!
//! Exit codes: 0 when every trial succeeded, 1 for a failure (some trial
//! failed or diverged, results could not be read or written, a benchmark
//! target was missed), 2 for bad input; `exit_code.rs` decides which error is which.

mod aggregate;
mod bench;
mod client;
mod deploy;
mod devices;
mod exit_code;
mod finish;
mod json;
mod mlflow;
mod objectives;
mod plan;
mod registry;
mod report;
mod run;
mod slurm;
mod status;
mod table;
mod tensorboard;
mod trial;
mod wandb;
mod worker;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::aggregate::AggregateError;
use crate::bench::BenchError;
use crate::data::DataError;
use crate::deploy::DeployError;
use crate::objective::{Catalog, Objective};
use crate::registry::RegistryError;
use crate::runner::{InjectedFaults, RunError};
use crate::slurm::SlurmError;
use crate::spec::SpecError;
use crate::status::StatusError;
use crate::store::StoreError;

/// Reproducible hyperparameter sweeps for Burn models.
#[derive(Debug, Parser)]
#[command(name = "sweep", version, about, propagate_version = true)]
pub(crate) struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Plan and train every trial of a spec, then write the leaderboard and registry.
    Run(run::RunArgs),
    /// Print the trials a spec plans, without training.
    Plan(plan::PlanArgs),
    /// Rebuild leaderboard.csv and registry.json from a sweep's trial records.
    Aggregate(aggregate::AggregateArgs),
    /// Look at the model registry.
    #[command(subcommand)]
    Registry(registry::RegistryCommand),
    /// Run exactly one trial of a spec's plan (what each SLURM array task runs).
    Trial(trial::TrialArgs),
    /// Run a sweep as a SLURM job array plus an aggregation job.
    Slurm(slurm::SlurmArgs),
    /// Show which planned trials are done, failed, diverged, missing, running or stale.
    Status(status::StatusArgs),
    /// Predict with a model: a CSV of rows, or its own validation split.
    Predict(deploy::PredictArgs),
    /// Check that a model's checkpoint reproduces every best-epoch metric in its metadata.
    Verify(deploy::VerifyArgs),
    /// A model's metrics on one part of its split: test (default), valid or train.
    Evaluate(deploy::EvaluateArgs),
    /// Export a model: weights, preprocessing and a model card.
    Export(deploy::ExportArgs),
    // A developer's command (CONTRIBUTING.md, the book's performance page): it runs as
    // `sweep bench`, but a user's `--help` does not list it.
    /// Measure the performance workloads against their targets (bench.csv).
    #[command(hide = true)]
    Bench(bench::BenchArgs),
    /// Write report.html: leaderboard, training curves with the best epoch, parameter plots.
    Report(report::ReportArgs),
    /// List the objectives this binary can sweep, with every parameter they take.
    Objectives(objectives::ObjectivesArgs),
    /// Print the command protocol's client (sweep_client.py) for objective = "command".
    Client(client::ClientArgs),
    /// Write TensorBoard event files: per-trial scalars and the HParams tab's summaries.
    Tensorboard(tensorboard::TensorboardArgs),
    /// Publish a sweep to an MLflow tracking server and model registry.
    #[command(subcommand)]
    Mlflow(mlflow::MlflowCommand),
    /// Write a sweep's trials as W&B offline runs, for `wandb sync`.
    #[command(subcommand)]
    Wandb(wandb::WandbCommand),
    /// List the devices trials can compute on (CPU, GPUs), and check that they compute right.
    Devices(devices::DevicesArgs),
    /// Run trials sent on stdin (what `sweep run` starts for objectives that need processes).
    #[command(hide = true)]
    Worker(worker::WorkerArgs),
}

/// The whole CLI for `objectives`: parses the command line, runs the command,
/// and returns the exit code. A user's binary is this one line:
///
/// ```no_run
/// # struct MyModel;
/// # fn boxed() -> Box<dyn sweep::objective::Objective> { unimplemented!() }
/// fn main() -> std::process::ExitCode {
///     sweep::cli::main_with(vec![boxed()])
/// }
/// ```
pub fn main_with(objectives: Vec<Box<dyn Objective>>) -> ExitCode {
    let catalog = match Catalog::new(objectives) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: this binary's objectives are not usable: {e}");
            return ExitCode::from(2);
        }
    };
    // Usage lines name the binary as it was called (a user's own, or `sweep`).
    let name = std::env::args_os()
        .next()
        .and_then(|a| std::path::Path::new(&a).file_stem().map(|s| s.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "sweep".into());
    let matches = match Cli::command().bin_name(name).try_get_matches() {
        Ok(m) => m,
        // Clap's own message for this is several lines and does not say which argument.
        Err(e) if e.kind() == clap::error::ErrorKind::InvalidUtf8 => {
            eprintln!("error: {}", not_utf8_argument());
            return ExitCode::from(exit_code::BAD_INPUT);
        }
        Err(e) => e.exit(),
    };
    match Cli::from_arg_matches(&matches) {
        Ok(cli) => dispatch(cli, &catalog),
        Err(e) => e.exit(),
    }
}

/// Runs a parsed command line with the objectives of `catalog` and returns the process exit code.
pub(crate) fn dispatch(cli: Cli, catalog: &Catalog) -> ExitCode {
    let result = match cli.command {
        Command::Run(args) => run::run(args, catalog),
        Command::Plan(args) => plan::plan(args, catalog),
        Command::Aggregate(args) => aggregate::aggregate(args, catalog),
        Command::Registry(cmd) => registry::registry(cmd),
        Command::Trial(args) => trial::trial(args, catalog),
        Command::Slurm(args) => slurm::slurm(args, catalog),
        Command::Status(args) => status::status(args),
        Command::Predict(args) => deploy::predict(args, catalog),
        Command::Verify(args) => deploy::verify(args, catalog),
        Command::Evaluate(args) => deploy::evaluate(args, catalog),
        Command::Export(args) => deploy::export(args, catalog),
        Command::Bench(args) => bench::bench(args),
        Command::Report(args) => report::report(args),
        Command::Objectives(args) => objectives::objectives(args, catalog),
        Command::Client(args) => client::client(args),
        Command::Tensorboard(args) => tensorboard::tensorboard(args),
        Command::Devices(args) => devices::devices(args),
        Command::Worker(args) => worker::worker(args, catalog),
        Command::Mlflow(cmd) => mlflow::mlflow(cmd, catalog),
        Command::Wandb(cmd) => wandb::wandb(cmd, catalog),
    };
    match result {
        Ok(code) => code,
        // `sweep plan ... | head`: the reader left, which is not an error.
        Err(CliError::Output(e)) if e.kind() == std::io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            // Messages quote what the user gave; whatever it holds, they stay one line.
            eprintln!("error: {}", crate::text::one_line(&e.to_string()));
            ExitCode::from(e.exit_code())
        }
    }
}

/// Names the first argument that is not UTF-8 text (names, aliases and model references must be).
fn not_utf8_argument() -> String {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    match args.iter().position(|a| a.to_str().is_none()) {
        Some(i) => format!(
            "argument {} ({}) is not UTF-8 text; names, aliases and model references must be",
            i + 1,
            crate::text::one_line(&format!("{:?}", args[i]))
        ),
        None => "an argument is not UTF-8 text".into(),
    }
}

/// Any error a command can end with.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    /// A bad spec.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// Bad data.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The run could not go ahead.
    #[error(transparent)]
    Run(#[from] RunError),
    /// Aggregation failed.
    #[error(transparent)]
    Aggregate(#[from] AggregateError),
    /// Results could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A SLURM submission failed.
    #[error(transparent)]
    Slurm(#[from] SlurmError),
    /// A sweep's status could not be read.
    #[error(transparent)]
    Status(#[from] StatusError),
    /// A registry operation failed.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A model could not be used.
    #[error(transparent)]
    Deploy(#[from] DeployError),
    /// The report could not be written.
    #[error(transparent)]
    Report(#[from] crate::report::ReportError),
    /// TensorBoard's event files could not be written.
    #[error(transparent)]
    Tensorboard(#[from] crate::publish::tensorboard::TensorboardError),
    /// Publishing to MLflow failed.
    #[error(transparent)]
    Mlflow(Box<crate::publish::mlflow::PushError>),
    /// W&B's offline runs could not be written.
    #[error(transparent)]
    Wandb(#[from] crate::publish::wandb::WandbError),
    /// `sweep bench` could not measure.
    #[error(transparent)]
    Bench(#[from] BenchError),
    /// A device could not be used.
    #[error(transparent)]
    Device(#[from] crate::device::DeviceError),
    /// A bad command-line value.
    #[error("{0}")]
    Usage(String),
    /// Writing to stdout failed.
    #[error("writing output: {0}")]
    Output(#[from] std::io::Error),
}

// Boxed: a push error carries the server's answer, which would make every command's result large.
impl From<crate::publish::mlflow::PushError> for CliError {
    fn from(e: crate::publish::mlflow::PushError) -> Self {
        CliError::Mlflow(Box::new(e))
    }
}

/// Faults to inject, from the environment: `SWEEP_FAIL_TRIALS=1,4` makes those
/// trial indices panic, `SWEEP_ABORT_TRIALS=2` kills the process in trial 2.
/// Tests use them to show that one broken trial never stops a sweep, locally or
/// on SLURM, and that a dead process is recognised and run again.
pub(crate) fn faults_from_env() -> Result<InjectedFaults, CliError> {
    let indices = |var: &str| -> Result<std::collections::BTreeSet<usize>, CliError> {
        let Ok(text) = std::env::var(var) else {
            return Ok(Default::default());
        };
        text.split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                s.trim()
                    .parse::<usize>()
                    .map_err(|_| CliError::Usage(format!("{var}: got \"{s}\", expected comma-separated trial indices")))
            })
            .collect()
    };
    Ok(InjectedFaults { panic: indices("SWEEP_FAIL_TRIALS")?, abort: indices("SWEEP_ABORT_TRIALS")? })
}

/// Where sweeps keep their results unless told otherwise.
pub(crate) fn default_results_root() -> PathBuf {
    PathBuf::from("results")
}
