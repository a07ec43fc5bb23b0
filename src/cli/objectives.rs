//! `sweep objectives [NAME]`: what this binary can sweep.

use std::io::Write;
use std::process::ExitCode;

use clap::Args;

use super::CliError;
use crate::objective::{Catalog, Objective, Parallelism};
use crate::params::ParamDef;

/// Arguments of `sweep objectives`.
#[derive(Debug, Args)]
pub(crate) struct ObjectivesArgs {
    /// Only this objective.
    pub name: Option<String>,
}

/// Prints each objective with its tasks and every parameter: kind and range, default, description.
pub(super) fn objectives(args: ObjectivesArgs, catalog: &Catalog) -> Result<ExitCode, CliError> {
    let chosen: Vec<&dyn Objective> = match &args.name {
        Some(name) => vec![catalog.get(name).ok_or_else(|| {
            CliError::Usage(format!("no objective \"{name}\" in this binary; it has: {}", catalog.names()))
        })?],
        None => catalog.iter().collect(),
    };
    let mut out = std::io::stdout().lock();
    for (i, o) in chosen.iter().enumerate() {
        if i > 0 {
            writeln!(out)?;
        }
        let tasks: Vec<&str> = o.tasks().iter().map(|t| t.as_str()).collect();
        let runs = match o.parallelism() {
            Parallelism::Threads => "trials run as threads",
            Parallelism::Processes => "trials run in worker processes",
        };
        let default = if o.name() == Catalog::DEFAULT { ", the default" } else { "" };
        writeln!(out, "objective = \"{}\" (version {}{default}): {}", o.name(), o.version(), o.description())?;
        writeln!(out, "  tasks: {}; {runs}", tasks.join(", "))?;
        writeln!(out, "  [train] / [parameters]:")?;
        for p in o.schema().iter() {
            write_param(&mut out, p)?;
        }
        if let Some(source) = o.data_source() {
            writeln!(
                out,
                "  [data] (its own data source; also task, valid_fraction, test_fraction, test_top, cv_folds, refit):"
            )?;
            for p in source.options().iter() {
                write_param(&mut out, p)?;
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn write_param(out: &mut impl Write, p: &ParamDef) -> std::io::Result<()> {
    writeln!(out, "    {:<14} {:<34} default {:<8} {}", p.name, p.kind.describe(), p.default.to_string(), p.description)
}
