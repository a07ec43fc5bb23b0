//! A trial's best-so-far monitored curve, read from its history.csv: what
//! early termination judges a trial against.

use std::path::Path;

use crate::spec::SweepSpec;
use crate::store::{SweepDir, TrialRecord, names};

/// A finished trial's best-so-far monitored value per epoch, from its history.csv.
pub(super) fn monitored_curve(dir: &SweepDir, record: &TrialRecord, spec: &SweepSpec) -> Vec<f64> {
    history_curve(&dir.trial_dir(&record.id).join(names::HISTORY), &spec.metric)
}

/// Every other trial's best-so-far monitored curve as far as it has got,
/// read from the trial folders (finished or running): what an asynchronous
/// pruning decision judges a trial against.
pub(crate) fn live_curves(dir: &SweepDir, monitor: &crate::metrics::Monitor, own: &str) -> Vec<Vec<f64>> {
    let Ok(entries) = std::fs::read_dir(dir.trials_dir()) else { return Vec::new() };
    let mut names: Vec<String> = entries.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect();
    names.sort();
    names
        .into_iter()
        .filter(|name| name != own && !name.starts_with("refit-"))
        .map(|name| history_curve(&dir.trial_dir(&name).join(names::HISTORY), monitor))
        .filter(|c| !c.is_empty())
        .collect()
}

/// The best-so-far curve of the monitored metric in a history.csv (empty when unreadable).
fn history_curve(path: &Path, monitor: &crate::metrics::Monitor) -> Vec<f64> {
    crate::callback::pruning::best_so_far(&crate::store::read_history_column(path, &monitor.metric), monitor)
}
