//! Early stopping: end a trial after `patience` epochs without improvement.

use serde::{Deserialize, Serialize};

use super::{Actions, BestSoFar, Callback};
use crate::metrics::{Metrics, Monitor};

/// `[train] early_stopping = { patience, min_delta }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct EarlyStoppingSpec {
    /// Epochs without improvement before stopping.
    pub patience: usize,
    /// Minimum change that counts as improvement.
    pub min_delta: f64,
}

/// Stops once the monitored metric has not improved by more than `min_delta`
/// for `patience` consecutive epochs.
#[derive(Debug, Clone)]
pub(crate) struct EarlyStopping {
    best: BestSoFar,
    patience: usize,
    epochs_without_improvement: usize,
}

impl EarlyStopping {
    /// Watches `monitor`'s metric with its own patience and `min_delta`.
    pub(crate) fn new(monitor: &Monitor, spec: &EarlyStoppingSpec) -> Self {
        let monitor = Monitor { min_delta: spec.min_delta, ..monitor.clone() };
        EarlyStopping { best: BestSoFar::new(monitor), patience: spec.patience, epochs_without_improvement: 0 }
    }
}

impl Callback for EarlyStopping {
    fn on_epoch_end(&mut self, _epoch: usize, metrics: &Metrics) -> Actions {
        if self.best.observe(metrics) {
            self.epochs_without_improvement = 0;
        } else {
            self.epochs_without_improvement += 1;
        }
        Actions { stop: self.epochs_without_improvement >= self.patience, ..Actions::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Goal;

    #[test]
    fn stops_after_patience_epochs_without_improvement() {
        let spec = EarlyStoppingSpec { patience: 2, min_delta: 0.0 };
        let mut es = EarlyStopping::new(&Monitor::new("mcc", Goal::Maximize, 0.5), &spec);
        let stops: Vec<bool> = [0.5, 0.6, 0.6, 0.7, 0.65, 0.69, 0.9]
            .iter()
            .enumerate()
            .map(|(i, &v)| es.on_epoch_end(i + 1, &Metrics::from([("mcc".to_string(), v)])).stop)
            .collect();
        assert_eq!(stops, [false, false, false, false, false, true, false]);
    }

    #[test]
    fn min_delta_makes_small_gains_count_as_none() {
        let spec = EarlyStoppingSpec { patience: 1, min_delta: 0.05 };
        let mut es = EarlyStopping::new(&Monitor::new("valid_loss", Goal::Minimize, 0.0), &spec);
        let m = |v: f64| Metrics::from([("valid_loss".to_string(), v)]);
        assert!(!es.on_epoch_end(1, &m(1.0)).stop);
        assert!(es.on_epoch_end(2, &m(0.97)).stop);
    }
}
