//! Using a trained model: load it from a trial or registry folder, predict on
//! new rows, verify that its metadata describes its checkpoint, and export it.

mod evaluate;
mod export;
mod input;
mod model;
pub(crate) mod onnx;
mod program;
mod pytorch;
pub(crate) mod verify;

use std::path::PathBuf;

pub(crate) use evaluate::{evaluate_split, stored_part};
pub(crate) use export::{Format, Layout, export, model_card_files};
pub(crate) use input::read_features;
pub(crate) use model::{LoadedModel, Predictions};
pub(crate) use program::{check_program_checkpoint, evaluate_program, program_record, verify_program};
pub(crate) use verify::verify;

use crate::data::DataError;
use crate::registry::{ModelRef, Registry, RegistryError};
use crate::store::StoreError;

/// Why a model could not be used.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DeployError {
    /// The model reference did not resolve.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// The device asked for cannot be used.
    #[error(transparent)]
    Device(#[from] crate::device::DeviceError),
    /// A file is missing or unreadable.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The folder is not a model.
    #[error(
        "{dir}: not a model folder (expected best.safetensors, best.json and preprocessing.json; a trial folder results/<sweep>/trials/<id> or a registry version)"
    )]
    NotAModel { dir: PathBuf },
    /// No record with the checkpoint's checksum: the trial is still running.
    #[error("{path}: missing or without a checkpoint sha256: its trial has not finished (or died before finishing)")]
    Unfinished {
        /// The trial.json.
        path: PathBuf,
    },
    /// The model's objective is not in this binary.
    #[error(
        "{dir}: the model was trained by objective \"{name}\" (version {version}), which this binary does not have (it has: {known}); load it with the binary that defines that objective"
    )]
    UnknownObjective {
        dir: PathBuf,
        /// The objective its record names.
        name: String,
        version: String,
        /// The objectives this binary has.
        known: String,
    },
    /// The objective here has another version than the one that trained the model.
    #[error(
        "{dir}: the model was trained by objective \"{name}\" version {trained}, but this binary has version {here}; its checkpoint may not be the same model here, so it is not loaded"
    )]
    ObjectiveVersion {
        dir: PathBuf,
        name: String,
        /// The version that trained it.
        trained: String,
        /// The version here.
        here: String,
    },
    /// The model is a program's own file, which sweep cannot load.
    #[error(
        "{dir}: a model of objective \"{name}\": its checkpoint is the program's own file, which sweep stores and checks (sweep verify) but cannot load to {what}; load it with the program's own code"
    )]
    ProgramModel {
        dir: PathBuf,
        /// The objective.
        name: String,
        /// What was asked: predict, evaluate, export.
        what: &'static str,
    },
    /// The objective offers no such export.
    #[error("objective \"{name}\" offers no {what}; export writes its checkpoint as trained (--layout burn)")]
    Unsupported {
        name: String,
        /// What was asked for.
        what: &'static str,
    },
    /// A checkpoint differs from the one its metadata describes.
    #[error(
        "{path}: sha256 is {actual}, but {} says {expected}: the checkpoint is not the one its metadata describes (one of the two files is damaged, or they do not belong together)",
        record.display()
    )]
    ChecksumMismatch {
        path: PathBuf,
        /// The file that holds the expected sha256: trial.json, best.json or test.json.
        record: PathBuf,
        /// From the trial's record, trial.json (best.json in results of older versions).
        expected: String,
        /// Of the file.
        actual: String,
    },
    /// The checkpoint would not load.
    #[error("{path}: {message}")]
    Checkpoint { path: PathBuf, message: String },
    /// The input CSV does not fit the model.
    #[error("{path}: {message}")]
    Input {
        /// The CSV.
        path: PathBuf,
        /// What is wrong (row and column where it applies).
        message: String,
    },
    /// The data the model was trained on is gone or unreadable.
    #[error(transparent)]
    Data(#[from] DataError),
    /// The data are not the ones the model was trained on.
    #[error(
        "{path}: fingerprint is {actual}, but the model was trained on {expected}; its validation split cannot be rebuilt from changed data"
    )]
    DataChanged {
        path: PathBuf,
        /// The model's fingerprint.
        expected: String,
        /// The file's.
        actual: String,
    },
    /// The model has no such part of a split.
    #[error("{dir}: has no {split} split: {why}")]
    NoSuchSplit {
        dir: PathBuf,
        /// The part asked for.
        split: &'static str,
        /// Why not.
        why: String,
    },
    /// A trial's `[command] predict` did not give predictions.
    #[error(
        "{dir}: [command] predict {argv:?} failed: {message}; run it by hand in the trial's working directory (trial.json's program.cwd) to see why"
    )]
    Predict {
        dir: PathBuf,
        /// The command line run.
        argv: Vec<String>,
        /// What went wrong: its exit status and the tail of its stderr, or what its file lacks.
        message: String,
    },
    /// Writing an output failed.
    #[error("{path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// Finds a model's folder: a trial or version folder as given, or a registered model.
pub(crate) fn locate(reference: &str, registry: &Registry) -> Result<PathBuf, DeployError> {
    match ModelRef::parse(reference)? {
        ModelRef::Folder(dir) => Ok(dir),
        ModelRef::Named { name, selector } => Ok(registry.resolve(&name, &selector)?.2),
    }
}
