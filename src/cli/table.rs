//! The top-N table printed after a run and by `sweep aggregate`.

use std::io::{self, Write};

use crate::aggregate::Leaderboard;
use crate::metrics::Task;
use crate::params::params_display;

/// Prints the best `n` trials: rank, id, monitored metric, a second metric
/// (accuracy, or r2 for regression), valid loss, best epoch, params.
pub(super) fn print_top(out: &mut impl Write, board: &Leaderboard, n: usize) -> io::Result<()> {
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
    let interval = board.bootstrap > 0;
    let test = board.has_test;
    let test_key = if metric == "valid_loss" { "loss" } else { metric.as_str() };
    let mut head = format!("{:>4}  {:<16} {:>10}", "rank", "trial", metric);
    if interval {
        head.push_str(&format!(" {:>19} {:>5}", "95% interval", "tie"));
    }
    head.push_str(&format!(" {:>9} {:>10} {:>5}", second, "valid_loss", "epoch"));
    if test {
        head.push_str(&format!(" {:>10}", format!("test_{test_key}")));
    }
    writeln!(out, "{head}  params")?;
    for (i, r) in board.rows.iter().take(n).enumerate() {
        if !r.status.has_model() {
            writeln!(out, "{:>4}  {:<16} {:>10}  {}", i + 1, r.id, r.status.as_str(), params_display(&r.params))?;
            continue;
        }
        let get = |m: &str| r.best_metrics.get(m).map(|v| format!("{v:.5}")).unwrap_or_else(|| "-".into());
        let mut line = format!("{:>4}  {:<16} {:>10}", i + 1, r.id, get(metric));
        if interval {
            let u = board.uncertainty.get(&r.id);
            let range = u.map(|u| format!("[{:.5}, {:.5}]", u.low, u.high)).unwrap_or_else(|| "-".into());
            let tie = match u.and_then(|u| u.tied_with_top) {
                _ if i == 0 => "top",
                Some(true) => "tied",
                Some(false) => "",
                None => "-",
            };
            line.push_str(&format!(" {range:>19} {tie:>5}"));
        }
        line.push_str(&format!(
            " {:>9} {:>10} {:>5}",
            get(second),
            get("valid_loss"),
            r.best_epoch.map(|e| e.to_string()).unwrap_or_default()
        ));
        if test {
            let t = board.test.get(&r.id).and_then(|t| t.get(test_key)).map(|v| format!("{v:.5}"));
            line.push_str(&format!(" {:>10}", t.unwrap_or_else(|| "-".into())));
        }
        writeln!(out, "{line}  {}", params_display(&r.params))?;
    }
    if interval {
        let tied = board.uncertainty.values().filter(|u| u.tied_with_top == Some(true)).count().saturating_sub(1);
        writeln!(
            out,
            "tied: {tied} trial(s) whose validation {metric} the top trial beats in fewer than 95% of {} bootstrap \
             resamples of the validation rows; the data cannot tell them apart from the top",
            board.bootstrap
        )?;
    }
    if board.repeats {
        let over = if board.cv_folds.is_some() { "cross-validation folds" } else { "repeats" };
        writeln!(out, "\nconfigurations by mean best {metric} over their {over}:")?;
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
    if let Some(r) = &board.refit
        && let Some(info) = &r.refit
    {
        let cv = |m: &str| {
            let mean = info.cv_mean.get(m).map(|v| format!("{v:.5}")).unwrap_or_else(|| "-".into());
            let std = info.cv_std.get(m).map(|v| format!("{v:.5}")).unwrap_or_else(|| "-".into());
            format!("{mean} ± {std}")
        };
        let test = board
            .test
            .get(&r.id)
            .and_then(|t| t.get(test_key))
            .map(|v| format!("; test {test_key} {v:.5}"))
            .unwrap_or_default();
        writeln!(
            out,
            "\nrefit: {} = configuration {} retrained on every non-test row for {} epochs (the median best epoch of \
             its folds); cross-validated {metric} {}{test}",
            r.id,
            info.config,
            r.epochs_run,
            cv(metric)
        )?;
    }
    if !board.incomplete.is_empty() {
        writeln!(out, "{} trial folder(s) have no complete record:", board.incomplete.len())?;
        for t in &board.incomplete {
            writeln!(out, "  {}: {}", t.dir.display(), t.reason)?;
        }
    }
    Ok(())
}
