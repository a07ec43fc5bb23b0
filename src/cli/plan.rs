//! `sweep plan SPEC`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::CliError;
use crate::params::params_display;
use crate::plan::Plan;
use crate::spec;

/// Arguments of `sweep plan`.
#[derive(Debug, Args)]
pub struct PlanArgs {
    /// The sweep spec (TOML).
    pub spec: PathBuf,
    /// One JSON object per trial, one per line (JSON Lines).
    #[arg(long)]
    pub json: bool,
}

/// Prints every planned trial: index, id, seed, params.
pub fn plan(args: PlanArgs) -> Result<ExitCode, CliError> {
    let spec = spec::load(&args.spec)?;
    let plan = Plan::new(&spec);
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if !args.json {
        writeln!(out, "sweep {} ({:?}), spec hash {}: {} trials", spec.name, spec.method, spec.hash(), plan.len())?;
    }
    for trial in plan.trials() {
        if args.json {
            serde_json::to_writer(&mut out, &trial).map_err(std::io::Error::other)?;
            writeln!(out)?;
        } else {
            writeln!(
                out,
                "{:>6}  {}  seed {:>20}  {}",
                trial.index,
                trial.id,
                trial.seed,
                params_display(&trial.params)
            )?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
