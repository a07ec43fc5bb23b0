//! `sweep mlflow push`: a sweep's trials as runs of an MLflow experiment, and
//! a trial's model as a version of a registered model, over MLflow's REST API.

pub mod client;
pub mod push;

pub use client::{Client, MlflowError};
pub use push::{PushError, PushOptions, PushSummary, RegisteredVersion, Registration, push};
