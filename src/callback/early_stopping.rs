//! Early stopping: end a trial after `patience` epochs without improvement.

use super::{Actions, Callback, Monitor};
use crate::metrics::Metrics;
use crate::spec::Goal;

/// Stops once the monitored metric has not improved by more than `min_delta`
/// for `patience` consecutive epochs.
#[derive(Debug, Clone)]
pub struct EarlyStopping {
    monitor: Monitor,
    patience: usize,
    epochs_without_improvement: usize,
}

impl EarlyStopping {
    /// Watches `metric` in direction `goal`.
    pub fn new(metric: &str, goal: Goal, patience: usize, min_delta: f64) -> Self {
        EarlyStopping { monitor: Monitor::new(metric, goal, min_delta), patience, epochs_without_improvement: 0 }
    }
}

impl Callback for EarlyStopping {
    fn on_epoch_end(&mut self, _epoch: usize, metrics: &Metrics) -> Actions {
        if self.monitor.observe(self.monitor.value_in(metrics)) {
            self.epochs_without_improvement = 0;
        } else {
            self.epochs_without_improvement += 1;
        }
        Actions { save_best: false, stop: self.epochs_without_improvement >= self.patience, prune: false }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stops_after_patience_epochs_without_improvement() {
        let mut es = EarlyStopping::new("mcc", Goal::Maximize, 2, 0.0);
        let stops: Vec<bool> = [0.5, 0.6, 0.6, 0.7, 0.65, 0.69, 0.9]
            .iter()
            .enumerate()
            .map(|(i, &v)| es.on_epoch_end(i + 1, &Metrics::from([("mcc".to_string(), v)])).stop)
            .collect();
        assert_eq!(stops, [false, false, false, false, false, true, false]);
    }

    #[test]
    fn min_delta_makes_small_gains_count_as_none() {
        let mut es = EarlyStopping::new("valid_loss", Goal::Minimize, 1, 0.05);
        let m = |v: f64| Metrics::from([("valid_loss".to_string(), v)]);
        assert!(!es.on_epoch_end(1, &m(1.0)).stop);
        assert!(es.on_epoch_end(2, &m(0.97)).stop);
    }
}
