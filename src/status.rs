//! Where a sweep stands: which planned trials are done, failed, diverged,
//! missing, running, or left behind by a process that died. Works on any
//! results folder, local or on a cluster's shared filesystem, from the files alone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::runner::RunningMarker;
use crate::spec::SweepSpec;
use crate::store::{self, StoreError, SweepDir, TrialRecord, TrialStatus, names};

/// Why the status could not be read.
#[derive(Debug, thiserror::Error)]
pub enum StatusError {
    /// No `sweep.json` here.
    #[error("{dir}: no sweep.json here; is this a sweep's results folder (results/<name>)?")]
    NotASweep {
        /// The folder.
        dir: PathBuf,
    },
    /// The manifest's spec cannot be read back.
    #[error("{path}: its spec cannot be read back ({message}); it was written by another version of sweep")]
    BadManifest {
        /// The manifest.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// Reading files failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The state of one planned trial.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum TrialState {
    /// Trained; its record is complete.
    Done,
    /// Ended with an error or a panic.
    Failed {
        /// Its message.
        message: String,
    },
    /// Loss or outputs became NaN/inf.
    Diverged {
        /// Its message.
        message: String,
    },
    /// Never started (no folder).
    Missing,
    /// In progress: its process is alive on this host.
    Running {
        /// The host.
        host: String,
        /// The process.
        pid: u32,
        /// Since when.
        since: String,
    },
    /// Started on another host, which this one cannot check: running, or dead.
    RunningOrStale {
        /// The host.
        host: String,
        /// The process there.
        pid: u32,
        /// Since when.
        since: String,
    },
    /// Started, but its process is gone without leaving a record.
    Stale {
        /// What is left.
        reason: String,
    },
}

impl TrialState {
    /// The short label used in tables: done, failed, diverged, missing, running, running-or-stale, stale.
    pub fn label(&self) -> &'static str {
        match self {
            TrialState::Done => "done",
            TrialState::Failed { .. } => "failed",
            TrialState::Diverged { .. } => "diverged",
            TrialState::Missing => "missing",
            TrialState::Running { .. } => "running",
            TrialState::RunningOrStale { .. } => "running-or-stale",
            TrialState::Stale { .. } => "stale",
        }
    }

    /// Whether `--only-missing` should run it again: never started, or its process died.
    pub fn needs_run(&self) -> bool {
        matches!(self, TrialState::Missing | TrialState::Stale { .. })
    }

    /// Whether `--retry-failed` should run it again.
    pub fn needs_retry(&self) -> bool {
        matches!(self, TrialState::Failed { .. } | TrialState::Diverged { .. })
    }
}

/// One planned trial and its state.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TrialStatusLine {
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
pub struct SweepStatus {
    /// Sweep name.
    pub sweep: String,
    /// Spec hash.
    pub spec_hash: String,
    /// One line per planned trial, in plan order.
    pub trials: Vec<TrialStatusLine>,
}

impl SweepStatus {
    /// How many trials have the given label.
    pub fn count(&self, label: &str) -> usize {
        self.trials.iter().filter(|t| t.state.label() == label).count()
    }

    /// Whether every planned trial is done.
    pub fn all_done(&self) -> bool {
        self.trials.iter().all(|t| t.state == TrialState::Done)
    }
}

/// Reads the status of the sweep in `dir`, rebuilding its plan from `sweep.json`.
pub fn sweep_status(dir: &SweepDir) -> Result<SweepStatus, StatusError> {
    let manifest = dir.manifest()?.ok_or_else(|| StatusError::NotASweep { dir: dir.root().to_path_buf() })?;
    let spec: SweepSpec = serde_json::from_value(manifest.spec.clone())
        .map_err(|e| StatusError::BadManifest { path: dir.file(names::MANIFEST), message: e.to_string() })?;
    let plan = spec.plan();
    let this_host = store::hostname();
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
            let state = trial_state(&dir.trial_dir(&id), &this_host);
            TrialStatusLine { index, id, state }
        })
        .collect();
    Ok(SweepStatus { sweep: manifest.name, spec_hash: manifest.spec_hash, trials })
}

fn trial_state(dir: &Path, this_host: &str) -> TrialState {
    if !dir.exists() {
        return TrialState::Missing;
    }
    let record = dir.join(names::RECORD);
    if record.exists() {
        return match store::read_json::<TrialRecord>(&record) {
            Ok(r) => match r.status {
                TrialStatus::Completed | TrialStatus::Pruned => TrialState::Done,
                TrialStatus::Failed => TrialState::Failed { message: r.message.unwrap_or_default() },
                TrialStatus::Diverged => TrialState::Diverged { message: r.message.unwrap_or_default() },
            },
            Err(e) => TrialState::Stale { reason: format!("unreadable record: {e}") },
        };
    }
    // The claim says who trains the trial, with a heartbeat any host can read and, on its own
    // host, a lock that dies with its process.
    if let Ok(Some(claim)) = store::claim::current(dir) {
        let limit = store::claim::stale_after();
        let (host, pid, since) = match &claim.info {
            Some(c) => (c.host.clone(), c.pid, c.claimed_at.clone()),
            None => (String::from("?"), 0, String::new()),
        };
        return if !claim.is_stale(limit) {
            TrialState::Running { host, pid, since }
        } else {
            let why = if claim.silent_for > limit {
                format!("no heartbeat for {:.0} s", claim.silent_for.as_secs_f64())
            } else {
                "its process is gone".to_string()
            };
            TrialState::Stale {
                reason: format!("attempt {} by pid {pid} on {host}: {why}, claimed {since}", claim.attempt),
            }
        };
    }
    match store::read_json::<RunningMarker>(&dir.join(names::RUNNING)) {
        Ok(m) if m.host != this_host => TrialState::RunningOrStale { host: m.host, pid: m.pid, since: m.started_at },
        Ok(m) if process_alive(m.pid) => TrialState::Running { host: m.host, pid: m.pid, since: m.started_at },
        Ok(m) => {
            TrialState::Stale { reason: format!("process {} on {} is gone, started {}", m.pid, m.host, m.started_at) }
        }
        Err(_) if dir.join(names::RUNNING).exists() => TrialState::Stale {
            reason: "running.json holds no marker: the trial is committing its record, died doing so, or was \
                     reset by --fresh and waits to run again"
                .into(),
        },
        Err(_) => TrialState::Stale { reason: "a trial folder with neither trial.json nor running.json".into() },
    }
}

/// Whether a process with this pid runs here (and is not a zombie).
fn process_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| !rest.starts_with('Z')))
        .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folder_states_are_told_apart() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("a");
        assert_eq!(trial_state(&missing, "h"), TrialState::Missing);

        let running = tmp.path().join("b");
        std::fs::create_dir(&running).unwrap();
        let mut marker = RunningMarker::now();
        store::write_json(&running.join(names::RUNNING), &marker).unwrap();
        assert_eq!(trial_state(&running, &marker.host).label(), "running");
        assert_eq!(trial_state(&running, "another-host").label(), "running-or-stale");

        marker.pid = u32::MAX - 1; // no such process
        store::write_json(&running.join(names::RUNNING), &marker).unwrap();
        let state = trial_state(&running, &marker.host);
        assert_eq!(state.label(), "stale");
        assert!(state.needs_run());

        std::fs::write(running.join(names::RECORD), "{").unwrap();
        assert_eq!(trial_state(&running, &marker.host).label(), "stale");
    }
}
