//! Metrics, computed on the host from a model's outputs on the validation
//! split: logits for classification, predictions for regression. The runner
//! computes them, never the objective, so every objective's numbers mean the
//! same thing, and the best-model callback, early stopping, pruning, TPE, the
//! leaderboard and the registry work alike for both tasks.

pub mod bootstrap;
pub mod classification;
mod monitor;
pub mod regression;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use classification::{ConfusionMatrix, argmax_rows, auroc, cross_entropy, softmax_rows};
pub use monitor::{Goal, Monitor};
pub use regression::TargetScale;

/// Metric values by name; a metric undefined for some data (`auroc` on more
/// than two classes) is absent.
pub type Metrics = BTreeMap<String, f64>;

/// Every metric of a classification trial, in leaderboard column order.
pub const CLASSIFICATION_METRICS: &[&str] =
    &["valid_loss", "train_loss", "accuracy", "balanced_accuracy", "precision", "recall", "f1", "mcc", "auroc"];

/// Every metric of a regression trial, in leaderboard column order.
pub const REGRESSION_METRICS: &[&str] = &["valid_loss", "train_loss", "mse", "rmse", "mae", "r2"];

/// What the model predicts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Task {
    /// A class per row: the model outputs one logit per class.
    #[default]
    Classification,
    /// A real number per row: the model outputs one prediction.
    Regression,
}

impl Task {
    /// Its name in specs and records.
    pub fn as_str(self) -> &'static str {
        match self {
            Task::Classification => "classification",
            Task::Regression => "regression",
        }
    }

    /// Every metric a trial of this task reports each epoch.
    pub fn metric_names(self) -> &'static [&'static str] {
        match self {
            Task::Classification => CLASSIFICATION_METRICS,
            Task::Regression => REGRESSION_METRICS,
        }
    }

    /// `goal = "auto"`: minimize losses, errors, `mse`, `rmse` and `mae`; maximize the rest.
    pub fn auto_goal(self, metric: &str) -> Goal {
        let smaller_is_better =
            metric.contains("loss") || metric.contains("error") || matches!(metric, "mse" | "rmse" | "mae");
        if smaller_is_better { Goal::Minimize } else { Goal::Maximize }
    }

    /// Whether it is always a training loss, which verify cannot recompute.
    pub fn is_training_metric(metric: &str) -> bool {
        metric == "train_loss"
    }
}

/// The true targets of the validation rows, in the units the model learned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Truth<'a> {
    /// Class indices, each `< n_classes`.
    Classes {
        /// One per row.
        labels: &'a [usize],
        /// How many classes the model outputs logits for.
        n_classes: usize,
    },
    /// Real targets in their original units, and how the model's units relate to them.
    Values {
        /// One per row, as the data hold them.
        values: &'a [f64],
        /// Model units → original units.
        scale: TargetScale,
    },
}

impl Truth<'_> {
    /// Rows.
    pub fn len(&self) -> usize {
        match self {
            Truth::Classes { labels, .. } => labels.len(),
            Truth::Values { values, .. } => values.len(),
        }
    }

    /// Whether there are no rows.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Model outputs per row: one logit per class, or one prediction.
    pub fn outputs_per_row(&self) -> usize {
        match self {
            Truth::Classes { n_classes, .. } => *n_classes,
            Truth::Values { .. } => 1,
        }
    }
}

/// Every validation metric of one epoch from the model's outputs on the
/// validation rows (`rows × outputs_per_row`, row-major). `train_loss` is
/// added by the caller.
pub fn evaluate(outputs: &[f32], truth: Truth<'_>) -> Metrics {
    match truth {
        Truth::Classes { labels, n_classes } => classification::evaluate(outputs, labels, n_classes),
        Truth::Values { values, scale } => regression::evaluate(outputs, values, scale),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_goals_by_metric() {
        for m in ["valid_loss", "train_loss", "mse", "rmse", "mae"] {
            assert_eq!(Task::Regression.auto_goal(m), Goal::Minimize, "{m}");
        }
        assert_eq!(Task::Regression.auto_goal("r2"), Goal::Maximize);
        assert_eq!(Task::Classification.auto_goal("f1"), Goal::Maximize);
        assert_eq!(Task::Classification.auto_goal("error_rate"), Goal::Minimize);
    }

    #[test]
    fn evaluate_dispatches_by_task() {
        let c = evaluate(&[0.0, 1.0, 1.0, 0.0], Truth::Classes { labels: &[1, 0], n_classes: 2 });
        assert_eq!(c["accuracy"], 1.0);
        let r = evaluate(&[1.0, 3.0], Truth::Values { values: &[1.0, 3.0], scale: TargetScale::IDENTITY });
        assert_eq!((r["mse"], r["r2"]), (0.0, 1.0));
        assert!(CLASSIFICATION_METRICS.iter().filter(|m| **m != "train_loss").all(|m| c.contains_key(*m)));
        assert!(REGRESSION_METRICS.iter().filter(|m| **m != "train_loss").all(|m| r.contains_key(*m)));
    }
}
