//! Data: CSV loading, label mapping, the stratified split and standardization.
//!
//! Everything a model needs to be applied to new rows later (column order,
//! means, stds, label mapping, the file's fingerprint, the split) is kept in
//! [`Preprocessing`] and stored beside every model.

mod load;
mod split;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use load::{Dataset, load_csv};
pub use split::prepare;

/// A problem with the data file, naming the row and column where it applies.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be read.
    #[error("{path}: cannot read the data file: {source}{hint}")]
    Read {
        /// The data file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
        /// Where a relative path was looked for, or empty.
        hint: String,
    },
    /// No header, or a header but no rows.
    #[error("{path}: {what}, expected a header line and at least one data row")]
    Empty {
        /// The data file.
        path: PathBuf,
        /// What was missing.
        what: &'static str,
    },
    /// A malformed line (e.g. a wrong number of fields).
    #[error("{path}:{line}: {message}")]
    Malformed {
        /// The data file.
        path: PathBuf,
        /// 1-based line number in the file.
        line: u64,
        /// What the CSV reader said.
        message: String,
    },
    /// The target column is not in the header.
    #[error("{path}: no column \"{column}\" (data.target); the header has: {available}")]
    MissingColumn {
        /// The data file.
        path: PathBuf,
        /// The column asked for.
        column: String,
        /// The columns the header has.
        available: String,
    },
    /// A feature cell is not a number.
    #[error("{path}:{line}: column \"{column}\": got \"{value}\", expected a number")]
    NonNumeric {
        /// The data file.
        path: PathBuf,
        /// 1-based line number in the file.
        line: u64,
        /// The column.
        column: String,
        /// The cell.
        value: String,
    },
    /// A feature cell is NaN or infinite.
    #[error("{path}:{line}: column \"{column}\": got {value}, expected a finite number")]
    NotFinite {
        /// The data file.
        path: PathBuf,
        /// 1-based line number in the file.
        line: u64,
        /// The column.
        column: String,
        /// The cell.
        value: String,
    },
    /// A target cell is empty.
    #[error("{path}:{line}: column \"{column}\" (the target) is empty, expected a class label")]
    EmptyLabel {
        /// The data file.
        path: PathBuf,
        /// 1-based line number in the file.
        line: u64,
        /// The target column.
        column: String,
    },
    /// Only one class in the target column.
    #[error("{path}: column \"{column}\" has {found} class(es), expected at least 2")]
    TooFewClasses {
        /// The data file.
        path: PathBuf,
        /// The target column.
        column: String,
        /// How many distinct labels.
        found: usize,
    },
    /// Only the target column, no features.
    #[error("{path}: no feature columns besides the target \"{column}\"")]
    NoFeatures {
        /// The data file.
        path: PathBuf,
        /// The target column.
        column: String,
    },
    /// The split leaves the train or the validation part empty.
    #[error(
        "{path}: {rows} rows split with valid_fraction {fraction} leave {train} for training and {valid} for validation; both need at least one"
    )]
    SplitTooSmall {
        /// The data file.
        path: PathBuf,
        /// Rows in the file.
        rows: usize,
        /// data.valid_fraction.
        fraction: f64,
        /// Training rows.
        train: usize,
        /// Validation rows.
        valid: usize,
    },
}

/// How raw rows become model inputs; stored with every model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Preprocessing {
    /// The data file, as the spec named it.
    pub data_path: PathBuf,
    /// SHA-256 of the data file's bytes.
    pub data_fingerprint: String,
    /// The label column.
    pub target: String,
    /// Feature columns, in model input order.
    pub feature_columns: Vec<String>,
    /// Per-feature mean of the training split.
    pub means: Vec<f64>,
    /// Per-feature standard deviation (population) of the training split; 1 where it is 0.
    pub stds: Vec<f64>,
    /// Class labels in their original form; model output `k` is `classes[k]`.
    pub classes: Vec<String>,
    /// Seed of the split.
    pub split_seed: u64,
    /// Share of each class held out.
    pub valid_fraction: f64,
    /// 0-based data rows (header excluded) of the validation split.
    pub valid_rows: Vec<usize>,
}

/// The split, standardized and ready for training; shared read-only by all trials.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// Training features, `train_y.len() × n_features`, row-major.
    pub train_x: Vec<f32>,
    /// Training labels (class indices).
    pub train_y: Vec<usize>,
    /// Validation features, row-major.
    pub valid_x: Vec<f32>,
    /// Validation labels.
    pub valid_y: Vec<usize>,
    /// Number of input features.
    pub n_features: usize,
    /// Number of classes.
    pub n_classes: usize,
    /// How the inputs were made.
    pub preprocessing: Preprocessing,
}
