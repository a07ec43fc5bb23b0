//! `sweep wandb export RESULTS`: every trial as a W&B offline run, for `wandb sync`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::CliError;
use crate::objective::Catalog;
use crate::publish::SweepView;
use crate::publish::wandb::{self, WandbOptions, WandbPublisher};
use crate::store::SweepDir;

/// `sweep wandb ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum WandbCommand {
    /// Write every trial as a W&B offline run (config, per-epoch history, `best_<metric>` summary,
    /// the best model as a "model" artifact) for `wandb sync`; writing again gives the same files.
    Export(ExportArgs),
}

/// Arguments of `sweep wandb export`.
#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// A sweep's results folder, e.g. results/digits-grid.
    pub results: PathBuf,
    /// The W&B project the runs go to (default: the sweep's name).
    #[arg(long, value_name = "P")]
    pub project: Option<String>,
    /// The W&B entity, a user or team (default: the one `wandb sync` is logged in as).
    #[arg(long, value_name = "E")]
    pub entity: Option<String>,
    /// The folder of the runs (default: RESULTS/wandb).
    #[arg(long, value_name = "D")]
    pub dir: Option<PathBuf>,
    /// Print nothing.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// Runs `sweep wandb ...`.
pub(super) fn wandb(command: WandbCommand, catalog: &Catalog) -> Result<ExitCode, CliError> {
    match command {
        WandbCommand::Export(args) => export(args, catalog),
    }
}

fn export(args: ExportArgs, catalog: &Catalog) -> Result<ExitCode, CliError> {
    for (flag, value) in [("--project", &args.project), ("--entity", &args.entity)] {
        if let Some(v) = value {
            crate::store::check_wandb_name(v).map_err(|e| CliError::Usage(format!("{flag}: {e}")))?;
        }
    }
    let started = std::time::Instant::now();
    let view = SweepView::load(&SweepDir::new(&args.results)).map_err(wandb::WandbError::from)?;
    let options = WandbOptions { project: args.project, entity: args.entity, dir: args.dir };
    let exported = wandb::export_view(&view, catalog, &options)?;
    if !args.quiet {
        println!("{}", WandbPublisher::line(&exported));
        println!(
            "{} records, {} files written, {} stale runs removed, {} unfinished trials left out, in {:.2} s",
            exported.records,
            exported.written,
            exported.removed,
            exported.skipped,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(ExitCode::SUCCESS)
}
