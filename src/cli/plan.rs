//! `sweep plan SPEC`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::CliError;
use crate::objective::Catalog;
use crate::params::params_display;
use crate::spec;

/// Arguments of `sweep plan`.
#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    /// The sweep spec: TOML, or a W&B sweep file (.yaml, .yml).
    pub spec: PathBuf,
    /// One JSON object per trial, one per line (JSON Lines).
    #[arg(long)]
    pub json: bool,
}

/// Prints every planned trial: index, id, seed, params.
pub(super) fn plan(args: PlanArgs, catalog: &Catalog) -> Result<ExitCode, CliError> {
    let spec = spec::load(&args.spec, catalog)?;
    let plan = spec.plan();
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if !args.json {
        let method = spec.method.summary();
        writeln!(
            out,
            "sweep {} ({method}, objective {}), spec hash {}: {} trials",
            spec.name,
            spec.objective,
            spec.hash(),
            plan.len()
        )?;
    }
    // An adaptive plan (TPE) is known up front only for its random start-up trials.
    let known = plan.known_up_front();
    if known < plan.len() && !args.json {
        writeln!(
            out,
            "{}: the first {known} trials are random; the other {} are proposed from their results",
            spec.method.label(),
            plan.len() - known
        )?;
    }
    if args.json {
        plan.write_json_lines(known, &mut out)?;
        out.flush()?;
        return Ok(ExitCode::SUCCESS);
    }
    for trial in plan.trials().take(known) {
        writeln!(out, "{:>6}  {}  seed {:>20}  {}", trial.index, trial.id, trial.seed, params_display(&trial.params))?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
