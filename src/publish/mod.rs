//! Publishing a finished sweep into the tools users already run: an MLflow tracking
//! server and model registry, TensorBoard's event files, and W&B's offline runs.
//!
//! Every publisher reads a [`SweepView`] (the results folder loaded once) and never changes
//! what is there: an MLflow push writes nothing under `results/`, and the TensorBoard writer
//! adds only its own `tensorboard/` folder (the W&B export its `wandb/` folder), so a failed
//! publish leaves the sweep as it was.
//!
//! A new publisher is one file (or folder) here implementing [`Publisher`], plus one line in
//! [`AFTER_AGGREGATION`] if the spec can ask for it after every aggregation.

pub(crate) mod mlflow;
pub(crate) mod tensorboard;
mod view;
pub(crate) mod wandb;

pub(crate) use view::SweepView;

use crate::objective::Catalog;
use crate::spec::{PublishSpec, ReportSpec};

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

/// What the sweep's settings ask for after every aggregation (`[report]`, `[publish]`), with the
/// objectives a publisher may need to describe a trial's model.
#[derive(Clone, Copy)]
pub(crate) struct AfterAggregation<'a> {
    pub report: &'a ReportSpec,
    pub publish: &'a PublishSpec,
    pub catalog: &'a Catalog,
}

/// Makes a publisher when the sweep's settings ask for one after every aggregation.
pub(crate) type EnableAfterAggregation = for<'a> fn(AfterAggregation<'a>) -> Option<Box<dyn Publisher + 'a>>;

/// The publishers `sweep run`, `sweep aggregate` and a SLURM array's aggregation job run
/// after aggregating, in this order (MLflow is not here: only `sweep mlflow push` runs it).
pub(crate) const AFTER_AGGREGATION: &[EnableAfterAggregation] =
    &[tensorboard::after_aggregation, wandb::after_aggregation];

/// The publishers that the settings enable after an aggregation.
pub(crate) fn enabled_after_aggregation<'a>(
    report: &'a ReportSpec,
    publish: &'a PublishSpec,
    catalog: &'a Catalog,
) -> Vec<Box<dyn Publisher + 'a>> {
    let settings = AfterAggregation { report, publish, catalog };
    AFTER_AGGREGATION.iter().filter_map(|enable| enable(settings)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failures(report: &ReportSpec, publish: &PublishSpec) -> Vec<&'static str> {
        let catalog = Catalog::new(crate::objective::builtin()).unwrap();
        enabled_after_aggregation(report, publish, &catalog).iter().map(|p| p.failure()).collect()
    }

    #[test]
    fn tensorboard_is_published_only_when_the_spec_asks() {
        assert!(failures(&ReportSpec::default(), &PublishSpec::default()).is_empty());
        let on = ReportSpec { tensorboard: true };
        assert_eq!(failures(&on, &PublishSpec::default()), ["TensorBoard event files not written"]);
    }

    #[test]
    fn wandb_is_published_only_when_the_spec_asks() {
        let wandb = PublishSpec { wandb: Some(crate::spec::WandbTarget::default()) };
        assert_eq!(failures(&ReportSpec::default(), &wandb), ["W&B offline runs not written"]);
        let both = failures(&ReportSpec { tensorboard: true }, &wandb);
        assert_eq!(both, ["TensorBoard event files not written", "W&B offline runs not written"]);
    }
}
