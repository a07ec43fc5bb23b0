//! SLURM job arrays: SLURM is the distributed engine, `sweep` only writes job
//! scripts and calls `sbatch`. Task `i` of the array runs `sweep trial SPEC
//! --index i` into the shared results folder; an aggregation job with
//! `--dependency=afterany:<array>` builds the leaderboard once all tasks ended.
//! A sweep larger than the cluster's `MaxArraySize` becomes several arrays
//! ([`arrays`]), and the aggregation job waits for all of them.

pub(crate) mod arrays;
mod script;

use std::path::{Path, PathBuf};
use std::process::Command;

pub(crate) use arrays::{ArrayChunk, ArrayLimits, DEFAULT_MAX_ARRAY_SIZE, array_ranges};
pub(crate) use script::{GpuRequest, JobSettings, aggregate_script, array_script};

use crate::store::{self, StoreError};

/// Why a submission failed.
#[derive(Debug, thiserror::Error)]
pub(crate) enum SlurmError {
    /// `sbatch` is not installed or not on PATH.
    #[error("cannot run `{program}`: {source}; is this a SLURM submit host (try `which sbatch`)?")]
    NoSbatch {
        /// The program.
        program: String,
        source: std::io::Error,
    },
    /// `sbatch` refused the job.
    #[error("sbatch rejected {script} (exit {code}): {stderr}")]
    Rejected {
        script: PathBuf,
        /// Its exit code.
        code: i32,
        /// What it said.
        stderr: String,
    },
    /// `sbatch --parsable` printed no job id.
    #[error("sbatch accepted {script} but printed no job id: {stdout:?}")]
    NoJobId {
        script: PathBuf,
        /// What it printed.
        stdout: String,
    },
    /// The cluster allows no job arrays.
    #[error("this cluster allows no job arrays (MaxArraySize = 0 in `scontrol show config`); ask its admins")]
    NoArrays,
    /// Some array jobs were submitted, then a later submission failed.
    #[error(
        "{source}; array job(s) {} were submitted before that and run (no aggregation job): after they end, \
         `sweep slurm SPEC --only-missing` submits the rest with an aggregation job (or `scancel {}` stops them)",
        submitted.join(", "),
        submitted.join(" ")
    )]
    PartlySubmitted {
        /// The ids of the array jobs that were submitted.
        submitted: Vec<String>,
        /// Why the next one failed.
        source: Box<SlurmError>,
    },
    /// Writing a script failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Submits `script` with `sbatch --parsable [extra...]` and returns the job id.
pub(crate) fn submit(sbatch: &str, script: &Path, extra: &[String]) -> Result<String, SlurmError> {
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

/// The cluster's job-array limits, from `<scontrol> show config`; an error
/// says why they could not be read.
pub(crate) fn array_limits(scontrol: &str) -> Result<ArrayLimits, String> {
    let output = Command::new(scontrol)
        .args(["show", "config"])
        .output()
        .map_err(|e| format!("cannot run `{scontrol} show config`: {e}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr).trim().replace('\n', " | ");
        return Err(format!("`{scontrol} show config` failed (exit {}): {stderr}", output.status.code().unwrap_or(-1)));
    }
    arrays::parse_limits(&String::from_utf8_lossy(&output.stdout))
        .ok_or_else(|| format!("`{scontrol} show config` names no MaxArraySize"))
}

/// Writes a job script (executable) atomically.
pub(crate) fn write_script(path: &Path, text: &str) -> Result<(), SlurmError> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(StoreError::io(dir))?;
    }
    store::write_atomic(path, text.as_bytes()).map_err(StoreError::io(path))?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(StoreError::io(path))?;
    Ok(())
}
