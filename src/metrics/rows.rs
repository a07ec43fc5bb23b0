//! Per-row facts of one model's outputs on the validation rows, from which
//! every metric of the table is computed on any set of those rows.
//!
//! The facts are computed once (the argmax, the softmax, each row's loss, the
//! rows sorted by each class's probability), each on first use, so that a
//! metric on a bootstrap resample is one pass over its row indices and a
//! resampled metric pays only for the facts it reads: aggregation computes one
//! metric on 1000 resamples of every trial.

use std::any::{Any, TypeId};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use super::Truth;
use super::classification::{argmax_rows, cross_entropy_of_row, softmax_rows};

/// One model's outputs on the validation rows with their truth, reduced to
/// what the metrics read.
#[derive(Debug, Clone)]
pub(crate) struct RowScores {
    kind: Kind,
}

#[derive(Debug, Clone)]
enum Kind {
    Classes(ClassRows),
    Values(ValueRows),
}

/// A classifier's rows: logits and labels, and what metrics derive from them.
#[derive(Debug, Clone)]
pub(crate) struct ClassRows {
    pub(crate) n_classes: usize,
    /// The true class of each row.
    pub(crate) labels: Vec<u32>,
    logits: Vec<f32>,
    classes: OnceLock<Vec<[u32; 2]>>,
    cross_entropy: OnceLock<Vec<f64>>,
    probabilities: OnceLock<Vec<f64>>,
    derived: Derived,
}

/// Facts a metric's own file derives from a classifier's rows (AUROC's rankings, the clipped
/// log loss per row), each once, on first use, keyed by its type: this file names none of them,
/// so the facts' layer imports no metric and a new metric adds its fact in its own file.
#[derive(Default)]
struct Derived(Mutex<Vec<(TypeId, Arc<dyn Any + Send + Sync>)>>);

impl Clone for Derived {
    /// A copy derives its facts again when asked: they follow from the rows alone.
    fn clone(&self) -> Self {
        Derived::default()
    }
}

impl std::fmt::Debug for Derived {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let held = self.0.lock().unwrap_or_else(PoisonError::into_inner).len();
        write!(f, "Derived({held} facts)")
    }
}

/// A regression model's rows, errors in original units except where noted.
#[derive(Debug, Clone)]
pub(crate) struct ValueRows {
    /// The truth in original units.
    pub(crate) truth: Vec<f64>,
    /// Squared error.
    pub(crate) sq: Vec<f64>,
    /// Absolute error.
    pub(crate) abs: Vec<f64>,
    /// Squared error in model units: `valid_loss` is the training loss.
    pub(crate) sq_model: Vec<f64>,
}

/// The rows a metric is computed on: indices of the validation rows, with
/// repetitions (a bootstrap resample) or without (`0..n`, the epoch's value),
/// and, where the caller has them, how often each row occurs among them. A
/// metric that only counts rows may read the counts in one pass in row order (AUROC does)
/// instead of gathering through the indices: the bootstrap scores every trial
/// on the same resamples, so it counts each resample's rows once per sweep.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rows<'a> {
    indices: &'a [u32],
    counts: Option<&'a [u8]>,
}

impl<'a> Rows<'a> {
    /// The rows `indices`.
    pub(crate) fn new(indices: &'a [u32]) -> Self {
        Rows { indices, counts: None }
    }

    /// The rows `indices`, where row `r` occurs `counts[r]` times (`counts` covers every
    /// validation row; a row never drawn counts 0).
    pub(crate) fn with_counts(indices: &'a [u32], counts: &'a [u8]) -> Self {
        debug_assert_eq!(
            counts.iter().map(|&c| c as usize).sum::<usize>(),
            indices.len(),
            "rows: counts disagree with the indices"
        );
        Rows { indices, counts: Some(counts) }
    }

    /// The row indices, with repetitions.
    pub(crate) fn indices(&self) -> &'a [u32] {
        self.indices
    }

    /// How often each validation row occurs, when known.
    pub(crate) fn counts(&self) -> Option<&'a [u8]> {
        self.counts
    }
}

/// Buffers a metric reuses from one row set to the next: a bootstrap
/// distribution would otherwise allocate for every resample. Each metric file
/// keeps its own buffer type here ([`Scratch::buffer`]).
#[derive(Debug, Default)]
pub(crate) struct Scratch {
    buffers: Vec<Box<dyn Any + Send>>,
}

impl Scratch {
    /// The buffer of type `T`, made (`T::default()`) on first use.
    pub(crate) fn buffer<T: Any + Send + Default>(&mut self) -> &mut T {
        let at = match self.buffers.iter().position(|b| b.is::<T>()) {
            Some(at) => at,
            None => {
                self.buffers.push(Box::new(T::default()));
                self.buffers.len() - 1
            }
        };
        self.buffers[at].downcast_mut::<T>().expect("the buffer at `at` holds a T")
    }
}

impl RowScores {
    /// From outputs (rows × outputs_per_row, row-major, as `evaluate` takes) and the truth.
    ///
    /// # Panics
    ///
    /// If `outputs` does not hold `outputs_per_row` values for every row of
    /// `truth`, or a class label is not below `n_classes`.
    pub(crate) fn new(outputs: &[f32], truth: Truth<'_>) -> Self {
        assert_eq!(
            outputs.len(),
            truth.len() * truth.outputs_per_row(),
            "metrics: outputs are not rows × outputs_per_row"
        );
        let kind = match truth {
            Truth::Classes { labels, n_classes } => Kind::Classes(ClassRows {
                n_classes,
                labels: labels
                    .iter()
                    .map(|&t| {
                        assert!(t < n_classes, "metrics: label {t} of {n_classes} classes");
                        t as u32
                    })
                    .collect(),
                logits: outputs.to_vec(),
                classes: OnceLock::new(),
                cross_entropy: OnceLock::new(),
                probabilities: OnceLock::new(),
                derived: Derived::default(),
            }),
            Truth::Values { values, scale } => {
                let mut sq = Vec::with_capacity(values.len());
                let mut abs = Vec::with_capacity(values.len());
                let mut sq_model = Vec::with_capacity(values.len());
                for (&z, &y) in outputs.iter().zip(values) {
                    let (z, t_model) = (z as f64, scale.to_model(y));
                    let e = scale.to_original(z) - y;
                    sq.push(e * e);
                    abs.push(e.abs());
                    sq_model.push((z - t_model) * (z - t_model));
                }
                Kind::Values(ValueRows { truth: values.to_vec(), sq, abs, sq_model })
            }
        };
        RowScores { kind }
    }

    /// Rows of the validation outputs.
    pub(crate) fn rows(&self) -> usize {
        match &self.kind {
            Kind::Classes(c) => c.labels.len(),
            Kind::Values(v) => v.truth.len(),
        }
    }

    /// The task of the outputs.
    pub(crate) fn task(&self) -> super::Task {
        match &self.kind {
            Kind::Classes(_) => super::Task::Classification,
            Kind::Values(_) => super::Task::Regression,
        }
    }

    /// A classifier's rows; None for a regression model's.
    pub(crate) fn class_rows(&self) -> Option<&ClassRows> {
        match &self.kind {
            Kind::Classes(c) => Some(c),
            Kind::Values(_) => None,
        }
    }

    /// A regression model's rows; None for a classifier's.
    pub(crate) fn value_rows(&self) -> Option<&ValueRows> {
        match &self.kind {
            Kind::Values(v) => Some(v),
            Kind::Classes(_) => None,
        }
    }
}

impl ClassRows {
    /// The (true, predicted) class of each row, predicted the first largest
    /// logit; side by side, as a confusion matrix counts them.
    pub(crate) fn classes(&self) -> &[[u32; 2]] {
        self.classes.get_or_init(|| {
            let predicted = argmax_rows(&self.logits, self.n_classes);
            self.labels.iter().zip(predicted).map(|(&t, p)| [t, p as u32]).collect()
        })
    }

    /// The cross entropy of each row: the terms whose mean is `valid_loss`.
    pub(crate) fn cross_entropy(&self) -> &[f64] {
        self.cross_entropy.get_or_init(|| {
            self.logits
                .chunks(self.n_classes)
                .zip(&self.labels)
                .map(|(row, &y)| cross_entropy_of_row(row, y as usize))
                .collect()
        })
    }

    /// The class probabilities of each row (rows × n_classes, the softmax in f64).
    pub(crate) fn probabilities(&self) -> &[f64] {
        self.probabilities.get_or_init(|| softmax_rows(&self.logits, self.n_classes))
    }

    /// The fact of type `T` that `derive` makes of these rows: derived on the first call, then
    /// shared (two calls never derive it twice, whichever thread asks).
    pub(crate) fn derived<T: Any + Send + Sync>(&self, derive: fn(&ClassRows) -> T) -> Arc<T> {
        let mut facts = self.derived.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, fact)) = facts.iter().find(|(id, _)| *id == TypeId::of::<T>())
            && let Ok(fact) = Arc::clone(fact).downcast::<T>()
        {
            return fact;
        }
        let fact = Arc::new(derive(self));
        facts.push((TypeId::of::<T>(), fact.clone()));
        fact
    }
}

/// The mean of `values` in their order; 0 for no rows.
pub(crate) fn mean(values: impl Iterator<Item = f64>, n: usize) -> f64 {
    if n == 0 { 0.0 } else { values.fold(0.0, |sum, v| sum + v) / n as f64 }
}

/// The mean of a per-row fact over `rows`.
pub(crate) fn mean_over(per_row: &[f64], rows: &[u32]) -> f64 {
    mean(rows.iter().map(|&r| per_row[r as usize]), rows.len())
}

/// `num / den`, 0 (never NaN) on a zero denominator, as scikit-learn's metrics give.
pub(crate) fn ratio(num: f64, den: f64) -> f64 {
    if den == 0.0 { 0.0 } else { num / den }
}
