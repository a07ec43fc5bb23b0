//! `sweep status RESULTS`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::CliError;
use crate::status::{TrialState, sweep_status};
use crate::store::SweepDir;

/// Arguments of `sweep status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// A sweep's results folder, e.g. results/digits-grid.
    pub results: PathBuf,
    /// Print every trial's state as JSON.
    #[arg(long)]
    pub json: bool,
}

const LABELS: [&str; 7] = ["done", "failed", "diverged", "missing", "running", "unknown", "stale"];

/// Prints counts per state and every trial that is not done; exit 0 only when all are done.
pub fn status(args: StatusArgs) -> Result<ExitCode, CliError> {
    let status = sweep_status(&SweepDir::new(&args.results))?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &status).map_err(std::io::Error::other)?;
        writeln!(out)?;
    } else {
        let counts: Vec<String> = LABELS
            .iter()
            .map(|l| (l, status.count(l)))
            .filter(|(_, n)| *n > 0)
            .map(|(l, n)| format!("{n} {l}"))
            .collect();
        writeln!(
            out,
            "{} (spec {}): {} trials: {}",
            status.sweep,
            status.spec_hash,
            status.trials.len(),
            counts.join(", ")
        )?;
        for t in status.trials.iter().filter(|t| t.state != TrialState::Done) {
            let detail = match &t.state {
                TrialState::Failed { message } | TrialState::Diverged { message } => message.clone(),
                TrialState::Running { host, pid, since } => format!("pid {pid} on {host} since {since}"),
                TrialState::Unknown { host, pid, since, reason } => {
                    format!("pid {pid} on {host} since {since}: {reason}")
                }
                TrialState::Stale { reason } => reason.clone(),
                TrialState::Missing | TrialState::Done => String::new(),
            };
            writeln!(out, "{:>6}  {:<16} {:<16} {detail}", t.index, t.id, t.state.label())?;
        }
        let missing = status.trials.iter().filter(|t| t.state.needs_run()).count();
        let failed = status.trials.iter().filter(|t| t.state.needs_retry()).count();
        if missing > 0 {
            writeln!(out, "resume: sweep run SPEC --resume, or sweep slurm SPEC --only-missing ({missing} trials)")?;
        }
        let unknown = status.count("unknown");
        if unknown > 0 {
            writeln!(
                out,
                "unknown: {unknown} trial(s) whose process this host cannot check count as running: \
                 --only-missing and --retry-failed leave them alone until they finish or go stale"
            )?;
        }
        if failed > 0 {
            writeln!(
                out,
                "retry:  sweep run SPEC --resume --retry-failed, or sweep slurm SPEC --retry-failed ({failed} trials)"
            )?;
        }
    }
    Ok(if status.all_done() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
