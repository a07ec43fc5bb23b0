//! Data: rows from a source (the bundled CSV loader, or an objective's own
//! [`DataSource`]), targets read for the sweep's task, the split and
//! standardization.
//!
//! Everything a model needs to be applied to new rows later (column order,
//! means, stds, label mapping or target scale, the data's fingerprint, the
//! split) is kept in the preprocessing record stored beside every model.

mod csv;
pub(crate) mod preprocess;
mod source;
mod split;
mod summary;
mod targets;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub(crate) use csv::read_csv;
pub use csv::{CsvOptions, load_csv};
pub use preprocess::{
    Categorical, DEFAULT_NA_VALUES, MAX_CATEGORY_SHARE, MIN_CATEGORIES_CHECKED, MissingPolicy, MissingSpec, StepsSpec,
    Unseen,
};
pub(crate) use preprocess::{RawTable, Steps};
pub use source::{DataSource, SourceError};
pub use split::prepare;
pub(crate) use split::{SplitPlan, StoredSplit, TestPlan, prepare_split, rows_of_table, split_rows, stored_split};
pub(crate) use summary::SplitSummary;
#[cfg(test)]
pub(crate) use summary::{Duplicates, PartSummary};
pub use targets::TargetColumn;

use crate::metrics::{TargetScale, Task, Truth};
use crate::params::Params;
use crate::text::one_line;

/// A problem with the data, naming the file, row and column where it applies.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// The file could not be read.
    #[error("{path}: cannot read the data file: {source}{hint}")]
    Read {
        /// The data file.
        path: PathBuf,
        /// What the operating system reported.
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
    /// A column the spec names is not in the header.
    #[error("{path}: no column {column:?} ({key}); the header has: {}", one_line(available))]
    MissingColumn {
        /// The data file.
        path: PathBuf,
        /// The column asked for.
        column: String,
        /// The spec key that named it (`data.target`, `data.features`, `data.drop`).
        key: &'static str,
        /// The columns the header has.
        available: String,
    },
    /// The spec's column choice contradicts itself.
    #[error("{path}: {}", one_line(message))]
    Columns {
        /// The data file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A feature cell is not a number.
    #[error(
        "{path}:{line}: column {column:?}: got {value:?}, expected a number (a text column cannot be a feature as it is: make it a category with [data] categorical = [{column:?}], or leave it out with [data] drop = [{column:?}])"
    )]
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
    /// A feature cell is missing and nothing says what it becomes.
    #[error("{path}:{line}: column {column:?}: the cell is missing ({}); {hint}", shown_cell(value))]
    Missing {
        /// The data file.
        path: PathBuf,
        /// 1-based line number in the file.
        line: u64,
        /// The column.
        column: String,
        /// The cell as written (one of the missing values).
        value: String,
        /// What the user can do: the policies, or what the model was trained with.
        hint: String,
    },
    /// A category the model's training rows never had, where the model refuses them.
    #[error(
        "{path}:{line}: column {column:?}: got {value:?}, a category the model's training rows never had (it knows {}); it was trained with [data] unseen = \"error\", which refuses such rows",
        one_line(known)
    )]
    UnseenCategory {
        /// The data file.
        path: PathBuf,
        /// 1-based line number in the file.
        line: u64,
        /// The column.
        column: String,
        /// The cell.
        value: String,
        /// The known categories.
        known: String,
    },
    /// Categorical columns with about one category per row.
    #[error(
        "{path}: too many distinct values to one-hot encode in {}: more than {} and more than a fifth of the rows; such a column names rows rather than describes them: leave it out with [data] drop = [{}]",
        one_line(columns),
        preprocess::MIN_CATEGORIES_CHECKED,
        one_line(names)
    )]
    TooManyCategories {
        /// The data file.
        path: PathBuf,
        /// Each column with its count of distinct values.
        columns: String,
        /// The columns, quoted, comma-separated.
        names: String,
    },
    /// A column's training rows hold nothing to learn a fill value or a category from.
    #[error(
        "{path}: column {column:?} has no value in the training rows to learn from (missing = \"{policy}\"); leave it out with [data] drop = [{column:?}]"
    )]
    NoFill {
        /// The data file.
        path: PathBuf,
        /// The column.
        column: String,
        /// Its missing-cell policy.
        policy: &'static str,
    },
    /// A feature cell is NaN or infinite.
    #[error("{path}:{line}: column {column:?}: got {value}, expected a finite number")]
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
    #[error("{path}:{line}: column {column:?} (the target) is empty, expected a {expected}")]
    EmptyTarget {
        /// The data file.
        path: PathBuf,
        /// 1-based line number in the file.
        line: u64,
        /// The target column.
        column: String,
        /// "class label" or "number".
        expected: &'static str,
    },
    /// A regression target that is not a finite number.
    #[error(
        "{path}:{line}: column {column:?} (the target): got {value:?}, expected a finite number for task = \"regression\""
    )]
    NonNumericTarget {
        /// The data file.
        path: PathBuf,
        /// 1-based line number in the file.
        line: u64,
        /// The target column.
        column: String,
        /// The cell.
        value: String,
    },
    /// A classification target that looks continuous.
    #[error(
        "{path}: column {column:?} (the target) {}: is it a continuous target? set [data] task = \"regression\"",
        one_line(why)
    )]
    LooksContinuous {
        /// The data file.
        path: PathBuf,
        /// The target column.
        column: String,
        /// What gave it away.
        why: String,
    },
    /// Only one class in the target column.
    #[error("{path}: column {column:?} has {found} class(es), expected at least 2")]
    TooFewClasses {
        /// The data file.
        path: PathBuf,
        /// The target column.
        column: String,
        /// How many distinct labels.
        found: usize,
    },
    /// Only the target column, no features.
    #[error("{path}: no feature columns besides the target {column:?}")]
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
    /// An objective's own data source failed.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// A stored split no longer fits its data.
    #[error("{path}: {message}")]
    Stored {
        /// The data.
        path: PathBuf,
        /// What does not fit.
        message: String,
    },
}

/// A cell for a message: `empty`, or the text that marks it missing, quoted.
fn shown_cell(value: &str) -> String {
    if value.is_empty() { "empty".into() } else { format!("{value:?}") }
}

/// Rows as a source delivers them, before the split: numeric features and
/// the raw target of each row.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Where the rows came from: the CSV file, or a source's own description.
    pub path: PathBuf,
    /// A fingerprint of the data (the CSV file's SHA-256).
    pub fingerprint: String,
    /// The target's name.
    pub target: String,
    /// Feature names, in model input order.
    pub features: Vec<String>,
    /// Features, row-major (`rows × features.len()`).
    pub x: Vec<f64>,
    /// The target of each row.
    pub targets: TargetColumn,
    /// The file line of each row, for messages (empty where rows have no lines).
    pub lines: Vec<u64>,
}

impl Table {
    /// Number of rows.
    pub fn rows(&self) -> usize {
        self.targets.len()
    }
}

/// How raw rows become model inputs and targets; stored with every model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Preprocessing {
    /// The data file, as the spec named it (or a data source's description).
    pub data_path: PathBuf,
    /// SHA-256 of the data file's bytes (or a data source's fingerprint).
    pub data_fingerprint: String,
    /// The target column.
    pub target: String,
    /// What the model predicts.
    #[serde(default)]
    pub task: Task,
    /// Feature columns, in model input order.
    pub feature_columns: Vec<String>,
    /// Per-feature mean of the training split.
    pub means: Vec<f64>,
    /// Per-feature standard deviation (population) of the training split; 1 where it is 0.
    pub stds: Vec<f64>,
    /// Classification: class labels in their original form; model output `k` is `classes[k]`.
    #[serde(default)]
    pub classes: Vec<String>,
    /// Regression: the training targets' mean and std; the model predicts `(y − mean) / std`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_scale: Option<TargetScale>,
    /// Seed of the split.
    pub split_seed: u64,
    /// Share of the rows (of each class, for classification) held out.
    pub valid_fraction: f64,
    /// 0-based data rows (header excluded) of the validation split.
    pub valid_rows: Vec<usize>,
    /// The test split, which no trial sees; absent without one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<TestSplit>,
    /// With cross-validation: the folds, and which one is the validation split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cv: Option<CvFold>,
    /// An objective's own data source, by objective name, with its options;
    /// absent for the bundled CSV loader.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceRef>,
    /// The steps from raw columns to `feature_columns` (fills, categories),
    /// learned on the training rows; absent when the features are the raw columns as numbers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub steps: Option<Steps>,
}

/// The test split of a model's data.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub(crate) enum TestSplit {
    /// Rows of the data file, carved out before the validation split.
    Carved {
        /// `[data] test_fraction`.
        fraction: f64,
        /// 0-based data rows (header excluded).
        rows: Vec<usize>,
    },
    /// Every row of a separate file (`[data] test_path`).
    File {
        /// The file, as the spec named it.
        path: PathBuf,
        /// Its SHA-256.
        fingerprint: String,
        /// Its rows.
        rows: usize,
    },
}

/// Cross-validation: how many folds, and which one a model was validated on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct CvFold {
    /// `[data] cv_folds`.
    pub folds: usize,
    /// The validation fold (0-based); `None` for a refit on every non-test row.
    pub fold: Option<usize>,
}

/// A part of a model's data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SplitName {
    /// The rows it learned from.
    Train,
    /// The rows its best epoch was chosen on.
    Valid,
    /// The rows no selection saw.
    Test,
}

impl SplitName {
    /// As the command line and the files write it.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SplitName::Train => "train",
            SplitName::Valid => "valid",
            SplitName::Test => "test",
        }
    }
}

/// Which objective's data source produced the rows, and with what options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SourceRef {
    /// The objective that owns the source.
    pub objective: String,
    /// The `[data]` options it was given.
    pub options: Params,
}

impl Preprocessing {
    /// Model outputs per row: one logit per class, or one prediction.
    pub(crate) fn outputs_per_row(&self) -> usize {
        match self.task {
            Task::Classification => self.classes.len(),
            Task::Regression => 1,
        }
    }

    /// The regression targets' scale (identity for classification and older files).
    pub(crate) fn scale(&self) -> TargetScale {
        self.target_scale.unwrap_or(TargetScale::IDENTITY)
    }

    /// The loader's options that read the model's data file again exactly as
    /// it was read for training: its raw columns, each as numbers or text, the
    /// same missing cells and the same rows left out.
    pub(crate) fn csv_options(&self) -> CsvOptions {
        let Some(steps) = &self.steps else {
            return CsvOptions { features: Some(self.feature_columns.clone()), ..CsvOptions::target(&self.target) };
        };
        let text = steps.columns.iter().filter(|c| c.is_text()).map(|c| c.name.clone()).collect();
        CsvOptions {
            features: Some(steps.columns.iter().map(|c| c.name.clone()).collect()),
            steps: StepsSpec {
                categorical: Categorical::Columns(text),
                missing: MissingSpec {
                    default: MissingPolicy::Error,
                    columns: steps.columns.iter().map(|c| (c.name.clone(), c.missing)).collect(),
                },
                na_values: Some(steps.na_values.clone()),
                unseen: steps.unseen,
            },
            ..CsvOptions::target(&self.target)
        }
    }

    /// The steps from raw columns to model features (plain numbers without stored steps).
    pub(crate) fn steps(&self) -> std::borrow::Cow<'_, Steps> {
        preprocess::steps_of(self.steps.as_ref(), &self.feature_columns)
    }

    /// Standardizes raw feature rows (`n × features`, in model column order).
    pub(crate) fn standardize(&self, raw: &[f64]) -> Vec<f32> {
        let d = self.feature_columns.len().max(1);
        raw.chunks(d)
            .flat_map(|row| row.iter().enumerate().map(|(j, v)| ((v - self.means[j]) / self.stds[j]) as f32))
            .collect()
    }
}

/// Targets of one part of the split, in the units the model learns.
#[derive(Debug, Clone, PartialEq)]
pub enum Targets {
    /// Class indices.
    Classes(Vec<usize>),
    /// Real targets.
    Values {
        /// Standardized (by the training targets' mean and std), as the model learns them.
        model: Vec<f32>,
        /// As the data hold them: what the metrics compare predictions with.
        original: Vec<f64>,
    },
}

impl Targets {
    /// Real targets as the data hold them, with the standardized copy the model learns.
    pub(crate) fn values(original: Vec<f64>, scale: TargetScale) -> Self {
        Targets::Values { model: original.iter().map(|&y| scale.to_model(y) as f32).collect(), original }
    }

    /// Rows.
    pub fn len(&self) -> usize {
        match self {
            Targets::Classes(v) => v.len(),
            Targets::Values { original, .. } => original.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Each row's target as the validation outputs file stores it: the class index, or the
    /// value as the data hold it.
    pub(crate) fn stored(&self) -> Vec<f64> {
        match self {
            Targets::Classes(labels) => labels.iter().map(|&k| k as f64).collect(),
            Targets::Values { original, .. } => original.clone(),
        }
    }
}

/// The sizes a model is built for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DataShape {
    /// What the model predicts.
    pub task: Task,
    /// Inputs per row.
    pub n_features: usize,
    /// Outputs per row: classes, or 1.
    pub n_outputs: usize,
}

/// The split, standardized and ready for training; shared read-only by all trials.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// What the model predicts.
    pub task: Task,
    /// Training features, `train rows × n_features`, row-major, standardized.
    pub train_x: Vec<f32>,
    /// Training targets.
    pub train_y: Targets,
    /// Validation features, row-major, standardized.
    pub valid_x: Vec<f32>,
    /// Validation targets.
    pub valid_y: Targets,
    /// Inputs per row.
    pub n_features: usize,
    /// How the inputs and targets were made.
    pub(crate) preprocessing: Preprocessing,
}

impl Prepared {
    /// Outputs per row a model must produce: classes, or 1.
    pub fn n_outputs(&self) -> usize {
        self.preprocessing.outputs_per_row()
    }

    /// Training rows.
    pub fn n_train(&self) -> usize {
        self.train_y.len()
    }

    /// Validation rows.
    pub fn n_valid(&self) -> usize {
        self.valid_y.len()
    }

    /// The sizes a model is built for.
    pub fn shape(&self) -> DataShape {
        DataShape { task: self.task, n_features: self.n_features, n_outputs: self.n_outputs() }
    }

    /// Training class indices, for classification.
    pub fn train_classes(&self) -> Option<&[usize]> {
        match &self.train_y {
            Targets::Classes(c) => Some(c),
            Targets::Values { .. } => None,
        }
    }

    /// Standardized training targets, for regression.
    pub fn train_values(&self) -> Option<&[f32]> {
        match &self.train_y {
            Targets::Values { model, .. } => Some(model),
            Targets::Classes(_) => None,
        }
    }

    /// The validation targets as the metrics read them.
    pub fn valid_truth(&self) -> Truth<'_> {
        truth(&self.valid_y, &self.preprocessing)
    }

    /// No rows at all, for an objective whose program reads its own data:
    /// the preprocessing records only that, and the task.
    pub(crate) fn owned_by_program(task: Task, seed: u64) -> Prepared {
        let empty = || match task {
            Task::Classification => Targets::Classes(Vec::new()),
            Task::Regression => Targets::Values { model: Vec::new(), original: Vec::new() },
        };
        Prepared {
            task,
            train_x: Vec::new(),
            train_y: empty(),
            valid_x: Vec::new(),
            valid_y: empty(),
            n_features: 0,
            preprocessing: Preprocessing {
                data_path: PathBuf::from(PROGRAM_DATA),
                data_fingerprint: PROGRAM_DATA.to_string(),
                target: String::new(),
                task,
                feature_columns: Vec::new(),
                means: Vec::new(),
                stds: Vec::new(),
                classes: Vec::new(),
                target_scale: None,
                split_seed: seed,
                valid_fraction: 0.0,
                valid_rows: Vec::new(),
                test: None,
                cv: None,
                source: None,
                steps: None,
            },
        }
    }
}

/// What a command objective's records name as their data: the program reads its own.
pub(crate) const PROGRAM_DATA: &str = "(read by the program)";

/// Targets as the metrics read them.
pub(crate) fn truth<'a>(targets: &'a Targets, pre: &Preprocessing) -> Truth<'a> {
    match targets {
        Targets::Classes(labels) => Truth::Classes { labels, n_classes: pre.classes.len() },
        Targets::Values { original, .. } => Truth::Values { values: original, scale: pre.scale() },
    }
}

impl DataShape {
    /// The shape a stored model was trained for.
    pub(crate) fn of(pre: &Preprocessing) -> Self {
        DataShape { task: pre.task, n_features: pre.feature_columns.len(), n_outputs: pre.outputs_per_row() }
    }
}
