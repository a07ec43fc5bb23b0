//! `report.html`: one self-contained page per sweep (inline SVG and CSS, a few
//! lines of inline JavaScript to sort the table, nothing fetched), readable
//! from a cluster's shared folder with any browser.

mod charts;
mod pick;

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;

pub(crate) use charts::ChartError;
use charts::{ParamPoint, Series};

use crate::aggregate::{self, AggregateError, Leaderboard};
use crate::data::SplitSummary;
use crate::metrics::Task;
use crate::params::{ParamValue, params_display, short_float};
use crate::spec::{Goal, SweepSpec};
use crate::store::{self, BestMetadata, StoreError, SweepDir, TrialRecord, TrialStatus, names};

/// Why the report could not be written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReportError {
    /// No trials to report on.
    #[error("{dir}: no sweep.json or trial records here; is this a sweep's results folder?")]
    NotASweep { dir: PathBuf },
    /// A plot failed.
    #[error(transparent)]
    Chart(#[from] ChartError),
    /// Reading or writing failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How much to show.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReportOptions {
    /// Rows of the leaderboard table.
    pub table_rows: usize,
    /// Trials whose training curves are drawn.
    pub curves: usize,
}

impl Default for ReportOptions {
    fn default() -> Self {
        ReportOptions { table_rows: 50, curves: 3 }
    }
}

/// Escapes text for HTML (and XML).
fn esc(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// One epoch row of a trial's history.csv.
type EpochRow = BTreeMap<String, f64>;

fn read_history(dir: &SweepDir, id: &str) -> Vec<EpochRow> {
    store::read_history_numbers(&dir.trial_dir(id).join(names::HISTORY))
}

/// Writes `report.html` into the sweep folder and returns its path.
pub(crate) fn write_report(dir: &SweepDir, options: ReportOptions) -> Result<PathBuf, ReportError> {
    write_report_of(dir, None, options)
}

/// [`write_report`] with the leaderboard the aggregator just built, so its
/// bootstrap is not computed a second time.
pub(crate) fn write_report_of(
    dir: &SweepDir,
    board: Option<&Leaderboard>,
    options: ReportOptions,
) -> Result<PathBuf, ReportError> {
    let html = render_of(dir, board, options)?;
    let path = dir.file("report.html");
    store::write_atomic(&path, html.as_bytes()).map_err(StoreError::io(&path))?;
    Ok(path)
}

fn render_of(dir: &SweepDir, known: Option<&Leaderboard>, options: ReportOptions) -> Result<String, ReportError> {
    let manifest = dir.manifest()?;
    let loaded;
    let board = match known {
        Some(board) => Some(board),
        None => match aggregate::load(dir) {
            Ok(board) => {
                loaded = board;
                Some(&loaded)
            }
            Err(AggregateError::NoRecords { .. }) => None,
            Err(AggregateError::Store(e)) => return Err(e.into()),
            Err(e) => return Err(StoreError::Parse { path: dir.root().to_path_buf(), message: e.to_string() }.into()),
        },
    };
    // The leaderboard's rows are the sweep's complete trials: the folder is read again only
    // when there is none (a second read of every record took seconds for 10^5 trials).
    let scanned: Vec<TrialRecord>;
    let (trials, incomplete) = match board {
        Some(board) => (&board.rows[..], board.incomplete.len()),
        None => {
            let scan = dir.scan()?;
            if manifest.is_none() && scan.complete.is_empty() {
                return Err(ReportError::NotASweep { dir: dir.root().to_path_buf() });
            }
            // The refit is no trial of the plan: the summary counts the plan's trials.
            scanned = scan.complete.into_iter().filter(|r| r.refit.is_none()).collect();
            (&scanned[..], scan.incomplete.len())
        }
    };
    let spec: Option<SweepSpec> = manifest.as_ref().and_then(|m| m.spec.parse().ok());
    let planned = manifest.as_ref().map_or(trials.len(), |m| m.trials);
    let name = manifest
        .as_ref()
        .map(|m| m.name.clone())
        .or_else(|| board.map(|b| b.sweep.clone()))
        .or_else(|| trials.first().map(|r| r.sweep.clone()))
        .unwrap_or_default();
    let splits: Option<SplitSummary> = store::read_json(&dir.file(names::SPLITS)).ok();

    let mut h = String::with_capacity(200_000);
    let _ = write!(
        h,
        "<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\">\n<head>\n<meta charset=\"utf-8\" />\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\" />\n<title>sweep report: {}</title>\n<style>{}</style>\n\
         <script>{}</script>\n</head>\n<body>\n<h1>Sweep <code>{}</code></h1>\n",
        esc(&name),
        CSS,
        SORT_JS,
        esc(&name)
    );
    summary(&mut h, &name, spec.as_ref(), manifest.as_ref().map(|m| m.spec_hash.as_str()), planned, trials, incomplete);
    if let Some(splits) = &splits {
        data_split(&mut h, splits);
    }
    let Some(board) = board else {
        h.push_str("<p>No trial has finished yet.</p>\n</body>\n</html>\n");
        return Ok(h);
    };
    leaderboard_table(&mut h, board, options.table_rows);
    pick::pick_section(&mut h, board)?;
    if board.has_test {
        validation_vs_test(&mut h, board);
    }
    if board.repeats {
        let refit_asked = manifest.as_ref().and_then(|m| m.selection.as_ref()).is_some_and(|s| s.refit);
        configurations(&mut h, board, refit_asked);
    }
    curves(&mut h, dir, board, options.curves)?;
    param_plots(&mut h, board, spec.as_ref())?;
    if spec.as_ref().is_some_and(|s| !s.method.is_exhaustive()) {
        let mut by_index: Vec<&TrialRecord> = board.rows.iter().collect();
        by_index.sort_by_key(|r| r.index);
        let values: Vec<(usize, Option<f64>)> = by_index
            .iter()
            .map(|r| {
                (r.index, r.status.has_model().then(|| r.best_metrics.get(&board.monitor.metric).copied()).flatten())
            })
            .collect();
        h.push_str("<h2>Search progress</h2>\n<div class=\"plots\">");
        h.push_str(&charts::best_so_far(&board.monitor.metric, board.monitor.goal == Goal::Maximize, &values)?);
        h.push_str("</div>\n");
    }
    let _ = write!(
        h,
        "<p class=\"foot\">Written by sweep {} from the trial records in <code>{}</code>.</p>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION"),
        esc(&dir.root().display().to_string())
    );
    Ok(h)
}

fn summary(
    h: &mut String,
    name: &str,
    spec: Option<&SweepSpec>,
    hash: Option<&str>,
    planned: usize,
    records: &[TrialRecord],
    incomplete: usize,
) {
    let count = |s: TrialStatus| records.iter().filter(|r| r.status == s).count();
    let missing = planned.saturating_sub(records.len() + incomplete);
    h.push_str("<section class=\"summary\">\n<table class=\"kv\">\n");
    let mut row = |k: &str, v: String| {
        let _ = writeln!(h, "<tr><th>{}</th><td>{}</td></tr>", esc(k), v);
    };
    row(
        "sweep",
        format!("<code>{}</code>{}", esc(name), hash.map(|x| format!(" (spec {})", esc(x))).unwrap_or_default()),
    );
    if let Some(s) = spec {
        let method = s.method.description();
        row("method", format!("{method}, seed {}", s.seed));
        let split = match s.data.task {
            crate::metrics::Task::Classification => "stratified",
            crate::metrics::Task::Regression => "random",
        };
        let source = match s.data.csv() {
            Some((path, csv)) => {
                format!("<code>{}</code>, target <code>{}</code>", esc(&path.display().to_string()), esc(&csv.target))
            }
            None => format!(
                "objective <code>{}</code>'s own data: {}",
                esc(&s.objective),
                esc(&params_display(&s.data.options))
            ),
        };
        row("objective", format!("<code>{}</code>, task {}", esc(&s.objective), s.data.task.as_str()));
        let validation = match s.data.cv_folds {
            Some(k) => format!("{k}-fold cross-validation ({split})"),
            None => format!("{:.0}% held out for validation ({split})", s.data.valid_fraction * 100.0),
        };
        let test = match (&s.data.test_path, s.data.test_fraction) {
            (Some(path), _) => format!("; test split <code>{}</code>", esc(&path.display().to_string())),
            (None, Some(f)) => format!("; {:.0}% held out first as the test split", f * 100.0),
            (None, None) => String::new(),
        };
        row("data", format!("{source}, {validation}{test}"));
        row(
            "monitored",
            format!("<b>{}</b> ({:?}, min_delta {})", esc(&s.metric.metric), s.metric.goal, s.metric.min_delta),
        );
        if !s.train.is_empty() {
            row("fixed", esc(&params_display(&s.train)));
        }
        let swept: Vec<String> = s.parameters.iter().map(|(k, d)| format!("{k}: {}", esc(&domain_text(d)))).collect();
        row("swept", swept.join("<br />"));
        if let Some(es) = &s.early_stopping {
            row("early stopping", format!("patience {}, min_delta {}", es.patience, es.min_delta));
        }
    }
    row(
        "trials",
        format!(
            "{planned} planned: <span class=\"ok\">{} completed</span>, {} pruned, <span class=\"bad\">{} failed</span>, <span class=\"bad\">{} diverged</span>, {} incomplete, {} not started",
            count(TrialStatus::Completed),
            count(TrialStatus::Pruned),
            count(TrialStatus::Failed),
            count(TrialStatus::Diverged),
            incomplete,
            missing
        ),
    );
    h.push_str("</table>\n</section>\n");
}

fn domain_text(d: &crate::space::Domain) -> String {
    use crate::space::Domain;
    match d {
        Domain::Values { values } => {
            format!("[{}]", values.iter().map(ToString::to_string).collect::<Vec<_>>().join(", "))
        }
        Domain::Uniform { min, max } => format!("uniform({min}, {max})"),
        Domain::LogUniformValues { min, max } => format!("log-uniform({min}, {max})"),
        Domain::IntUniform { min, max } => format!("integers {min}..={max}"),
        other => other.to_string(),
    }
}

fn leaderboard_table(h: &mut String, board: &Leaderboard, rows: usize) {
    let metric = &board.monitor.metric;
    let _ = writeln!(
        h,
        "<h2>Leaderboard</h2>\n<p>Ranked by best-epoch <b>{}</b>; ties by lower valid_loss. Click a column to sort. {} of {} trials shown.</p>",
        esc(metric),
        rows.min(board.rows.len()),
        board.rows.len()
    );
    let interval = board.bootstrap > 0;
    if interval {
        tie_legend(h, board);
    }
    h.push_str("<table class=\"board\">\n<thead><tr>");
    let mut cols: Vec<String> = vec!["rank".into(), "trial".into(), "status".into()];
    cols.extend(board.param_names.iter().cloned());
    cols.extend(["best epoch".into(), "epochs".into()]);
    // The monitored metric first, where it is seen without scrolling, and its interval beside it.
    let metric_order: Vec<&str> = std::iter::once(metric.as_str())
        .chain(board.task.metric_names().iter().copied().filter(|m| *m != metric.as_str()))
        .collect();
    cols.push(metric.clone());
    if interval {
        cols.extend(["95% interval".into(), "tie".into()]);
    }
    cols.extend(metric_order[1..].iter().map(|m| m.to_string()));
    cols.push("s".into());
    cols.extend(["params".into(), "latency p50 ms".into()]);
    if !board.trade_off.is_empty() {
        cols.push("pareto rank".into());
    }
    if !board.constraints.is_empty() {
        cols.push("violates".into());
    }
    for c in &cols {
        let class = if c == metric { " class=\"key\"" } else { "" };
        let _ = write!(h, "<th{class} onclick=\"sortBy(this)\">{}</th>", esc(c));
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    for (i, r) in board.rows.iter().take(rows).enumerate() {
        let ok = r.status.has_model();
        let u = board.uncertainty.get(&r.id).filter(|_| ok && interval);
        let tie = match u.and_then(|u| u.tied_with_top) {
            _ if i == 0 && ok => "top",
            Some(true) => "tied",
            Some(false) => "",
            // Validated on other rows than the top trial (another fold): not compared.
            None if u.is_some() => "\u{2013}",
            None => "",
        };
        let mut class =
            if tie == "tied" { format!("{} tied", r.status.as_str()) } else { r.status.as_str().to_string() };
        let violated = board.violates.get(&r.id).filter(|v| !v.is_empty());
        if violated.is_some() {
            class.push_str(" violates");
        }
        let _ = write!(h, "<tr class=\"{class}\"><td>{}</td><td><code>{}</code></td>", i + 1, esc(&r.id));
        let title = r.message.as_deref().map(|m| format!(" title=\"{}\"", esc(m))).unwrap_or_default();
        let _ = write!(h, "<td{title}>{}</td>", r.status.as_str());
        for p in &board.param_names {
            let v = r.params.get(p);
            let sort = v.and_then(ParamValue::as_f64).map(|x| format!(" data-v=\"{x}\"")).unwrap_or_default();
            let text = match v {
                Some(ParamValue::Float(x)) => short_float(*x),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            let _ = write!(h, "<td{sort}>{}</td>", esc(&text));
        }
        let _ = write!(
            h,
            "<td>{}</td><td>{}</td>",
            if ok { r.best_epoch.map(|e| e.to_string()).unwrap_or_default() } else { String::new() },
            r.epochs_run
        );
        for (j, m) in metric_order.iter().enumerate() {
            let cell =
                if ok { r.best_metrics.get(*m).map(|v| format!("{v:.4}")).unwrap_or_default() } else { String::new() };
            let class = if *m == metric.as_str() { " class=\"key\"" } else { "" };
            let _ = write!(h, "<td{class}>{cell}</td>");
            if j == 0 && interval {
                match u {
                    Some(u) => {
                        let _ = write!(h, "<td data-v=\"{}\">[{:.4}, {:.4}]</td>", u.low, u.low, u.high);
                    }
                    None => h.push_str("<td></td>"),
                }
                let _ = write!(h, "<td class=\"tie\">{tie}</td>");
            }
        }
        let _ = write!(h, "<td>{:.2}</td>", r.duration_s);
        let cost = r.cost.as_ref().filter(|_| ok);
        let _ = write!(
            h,
            "<td>{}</td><td>{}</td>",
            cost.and_then(|c| c.params).map(|p| p.to_string()).unwrap_or_default(),
            cost.and_then(|c| c.latency_p50_ms).map(|l| format!("{l:.4}")).unwrap_or_default()
        );
        if !board.trade_off.is_empty() {
            let _ = write!(h, "<td>{}</td>", board.pareto.get(&r.id).map(|p| p.to_string()).unwrap_or_default());
        }
        if !board.constraints.is_empty() {
            let _ = write!(h, "<td>{}</td>", violated.map(|v| esc(&v.join("; "))).unwrap_or_default());
        }
        h.push_str("</tr>\n");
        if let Some(m) = r.message.as_deref().filter(|_| !ok) {
            let _ = writeln!(h, "<tr class=\"msg\"><td></td><td colspan=\"{}\">{}</td></tr>", cols.len() - 1, esc(m));
        }
    }
    h.push_str("</tbody>\n</table>\n");
}

/// What a tie means, and how many trials the validation rows cannot separate from the top.
fn tie_legend(h: &mut String, board: &Leaderboard) {
    let mut completed = board.rows.iter().filter(|r| r.status.has_model());
    let top = completed.next();
    let others: Vec<&TrialRecord> = completed.collect();
    let tied =
        others.iter().filter(|r| board.uncertainty.get(&r.id).and_then(|u| u.tied_with_top) == Some(true)).count();
    let unpaired =
        others.iter().filter(|r| board.uncertainty.get(&r.id).is_some_and(|u| u.tied_with_top.is_none())).count();
    let _ = write!(
        h,
        "<p class=\"legend\">Tied: the top trial is better in fewer than 95 % of {} bootstrap resamples of the \
         validation rows, so the validation data cannot tell these trials apart; pick among them on other grounds \
         (test metrics, size, speed). <b>{tied}</b> of the other {} completed trials {} tied with the top trial{}.",
        board.bootstrap,
        others.len(),
        if tied == 1 { "is" } else { "are" },
        top.map(|t| format!(" <code>{}</code>", esc(&t.id))).unwrap_or_default()
    );
    if unpaired > 0 {
        let _ = write!(
            h,
            " {unpaired} {} validated on other rows than the top trial (another fold) and not compared (\u{2013}).",
            if unpaired == 1 { "was" } else { "were" }
        );
    }
    h.push_str(" The interval is the 95 % percentile interval of the monitored metric over the same resamples.</p>\n");
}

/// The name the test split gives a leaderboard metric: the loss on its rows is `loss`.
fn test_key(metric: &str) -> &str {
    if metric == "valid_loss" { "loss" } else { metric }
}

fn fmt4(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.4}")).unwrap_or_else(|| "\u{2013}".into())
}

/// The top models on the validation split and on the test split, side by side.
fn validation_vs_test(h: &mut String, board: &Leaderboard) {
    let metric = board.monitor.metric.as_str();
    let key = test_key(metric);
    h.push_str("<h2>Validation vs test</h2>\n");
    let _ = writeln!(
        h,
        "<p>The best epoch and the best trial were both chosen on the validation split, so validation values are \
         optimistic: among many trials, the winner is partly the one that was luckiest on those rows. The test split \
         was seen by nothing that chose; its values estimate how the model does on new data. The gap is validation \
         \u{2212} test of <b>{}</b>: {} gap means the validation value flattered the model.</p>",
        esc(metric),
        if board.monitor.goal == Goal::Maximize { "a positive" } else { "a negative" }
    );
    let models: Vec<(String, &TrialRecord)> = board
        .refit
        .iter()
        .map(|r| ("refit".to_string(), r))
        .chain(board.rows.iter().enumerate().map(|(i, r)| ((i + 1).to_string(), r)))
        .filter(|(_, r)| board.test.contains_key(&r.id))
        .collect();
    if models.is_empty() {
        h.push_str(
            "<p>No model has been evaluated on the test split yet; <code>sweep aggregate</code> evaluates the top \
             ones.</p>\n",
        );
        return;
    }
    let wanted: &[&str] = match board.task {
        Task::Classification => &["mcc", "accuracy", "f1", "loss"],
        Task::Regression => &["rmse", "mae", "r2", "loss"],
    };
    let extra: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|m| *m != key && models.iter().any(|(_, r)| board.test[&r.id].contains_key(*m)))
        .collect();
    h.push_str("<table class=\"grid valtest\">\n<thead><tr><th>rank</th><th>trial</th>");
    let _ = write!(h, "<th>valid {}</th><th class=\"key\">test {}</th><th>gap</th>", esc(metric), esc(key));
    for m in &extra {
        let _ = write!(h, "<th>test {}</th>", esc(m));
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    for (rank, r) in &models {
        let test = &board.test[&r.id];
        let (valid, valid_text) = match &r.refit {
            Some(info) => {
                let mean = info.cv_mean.get(metric).copied();
                let std = info.cv_std.get(metric).map(|s| format!(" \u{b1} {s:.4}")).unwrap_or_default();
                (mean, format!("{}{std} (CV mean)", fmt4(mean)))
            }
            None => {
                let v = r.best_metrics.get(metric).copied();
                (v, fmt4(v))
            }
        };
        let t = test.get(key).copied();
        let gap = valid.zip(t).map(|(v, t)| v - t);
        let optimistic = gap.is_some_and(|g| if board.monitor.goal == Goal::Maximize { g > 0.0 } else { g < 0.0 });
        let _ = write!(
            h,
            "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td class=\"key\">{}</td><td class=\"gap{}\">{}</td>",
            esc(rank),
            esc(&r.id),
            esc(&valid_text),
            fmt4(t),
            if optimistic { " optimistic" } else { "" },
            gap.map(|g| format!("{g:+.4}")).unwrap_or_else(|| "\u{2013}".into())
        );
        for m in &extra {
            let _ = write!(h, "<td>{}</td>", fmt4(test.get(*m).copied()));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody>\n</table>\n");
}

/// Configurations over their folds or repeats, and the refit of the winner.
fn configurations(h: &mut String, board: &Leaderboard, refit_asked: bool) {
    let metric = board.monitor.metric.as_str();
    let configs = aggregate::rank_configs(board);
    let shown = configs.len().min(10);
    match board.cv_folds {
        Some(k) => {
            let _ = writeln!(
                h,
                "<h2>Cross-validation</h2>\n<p>Every configuration was trained {k} times, each time validated on \
                 the fold left out; configurations are ranked by the mean of their best-epoch <b>{}</b> \
                 over the completed folds. Top {shown} of {}.</p>",
                esc(metric),
                configs.len()
            );
        }
        None => {
            let _ = writeln!(
                h,
                "<h2>Configurations over their repeats</h2>\n<p>Every configuration was trained with several seeds; \
                 configurations are ranked by the mean of their best-epoch <b>{}</b>, so a lucky seed does not win. \
                 Top {shown} of {}.</p>",
                esc(metric),
                configs.len()
            );
        }
    }
    let runs = if board.cv_folds.is_some() { "folds" } else { "repeats" };
    h.push_str("<table class=\"grid configs\">\n<thead><tr><th>rank</th><th>config</th>");
    for p in &board.param_names {
        let _ = write!(h, "<th>{}</th>", esc(p));
    }
    let _ = writeln!(
        h,
        "<th class=\"key\">{} mean \u{b1} std</th><th>completed {runs}</th><th>best trial</th></tr></thead>\n<tbody>",
        esc(metric)
    );
    for (i, c) in configs.iter().take(shown).enumerate() {
        let _ = write!(h, "<tr><td>{}</td><td>{}</td>", i + 1, c.config);
        for p in &board.param_names {
            let text = match c.params.get(p) {
                Some(ParamValue::Float(x)) => short_float(*x),
                Some(other) => other.to_string(),
                None => String::new(),
            };
            let _ = write!(h, "<td>{}</td>", esc(&text));
        }
        let spread = c.std.get(metric).map(|s| format!(" \u{b1} {s:.4}")).unwrap_or_default();
        let _ = writeln!(
            h,
            "<td class=\"key\">{}{spread}</td><td>{} of {}</td><td><code>{}</code></td></tr>",
            fmt4(c.mean.get(metric).copied()),
            c.completed,
            c.trials,
            esc(c.best_trial.as_deref().unwrap_or(""))
        );
    }
    h.push_str("</tbody>\n</table>\n");
    match board.refit.as_ref().and_then(|r| Some((r, r.refit.as_ref()?))) {
        Some((r, info)) => {
            let epochs: Vec<String> = info.fold_best_epochs.iter().map(ToString::to_string).collect();
            let key = test_key(metric);
            let test = board
                .test
                .get(&r.id)
                .and_then(|t| t.get(key))
                .map(|v| format!("; test {} <b>{v:.4}</b>", esc(key)))
                .unwrap_or_default();
            let _ = writeln!(
                h,
                "<p class=\"refit\">Refit: <code>{}</code> is configuration {} ({}) retrained on every non-test row \
                 for {} epochs, the median of its folds' best epochs ({}). It has no validation split of its own: \
                 its estimate is the cross-validated {} {} \u{b1} {}{test}.</p>",
                esc(&r.id),
                info.config,
                esc(&params_display(&r.params)),
                r.epochs_run,
                esc(&epochs.join(", ")),
                esc(metric),
                fmt4(info.cv_mean.get(metric).copied()),
                fmt4(info.cv_std.get(metric).copied()),
            );
        }
        None if refit_asked && board.cv_folds.is_some() => {
            h.push_str(
                "<p class=\"refit\">No refit model yet: <code>sweep aggregate</code> retrains the winning \
                 configuration on every non-test row.</p>\n",
            );
        }
        None => {}
    }
}

/// The parts of the split (rows, class balance or target spread) and the duplicate checks.
fn data_split(h: &mut String, split: &SplitSummary) {
    h.push_str("<h2>Data split</h2>\n<table class=\"grid split\">\n<thead><tr><th>part</th><th>rows</th>");
    let classes = &split.classes;
    let regression = classes.is_empty() && split.parts.iter().any(|p| p.target_mean.is_some());
    // A column per class stays readable up to about a dozen classes; beyond, one compact cell.
    let per_class = !classes.is_empty() && classes.len() <= 12;
    if per_class {
        for c in classes {
            let _ = write!(h, "<th>class {}</th>", esc(c));
        }
    } else if !classes.is_empty() {
        h.push_str("<th class=\"left\">rows per class</th>");
    } else if regression {
        h.push_str("<th>target mean \u{b1} std</th>");
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    for p in &split.parts {
        let _ = write!(h, "<tr><td>{}</td><td>{}</td>", esc(&p.name), p.rows);
        if per_class {
            for k in 0..classes.len() {
                let _ = write!(h, "<td>{}</td>", p.class_counts.get(k).map(ToString::to_string).unwrap_or_default());
            }
        } else if !classes.is_empty() {
            let counts: Vec<String> = classes.iter().zip(&p.class_counts).map(|(c, n)| format!("{c}: {n}")).collect();
            let _ = write!(h, "<td class=\"left\">{}</td>", esc(&counts.join(", ")));
        } else if regression {
            let cell = match (p.target_mean, p.target_std) {
                (Some(m), Some(s)) => format!("{} \u{b1} {}", short_float(m), short_float(s)),
                (Some(m), None) => short_float(m),
                _ => String::new(),
            };
            let _ = write!(h, "<td>{}</td>", esc(&cell));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</tbody>\n</table>\n");
    if split.duplicates.is_empty() {
        return;
    }
    h.push_str(
        "<p>Rows whose features also appear in a part the model learned from: such a row is graded on a row the \
         model has seen, which makes its metrics look better than on new data.</p>\n<ul class=\"dups\">\n",
    );
    for d in &split.duplicates {
        let part = if d.part == "folds" { "fold" } else { d.part.as_str() };
        if d.rows > 0 {
            let _ = writeln!(
                h,
                "<li class=\"warn\">\u{26a0} {} of {} {} rows have features identical to a row in {}: their metrics \
                 are measured partly on rows the model learned.</li>",
                d.rows,
                d.of,
                esc(part),
                esc(&d.found_in)
            );
        } else {
            let _ = writeln!(
                h,
                "<li class=\"clean\">None of the {} {} rows has features identical to a row in {}.</li>",
                d.of,
                esc(part),
                esc(&d.found_in)
            );
        }
    }
    h.push_str("</ul>\n");
}

fn curves(h: &mut String, dir: &SweepDir, board: &Leaderboard, n: usize) -> Result<(), ReportError> {
    let metric = &board.monitor.metric;
    let top: Vec<&TrialRecord> = board.rows.iter().filter(|r| r.status.has_model()).take(n).collect();
    if top.is_empty() {
        return Ok(());
    }
    let _ = writeln!(
        h,
        "<h2>Training curves of the top {}</h2>\n<p>The grey line marks the best epoch: the one whose weights the checkpoint holds and whose metrics the leaderboard reports — not the last epoch.</p>",
        top.len()
    );
    for (rank, r) in top.iter().enumerate() {
        let history = read_history(dir, &r.id);
        let series = |key: &str| Series {
            label: "",
            points: history.iter().filter_map(|row| Some((*row.get("epoch")?, *row.get(key)?))).collect(),
        };
        let losses = [
            Series { label: "train_loss", ..series("train_loss") },
            Series { label: "valid_loss", ..series("valid_loss") },
        ];
        let monitored = [Series { label: metric.as_str(), ..series(metric) }];
        let _ = writeln!(
            h,
            "<h3>#{} <code>{}</code> — {}</h3>\n<div class=\"plots\">",
            rank + 1,
            esc(&r.id),
            esc(&params_display(&r.params))
        );
        let loss = match board.task {
            crate::metrics::Task::Classification => "cross-entropy",
            crate::metrics::Task::Regression => "squared error (standardized)",
        };
        h.push_str(&charts::epoch_lines(&format!("{} — losses", r.id), loss, &losses, r.best_epoch)?);
        h.push_str(&charts::epoch_lines(&format!("{} — {metric}", r.id), metric, &monitored, r.best_epoch)?);
        h.push_str("</div>\n");
        if let Ok(meta) = store::read_json::<BestMetadata>(&dir.trial_dir(&r.id).join(names::BEST_METADATA)) {
            let metrics: Vec<String> = meta.metrics.iter().map(|(k, v)| format!("{k} {v:.5}")).collect();
            let _ = writeln!(
                h,
                "<p class=\"meta\">Saved at epoch <b>{}</b> of {}: {}. Checkpoint <code>{}</code> sha256 <code>{}</code>.</p>",
                meta.epoch,
                r.epochs_run,
                esc(&metrics.join(", ")),
                esc(r.checkpoint.as_deref().unwrap_or("")),
                esc(r.checkpoint_sha256.as_deref().map_or("", |s| &s[..16.min(s.len())]))
            );
        }
    }
    Ok(())
}

fn param_plots(h: &mut String, board: &Leaderboard, spec: Option<&SweepSpec>) -> Result<(), ReportError> {
    if board.param_names.is_empty() {
        return Ok(());
    }
    let metric = &board.monitor.metric;
    let _ = writeln!(
        h,
        "<h2>Parameters against best-epoch {}</h2>\n<p>Red crosses: failed or diverged trials.</p>\n<div class=\"plots\">",
        esc(metric)
    );
    for p in &board.param_names {
        let values: Vec<(&ParamValue, Option<f64>)> = board
            .rows
            .iter()
            .filter_map(|r| {
                let y = r.status.has_model().then(|| r.best_metrics.get(metric).copied()).flatten();
                r.params.get(p).map(|v| (v, y))
            })
            .collect();
        let numeric = values.iter().all(|(v, _)| v.as_f64().is_some());
        let svg = if numeric {
            let xs: Vec<f64> = values.iter().filter_map(|(v, _)| v.as_f64()).collect();
            let (lo, hi) = xs.iter().fold((f64::INFINITY, 0.0f64), |(a, b), &x| (a.min(x), b.max(x)));
            let log_domain = spec.and_then(|s| s.parameters.get(p)).is_some_and(crate::space::Domain::is_log_scale);
            let log_x = lo > 0.0 && (log_domain || hi / lo >= 20.0);
            let points: Vec<ParamPoint> =
                values.iter().map(|(v, y)| ParamPoint { x: v.as_f64().unwrap_or(0.0), y: *y }).collect();
            charts::param_scatter(p, metric, &points, None, log_x)?
        } else {
            // Categories in the spec's order when known, else first seen.
            let mut cats: Vec<String> = spec
                .and_then(|s| s.parameters.get(p))
                .and_then(|d| d.grid_values())
                .map(|vs| vs.iter().map(ToString::to_string).collect())
                .unwrap_or_default();
            for (v, _) in &values {
                let t = v.to_string();
                if !cats.contains(&t) {
                    cats.push(t);
                }
            }
            let points: Vec<ParamPoint> = values
                .iter()
                .map(|(v, y)| ParamPoint {
                    x: cats.iter().position(|c| *c == v.to_string()).unwrap_or(0) as f64,
                    y: *y,
                })
                .collect();
            charts::param_scatter(p, metric, &points, Some(&cats), false)?
        };
        h.push_str(&svg);
    }
    h.push_str("</div>\n");
    Ok(())
}

const CSS: &str = "body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:1200px;color:#222;padding:0 16px}\
h1{font-size:24px}h2{font-size:19px;margin-top:32px;border-bottom:1px solid #ddd;padding-bottom:4px}h3{font-size:15px;margin:18px 0 6px}\
code{font-size:90%;background:#f4f4f4;padding:1px 4px;border-radius:3px}\
table.kv th{text-align:left;padding:3px 12px 3px 0;color:#555;font-weight:600;vertical-align:top}table.kv td{padding:3px 0}\
table.board{border-collapse:collapse;font-size:13px;display:block;overflow-x:auto}\
table.board th{background:#f0f3f7;cursor:pointer;padding:5px 7px;text-align:right;white-space:nowrap;position:sticky;top:0}\
table.board td{padding:4px 7px;text-align:right;border-bottom:1px solid #eee;white-space:nowrap}\
table.board .key{background:#fff7e0;font-weight:600}\
tr.failed td,tr.diverged td{color:#b00020}tr.pruned td{color:#8a6d00}tr.msg td{font-size:12px;text-align:left;white-space:normal}\
.ok{color:#1b7a2f}.bad{color:#b00020}.plots{display:flex;flex-wrap:wrap;gap:12px}.plots svg{border:1px solid #eee}\
.meta{font-size:13px;color:#444}.foot{margin-top:32px;font-size:12px;color:#888}\
tr.tied td{background:#eef5ff}tr.violates td{color:#999}p.warn{color:#b00}td.tie{text-align:center;color:#1f4e99;font-weight:600}.legend{font-size:14px;color:#333}\
table.grid{border-collapse:collapse;font-size:13px;margin:8px 0}\
table.grid th{background:#f0f3f7;padding:5px 8px;text-align:right;white-space:nowrap}\
table.grid td{padding:4px 8px;text-align:right;border-bottom:1px solid #eee;white-space:nowrap}\
table.grid .key{background:#fff7e0;font-weight:600}table.grid .left{text-align:left;white-space:normal}\
td.optimistic{color:#8a4b00;font-weight:600}\
ul.dups{padding-left:20px}li.warn{color:#8a2b00;background:#fff1e6;border-left:4px solid #e06c00;padding:4px 8px;margin:4px 0;list-style:none}\
li.clean{color:#1b7a2f}p.refit{font-size:14px}";

/// Sorts a table by the clicked column (numbers numerically), toggling the direction.
/// Written without `<` and `&` so the page stays well-formed XML.
const SORT_JS: &str = "function sortBy(th){var table=th.closest('table');var i=Array.prototype.indexOf.call(th.parentNode.children,th);\
var body=table.tBodies[0];var rows=Array.prototype.slice.call(body.rows).filter(function(r){return r.className!=='msg';});\
var dir=th.getAttribute('data-dir')==='asc'?-1:1;th.setAttribute('data-dir',dir===1?'asc':'desc');\
rows.sort(function(a,b){var x=a.cells[i].getAttribute('data-v')||a.cells[i].textContent;var y=b.cells[i].getAttribute('data-v')||b.cells[i].textContent;\
var nx=parseFloat(x),ny=parseFloat(y);if(!isNaN(nx)){if(!isNaN(ny)){return dir*(nx-ny);}}return dir*x.localeCompare(y);});\
rows.forEach(function(r){body.appendChild(r);});}";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::Uncertainty;
    use crate::data::{Duplicates, PartSummary};
    use crate::metrics::{Metrics, Monitor};
    use crate::store::RefitInfo;

    /// The fragment parses as XML, as the whole page must.
    fn parsed(fragment: &str) -> String {
        let wrapped = format!("<div>{fragment}</div>");
        roxmltree::Document::parse(&wrapped).unwrap_or_else(|e| panic!("not well-formed: {e}\n{fragment}"));
        wrapped
    }

    fn record(id: &str, metric: &str, value: f64) -> TrialRecord {
        TrialRecord {
            best_metrics: Metrics::from([(metric.to_string(), value), ("valid_loss".into(), 1.0 - value)]),
            ..TrialRecord::synthetic("s", id, Monitor::new(metric, Goal::Maximize, 0.0))
        }
    }

    fn board(records: Vec<TrialRecord>) -> Leaderboard {
        Leaderboard::from_records(&SweepDir::new("x"), records, Vec::new()).unwrap()
    }

    fn part(name: &str, class_counts: Vec<usize>) -> PartSummary {
        PartSummary {
            name: name.into(),
            rows: class_counts.iter().sum(),
            class_counts,
            target_mean: None,
            target_std: None,
        }
    }

    #[test]
    fn ties_are_marked_and_counted_against_the_top() {
        let mut b = board(vec![record("a", "mcc", 0.9), record("b", "mcc", 0.89), record("c", "mcc", 0.5)]);
        b.bootstrap = 200;
        let u =
            |tied, share| Uncertainty { low: 0.1, high: 0.2, tied_with_top: Some(tied), top_better_share: Some(share) };
        b.uncertainty =
            BTreeMap::from([("a".into(), u(true, 0.0)), ("b".into(), u(true, 0.6)), ("c".into(), u(false, 1.0))]);
        let mut h = String::new();
        leaderboard_table(&mut h, &b, 10);
        let html = parsed(&h);
        assert!(html.contains("fewer than 95 % of 200 bootstrap resamples"), "{html}");
        assert!(html.contains("<b>1</b> of the other 2 completed trials is tied"), "{html}");
        assert!(html.contains("<tr class=\"completed tied\"><td>2</td><td><code>b</code>"), "{html}");
        assert!(html.contains("<tr class=\"completed\"><td>1</td>"), "the top is not 'tied': {html}");
        assert!(html.contains("<td class=\"tie\">top</td>"));
        assert_eq!(html.matches("[0.1000, 0.2000]").count(), 3);

        // Without the bootstrap: neither the legend nor the columns.
        b.bootstrap = 0;
        let mut h = String::new();
        leaderboard_table(&mut h, &b, 10);
        assert!(!h.contains("Tied:") && !h.contains("95% interval") && !h.contains("tied"), "{h}");
    }

    #[test]
    fn validation_vs_test_lists_the_refit_first_and_gaps_are_valid_minus_test() {
        let mut b = board(vec![record("a", "mcc", 0.9), record("b", "mcc", 0.8), record("c", "mcc", 0.7)]);
        b.has_test = true;
        let refit = TrialRecord {
            refit: Some(RefitInfo {
                config: 0,
                fold_trials: vec!["a".into()],
                fold_best_epochs: vec![3],
                cv_mean: Metrics::from([("mcc".into(), 0.85)]),
                cv_std: Metrics::from([("mcc".into(), 0.02)]),
            }),
            ..record("refit-c0000", "mcc", 0.85)
        };
        b.refit = Some(refit);
        let t = |mcc: f64| Metrics::from([("mcc".into(), mcc), ("loss".into(), 0.3), ("accuracy".into(), 0.95)]);
        // "b" is not evaluated there: it has no row.
        b.test = BTreeMap::from([("a".into(), t(0.75)), ("c".into(), t(0.72)), ("refit-c0000".into(), t(0.8))]);
        let mut h = String::new();
        validation_vs_test(&mut h, &b);
        let html = parsed(&h);
        let refit_at = html.find("<code>refit-c0000</code>").unwrap();
        let a_at = html.find("<code>a</code>").unwrap();
        let c_at = html.find("<code>c</code>").unwrap();
        assert!(refit_at < a_at && a_at < c_at, "refit first, then rank order: {html}");
        assert!(!html.contains("<code>b</code>"));
        assert!(html.contains("0.8500 \u{b1} 0.0200 (CV mean)"), "{html}");
        assert!(html.contains("<td class=\"gap optimistic\">+0.1500</td>"), "{html}");
        assert!(html.contains("<td class=\"gap optimistic\">+0.0500</td>"), "{html}");
        assert!(html.contains("<td class=\"gap\">-0.0200</td>"), "a pessimistic gap is not flagged: {html}");
        assert!(html.contains("<th>test accuracy</th>") && html.contains("<th>test loss</th>"));
        assert!(!html.contains("<th>test f1</th>"), "absent metrics have no column");
    }

    #[test]
    fn a_monitored_valid_loss_is_compared_with_the_test_loss() {
        let mut r = record("a", "valid_loss", 0.0);
        r.monitor = Monitor::new("valid_loss", Goal::Minimize, 0.0);
        r.best_metrics = Metrics::from([("valid_loss".into(), 0.2)]);
        let mut b = board(vec![r]);
        b.has_test = true;
        b.test = BTreeMap::from([("a".into(), Metrics::from([("loss".into(), 0.35)]))]);
        let mut h = String::new();
        validation_vs_test(&mut h, &b);
        assert!(h.contains("<th>valid valid_loss</th><th class=\"key\">test loss</th>"), "{h}");
        // A loss lower on validation than on test flattered the model.
        assert!(h.contains("<td class=\"gap optimistic\">-0.1500</td>"), "{h}");
        assert!(h.contains("a negative gap"));
    }

    #[test]
    fn no_test_metrics_yet_says_so() {
        let mut b = board(vec![record("a", "mcc", 0.9)]);
        b.has_test = true;
        let mut h = String::new();
        validation_vs_test(&mut h, &b);
        assert!(h.contains("No model has been evaluated on the test split yet") && !h.contains("<table"), "{h}");
    }

    #[test]
    fn the_data_split_shows_classes_and_flags_duplicates() {
        let split = SplitSummary {
            classes: vec!["cat".into(), "dog & co".into()],
            parts: vec![part("train", vec![60, 40]), part("valid", vec![15, 10])],
            left_out: Default::default(),
            duplicates: vec![
                Duplicates { part: "valid".into(), found_in: "train".into(), rows: 3, of: 25 },
                Duplicates { part: "test".into(), found_in: "train or valid".into(), rows: 0, of: 20 },
            ],
        };
        let mut h = String::new();
        data_split(&mut h, &split);
        let html = parsed(&h);
        assert!(html.contains("<th>class dog &amp; co</th>"), "{html}");
        assert!(html.contains("<tr><td>valid</td><td>25</td><td>15</td><td>10</td></tr>"), "{html}");
        assert!(
            html.contains("<li class=\"warn\">\u{26a0} 3 of 25 valid rows have features identical to a row in train")
        );
        assert!(html.contains("<li class=\"clean\">None of the 20 test rows has features identical"), "{html}");
    }

    #[test]
    fn many_classes_share_one_cell_and_regression_shows_the_target() {
        let classes: Vec<String> = (0..13).map(|k| k.to_string()).collect();
        let split = SplitSummary {
            classes,
            parts: vec![part("train", (0..13).collect())],
            duplicates: Vec::new(),
            left_out: Default::default(),
        };
        let mut h = String::new();
        data_split(&mut h, &split);
        parsed(&h);
        assert!(h.contains("<td class=\"left\">0: 0, 1: 1, 2: 2,") && h.contains("12: 12</td>"), "{h}");
        assert!(!h.contains("<th>class 0</th>"));

        let split = SplitSummary {
            classes: Vec::new(),
            parts: vec![PartSummary {
                name: "train".into(),
                rows: 300,
                class_counts: Vec::new(),
                target_mean: Some(152.25),
                target_std: Some(77.5),
            }],
            duplicates: Vec::new(),
            left_out: Default::default(),
        };
        let mut h = String::new();
        data_split(&mut h, &split);
        assert!(h.contains("<td>152.2 \u{b1} 77.5</td>"), "{h}");
    }
}
