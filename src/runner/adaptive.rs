//! Trials proposed from results: synchronous batches (adaptive samplers, and
//! early termination that judges each batch by the ones before it), and the
//! asynchronous proposals that free workers ask for one at a time.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::PathBuf;
use std::sync::Mutex;

use super::claiming::{Claiming, record_of};
use super::curves::monitored_curve;
use super::dispatch::{WAIT_POLL, Workers, dispatch_from, dispatch_until_done};
use super::events::Reporter;
use super::trial::TrialEnv;
use super::{OpenSweep, RunError};
use crate::callback::PeerCurves;
use crate::metrics::Monitor;
use crate::plan::{Plan, TrialSpec};
use crate::sampler::{History, Observed};
use crate::store::{self, StoreError, SweepDir, TrialRecord, claim};

/// What a sampler learns from: the committed trials, in the order given.
pub(super) fn history(records: &[TrialRecord], monitor: &Monitor) -> History {
    let trials = records
        .iter()
        .map(|r| Observed {
            config: r.config,
            repeat: r.repeat,
            params: r.params.clone(),
            has_model: r.status.has_model(),
            best_metrics: r.best_metrics.clone(),
            costs: r
                .cost
                .as_ref()
                .map(|c| {
                    let mut costs: crate::metrics::Metrics =
                        crate::pick::COST_COLUMNS.iter().filter_map(|n| c.get(n).map(|v| (n.to_string(), v))).collect();
                    costs.extend(c.extra.clone());
                    costs
                })
                .unwrap_or_default(),
        })
        .collect();
    History { trials, monitor: monitor.clone() }
}

/// The configurations of each batch, in order: as many as the plan proposes
/// from one history with `workers` trials at once.
pub(super) fn batches(plan: &Plan, workers: usize) -> Vec<Range<usize>> {
    let mut out = Vec::new();
    let mut first = 0;
    while first < plan.configs() {
        let last = (first + plan.batch_len(first, workers)).min(plan.configs());
        out.push(first..last);
        first = last;
    }
    out
}

/// What becomes of a trial proposed again in a resumed batched run.
#[derive(Debug, PartialEq)]
enum Kept<'a> {
    /// No record was kept: it runs.
    Run,
    /// The earlier run's record of the very same trial.
    Reuse(&'a TrialRecord),
    /// The earlier run trained another trial at this index (the id it had).
    Mismatch(&'a str),
}

fn kept_for<'a>(kept: Option<&'a TrialRecord>, trial: &TrialSpec) -> Kept<'a> {
    match kept {
        None => Kept::Run,
        Some(r) if r.id == trial.id => Kept::Reuse(r),
        Some(r) => Kept::Mismatch(&r.id),
    }
}

/// Batches of configurations (see [`batches`]): with an adaptive sampler each
/// batch is proposed from the results of all batches before it, with early
/// termination each batch is judged against them; either way the sweep is
/// reproducible for a fixed seed and worker count.
pub(super) fn run_in_batches(
    plan: &Plan,
    dir: &SweepDir,
    done: &BTreeSet<String>,
    workers: &Workers,
    env: &TrialEnv,
    reporter: &mut dyn Reporter,
    claiming: &Claiming,
) -> Result<Vec<TrialRecord>, RunError> {
    let kept: BTreeMap<usize, TrialRecord> =
        dir.scan()?.complete.into_iter().filter(|r| done.contains(&r.id)).map(|r| (r.index, r)).collect();
    let repeats = plan.repeats();
    let mut all: Vec<TrialRecord> = Vec::with_capacity(plan.len());
    let mut fresh = Vec::new();
    let mut curves: BTreeMap<usize, Vec<f64>> = Default::default();
    for configs in batches(plan, workers.len()) {
        let history = history(&all, &env.spec.metric);
        let mut batch_env = TrialEnv { asynchronous: false, ..env.clone() };
        if env.spec.early_terminate.is_some() {
            for r in &all {
                curves.entry(r.index).or_insert_with(|| monitored_curve(dir, r, env.spec));
            }
            batch_env.peers = Some(PeerCurves::Fixed(std::sync::Arc::new(curves.values().cloned().collect())));
        }
        let mut todo = Vec::new();
        for trial in (configs.start * repeats..configs.end * repeats).map(|i| plan.trial_given(i, &history)) {
            match kept_for(kept.get(&trial.index), &trial) {
                Kept::Reuse(r) => all.push(r.clone()),
                Kept::Run => todo.push(trial),
                Kept::Mismatch(earlier) => {
                    return Err(RunError::ExistingResults {
                        dir: dir.root().to_path_buf(),
                        message: format!(
                            "trial {} was {earlier} in the earlier run but is proposed as {} now: {} proposals depend \
                             on the worker count, so resume with the same --workers, or use --fresh",
                            trial.index,
                            trial.id,
                            env.spec.method.label()
                        ),
                    });
                }
            }
        }
        let records = dispatch_until_done(workers, &todo, &batch_env, reporter, claiming);
        if claiming.stopped() {
            fresh.extend(records);
            break;
        }
        // Trials of the batch that another process trained count as much as this one's.
        let mine: BTreeSet<String> = records.iter().map(|r| r.id.clone()).collect();
        let theirs = todo.iter().filter(|t| !mine.contains(&t.id)).filter_map(|t| record_of(dir, &t.id));
        all.extend(records.iter().cloned().chain(theirs));
        all.sort_by_key(|r| r.index);
        fresh.extend(records);
    }
    Ok(fresh)
}

/// How many leading configurations have a record for every one of their
/// `repeats` trials.
fn configs_committed(records: &[TrialRecord], repeats: usize) -> usize {
    let mut per_config: BTreeMap<usize, usize> = BTreeMap::new();
    for r in records {
        *per_config.entry(r.config).or_default() += 1;
    }
    (0..).take_while(|c| per_config.get(c).is_some_and(|n| *n >= repeats)).count()
}

/// Which earlier proposal's params trial `index` trains: the other folds or
/// repeats of a configuration train the params of its first trial.
fn params_of(index: usize, repeats: usize) -> Option<usize> {
    (!index.is_multiple_of(repeats)).then(|| index - index % repeats)
}

/// What a free worker gets.
enum Next {
    /// A trial, claimed for it.
    Take(TrialSpec),
    /// Nothing yet: the next proposal needs results still in training.
    Wait,
    /// Every trial of the budget is proposed and none is free to take over.
    Done,
}

/// Asynchronous proposals: each worker, in any process or array task, asks
/// for its next trial when it is free. Under a lock on the results folder
/// (`flock`, which Linux's NFS client maps to NFSv4 byte-range locks) it
/// proposes from every trial committed so far, records the proposal in
/// `proposals/t<index>.json` (so a resumed run and every other process mean
/// the same trial by that index), claims it, and trains it after the lock is
/// released. A proposal whose claim went stale is handed out again first.
struct Proposals<'a> {
    sweep: &'a OpenSweep<'a>,
    claiming: &'a Claiming,
}

impl<'a> Proposals<'a> {
    fn folder(&self) -> PathBuf {
        self.sweep.dir.file("proposals")
    }

    fn next(&self) -> Result<Next, RunError> {
        let lock_path = self.sweep.dir.file(".proposals.lock");
        let lock = std::fs::File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(StoreError::io(&lock_path))?;
        lock.lock().map_err(StoreError::io(&lock_path))?;
        let proposed = self.proposed()?;
        for trial in &proposed {
            if let Some(claimed) = self.claiming.claim(&self.sweep.dir, trial) {
                return Ok(Next::Take(claimed));
            }
        }
        let index = proposed.len();
        let plan = &self.sweep.plan;
        if index >= plan.len() {
            return Ok(Next::Done);
        }
        let trial = match params_of(index, plan.repeats()) {
            Some(first) => plan.trial_with_params(index, proposed[first].params.clone()),
            None => {
                let committed: Vec<TrialRecord> =
                    self.sweep.dir.scan()?.complete.into_iter().filter(|r| r.refit.is_none()).collect();
                if configs_committed(&committed, plan.repeats()) < plan.waits_for(index / plan.repeats()) {
                    return Ok(Next::Wait);
                }
                plan.trial_given(index, &history(&committed, &self.sweep.spec.metric))
            }
        };
        let folder = self.folder();
        std::fs::create_dir_all(&folder).map_err(StoreError::io(&folder))?;
        store::write_json(&folder.join(format!("t{index:04}.json")), &trial)?;
        Ok(self.claiming.claim(&self.sweep.dir, &trial).map_or(Next::Done, Next::Take))
    }

    /// Every proposal so far, by index.
    fn proposed(&self) -> Result<Vec<TrialSpec>, RunError> {
        let folder = self.folder();
        let mut files: Vec<PathBuf> = match std::fs::read_dir(&folder) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            other => other.map_err(StoreError::io(&folder))?.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        };
        files.retain(|p| p.extension().is_some_and(|e| e == "json"));
        files.sort();
        Ok(files.iter().map(|f| store::read_json::<TrialSpec>(f)).collect::<Result<_, _>>()?)
    }

    /// Proposals without a record that another live process holds.
    fn held_elsewhere(&self) -> Result<usize, RunError> {
        let stale_after = self.claiming.stale_after;
        let dir = &self.sweep.dir;
        Ok(self
            .proposed()?
            .iter()
            .filter(|t| !self.claiming.settled(record_of(dir, &t.id).as_ref()))
            .filter(|t| {
                claim::current(&dir.trial_dir(&t.id)).ok().flatten().is_some_and(|c| {
                    !c.is_stale(stale_after) && !c.info.as_ref().is_some_and(claim::ClaimInfo::is_mine)
                })
            })
            .count())
    }
}

/// Runs asynchronous proposals on the workers until the budget is proposed
/// and every proposal has a record (waiting for, or taking over, those that
/// other processes hold).
pub(super) fn run_proposals(
    sweep: &OpenSweep,
    workers: &Workers,
    env: &TrialEnv,
    reporter: &mut dyn Reporter,
    claiming: &Claiming,
) -> Result<Vec<TrialRecord>, RunError> {
    let proposals = Proposals { sweep, claiming };
    let failure: Mutex<Option<RunError>> = Mutex::new(None);
    let next = || loop {
        match proposals.next() {
            Ok(Next::Take(t)) => return Some(t),
            Ok(Next::Done) => return None,
            Ok(Next::Wait) if !claiming.stopped() => std::thread::sleep(WAIT_POLL),
            Ok(Next::Wait) => return None,
            Err(e) => {
                if let Ok(mut f) = failure.lock() {
                    f.get_or_insert(e);
                }
                return None;
            }
        }
    };
    let mut records = dispatch_from(workers, &next, env, reporter, claiming);
    let mut announced = false;
    while failure.lock().map(|f| f.is_none()).unwrap_or(false) && !claiming.stopped() && proposals.held_elsewhere()? > 0
    {
        if !announced {
            reporter.on_note("waiting for the trials other processes are training");
            announced = true;
        }
        std::thread::sleep(WAIT_POLL);
        records.extend(dispatch_from(workers, &next, env, reporter, claiming));
    }
    match failure.into_inner().ok().flatten() {
        Some(e) => Err(e),
        None => Ok(records),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Goal;
    use crate::params::{ParamValue, Params};
    use crate::sampler::tpe::TpeSettings;
    use crate::space::Domain;
    use crate::store::TrialStatus;

    fn monitor() -> Monitor {
        Monitor::new("accuracy", Goal::Maximize, 0.0)
    }

    fn record(index: usize, repeats: usize) -> TrialRecord {
        TrialRecord {
            index,
            config: index / repeats,
            repeat: index % repeats,
            ..TrialRecord::synthetic("s", &format!("t{index:04}-x"), monitor())
        }
    }

    fn space() -> BTreeMap<String, Domain> {
        BTreeMap::from([("lr".to_string(), Domain::Uniform { min: 0.0, max: 1.0 })])
    }

    #[test]
    fn batches_hold_as_many_configurations_as_workers() {
        let plan = Plan::new(&crate::sampler::tpe_method(7, TpeSettings::default()), &space(), 0, 2);
        assert_eq!(batches(&plan, 3), [0..3, 3..6, 6..7]);
        assert_eq!(batches(&plan, 1).len(), 7);
        assert_eq!(batches(&plan, 0), [0..1, 1..2, 2..3, 3..4, 4..5, 5..6, 6..7], "at least one a batch");
        assert_eq!(batches(&plan, 10), vec![0..7]);
    }

    #[test]
    fn a_resumed_batch_reuses_only_the_very_same_trial() {
        let plan = Plan::new(&crate::sampler::random_method(3), &space(), 0, 1);
        let trial = plan.trial(1);
        let same = TrialRecord { id: trial.id.clone(), ..record(1, 1) };
        assert_eq!(kept_for(None, &trial), Kept::Run);
        assert_eq!(kept_for(Some(&same), &trial), Kept::Reuse(&same));
        let other = record(1, 1);
        assert_eq!(kept_for(Some(&other), &trial), Kept::Mismatch("t0001-x"));
    }

    #[test]
    fn a_configuration_counts_as_committed_once_every_repeat_is() {
        let records: Vec<TrialRecord> = [0, 1, 2, 4, 5].iter().map(|&i| record(i, 2)).collect();
        assert_eq!(configs_committed(&records, 2), 1, "configuration 1 lacks trial 3");
        assert_eq!(configs_committed(&records[..1], 2), 0);
        assert_eq!(configs_committed(&records, 1), 3);
        assert_eq!(configs_committed(&[], 1), 0);
    }

    #[test]
    fn repeats_of_a_proposal_train_its_first_trials_params() {
        assert_eq!(params_of(0, 3), None);
        assert_eq!(params_of(4, 3), Some(3));
        assert_eq!(params_of(5, 3), Some(3));
        assert_eq!(params_of(6, 3), None);
        assert_eq!(params_of(7, 1), None);
    }

    #[test]
    fn the_history_carries_every_committed_trials_metrics_and_outcome() {
        let mut failed = record(1, 1);
        failed.status = TrialStatus::Failed;
        failed.params = Params::from([("lr".to_string(), ParamValue::Float(0.5))]);
        let mut done = record(0, 1);
        done.best_metrics = BTreeMap::from([("accuracy".into(), 0.9), ("mcc".into(), 0.8)]);
        let h = history(&[done, failed], &monitor());
        assert_eq!(h.monitor, monitor());
        assert_eq!(h.trials.len(), 2);
        assert!(h.trials[0].has_model && !h.trials[1].has_model);
        assert_eq!(h.trials[0].best_metrics["mcc"], 0.8);
        assert_eq!(h.trials[1].params["lr"], ParamValue::Float(0.5));
    }
}
