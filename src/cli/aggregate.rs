//! `sweep aggregate RESULTS`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{CliError, table};
use crate::aggregate;
use crate::objective::Catalog;
use crate::output::SweepOutput;
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
    /// Print one JSON document on stdout (counts, best model, top trials,
    /// files) instead of the table.
    #[arg(long)]
    pub json: bool,
}

/// Rebuilds the leaderboard and registry from the trial records; refits a
/// cross-validation's winner and evaluates the top models on the test split
/// where the sweep asks for it and that was not done yet (a SLURM array's
/// aggregation job does both here).
pub fn aggregate(args: AggregateArgs, catalog: &Catalog) -> Result<ExitCode, CliError> {
    let started = std::time::Instant::now();
    let json_out = super::json::reserve_if(args.json)?;
    let dir = SweepDir::new(&args.results);
    dir.refuse_links()?;
    let models = SweepModels::from_manifest(&dir, catalog);
    let (board, judged) = aggregate::aggregate_with(&dir, Some(&models))?;
    for problem in &judged.problems {
        eprintln!("warning: {problem}");
    }
    let report = super::report::report_after(&dir, &board);
    let tensorboard = dir.manifest()?.and_then(|m| m.report).is_some_and(|r| r.tensorboard);
    let tensorboard_line = tensorboard.then(|| super::tensorboard::tensorboard_after(&dir)).flatten();
    let registered = match dir.manifest()?.and_then(|m| m.register_as) {
        Some(name) if !board.rows.is_empty() && board.rows[0].status.has_model() => {
            Some(super::registry::register_top(&dir, &name)?)
        }
        _ => None,
    };
    let code = if judged.problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) };
    if let Some(out) = json_out {
        let mut document = SweepOutput::new("aggregate", &dir, &board, &judged);
        document.files.report = report.as_deref().map(crate::output::absolute);
        document.registered = registered;
        document.duration_s = started.elapsed().as_secs_f64();
        out.print(&document)?;
        return Ok(code);
    }
    if !args.quiet {
        let mut out = std::io::stdout().lock();
        table::print_top(&mut out, &board, 5)?;
        use std::io::Write;
        writeln!(out, "leaderboard: {}", dir.file(names::LEADERBOARD).display())?;
        if let Some(path) = report {
            writeln!(out, "report:      {}", path.display())?;
        }
        if let Some(line) = tensorboard_line {
            writeln!(out, "{line}")?;
        }
        if let Some(line) = registered {
            writeln!(out, "{line}")?;
        }
    }
    Ok(code)
}
