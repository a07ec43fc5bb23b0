//! The files of one trial in progress, written so that a trial creates as few
//! inodes as it can and frees none: short trials are bound by file creation,
//! and on ext4 without a journal every recently freed inode slows down each
//! later creation in its block group (see [`super::replace_via_spare`]).

use std::fs::{self, File};
use std::io::{self, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::{atomic, names};

/// A trial folder being filled: marker, preprocessing, history, best checkpoint and metadata.
#[derive(Debug)]
pub struct TrialFolder {
    dir: PathBuf,
    marker: File,
    history: File,
    /// Files written at least once.
    written: Vec<&'static str>,
    /// Files replaced at least once, which left a spare beside them.
    spared: Vec<&'static str>,
}

impl TrialFolder {
    /// Starts a trial in `dir`, removing what an earlier attempt left there:
    /// writes the `running.json` marker, links the sweep's preprocessing file
    /// into the folder (a copy where hard links are not supported), and opens
    /// `history.csv` with its header line.
    pub fn start(dir: &Path, marker: &[u8], preprocessing: &Path, history_header: &[u8]) -> io::Result<Self> {
        match fs::create_dir(dir) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                fs::remove_dir_all(dir)?;
                fs::create_dir(dir)?;
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => fs::create_dir_all(dir)?,
            other => other?,
        }
        // Written in place, not by rename: `sweep status` reads a marker it cannot parse as a
        // trial committing or dying, and the marker later becomes trial.json (store::commit).
        let mut marker_file = fs::OpenOptions::new().write(true).create_new(true).open(dir.join(names::RUNNING))?;
        marker_file.write_all(marker)?;
        let linked = dir.join(names::PREPROCESSING);
        if fs::hard_link(preprocessing, &linked).is_err() {
            atomic::write_atomic_deferred(&linked, &fs::read(preprocessing)?)?;
        }
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

    /// The folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Appends one epoch's line to `history.csv`, in a single write, so a
    /// reader sees whole lines (a crash can leave a partial last line, in a
    /// trial that then has no record and runs again).
    pub fn append_history(&mut self, line: &[u8]) -> io::Result<()> {
        self.history.write_all(line)
    }

    /// Replaces the file `name` in the folder atomically, reusing inodes
    /// ([`atomic::replace_via_spare`]).
    pub fn replace(&mut self, name: &'static str, bytes: &[u8]) -> io::Result<()> {
        let path = self.dir.join(name);
        if !self.written.contains(&name) {
            atomic::write_atomic_deferred(&path, bytes)?;
            self.written.push(name);
        } else {
            atomic::replace_existing_via_spare(&path, bytes)?;
            if !self.spared.contains(&name) {
                self.spared.push(name);
            }
        }
        Ok(())
    }

    /// Ends the trial's writing: the record goes into the marker, which
    /// [`super::commit_records`] then publishes as `trial.json`, and the spares
    /// of replaced files are removed.
    pub fn finish(self, record: &[u8]) -> io::Result<()> {
        write_into(&self.marker, record)?;
        for name in self.spared {
            atomic::remove_spare(&self.dir.join(name))?;
        }
        Ok(())
    }

    /// Leaves a record for a trial that failed before its folder was started.
    pub fn record_without_folder(dir: &Path, record: &[u8]) -> io::Result<()> {
        fs::create_dir_all(dir)?;
        let marker = fs::OpenOptions::new().write(true).create(true).truncate(false).open(dir.join(names::RUNNING))?;
        write_into(&marker, record)
    }
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
            TrialFolder::start(&dir, b"{\"pid\": 1, \"host\": \"a long host name\"}", &pre, b"epoch,loss\n").unwrap();
        folder.append_history(b"1,0.5\n").unwrap();
        folder.append_history(b"2,0.25\n").unwrap();
        folder.replace(names::CHECKPOINT, b"epoch 1").unwrap();
        folder.replace(names::CHECKPOINT, b"epoch 2").unwrap();
        folder.finish(b"{\"record\": 1}").unwrap();

        let mut names: Vec<String> =
            fs::read_dir(&dir).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
        names.sort();
        assert_eq!(names, ["best.safetensors", "history.csv", "preprocessing.json", "running.json"]);
        assert_eq!(fs::read_to_string(dir.join(names::HISTORY)).unwrap(), "epoch,loss\n1,0.5\n2,0.25\n");
        assert_eq!(fs::read(dir.join(names::CHECKPOINT)).unwrap(), b"epoch 2");
        assert_eq!(fs::read(dir.join(names::PREPROCESSING)).unwrap(), fs::read(&pre).unwrap());
        // The record replaced the longer marker entirely.
        assert_eq!(fs::read(dir.join(names::RUNNING)).unwrap(), b"{\"record\": 1}");
    }

    #[test]
    fn a_trial_that_never_started_still_gets_a_record() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("trials").join("t1");
        TrialFolder::record_without_folder(&dir, b"{}").unwrap();
        assert_eq!(fs::read(dir.join(names::RUNNING)).unwrap(), b"{}");
    }
}
