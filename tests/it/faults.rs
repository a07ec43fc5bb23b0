//! A results folder on a filesystem that fills up or turns read-only: every
//! command stops with an error naming the file and the system's reason,
//! leaves no empty or half-written file behind, keeps what was committed, and
//! `sweep run --resume` finishes the sweep once there is space again, with the
//! leaderboard of an uninterrupted run.
//!
//! The tests mount small tmpfs filesystems, so they need root. Where mounting
//! is impossible they print a `skipped:` line; `SWEEP_REQUIRE_MOUNT=1` (CI) makes that a
//! failure.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{SpecBuilder, Tool, read_csv, skip, sweep, text};

/// A tmpfs mounted for one test, unmounted when dropped (also when the test fails).
struct Tmpfs {
    at: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (as mount's `size=`, e.g. "400k") at `at`; `None` where this
    /// process cannot mount (after [`skip`]), which `SWEEP_REQUIRE_MOUNT=1` turns into a failure.
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        fs::create_dir_all(at).unwrap();
        let out = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(at).output();
        match out {
            Ok(o) if o.status.success() => Some(Tmpfs { at: at.to_path_buf() }),
            other => {
                let why = match other {
                    Ok(o) => text(&o.stderr),
                    Err(e) => e.to_string(),
                };
                skip(Tool::Mount, &format!("cannot mount a tmpfs ({}); run as root", why.trim()));
                None
            }
        }
    }

    /// `mount -o remount,<options>`: a new size, or `ro` / `rw`.
    fn remount(&self, options: &str) {
        let out = Command::new("mount").args(["-o", &format!("remount,{options}")]).arg(&self.at).output().unwrap();
        assert!(out.status.success(), "remount {options}: {}", text(&out.stderr));
    }

    /// Fills the filesystem with a file, so that at most `free` bytes are left.
    fn fill_leaving(&self, free: u64) {
        let filler = self.at.join("filler");
        let avail = || {
            let out = Command::new("df").args(["--output=avail", "-B1"]).arg(&self.at).output().unwrap();
            text(&out.stdout).lines().nth(1).unwrap().trim().parse::<u64>().unwrap()
        };
        let size = avail().saturating_sub(free);
        let mut f = fs::File::create(&filler).unwrap();
        use std::io::Write;
        // Written, not sparse: tmpfs counts only the pages that hold data.
        let chunk = vec![1u8; 64 * 1024];
        let mut left = size;
        while left > 0 {
            let n = left.min(chunk.len() as u64) as usize;
            if f.write_all(&chunk[..n]).is_err() {
                break;
            }
            left -= n as u64;
        }
        assert!(avail() <= free + 4096, "filled up to {} free bytes", avail());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.at).output();
    }
}

/// 8 trials (lr × hidden × layers) × 3 epochs on digits, one worker per core of CI.
fn spec(name: &str) -> SpecBuilder {
    SpecBuilder::new(name)
        .seed(5)
        .workers(2)
        .train("batch_size", 64)
        .values("lr", [0.003, 0.01])
        .values("hidden", [16, 48])
        .values("layers", [1, 2])
}

/// The leaderboard without its timing column.
fn without_timing(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut rows = read_csv(path);
    for r in &mut rows {
        crate::common::drop_timings(r);
    }
    rows
}

/// Every file under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else { return out };
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// No empty file, no temp file of an atomic write, and no trial folder that
/// holds anything but a whole committed trial.
fn assert_no_debris(results: &Path) {
    for f in files_under(results) {
        let name = f.file_name().unwrap().to_string_lossy().into_owned();
        if name == "filler" || name == ".proposals.lock" || name == ".lock" {
            continue;
        }
        assert!(fs::metadata(&f).unwrap().len() > 0, "{}: an empty file was left", f.display());
        assert!(!name.ends_with(".tmp"), "{}: a temp file was left", f.display());
    }
}

/// The trial folders under `sweep` with a record, and each record's bytes.
fn committed(sweep: &Path) -> BTreeMap<String, Vec<u8>> {
    let Ok(entries) = fs::read_dir(sweep.join("trials")) else { return BTreeMap::new() };
    let mut out = BTreeMap::new();
    for e in entries {
        let dir = e.unwrap().path();
        let record = dir.join("trial.json");
        if let Ok(bytes) = fs::read(&record) {
            out.insert(dir.file_name().unwrap().to_string_lossy().into_owned(), bytes);
        } else {
            // Left without a record: whatever is there is no half-written file a later command reads as a result.
            assert!(!dir.join("best.json").exists(), "{}: best.json without a record", dir.display());
        }
    }
    out
}

fn stderr(o: &Output) -> String {
    text(&o.stderr)
}

fn assert_clean_failure(out: &Output, path_part: &str, reason: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(1), "exit 1 for a full or read-only disk: {err}");
    assert!(err.contains(reason), "stderr names the reason \"{reason}\": {err}");
    assert!(err.contains(path_part), "stderr names the path ({path_part}): {err}");
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn a_full_disk_stops_the_run_with_a_clear_error_and_resume_finishes_it() {
    let tmp = tempfile::tempdir().unwrap();
    spec("full").write_as(tmp.path(), "s.toml");
    let reference = sweep(tmp.path(), &["run", "s.toml", "--results-dir", "reference", "-q"]);
    assert!(reference.status.success(), "{}", stderr(&reference));
    let whole: u64 =
        files_under(&tmp.path().join("reference/full")).iter().map(|f| fs::metadata(f).unwrap().len()).sum();

    let Some(disk) = Tmpfs::mount(&tmp.path().join("disk"), "64m") else { return };
    // Room for the sweep's own files and a few trials, not for all of them.
    disk.fill_leaving(whole / 2);
    let out = sweep(tmp.path(), &["run", "s.toml", "--results-dir", "disk", "-q"]);
    assert_clean_failure(&out, "disk/full/", "No space left on device");
    assert!(stderr(&out).contains("--resume"), "says how to go on: {}", stderr(&out));
    assert!(out.stdout.is_empty(), "--quiet prints nothing but the error: {}", text(&out.stdout));
    let results = tmp.path().join("disk/full");
    assert_no_debris(&results);
    let kept = committed(&results);
    assert!(kept.len() < 8, "the disk filled up before the end: {} trials committed", kept.len());
    // A trial with a record is whole: it vouches for its checkpoint.
    for id in kept.keys() {
        let check = sweep(tmp.path(), &["verify", &format!("disk/full/trials/{id}")]);
        assert!(check.status.success(), "{id}: {}", stderr(&check));
    }

    // A second try on the still full disk changes nothing that was committed.
    let again = sweep(tmp.path(), &["run", "s.toml", "--results-dir", "disk", "-q", "--resume"]);
    assert_clean_failure(&again, "disk/full", "No space left on device");
    assert_no_debris(&results);

    // Space again: the resumed sweep is the uninterrupted one.
    fs::remove_file(disk.at.join("filler")).unwrap();
    let resumed = sweep(tmp.path(), &["run", "s.toml", "--results-dir", "disk", "-q", "--resume"]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert_eq!(
        without_timing(&results.join("leaderboard.csv")),
        without_timing(&tmp.path().join("reference/full/leaderboard.csv"))
    );
    let after = committed(&results);
    for (id, bytes) in &kept {
        assert_eq!(after.get(id), Some(bytes), "{id}: a committed trial was rewritten");
    }
    assert_no_debris(&results);
}

#[test]
fn a_full_disk_fails_aggregate_register_and_export_cleanly() {
    let tmp = tempfile::tempdir().unwrap();
    spec("agg").write_as(tmp.path(), "s.toml");
    let Some(disk) = Tmpfs::mount(&tmp.path().join("disk"), "64m") else { return };
    let run = sweep(tmp.path(), &["run", "s.toml", "--results-dir", "disk", "-q"]);
    assert!(run.status.success(), "{}", stderr(&run));
    let results = tmp.path().join("disk/agg");
    let board = fs::read(results.join("leaderboard.csv")).unwrap();
    let top = read_csv(&results.join("leaderboard.csv"))[0]["trial_id"].clone();
    disk.fill_leaving(0);

    let out = sweep(tmp.path(), &["aggregate", "disk/agg", "-q"]);
    assert_clean_failure(&out, "disk/agg/", "No space left on device");
    assert_eq!(fs::read(results.join("leaderboard.csv")).unwrap(), board, "the earlier leaderboard stays");
    assert_no_debris(&results);

    let out = sweep(
        tmp.path(),
        &["registry", "register", "disk/agg", "--trial", &top, "--name", "digits", "--results-dir", "disk"],
    );
    assert_clean_failure(&out, "disk/registry/", "No space left on device");
    let models = tmp.path().join("disk/registry/models/digits");
    assert!(!models.join("v1").exists(), "no half-registered version is left");
    assert_no_debris(&tmp.path().join("disk/registry"));

    let export = tmp.path().join("disk/export");
    let out = sweep(tmp.path(), &["export", &format!("disk/agg/trials/{top}"), "--to", "disk/export"]);
    assert_clean_failure(&out, "disk/export/", "No space left on device");
    assert!(files_under(&export).is_empty(), "no partial export: {:?}", files_under(&export));

    // With space again, each of them works.
    fs::remove_file(disk.at.join("filler")).unwrap();
    for args in [
        vec!["aggregate", "disk/agg", "-q"],
        vec!["registry", "register", "disk/agg", "--trial", &top, "--name", "digits", "--results-dir", "disk"],
        vec!["export", &format!("disk/agg/trials/{top}"), "--to", "disk/export"],
    ] {
        let out = sweep(tmp.path(), &args.iter().map(|s| s.as_ref()).collect::<Vec<&str>>());
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
    assert_eq!(files_under(&export).len(), 4);
}

#[test]
fn read_only_results_fail_every_writing_command_with_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    spec("ro").write_as(tmp.path(), "s.toml");
    let Some(disk) = Tmpfs::mount(&tmp.path().join("disk"), "64m") else { return };
    let run = sweep(tmp.path(), &["run", "s.toml", "--results-dir", "disk", "-q"]);
    assert!(run.status.success(), "{}", stderr(&run));
    let results = tmp.path().join("disk/ro");
    let top = read_csv(&results.join("leaderboard.csv"))[0]["trial_id"].clone();
    // One trial to run again on --resume.
    let last = fs::read_dir(results.join("trials")).unwrap().map(|e| e.unwrap().path()).max().unwrap();
    fs::remove_dir_all(&last).unwrap();
    let before: Vec<(PathBuf, Vec<u8>)> =
        files_under(&results).into_iter().map(|f| (f.clone(), fs::read(&f).unwrap())).collect();
    disk.remount("ro");

    let out = sweep(tmp.path(), &["run", "s.toml", "--results-dir", "disk", "-q", "--resume"]);
    assert_clean_failure(&out, "disk/ro/trials/", "Read-only file system");
    let out = sweep(tmp.path(), &["aggregate", "disk/ro", "-q"]);
    assert_clean_failure(&out, "disk/ro/", "Read-only file system");
    let out = sweep(
        tmp.path(),
        &["registry", "register", "disk/ro", "--trial", &top, "--name", "m", "--results-dir", "disk"],
    );
    assert_clean_failure(&out, "disk/registry", "Read-only file system");
    let out = sweep(tmp.path(), &["export", &format!("disk/ro/trials/{top}"), "--to", "disk/export"]);
    assert_clean_failure(&out, "disk/export", "Read-only file system");
    let after: Vec<(PathBuf, Vec<u8>)> =
        files_under(&results).into_iter().map(|f| (f.clone(), fs::read(&f).unwrap())).collect();
    assert!(before == after, "nothing changed on the read-only disk");

    disk.remount("rw");
    let resumed = sweep(tmp.path(), &["run", "s.toml", "--results-dir", "disk", "-q", "--resume"]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert_eq!(read_csv(&results.join("leaderboard.csv")).len(), 8);
}
