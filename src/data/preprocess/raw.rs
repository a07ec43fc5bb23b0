//! A table as the CSV file holds it: each feature column's cells, numbers or
//! text, with missing cells marked, before anything is learned from them.

use std::collections::HashSet;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::{MissingPolicy, Unseen};
use crate::data::{DataError, Table, TargetColumn};

/// One feature column's cells.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cells {
    /// Numbers; NaN marks a missing cell.
    Numbers(Vec<f64>),
    /// Text (a categorical column); `None` marks a missing cell.
    Text(Vec<Option<String>>),
}

/// A feature column and the spec's policy for its missing cells.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawColumn {
    /// Its header.
    pub name: String,
    /// Its cells, one per kept row.
    pub cells: Cells,
    /// What its missing cells become.
    pub missing: MissingPolicy,
}

/// Rows the loader left out before the split, counted in the run's output and `splits.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct LeftOut {
    /// Rows whose target is missing (a target is never imputed).
    #[serde(default)]
    pub missing_target: usize,
    /// Rows with a missing cell in a column whose policy is `drop_rows`.
    #[serde(default)]
    pub missing_cells: usize,
}

impl LeftOut {
    /// Whether no row was left out.
    pub(crate) fn is_empty(&self) -> bool {
        self.missing_target == 0 && self.missing_cells == 0
    }
}

/// How the table's steps are learned, when the spec asks for any.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StepOptions {
    /// What counts as missing.
    pub na_values: Vec<String>,
    /// What a category never seen in training becomes at prediction.
    pub unseen: Unseen,
}

/// Rows with their raw feature columns, the targets and the file lines.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RawTable {
    /// The data file (or a data source's description).
    pub path: PathBuf,
    /// Its SHA-256 (or a source's fingerprint).
    pub fingerprint: String,
    /// The target column.
    pub target: String,
    /// The feature columns, in the file's order.
    pub columns: Vec<RawColumn>,
    /// The target of each kept row.
    pub targets: TargetColumn,
    /// The file line of each kept row.
    pub lines: Vec<u64>,
    /// What was left out before the split.
    pub left_out: LeftOut,
    /// Lines for the run's output: the columns `categorical = "auto"` chose, identifier-like columns.
    pub notes: Vec<String>,
    /// `None`: no step asked for; the columns are numbers without gaps and the
    /// model's features are exactly those columns, as before steps existed.
    pub steps: Option<StepOptions>,
}

impl RawTable {
    /// Kept rows.
    pub(crate) fn rows(&self) -> usize {
        self.targets.len()
    }

    /// Refuses categorical columns with about one category per row, naming
    /// them all: one-hot encoding one gives the model a column per row.
    pub(crate) fn check_categories(&self) -> Result<(), DataError> {
        let rows = self.rows();
        let too_many: Vec<(&str, usize)> = self
            .columns
            .iter()
            .filter_map(|c| match &c.cells {
                Cells::Text(v) => {
                    let distinct = v.iter().flatten().collect::<HashSet<_>>().len();
                    super::too_many_categories(distinct, rows).then_some((c.name.as_str(), distinct))
                }
                Cells::Numbers(_) => None,
            })
            .collect();
        if too_many.is_empty() {
            return Ok(());
        }
        Err(DataError::TooManyCategories {
            path: self.path.clone(),
            columns: too_many
                .iter()
                .map(|(name, n)| format!("{name:?} ({n} distinct values in {rows} rows)"))
                .collect::<Vec<_>>()
                .join(", "),
            names: too_many.iter().map(|(name, _)| format!("{name:?}")).collect::<Vec<_>>().join(", "),
        })
    }

    /// The column named `name`.
    pub(crate) fn column(&self, name: &str) -> Option<&RawColumn> {
        self.columns.iter().find(|c| c.name == name)
    }
}

impl From<&Table> for RawTable {
    /// A source's numeric rows: every column numbers, no step.
    fn from(table: &Table) -> Self {
        let d = table.features.len();
        let columns = table
            .features
            .iter()
            .enumerate()
            .map(|(j, name)| RawColumn {
                name: name.clone(),
                cells: Cells::Numbers(table.x.iter().skip(j).step_by(d.max(1)).copied().collect()),
                missing: MissingPolicy::Error,
            })
            .collect();
        RawTable {
            path: table.path.clone(),
            fingerprint: table.fingerprint.clone(),
            target: table.target.clone(),
            columns,
            targets: table.targets.clone(),
            lines: table.lines.clone(),
            left_out: LeftOut::default(),
            notes: Vec::new(),
            steps: None,
        }
    }
}
