//! Bootstrap confidence intervals of a validation metric, and paired bootstrap
//! comparisons between trials, from a trained model's stored validation outputs.
//!
//! Every trial of a sweep is scored on the same [`Resamples`], so the metric
//! of two trials on resample `i` is computed on the same rows and the
//! comparison is paired. A metric on a resample is the metric table's one
//! implementation on the resample's row indices, over the [`RowScores`]
//! computed once per trial, so each resample costs one pass over its rows:
//! aggregation runs this for every trial at 1000 resamples, where recomputing
//! [`super::evaluate`] on copied rows would dominate its time. On the identity
//! row set every metric is what [`super::evaluate`] reports.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::rows::{RowScores, Rows, Scratch, ratio};
use super::{Monitor, table};

/// Resampled row sets shared by every trial of a sweep, so comparisons are paired.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resamples {
    rows: usize,
    count: usize,
    /// `count × rows`, one resample after another.
    indices: Vec<u32>,
    /// `count × rows`: how often each row is drawn into each resample; empty where a row is
    /// drawn more than 255 times into one (then the metrics gather through the indices).
    counts: Vec<u8>,
    /// `rows × count`: the same counts row after row, as metrics that score every resample at
    /// once read them; empty where `counts` is.
    counts_by_row: Vec<u8>,
}

impl Resamples {
    /// `count` resamples of `rows` row indices drawn with replacement, fixed by `seed`.
    ///
    /// # Panics
    ///
    /// If `rows` does not fit in a `u32`.
    pub(crate) fn new(rows: usize, count: usize, seed: u64) -> Self {
        let n = u32::try_from(rows).expect("bootstrap: more rows than u32 indices hold");
        let len = rows.checked_mul(count).expect("bootstrap: rows × count overflows");
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let indices: Vec<u32> = if n == 0 { Vec::new() } else { (0..len).map(|_| rng.random_range(0..n)).collect() };
        let counts = counts_of(&indices, rows).unwrap_or_default();
        let counts_by_row = by_row(&counts, rows, count);
        Resamples { rows, count, indices, counts, counts_by_row }
    }

    /// How many resamples.
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// Rows per resample: the rows of the data they were drawn from.
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// The row indices of resample `i`, each `< rows()`, with repetitions.
    ///
    /// # Panics
    ///
    /// If `i >= count()`.
    pub(crate) fn get(&self, i: usize) -> &[u32] {
        assert!(i < self.count, "bootstrap: resample {i} of {}", self.count);
        &self.indices[i * self.rows..(i + 1) * self.rows]
    }

    /// Resample `i` as the rows a metric is computed on, with how often each row is drawn.
    ///
    /// # Panics
    ///
    /// If `i >= count()`.
    pub(crate) fn rows_of(&self, i: usize) -> Rows<'_> {
        let indices = self.get(i);
        if self.counts.is_empty() {
            return Rows::new(indices);
        }
        Rows::with_counts(indices, &self.counts[i * self.rows..(i + 1) * self.rows])
    }
}

/// `counts` (`count × rows`, resample after resample) transposed to row after row.
fn by_row(counts: &[u8], rows: usize, count: usize) -> Vec<u8> {
    if counts.is_empty() {
        return Vec::new();
    }
    let mut transposed = vec![0u8; counts.len()];
    for (i, resample) in counts.chunks(rows).enumerate() {
        for (r, &n) in resample.iter().enumerate() {
            transposed[r * count + i] = n;
        }
    }
    transposed
}

/// How often each row occurs in each resample of `indices` (resamples of `rows` indices each,
/// one after another); None where a row occurs more than 255 times in one.
fn counts_of(indices: &[u32], rows: usize) -> Option<Vec<u8>> {
    let mut counts = vec![0u8; indices.len()];
    if rows == 0 {
        return Some(counts);
    }
    for (drawn, counts) in indices.chunks(rows).zip(counts.chunks_mut(rows)) {
        for &r in drawn {
            let c = &mut counts[r as usize];
            *c = c.checked_add(1)?;
        }
    }
    Some(counts)
}

/// The metric on every resample (None when undefined on the full data). A
/// resample on which it is undefined (AUROC of a resample holding one class)
/// gives NaN, which [`percentile_interval`] skips and [`share_better`] counts
/// as never better.
///
/// # Panics
///
/// If `resamples` were drawn for a different number of rows than `scores` has.
pub(crate) fn distribution(scores: &RowScores, metric: &str, resamples: &Resamples) -> Option<Vec<f64>> {
    assert_eq!(resamples.rows(), scores.rows(), "bootstrap: resamples drawn for other rows");
    let def = table::lookup(scores.task(), metric)?;
    let compute = def.compute;
    let mut scratch = Scratch::default();
    let identity: Vec<u32> = (0..scores.rows() as u32).collect();
    compute(scores, Rows::new(&identity), &mut scratch)?;
    if let (Some(of_matrix), Some(classes)) = (def.of_confusion, scores.class_rows())
        && !resamples.counts_by_row.is_empty()
        && let Some(values) =
            super::confusion::on_every_resample(classes, &resamples.counts_by_row, resamples.count(), of_matrix)
    {
        return Some(values);
    }
    Some(
        (0..resamples.count())
            .map(|i| compute(scores, resamples.rows_of(i), &mut scratch).unwrap_or(f64::NAN))
            .collect(),
    )
}

/// Percentile interval: the (1-level)/2 and (1+level)/2 quantiles of `values`, with
/// numpy.percentile's default linear interpolation; NaN values ignored; None if none left.
///
/// # Panics
///
/// If `level` is not within `[0, 1]`.
pub(crate) fn percentile_interval(values: &[f64], level: f64) -> Option<(f64, f64)> {
    assert!((0.0..=1.0).contains(&level), "bootstrap: interval level {level} outside [0, 1]");
    let mut values: Vec<f64> = values.iter().copied().filter(|v| !v.is_nan()).collect();
    if values.is_empty() {
        return None;
    }
    Some((quantile(&mut values, (1.0 - level) / 2.0), quantile(&mut values, (1.0 + level) / 2.0)))
}

/// numpy's "linear" method, its lerp included (from the upper neighbour when
/// the fraction is ≥ ½), so results match to the last bit where the quantile
/// does. Selects the two neighbouring order statistics instead of sorting:
/// aggregation takes two quantiles of 1000 values for every trial. Reorders `values`.
fn quantile(values: &mut [f64], q: f64) -> f64 {
    let last = values.len() - 1;
    let virtual_index = last as f64 * q;
    let below = (virtual_index.floor() as usize).min(last);
    let t = virtual_index - below as f64;
    let (_, &mut a, greater) = values.select_nth_unstable_by(below, f64::total_cmp);
    // The next order statistic is the least of the values above `a` (itself where there is none).
    let b = greater.iter().copied().min_by(f64::total_cmp).unwrap_or(a);
    let diff = b - a;
    if t >= 0.5 { b - diff * (1.0 - t) } else { a + diff * t }
}

/// Share of resamples in which `top` is strictly better than `other` by `monitor.better`
/// (pairs where either is non-finite count as not better). 0 for no resamples.
///
/// # Panics
///
/// If the two distributions differ in length, so cannot be paired.
pub(crate) fn share_better(top: &[f64], other: &[f64], monitor: &Monitor) -> f64 {
    assert_eq!(top.len(), other.len(), "bootstrap: distributions of different lengths");
    // Monitor::better ranks any finite value above a non-finite one; a
    // resample where either metric is undefined says nothing about which is better.
    let wins = top.iter().zip(other).filter(|&(&a, &b)| a.is_finite() && b.is_finite() && monitor.better(a, b)).count();
    ratio(wins as f64, top.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::super::{Goal, Needs, TargetScale, Truth, evaluate};
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

    /// Every metric of the table on `rows` of the facts equals evaluate on a
    /// copy of those rows, bit for bit (or both leave it undefined).
    fn assert_rows_match_evaluate_on_copies(outputs: &[f32], truth: Truth<'_>, rows: &[u32]) {
        let width = truth.outputs_per_row();
        let copied: Vec<f32> =
            rows.iter().flat_map(|&r| outputs[r as usize * width..(r as usize + 1) * width].to_vec()).collect();
        let expected = match truth {
            Truth::Classes { labels, n_classes } => {
                let labels: Vec<usize> = rows.iter().map(|&r| labels[r as usize]).collect();
                evaluate(&copied, Truth::Classes { labels: &labels, n_classes })
            }
            Truth::Values { values, scale } => {
                let values: Vec<f64> = rows.iter().map(|&r| values[r as usize]).collect();
                evaluate(&copied, Truth::Values { values: &values, scale })
            }
        };
        let scores = RowScores::new(outputs, truth);
        let mut checked = 0;
        let mut counts = vec![0u8; scores.rows()];
        rows.iter().for_each(|&r| counts[r as usize] += 1);
        for def in table::of_task(scores.task()) {
            let got = scores.metric_on(def.name, rows);
            // The same metric counted from how often each row is drawn, as the bootstrap does.
            let from_counts = (def.compute)(&scores, Rows::with_counts(rows, &counts), &mut Scratch::default());
            assert_eq!(got.map(f64::to_bits), from_counts.map(f64::to_bits), "{}: from the counts", def.name);
            match (def.needs, expected.get(def.name)) {
                (Needs::TrainingLoss, _) => assert_eq!(got, None, "{}", def.name),
                (_, Some(&want)) => {
                    let got = got.unwrap_or_else(|| panic!("{}: undefined, evaluate gives {want}", def.name));
                    // The same terms in the same order: equal to the last bit.
                    assert_eq!(got, want, "{}", def.name);
                    checked += 1;
                }
                (_, None) => assert_eq!(got, None, "{}: evaluate leaves it out", def.name),
            }
        }
        assert!(checked >= 5, "only {checked} metrics defined");
        assert_eq!(scores.metric_on("no_such_metric", rows), None);
    }

    /// Inputs of every kind: multi-class with a class never true and ties in
    /// the logits, binary with tied scores, regression in standardized units.
    /// Outputs, labels (classification) or values (regression), and the classes (None: regression).
    type Case = (Vec<f32>, Vec<usize>, Vec<f64>, Option<usize>);

    fn every_kind() -> Vec<Case> {
        let (mut multi, multi_labels) = synthetic_classes(60, 4, 0.8, 1);
        let multi_labels: Vec<usize> = multi_labels.iter().map(|&y| if y == 3 { 0 } else { y }).collect();
        multi[4..8].copy_from_slice(&[0.5, 0.5, 0.5, 0.5]);
        let (all_present, all_labels) = synthetic_classes(60, 3, 0.8, 6);
        let (mut binary, binary_labels) = synthetic_classes(80, 2, 0.7, 2);
        for r in 0..10 {
            binary[2 * r..2 * r + 2].copy_from_slice(&[0.0, 0.25]);
        }
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        let values: Vec<f64> = (0..50).map(|_| rng.random_range(50.0..150.0)).collect();
        let predicted: Vec<f32> =
            values.iter().map(|&y| (SCALE.to_model(y) + rng.random_range(-0.3..0.3)) as f32).collect();
        vec![
            (multi, multi_labels, Vec::new(), Some(4)),
            (all_present, all_labels, Vec::new(), Some(3)),
            (binary, binary_labels, Vec::new(), Some(2)),
            (predicted, Vec::new(), values, None),
        ]
    }

    const SCALE: TargetScale = TargetScale { mean: 100.0, std: 25.0 };

    fn truth_of<'a>(labels: &'a [usize], values: &'a [f64], n_classes: Option<usize>) -> Truth<'a> {
        match n_classes {
            Some(n_classes) => Truth::Classes { labels, n_classes },
            None => Truth::Values { values, scale: SCALE },
        }
    }

    #[test]
    fn identity_rows_reproduce_evaluate_for_every_metric_of_the_table() {
        for (outputs, labels, values, n_classes) in every_kind() {
            let truth = truth_of(&labels, &values, n_classes);
            let identity: Vec<u32> = (0..truth.len() as u32).collect();
            assert_rows_match_evaluate_on_copies(&outputs, truth, &identity);
            // The bootstrap's own path: a distribution is defined exactly where evaluate reports the metric.
            let scores = RowScores::new(&outputs, truth);
            let full = evaluate(&outputs, truth);
            for def in table::of_task(scores.task()) {
                let defined = distribution(&scores, def.name, &Resamples::new(truth.len(), 3, 1)).is_some();
                assert_eq!(defined, full.contains_key(def.name), "{}", def.name);
            }
        }
    }

    #[test]
    fn resampled_rows_equal_evaluate_on_copied_rows() {
        // A resample is the data with rows repeated: evaluate on that copy is the reference.
        for (outputs, labels, values, n_classes) in every_kind() {
            let truth = truth_of(&labels, &values, n_classes);
            for seed in [9, 10] {
                let rows: Vec<u32> = Resamples::new(truth.len(), 1, seed).get(0).to_vec();
                assert_rows_match_evaluate_on_copies(&outputs, truth, &rows);
            }
        }
        let (logits, labels) = synthetic_classes(40, 3, 0.6, 4);
        let truth = Truth::Classes { labels: &labels, n_classes: 3 };
        let without_class_2: Vec<u32> = (0..40).filter(|&r| labels[r as usize] != 2).cycle().take(40).collect();
        assert_rows_match_evaluate_on_copies(&logits, truth, &without_class_2);
        assert_eq!(RowScores::new(&logits, truth).metric_on("auroc", &without_class_2), None);

        let values = [3.0, 3.0, 3.0, 5.0];
        let predicted = [3.0f32, 4.0, 3.0, 5.0];
        let scores = RowScores::new(&predicted, Truth::Values { values: &values, scale: TargetScale::IDENTITY });
        // Only the constant-target rows, hit exactly → 1; one missed → 0.
        assert_eq!(scores.metric_on("r2", &[0, 2, 2]), Some(1.0));
        assert_eq!(scores.metric_on("r2", &[0, 1, 2]), Some(0.0));
        assert_eq!(scores.metric_on("accuracy", &[0]), None);
        assert_eq!(scores.metric_on("auroc", &[0]), None);
    }

    #[test]
    fn metrics_of_the_matrix_on_every_resample_at_once_equal_each_resample_counted_alone() {
        let mut cases: Vec<(Vec<f32>, Vec<usize>, usize)> = every_kind()
            .into_iter()
            .filter_map(|(outputs, labels, _, n_classes)| Some((outputs, labels, n_classes?)))
            .collect();
        // A classifier that predicts one class only: every cell but one column is empty.
        cases.push(([0.0, 1.0].repeat(30), (0..30).map(|r| r % 2).collect(), 2));
        for (outputs, labels, n_classes) in cases {
            let scores = RowScores::new(&outputs, Truth::Classes { labels: &labels, n_classes });
            // 300 resamples: a run of 256 and the rest.
            let resamples = Resamples::new(labels.len(), 300, 4);
            let mut matrix_metrics = 0;
            for def in table::of_task(scores.task()).filter(|d| d.of_confusion.is_some()) {
                let at_once = distribution(&scores, def.name, &resamples).unwrap();
                let mut scratch = Scratch::default();
                let alone: Vec<f64> = (0..resamples.count())
                    .map(|i| (def.compute)(&scores, Rows::new(resamples.get(i)), &mut scratch).unwrap())
                    .collect();
                let bits = |v: &[f64]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&at_once), bits(&alone), "{} of {n_classes} classes", def.name);
                matrix_metrics += 1;
            }
            assert_eq!(matrix_metrics, 6);
        }
    }

    #[test]
    fn past_the_cells_it_counts_each_resample_alone() {
        let n_classes = 65;
        let labels: Vec<usize> = (0..130).map(|r| r % n_classes).collect();
        let outputs: Vec<f32> = (0..130 * n_classes).map(|i| ((i * 7) % 11) as f32).collect();
        let scores = RowScores::new(&outputs, Truth::Classes { labels: &labels, n_classes });
        let resamples = Resamples::new(130, 5, 1);
        let classes = scores.class_rows().unwrap();
        let of_matrix = table::lookup(scores.task(), "mcc").and_then(|d| d.of_confusion).unwrap();
        assert!(super::super::confusion::on_every_resample(classes, &resamples.counts_by_row, 5, of_matrix).is_none());
        let values = distribution(&scores, "mcc", &resamples).unwrap();
        assert_eq!(values.len(), 5);
        assert_eq!(values[0], scores.metric_on("mcc", resamples.get(0)).unwrap());
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
    fn resamples_count_how_often_each_row_is_drawn() {
        let resamples = Resamples::new(37, 20, 5);
        for i in 0..resamples.count() {
            let rows = resamples.rows_of(i);
            let counts = rows.counts().expect("37 rows are never drawn 256 times");
            for (r, &c) in counts.iter().enumerate() {
                assert_eq!(usize::from(c), rows.indices().iter().filter(|&&x| x as usize == r).count(), "row {r}");
            }
        }
        // Three resamples of two rows, the last drawing row 1 twice.
        assert_eq!(counts_of(&[0, 1, 1, 0, 1, 1], 2), Some(vec![1, 1, 1, 1, 0, 2]));
        // A row drawn more often than a byte counts leaves the metrics to the indices.
        assert_eq!(counts_of(&[0; 256], 256), None);
        assert_eq!(counts_of(&[0; 255], 255).map(|c| c[0]), Some(255));
    }

    #[test]
    fn the_interval_selects_the_order_statistics_a_sort_would_give() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for n in [1, 2, 3, 10, 999, 1000] {
            // Few distinct values, so runs of ties sit at the quantiles, and both zeros.
            let values: Vec<f64> = (0..n).map(|_| [-0.0, 0.0, 0.5, 0.25, 1.0][rng.random_range(0..5)]).collect();
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            for level in [0.0, 0.5, 0.9, 0.95, 1.0] {
                let at = |q: f64| {
                    let last = n - 1;
                    let below = ((last as f64 * q).floor() as usize).min(last);
                    let t = last as f64 * q - below as f64;
                    let (a, b) = (sorted[below], sorted[(below + 1).min(last)]);
                    if t >= 0.5 { b - (b - a) * (1.0 - t) } else { a + (b - a) * t }
                };
                let (lo, hi) = percentile_interval(&values, level).unwrap();
                let want = (at((1.0 - level) / 2.0), at((1.0 + level) / 2.0));
                assert_eq!((lo.to_bits(), hi.to_bits()), (want.0.to_bits(), want.1.to_bits()), "n {n}, level {level}");
            }
        }
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
        assert_eq!(distribution(&scores, "auroc", &resamples).unwrap().len(), 10);
        assert!(distribution(&scores, "train_loss", &resamples).is_none());
        let without_class_2: Vec<usize> = labels.iter().map(|&y| y % 2).collect();
        let scores = RowScores::new(&logits, Truth::Classes { labels: &without_class_2, n_classes: 3 });
        assert!(distribution(&scores, "auroc", &resamples).is_none());

        // Multi-class with one row of class 2: the resamples that miss it give NaN.
        let mut rare = without_class_2.clone();
        rare[7] = 2;
        let scores = RowScores::new(&logits, Truth::Classes { labels: &rare, n_classes: 3 });
        let values = distribution(&scores, "auroc", &Resamples::new(30, 200, 3)).unwrap();
        assert!(values.iter().any(|v| v.is_nan()) && values.iter().any(|v| v.is_finite()));
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
        for (n_classes, metric) in
            [(2, "mcc"), (10, "mcc"), (10, "f1"), (10, "valid_loss"), (2, "auroc"), (10, "auroc"), (10, "log_loss")]
        {
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
