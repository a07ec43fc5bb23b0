//! How this process takes its share of the trials from the results folder
//! ([`claim`]), so that processes sharing the folder share the work.

use std::sync::Mutex;

use super::ExistingResults;
use crate::plan::TrialSpec;
use crate::store::{self, StorageFault, SweepDir, TrialRecord, claim, names};

/// The trials this process holds, and those other processes held when it
/// came to them.
pub(super) struct Claiming {
    pub(super) held: claim::HeldClaims,
    pub(super) stale_after: std::time::Duration,
    retry_failed: bool,
    elsewhere: Mutex<Vec<TrialSpec>>,
    /// The first trial write the filesystem refused (full or read-only):
    /// once set, no more trials are handed out.
    fault: Mutex<Option<StorageFault>>,
}

/// Whether a trial with this record needs no run from a process: it has a
/// model, or it failed and failed trials are not retried.
pub(super) fn settled(record: Option<&TrialRecord>, retry_failed: bool) -> bool {
    record.is_some_and(|r| r.status.has_model() || !retry_failed)
}

/// A trial's record, where it has a readable one.
pub(super) fn record_of(dir: &SweepDir, id: &str) -> Option<TrialRecord> {
    store::read_json(&dir.trial_dir(id).join(names::RECORD)).ok()
}

impl Claiming {
    pub(super) fn new(existing: ExistingResults) -> Self {
        Claiming {
            held: claim::HeldClaims::new(),
            stale_after: claim::stale_after(),
            retry_failed: matches!(existing, ExistingResults::Resume { retry_failed: true }),
            elsewhere: Mutex::new(Vec::new()),
            fault: Mutex::new(None),
        }
    }

    /// Stops handing out trials: the filesystem takes no more writes.
    pub(super) fn stop(&self, fault: StorageFault) {
        if let Ok(mut f) = self.fault.lock() {
            f.get_or_insert(fault);
        }
    }

    /// Whether a trial write met a full or read-only filesystem.
    pub(super) fn stopped(&self) -> bool {
        self.fault.lock().map_or(true, |f| f.is_some())
    }

    pub(super) fn take_fault(&self) -> Option<StorageFault> {
        self.fault.lock().ok().and_then(|mut f| f.take())
    }

    /// `trial` with its attempt, claimed for this process; `None` when another
    /// process finished it meanwhile, or holds it (then it is kept for later).
    pub(super) fn claim(&self, dir: &SweepDir, trial: &TrialSpec) -> Option<TrialSpec> {
        let trial_dir = dir.trial_dir(&trial.id);
        let earlier = || {
            let record = record_of(dir, &trial.id);
            (!self.settled(record.as_ref())).then(|| record.map_or(0, |r| r.attempt))
        };
        match claim::take(&trial_dir, earlier, self.stale_after) {
            Ok(None) => None,
            Ok(Some(claim::Taken { claim: claim::Claim::Taken(info), file, new_folder })) => {
                if let Some(file) = file {
                    self.held.hold_file(&trial_dir, file);
                }
                Some(TrialSpec { attempt: info.attempt, new_folder, ..trial.clone() })
            }
            Ok(Some(claim::Taken { claim: claim::Claim::Held(_), .. })) => {
                if let Ok(mut later) = self.elsewhere.lock() {
                    later.push(trial.clone());
                }
                None
            }
            // The trial's own writes will say what is wrong with its folder.
            Err(_) => Some(trial.clone()),
        }
    }

    /// Whether a trial with this record needs no run from this process.
    pub(super) fn settled(&self, record: Option<&TrialRecord>) -> bool {
        settled(record, self.retry_failed)
    }

    /// The trials held elsewhere that are not settled yet.
    pub(super) fn still_elsewhere(&self, dir: &SweepDir) -> Vec<TrialSpec> {
        let later = self.elsewhere.lock().map(|mut l| std::mem::take(&mut *l)).unwrap_or_default();
        later.into_iter().filter(|t| !self.settled(record_of(dir, &t.id).as_ref())).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Goal, Monitor};
    use crate::store::TrialStatus;

    fn record(status: TrialStatus) -> TrialRecord {
        TrialRecord { status, ..TrialRecord::synthetic("s", "t0000-x", Monitor::new("accuracy", Goal::Maximize, 0.0)) }
    }

    #[test]
    fn a_trial_is_settled_by_a_model_or_by_a_failure_not_retried() {
        assert!(!settled(None, false), "no record: it runs");
        assert!(!settled(None, true));
        for status in [TrialStatus::Completed, TrialStatus::Pruned] {
            assert!(settled(Some(&record(status)), false), "{status:?}");
            assert!(settled(Some(&record(status)), true), "{status:?} has a model: never retried");
        }
        for status in [TrialStatus::Failed, TrialStatus::Diverged] {
            assert!(settled(Some(&record(status)), false), "{status:?} kept");
            assert!(!settled(Some(&record(status)), true), "{status:?} retried with --retry-failed");
        }
    }
}
