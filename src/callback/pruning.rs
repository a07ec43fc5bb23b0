//! Early termination across trials: ASHA, W&B's hyperband stopping and the
//! median stopping rule. A trial is judged against its peers' best-so-far
//! curves: in batches, the trials that finished before its batch (so the
//! decisions are reproducible for a fixed seed and worker count); or
//! asynchronously, every other trial as far as it has got when a decision is
//! due (Li et al., "A System for Massively Parallel Hyperparameter Tuning",
//! 2020), so no trial waits for a batch.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{Actions, Callback};
use crate::metrics::{Metrics, Monitor};

/// Early termination across trials (`early_terminate` in the spec).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(crate) enum EarlyTerminate {
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
    /// W&B's hyperband stopping (`type = "hyperband"`): at band epochs, a trial
    /// stops when its best value so far is worse than the value at position
    /// ⌊n/eta⌋ (best first) of the n trials at that band, itself included.
    /// Bands are `min_iter · etaᵏ` below `max_epochs`, or, given `max_iter`,
    /// `max_iter / etaⁱ` for i = 1…s (whole, at least 1).
    Hyperband {
        /// The first band, or 0 when the bands come from `max_iter`.
        min_iter: usize,
        /// The last epoch the bands are counted down from (0 when `min_iter` is given).
        max_iter: usize,
        /// How many bands below `max_iter` (W&B's `s`).
        brackets: usize,
        /// Reduction factor.
        eta: usize,
        /// No band at or after this epoch.
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
    pub(crate) fn name(&self) -> &'static str {
        match self {
            EarlyTerminate::Asha { .. } => "asha",
            EarlyTerminate::Hyperband { .. } => "hyperband",
            EarlyTerminate::Median { .. } => "the median rule",
        }
    }
}

/// Other trials' best-so-far monitored value at each epoch (index `epoch - 1`).
#[derive(Clone)]
pub(crate) enum PeerCurves {
    /// Fixed before the trial starts: the trials of the batches before it.
    Fixed(Arc<Vec<Vec<f64>>>),
    /// Read when a decision is due: every other trial as far as it has got
    /// (asynchronous; the runner reads them from the results folder).
    Live(Arc<dyn Fn() -> Vec<Vec<f64>> + Send + Sync>),
}

impl PeerCurves {
    /// The curves, when they are fixed.
    pub(crate) fn fixed(&self) -> Option<&Vec<Vec<f64>>> {
        match self {
            PeerCurves::Fixed(curves) => Some(curves),
            PeerCurves::Live(_) => None,
        }
    }

    /// The curves as they are now.
    fn now(&self) -> Arc<Vec<Vec<f64>>> {
        match self {
            PeerCurves::Fixed(curves) => curves.clone(),
            PeerCurves::Live(read) => Arc::new(read()),
        }
    }
}

impl std::fmt::Debug for PeerCurves {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PeerCurves::Fixed(c) => write!(f, "Fixed({} curves)", c.len()),
            PeerCurves::Live(_) => write!(f, "Live"),
        }
    }
}

/// Best-so-far curve of a metric's per-epoch values (NaN epochs keep the previous best).
pub(crate) fn best_so_far(values: &[f64], monitor: &Monitor) -> Vec<f64> {
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
pub(crate) struct Pruner {
    rule: EarlyTerminate,
    monitor: Monitor,
    peers: PeerCurves,
    best: f64,
}

impl Pruner {
    /// Judges `monitor`'s metric by `rule` against `peers`.
    pub(crate) fn new(rule: EarlyTerminate, monitor: Monitor, peers: PeerCurves) -> Self {
        Pruner { rule, monitor, peers, best: f64::NAN }
    }

    /// Whether a trial whose best value so far is `best` stops at `epoch`.
    pub(crate) fn decide(&self, epoch: usize, best: f64) -> bool {
        if best.is_nan() || !self.may_decide_at(epoch) {
            return false;
        }
        let peers = self.peers.now();
        let at_epoch: Vec<f64> =
            peers.iter().filter_map(|c| c.get(epoch - 1).copied()).filter(|v| v.is_finite()).collect();
        match self.rule {
            EarlyTerminate::Hyperband { eta, .. } => {
                let mut values = at_epoch;
                values.push(best);
                values.sort_by(|a, b| self.monitor.order(Some(*a), Some(*b)));
                let threshold = values[values.len() / eta.max(1)];
                self.monitor.better(threshold, best)
            }
            EarlyTerminate::Asha { eta, .. } => {
                let n = at_epoch.len() + 1;
                if n < eta {
                    return false; // too few trials at this rung to cut anything
                }
                let keep = (n / eta).max(1);
                let rank = 1 + at_epoch.iter().filter(|&&p| self.monitor.better(p, best)).count();
                rank > keep
            }
            EarlyTerminate::Median { min_trials, .. } => {
                if at_epoch.len() < min_trials {
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

impl Pruner {
    /// Whether the rule judges at `epoch` at all (checked before the peers are read).
    fn may_decide_at(&self, epoch: usize) -> bool {
        match self.rule {
            EarlyTerminate::Asha { min_epochs, eta, max_epochs } => is_rung(epoch, min_epochs, eta, max_epochs),
            EarlyTerminate::Hyperband { .. } => self.rule.bands().contains(&epoch),
            EarlyTerminate::Median { warmup_epochs, .. } => epoch >= warmup_epochs,
        }
    }
}

impl EarlyTerminate {
    /// Hyperband's band epochs, ascending (empty for the other rules).
    pub(crate) fn bands(&self) -> Vec<usize> {
        let EarlyTerminate::Hyperband { min_iter, max_iter, brackets, eta, max_epochs } = *self else {
            return Vec::new();
        };
        let eta = eta.max(2);
        let mut bands = Vec::new();
        if max_iter > 0 {
            let mut band = max_iter as f64;
            for _ in 0..brackets {
                band /= eta as f64;
                if band < 1.0 {
                    break;
                }
                bands.push(band as usize);
            }
        } else {
            let mut band = min_iter.max(1);
            while band < max_epochs {
                bands.push(band);
                band = band.saturating_mul(eta);
            }
        }
        bands.retain(|&b| b < max_epochs);
        bands.sort_unstable();
        bands.dedup();
        bands
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
        PeerCurves::Fixed(Arc::new(curves.iter().map(|c| c.to_vec()).collect()))
    }

    #[test]
    fn hyperband_bands_follow_wandb_from_min_iter_or_max_iter() {
        let from_min = EarlyTerminate::Hyperband { min_iter: 3, max_iter: 0, brackets: 0, eta: 3, max_epochs: 30 };
        assert_eq!(from_min.bands(), [3, 9, 27]);
        // W&B's example: max_iter 5, eta 2, s 2 → bands 2 and 1.
        let from_max = EarlyTerminate::Hyperband { min_iter: 0, max_iter: 5, brackets: 2, eta: 2, max_epochs: 30 };
        assert_eq!(from_max.bands(), [1, 2]);
    }

    #[test]
    fn hyperband_stops_below_the_wandb_threshold_and_reads_live_peers_when_due() {
        let rule = EarlyTerminate::Hyperband { min_iter: 2, max_iter: 0, brackets: 0, eta: 3, max_epochs: 30 };
        // At band 2 the others have 0.9, 0.8, 0.7, 0.6, 0.5 (maximize); with the trial's own value
        // n = 6 and the threshold is the value at position 6 / 3 = 2 (best first, from 0).
        let curves: Vec<Vec<f64>> = [0.9, 0.8, 0.7, 0.6, 0.5].iter().map(|v| vec![0.1, *v]).collect();
        let reads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = reads.clone();
        let live = PeerCurves::Live(Arc::new(move || {
            counter.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            curves.clone()
        }));
        let hb = Pruner::new(rule, max(), live);
        assert!(!hb.decide(2, 0.85), "threshold 0.8: 0.85 goes on");
        assert!(!hb.decide(2, 0.8), "equal to the threshold goes on");
        // 0.75 ranks third itself, so it is the threshold; 0.65 ranks fourth, below 0.7.
        assert!(!hb.decide(2, 0.75), "the threshold is taken with the trial itself, as W&B does");
        assert!(hb.decide(2, 0.65), "below the threshold stops");
        assert!(!hb.decide(3, 0.0), "epoch 3 is no band");
        assert_eq!(reads.load(std::sync::atomic::Ordering::Relaxed), 4, "peers are read only when a band is due");
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
