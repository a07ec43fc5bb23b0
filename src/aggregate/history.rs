//! `history.csv` of a sweep: every epoch of every trial in one long table, so
//! that a notebook gets all training curves with one `pandas.read_csv` and no
//! loop over trial folders.
//!
//! Columns: `trial_id, epoch`, then the union of the other columns of the
//! trials' own `history.csv` (each metric, then `saved_best`) in the order
//! they first appear; a cell a trial does not have stays empty. Rows are
//! sorted by trial id, then epoch. Cells are copied as the trials wrote them,
//! so the same trial files always give the same bytes.

use std::collections::BTreeMap;
use std::path::Path;

use super::AggregateError;
pub(crate) use crate::store::HistoryError;
use crate::store::{HistoryFile, SweepDir, TrialRecord, names};

/// One trial's `history.csv`, parsed.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct TrialHistory {
    trial_id: String,
    /// Columns after `epoch`.
    columns: Vec<String>,
    /// Epoch and the cells of `columns`, in file order.
    rows: Vec<(u64, Vec<String>)>,
}

impl TrialHistory {
    /// Parses the bytes of `path`, the `history.csv` of trial `trial_id`:
    /// a header that starts with `epoch`, then one line per epoch.
    pub(crate) fn parse(trial_id: &str, path: &Path, bytes: &[u8]) -> Result<Self, HistoryError> {
        let file = HistoryFile::parse(path, bytes)?;
        let header = file.header();
        if header.first().map(String::as_str) != Some("epoch") {
            return Err(file.error(
                Some(1),
                format!("the header starts with {:?}, expected \"epoch\"", header.first().map_or("", String::as_str)),
            ));
        }
        let columns: Vec<String> = header[1..].to_vec();
        let mut rows = Vec::new();
        for line in file.lines() {
            let line = line?;
            let cell = line.cells.first().map_or("", String::as_str);
            let epoch = cell
                .parse::<u64>()
                .map_err(|_| file.error(line.line, format!("epoch: got {cell:?}, expected a whole number")))?;
            rows.push((epoch, line.cells.get(1..).unwrap_or_default().to_vec()));
        }
        Ok(TrialHistory { trial_id: trial_id.to_string(), columns, rows })
    }
}

/// The sweep's `history.csv` of `trials` (pure: the caller reads and writes).
pub(crate) fn render(trials: &[TrialHistory]) -> Result<Vec<u8>, AggregateError> {
    let err = |e: csv::Error| AggregateError::Render { file: names::HISTORY, message: e.to_string() };
    let mut sorted: Vec<&TrialHistory> = trials.iter().collect();
    sorted.sort_by(|a, b| a.trial_id.cmp(&b.trial_id));
    let mut columns: Vec<&str> = Vec::new();
    for column in sorted.iter().flat_map(|t| &t.columns) {
        if !columns.contains(&column.as_str()) {
            columns.push(column);
        }
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["trial_id", "epoch"].into_iter().chain(columns.iter().copied())).map_err(err)?;
    for trial in sorted {
        let place: BTreeMap<&str, usize> = trial.columns.iter().enumerate().map(|(i, c)| (c.as_str(), i)).collect();
        let mut rows: Vec<&(u64, Vec<String>)> = trial.rows.iter().collect();
        rows.sort_by_key(|(epoch, _)| *epoch);
        for (epoch, cells) in rows {
            let mut line = vec![trial.trial_id.clone(), epoch.to_string()];
            line.extend(columns.iter().map(|c| place.get(c).and_then(|&i| cells.get(i)).cloned().unwrap_or_default()));
            w.write_record(&line).map_err(err)?;
        }
    }
    w.into_inner().map_err(|e| AggregateError::Render { file: names::HISTORY, message: e.to_string() })
}

/// Reads the `history.csv` of every trial of `records` in `dir`. A trial whose
/// file cannot be used is left out with a reason, so one damaged file costs
/// its own rows only; so is a trial with a model but no file. A failed trial
/// may have none (it failed before its first epoch) and is left out silently.
pub(crate) fn read_histories<'a>(
    dir: &SweepDir,
    records: impl IntoIterator<Item = &'a TrialRecord>,
) -> (Vec<TrialHistory>, Vec<HistoryError>) {
    use rayon::prelude::*;
    // One file per trial, read and parsed on every core; the results keep the records' order.
    let records: Vec<&TrialRecord> = records.into_iter().collect();
    let read: Vec<Option<Result<TrialHistory, HistoryError>>> = records
        .par_iter()
        .map(|record| {
            let path = dir.trial_dir(&record.id).join(names::HISTORY);
            match std::fs::read(&path) {
                Ok(bytes) => Some(TrialHistory::parse(&record.id, &path, &bytes)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound && !record.status.has_model() => None,
                Err(e) => Some(Err(HistoryError { path, line: None, message: e.to_string() })),
            }
        })
        .collect();
    let mut histories = Vec::new();
    let mut problems = Vec::new();
    for result in read.into_iter().flatten() {
        match result {
            Ok(h) => histories.push(h),
            Err(e) => problems.push(e),
        }
    }
    (histories, problems)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(id: &str, text: &str) -> TrialHistory {
        TrialHistory::parse(id, Path::new("h.csv"), text.as_bytes()).unwrap()
    }

    fn rendered(trials: &[TrialHistory]) -> String {
        String::from_utf8(render(trials).unwrap()).unwrap()
    }

    #[test]
    fn long_format_sorted_by_trial_then_epoch_with_the_union_of_columns() {
        let b = parse("t0001-b", "epoch,loss,saved_best\n2,0.5,false\n1,0.25,true\n");
        let a = parse("t0000-a", "epoch,loss,acc,saved_best\n1,0.75,0.5,true\n");
        let c = parse("t0002-c", "epoch,extra\n1,7\n");
        assert_eq!(
            rendered(&[b, a, c]),
            "trial_id,epoch,loss,acc,saved_best,extra\n\
             t0000-a,1,0.75,0.5,true,\n\
             t0001-b,1,0.25,,true,\n\
             t0001-b,2,0.5,,false,\n\
             t0002-c,1,,,,7\n"
        );
    }

    #[test]
    fn same_inputs_same_bytes_in_any_order() {
        let a = parse("t0000-a", "epoch,loss\n1,0.1\n2,NaN\n");
        let b = parse("t0001-b", "epoch,loss\n1,1e-7\n");
        assert_eq!(render(&[a.clone(), b.clone()]).unwrap(), render(&[b, a]).unwrap());
    }

    #[test]
    fn no_trials_still_give_the_header() {
        assert_eq!(rendered(&[]), "trial_id,epoch\n");
        assert_eq!(rendered(&[parse("t0000-a", "epoch,loss,saved_best\n")]), "trial_id,epoch,loss,saved_best\n");
    }

    #[test]
    fn a_damaged_file_is_named_with_its_line() {
        let e = TrialHistory::parse("t", Path::new("x/history.csv"), b"epoch,loss\n1,0.5\nthree,0.2\n").unwrap_err();
        assert_eq!(e.to_string(), "x/history.csv:3: epoch: got \"three\", expected a whole number");
        let e = TrialHistory::parse("t", Path::new("x/history.csv"), b"loss,epoch\n0.5,1\n").unwrap_err();
        assert_eq!(e.to_string(), "x/history.csv:1: the header starts with \"loss\", expected \"epoch\"");
        let e = TrialHistory::parse("t", Path::new("x/history.csv"), b"epoch,loss\n1,0.5,9\n").unwrap_err();
        assert!(e.to_string().starts_with("x/history.csv:2: "), "{e}");
    }
}
