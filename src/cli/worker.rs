//! `<binary> worker SPEC`: a worker process of `run` (hidden; see
//! [`crate::runner::worker`]).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{CliError, faults_from_env};
use crate::device::{self, Backend};
use crate::objective::Catalog;
use crate::{runner, spec};

/// Arguments of `worker`, given by the parent run.
#[derive(Debug, Args)]
pub(crate) struct WorkerArgs {
    /// The sweep spec: TOML, or a W&B sweep file (.yaml, .yml).
    pub spec: PathBuf,
    /// Folder that holds one results folder per sweep.
    #[arg(long)]
    pub results_dir: PathBuf,
    /// The parent's spec hash.
    #[arg(long)]
    pub spec_hash: String,
    /// The parent's data fingerprint.
    #[arg(long)]
    pub data_fingerprint: String,
    /// The backend of the device this worker opens (with --device-index); default: the CPU.
    #[arg(long, requires = "device_index")]
    pub device: Option<String>,
    /// The index of the device this worker opens.
    #[arg(long, requires = "device")]
    pub device_index: Option<usize>,
}

/// Serves trials until stdin closes.
pub(super) fn worker(args: WorkerArgs, catalog: &Catalog) -> Result<ExitCode, CliError> {
    // The run that started this worker has already shown the spec's notes.
    let (spec, _notes) = spec::load_with_notices(&args.spec, catalog)?;
    let device = match (args.device.as_deref(), args.device_index) {
        (Some(word), Some(index)) => {
            let backend = Backend::parse(word).ok_or_else(|| CliError::Usage(format!("--device {word}: unknown")))?;
            device::open(backend, index)?
        }
        _ => device::TrialDevice::cpu(),
    };
    runner::serve_worker(
        &spec,
        catalog,
        &args.results_dir,
        &args.spec_hash,
        &args.data_fingerprint,
        &faults_from_env()?,
        device,
    )?;
    Ok(ExitCode::SUCCESS)
}
