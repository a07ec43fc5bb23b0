//! With `repeats = K`, every configuration ran with K seeds: rank the
//! configurations by the mean of their best-epoch metrics, so a lucky seed
//! does not win.

use super::ranking::by_metric_then_loss;
use super::{AggregateError, Exporter, Leaderboard};
use crate::metrics::Metrics;
use crate::params::Params;
use crate::store::names;

/// One configuration over its repeats.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ConfigRow {
    /// Configuration number in the plan.
    pub config: usize,
    /// Its params.
    pub params: Params,
    /// Trials (repeats) recorded.
    pub trials: usize,
    /// Of which completed.
    pub completed: usize,
    /// Mean of each best-epoch metric over the completed repeats.
    pub mean: Metrics,
    /// Sample standard deviation (n − 1) of each; 0 with one repeat.
    pub std: Metrics,
    /// The configuration's best trial by the trial ranking.
    pub best_trial: Option<String>,
}

/// Groups a leaderboard's trials by configuration and ranks the groups: by the
/// mean monitored metric (goal's direction), then lower mean valid_loss, then
/// configuration number; configurations with no completed repeat last.
pub(crate) fn rank_configs(board: &Leaderboard) -> Vec<ConfigRow> {
    let mut configs: Vec<usize> = board.rows.iter().map(|r| r.config).collect();
    configs.sort_unstable();
    configs.dedup();
    let mut rows: Vec<ConfigRow> = configs
        .into_iter()
        .map(|config| {
            let members: Vec<_> = board.rows.iter().filter(|r| r.config == config).collect();
            let ok: Vec<_> = members.iter().filter(|r| r.status.has_model()).collect();
            let (mut mean, mut std) = (Metrics::new(), Metrics::new());
            for m in board.task.metric_names() {
                let values: Vec<f64> = ok.iter().filter_map(|r| r.best_metrics.get(*m).copied()).collect();
                if values.is_empty() {
                    continue;
                }
                let n = values.len() as f64;
                let mu = values.iter().sum::<f64>() / n;
                // Equal values have no spread; the mean's rounding must not invent one.
                let all_equal = values.iter().all(|v| *v == values[0]);
                let var = if values.len() > 1 && !all_equal {
                    values.iter().map(|v| (v - mu).powi(2)).sum::<f64>() / (n - 1.0)
                } else {
                    0.0
                };
                mean.insert((*m).to_string(), mu);
                std.insert((*m).to_string(), var.sqrt());
            }
            ConfigRow {
                config,
                params: members[0].params.clone(),
                trials: members.len(),
                completed: ok.len(),
                mean,
                std,
                // board.rows is in trial-rank order, so the first completed member is the best.
                best_trial: ok.first().map(|r| r.id.clone()),
            }
        })
        .collect();
    let monitor = &board.monitor;
    rows.sort_by(|a, b| {
        let key = |r: &ConfigRow| r.mean.get(&monitor.metric).copied();
        let loss = |r: &ConfigRow| r.mean.get("valid_loss").copied();
        by_metric_then_loss(monitor, key(a), key(b), loss(a), loss(b)).then_with(|| a.config.cmp(&b.config))
    });
    rows
}

/// `leaderboard_by_config.csv`: `rank, config, <params>, trials, completed,
/// mean_<metric>, std_<metric>..., best_trial`; with cross-validation and the
/// bootstrap, `bbc_<monitored>, bbc_<monitored>_low, bbc_<monitored>_high`,
/// filled on the first (picked) configuration's row.
pub(crate) struct ConfigLeaderboardCsv;

impl Exporter for ConfigLeaderboardCsv {
    fn file_name(&self) -> &'static str {
        names::LEADERBOARD_BY_CONFIG
    }

    fn render(&self, board: &Leaderboard) -> Result<Vec<u8>, AggregateError> {
        let err = |e: csv::Error| AggregateError::Render { file: names::LEADERBOARD_BY_CONFIG, message: e.to_string() };
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut header: Vec<String> = vec!["rank".into(), "config".into()];
        header.extend(board.param_names.iter().cloned());
        header.extend(["trials".into(), "completed".into()]);
        let metrics = board.task.metric_names();
        for m in metrics {
            header.push(format!("mean_{m}"));
            header.push(format!("std_{m}"));
        }
        header.push("best_trial".into());
        // BBC-CV estimates the act of picking, so only the picked (first) configuration has it.
        let bbc = board.bbc.as_ref();
        if let Some(b) = bbc {
            header.extend([
                format!("bbc_{}", b.metric),
                format!("bbc_{}_low", b.metric),
                format!("bbc_{}_high", b.metric),
            ]);
        }
        w.write_record(&header).map_err(err)?;
        for (i, c) in rank_configs(board).iter().enumerate() {
            let mut row = vec![(i + 1).to_string(), c.config.to_string()];
            row.extend(board.param_names.iter().map(|p| c.params.get(p).map(|v| v.to_string()).unwrap_or_default()));
            row.extend([c.trials.to_string(), c.completed.to_string()]);
            for m in metrics {
                row.push(c.mean.get(*m).map(|v| v.to_string()).unwrap_or_default());
                row.push(c.std.get(*m).map(|v| v.to_string()).unwrap_or_default());
            }
            row.push(c.best_trial.clone().unwrap_or_default());
            if let Some(b) = bbc {
                let first = i == 0;
                row.extend([b.mean, b.low, b.high].map(|v| if first { v.to_string() } else { String::new() }));
            }
            w.write_record(&row).map_err(err)?;
        }
        w.into_inner()
            .map_err(|e| AggregateError::Render { file: names::LEADERBOARD_BY_CONFIG, message: e.to_string() })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Goal, Monitor};
    use crate::params::ParamValue;
    use crate::store::{TrialRecord, TrialStatus};

    fn record(id: &str, config: usize, status: TrialStatus, mcc: f64) -> TrialRecord {
        TrialRecord {
            params: Params::from([("lr".to_string(), ParamValue::Float(config as f64))]),
            config,
            status,
            best_metrics: Metrics::from([("mcc".into(), mcc), ("valid_loss".into(), 1.0 - mcc)]),
            ..TrialRecord::synthetic("s", id, Monitor::new("mcc", Goal::Maximize, 0.0))
        }
    }

    #[test]
    fn a_lucky_seed_does_not_win() {
        let c = TrialStatus::Completed;
        // Config 0 has the single best trial (0.99) but a poor mean; config 1 is steadily good.
        let records = vec![
            record("a", 0, c, 0.99),
            record("b", 0, c, 0.70),
            record("c", 0, c, 0.71),
            record("d", 1, c, 0.90),
            record("e", 1, c, 0.92),
            record("f", 1, TrialStatus::Failed, 0.0),
            record("g", 2, TrialStatus::Failed, 0.0),
        ];
        let dir = crate::store::SweepDir::new("x");
        let board = Leaderboard::from_records(&dir, records, Vec::new()).unwrap();
        let rows = rank_configs(&board);
        assert_eq!(rows.iter().map(|r| r.config).collect::<Vec<_>>(), [1, 0, 2]);
        assert_eq!((rows[0].trials, rows[0].completed), (3, 2));
        assert!((rows[0].mean["mcc"] - 0.91).abs() < 1e-12);
        // Sample std of 0.90 and 0.92: sqrt(((0.01)² + (0.01)²) / 1)
        assert!((rows[0].std["mcc"] - (2.0f64 * 0.0001).sqrt()).abs() < 1e-12);
        assert!((rows[1].mean["mcc"] - (0.99 + 0.70 + 0.71) / 3.0).abs() < 1e-12);
        assert_eq!(rows[0].best_trial.as_deref(), Some("e"));
        assert_eq!(rows[2].completed, 0);
        assert!(rows[2].mean.is_empty());
    }
}
