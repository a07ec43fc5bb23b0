//! Dispatch: runs trials on the workers (threads or processes), one trial
//! per worker at a time, and commits the finished ones in groups on the
//! calling thread while the workers go on training.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, mpsc};
use std::time::Instant;

use super::claiming::Claiming;
use super::events::{EventSink, HOLD_EVENTS, HeldEvents, Holds, Reporter, RunEvent};
use super::trial::{FinishedTrial, GroupCommit, TrialEnv, run_trial_uncommitted};
use super::worker::{ProcessWorker, WorkerCommand};
use super::{RunError, RunOptions};
use crate::objective::Parallelism;
use crate::plan::TrialSpec;
use crate::store::TrialRecord;

/// Who runs the trials: one-thread rayon pools driven by plain threads, or
/// worker processes.
pub(super) enum Workers {
    Threads(Vec<rayon::ThreadPool>),
    Processes(Vec<Mutex<ProcessWorker>>),
}

impl Workers {
    pub(super) fn len(&self) -> usize {
        match self {
            Workers::Threads(p) => p.len(),
            Workers::Processes(p) => p.len(),
        }
    }

    /// How the trials ran side by side.
    pub(super) fn parallelism(&self) -> Parallelism {
        match self {
            Workers::Threads(_) => Parallelism::Threads,
            Workers::Processes(_) => Parallelism::Processes,
        }
    }

    /// `n` workers of the kind `parallelism` asks for. One trial needs no
    /// second process: it runs here, alone, and just as reproducibly. On a
    /// GPU, worker `w` opens device `placement.slots[w]`.
    pub(super) fn start(
        n: usize,
        parallelism: Parallelism,
        options: &RunOptions,
        command: impl FnOnce(std::path::PathBuf) -> WorkerCommand,
    ) -> Result<Self, RunError> {
        if parallelism == Parallelism::Processes && n > 1 {
            let exe = std::env::current_exe().map_err(|e| RunError::Pool { workers: n, message: e.to_string() })?;
            let command = command(exe);
            let placement = &options.placement;
            let worker = |w: usize| {
                let device = placement.slots.get(w).map(|&index| (placement.backend, index));
                Mutex::new(ProcessWorker::new(WorkerCommand { device, ..command.clone() }))
            };
            return Ok(Workers::Processes((0..n).map(worker).collect()));
        }
        // One single-thread rayon pool per worker, driven by a plain thread. Calling
        // `install` from a rayon worker thread would let that thread steal sibling
        // trials while it waits (measured: all 36 grid trials at once with
        // --workers 1), so the dispatching threads must not be rayon workers.
        Ok(Workers::Threads(
            (0..n)
                .map(|w| single_thread_pool(&format!("sweep-trial-{w}")))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|message| RunError::Pool { workers: options.workers, message })?,
        ))
    }
}

/// How many workers a run starts: in batches, one per trial of a batch; else
/// no more than there are trials to run.
pub(super) fn worker_count(asked: usize, batched: bool, todo: usize) -> usize {
    if batched { asked.max(1) } else { asked.clamp(1, todo.max(1)) }
}

/// Costliest first, stable (plan order among equals), so the run does not
/// end on one long trial.
pub(super) fn costliest_first(todo: Vec<TrialSpec>, cost: impl Fn(&TrialSpec) -> f64) -> Vec<TrialSpec> {
    let mut costs: Vec<(f64, TrialSpec)> = todo.into_iter().map(|t| (cost(&t), t)).collect();
    costs.sort_by(|a, b| b.0.total_cmp(&a.0));
    costs.into_iter().map(|(_, t)| t).collect()
}

pub(crate) fn single_thread_pool(name: &str) -> Result<rayon::ThreadPool, String> {
    let name = name.to_string();
    rayon::ThreadPoolBuilder::new().num_threads(1).thread_name(move |_| name.clone()).build().map_err(|e| e.to_string())
}

/// How long the committer gathers finished trials before committing them as one
/// group. Every barrier stalls file creation in the trials still running (their
/// folders' metadata blocks are under writeback), so fewer, larger groups win.
const GROUP_COMMIT_WINDOW: std::time::Duration = std::time::Duration::from_millis(50);

/// How often a process waiting for other processes' trials looks again.
pub(super) const WAIT_POLL: std::time::Duration = std::time::Duration::from_millis(500);

/// What worker threads tell the committer.
enum Message {
    Event(RunEvent),
    Events(Vec<RunEvent>),
    /// A trial's result, after the events it still held ([`HeldEvents`]).
    Finished(Vec<RunEvent>, Box<FinishedTrial>),
}

impl From<RunEvent> for Message {
    fn from(event: RunEvent) -> Self {
        Message::Event(event)
    }
}

impl From<Vec<RunEvent>> for Message {
    fn from(events: Vec<RunEvent>) -> Self {
        Message::Events(events)
    }
}

/// [`dispatch`], then waits for the trials other processes held, taking over
/// those whose claim goes stale, until every trial of `todo` has a record.
pub(super) fn dispatch_until_done(
    workers: &Workers,
    todo: &[TrialSpec],
    env: &TrialEnv,
    reporter: &mut dyn Reporter,
    claiming: &Claiming,
) -> Vec<TrialRecord> {
    let mut records = dispatch(workers, todo, env, reporter, claiming);
    let mut announced = false;
    loop {
        let waiting = claiming.still_elsewhere(env.dir);
        if waiting.is_empty() || claiming.stopped() {
            return records;
        }
        if !announced {
            reporter.on_note(&format!(
                "waiting for {} trial(s) that other processes are training in {}",
                waiting.len(),
                env.dir.root().display()
            ));
            announced = true;
        }
        std::thread::sleep(WAIT_POLL);
        records.extend(dispatch(workers, &waiting, env, reporter, claiming));
    }
}

/// Runs `todo` on the workers, one trial per worker at a time. The calling
/// thread passes events to the reporter as they come, and commits the trials
/// that finished meanwhile as one group (see [`crate::store::commit_records`])
/// while the workers go on training, then reports each committed record.
fn dispatch(
    workers: &Workers,
    todo: &[TrialSpec],
    env: &TrialEnv,
    reporter: &mut dyn Reporter,
    claiming: &Claiming,
) -> Vec<TrialRecord> {
    let next = AtomicUsize::new(0);
    // A trial is claimed just before it starts, so that processes sharing the folder share the work.
    let next_trial = || loop {
        let trial = todo.get(next.fetch_add(1, Ordering::Relaxed))?;
        if let Some(claimed) = claiming.claim(env.dir, trial) {
            return Some(claimed);
        }
    };
    dispatch_from(workers, &next_trial, env, reporter, claiming)
}

/// Runs the trials `next_trial` hands out (each already claimed) on the
/// workers, until it hands out none.
pub(super) fn dispatch_from(
    workers: &Workers,
    next_trial: &(dyn Fn() -> Option<TrialSpec> + Sync),
    env: &TrialEnv,
    reporter: &mut dyn Reporter,
    claiming: &Claiming,
) -> Vec<TrialRecord> {
    let (tx, rx) = mpsc::channel::<Message>();
    let holds = &Holds::default();
    let mut records = Vec::new();
    std::thread::scope(|scope| {
        match workers {
            Workers::Threads(pools) => {
                for pool in pools {
                    let tx = tx.clone();
                    // One `install` per worker, not per trial: each costs two thread hand-offs.
                    scope.spawn(move || {
                        pool.install(|| {
                            work(next_trial, claiming, &tx, holds, |trial, events| {
                                run_trial_uncommitted(env, trial, events)
                            })
                        })
                    });
                }
            }
            Workers::Processes(slots) => {
                for slot in slots {
                    let tx = tx.clone();
                    scope.spawn(move || {
                        let Ok(mut worker) = slot.lock() else { return };
                        work(next_trial, claiming, &tx, holds, |trial, events| worker.run(env, trial, events));
                    });
                }
            }
        }
        drop(tx);
        let mut group: Vec<FinishedTrial> = Vec::new();
        let mut deadline = Instant::now();
        // One barrier per group: each makes the last group's records durable with this group's files.
        let mut committer = GroupCommit::default();
        let mut flush = |group: &mut Vec<FinishedTrial>, committer: &mut GroupCommit, reporter: &mut dyn Reporter| {
            let mut events = Vec::new();
            for committed in committer.step(env.dir, std::mem::take(group)) {
                match committed {
                    Ok(record) => {
                        claiming.held.release(&env.dir.trial_dir(&record.id));
                        events.push(RunEvent::TrialCommitted { record: Box::new(record.clone()) });
                        records.push(record);
                    }
                    Err(fault) => claiming.stop(fault),
                }
            }
            reporter.on_events(&events);
        };
        // The trials' held events whose hold is over are passed on at least this often.
        let mut holds_due = Instant::now() + HOLD_EVENTS;
        loop {
            let now = Instant::now();
            if now >= holds_due {
                let due = holds.due(now);
                if !due.is_empty() {
                    reporter.on_events(&due);
                }
                holds_due = now + HOLD_EVENTS;
            }
            let committing = !(group.is_empty() && committer.is_idle());
            let wake = if committing { deadline.min(holds_due) } else { holds_due };
            let message = match rx.recv_timeout(wake.saturating_duration_since(now)) {
                Ok(m) => m,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    if committing && Instant::now() >= deadline {
                        flush(&mut group, &mut committer, reporter);
                        // Records just published are sealed by the next barrier, a window later
                        // at the latest, with whatever group has gathered by then.
                        deadline = Instant::now() + GROUP_COMMIT_WINDOW;
                    }
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            };
            match message {
                Message::Event(event) => reporter.on_event(&event),
                Message::Events(events) => reporter.on_events(&events),
                Message::Finished(events, finished) => {
                    reporter.on_events(&events);
                    if group.is_empty() && committer.is_idle() {
                        deadline = Instant::now() + GROUP_COMMIT_WINDOW;
                    }
                    group.push(*finished);
                }
            }
        }
        // The last group, then a barrier for its records.
        flush(&mut group, &mut committer, reporter);
        flush(&mut group, &mut committer, reporter);
    });
    records
}

/// One worker's loop: runs the trials `next_trial` hands out through `run`, one at a time,
/// each with its events held ([`HeldEvents`]), and sends each result; stops when the run
/// stops, the trials run out or nobody listens any more.
fn work(
    next_trial: &(dyn Fn() -> Option<TrialSpec> + Sync),
    claiming: &Claiming,
    tx: &mpsc::Sender<Message>,
    holds: &Holds,
    mut run: impl FnMut(&TrialSpec, &dyn EventSink) -> FinishedTrial,
) {
    while !claiming.stopped()
        && let Some(trial) = next_trial()
    {
        let events = HeldEvents::new(tx, holds, HOLD_EVENTS);
        let finished = run(&trial, &events);
        if let Some(fault) = &finished.storage_fault {
            claiming.stop(fault.clone());
        }
        if tx.send(Message::Finished(events.into_held(), Box::new(finished))).is_err() {
            break;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::Params;

    fn trial(index: usize) -> TrialSpec {
        TrialSpec {
            index,
            id: format!("t{index:04}"),
            seed: 0,
            params: Params::new(),
            config: index,
            repeat: 0,
            attempt: 0,
            new_folder: false,
        }
    }

    #[test]
    fn the_costliest_trials_go_first_and_equals_keep_plan_order() {
        let costs = [1.0, 5.0, 1.0, 9.0, 5.0];
        let order: Vec<usize> =
            costliest_first((0..5).map(trial).collect(), |t| costs[t.index]).into_iter().map(|t| t.index).collect();
        assert_eq!(order, [3, 1, 4, 0, 2]);
    }

    #[test]
    fn workers_never_outnumber_the_trials_except_in_batches() {
        assert_eq!(worker_count(4, false, 2), 2);
        assert_eq!(worker_count(4, false, 0), 1);
        assert_eq!(worker_count(0, false, 5), 1);
        assert_eq!(worker_count(4, true, 0), 4, "a batched run learns its trials as it goes");
        assert_eq!(worker_count(0, true, 3), 1);
    }
}
