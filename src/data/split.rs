//! The stratified train/validation split and standardization.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_chacha::ChaCha8Rng;

use super::{DataError, Dataset, Prepared, Preprocessing};
use crate::plan::derive_seed;

/// Splits each class by `valid_fraction` (rounded, at least one row on each
/// side when a class has two or more), with a shuffle fixed by `seed`, then
/// standardizes with the training split's mean and std.
pub fn prepare(data: &Dataset, valid_fraction: f64, seed: u64) -> Result<Prepared, DataError> {
    let n_classes = data.classes.len();
    let mut rng = ChaCha8Rng::seed_from_u64(derive_seed(seed, "split", 0));
    let mut train_rows = Vec::new();
    let mut valid_rows = Vec::new();
    for class in 0..n_classes {
        let mut rows: Vec<usize> = (0..data.y.len()).filter(|&r| data.y[r] == class).collect();
        rows.shuffle(&mut rng);
        let n = rows.len();
        let mut n_valid = (n as f64 * valid_fraction).round() as usize;
        if n >= 2 {
            n_valid = n_valid.clamp(1, n - 1);
        } else {
            n_valid = 0;
        }
        valid_rows.extend_from_slice(&rows[..n_valid]);
        train_rows.extend_from_slice(&rows[n_valid..]);
    }
    train_rows.sort_unstable();
    valid_rows.sort_unstable();
    if train_rows.is_empty() || valid_rows.is_empty() {
        return Err(DataError::SplitTooSmall {
            path: data.path.clone(),
            rows: data.y.len(),
            fraction: valid_fraction,
            train: train_rows.len(),
            valid: valid_rows.len(),
        });
    }

    let d = data.features.len();
    let (means, stds) = column_stats(&data.x, d, &train_rows);
    let standardize = |rows: &[usize]| -> Vec<f32> {
        let mut out = Vec::with_capacity(rows.len() * d);
        for &r in rows {
            for j in 0..d {
                out.push(((data.x[r * d + j] - means[j]) / stds[j]) as f32);
            }
        }
        out
    };
    Ok(Prepared {
        train_x: standardize(&train_rows),
        train_y: train_rows.iter().map(|&r| data.y[r]).collect(),
        valid_x: standardize(&valid_rows),
        valid_y: valid_rows.iter().map(|&r| data.y[r]).collect(),
        n_features: d,
        n_classes,
        preprocessing: Preprocessing {
            data_path: data.path.clone(),
            data_fingerprint: data.fingerprint.clone(),
            target: data.target.clone(),
            feature_columns: data.features.clone(),
            means,
            stds,
            classes: data.classes.clone(),
            split_seed: seed,
            valid_fraction,
            valid_rows,
        },
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

#[cfg(test)]
mod tests {
    use super::*;

    fn toy(n_per_class: &[usize]) -> Dataset {
        let mut y = Vec::new();
        for (c, &n) in n_per_class.iter().enumerate() {
            y.extend(std::iter::repeat_n(c, n));
        }
        let x = (0..y.len()).flat_map(|i| [i as f64, 5.0]).collect();
        Dataset {
            path: "toy.csv".into(),
            fingerprint: "f".into(),
            target: "target".into(),
            features: vec!["a".into(), "b".into()],
            x,
            y,
            classes: (0..n_per_class.len()).map(|c| c.to_string()).collect(),
        }
    }

    #[test]
    fn split_is_stratified_and_fixed_by_seed() {
        let data = toy(&[50, 10]);
        let p = prepare(&data, 0.2, 42).unwrap();
        assert_eq!(p.valid_y.iter().filter(|&&y| y == 0).count(), 10);
        assert_eq!(p.valid_y.iter().filter(|&&y| y == 1).count(), 2);
        assert_eq!(p.train_y.len(), 48);
        let again = prepare(&data, 0.2, 42).unwrap();
        assert_eq!(p.preprocessing.valid_rows, again.preprocessing.valid_rows);
        let other = prepare(&data, 0.2, 7).unwrap();
        assert_ne!(p.preprocessing.valid_rows, other.preprocessing.valid_rows);
    }

    #[test]
    fn standardization_uses_train_rows_only() {
        let data = toy(&[50, 10]);
        let p = prepare(&data, 0.2, 42).unwrap();
        let d = 2;
        let n = p.train_y.len() as f32;
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
        assert!(matches!(prepare(&data, 0.2, 1), Err(DataError::SplitTooSmall { .. })));
    }
}
