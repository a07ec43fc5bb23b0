//! An objective's own data source, for rows that do not live in one CSV file
//! (a folder of images, a dump of a database). The source only turns its
//! input into a [`Table`] of numeric feature rows, their targets and a
//! fingerprint; the split, standardization, metrics, the best-model callback,
//! the records, `predict --split valid` and `verify` then work unchanged.

use std::path::PathBuf;

use super::Table;
use crate::params::{ResolvedParams, Schema};

/// Why a data source could not deliver its rows.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{origin}: {message}")]
pub struct SourceError {
    /// What it was reading (a folder, a file), so the user knows where to look.
    pub origin: PathBuf,
    /// What went wrong, with the row, column or file where it applies.
    pub message: String,
}

impl SourceError {
    /// An error about `origin`.
    pub fn new(origin: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        SourceError { origin: origin.into(), message: message.into() }
    }
}

/// Rows from somewhere other than the bundled CSV loader.
///
/// The spec's `[data]` table then holds `task`, `valid_fraction`, the model
/// selection keys (`test_fraction`, `test_top`, `cv_folds`, `refit`; not
/// `test_path`, which names a CSV file) and the source's own
/// [`options`](DataSource::options) instead of `path`, `target`, `features`
/// and `drop`, validated with the same one-line errors as parameters.
pub trait DataSource: Send + Sync {
    /// The `[data]` keys this source reads, with their defaults (see [`Schema::empty`]).
    fn options(&self) -> Schema;

    /// Reads every row. The same options must give the same rows, in the same
    /// order, with the same fingerprint: the split is stored as row numbers,
    /// and `verify` rebuilds it from a new load.
    fn load(&self, options: &ResolvedParams) -> Result<Table, SourceError>;
}
