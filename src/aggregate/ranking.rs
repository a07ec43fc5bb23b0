//! Ranking trials by their best-epoch monitored metric.

use std::cmp::Ordering;

use crate::metrics::Monitor;
use crate::store::TrialRecord;

/// Sorts trials best first: completed trials by the monitored metric at their
/// best epoch (in the goal's direction), ties broken by lower `valid_loss`,
/// then by trial id; then failed and diverged trials, by id.
pub(crate) fn rank(mut records: Vec<TrialRecord>) -> Vec<TrialRecord> {
    records.sort_by(compare);
    records
}

fn compare(a: &TrialRecord, b: &TrialRecord) -> Ordering {
    let ok = |r: &TrialRecord| r.status.has_model() && r.best_epoch.is_some();
    match (ok(a), ok(b)) {
        (true, false) => return Ordering::Less,
        (false, true) => return Ordering::Greater,
        (false, false) => return a.id.cmp(&b.id),
        (true, true) => {}
    }
    let metric = |r: &TrialRecord| r.best_metrics.get(&r.monitor.metric).copied();
    let loss = |r: &TrialRecord| r.best_metrics.get("valid_loss").copied();
    by_metric_then_loss(&a.monitor, metric(a), metric(b), loss(a), loss(b)).then_with(|| a.id.cmp(&b.id))
}

/// The ranking rule shared by trials and configurations: the monitored value,
/// best first by [`Monitor::order`] (a missing or non-finite value last), then
/// lower valid_loss.
pub(super) fn by_metric_then_loss(
    monitor: &Monitor,
    a: Option<f64>,
    b: Option<f64>,
    loss_a: Option<f64>,
    loss_b: Option<f64>,
) -> Ordering {
    monitor.order(a, b).then_with(|| loss_a.unwrap_or(f64::INFINITY).total_cmp(&loss_b.unwrap_or(f64::INFINITY)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Goal, Metrics};
    use crate::store::TrialStatus;

    fn record(id: &str, status: TrialStatus, mcc: f64, loss: f64, goal: Goal) -> TrialRecord {
        TrialRecord {
            status,
            best_epoch: (status == TrialStatus::Completed).then_some(1),
            best_metrics: Metrics::from([("mcc".into(), mcc), ("valid_loss".into(), loss)]),
            ..TrialRecord::synthetic("s", id, Monitor::new("mcc", goal, 0.0))
        }
    }

    fn ids(records: Vec<TrialRecord>) -> Vec<String> {
        rank(records).into_iter().map(|r| r.id).collect()
    }

    #[test]
    fn best_metric_first_then_lower_loss_then_id() {
        let c = TrialStatus::Completed;
        let g = Goal::Maximize;
        let order = ids(vec![
            record("d", c, 0.90, 0.1, g),
            record("c", c, 0.95, 0.3, g),
            record("b", c, 0.95, 0.2, g),
            record("a", c, 0.95, 0.2, g),
        ]);
        assert_eq!(order, ["a", "b", "c", "d"]);
    }

    #[test]
    fn failed_and_diverged_come_last() {
        let g = Goal::Maximize;
        let order = ids(vec![
            record("f", TrialStatus::Failed, 0.99, 0.0, g),
            record("x", TrialStatus::Completed, 0.10, 1.0, g),
            record("e", TrialStatus::Diverged, 0.99, 0.0, g),
        ]);
        assert_eq!(order, ["x", "e", "f"]);
    }

    #[test]
    fn minimizing_puts_the_smallest_first() {
        let c = TrialStatus::Completed;
        let order = ids(vec![record("a", c, 0.5, 0.0, Goal::Minimize), record("b", c, 0.2, 0.0, Goal::Minimize)]);
        assert_eq!(order, ["b", "a"]);
    }
}
