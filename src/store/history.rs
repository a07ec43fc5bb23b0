//! A trial's `history.csv`: `epoch`, every metric, `saved_best`, one line
//! appended per epoch. This is its only reader; each use reads it through one
//! of the views below, strict where a damaged file must be named (aggregation,
//! publishing), lenient where a trial may be writing its next line right now
//! (the curves that pruning and the report draw).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A trial's `history.csv` that is not what sweep writes.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{}: {message}", path.display(), line.map(|l| format!(":{l}")).unwrap_or_default())]
pub(crate) struct HistoryError {
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
pub(crate) struct EpochMetrics {
    /// The epoch, from 1.
    pub epoch: i64,
    /// Column and value; a metric the epoch did not measure (an empty cell) is left out.
    pub metrics: Vec<(String, f64)>,
}

/// Columns of history.csv that are not metrics.
const NOT_METRICS: &[&str] = &["epoch", "saved_best"];

/// A `history.csv` split into its header and lines, the cells as written.
/// A line the CSV reader rejects (a trial's half-written last line, a damaged
/// one) is kept as its error, so each view decides what it costs.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HistoryFile {
    path: PathBuf,
    header: Vec<String>,
    lines: Vec<Result<HistoryLine, HistoryError>>,
}

/// One line of a `history.csv` after the header.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct HistoryLine {
    /// Its line in the file (1-based), where known.
    pub line: Option<u64>,
    /// The cells as written, in header order.
    pub cells: Vec<String>,
}

impl HistoryFile {
    /// Splits the bytes of the `history.csv` at `path` (only used in messages);
    /// fails only when the header cannot be read.
    pub(crate) fn parse(path: &Path, bytes: &[u8]) -> Result<HistoryFile, HistoryError> {
        let mut records = super::csv_records::records(bytes).into_iter().map(|record| match record.fields {
            Ok(cells) => Ok(HistoryLine { line: Some(record.start.line), cells }),
            Err(message) => Err(HistoryError { path: path.to_path_buf(), line: Some(record.start.line), message }),
        });
        let header = match records.next() {
            Some(header) => header?.cells,
            None => Vec::new(),
        };
        Ok(HistoryFile { path: path.to_path_buf(), header, lines: records.collect() })
    }

    /// Reads the `history.csv` at `path`; `None` when there is none (a trial
    /// that failed before its first epoch, or one not started).
    pub(crate) fn read(path: &Path) -> Result<Option<HistoryFile>, HistoryError> {
        match std::fs::read(path) {
            Ok(bytes) => HistoryFile::parse(path, &bytes).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(HistoryError { path: path.to_path_buf(), line: None, message: e.to_string() }),
        }
    }

    /// The header's columns.
    pub(crate) fn header(&self) -> &[String] {
        &self.header
    }

    /// Every line in file order, a line the CSV reader rejected as its error.
    pub(crate) fn lines(&self) -> impl Iterator<Item = Result<&HistoryLine, HistoryError>> {
        self.lines.iter().map(|l| l.as_ref().map_err(Clone::clone))
    }

    /// The lines the CSV reader took, skipping the others (a trial still
    /// writing its last line).
    pub(crate) fn readable_lines(&self) -> impl Iterator<Item = &HistoryLine> {
        self.lines.iter().filter_map(|l| l.as_ref().ok())
    }

    /// An error at `line` of this file.
    pub(crate) fn error(&self, line: Option<u64>, message: String) -> HistoryError {
        HistoryError { path: self.path.clone(), line, message }
    }

    /// Every epoch, as numbers (strict: any cell that is not a number is an error).
    pub(crate) fn epochs(&self) -> Result<Vec<EpochMetrics>, HistoryError> {
        let epoch_column = self
            .header
            .iter()
            .position(|h| h == "epoch")
            .ok_or_else(|| self.error(Some(1), "no \"epoch\" column".into()))?;
        let mut epochs = Vec::new();
        for row in self.lines() {
            let row = row?;
            let bad = |column: &str, cell: &str, expected: &str| {
                self.error(row.line, format!("column \"{column}\": got \"{cell}\", expected {expected}"))
            };
            let cell = row.cells.get(epoch_column).map(String::as_str).unwrap_or_default();
            let epoch: i64 = cell.trim().parse().map_err(|_| bad("epoch", cell, "a whole number"))?;
            let mut metrics = Vec::new();
            for (column, cell) in self.header.iter().zip(&row.cells) {
                if NOT_METRICS.contains(&column.as_str()) || cell.trim().is_empty() {
                    continue;
                }
                let value: f64 = cell.trim().parse().map_err(|_| bad(column, cell, "a number"))?;
                metrics.push((column.clone(), value));
            }
            epochs.push(EpochMetrics { epoch, metrics });
        }
        Ok(epochs)
    }

    /// The values of `column` in its readable lines, a cell that is not a
    /// number as NaN; empty when the file has no such column.
    pub(crate) fn column(&self, column: &str) -> Vec<f64> {
        let Some(at) = self.header.iter().position(|c| c == column) else {
            return Vec::new();
        };
        self.readable_lines().map(|row| row.cells.get(at).and_then(|v| v.parse().ok()).unwrap_or(f64::NAN)).collect()
    }

    /// Each readable line's cells that are numbers, by column.
    pub(crate) fn numeric_lines(&self) -> Vec<BTreeMap<String, f64>> {
        self.readable_lines()
            .map(|row| {
                self.header
                    .iter()
                    .zip(&row.cells)
                    .filter_map(|(h, v)| v.parse::<f64>().ok().map(|v| (h.clone(), v)))
                    .collect()
            })
            .collect()
    }
}

/// Every epoch of the `history.csv` at `path`; none when the file does not
/// exist (a trial that failed before its first epoch has no history).
pub(crate) fn read_metric_history(path: &Path) -> Result<Vec<EpochMetrics>, HistoryError> {
    match HistoryFile::read(path)? {
        Some(file) => file.epochs(),
        None => Ok(Vec::new()),
    }
}

/// The values of `column` in the `history.csv` at `path`, as far as it has
/// got (the file of a running trial too); empty when it is missing or
/// unreadable, or has no such column.
pub(crate) fn read_history_column(path: &Path, column: &str) -> Vec<f64> {
    match HistoryFile::read(path) {
        Ok(Some(file)) => file.column(column),
        _ => Vec::new(),
    }
}

/// Each epoch's cells that are numbers, by column, of the `history.csv` at
/// `path`; empty when it is missing or unreadable.
pub(crate) fn read_history_numbers(path: &Path) -> Vec<BTreeMap<String, f64>> {
    match HistoryFile::read(path) {
        Ok(Some(file)) => file.numeric_lines(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`HistoryFile::parse`] as the `csv` crate's reader gives it, which it must equal.
    fn parsed_by_the_csv_crate(path: &Path, bytes: &[u8]) -> Result<HistoryFile, HistoryError> {
        let csv_error = |e: csv::Error| HistoryError {
            path: path.to_path_buf(),
            line: e.position().map(|p| p.line()),
            message: e.to_string(),
        };
        let mut reader = csv::ReaderBuilder::new().from_reader(bytes);
        let header = reader.headers().map_err(csv_error)?.iter().map(String::from).collect();
        let lines = reader
            .records()
            .map(|row| {
                let row = row.map_err(csv_error)?;
                Ok(HistoryLine {
                    line: row.position().map(|p| p.line()),
                    cells: row.iter().map(String::from).collect(),
                })
            })
            .collect();
        Ok(HistoryFile { path: path.to_path_buf(), header, lines })
    }

    #[test]
    fn a_history_parses_as_the_csv_crate_parses_it_errors_and_lines_included() {
        let path = Path::new("trials/t/history.csv");
        let wide = format!("{}\n{}\n", vec!["c"; 100].join(","), vec!["1"; 100].join(","));
        let long = format!("a,b\n{},2\n", "9".repeat(10_000));
        let cases: Vec<&[u8]> = vec![
            b"epoch,mcc,saved_best\n1,0.5,true\n2,0.6,false\n",
            b"epoch,mcc\r\n1,0.5\r\n",
            b"epoch,mcc\n1,0.5",
            b"epoch,mcc,x\n1,0.5,1\n2,0.",
            b"a,b\n1,2,3\n4,5\n",
            b"a,b\n\n1,2\n\n\n3,4\n",
            b"a,b\n\"x,y\",\"he said \"\"hi\"\"\"\n\"multi\nline\",2\n3,4\n",
            b"a,b\n1,\xff\xfe\n2,3\n",
            b"a,\xffb\n1,2\n",
            b"\xef\xbb\xbfa,b\n1,2\n",
            b"",
            b"a,b\n",
            b"a,b\r1,2\r",
            b"a,b\n\xff\n",
            b"a,b,\n1,2,\n",
            wide.as_bytes(),
            long.as_bytes(),
        ];
        for bytes in cases {
            assert_eq!(
                HistoryFile::parse(path, bytes),
                parsed_by_the_csv_crate(path, bytes),
                "{:?}",
                String::from_utf8_lossy(bytes)
            );
        }
        // And on scraps of CSV's every special byte.
        let alphabet = [b'a', b'1', b',', b'"', b'\n', b'\r', 0xff, b' '];
        let mut state = 11u64;
        let mut next = move || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            (state >> 33) as usize
        };
        for _ in 0..5000 {
            let len = next() % 40;
            let bytes: Vec<u8> = (0..len).map(|_| alphabet[next() % alphabet.len()]).collect();
            assert_eq!(HistoryFile::parse(path, &bytes), parsed_by_the_csv_crate(path, &bytes), "{bytes:?}");
        }
    }

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

    #[test]
    fn a_half_written_last_line_fails_the_strict_views_and_is_skipped_by_the_lenient_ones() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("history.csv");
        std::fs::write(&path, "epoch,loss,mcc,saved_best\n1,0.5,0.25,true\n2,oops,0.5,false\n3,0.4\n").unwrap();
        let err = read_metric_history(&path).unwrap_err();
        assert_eq!(err.line, Some(3), "the first bad line is named: {err}");
        let file = HistoryFile::read(&path).unwrap().unwrap();
        let short = file.lines().find_map(Result::err).unwrap();
        assert!(short.to_string().contains("history.csv:4: "), "the short line is an error of line 4: {short}");
        let loss = file.column("loss");
        assert_eq!(loss.len(), 2, "the short line is skipped");
        assert_eq!(loss[0], 0.5);
        assert!(loss[1].is_nan(), "a cell that is no number is NaN");
        assert_eq!(read_history_column(&path, "mcc"), vec![0.25, 0.5]);
        assert!(read_history_column(&path, "acc").is_empty(), "no such column");
        assert!(read_history_column(&tmp.path().join("none.csv"), "loss").is_empty(), "no file");
        let numbers = read_history_numbers(&path);
        assert_eq!(numbers.len(), 2);
        assert_eq!(numbers[0], BTreeMap::from([("epoch".into(), 1.0), ("loss".into(), 0.5), ("mcc".into(), 0.25)]));
        assert_eq!(numbers[1], BTreeMap::from([("epoch".into(), 2.0), ("mcc".into(), 0.5)]));
    }
}
