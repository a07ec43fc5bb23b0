//! `results/<name>/events.jsonl`: what `sweep run` did, one JSON object per line, for
//! `sweep status --follow` and for anyone's `tail -f | jq`.
//!
//! ```text
//! {"time":"2026-12-02T16:01:02.123456Z","pid":4242,"event":"sweep_started","planned":4,"resumed":0,"host":"box"}
//! {"time":…,"pid":4242,"event":"trial_started","index":0,"id":"t0000-1a2b3c4d"}
//! {"time":…,"pid":4242,"event":"epoch_ended","index":0,"id":"t0000-1a2b3c4d","epoch":1,"metrics":{"mcc":0.8,…}}
//! {"time":…,"pid":4242,"event":"checkpoint_saved","index":0,"id":"t0000-1a2b3c4d","epoch":1}
//! {"time":…,"pid":4242,"event":"pruned","index":0,"id":"t0000-1a2b3c4d","epoch":2,"rule":"…"}
//! {"time":…,"pid":4242,"event":"trial_committed","index":0,"id":"t0000-1a2b3c4d","status":"completed",…}
//! {"time":…,"pid":4242,"event":"sweep_finished"}
//! ```
//!
//! The log is a journal, never a source of truth: aggregation reads the records alone, and a
//! missing, torn or deleted log changes no result. So it is not written atomically like the
//! store's files but appended, one `write` of one whole line per event on a file opened with
//! `O_APPEND`. On a local filesystem Linux serialises appends to one file, so the lines of
//! several `sweep run` processes sharing a folder interleave whole (each names its `pid`);
//! NFS does not promise that across hosts, which is why SLURM array tasks (one trial each,
//! on many nodes) write no log: their progress is in their records, which `status` reads.
//! `--resume` appends to the log (a new `sweep_started` line); `--fresh` empties it with the
//! rest of the earlier results. A line that a full disk or a crash cut short is ended with a
//! newline by the next writer, and readers skip what does not parse.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Reporter, RunEvent};
use crate::store::{SweepDir, TrialStatus};

/// The log's file name inside a sweep's results folder.
pub(crate) const FILE_NAME: &str = "events.jsonl";

/// One line of the log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LogLine {
    /// When it was written, RFC 3339 in UTC.
    pub time: String,
    /// The process that wrote it.
    pub pid: u32,
    /// What happened.
    #[serde(flatten)]
    pub event: LogEvent,
}

/// What a line of the log says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(crate) enum LogEvent {
    /// A `sweep run` started (or resumed) the sweep.
    SweepStarted {
        /// Trials in the plan.
        planned: usize,
        /// Of them, complete already.
        resumed: usize,
        /// The host the process runs on.
        host: String,
    },
    /// A warning about the data, before the trials.
    Warning {
        /// What the terminal showed.
        message: String,
    },
    /// A trial started training.
    TrialStarted {
        /// Its position in the plan.
        index: usize,
        id: String,
    },
    /// A trial finished an epoch.
    EpochEnded {
        /// The trial's position in the plan.
        index: usize,
        id: String,
        /// 1-based epoch.
        epoch: usize,
        /// Every metric of the epoch, as history.csv has them; `null` for NaN or infinity.
        metrics: std::collections::BTreeMap<String, Option<f64>>,
    },
    /// A trial's best checkpoint now holds this epoch's model.
    CheckpointSaved {
        /// The trial's position in the plan.
        index: usize,
        id: String,
        /// 1-based epoch.
        epoch: usize,
    },
    /// Early termination stopped a trial.
    Pruned {
        /// The trial's position in the plan.
        index: usize,
        id: String,
        /// The epoch it stopped after.
        epoch: usize,
        /// The rule that stopped it.
        rule: String,
    },
    /// A trial's record is durable, whatever its status (a failed trial is committed too).
    TrialCommitted {
        /// Its position in the plan.
        index: usize,
        id: String,
        /// How it ended.
        status: TrialStatus,
        /// Its best epoch, if it had one.
        best_epoch: Option<usize>,
        /// Epochs it ran.
        epochs_run: usize,
        /// The monitored metric's name.
        metric: String,
        /// Its value at the best epoch.
        value: Option<f64>,
        /// The error of a failed or diverged trial.
        message: Option<String>,
    },
    /// Every trial of this process's run has ended.
    SweepFinished,
}

impl LogEvent {
    /// The log's line for a runner event.
    pub(crate) fn of(event: &RunEvent) -> LogEvent {
        match event {
            RunEvent::TrialStarted { index, id } => LogEvent::TrialStarted { index: *index, id: id.clone() },
            RunEvent::EpochEnded { index, id, epoch, metrics } => LogEvent::EpochEnded {
                index: *index,
                id: id.clone(),
                epoch: *epoch,
                metrics: metrics.iter().map(|(k, v)| (k.clone(), v.is_finite().then_some(*v))).collect(),
            },
            RunEvent::CheckpointSaved { index, id, epoch } => {
                LogEvent::CheckpointSaved { index: *index, id: id.clone(), epoch: *epoch }
            }
            RunEvent::Pruned { index, id, epoch, rule } => {
                LogEvent::Pruned { index: *index, id: id.clone(), epoch: *epoch, rule: rule.clone() }
            }
            RunEvent::TrialCommitted { record } => LogEvent::TrialCommitted {
                index: record.index,
                id: record.id.clone(),
                status: record.status,
                best_epoch: record.best_epoch,
                epochs_run: record.epochs_run,
                metric: record.monitor.metric.clone(),
                value: record.best_metrics.get(&record.monitor.metric).copied().filter(|v| v.is_finite()),
                message: record.message.clone(),
            },
        }
    }

    /// One line for a person: what `sweep status --follow` prints after the time.
    pub(crate) fn describe(&self) -> String {
        match self {
            LogEvent::SweepStarted { planned, resumed, host } => {
                format!("sweep started on {host}: {planned} trials planned, {resumed} complete already")
            }
            LogEvent::Warning { message } => format!("warning: {message}"),
            LogEvent::TrialStarted { id, .. } => format!("{id} started"),
            LogEvent::EpochEnded { id, epoch, metrics, .. } => {
                let values: Vec<String> = metrics
                    .iter()
                    .map(|(k, v)| format!("{k} {}", v.map_or_else(|| "NaN".to_string(), |v| format!("{v:.4}"))))
                    .collect();
                format!("{id} epoch {epoch}: {}", values.join(", "))
            }
            LogEvent::CheckpointSaved { id, epoch, .. } => format!("{id} checkpoint saved (epoch {epoch})"),
            LogEvent::Pruned { id, epoch, rule, .. } => format!("{id} pruned after epoch {epoch} ({rule})"),
            LogEvent::TrialCommitted { id, status, best_epoch, epochs_run, metric, value, message, .. } => {
                let mut line = format!("{id} {}", status.as_str());
                match (best_epoch, value) {
                    (Some(best), Some(v)) => {
                        line.push_str(&format!(": {metric} {v:.5} at epoch {best} of {epochs_run}"))
                    }
                    _ => line.push_str(&format!(" after {epochs_run} epoch(s)")),
                }
                if let Some(message) = message {
                    line.push_str(&format!(": {message}"));
                }
                line
            }
            LogEvent::SweepFinished => "sweep finished".to_string(),
        }
    }
}

impl LogLine {
    /// `HH:MM:SS` of its time, as the terminal shows it (the whole time if it has another form).
    pub(crate) fn clock(&self) -> &str {
        self.time.get(11..19).filter(|_| self.time.len() > 19).unwrap_or(&self.time)
    }
}

/// The reporter that appends every event to `events.jsonl`. It opens the file at the first
/// event, after the runner has applied `--fresh`; a log that cannot be written is one warning,
/// never the run's failure.
pub(crate) struct EventLog {
    path: PathBuf,
    empty_first: bool,
    file: Option<File>,
    broken: bool,
}

impl EventLog {
    /// The log of the sweep in `dir`; `fresh` (`--fresh`) empties what earlier runs wrote.
    pub(crate) fn new(dir: &SweepDir, fresh: bool) -> Self {
        EventLog { path: dir.file(FILE_NAME), empty_first: fresh, file: None, broken: false }
    }

    fn append(&mut self, event: LogEvent) {
        self.append_all([event]);
    }

    /// Appends `events` as lines of one time, in one write.
    fn append_all(&mut self, events: impl IntoIterator<Item = LogEvent>) {
        if self.broken {
            return;
        }
        let (time, pid) = (crate::store::now_rfc3339(), std::process::id());
        let lines = events.into_iter().map(|event| LogLine { time: time.clone(), pid, event });
        if let Err(e) = self.write_lines(lines) {
            self.broken = true;
            eprintln!("warning: {}: event log not written: {e}", self.path.display());
        }
    }

    fn write_lines(&mut self, lines: impl Iterator<Item = LogLine>) -> std::io::Result<()> {
        let mut bytes = Vec::new();
        for line in lines {
            serde_json::to_writer(&mut bytes, &line).map_err(std::io::Error::other)?;
            bytes.push(b'\n');
        }
        if bytes.is_empty() {
            return Ok(());
        }
        if self.file.is_none() {
            self.file = Some(open_for_append(&self.path, self.empty_first)?);
        }
        let Some(file) = self.file.as_mut() else { return Ok(()) };
        // One write of whole lines: with O_APPEND they land together after every other process's lines.
        file.write_all(&bytes)
    }
}

/// Opens (creating) the log for appending, emptied first with `empty`, and ends a torn last line.
fn open_for_append(path: &Path, empty: bool) -> std::io::Result<File> {
    let mut file = File::options().create(true).append(true).read(true).open(path)?;
    if empty {
        file.set_len(0)?;
    }
    let len = file.metadata()?.len();
    if len > 0 {
        let mut last = [0u8; 1];
        file.seek(SeekFrom::Start(len - 1))?;
        file.read_exact(&mut last)?;
        if last[0] != b'\n' {
            file.write_all(b"\n")?;
        }
    }
    Ok(file)
}

impl Reporter for EventLog {
    fn on_start(&mut self, total: usize, resumed: usize) {
        let host = crate::store::liveness::this_host().unwrap_or("?").to_string();
        self.append(LogEvent::SweepStarted { planned: total, resumed, host });
    }

    fn on_event(&mut self, event: &RunEvent) {
        self.append(LogEvent::of(event));
    }

    fn on_events(&mut self, events: &[RunEvent]) {
        self.append_all(events.iter().map(LogEvent::of));
    }

    fn on_finish(&mut self) {
        self.append(LogEvent::SweepFinished);
    }

    fn on_warning(&mut self, message: &str) {
        self.append(LogEvent::Warning { message: message.to_string() });
    }

    // Notes (waiting for other processes) are the terminal's business.
    fn on_note(&mut self, _: &str) {}
}

/// Reads a log as it grows: each call returns the whole lines added since the last one.
#[derive(Debug)]
pub(crate) struct LogReader {
    path: PathBuf,
    offset: u64,
    partial: Vec<u8>,
}

impl LogReader {
    /// A reader at the start of the log in `dir` (which may not exist yet).
    pub(crate) fn new(dir: &SweepDir) -> Self {
        LogReader { path: dir.file(FILE_NAME), offset: 0, partial: Vec::new() }
    }

    /// The lines added since the last call; a line still being written waits for the next call,
    /// and lines that do not parse are skipped. A log emptied meanwhile (`--fresh`) is read from
    /// its start again.
    pub(crate) fn read_new(&mut self) -> std::io::Result<Vec<LogLine>> {
        let mut file = match File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let len = file.metadata()?.len();
        if len < self.offset {
            self.offset = 0;
            self.partial.clear();
        }
        file.seek(SeekFrom::Start(self.offset))?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        self.offset += bytes.len() as u64;
        self.partial.extend_from_slice(&bytes);
        let complete = self.partial.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let lines: Vec<LogLine> =
            self.partial[..complete].split(|&b| b == b'\n').filter_map(|l| serde_json::from_slice(l).ok()).collect();
        self.partial.drain(..complete);
        Ok(lines)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Goal, Monitor};
    use crate::store::TrialRecord;

    fn committed(status: TrialStatus) -> RunEvent {
        let mut record = TrialRecord::synthetic("s", "t0001-b", Monitor::new("mcc", Goal::Maximize, 0.0));
        record.index = 1;
        record.status = status;
        record.epochs_run = 3;
        if status.has_model() {
            record.best_epoch = Some(2);
            record.best_metrics.insert("mcc".into(), 0.75);
        } else {
            record.message = Some("boom".into());
        }
        RunEvent::TrialCommitted { record: Box::new(record) }
    }

    #[test]
    fn lines_are_one_flat_object_each_and_read_back() {
        let line = LogLine {
            time: "2026-12-02T16:01:02.123456Z".into(),
            pid: 7,
            event: LogEvent::of(&RunEvent::EpochEnded {
                index: 0,
                id: "t0000-a".into(),
                epoch: 2,
                metrics: [("mcc".to_string(), 0.5), ("valid_loss".to_string(), f64::NAN)].into_iter().collect(),
            }),
        };
        let text = serde_json::to_string(&line).unwrap();
        assert_eq!(
            text,
            r#"{"time":"2026-12-02T16:01:02.123456Z","pid":7,"event":"epoch_ended","index":0,"id":"t0000-a","epoch":2,"metrics":{"mcc":0.5,"valid_loss":null}}"#
        );
        assert_eq!(serde_json::from_str::<LogLine>(&text).unwrap(), line);
        assert_eq!(line.clock(), "16:01:02");
        assert_eq!(line.event.describe(), "t0000-a epoch 2: mcc 0.5000, valid_loss NaN");
        let finished = serde_json::to_string(&LogLine { event: LogEvent::SweepFinished, ..line }).unwrap();
        assert!(finished.ends_with(r#""pid":7,"event":"sweep_finished"}"#), "{finished}");
    }

    #[test]
    fn a_committed_trial_says_how_it_ended() {
        let done = LogEvent::of(&committed(TrialStatus::Completed));
        assert_eq!(done.describe(), "t0001-b completed: mcc 0.75000 at epoch 2 of 3");
        let failed = LogEvent::of(&committed(TrialStatus::Failed));
        assert_eq!(failed.describe(), "t0001-b failed after 3 epoch(s): boom");
        let text = serde_json::to_string(&failed).unwrap();
        assert!(text.contains(r#""event":"trial_committed","index":1,"id":"t0001-b","status":"failed""#), "{text}");
    }

    #[test]
    fn the_reporter_appends_resumes_and_fresh_empties() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = SweepDir::new(tmp.path());
        let mut reader = LogReader::new(&dir);
        assert!(reader.read_new().unwrap().is_empty(), "no log yet is no lines");

        let mut first = EventLog::new(&dir, false);
        first.on_warning("dup rows");
        first.on_start(2, 0);
        first.on_event(&RunEvent::TrialStarted { index: 0, id: "t0000-a".into() });
        first.on_event(&committed(TrialStatus::Completed));
        first.on_finish();
        let lines = reader.read_new().unwrap();
        let kinds: Vec<String> = lines.iter().map(|l| l.event.describe()).collect();
        assert_eq!(kinds.len(), 5, "{kinds:?}");
        assert!(matches!(lines[1].event, LogEvent::SweepStarted { planned: 2, resumed: 0, .. }));
        assert!(lines.iter().all(|l| l.pid == std::process::id()));

        // A torn line (a full disk) is ended by the next writer and skipped by readers.
        let path = dir.file(FILE_NAME);
        File::options().append(true).open(&path).unwrap().write_all(br#"{"time":"#).unwrap();
        assert!(reader.read_new().unwrap().is_empty(), "half a line waits");
        let mut resumed = EventLog::new(&dir, false);
        resumed.on_start(2, 1);
        let lines = reader.read_new().unwrap();
        assert_eq!(lines.len(), 1);
        assert!(matches!(lines[0].event, LogEvent::SweepStarted { resumed: 1, .. }));
        assert_eq!(std::fs::read_to_string(&path).unwrap().lines().count(), 7);

        let mut fresh = EventLog::new(&dir, true);
        fresh.on_start(2, 0);
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        let lines = reader.read_new().unwrap();
        assert_eq!(lines.len(), 1, "an emptied log is read from its start");
    }

    #[test]
    fn several_events_are_appended_as_lines_of_one_time_in_their_order() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = SweepDir::new(tmp.path());
        let mut log = EventLog::new(&dir, false);
        let started = |index| RunEvent::TrialStarted { index, id: format!("t{index}") };
        log.on_events(&[started(2), started(0), started(1)]);
        log.on_events(&[]);
        let lines = LogReader::new(&dir).read_new().unwrap();
        let indices: Vec<usize> = lines
            .iter()
            .map(|l| match l.event {
                LogEvent::TrialStarted { index, .. } => index,
                _ => usize::MAX,
            })
            .collect();
        assert_eq!(indices, [2, 0, 1]);
        assert!(lines.iter().all(|l| l.time == lines[0].time), "one time for the lines of one write");
    }
}
