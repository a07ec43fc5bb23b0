//! `sweep aggregate RESULTS`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::finish::Settings;
use super::{CliError, table};
use crate::objective::Catalog;
use crate::output::SweepOutput;
use crate::selection::SweepModels;
use crate::store::SweepDir;

/// Arguments of `sweep aggregate`.
#[derive(Debug, Args)]
pub(crate) struct AggregateArgs {
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
pub(super) fn aggregate(args: AggregateArgs, catalog: &Catalog) -> Result<ExitCode, CliError> {
    let started = std::time::Instant::now();
    let json_out = super::json::reserve_if(args.json)?;
    let dir = SweepDir::new(&args.results);
    dir.refuse_links()?;
    let models = SweepModels::from_manifest(&dir, catalog);
    let finished = super::finish::finish(&dir, &models, Settings::FromManifest)?;
    let code = finished.exit_code(false);
    if let Some(out) = json_out {
        let mut document = SweepOutput::new("aggregate", &dir, &finished.board, &finished.judged);
        document.files.report = finished.report.as_deref().map(crate::output::absolute);
        document.registered = finished.registered;
        document.duration_s = started.elapsed().as_secs_f64();
        out.print(&document)?;
        return Ok(code);
    }
    if !args.quiet {
        let mut out = std::io::stdout().lock();
        table::print_top(&mut out, &finished.board, 5)?;
        finished.print_files(&mut out, &dir)?;
    }
    Ok(code)
}
