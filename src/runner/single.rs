//! One process, one share of a sweep: a SLURM array task's trial by index
//! (`sweep trial --index`), an array task taking proposals (`sweep trial
//! --next`), and the worker process a run starts (`<binary> worker SPEC`).

use std::path::{Path, PathBuf};

use super::claiming::{Claiming, settled};
use super::dispatch::{Workers, single_thread_pool};
use super::events::NoEvents;
use super::progress::SilentReporter;
use super::results_dir::ensure_manifest;
use super::trial::{InjectedFaults, TrialEnv, run_trial};
use super::{ExistingResults, OpenSweep, RunError, adaptive, worker, write_preprocessing};
use crate::device::TrialDevice;
use crate::objective::Catalog;
use crate::plan::TrialSpec;
use crate::spec::SweepSpec;
use crate::store::{self, StoreError, TrialRecord, claim, names};

/// How [`run_single_trial`] ended.
#[derive(Debug, Clone)]
pub(crate) enum SingleTrial {
    /// The trial ran now; its new record.
    Ran(TrialRecord),
    /// A record was already there and was kept.
    AlreadyDone(TrialRecord),
    /// Another live process holds the trial's claim (who, where readable); nothing was run.
    HeldElsewhere(Option<claim::ClaimInfo>),
}

/// The record a single trial keeps instead of running: a settled one (the rule every
/// process follows, [`settled`]) unless `force`. An unreadable record counts as none: the
/// trial runs again.
fn kept_record(record: Option<&TrialRecord>, force: bool, retry_failed: bool) -> Option<&TrialRecord> {
    record.filter(|r| !force && settled(Some(r), retry_failed))
}

/// Runs trial `index` of the plan on its own (a SLURM array task), writing its
/// record into the shared results folder. A trial that already has a record
/// is left alone unless `force`, or `retry_failed` and it did not complete.
#[allow(clippy::too_many_arguments)]
pub(crate) fn run_single_trial(
    spec: &SweepSpec,
    catalog: &Catalog,
    results_root: &Path,
    index: usize,
    force: bool,
    retry_failed: bool,
    faults: &InjectedFaults,
    device: TrialDevice,
) -> Result<SingleTrial, RunError> {
    let sweep = OpenSweep::open(spec, catalog, results_root)?;
    let OpenSweep { data, plan, dir, .. } = &sweep;
    if plan.is_adaptive() {
        return Err(RunError::Adaptive { file: spec.source.clone(), method: spec.method.name() });
    }
    if index >= plan.len() {
        return Err(RunError::IndexOutOfRange { file: spec.source.clone(), index, last: plan.len().saturating_sub(1) });
    }
    ensure_manifest(spec, plan, dir)?;
    write_preprocessing(dir, data)?;
    let trial = plan.trial(index);
    let trial_dir = dir.trial_dir(&trial.id);
    let earlier: Option<TrialRecord> = store::read_json(&trial_dir.join(names::RECORD)).ok();
    if let Some(record) = kept_record(earlier.as_ref(), force, retry_failed) {
        return Ok(SingleTrial::AlreadyDone(record.clone()));
    }
    // A SLURM task requeued while its first run still trains, or a local run on the same
    // folder, must not train the trial twice at once.
    let held = claim::HeldClaims::new();
    let attempts = earlier.map_or(0, |r| r.attempt);
    let trial = match claim::take(&trial_dir, || Some(attempts), claim::stale_after()) {
        // Not reached: `earlier` settles nothing here (kept_record decided that above).
        Ok(None) => return Ok(SingleTrial::HeldElsewhere(None)),
        Ok(Some(claim::Taken { claim: claim::Claim::Taken(info), file, new_folder })) => {
            if let Some(file) = file {
                held.hold_file(&trial_dir, file);
            }
            TrialSpec { attempt: info.attempt, new_folder, ..trial }
        }
        Ok(Some(claim::Taken { claim: claim::Claim::Held(info), .. })) => return Ok(SingleTrial::HeldElsewhere(info)),
        Err(e) => return Err(StoreError::Io { path: trial_dir, source: e }.into()),
    };
    let env = sweep.env(faults, device);
    let pool = single_thread_pool("sweep-trial").map_err(|message| RunError::Pool { workers: 1, message })?;
    match pool.install(|| run_trial(&env, &trial, &NoEvents)) {
        Ok(record) => Ok(SingleTrial::Ran(record)),
        Err(fault) => {
            let committed = dir.scan().map_or(0, |s| s.complete.len());
            Err(RunError::StorageUnavailable { fault, committed })
        }
    }
}

/// `sweep trial --next` (an array task of an adaptive sweep): takes
/// proposals one at a time and trains them until the budget is spent.
pub(crate) fn run_next_trials(
    spec: &SweepSpec,
    catalog: &Catalog,
    results_root: &Path,
    faults: &InjectedFaults,
    device: TrialDevice,
) -> Result<Vec<TrialRecord>, RunError> {
    let sweep = OpenSweep::open(spec, catalog, results_root)?;
    ensure_manifest(spec, &sweep.plan, &sweep.dir)?;
    write_preprocessing(&sweep.dir, &sweep.data)?;
    let env = sweep.env(faults, device);
    let claiming = Claiming::new(ExistingResults::Resume { retry_failed: false });
    let pool = single_thread_pool("sweep-trial").map_err(|message| RunError::Pool { workers: 1, message })?;
    let workers = Workers::Threads(vec![pool]);
    let records = adaptive::run_proposals(&sweep, &workers, &env, &mut SilentReporter, &claiming)?;
    match claiming.take_fault() {
        Some(fault) => {
            let committed = sweep.dir.scan().map_or(records.len(), |s| s.complete.len());
            Err(RunError::StorageUnavailable { fault, committed })
        }
        None => Ok(records),
    }
}

/// The side of a worker process (`<binary> worker SPEC`): checks that it
/// reads the same spec and data as the run that started it, then runs the
/// trials it is sent until its stdin closes.
pub(crate) fn serve_worker(
    spec: &SweepSpec,
    catalog: &Catalog,
    results_root: &Path,
    spec_hash: &str,
    data_fingerprint: &str,
    faults: &InjectedFaults,
    device: TrialDevice,
) -> Result<(), RunError> {
    let sweep = OpenSweep::open(spec, catalog, results_root)?;
    if spec.hash() != spec_hash {
        return Err(RunError::WorkerMismatch { file: spec.source.clone(), what: "another spec" });
    }
    if sweep.data.main.preprocessing.data_fingerprint != data_fingerprint {
        return Err(RunError::WorkerMismatch { file: spec.source.clone(), what: "other data" });
    }
    let env = TrialEnv { seed_burn: true, ..sweep.env(faults, device) };
    let pool = single_thread_pool("sweep-worker").map_err(|message| RunError::Pool { workers: 1, message })?;
    std::panic::set_hook(Box::new(|_| {}));
    worker::serve(&env, &pool).map_err(|e| StoreError::Io { path: PathBuf::from("<stdin>"), source: e })?;
    Ok(())
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
    fn a_single_trial_keeps_its_record_unless_forced_or_retrying_a_failure() {
        let (done, failed) = (record(TrialStatus::Completed), record(TrialStatus::Failed));
        assert_eq!(kept_record(None, false, false), None, "no readable record: it runs");
        assert_eq!(kept_record(Some(&done), false, false), Some(&done));
        assert_eq!(kept_record(Some(&done), false, true), Some(&done), "a model is never retried");
        assert_eq!(kept_record(Some(&done), true, false), None, "--force runs it again");
        assert_eq!(kept_record(Some(&failed), false, false), Some(&failed));
        assert_eq!(kept_record(Some(&failed), false, true), None);
        let pruned = record(TrialStatus::Pruned);
        assert_eq!(kept_record(Some(&pruned), false, true), Some(&pruned));
    }
}
