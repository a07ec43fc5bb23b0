//! The best-model callback: save only when the monitored metric improves.

use super::{Actions, BestSoFar, Callback};
use crate::metrics::{Metrics, Monitor};

/// Asks for a checkpoint exactly when the monitored metric improves by more
/// than `min_delta`, so the single saved model is always the best epoch's.
#[derive(Debug, Clone)]
pub(crate) struct BestModel {
    best: BestSoFar,
    best_epoch: Option<usize>,
}

impl BestModel {
    /// Watches `monitor`.
    pub(crate) fn new(monitor: Monitor) -> Self {
        BestModel { best: BestSoFar::new(monitor), best_epoch: None }
    }

    /// The epoch whose model is saved, if any.
    #[cfg(test)]
    pub(crate) fn best_epoch(&self) -> Option<usize> {
        self.best_epoch
    }

    /// The monitored value at the best epoch.
    #[cfg(test)]
    pub(crate) fn best_value(&self) -> Option<f64> {
        self.best.best()
    }
}

impl Callback for BestModel {
    fn on_epoch_end(&mut self, epoch: usize, metrics: &Metrics) -> Actions {
        let save_best = self.best.observe(metrics);
        if save_best {
            self.best_epoch = Some(epoch);
        }
        Actions { save_best, ..Actions::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Goal;

    fn m(name: &str, v: f64) -> Metrics {
        Metrics::from([(name.to_string(), v)])
    }

    fn run(cb: &mut BestModel, name: &str, values: &[f64]) -> Vec<bool> {
        values.iter().enumerate().map(|(i, &v)| cb.on_epoch_end(i + 1, &m(name, v)).save_best).collect()
    }

    #[test]
    fn saves_only_on_strict_improvement_when_maximizing() {
        let mut cb = BestModel::new(Monitor::new("mcc", Goal::Maximize, 0.0));
        assert_eq!(run(&mut cb, "mcc", &[0.5, 0.7, 0.7, 0.6, 0.8]), [true, true, false, false, true]);
        assert_eq!(cb.best_epoch(), Some(5));
        assert_eq!(cb.best_value(), Some(0.8));
    }

    #[test]
    fn minimizing_with_min_delta() {
        let mut cb = BestModel::new(Monitor::new("rmse", Goal::Minimize, 0.1));
        // 0.95 is better than 1.0 but not by more than 0.1; 0.85 is.
        assert_eq!(run(&mut cb, "rmse", &[1.0, 0.95, 0.85, 0.8, 0.7]), [true, false, true, false, true]);
        assert_eq!(cb.best_epoch(), Some(5));
    }

    #[test]
    fn nan_never_counts_as_best() {
        let mut cb = BestModel::new(Monitor::new("mcc", Goal::Maximize, 0.0));
        assert_eq!(run(&mut cb, "mcc", &[f64::NAN, 0.1, f64::NAN]), [false, true, false]);
        assert_eq!(cb.best_epoch(), Some(2));
        let mut missing = BestModel::new(Monitor::new("auroc", Goal::Maximize, 0.0));
        assert!(!missing.on_epoch_end(1, &m("mcc", 0.9)).save_best);
        assert_eq!(missing.best_epoch(), None);
    }
}
