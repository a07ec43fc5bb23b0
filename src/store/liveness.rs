//! Whether the process that works on a trial still lives, from evidence every
//! platform offers: the claim's lock and heartbeat, and the operating
//! system's answer about a process id (`kill(pid, 0)`), never from /proc
//! alone. Where nothing here can tell — another host whose heartbeat is late
//! but not yet past the stale limit, a filesystem without locks, a platform
//! without process ids — the answer is [`Liveness::Unknown`], and unknown
//! counts as possibly alive: only [`Liveness::Gone`] lets anyone run the
//! trial again, so two processes never train one trial because one of them
//! could not see the other.
//!
//! The decisions ([`judge_claim`], [`judge_marker`]) are pure: the caller
//! hands them the facts and the probes, so the whole table is unit-tested.

use std::sync::OnceLock;
use std::time::Duration;

/// What is known about the process behind a claim or a marker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Liveness {
    /// It runs: its lock is held, the system knows its pid, or its heartbeat is recent.
    Alive,
    /// It has ended; the text says how we know.
    Gone(String),
    /// Nothing this host can see tells; the text says why. Counts as possibly alive.
    Unknown(String),
}

impl Liveness {
    /// Whether the trial may be run again by someone else.
    pub(crate) fn is_gone(&self) -> bool {
        matches!(self, Liveness::Gone(_))
    }
}

/// How often a holder refreshes its claims (lives here, beside the limits
/// derived from it, so that judging a claim needs nothing of [`super::claim`]).
pub(crate) const HEARTBEAT: Duration = Duration::from_secs(5);

/// A claim younger than this is live whatever its lock says: its holder
/// creates the file first and locks it right after.
pub(crate) const LOCK_GRACE: Duration = Duration::from_secs(1);

/// A heartbeat at most this old (three beats) shows its holder alive from
/// any host; older, and another host's claim is unknown until the stale limit.
pub(crate) const FRESH_HEARTBEAT: Duration = Duration::from_secs(3 * HEARTBEAT.as_secs());

/// This machine's host name as the kernel reports it (`uname`'s node name, the
/// name other hosts' records carry); `None` where it cannot be read, and then
/// no recorded host counts as this one.
pub(crate) fn this_host() -> Option<&'static str> {
    static HOST: OnceLock<Option<String>> = OnceLock::new();
    HOST.get_or_init(|| read_host_name().map(|h| h.trim().to_string()).filter(|h| !h.is_empty())).as_deref()
}

#[cfg(unix)]
fn read_host_name() -> Option<String> {
    Some(rustix::system::uname().nodename().to_string_lossy().into_owned())
}

#[cfg(not(unix))]
fn read_host_name() -> Option<String> {
    std::env::var("COMPUTERNAME").or_else(|_| std::env::var("HOSTNAME")).ok()
}

/// Whether a process with this id exists on this host: `kill(pid, 0)`. A
/// process of another user (`EPERM`) is alive; an exited one that its parent
/// has not reaped yet (a zombie, where /proc shows it) is gone.
#[cfg(unix)]
pub(crate) fn process(pid: u32) -> Liveness {
    let Some(raw) = i32::try_from(pid).ok().filter(|p| *p > 0) else {
        // kill() with 0 or a negative number would address process groups, never one process.
        return if pid == 0 {
            Liveness::Unknown("no process id was recorded".into())
        } else {
            Liveness::Gone(format!("{pid} is not a valid process id"))
        };
    };
    let Some(target) = rustix::process::Pid::from_raw(raw) else {
        return Liveness::Unknown(format!("{pid} is not a valid process id here"));
    };
    classify_kill(pid, rustix::process::test_kill_process(target).map_err(|e| e.raw_os_error()), || is_zombie(pid))
}

/// No process ids to ask about on this platform.
#[cfg(not(unix))]
pub fn process(pid: u32) -> Liveness {
    Liveness::Unknown(format!("this platform gives no way to check process {pid}"))
}

/// What `kill(pid, 0)`'s result (`Err` holds the errno) says about `pid`.
#[cfg(unix)]
fn classify_kill(pid: u32, result: Result<(), i32>, zombie: impl FnOnce() -> bool) -> Liveness {
    use rustix::io::Errno;
    match result {
        Ok(()) if zombie() => Liveness::Gone(format!("process {pid} has exited (a zombie its parent has not reaped)")),
        Ok(()) => Liveness::Alive,
        // It exists, but belongs to another user.
        Err(e) if e == Errno::PERM.raw_os_error() => Liveness::Alive,
        Err(e) if e == Errno::SRCH.raw_os_error() => Liveness::Gone(format!("no process {pid} runs on this host")),
        Err(e) => Liveness::Unknown(format!("kill({pid}, 0) failed: {}", std::io::Error::from_raw_os_error(e))),
    }
}

/// `kill(pid, 0)` succeeds on a zombie; where /proc exists it tells one apart
/// (state Z or X). Without /proc a zombie counts as alive until it is reaped.
#[cfg(unix)]
fn is_zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| rest.starts_with('Z') || rest.starts_with('X')))
        .unwrap_or(false)
}

/// How the lock of a claim file looks from this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lock {
    /// Some process holds it.
    Held,
    /// Nobody holds it.
    Free,
    /// This filesystem cannot say (no locks, or an error).
    CannotTell,
}

/// What a claim file shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ClaimFacts<'a> {
    /// The host that claimed it; `None` while the file is being written, or when it cannot be read.
    pub host: Option<&'a str>,
    /// The claimant's process id (meaningful only with `host`).
    pub pid: u32,
    /// Time since its last heartbeat.
    pub silent_for: Duration,
    /// The stale limit: a heartbeat older than this means gone, on any host.
    pub limit: Duration,
}

fn secs(d: Duration) -> String {
    format!("{:.0} s", d.as_secs_f64())
}

/// Whether the holder of a claim lives. `this_host` is [`this_host()`];
/// `lock` and `process` are asked only where they count (on the claim's own
/// host), so that another host's claim costs no system calls.
///
/// | evidence | answer |
/// | --- | --- |
/// | heartbeat older than the limit | gone (any host) |
/// | file unreadable, lock held | alive |
/// | file unreadable, lock free or unknown | unknown |
/// | this host, claimed within [`LOCK_GRACE`] | alive |
/// | this host, lock held / free | alive / gone |
/// | this host, no locks here, pid alive | alive |
/// | this host, no locks here, pid gone or unknown | unknown (a container's pid namespace looks the same) |
/// | another host, heartbeat within [`FRESH_HEARTBEAT`] | alive |
/// | another host, heartbeat later than that | unknown |
pub(crate) fn judge_claim(
    facts: ClaimFacts<'_>,
    this_host: Option<&str>,
    lock: impl FnOnce() -> Lock,
    process: impl FnOnce(u32) -> Liveness,
) -> Liveness {
    let ClaimFacts { host, pid, silent_for, limit } = facts;
    let until_stale = format!("it counts as gone once its heartbeat is {} old", secs(limit));
    if silent_for > limit {
        return Liveness::Gone(format!("no heartbeat for {} (stale after {})", secs(silent_for), secs(limit)));
    }
    let Some(host) = host else {
        return match lock() {
            Lock::Held => Liveness::Alive,
            _ if silent_for <= LOCK_GRACE => Liveness::Alive,
            _ => Liveness::Unknown(format!("its claim file cannot be read (being written, or damaged); {until_stale}")),
        };
    };
    if this_host == Some(host) {
        if silent_for <= LOCK_GRACE {
            return Liveness::Alive;
        }
        return match lock() {
            Lock::Held => Liveness::Alive,
            Lock::Free => Liveness::Gone(format!("nobody holds its lock any more: process {pid} has ended")),
            Lock::CannotTell => match process(pid) {
                Liveness::Alive => Liveness::Alive,
                Liveness::Gone(why) => Liveness::Unknown(format!(
                    "this filesystem shows no lock and {why}, which a process in another container would also \
                     look like; {until_stale}"
                )),
                Liveness::Unknown(why) => {
                    Liveness::Unknown(format!("this filesystem shows no lock and {why}; {until_stale}"))
                }
            },
        };
    }
    if silent_for <= FRESH_HEARTBEAT {
        return Liveness::Alive;
    }
    let whose = match this_host {
        Some(_) => format!("it runs on {host}, another host"),
        None => format!("it runs on {host}, and this host's name cannot be read to compare"),
    };
    Liveness::Unknown(format!("{whose}, whose last heartbeat is {} old; {until_stale}", secs(silent_for)))
}

/// Whether the process of a `running.json` marker without a claim lives (a
/// folder from before claims, or one whose claim was removed): no lock and no
/// heartbeat, so only its own host can ask about its pid.
pub(crate) fn judge_marker(
    host: &str,
    pid: u32,
    this_host: Option<&str>,
    process: impl FnOnce(u32) -> Liveness,
) -> Liveness {
    if this_host == Some(host) {
        return process(pid);
    }
    Liveness::Unknown(format!(
        "it runs on {host}, another host, and holds no claim whose heartbeat would tell; if it is gone, \
         `sweep trial SPEC --index I` runs it again"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMIT: Duration = Duration::from_secs(60);

    fn facts(host: Option<&str>, silent_secs: u64) -> ClaimFacts<'_> {
        ClaimFacts { host, pid: 4711, silent_for: Duration::from_secs(silent_secs), limit: LIMIT }
    }

    fn no_lock() -> Lock {
        panic!("the lock must not be asked here")
    }

    fn no_probe(_: u32) -> Liveness {
        panic!("the process must not be asked here")
    }

    fn label(l: &Liveness) -> &'static str {
        match l {
            Liveness::Alive => "alive",
            Liveness::Gone(_) => "gone",
            Liveness::Unknown(_) => "unknown",
        }
    }

    #[test]
    fn the_claim_decision_table() {
        let me = Some("here");
        // A heartbeat past the limit is gone on any host, whatever else says.
        for host in [Some("here"), Some("there"), None] {
            let l = judge_claim(facts(host, 61), me, no_lock, no_probe);
            assert_eq!(label(&l), "gone", "{host:?}: {l:?}");
            assert!(matches!(&l, Liveness::Gone(why) if why.contains("no heartbeat for 61 s")), "{l:?}");
        }
        // This host: the lock decides, right after the grace.
        assert_eq!(judge_claim(facts(Some("here"), 0), me, no_lock, no_probe), Liveness::Alive);
        assert_eq!(judge_claim(facts(Some("here"), 30), me, || Lock::Held, no_probe), Liveness::Alive);
        let gone = judge_claim(facts(Some("here"), 2), me, || Lock::Free, no_probe);
        assert!(matches!(&gone, Liveness::Gone(why) if why.contains("process 4711 has ended")), "{gone:?}");
        // This host without locks: the pid can only confirm a process, never bury one.
        let alive = |_| Liveness::Alive;
        assert_eq!(judge_claim(facts(Some("here"), 30), me, || Lock::CannotTell, alive), Liveness::Alive);
        let dead = |pid| Liveness::Gone(format!("no process {pid} runs on this host"));
        let l = judge_claim(facts(Some("here"), 30), me, || Lock::CannotTell, dead);
        assert!(matches!(&l, Liveness::Unknown(why) if why.contains("no process 4711")), "{l:?}");
        let cannot = |_| Liveness::Unknown("this platform gives no way".into());
        assert_eq!(label(&judge_claim(facts(Some("here"), 30), me, || Lock::CannotTell, cannot)), "unknown");
        // Another host: a recent heartbeat shows it alive, a late one leaves it unknown; no probes.
        assert_eq!(judge_claim(facts(Some("there"), 15), me, no_lock, no_probe), Liveness::Alive);
        let l = judge_claim(facts(Some("there"), 16), me, no_lock, no_probe);
        assert!(matches!(&l, Liveness::Unknown(why) if why.contains("on there, another host")), "{l:?}");
        assert_eq!(label(&judge_claim(facts(Some("there"), 60), me, no_lock, no_probe)), "unknown");
        // This host's name unknown: every claim is another host's, even one naming the same string.
        assert_eq!(label(&judge_claim(facts(Some("here"), 30), None, no_lock, no_probe)), "unknown");
        // An unreadable claim: its lock can show it alive, never gone.
        assert_eq!(judge_claim(facts(None, 30), me, || Lock::Held, no_probe), Liveness::Alive);
        assert_eq!(judge_claim(facts(None, 0), me, || Lock::Free, no_probe), Liveness::Alive);
        assert_eq!(label(&judge_claim(facts(None, 30), me, || Lock::Free, no_probe)), "unknown");
        assert_eq!(label(&judge_claim(facts(None, 30), me, || Lock::CannotTell, no_probe)), "unknown");
    }

    #[test]
    fn a_marker_without_a_claim_is_judged_by_its_pid_on_its_own_host_only() {
        let gone = |_| Liveness::Gone("no process".into());
        assert_eq!(label(&judge_marker("here", 7, Some("here"), gone)), "gone");
        assert_eq!(judge_marker("here", 7, Some("here"), |_| Liveness::Alive), Liveness::Alive);
        assert_eq!(label(&judge_marker("there", 7, Some("here"), no_probe)), "unknown");
        assert_eq!(label(&judge_marker("here", 7, None, no_probe)), "unknown");
    }

    #[test]
    fn this_host_has_a_name() {
        let host = this_host().expect("uname gives a node name");
        assert!(!host.is_empty() && host.trim() == host);
        if let Ok(proc_name) = std::fs::read_to_string("/proc/sys/kernel/hostname") {
            assert_eq!(host, proc_name.trim(), "the same name the kernel shows in /proc");
        }
    }

    #[cfg(unix)]
    #[test]
    fn live_dead_and_zombie_processes() {
        assert_eq!(process(std::process::id()), Liveness::Alive);
        // A child that has exited but is not reaped yet is a zombie: gone.
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        std::thread::sleep(Duration::from_millis(200));
        if std::path::Path::new("/proc").exists() {
            assert_eq!(label(&process(pid)), "gone", "a zombie");
        }
        child.wait().unwrap();
        // Reaped: no such process (unless the pid was reused in these microseconds).
        let l = process(pid);
        assert!(matches!(&l, Liveness::Gone(why) if why.contains(&format!("no process {pid}"))), "{l:?}");
        assert_eq!(label(&process(0)), "unknown");
        assert_eq!(label(&process(u32::MAX - 1)), "gone", "no pid above i32::MAX: never kill(-2, 0)");
    }

    #[cfg(unix)]
    #[test]
    fn kill_results_map_to_liveness() {
        use rustix::io::Errno;
        let err = |e: Errno| Err(e.raw_os_error());
        assert_eq!(classify_kill(9, Ok(()), || false), Liveness::Alive);
        assert_eq!(label(&classify_kill(9, Ok(()), || true)), "gone");
        assert_eq!(classify_kill(9, err(Errno::PERM), || false), Liveness::Alive, "another user's process");
        assert_eq!(label(&classify_kill(9, err(Errno::SRCH), || false)), "gone");
        assert_eq!(label(&classify_kill(9, err(Errno::INVAL), || false)), "unknown");
    }
}
