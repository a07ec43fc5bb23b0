//! Callbacks watch each epoch's metrics and decide; the runner acts.
//!
//! As in burn-train, a callback only returns actions, so the decision logic is
//! tested without any files, and all I/O stays in one place (the runner).

mod best_model;
mod early_stopping;
pub mod pruning;

pub use best_model::BestModel;
pub use early_stopping::EarlyStopping;
pub use pruning::{PeerCurves, Pruner};

use crate::metrics::Metrics;
use crate::spec::Goal;

/// What the runner should do after an epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Actions {
    /// Overwrite the trial's best checkpoint (and its metadata) with this epoch's model.
    pub save_best: bool,
    /// End the trial after this epoch.
    pub stop: bool,
    /// ...and record it as pruned (stopped by early termination across trials).
    pub prune: bool,
}

impl Actions {
    /// Both callbacks' wishes together.
    pub fn merge(self, other: Actions) -> Actions {
        Actions {
            save_best: self.save_best || other.save_best,
            stop: self.stop || other.stop,
            prune: self.prune || other.prune,
        }
    }
}

/// Decides after each epoch, from that epoch's metrics.
pub trait Callback: Send {
    /// Called once per epoch (1-based) with all metrics of that epoch.
    fn on_epoch_end(&mut self, epoch: usize, metrics: &Metrics) -> Actions;
}

/// Tracks the best value of a monitored metric.
#[derive(Debug, Clone, PartialEq)]
pub struct Monitor {
    /// Metric name.
    pub metric: String,
    /// Direction of improvement.
    pub goal: Goal,
    /// Minimum change that counts as improvement.
    pub min_delta: f64,
    best: Option<f64>,
}

impl Monitor {
    /// A monitor that has seen nothing yet.
    pub fn new(metric: &str, goal: Goal, min_delta: f64) -> Self {
        Monitor { metric: metric.to_string(), goal, min_delta, best: None }
    }

    /// Whether `value` beats the best so far by more than `min_delta`; if so it
    /// becomes the best. NaN never improves; the first finite value always does.
    pub fn observe(&mut self, value: f64) -> bool {
        if !value.is_finite() {
            return false;
        }
        let improved = match self.best {
            None => true,
            Some(best) => match self.goal {
                Goal::Maximize => value > best + self.min_delta,
                Goal::Minimize => value < best - self.min_delta,
            },
        };
        if improved {
            self.best = Some(value);
        }
        improved
    }

    /// The best value seen.
    pub fn best(&self) -> Option<f64> {
        self.best
    }

    /// The monitored value in `metrics` (NaN when absent, which never improves).
    pub fn value_in(&self, metrics: &Metrics) -> f64 {
        metrics.get(&self.metric).copied().unwrap_or(f64::NAN)
    }
}
