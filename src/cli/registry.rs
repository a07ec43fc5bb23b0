//! `sweep registry ...`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Subcommand;

use super::{CliError, default_results_root};
use crate::aggregate::SweepRegistry;
use crate::params::params_display;
use crate::store::{self, names};

/// Registry subcommands.
#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// List registered models, best first: of one sweep, or of every sweep under --results-dir.
    List {
        /// A sweep's results folder; without it, every sweep under --results-dir.
        sweep: Option<PathBuf>,
        /// Folder that holds one results folder per sweep.
        #[arg(long, default_value_os_t = default_results_root())]
        results_dir: PathBuf,
        /// Print the registries as JSON (an array, one object per sweep).
        #[arg(long)]
        json: bool,
    },
}

/// Runs a registry subcommand.
pub fn registry(cmd: RegistryCommand) -> Result<ExitCode, CliError> {
    let RegistryCommand::List {
        sweep,
        results_dir,
        json,
    } = cmd;
    let files: Vec<PathBuf> = match sweep {
        Some(dir) => vec![dir.join(names::REGISTRY)],
        None => {
            let mut found: Vec<PathBuf> = std::fs::read_dir(&results_dir)
                .map_err(store::StoreError::io(&results_dir))?
                .filter_map(|e| e.ok().map(|e| e.path().join(names::REGISTRY)))
                .filter(|p| p.exists())
                .collect();
            found.sort();
            found
        }
    };
    let mut registries = Vec::new();
    for file in &files {
        if !file.exists() {
            return Err(CliError::Usage(format!(
                "{}: no registry here; run `sweep aggregate` on the sweep's results folder first",
                file.display()
            )));
        }
        registries.push(store::read_json::<SweepRegistry>(file)?);
    }
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &registries).map_err(std::io::Error::other)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    if registries.is_empty() {
        writeln!(out, "no registries under {}", results_dir.display())?;
    }
    for reg in &registries {
        let metric = &reg.monitor.metric;
        writeln!(
            out,
            "{} (spec {}): {} models by best {metric}",
            reg.sweep,
            reg.spec_hash,
            reg.models.len()
        )?;
        for m in &reg.models {
            writeln!(
                out,
                "{:>4}  {:<16} {metric} {:<9} epoch {:<4} sha256 {}  {}  {}",
                m.rank,
                m.trial_id,
                m.metrics
                    .get(metric)
                    .map(|v| format!("{v:.5}"))
                    .unwrap_or_default(),
                m.best_epoch,
                &m.checkpoint_sha256[..12.min(m.checkpoint_sha256.len())],
                m.checkpoint,
                params_display(&m.params)
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
