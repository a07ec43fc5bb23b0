//! `sweep tensorboard RESULTS`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::CliError;
use crate::publish::tensorboard::{self, TensorboardPublisher};
use crate::store::SweepDir;

/// Arguments of `sweep tensorboard`.
#[derive(Debug, Args)]
pub(crate) struct TensorboardArgs {
    /// A sweep's results folder, e.g. results/digits-grid.
    pub results: PathBuf,
    /// Print nothing.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// Writes (or rewrites) the sweep's TensorBoard event files and says how to view them.
pub(super) fn tensorboard(args: TensorboardArgs) -> Result<ExitCode, CliError> {
    let written = tensorboard::write_event_files(&SweepDir::new(&args.results))?;
    if !args.quiet {
        println!("{}", TensorboardPublisher::line(&written));
        println!("view with:   tensorboard --logdir {}", written.dir.display());
    }
    Ok(ExitCode::SUCCESS)
}
