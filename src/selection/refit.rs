//! The refit: the configuration that won a cross-validation, retrained on
//! every non-test row for the median best epoch of its folds. It has no
//! validation split, so there is no best epoch to pick: it trains for that
//! many epochs and keeps the last. Its record carries the cross-validated
//! metrics, the estimate of its quality; a test split then measures it.

use std::collections::BTreeMap;
use std::time::Instant;

use crate::aggregate::ConfigRow;
use crate::objective::TrialError;
use crate::params::{ParamValue, params_hash};
use crate::plan::TrialSpec;
use crate::runner::{InjectedFaults, OpenSweep, RunError, RunningMarker, TrialEnv, train_last_epoch};
use crate::spec::SweepSpec;
use crate::store::{self, BestMetadata, RefitInfo, StoreError, SweepDir, TrialFolder, TrialRecord, TrialStatus, names};

/// The lower median of the folds' best epochs (at least 1), so the refit
/// trains a whole number of epochs that one of the folds chose.
pub(super) fn median_epoch(epochs: &[usize]) -> usize {
    let mut sorted = epochs.to_vec();
    sorted.sort_unstable();
    sorted.get(sorted.len().saturating_sub(1) / 2).copied().unwrap_or(1).max(1)
}

/// Retrains `winner` on every non-test row and commits it as
/// `trials/refit-c<config>-<hash>/`, a model folder like a trial's.
pub(crate) fn refit(
    spec: &SweepSpec,
    catalog: &crate::objective::Catalog,
    dir: &SweepDir,
    winner: &ConfigRow,
    folds: &[&TrialRecord],
) -> Result<TrialRecord, RunError> {
    let sweep = OpenSweep::open(spec, catalog, dir.root().parent().unwrap_or(std::path::Path::new(".")))?;
    let failed = |message: String| RunError::Store(StoreError::Parse { path: dir.root().to_path_buf(), message });
    let mut fold_records: Vec<&TrialRecord> = folds.to_vec();
    fold_records.sort_by_key(|r| r.repeat);
    let fold_best_epochs: Vec<usize> = fold_records.iter().filter_map(|r| r.best_epoch).collect();
    let epochs = median_epoch(&fold_best_epochs);
    let mut swept = winner.params.clone();
    swept.insert("epochs".into(), ParamValue::Int(epochs as i64));
    let params = sweep.schema.resolve(&spec.train, &swept);
    let id = format!("refit-c{:04}-{}", winner.config, params_hash(&swept));
    let seed = crate::seed::derive_seed(spec.seed, "refit", winner.config as u64);
    let info = RefitInfo {
        config: winner.config,
        fold_trials: fold_records.iter().map(|r| r.id.clone()).collect(),
        fold_best_epochs,
        cv_mean: winner.mean.clone(),
        cv_std: winner.std.clone(),
    };

    let start = Instant::now();
    let started_at = store::now_rfc3339();
    let trial_dir = dir.trial_dir(&id);
    let marker = serde_json::to_vec_pretty(&RunningMarker::now()).map_err(|e| failed(e.to_string()))?;
    let io = |e: std::io::Error| failed(format!("{}: {e}", trial_dir.display()));
    let mut folder =
        TrialFolder::start(&trial_dir, &marker, None, &dir.file(names::PREPROCESSING), b"epoch,train_loss\n")
            .map_err(io)?;
    let data = &sweep.data.main;
    // A trial of no batch and no fold: the loop trains it on `data.main` and keeps its last epoch.
    let faults = InjectedFaults::default();
    let env = TrialEnv {
        peers: None,
        asynchronous: false,
        ..sweep.env(&faults, crate::device::for_follow_up(&spec.resources))
    };
    let trial = TrialSpec {
        index: usize::MAX,
        id: id.clone(),
        seed,
        params: swept,
        config: winner.config,
        repeat: 0,
        attempt: 0,
        new_folder: false,
    };
    let header = BTreeMap::from([
        (store::header_keys::TRIAL_ID.to_string(), id.clone()),
        (
            store::header_keys::OBJECTIVE.to_string(),
            format!("{} {}", sweep.objective.name(), sweep.objective.version()),
        ),
        (store::header_keys::EPOCH.to_string(), epochs.to_string()),
        (store::header_keys::REFIT_OF_CONFIG.to_string(), winner.config.to_string()),
        (store::header_keys::SEED.to_string(), seed.to_string()),
        (store::header_keys::DATA_FINGERPRINT.to_string(), data.preprocessing.data_fingerprint.clone()),
    ]);
    // One compute thread, as every trial has: the same refit wherever aggregation runs.
    let pool =
        crate::runner::single_thread_pool("sweep-refit").map_err(|message| RunError::Pool { workers: 1, message })?;
    // An objective's panic is its failure, not the aggregator's crash.
    let trained = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pool.install(|| train_last_epoch(&env, &trial, &params, &mut folder, &header))
    }))
    .unwrap_or_else(|_| Err(TrialError::Failed("the objective panicked".into())))
    .map_err(|e| failed(format!("training the refit of configuration {}: {e}", winner.config)))?;
    let bytes = store::canonical_safetensors(&trained).unwrap_or(trained);
    folder.replace(names::CHECKPOINT, &bytes).map_err(io)?;
    // One model, measured once: it gets the full budget, whatever its training took.
    let cost = pool.install(|| {
        crate::runner::cost::measure(
            sweep.objective,
            &bytes,
            &params,
            data,
            &env.device.device,
            std::time::Duration::MAX,
            None,
        )
    });
    let meta = BestMetadata {
        trial_id: id.clone(),
        epoch: epochs,
        metrics: info.cv_mean.clone(),
        params: winner.params.clone(),
        settings: params.values().clone(),
        objective: sweep.objective.name().to_string(),
        objective_version: sweep.objective.version().to_string(),
        seed,
        data_fingerprint: data.preprocessing.data_fingerprint.clone(),
        checkpoint: names::CHECKPOINT.to_string(),
        checkpoint_sha256: None,
    };
    folder.replace(names::BEST_METADATA, &json(&meta)?).map_err(io)?;
    let record = TrialRecord {
        spec_hash: spec.hash(),
        index: usize::MAX,
        seed,
        params: winner.params.clone(),
        config: winner.config,
        settings: params.values().clone(),
        objective: sweep.objective.name().to_string(),
        objective_version: sweep.objective.version().to_string(),
        task: data.task,
        status: TrialStatus::Completed,
        best_epoch: Some(epochs),
        epochs_run: epochs,
        best_metrics: info.cv_mean.clone(),
        checkpoint: Some(format!("{}/{id}/{}", names::TRIALS, names::CHECKPOINT)),
        checkpoint_sha256: Some(store::sha256_hex(&bytes)),
        data_fingerprint: data.preprocessing.data_fingerprint.clone(),
        duration_s: start.elapsed().as_secs_f64(),
        started_at,
        finished_at: store::now_rfc3339(),
        refit: Some(info),
        cost: Some(cost),
        host: store::hostname(),
        pid: std::process::id(),
        attempt: 1,
        ..TrialRecord::synthetic(&spec.name, &id, spec.metric.clone())
    };
    folder.finish(&json(&record)?).map_err(io)?;
    if let Some(Err(e)) = store::commit_records(dir.root(), std::slice::from_ref(&trial_dir)).pop() {
        return Err(io(e));
    }
    Ok(record)
}

fn json<T: serde::Serialize>(value: &T) -> Result<Vec<u8>, RunError> {
    let mut bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| RunError::Store(StoreError::Parse { path: "trial.json".into(), message: e.to_string() }))?;
    bytes.push(b'\n');
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_refit_trains_for_the_lower_median_of_the_folds_best_epochs() {
        assert_eq!(median_epoch(&[12, 3, 7, 30, 9]), 9);
        assert_eq!(median_epoch(&[4, 8]), 4);
        assert_eq!(median_epoch(&[5]), 5);
        assert_eq!(median_epoch(&[]), 1);
    }
}
