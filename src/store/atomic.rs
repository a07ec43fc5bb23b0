//! Atomic file writes: readers in other processes see the old file or the new
//! one, never a half-written one, even if we crash.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to a temporary file in `path`'s folder, fsyncs it, renames
/// it over `path`, then fsyncs the folder so the rename itself is durable.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace(path, bytes, true)
}

/// Replaces `path` atomically (temp file in the same folder, then rename) but
/// leaves durability to a later [`sync_paths`]: readers never see a partial
/// file, and the fsyncs are paid once at a commit point instead of on every
/// write. For files of an unfinished trial, which a crash makes a rerun anyway.
pub fn write_atomic_deferred(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace(path, bytes, false)
}

/// Makes earlier [`write_atomic_deferred`] writes durable: fsyncs each file
/// that exists, then their folders.
pub fn sync_paths(paths: &[&Path]) -> io::Result<()> {
    let mut dirs: Vec<&Path> = Vec::new();
    for path in paths {
        if let Ok(f) = File::open(path) {
            f.sync_all()?;
        }
        if let Some(d) = path.parent().filter(|d| !dirs.contains(d)) {
            dirs.push(d);
        }
    }
    for d in dirs {
        if let Ok(f) = File::open(d) {
            let _ = f.sync_all();
        }
    }
    Ok(())
}

fn replace(path: &Path, bytes: &[u8], durable: bool) -> io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    // Host, pid and a counter: unique even when processes on several nodes of a
    // cluster write into the same shared folder at once.
    let tmp = dir.join(format!(
        ".{name}.{}-{}-{}.tmp",
        super::hostname(),
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        if durable {
            f.sync_all()?;
        }
        drop(f);
        fs::rename(&tmp, path)?;
        // Directory fsync makes the rename durable; some filesystems refuse it, which is harmless.
        if durable && let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temp_behind() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("a.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }
}
