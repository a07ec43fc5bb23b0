//! Publishing a finished sweep into the tools users already run: an MLflow tracking
//! server and model registry, and TensorBoard's event files.
//!
//! Everything here reads a sweep's results folder (trial records, history, checkpoints)
//! and never changes it: a failed publish leaves `results/` as it was.

pub mod mlflow;
