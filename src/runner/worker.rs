//! Trials in worker processes: this binary re-invoked as `<binary> worker
//! SPEC`, one trial at a time, for objectives whose trials cannot share a
//! process ([`Parallelism::Processes`](crate::objective::Parallelism)):
//! Burn's autodiff graph sits behind a process-global lock, and Burn's RNG is
//! process-global too.
//!
//! The parent sends one JSON line per trial on the child's stdin (the trial
//! and, with early termination, its peers' curves); the child answers on
//! stdout with lines that start with [`PREFIX`]: the trial's events, then the
//! finished trial, whose record waits in its folder for the parent's group
//! commit. Any other line a user's code prints goes to the parent's stderr.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::events::{EventSink, RunEvent};
use super::trial::{FinishedTrial, TrialEnv, run_trial_uncommitted};
use crate::callback::PeerCurves;
use crate::device::Backend;
use crate::plan::TrialSpec;

/// Marks the protocol's lines among whatever else a child prints.
pub(crate) const PREFIX: &str = "@sweep-worker ";

/// One trial for a child to run.
#[derive(Debug, Serialize, Deserialize)]
struct Request {
    trial: TrialSpec,
    peers: Option<Vec<Vec<f64>>>,
}

/// What a child says.
#[derive(Debug, Serialize, Deserialize)]
enum Reply {
    Event(RunEvent),
    Finished(Box<FinishedTrial>),
}

/// How to start a child: the same binary, spec, results folder and data.
#[derive(Debug, Clone)]
pub(crate) struct WorkerCommand {
    /// This binary.
    pub exe: PathBuf,
    /// The spec file, as the parent read it (children start in the parent's folder).
    pub spec: PathBuf,
    /// The results root.
    pub results_root: PathBuf,
    /// The spec's hash: a child that reads another spec refuses to start.
    pub spec_hash: String,
    /// The data's fingerprint: a child that reads other data refuses to start.
    pub data_fingerprint: String,
    /// The GPU the child opens, and its index; `None`: the CPU.
    pub device: Option<(Backend, usize)>,
}

struct Running {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
}

/// One worker slot: a child process, started when first needed and again
/// after one dies.
pub(crate) struct ProcessWorker {
    command: WorkerCommand,
    running: Option<Running>,
}

impl ProcessWorker {
    /// A slot that starts its child on the first trial.
    pub(crate) fn new(command: WorkerCommand) -> Self {
        ProcessWorker { command, running: None }
    }

    fn start(&self) -> std::io::Result<Running> {
        let c = &self.command;
        let mut child = Command::new(&c.exe)
            .arg("worker")
            .arg(&c.spec)
            .arg("--results-dir")
            .arg(&c.results_root)
            .arg("--spec-hash")
            .arg(&c.spec_hash)
            .arg("--data-fingerprint")
            .arg(&c.data_fingerprint)
            .args(c.device.iter().flat_map(|(backend, index)| {
                ["--device".to_string(), backend.name().to_string(), "--device-index".to_string(), index.to_string()]
            }))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            return Err(std::io::Error::other("the worker process has no stdin or stdout"));
        };
        Ok(Running { child, stdin, stdout: BufReader::new(stdout) })
    }

    /// Runs `trial` in the child; forwards its events. A child that dies or
    /// answers nonsense is replaced, and the trial is recorded as failed with why.
    pub(crate) fn run(&mut self, env: &TrialEnv, trial: &TrialSpec, events: &dyn EventSink) -> FinishedTrial {
        match self.try_run(env, trial, events) {
            Ok(finished) => finished,
            Err(why) => {
                if let Some(mut r) = self.running.take() {
                    let _ = r.child.kill();
                    let _ = r.child.wait();
                }
                FinishedTrial::died(env, trial, why)
            }
        }
    }

    fn try_run(&mut self, env: &TrialEnv, trial: &TrialSpec, events: &dyn EventSink) -> Result<FinishedTrial, String> {
        if self.running.is_none() {
            let started = self
                .start()
                .map_err(|e| format!("cannot start a worker process ({}): {e}", self.command.exe.display()))?;
            self.running = Some(started);
        }
        let Some(running) = self.running.as_mut() else { unreachable!("started above") };
        // Live peers are not sent: the worker reads them from the results folder itself.
        let request = Request { trial: trial.clone(), peers: env.peers.as_ref().and_then(|p| p.fixed().cloned()) };
        let mut line = serde_json::to_string(&request).map_err(|e| e.to_string())?;
        line.push('\n');
        if let Err(e) = running.stdin.write_all(line.as_bytes()).and_then(|()| running.stdin.flush()) {
            return Err(died(running, &format!("sending it the trial failed: {e}")));
        }
        let mut line = String::new();
        loop {
            line.clear();
            match running.stdout.read_line(&mut line) {
                Ok(0) => return Err(died(running, "it exited during the trial")),
                Ok(_) => {}
                Err(e) => return Err(died(running, &format!("reading its answer failed: {e}"))),
            }
            let Some(json) = line.strip_prefix(PREFIX) else {
                // Whatever the user's code printed.
                eprint!("{line}");
                continue;
            };
            match serde_json::from_str::<Reply>(json.trim_end()) {
                Ok(Reply::Event(event)) => events.emit(event),
                Ok(Reply::Finished(finished)) => return Ok(*finished),
                Err(e) => return Err(format!("its worker process answered something unreadable: {e}")),
            }
        }
    }
}

/// Why a child stopped answering, with its exit status. A child that closed
/// its output but lives on is killed first, so this never waits for ever; a
/// child that already exited keeps its own status.
fn died(running: &mut Running, what: &str) -> String {
    let _ = running.child.kill();
    let status = running.child.wait().map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
    format!("its worker process died: {what} ({status})")
}

impl Drop for ProcessWorker {
    fn drop(&mut self) {
        // Closing stdin ends the child's loop; it exits on its own.
        if let Some(Running { mut child, stdin, .. }) = self.running.take() {
            drop(stdin);
            let _ = child.wait();
        }
    }
}

/// Writes protocol lines to stdout, whole lines at a time.
struct LineSink(Mutex<std::io::Stdout>);

impl LineSink {
    fn send(&self, reply: &Reply) {
        let Ok(json) = serde_json::to_string(reply) else { return };
        if let Ok(mut out) = self.0.lock() {
            let _ = writeln!(out, "{PREFIX}{json}");
            let _ = out.flush();
        }
    }
}

impl EventSink for LineSink {
    fn emit(&self, event: RunEvent) {
        self.send(&Reply::Event(event));
    }
}

/// The child's side: runs each trial it is sent, one at a time, inside a
/// one-thread pool, until its stdin closes.
pub(crate) fn serve(env: &TrialEnv, pool: &rayon::ThreadPool) -> std::io::Result<()> {
    let sink = LineSink(Mutex::new(std::io::stdout()));
    for line in std::io::stdin().lock().lines() {
        let request: Request = serde_json::from_str(&line?).map_err(std::io::Error::other)?;
        let env = TrialEnv { peers: request.peers.map(|p| PeerCurves::Fixed(Arc::new(p))), ..env.clone() };
        let finished = pool.install(|| run_trial_uncommitted(&env, &request.trial, &sink));
        sink.send(&Reply::Finished(Box::new(finished)));
    }
    Ok(())
}
