//! Classification metrics from labels and logits.
//!
//! Definitions follow scikit-learn so that numbers can be compared with the
//! Python tools: macro averages for multi-class, the positive class (index 1)
//! for binary precision/recall/F1, multi-class MCC as `matthews_corrcoef`,
//! and 0 (never NaN) wherever a ratio has a zero denominator.

use super::Metrics;

/// A confusion matrix as its metrics read it: how often each class is the
/// truth, is predicted, and both (the diagonal). O(rows + classes) to count,
/// so the bootstrap recounts one per resample.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ConfusionMatrix {
    n_classes: usize,
    true_counts: Vec<u64>,
    pred_counts: Vec<u64>,
    diag: Vec<u64>,
    rows: u64,
}

impl ConfusionMatrix {
    /// Builds the matrix; labels must be `< n_classes`.
    pub fn new(y_true: &[usize], y_pred: &[usize], n_classes: usize) -> Self {
        let mut cm = ConfusionMatrix::default();
        cm.recount(y_true.iter().copied().zip(y_pred.iter().copied()), n_classes);
        cm
    }

    /// Counts (true class, predicted class) pairs afresh, reusing the buffers.
    pub fn recount(&mut self, pairs: impl Iterator<Item = (usize, usize)>, n_classes: usize) {
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
    pub fn accuracy(&self) -> f64 {
        let correct: f64 = (0..self.n_classes).map(|k| self.at_diag(k)).sum();
        ratio(correct, self.total())
    }

    /// Mean recall over the classes present in the true labels.
    pub fn balanced_accuracy(&self) -> f64 {
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
    pub fn precision(&self) -> f64 {
        self.averaged(Self::precision_of)
    }

    /// Binary: of the positive class (index 1). Multi-class: macro average.
    pub fn recall(&self) -> f64 {
        self.averaged(Self::recall_of)
    }

    /// Binary: of the positive class (index 1). Multi-class: macro average.
    pub fn f1(&self) -> f64 {
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
    pub fn mcc(&self) -> f64 {
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

fn ratio(num: f64, den: f64) -> f64 {
    if den == 0.0 { 0.0 } else { num / den }
}

/// Area under the ROC curve for binary labels, by the rank-sum (Mann-Whitney)
/// formula with tied scores sharing their mean rank. `None` when only one class is present.
pub fn auroc(positive: &[bool], scores: &[f64]) -> Option<f64> {
    let n_pos = positive.iter().filter(|p| **p).count();
    let n_neg = positive.len() - n_pos;
    if n_pos == 0 || n_neg == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum_pos = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let mean_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum_pos += order[i..=j].iter().filter(|&&k| positive[k]).count() as f64 * mean_rank;
        i = j + 1;
    }
    let (p, n) = (n_pos as f64, n_neg as f64);
    Some((rank_sum_pos - p * (p + 1.0) / 2.0) / (p * n))
}

/// Row-wise softmax of `logits` (`n × k`, row-major), computed in f64.
pub fn softmax_rows(logits: &[f32], k: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(logits.len());
    for row in logits.chunks(k) {
        let max = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
        let exps: Vec<f64> = row.iter().map(|&v| (v as f64 - max).exp()).collect();
        let sum: f64 = exps.iter().sum();
        out.extend(exps.iter().map(|e| e / sum));
    }
    out
}

/// Mean cross-entropy of `logits` (`n × k`) against integer labels.
pub fn cross_entropy(logits: &[f32], labels: &[usize], k: usize) -> f64 {
    let mut total = 0.0;
    for (row, &y) in logits.chunks(k).zip(labels) {
        let max = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
        let log_sum = row.iter().map(|&v| (v as f64 - max).exp()).sum::<f64>().ln() + max;
        total += log_sum - row[y] as f64;
    }
    ratio(total, labels.len() as f64)
}

/// Index of the largest value of each row (the first one on ties).
pub fn argmax_rows(values: &[f32], k: usize) -> Vec<usize> {
    values
        .chunks(k)
        .map(|row| {
            let mut best = 0;
            for (i, v) in row.iter().enumerate() {
                if *v > row[best] {
                    best = i;
                }
            }
            best
        })
        .collect()
}

/// Every validation metric of one epoch from the model's logits on the
/// validation split (`n × n_classes`, row-major). `train_loss` is added by the caller.
pub fn evaluate(logits: &[f32], labels: &[usize], n_classes: usize) -> Metrics {
    let predicted = argmax_rows(logits, n_classes);
    let cm = ConfusionMatrix::new(labels, &predicted, n_classes);
    let mut m = Metrics::new();
    m.insert("valid_loss".into(), cross_entropy(logits, labels, n_classes));
    m.insert("accuracy".into(), cm.accuracy());
    m.insert("balanced_accuracy".into(), cm.balanced_accuracy());
    m.insert("precision".into(), cm.precision());
    m.insert("recall".into(), cm.recall());
    m.insert("f1".into(), cm.f1());
    m.insert("mcc".into(), cm.mcc());
    if n_classes == 2 {
        let probs = softmax_rows(logits, 2);
        let scores: Vec<f64> = probs.chunks(2).map(|r| r[1]).collect();
        let positive: Vec<bool> = labels.iter().map(|&y| y == 1).collect();
        if let Some(a) = auroc(&positive, &scores) {
            m.insert("auroc".into(), a);
        }
    }
    m
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

    #[test]
    fn auroc_counts_pairs_and_ties() {
        // 2 positives, 2 negatives; pairs (pos, neg) ordered right: (0.8>0.1),(0.8>0.4),(0.35>0.1),(0.35<0.4) = 3/4
        assert!(close(auroc(&[false, false, true, true], &[0.1, 0.4, 0.35, 0.8]).unwrap(), 0.75));
        // A tie between a positive and a negative counts one half.
        assert!(close(auroc(&[false, true], &[0.5, 0.5]).unwrap(), 0.5));
        assert_eq!(auroc(&[true, true], &[0.1, 0.2]), None);
    }

    #[test]
    fn cross_entropy_and_softmax_by_hand() {
        // logits [0, ln 3]: softmax [1/4, 3/4]; label 1 → -ln(3/4)
        let logits = [0.0f32, 3f32.ln()];
        let p = softmax_rows(&logits, 2);
        assert!((p[1] - 0.75).abs() < 1e-6);
        assert!((cross_entropy(&logits, &[1], 2) - (-(0.75f64).ln())).abs() < 1e-6);
    }

    #[test]
    fn evaluate_reports_auroc_for_binary_only() {
        // Both rows predicted wrong, and the positive row scores lower than the negative one.
        let m = evaluate(&[1.0, 0.0, 0.0, 1.0], &[1, 0], 2);
        assert_eq!(m["auroc"], 0.0);
        assert_eq!(m["accuracy"], 0.0);
        let m = evaluate(&[0.0, 1.0, 1.0, 0.0], &[1, 0], 2);
        assert_eq!(m["auroc"], 1.0);
        assert_eq!(m["mcc"], 1.0);
        let m3 = evaluate(&[0.0, 1.0, 0.0], &[1], 3);
        assert!(!m3.contains_key("auroc"));
        assert_eq!(m3["accuracy"], 1.0);
    }
}
