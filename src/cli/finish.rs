//! What follows the trials, the same for `sweep run`, `sweep aggregate` and a SLURM array's
//! aggregation job (which runs `sweep aggregate`): aggregate, warn, write report.html, run the
//! publishers the sweep asks for, register the top model, and decide the exit code.

use std::io::Write;
use std::mem::ManuallyDrop;
use std::path::PathBuf;
use std::process::ExitCode;

use super::CliError;
use crate::aggregate::{self, Judged, Leaderboard};
use crate::output::Registered;
use crate::publish::{self, SweepView};
use crate::selection::SweepModels;
use crate::spec::{PublishSpec, ReportSpec};
use crate::store::{SweepDir, names};

/// What the sweep asks to be done after each aggregation: `[report]` and `register_as`.
#[derive(Debug, Clone, Default)]
pub(super) struct AfterAggregation {
    /// `[report]`: the publishers to run.
    pub report: ReportSpec,
    /// `[publish]`: the trackers to write the sweep out for.
    pub publish: PublishSpec,
    /// The model name the top trial is registered under.
    pub register_as: Option<String>,
}

/// What the pipeline did.
pub(super) struct Finished {
    /// The leaderboard it wrote. Never freed: the command ends right after it, and freeing the
    /// records of 10^5 trials one by one took a third of a second that the process's exit does not.
    pub board: ManuallyDrop<Leaderboard>,
    /// Test evaluations and the problems of the aggregation.
    pub judged: Judged,
    /// report.html, unless writing it failed (a warning).
    pub report: Option<PathBuf>,
    /// One line per publisher that published.
    pub published: Vec<String>,
    /// The registration `register_as` made.
    pub registered: Option<Registered>,
}

/// Where the settings come from.
#[derive(Debug, Clone)]
pub(super) enum Settings {
    /// The spec at hand (`sweep run`).
    Given(AfterAggregation),
    /// The results folder's manifest, read after aggregating (`sweep aggregate`, the SLURM job).
    FromManifest,
}

/// Aggregates the sweep in `dir` and does everything `settings` ask; only a failed aggregation or
/// registration fails it: the report and the publishers warn on stderr and are skipped.
pub(super) fn finish(dir: &SweepDir, models: &SweepModels, settings: Settings) -> Result<Finished, CliError> {
    let (board, judged) = aggregate::aggregate_with(dir, Some(models))?;
    let after = match settings {
        Settings::Given(after) => after,
        Settings::FromManifest => {
            let manifest = dir.manifest()?;
            AfterAggregation {
                report: manifest.as_ref().and_then(|m| m.report).unwrap_or_default(),
                publish: manifest.as_ref().and_then(|m| m.publish.clone()).unwrap_or_default(),
                register_as: manifest.and_then(|m| m.register_as),
            }
        }
    };
    for problem in &judged.problems {
        eprintln!("warning: {problem}");
    }
    let report = super::report::report_after(dir, &board);
    // No silent fallback: with constraints no model meets, nothing is published as the
    // champion or registered; the leaderboard and the report, already written, show why.
    let models_count = board.registry_order().len();
    if !board.constraints.is_empty() && models_count > 0 && board.pick().is_none() {
        return Err(aggregate::AggregateError::NoneMeetsConstraints {
            dir: dir.root().to_path_buf(),
            models: models_count,
        }
        .into());
    }
    let publishers = publish::enabled_after_aggregation(&after.report, &after.publish, models.catalog);
    let mut published = Vec::new();
    if !publishers.is_empty() {
        match SweepView::load(dir) {
            Ok(view) => {
                for publisher in &publishers {
                    match publisher.publish(&view) {
                        Ok(line) => published.push(line),
                        Err(e) => eprintln!("warning: {}: {e}", publisher.failure()),
                    }
                }
            }
            Err(e) => {
                for publisher in &publishers {
                    eprintln!("warning: {}: {e}", publisher.failure());
                }
            }
        }
    }
    // Failed and diverged trials rank last: the top row has a model when any has.
    let registered = match &after.register_as {
        Some(name) if board.rows.first().is_some_and(|r| r.status.has_model()) => {
            Some(super::registry::register_top(dir, name)?)
        }
        _ => None,
    };
    Ok(Finished { board: ManuallyDrop::new(board), judged, report, published, registered })
}

impl Finished {
    /// Trials without a model: failed or diverged.
    pub(super) fn failed_trials(&self) -> usize {
        self.board.rows.iter().filter(|r| !r.status.has_model()).count()
    }

    /// 1 when the aggregation had problems, or, with `trials_count`, when a trial failed
    /// (`sweep run` answers for its trials; `sweep aggregate` only for the aggregation).
    pub(super) fn exit_code(&self, trials_count: bool) -> ExitCode {
        let failed = if trials_count { self.failed_trials() } else { 0 };
        if failed + self.judged.problems.len() == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) }
    }

    /// The lines after the table: the leaderboard, report.html, each publisher's line, the registration.
    pub(super) fn print_files(&self, out: &mut impl Write, dir: &SweepDir) -> std::io::Result<()> {
        writeln!(out, "leaderboard: {}", dir.file(names::LEADERBOARD).display())?;
        if let Some(path) = &self.report {
            writeln!(out, "report:      {}", path.display())?;
        }
        for line in &self.published {
            writeln!(out, "{line}")?;
        }
        if let Some(registered) = &self.registered {
            writeln!(out, "{registered}")?;
        }
        Ok(())
    }
}
