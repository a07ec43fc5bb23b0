//! Reading a CSV file into features and class labels.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::DataError;
use crate::params::hex;

/// A table as read from disk, before splitting.
#[derive(Debug, Clone)]
pub struct Dataset {
    /// The file.
    pub path: PathBuf,
    /// SHA-256 of its bytes.
    pub fingerprint: String,
    /// The label column.
    pub target: String,
    /// Feature column names, in file order.
    pub features: Vec<String>,
    /// Features, row-major (`y.len() × features.len()`).
    pub x: Vec<f64>,
    /// Class index of each row.
    pub y: Vec<usize>,
    /// Class labels in sorted order (numerically when every label is an integer).
    pub classes: Vec<String>,
}

/// Reads `path`: a header, numeric feature columns, and the `target` column
/// holding integer or string labels.
pub fn load_csv(path: &Path, target: &str) -> Result<Dataset, DataError> {
    let bytes = std::fs::read(path).map_err(|source| DataError::Read {
        path: path.to_path_buf(),
        source,
        hint: match std::env::current_dir() {
            Ok(cwd) if path.is_relative() => {
                format!(" (relative paths are read from the current directory, {})", cwd.display())
            }
            _ => String::new(),
        },
    })?;
    let fingerprint = hex(&Sha256::digest(&bytes));
    let p = || path.to_path_buf();

    let mut reader = csv::ReaderBuilder::new().has_headers(true).trim(csv::Trim::All).from_reader(&bytes[..]);
    let header =
        reader.headers().map_err(|e| DataError::Malformed { path: p(), line: 1, message: e.to_string() })?.clone();
    if header.is_empty() || header.iter().all(str::is_empty) {
        return Err(DataError::Empty { path: p(), what: "the file is empty" });
    }
    let Some(target_col) = header.iter().position(|h| h == target) else {
        return Err(DataError::MissingColumn {
            path: p(),
            column: target.to_string(),
            available: header.iter().collect::<Vec<_>>().join(", "),
        });
    };
    let features: Vec<String> =
        header.iter().enumerate().filter(|(i, _)| *i != target_col).map(|(_, h)| h.to_string()).collect();
    if features.is_empty() {
        return Err(DataError::NoFeatures { path: p(), column: target.to_string() });
    }

    let mut x = Vec::new();
    let mut labels = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) => {}
            Err(e) => {
                let line = e.position().map(|pos| pos.line()).unwrap_or(0);
                return Err(DataError::Malformed { path: p(), line, message: e.to_string() });
            }
        }
        let line = record.position().map(|pos| pos.line()).unwrap_or(0);
        for (i, cell) in record.iter().enumerate() {
            if i == target_col {
                if cell.is_empty() {
                    return Err(DataError::EmptyLabel { path: p(), line, column: target.to_string() });
                }
                labels.push(cell.to_string());
                continue;
            }
            let column = || header.get(i).unwrap_or("?").to_string();
            let v: f64 = cell.parse().map_err(|_| DataError::NonNumeric {
                path: p(),
                line,
                column: column(),
                value: cell.to_string(),
            })?;
            if !v.is_finite() {
                return Err(DataError::NotFinite { path: p(), line, column: column(), value: cell.to_string() });
            }
            x.push(v);
        }
    }
    if labels.is_empty() {
        return Err(DataError::Empty { path: p(), what: "the file has a header but no rows" });
    }

    let classes = sorted_classes(&labels);
    if classes.len() < 2 {
        return Err(DataError::TooFewClasses { path: p(), column: target.to_string(), found: classes.len() });
    }
    let y = labels.iter().map(|l| classes.iter().position(|c| c == l).unwrap_or(0)).collect();
    Ok(Dataset { path: p(), fingerprint, target: target.to_string(), features, x, y, classes })
}

/// Distinct labels, sorted numerically when all are integers, else as strings.
fn sorted_classes(labels: &[String]) -> Vec<String> {
    let distinct: BTreeSet<&String> = labels.iter().collect();
    let mut classes: Vec<String> = distinct.into_iter().cloned().collect();
    if classes.iter().all(|c| c.parse::<i64>().is_ok()) {
        classes.sort_by_key(|c| c.parse::<i64>().unwrap_or(0));
    }
    classes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_labels_sort_numerically_strings_lexically() {
        let l = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(sorted_classes(&l(&["10", "9", "2", "9"])), l(&["2", "9", "10"]));
        assert_eq!(sorted_classes(&l(&["malignant", "benign"])), l(&["benign", "malignant"]));
    }
}
