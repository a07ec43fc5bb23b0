//! The split and standardization: a test share carved out first, then a
//! validation share or cross-validation folds; stratified for
//! classification, plain for regression, fixed by the seed. And any stored
//! part of a split, rebuilt later from the same data.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use std::path::PathBuf;

use super::preprocess::{self, RawTable, UnseenAt};
use super::targets::{self, ReadTargets};
use super::{CvFold, DataError, Prepared, Preprocessing, SplitName, Table, Targets, TestSplit};
use crate::metrics::{TargetScale, Task};
use crate::seed::derive_seed;

/// Which rows a trial learns from and is judged on, besides the held-out
/// validation share: an optional test split nobody selects on, and optional
/// cross-validation folds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct SplitPlan {
    /// Share of the non-test rows (of each class, for classification) held out for validation.
    pub valid_fraction: f64,
    /// The test split.
    pub test: TestPlan,
    /// With cross-validation: the number of folds, and which fold is the
    /// validation part (`None`: no validation part, every non-test row trains; a refit).
    pub cv: Option<(usize, Option<usize>)>,
}

impl SplitPlan {
    /// A plain train/validation split, as before test splits and folds existed.
    pub(crate) fn valid_only(valid_fraction: f64) -> Self {
        SplitPlan { valid_fraction, test: TestPlan::None, cv: None }
    }
}

/// Where the test rows come from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TestPlan {
    /// No test split.
    None,
    /// This share of the rows (of each class), carved out before anything else.
    Fraction(f64),
    /// A separate file with the same columns; its description and fingerprint.
    File {
        path: PathBuf,
        /// Its SHA-256.
        fingerprint: String,
        rows: usize,
    },
}

/// Splits `table` for `task` into training and validation rows, as a sweep
/// without a test split or folds does: `valid_fraction` of the rows (of each
/// class, for classification) held out, drawn from `seed`. Features are
/// standardized with the training rows' mean and std; regression targets too.
pub fn prepare(table: &Table, task: Task, valid_fraction: f64, seed: u64) -> Result<Prepared, DataError> {
    prepare_split(&RawTable::from(table), task, &SplitPlan::valid_only(valid_fraction), seed)
}

/// Splits `table` for `task`. A test share is carved out first, stratified
/// for classification and fixed by `seed`, and never reaches the result:
/// only its row numbers are kept in the preprocessing. The rest is split by
/// `valid_fraction` (for classification each class on its own, rounded, at
/// least one row on each side when a class has two or more; for regression
/// all rows at once), or into `cv` folds. Features are standardized with the
/// training rows' mean and std; regression targets too (the model learns
/// them in those units). Without a test share or folds the split is exactly
/// the one of earlier versions. The table's steps (fills, categories) are
/// learned on the training rows only, then applied to every part; a
/// category's indicator columns stay 0/1 (mean 0, std 1).
pub(crate) fn prepare_split(table: &RawTable, task: Task, plan: &SplitPlan, seed: u64) -> Result<Prepared, DataError> {
    let read = targets::read(table, task)?;
    let groups: Vec<Vec<usize>> = match &read {
        ReadTargets::Classes { y, classes } => {
            (0..classes.len()).map(|class| (0..y.len()).filter(|&r| y[r] == class).collect()).collect()
        }
        ReadTargets::Values(v) => vec![(0..v.len()).collect()],
    };
    let (groups, test_rows) = match plan.test {
        TestPlan::Fraction(fraction) => {
            let (kept, test) = hold_out(groups, fraction, derive_seed(seed, "test", 0));
            if test.is_empty() || kept.iter().all(Vec::is_empty) {
                return Err(DataError::SplitTooSmall {
                    path: table.path.clone(),
                    rows: table.rows(),
                    fraction,
                    train: kept.iter().map(Vec::len).sum(),
                    valid: test.len(),
                });
            }
            (kept, test)
        }
        _ => (groups, Vec::new()),
    };
    let (mut train_rows, mut valid_rows) = match plan.cv {
        Some((folds, fold)) => {
            let assignment = assign_folds(&groups, folds, derive_seed(seed, "folds", 0));
            let mut train = Vec::new();
            let mut valid = Vec::new();
            for (row, f) in assignment {
                if Some(f) == fold { valid.push(row) } else { train.push(row) }
            }
            (train, valid)
        }
        None => {
            let (train, valid) = hold_out(groups, plan.valid_fraction, derive_seed(seed, "split", 0));
            (train.concat(), valid)
        }
    };
    train_rows.sort_unstable();
    valid_rows.sort_unstable();
    let refit = matches!(plan.cv, Some((_, None)));
    if train_rows.is_empty() || (valid_rows.is_empty() && !refit) {
        return Err(DataError::SplitTooSmall {
            path: table.path.clone(),
            rows: table.rows(),
            fraction: plan.valid_fraction,
            train: train_rows.len(),
            valid: valid_rows.len(),
        });
    }

    let steps = match &table.steps {
        Some(options) => Some(preprocess::fit(table, options, &train_rows)?),
        None => None,
    };
    let names: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
    let applied = preprocess::steps_of(steps.as_ref(), &names);
    let d = applied.width();
    let train_x = preprocess::encode(&applied, table, &train_rows, UnseenAt::OwnRows)?.x;
    let valid_x = preprocess::encode(&applied, table, &valid_rows, UnseenAt::OwnRows)?.x;
    let (mut means, mut stds) = column_stats(&train_x, d, &(0..train_rows.len()).collect::<Vec<_>>());
    for (j, indicator) in applied.indicators().into_iter().enumerate() {
        if indicator {
            (means[j], stds[j]) = (0.0, 1.0);
        }
    }
    let (train_y, valid_y, classes, target_scale) = match read {
        ReadTargets::Classes { y, classes } => {
            let pick = |rows: &[usize]| Targets::Classes(rows.iter().map(|&r| y[r]).collect());
            (pick(&train_rows), pick(&valid_rows), classes, None)
        }
        ReadTargets::Values(v) => {
            let (mean, std) = column_stats(&v, 1, &train_rows);
            let scale = TargetScale { mean: mean[0], std: std[0] };
            let pick = |rows: &[usize]| Targets::values(rows.iter().map(|&r| v[r]).collect(), scale);
            (pick(&train_rows), pick(&valid_rows), Vec::new(), Some(scale))
        }
    };
    let test = match &plan.test {
        TestPlan::None => None,
        TestPlan::Fraction(fraction) => {
            let mut rows = test_rows;
            rows.sort_unstable();
            Some(TestSplit::Carved { fraction: *fraction, rows })
        }
        TestPlan::File { path, fingerprint, rows } => {
            Some(TestSplit::File { path: path.clone(), fingerprint: fingerprint.clone(), rows: *rows })
        }
    };
    let preprocessing = Preprocessing {
        data_path: table.path.clone(),
        data_fingerprint: table.fingerprint.clone(),
        target: table.target.clone(),
        task,
        feature_columns: applied.feature_names(),
        means,
        stds,
        classes,
        target_scale,
        split_seed: seed,
        valid_fraction: plan.valid_fraction,
        valid_rows,
        test,
        cv: plan.cv.map(|(folds, fold)| CvFold { folds, fold }),
        source: None,
        steps,
    };
    // The same standardization predict and verify apply later, so their outputs match bit for bit.
    Ok(Prepared {
        task,
        train_x: preprocessing.standardize(&train_x),
        train_y,
        valid_x: preprocessing.standardize(&valid_x),
        valid_y,
        n_features: d,
        preprocessing,
    })
}

/// Shuffles each group with one RNG seeded by `seed` and holds out `fraction`
/// of it (rounded; at least one row on each side of a group of two or more).
/// Returns what each group keeps, and the held-out rows.
fn hold_out(groups: Vec<Vec<usize>>, fraction: f64, seed: u64) -> (Vec<Vec<usize>>, Vec<usize>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut held = Vec::new();
    let kept = groups
        .into_iter()
        .map(|mut rows| {
            rows.shuffle(&mut rng);
            let n = rows.len();
            let n_out = if n >= 2 { ((n as f64 * fraction).round() as usize).clamp(1, n - 1) } else { 0 };
            held.extend_from_slice(&rows[..n_out]);
            rows.split_off(n_out)
        })
        .collect();
    (kept, held)
}

/// Deals the rows of each group, shuffled, to `folds` folds in turn, the
/// count carried from one group to the next, so that every class is spread
/// evenly over the folds and the folds differ in size by at most one row.
fn assign_folds(groups: &[Vec<usize>], folds: usize, seed: u64) -> Vec<(usize, usize)> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut next = 0;
    let mut out = Vec::new();
    for group in groups {
        let mut rows = group.clone();
        rows.shuffle(&mut rng);
        for row in rows {
            out.push((row, next % folds.max(1)));
            next += 1;
        }
    }
    out
}

/// Row numbers of `table` in each part of the split that `pre` describes:
/// training rows are those in neither the validation nor a carved-out test split.
pub(crate) fn split_rows(pre: &Preprocessing, rows: usize, split: SplitName) -> Vec<usize> {
    match split {
        SplitName::Valid => pre.valid_rows.clone(),
        SplitName::Test => match &pre.test {
            Some(TestSplit::Carved { rows, .. }) => rows.clone(),
            Some(TestSplit::File { rows: n, .. }) => (0..*n).collect(),
            None => Vec::new(),
        },
        SplitName::Train => {
            let mut excluded = vec![false; rows];
            let carved = match &pre.test {
                Some(TestSplit::Carved { rows, .. }) => rows.as_slice(),
                _ => &[],
            };
            for &r in pre.valid_rows.iter().chain(carved) {
                if let Some(e) = excluded.get_mut(r) {
                    *e = true;
                }
            }
            (0..rows).filter(|&r| !excluded[r]).collect()
        }
    }
}

/// Mean and population std of each column over `rows`; a constant column gets std 1.
fn column_stats(x: &[f64], d: usize, rows: &[usize]) -> (Vec<f64>, Vec<f64>) {
    let n = rows.len() as f64;
    let mut means = vec![0.0; d];
    for &r in rows {
        for j in 0..d {
            means[j] += x[r * d + j];
        }
    }
    means.iter_mut().for_each(|m| *m /= n);
    let mut vars = vec![0.0; d];
    for &r in rows {
        for j in 0..d {
            let diff = x[r * d + j] - means[j];
            vars[j] += diff * diff;
        }
    }
    let stds = vars.iter().map(|v| (v / n).sqrt()).map(|s| if s > 0.0 { s } else { 1.0 }).collect();
    (means, stds)
}

/// One part of a model's split, rebuilt from its data.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct StoredSplit {
    /// Raw features, `rows × features`, in the model's column order.
    pub x: Vec<f64>,
    /// The targets in the units the model learned.
    pub targets: Targets,
    /// The targets as written in the data (labels, or numbers).
    pub raw: Vec<String>,
}

/// Rebuilds the validation split stored in `pre` from `table`, which must be
/// the same data (its fingerprint is checked by the caller): the stored rows,
/// with labels mapped to the stored classes and values to the stored scale.
pub(crate) fn stored_split(table: &RawTable, pre: &Preprocessing) -> Result<StoredSplit, DataError> {
    rows_of_table(table, pre, &pre.valid_rows)
}

/// Rows `rows` of `table`, through the model's steps into its features, with
/// targets mapped to the model's classes or scale; a label the model does not
/// know, or a missing feature column, is an error naming them.
pub(crate) fn rows_of_table(table: &RawTable, pre: &Preprocessing, rows: &[usize]) -> Result<StoredSplit, DataError> {
    let stored = |message: String| DataError::Stored { path: table.path.clone(), message };
    let read = targets::read_unchecked(table, pre.task)?;
    if let Some(&r) = rows.iter().find(|&&r| r >= table.rows()) {
        return Err(stored(format!("has {} rows, but the stored split names row {r}", table.rows())));
    }
    let x = preprocess::encode(&pre.steps(), table, rows, UnseenAt::OwnRows)?.x;
    let (targets, raw) = match read {
        ReadTargets::Classes { y, classes } => {
            let mut out = Vec::with_capacity(rows.len());
            let mut raw = Vec::with_capacity(rows.len());
            for &r in rows {
                let label = &classes[y[r]];
                let k = pre.classes.iter().position(|c| c == label).ok_or_else(|| {
                    let line = table.lines.get(r).map(|l| format!(" (line {l})")).unwrap_or_default();
                    stored(format!("row {r}{line} has the label \"{label}\", which the model does not know"))
                })?;
                out.push(k);
                raw.push(label.clone());
            }
            (Targets::Classes(out), raw)
        }
        ReadTargets::Values(v) => {
            let targets = Targets::values(rows.iter().map(|&r| v[r]).collect(), pre.scale());
            (targets, rows.iter().map(|&r| v[r].to_string()).collect())
        }
    };
    Ok(StoredSplit { x, targets, raw })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::TargetColumn;

    fn toy(n_per_class: &[usize]) -> Table {
        let mut y = Vec::new();
        for (c, &n) in n_per_class.iter().enumerate() {
            y.extend(std::iter::repeat_n(c.to_string(), n));
        }
        let x = (0..y.len()).flat_map(|i| [i as f64, 5.0]).collect();
        Table {
            path: "toy.csv".into(),
            fingerprint: "f".into(),
            target: "target".into(),
            features: vec!["a".into(), "b".into()],
            x,
            lines: Vec::new(),
            targets: TargetColumn::Text(y),
        }
    }

    fn classes(t: &Targets) -> &[usize] {
        match t {
            Targets::Classes(c) => c,
            Targets::Values { .. } => panic!("classes expected"),
        }
    }

    #[test]
    fn split_is_stratified_and_fixed_by_seed() {
        let data = toy(&[50, 10]);
        let p = prepare(&data, Task::Classification, 0.2, 42).unwrap();
        assert_eq!(classes(&p.valid_y).iter().filter(|&&y| y == 0).count(), 10);
        assert_eq!(classes(&p.valid_y).iter().filter(|&&y| y == 1).count(), 2);
        assert_eq!(p.n_train(), 48);
        let again = prepare(&data, Task::Classification, 0.2, 42).unwrap();
        assert_eq!(p.preprocessing.valid_rows, again.preprocessing.valid_rows);
        let other = prepare(&data, Task::Classification, 0.2, 7).unwrap();
        assert_ne!(p.preprocessing.valid_rows, other.preprocessing.valid_rows);
    }

    #[test]
    fn standardization_uses_train_rows_only() {
        let data = toy(&[50, 10]);
        let p = prepare(&data, Task::Classification, 0.2, 42).unwrap();
        let d = 2;
        let n = p.n_train() as f32;
        let mean0: f32 = p.train_x.chunks(d).map(|r| r[0]).sum::<f32>() / n;
        let var0: f32 = p.train_x.chunks(d).map(|r| r[0] * r[0]).sum::<f32>() / n;
        assert!(mean0.abs() < 1e-5, "{mean0}");
        assert!((var0 - 1.0).abs() < 1e-4, "{var0}");
        // The constant column keeps std 1 and becomes 0.
        assert_eq!(p.preprocessing.stds[1], 1.0);
        assert!(p.train_x.chunks(d).all(|r| r[1] == 0.0));
    }

    #[test]
    fn tiny_data_is_refused() {
        let data = toy(&[1, 1]);
        assert!(matches!(prepare(&data, Task::Classification, 0.2, 1), Err(DataError::SplitTooSmall { .. })));
    }

    fn regression_table() -> Table {
        // y = 10 * i + 100 for 20 rows.
        Table {
            targets: TargetColumn::Numbers((0..20).map(|i| 10.0 * i as f64 + 100.0).collect()),
            x: (0..20).map(|i| i as f64).collect(),
            features: vec!["a".into()],
            ..toy(&[0])
        }
    }

    #[test]
    fn regression_splits_all_rows_and_standardizes_the_targets_on_the_training_rows() {
        let p = prepare(&regression_table(), Task::Regression, 0.25, 3).unwrap();
        assert_eq!((p.n_train(), p.n_valid()), (15, 5));
        assert_eq!(p.n_outputs(), 1);
        let scale = p.preprocessing.target_scale.unwrap();
        let values = p.train_values().unwrap();
        let mean: f32 = values.iter().sum::<f32>() / values.len() as f32;
        assert!(mean.abs() < 1e-5, "standardized on the training rows: {mean}");
        // Model units map back to the original values.
        let Targets::Values { model, original } = &p.valid_y else { panic!() };
        for ((z, y), &r) in model.iter().zip(original).zip(&p.preprocessing.valid_rows) {
            assert!((scale.to_original(*z as f64) - (10.0 * r as f64 + 100.0)).abs() < 1e-3);
            assert_eq!(*y, 10.0 * r as f64 + 100.0, "the metrics see the exact targets");
        }
        assert!(p.preprocessing.classes.is_empty());
    }

    #[test]
    fn the_stored_split_is_rebuilt_from_the_same_table() {
        let table = regression_table();
        let p = prepare(&table, Task::Regression, 0.25, 3).unwrap();
        let s = stored_split(&RawTable::from(&table), &p.preprocessing).unwrap();
        assert_eq!(s.targets, p.valid_y);
        assert_eq!(p.preprocessing.standardize(&s.x), p.valid_x);
        let data = toy(&[30, 10]);
        let p = prepare(&data, Task::Classification, 0.2, 1).unwrap();
        let s = stored_split(&RawTable::from(&data), &p.preprocessing).unwrap();
        assert_eq!(s.targets, p.valid_y);
        assert_eq!(s.raw.len(), p.n_valid());
    }

    #[test]
    fn a_test_share_is_carved_out_first_stratified_and_the_rest_splits_as_before() {
        let data = toy(&[50, 30]);
        let plan = SplitPlan { valid_fraction: 0.2, test: TestPlan::Fraction(0.2), cv: None };
        let p = prepare_split(&RawTable::from(&data), Task::Classification, &plan, 42).unwrap();
        let Some(TestSplit::Carved { rows: test, .. }) = &p.preprocessing.test else { panic!("carved test split") };
        // 10 + 6 test rows; of the remaining 40 + 24, 8 + 5 (rounded) validate.
        assert_eq!(test.len(), 16);
        assert_eq!(test.iter().filter(|&&r| r < 50).count(), 10);
        assert_eq!(p.n_valid(), 8 + 5);
        assert_eq!(p.n_train(), 80 - 16 - 13);
        assert!(test.iter().all(|r| !p.preprocessing.valid_rows.contains(r)));
        // No test row reaches training: the features of toy rows are their row numbers.
        let train = split_rows(&p.preprocessing, 80, SplitName::Train);
        assert!(train.iter().all(|r| !test.contains(r)) && train.len() == p.n_train());
        // Without a test share, the split is exactly the one of earlier versions.
        let plain =
            prepare_split(&RawTable::from(&data), Task::Classification, &SplitPlan::valid_only(0.2), 42).unwrap();
        assert_eq!(plain.preprocessing, prepare(&data, Task::Classification, 0.2, 42).unwrap().preprocessing);
        assert!(plain.preprocessing.test.is_none());
    }

    #[test]
    fn folds_are_stratified_disjoint_and_cover_the_non_test_rows() {
        let data = toy(&[50, 31]);
        let mut seen = std::collections::BTreeSet::new();
        for fold in 0..4 {
            let plan = SplitPlan { valid_fraction: 0.0, test: TestPlan::Fraction(0.2), cv: Some((4, Some(fold))) };
            let p = prepare_split(&RawTable::from(&data), Task::Classification, &plan, 9).unwrap();
            let ones = classes(&p.valid_y).iter().filter(|&&y| y == 1).count();
            // 40 + 25 non-test rows over 4 folds: 16 or 17 rows, 6 or 7 of class 1.
            assert!((16..=17).contains(&p.n_valid()) && (6..=7).contains(&ones), "{} {ones}", p.n_valid());
            assert!(p.preprocessing.valid_rows.iter().all(|r| seen.insert(*r)), "folds are disjoint");
            assert_eq!(p.preprocessing.cv, Some(CvFold { folds: 4, fold: Some(fold) }));
        }
        assert_eq!(seen.len(), 65);
        let refit = SplitPlan { valid_fraction: 0.0, test: TestPlan::Fraction(0.2), cv: Some((4, None)) };
        let p = prepare_split(&RawTable::from(&data), Task::Classification, &refit, 9).unwrap();
        assert_eq!((p.n_train(), p.n_valid()), (65, 0));
    }
}
