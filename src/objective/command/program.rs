//! One trial's program: started in its own process group with its output in
//! the trial's folder, spoken to over a localhost socket, ended (the whole
//! group) when the trial ends, fails or runs past its timeout.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, ErrorKind, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::protocol::{self, Message};
use super::{CommandSpec, argv, client};
use crate::metrics::{Monitor, Task};
use crate::objective::{ProgramRun, Trainer, TrialContext, TrialError, Validation};
use crate::store::names;

/// How often a wait looks at the clock and at the program's exit.
const POLL: Duration = Duration::from_millis(50);
/// Lines of the program's stderr a failed trial's message ends with.
const STDERR_TAIL_LINES: usize = 15;

/// A running program, as a [`Trainer`].
pub(crate) struct ProgramTrainer {
    child: Child,
    listener: TcpListener,
    connection: Option<Connection>,
    token: String,
    started: Instant,
    timeout: Option<f64>,
    task: Task,
    monitor: Monitor,
    dir: PathBuf,
    run: ProgramRun,
    /// The report read ahead (by a checkpoint's wait, or by `next_epoch`).
    pending: Option<(usize, Validation)>,
    /// The epoch the runner handles now.
    epoch: usize,
    /// The epoch whose checkpoint was asked for and not yet taken.
    save_asked: Option<usize>,
    /// The checkpoint taken for an epoch.
    taken: Option<(usize, Vec<u8>)>,
    /// The program's exit status, once it ended.
    exited: Option<ExitStatus>,
}

struct Connection {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
    line: Vec<u8>,
}

/// What the program did next.
enum Next {
    Message(Message),
    /// It closed the connection; its exit status.
    Ended(ExitStatus),
}

impl ProgramTrainer {
    /// Starts the program of `command` for `trial`.
    pub(crate) fn start(
        command: &CommandSpec,
        trial: &TrialContext<'_>,
        monitor: &Monitor,
    ) -> Result<Self, TrialError> {
        let dir = trial
            .dir
            .ok_or_else(|| TrialError::failed("a command objective runs only inside a sweep's trial folder"))?;
        let dir = std::path::absolute(dir).map_err(|e| TrialError::failed(format!("{}: {e}", dir.display())))?;
        let cwd = match &command.cwd {
            Some(c) => std::path::absolute(c),
            None => std::env::current_dir(),
        }
        .map_err(|e| TrialError::failed(format!("[command] cwd: {e}")))?;
        let params = trial.params.values();
        let params_json = serde_json::to_string(params).map_err(TrialError::failed)?;
        let params_file = dir.join(names::PROGRAM_PARAMS);
        if command.argv.iter().chain(command.predict.iter().flatten()).any(|a| a.contains("${args_json_file}")) {
            crate::store::write_atomic(&params_file, params_json.as_bytes())
                .map_err(|e| TrialError::failed(format!("{}: {e}", params_file.display())))?;
        }
        let expansion = argv::Expansion {
            program: command.program.as_deref(),
            interpreter: &command.interpreter,
            params,
            params_file: &params_file,
        };
        let argv = argv::expand(&command.argv, &expansion);
        let predict = command.predict.as_ref().map(|p| argv::expand(p, &expansion));
        let client_dir =
            client::installed().map_err(|e| TrialError::failed(format!("cannot install sweep_client.py: {e}")))?;
        let python_path = match std::env::var_os("PYTHONPATH").filter(|p| !p.is_empty()) {
            Some(old) => {
                let mut paths = vec![client_dir.clone()];
                paths.extend(std::env::split_paths(&old));
                std::env::join_paths(paths).map_err(TrialError::failed)?
            }
            None => client_dir.into_os_string(),
        };
        let checkpoint = dir.join(names::PROGRAM_CHECKPOINT);
        let mut env = command.env.clone();
        let mut set = |k: &str, v: String| env.insert(k.to_string(), v);
        set("SWEEP_PROTOCOL", protocol::PROTOCOL.to_string());
        set("SWEEP_TRIAL_ID", trial.id.to_string());
        set("SWEEP_TRIAL_INDEX", trial.index.to_string());
        set("SWEEP_SEED", trial.seed.to_string());
        set("SWEEP_PARAMS", params_json);
        set("SWEEP_TASK", trial.data.task.as_str().to_string());
        set("SWEEP_METRIC", monitor.metric.clone());
        set(
            "SWEEP_GOAL",
            match monitor.goal {
                crate::metrics::Goal::Maximize => "maximize".into(),
                crate::metrics::Goal::Minimize => "minimize".into(),
            },
        );
        set("SWEEP_CHECKPOINT", checkpoint.display().to_string());
        set("SWEEP_TRIAL_DIR", dir.display().to_string());
        set("PYTHONPATH", python_path.to_string_lossy().into_owned());

        let listener = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| TrialError::failed(format!("cannot open a local socket: {e}")))?;
        listener.set_nonblocking(true).map_err(TrialError::failed)?;
        let address = listener.local_addr().map_err(TrialError::failed)?;
        // The token keeps any other local process from speaking for this trial; not a secret beyond that.
        let token = crate::store::sha256_hex(format!("{}{address}{:?}", trial.id, Instant::now()).as_bytes());
        let log = |name: &str| {
            let path = dir.join(name);
            std::fs::File::create(&path).map_err(|e| TrialError::failed(format!("{}: {e}", path.display())))
        };
        let Some((program, args)) = argv.split_first() else {
            return Err(TrialError::failed("[command] argv expanded to nothing"));
        };
        let mut cmd = Command::new(program);
        cmd.args(args)
            .current_dir(&cwd)
            .envs(&env)
            .env("SWEEP_ADDRESS", address.to_string())
            .env("SWEEP_TOKEN", &token)
            .stdin(Stdio::null())
            .stdout(log(names::STDOUT_LOG)?)
            .stderr(log(names::STDERR_LOG)?);
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.spawn().map_err(|e| {
            TrialError::failed(format!(
                "cannot start {program:?} (in {}): {e}; [command] argv is {argv:?}",
                cwd.display()
            ))
        })?;
        Ok(ProgramTrainer {
            child,
            listener,
            connection: None,
            token,
            started: Instant::now(),
            timeout: command.timeout,
            task: trial.data.task,
            monitor: monitor.clone(),
            dir,
            run: ProgramRun { argv, cwd, env, predict },
            pending: None,
            epoch: 0,
            save_asked: None,
            taken: None,
            exited: None,
        })
    }

    /// Fails the trial when the timeout has passed: the program's group is killed first.
    fn check_deadline(&mut self) -> Result<(), TrialError> {
        match self.timeout {
            Some(t) if self.started.elapsed().as_secs_f64() > t => {
                self.kill();
                Err(TrialError::failed(format!(
                    "ran past [command] timeout = {t} s (after {} reported epochs); its process group was killed",
                    self.epoch.saturating_sub(usize::from(self.pending.is_none()))
                )))
            }
            _ => Ok(()),
        }
    }

    /// Kills the program's whole process group and reaps it.
    fn kill(&mut self) {
        if self.exited.is_some() {
            return;
        }
        kill_group(&self.child);
        let _ = self.child.kill();
        self.exited = self.child.wait().ok();
    }

    /// Waits for the program to exit (it closed its connection, or never opened one).
    fn wait_exit(&mut self) -> Result<ExitStatus, TrialError> {
        loop {
            if let Some(status) = self.exited {
                return Ok(status);
            }
            if let Some(status) = self.child.try_wait().map_err(TrialError::failed)? {
                self.exited = Some(status);
                // The group may hold children of the program; none outlives its trial.
                kill_group(&self.child);
                return Ok(status);
            }
            self.check_deadline()?;
            std::thread::sleep(POLL / 10);
        }
    }

    /// The next thing the program does: a message, or its end.
    fn next(&mut self) -> Result<Next, TrialError> {
        if self.connection.is_none() {
            loop {
                match self.listener.accept() {
                    Ok((stream, _)) => {
                        let _ = stream.set_nodelay(true);
                        stream.set_nonblocking(false).map_err(TrialError::failed)?;
                        stream.set_read_timeout(Some(POLL)).map_err(TrialError::failed)?;
                        let writer = stream.try_clone().map_err(TrialError::failed)?;
                        self.connection = Some(Connection { reader: BufReader::new(stream), writer, line: Vec::new() });
                        match self.read_line()? {
                            Some(Message::Hello { protocol, token }) if token == self.token => {
                                if protocol != protocol::PROTOCOL {
                                    return Err(self.protocol_error(format!(
                                        "speaks protocol {protocol}; this sweep speaks protocol {}",
                                        protocol::PROTOCOL
                                    )));
                                }
                                break;
                            }
                            Some(Message::Hello { .. }) => {
                                // Not our program's connection: drop it and wait on.
                                self.connection = None;
                            }
                            Some(_) => return Err(self.protocol_error("sent a message before \"hello\"".into())),
                            None => self.connection = None,
                        }
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        if let Some(status) = self.child.try_wait().map_err(TrialError::failed)? {
                            self.exited = Some(status);
                            return Ok(Next::Ended(status));
                        }
                        self.check_deadline()?;
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    Err(e) => return Err(TrialError::failed(format!("local socket: {e}"))),
                }
            }
        }
        match self.read_line()? {
            Some(m) => Ok(Next::Message(m)),
            None => Ok(Next::Ended(self.wait_exit()?)),
        }
    }

    /// One message from the connection; `None` when the program closed it.
    fn read_line(&mut self) -> Result<Option<Message>, TrialError> {
        loop {
            let Some(c) = self.connection.as_mut() else { return Ok(None) };
            match c.reader.read_until(b'\n', &mut c.line) {
                Ok(0) => {
                    self.connection = None;
                    return Ok(None);
                }
                Ok(_) if c.line.ends_with(b"\n") => {
                    let line = std::mem::take(&mut c.line);
                    return protocol::parse(&line, self.task).map(Some).map_err(|m| self.protocol_error(m));
                }
                Ok(_) => continue,
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) => {
                    self.check_deadline()?;
                }
                Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) => {
                    self.connection = None;
                    return Ok(None);
                }
                Err(e) => return Err(TrialError::failed(format!("reading from the program: {e}"))),
            }
        }
    }

    fn protocol_error(&mut self, message: String) -> TrialError {
        self.kill();
        TrialError::failed(format!("the program {message}; its process group was killed"))
    }

    /// The failure of a program that exited with `status`, with the end of its stderr.
    fn exit_failure(&self, status: ExitStatus, doing: &str) -> TrialError {
        let path = self.dir.join(names::STDERR_LOG);
        let text = std::fs::read(&path).map(|b| String::from_utf8_lossy(&b).into_owned()).unwrap_or_default();
        let tail = super::last_lines(&text, STDERR_TAIL_LINES);
        let status = match status.code() {
            Some(code) => format!("exited with status {code}"),
            None => format!("was ended by a signal ({status})"),
        };
        let tail = if tail.trim().is_empty() {
            " (its stderr is empty)".to_string()
        } else {
            format!("; the end of its stderr ({}):\n{tail}", names::STDERR_LOG)
        };
        TrialError::failed(format!("the program {status} {doing}{tail}"))
    }

    /// Takes the checkpoint the program wrote for `epoch` into memory; the runner stores it.
    fn take_checkpoint(&mut self, epoch: usize) -> Result<(), TrialError> {
        let path = self.dir.join(names::PROGRAM_CHECKPOINT);
        let bytes = std::fs::read(&path).map_err(|e| {
            TrialError::failed(format!(
                "sweep asked for the checkpoint of epoch {epoch} at {} (decision.save), but the program wrote none \
                 before its next message ({e})",
                path.display()
            ))
        })?;
        let _ = std::fs::remove_file(&path);
        self.save_asked = None;
        self.taken = Some((epoch, bytes));
        Ok(())
    }
}

impl Trainer for ProgramTrainer {
    fn next_epoch(&mut self) -> Result<bool, TrialError> {
        self.epoch += 1;
        if self.pending.is_some() {
            return Ok(true);
        }
        match self.next()? {
            Next::Message(Message::Report { epoch, validation }) => {
                self.pending = Some((epoch, validation));
                Ok(true)
            }
            Next::Message(_) => {
                Err(self.protocol_error("sent \"hello\" or \"saved\" where sweep waited for a report".into()))
            }
            Next::Ended(status) if status.success() && self.epoch > 1 => Ok(false),
            Next::Ended(status) if status.success() => Err(TrialError::failed(
                "the program exited (status 0) without reporting an epoch; report each with trial.report(epoch, metrics)",
            )),
            Next::Ended(status) => Err(self.exit_failure(status, &format!("before it reported epoch {}", self.epoch))),
        }
    }

    fn train_epoch(&mut self) -> Result<f64, TrialError> {
        // The program trains on its own; a loss it reports arrives with its metrics.
        Ok(0.0)
    }

    fn validate(&mut self) -> Result<Vec<f32>, TrialError> {
        Err(TrialError::failed("a command objective's program validates on its own rows"))
    }

    fn validation(&mut self) -> Result<Validation, TrialError> {
        let Some((epoch, validation)) = self.pending.take() else {
            return Err(TrialError::failed("no report to validate (sweep's own mistake)"));
        };
        protocol::check_report(epoch, self.epoch, &validation, &self.monitor).map_err(|m| self.protocol_error(m))?;
        Ok(validation)
    }

    fn decided(&mut self, epoch: usize, save: bool, stop: bool) -> Result<(), TrialError> {
        let line = protocol::decision(epoch, save, stop, &self.dir.join(names::PROGRAM_CHECKPOINT));
        if save {
            self.save_asked = Some(epoch);
            let _ = std::fs::remove_file(self.dir.join(names::PROGRAM_CHECKPOINT));
        }
        let Some(c) = self.connection.as_mut() else {
            return Err(TrialError::failed("the program closed its connection before hearing sweep's decision"));
        };
        c.writer.write_all(&line).map_err(|e| TrialError::failed(format!("telling the program the decision: {e}")))?;
        self.await_checkpoint()
    }

    fn checkpoint(&self, _metadata: &BTreeMap<String, String>) -> Result<Vec<u8>, TrialError> {
        match &self.taken {
            Some((epoch, bytes)) if *epoch == self.epoch => Ok(bytes.clone()),
            _ => Err(TrialError::failed("no checkpoint was taken for this epoch (sweep's own mistake)")),
        }
    }

    fn finish(&mut self) -> Result<(), TrialError> {
        if let Some(c) = self.connection.take() {
            // Closing says "no more decisions": a program that reports on gets an error, not a hang.
            let _ = c.writer.shutdown(std::net::Shutdown::Write);
            let mut reader = c.reader;
            let mut rest = Vec::new();
            loop {
                match std::io::Read::read_to_end(&mut reader, &mut rest) {
                    Ok(_) => break,
                    Err(e)
                        if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut | ErrorKind::Interrupted) =>
                    {
                        self.check_deadline()?;
                    }
                    Err(_) => break,
                }
            }
        }
        let status = self.wait_exit()?;
        match status.success() {
            true => Ok(()),
            false => Err(self.exit_failure(status, "after its last epoch")),
        }
    }

    fn verbatim(&self) -> bool {
        true
    }

    fn program(&self) -> Option<ProgramRun> {
        Some(self.run.clone())
    }
}

impl ProgramTrainer {
    /// Waits for the checkpoint asked for at the current epoch: the program's
    /// next message (or its clean exit) says the file is complete.
    fn await_checkpoint(&mut self) -> Result<(), TrialError> {
        let Some(epoch) = self.save_asked else { return Ok(()) };
        match self.next()? {
            Next::Message(Message::Saved { epoch: e }) if e == epoch => self.take_checkpoint(epoch),
            Next::Message(Message::Saved { epoch: e }) => {
                Err(self
                    .protocol_error(format!("confirmed the checkpoint of epoch {e}; sweep asked for epoch {epoch}")))
            }
            Next::Message(Message::Report { epoch: e, validation }) => {
                self.pending = Some((e, validation));
                self.take_checkpoint(epoch)
            }
            Next::Message(Message::Hello { .. }) => Err(self.protocol_error("said \"hello\" twice".into())),
            Next::Ended(status) if status.success() => self.take_checkpoint(epoch),
            Next::Ended(status) => {
                Err(self.exit_failure(status, &format!("before its checkpoint of epoch {epoch} was complete")))
            }
        }
    }
}

impl Drop for ProgramTrainer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Kills the process group `child` leads (it was started as its own group).
fn kill_group(child: &Child) {
    #[cfg(unix)]
    {
        let pid = rustix::process::Pid::from_child(child);
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
    #[cfg(not(unix))]
    let _ = child;
}
