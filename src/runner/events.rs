//! What a running sweep tells the outside: the runner emits events, and
//! reporters (the progress bar, the event log under the results folder, later
//! trackers) subscribe to them through one [`FanOut`]. Events of trials running
//! in worker processes travel to the parent as JSON lines, so every reporter
//! sees the same stream whatever runs the trials.

pub(crate) mod log;

use std::sync::mpsc;

use serde::{Deserialize, Serialize};

use crate::metrics::Metrics;
use crate::store::TrialRecord;

/// Something that happened in a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub(crate) enum RunEvent {
    /// A trial started training.
    TrialStarted {
        /// Its position in the plan.
        index: usize,
        id: String,
    },
    /// A trial finished an epoch; `metrics` are all of that epoch's.
    EpochEnded {
        /// The trial's position in the plan.
        index: usize,
        id: String,
        /// 1-based epoch.
        epoch: usize,
        /// Every metric of the epoch.
        metrics: Metrics,
    },
    /// A trial's best checkpoint now holds this epoch's model.
    CheckpointSaved {
        /// The trial's position in the plan.
        index: usize,
        id: String,
        /// 1-based epoch.
        epoch: usize,
    },
    /// Early termination stopped a trial.
    Pruned {
        /// The trial's position in the plan.
        index: usize,
        id: String,
        /// The epoch it stopped after.
        epoch: usize,
        /// The rule that stopped it.
        rule: String,
    },
    /// A trial's record is durable: the trial counts as done.
    TrialCommitted {
        /// Its record.
        record: Box<TrialRecord>,
    },
}

/// Where a trial sends its events.
pub(crate) trait EventSink: Sync {
    /// Passes an event on; never fails the trial.
    fn emit(&self, event: RunEvent);
}

/// Drops every event.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct NoEvents;

impl EventSink for NoEvents {
    fn emit(&self, _: RunEvent) {}
}

impl<T: From<RunEvent> + Send> EventSink for mpsc::Sender<T> {
    fn emit(&self, event: RunEvent) {
        // The receiver is gone only when the run is over; nobody listens any more.
        let _ = self.send(T::from(event));
    }
}

/// Receives a run's events, on the run's own thread only, so output never interleaves.
pub(crate) trait Reporter {
    /// The run starts: `total` planned trials, `resumed` of them already complete.
    fn on_start(&mut self, total: usize, resumed: usize);
    /// Something happened.
    fn on_event(&mut self, event: &RunEvent);
    /// Every trial has ended.
    fn on_finish(&mut self);
    /// Something about the data the user should know before trusting the
    /// results (rows duplicated across the split); shown even when quiet.
    fn on_warning(&mut self, message: &str) {
        eprintln!("warning: {message}");
    }
    /// What the run is doing besides training (waiting for trials that other
    /// processes train); shown even when quiet.
    fn on_note(&mut self, message: &str) {
        eprintln!("{message}");
    }
}

/// Passes everything to several reporters, in their order: the runner still sees one.
/// Warnings and notes reach every reporter too; the terminal's prints them, the others
/// record or ignore them.
pub(crate) struct FanOut {
    reporters: Vec<Box<dyn Reporter>>,
}

impl FanOut {
    /// Fans out to `reporters`.
    pub(crate) fn new(reporters: Vec<Box<dyn Reporter>>) -> Self {
        FanOut { reporters }
    }
}

impl Reporter for FanOut {
    fn on_start(&mut self, total: usize, resumed: usize) {
        self.reporters.iter_mut().for_each(|r| r.on_start(total, resumed));
    }

    fn on_event(&mut self, event: &RunEvent) {
        self.reporters.iter_mut().for_each(|r| r.on_event(event));
    }

    fn on_finish(&mut self) {
        self.reporters.iter_mut().for_each(|r| r.on_finish());
    }

    fn on_warning(&mut self, message: &str) {
        self.reporters.iter_mut().for_each(|r| r.on_warning(message));
    }

    fn on_note(&mut self, message: &str) {
        self.reporters.iter_mut().for_each(|r| r.on_note(message));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// Writes down what it is told, into a list the test keeps.
    struct Tape(Arc<Mutex<Vec<String>>>);

    impl Reporter for Tape {
        fn on_start(&mut self, total: usize, resumed: usize) {
            self.0.lock().unwrap().push(format!("start {total} {resumed}"));
        }
        fn on_event(&mut self, event: &RunEvent) {
            if let RunEvent::TrialStarted { id, .. } = event {
                self.0.lock().unwrap().push(format!("started {id}"));
            }
        }
        fn on_finish(&mut self) {
            self.0.lock().unwrap().push("finish".into());
        }
        fn on_warning(&mut self, message: &str) {
            self.0.lock().unwrap().push(format!("warning {message}"));
        }
        fn on_note(&mut self, message: &str) {
            self.0.lock().unwrap().push(format!("note {message}"));
        }
    }

    #[test]
    fn every_reporter_sees_every_call_in_order() {
        let (a, b) = (Arc::new(Mutex::new(Vec::new())), Arc::new(Mutex::new(Vec::new())));
        let mut fan = FanOut::new(vec![Box::new(Tape(a.clone())), Box::new(Tape(b.clone()))]);
        fan.on_warning("dup rows");
        fan.on_start(3, 1);
        fan.on_event(&RunEvent::TrialStarted { index: 0, id: "t0000-a".into() });
        fan.on_note("waiting");
        fan.on_finish();
        let expected = ["warning dup rows", "start 3 1", "started t0000-a", "note waiting", "finish"];
        assert_eq!(*a.lock().unwrap(), expected);
        assert_eq!(*b.lock().unwrap(), expected);
    }
}
