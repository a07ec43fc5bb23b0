//! What each part of a split holds (rows, class balance or target spread),
//! and rows whose features appear identically in two parts: a duplicate in
//! the validation or test part is graded on a row the model learned, which
//! makes its metrics look better than they are on new rows.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use super::preprocess::{LeftOut, RawTable};
use super::{DataError, Preprocessing, SplitName, StoredSplit, Targets, rows_of_table, split_rows};

/// One part of the split.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct PartSummary {
    /// `train`, `valid`, `test`, or `fold 3`.
    pub name: String,
    /// Rows.
    pub rows: usize,
    /// Classification: rows of each class, in the order of the model's classes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub class_counts: Vec<usize>,
    /// Regression: mean of the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_mean: Option<f64>,
    /// Regression: population standard deviation of the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_std: Option<f64>,
}

/// Rows of one part whose features also appear in other parts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Duplicates {
    /// The part judged on them: `valid`, `test`, or `folds`.
    pub part: String,
    /// Where the identical rows are: `train`, `train or valid`, or `another fold`.
    pub found_in: String,
    /// How many of its rows have an identical twin there.
    pub rows: usize,
    /// Of its rows.
    pub of: usize,
}

/// `splits.json`: the parts of a sweep's split and its leakage check.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SplitSummary {
    /// Class labels, in model order (classification).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub classes: Vec<String>,
    /// Every part.
    pub parts: Vec<PartSummary>,
    /// Duplicated rows found, one entry per check (zero counts included).
    pub duplicates: Vec<Duplicates>,
    /// Rows of the data file in no part: a missing target, or a missing cell
    /// where the policy is `drop_rows`; absent when every row is used.
    #[serde(default, skip_serializing_if = "LeftOut::is_empty")]
    pub left_out: LeftOut,
}

impl SplitSummary {
    /// Summarizes `parts` and counts duplicates: every part named in `checks`
    /// (part index, indices of the parts it is compared with) against those.
    /// Parts are compared by their raw features, bit for bit.
    pub(crate) fn new(
        classes: &[String],
        parts: &[(String, &StoredSplit)],
        checks: &[(String, Vec<usize>, Vec<usize>, String)],
    ) -> Self {
        // Which parts each distinct feature row occurs in, as a bit set (at most 128 parts).
        let mut seen: HashMap<Vec<u64>, u128> = HashMap::new();
        let keys: Vec<Vec<Vec<u64>>> = parts.iter().map(|(_, split)| row_keys(split)).collect();
        for (i, part) in keys.iter().enumerate() {
            for key in part {
                *seen.entry(key.clone()).or_default() |= 1u128 << i.min(127);
            }
        }
        let duplicates = checks
            .iter()
            .map(|(name, judged, against, found_in)| {
                let against_mask = |own: usize| against.iter().filter(|&&j| j != own).fold(0u128, |m, &j| m | 1 << j);
                let rows = judged
                    .iter()
                    .map(|&i| keys[i].iter().filter(|k| seen.get(*k).is_some_and(|m| m & against_mask(i) != 0)).count())
                    .sum();
                let of = judged.iter().map(|&i| keys[i].len()).sum();
                Duplicates { part: name.clone(), found_in: found_in.clone(), rows, of }
            })
            .collect();
        let parts = parts.iter().map(|(name, split)| summarize(name, split, classes.len())).collect();
        SplitSummary { classes: classes.to_vec(), parts, duplicates, left_out: LeftOut::default() }
    }

    /// The parts of a sweep's split: train, valid and test, or with
    /// cross-validation each fold and test; `test_table` is the separate test
    /// file, if the spec names one.
    pub(crate) fn of_sweep(
        table: &RawTable,
        test_table: Option<&RawTable>,
        main: &Preprocessing,
        folds: &[Preprocessing],
    ) -> Result<Self, DataError> {
        let n = table.rows();
        // Every part through the main steps (learned on every non-test row), so that rows of two
        // folds, whose own steps may know different categories, compare column for column.
        let part = |pre: &Preprocessing, split| rows_of_table(table, main, &split_rows(pre, n, split));
        let mut owned: Vec<(String, StoredSplit)> = if folds.is_empty() {
            vec![("train".into(), part(main, SplitName::Train)?), ("valid".into(), part(main, SplitName::Valid)?)]
        } else {
            folds
                .iter()
                .enumerate()
                .map(|(k, pre)| Ok((format!("fold {}", k + 1), part(pre, SplitName::Valid)?)))
                .collect::<Result<_, DataError>>()?
        };
        let learned: Vec<usize> = (0..owned.len()).collect();
        let mut checks = if folds.is_empty() {
            vec![("valid".to_string(), vec![1], vec![0], "train".to_string())]
        } else {
            vec![("folds".to_string(), learned.clone(), learned.clone(), "another fold".to_string())]
        };
        if main.test.is_some() {
            let test = match test_table {
                Some(t) => rows_of_table(t, main, &(0..t.rows()).collect::<Vec<_>>())?,
                None => part(main, SplitName::Test)?,
            };
            owned.push(("test".into(), test));
            let found_in = if folds.is_empty() { "train or valid" } else { "the cross-validation rows" };
            checks.push(("test".into(), vec![owned.len() - 1], learned, found_in.into()));
        }
        let parts: Vec<(String, &StoredSplit)> = owned.iter().map(|(name, s)| (name.clone(), s)).collect();
        Ok(SplitSummary { left_out: table.left_out.clone(), ..Self::new(&main.classes, &parts, &checks) })
    }

    /// One warning line per check that found duplicates.
    pub(crate) fn warnings(&self) -> Vec<String> {
        self.duplicates
            .iter()
            .filter(|d| d.rows > 0)
            .map(|d| {
                format!(
                    "{} of {} {} rows have features identical to a row in {}: their metrics are measured partly on \
                     rows the model learned, so they look better than on new data",
                    d.rows, d.of, d.part, d.found_in
                )
            })
            .collect()
    }
}

fn row_keys(split: &StoredSplit) -> Vec<Vec<u64>> {
    let n = split.targets.len();
    let d = split.x.len().checked_div(n).unwrap_or(0);
    // -0.0 and 0.0 are the same feature value.
    split.x.chunks(d.max(1)).take(n).map(|row| row.iter().map(|v| (v + 0.0).to_bits()).collect()).collect()
}

fn summarize(name: &str, split: &StoredSplit, n_classes: usize) -> PartSummary {
    let mut part = PartSummary {
        name: name.to_string(),
        rows: split.targets.len(),
        class_counts: Vec::new(),
        target_mean: None,
        target_std: None,
    };
    match &split.targets {
        Targets::Classes(labels) => {
            part.class_counts = vec![0; n_classes];
            for &k in labels {
                if let Some(c) = part.class_counts.get_mut(k) {
                    *c += 1;
                }
            }
        }
        Targets::Values { original, .. } if !original.is_empty() => {
            let n = original.len() as f64;
            let mean = original.iter().sum::<f64>() / n;
            let var = original.iter().map(|y| (y - mean).powi(2)).sum::<f64>() / n;
            part.target_mean = Some(mean);
            part.target_std = Some(var.sqrt());
        }
        Targets::Values { .. } => {}
    }
    part
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(rows: &[[f64; 2]], labels: &[usize]) -> StoredSplit {
        StoredSplit {
            x: rows.iter().flatten().copied().collect(),
            targets: Targets::Classes(labels.to_vec()),
            raw: labels.iter().map(|l| l.to_string()).collect(),
        }
    }

    #[test]
    fn planted_duplicates_are_counted_per_part() {
        let train = split(&[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], &[0, 1, 1]);
        // Two validation rows repeat training rows (one as -0.0 vs 0.0 would too).
        let valid = split(&[[1.0, 2.0], [3.0, 4.0], [7.0, 8.0]], &[0, 1, 0]);
        // One test row repeats a validation row, one a training row, one is new.
        let test = split(&[[7.0, 8.0], [5.0, 6.0], [9.0, 9.0], [9.0, 9.5]], &[0, 1, 1, 0]);
        let classes = ["a".to_string(), "b".to_string()];
        let s = SplitSummary::new(
            &classes,
            &[("train".into(), &train), ("valid".into(), &valid), ("test".into(), &test)],
            &[
                ("valid".into(), vec![1], vec![0], "train".into()),
                ("test".into(), vec![2], vec![0, 1], "train or valid".into()),
            ],
        );
        assert_eq!((s.duplicates[0].rows, s.duplicates[0].of), (2, 3));
        assert_eq!((s.duplicates[1].rows, s.duplicates[1].of), (2, 4));
        assert_eq!(s.parts[0].class_counts, [1, 2]);
        assert_eq!(s.parts[2].class_counts, [2, 2]);
        assert_eq!(s.warnings().len(), 2);
        assert!(s.warnings()[0].starts_with("2 of 3 valid rows"), "{}", s.warnings()[0]);
    }

    #[test]
    fn folds_are_checked_against_every_other_fold_but_their_own() {
        // Fold 0 holds a row twice: that is no leak between folds.
        let f0 = split(&[[1.0, 1.0], [1.0, 1.0]], &[0, 0]);
        let f1 = split(&[[2.0, 2.0], [0.0, 3.0]], &[1, 1]);
        let f2 = split(&[[2.0, 2.0], [-0.0, 3.0]], &[0, 1]);
        let classes = ["a".to_string(), "b".to_string()];
        let s = SplitSummary::new(
            &classes,
            &[("fold 1".into(), &f0), ("fold 2".into(), &f1), ("fold 3".into(), &f2)],
            &[("folds".into(), vec![0, 1, 2], vec![0, 1, 2], "another fold".into())],
        );
        assert_eq!((s.duplicates[0].rows, s.duplicates[0].of), (4, 6));
    }

    #[test]
    fn distinct_rows_warn_nothing() {
        let a = split(&[[1.0, 2.0]], &[0]);
        let b = split(&[[1.0, 2.5]], &[1]);
        let s = SplitSummary::new(
            &["a".into(), "b".into()],
            &[("train".into(), &a), ("valid".into(), &b)],
            &[("valid".into(), vec![1], vec![0], "train".into())],
        );
        assert_eq!(s.duplicates[0].rows, 0);
        assert!(s.warnings().is_empty());
    }
}
