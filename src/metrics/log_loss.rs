//! Log loss, as scikit-learn's `log_loss` on float64 probabilities with
//! `labels=range(n_classes)`: the mean of `−ln p` over the rows, `p` the
//! softmax probability of the row's true class clipped to `[ε, 1 − ε]`,
//! `ε = 2.2e-16` (f64's machine epsilon).
//!
//! How it relates to `valid_loss` (the mean cross entropy of the logits, the
//! training loss): the same quantity, equal up to rounding, except on rows
//! the model is sure of, where `log_loss` clips and `valid_loss` does not: a
//! row whose true class gets a probability under ε counts `−ln ε ≈ 36.04`
//! in `log_loss` and its full cross entropy in `valid_loss`; one whose
//! probability rounds to 1 counts ε in `log_loss` and 0 (or nearly) in
//! `valid_loss`. So `log_loss` compares with scikit-learn's number, and
//! `valid_loss` with the training loss.

use super::rows::{ClassRows, RowScores, Rows, Scratch, mean_over};

/// Each row's log loss, derived once per model's outputs.
struct PerRow(Vec<f64>);

/// Each row's log loss from the probabilities (rows × n_classes) and the labels.
fn per_row(c: &ClassRows) -> PerRow {
    PerRow(
        c.probabilities()
            .chunks(c.n_classes)
            .zip(&c.labels)
            .map(|(p, &y)| -p[y as usize].clamp(f64::EPSILON, 1.0 - f64::EPSILON).ln())
            .collect(),
    )
}

/// The table's `log_loss` on `rows`.
pub(crate) fn compute(scores: &RowScores, rows: Rows<'_>, _: &mut Scratch) -> Option<f64> {
    Some(mean_over(&scores.class_rows()?.derived(per_row).0, rows.indices()))
}

/// The table's `valid_loss` of a classifier: the mean cross entropy of the
/// logits, computed as the training loss is (log-sum-exp, no clipping). It
/// equals `log_loss` up to rounding except where a row's true class gets a
/// probability below 2.2e-16 or above 1 − 2.2e-16, which `log_loss` clips.
pub(crate) fn valid_loss(scores: &RowScores, rows: Rows<'_>, _: &mut Scratch) -> Option<f64> {
    Some(mean_over(scores.class_rows()?.cross_entropy(), rows.indices()))
}

#[cfg(test)]
mod tests {
    use super::super::Truth;
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    // The expected values below come from scikit-learn 1.9.1 on the same
    // softmax in float64, computed as `softmax_rows` does:
    //
    //   import math, numpy as np
    //   from sklearn.metrics import log_loss
    //   def softmax(rows):
    //       out = []
    //       for r in rows:
    //           m = max(r); e = [math.exp(float(np.float32(v)) - m) for v in r]; s = sum(e)
    //           out.append([x / s for x in e])
    //       return np.array(out)
    //   L = [[1,0,0],[0,1,0],[0,0,1],[.5,.2,-1],[1,0,0],[2,.5,.5],[0,0,1],[-.5,1.5,.3]]
    //   y = np.array([0,1,2,0,1,0,2,2]); P = softmax(L)
    //   log_loss(y, P, labels=[0,1,2])                               # full rows
    //   r = [0,1,1,3,4,5,0]; log_loss(y[r], P[r], labels=[0,1,2])    # a resample without class 2
    //   S = [[0,40,0],[0,0,50],[1,0,0]]; log_loss([0,2,0], softmax(S), labels=[0,1,2])  # clipped both ways
    //   log_loss([2], softmax(S)[[1]], labels=[0,1,2]); log_loss([0], softmax(S)[[0]], labels=[0,1,2])
    const LOGITS3: [f32; 24] = [
        1.0, 0.0, 0.0, /**/ 0.0, 1.0, 0.0, /**/ 0.0, 0.0, 1.0, /**/ 0.5, 0.2, -1.0, //
        1.0, 0.0, 0.0, /**/ 2.0, 0.5, 0.5, /**/ 0.0, 0.0, 1.0, /**/ -0.5, 1.5, 0.3,
    ];
    const LABELS3: [usize; 8] = [0, 1, 2, 0, 1, 0, 2, 2];
    const SKLEARN_FULL: f64 = 0.7954239694440594;
    const SKLEARN_NO_CLASS_2: f64 = 0.6858802332999397;
    const SKLEARN_CLIPPED: f64 = 12.198366034349734;

    #[test]
    fn matches_scikit_learn_on_all_rows_and_on_a_resample_missing_a_class() {
        let scores = RowScores::new(&LOGITS3, Truth::Classes { labels: &LABELS3, n_classes: 3 });
        let got = scores.metric_on("log_loss", &(0..8).collect::<Vec<_>>()).unwrap();
        assert!(close(got, SKLEARN_FULL), "{got} vs {SKLEARN_FULL}");
        let got = scores.metric_on("log_loss", &[0, 1, 1, 3, 4, 5, 0]).unwrap();
        assert!(close(got, SKLEARN_NO_CLASS_2), "{got} vs {SKLEARN_NO_CLASS_2}");
        // On rows no probability clips, it is valid_loss up to rounding.
        let valid_loss = scores.metric_on("valid_loss", &(0..8).collect::<Vec<_>>()).unwrap();
        assert!(close(got, SKLEARN_NO_CLASS_2) && close(valid_loss, SKLEARN_FULL), "{valid_loss}");
    }

    #[test]
    fn clips_as_scikit_learn_where_valid_loss_does_not() {
        // Row 0: p(true) = e^-40 / (2 + e^-40) < ε; row 1: p(true) rounds to 1.
        let logits = [0.0f32, 40.0, 0.0, 0.0, 0.0, 50.0, 1.0, 0.0, 0.0];
        let labels = [0, 2, 0];
        let scores = RowScores::new(&logits, Truth::Classes { labels: &labels, n_classes: 3 });
        let got = scores.metric_on("log_loss", &[0, 1, 2]).unwrap();
        assert!(close(got, SKLEARN_CLIPPED), "{got} vs {SKLEARN_CLIPPED}");
        let valid_loss = scores.metric_on("valid_loss", &[0, 1, 2]).unwrap();
        assert!(valid_loss > got + 1.0, "the cross entropy of row 0 is about 40, not 36: {valid_loss}");
        // log_loss([2], P[[1]], labels=[0,1,2]) == 2.220446049250313e-16 (numpy's log; glibc's differs in the last bit)
        let sure_and_right = scores.metric_on("log_loss", &[1]).unwrap();
        assert!((sure_and_right / 2.220446049250313e-16 - 1.0).abs() < 1e-12, "{sure_and_right}");
        // log_loss([0], P[[0]], labels=[0,1,2]) == 36.04365338911715
        assert!(close(scores.metric_on("log_loss", &[0]).unwrap(), 36.04365338911715));
    }
}
