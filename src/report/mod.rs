//! `report.html`: one self-contained page per sweep (inline SVG and CSS, a few
//! lines of inline JavaScript to sort the table, nothing fetched), readable
//! from a cluster's shared folder with any browser.

mod charts;

use std::collections::BTreeMap;
use std::fmt::Write;
use std::path::PathBuf;

pub use charts::ChartError;
use charts::{ParamPoint, Series};

use crate::aggregate::Leaderboard;
use crate::params::{ParamValue, params_display, short_float};
use crate::spec::{Goal, Method, SweepSpec};
use crate::store::{self, BestMetadata, StoreError, SweepDir, TrialRecord, TrialStatus, names};

/// Why the report could not be written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// No trials to report on.
    #[error("{dir}: no sweep.json or trial records here; is this a sweep's results folder?")]
    NotASweep {
        /// The folder.
        dir: PathBuf,
    },
    /// A plot failed.
    #[error(transparent)]
    Chart(#[from] ChartError),
    /// Reading or writing failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// How much to show.
#[derive(Debug, Clone, Copy)]
pub struct ReportOptions {
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
    let path = dir.trial_dir(id).join(names::HISTORY);
    let Ok(mut reader) = csv::Reader::from_path(&path) else {
        return Vec::new();
    };
    let Ok(header) = reader.headers().cloned() else {
        return Vec::new();
    };
    reader
        .records()
        .filter_map(Result::ok)
        .map(|rec| {
            header
                .iter()
                .zip(rec.iter())
                .filter_map(|(h, v)| v.parse::<f64>().ok().map(|v| (h.to_string(), v)))
                .collect()
        })
        .collect()
}

/// Writes `report.html` into the sweep folder and returns its path.
pub fn write_report(dir: &SweepDir, options: ReportOptions) -> Result<PathBuf, ReportError> {
    let html = render(dir, options)?;
    let path = dir.file("report.html");
    store::write_atomic(&path, html.as_bytes()).map_err(StoreError::io(&path))?;
    Ok(path)
}

/// The report as a string.
pub fn render(dir: &SweepDir, options: ReportOptions) -> Result<String, ReportError> {
    let manifest = dir.manifest()?;
    let scan = dir.scan()?;
    if manifest.is_none() && scan.complete.is_empty() {
        return Err(ReportError::NotASweep { dir: dir.root().to_path_buf() });
    }
    let spec: Option<SweepSpec> = manifest.as_ref().and_then(|m| serde_json::from_value(m.spec.clone()).ok());
    let planned = manifest.as_ref().map_or(scan.complete.len(), |m| m.trials);
    let name = manifest
        .as_ref()
        .map(|m| m.name.clone())
        .or_else(|| scan.complete.first().map(|r| r.sweep.clone()))
        .unwrap_or_default();
    let board = if scan.complete.is_empty() {
        None
    } else {
        Some(
            Leaderboard::from_records(dir, scan.complete.clone(), scan.incomplete.clone())
                .map_err(|e| StoreError::Parse { path: dir.root().to_path_buf(), message: e.to_string() })?,
        )
    };

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
    summary(
        &mut h,
        &name,
        spec.as_ref(),
        manifest.as_ref().map(|m| m.spec_hash.as_str()),
        planned,
        &scan.complete,
        scan.incomplete.len(),
    );
    let Some(board) = board else {
        h.push_str("<p>No trial has finished yet.</p>\n</body>\n</html>\n");
        return Ok(h);
    };
    leaderboard_table(&mut h, &board, options.table_rows);
    curves(&mut h, dir, &board, options.curves)?;
    param_plots(&mut h, &board, spec.as_ref())?;
    if matches!(spec.as_ref().map(|s| &s.method), Some(Method::Random { .. } | Method::Tpe { .. })) {
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
        let method = match &s.method {
            Method::Grid => "grid".to_string(),
            Method::Random { trials } => format!("random, {trials} trials"),
            Method::Tpe { trials, settings } => {
                format!("TPE, {trials} trials ({} random start-up, gamma {})", settings.startup_trials, settings.gamma)
            }
        };
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
        row("data", format!("{source}, {:.0}% held out ({split})", s.data.valid_fraction * 100.0));
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
    h.push_str("<table class=\"board\">\n<thead><tr>");
    let mut cols: Vec<String> = vec!["rank".into(), "trial".into(), "status".into()];
    cols.extend(board.param_names.iter().cloned());
    cols.extend(["best epoch".into(), "epochs".into()]);
    // The monitored metric first, where it is seen without scrolling.
    let metric_order: Vec<&str> = std::iter::once(metric.as_str())
        .chain(board.task.metric_names().iter().copied().filter(|m| *m != metric.as_str()))
        .collect();
    cols.extend(metric_order.iter().map(|m| m.to_string()));
    cols.push("s".into());
    for c in &cols {
        let class = if c == metric { " class=\"key\"" } else { "" };
        let _ = write!(h, "<th{class} onclick=\"sortBy(this)\">{}</th>", esc(c));
    }
    h.push_str("</tr></thead>\n<tbody>\n");
    for (i, r) in board.rows.iter().take(rows).enumerate() {
        let ok = r.status.has_model();
        let _ = write!(h, "<tr class=\"{}\"><td>{}</td><td><code>{}</code></td>", r.status.as_str(), i + 1, esc(&r.id));
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
        for m in &metric_order {
            let cell =
                if ok { r.best_metrics.get(*m).map(|v| format!("{v:.4}")).unwrap_or_default() } else { String::new() };
            let class = if *m == metric.as_str() { " class=\"key\"" } else { "" };
            let _ = write!(h, "<td{class}>{cell}</td>");
        }
        let _ = writeln!(h, "<td>{:.2}</td></tr>", r.duration_s);
        if let Some(m) = r.message.as_deref().filter(|_| !ok) {
            let _ = writeln!(h, "<tr class=\"msg\"><td></td><td colspan=\"{}\">{}</td></tr>", cols.len() - 1, esc(m));
        }
    }
    h.push_str("</tbody>\n</table>\n");
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
            let log_domain =
                matches!(spec.and_then(|s| s.parameters.get(p)), Some(crate::space::Domain::LogUniformValues { .. }));
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
.meta{font-size:13px;color:#444}.foot{margin-top:32px;font-size:12px;color:#888}";

/// Sorts a table by the clicked column (numbers numerically), toggling the direction.
/// Written without `<` and `&` so the page stays well-formed XML.
const SORT_JS: &str = "function sortBy(th){var table=th.closest('table');var i=Array.prototype.indexOf.call(th.parentNode.children,th);\
var body=table.tBodies[0];var rows=Array.prototype.slice.call(body.rows).filter(function(r){return r.className!=='msg';});\
var dir=th.getAttribute('data-dir')==='asc'?-1:1;th.setAttribute('data-dir',dir===1?'asc':'desc');\
rows.sort(function(a,b){var x=a.cells[i].getAttribute('data-v')||a.cells[i].textContent;var y=b.cells[i].getAttribute('data-v')||b.cells[i].textContent;\
var nx=parseFloat(x),ny=parseFloat(y);if(!isNaN(nx)){if(!isNaN(ny)){return dir*(nx-ny);}}return dir*x.localeCompare(y);});\
rows.forEach(function(r){body.appendChild(r);});}";
