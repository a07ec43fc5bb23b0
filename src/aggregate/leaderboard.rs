//! `leaderboard.csv`: one row per trial, in rank order.

use super::{AggregateError, Exporter, Leaderboard};
use crate::pick::COST_COLUMNS;
use crate::store::names;

/// Columns: `rank, trial_id, status, <params>, best_epoch, epochs_run,
/// best_<metric>... (the task's metrics), duration_s, checkpoint,
/// checkpoint_sha256, seed, message`; then, with the bootstrap,
/// `best_<monitored>_low, best_<monitored>_high, tied_with_top,
/// top_better_share`; then, with a test split, `test_<metric>...` for every
/// metric but train_loss (`test_loss` is the loss on the test rows), empty
/// for models not evaluated there; then the costs (`params, checkpoint_bytes,
/// latency_p50_ms, latency_p95_ms, rows_per_s`); with `[metric] trade_off`,
/// `pareto_rank`; with `[select] constraints`, `violates` (the failed
/// constraints, `; `-separated). The columns of earlier versions keep their
/// places, so scripts that read them by position still work.
/// Failed and diverged trials keep their metric cells empty.
pub(crate) struct LeaderboardCsv;

impl Exporter for LeaderboardCsv {
    fn file_name(&self) -> &'static str {
        names::LEADERBOARD
    }

    fn render(&self, board: &Leaderboard) -> Result<Vec<u8>, AggregateError> {
        let err = |e: csv::Error| AggregateError::Render { file: names::LEADERBOARD, message: e.to_string() };
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut header: Vec<String> = vec!["rank".into(), "trial_id".into(), "status".into()];
        header.extend(board.param_names.iter().cloned());
        header.extend(["best_epoch".into(), "epochs_run".into()]);
        let metrics = board.task.metric_names();
        header.extend(metrics.iter().map(|m| format!("best_{m}")));
        header.extend(["duration_s", "checkpoint", "checkpoint_sha256", "seed", "message"].map(String::from));
        let monitored = &board.monitor.metric;
        if board.bootstrap > 0 {
            header.extend([format!("best_{monitored}_low"), format!("best_{monitored}_high")]);
            header.extend(["tied_with_top".into(), "top_better_share".into()]);
        }
        let test_metrics = test_columns(board);
        header.extend(test_metrics.iter().map(|m| format!("test_{m}")));
        header.extend(COST_COLUMNS.map(String::from));
        let trade_off = !board.trade_off.is_empty();
        let constrained = !board.constraints.is_empty();
        if trade_off {
            header.push("pareto_rank".into());
        }
        if constrained {
            header.push("violates".into());
        }
        w.write_record(&header).map_err(err)?;

        for (i, r) in board.rows.iter().enumerate() {
            let ok = r.status.has_model();
            let mut row = vec![(i + 1).to_string(), r.id.clone(), r.status.as_str().to_string()];
            row.extend(board.param_names.iter().map(|p| r.params.get(p).map(|v| v.to_string()).unwrap_or_default()));
            row.push(if ok { r.best_epoch.map(|e| e.to_string()).unwrap_or_default() } else { String::new() });
            row.push(r.epochs_run.to_string());
            row.extend(metrics.iter().map(|m| {
                if ok { r.best_metrics.get(*m).map(|v| v.to_string()).unwrap_or_default() } else { String::new() }
            }));
            row.push(format!("{:.3}", r.duration_s));
            row.push(if ok { r.checkpoint.clone().unwrap_or_default() } else { String::new() });
            row.push(if ok { r.checkpoint_sha256.clone().unwrap_or_default() } else { String::new() });
            row.push(r.seed.to_string());
            row.push(r.message.clone().unwrap_or_default());
            if board.bootstrap > 0 {
                let u = board.uncertainty.get(&r.id);
                row.push(u.map(|u| u.low.to_string()).unwrap_or_default());
                row.push(u.map(|u| u.high.to_string()).unwrap_or_default());
                row.push(u.and_then(|u| u.tied_with_top).map(|t| t.to_string()).unwrap_or_default());
                row.push(u.and_then(|u| u.top_better_share).map(|s| s.to_string()).unwrap_or_default());
            }
            let test = board.test.get(&r.id);
            row.extend(
                test_metrics.iter().map(|m| test.and_then(|t| t.get(*m)).map(|v| v.to_string()).unwrap_or_default()),
            );
            let cost = r.cost.as_ref().filter(|_| ok);
            row.extend(COST_COLUMNS.map(|c| cost.and_then(|k| k.get(c)).map(|v| v.to_string()).unwrap_or_default()));
            if trade_off {
                row.push(board.pareto.get(&r.id).map(|p| p.to_string()).unwrap_or_default());
            }
            if constrained {
                row.push(board.violates.get(&r.id).map(|v| v.join("; ")).unwrap_or_default());
            }
            w.write_record(&row).map_err(err)?;
        }
        w.into_inner().map_err(|e| AggregateError::Render { file: names::LEADERBOARD, message: e.to_string() })
    }
}

/// The test metrics of a leaderboard with a test split, in the task's column
/// order (`valid_loss` becomes `loss`; `train_loss` has no test value).
pub(super) fn test_columns(board: &Leaderboard) -> Vec<&'static str> {
    if !board.has_test {
        return Vec::new();
    }
    board
        .task
        .metric_names()
        .iter()
        .filter(|m| !crate::metrics::Task::is_training_metric(m))
        .map(|m| if *m == "valid_loss" { "loss" } else { *m })
        .collect()
}
