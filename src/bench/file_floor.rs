//! W-trivial's floor: the file operations of its trials alone, with no
//! training, no metrics and no events, through the store's own code (claim,
//! folder start, best files, record, pipelined group commit). What a trial
//! writes is copied from a trial W-trivial just committed, so the sizes are
//! real. The rate it reaches bounds W-trivial's on this machine and disk: a
//! target above it needs fewer files per trial, not faster training.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::store::{TrialFolder, claim, commit_step, names};

/// How long the committer gathers trials, as the runner's group commit does.
const WINDOW: Duration = Duration::from_millis(50);

/// The files one committed trial wrote, by name, and its record.
pub(super) struct TrialFiles {
    history: Vec<u8>,
    best: Vec<(&'static str, Vec<u8>)>,
    record: Vec<u8>,
}

impl TrialFiles {
    /// The files of the committed trial in `trial_dir`; `best` names which of
    /// its best files to keep writing (all three, or fewer, to weigh a format
    /// that would merge some away).
    pub(super) fn of(trial_dir: &Path, best: &[&'static str]) -> io::Result<Self> {
        Ok(TrialFiles {
            history: fs::read(trial_dir.join(names::HISTORY))?,
            best: best.iter().map(|&name| Ok((name, fs::read(trial_dir.join(name))?))).collect::<io::Result<_>>()?,
            record: fs::read(trial_dir.join(names::RECORD))?,
        })
    }
}

/// Trials per second, records durable, for `trials` trials of `files` written
/// by `workers` threads into a new results folder `root`.
pub(super) fn trials_per_second(root: &Path, files: &TrialFiles, trials: usize, workers: usize) -> io::Result<f64> {
    let trials_dir = root.join(names::TRIALS);
    fs::create_dir_all(&trials_dir)?;
    let preprocessing = root.join(names::PREPROCESSING);
    fs::write(&preprocessing, b"{}")?;
    let split = files.history.iter().position(|&b| b == b'\n').map_or(0, |i| i + 1);
    let (header, lines) = files.history.split_at(split);
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<io::Result<(PathBuf, fs::File)>>();
    let start = Instant::now();
    std::thread::scope(|scope| -> io::Result<()> {
        for _ in 0..workers {
            let tx = tx.clone();
            let next = &next;
            let (trials_dir, preprocessing) = (&trials_dir, &preprocessing);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= trials {
                        break;
                    }
                    let dir = trials_dir.join(format!("t{i:06}"));
                    let written = one_trial(&dir, preprocessing, header, lines, files).map(|claim| (dir, claim));
                    if tx.send(written).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        commit_as_the_runner_does(root, &rx)
    })?;
    Ok(trials as f64 / start.elapsed().as_secs_f64())
}

/// What the runner does in a trial's folder, without the training; returns the held claim.
fn one_trial(
    dir: &Path,
    preprocessing: &Path,
    header: &[u8],
    lines: &[u8],
    files: &TrialFiles,
) -> io::Result<fs::File> {
    let Some(claim::Taken { file: Some(claim_file), new_folder: true, .. }) =
        claim::take(dir, || Some(0), claim::stale_after())?
    else {
        return Err(io::Error::other(format!("{}: not a new folder", dir.display())));
    };
    let _ = claim_file.try_lock();
    let mut folder =
        TrialFolder::start_in_claimed(dir, b"", &dir.join(claim::claim_file_name(1)), preprocessing, header)?;
    folder.append_history(lines)?;
    for (name, bytes) in &files.best {
        folder.replace(name, bytes)?;
    }
    folder.finish(&files.record)?;
    Ok(claim_file)
}

/// Pipelined group commit over `rx`, with the runner's window.
fn commit_as_the_runner_does(root: &Path, rx: &mpsc::Receiver<io::Result<(PathBuf, fs::File)>>) -> io::Result<()> {
    let (mut group, mut published, mut held) = (Vec::new(), Vec::new(), Vec::new());
    let mut deadline = Instant::now() + WINDOW;
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(written) => {
                let (dir, claim) = written?;
                group.push(dir);
                held.push(claim);
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                published = commit(root, &published, std::mem::take(&mut group))?;
                deadline = Instant::now() + WINDOW;
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        }
    }
    let last = commit(root, &published, group)?;
    commit(root, &last, Vec::new())?;
    drop(held);
    Ok(())
}

/// One barrier: `published` durable, `group` published; returns `group`.
fn commit(root: &Path, published: &[PathBuf], group: Vec<PathBuf>) -> io::Result<Vec<PathBuf>> {
    let (barrier, renamed) = commit_step(root, published, &group);
    barrier?;
    renamed.into_iter().collect::<io::Result<Vec<()>>>()?;
    Ok(group)
}
