//! `sweep status RESULTS`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;

use super::CliError;
use crate::runner::event_log::{self, LogLine, LogReader};
use crate::status::{OpenRuns, TrialState, follow_is_over, sweep_status};
use crate::store::liveness;
use crate::store::{StoreError, SweepDir};

/// Arguments of `sweep status`.
#[derive(Debug, Args)]
pub(crate) struct StatusArgs {
    /// A sweep's results folder, e.g. results/digits-grid.
    pub results: PathBuf,
    /// Print every trial's state as JSON.
    #[arg(long)]
    pub json: bool,
    /// Show the last events of the sweep's events.jsonl, then every new one and the progress
    /// as trials are recorded, until the sweep is over.
    #[arg(long, conflicts_with = "json")]
    pub follow: bool,
}

/// Events shown from the log's past when following starts.
const LAST_EVENTS: usize = 10;

/// How often `--follow` looks again.
const FOLLOW_POLL: Duration = Duration::from_millis(500);

/// Prints counts per state and every trial that is not done; exit 0 only when all are done.
pub(super) fn status(args: StatusArgs) -> Result<ExitCode, CliError> {
    if args.follow {
        return follow(&SweepDir::new(&args.results));
    }
    let status = sweep_status(&SweepDir::new(&args.results))?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &status).map_err(std::io::Error::other)?;
        writeln!(out)?;
    } else {
        writeln!(
            out,
            "{} (spec {}): {} trials: {}",
            status.sweep,
            status.spec_hash,
            status.trials.len(),
            status.counts()
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

/// `--follow`: the log's last events, then its new ones and a progress line whenever the counts
/// change, until [`follow_is_over`]; the exit code is that of `status` at the end.
fn follow(dir: &SweepDir) -> Result<ExitCode, CliError> {
    let mut status = sweep_status(dir)?;
    let log_path = dir.file(event_log::FILE_NAME);
    let mut reader = LogReader::new(dir);
    let mut runs = OpenRuns::default();
    let read_err = |e| CliError::Store(StoreError::io(&log_path)(e));
    let mut out = std::io::stdout().lock();
    let past = reader.read_new().map_err(read_err)?;
    past.iter().for_each(|l| runs.see(l));
    if past.len() > LAST_EVENTS {
        writeln!(out, "({} earlier events in {})", past.len() - LAST_EVENTS, log_path.display())?;
    }
    for line in past.iter().skip(past.len().saturating_sub(LAST_EVENTS)) {
        print_line(&mut out, line)?;
    }
    let mut progress = String::new();
    let mut polls_recorded = 0;
    loop {
        let line = status.progress_line();
        if line != progress {
            writeln!(out, "{line}")?;
            progress = line;
        }
        out.flush()?;
        let alive = runs.any_alive(liveness::process);
        if follow_is_over(&status, &runs, alive, polls_recorded) {
            break;
        }
        std::thread::sleep(FOLLOW_POLL);
        for line in reader.read_new().map_err(read_err)? {
            runs.see(&line);
            print_line(&mut out, &line)?;
        }
        status = sweep_status(dir)?;
        polls_recorded = if status.all_recorded() { polls_recorded + 1 } else { 0 };
    }
    Ok(if status.all_done() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

fn print_line(out: &mut impl Write, line: &LogLine) -> std::io::Result<()> {
    writeln!(out, "{}  {}", line.clock(), line.event.describe())
}
