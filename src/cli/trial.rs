//! `sweep trial SPEC --index I`, and `sweep trial SPEC --next` (an array task of an asynchronous TPE sweep).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::{CliError, default_results_root, faults_from_env};
use crate::objective::Catalog;
use crate::output::{SCHEMA_VERSION, TrialOutcome, TrialOutput, absolute};
use crate::runner::{self, SingleTrial};
use crate::spec;
use crate::store::SweepDir;

/// Arguments of `sweep trial`.
#[derive(Debug, Args)]
pub(crate) struct TrialArgs {
    /// The sweep spec: TOML, or a W&B sweep file (.yaml, .yml).
    pub spec: PathBuf,
    /// Which trial of the plan (`sweep plan` lists them), from 0.
    #[arg(long, required_unless_present = "next", conflicts_with = "next")]
    pub index: Option<usize>,
    /// TPE: take the next proposal from the results folder, train it, and go on
    /// until the sweep's budget is spent (what `sweep slurm` array tasks of a TPE sweep run).
    #[arg(long)]
    pub next: bool,
    /// Folder that holds one results folder per sweep.
    #[arg(long, default_value_os_t = default_results_root())]
    pub results_dir: PathBuf,
    /// Run it again even if it already has a record.
    #[arg(long)]
    pub force: bool,
    /// Run it again if its record says it failed or diverged.
    #[arg(long)]
    pub retry_failed: bool,
    /// Print one JSON document on stdout: what happened to each trial, with its record.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub device: super::devices::DeviceArgs,
}

/// Runs one trial; the exit code is the trial's: 0 completed, 1 failed or diverged.
pub(super) fn trial(args: TrialArgs, catalog: &Catalog) -> Result<ExitCode, CliError> {
    let json_out = super::json::reserve_if(args.json)?;
    let spec = spec::load(&args.spec, catalog)?;
    let resources = args.device.apply(&spec.resources, catalog.get(&spec.objective))?;
    let device = super::devices::one_device(&resources)?;
    let dir = SweepDir::new(args.results_dir.join(&spec.name));
    let document = |trials: Vec<TrialOutcome>| TrialOutput {
        schema_version: SCHEMA_VERSION,
        command: "trial",
        sweep: spec.name.clone(),
        results_dir: absolute(dir.root()),
        trials,
    };
    let Some(index) = args.index else {
        let records = runner::run_next_trials(&spec, catalog, &args.results_dir, &faults_from_env()?, device)?;
        let problems = records.iter().filter(|r| !r.status.has_model()).count();
        let code = if problems == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) };
        if let Some(out) = json_out {
            out.print(&document(records.iter().map(|r| TrialOutcome::recorded("ran", &dir, r)).collect()))?;
            return Ok(code);
        }
        println!(
            "trained {} proposal(s) of {}: {}",
            records.len(),
            spec.name,
            records.iter().map(|r| format!("{} {}", r.id, r.status.as_str())).collect::<Vec<_>>().join(", ")
        );
        return Ok(code);
    };
    let outcome = runner::run_single_trial(
        &spec,
        catalog,
        &args.results_dir,
        index,
        args.force,
        args.retry_failed,
        &faults_from_env()?,
        device,
    )?;
    if let Some(out) = json_out {
        let (one, code) = match outcome {
            SingleTrial::Ran(r) => (TrialOutcome::recorded("ran", &dir, &r), r.status.has_model()),
            SingleTrial::AlreadyDone(r) => (TrialOutcome::recorded("already_done", &dir, &r), r.status.has_model()),
            SingleTrial::HeldElsewhere(holder) => {
                (TrialOutcome { outcome: "held_elsewhere", index, trial: None, held_by: holder }, true)
            }
        };
        out.print(&document(vec![one]))?;
        return Ok(if code { ExitCode::SUCCESS } else { ExitCode::from(1) });
    }
    let (record, verb) = match &outcome {
        SingleTrial::Ran(r) => (r, "ran"),
        SingleTrial::AlreadyDone(r) => (r, "already has a record, left alone (--force runs it again):"),
        SingleTrial::HeldElsewhere(holder) => {
            let who = holder.as_ref().map_or("another process".to_string(), |c| {
                format!("{} pid {} (attempt {}, since {})", c.host, c.pid, c.attempt, c.claimed_at)
            });
            println!("trial {index} is being trained by {who}; left alone");
            return Ok(ExitCode::SUCCESS);
        }
    };
    let metric = &record.monitor.metric;
    let best = record
        .best_metrics
        .get(metric)
        .map(|v| format!(" best {metric} {v:.5} at epoch {}", record.best_epoch.unwrap_or(0)));
    println!(
        "trial {} ({}) {verb} {}{}{}",
        record.index,
        record.id,
        record.status.as_str(),
        best.unwrap_or_default(),
        record.message.as_ref().map(|m| format!(": {m}")).unwrap_or_default()
    );
    Ok(if record.status.has_model() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
