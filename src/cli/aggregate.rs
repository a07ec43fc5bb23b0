//! `sweep aggregate RESULTS`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{CliError, table};
use crate::aggregate;
use crate::objective::Catalog;
use crate::selection::SweepModels;
use crate::store::{SweepDir, names};

/// Arguments of `sweep aggregate`.
#[derive(Debug, Args)]
pub struct AggregateArgs {
    /// A sweep's results folder, e.g. results/digits-grid.
    pub results: PathBuf,
    /// Print nothing.
    #[arg(long, short = 'q')]
    pub quiet: bool,
}

/// Rebuilds the leaderboard and registry from the trial records; refits a
/// cross-validation's winner and evaluates the top models on the test split
/// where the sweep asks for it and that was not done yet (a SLURM array's
/// aggregation job does both here).
pub fn aggregate(args: AggregateArgs, catalog: &Catalog) -> Result<ExitCode, CliError> {
    let dir = SweepDir::new(&args.results);
    dir.refuse_links()?;
    let models = SweepModels::from_manifest(&dir, catalog);
    let (board, judged) = aggregate::aggregate_with(&dir, Some(&models))?;
    for problem in &judged.problems {
        eprintln!("warning: {problem}");
    }
    let report_line = super::report::report_after(&dir, &board);
    let registered = match dir.manifest()?.and_then(|m| m.register_as) {
        Some(name) if !board.rows.is_empty() && board.rows[0].status.has_model() => {
            Some(super::registry::register_top(&dir, &name)?)
        }
        _ => None,
    };
    if !args.quiet {
        let mut out = std::io::stdout().lock();
        table::print_top(&mut out, &board, 5)?;
        use std::io::Write;
        writeln!(out, "leaderboard: {}", dir.file(names::LEADERBOARD).display())?;
        if let Some(line) = report_line {
            writeln!(out, "{line}")?;
        }
        if let Some(line) = registered {
            writeln!(out, "{line}")?;
        }
    }
    Ok(if judged.problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
