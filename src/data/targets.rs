//! Reading a table's target column for the sweep's task, with the checks bad
//! input deserves: a continuous target is not silently trained as hundreds of
//! classes, and a regression target must be numeric.

use std::collections::BTreeSet;

use super::DataError;
use super::preprocess::RawTable;
use crate::metrics::Task;

/// A classification target whose classes outnumber this share of the rows
/// (fewer than 5 rows per class on average) is refused as likely continuous.
pub(super) const MAX_CLASS_SHARE: f64 = 0.2;

/// The raw target of each row, as a source delivers it.
#[derive(Debug, Clone, PartialEq)]
pub enum TargetColumn {
    /// Cells as text (a CSV file): class labels, or numbers the task reads.
    Text(Vec<String>),
    /// Numbers (a source that has them): class labels when whole, or regression targets.
    Numbers(Vec<f64>),
}

impl TargetColumn {
    /// Rows.
    pub fn len(&self) -> usize {
        match self {
            TargetColumn::Text(v) => v.len(),
            TargetColumn::Numbers(v) => v.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Targets read for a task: class indices with their labels, or real values.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum ReadTargets {
    Classes { y: Vec<usize>, classes: Vec<String> },
    Values(Vec<f64>),
}

fn line_of(table: &RawTable, row: usize) -> u64 {
    table.lines.get(row).copied().unwrap_or(row as u64 + 2)
}

/// Reads `table`'s targets for `task`.
pub(super) fn read(table: &RawTable, task: Task) -> Result<ReadTargets, DataError> {
    read_with(table, task, true)
}

/// Reads the targets of some rows for a model that knows its classes already
/// (a stored split, a separate test file): a few rows may hold one class, or
/// many classes for their number, without being continuous.
pub(super) fn read_unchecked(table: &RawTable, task: Task) -> Result<ReadTargets, DataError> {
    read_with(table, task, false)
}

fn read_with(table: &RawTable, task: Task, check_classes: bool) -> Result<ReadTargets, DataError> {
    let p = || table.path.clone();
    let column = || table.target.clone();
    match task {
        Task::Regression => {
            let values = match &table.targets {
                TargetColumn::Numbers(v) => v.clone(),
                TargetColumn::Text(cells) => cells
                    .iter()
                    .enumerate()
                    .map(|(row, cell)| {
                        if cell.is_empty() {
                            return Err(DataError::EmptyTarget {
                                path: p(),
                                line: line_of(table, row),
                                column: column(),
                                expected: "number",
                            });
                        }
                        cell.parse::<f64>().map_err(|_| DataError::NonNumericTarget {
                            path: p(),
                            line: line_of(table, row),
                            column: column(),
                            value: cell.clone(),
                        })
                    })
                    .collect::<Result<Vec<f64>, DataError>>()?,
            };
            if let Some(row) = values.iter().position(|v| !v.is_finite()) {
                return Err(DataError::NonNumericTarget {
                    path: p(),
                    line: line_of(table, row),
                    column: column(),
                    value: values[row].to_string(),
                });
            }
            Ok(ReadTargets::Values(values))
        }
        Task::Classification => {
            let labels: Vec<String> = match &table.targets {
                TargetColumn::Text(cells) => cells.clone(),
                TargetColumn::Numbers(v) => v.iter().map(|x| x.to_string()).collect(),
            };
            if let Some(row) = labels.iter().position(String::is_empty) {
                return Err(DataError::EmptyTarget {
                    path: p(),
                    line: line_of(table, row),
                    column: column(),
                    expected: "class label",
                });
            }
            // Numbers with a fraction are measurements, not class labels.
            let numeric: Option<Vec<f64>> = labels.iter().map(|l| l.parse::<f64>().ok()).collect();
            if let Some(values) = numeric
                && let Some(row) = values.iter().position(|v| v.fract() != 0.0)
            {
                return Err(DataError::LooksContinuous {
                    path: p(),
                    column: column(),
                    why: format!(
                        "holds numbers with a fraction (\"{}\" on line {}), which are no class labels",
                        labels[row],
                        line_of(table, row)
                    ),
                });
            }
            let classes = sorted_classes(&labels);
            if check_classes && classes.len() < 2 {
                return Err(DataError::TooFewClasses { path: p(), column: column(), found: classes.len() });
            }
            let rows = labels.len();
            let most = ((rows as f64 * MAX_CLASS_SHARE).floor() as usize).max(2);
            if check_classes && classes.len() > most {
                return Err(DataError::LooksContinuous {
                    path: p(),
                    column: column(),
                    why: format!(
                        "has {} distinct values in {rows} rows, fewer than {:.0} rows per class on average \
                         (classification takes at most {most} classes here)",
                        classes.len(),
                        1.0 / MAX_CLASS_SHARE
                    ),
                });
            }
            let index: std::collections::HashMap<&str, usize> =
                classes.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect();
            let y = labels.iter().map(|l| index.get(l.as_str()).copied().unwrap_or(0)).collect();
            Ok(ReadTargets::Classes { y, classes })
        }
    }
}

/// Distinct labels, sorted numerically when all are numbers, else as strings.
pub(super) fn sorted_classes(labels: &[String]) -> Vec<String> {
    let distinct: BTreeSet<&String> = labels.iter().collect();
    let mut classes: Vec<String> = distinct.into_iter().cloned().collect();
    if classes.iter().all(|c| c.parse::<f64>().is_ok()) {
        classes.sort_by(|a, b| a.parse::<f64>().unwrap_or(0.0).total_cmp(&b.parse::<f64>().unwrap_or(0.0)));
    }
    classes
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(targets: &[&str]) -> RawTable {
        RawTable::from(&crate::data::Table {
            path: "t.csv".into(),
            fingerprint: String::new(),
            target: "y".into(),
            features: vec!["x".into()],
            x: vec![0.0; targets.len()],
            targets: TargetColumn::Text(targets.iter().map(|s| s.to_string()).collect()),
            lines: (2..2 + targets.len() as u64).collect(),
        })
    }

    #[test]
    fn integer_labels_sort_numerically_strings_lexically() {
        let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(sorted_classes(&l(&["10", "9", "2", "9"])), l(&["2", "9", "10"]));
        assert_eq!(sorted_classes(&l(&["malignant", "benign"])), l(&["benign", "malignant"]));
    }

    #[test]
    fn a_continuous_target_is_refused_for_classification() {
        let fractions: Vec<String> = (0..300).map(|i| format!("{}.5", i % 7)).collect();
        let t = table(&fractions.iter().map(String::as_str).collect::<Vec<_>>());
        let e = read(&t, Task::Classification).unwrap_err().to_string();
        assert!(e.contains("holds numbers with a fraction (\"0.5\" on line 2)"), "{e}");
        assert!(e.ends_with("set [data] task = \"regression\""), "{e}");

        let many: Vec<String> = (0..300).map(|i| format!("{}", i % 297)).collect();
        let t = table(&many.iter().map(String::as_str).collect::<Vec<_>>());
        let e = read(&t, Task::Classification).unwrap_err().to_string();
        assert!(e.contains("has 297 distinct values in 300 rows"), "{e}");
        assert!(e.contains("at most 60 classes"), "{e}");

        // Whole numbers written as floats are fine labels; so are few string classes.
        let ok: Vec<&str> = (0..20).map(|i| if i % 2 == 0 { "1.0" } else { "2.0" }).collect();
        assert!(matches!(read(&table(&ok), Task::Classification), Ok(ReadTargets::Classes { .. })));
    }

    #[test]
    fn regression_targets_must_be_numbers() {
        assert_eq!(
            read(&table(&["1.5", "-2", "3e2"]), Task::Regression).unwrap(),
            ReadTargets::Values(vec![1.5, -2.0, 300.0])
        );
        let e = read(&table(&["1.5", "abc"]), Task::Regression).unwrap_err().to_string();
        assert_eq!(
            e,
            "t.csv:3: column \"y\" (the target): got \"abc\", expected a finite number for task = \"regression\""
        );
        let e = read(&table(&["1.5", ""]), Task::Regression).unwrap_err().to_string();
        assert!(e.contains("t.csv:3: column \"y\" (the target) is empty, expected a number"), "{e}");
        assert!(read(&table(&["1", "inf"]), Task::Regression).is_err());
    }
}
