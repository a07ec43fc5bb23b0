//! A classifier's logits as its metrics read them: the softmax, the argmax,
//! and the cross entropy whose mean is `valid_loss` (the training loss of
//! every classification objective). The lowest layer of the metrics: the
//! per-row facts (`rows.rs`) are built from these.

/// Row-wise softmax of `logits` (`n × k`, row-major), computed in f64.
pub(crate) fn softmax_rows(logits: &[f32], k: usize) -> Vec<f64> {
    let mut out = Vec::with_capacity(logits.len());
    for row in logits.chunks(k) {
        let max = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
        let exps: Vec<f64> = row.iter().map(|&v| (v as f64 - max).exp()).collect();
        let sum: f64 = exps.iter().sum();
        out.extend(exps.iter().map(|e| e / sum));
    }
    out
}

/// The cross entropy of one row of logits against its label: `log Σ exp − logit[y]`.
pub(crate) fn cross_entropy_of_row(row: &[f32], y: usize) -> f64 {
    let max = row.iter().fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64));
    let log_sum = row.iter().map(|&v| (v as f64 - max).exp()).sum::<f64>().ln() + max;
    log_sum - row[y] as f64
}

/// Mean cross-entropy of `logits` (`n × k`) against integer labels.
#[cfg(test)]
pub(crate) fn cross_entropy(logits: &[f32], labels: &[usize], k: usize) -> f64 {
    let mut total = 0.0;
    for (row, &y) in logits.chunks(k).zip(labels) {
        total += cross_entropy_of_row(row, y);
    }
    if labels.is_empty() { 0.0 } else { total / labels.len() as f64 }
}

/// Index of the largest value of each row (the first one on ties).
pub(crate) fn argmax_rows(values: &[f32], k: usize) -> Vec<usize> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cross_entropy_and_softmax_by_hand() {
        // logits [0, ln 3]: softmax [1/4, 3/4]; label 1 → -ln(3/4)
        let logits = [0.0f32, 3f32.ln()];
        let p = softmax_rows(&logits, 2);
        assert!((p[1] - 0.75).abs() < 1e-6);
        assert!((cross_entropy(&logits, &[1], 2) - (-(0.75f64).ln())).abs() < 1e-6);
        assert_eq!(cross_entropy(&[], &[], 2), 0.0);
    }

    #[test]
    fn argmax_takes_the_first_of_equal_values() {
        assert_eq!(argmax_rows(&[0.5, 0.5, 0.1, 0.1, 0.2, 0.2], 3), [0, 1]);
    }
}
