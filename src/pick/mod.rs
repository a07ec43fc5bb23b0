//! Picking models on more than one number: constraints a model must meet
//! (`[select] constraints`), the trade-offs against the monitored metric
//! (`[metric] trade_off`), and non-dominated sorting over them. Pure: the
//! aggregator and the NSGA-II sampler give it values and get ranks back.

mod constraint;
mod pareto;

use serde::{Deserialize, Serialize};

pub(crate) use constraint::Constraint;
pub(crate) use pareto::{crowding_distance, dominates, non_dominated_fronts, pareto_ranks};

use crate::metrics::{Goal, Task};

/// One objective of a trade-off: a leaderboard column and which way is better.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct TradeOff {
    /// A metric (`valid_loss`), a test metric (`test_mcc`) or a cost (`params`).
    pub name: String,
    /// Its direction.
    pub goal: Goal,
}

/// `value` turned so that smaller is better, as the sorting compares it;
/// a missing or non-finite value is the worst there is.
pub(crate) fn minimized(value: Option<f64>, goal: Goal) -> f64 {
    match (value.filter(|v| v.is_finite()), goal) {
        (Some(v), Goal::Minimize) => v,
        (Some(v), Goal::Maximize) => -v,
        (None, _) => f64::INFINITY,
    }
}

/// The leaderboard's cost columns, in order. The timings among them (latencies,
/// `rows_per_s`) differ from run to run: identity checks skip them, and a pick
/// or a search that uses them is only as repeatable as the machine's timings.
pub(crate) const COST_COLUMNS: [&str; 5] =
    ["params", "checkpoint_bytes", "latency_p50_ms", "latency_p95_ms", "rows_per_s"];

/// The leaderboard columns a constraint or a trade-off can name for `task`,
/// with their goals: each metric (bare, and as `best_<metric>`), each test
/// metric (`test_<metric>`, `test_loss`) and each cost.
pub(crate) fn columns(task: Task) -> Vec<(String, Goal)> {
    let mut out = Vec::new();
    for name in task.metric_names() {
        let Some(def) = task.metric(name) else { continue };
        out.push((name.to_string(), def.goal));
        out.push((format!("best_{name}"), def.goal));
    }
    for name in task.metric_names().iter().filter(|m| !Task::is_training_metric(m)) {
        let Some(def) = task.metric(name) else { continue };
        let test = if *name == "valid_loss" { "loss" } else { name };
        out.push((format!("test_{test}"), def.goal));
    }
    out.extend(COST_COLUMNS.iter().map(|c| (c.to_string(), cost_goal(c))));
    out
}

/// Which way a cost is better: every cost is smaller-is-better but throughput.
pub(crate) fn cost_goal(name: &str) -> Goal {
    match name {
        "rows_per_s" => Goal::Maximize,
        _ => Goal::Minimize,
    }
}
