//! Early termination across trials: ASHA and the median stopping rule. A
//! trial is judged against the trials that finished before its batch, so the
//! decisions are reproducible for a fixed seed and worker count.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Actions, Callback};
use crate::metrics::{Metrics, Monitor};

/// Early termination across trials (`early_terminate` in the spec).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum EarlyTerminate {
    /// Asynchronous successive halving: at rung epochs `min_epochs · etaᵏ` (below
    /// `max_epochs`), a trial goes on only if its best value so far is in the top
    /// 1/eta of the trials that reached that rung before it.
    Asha {
        /// First rung (grace period).
        min_epochs: usize,
        /// Reduction factor.
        eta: usize,
        /// No rung at or after this epoch.
        max_epochs: usize,
    },
    /// Median stopping rule: after `warmup_epochs`, stop a trial whose best value
    /// so far is worse than the median of earlier trials' best values at the same epoch.
    Median {
        /// Epochs before any decision.
        warmup_epochs: usize,
        /// Earlier trials needed at that epoch before deciding.
        min_trials: usize,
    },
}

impl EarlyTerminate {
    /// The rule's name in messages (`pruned by asha at epoch 3`).
    pub fn name(&self) -> &'static str {
        match self {
            EarlyTerminate::Asha { .. } => "asha",
            EarlyTerminate::Median { .. } => "the median rule",
        }
    }
}

/// Earlier trials' best-so-far monitored value at each epoch (index `epoch - 1`).
pub type PeerCurves = Arc<Vec<Vec<f64>>>;

/// Best-so-far curve of a metric's per-epoch values (NaN epochs keep the previous best).
pub fn best_so_far(values: &[f64], monitor: &Monitor) -> Vec<f64> {
    let mut best = f64::NAN;
    values
        .iter()
        .map(|&v| {
            if monitor.better(v, best) {
                best = v;
            }
            best
        })
        .collect()
}

/// Stops a trial that falls behind its peers; the runner records it as `pruned`.
#[derive(Debug, Clone)]
pub struct Pruner {
    rule: EarlyTerminate,
    monitor: Monitor,
    peers: PeerCurves,
    best: f64,
}

impl Pruner {
    /// Judges `monitor`'s metric by `rule` against `peers`.
    pub fn new(rule: EarlyTerminate, monitor: Monitor, peers: PeerCurves) -> Self {
        Pruner { rule, monitor, peers, best: f64::NAN }
    }

    /// Whether a trial whose best value so far is `best` stops at `epoch`.
    pub fn decide(&self, epoch: usize, best: f64) -> bool {
        if best.is_nan() {
            return false;
        }
        let at_epoch: Vec<f64> =
            self.peers.iter().filter_map(|c| c.get(epoch - 1).copied()).filter(|v| v.is_finite()).collect();
        match self.rule {
            EarlyTerminate::Asha { min_epochs, eta, max_epochs } => {
                if !is_rung(epoch, min_epochs, eta, max_epochs) {
                    return false;
                }
                let n = at_epoch.len() + 1;
                if n < eta {
                    return false; // too few trials at this rung to cut anything
                }
                let keep = (n / eta).max(1);
                let rank = 1 + at_epoch.iter().filter(|&&p| self.monitor.better(p, best)).count();
                rank > keep
            }
            EarlyTerminate::Median { warmup_epochs, min_trials } => {
                if epoch < warmup_epochs || at_epoch.len() < min_trials {
                    return false;
                }
                let mut sorted = at_epoch;
                sorted.sort_by(f64::total_cmp);
                let m = sorted.len();
                let median = if m % 2 == 1 { sorted[m / 2] } else { (sorted[m / 2 - 1] + sorted[m / 2]) / 2.0 };
                self.monitor.better(median, best)
            }
        }
    }
}

/// Whether `epoch` is a rung: `min_epochs · etaᵏ`, below `max_epochs`.
fn is_rung(epoch: usize, min_epochs: usize, eta: usize, max_epochs: usize) -> bool {
    let mut rung = min_epochs.max(1);
    while rung < max_epochs {
        if rung == epoch {
            return true;
        }
        rung = rung.saturating_mul(eta.max(2));
    }
    false
}

impl Callback for Pruner {
    fn on_epoch_end(&mut self, epoch: usize, metrics: &Metrics) -> Actions {
        let v = self.monitor.value_in(metrics);
        if self.monitor.better(v, self.best) {
            self.best = v;
        }
        let prune = self.decide(epoch, self.best);
        Actions { save_best: false, stop: prune, pruned_by: prune.then(|| self.rule.name()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Goal;

    fn max() -> Monitor {
        Monitor::new("mcc", Goal::Maximize, 0.0)
    }

    fn peers(curves: &[&[f64]]) -> PeerCurves {
        Arc::new(curves.iter().map(|c| c.to_vec()).collect())
    }

    #[test]
    fn rungs_are_powers_of_eta_from_the_grace_period() {
        let rungs: Vec<usize> = (1..=30).filter(|&e| is_rung(e, 1, 3, 30)).collect();
        assert_eq!(rungs, [1, 3, 9, 27]);
        let rungs: Vec<usize> = (1..=30).filter(|&e| is_rung(e, 2, 2, 16)).collect();
        assert_eq!(rungs, [2, 4, 8]);
    }

    #[test]
    fn asha_keeps_the_top_third_at_each_rung() {
        let rule = EarlyTerminate::Asha { min_epochs: 1, eta: 3, max_epochs: 30 };
        // Five earlier trials reached rung 3 with these best-so-far values (maximize).
        let p = peers(&[&[0.5, 0.6, 0.70], &[0.5, 0.6, 0.80], &[0.5, 0.6, 0.90], &[0.5, 0.6, 0.60], &[0.5, 0.6, 0.65]]);
        let asha = Pruner::new(rule, max(), p);
        // n = 6 with the trial itself: keep 2. 0.85 ranks 2nd → goes on; 0.75 ranks 3rd → pruned.
        assert!(!asha.decide(3, 0.85));
        assert!(asha.decide(3, 0.75));
        // Epoch 2 is no rung: never pruned there.
        assert!(!asha.decide(2, 0.0));
        // Minimizing flips the order.
        let p = peers(&[&[0.3], &[0.2], &[0.1]]);
        let asha = Pruner::new(rule, Monitor::new("valid_loss", Goal::Minimize, 0.0), p);
        assert!(!asha.decide(1, 0.05));
        assert!(asha.decide(1, 0.25));
    }

    #[test]
    fn asha_waits_for_enough_trials() {
        let rule = EarlyTerminate::Asha { min_epochs: 1, eta: 3, max_epochs: 30 };
        let asha = Pruner::new(rule, max(), peers(&[&[0.9]]));
        assert!(!asha.decide(1, 0.1), "two trials at the rung are too few for eta = 3");
    }

    #[test]
    fn median_rule_after_warmup() {
        let rule = EarlyTerminate::Median { warmup_epochs: 2, min_trials: 3 };
        let p = peers(&[&[0.1, 0.5], &[0.1, 0.6], &[0.1, 0.7], &[0.1]]);
        let median = Pruner::new(rule, max(), p);
        assert!(!median.decide(1, 0.0), "still warming up");
        assert!(median.decide(2, 0.55), "below the median 0.6 of three trials at epoch 2");
        assert!(!median.decide(2, 0.6));
        let few = Pruner::new(rule, max(), peers(&[&[0.1, 0.9], &[0.1, 0.9]]));
        assert!(!few.decide(2, 0.0), "two earlier trials are fewer than min_trials");
    }

    #[test]
    fn best_so_far_curves_skip_nan() {
        assert_eq!(best_so_far(&[0.2, f64::NAN, 0.1, 0.4], &max()), [0.2, 0.2, 0.2, 0.4]);
        let min = Monitor::new("valid_loss", Goal::Minimize, 0.0);
        assert_eq!(best_so_far(&[0.5, 0.7, 0.3], &min), [0.5, 0.5, 0.3]);
    }

    #[test]
    fn the_callback_asks_to_stop_and_prune() {
        let rule = EarlyTerminate::Median { warmup_epochs: 1, min_trials: 1 };
        let mut pruner = Pruner::new(rule, max(), peers(&[&[0.9]]));
        let a = pruner.on_epoch_end(1, &Metrics::from([("mcc".to_string(), 0.5)]));
        assert!(a.stop && a.pruned_by == Some("the median rule") && !a.save_best);
    }
}
