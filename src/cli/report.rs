//! `sweep report RESULTS`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::CliError;
use crate::aggregate::Leaderboard;
use crate::report::{self, ReportOptions};
use crate::store::SweepDir;

/// Arguments of `sweep report`.
#[derive(Debug, Args)]
pub(crate) struct ReportArgs {
    /// A sweep's results folder, e.g. results/digits-grid.
    pub results: PathBuf,
    /// Rows of the leaderboard table.
    #[arg(long, default_value_t = 50)]
    pub rows: usize,
    /// Trials whose training curves are drawn.
    #[arg(long, default_value_t = 3)]
    pub curves: usize,
}

/// Writes report.html and prints its path.
pub(super) fn report(args: ReportArgs) -> Result<ExitCode, CliError> {
    let dir = SweepDir::new(&args.results);
    dir.refuse_links()?;
    let path = report::write_report(&dir, ReportOptions { table_rows: args.rows, curves: args.curves })?;
    println!("{}", path.display());
    Ok(ExitCode::SUCCESS)
}

/// The report after `run` and `aggregate`, of the leaderboard they built: a
/// failure is a warning, never the command's failure.
pub(super) fn report_after(dir: &SweepDir, board: &Leaderboard) -> Option<std::path::PathBuf> {
    match report::write_report_of(dir, Some(board), ReportOptions::default()) {
        Ok(path) => Some(path),
        Err(e) => {
            eprintln!("warning: report not written: {e}");
            None
        }
    }
}
