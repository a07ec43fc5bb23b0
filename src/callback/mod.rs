//! Callbacks watch each epoch's metrics and decide; the runner acts.
//!
//! As in burn-train, a callback only returns actions, so the decision logic is
//! tested without any files, and all I/O stays in one place (the runner). A
//! trial's callbacks are built once, as a list ([`for_trial`]), and each epoch
//! the runner merges what they all ask for.

mod best_model;
mod early_stopping;
pub(crate) mod pruning;

pub(crate) use best_model::BestModel;
pub(crate) use early_stopping::{EarlyStopping, EarlyStoppingSpec};
pub(crate) use pruning::{EarlyTerminate, PeerCurves, Pruner};

use crate::metrics::{Metrics, Monitor};

/// What the runner should do after an epoch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Actions {
    /// Overwrite the trial's best checkpoint (and its metadata) with this epoch's model.
    pub save_best: bool,
    /// End the trial after this epoch.
    pub stop: bool,
    /// ...and record it as pruned by this rule (early termination across trials).
    pub pruned_by: Option<&'static str>,
}

impl Actions {
    /// Two callbacks' wishes together.
    pub(crate) fn merge(self, other: Actions) -> Actions {
        Actions {
            save_best: self.save_best || other.save_best,
            stop: self.stop || other.stop,
            pruned_by: self.pruned_by.or(other.pruned_by),
        }
    }
}

/// Decides after each epoch, from that epoch's metrics.
pub(crate) trait Callback: Send {
    /// Called once per epoch (1-based) with all metrics of that epoch.
    fn on_epoch_end(&mut self, epoch: usize, metrics: &Metrics) -> Actions;
}

/// A trial's callbacks: the best-model callback always, then early stopping
/// and pruning when the spec asks for them.
pub(crate) fn for_trial(
    monitor: &Monitor,
    early_stopping: Option<&EarlyStoppingSpec>,
    pruning: Option<(EarlyTerminate, PeerCurves)>,
) -> Vec<Box<dyn Callback>> {
    let mut list: Vec<Box<dyn Callback>> = vec![Box::new(BestModel::new(monitor.clone()))];
    if let Some(es) = early_stopping {
        list.push(Box::new(EarlyStopping::new(monitor, es)));
    }
    if let Some((rule, peers)) = pruning {
        list.push(Box::new(Pruner::new(rule, monitor.clone(), peers)));
    }
    list
}

/// Asks every callback, in order, and merges their actions.
pub(crate) fn on_epoch_end(callbacks: &mut [Box<dyn Callback>], epoch: usize, metrics: &Metrics) -> Actions {
    callbacks.iter_mut().fold(Actions::default(), |actions, cb| actions.merge(cb.on_epoch_end(epoch, metrics)))
}

/// The best value of a monitored metric seen so far.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct BestSoFar {
    monitor: Monitor,
    best: Option<f64>,
}

impl BestSoFar {
    /// Nothing seen yet.
    pub(crate) fn new(monitor: Monitor) -> Self {
        BestSoFar { monitor, best: None }
    }

    /// Whether the monitored value in `metrics` improves on the best (see
    /// [`Monitor::improves`]); if so it becomes the best.
    pub(crate) fn observe(&mut self, metrics: &Metrics) -> bool {
        let value = self.monitor.value_in(metrics);
        let improved = self.monitor.improves(value, self.best);
        if improved {
            self.best = Some(value);
        }
        improved
    }

    /// The best value seen.
    #[cfg(test)]
    pub(crate) fn best(&self) -> Option<f64> {
        self.best
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Goal;

    #[test]
    fn the_list_merges_every_callbacks_wish() {
        let monitor = Monitor::new("mcc", Goal::Maximize, 0.0);
        let es = EarlyStoppingSpec { patience: 1, min_delta: 0.0 };
        let mut list = for_trial(&monitor, Some(&es), None);
        assert_eq!(list.len(), 2);
        let m = |v: f64| Metrics::from([("mcc".to_string(), v)]);
        assert_eq!(on_epoch_end(&mut list, 1, &m(0.5)), Actions { save_best: true, stop: false, pruned_by: None });
        assert_eq!(on_epoch_end(&mut list, 2, &m(0.4)), Actions { save_best: false, stop: true, pruned_by: None });
    }
}
