//! The files of one trial in progress, written so that a trial creates as few
//! inodes as it can and frees none: short trials are bound by file creation,
//! and on ext4 without a journal every recently freed inode slows down each
//! later creation in its block group (see [`super::replace_via_spare`]). A
//! rerun in an existing folder (`--fresh`, `--retry-failed`, `sweep trial
//! --force`) reuses the earlier attempt's files instead of deleting them.

use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::{atomic, names};

/// A trial folder being filled: marker, preprocessing, history, best checkpoint and metadata.
#[derive(Debug)]
pub(crate) struct TrialFolder {
    dir: PathBuf,
    marker: File,
    history: File,
    /// Files written at least once.
    written: Vec<&'static str>,
    /// Files with a spare beside them: left by a replacement, or an earlier
    /// attempt's version parked there by [`TrialFolder::start`].
    spared: Vec<&'static str>,
}

/// The files a best-model replacement keeps a spare of.
const REPLACED: [&str; 3] = [names::CHECKPOINT, names::BEST_METADATA, names::VALID_OUTPUTS];

impl TrialFolder {
    /// Starts a trial in `dir`: writes the `running.json` marker, links the
    /// sweep's preprocessing file into the folder (a copy where hard links are
    /// not supported), and opens `history.csv` with its header line. What an
    /// earlier attempt left there stops counting at once: its record becomes the
    /// marker and its best files become spares, so nothing of it can be taken
    /// for this attempt's result. Files that other names link to (a registry's
    /// copies) are unlinked, never written into.
    ///
    /// `claim` is the claim file this process holds for the trial, if any: in
    /// a folder that holds nothing else, the marker is a hard link to it rather
    /// than a file of its own (the claim says all the marker says), so a trial
    /// creates one file fewer, and its record later lands in the claim's inode.
    pub(crate) fn start(
        dir: &Path,
        marker: &[u8],
        claim: Option<&Path>,
        preprocessing: &Path,
        history_header: &[u8],
    ) -> io::Result<Self> {
        match fs::create_dir(dir) {
            Ok(()) => Self::start_in_new(dir, marker, None, preprocessing, history_header),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                Self::start_in_existing(dir, marker, claim, preprocessing, history_header).or_else(|_| {
                    // A folder that cannot be reused (not ours, half-broken) is started over.
                    fs::remove_dir_all(dir)?;
                    fs::create_dir(dir)?;
                    Self::start_in_new(dir, marker, None, preprocessing, history_header)
                })
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(dir)?;
                Self::start_in_new(dir, marker, None, preprocessing, history_header)
            }
            Err(e) => Err(e),
        }
    }

    /// [`TrialFolder::start`] in a folder that its `claim` just created and that holds
    /// nothing else: no look for an earlier attempt's files (six system calls
    /// in a trial that makes about forty).
    pub(crate) fn start_in_claimed(
        dir: &Path,
        marker: &[u8],
        claim: &Path,
        preprocessing: &Path,
        history_header: &[u8],
    ) -> io::Result<Self> {
        Self::start_in_new(dir, marker, Some(claim), preprocessing, history_header)
    }

    fn start_in_new(
        dir: &Path,
        marker: &[u8],
        claim: Option<&Path>,
        preprocessing: &Path,
        history_header: &[u8],
    ) -> io::Result<Self> {
        let running = dir.join(names::RUNNING);
        // Written in place, not by rename: `sweep status` reads a marker it cannot parse as a
        // trial committing or dying, and the marker later becomes trial.json (store::commit).
        // Where the claim can be linked, it is the marker (an inode creation is the dearest part
        // of a short trial); else, as on a filesystem without hard links, the marker is written.
        let marker_file = match claim.map(|c| fs::hard_link(c, &running)) {
            Some(Ok(())) => fs::OpenOptions::new().write(true).open(&running)?,
            _ => {
                let mut f = fs::OpenOptions::new().write(true).create_new(true).open(&running)?;
                f.write_all(marker)?;
                f
            }
        };
        link_preprocessing(dir, preprocessing)?;
        let mut history = fs::OpenOptions::new().append(true).create_new(true).open(dir.join(names::HISTORY))?;
        history.write_all(history_header)?;
        Ok(TrialFolder {
            dir: dir.to_path_buf(),
            marker: marker_file,
            history,
            written: Vec::new(),
            spared: Vec::new(),
        })
    }

    fn start_in_existing(
        dir: &Path,
        marker: &[u8],
        claim: Option<&Path>,
        preprocessing: &Path,
        history_header: &[u8],
    ) -> io::Result<Self> {
        let entries: BTreeSet<String> =
            fs::read_dir(dir)?.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect();
        // The usual case: the folder that the claim just created, with nothing of an earlier
        // attempt to retire or reuse (the checks below cost a dozen system calls).
        if entries.iter().all(|e| super::claim::is_claim_file(e)) {
            return Self::start_in_new(dir, marker, claim, preprocessing, history_header);
        }
        let spare_name = |name: &str| format!(".{name}.spare");
        // The earlier record first: from here on the folder holds no complete trial.
        let (record, running) = (dir.join(names::RECORD), dir.join(names::RUNNING));
        if entries.contains(names::RECORD) {
            fs::rename(&record, &running)?;
        }
        // Its own file here, reusing the earlier record's inode (a claim linked as the marker
        // would leave that inode to be freed, which slows later file creation down).
        let marker_file = atomic::write_in_place(&running, marker)?;

        let mut spared = Vec::new();
        for name in REPLACED {
            let (path, spare) = (dir.join(name), dir.join(spare_name(name)));
            if entries.contains(name) {
                if fs::metadata(&path)?.nlink() == 1 {
                    fs::rename(&path, &spare)?;
                } else {
                    fs::remove_file(&path)?;
                }
            }
            if spare.exists() {
                spared.push(name);
            }
        }
        // Positioned after the header, so its writes append.
        let history = atomic::write_in_place(&dir.join(names::HISTORY), history_header)?;
        let same_file = |a: &Path, b: &Path| match (fs::metadata(a), fs::metadata(b)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        };
        let linked = dir.join(names::PREPROCESSING);
        if !same_file(&linked, preprocessing) {
            if entries.contains(names::PREPROCESSING) {
                fs::remove_file(&linked)?;
            }
            link_preprocessing(dir, preprocessing)?;
        }
        // Anything else (temp files of a crash, per-epoch checkpoints) belongs to the earlier attempt.
        let known: Vec<String> = [names::RUNNING, names::RECORD, names::HISTORY, names::PREPROCESSING]
            .into_iter()
            .map(String::from)
            .chain(REPLACED.into_iter().flat_map(|n| [n.to_string(), spare_name(n)]))
            .collect();
        // Claims stay: they say who trains the trial now, and how many attempts it took.
        for stray in entries.iter().filter(|e| !known.contains(e) && !super::claim::is_claim_file(e)) {
            let path = dir.join(stray);
            if path.is_dir() { fs::remove_dir_all(&path)? } else { fs::remove_file(&path)? }
        }
        Ok(TrialFolder { dir: dir.to_path_buf(), marker: marker_file, history, written: Vec::new(), spared })
    }

    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends one epoch's line to `history.csv`, in a single write, so a
    /// reader sees whole lines (a crash can leave a partial last line, in a
    /// trial that then has no record and runs again).
    pub(crate) fn append_history(&mut self, line: &[u8]) -> io::Result<()> {
        self.history.write_all(line)
    }

    /// Replaces the file `name` in the folder atomically, reusing inodes
    /// ([`atomic::replace_via_spare`]).
    pub(crate) fn replace(&mut self, name: &'static str, bytes: &[u8]) -> io::Result<()> {
        let path = self.dir.join(name);
        if self.written.contains(&name) {
            atomic::replace_existing_via_spare(&path, bytes)?;
            if !self.spared.contains(&name) {
                self.spared.push(name);
            }
        } else if let Some(i) = self.spared.iter().position(|n| *n == name) {
            // The first version of this attempt goes into the earlier attempt's parked file.
            let spare = atomic::spare_path(&path);
            drop(atomic::write_in_place(&spare, bytes)?);
            fs::rename(&spare, &path)?;
            self.spared.remove(i);
            self.written.push(name);
        } else {
            // Nothing holds the name: the start moved an earlier attempt's file to its spare.
            atomic::create_atomic_deferred(&path, bytes)?;
            self.written.push(name);
        }
        Ok(())
    }

    /// Ends the trial's writing: the record goes into the marker, which
    /// [`super::commit_records`] then publishes as `trial.json`, and the spares
    /// of replaced files are removed.
    pub(crate) fn finish(self, record: &[u8]) -> io::Result<()> {
        write_into(&self.marker, record)?;
        for name in self.spared {
            atomic::remove_spare(&self.dir.join(name))?;
        }
        Ok(())
    }

    /// Leaves a record for a trial that failed before its folder was started.
    pub(crate) fn record_without_folder(dir: &Path, record: &[u8]) -> io::Result<()> {
        fs::create_dir_all(dir)?;
        atomic::write_in_place(&dir.join(names::RUNNING), record).map(drop)
    }
}

fn link_preprocessing(dir: &Path, preprocessing: &Path) -> io::Result<()> {
    let linked = dir.join(names::PREPROCESSING);
    if fs::hard_link(preprocessing, &linked).is_err() {
        atomic::write_atomic_deferred(&linked, &fs::read(preprocessing)?)?;
    }
    Ok(())
}

/// Overwrites a file from its start; trims it only when it was longer.
fn write_into(file: &File, bytes: &[u8]) -> io::Result<()> {
    let old_len = file.metadata()?.len();
    file.write_all_at(bytes, 0)?;
    if old_len > bytes.len() as u64 {
        file.set_len(bytes.len() as u64)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trial_folder_starts_clean_links_preprocessing_and_appends_history() {
        let tmp = tempfile::tempdir().unwrap();
        let pre = tmp.path().join(names::PREPROCESSING);
        fs::write(&pre, b"{\"means\": []}").unwrap();
        let dir = tmp.path().join("trials").join("t0");
        fs::create_dir_all(&dir).unwrap();
        fs::write(dir.join("stale.safetensors"), b"old attempt").unwrap();

        let mut folder =
            TrialFolder::start(&dir, b"{\"pid\": 1, \"host\": \"a long host name\"}", None, &pre, b"epoch,loss\n")
                .unwrap();
        folder.append_history(b"1,0.5\n").unwrap();
        folder.append_history(b"2,0.25\n").unwrap();
        folder.replace(names::CHECKPOINT, b"epoch 1").unwrap();
        folder.replace(names::CHECKPOINT, b"epoch 2").unwrap();
        folder.finish(b"{\"record\": 1}").unwrap();

        assert_eq!(listing(&dir), ["best.safetensors", "history.csv", "preprocessing.json", "running.json"]);
        assert_eq!(fs::read_to_string(dir.join(names::HISTORY)).unwrap(), "epoch,loss\n1,0.5\n2,0.25\n");
        assert_eq!(fs::read(dir.join(names::CHECKPOINT)).unwrap(), b"epoch 2");
        assert_eq!(fs::read(dir.join(names::PREPROCESSING)).unwrap(), fs::read(&pre).unwrap());
        // The record replaced the longer marker entirely.
        assert_eq!(fs::read(dir.join(names::RUNNING)).unwrap(), b"{\"record\": 1}");
    }

    /// The sweep's preprocessing file, and a trial folder `t0` holding only its first claim.
    fn folder_with_a_claim(root: &Path) -> (PathBuf, PathBuf, PathBuf) {
        let pre = root.join(names::PREPROCESSING);
        fs::write(&pre, b"{}").unwrap();
        let dir = root.join("t0");
        fs::create_dir(&dir).unwrap();
        let claim = dir.join(crate::store::claim::claim_file_name(1));
        fs::write(&claim, b"{\"attempt\": 1}").unwrap();
        (pre, dir, claim)
    }

    #[test]
    fn in_a_folder_of_claims_the_claim_is_the_marker_and_holds_the_record() {
        let tmp = tempfile::tempdir().unwrap();
        let (pre, dir, claim) = folder_with_a_claim(tmp.path());

        let folder = TrialFolder::start(&dir, b"unused marker", Some(&claim), &pre, b"epoch\n").unwrap();
        assert_eq!(fs::metadata(dir.join(names::RUNNING)).unwrap().ino(), fs::metadata(&claim).unwrap().ino());
        assert_eq!(fs::read(dir.join(names::RUNNING)).unwrap(), b"{\"attempt\": 1}");
        folder.finish(b"{\"record\": 1}").unwrap();
        assert_eq!(fs::read(&claim).unwrap(), b"{\"record\": 1}");

        // A claim that is not there (a trial that runs unclaimed) leaves a marker of its own.
        let other = tmp.path().join("t1");
        fs::create_dir(&other).unwrap();
        let missing = other.join(crate::store::claim::claim_file_name(1));
        TrialFolder::start(&other, b"marker", Some(&missing), &pre, b"epoch\n").unwrap();
        assert_eq!(fs::read(other.join(names::RUNNING)).unwrap(), b"marker");
    }

    #[test]
    fn a_folder_its_claim_created_is_started_without_a_look_for_earlier_files() {
        let tmp = tempfile::tempdir().unwrap();
        let (pre, dir, claim) = folder_with_a_claim(tmp.path());
        // Not there in a folder a claim just created: it shows that nobody looked.
        fs::write(dir.join("unlooked-for"), b"").unwrap();

        let folder = TrialFolder::start_in_claimed(&dir, b"unused", &claim, &pre, b"epoch\n").unwrap();
        assert_eq!(fs::metadata(dir.join(names::RUNNING)).unwrap().ino(), fs::metadata(&claim).unwrap().ino());
        assert_eq!(
            listing(&dir),
            ["claim-1.json", "history.csv", "preprocessing.json", "running.json", "unlooked-for"]
        );
        folder.finish(b"{\"record\": 1}").unwrap();
        assert_eq!(fs::read(&claim).unwrap(), b"{\"record\": 1}");
    }

    #[test]
    fn a_trial_that_never_started_still_gets_a_record() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("trials").join("t1");
        TrialFolder::record_without_folder(&dir, b"{}").unwrap();
        assert_eq!(fs::read(dir.join(names::RUNNING)).unwrap(), b"{}");
    }

    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        names
    }

    #[test]
    fn a_rerun_reuses_the_folder_without_touching_files_a_registry_links_to() {
        let tmp = tempfile::tempdir().unwrap();
        let pre = tmp.path().join(names::PREPROCESSING);
        fs::write(&pre, b"{}").unwrap();
        let dir = tmp.path().join("t0");
        let mut first = TrialFolder::start(&dir, b"marker", None, &pre, b"epoch\n").unwrap();
        first.append_history(b"1\n").unwrap();
        first.replace(names::CHECKPOINT, b"old weights").unwrap();
        first.replace(names::BEST_METADATA, b"old meta").unwrap();
        first.finish(b"old record").unwrap();
        fs::rename(dir.join(names::RUNNING), dir.join(names::RECORD)).unwrap();
        fs::write(dir.join(".best.json.1-2-3.tmp"), b"crash leftover").unwrap();
        // A registry version holds hard links to the record and the checkpoint.
        let registry = tmp.path().join("registry");
        fs::create_dir(&registry).unwrap();
        fs::hard_link(dir.join(names::RECORD), registry.join(names::RECORD)).unwrap();
        fs::hard_link(dir.join(names::CHECKPOINT), registry.join(names::CHECKPOINT)).unwrap();
        let meta_inode = fs::metadata(dir.join(names::BEST_METADATA)).unwrap().ino();

        let mut again = TrialFolder::start(&dir, b"new marker", None, &pre, b"epoch\n").unwrap();
        // Nothing of the earlier attempt counts any more.
        assert_eq!(listing(&dir), [".best.json.spare", "history.csv", "preprocessing.json", "running.json"]);
        assert_eq!(fs::read(dir.join(names::RUNNING)).unwrap(), b"new marker");
        assert_eq!(fs::read(dir.join(names::HISTORY)).unwrap(), b"epoch\n");
        again.append_history(b"7\n").unwrap();
        assert_eq!(fs::read(dir.join(names::HISTORY)).unwrap(), b"epoch\n7\n");
        again.replace(names::BEST_METADATA, b"new meta").unwrap();
        again.replace(names::CHECKPOINT, b"new weights").unwrap();
        // The unshared metadata file was reused in place.
        assert_eq!(fs::metadata(dir.join(names::BEST_METADATA)).unwrap().ino(), meta_inode);
        again.finish(b"new record").unwrap();

        assert_eq!(
            listing(&dir),
            ["best.json", "best.safetensors", "history.csv", "preprocessing.json", "running.json"]
        );
        assert_eq!(fs::read(dir.join(names::CHECKPOINT)).unwrap(), b"new weights");
        assert_eq!(fs::read(registry.join(names::RECORD)).unwrap(), b"old record");
        assert_eq!(fs::read(registry.join(names::CHECKPOINT)).unwrap(), b"old weights");
    }

    #[test]
    fn a_rerun_that_fails_before_saving_leaves_no_earlier_checkpoint() {
        let tmp = tempfile::tempdir().unwrap();
        let pre = tmp.path().join(names::PREPROCESSING);
        fs::write(&pre, b"{}").unwrap();
        let dir = tmp.path().join("t0");
        let mut first = TrialFolder::start(&dir, b"m", None, &pre, b"h\n").unwrap();
        first.replace(names::CHECKPOINT, b"old").unwrap();
        first.finish(b"old record").unwrap();
        fs::rename(dir.join(names::RUNNING), dir.join(names::RECORD)).unwrap();

        TrialFolder::start(&dir, b"m", None, &pre, b"h\n").unwrap().finish(b"failed record").unwrap();
        assert_eq!(listing(&dir), ["history.csv", "preprocessing.json", "running.json"]);
    }
}
