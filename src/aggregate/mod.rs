//! The aggregator: ranks the per-trial records of a sweep and exports the
//! leaderboard and the sweep's model registry. It reads nothing but
//! `trials/*/trial.json`, so it gives the same answer after a local run, a
//! resumed run, or a cluster job array.

mod by_config;
mod leaderboard;
mod ranking;
mod registry;

use std::path::PathBuf;

pub use by_config::{ConfigLeaderboardCsv, ConfigRow, rank_configs};
pub use leaderboard::LeaderboardCsv;
pub use ranking::rank;
pub use registry::{RegistryEntry, RegistryJson, SweepRegistry};

use crate::metrics::{Monitor, Task};
use crate::store::{self, IncompleteTrial, StoreError, SweepDir, TrialRecord};

/// Why aggregation failed.
#[derive(Debug, thiserror::Error)]
pub enum AggregateError {
    /// The folder is not a sweep's results folder.
    #[error("{dir}: no trial records here (expected {dir}/trials/<id>/trial.json); is this a sweep's results folder?")]
    NoRecords {
        /// The folder.
        dir: PathBuf,
    },
    /// Records disagree about their task.
    #[error("{dir}: trials of different tasks ({a} and {b}); were two sweeps mixed in one folder?")]
    MixedTasks {
        /// The folder.
        dir: PathBuf,
        /// One task.
        a: &'static str,
        /// Another.
        b: &'static str,
    },
    /// Records disagree about what they monitor.
    #[error("{dir}: trials monitor different metrics ({a} and {b}); were two sweeps mixed in one folder?")]
    MixedMonitors {
        /// The folder.
        dir: PathBuf,
        /// One metric.
        a: String,
        /// Another.
        b: String,
    },
    /// Reading records or writing exports failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An exporter could not render.
    #[error("rendering {file}: {message}")]
    Render {
        /// The export's file name.
        file: &'static str,
        /// Why.
        message: String,
    },
}

/// Ranked trials of one sweep.
#[derive(Debug, Clone)]
pub struct Leaderboard {
    /// Sweep name.
    pub sweep: String,
    /// Spec hash of the trials.
    pub spec_hash: String,
    /// The ranking key.
    pub monitor: Monitor,
    /// What the trials predict, which decides the metric columns.
    pub task: Task,
    /// Swept parameter names (the union over all trials), sorted.
    pub param_names: Vec<String>,
    /// Trials, best first; failed and diverged last.
    pub rows: Vec<TrialRecord>,
    /// Whether configurations ran with several seeds (`repeats > 1`).
    pub repeats: bool,
    /// Trial folders without a complete record (still running, or died).
    pub incomplete: Vec<IncompleteTrial>,
}

impl Leaderboard {
    /// Builds the ranked leaderboard from records.
    pub fn from_records(
        dir: &SweepDir,
        records: Vec<TrialRecord>,
        incomplete: Vec<IncompleteTrial>,
    ) -> Result<Self, AggregateError> {
        let Some(first) = records.first() else {
            return Err(AggregateError::NoRecords { dir: dir.root().to_path_buf() });
        };
        let monitor = first.monitor.clone();
        if let Some(other) = records.iter().find(|r| r.monitor.metric != monitor.metric) {
            return Err(AggregateError::MixedMonitors {
                dir: dir.root().to_path_buf(),
                a: monitor.metric.clone(),
                b: other.monitor.metric.clone(),
            });
        }
        if let Some(other) = records.iter().find(|r| r.task != first.task) {
            return Err(AggregateError::MixedTasks {
                dir: dir.root().to_path_buf(),
                a: first.task.as_str(),
                b: other.task.as_str(),
            });
        }
        let mut param_names: Vec<String> = records.iter().flat_map(|r| r.params.keys().cloned()).collect();
        param_names.sort();
        param_names.dedup();
        Ok(Leaderboard {
            sweep: first.sweep.clone(),
            spec_hash: first.spec_hash.clone(),
            monitor,
            task: first.task,
            param_names,
            repeats: records.iter().any(|r| r.repeat > 0),
            rows: rank(records),
            incomplete,
        })
    }
}

/// Renders one export of a leaderboard; pure, the aggregator writes the bytes.
pub trait Exporter {
    /// File name inside the sweep folder.
    fn file_name(&self) -> &'static str;
    /// The file's content.
    fn render(&self, board: &Leaderboard) -> Result<Vec<u8>, AggregateError>;
}

/// Reads every record of `dir`, ranks them, and writes every export atomically.
pub fn aggregate(dir: &SweepDir) -> Result<Leaderboard, AggregateError> {
    let scan = dir.scan()?;
    let board = Leaderboard::from_records(dir, scan.complete, scan.incomplete)?;
    let mut exporters: Vec<&dyn Exporter> = vec![&LeaderboardCsv, &RegistryJson];
    if board.repeats {
        exporters.push(&ConfigLeaderboardCsv);
    }
    for exporter in exporters {
        let bytes = exporter.render(&board)?;
        let path = dir.file(exporter.file_name());
        store::write_atomic(&path, &bytes).map_err(StoreError::io(&path))?;
    }
    Ok(board)
}
