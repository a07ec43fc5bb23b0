//! The pick among the ranked models: which constraints each fails
//! (`violates`), and where each stands between the monitored metric and the
//! trade-offs (`pareto_rank`). The rules are in [`crate::pick`]; here they
//! meet the leaderboard's columns.

use std::collections::BTreeMap;

use super::Leaderboard;
use crate::pick::{Constraint, TradeOff, minimized, pareto_ranks};
use crate::store::TrialRecord;

/// A leaderboard column's value for a model: a metric (`mcc`, `best_mcc`),
/// a test metric (`test_mcc`, `test_loss`) or a cost (`params`, an
/// objective's own cost field).
pub(crate) fn column_value(board: &Leaderboard, r: &TrialRecord, column: &str) -> Option<f64> {
    if let Some(test) = column.strip_prefix("test_") {
        return board.test.get(&r.id).and_then(|t| t.get(test)).copied();
    }
    let metric = column.strip_prefix("best_").unwrap_or(column);
    if let Some(v) = r.best_metrics.get(metric) {
        return Some(*v);
    }
    r.cost.as_ref().and_then(|c| c.get(column))
}

/// The constraints `r` fails; with `with_test` false, those on test metrics
/// are not judged (they are known only after the test evaluation, whose
/// candidates this order picks).
pub(crate) fn violations(board: &Leaderboard, r: &TrialRecord, with_test: bool) -> Vec<String> {
    board
        .constraints
        .iter()
        .filter(|c| with_test || !c.column.starts_with("test_"))
        .filter(|c| !c.holds(column_value(board, r, &c.column)))
        .map(Constraint::to_string)
        .collect()
}

/// Each model's constraint failures, by trial id (every model, the refit too).
pub(crate) fn all_violations(board: &Leaderboard, with_test: bool) -> BTreeMap<String, Vec<String>> {
    if board.constraints.is_empty() {
        return BTreeMap::new();
    }
    models(board).map(|r| (r.id.clone(), violations(board, r, with_test))).collect()
}

/// `pareto_rank` of every model, by trial id: its front in non-dominated
/// sorting over the monitored metric and the trade-offs. A refit is sorted
/// with the trials (its metrics are the folds' means, which is all there is
/// to compare). A value a model lacks counts as the worst.
pub(crate) fn pareto(board: &Leaderboard, trade_off: &[TradeOff]) -> BTreeMap<String, usize> {
    if trade_off.is_empty() {
        return BTreeMap::new();
    }
    let models: Vec<&TrialRecord> = models(board).collect();
    let points: Vec<Vec<f64>> = models
        .iter()
        .map(|r| {
            let mut p = vec![minimized(r.best_metrics.get(&board.monitor.metric).copied(), board.monitor.goal)];
            p.extend(trade_off.iter().map(|t| minimized(column_value(board, r, &t.name), t.goal)));
            p
        })
        .collect();
    models.iter().zip(pareto_ranks(&points)).map(|(r, rank)| (r.id.clone(), rank)).collect()
}

/// The trials with a model, and the refit.
fn models(board: &Leaderboard) -> impl Iterator<Item = &TrialRecord> {
    board.rows.iter().filter(|r| r.status.has_model() && r.best_epoch.is_some()).chain(board.refit.as_ref())
}
