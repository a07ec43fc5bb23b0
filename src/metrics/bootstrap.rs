//! Bootstrap confidence intervals of a validation metric, and paired bootstrap
//! comparisons between trials, from a trained model's stored validation outputs.
//!
//! Every trial of a sweep is scored on the same [`Resamples`], so the metric
//! of two trials on resample `i` is computed on the same rows and the
//! comparison is paired. [`RowScores`] reduces a model's outputs to per-row
//! facts once (softmax, argmax, per-row losses), so that each resample costs
//! one pass over its row indices: aggregation runs this for every trial at
//! 1000 resamples, where recomputing [`super::evaluate`] on copied rows would
//! dominate its time.
//!
//! On the identity row set every metric equals what [`super::evaluate`]
//! reports; the definitions are those of [`super::classification`] and
//! [`super::regression`], restated here on counts and per-row values.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::classification::{ConfusionMatrix, argmax_rows, cross_entropy, softmax_rows};
use super::{Monitor, Truth};

/// Resampled row sets shared by every trial of a sweep, so comparisons are paired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resamples {
    rows: usize,
    count: usize,
    /// `count × rows`, one resample after another.
    indices: Vec<u32>,
}

impl Resamples {
    /// `count` resamples of `rows` row indices drawn with replacement, fixed by `seed`.
    ///
    /// # Panics
    ///
    /// If `rows` does not fit in a `u32`.
    pub fn new(rows: usize, count: usize, seed: u64) -> Self {
        let n = u32::try_from(rows).expect("bootstrap: more rows than u32 indices hold");
        let len = rows.checked_mul(count).expect("bootstrap: rows × count overflows");
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let indices = if n == 0 { Vec::new() } else { (0..len).map(|_| rng.random_range(0..n)).collect() };
        Resamples { rows, count, indices }
    }

    /// How many resamples.
    pub fn count(&self) -> usize {
        self.count
    }

    /// Rows per resample: the rows of the data they were drawn from.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The row indices of resample `i`, each `< rows()`, with repetitions.
    ///
    /// # Panics
    ///
    /// If `i >= count()`.
    pub fn get(&self, i: usize) -> &[u32] {
        assert!(i < self.count, "bootstrap: resample {i} of {}", self.count);
        &self.indices[i * self.rows..(i + 1) * self.rows]
    }
}

/// Per-row facts of one model's outputs on the validation rows, enough to compute any
/// metric of its task on any resample without re-running softmax etc.
#[derive(Debug, Clone)]
pub struct RowScores {
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Classes {
        n_classes: usize,
        /// (true class, predicted class) per row.
        classes: Vec<[u32; 2]>,
        /// Cross entropy per row.
        loss: Vec<f64>,
        /// Binary only.
        ranking: Option<Ranking>,
    },
    Values {
        /// Truth in original units.
        truth: Vec<f64>,
        /// Squared and absolute errors in original units.
        sq: Vec<f64>,
        abs: Vec<f64>,
        /// Squared error in model units: `valid_loss` is the training loss.
        sq_model: Vec<f64>,
    },
}

/// Rows sorted once by positive-class probability, so a resample's AUROC is a
/// walk over multiplicities instead of a sort.
#[derive(Debug, Clone)]
struct Ranking {
    /// Each row's place in the order `auroc` sorts scores (`total_cmp`, stable).
    slot: Vec<u32>,
    /// 1 where the row in that place is of the positive class, else 0.
    positive: Vec<u32>,
    /// Ends (exclusive, in places) of the runs of equal scores whose members
    /// `auroc` gives one shared mean rank.
    group_ends: Vec<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Metric {
    ValidLoss,
    Accuracy,
    BalancedAccuracy,
    Precision,
    Recall,
    F1,
    Mcc,
    Auroc,
    Mse,
    Rmse,
    Mae,
    R2,
}

/// Buffers reused across resamples: a distribution would otherwise allocate
/// for every resample.
#[derive(Default)]
struct Scratch {
    counts: ConfusionMatrix,
    multiplicity: Vec<u32>,
}

impl RowScores {
    /// From outputs (rows × outputs_per_row, row-major, as `evaluate` takes) and the truth.
    ///
    /// # Panics
    ///
    /// If `outputs` does not hold `outputs_per_row` values for every row of
    /// `truth`, or a class label is not below `n_classes`.
    pub fn new(outputs: &[f32], truth: Truth<'_>) -> Self {
        assert_eq!(
            outputs.len(),
            truth.len() * truth.outputs_per_row(),
            "bootstrap: outputs are not rows × outputs_per_row"
        );
        let kind = match truth {
            Truth::Classes { labels, n_classes } => {
                let predicted = argmax_rows(outputs, n_classes);
                let classes = labels
                    .iter()
                    .zip(&predicted)
                    .map(|(&t, &p)| {
                        assert!(t < n_classes, "bootstrap: label {t} of {n_classes} classes");
                        [t as u32, p as u32]
                    })
                    .collect();
                // Through cross_entropy itself, so the per-row losses are bit
                // for bit the terms evaluate sums.
                let loss = outputs
                    .chunks(n_classes)
                    .zip(labels)
                    .map(|(row, y)| cross_entropy(row, std::slice::from_ref(y), n_classes))
                    .collect();
                let ranking = (n_classes == 2).then(|| {
                    let scores: Vec<f64> = softmax_rows(outputs, 2).chunks(2).map(|r| r[1]).collect();
                    let positive: Vec<bool> = labels.iter().map(|&y| y == 1).collect();
                    Ranking::new(&positive, &scores)
                });
                Kind::Classes { n_classes, classes, loss, ranking }
            }
            Truth::Values { values, scale } => {
                let mut sq = Vec::with_capacity(values.len());
                let mut abs = Vec::with_capacity(values.len());
                let mut sq_model = Vec::with_capacity(values.len());
                for (&z, &y) in outputs.iter().zip(values) {
                    let (z, t_model) = (z as f64, scale.to_model(y));
                    let e = scale.to_original(z) - y;
                    sq.push(e * e);
                    abs.push(e.abs());
                    sq_model.push((z - t_model) * (z - t_model));
                }
                Kind::Values { truth: values.to_vec(), sq, abs, sq_model }
            }
        };
        RowScores { kind }
    }

    /// Rows of the validation outputs.
    pub fn rows(&self) -> usize {
        match &self.kind {
            Kind::Classes { classes, .. } => classes.len(),
            Kind::Values { truth, .. } => truth.len(),
        }
    }

    /// The metric on the rows `rows` (with repetitions, a bootstrap resample); None for a
    /// metric not defined here (unknown name, train_loss, auroc on >2 classes or when a
    /// resample holds only one class).
    ///
    /// # Panics
    ///
    /// If a row index is not below [`RowScores::rows`].
    pub fn metric_on(&self, metric: &str, rows: &[u32]) -> Option<f64> {
        let metric = self.metric(metric)?;
        self.compute(metric, rows, &mut Scratch::default())
    }

    /// The metrics of this task, by name; `train_loss` is not computable from outputs.
    fn metric(&self, name: &str) -> Option<Metric> {
        let classes = matches!(self.kind, Kind::Classes { .. });
        let binary = matches!(self.kind, Kind::Classes { ranking: Some(_), .. });
        let m = match name {
            "valid_loss" => Metric::ValidLoss,
            "accuracy" if classes => Metric::Accuracy,
            "balanced_accuracy" if classes => Metric::BalancedAccuracy,
            "precision" if classes => Metric::Precision,
            "recall" if classes => Metric::Recall,
            "f1" if classes => Metric::F1,
            "mcc" if classes => Metric::Mcc,
            "auroc" if binary => Metric::Auroc,
            "mse" if !classes => Metric::Mse,
            "rmse" if !classes => Metric::Rmse,
            "mae" if !classes => Metric::Mae,
            "r2" if !classes => Metric::R2,
            _ => return None,
        };
        Some(m)
    }

    fn compute(&self, metric: Metric, rows: &[u32], scratch: &mut Scratch) -> Option<f64> {
        match &self.kind {
            Kind::Classes { n_classes, classes, loss, ranking } => match metric {
                Metric::ValidLoss => Some(mean(rows.iter().map(|&r| loss[r as usize]), rows.len())),
                Metric::Auroc => ranking.as_ref()?.auroc(rows, &mut scratch.multiplicity),
                _ => {
                    let cm = &mut scratch.counts;
                    cm.recount(
                        rows.iter().map(|&r| {
                            let [t, p] = classes[r as usize];
                            (t as usize, p as usize)
                        }),
                        *n_classes,
                    );
                    Some(match metric {
                        Metric::Accuracy => cm.accuracy(),
                        Metric::BalancedAccuracy => cm.balanced_accuracy(),
                        Metric::Precision => cm.precision(),
                        Metric::Recall => cm.recall(),
                        Metric::F1 => cm.f1(),
                        Metric::Mcc => cm.mcc(),
                        _ => return None,
                    })
                }
            },
            Kind::Values { truth, sq, abs, sq_model } => {
                let n = rows.len();
                let over = |v: &[f64]| mean(rows.iter().map(|&r| v[r as usize]), n);
                Some(match metric {
                    Metric::ValidLoss => over(sq_model),
                    Metric::Mse => over(sq),
                    Metric::Rmse => over(sq).sqrt(),
                    Metric::Mae => over(abs),
                    Metric::R2 => {
                        // regression::r2 on the resampled rows, term for term.
                        let mu = over(truth);
                        let ss_tot: f64 =
                            rows.iter().map(|&r| (truth[r as usize] - mu) * (truth[r as usize] - mu)).sum();
                        let ss_res: f64 = rows.iter().map(|&r| sq[r as usize]).sum();
                        if ss_tot == 0.0 { if ss_res == 0.0 { 1.0 } else { 0.0 } } else { 1.0 - ss_res / ss_tot }
                    }
                    _ => return None,
                })
            }
        }
    }
}

/// regression's `mean`: 0 for no rows.
fn mean(values: impl Iterator<Item = f64>, n: usize) -> f64 {
    if n == 0 { 0.0 } else { values.sum::<f64>() / n as f64 }
}

/// classification's `ratio`: 0, never NaN, on a zero denominator.
fn ratio(num: f64, den: f64) -> f64 {
    if den == 0.0 { 0.0 } else { num / den }
}

impl Ranking {
    fn new(positive: &[bool], scores: &[f64]) -> Self {
        let mut order: Vec<u32> = (0..scores.len() as u32).collect();
        order.sort_by(|&a, &b| scores[a as usize].total_cmp(&scores[b as usize]));
        let mut slot = vec![0; order.len()];
        for (place, &row) in order.iter().enumerate() {
            slot[row as usize] = place as u32;
        }
        // auroc extends a tie run while the next score == the run's first, so
        // NaN scores each stand alone, as here.
        let mut group_ends = Vec::new();
        let mut i = 0;
        while i < order.len() {
            let first = scores[order[i] as usize];
            let mut j = i + 1;
            while j < order.len() && scores[order[j] as usize] == first {
                j += 1;
            }
            group_ends.push(j as u32);
            i = j;
        }
        let positive = order.iter().map(|&r| u32::from(positive[r as usize])).collect();
        Ranking { slot, positive, group_ends }
    }

    /// `classification::auroc` on the resampled rows: copies of a row tie, so
    /// a tie run of the resample is a run here with each row counted as often
    /// as drawn. Twice the rank sum is an integer, summed exactly in integers,
    /// as auroc's float sum of half-integers also is: the results are equal,
    /// and the walk has no data-dependent branch for the CPU to mispredict.
    fn auroc(&self, rows: &[u32], multiplicity: &mut Vec<u32>) -> Option<f64> {
        multiplicity.clear();
        multiplicity.resize(self.slot.len(), 0);
        for &r in rows {
            multiplicity[self.slot[r as usize] as usize] += 1;
        }
        let (mut n_pos, mut position, mut start) = (0u64, 0u64, 0usize);
        // Σ over runs of positives × 2 × mean rank, a run at places i..=j
        // having mean rank (i + j) / 2 + 1; empty runs add 0.
        let mut twice_rank_sum_pos = 0u64;
        for &end in &self.group_ends {
            let (mut drawn, mut pos) = (0u64, 0u64);
            for (&m, &p) in multiplicity[start..end as usize].iter().zip(&self.positive[start..end as usize]) {
                drawn += u64::from(m);
                pos += u64::from(m * p);
            }
            start = end as usize;
            twice_rank_sum_pos += pos * (2 * position + drawn + 1);
            n_pos += pos;
            position += drawn;
        }
        let n_neg = rows.len() as u64 - n_pos;
        if n_pos == 0 || n_neg == 0 {
            return None;
        }
        let (p, n) = (n_pos as f64, n_neg as f64);
        Some((twice_rank_sum_pos as f64 / 2.0 - p * (p + 1.0) / 2.0) / (p * n))
    }
}

/// The metric on every resample (None when undefined on the full data). A
/// resample on which it is undefined (AUROC of a resample holding one class)
/// gives NaN, which [`percentile_interval`] skips and [`share_better`] counts
/// as never better.
///
/// # Panics
///
/// If `resamples` were drawn for a different number of rows than `scores` has.
pub fn distribution(scores: &RowScores, metric: &str, resamples: &Resamples) -> Option<Vec<f64>> {
    assert_eq!(resamples.rows(), scores.rows(), "bootstrap: resamples drawn for other rows");
    let metric = scores.metric(metric)?;
    let mut scratch = Scratch::default();
    let identity: Vec<u32> = (0..scores.rows() as u32).collect();
    scores.compute(metric, &identity, &mut scratch)?;
    Some(
        (0..resamples.count())
            .map(|i| scores.compute(metric, resamples.get(i), &mut scratch).unwrap_or(f64::NAN))
            .collect(),
    )
}

/// Percentile interval: the (1-level)/2 and (1+level)/2 quantiles of `values`, with
/// numpy.percentile's default linear interpolation; NaN values ignored; None if none left.
///
/// # Panics
///
/// If `level` is not within `[0, 1]`.
pub fn percentile_interval(values: &[f64], level: f64) -> Option<(f64, f64)> {
    assert!((0.0..=1.0).contains(&level), "bootstrap: interval level {level} outside [0, 1]");
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    if sorted.is_empty() {
        return None;
    }
    sorted.sort_by(f64::total_cmp);
    Some((quantile(&sorted, (1.0 - level) / 2.0), quantile(&sorted, (1.0 + level) / 2.0)))
}

/// numpy's "linear" method on sorted values, its lerp included (from the
/// upper neighbour when the fraction is ≥ ½), so results match to the last bit
/// where the quantile does.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    let last = sorted.len() - 1;
    let virtual_index = last as f64 * q;
    let below = (virtual_index.floor() as usize).min(last);
    let above = (below + 1).min(last);
    let t = virtual_index - below as f64;
    let (a, b) = (sorted[below], sorted[above]);
    let diff = b - a;
    if t >= 0.5 { b - diff * (1.0 - t) } else { a + diff * t }
}

/// Share of resamples in which `top` is strictly better than `other` by `monitor.better`
/// (pairs where either is non-finite count as not better). 0 for no resamples.
///
/// # Panics
///
/// If the two distributions differ in length, so cannot be paired.
pub fn share_better(top: &[f64], other: &[f64], monitor: &Monitor) -> f64 {
    assert_eq!(top.len(), other.len(), "bootstrap: distributions of different lengths");
    // Monitor::better ranks any finite value above a non-finite one; a
    // resample where either metric is undefined says nothing about which is better.
    let wins = top.iter().zip(other).filter(|&(&a, &b)| a.is_finite() && b.is_finite() && monitor.better(a, b)).count();
    ratio(wins as f64, top.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::super::{CLASSIFICATION_METRICS, Goal, REGRESSION_METRICS, TargetScale, evaluate};
    use super::*;

    /// Logits of a noisy classifier: the true class gets `signal` on top of
    /// uniform noise, so accuracy is well inside (0, 1).
    fn synthetic_classes(rows: usize, n_classes: usize, signal: f32, seed: u64) -> (Vec<f32>, Vec<usize>) {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let labels: Vec<usize> = (0..rows).map(|_| rng.random_range(0..n_classes)).collect();
        let mut logits = Vec::with_capacity(rows * n_classes);
        for &y in &labels {
            for k in 0..n_classes {
                let noise: f32 = rng.random_range(-1.0..1.0);
                logits.push(noise + if k == y { signal } else { 0.0 });
            }
        }
        (logits, labels)
    }

    fn assert_identity_matches_evaluate(outputs: &[f32], truth: Truth<'_>, names: &[&str]) {
        let scores = RowScores::new(outputs, truth);
        let identity: Vec<u32> = (0..scores.rows() as u32).collect();
        let expected = evaluate(outputs, truth);
        for &name in names.iter().filter(|m| **m != "train_loss") {
            let got = scores.metric_on(name, &identity);
            match expected.get(name) {
                Some(&want) => {
                    let got = got.unwrap_or_else(|| panic!("{name}: undefined, evaluate gives {want}"));
                    assert!((got - want).abs() <= 1e-12, "{name}: {got} vs evaluate's {want}");
                }
                None => assert_eq!(got, None, "{name}: evaluate leaves it out"),
            }
        }
        assert_eq!(scores.metric_on("train_loss", &identity), None);
        assert_eq!(scores.metric_on("no_such_metric", &identity), None);
    }

    #[test]
    fn identity_rows_reproduce_evaluate() {
        // Multi-class, with a class never true and ties in the logits (argmax takes the first).
        let (mut logits, labels) = synthetic_classes(60, 4, 0.8, 1);
        let labels: Vec<usize> = labels.iter().map(|&y| if y == 3 { 0 } else { y }).collect();
        logits[4..8].copy_from_slice(&[0.5, 0.5, 0.5, 0.5]);
        assert_identity_matches_evaluate(
            &logits,
            Truth::Classes { labels: &labels, n_classes: 4 },
            CLASSIFICATION_METRICS,
        );
        assert_eq!(
            RowScores::new(&logits, Truth::Classes { labels: &labels, n_classes: 4 }).metric_on("auroc", &[0, 1]),
            None
        );

        // Binary, with tied scores so AUROC's mean ranks are exercised.
        let (mut logits, labels) = synthetic_classes(80, 2, 0.7, 2);
        for r in 0..10 {
            logits[2 * r..2 * r + 2].copy_from_slice(&[0.0, 0.25]);
        }
        let truth = Truth::Classes { labels: &labels, n_classes: 2 };
        assert_identity_matches_evaluate(&logits, truth, CLASSIFICATION_METRICS);
        assert!(evaluate(&logits, truth).contains_key("auroc"));

        // Regression in standardized units.
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let values: Vec<f64> = (0..50).map(|_| rng.random_range(50.0..150.0)).collect();
        let scale = TargetScale { mean: 100.0, std: 25.0 };
        let predicted: Vec<f32> =
            values.iter().map(|&y| (scale.to_model(y) + rng.random_range(-0.3..0.3)) as f32).collect();
        assert_identity_matches_evaluate(&predicted, Truth::Values { values: &values, scale }, REGRESSION_METRICS);
        let scores = RowScores::new(&predicted, Truth::Values { values: &values, scale });
        assert_eq!(scores.metric_on("accuracy", &[0]), None);
        assert_eq!(scores.metric_on("auroc", &[0]), None);
    }

    #[test]
    fn resampled_rows_equal_evaluate_on_copied_rows() {
        // A resample is the data with rows repeated: evaluate on that copy is the reference.
        let (mut logits, labels) = synthetic_classes(40, 2, 0.6, 4);
        // Ties between distinct rows as well as between copies of one row.
        for r in 0..8 {
            logits[2 * r..2 * r + 2].copy_from_slice(&[0.0, 0.25]);
        }
        let rows: Vec<u32> = Resamples::new(40, 1, 9).get(0).to_vec();
        let copied_logits: Vec<f32> =
            rows.iter().flat_map(|&r| logits[2 * r as usize..2 * r as usize + 2].to_vec()).collect();
        let copied_labels: Vec<usize> = rows.iter().map(|&r| labels[r as usize]).collect();
        let scores = RowScores::new(&logits, Truth::Classes { labels: &labels, n_classes: 2 });
        let expected = evaluate(&copied_logits, Truth::Classes { labels: &copied_labels, n_classes: 2 });
        for (name, want) in &expected {
            let got = scores.metric_on(name, &rows).unwrap();
            assert!((got - want).abs() <= 1e-12, "{name}: {got} vs {want}");
        }

        let values = [3.0, 3.0, 3.0, 5.0];
        let predicted = [3.0f32, 4.0, 3.0, 5.0];
        let scores = RowScores::new(&predicted, Truth::Values { values: &values, scale: TargetScale::IDENTITY });
        // Only the constant-target rows, hit exactly → 1; one missed → 0.
        assert_eq!(scores.metric_on("r2", &[0, 2, 2]), Some(1.0));
        assert_eq!(scores.metric_on("r2", &[0, 1, 2]), Some(0.0));
    }

    #[test]
    fn resamples_are_fixed_by_their_seed() {
        let a = Resamples::new(37, 20, 7);
        assert_eq!(a, Resamples::new(37, 20, 7));
        assert_ne!(a, Resamples::new(37, 20, 8));
        assert_eq!((a.count(), a.rows()), (20, 37));
        assert!((0..a.count()).all(|i| a.get(i).len() == 37 && a.get(i).iter().all(|&r| r < 37)));
        // Drawn with replacement: some row repeats within a resample.
        let mut first = a.get(0).to_vec();
        first.sort_unstable();
        first.dedup();
        assert!(first.len() < 37);
        assert_eq!(Resamples::new(0, 5, 7).get(4), &[] as &[u32]);
    }

    #[test]
    fn percentile_interval_matches_numpy() {
        let close = |a: f64, b: f64| (a - b).abs() < 1e-12;
        // numpy.percentile(range(1, 11), [5, 95]) == [1.45, 9.55]
        let values: Vec<f64> = (1..=10).map(f64::from).collect();
        let (lo, hi) = percentile_interval(&values, 0.9).unwrap();
        assert!(close(lo, 1.45) && close(hi, 9.55), "{lo} {hi}");
        // numpy.nanpercentile([4, nan, 1, 3, 2], [25, 75]) == [1.75, 3.25]
        let (lo, hi) = percentile_interval(&[4.0, f64::NAN, 1.0, 3.0, 2.0], 0.5).unwrap();
        assert!(close(lo, 1.75) && close(hi, 3.25), "{lo} {hi}");
        // numpy.percentile([0, 10], [2.5, 97.5]) == [0.25, 9.75]
        let (lo, hi) = percentile_interval(&[10.0, 0.0], 0.95).unwrap();
        assert!(close(lo, 0.25) && close(hi, 9.75), "{lo} {hi}");
        assert_eq!(percentile_interval(&[2.0], 0.95), Some((2.0, 2.0)));
        assert_eq!(percentile_interval(&[1.0, 5.0], 1.0), Some((1.0, 5.0)));
        assert_eq!(percentile_interval(&[f64::NAN], 0.9), None);
        assert_eq!(percentile_interval(&[], 0.9), None);
    }

    #[test]
    fn share_better_counts_strict_wins_only() {
        let max = Monitor::new("mcc", Goal::Maximize, 0.0);
        let min = Monitor::new("valid_loss", Goal::Minimize, 0.0);
        let top = [0.9, 0.5, 0.7, f64::NAN, 0.6, 0.8];
        let other = [0.8, 0.5, 0.9, 0.1, f64::NAN, f64::INFINITY];
        // Maximize: only pair 0 wins; pair 1 ties; pairs 3–5 hold a non-finite value.
        assert_eq!(share_better(&top, &other, &max), 1.0 / 6.0);
        // Minimize: only pair 2 wins.
        assert_eq!(share_better(&top, &other, &min), 1.0 / 6.0);
        assert_eq!(share_better(&[1.0, 2.0, 3.0, 4.0], &[0.0, 2.0, 2.0, 5.0], &max), 0.5);
        assert_eq!(share_better(&[1.0, 2.0, 3.0, 4.0], &[0.0, 2.0, 2.0, 5.0], &min), 0.25);
        assert_eq!(share_better(&[], &[], &max), 0.0);
    }

    #[test]
    fn intervals_hold_the_full_value_and_narrow_with_rows() {
        let width = |rows: usize, metric: &str| {
            let (logits, labels) = synthetic_classes(rows, 3, 1.0, rows as u64);
            let truth = Truth::Classes { labels: &labels, n_classes: 3 };
            let scores = RowScores::new(&logits, truth);
            let full = evaluate(&logits, truth)[metric];
            let values = distribution(&scores, metric, &Resamples::new(rows, 500, 11)).unwrap();
            assert_eq!(values.len(), 500);
            let (lo, hi) = percentile_interval(&values, 0.95).unwrap();
            assert!(lo <= full && full <= hi, "{metric} at {rows} rows: {full} outside [{lo}, {hi}]");
            hi - lo
        };
        for metric in ["accuracy", "mcc", "valid_loss", "f1"] {
            let (small, large) = (width(100, metric), width(1600, metric));
            // 16× the rows: about a quarter of the width.
            assert!(large < small / 2.0, "{metric}: {small} → {large}");
        }
    }

    #[test]
    fn distribution_is_none_only_where_the_full_data_leave_it_undefined() {
        let (logits, labels) = synthetic_classes(30, 3, 1.0, 5);
        let scores = RowScores::new(&logits, Truth::Classes { labels: &labels, n_classes: 3 });
        let resamples = Resamples::new(30, 10, 1);
        assert!(distribution(&scores, "auroc", &resamples).is_none());
        assert!(distribution(&scores, "train_loss", &resamples).is_none());
        assert_eq!(distribution(&scores, "mcc", &resamples).unwrap().len(), 10);

        // Binary with one positive row: most resamples miss it, and give NaN.
        let logits = [0.0f32, 1.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0];
        let labels = [1, 0, 0, 0, 0];
        let scores = RowScores::new(&logits, Truth::Classes { labels: &labels, n_classes: 2 });
        let values = distribution(&scores, "auroc", &Resamples::new(5, 200, 3)).unwrap();
        assert!(values.iter().any(|v| v.is_nan()));
        assert!(values.iter().filter(|v| !v.is_nan()).all(|&v| v == 1.0));
    }

    /// Aggregation's load: `cargo test --release --lib metrics::bootstrap -- --ignored --nocapture`.
    #[test]
    #[ignore = "measurement, prints timings"]
    fn measure_cost_of_a_sweep() {
        let (rows, trials, count) = (359, 40, 1000);
        let resamples = Resamples::new(rows, count, 42);
        for (n_classes, metric) in [(10, "mcc"), (10, "f1"), (10, "valid_loss"), (2, "auroc")] {
            let models: Vec<(Vec<f32>, Vec<usize>)> =
                (0..trials).map(|t| synthetic_classes(rows, n_classes, 1.0, t as u64)).collect();
            let start = std::time::Instant::now();
            let mut total = 0.0;
            for (logits, labels) in &models {
                let scores = RowScores::new(logits, Truth::Classes { labels, n_classes });
                let values = distribution(&scores, metric, &resamples).unwrap();
                total += percentile_interval(&values, 0.95).unwrap().0;
            }
            let elapsed = start.elapsed();
            println!(
                "{count} resamples × {trials} trials × {rows} rows × {n_classes} classes, {metric}: {elapsed:?} (checksum {total:.3})"
            );
        }
    }
}
