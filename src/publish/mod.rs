//! Publishing a finished sweep into the tools users already run: an MLflow tracking
//! server and model registry, and TensorBoard's event files.
//!
//! Every publisher reads a [`SweepView`] (the results folder loaded once) and never changes
//! what is there: an MLflow push writes nothing under `results/`, and the TensorBoard writer
//! adds only its own `tensorboard/` folder, so a failed publish leaves the sweep as it was.
//!
//! A new publisher is one file (or folder) here implementing [`Publisher`], plus one line in
//! [`AFTER_AGGREGATION`] if the spec can ask for it after every aggregation.

pub(crate) mod mlflow;
pub(crate) mod tensorboard;
mod view;

pub(crate) use view::SweepView;

use crate::spec::ReportSpec;

/// Something that takes a finished sweep somewhere else (files beside it, a tracking server).
pub(crate) trait Publisher {
    /// What a failure left unpublished, for the warning after `run` and `aggregate`
    /// ("TensorBoard event files not written").
    fn failure(&self) -> &'static str;
    /// Publishes the sweep; returns the one line `run` and `aggregate` print about it.
    fn publish(&self, view: &SweepView) -> Result<String, PublishError>;
}

/// Why a publisher did not publish: its own error, boxed so that the after-run pipeline
/// handles every publisher alike (each command of its own keeps the typed error).
pub(crate) type PublishError = Box<dyn std::error::Error + Send + Sync>;

/// Makes a publisher when the sweep's settings ask for one after every aggregation.
pub(crate) type EnableAfterAggregation = fn(&ReportSpec) -> Option<Box<dyn Publisher>>;

/// The publishers `sweep run`, `sweep aggregate` and a SLURM array's aggregation job run
/// after aggregating, in this order (MLflow is not here: only `sweep mlflow push` runs it).
pub(crate) const AFTER_AGGREGATION: &[EnableAfterAggregation] = &[tensorboard::after_aggregation];

/// The publishers that `settings` enable after an aggregation.
pub(crate) fn enabled_after_aggregation(settings: &ReportSpec) -> Vec<Box<dyn Publisher>> {
    AFTER_AGGREGATION.iter().filter_map(|enable| enable(settings)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensorboard_is_published_only_when_the_spec_asks() {
        let off = ReportSpec::default();
        assert!(enabled_after_aggregation(&off).is_empty());
        let on = ReportSpec { tensorboard: true };
        let enabled = enabled_after_aggregation(&on);
        assert_eq!(enabled.iter().map(|p| p.failure()).collect::<Vec<_>>(), ["TensorBoard event files not written"]);
    }
}
