//! The metric table: every metric a trial reports, with its task, its goal
//! and what it is computed from, over the one implementation that per-epoch
//! evaluation, the callbacks, the bootstrap and `verify` all call.
//!
//! Adding a metric is one entry here plus its `compute` function (in its own
//! file, or beside its family's) and a unit test against scikit-learn's value.
//! The entry's place among its task's entries is its column in history.csv and
//! the leaderboard.

use std::sync::LazyLock;

use self::Needs::{Classes, Probabilities, TrainingLoss, Values};
use super::Goal::{Maximize, Minimize};
use super::Task::{Classification, Regression};
use super::confusion::ConfusionMatrix;
use super::rows::{RowScores, Rows, Scratch};
use super::{Goal, Task, auroc, confusion, log_loss, regression};

/// What a metric is computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Needs {
    /// Each row's predicted class (the argmax of its logits) and its true class.
    Classes,
    /// Each row's logits or class probabilities (their softmax) and its true class.
    Probabilities,
    /// Each row's prediction and its true value.
    Values,
    /// The epoch's mean training loss, which only the trainer knows: no
    /// validation outputs reproduce it, so the bootstrap and `verify` skip it.
    TrainingLoss,
}

/// A metric on a set of validation rows: `rows` indexes the rows of `scores`,
/// with repetitions (a bootstrap resample, which also says how often each row
/// is drawn) or without (`0..n`, the epoch's value); either reading of `rows`
/// gives the same value. `None` where it is undefined on those rows (AUROC of
/// rows missing a class) or for the other task's outputs.
pub(crate) type Compute = fn(scores: &RowScores, rows: Rows<'_>, scratch: &mut Scratch) -> Option<f64>;

#[derive(Debug, Clone, Copy)]
pub(crate) struct MetricDef {
    /// Its name in specs, history.csv (`<name>`) and the leaderboard (`best_<name>`).
    pub name: &'static str,
    /// The task whose trials report it.
    pub task: Task,
    /// Its direction of improvement: what `goal = "auto"` in a spec means.
    pub goal: Goal,
    /// What it is computed from.
    pub needs: Needs,
    /// The one implementation.
    pub compute: Compute,
    /// For a metric of the confusion matrix, the same value from the matrix, which the
    /// bootstrap counts for many resamples at once ([`confusion::on_every_resample`]).
    pub of_confusion: Option<fn(&ConfusionMatrix) -> f64>,
}

fn training_loss(_: &RowScores, _: Rows<'_>, _: &mut Scratch) -> Option<f64> {
    None
}

const fn def(name: &'static str, task: Task, goal: Goal, needs: Needs, compute: Compute) -> MetricDef {
    MetricDef { name, task, goal, needs, compute, of_confusion: None }
}

/// A classification metric of the confusion matrix: `compute` counts the matrix of the rows
/// and gives `of_confusion` of it.
const fn of_matrix(
    name: &'static str,
    goal: Goal,
    compute: Compute,
    of_confusion: fn(&ConfusionMatrix) -> f64,
) -> MetricDef {
    MetricDef { name, task: Classification, goal, needs: Classes, compute, of_confusion: Some(of_confusion) }
}

/// Every metric, each task's in its column order.
pub(crate) static METRICS: &[MetricDef] = &[
    def("valid_loss", Classification, Minimize, Probabilities, log_loss::valid_loss),
    def("train_loss", Classification, Minimize, TrainingLoss, training_loss),
    of_matrix("accuracy", Maximize, confusion::accuracy, ConfusionMatrix::accuracy),
    of_matrix("balanced_accuracy", Maximize, confusion::balanced_accuracy, ConfusionMatrix::balanced_accuracy),
    of_matrix("precision", Maximize, confusion::precision, ConfusionMatrix::precision),
    of_matrix("recall", Maximize, confusion::recall, ConfusionMatrix::recall),
    of_matrix("f1", Maximize, confusion::f1, ConfusionMatrix::f1),
    of_matrix("mcc", Maximize, confusion::mcc, ConfusionMatrix::mcc),
    def("auroc", Classification, Maximize, Probabilities, auroc::compute),
    def("log_loss", Classification, Minimize, Probabilities, log_loss::compute),
    def("valid_loss", Regression, Minimize, Values, regression::valid_loss),
    def("train_loss", Regression, Minimize, TrainingLoss, training_loss),
    def("mse", Regression, Minimize, Values, regression::mse_on),
    def("rmse", Regression, Minimize, Values, regression::rmse_on),
    def("mae", Regression, Minimize, Values, regression::mae_on),
    def("r2", Regression, Maximize, Values, regression::r2_on),
];

/// The metric `name` of `task`, if the table has it.
pub(crate) fn lookup(task: Task, name: &str) -> Option<&'static MetricDef> {
    METRICS.iter().find(|m| m.task == task && m.name == name)
}

/// The metrics of `task`, in column order.
pub(crate) fn of_task(task: Task) -> impl Iterator<Item = &'static MetricDef> {
    METRICS.iter().filter(move |m| m.task == task)
}

static NAMES: LazyLock<[Vec<&'static str>; 2]> = LazyLock::new(|| {
    let names = |task| of_task(task).map(|m| m.name).collect();
    [names(Classification), names(Regression)]
});

/// The names of `task`'s metrics, in column order.
pub(crate) fn names(task: Task) -> &'static [&'static str] {
    match task {
        Classification => &NAMES[0],
        Regression => &NAMES[1],
    }
}

impl RowScores {
    /// The metric `name` of the table on the rows `rows` (with repetitions, a
    /// bootstrap resample); None for a metric the table has not for this task,
    /// `train_loss`, or one undefined on these rows.
    ///
    /// # Panics
    ///
    /// If a row index is not below [`RowScores::rows`].
    #[cfg(test)]
    pub(crate) fn metric_on(&self, name: &str, rows: &[u32]) -> Option<f64> {
        let def = lookup(self.task(), name)?;
        (def.compute)(self, Rows::new(rows), &mut Scratch::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_name_once_per_task() {
        for task in [Classification, Regression] {
            let names = names(task);
            let mut sorted = names.to_vec();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(sorted.len(), names.len(), "{task:?}: {names:?}");
        }
    }

    #[test]
    fn the_column_order_of_earlier_versions_is_kept() {
        // New metrics go after these: scripts read leaderboard.csv by position too.
        let before = ["valid_loss", "train_loss", "accuracy", "balanced_accuracy", "precision", "recall", "f1", "mcc"];
        assert_eq!(names(Classification)[..before.len()], before);
        assert_eq!(names(Classification)[before.len()..before.len() + 2], ["auroc", "log_loss"]);
        assert_eq!(names(Regression), ["valid_loss", "train_loss", "mse", "rmse", "mae", "r2"]);
    }

    #[test]
    fn goals_are_declared_not_guessed() {
        for m in ["valid_loss", "train_loss", "mse", "rmse", "mae"] {
            assert_eq!(lookup(Regression, m).unwrap().goal, Minimize, "{m}");
        }
        assert_eq!(lookup(Regression, "r2").unwrap().goal, Maximize);
        assert_eq!(lookup(Classification, "log_loss").unwrap().goal, Minimize);
        for m in ["accuracy", "balanced_accuracy", "precision", "recall", "f1", "mcc", "auroc"] {
            assert_eq!(lookup(Classification, m).unwrap().goal, Maximize, "{m}");
        }
        assert!(lookup(Regression, "mcc").is_none());
        assert!(lookup(Classification, "no_such_metric").is_none());
    }

    #[test]
    fn only_train_loss_comes_from_training() {
        let training: Vec<_> = METRICS.iter().filter(|m| m.needs == TrainingLoss).map(|m| (m.task, m.name)).collect();
        assert_eq!(training, [(Classification, "train_loss"), (Regression, "train_loss")]);
    }
}
