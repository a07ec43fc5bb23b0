//! Reporters that show a running sweep in the terminal.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use super::events::{Reporter, RunEvent};
use crate::store::TrialRecord;

/// Shows nothing (`--quiet`).
#[derive(Debug, Default)]
pub(crate) struct SilentReporter;

impl Reporter for SilentReporter {
    fn on_start(&mut self, _: usize, _: usize) {}
    fn on_event(&mut self, _: &RunEvent) {}
    fn on_finish(&mut self) {}
}

/// An indicatif progress bar on stderr: trials done/total, best so far, ETA.
pub(crate) struct ProgressBarReporter {
    bar: ProgressBar,
    best: Option<(f64, String)>,
    problems: usize,
}

impl Default for ProgressBarReporter {
    fn default() -> Self {
        Self::new()
    }
}

impl ProgressBarReporter {
    /// A hidden bar until [`Reporter::on_start`] sizes it.
    pub(crate) fn new() -> Self {
        ProgressBarReporter { bar: ProgressBar::hidden(), best: None, problems: 0 }
    }

    fn on_trial_finished(&mut self, record: &TrialRecord) {
        if !record.status.has_model() {
            self.problems += 1;
            self.bar.println(format!(
                "trial {} {}: {}",
                record.id,
                record.status.as_str(),
                record.message.as_deref().unwrap_or("")
            ));
        } else if let Some(&value) = record.best_metrics.get(&record.monitor.metric) {
            let improves = self.best.as_ref().is_none_or(|(b, _)| record.monitor.better(value, *b));
            if improves {
                self.best = Some((value, format!("best {} {value:.5} ({})", record.monitor.metric, record.id)));
            }
        }
        let mut msg = self.best.as_ref().map(|(_, m)| m.clone()).unwrap_or_default();
        if self.problems > 0 {
            msg.push_str(&format!("  {} failed/diverged", self.problems));
        }
        self.bar.set_message(msg);
        self.bar.inc(1);
    }
}

impl Reporter for ProgressBarReporter {
    fn on_start(&mut self, total: usize, resumed: usize) {
        self.bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
        self.bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} trials  {msg}  ETA {eta}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        self.bar.set_position(resumed as u64);
        self.bar.enable_steady_tick(Duration::from_millis(200));
        if resumed > 0 {
            self.bar.println(format!("resuming: {resumed} of {total} trials already complete"));
        }
    }

    fn on_event(&mut self, event: &RunEvent) {
        if let RunEvent::TrialCommitted { record } = event {
            self.on_trial_finished(record);
        }
    }

    fn on_finish(&mut self) {
        self.bar.finish();
    }
}
