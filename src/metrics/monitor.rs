//! The monitored metric: what the best-model callback watches, what early
//! stopping and pruning judge, and what ranks trials, with the one rule for
//! "is this value better" that all of them share.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize};

use super::Metrics;

/// Whether larger or smaller values of the monitored metric are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Goal {
    /// Larger is better.
    Maximize,
    /// Smaller is better.
    Minimize,
}

/// A metric, its direction, and the least change that counts as improvement.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Monitor {
    /// Metric name (one of its task's [`super::Task::metric_names`]).
    #[serde(alias = "name")]
    pub metric: String,
    /// Direction of improvement.
    pub goal: Goal,
    /// An epoch counts as better only when it beats the best by more than this.
    pub min_delta: f64,
}

impl Monitor {
    /// Watches `metric` in direction `goal`.
    pub(crate) fn new(metric: &str, goal: Goal, min_delta: f64) -> Self {
        Monitor { metric: metric.to_string(), goal, min_delta }
    }

    /// The rule: whether `a` is strictly better than `b`. Non-finite values
    /// are never better, and every finite value is better than a non-finite one.
    pub(crate) fn better(&self, a: f64, b: f64) -> bool {
        match (a.is_finite(), b.is_finite()) {
            (false, _) => false,
            (true, false) => true,
            (true, true) => match self.goal {
                Goal::Maximize => a > b,
                Goal::Minimize => a < b,
            },
        }
    }

    /// Whether `value` improves on `best` by more than `min_delta` (the first
    /// finite value always does).
    pub(crate) fn improves(&self, value: f64, best: Option<f64>) -> bool {
        match best {
            None => value.is_finite(),
            Some(best) => {
                let bar = match self.goal {
                    Goal::Maximize => best + self.min_delta,
                    Goal::Minimize => best - self.min_delta,
                };
                self.better(value, bar)
            }
        }
    }

    /// Best first: the order of a ranking by this metric (missing or
    /// non-finite values last, equal values equal).
    pub(crate) fn order(&self, a: Option<f64>, b: Option<f64>) -> Ordering {
        let (a, b) = (a.unwrap_or(f64::NAN), b.unwrap_or(f64::NAN));
        if self.better(a, b) {
            Ordering::Less
        } else if self.better(b, a) {
            Ordering::Greater
        } else {
            Ordering::Equal
        }
    }

    /// The monitored value in `metrics` (NaN when absent, which is never better).
    pub(crate) fn value_in(&self, metrics: &Metrics) -> f64 {
        metrics.get(&self.metric).copied().unwrap_or(f64::NAN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_rule_in_both_directions() {
        let max = Monitor::new("mcc", Goal::Maximize, 0.0);
        let min = Monitor::new("valid_loss", Goal::Minimize, 0.0);
        assert!(max.better(0.9, 0.8) && !max.better(0.8, 0.9) && !max.better(0.8, 0.8));
        assert!(min.better(0.1, 0.2) && !min.better(0.2, 0.1));
        assert!(!max.better(f64::NAN, 0.0) && max.better(0.0, f64::NAN));
        assert_eq!(max.order(Some(0.9), Some(0.8)), Ordering::Less);
        assert_eq!(min.order(Some(0.9), Some(0.8)), Ordering::Greater);
        assert_eq!(max.order(None, Some(-1.0)), Ordering::Greater);
        assert_eq!(max.order(None, Some(f64::NAN)), Ordering::Equal);
    }

    #[test]
    fn improvement_needs_more_than_min_delta() {
        let m = Monitor::new("valid_loss", Goal::Minimize, 0.1);
        assert!(m.improves(1.0, None));
        assert!(!m.improves(f64::NAN, None));
        assert!(!m.improves(0.95, Some(1.0)));
        assert!(m.improves(0.85, Some(1.0)));
        let m = Monitor::new("mcc", Goal::Maximize, 0.0);
        assert!(!m.improves(0.7, Some(0.7)));
        assert!(m.improves(0.71, Some(0.7)));
    }
}
