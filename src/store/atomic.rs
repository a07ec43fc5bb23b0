//! Atomic file writes: readers in other processes see the old file or the new
//! one, never a half-written one, even if we crash.

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to a temporary file in `path`'s folder, fsyncs it, renames
/// it over `path`, then fsyncs the folder so the rename itself is durable.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace(path, bytes, true)
}

/// Replaces `path` atomically (temp file in the same folder, then rename) but
/// leaves durability to a later [`sync_paths`]: readers never see a partial
/// file, and the fsyncs are paid once at a commit point instead of on every
/// write. For files of an unfinished trial, which a crash makes a rerun anyway.
pub(crate) fn write_atomic_deferred(path: &Path, bytes: &[u8]) -> io::Result<()> {
    replace(path, bytes, false)
}

/// [`write_atomic_deferred`] for a `path` that does not exist yet: on Linux the bytes go into an
/// unnamed file (`O_TMPFILE`) linked into place, which makes one directory entry where a
/// temporary name and a rename make one and move it (a trial's three first best files took
/// 118 µs this way against 131 µs, single-threaded); where there are no unnamed files, or `path`
/// exists after all, through a temporary name as [`write_atomic_deferred`] does.
pub(crate) fn create_atomic_deferred(path: &Path, bytes: &[u8]) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    match linked_unnamed_file(path, bytes) {
        Ok(Some(_)) => return Ok(()),
        Err(e) if e.kind() != io::ErrorKind::AlreadyExists => return Err(e),
        _ => {}
    }
    write_atomic_deferred(path, bytes)
}

/// Replaces `path` atomically like [`write_atomic_deferred`], but without
/// allocating a new inode or freeing the old one once `path` exists: the new
/// bytes go into a spare file kept beside it (`.<name>.spare`), which is then
/// swapped with `path` in one `renameat2(RENAME_EXCHANGE)`, so the spare holds
/// the previous version afterwards. For files rewritten many times in a
/// short while (a trial's best checkpoint and its metadata): on ext4 without a
/// journal, every inode freed in the last minutes (up to six) makes each later
/// file creation in its block group slower (`recently_deleted` in
/// fs/ext4/ialloc.c), which measured 20 µs → 600 µs per create here. Where
/// the exchange is unsupported it falls back to a plain rename. Remove the
/// spare with `remove_spare` once the file is final.
#[cfg(test)]
pub(crate) fn replace_via_spare(path: &Path, bytes: &[u8]) -> io::Result<()> {
    if !path.exists() {
        return replace(path, bytes, false);
    }
    replace_existing_via_spare(path, bytes)
}

/// [`replace_via_spare`] for a `path` the caller knows exists.
pub(super) fn replace_existing_via_spare(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let spare = spare_path(path);
    drop(write_in_place(&spare, bytes)?);
    if exchange(&spare, path)? { Ok(()) } else { fs::rename(&spare, path) }
}

/// Writes `bytes` as the whole content of `path`, reusing its inode (and, for
/// same-sized rewrites such as a checkpoint of one model, its blocks) when the
/// file exists and no other name links to it; a file with other links (a
/// registry's hard link) is unlinked first and never written into. Returns the
/// file, positioned at its end.
pub(super) fn write_in_place(path: &Path, bytes: &[u8]) -> io::Result<File> {
    use std::os::unix::fs::MetadataExt;
    let mut f = match fs::OpenOptions::new().write(true).open(path) {
        Ok(f) if f.metadata()?.nlink() == 1 => f,
        Ok(_) => {
            fs::remove_file(path)?;
            fs::OpenOptions::new().write(true).create_new(true).open(path)?
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            fs::OpenOptions::new().write(true).create_new(true).open(path)?
        }
        Err(e) => return Err(e),
    };
    let old_len = f.metadata()?.len();
    f.write_all(bytes)?;
    if old_len > bytes.len() as u64 {
        f.set_len(bytes.len() as u64)?;
    }
    Ok(f)
}

/// Deletes the spare file that [`replace_via_spare`] keeps beside `path`, if any.
pub(super) fn remove_spare(path: &Path) -> io::Result<()> {
    match fs::remove_file(spare_path(path)) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

pub(super) fn spare_path(path: &Path) -> std::path::PathBuf {
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    path.with_file_name(format!(".{name}.spare"))
}

/// Swaps two existing paths atomically; `Ok(false)` where the system cannot.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn exchange(a: &Path, b: &Path) -> io::Result<bool> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    match renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE) {
        Ok(()) => Ok(true),
        Err(e) if e == rustix::io::Errno::INVAL || e == rustix::io::Errno::NOSYS => Ok(false),
        Err(e) => Err(e.into()),
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn exchange(_: &Path, _: &Path) -> io::Result<bool> {
    Ok(false)
}

/// Creates `path` holding `bytes`, with `AlreadyExists` when it exists, so that no reader
/// ever finds it empty or half written: on Linux the bytes go into an unnamed file
/// (`O_TMPFILE`) that is then linked into place; where the filesystem has no unnamed files, or
/// there is no `/proc` to name one by, the file is created, then written. Returns the file,
/// open for writing. (A process killed between creating a claim and writing it had left an
/// unreadable claim, which counts as live until its heartbeat is old.)
pub(crate) fn create_new_whole(path: &Path, bytes: &[u8]) -> io::Result<File> {
    #[cfg(target_os = "linux")]
    if let Some(file) = linked_unnamed_file(path, bytes)? {
        return Ok(file);
    }
    let mut file = fs::OpenOptions::new().write(true).create_new(true).open(path)?;
    file.write_all(bytes)?;
    Ok(file)
}

/// [`create_new_whole`] through an unnamed file; `None` where that cannot be done here.
#[cfg(target_os = "linux")]
fn linked_unnamed_file(path: &Path, bytes: &[u8]) -> io::Result<Option<File>> {
    use rustix::fs::{AtFlags, CWD, Mode, OFlags};
    use rustix::io::Errno;
    use std::os::fd::AsRawFd;
    let dir = path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let flags = OFlags::TMPFILE | OFlags::WRONLY | OFlags::CLOEXEC;
    let fd = match rustix::fs::openat(CWD, dir, flags, Mode::from_raw_mode(0o666)) {
        Ok(fd) => fd,
        Err(Errno::OPNOTSUPP | Errno::ISDIR | Errno::INVAL | Errno::NOSYS) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let mut file = File::from(fd);
    file.write_all(bytes)?;
    let unnamed = format!("/proc/self/fd/{}", file.as_raw_fd());
    match rustix::fs::linkat(CWD, unnamed.as_str(), CWD, path, AtFlags::SYMLINK_FOLLOW) {
        Ok(()) => Ok(Some(file)),
        Err(Errno::EXIST) => Err(io::ErrorKind::AlreadyExists.into()),
        // No /proc (or `path`'s folder is gone, which the plain creation reports).
        Err(Errno::NOENT) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Makes every deferred write under `root` durable at once: one `syncfs` of its filesystem
/// (for thousands of small files, far cheaper than an fsync each), else an fsync of `root`.
pub(crate) fn sync_tree(root: &Path) -> io::Result<()> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        rustix::fs::syncfs(File::open(root)?).map_err(io::Error::from)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        File::open(root)?.sync_all()
    }
}

/// Makes earlier deferred writes durable: fsyncs each file that exists, then
/// their folders.
pub(super) fn sync_paths(paths: &[&Path]) -> io::Result<()> {
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
    static HOST_PID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let host_pid = HOST_PID.get_or_init(|| format!("{}-{}", super::hostname(), std::process::id()));
    let tmp = dir.join(format!(".{name}.{host_pid}-{}.tmp", COUNTER.fetch_add(1, Ordering::Relaxed)));
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
    fn a_new_whole_file_appears_with_its_bytes_once_and_leaves_nothing_else() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("claim-1.json");
        let mut file = create_new_whole(&path, b"{\"attempt\": 1}\n").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"{\"attempt\": 1}\n");
        let again = create_new_whole(&path, b"other").unwrap_err();
        assert_eq!(again.kind(), io::ErrorKind::AlreadyExists);
        assert_eq!(fs::read(&path).unwrap(), b"{\"attempt\": 1}\n", "the first one's bytes stay");
        // The returned file is the named one: it can be locked and written through.
        file.try_lock().unwrap();
        file.write_all(b"more").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"{\"attempt\": 1}\nmore");
        let names: Vec<_> = fs::read_dir(tmp.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["claim-1.json"]);
        #[cfg(target_os = "linux")]
        assert!(
            linked_unnamed_file(&tmp.path().join("claim-2.json"), b"x").unwrap().is_some(),
            "this filesystem has unnamed files: the test went through them"
        );
    }

    #[test]
    fn a_new_file_appears_whole_and_an_existing_one_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("best.json");
        create_atomic_deferred(&p, b"first").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"first");
        create_atomic_deferred(&p, b"second").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"second");
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names.len(), 1, "{names:?}");
        assert!(create_atomic_deferred(&dir.path().join("gone/best.json"), b"x").is_err());
    }

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

    #[test]
    fn replacing_via_a_spare_swaps_inodes_and_never_shows_a_partial_file() {
        use std::os::unix::fs::MetadataExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("best.safetensors");
        replace_via_spare(&p, b"first version, long").unwrap();
        let first_inode = fs::metadata(&p).unwrap().ino();
        replace_via_spare(&p, b"second").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"second");
        // The third write reuses the first file's inode, which the exchange parked as the spare.
        replace_via_spare(&p, b"third").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"third");
        if cfg!(target_os = "linux") {
            assert_eq!(fs::metadata(&p).unwrap().ino(), first_inode);
        }
        remove_spare(&p).unwrap();
        remove_spare(&p).unwrap();
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("best.safetensors")]);
    }
}
