//! The metrics of a confusion matrix: accuracy, balanced accuracy,
//! precision, recall, F1 and MCC, as scikit-learn defines them (macro
//! averages for multi-class, the positive class (index 1) for binary
//! precision/recall/F1, multi-class MCC as `matthews_corrcoef`), and 0, never
//! NaN, wherever a ratio has a zero denominator.

use super::rows::{ClassRows, RowScores, Rows, Scratch, ratio};

/// A confusion matrix as its metrics read it: how often each class is the
/// truth, is predicted, and both (the diagonal). O(rows + classes) to count,
/// so the bootstrap recounts one per resample.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct ConfusionMatrix {
    n_classes: usize,
    true_counts: Vec<u64>,
    pred_counts: Vec<u64>,
    diag: Vec<u64>,
    rows: u64,
}

impl ConfusionMatrix {
    /// Builds the matrix; labels must be `< n_classes`.
    #[cfg(test)]
    pub(crate) fn new(y_true: &[usize], y_pred: &[usize], n_classes: usize) -> Self {
        let mut cm = ConfusionMatrix::default();
        cm.recount(y_true.iter().copied().zip(y_pred.iter().copied()), n_classes);
        cm
    }

    /// Counts (true class, predicted class) pairs afresh, reusing the buffers.
    pub(crate) fn recount(&mut self, pairs: impl Iterator<Item = (usize, usize)>, n_classes: usize) {
        self.n_classes = n_classes;
        for v in [&mut self.true_counts, &mut self.pred_counts, &mut self.diag] {
            v.clear();
            v.resize(n_classes, 0);
        }
        // Local slices and counter: written through `self`, every store would
        // reload the others (the bootstrap recounts millions of rows).
        let (truths, preds, diag) = (&mut self.true_counts[..], &mut self.pred_counts[..], &mut self.diag[..]);
        let mut rows = 0;
        for (t, p) in pairs {
            truths[t] += 1;
            preds[p] += 1;
            diag[t] += u64::from(t == p);
            rows += 1;
        }
        self.rows = rows;
    }

    /// Sets the matrix of `n_classes` from its cells: `cells[(t * n_classes + p) * stride]`
    /// rows of true class `t` predicted `p`, `rows` in all.
    fn set_from_cells(&mut self, n_classes: usize, cells: &[u32], stride: usize, rows: u64) {
        if self.n_classes == n_classes && self.diag.len() == n_classes {
            for v in [&mut self.true_counts, &mut self.pred_counts] {
                v.fill(0);
            }
        } else {
            self.n_classes = n_classes;
            for v in [&mut self.true_counts, &mut self.pred_counts, &mut self.diag] {
                v.clear();
                v.resize(n_classes, 0);
            }
        }
        let (truths, preds, diag) = (&mut self.true_counts[..], &mut self.pred_counts[..], &mut self.diag[..]);
        if let ([t0, t1], [p0, p1], [d0, d1]) = (&mut *truths, &mut *preds, &mut *diag) {
            let [n00, n01, n10, n11] = [0, 1, 2, 3].map(|c| u64::from(cells[c * stride]));
            (*t0, *t1, *p0, *p1, *d0, *d1) = (n00 + n01, n10 + n11, n00 + n10, n01 + n11, n00, n11);
            self.rows = rows;
            return;
        }
        for (t, (truth, diag)) in truths.iter_mut().zip(diag.iter_mut()).enumerate() {
            for (p, pred) in preds.iter_mut().enumerate() {
                let n = u64::from(cells[(t * n_classes + p) * stride]);
                *truth += n;
                *pred += n;
                if t == p {
                    *diag = n;
                }
            }
        }
        self.rows = rows;
    }

    fn at_diag(&self, k: usize) -> f64 {
        self.diag[k] as f64
    }

    fn true_count(&self, k: usize) -> f64 {
        self.true_counts[k] as f64
    }

    fn pred_count(&self, k: usize) -> f64 {
        self.pred_counts[k] as f64
    }

    fn total(&self) -> f64 {
        self.rows as f64
    }

    /// Share of correct predictions.
    pub(crate) fn accuracy(&self) -> f64 {
        let correct: f64 = (0..self.n_classes).map(|k| self.at_diag(k)).sum();
        ratio(correct, self.total())
    }

    /// Mean recall over the classes present in the true labels.
    pub(crate) fn balanced_accuracy(&self) -> f64 {
        // Iterated twice rather than collected: the bootstrap calls this for every resample.
        let present = || (0..self.n_classes).filter(|&k| self.true_count(k) > 0.0);
        let sum: f64 = present().map(|k| self.recall_of(k)).sum();
        ratio(sum, present().count() as f64)
    }

    fn precision_of(&self, k: usize) -> f64 {
        ratio(self.at_diag(k), self.pred_count(k))
    }

    fn recall_of(&self, k: usize) -> f64 {
        ratio(self.at_diag(k), self.true_count(k))
    }

    fn f1_of(&self, k: usize) -> f64 {
        let (p, r) = (self.precision_of(k), self.recall_of(k));
        ratio(2.0 * p * r, p + r)
    }

    /// Binary: of the positive class (index 1). Multi-class: macro average.
    pub(crate) fn precision(&self) -> f64 {
        self.averaged(Self::precision_of)
    }

    /// Binary: of the positive class (index 1). Multi-class: macro average.
    pub(crate) fn recall(&self) -> f64 {
        self.averaged(Self::recall_of)
    }

    /// Binary: of the positive class (index 1). Multi-class: macro average.
    pub(crate) fn f1(&self) -> f64 {
        self.averaged(Self::f1_of)
    }

    fn averaged(&self, per_class: fn(&Self, usize) -> f64) -> f64 {
        if self.n_classes == 2 {
            return per_class(self, 1);
        }
        // scikit-learn's macro average runs over the labels seen in y_true or y_pred.
        let seen = || (0..self.n_classes).filter(|&k| self.true_count(k) + self.pred_count(k) > 0.0);
        ratio(seen().map(|k| per_class(self, k)).sum(), seen().count() as f64)
    }

    /// Matthews correlation coefficient, multi-class form (Gorodkin's R_K), as
    /// scikit-learn's `matthews_corrcoef`: 0 when either marginal is constant.
    pub(crate) fn mcc(&self) -> f64 {
        let s = self.total();
        let c: f64 = (0..self.n_classes).map(|k| self.at_diag(k)).sum();
        let (mut sum_pt, mut sum_pp, mut sum_tt) = (0.0, 0.0, 0.0);
        for k in 0..self.n_classes {
            let (t, p) = (self.true_count(k), self.pred_count(k));
            sum_pt += p * t;
            sum_pp += p * p;
            sum_tt += t * t;
        }
        let cov_ytyp = c * s - sum_pt;
        let cov_ypyp = s * s - sum_pp;
        let cov_ytyt = s * s - sum_tt;
        let denom = cov_ytyt * cov_ypyp;
        if denom == 0.0 { 0.0 } else { cov_ytyp / denom.sqrt() }
    }
}

/// Counts the (true, predicted) classes of `rows` into the scratch matrix.
fn counted<'s>(scores: &RowScores, rows: Rows<'_>, scratch: &'s mut Scratch) -> Option<&'s ConfusionMatrix> {
    let c = scores.class_rows()?;
    let classes = c.classes();
    let counts = scratch.buffer::<ConfusionMatrix>();
    counts.recount(
        rows.indices().iter().map(|&r| {
            let [t, p] = classes[r as usize];
            (t as usize, p as usize)
        }),
        c.n_classes,
    );
    Some(counts)
}

/// Classes up to which [`on_every_resample`] counts every cell of the matrix for a run of
/// resamples at once (classes² × [`RESAMPLES_PER_PASS`] counters); past it each resample is
/// counted on its own.
const CELLS_FOR_CLASSES_UP_TO: usize = 64;

/// Resamples whose matrices one pass over the rows counts: the counters of a pass stay in cache.
const RESAMPLES_PER_PASS: usize = 256;

/// `metric` of the matrix of each of `count` resamples, from how often each row is drawn into
/// each (`by_row`: rows × count, row after row). Each row adds its counts to its (true,
/// predicted) cell for a run of resamples at once, in resample order, which the compiler
/// vectorises, where counting resample after resample pays a pass over the rows and a
/// matrix for each: aggregation scores 1000 resamples of every trial. The cell most rows fall
/// in is what the others leave of the rows, so its rows are not read. The counts are the
/// ones each resample counted alone would give, so the values are too, to the last bit. None
/// for more classes than [`CELLS_FOR_CLASSES_UP_TO`].
pub(crate) fn on_every_resample(
    c: &ClassRows,
    by_row: &[u8],
    count: usize,
    metric: fn(&ConfusionMatrix) -> f64,
) -> Option<Vec<f64>> {
    let k = c.n_classes;
    let classes = c.classes();
    assert_eq!(by_row.len(), classes.len() * count, "confusion: counts for other rows or resamples");
    if k > CELLS_FOR_CLASSES_UP_TO {
        return None;
    }
    let cell_of = |[t, p]: [u32; 2]| t as usize * k + p as usize;
    let mut rows_in_cell = vec![0usize; k * k];
    classes.iter().for_each(|&tp| rows_in_cell[cell_of(tp)] += 1);
    let left = (0..k * k).max_by_key(|&c| (rows_in_cell[c], std::cmp::Reverse(c))).unwrap_or(0);
    let counted: Vec<(usize, usize)> =
        classes.iter().enumerate().map(|(r, &tp)| (r, cell_of(tp))).filter(|&(_, c)| c != left).collect();
    let rows = classes.len() as u64;
    let mut values = Vec::with_capacity(count);
    let mut cells = vec![0u32; k * k * RESAMPLES_PER_PASS];
    let mut matrix = ConfusionMatrix::default();
    for first in (0..count).step_by(RESAMPLES_PER_PASS) {
        let width = RESAMPLES_PER_PASS.min(count - first);
        cells.fill(0);
        for &(r, c) in &counted {
            let drawn = &by_row[r * count + first..][..width];
            for (sum, &n) in cells[c * RESAMPLES_PER_PASS..][..width].iter_mut().zip(drawn) {
                *sum += u32::from(n);
            }
        }
        // Every resample draws `rows` rows: the left cell holds what the others do not.
        let (before, rest) = cells.split_at_mut(left * RESAMPLES_PER_PASS);
        let (left_cell, after) = rest.split_at_mut(RESAMPLES_PER_PASS);
        left_cell.fill(rows as u32);
        for other in before.chunks(RESAMPLES_PER_PASS).chain(after.chunks(RESAMPLES_PER_PASS)) {
            for (sum, &n) in left_cell.iter_mut().zip(other) {
                *sum -= n;
            }
        }
        for j in 0..width {
            matrix.set_from_cells(k, &cells[j..], RESAMPLES_PER_PASS, rows);
            values.push(metric(&matrix));
        }
    }
    Some(values)
}

/// The table's `accuracy`.
pub(crate) fn accuracy(scores: &RowScores, rows: Rows<'_>, scratch: &mut Scratch) -> Option<f64> {
    Some(counted(scores, rows, scratch)?.accuracy())
}

/// The table's `balanced_accuracy`.
pub(crate) fn balanced_accuracy(scores: &RowScores, rows: Rows<'_>, scratch: &mut Scratch) -> Option<f64> {
    Some(counted(scores, rows, scratch)?.balanced_accuracy())
}

/// The table's `precision`.
pub(crate) fn precision(scores: &RowScores, rows: Rows<'_>, scratch: &mut Scratch) -> Option<f64> {
    Some(counted(scores, rows, scratch)?.precision())
}

/// The table's `recall`.
pub(crate) fn recall(scores: &RowScores, rows: Rows<'_>, scratch: &mut Scratch) -> Option<f64> {
    Some(counted(scores, rows, scratch)?.recall())
}

/// The table's `f1`.
pub(crate) fn f1(scores: &RowScores, rows: Rows<'_>, scratch: &mut Scratch) -> Option<f64> {
    Some(counted(scores, rows, scratch)?.f1())
}

/// The table's `mcc`.
pub(crate) fn mcc(scores: &RowScores, rows: Rows<'_>, scratch: &mut Scratch) -> Option<f64> {
    Some(counted(scores, rows, scratch)?.mcc())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn binary_metrics_match_hand_counts() {
        // TP=3, FN=1, FP=2, TN=4 (positive = 1).
        let y_true = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0];
        let y_pred = [1, 1, 1, 0, 1, 1, 0, 0, 0, 0];
        let cm = ConfusionMatrix::new(&y_true, &y_pred, 2);
        assert!(close(cm.accuracy(), 0.7));
        assert!(close(cm.precision(), 3.0 / 5.0));
        assert!(close(cm.recall(), 3.0 / 4.0));
        assert!(close(cm.f1(), 2.0 * 0.6 * 0.75 / 1.35));
        assert!(close(cm.balanced_accuracy(), (0.75 + 4.0 / 6.0) / 2.0));
        // (TP*TN - FP*FN) / sqrt((TP+FP)(TP+FN)(TN+FP)(TN+FN)) = 10 / sqrt(5*4*6*5)
        assert!(close(cm.mcc(), 10.0 / 600f64.sqrt()));
    }

    #[test]
    fn multiclass_mcc_matches_scikit_learn() {
        // sklearn.metrics.matthews_corrcoef([0,0,1,1,2,2], [0,1,1,2,2,0]) == 0.25
        let cm = ConfusionMatrix::new(&[0, 0, 1, 1, 2, 2], &[0, 1, 1, 2, 2, 0], 3);
        assert!(close(cm.mcc(), 0.25));
        // Every class half right: macro precision = recall = f1 = 0.5.
        assert!(close(cm.precision(), 0.5));
        assert!(close(cm.recall(), 0.5));
        assert!(close(cm.f1(), 0.5));
        assert!(close(cm.accuracy(), 0.5));
    }

    #[test]
    fn macro_average_skips_classes_never_seen() {
        // Class 2 of 3 appears nowhere: scikit-learn averages over labels {0, 1} only.
        let cm = ConfusionMatrix::new(&[0, 0, 1, 1], &[0, 0, 1, 0], 3);
        // precision: class0 2/3, class1 1/1 → 5/6; recall: 1, 1/2 → 3/4
        assert!(close(cm.precision(), 5.0 / 6.0));
        assert!(close(cm.recall(), 0.75));
    }

    #[test]
    fn a_single_predicted_class_gives_zero_not_nan() {
        let cm = ConfusionMatrix::new(&[0, 1, 1, 0, 1], &[1, 1, 1, 1, 1], 2);
        assert_eq!(cm.mcc(), 0.0);
        let cm = ConfusionMatrix::new(&[0, 1, 2], &[2, 2, 2], 3);
        assert_eq!(cm.mcc(), 0.0);
        let cm = ConfusionMatrix::new(&[1, 1], &[0, 0], 2);
        assert_eq!(cm.precision(), 0.0);
        assert_eq!(cm.f1(), 0.0);
        assert_eq!(cm.mcc(), 0.0);
    }

    #[test]
    fn perfect_predictions_score_one() {
        let y = [0, 1, 2, 2, 1, 0];
        let cm = ConfusionMatrix::new(&y, &y, 3);
        for v in [cm.accuracy(), cm.balanced_accuracy(), cm.precision(), cm.recall(), cm.f1(), cm.mcc()] {
            assert!(close(v, 1.0));
        }
    }
}
