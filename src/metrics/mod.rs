//! Metrics, computed on the host from a model's outputs on the validation
//! split: logits for classification, predictions for regression. The runner
//! computes them, never the objective, so every objective's numbers mean the
//! same thing, and the best-model callback, early stopping, pruning, TPE, the
//! leaderboard and the registry work alike for both tasks.
//!
//! Every metric is one entry of `table::METRICS` (its name, task, goal and
//! what it is computed from) over one implementation, computed from
//! `RowScores` on any set of rows: all of them for an epoch
//! ([`evaluate`], which `verify` and the test split also call), a resample
//! of them for the bootstrap.

mod auroc;
pub(crate) mod bootstrap;
pub(crate) mod classification;
mod confusion;
mod log_loss;
mod monitor;
pub(crate) mod regression;
mod rows;
pub(crate) mod table;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

#[cfg(test)]
pub(crate) use auroc::auroc;
pub(crate) use classification::{argmax_rows, softmax_rows};
pub(crate) use monitor::{Goal, Monitor};
pub use regression::TargetScale;
pub(crate) use rows::{RowScores, Rows, Scratch};
pub(crate) use table::{MetricDef, Needs};

/// Metric values by name; a metric undefined for some data (`auroc` when a
/// class is missing from the validation rows) is absent.
pub type Metrics = BTreeMap<String, f64>;

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

    /// Every metric a trial of this task reports each epoch, in column order.
    pub fn metric_names(self) -> &'static [&'static str] {
        table::names(self)
    }

    /// The table's entry for `metric` of this task.
    pub(crate) fn metric(self, metric: &str) -> Option<&'static MetricDef> {
        table::lookup(self, metric)
    }

    /// Whether it is a training loss (of any task), which no validation outputs reproduce.
    pub(crate) fn is_training_metric(metric: &str) -> bool {
        table::METRICS.iter().any(|m| m.name == metric && m.needs == Needs::TrainingLoss)
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
///
/// # Panics
///
/// If `outputs` does not hold `outputs_per_row` values for every row of
/// `truth`, or a class label is not below `n_classes`.
pub fn evaluate(outputs: &[f32], truth: Truth<'_>) -> Metrics {
    let scores = RowScores::new(outputs, truth);
    let all: Vec<u32> = (0..scores.rows() as u32).collect();
    let mut scratch = Scratch::default();
    table::of_task(scores.task())
        .filter_map(|m| Some((m.name.to_string(), (m.compute)(&scores, Rows::new(&all), &mut scratch)?)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evaluate_reports_every_metric_of_the_table_but_the_training_loss() {
        let c = evaluate(&[0.0, 1.0, 1.0, 0.0], Truth::Classes { labels: &[1, 0], n_classes: 2 });
        assert_eq!((c["accuracy"], c["auroc"], c["mcc"]), (1.0, 1.0, 1.0));
        let r = evaluate(&[1.0, 3.0], Truth::Values { values: &[1.0, 3.0], scale: TargetScale::IDENTITY });
        assert_eq!((r["mse"], r["r2"]), (0.0, 1.0));
        for (task, m) in [(Task::Classification, &c), (Task::Regression, &r)] {
            let expected: Vec<&str> = task.metric_names().iter().copied().filter(|n| *n != "train_loss").collect();
            let mut expected = expected;
            expected.sort_unstable();
            assert_eq!(m.keys().map(String::as_str).collect::<Vec<_>>(), expected, "{task:?}");
        }
    }

    #[test]
    fn multi_class_auroc_is_reported_unless_a_class_is_missing() {
        // Both rows predicted wrong, and the positive row scores lower than the negative one.
        let m = evaluate(&[1.0, 0.0, 0.0, 1.0], Truth::Classes { labels: &[1, 0], n_classes: 2 });
        assert_eq!((m["auroc"], m["accuracy"]), (0.0, 0.0));
        let logits = [3.0, 0.0, 0.0, 0.0, 3.0, 0.0, 0.0, 0.0, 3.0];
        let m3 = evaluate(&logits, Truth::Classes { labels: &[0, 1, 2], n_classes: 3 });
        assert_eq!((m3["auroc"], m3["accuracy"]), (1.0, 1.0));
        let m3 = evaluate(&logits, Truth::Classes { labels: &[0, 1, 1], n_classes: 3 });
        assert!(!m3.contains_key("auroc"));
    }

    #[test]
    fn training_metrics_come_from_the_table() {
        assert!(Task::is_training_metric("train_loss"));
        assert!(!Task::is_training_metric("valid_loss"));
        assert_eq!(Task::Classification.metric("log_loss").map(|m| m.goal), Some(Goal::Minimize));
        assert!(Task::Regression.metric("log_loss").is_none());
    }
}
