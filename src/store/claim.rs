//! Claims: which process trains a trial, decided through the results folder
//! alone, so that several `sweep run --resume` processes, on one machine or
//! on many over a shared folder, train every trial once.
//!
//! A claim is `claim-<attempt>.json` in the trial's folder, created
//! exclusively (`O_CREAT | O_EXCL`, atomic on local filesystems and on NFSv3+).
//! The highest attempt is the current claim. A process takes a trial by
//! creating the next attempt's file; of two processes that try at once,
//! exactly one succeeds, and no claim is ever overwritten or renamed, so a
//! live claim cannot be stolen by a race. The holder keeps the file locked
//! (flock) and refreshes its mtime (its heartbeat) while it trains. A claim
//! is stale, and the next attempt may be created, when its process is gone
//! (same host: nobody holds its lock, which the kernel drops when a process
//! dies however it dies) or its heartbeat is older than the stale limit (any
//! host, where locks may not be shared).

use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

pub(crate) use super::liveness::HEARTBEAT;
use super::liveness::{self, ClaimFacts, Liveness, Lock};

/// A claim whose heartbeat is older than this is stale on any host (unless
/// `SWEEP_CLAIM_STALE_AFTER` says otherwise, in seconds).
pub(crate) const STALE_AFTER: Duration = Duration::from_secs(60);

/// Who holds a claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct ClaimInfo {
    /// 1 for the first attempt at the trial, then 2, ...
    pub attempt: usize,
    /// Host name of the process.
    pub host: String,
    /// Its process id.
    pub pid: u32,
    /// When it claimed the trial (RFC 3339). Read as `started_at` too: the
    /// claim file doubles as the trial's `running.json` marker and ends up
    /// holding its record, whose `attempt`, `host`, `pid` and `started_at`
    /// still say who held the claim.
    #[serde(alias = "started_at")]
    pub claimed_at: String,
    /// `SLURM_JOB_ID`, when run by SLURM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm_job_id: Option<String>,
    /// `SLURM_ARRAY_JOB_ID`_`SLURM_ARRAY_TASK_ID`, when run as an array task
    /// (what the running marker says, which this file is too).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm_array_task: Option<String>,
}

impl ClaimInfo {
    /// A claim of this process, now.
    pub(crate) fn mine(attempt: usize) -> Self {
        ClaimInfo {
            attempt,
            host: super::hostname(),
            pid: std::process::id(),
            claimed_at: super::now_rfc3339(),
            slurm_job_id: std::env::var("SLURM_JOB_ID").ok(),
            slurm_array_task: std::env::var("SLURM_ARRAY_JOB_ID")
                .ok()
                .zip(std::env::var("SLURM_ARRAY_TASK_ID").ok())
                .map(|(j, t)| format!("{j}_{t}")),
        }
    }

    /// Whether this process holds it.
    pub(crate) fn is_mine(&self) -> bool {
        self.host == super::hostname() && self.pid == std::process::id()
    }
}

/// The current claim of a trial folder, as found on disk.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CurrentClaim {
    /// Its content (`None` while its holder is still writing it, or when it is unreadable).
    pub info: Option<ClaimInfo>,
    /// Its attempt number, from the file name.
    pub attempt: usize,
    /// Its file.
    pub path: PathBuf,
    /// Seconds since its last heartbeat.
    pub silent_for: Duration,
}

/// What [`try_claim`] found.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Claim {
    /// This process now holds the trial (a new claim file, at this attempt).
    Taken(ClaimInfo),
    /// Another live process holds it.
    Held(Option<ClaimInfo>),
}

/// The claim files' names: `claim-<attempt>.json`.
pub(crate) fn claim_file_name(attempt: usize) -> String {
    format!("claim-{attempt}.json")
}

fn attempt_of(name: &str) -> Option<usize> {
    name.strip_prefix("claim-")?.strip_suffix(".json")?.parse().ok()
}

/// Whether a name in a trial folder is a claim file.
pub(crate) fn is_claim_file(name: &str) -> bool {
    attempt_of(name).is_some()
}

/// The stale limit: [`STALE_AFTER`], or `SWEEP_CLAIM_STALE_AFTER` seconds.
pub(crate) fn stale_after() -> Duration {
    std::env::var("SWEEP_CLAIM_STALE_AFTER")
        .ok()
        .and_then(|s| s.parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s > 0.0)
        .map_or(STALE_AFTER, Duration::from_secs_f64)
}

/// The highest-numbered claim in `trial_dir`, if any.
pub(crate) fn current(trial_dir: &Path) -> io::Result<Option<CurrentClaim>> {
    let entries = match fs::read_dir(trial_dir) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        other => other?,
    };
    let best = entries
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter_map(|name| attempt_of(&name).map(|a| (a, name)))
        .max_by_key(|(a, _)| *a);
    let Some((attempt, name)) = best else { return Ok(None) };
    let path = trial_dir.join(name);
    let modified = match fs::metadata(&path) {
        Ok(m) => m.modified()?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let silent_for = SystemTime::now().duration_since(modified).unwrap_or_default();
    let info = fs::read(&path).ok().and_then(|b| serde_json::from_slice(&b).ok());
    Ok(Some(CurrentClaim { info, attempt, path, silent_for }))
}

impl CurrentClaim {
    /// Whether its holder lives, from its heartbeat, and on its own host from
    /// its lock (the kernel drops a process's locks when it dies, SIGKILL
    /// included, even while it lingers as a zombie; no /proc needed) and,
    /// where the filesystem has no locks, its pid. See [`liveness::judge_claim`].
    pub(crate) fn liveness(&self, limit: Duration) -> Liveness {
        let facts = ClaimFacts {
            host: self.info.as_ref().map(|i| i.host.as_str()),
            pid: self.info.as_ref().map_or(0, |i| i.pid),
            silent_for: self.silent_for,
            limit,
        };
        liveness::judge_claim(facts, liveness::this_host(), || lock_state(&self.path), liveness::process)
    }

    /// Whether it may be taken over: its holder is known to be gone. A holder
    /// whose liveness cannot be told counts as alive until its heartbeat is
    /// older than `limit`.
    pub(crate) fn is_stale(&self, limit: Duration) -> bool {
        self.liveness(limit).is_gone()
    }
}

/// How the lock of the claim file at `path` looks from here.
fn lock_state(path: &Path) -> Lock {
    match File::open(path).map(|f| f.try_lock()) {
        Ok(Ok(())) => Lock::Free,
        Ok(Err(std::fs::TryLockError::WouldBlock)) => Lock::Held,
        // No locks on this filesystem, or the file went away: the heartbeat decides.
        Ok(Err(std::fs::TryLockError::Error(_))) | Err(_) => Lock::CannotTell,
    }
}

/// Tries to claim the trial in `trial_dir` (created if needed) for this
/// process: the first attempt when it has no claim, the next one when its
/// current claim is stale or this process's own. `after_record` is the
/// attempt count a finished record of the trial holds, so that a rerun of a
/// failed trial counts on.
#[cfg(test)]
pub(crate) fn try_claim(trial_dir: &Path, after_record: usize, limit: Duration) -> io::Result<Claim> {
    let taken = take(trial_dir, || Some(after_record), limit)?;
    Ok(taken.map_or(Claim::Held(None), |t| t.claim))
}

/// What [`take`] found, with what its caller needs next.
#[derive(Debug)]
pub(crate) struct Taken {
    pub claim: Claim,
    /// The new claim file, open for writing, so that [`HeldClaims::hold_file`]
    /// locks it without opening it again (with [`Claim::Taken`] only).
    pub file: Option<File>,
    /// This call created the trial's folder, which holds nothing but the claim:
    /// the trial starts in it without looking for an earlier attempt's files.
    pub new_folder: bool,
}

/// [`try_claim`], with the claim file and whether the folder is new. `earlier`
/// reads the trial's finished record, in a folder that was there already: the
/// attempts it holds, or `None` when it settles the trial, which is then not
/// claimed (and `take` returns `None`).
pub(crate) fn take(
    trial_dir: &Path,
    earlier: impl FnOnce() -> Option<usize>,
    limit: Duration,
) -> io::Result<Option<Taken>> {
    // A folder this call created holds no record and no claim: the first attempt is tried
    // without reading or listing it. Its creation with O_EXCL still decides, should another
    // process race for it.
    let mut fresh = match fs::create_dir(trial_dir) {
        Ok(()) => true,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => false,
        Err(_) => {
            fs::create_dir_all(trial_dir)?;
            false
        }
    };
    let after_record = match fresh {
        true => 0,
        false => match earlier() {
            Some(attempts) => attempts,
            None => return Ok(None),
        },
    };
    loop {
        // True only for the first claim tried in a folder this call created.
        let first_look = std::mem::take(&mut fresh);
        let found = if first_look { None } else { current(trial_dir)? };
        let next = match found {
            None => after_record + 1,
            // This process's own claims count like anyone's: another of its workers may hold one.
            Some(c) if c.is_stale(limit) => c.attempt.max(after_record) + 1,
            Some(c) => return Ok(Some(Taken { claim: Claim::Held(c.info), file: None, new_folder: false })),
        };
        let info = ClaimInfo::mine(next);
        let path = trial_dir.join(claim_file_name(next));
        let mut bytes = serde_json::to_vec_pretty(&info).map_err(io::Error::other)?;
        bytes.push(b'\n');
        // Whole or not at all: a claim killed between its creation and its first write was
        // unreadable, and counted as live until its heartbeat limit.
        match super::atomic::create_new_whole(&path, &bytes) {
            // A claim that lost no race is the only file in a folder this call created.
            Ok(file) => return Ok(Some(Taken { claim: Claim::Taken(info), file: Some(file), new_folder: first_look })),
            // Another process took this attempt first: look again.
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(e) => return Err(e),
        }
    }
}

/// The claims this process holds (by trial folder), with a thread that
/// refreshes their heartbeat until dropped.
pub(crate) struct HeldClaims {
    held: Arc<Mutex<Vec<(PathBuf, File)>>>,
    stop: Arc<(Mutex<bool>, std::sync::Condvar)>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Default for HeldClaims {
    fn default() -> Self {
        Self::new()
    }
}

/// How many descriptors a process makes room for before it holds claims: short trials hold
/// theirs open until their group commits, a few hundred at once at thousands of trials a second.
const DESCRIPTORS_HELD_AT_ONCE: i32 = 512;

/// Grows this process's table of open files to [`DESCRIPTORS_HELD_AT_ONCE`] now. Each time a
/// process of several threads outgrows the table, the kernel waits for an RCU grace period
/// before it frees the old one (`expand_fdtable`): held claims doubled it three times during a
/// 1000-trial run, 12 ms in all with the workers waiting. The table never shrinks, so a
/// descriptor opened that high and closed at once leaves the room.
fn make_room_for_held_claims() {
    if let Ok(root) = File::open("/") {
        let _ = rustix::io::fcntl_dupfd_cloexec(&root, DESCRIPTORS_HELD_AT_ONCE - 1);
    }
}

impl HeldClaims {
    /// Starts the heartbeat thread.
    pub(crate) fn new() -> Self {
        make_room_for_held_claims();
        let held: Arc<Mutex<Vec<(PathBuf, File)>>> = Arc::default();
        let stop: Arc<(Mutex<bool>, std::sync::Condvar)> = Arc::default();
        let (h, s) = (held.clone(), stop.clone());
        let thread = std::thread::Builder::new()
            .name("sweep-heartbeat".into())
            .spawn(move || {
                let (lock, wake) = &*s;
                let Ok(mut stopped) = lock.lock() else { return };
                while !*stopped {
                    if let Ok(held) = h.lock() {
                        for (_, file) in held.iter() {
                            let _ = file.set_modified(SystemTime::now());
                        }
                    }
                    stopped = match wake.wait_timeout(stopped, HEARTBEAT) {
                        Ok((guard, _)) => guard,
                        Err(_) => return,
                    };
                }
            })
            .ok();
        HeldClaims { held, stop, thread }
    }

    /// Keeps the claim of attempt `attempt` in `trial_dir` alive, from now on:
    /// its lock held, its heartbeat refreshed.
    #[cfg(test)]
    pub(crate) fn hold(&self, trial_dir: &Path, attempt: usize) {
        let path = trial_dir.join(claim_file_name(attempt));
        let Ok(file) = File::options().write(true).open(&path) else { return };
        let _ = file.set_modified(SystemTime::now());
        self.hold_file(trial_dir, file);
    }

    /// Keeps the claim whose file [`take`] just created in `trial_dir` alive
    /// (its mtime is already now).
    pub(crate) fn hold_file(&self, trial_dir: &Path, file: File) {
        // Where the filesystem has no locks, the heartbeat alone tells that the claim lives.
        let _ = file.try_lock();
        if let Ok(mut held) = self.held.lock() {
            held.push((trial_dir.to_path_buf(), file));
        }
    }

    /// Lets go of the claim in `trial_dir` (its trial has its record).
    pub(crate) fn release(&self, trial_dir: &Path) {
        if let Ok(mut held) = self.held.lock() {
            // Compared as bytes: Path's equality parses both paths into components, which cost
            // more than the rest of a short trial's claim while hundreds wait for their commit.
            held.retain(|(d, _)| d.as_os_str() != trial_dir.as_os_str());
        }
    }
}

impl Drop for HeldClaims {
    fn drop(&mut self) {
        let (lock, wake) = &*self.stop;
        if let Ok(mut stopped) = lock.lock() {
            *stopped = true;
        }
        wake.notify_all();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_claim_per_attempt_and_a_live_one_is_respected() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("t0001-x");
        let Claim::Taken(first) = try_claim(&dir, 0, STALE_AFTER).unwrap() else { panic!("free trial") };
        assert_eq!((first.attempt, first.pid), (1, std::process::id()));
        // A fresh claim is live, this process's own too (another of its workers may train it).
        assert!(matches!(try_claim(&dir, 0, STALE_AFTER).unwrap(), Claim::Held(Some(ClaimInfo { attempt: 1, .. }))));
        // Another live process's claim (pid 1 on this host) is respected.
        let other = ClaimInfo { pid: 1, ..ClaimInfo::mine(3) };
        fs::write(dir.join(claim_file_name(3)), serde_json::to_vec(&other).unwrap()).unwrap();
        assert_eq!(try_claim(&dir, 0, STALE_AFTER).unwrap(), Claim::Held(Some(other.clone())));
        // Its heartbeat stops: stale after the limit, on any host.
        let far = ClaimInfo { host: "elsewhere".into(), ..other };
        fs::write(dir.join(claim_file_name(3)), serde_json::to_vec(&far).unwrap()).unwrap();
        let old = SystemTime::now() - Duration::from_secs(120);
        File::options().write(true).open(dir.join(claim_file_name(3))).unwrap().set_modified(old).unwrap();
        let Claim::Taken(taken) = try_claim(&dir, 0, STALE_AFTER).unwrap() else { panic!("stale claim") };
        assert_eq!(taken.attempt, 4);
        assert_eq!(current(&dir).unwrap().unwrap().attempt, 4);
    }

    #[test]
    fn a_process_makes_room_for_its_held_claims_before_it_holds_them() {
        make_room_for_held_claims();
        if let Ok(status) = fs::read_to_string("/proc/self/status") {
            let size: i32 = status
                .lines()
                .find_map(|l| l.strip_prefix("FDSize:"))
                .and_then(|v| v.trim().parse().ok())
                .expect("FDSize in /proc/self/status");
            assert!(size >= DESCRIPTORS_HELD_AT_ONCE, "room for {size} descriptors");
        }
    }

    #[test]
    fn a_claim_nobody_holds_any_more_is_stale_on_its_host_at_once() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("t");
        let Claim::Taken(info) = try_claim(&dir, 0, STALE_AFTER).unwrap() else { panic!("a free trial") };
        let path = dir.join(claim_file_name(1));
        let set_age = |secs: u64| {
            let at = SystemTime::now() - Duration::from_secs(secs);
            File::options().write(true).open(&path).unwrap().set_modified(at).unwrap();
        };
        let held = HeldClaims::new();
        held.hold(&dir, info.attempt);
        set_age(3);
        assert!(!current(&dir).unwrap().unwrap().is_stale(STALE_AFTER), "its holder lives and keeps its lock");
        // The holder lets go (as a killed process does): stale without waiting for the heartbeat limit.
        held.release(&dir);
        // Another test's child, between its fork and its exec, holds a copy of every descriptor
        // of this process, the lock's too, for a moment: the lock is free once it has exec'd.
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while !current(&dir).unwrap().unwrap().is_stale(STALE_AFTER) {
            assert!(std::time::Instant::now() < deadline, "still held 5 s after its holder let go");
            std::thread::sleep(Duration::from_millis(10));
        }
        // A claim younger than the grace is live: its holder may not have locked it yet.
        set_age(0);
        assert!(!current(&dir).unwrap().unwrap().is_stale(STALE_AFTER));
        // A record's attempts count on; a folder the claim creates holds no record.
        let retried = tmp.path().join("u");
        fs::create_dir(&retried).unwrap();
        assert!(matches!(try_claim(&retried, 2, STALE_AFTER).unwrap(), Claim::Taken(ClaimInfo { attempt: 3, .. })));
        let created = tmp.path().join("v");
        let read = std::cell::Cell::new(false);
        let taken = take(
            &created,
            || {
                read.set(true);
                Some(2)
            },
            STALE_AFTER,
        )
        .unwrap();
        assert!(matches!(
            taken,
            Some(Taken { claim: Claim::Taken(ClaimInfo { attempt: 1, .. }), file: Some(_), new_folder: true })
        ));
        assert!(!read.get(), "no record is read in a folder the claim created");
        let again = take(&created, || Some(0), Duration::ZERO).unwrap().unwrap();
        assert!(matches!(again.claim, Claim::Taken(ClaimInfo { attempt: 2, .. })), "{again:?}");
        assert!(!again.new_folder, "a folder that was there already is not new");
        assert!(take(&retried, || None, STALE_AFTER).unwrap().is_none(), "a settled trial is not claimed");
    }

    #[test]
    fn a_claim_that_became_its_trials_record_still_names_its_holder() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("t");
        let Claim::Taken(info) = try_claim(&dir, 0, STALE_AFTER).unwrap() else { panic!("a free trial") };
        // The trial's record, written into the claim's inode through running.json (trial_folder).
        let record = crate::store::TrialRecord {
            host: info.host.clone(),
            pid: info.pid,
            attempt: 1,
            started_at: info.claimed_at.clone(),
            ..crate::store::TrialRecord::synthetic(
                "s",
                "t",
                crate::metrics::Monitor::new("mcc", crate::metrics::Goal::Maximize, 0.0),
            )
        };
        fs::write(dir.join(claim_file_name(1)), serde_json::to_vec_pretty(&record).unwrap()).unwrap();
        let found = current(&dir).unwrap().unwrap().info.expect("the record names the claim's holder");
        assert_eq!((found.attempt, &found.host, found.pid), (1, &info.host, info.pid));
        // Its holder is this process, which holds no lock on it: gone once the grace is over,
        // so that --retry-failed need not wait for the stale limit.
        let old = SystemTime::now() - Duration::from_secs(10);
        File::options().write(true).open(dir.join(claim_file_name(1))).unwrap().set_modified(old).unwrap();
        assert!(current(&dir).unwrap().unwrap().is_stale(STALE_AFTER));
    }

    #[test]
    fn the_heartbeat_refreshes_held_claims() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("t");
        try_claim(&dir, 0, STALE_AFTER).unwrap();
        let path = dir.join(claim_file_name(1));
        let old = SystemTime::now() - Duration::from_secs(300);
        File::options().write(true).open(&path).unwrap().set_modified(old).unwrap();
        let held = HeldClaims::new();
        held.hold(&dir, 1);
        for _ in 0..100 {
            if current(&dir).unwrap().unwrap().silent_for < Duration::from_secs(60) {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(current(&dir).unwrap().unwrap().silent_for < Duration::from_secs(60));
        drop(held);
    }
}
