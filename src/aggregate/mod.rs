//! The aggregator: ranks the per-trial records of a sweep and exports the
//! leaderboard, the sweep's model registry and the sweep's long-format
//! `history.csv` ([`history`]). It reads nothing but the trial folders
//! (`trial.json`, the kept validation outputs, `test.json`, `history.csv`),
//! so it gives the same answer after a local run, a resumed run, or a cluster
//! job array.
//!
//! After ranking it judges the models: bootstrap intervals and ties from the
//! validation outputs ([`uncertainty`]); and, through [`ModelWork`], which
//! needs the objectives, the refit of the winning configuration of a
//! cross-validation and one evaluation of the top models on the test split.

pub(crate) mod bbc;
mod by_config;
pub(crate) mod history;
mod leaderboard;
pub(crate) mod pick;
mod ranking;
mod registry;
pub(crate) mod uncertainty;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub(crate) use by_config::{ConfigLeaderboardCsv, ConfigRow, rank_configs};
pub(crate) use leaderboard::LeaderboardCsv;
pub(crate) use ranking::rank;
pub(crate) use registry::{RegistryJson, SweepRegistry};
pub(crate) use uncertainty::Uncertainty;

use crate::metrics::{Metrics, Monitor, Task};
use crate::spec::Selection;
use crate::store::{self, IncompleteTrial, SplitEvaluation, StoreError, SweepDir, TrialRecord, names};

/// Why aggregation failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AggregateError {
    /// The folder is not a sweep's results folder.
    #[error("{dir}: no trial records here (expected {dir}/trials/<id>/trial.json); is this a sweep's results folder?")]
    NoRecords { dir: PathBuf },
    /// Records disagree about their task.
    #[error("{dir}: trials of different tasks ({a} and {b}); were two sweeps mixed in one folder?")]
    MixedTasks {
        dir: PathBuf,
        /// One task.
        a: &'static str,
        b: &'static str,
    },
    /// Records disagree about what they monitor.
    #[error("{dir}: trials monitor different metrics ({a} and {b}); were two sweeps mixed in one folder?")]
    MixedMonitors { dir: PathBuf, a: String, b: String },
    /// `[select] constraints` that no model meets: nothing is picked.
    #[error(
        "{dir}: none of the {models} models meets every [select] constraint, so none is picked or registered; \
         the violates column of {dir}/leaderboard.csv says which constraint each fails"
    )]
    NoneMeetsConstraints { dir: PathBuf, models: usize },
    /// Reading records or writing exports failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// An exporter could not render.
    #[error("rendering {file}: {message}")]
    Render {
        /// The export's file name.
        file: &'static str,
        message: String,
    },
}

/// Ranked trials of one sweep.
#[derive(Debug, Clone)]
pub(crate) struct Leaderboard {
    /// Sweep name.
    pub sweep: String,
    /// Spec hash of the trials.
    pub spec_hash: String,
    /// The ranking key.
    pub monitor: Monitor,
    /// What the trials predict, which decides the metric columns.
    pub task: Task,
    /// Swept parameter names (the union over all trials), sorted.
    pub param_names: Vec<String>,
    /// Trials, best first; failed and diverged last.
    pub rows: Vec<TrialRecord>,
    /// Whether configurations ran with several seeds (`repeats > 1`).
    pub repeats: bool,
    /// Trial folders without a complete record (still running, or died).
    pub incomplete: Vec<IncompleteTrial>,
    /// Whether the sweep holds out a test split.
    pub has_test: bool,
    /// With cross-validation: the folds (each configuration's trials are its folds).
    pub cv_folds: Option<usize>,
    /// Test metrics (`loss`, ...) by trial id, of the models evaluated on the test split.
    pub test: BTreeMap<String, Metrics>,
    /// Resamples of the bootstrap (0: none).
    pub bootstrap: usize,
    /// Bootstrap interval and tie with the top trial, by trial id.
    pub uncertainty: BTreeMap<String, Uncertainty>,
    /// With cross-validation and `refit = true`: the winning configuration retrained on every non-test row.
    pub refit: Option<TrialRecord>,
    /// `[select] constraints`: what the pick must meet.
    pub constraints: Vec<crate::pick::Constraint>,
    /// `[metric] trade_off`: what the monitored metric is traded against.
    pub trade_off: Vec<crate::pick::TradeOff>,
    /// With constraints: the ones each model fails, by trial id (empty: it meets them all).
    pub violates: BTreeMap<String, Vec<String>>,
    /// With trade-offs: each model's `pareto_rank`, by trial id.
    pub pareto: BTreeMap<String, usize>,
    /// With cross-validation and the bootstrap: BBC-CV of the configuration it picks.
    pub bbc: Option<bbc::Bbc>,
}

impl Leaderboard {
    /// Builds the ranked leaderboard from records.
    pub(crate) fn from_records(
        dir: &SweepDir,
        records: Vec<TrialRecord>,
        incomplete: Vec<IncompleteTrial>,
    ) -> Result<Self, AggregateError> {
        let Some(first) = records.first() else {
            return Err(AggregateError::NoRecords { dir: dir.root().to_path_buf() });
        };
        let monitor = first.monitor.clone();
        if let Some(other) = records.iter().find(|r| r.monitor.metric != monitor.metric) {
            return Err(AggregateError::MixedMonitors {
                dir: dir.root().to_path_buf(),
                a: monitor.metric.clone(),
                b: other.monitor.metric.clone(),
            });
        }
        if let Some(other) = records.iter().find(|r| r.task != first.task) {
            return Err(AggregateError::MixedTasks {
                dir: dir.root().to_path_buf(),
                a: first.task.as_str(),
                b: other.task.as_str(),
            });
        }
        let mut param_names: Vec<String> = records.iter().flat_map(|r| r.params.keys().cloned()).collect();
        param_names.sort();
        param_names.dedup();
        Ok(Leaderboard {
            sweep: first.sweep.clone(),
            spec_hash: first.spec_hash.clone(),
            monitor,
            task: first.task,
            param_names,
            repeats: records.iter().any(|r| r.repeat > 0),
            rows: rank(records),
            incomplete,
            has_test: false,
            cv_folds: None,
            test: BTreeMap::new(),
            bootstrap: 0,
            uncertainty: BTreeMap::new(),
            refit: None,
            constraints: Vec::new(),
            trade_off: Vec::new(),
            violates: BTreeMap::new(),
            pareto: BTreeMap::new(),
            bbc: None,
        })
    }

    /// The models in the order the registry lists them: the refit first,
    /// then completed trials by rank, or with repeats and folds by their
    /// configuration's rank.
    pub(crate) fn registry_order(&self) -> Vec<&TrialRecord> {
        registry::in_registry_order(self).into_iter().map(|m| m.record).collect()
    }

    /// Whether the model `id` meets every constraint (true without constraints).
    pub(crate) fn meets_constraints(&self, id: &str) -> bool {
        self.violates.get(id).is_none_or(Vec::is_empty)
    }

    /// The model the registry picks: the first in its order that meets
    /// every constraint; `None` when none does (or none has a model).
    pub(crate) fn pick(&self) -> Option<&TrialRecord> {
        self.registry_order().into_iter().find(|r| self.meets_constraints(&r.id))
    }
}

/// Work on models that needs the objectives, which the aggregator does not
/// have: a caller that does (the CLI) implements it.
pub(crate) trait ModelWork {
    /// Evaluates the model in `model_dir` once on its test split.
    fn evaluate_test(&self, model_dir: &Path) -> Result<SplitEvaluation, String>;
    /// Retrains configuration `winner` on every non-test row for the median
    /// best epoch of its folds (`folds`, its fold trials), and returns the
    /// committed record of the refit model.
    fn refit(&self, winner: &ConfigRow, folds: &[&TrialRecord]) -> Result<TrialRecord, String>;
}

/// What [`aggregate_with`] did besides ranking.
#[derive(Debug, Clone, Default)]
pub(crate) struct Judged {
    /// Models evaluated on the test split now (not read from an earlier `test.json`).
    pub tested_now: Vec<String>,
    /// Why some work failed (on a model, or reading a trial's history.csv);
    /// the exports are written anyway.
    pub problems: Vec<String>,
}

/// Renders one export of a leaderboard; pure, the aggregator writes the bytes.
pub(crate) trait Exporter {
    /// File name inside the sweep folder.
    fn file_name(&self) -> &'static str;
    /// The file's content.
    fn render(&self, board: &Leaderboard) -> Result<Vec<u8>, AggregateError>;
}

/// Reads every record of `dir`, ranks them, and writes every export atomically,
/// with what is known without the objectives (test metrics measured earlier,
/// bootstrap intervals).
pub(crate) fn aggregate(dir: &SweepDir) -> Result<Leaderboard, AggregateError> {
    aggregate_with(dir, None).map(|(board, _)| board)
}

/// Reads the ranked leaderboard of `dir` with its refit, test metrics and
/// bootstrap, as the exports show it; writes nothing.
pub(crate) fn load(dir: &SweepDir) -> Result<Leaderboard, AggregateError> {
    let (board, _) = judge(dir, None)?;
    Ok(board)
}

/// [`aggregate`], and with `work`: refits the winning configuration of a
/// cross-validation (`refit = true`) and evaluates the top models on the test
/// split, once each (a model with a `test.json` of its checkpoint is not
/// evaluated again).
pub(crate) fn aggregate_with(
    dir: &SweepDir,
    work: Option<&dyn ModelWork>,
) -> Result<(Leaderboard, Judged), AggregateError> {
    use rayon::prelude::*;
    let (board, mut judged) = judge(dir, work)?;
    let mut exporters: Vec<&(dyn Exporter + Sync)> = vec![&LeaderboardCsv, &RegistryJson];
    if board.repeats {
        exporters.push(&ConfigLeaderboardCsv);
    }
    // The exports are pure and independent of the trials' history files: all are rendered and
    // read at once (each took a second or more for 10^5 trials); the files are written in the
    // same order as before, and an export that fails to render stops the writing at its turn.
    let (rendered, (histories, unreadable)) = rayon::join(
        || exporters.par_iter().map(|e| e.render(&board)).collect::<Vec<_>>(),
        || history::read_histories(dir, board.rows.iter().chain(board.refit.as_ref())),
    );
    for (exporter, bytes) in exporters.iter().zip(rendered) {
        let bytes = bytes?;
        let path = dir.file(exporter.file_name());
        store::write_atomic(&path, &bytes).map_err(StoreError::io(&path))?;
    }
    judged.problems.extend(history_problems(&unreadable));
    let path = dir.file(names::HISTORY);
    store::write_atomic(&path, &history::render(&histories)?).map_err(StoreError::io(&path))?;
    Ok((board, judged))
}

/// How many unreadable history files are named one by one before the rest are counted.
const HISTORY_PROBLEMS_NAMED: usize = 5;

/// One warning per unreadable history file, the first few named and the rest counted: a folder
/// of 10^5 trials from an older version would otherwise print 10^5 lines.
fn history_problems(unreadable: &[history::HistoryError]) -> Vec<String> {
    let mut problems: Vec<String> = unreadable
        .iter()
        .take(HISTORY_PROBLEMS_NAMED)
        .map(|e| format!("{e}; the trial's epochs are not in {}", names::HISTORY))
        .collect();
    if unreadable.len() > HISTORY_PROBLEMS_NAMED {
        problems.push(format!(
            "{} more trials' {} could not be read either; their epochs are not in the sweep's {}",
            unreadable.len() - HISTORY_PROBLEMS_NAMED,
            names::HISTORY,
            names::HISTORY
        ));
    }
    problems
}

/// The sweep's selection settings and seed, from its manifest (defaults for
/// folders of earlier versions), and whether it holds out a test split.
fn settings(dir: &SweepDir) -> Result<(Selection, u64, bool, Option<usize>), AggregateError> {
    let manifest = dir.manifest()?;
    let selection = manifest.as_ref().and_then(|m| m.selection.clone()).unwrap_or_default();
    let splits = manifest.as_ref().map(|m| m.spec.splits()).unwrap_or_default();
    Ok((selection, splits.seed, splits.data.has_test(), splits.data.cv_folds))
}

fn judge(dir: &SweepDir, work: Option<&dyn ModelWork>) -> Result<(Leaderboard, Judged), AggregateError> {
    let scan = dir.scan()?;
    let (refits, trials): (Vec<TrialRecord>, Vec<TrialRecord>) =
        scan.complete.into_iter().partition(|r| r.refit.is_some());
    let mut board = Leaderboard::from_records(dir, trials, scan.incomplete)?;
    let (selection, seed, has_test, cv_folds) = settings(dir)?;
    let mut judged = Judged::default();
    board.has_test = has_test;
    board.cv_folds = cv_folds;
    board.bootstrap = selection.bootstrap;
    board.constraints = selection.constraints.clone();
    board.trade_off = selection.trade_off.clone();

    if selection.refit && board.repeats {
        let winner = rank_configs(&board).into_iter().next().filter(|c| c.completed > 0);
        if let Some(winner) = winner {
            let folds: Vec<&TrialRecord> =
                board.rows.iter().filter(|r| r.config == winner.config && r.status.has_model()).collect();
            let fold_ids: Vec<String> = folds.iter().map(|r| r.id.clone()).collect();
            let (mut kept, outdated): (Vec<TrialRecord>, Vec<TrialRecord>) = refits.into_iter().partition(|r| {
                r.spec_hash == board.spec_hash
                    && r.refit
                        .as_ref()
                        .is_some_and(|f| f.config == winner.config && sorted(&f.fold_trials) == sorted(&fold_ids))
            });
            let kept = kept.pop();
            // A refit of an earlier winner (the sweep was resumed with more trials) describes no
            // model of this ranking; registered versions keep their own copies of its files.
            if work.is_some() {
                for r in outdated {
                    let old = dir.trial_dir(&r.id);
                    std::fs::remove_dir_all(&old).map_err(StoreError::io(&old))?;
                }
            }
            board.refit = match (kept, work) {
                (Some(r), _) => Some(r),
                (None, Some(work)) => match work.refit(&winner, &folds) {
                    Ok(r) => Some(r),
                    Err(e) => {
                        judged.problems.push(format!("refit of configuration {}: {e}", winner.config));
                        None
                    }
                },
                (None, None) => None,
            };
        }
    }

    // The test split's candidates are the top models that meet the constraints known so far.
    board.violates = pick::all_violations(&board, false);
    if has_test {
        let candidates: Vec<TrialRecord> = {
            let order = board.registry_order();
            let refit = order.iter().take_while(|r| r.refit.is_some()).count();
            order.into_iter().take(refit + selection.test_top).cloned().collect()
        };
        for r in &candidates {
            let model_dir = dir.trial_dir(&r.id);
            if read_test(&model_dir, r).is_some() {
                continue;
            }
            let Some(work) = work else { continue };
            match work.evaluate_test(&model_dir) {
                Ok(evaluation) => {
                    let path = model_dir.join(names::TEST_METRICS);
                    store::write_json(&path, &evaluation)?;
                    judged.tested_now.push(r.id.clone());
                }
                Err(e) => judged.problems.push(format!("test evaluation of {}: {e}", r.id)),
            }
        }
        for r in board.rows.iter().chain(board.refit.as_ref()) {
            if let Some(t) = read_test(&dir.trial_dir(&r.id), r) {
                board.test.insert(r.id.clone(), t.metrics);
            }
        }
    }
    board.violates = pick::all_violations(&board, true);
    board.pareto = pick::pareto(&board, &board.trade_off);
    board.bbc = bbc::bbc_cv(dir, &board, selection.bootstrap, crate::seed::derive_seed(seed, "bbc", 0));
    let damaged;
    (board.uncertainty, damaged) = uncertainty::bootstrap_trials(
        dir,
        &board.rows,
        &board.monitor,
        selection.bootstrap,
        crate::seed::derive_seed(seed, "bootstrap", 0),
    );
    judged.problems.extend(damaged);
    Ok((board, judged))
}

fn sorted(ids: &[String]) -> Vec<String> {
    let mut v = ids.to_vec();
    v.sort();
    v
}

/// A model's `test.json`, if it describes the checkpoint its record names.
fn read_test(model_dir: &Path, record: &TrialRecord) -> Option<SplitEvaluation> {
    let evaluation: SplitEvaluation = store::read_json(&model_dir.join(names::TEST_METRICS)).ok()?;
    (Some(&evaluation.checkpoint_sha256) == record.checkpoint_sha256.as_ref()).then_some(evaluation)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unreadable(n: usize) -> Vec<history::HistoryError> {
        (0..n)
            .map(|i| history::HistoryError {
                path: format!("trials/t{i}/history.csv").into(),
                line: None,
                message: "No such file or directory".into(),
            })
            .collect()
    }

    #[test]
    fn a_few_unreadable_histories_are_named_and_many_are_counted() {
        assert_eq!(history_problems(&unreadable(0)), Vec::<String>::new());
        let few = history_problems(&unreadable(3));
        assert_eq!(few.len(), 3);
        assert!(few[2].starts_with("trials/t2/history.csv: No such file"), "{few:?}");
        let many = history_problems(&unreadable(100_000));
        assert_eq!(many.len(), HISTORY_PROBLEMS_NAMED + 1);
        assert!(many[HISTORY_PROBLEMS_NAMED].starts_with("99995 more trials' history.csv"), "{many:?}");
    }
}
