//! Reading rows to predict: the model's feature columns, by name, in any order.

use std::path::Path;

use super::DeployError;
use crate::data::Preprocessing;

/// Rows read for prediction.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FeatureTable {
    /// Raw features, `n × features`, in the model's column order.
    pub x: Vec<f64>,
    /// The target column's cells, when the file has one (kept as true labels).
    pub labels: Option<Vec<String>>,
    /// Number of rows.
    pub rows: usize,
}

/// Reads `path`: every feature column of the model must be there (by name, any
/// order); the target column may be; any other column is an error.
pub(crate) fn read_features(path: &Path, pre: &Preprocessing) -> Result<FeatureTable, DeployError> {
    let fail = |message: String| DeployError::Input { path: path.to_path_buf(), message };
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| fail(format!("cannot read: {e}")))?;
    let header = reader.headers().map_err(|e| fail(e.to_string()))?.clone();
    let position = |name: &str| header.iter().position(|h| h == name);
    let missing: Vec<&str> = pre.feature_columns.iter().map(String::as_str).filter(|c| position(c).is_none()).collect();
    if !missing.is_empty() {
        return Err(fail(format!("missing column(s) the model needs: {}", missing.join(", "))));
    }
    let extra: Vec<&str> =
        header.iter().filter(|h| *h != pre.target && !pre.feature_columns.iter().any(|c| c == h)).collect();
    if !extra.is_empty() {
        return Err(fail(format!(
            "column(s) the model does not know: {} (it takes {} features{})",
            extra.join(", "),
            pre.feature_columns.len(),
            format_args!(" and optionally the target \"{}\"", pre.target)
        )));
    }
    let order: Vec<usize> = pre.feature_columns.iter().filter_map(|c| position(c)).collect();
    let target = position(&pre.target);

    let mut x = Vec::new();
    let mut labels = target.map(|_| Vec::new());
    let mut rows = 0;
    for record in reader.records() {
        let record = record.map_err(|e| fail(e.to_string()))?;
        let line = record.position().map_or(0, |p| p.line());
        for (&col, name) in order.iter().zip(&pre.feature_columns) {
            let cell = record.get(col).unwrap_or("");
            let v: f64 = cell
                .parse()
                .map_err(|_| fail(format!("line {line}, column \"{name}\": got \"{cell}\", expected a number")))?;
            if !v.is_finite() {
                return Err(fail(format!("line {line}, column \"{name}\": got {cell}, expected a finite number")));
            }
            x.push(v);
        }
        if let (Some(col), Some(labels)) = (target, labels.as_mut()) {
            labels.push(record.get(col).unwrap_or("").to_string());
        }
        rows += 1;
    }
    Ok(FeatureTable { x, labels, rows })
}
