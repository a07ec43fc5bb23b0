//! The report's section on the pick: the constraints and which models meet
//! them, the trade-off plots with the Pareto front, and BBC-CV's estimate of
//! the picked configuration beside its cross-validated mean.

use std::fmt::Write;

use super::charts::{self, Standing};
use super::{ReportError, esc};
use crate::aggregate::Leaderboard;
use crate::aggregate::pick::column_value;

/// Writes the section when the sweep has constraints, trade-offs or BBC-CV.
pub(super) fn pick_section(h: &mut String, board: &Leaderboard) -> Result<(), ReportError> {
    if board.constraints.is_empty() && board.trade_off.is_empty() && board.bbc.is_none() {
        return Ok(());
    }
    h.push_str("<h2>The pick</h2>\n");
    let pick = board.pick();
    if !board.constraints.is_empty() {
        let list: Vec<String> =
            board.constraints.iter().map(|c| format!("<code>{}</code>", esc(&c.to_string()))).collect();
        let meeting = board.violates.values().filter(|v| v.is_empty()).count();
        let _ = writeln!(
            h,
            "<p>Constraints: {}. {meeting} of {} models meet them all; the leaderboard's <code>violates</code> column \
             says which each fails.</p>",
            list.join(", "),
            board.violates.len()
        );
    }
    match pick {
        Some(r) => {
            let cost = r.cost.as_ref();
            let _ = writeln!(
                h,
                "<p>Picked (the registry's first model): <code>{}</code>, {} {:.4}{}{}.</p>",
                esc(&r.id),
                esc(&board.monitor.metric),
                r.best_metrics.get(&board.monitor.metric).copied().unwrap_or(f64::NAN),
                cost.and_then(|c| c.params).map(|p| format!(", {p} params")).unwrap_or_default(),
                cost.and_then(|c| c.latency_p50_ms).map(|l| format!(", {l:.4} ms per row (p50)")).unwrap_or_default(),
            );
        }
        None if !board.constraints.is_empty() => {
            h.push_str("<p class=\"warn\">No model meets every constraint: none is picked or registered.</p>\n");
        }
        None => {}
    }
    if let Some(b) = &board.bbc {
        let cv_mean = board
            .refit
            .as_ref()
            .and_then(|r| r.refit.as_ref())
            .and_then(|f| f.cv_mean.get(&b.metric))
            .copied()
            .or_else(|| crate::aggregate::rank_configs(board).first().and_then(|c| c.mean.get(&b.metric).copied()));
        let _ = writeln!(
            h,
            "<p>BBC-CV (bootstrap bias-corrected cross-validation) of the picked configuration: <b>{} {:.4}</b>, \
             95 % interval [{:.4}, {:.4}], over {} resamples of {} pooled out-of-fold rows and {} configurations; \
             the winner's mean over its folds is {}, optimistic because it is the best of many noisy means.</p>",
            esc(&b.metric),
            b.mean,
            b.low,
            b.high,
            b.resamples,
            b.rows,
            b.configurations,
            cv_mean.map(|v| format!("{v:.4}")).unwrap_or_else(|| "not known".into())
        );
    }
    if board.trade_off.is_empty() {
        return Ok(());
    }
    h.push_str("<div class=\"plots\">");
    let models: Vec<_> = board.rows.iter().filter(|r| r.status.has_model()).chain(board.refit.as_ref()).collect();
    for t in &board.trade_off {
        let points: Vec<(f64, f64, Standing)> = models
            .iter()
            .filter_map(|r| {
                let x = column_value(board, r, &t.name)?;
                let y = r.best_metrics.get(&board.monitor.metric).copied()?;
                let standing = if !board.meets_constraints(&r.id) {
                    Standing::Violates
                } else if board.pareto.get(&r.id) == Some(&1) {
                    Standing::Front
                } else {
                    Standing::Dominated
                };
                Some((x, y, standing))
            })
            .collect();
        let picked =
            pick.and_then(|r| Some((column_value(board, r, &t.name)?, *r.best_metrics.get(&board.monitor.metric)?)));
        h.push_str(&charts::trade_off(&board.monitor.metric, &t.name, &points, picked)?);
    }
    h.push_str("</div>\n");
    let front = board.pareto.values().filter(|r| **r == 1).count();
    let _ = writeln!(
        h,
        "<p>{front} models are on the Pareto front over {} and {} (no other model is at least as good on all of them \
         and better on one).</p>",
        esc(&board.monitor.metric),
        board.trade_off.iter().map(|t| esc(&t.name)).collect::<Vec<_>>().join(", ")
    );
    Ok(())
}
