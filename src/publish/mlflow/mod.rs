//! `sweep mlflow push`: a sweep's trials as runs of an MLflow experiment, and
//! a trial's model as a version of a registered model, over MLflow's REST API.

pub(crate) mod client;
pub(crate) mod push;

pub(crate) use client::{Client, MlflowError};
pub(crate) use push::{PushError, PushOptions, PushSummary, Registration, push_view};

use super::{PublishError, Publisher, SweepView};
use crate::objective::Catalog;

/// A push to one tracking server as a publisher; `sweep mlflow push` runs [`MlflowPublisher::push`].
pub(crate) struct MlflowPublisher<'a> {
    /// The tracking server.
    pub client: Client,
    /// The experiment, and what to register.
    pub options: PushOptions,
    /// The objectives, to describe a trial's model in its artifacts.
    pub catalog: &'a Catalog,
}

impl MlflowPublisher<'_> {
    /// Pushes the sweep's trials and registers a model if asked.
    pub(crate) fn push(&self, view: &SweepView) -> Result<PushSummary, PushError> {
        push_view(&self.client, view, self.catalog, &self.options)
    }
}

impl Publisher for MlflowPublisher<'_> {
    fn failure(&self) -> &'static str {
        "MLflow runs not pushed"
    }

    fn publish(&self, view: &SweepView) -> Result<String, PublishError> {
        let summary = self.push(view)?;
        let pushed = summary.created + summary.completed + summary.up_to_date;
        Ok(format!("mlflow:      {pushed} trial(s) in experiment \"{}\": {}", summary.experiment, summary.url))
    }
}
