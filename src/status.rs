//! Where a sweep stands: which planned trials are done, failed, diverged,
//! missing, running, or left behind by a process that died. Works on any
//! results folder, local or on a cluster's shared filesystem, from the files alone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::runner::RunningMarker;
use crate::runner::event_log::{LogEvent, LogLine};
use crate::spec::SweepSpec;
use crate::store::claim::CurrentClaim;
use crate::store::liveness::{self, Liveness};
use crate::store::{self, StoreError, SweepDir, TrialRecord, TrialStatus, names};

/// Why the status could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StatusError {
    /// No `sweep.json` here.
    #[error("{dir}: no sweep.json here; is this a sweep's results folder (results/<name>)?")]
    NotASweep { dir: PathBuf },
    /// The manifest's spec cannot be read back.
    #[error("{path}: its spec cannot be read back ({message}); it was written by another version of sweep")]
    BadManifest {
        /// The manifest.
        path: PathBuf,
        message: String,
    },
    /// Reading files failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The state of one planned trial.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub(crate) enum TrialState {
    /// Trained; its record is complete.
    Done,
    /// Ended with an error or a panic.
    Failed { message: String },
    /// Loss or outputs became NaN/inf.
    Diverged { message: String },
    /// Never started (no folder).
    Missing,
    /// In progress: its process is alive on this host.
    Running {
        host: String,
        /// The process.
        pid: u32,
        /// Since when.
        since: String,
    },
    /// Started, and nothing this host can see tells whether its process
    /// still runs (another host whose heartbeat is late, no locks, no way to
    /// ask about a pid). Counts as possibly alive: never run again by
    /// `--only-missing` or `--retry-failed` until it is running or stale.
    Unknown {
        host: String,
        /// The process there.
        pid: u32,
        /// Since when.
        since: String,
        /// Why it cannot be told.
        reason: String,
    },
    /// Started, but its process is gone without leaving a record.
    Stale {
        /// What is left.
        reason: String,
    },
}

impl TrialState {
    /// The short label used in tables: done, failed, diverged, missing, running, unknown, stale.
    pub(crate) fn label(&self) -> &'static str {
        match self {
            TrialState::Done => "done",
            TrialState::Failed { .. } => "failed",
            TrialState::Diverged { .. } => "diverged",
            TrialState::Missing => "missing",
            TrialState::Running { .. } => "running",
            TrialState::Unknown { .. } => "unknown",
            TrialState::Stale { .. } => "stale",
        }
    }

    /// Whether `--only-missing` should run it again: never started, or its
    /// process is known to be gone (never when it may still run).
    pub(crate) fn needs_run(&self) -> bool {
        matches!(self, TrialState::Missing | TrialState::Stale { .. })
    }

    /// Whether `--retry-failed` should run it again.
    pub(crate) fn needs_retry(&self) -> bool {
        matches!(self, TrialState::Failed { .. } | TrialState::Diverged { .. })
    }
}

/// One planned trial and its state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct TrialStatusLine {
    /// Plan index.
    pub index: usize,
    /// Trial id.
    pub id: String,
    /// Where it stands.
    #[serde(flatten)]
    pub state: TrialState,
}

/// Every planned trial of a sweep and its state.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct SweepStatus {
    /// Sweep name.
    pub sweep: String,
    /// Spec hash.
    pub spec_hash: String,
    /// One line per planned trial, in plan order.
    pub trials: Vec<TrialStatusLine>,
}

impl SweepStatus {
    /// How many trials have the given label.
    pub(crate) fn count(&self, label: &str) -> usize {
        self.trials.iter().filter(|t| t.state.label() == label).count()
    }

    /// Whether every planned trial is done.
    pub(crate) fn all_done(&self) -> bool {
        self.trials.iter().all(|t| t.state == TrialState::Done)
    }
}

impl SweepStatus {
    /// Whether every planned trial has a record: done, failed or diverged.
    pub(crate) fn all_recorded(&self) -> bool {
        self.trials
            .iter()
            .all(|t| matches!(t.state, TrialState::Done | TrialState::Failed { .. } | TrialState::Diverged { .. }))
    }

    /// Whether a live process may still be training one of its trials.
    pub(crate) fn any_running(&self) -> bool {
        self.trials.iter().any(|t| matches!(t.state, TrialState::Running { .. } | TrialState::Unknown { .. }))
    }

    /// `NAME: R/N trials recorded: 3 done, 1 running`, what `--follow` prints when it changes.
    pub(crate) fn progress_line(&self) -> String {
        let recorded = self.count("done") + self.count("failed") + self.count("diverged");
        format!("{}: {recorded}/{} trials recorded: {}", self.sweep, self.trials.len(), self.counts())
    }

    /// `3 done, 1 running`: the count of every state that has trials, in [`STATE_LABELS`] order.
    pub(crate) fn counts(&self) -> String {
        let counts: Vec<String> = STATE_LABELS
            .iter()
            .map(|l| (l, self.count(l)))
            .filter(|(_, n)| *n > 0)
            .map(|(l, n)| format!("{n} {l}"))
            .collect();
        counts.join(", ")
    }
}

/// Every label of [`TrialState::label`], in the order `status` prints counts.
pub(crate) const STATE_LABELS: [&str; 7] = ["done", "failed", "diverged", "missing", "running", "unknown", "stale"];

/// The `sweep run` processes an event log shows started and not yet finished, by pid.
#[derive(Debug, Default)]
pub(crate) struct OpenRuns {
    open: BTreeMap<u32, String>,
    seen: bool,
}

impl OpenRuns {
    /// Takes one line of the log into account.
    pub(crate) fn see(&mut self, line: &LogLine) {
        match &line.event {
            LogEvent::SweepStarted { host, .. } => {
                self.seen = true;
                self.open.insert(line.pid, host.clone());
            }
            LogEvent::SweepFinished => {
                self.open.remove(&line.pid);
            }
            _ => {}
        }
    }

    /// Whether any run started that may still write: its line says it started, none that it
    /// finished, and its process is alive (a killed run never writes `sweep_finished`).
    pub(crate) fn any_alive(&self, process: impl Fn(u32) -> Liveness) -> bool {
        let here = liveness::this_host();
        self.open
            .iter()
            .any(|(pid, host)| matches!(liveness::judge_marker(host, *pid, here, &process), Liveness::Alive))
    }
}

/// How many polls `--follow` waits, once every trial is recorded, for a run whose process looks
/// alive to write its last lines (a pid may have been reused by an unrelated process).
pub(crate) const FOLLOW_GRACE_POLLS: u32 = 20;

/// Whether `sweep status --follow` has seen the end: every trial recorded and no run left to
/// write its last lines (or `polls_recorded` polls since all were), or the runs the log showed
/// have all ended with trials left that nobody trains. A sweep whose log shows no run (a SLURM
/// array's tasks write none) ends when every trial is recorded.
pub(crate) fn follow_is_over(status: &SweepStatus, runs: &OpenRuns, alive: bool, polls_recorded: u32) -> bool {
    if status.all_recorded() {
        return !alive || polls_recorded >= FOLLOW_GRACE_POLLS;
    }
    runs.seen && !alive && !status.any_running()
}

/// Reads the status of the sweep in `dir`, rebuilding its plan from `sweep.json`.
pub(crate) fn sweep_status(dir: &SweepDir) -> Result<SweepStatus, StatusError> {
    let manifest = dir.manifest()?.ok_or_else(|| StatusError::NotASweep { dir: dir.root().to_path_buf() })?;
    let spec: SweepSpec = manifest
        .spec
        .parse()
        .map_err(|e| StatusError::BadManifest { path: dir.file(names::MANIFEST), message: e.to_string() })?;
    let plan = spec.plan();
    let this_host = liveness::this_host();
    // Trial folders by index (`t0007-…`): an adaptive plan's ids are only known from its folders.
    let mut folders: BTreeMap<usize, String> = BTreeMap::new();
    if let Ok(entries) = std::fs::read_dir(dir.trials_dir()) {
        for name in entries.filter_map(|e| e.ok()?.file_name().into_string().ok()) {
            if let Some(index) = name.strip_prefix('t').and_then(|r| r.split('-').next()).and_then(|n| n.parse().ok()) {
                folders.insert(index, name);
            }
        }
    }
    let trials = (0..plan.len())
        .map(|index| {
            let id = if plan.is_adaptive() {
                folders.get(&index).cloned().unwrap_or_else(|| "(not proposed yet)".into())
            } else {
                plan.trial(index).id
            };
            let state = trial_state(&dir.trial_dir(&id), this_host);
            TrialStatusLine { index, id, state }
        })
        .collect();
    Ok(SweepStatus { sweep: manifest.name, spec_hash: manifest.spec_hash, trials })
}

fn trial_state(dir: &Path, this_host: Option<&str>) -> TrialState {
    if !dir.exists() {
        return TrialState::Missing;
    }
    let record = dir.join(names::RECORD);
    let claim = store::claim::current(dir).ok().flatten();
    if record.exists() {
        let r = match store::read_json::<TrialRecord>(&record) {
            Ok(r) => r,
            Err(e) => return TrialState::Stale { reason: format!("unreadable record: {e}") },
        };
        let ended = match r.status {
            TrialStatus::Completed | TrialStatus::Pruned => return TrialState::Done,
            TrialStatus::Failed => TrialState::Failed { message: r.message.unwrap_or_default() },
            TrialStatus::Diverged => TrialState::Diverged { message: r.message.unwrap_or_default() },
        };
        // A failed trial that another process runs again right now holds a later attempt's claim.
        return match claim.filter(|c| c.attempt > r.attempt) {
            Some(c) => match claimed_state(&c) {
                TrialState::Stale { .. } => ended,
                retrying => retrying,
            },
            None => ended,
        };
    }
    // The claim says who trains the trial, with a heartbeat any host can read and, on its own
    // host, a lock that dies with its process.
    if let Some(claim) = claim {
        return claimed_state(&claim);
    }
    match store::read_json::<RunningMarker>(&dir.join(names::RUNNING)) {
        Ok(m) => match liveness::judge_marker(&m.host, m.pid, this_host, liveness::process) {
            Liveness::Alive => TrialState::Running { host: m.host, pid: m.pid, since: m.started_at },
            Liveness::Gone(why) => TrialState::Stale {
                reason: format!("process {} on {}: {why}, started {}", m.pid, m.host, m.started_at),
            },
            Liveness::Unknown(reason) => TrialState::Unknown { host: m.host, pid: m.pid, since: m.started_at, reason },
        },
        Err(_) if dir.join(names::RUNNING).exists() => TrialState::Stale {
            reason: "running.json holds no marker: the trial is committing its record, died doing so, or was \
                     reset by --fresh and waits to run again"
                .into(),
        },
        Err(_) => TrialState::Stale { reason: "a trial folder with neither trial.json nor running.json".into() },
    }
}

/// The state of a trial from its current claim.
fn claimed_state(claim: &CurrentClaim) -> TrialState {
    let (host, pid, since) = match &claim.info {
        Some(c) => (c.host.clone(), c.pid, c.claimed_at.clone()),
        None => (String::from("?"), 0, String::new()),
    };
    match claim.liveness(store::claim::stale_after()) {
        Liveness::Alive => TrialState::Running { host, pid, since },
        Liveness::Unknown(reason) => TrialState::Unknown { host, pid, since, reason },
        Liveness::Gone(why) => TrialState::Stale {
            reason: format!("attempt {} by pid {pid} on {host}: {why}, claimed {since}", claim.attempt),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_states_are_told_apart() {
        let tmp = tempfile::tempdir().unwrap();
        let here = liveness::this_host();
        let missing = tmp.path().join("a");
        assert_eq!(trial_state(&missing, here), TrialState::Missing);

        // A marker without a claim: its pid decides on its own host, and nothing elsewhere.
        let running = tmp.path().join("b");
        std::fs::create_dir(&running).unwrap();
        let mut marker = RunningMarker::now();
        store::write_json(&running.join(names::RUNNING), &marker).unwrap();
        assert_eq!(trial_state(&running, here).label(), "running");
        let elsewhere = trial_state(&running, Some("another-host"));
        assert_eq!(elsewhere.label(), "unknown");
        assert!(!elsewhere.needs_run() && !elsewhere.needs_retry(), "unknown may still run");

        marker.pid = u32::MAX - 1; // no such process
        store::write_json(&running.join(names::RUNNING), &marker).unwrap();
        let state = trial_state(&running, here);
        assert_eq!(state.label(), "stale");
        assert!(state.needs_run());

        std::fs::write(running.join(names::RECORD), "{").unwrap();
        assert_eq!(trial_state(&running, here).label(), "stale");
    }

    #[test]
    fn a_failed_trial_that_another_process_runs_again_is_not_retried_twice() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("t0000-x");
        std::fs::create_dir(&dir).unwrap();
        let record = TrialRecord {
            status: TrialStatus::Failed,
            message: Some("boom".into()),
            attempt: 1,
            ..TrialRecord::synthetic(
                "s",
                "t0000-x",
                crate::metrics::Monitor::new("mcc", crate::metrics::Goal::Maximize, 0.0),
            )
        };
        store::write_json(&dir.join(names::RECORD), &record).unwrap();
        let here = liveness::this_host();
        assert_eq!(trial_state(&dir, here).label(), "failed");
        // The failed attempt's own claim changes nothing.
        std::fs::write(dir.join(store::claim::claim_file_name(1)), "{}").unwrap();
        assert_eq!(trial_state(&dir, here).label(), "failed");
        // Attempt 2, claimed on another host a moment ago: running, not to be retried.
        let info = store::claim::ClaimInfo { host: "node7".into(), ..store::claim::ClaimInfo::mine(2) };
        std::fs::write(dir.join(store::claim::claim_file_name(2)), serde_json::to_vec(&info).unwrap()).unwrap();
        let state = trial_state(&dir, here);
        assert_eq!(state.label(), "running");
        assert!(!state.needs_retry());
        // Its heartbeat stopped long ago: the retry died, the failure stands.
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(dir.join(store::claim::claim_file_name(2)))
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert!(trial_state(&dir, here).needs_retry());
    }

    fn status_of(states: Vec<TrialState>) -> SweepStatus {
        let trials = states
            .into_iter()
            .enumerate()
            .map(|(index, state)| TrialStatusLine { index, id: format!("t{index:04}"), state })
            .collect();
        SweepStatus { sweep: "s".into(), spec_hash: "h".into(), trials }
    }

    fn line(pid: u32, event: LogEvent) -> LogLine {
        LogLine { time: "2026-12-02T16:00:00Z".into(), pid, event }
    }

    #[test]
    fn following_ends_when_every_trial_is_recorded_and_no_run_can_write_more() {
        let running = TrialState::Running { host: "h".into(), pid: 1, since: String::new() };
        let failed = TrialState::Failed { message: "boom".into() };
        let mut runs = OpenRuns::default();
        let half = status_of(vec![TrialState::Done, running.clone()]);
        assert!(!follow_is_over(&half, &runs, false, 0), "a trial still trains");
        assert_eq!(half.progress_line(), "s: 1/2 trials recorded: 1 done, 1 running");

        let here = liveness::this_host().unwrap_or("?").to_string();
        let started = |pid| line(pid, LogEvent::SweepStarted { planned: 2, resumed: 0, host: here.clone() });
        runs.see(&started(41));
        let alive = |pid: u32| if pid == 41 { Liveness::Alive } else { Liveness::Gone("exited".into()) };
        assert!(runs.any_alive(alive));
        let all = status_of(vec![TrialState::Done, failed]);
        assert!(!follow_is_over(&all, &runs, runs.any_alive(alive), 0), "its last lines are still to come");
        assert!(follow_is_over(&all, &runs, runs.any_alive(alive), FOLLOW_GRACE_POLLS), "but not forever");
        runs.see(&line(41, LogEvent::SweepFinished));
        assert!(!runs.any_alive(alive));
        assert!(follow_is_over(&all, &runs, false, 0));

        // A killed run never finishes its log: its dead process does not keep following alive.
        runs.see(&started(42));
        assert!(!runs.any_alive(alive));
        // Trials left that nobody trains, after the runs ended: nothing more will come.
        let left = status_of(vec![TrialState::Done, TrialState::Missing]);
        assert!(follow_is_over(&left, &runs, false, 0));
        // Without a run in the log (SLURM), missing trials may still be queued.
        assert!(!follow_is_over(&left, &OpenRuns::default(), false, 0));
    }
}
