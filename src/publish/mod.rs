//! Publishing a finished sweep into the tools users already run: an MLflow tracking
//! server and model registry, and TensorBoard's event files.
//!
//! Both read a sweep's results folder (trial records, history, checkpoints) and never change
//! what is there: an MLflow push writes nothing under `results/`, and the TensorBoard writer
//! adds only its own `tensorboard/` folder, so a failed publish leaves the sweep as it was.

pub mod mlflow;
pub mod tensorboard;
