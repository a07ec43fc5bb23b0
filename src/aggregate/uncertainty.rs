//! How sure the ranking is: a bootstrap interval of every trial's monitored
//! metric over its validation rows, and a paired bootstrap of every trial
//! against the top trial on the same resampled rows. Computed from the best
//! epoch's validation outputs each trial keeps, so nothing is retrained.

use std::collections::BTreeMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::metrics::bootstrap::{self, Resamples};
use crate::metrics::{Monitor, RowScores, TargetScale, Truth};
use crate::store::{SweepDir, TrialRecord, decode_outputs, names};

/// The confidence level of the intervals and of the tie test.
pub(crate) const LEVEL: f64 = 0.95;

/// One trial's uncertainty.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Uncertainty {
    /// Lower end of the 95 % percentile interval of the monitored metric.
    pub low: f64,
    /// Upper end.
    pub high: f64,
    /// Whether the top trial is better in fewer than 95 % of the paired
    /// resamples (true for the top trial itself); `None` when the trial was
    /// validated on other rows than the top trial (another fold).
    pub tied_with_top: Option<bool>,
    /// Share of the paired resamples in which the top trial is strictly better.
    pub top_better_share: Option<f64>,
}

/// Bootstraps the monitored metric of every trial in `ranked` (best first)
/// that kept its best epoch's validation outputs, with `count` resamples
/// seeded by `seed`: the same resampled rows for every trial validated on
/// the same rows, so the comparison with the top trial is paired. Also returns
/// a message for each trial whose outputs are there but unusable (unreadable,
/// damaged, or of another epoch than the record's best), naming the file: such
/// a trial silently losing its interval and its tie would change the
/// leaderboard unnoticed.
pub(crate) fn bootstrap_trials(
    dir: &SweepDir,
    ranked: &[TrialRecord],
    monitor: &Monitor,
    count: usize,
    seed: u64,
) -> (BTreeMap<String, Uncertainty>, Vec<String>) {
    if count == 0 {
        return (BTreeMap::new(), Vec::new());
    }
    let candidates: Vec<&TrialRecord> = ranked.iter().filter(|r| r.status.has_model()).collect();
    let resamples = ResamplesByRows::new(count, seed);
    // The top trial: the first in the ranking whose outputs give a distribution. Then each trial
    // is read, bootstrapped and reduced to its interval and tie on its own, on every core, so no
    // more than a distribution per core is held at once (keeping them all took 800 MB at 10^5
    // trials). The files up to the top's are read twice.
    let mut top: Option<(Vec<f64>, Vec<f64>)> = None;
    for r in &candidates {
        if let Ok(Some(stored)) = checked_outputs(dir, r) {
            let scores = scores_of(&stored, r.task);
            if let Some(values) = bootstrap::distribution(&scores, &monitor.metric, &resamples.of(scores.rows())) {
                top = Some((values, stored.targets));
                break;
            }
        }
    }
    let judged: Vec<(&TrialRecord, Result<Option<Uncertainty>, String>)> = candidates
        .par_iter()
        .map(|r| {
            let judged = checked_outputs(dir, r).map(|outputs| {
                let stored = outputs?;
                let scores = scores_of(&stored, r.task);
                let values = bootstrap::distribution(&scores, &monitor.metric, &resamples.of(scores.rows()))?;
                let (low, high) = bootstrap::percentile_interval(&values, LEVEL)?;
                let (tied_with_top, top_better_share) = match &top {
                    // The same validation rows in the same order: the resamples are the same rows too.
                    Some((top_values, top_targets)) if *top_targets == stored.targets => {
                        let share = bootstrap::share_better(top_values, &values, monitor);
                        (Some(share < LEVEL), Some(share))
                    }
                    _ => (None, None),
                };
                Some(Uncertainty { low, high, tied_with_top, top_better_share })
            });
            (*r, judged)
        })
        .collect();
    let mut out = BTreeMap::new();
    let mut damaged = Vec::new();
    for (r, judged) in judged {
        match judged {
            Ok(Some(uncertainty)) => {
                out.insert(r.id.clone(), uncertainty);
            }
            Ok(None) => {}
            Err(why) => damaged.push(format!(
                "{}: {why}; trial {} has no bootstrap interval (train it again: sweep trial SPEC --index {} --force)",
                dir.trial_dir(&r.id).join(names::VALID_OUTPUTS).display(),
                r.id,
                r.index
            )),
        }
    }
    (out, damaged)
}

/// The sweep's resamples for each number of validation rows (folds may differ), drawn once
/// per number and shared by every trial validated on that many rows, so comparisons are paired.
struct ResamplesByRows {
    count: usize,
    seed: u64,
    drawn: std::sync::Mutex<BTreeMap<usize, std::sync::Arc<Resamples>>>,
}

impl ResamplesByRows {
    fn new(count: usize, seed: u64) -> Self {
        ResamplesByRows { count, seed, drawn: Default::default() }
    }

    fn of(&self, rows: usize) -> std::sync::Arc<Resamples> {
        let mut drawn = self.drawn.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        drawn.entry(rows).or_insert_with(|| std::sync::Arc::new(Resamples::new(rows, self.count, self.seed))).clone()
    }
}

/// A trial's stored validation outputs, when they are its best epoch's and the file is the one
/// its record vouches for; `Ok(None)` when there are none (trials of versions before the
/// bootstrap) or they hold no rows, and why they are unusable when they are there but
/// unreadable, damaged, or of another epoch.
fn checked_outputs(dir: &SweepDir, r: &TrialRecord) -> Result<Option<crate::store::StoredOutputs>, String> {
    let bytes = match std::fs::read(dir.trial_dir(&r.id).join(names::VALID_OUTPUTS)) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.to_string()),
        Ok(bytes) => bytes,
    };
    // Either side may be the damaged one: the message names both files.
    if !matches_record(r, &bytes) {
        return Err(format!(
            "its sha256 is not the one {} holds (one of the two files is damaged)",
            dir.trial_dir(&r.id).join(names::RECORD).display()
        ));
    }
    match decode_outputs(&bytes) {
        Err(e) => Err(e.to_string()),
        Ok(s) if Some(s.epoch) != r.best_epoch => {
            Err(format!("holds epoch {}, but the trial's best epoch is {:?}", s.epoch, r.best_epoch))
        }
        Ok(s) => Ok((s.rows > 0).then_some(s)),
    }
}

/// Whether an outputs file is the one the record vouches for (records of
/// earlier versions vouch for none).
fn matches_record(record: &TrialRecord, bytes: &[u8]) -> bool {
    record.valid_outputs_sha256.as_ref().is_none_or(|sha| *sha == crate::store::sha256_hex(bytes))
}

/// [`checked_outputs`], where only usable outputs matter.
pub(super) fn stored_outputs(dir: &SweepDir, record: &TrialRecord) -> Option<crate::store::StoredOutputs> {
    checked_outputs(dir, record).ok().flatten()
}

/// The per-row facts of stored outputs.
pub(super) fn scores_of(stored: &crate::store::StoredOutputs, task: crate::metrics::Task) -> RowScores {
    match stored.scale {
        Some(scale) => RowScores::new(&stored.values, Truth::Values { values: &stored.targets, scale }),
        None if stored.width == 1 && task == crate::metrics::Task::Regression => {
            RowScores::new(&stored.values, Truth::Values { values: &stored.targets, scale: TargetScale::IDENTITY })
        }
        None => {
            let labels: Vec<usize> = stored.targets.iter().map(|&k| k as usize).collect();
            RowScores::new(&stored.values, Truth::Classes { labels: &labels, n_classes: stored.width })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Goal;
    use crate::store::{StoredOutputs, TrialStatus, encode_outputs, sha256_hex};

    #[test]
    fn outputs_are_usable_missing_or_damaged_with_the_reason() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = SweepDir::new(tmp.path().to_path_buf());
        let mut record = TrialRecord {
            status: TrialStatus::Completed,
            best_epoch: Some(3),
            ..TrialRecord::synthetic("s", "t0000-a", Monitor::new("mcc", Goal::Maximize, 0.0))
        };
        std::fs::create_dir_all(dir.trial_dir(&record.id)).unwrap();
        let path = dir.trial_dir(&record.id).join(names::VALID_OUTPUTS);
        let outputs = |epoch, rows: usize| StoredOutputs {
            epoch,
            rows,
            width: 2,
            values: vec![0.5; rows * 2],
            targets: vec![1.0; rows],
            scale: None,
        };
        assert_eq!(checked_outputs(&dir, &record).map(|o| o.is_some()), Ok(false), "none there");

        std::fs::write(&path, encode_outputs(&outputs(3, 4))).unwrap();
        assert_eq!(checked_outputs(&dir, &record).unwrap().map(|o| o.rows), Some(4), "a record vouching for none");
        record.valid_outputs_sha256 = Some(sha256_hex(&std::fs::read(&path).unwrap()));
        assert!(stored_outputs(&dir, &record).is_some());

        record.valid_outputs_sha256 = Some("0".repeat(64));
        let damaged = checked_outputs(&dir, &record).unwrap_err();
        assert!(damaged.starts_with("its sha256 is not the one"), "{damaged}");
        assert!(stored_outputs(&dir, &record).is_none());

        record.valid_outputs_sha256 = None;
        std::fs::write(&path, encode_outputs(&outputs(2, 4))).unwrap();
        let other_epoch = checked_outputs(&dir, &record).unwrap_err();
        assert_eq!(other_epoch, "holds epoch 2, but the trial's best epoch is Some(3)");

        std::fs::write(&path, encode_outputs(&outputs(3, 0))).unwrap();
        assert_eq!(checked_outputs(&dir, &record).map(|o| o.is_some()), Ok(false), "no rows: nothing to bootstrap");

        std::fs::write(&path, b"not a safetensors file").unwrap();
        assert!(checked_outputs(&dir, &record).is_err());
    }
}
