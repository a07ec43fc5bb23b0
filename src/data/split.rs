//! The train/validation split and standardization: stratified for
//! classification, plain for regression, fixed by the seed; and the stored
//! validation split rebuilt later from the same data.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::targets::{self, ReadTargets};
use super::{DataError, Prepared, Preprocessing, Table, Targets};
use crate::metrics::{TargetScale, Task};
use crate::seed::derive_seed;

/// Splits `table` for `task`: for classification each class by
/// `valid_fraction` (rounded, at least one row on each side when a class has
/// two or more), for regression all rows at once; the shuffle is fixed by
/// `seed`. Features are standardized with the training split's mean and std;
/// regression targets too (the model learns them in those units).
pub fn prepare(table: &Table, task: Task, valid_fraction: f64, seed: u64) -> Result<Prepared, DataError> {
    let read = targets::read(table, task)?;
    let mut rng = ChaCha8Rng::seed_from_u64(derive_seed(seed, "split", 0));
    let mut train_rows = Vec::new();
    let mut valid_rows = Vec::new();
    let mut split_group = |mut rows: Vec<usize>| {
        rows.shuffle(&mut rng);
        let n = rows.len();
        let n_valid = if n >= 2 { ((n as f64 * valid_fraction).round() as usize).clamp(1, n - 1) } else { 0 };
        valid_rows.extend_from_slice(&rows[..n_valid]);
        train_rows.extend_from_slice(&rows[n_valid..]);
    };
    match &read {
        ReadTargets::Classes { y, classes } => {
            for class in 0..classes.len() {
                split_group((0..y.len()).filter(|&r| y[r] == class).collect());
            }
        }
        ReadTargets::Values(v) => split_group((0..v.len()).collect()),
    }
    train_rows.sort_unstable();
    valid_rows.sort_unstable();
    if train_rows.is_empty() || valid_rows.is_empty() {
        return Err(DataError::SplitTooSmall {
            path: table.path.clone(),
            rows: table.rows(),
            fraction: valid_fraction,
            train: train_rows.len(),
            valid: valid_rows.len(),
        });
    }

    let d = table.features.len();
    let (means, stds) = column_stats(&table.x, d, &train_rows);
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
    let preprocessing = Preprocessing {
        data_path: table.path.clone(),
        data_fingerprint: table.fingerprint.clone(),
        target: table.target.clone(),
        task,
        feature_columns: table.features.clone(),
        means,
        stds,
        classes,
        target_scale,
        split_seed: seed,
        valid_fraction,
        valid_rows,
        source: None,
    };
    // The same standardization predict and verify apply later, so their outputs match bit for bit.
    let rows_of =
        |rows: &[usize]| -> Vec<f64> { rows.iter().flat_map(|&r| &table.x[r * d..(r + 1) * d]).copied().collect() };
    Ok(Prepared {
        task,
        train_x: preprocessing.standardize(&rows_of(&train_rows)),
        train_y,
        valid_x: preprocessing.standardize(&rows_of(&preprocessing.valid_rows)),
        valid_y,
        n_features: d,
        preprocessing,
    })
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

/// A model's own validation split, rebuilt from its data.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSplit {
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
pub fn stored_split(table: &Table, pre: &Preprocessing) -> Result<StoredSplit, DataError> {
    let stored = |message: String| DataError::Stored { path: table.path.clone(), message };
    let read = targets::read(table, pre.task)?;
    let index: Vec<usize> = pre
        .feature_columns
        .iter()
        .map(|c| {
            table.features.iter().position(|f| f == c).ok_or_else(|| stored(format!("has no feature column \"{c}\"")))
        })
        .collect::<Result<_, _>>()?;
    let d = table.features.len();
    let mut x = Vec::with_capacity(pre.valid_rows.len() * index.len());
    for &r in &pre.valid_rows {
        if r >= table.rows() {
            return Err(stored(format!("has {} rows, but the stored split names row {r}", table.rows())));
        }
        x.extend(index.iter().map(|&j| table.x[r * d + j]));
    }
    let (targets, raw) = match read {
        ReadTargets::Classes { y, classes } => {
            let mut out = Vec::with_capacity(pre.valid_rows.len());
            let mut raw = Vec::with_capacity(pre.valid_rows.len());
            for &r in &pre.valid_rows {
                let label = &classes[y[r]];
                let k = pre.classes.iter().position(|c| c == label).ok_or_else(|| {
                    stored(format!("row {r} has the label \"{label}\", which the model does not know"))
                })?;
                out.push(k);
                raw.push(label.clone());
            }
            (Targets::Classes(out), raw)
        }
        ReadTargets::Values(v) => {
            let targets = Targets::values(pre.valid_rows.iter().map(|&r| v[r]).collect(), pre.scale());
            (targets, pre.valid_rows.iter().map(|&r| v[r].to_string()).collect())
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
        let s = stored_split(&table, &p.preprocessing).unwrap();
        assert_eq!(s.targets, p.valid_y);
        assert_eq!(p.preprocessing.standardize(&s.x), p.valid_x);
        let data = toy(&[30, 10]);
        let p = prepare(&data, Task::Classification, 0.2, 1).unwrap();
        let s = stored_split(&data, &p.preprocessing).unwrap();
        assert_eq!(s.targets, p.valid_y);
        assert_eq!(s.raw.len(), p.n_valid());
    }
}
