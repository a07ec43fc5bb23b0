//! The results folder: its layout, the per-trial records, and atomic writes.
//!
//! ```text
//! results/<sweep>/
//!   sweep.json                 the validated spec, its hash and the plan size
//!   leaderboard.csv            built by the aggregator from trials/*/trial.json
//!   registry.json              the sweep's model registry (successful trials, in rank order)
//!   history.csv                every trial's history.csv in one table: trial_id, epoch, metrics...
//!   preprocessing.json         column order, means, stds, label mapping, split (hard-linked into each trial)
//!   trials/<trial id>/
//!     claim-<attempt>.json     who claimed the trial (store::claim)
//!     running.json             while the trial runs: host, pid, start, SLURM job (becomes trial.json);
//!                              in a folder the claim created, a hard link to the claim file
//!     trial.json               the trial's final record, with the checkpoint's sha256; present = complete
//!     best.safetensors         the single best checkpoint (metadata embedded in its header)
//!     best.json                epoch, all metrics, params, seed, data fingerprint
//!     history.csv              every epoch's metrics, one line appended per epoch
//!     preprocessing.json       the sweep's, linked (or copied) so a trial folder stands alone
//! ```

mod atomic;
mod checkpoint;
pub(crate) mod claim;
mod commit;
mod csv_records;
mod history;
pub(crate) mod liveness;
mod manifest;
mod outputs;
mod record;
mod trial_folder;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

#[cfg(test)]
pub(crate) use atomic::replace_via_spare;
pub(crate) use atomic::{sync_tree, write_atomic, write_atomic_deferred};
pub(crate) use checkpoint::{canonical_safetensors, header_keys, safetensors_parts};
pub(crate) use commit::{commit_records, commit_step};
pub(crate) use history::{
    EpochMetrics, HistoryError, HistoryFile, read_history_column, read_history_numbers, read_metric_history,
};
pub(crate) use manifest::{
    MANIFEST_FORMAT_VERSION, PublishSpec, RecordedSpec, ReportSpec, Selection, SweepManifest, WandbTarget,
    check_wandb_name,
};
pub(crate) use outputs::{StoredOutputs, decode_outputs, encode_outputs};
pub use record::ProgramRun;
pub(crate) use record::{BestMetadata, ModelCost, RefitInfo, SplitEvaluation, TrialRecord, TrialStatus};
pub(crate) use trial_folder::TrialFolder;

use serde::Serialize;
use serde::de::DeserializeOwned;

/// A file in the results folder could not be read or written.
#[derive(Debug, thiserror::Error)]
pub(crate) enum StoreError {
    /// Reading or writing failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        source: std::io::Error,
    },
    /// A JSON file is not what we wrote.
    #[error("{path}: not a valid record: {message}")]
    Parse {
        path: PathBuf,
        /// What the parser said.
        message: String,
    },
    /// A folder inside the results folder is a symbolic link: writing through
    /// it would put results outside the results folder.
    #[error(
        "{path}: is a symbolic link to {target}; sweep does not write through links out of a results folder (replace the link with a real folder, or move the results)"
    )]
    Symlink {
        /// The link.
        path: PathBuf,
        /// Where it points.
        target: PathBuf,
    },
}

impl StoreError {
    /// Wraps an I/O error with its path.
    pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> StoreError + '_ {
        move |source| StoreError::Io { path: path.to_path_buf(), source }
    }
}

/// File names inside a trial folder.
pub(crate) mod names {
    /// Final trial record.
    pub(crate) const RECORD: &str = "trial.json";
    /// Best checkpoint.
    pub(crate) const CHECKPOINT: &str = "best.safetensors";
    /// Metadata of the best checkpoint.
    pub(crate) const BEST_METADATA: &str = "best.json";
    /// Per-epoch metrics.
    pub(crate) const HISTORY: &str = "history.csv";
    /// Preprocessing of the inputs.
    pub(crate) const PREPROCESSING: &str = "preprocessing.json";
    /// Marker of a trial in progress.
    pub(crate) const RUNNING: &str = "running.json";
    /// Folder of per-epoch checkpoints (`checkpoint = "every_epoch"`).
    pub(crate) const EPOCHS: &str = "epochs";
    /// A command objective's program: what it printed, and its errors.
    pub(crate) const STDOUT_LOG: &str = "stdout.log";
    /// See [`STDOUT_LOG`].
    pub(crate) const STDERR_LOG: &str = "stderr.log";
    /// Where a command objective's program writes a checkpoint sweep asked
    /// for; sweep moves it into [`CHECKPOINT`] itself.
    pub(crate) const PROGRAM_CHECKPOINT: &str = "checkpoint.partial";
    /// A command objective's parameters as JSON (`${args_json_file}`).
    pub(crate) const PROGRAM_PARAMS: &str = "params.json";
    /// Sweep manifest.
    pub(crate) const MANIFEST: &str = "sweep.json";
    /// Leaderboard.
    pub(crate) const LEADERBOARD: &str = "leaderboard.csv";
    /// Sweep registry.
    pub(crate) const REGISTRY: &str = "registry.json";
    /// Configurations ranked over their repeats.
    pub(crate) const LEADERBOARD_BY_CONFIG: &str = "leaderboard_by_config.csv";
    /// Folder of trial folders.
    pub(crate) const TRIALS: &str = "trials";
    /// The best epoch's outputs on the validation rows, for the bootstrap.
    pub(crate) const VALID_OUTPUTS: &str = "best_valid_outputs.safetensors";
    /// A model's metrics on its test split, measured once after aggregation.
    pub(crate) const TEST_METRICS: &str = "test.json";
    /// The parts of the sweep's split, their balance and duplicated rows.
    pub(crate) const SPLITS: &str = "splits.json";

    /// The preprocessing of cross-validation fold `fold` (0-based), in the sweep folder.
    pub(crate) fn fold_preprocessing(fold: usize) -> String {
        format!("preprocessing-fold-{}.json", fold + 1)
    }
}

/// `results/<sweep>/`.
#[derive(Debug, Clone)]
pub(crate) struct SweepDir {
    root: PathBuf,
}

impl SweepDir {
    /// The folder of a sweep.
    pub(crate) fn new(root: impl Into<PathBuf>) -> Self {
        SweepDir { root: root.into() }
    }

    /// The folder itself.
    pub(crate) fn root(&self) -> &Path {
        &self.root
    }

    /// `trials/`.
    pub(crate) fn trials_dir(&self) -> PathBuf {
        self.root.join(names::TRIALS)
    }

    /// `trials/<id>/`.
    pub(crate) fn trial_dir(&self, id: &str) -> PathBuf {
        self.trials_dir().join(id)
    }

    /// A file directly in the sweep folder.
    pub(crate) fn file(&self, name: &str) -> PathBuf {
        self.root.join(name)
    }

    /// Refuses a sweep folder whose `trials/`, or a trial folder in it, is a
    /// symbolic link: every later write into a trial (a resumed trial's files,
    /// test metrics, a refit) would land wherever the link points, outside the
    /// results folder. Reads only directory entries, no file in them.
    pub(crate) fn refuse_links(&self) -> Result<(), StoreError> {
        let link = |path: PathBuf| {
            let target = std::fs::read_link(&path).unwrap_or_default();
            StoreError::Symlink { path, target }
        };
        let trials = self.trials_dir();
        match std::fs::symlink_metadata(&trials) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(StoreError::Io { path: trials, source: e }),
            Ok(m) if m.file_type().is_symlink() => return Err(link(trials)),
            Ok(_) => {}
        }
        for entry in std::fs::read_dir(&trials).map_err(StoreError::io(&trials))? {
            let entry = entry.map_err(StoreError::io(&trials))?;
            if entry.file_type().map_err(StoreError::io(&entry.path()))?.is_symlink() {
                return Err(link(entry.path()));
            }
        }
        Ok(())
    }

    /// Reads the sweep manifest, if the folder has one.
    pub(crate) fn manifest(&self) -> Result<Option<SweepManifest>, StoreError> {
        let path = self.file(names::MANIFEST);
        if !path.exists() {
            return Ok(None);
        }
        SweepManifest::read(&path).map(Some)
    }

    /// Reads every trial folder: complete records, and folders without a
    /// readable one (still running, died, or written by an incompatible version).
    /// Never fails on a single bad record, so one broken trial cannot hide the others.
    pub(crate) fn scan(&self) -> Result<TrialScan, StoreError> {
        let dir = self.trials_dir();
        let mut scan = TrialScan::default();
        if !dir.exists() {
            return Ok(scan);
        }
        let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
            .map_err(StoreError::io(&dir))?
            .filter_map(Result::ok)
            // The entry's own type needs no stat on most filesystems; a link is followed.
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir() || (t.is_symlink() && e.path().is_dir())))
            .map(|e| e.path())
            .collect();
        entries.sort();
        // One record per folder, read and parsed on every core; the results keep the folders' order.
        use rayon::prelude::*;
        let read: Vec<Result<TrialRecord, IncompleteTrial>> = entries
            .into_par_iter()
            .map(|trial_dir| {
                let record = trial_dir.join(names::RECORD);
                match read_json(&record) {
                    Ok(r) => Ok(r),
                    Err(StoreError::Io { source, .. }) if source.kind() == std::io::ErrorKind::NotFound => {
                        Err(IncompleteTrial { dir: trial_dir, reason: "no trial.json yet (running, or died)".into() })
                    }
                    Err(e) => Err(IncompleteTrial { dir: trial_dir, reason: format!("unreadable record: {e}") }),
                }
            })
            .collect();
        for r in read {
            match r {
                Ok(r) => scan.complete.push(r),
                Err(i) => scan.incomplete.push(i),
            }
        }
        Ok(scan)
    }

    /// Makes every trial folder stop counting as complete: the folders named in
    /// `keep` lose their record (it becomes the `running.json` of a trial that
    /// will run again), all others are deleted.
    pub(crate) fn retire_trials(&self, keep: &BTreeSet<String>) -> Result<(), StoreError> {
        let dir = self.trials_dir();
        let entries = match std::fs::read_dir(&dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            other => other.map_err(StoreError::io(&dir))?,
        };
        for entry in entries {
            let entry = entry.map_err(StoreError::io(&dir))?;
            let path = entry.path();
            let kept = entry.file_name().to_str().is_some_and(|n| keep.contains(n));
            let result = match (kept, entry.file_type().map_err(StoreError::io(&path))?.is_dir()) {
                (true, true) => match std::fs::rename(path.join(names::RECORD), path.join(names::RUNNING)) {
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => remove_claims(&path),
                    Err(e) => Err(e),
                    Ok(()) => remove_claims(&path),
                },
                (_, true) => std::fs::remove_dir_all(&path),
                (_, false) => std::fs::remove_file(&path),
            };
            result.map_err(StoreError::io(&path))?;
        }
        Ok(())
    }

    /// Whether the folder holds trials of an earlier run. A manifest alone (left
    /// by a submission that failed before any trial ran) does not count.
    pub(crate) fn has_results(&self) -> bool {
        std::fs::read_dir(self.trials_dir()).is_ok_and(|mut d| d.next().is_some())
    }
}

/// What [`SweepDir::scan`] found.
#[derive(Debug, Clone, Default)]
pub(crate) struct TrialScan {
    /// Complete, readable records.
    pub complete: Vec<TrialRecord>,
    /// Folders without one.
    pub incomplete: Vec<IncompleteTrial>,
}

/// A trial folder without a complete, readable record.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct IncompleteTrial {
    /// The trial folder.
    pub dir: PathBuf,
    /// Why it does not count as complete.
    pub reason: String,
}

/// Serializes `value` as pretty JSON and writes it atomically.
pub(crate) fn write_json<T: Serialize>(path: &Path, value: &T) -> Result<(), StoreError> {
    let mut bytes = serde_json::to_vec_pretty(value)
        .map_err(|e| StoreError::Parse { path: path.to_path_buf(), message: e.to_string() })?;
    bytes.push(b'\n');
    write_atomic(path, &bytes).map_err(StoreError::io(path))
}

/// Reads a JSON file.
pub(crate) fn read_json<T: DeserializeOwned>(path: &Path) -> Result<T, StoreError> {
    let bytes = std::fs::read(path).map_err(StoreError::io(path))?;
    serde_json::from_slice(&bytes).map_err(|e| StoreError::Parse { path: path.to_path_buf(), message: e.to_string() })
}

/// Whether an I/O error says the filesystem takes no more writes (full,
/// over quota, or read-only), as opposed to a problem with one file. Every
/// later write would fail the same way, so a run stops at the first one
/// instead of recording each remaining trial as failed.
pub(crate) fn is_storage_unavailable(e: &std::io::Error) -> bool {
    use std::io::ErrorKind;
    matches!(e.kind(), ErrorKind::StorageFull | ErrorKind::QuotaExceeded | ErrorKind::ReadOnlyFilesystem)
}

/// A write that failed because the filesystem takes no more writes
/// ([`is_storage_unavailable`]): the file, and the system's reason.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize, thiserror::Error)]
#[error("{}: {reason}", path.display())]
pub(crate) struct StorageFault {
    /// The file or folder being written.
    pub path: PathBuf,
    /// What the system said, e.g. "No space left on device (os error 28)".
    pub reason: String,
}

impl StorageFault {
    /// The fault, if `e` is one.
    pub(crate) fn of(path: &Path, e: &std::io::Error) -> Option<StorageFault> {
        is_storage_unavailable(e).then(|| StorageFault { path: path.to_path_buf(), reason: e.to_string() })
    }
}

/// Lower-case hex SHA-256 of some bytes.
pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    crate::params::hex(&Sha256::digest(bytes))
}

/// This machine's host name (for markers, claims and temp-file names on
/// shared filesystems): the kernel's node name ([`liveness::this_host`]).
pub(crate) fn hostname() -> String {
    liveness::this_host().unwrap_or("unknown-host").to_string()
}

/// Removes the claims of a trial folder that starts over (`--fresh`): its attempts count from 1 again.
fn remove_claims(trial_dir: &Path) -> std::io::Result<()> {
    for entry in std::fs::read_dir(trial_dir)?.flatten() {
        if entry.file_name().to_str().is_some_and(claim::is_claim_file) {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// Now, as RFC 3339 UTC with microseconds.
pub(crate) fn now_rfc3339() -> String {
    humantime::format_rfc3339_micros(std::time::SystemTime::now()).to_string()
}

/// Time since the Unix epoch of a record's RFC 3339 time (as [`now_rfc3339`]
/// writes it); None when it is not one.
pub(crate) fn since_epoch(rfc3339: &str) -> Option<std::time::Duration> {
    humantime::parse_rfc3339(rfc3339).ok()?.duration_since(std::time::UNIX_EPOCH).ok()
}
