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
    // One pass in ranking order, a block of trials at a time on every core. Until the top trial
    // (the first whose outputs give a distribution) is found, a block keeps its distributions to
    // compare them with it; after, each trial is reduced to its interval and tie where it is
    // bootstrapped, so no more than a block's distributions are held at once (keeping every
    // trial's took 800 MB at 10^5 trials).
    let mut top: Option<Scored> = None;
    let mut out = BTreeMap::new();
    let mut damaged = Vec::new();
    for block in candidates.chunks(BLOCK) {
        let top_now = top.as_ref();
        let outcomes: Vec<Outcome> = block
            .par_iter()
            .map(|r| match (bootstrapped(dir, r, monitor, &resamples), top_now) {
                (Outcome::Scored(scored), Some(top)) => Outcome::Judged(judged(&scored, top, monitor)),
                (outcome, _) => outcome,
            })
            .collect();
        if top.is_none() {
            top = outcomes.iter().find_map(|o| if let Outcome::Scored(s) = o { Some(s.clone()) } else { None });
        }
        for (r, outcome) in block.iter().zip(outcomes) {
            let judged = match (outcome, &top) {
                (Outcome::Judged(judged), _) => judged,
                (Outcome::Scored(scored), Some(top)) => judged(&scored, top, monitor),
                (Outcome::Damaged(why), _) => {
                    damaged.push(format!(
                        "{}: {why}; trial {} has no bootstrap interval (train it again: sweep trial SPEC --index {} --force)",
                        dir.trial_dir(&r.id).join(names::VALID_OUTPUTS).display(),
                        r.id,
                        r.index
                    ));
                    None
                }
                _ => None,
            };
            if let Some(uncertainty) = judged {
                out.insert(r.id.clone(), uncertainty);
            }
        }
    }
    (out, damaged)
}

/// Trials bootstrapped at once, in ranking order.
const BLOCK: usize = 512;

/// A trial's bootstrapped metric on every resample, and its validation targets (trials of
/// another fold have other targets).
#[derive(Clone)]
struct Scored {
    values: Vec<f64>,
    targets: Vec<f64>,
}

enum Outcome {
    /// No outputs, or a metric undefined on them: no interval.
    Nothing,
    Damaged(String),
    Scored(Scored),
    Judged(Option<Uncertainty>),
}

fn bootstrapped(dir: &SweepDir, r: &TrialRecord, monitor: &Monitor, resamples: &ResamplesByRows) -> Outcome {
    match checked_outputs(dir, r) {
        Err(why) => Outcome::Damaged(why),
        Ok(None) => Outcome::Nothing,
        Ok(Some(stored)) => {
            let scores = scores_of(&stored, r.task);
            match bootstrap::distribution(&scores, &monitor.metric, &resamples.of(scores.rows())) {
                Some(values) => Outcome::Scored(Scored { values, targets: stored.targets }),
                None => Outcome::Nothing,
            }
        }
    }
}

/// A trial's interval, and its tie with `top` where both were validated on the same rows.
fn judged(trial: &Scored, top: &Scored, monitor: &Monitor) -> Option<Uncertainty> {
    let (low, high) = bootstrap::percentile_interval(&trial.values, LEVEL)?;
    let (tied_with_top, top_better_share) = match top.targets == trial.targets {
        // The same validation rows in the same order: the resamples are the same rows too.
        true => {
            let share = bootstrap::share_better(&top.values, &trial.values, monitor);
            (Some(share < LEVEL), Some(share))
        }
        false => (None, None),
    };
    Some(Uncertainty { low, high, tied_with_top, top_better_share })
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

    /// What [`bootstrap_trials`] gives, computed the plain way: every trial's distribution at once,
    /// the top the first of them in ranking order.
    fn every_distribution_at_once(
        dir: &SweepDir,
        ranked: &[TrialRecord],
        monitor: &Monitor,
    ) -> (BTreeMap<String, Uncertainty>, usize) {
        let resamples = ResamplesByRows::new(200, 9);
        let (mut scored, mut damaged) = (Vec::new(), 0);
        for r in ranked.iter().filter(|r| r.status.has_model()) {
            match bootstrapped(dir, r, monitor, &resamples) {
                Outcome::Scored(s) => scored.push((r.id.clone(), s)),
                Outcome::Damaged(_) => damaged += 1,
                _ => {}
            }
        }
        let top = scored[0].1.clone();
        let judged = scored.iter().filter_map(|(id, s)| Some((id.clone(), judged(s, &top, monitor)?))).collect();
        (judged, damaged)
    }

    #[test]
    fn trials_bootstrapped_block_by_block_match_all_at_once_whichever_block_holds_the_top() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = SweepDir::new(tmp.path().to_path_buf());
        let monitor = Monitor::new("mcc", Goal::Maximize, 0.0);
        let mut rng = 7u64;
        let mut next = move || {
            rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (rng >> 33) as f32 / (1u64 << 31) as f32
        };
        // The first outputs come after more than a block of trials without any, then a damaged
        // file, and trials of another fold (other targets) that get intervals but no tie.
        let ranked: Vec<TrialRecord> = (0..BLOCK + 40)
            .map(|i| {
                let record = TrialRecord {
                    status: TrialStatus::Completed,
                    best_epoch: Some(1),
                    index: i,
                    ..TrialRecord::synthetic("s", &format!("t{i:04}-a"), monitor.clone())
                };
                let trial_dir = dir.trial_dir(&record.id);
                std::fs::create_dir_all(&trial_dir).unwrap();
                let rows = 30;
                let fold = if i % 7 == 0 { 0.0 } else { 1.0 };
                let targets: Vec<f32> = (0..rows).map(|r| ((r + i % 3) % 2) as f32 * fold).collect();
                let stored = StoredOutputs {
                    epoch: 1,
                    rows,
                    width: 2,
                    // The top predicts every row right; the others guess.
                    values: match i == BLOCK + 3 {
                        true => targets.iter().flat_map(|&t| [1.0 - t, t]).collect(),
                        false => (0..rows * 2).map(|_| next()).collect(),
                    },
                    targets: targets.iter().map(|&t| f64::from(t)).collect(),
                    scale: None,
                };
                let path = trial_dir.join(names::VALID_OUTPUTS);
                match i {
                    i if i < BLOCK + 3 => {}
                    i if i == BLOCK + 5 => std::fs::write(&path, b"damaged").unwrap(),
                    _ => std::fs::write(&path, encode_outputs(&stored)).unwrap(),
                }
                record
            })
            .collect();
        let (judged, damaged) = bootstrap_trials(&dir, &ranked, &monitor, 200, 9);
        let (want, want_damaged) = every_distribution_at_once(&dir, &ranked, &monitor);
        assert_eq!(judged, want);
        assert_eq!((damaged.len(), want_damaged), (1, 1), "{damaged:?}");
        assert!(damaged[0].contains(&format!("t{:04}-a", BLOCK + 5)), "{damaged:?}");
        let top = format!("t{:04}-a", BLOCK + 3);
        assert_eq!(judged[&top].tied_with_top, Some(true), "the top ties with itself");
        assert!(judged.values().any(|u| u.tied_with_top.is_none()), "another fold has no tie");
        assert!(judged.values().any(|u| u.tied_with_top == Some(false)), "some trial is beaten");
        assert_eq!(judged.len(), 36, "every trial with usable outputs");
    }

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
