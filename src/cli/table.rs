//! The top-N table printed after a run and by `sweep aggregate`.

use std::io::{self, Write};

use crate::aggregate::Leaderboard;
use crate::metrics::Task;
use crate::params::params_display;

/// Prints the best `n` trials: rank, id, monitored metric, a second metric
/// (accuracy, or r2 for regression), valid loss, best epoch, params.
pub fn print_top(out: &mut impl Write, board: &Leaderboard, n: usize) -> io::Result<()> {
    let metric = &board.monitor.metric;
    let second = match board.task {
        Task::Classification if metric == "accuracy" => "mcc",
        Task::Classification => "accuracy",
        Task::Regression if metric == "r2" => "rmse",
        Task::Regression => "r2",
    };
    writeln!(
        out,
        "top {} of {} by best {metric} ({:?}):",
        n.min(board.rows.len()),
        board.rows.len(),
        board.monitor.goal
    )?;
    writeln!(
        out,
        "{:>4}  {:<16} {:>10} {:>9} {:>10} {:>5}  params",
        "rank", "trial", metric, second, "valid_loss", "epoch"
    )?;
    for (i, r) in board.rows.iter().take(n).enumerate() {
        if !r.status.has_model() {
            writeln!(out, "{:>4}  {:<16} {:>10}  {}", i + 1, r.id, r.status.as_str(), params_display(&r.params))?;
            continue;
        }
        let get = |m: &str| r.best_metrics.get(m).map(|v| format!("{v:.5}")).unwrap_or_else(|| "-".into());
        writeln!(
            out,
            "{:>4}  {:<16} {:>10} {:>9} {:>10} {:>5}  {}",
            i + 1,
            r.id,
            get(metric),
            get(second),
            get("valid_loss"),
            r.best_epoch.map(|e| e.to_string()).unwrap_or_default(),
            params_display(&r.params)
        )?;
    }
    if board.repeats {
        writeln!(out, "\nconfigurations by mean best {metric} over their repeats:")?;
        for (i, c) in crate::aggregate::rank_configs(board).iter().take(n).enumerate() {
            writeln!(
                out,
                "{:>4}  config {:<5} {metric} {} ± {}  ({} of {} completed)  {}",
                i + 1,
                c.config,
                c.mean.get(metric).map(|v| format!("{v:.5}")).unwrap_or_else(|| "-".into()),
                c.std.get(metric).map(|v| format!("{v:.5}")).unwrap_or_else(|| "-".into()),
                c.completed,
                c.trials,
                params_display(&c.params)
            )?;
        }
    }
    if !board.incomplete.is_empty() {
        writeln!(out, "{} trial folder(s) have no complete record:", board.incomplete.len())?;
        for t in &board.incomplete {
            writeln!(out, "  {}: {}", t.dir.display(), t.reason)?;
        }
    }
    Ok(())
}
