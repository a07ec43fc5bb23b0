//! SLURM job arrays: SLURM is the distributed engine, `sweep` only writes job
//! scripts and calls `sbatch`. Task `i` of the array runs `sweep trial SPEC
//! --index i` into the shared results folder; an aggregation job with
//! `--dependency=afterany:<array>` builds the leaderboard once all tasks ended.

mod script;

use std::path::{Path, PathBuf};
use std::process::Command;

pub use script::{JobSettings, aggregate_script, array_ranges, array_script, shell_quote};

use crate::store::{self, StoreError};

/// Why a submission failed.
#[derive(Debug, thiserror::Error)]
pub enum SlurmError {
    /// `sbatch` is not installed or not on PATH.
    #[error("cannot run `{program}`: {source}; is this a SLURM submit host (try `which sbatch`)?")]
    NoSbatch {
        /// The program.
        program: String,
        /// Why.
        source: std::io::Error,
    },
    /// `sbatch` refused the job.
    #[error("sbatch rejected {script} (exit {code}): {stderr}")]
    Rejected {
        /// The script.
        script: PathBuf,
        /// Its exit code.
        code: i32,
        /// What it said.
        stderr: String,
    },
    /// `sbatch --parsable` printed no job id.
    #[error("sbatch accepted {script} but printed no job id: {stdout:?}")]
    NoJobId {
        /// The script.
        script: PathBuf,
        /// What it printed.
        stdout: String,
    },
    /// Writing a script failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Submits `script` with `sbatch --parsable [extra...]` and returns the job id.
pub fn submit(sbatch: &str, script: &Path, extra: &[String]) -> Result<String, SlurmError> {
    let output = Command::new(sbatch)
        .arg("--parsable")
        .args(extra)
        .arg(script)
        .output()
        .map_err(|source| SlurmError::NoSbatch { program: sbatch.to_string(), source })?;
    let stderr = String::from_utf8_lossy(&output.stderr).trim().replace('\n', " | ");
    if !output.status.success() {
        return Err(SlurmError::Rejected {
            script: script.to_path_buf(),
            code: output.status.code().unwrap_or(-1),
            stderr,
        });
    }
    let stdout = String::from_utf8_lossy(&output.stdout).to_string();
    // --parsable prints "<id>" or "<id>;<cluster>".
    let id = stdout.trim().split(';').next().unwrap_or("").to_string();
    if id.is_empty() || !id.chars().all(|c| c.is_ascii_digit()) {
        return Err(SlurmError::NoJobId { script: script.to_path_buf(), stdout });
    }
    Ok(id)
}

/// Writes a job script (executable) atomically.
pub fn write_script(path: &Path, text: &str) -> Result<(), SlurmError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(StoreError::io(dir))?;
    }
    store::write_atomic(path, text.as_bytes()).map_err(StoreError::io(path))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(StoreError::io(path))?;
    Ok(())
}
