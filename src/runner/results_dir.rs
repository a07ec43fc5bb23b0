//! The `--resume` / `--fresh` policy for a results folder that already holds
//! trials, and the manifest that says which spec made the folder.

use std::collections::BTreeSet;

use super::{ExistingResults, RunError};
use crate::plan::Plan;
use crate::spec::SweepSpec;
use crate::store::{self, StoreError, SweepDir, TrialRecord, claim, names};

/// Writes the manifest if the folder has none; refuses a folder made by another spec.
/// Safe when many array tasks start at once: each write is atomic and they agree.
pub(super) fn ensure_manifest(spec: &SweepSpec, plan: &Plan, dir: &SweepDir) -> Result<(), RunError> {
    let hash = spec.hash();
    match dir.manifest()? {
        Some(m) if m.spec_hash != hash => Err(RunError::ExistingResults {
            dir: dir.root().to_path_buf(),
            message: format!(
                "was made by a different spec (hash {}, this one is {hash}); give the sweep another name \
                 or start over with `sweep run --fresh`",
                m.spec_hash
            ),
        }),
        // The selection is not part of the hash: a rerun may change its constraints or
        // trade-offs, and aggregation reads them from here, so the manifest follows the spec.
        Some(m) if m.selection.as_ref() != Some(&spec.selection) => {
            let updated = store::SweepManifest { selection: Some(spec.selection.clone()), ..m };
            store::write_json(&dir.file(names::MANIFEST), &updated)?;
            Ok(())
        }
        Some(_) => Ok(()),
        None => {
            let trials = dir.trials_dir();
            std::fs::create_dir_all(&trials).map_err(StoreError::io(&trials))?;
            store::write_json(&dir.file(names::MANIFEST), &spec.manifest(plan.len()))?;
            Ok(())
        }
    }
}

/// The trials a resumed run keeps: records of this spec (`hash`) for trials
/// of the plan (`planned`; `None` for an adaptive plan, whose ids are known
/// only as it runs and whose records are matched by index then), and with
/// `retry_failed` only those that left a model.
fn kept_on_resume(
    records: Vec<TrialRecord>,
    hash: &str,
    planned: Option<&BTreeSet<String>>,
    retry_failed: bool,
) -> BTreeSet<String> {
    records
        .into_iter()
        .filter(|r| r.spec_hash == hash && planned.is_none_or(|p| p.contains(&r.id)))
        .filter(|r| !retry_failed || r.status.has_model())
        .map(|r| r.id)
        .collect()
}

/// Why a run without `--resume` or `--fresh` stops at a folder with trials;
/// `holders` are the live claims (`host pid N`), one per claimed trial.
fn refusal(sweep: &str, complete: usize, incomplete: usize, holders: &[String]) -> String {
    let mut distinct = holders.to_vec();
    distinct.sort();
    distinct.dedup();
    let working = if holders.is_empty() {
        String::new()
    } else {
        format!(
            "; another process is working on it now ({}: {} trial(s) claimed), --resume joins it",
            distinct.join(", "),
            holders.len()
        )
    };
    format!(
        "already holds {complete} complete and {incomplete} incomplete trial(s) of sweep \"{sweep}\"{working}; \
         run again with --resume to keep them and run the rest (sweep slurm: --only-missing, \
         --retry-failed), or --fresh to delete them and start over"
    )
}

/// The ids of the plan's trials, where they are known up front.
fn planned_ids(plan: &Plan) -> Option<BTreeSet<String>> {
    (!plan.is_adaptive()).then(|| plan.trials().map(|t| t.id).collect())
}

/// Applies the existing-results policy and writes the manifest; returns the
/// ids of trials to skip because their records are kept.
pub(crate) fn prepare_results_dir(
    spec: &SweepSpec,
    plan: &Plan,
    dir: &SweepDir,
    policy: ExistingResults,
) -> Result<BTreeSet<String>, RunError> {
    let conflict = |message: String| RunError::ExistingResults { dir: dir.root().to_path_buf(), message };
    let hash = spec.hash();
    let mut done = BTreeSet::new();
    match policy {
        _ if !dir.has_results() => {}
        ExistingResults::Refuse => {
            let scan = dir.scan()?;
            let stale_after = claim::stale_after();
            let holders: Vec<String> = scan
                .incomplete
                .iter()
                .filter_map(|t| claim::current(&t.dir).ok().flatten())
                .filter(|c| !c.is_stale(stale_after))
                .filter_map(|c| c.info)
                .map(|c| format!("{} pid {}", c.host, c.pid))
                .collect();
            return Err(conflict(refusal(&spec.name, scan.complete.len(), scan.incomplete.len(), &holders)));
        }
        ExistingResults::Resume { retry_failed } => {
            if let Some(old) = dir.manifest()?.map(|m| m.spec_hash).filter(|h| *h != hash) {
                return Err(conflict(format!(
                    "was made by a different spec (hash {old}, this one is {hash}); resuming would mix \
                     their trials: use --fresh to start over, or give the sweep another name"
                )));
            }
            // Trials without a readable record are simply run again.
            done = kept_on_resume(dir.scan()?.complete, &hash, planned_ids(plan).as_ref(), retry_failed);
        }
        ExistingResults::Fresh => {
            // The folders of trials planned again stay for their reruns to reuse
            // (store::TrialFolder), with their records retired at once so that an
            // interrupted fresh run never mixes old and new trials; the rest goes.
            // Nothing is read: --fresh must work on any earlier folder, even a broken one.
            let trials = dir.trials_dir();
            if dir.retire_trials(&planned_ids(plan).unwrap_or_default()).is_err() && trials.exists() {
                std::fs::remove_dir_all(&trials).map_err(StoreError::io(&trials))?;
            }
            let proposals = dir.file("proposals");
            if proposals.exists() {
                std::fs::remove_dir_all(&proposals).map_err(StoreError::io(&proposals))?;
            }
            // preprocessing.json stays: the kept folders link to it, and it is rewritten if the data changed.
            for name in [names::LEADERBOARD, names::REGISTRY, names::MANIFEST] {
                let path = dir.file(name);
                if path.exists() {
                    std::fs::remove_file(&path).map_err(StoreError::io(&path))?;
                }
            }
        }
    }
    ensure_manifest(spec, plan, dir)?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Goal, Monitor};
    use crate::store::TrialStatus;

    fn record(id: &str, hash: &str, status: TrialStatus) -> TrialRecord {
        TrialRecord {
            spec_hash: hash.into(),
            status,
            ..TrialRecord::synthetic("s", id, Monitor::new("accuracy", Goal::Maximize, 0.0))
        }
    }

    #[test]
    fn a_resume_keeps_this_specs_planned_records_and_with_retry_only_models() {
        let records = || {
            vec![
                record("t0000-a", "h", TrialStatus::Completed),
                record("t0001-b", "h", TrialStatus::Failed),
                record("t0002-c", "other", TrialStatus::Completed),
                record("t0003-d", "h", TrialStatus::Pruned),
            ]
        };
        let ids = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        let planned = ids(&["t0000-a", "t0001-b", "t0002-c"]);
        assert_eq!(kept_on_resume(records(), "h", Some(&planned), false), ids(&["t0000-a", "t0001-b"]));
        assert_eq!(kept_on_resume(records(), "h", Some(&planned), true), ids(&["t0000-a"]));
        assert_eq!(
            kept_on_resume(records(), "h", None, false),
            ids(&["t0000-a", "t0001-b", "t0003-d"]),
            "an adaptive plan keeps every record of its spec"
        );
        assert_eq!(kept_on_resume(records(), "h", None, true), ids(&["t0000-a", "t0003-d"]));
    }

    #[test]
    fn a_refusal_names_resume_fresh_and_who_works_there() {
        let alone = refusal("digits", 3, 1, &[]);
        assert_eq!(
            alone,
            "already holds 3 complete and 1 incomplete trial(s) of sweep \"digits\"; run again with --resume to \
             keep them and run the rest (sweep slurm: --only-missing, --retry-failed), or --fresh to delete them \
             and start over"
        );
        let holders = ["b pid 2".to_string(), "a pid 1".to_string(), "b pid 2".to_string()];
        let shared = refusal("digits", 0, 3, &holders);
        assert!(
            shared.contains(
                "; another process is working on it now (a pid 1, b pid 2: 3 trial(s) claimed), --resume joins it;"
            ),
            "{shared}"
        );
    }

    #[test]
    fn only_a_plan_known_up_front_names_its_trials() {
        let space = std::collections::BTreeMap::from([(
            "lr".to_string(),
            crate::space::Domain::Uniform { min: 0.0, max: 1.0 },
        )]);
        let random = Plan::new(&crate::sampler::random_method(3), &space, 0, 1);
        assert_eq!(planned_ids(&random).map(|p| p.len()), Some(3));
        let tpe = Plan::new(&crate::sampler::tpe_method(3, Default::default()), &space, 0, 1);
        assert_eq!(planned_ids(&tpe), None);
    }
}
