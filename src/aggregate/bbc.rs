//! The bootstrap bias-corrected cross-validation estimate (BBC-CV,
//! Tsamardinos, Greasidou & Borboudakis, 2018) of the configuration a
//! cross-validation picks. The winner's mean over its folds is optimistic:
//! it is the maximum of many noisy means. BBC-CV pools every
//! configuration's out-of-fold outputs, and on each bootstrap resample of
//! the rows picks the best configuration on the rows drawn and scores it on
//! the rows left out; the mean of those scores, and their 95 % interval,
//! estimate what the act of choosing delivers. Nothing is retrained.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::Leaderboard;
use super::uncertainty::{LEVEL, scores_of, stored_outputs};
use crate::metrics::bootstrap::{self, Resamples, percentile_interval};
use crate::metrics::{Goal, RowScores, Rows, Scratch};
use crate::store::{StoredOutputs, SweepDir};

/// The estimate, as the registry and `leaderboard_by_config.csv` show it (`bbc_<metric>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Bbc {
    /// The monitored metric it estimates.
    pub metric: String,
    /// Mean over the resamples of the picked configuration's out-of-bag score.
    pub mean: f64,
    /// The 95 % percentile interval of those scores.
    pub low: f64,
    /// Its upper end.
    pub high: f64,
    /// Bootstrap resamples.
    pub resamples: usize,
    /// Configurations pooled (those with outputs from every fold).
    pub configurations: usize,
    /// Pooled out-of-fold rows.
    pub rows: usize,
}

/// BBC-CV of a cross-validated leaderboard with `count` resamples from
/// `seed`; `None` without folds, without resamples, or with fewer than two
/// configurations whose every fold kept its outputs.
pub(crate) fn bbc_cv(dir: &SweepDir, board: &Leaderboard, count: usize, seed: u64) -> Option<Bbc> {
    let folds = board.cv_folds?;
    if count == 0 {
        return None;
    }
    let mut configs: Vec<usize> = board.rows.iter().map(|r| r.config).collect();
    configs.sort_unstable();
    configs.dedup();
    // Per configuration: its folds' outputs in fold order, pooled; configurations missing a fold are left out.
    let pooled: Vec<StoredOutputs> = configs
        .par_iter()
        .filter_map(|&config| {
            let mut parts: Vec<(usize, StoredOutputs)> = board
                .rows
                .iter()
                .filter(|r| r.config == config && r.status.has_model())
                .map(|r| stored_outputs(dir, r).map(|s| (r.repeat, s)))
                .collect::<Option<_>>()?;
            parts.sort_by_key(|(fold, _)| *fold);
            if parts.len() != folds || parts.iter().enumerate().any(|(i, (fold, _))| *fold != i) {
                return None;
            }
            let mut all = parts[0].1.clone();
            for (_, p) in &parts[1..] {
                if p.width != all.width || p.scale != all.scale {
                    return None;
                }
                all.values.extend_from_slice(&p.values);
                all.targets.extend_from_slice(&p.targets);
                all.rows += p.rows;
            }
            Some(all)
        })
        .collect();
    // Every configuration must have been validated on the same rows in the same order.
    let first = pooled.first()?;
    let pooled: Vec<&StoredOutputs> = pooled.iter().filter(|p| p.targets == first.targets).collect();
    let scores: Vec<RowScores> = pooled.iter().map(|p| scores_of(p, board.task)).collect();
    let (mean, low, high) = estimate(&scores, &board.monitor.metric, board.monitor.goal, count, seed)?;
    Some(Bbc {
        metric: board.monitor.metric.clone(),
        mean,
        low,
        high,
        resamples: count,
        configurations: scores.len(),
        rows: first.rows,
    })
}

/// The pure core: `configs` are the configurations' pooled out-of-fold
/// scores on the same rows. On each of `count` resamples (drawn from `seed`)
/// the configuration best on the rows drawn is scored on the rows left out.
/// Returns the mean score and its 95 % interval; `None` with fewer than two
/// configurations or a metric the task lacks.
pub(crate) fn estimate(
    configs: &[RowScores],
    metric: &str,
    goal: Goal,
    count: usize,
    seed: u64,
) -> Option<(f64, f64, f64)> {
    let first = configs.first()?;
    if configs.len() < 2 {
        return None;
    }
    let rows = first.rows();
    let compute = crate::metrics::table::lookup(first.task(), metric)?.compute;
    let resamples = Resamples::new(rows, count, seed);
    // Each configuration's metric on every in-bag resample, as the bootstrap of the leaderboard
    // scores them (None: undefined on these rows, so on every resample of them).
    let scored_in_bag: Vec<Option<Vec<f64>>> =
        configs.par_iter().map(|scores| bootstrap::distribution(scores, metric, &resamples)).collect();
    let better = |a: f64, b: f64| match goal {
        Goal::Maximize => a > b,
        Goal::Minimize => a < b,
    };
    let values: Vec<f64> = (0..count)
        .into_par_iter()
        .map_init(Scratch::default, |scratch, i| {
            let in_bag = resamples.get(i);
            let mut drawn = vec![false; rows];
            for &r in in_bag {
                drawn[r as usize] = true;
            }
            let out_of_bag: Vec<u32> = (0..rows as u32).filter(|r| !drawn[*r as usize]).collect();
            if out_of_bag.is_empty() {
                return f64::NAN;
            }
            // The first best wins ties, so the pick does not depend on float noise in the order.
            let mut best: Option<(usize, f64)> = None;
            for (c, values) in scored_in_bag.iter().enumerate() {
                let Some(v) = values.as_ref().map(|values| values[i]).filter(|v| v.is_finite()) else {
                    continue;
                };
                if best.is_none_or(|(_, b)| better(v, b)) {
                    best = Some((c, v));
                }
            }
            best.and_then(|(c, _)| compute(&configs[c], Rows::new(&out_of_bag), scratch)).unwrap_or(f64::NAN)
        })
        .collect();
    let kept: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    if kept.is_empty() {
        return None;
    }
    let mean = kept.iter().sum::<f64>() / kept.len() as f64;
    let (low, high) = percentile_interval(&kept, LEVEL)?;
    Some((mean, low, high))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Truth;
    use rand::{Rng, SeedableRng};

    /// Binary logits that predict `labels` right on a `skill` share of rows, drawn from `rng`.
    fn config(labels: &[usize], skill: f64, rng: &mut rand_chacha::ChaCha8Rng) -> RowScores {
        let mut logits = Vec::new();
        for &y in labels {
            let right = rng.random_bool(skill);
            let predicted = if right { y } else { 1 - y };
            logits.extend(if predicted == 1 { [0.0f32, 1.0] } else { [1.0, 0.0] });
        }
        RowScores::new(&logits, Truth::Classes { labels, n_classes: 2 })
    }

    #[test]
    fn corrects_the_winners_optimism_among_equal_configurations() {
        // 40 configurations that are all coins (accuracy 0.5 on any new rows): the best of their
        // pooled accuracies is far above 0.5 by luck, but choosing among them delivers 0.5.
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let labels: Vec<usize> = (0..300).map(|_| rng.random_range(0..2)).collect();
        let configs: Vec<RowScores> = (0..40).map(|_| config(&labels, 0.5, &mut rng)).collect();
        let all: Vec<u32> = (0..300).collect();
        let naive = configs.iter().map(|c| c.metric_on("accuracy", &all).unwrap()).fold(f64::MIN, f64::max);
        let (mean, low, high) = estimate(&configs, "accuracy", Goal::Maximize, 500, 1).unwrap();
        assert!(naive > 0.55, "the winner looks better than a coin: {naive}");
        assert!((mean - 0.5).abs() < 0.02, "BBC-CV sees the coin: {mean} (naive {naive})");
        assert!(low < 0.5 && 0.5 < high, "[{low}, {high}]");
        assert!(mean < naive - 0.03, "the correction is visible: {mean} against {naive}");
    }

    #[test]
    fn a_clearly_better_configuration_keeps_its_score() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let labels: Vec<usize> = (0..400).map(|_| rng.random_range(0..2)).collect();
        let mut configs: Vec<RowScores> = (0..5).map(|_| config(&labels, 0.6, &mut rng)).collect();
        configs.push(config(&labels, 0.9, &mut rng));
        let all: Vec<u32> = (0..400).collect();
        let own = configs[5].metric_on("accuracy", &all).unwrap();
        let (mean, ..) = estimate(&configs, "accuracy", Goal::Maximize, 300, 2).unwrap();
        assert!((mean - own).abs() < 0.02, "{mean} vs {own}");
        // A minimized metric picks the smallest: log loss of the same outputs.
        let (loss, ..) = estimate(&configs, "log_loss", Goal::Minimize, 300, 2).unwrap();
        assert!((loss - configs[5].metric_on("log_loss", &all).unwrap()).abs() < 0.05, "{loss}");
        assert_eq!(estimate(&configs[..1], "accuracy", Goal::Maximize, 10, 1), None, "one configuration is no choice");
        assert_eq!(
            estimate(&configs, "accuracy", Goal::Maximize, 50, 9),
            estimate(&configs, "accuracy", Goal::Maximize, 50, 9),
            "the same seed, the same estimate"
        );
    }
}
