//! What a running sweep tells the outside: the runner emits events, and
//! reporters (the progress bar, the event log under the results folder, later
//! trackers) subscribe to them through one [`FanOut`]. Events of trials running
//! in worker processes travel to the parent as JSON lines, so every reporter
//! sees the same stream whatever runs the trials.

pub(crate) mod log;

use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

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

    /// Passes several events on, in order, as one message where the sink can.
    fn emit_all(&self, events: Vec<RunEvent>) {
        events.into_iter().for_each(|e| self.emit(e));
    }
}

/// Drops every event.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct NoEvents;

impl EventSink for NoEvents {
    fn emit(&self, _: RunEvent) {}
}

/// How long a trial's first events wait, to reach the run's thread together.
///
/// Every event sent wakes the thread that commits and reports; on a machine
/// whose cores all train, that wake-up preempts a trial. A trial of one short
/// epoch sends three events, and W-trivial spent about 6 % of its time on
/// these wake-ups (2026-12-06). Held for 20 ms, a short trial's events travel
/// with its result, one wake-up instead of four; a longer trial's are passed on
/// by the run's thread once the 20 ms are over ([`Holds::due`]), so nobody
/// watching the progress bar or `sweep status --follow` waits longer than that.
pub(crate) const HOLD_EVENTS: Duration = Duration::from_millis(20);

/// One trial's held events; `None` once they have been passed on, after which
/// its events pass straight through.
struct Hold {
    until: Instant,
    held: Mutex<Option<Vec<RunEvent>>>,
}

/// The holds of the trials running now, for the run's thread to pass on
/// those whose time is over while their trials are still busy.
#[derive(Default)]
pub(crate) struct Holds(Mutex<Vec<Arc<Hold>>>);

impl Holds {
    /// The events of every hold that is over at `now`, oldest hold first;
    /// their trials' later events pass straight through.
    pub(crate) fn due(&self, now: Instant) -> Vec<RunEvent> {
        let Ok(holds) = self.0.lock() else { return Vec::new() };
        let over = holds.iter().filter(|h| h.until <= now);
        over.filter_map(|h| h.held.lock().ok()?.take()).flatten().collect()
    }
}

/// A trial's events, held for its first [`HOLD_EVENTS`] and then passed on as
/// they come, in order. Those still held when the trial ends are taken with
/// [`HeldEvents::into_held`] and sent along with its result.
pub(crate) struct HeldEvents<'a> {
    sink: &'a dyn EventSink,
    holds: &'a Holds,
    hold: Arc<Hold>,
}

impl<'a> HeldEvents<'a> {
    /// Holds the events of a trial starting now for `hold`, then passes them to
    /// `sink`; the hold is in `holds` until [`HeldEvents::into_held`].
    pub(crate) fn new(sink: &'a dyn EventSink, holds: &'a Holds, hold: Duration) -> Self {
        let hold = Arc::new(Hold { until: Instant::now() + hold, held: Mutex::new(Some(Vec::new())) });
        if let Ok(mut all) = holds.0.lock() {
            all.push(Arc::clone(&hold));
        }
        HeldEvents { sink, holds, hold }
    }

    /// The events still held, oldest first.
    pub(crate) fn into_held(self) -> Vec<RunEvent> {
        if let Ok(mut all) = self.holds.0.lock() {
            all.retain(|h| !Arc::ptr_eq(h, &self.hold));
        }
        self.hold.held.lock().ok().and_then(|mut h| h.take()).unwrap_or_default()
    }
}

impl EventSink for HeldEvents<'_> {
    fn emit(&self, event: RunEvent) {
        let Ok(mut held) = self.hold.held.lock() else { return self.sink.emit(event) };
        let Some(list) = held.as_mut() else {
            drop(held);
            return self.sink.emit(event);
        };
        list.push(event);
        if Instant::now() < self.hold.until {
            return;
        }
        let list = held.take().unwrap_or_default();
        drop(held);
        self.sink.emit_all(list);
    }
}

impl<T: From<RunEvent> + From<Vec<RunEvent>> + Send> EventSink for mpsc::Sender<T> {
    fn emit(&self, event: RunEvent) {
        // The receiver is gone only when the run is over; nobody listens any more.
        let _ = self.send(T::from(event));
    }

    fn emit_all(&self, events: Vec<RunEvent>) {
        let _ = self.send(T::from(events));
    }
}

/// Receives a run's events, on the run's own thread only, so output never interleaves.
pub(crate) trait Reporter {
    /// The run starts: `total` planned trials, `resumed` of them already complete.
    fn on_start(&mut self, total: usize, resumed: usize);
    /// Something happened.
    fn on_event(&mut self, event: &RunEvent);
    /// Several things happened, in this order (a trial's held events, a group's commits).
    fn on_events(&mut self, events: &[RunEvent]) {
        events.iter().for_each(|e| self.on_event(e));
    }
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

    fn on_events(&mut self, events: &[RunEvent]) {
        self.reporters.iter_mut().for_each(|r| r.on_events(events));
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

    /// Writes down each message it is sent: one event, or a batch.
    #[derive(Default)]
    struct Messages(Mutex<Vec<Vec<usize>>>);

    impl EventSink for Messages {
        fn emit(&self, event: RunEvent) {
            self.emit_all(vec![event]);
        }
        fn emit_all(&self, events: Vec<RunEvent>) {
            let indices = events.iter().map(|e| if let RunEvent::TrialStarted { index, .. } = e { *index } else { 0 });
            self.0.lock().unwrap().push(indices.collect());
        }
    }

    fn started(index: usize) -> RunEvent {
        RunEvent::TrialStarted { index, id: format!("t{index}") }
    }

    #[test]
    fn a_short_trials_events_are_held_for_its_result_in_order() {
        let (sink, holds) = (Messages::default(), Holds::default());
        let held = HeldEvents::new(&sink, &holds, Duration::from_secs(3600));
        (1..=3).for_each(|i| held.emit(started(i)));
        assert!(sink.0.lock().unwrap().is_empty(), "nothing is sent during the hold");
        assert!(holds.due(Instant::now()).is_empty(), "nor passed on by the run's thread");
        let left: Vec<RunEvent> = held.into_held();
        assert_eq!(left, [started(1), started(2), started(3)]);
        assert!(holds.0.lock().unwrap().is_empty(), "a trial that ended holds nothing any more");
    }

    #[test]
    fn once_the_hold_is_over_the_held_events_go_as_one_message_then_each_as_it_comes() {
        let (sink, holds) = (Messages::default(), Holds::default());
        let held = HeldEvents::new(&sink, &holds, Duration::from_millis(30));
        held.emit(started(1));
        held.emit(started(2));
        std::thread::sleep(Duration::from_millis(40));
        held.emit(started(3));
        held.emit(started(4));
        assert!(held.into_held().is_empty());
        assert_eq!(*sink.0.lock().unwrap(), [vec![1, 2, 3], vec![4]]);
    }

    #[test]
    fn a_hold_that_is_over_is_passed_on_by_the_runs_thread_while_its_trial_is_busy() {
        let (sink, holds) = (Messages::default(), Holds::default());
        let long = HeldEvents::new(&sink, &holds, Duration::from_millis(30));
        let short = HeldEvents::new(&sink, &holds, Duration::from_secs(3600));
        long.emit(started(1));
        short.emit(started(7));
        long.emit(started(2));
        let after = Instant::now() + Duration::from_millis(30);
        assert_eq!(holds.due(after), [started(1), started(2)], "only the hold that is over");
        assert!(holds.due(after).is_empty(), "passed on once");
        long.emit(started(3));
        assert_eq!(*sink.0.lock().unwrap(), [vec![3]], "later events pass straight through");
        assert!(long.into_held().is_empty());
        assert_eq!(short.into_held(), [started(7)]);
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
