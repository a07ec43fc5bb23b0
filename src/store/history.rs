//! A trial's `history.csv` read back as numbers: every epoch's number and the
//! metrics it measured, for the tools that publish curves (MLflow, TensorBoard).

use std::path::{Path, PathBuf};

/// A trial's `history.csv` that is not what sweep writes.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub struct HistoryError {
    /// The trial's file.
    pub path: PathBuf,
    /// The line, where known (1-based, the header is line 1).
    pub line: Option<u64>,
    /// What is wrong with it.
    pub message: String,
}

/// One epoch of a trial's history: its number and every metric it measured,
/// by column name, in the file's column order.
#[derive(Debug, Clone, PartialEq)]
pub struct EpochMetrics {
    /// The epoch, from 1.
    pub epoch: i64,
    /// Column and value; a metric the epoch did not measure (an empty cell) is left out.
    pub metrics: Vec<(String, f64)>,
}

/// Columns of history.csv that are not metrics.
const NOT_METRICS: &[&str] = &["epoch", "saved_best"];

/// Every epoch of the `history.csv` at `path`; none when the file does not
/// exist (a trial that failed before its first epoch has no history).
pub fn read_metric_history(path: &Path) -> Result<Vec<EpochMetrics>, HistoryError> {
    let error = |line: Option<u64>, message: String| HistoryError { path: path.to_path_buf(), line, message };
    let csv_error = |e: csv::Error| error(e.position().map(|p| p.line()), e.to_string());
    let mut reader = match csv::Reader::from_path(path) {
        Ok(r) => r,
        Err(e) if matches!(e.kind(), csv::ErrorKind::Io(io) if io.kind() == std::io::ErrorKind::NotFound) => {
            return Ok(Vec::new());
        }
        Err(e) => return Err(csv_error(e)),
    };
    let header = reader.headers().map_err(csv_error)?.clone();
    let epoch_column =
        header.iter().position(|h| h == "epoch").ok_or_else(|| error(Some(1), "no \"epoch\" column".into()))?;
    let mut epochs = Vec::new();
    for row in reader.records() {
        let row = row.map_err(csv_error)?;
        let line = row.position().map(|p| p.line());
        let bad = |column: &str, cell: &str, expected: &str| {
            error(line, format!("column \"{column}\": got \"{cell}\", expected {expected}"))
        };
        let cell = row.get(epoch_column).unwrap_or_default();
        let epoch: i64 = cell.trim().parse().map_err(|_| bad("epoch", cell, "a whole number"))?;
        let mut metrics = Vec::new();
        for (column, cell) in header.iter().zip(row.iter()) {
            if NOT_METRICS.contains(&column) || cell.trim().is_empty() {
                continue;
            }
            let value: f64 = cell.trim().parse().map_err(|_| bad(column, cell, "a number"))?;
            metrics.push((column.to_string(), value));
        }
        epochs.push(EpochMetrics { epoch, metrics });
    }
    Ok(epochs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_history_with_a_bad_cell_names_file_line_and_column() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("history.csv");
        std::fs::write(&path, "epoch,valid_loss,mcc,saved_best\n1,0.5,0.25,true\n2,0.4,,false\n3,x,0.3,false\n")
            .unwrap();
        let err = read_metric_history(&path).unwrap_err().to_string();
        assert!(err.ends_with("history.csv:4: column \"valid_loss\": got \"x\", expected a number"), "{err}");
        std::fs::write(&path, "epoch,valid_loss,mcc,saved_best\n1,0.5,0.25,true\n2,0.4,,false\n").unwrap();
        let rows = read_metric_history(&path).unwrap();
        let metrics = |m: &[(&str, f64)]| m.iter().map(|(c, v)| (c.to_string(), *v)).collect::<Vec<_>>();
        assert_eq!(rows[0], EpochMetrics { epoch: 1, metrics: metrics(&[("valid_loss", 0.5), ("mcc", 0.25)]) });
        assert_eq!(
            rows[1],
            EpochMetrics { epoch: 2, metrics: metrics(&[("valid_loss", 0.4)]) },
            "an empty cell is no value"
        );
        assert_eq!(read_metric_history(&tmp.path().join("none.csv")).unwrap(), vec![], "no file, no epochs");
    }
}
