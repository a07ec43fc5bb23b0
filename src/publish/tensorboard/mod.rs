//! TensorBoard event files of a finished sweep, built from its results
//! folder alone (trial records and `history.csv`), so `sweep run`, the
//! aggregation of a SLURM array and a later `sweep tensorboard` write the same:
//!
//! ```text
//! results/<sweep>/tensorboard/
//!   events.out.tfevents.<created>.sweep          the HParams experiment: parameters with domains, metrics
//!   <trial id>/events.out.tfevents.<start>.sweep one run per trial:
//!       train/<x>, valid/<x>   every metric column of history.csv, step = epoch
//!       best/<metric>          every best-epoch metric, at the best epoch (the HParams tab's values)
//!       _hparams_/session_start_info, _hparams_/session_end_info   its parameters and how it ended
//! ```
//!
//! The files are named after the time their run started, not the time they
//! were written, so writing them again replaces them instead of adding
//! duplicates TensorBoard would read twice; each is written atomically.

mod event_file;
mod hparams;
mod proto;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

pub(crate) use event_file::EventFile;

use proto::{Event, Summary, SummaryValue, ValueKind, What};

use super::{AfterAggregation, PublishError, Publisher, SweepView};
use crate::space::Domain;
use crate::store::{HistoryError, SweepDir, SweepManifest, TrialRecord, names, read_metric_history, write_atomic};

/// The folder, inside a sweep's results folder, that holds the event files.
pub(crate) const FOLDER: &str = "tensorboard";

/// Why event files could not be written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TensorboardError {
    /// The folder is not a sweep's results folder.
    #[error("{}: no sweep.json here; is this a sweep's results folder (results/NAME)?", dir.display())]
    NotASweep { dir: PathBuf },
    /// Trial records could not be read.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    /// A trial's history or record holds something sweep did not write.
    #[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
    Malformed {
        path: PathBuf,
        /// 1-based line, where known.
        line: Option<u64>,
        message: String,
    },
    /// An event file could not be written or an old one removed.
    #[error("{}: cannot write TensorBoard's event files: {source}", path.display())]
    Write {
        /// The file or folder.
        path: PathBuf,
        source: std::io::Error,
    },
}

impl From<HistoryError> for TensorboardError {
    fn from(e: HistoryError) -> Self {
        TensorboardError::Malformed { path: e.path, line: e.line, message: e.message }
    }
}

/// What [`write_event_files`] wrote.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Written {
    /// `results/<sweep>/tensorboard`: what `tensorboard --logdir` takes.
    pub dir: PathBuf,
    /// Trials with an event file (every trial with a record).
    pub trials: usize,
    /// Scalar values written, over all trials.
    pub scalars: usize,
}

/// Writes (or rewrites) the event files of the sweep in `dir`: one run per
/// complete trial, and the HParams experiment at the top. Trials without a
/// record yet (running, or died) are left out; event files of trials that no
/// longer exist are removed.
pub(crate) fn write_event_files(dir: &SweepDir) -> Result<Written, TensorboardError> {
    write_view(&SweepView::load(dir)?)
}

/// [`write_event_files`] of a sweep already loaded.
pub(crate) fn write_view(view: &SweepView) -> Result<Written, TensorboardError> {
    let dir = view.dir();
    let manifest = view.manifest().ok_or_else(|| TensorboardError::NotASweep { dir: dir.root().to_path_buf() })?;
    let mut records = view.records().to_vec();
    records.sort_by(|a, b| a.index.cmp(&b.index).then_with(|| a.id.cmp(&b.id)));
    let root = dir.file(FOLDER);

    let mut scalars = 0;
    let mut kept = BTreeSet::new();
    for record in &records {
        let (bytes, count) = trial_events(dir, record)?;
        scalars += count;
        let run = root.join(&record.id);
        replace_event_file(&run, &file_name(timestamp(dir, record, &record.started_at)?), &bytes)?;
        kept.insert(record.id.clone());
    }

    let created = parse_time(&manifest.created_at).ok_or_else(|| {
        malformed(
            &dir.file(names::MANIFEST),
            format!("created_at: got \"{}\", expected an RFC 3339 time", manifest.created_at),
        )
    })?;
    let domains = spec_domains(manifest);
    let monitor = records.first().map(|r| &r.monitor);
    let mut file = EventFile::new(created);
    file.push(&summary_event(created, 0, hparams::experiment(&manifest.name, created, monitor, &domains, &records)));
    replace_event_file(&root, &file_name(created), &file.into_bytes())?;
    remove_stale_runs(&root, &kept)?;
    Ok(Written { dir: root, trials: records.len(), scalars })
}

/// The event files as a publisher: what `[report] tensorboard = true` runs after every aggregation.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct TensorboardPublisher;

impl TensorboardPublisher {
    /// The line `run`, `aggregate` and `sweep tensorboard` print about what was written.
    pub(crate) fn line(written: &Written) -> String {
        format!("tensorboard: {} ({} trials, {} scalars)", written.dir.display(), written.trials, written.scalars)
    }
}

impl Publisher for TensorboardPublisher {
    fn failure(&self) -> &'static str {
        "TensorBoard event files not written"
    }

    fn publish(&self, view: &SweepView) -> Result<String, PublishError> {
        Ok(Self::line(&write_view(view)?))
    }
}

/// Enabled by `[report] tensorboard = true`.
pub(crate) fn after_aggregation<'a>(settings: AfterAggregation<'a>) -> Option<Box<dyn Publisher + 'a>> {
    settings.report.tensorboard.then(|| Box::new(TensorboardPublisher) as Box<dyn Publisher>)
}

/// The parameter domains of the spec the manifest holds (empty when an older
/// manifest cannot be read as one: the trials' values stand in for them).
fn spec_domains(manifest: &SweepManifest) -> BTreeMap<String, Domain> {
    manifest.spec.parameters()
}

/// One trial's event file, and how many scalars it holds.
fn trial_events(dir: &SweepDir, record: &TrialRecord) -> Result<(Vec<u8>, usize), TensorboardError> {
    let start = timestamp(dir, record, &record.started_at)?;
    let end = timestamp(dir, record, &record.finished_at)?.max(start);
    let history: Vec<(i64, Vec<(String, f64)>)> = read_metric_history(&dir.trial_dir(&record.id).join(names::HISTORY))?
        .into_iter()
        .map(|e| (e.epoch, e.metrics.into_iter().map(|(column, v)| (scalar_tag(&column), v)).collect()))
        .collect();
    let mut file = EventFile::new(start);
    file.push(&summary_event(start, 0, hparams::session_start(record, start)));

    // history.csv has no times: its epochs are spaced evenly over the trial's
    // run, so TensorBoard's relative and wall-time axes are close to the truth.
    let last_epoch = history.iter().map(|(epoch, _)| *epoch).max().unwrap_or(0).max(1);
    let at = |epoch: i64| start + (end - start) * (epoch as f64 / last_epoch as f64).min(1.0);
    let mut scalars = 0;
    for (epoch, values) in &history {
        let values: Vec<SummaryValue> = values.iter().map(|(tag, v)| scalar(tag, *v)).collect();
        scalars += values.len();
        file.push(&summary_event(at(*epoch), *epoch, Summary { value: values }));
    }
    if let Some(best) = record.best_epoch.filter(|_| !record.best_metrics.is_empty()) {
        let values: Vec<SummaryValue> = record
            .best_metrics
            .iter()
            .map(|(metric, v)| scalar(&format!("{}{metric}", hparams::BEST_PREFIX), *v))
            .collect();
        scalars += values.len();
        file.push(&summary_event(at(best as i64), best as i64, Summary { value: values }));
    }
    file.push(&summary_event(end, record.epochs_run as i64, hparams::session_end(record.status, end)));
    Ok((file.into_bytes(), scalars))
}

/// The scalar tag of a history.csv column: losses and metrics of the training
/// rows under `train/`, the rest (measured on the validation rows) under `valid/`.
pub(crate) fn scalar_tag(column: &str) -> String {
    if let Some(rest) = column.strip_prefix("train_") {
        format!("train/{rest}")
    } else if let Some(rest) = column.strip_prefix("valid_") {
        format!("valid/{rest}")
    } else {
        format!("valid/{column}")
    }
}

fn scalar(tag: &str, v: f64) -> SummaryValue {
    SummaryValue { tag: tag.to_string(), metadata: None, value: Some(ValueKind::SimpleValue(v as f32)) }
}

fn summary_event(wall_time: f64, step: i64, summary: Summary) -> Event {
    Event { wall_time, step, what: Some(What::Summary(summary)) }
}

/// TensorFlow names event files `events.out.tfevents.<seconds>.<host>...`;
/// TensorBoard reads any file with `tfevents` in its name, in name order.
fn file_name(time: f64) -> String {
    format!("events.out.tfevents.{}.sweep", time.floor() as i64)
}

fn is_event_file(name: &str) -> bool {
    name.contains("tfevents")
}

/// Writes `name` into `run` atomically and removes the run's other event
/// files (of an earlier attempt of the trial), which TensorBoard would read too.
fn replace_event_file(run: &Path, name: &str, bytes: &[u8]) -> Result<(), TensorboardError> {
    let write_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| TensorboardError::Write { path, source }
    };
    std::fs::create_dir_all(run).map_err(write_err(run))?;
    let path = run.join(name);
    write_atomic(&path, bytes).map_err(write_err(&path))?;
    for entry in std::fs::read_dir(run).map_err(write_err(run))? {
        let entry = entry.map_err(write_err(run))?;
        let other = entry.file_name();
        let other = other.to_string_lossy();
        if other != name && is_event_file(&other) && entry.file_type().is_ok_and(|t| t.is_file()) {
            std::fs::remove_file(entry.path()).map_err(write_err(&entry.path()))?;
        }
    }
    Ok(())
}

/// Removes the event files of runs whose trial has no record any more, and
/// their folders once empty; anything else a user put there stays.
fn remove_stale_runs(root: &Path, kept: &BTreeSet<String>) -> Result<(), TensorboardError> {
    let err = |path: PathBuf| move |source| TensorboardError::Write { path, source };
    for entry in std::fs::read_dir(root).map_err(err(root.to_path_buf()))? {
        let entry = entry.map_err(err(root.to_path_buf()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if kept.contains(&name) || !entry.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        let run = entry.path();
        for file in std::fs::read_dir(&run).map_err(err(run.clone()))? {
            let file = file.map_err(err(run.clone()))?;
            if is_event_file(&file.file_name().to_string_lossy()) && file.file_type().is_ok_and(|t| t.is_file()) {
                std::fs::remove_file(file.path()).map_err(err(file.path()))?;
            }
        }
        // Fails, harmlessly, where the user keeps other files.
        let _ = std::fs::remove_dir(&run);
    }
    Ok(())
}

fn timestamp(dir: &SweepDir, record: &TrialRecord, time: &str) -> Result<f64, TensorboardError> {
    parse_time(time).ok_or_else(|| {
        malformed(
            &dir.trial_dir(&record.id).join(names::RECORD),
            format!("got time \"{time}\", expected an RFC 3339 time"),
        )
    })
}

/// Seconds since the Unix epoch of an RFC 3339 time (`2026-11-30T16:08:21.609921Z`).
fn parse_time(time: &str) -> Option<f64> {
    crate::store::since_epoch(time).map(|d| d.as_secs_f64())
}

fn malformed(path: &Path, message: String) -> TensorboardError {
    TensorboardError::Malformed { path: path.to_path_buf(), line: None, message }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_columns_become_train_and_valid_tags() {
        assert_eq!(scalar_tag("train_loss"), "train/loss");
        assert_eq!(scalar_tag("valid_loss"), "valid/loss");
        assert_eq!(scalar_tag("mcc"), "valid/mcc");
        assert_eq!(scalar_tag("balanced_accuracy"), "valid/balanced_accuracy");
    }

    #[test]
    fn times_are_read_to_the_microsecond() {
        assert_eq!(parse_time("1970-01-01T00:00:01.5Z"), Some(1.5));
        assert_eq!(parse_time("2026-11-30T16:08:21Z"), Some(1_796_054_901.0));
        assert_eq!(parse_time("yesterday"), None);
    }
}
