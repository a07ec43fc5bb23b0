//! Reading rows to predict: the model's raw input columns, by name, in any
//! order, through the steps stored with the model (fills, categories).

use std::path::Path;

use super::DeployError;
use crate::data::preprocess::{self, Cells, LeftOut, RawColumn, RawTable, UnseenAt, is_missing};
use crate::data::{DataError, Preprocessing, TargetColumn};

/// Rows read for prediction.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FeatureTable {
    /// Model features, `n × features`, in the model's column order, before standardization.
    pub x: Vec<f64>,
    /// The target column's cells, when the file has one (kept as true labels).
    pub labels: Option<Vec<String>>,
    /// Number of rows.
    pub rows: usize,
    /// What the user should know: rows with categories the model never saw.
    pub warnings: Vec<String>,
}

/// Reads `path`: every raw input column of the model must be there (by name,
/// any order); the target column may be; any other column is an error. Cells
/// go through the model's stored steps exactly as in training: a missing cell
/// takes its learned fill (or is an error naming it), a category the training
/// rows never had gives all-zero indicators and a warning (or an error, as the
/// model was trained to).
pub(crate) fn read_features(path: &Path, pre: &Preprocessing) -> Result<FeatureTable, DeployError> {
    let fail = |message: String| DeployError::Input { path: path.to_path_buf(), message };
    let steps = pre.steps();
    let inputs: Vec<&str> = steps.columns.iter().map(|c| c.name.as_str()).collect();
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| fail(format!("cannot read: {e}")))?;
    let header = reader.headers().map_err(|e| fail(e.to_string()))?.clone();
    let position = |name: &str| header.iter().position(|h| h == name);
    let missing: Vec<&str> = inputs.iter().copied().filter(|c| position(c).is_none()).collect();
    if !missing.is_empty() {
        return Err(fail(format!("missing column(s) the model needs: {}", missing.join(", "))));
    }
    let extra: Vec<&str> = header.iter().filter(|h| *h != pre.target && !inputs.contains(h)).collect();
    if !extra.is_empty() {
        return Err(fail(format!(
            "column(s) the model does not know: {} (it takes {} input columns{})",
            extra.join(", "),
            inputs.len(),
            format_args!(" and optionally the target \"{}\"", pre.target)
        )));
    }
    let order: Vec<usize> = inputs.iter().filter_map(|c| position(c)).collect();
    let target = position(&pre.target);

    let mut columns: Vec<RawColumn> = steps
        .columns
        .iter()
        .map(|step| RawColumn {
            name: step.name.clone(),
            cells: if step.is_text() { Cells::Text(Vec::new()) } else { Cells::Numbers(Vec::new()) },
            missing: step.missing,
        })
        .collect();
    let mut labels = target.map(|_| Vec::new());
    let mut lines = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| fail(e.to_string()))?;
        let line = record.position().map_or(0, |p| p.line());
        for ((&col, column), step) in order.iter().zip(columns.iter_mut()).zip(&steps.columns) {
            let cell = record.get(col).unwrap_or("");
            let absent = is_missing(cell, &steps.na_values);
            // Refused here, where the cell's own text is still known for the message.
            if absent && !step.fills() {
                return Err(DataError::Missing {
                    path: path.to_path_buf(),
                    line,
                    column: step.name.clone(),
                    value: cell.to_string(),
                    hint: preprocess::missing_hint(&step.name, step.missing, true),
                }
                .into());
            }
            match &mut column.cells {
                Cells::Text(v) => v.push((!absent).then(|| cell.to_string())),
                Cells::Numbers(v) if absent => v.push(f64::NAN),
                Cells::Numbers(v) => {
                    let name = &column.name;
                    let value: f64 = cell.parse().map_err(|_| {
                        fail(format!("line {line}, column \"{name}\": got \"{cell}\", expected a number"))
                    })?;
                    if !value.is_finite() {
                        return Err(fail(format!(
                            "line {line}, column \"{name}\": got {cell}, expected a finite number"
                        )));
                    }
                    v.push(value);
                }
            }
        }
        if let (Some(col), Some(labels)) = (target, labels.as_mut()) {
            labels.push(record.get(col).unwrap_or("").to_string());
        }
        lines.push(line);
    }
    let rows = lines.len();
    let table = RawTable {
        path: path.to_path_buf(),
        fingerprint: String::new(),
        target: pre.target.clone(),
        columns,
        targets: TargetColumn::Text(vec![String::new(); rows]),
        lines,
        left_out: LeftOut::default(),
        notes: Vec::new(),
        steps: None,
    };
    let encoded = preprocess::encode(&steps, &table, &(0..rows).collect::<Vec<_>>(), UnseenAt::Prediction)?;
    let warnings = encoded.unseen_warnings("input");
    Ok(FeatureTable { x: encoded.x, labels, rows, warnings })
}
