//! Regression metrics, as scikit-learn defines them (`mean_squared_error`,
//! `mean_absolute_error`, `r2_score` with its default `force_finite=True`):
//! never NaN, never a panic, whatever the predictions or targets are.

use serde::{Deserialize, Serialize};

use super::rows::{RowScores, Rows, Scratch, mean, mean_over};

/// How the targets a model learns relate to the original ones: a model learns
/// `(y − mean) / std` and predicts in those units; metrics other than
/// `valid_loss` are reported in the original units.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TargetScale {
    /// Mean of the training targets.
    pub mean: f64,
    /// Their population standard deviation (1 where it is 0).
    pub std: f64,
}

impl TargetScale {
    /// No change: the model's units are the original ones.
    pub const IDENTITY: TargetScale = TargetScale { mean: 0.0, std: 1.0 };

    /// A value in model units, in original units.
    pub fn to_original(&self, z: f64) -> f64 {
        z * self.std + self.mean
    }

    /// A value in original units, in model units.
    pub fn to_model(&self, y: f64) -> f64 {
        (y - self.mean) / self.std
    }
}

/// Mean squared error.
pub(crate) fn mse(predicted: &[f64], truth: &[f64]) -> f64 {
    mean(predicted.iter().zip(truth).map(|(p, t)| (p - t) * (p - t)), truth.len())
}

/// Mean absolute error.
#[cfg(test)]
pub(crate) fn mae(predicted: &[f64], truth: &[f64]) -> f64 {
    mean(predicted.iter().zip(truth).map(|(p, t)| (p - t).abs()), truth.len())
}

/// Coefficient of determination, `1 − SS_res / SS_tot`. A constant target
/// (`SS_tot = 0`) gives 1 when predicted exactly, else 0, as scikit-learn's
/// `r2_score` does.
#[cfg(test)]
pub(crate) fn r2(predicted: &[f64], truth: &[f64]) -> f64 {
    let sq: Vec<f64> = predicted.iter().zip(truth).map(|(p, t)| (t - p) * (t - p)).collect();
    r2_of(truth, &sq, 0..truth.len())
}

/// `r2` of the rows `rows` (with repetitions) from the truth and the squared errors.
fn r2_of(truth: &[f64], sq: &[f64], rows: impl Iterator<Item = usize> + Clone) -> f64 {
    let n = rows.clone().count();
    let mu = mean(rows.clone().map(|r| truth[r]), n);
    let ss_tot: f64 = rows.clone().map(|r| (truth[r] - mu) * (truth[r] - mu)).sum();
    let ss_res: f64 = rows.map(|r| sq[r]).sum();
    if ss_tot == 0.0 {
        return if ss_res == 0.0 { 1.0 } else { 0.0 };
    }
    1.0 - ss_res / ss_tot
}

/// The table's `valid_loss` of a regression model: the training loss (MSE) in model units.
pub(crate) fn valid_loss(scores: &RowScores, rows: Rows<'_>, _: &mut Scratch) -> Option<f64> {
    Some(mean_over(&scores.value_rows()?.sq_model, rows.indices()))
}

/// The table's `mse`, in original units.
pub(crate) fn mse_on(scores: &RowScores, rows: Rows<'_>, _: &mut Scratch) -> Option<f64> {
    Some(mean_over(&scores.value_rows()?.sq, rows.indices()))
}

/// The table's `rmse`, in original units.
pub(crate) fn rmse_on(scores: &RowScores, rows: Rows<'_>, _: &mut Scratch) -> Option<f64> {
    Some(mean_over(&scores.value_rows()?.sq, rows.indices()).sqrt())
}

/// The table's `mae`, in original units.
pub(crate) fn mae_on(scores: &RowScores, rows: Rows<'_>, _: &mut Scratch) -> Option<f64> {
    Some(mean_over(&scores.value_rows()?.abs, rows.indices()))
}

/// The table's `r2`, in original units.
pub(crate) fn r2_on(scores: &RowScores, rows: Rows<'_>, _: &mut Scratch) -> Option<f64> {
    let v = scores.value_rows()?;
    Some(r2_of(&v.truth, &v.sq, rows.indices().iter().map(|&r| r as usize)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    #[test]
    fn errors_by_hand() {
        // errors 1, -2, 0.5, 0: squares 1, 4, 0.25, 0 → 5.25 / 4; absolutes 3.5 / 4
        let t = [3.0, -0.5, 2.0, 7.0];
        let p = [4.0, -2.5, 2.5, 7.0];
        assert!(close(mse(&p, &t), 1.3125));
        assert!(close(mae(&p, &t), 0.875));
        // mean(t) = 2.875; SS_tot = 0.015625 + 11.390625 + 0.765625 + 17.015625 = 29.1875; SS_res = 5.25
        assert!(close(r2(&p, &t), 1.0 - 5.25 / 29.1875));
        // scikit-learn: r2_score([3, -0.5, 2, 7], [2.5, 0.0, 2, 8]) == 0.9486081370449679
        assert!(close(r2(&[2.5, 0.0, 2.0, 8.0], &t), 0.9486081370449679));
    }

    #[test]
    fn a_constant_prediction_at_the_mean_scores_zero() {
        let t = [1.0, 2.0, 3.0, 6.0];
        assert_eq!(r2(&[3.0; 4], &t), 0.0);
        // Any other constant is worse than the mean: negative, never NaN.
        assert!(close(r2(&[4.0; 4], &t), 1.0 - (9.0 + 4.0 + 1.0 + 4.0) / 14.0));
    }

    #[test]
    fn a_constant_target_is_one_when_hit_else_zero() {
        assert_eq!(r2(&[5.0, 5.0], &[5.0, 5.0]), 1.0);
        assert_eq!(r2(&[5.0, 4.0], &[5.0, 5.0]), 0.0);
        assert_eq!(r2(&[1.0], &[2.0]), 0.0, "one row");
        assert_eq!(mse(&[], &[]), 0.0);
    }

    #[test]
    fn evaluate_reports_the_loss_in_model_units_and_the_rest_in_original_ones() {
        let scale = TargetScale { mean: 100.0, std: 10.0 };
        // Targets 90, 110 (model units -1, 1); predictions 100, 120 (0, 2).
        let m = super::super::evaluate(&[0.0, 2.0], super::super::Truth::Values { values: &[90.0, 110.0], scale });
        assert!(close(m["valid_loss"], 1.0));
        assert!(close(m["mse"], 100.0));
        assert!(close(m["rmse"], 10.0));
        assert!(close(m["mae"], 10.0));
        // SS_tot = 200, SS_res = 200
        assert!(close(m["r2"], 0.0));
        assert!(close(scale.to_model(scale.to_original(0.25)), 0.25));
    }
}
