//! The metrics of a confusion matrix: accuracy, balanced accuracy,
//! precision, recall, F1 and MCC, as scikit-learn defines them (macro
//! averages for multi-class, the positive class (index 1) for binary
//! precision/recall/F1, multi-class MCC as `matthews_corrcoef`), and 0, never
//! NaN, wherever a ratio has a zero denominator.

use super::rows::{ClassOneMasks, RowScores, Rows, Scratch, ratio};

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

    /// Counts two classes afresh from how often each row is drawn (`drawn[r]`, 0 for a row left
    /// out; `rows` draws in all) and which rows are of class 1 and predicted it: masked sums in row order, which the
    /// compiler vectorises, where counting through a resample's indices loads
    /// and stores at random places once per drawn row. The bootstrap counts one matrix per
    /// resample of every trial.
    pub(crate) fn recount_binary(&mut self, class_1: &ClassOneMasks, drawn: &[u8], rows: u64) {
        debug_assert_eq!(class_1.truth.len(), drawn.len(), "confusion: counts for other rows");
        let (mut true_1, mut pred_1, mut both_1) = (0u64, 0u64, 0u64);
        // Sums of at most 256 counts of at most 255 fit the u16 lanes.
        let chunks = drawn.chunks(256).zip(class_1.truth.chunks(256)).zip(class_1.predicted.chunks(256));
        for ((drawn, truth), predicted) in chunks {
            let (mut t1, mut p1, mut b1) = (0u16, 0u16, 0u16);
            for ((&m, &t), &p) in drawn.iter().zip(truth).zip(predicted) {
                t1 += u16::from(m & t);
                p1 += u16::from(m & p);
                b1 += u16::from(m & t & p);
            }
            true_1 += u64::from(t1);
            pred_1 += u64::from(p1);
            both_1 += u64::from(b1);
        }
        // Class 0's counts are what class 1's leave of the rows.
        let both_0 = rows - true_1 - pred_1 + both_1;
        self.n_classes = 2;
        for (v, [zero, one]) in [
            (&mut self.true_counts, [rows - true_1, true_1]),
            (&mut self.pred_counts, [rows - pred_1, pred_1]),
            (&mut self.diag, [both_0, both_1]),
        ] {
            v.clear();
            v.extend([zero, one]);
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
    let counts = scratch.buffer::<ConfusionMatrix>();
    if let Some(drawn) = rows.counts()
        && let Some(class_1) = c.class_1_masks()
    {
        counts.recount_binary(class_1, drawn, rows.indices().len() as u64);
    } else {
        let classes = c.classes();
        counts.recount(
            rows.indices().iter().map(|&r| {
                let [t, p] = classes[r as usize];
                (t as usize, p as usize)
            }),
            c.n_classes,
        );
    }
    Some(counts)
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
