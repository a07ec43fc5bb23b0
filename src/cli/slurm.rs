//! `sweep slurm SPEC`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::{CliError, default_results_root};
use crate::objective::Catalog;
use crate::output::{self, SCHEMA_VERSION, ScriptFile, SlurmOutput, SlurmScripts};
use crate::runner::{self, ExistingResults};
use crate::slurm::{self, JobSettings, array_ranges};
use crate::spec::{self, SweepSpec};
use crate::status::{TrialStatusLine, sweep_status};
use crate::store::{StoreError, SweepDir};

/// Arguments of `sweep slurm`. Job options default to the spec's `[slurm]` table.
#[derive(Debug, Args)]
pub struct SlurmArgs {
    /// The sweep spec: TOML, or a W&B sweep file (.yaml, .yml).
    pub spec: PathBuf,
    /// SLURM partition (`sbatch --partition`).
    #[arg(long)]
    pub partition: Option<String>,
    /// Time limit per trial (`sbatch --time`, e.g. 30, 1:00:00).
    #[arg(long)]
    pub time: Option<String>,
    /// CPUs per trial (`sbatch --cpus-per-task`; default 1: each trial uses one compute thread).
    #[arg(long)]
    pub cpus_per_task: Option<u32>,
    /// Memory per trial (`sbatch --mem`, e.g. 2G).
    #[arg(long)]
    pub mem: Option<String>,
    /// At most K array tasks at once (`--array=...%K`).
    #[arg(long)]
    pub max_parallel: Option<u32>,
    /// Any other sbatch option, repeatable: --sbatch-arg=--qos=low.
    #[arg(long = "sbatch-arg", allow_hyphen_values = true)]
    pub sbatch_args: Vec<String>,
    /// Folder that holds one results folder per sweep (must be on the shared filesystem).
    #[arg(long, default_value_os_t = default_results_root())]
    pub results_dir: PathBuf,
    /// Submit only the trials that never ran or whose process died.
    #[arg(long)]
    pub only_missing: bool,
    /// Submit the trials that failed or diverged (and, with --only-missing, the missing ones).
    #[arg(long)]
    pub retry_failed: bool,
    /// Delete the sweep's earlier results first.
    #[arg(long, conflicts_with_all = ["only_missing", "retry_failed"])]
    pub fresh: bool,
    /// Print the job scripts; write and submit nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// The sweep binary the jobs run (default: this one); on a cluster it must be on a shared path.
    #[arg(long)]
    pub sweep_bin: Option<PathBuf>,
    /// The sbatch program.
    #[arg(long, default_value = "sbatch")]
    pub sbatch: String,
    /// Print one JSON document on stdout: the job ids and scripts (with
    /// --dry-run, what would be submitted).
    #[arg(long)]
    pub json: bool,
}

/// Writes the job scripts, submits the array and the aggregation job, prints both ids.
pub fn slurm(args: SlurmArgs, catalog: &Catalog) -> Result<ExitCode, CliError> {
    let json_out = super::json::reserve_if(args.json)?;
    let spec = spec::load(&args.spec, catalog)?;
    let results_root = absolute(&args.results_dir)?;
    // Checks the data before anything is submitted: a bad CSV fails here, not in N jobs.
    let open = runner::OpenSweep::open(&spec, catalog, &results_root)?;
    // TPE: a few tasks that each take proposals until the budget is spent (asynchronous TPE).
    let take_next = open.plan.is_adaptive();
    if take_next && (args.only_missing || args.retry_failed) {
        return Err(CliError::Usage(
            "a TPE sweep's tasks take the next proposal themselves: resubmit with `sweep slurm` alone (it resumes \
             the proposals without a record), not --only-missing or --retry-failed"
                .into(),
        ));
    }
    let policy = if args.fresh {
        ExistingResults::Fresh
    } else if take_next {
        ExistingResults::Resume { retry_failed: false }
    } else if args.only_missing || args.retry_failed {
        ExistingResults::Resume { retry_failed: args.retry_failed }
    } else {
        ExistingResults::Refuse
    };
    let include_missing = args.only_missing || !args.retry_failed;

    let tasks = args.max_parallel.or(spec.slurm.max_parallel).map(|k| k as usize).or(spec.workers).unwrap_or(4);
    let indices: Vec<usize> = if take_next {
        if !args.dry_run {
            runner::prepare_results_dir(&spec, &open.plan, &open.dir, policy)?;
        }
        (0..tasks.clamp(1, open.plan.len().max(1))).collect()
    } else if args.dry_run {
        match (policy, sweep_status(&open.dir)) {
            (ExistingResults::Resume { .. }, Ok(status)) if status.spec_hash == spec.hash() => {
                pick(&status.trials, include_missing, args.retry_failed)
            }
            _ => (0..open.plan.len()).collect(),
        }
    } else {
        runner::prepare_results_dir(&spec, &open.plan, &open.dir, policy)?;
        pick(&sweep_status(&open.dir)?.trials, include_missing, args.retry_failed)
    };
    let slurm_dir = open.dir.root().join("slurm");
    let logs = slurm_dir.join("logs");
    let document = |indices: &[usize], scripts: Option<SlurmScripts>, ids: Option<(String, String)>| SlurmOutput {
        schema_version: SCHEMA_VERSION,
        command: "slurm",
        sweep: spec.name.clone(),
        results_dir: output::absolute(open.dir.root()),
        dry_run: args.dry_run,
        submitted: ids.is_some(),
        array_job_ids: ids.iter().map(|(array, _)| array.clone()).collect(),
        aggregate_job_id: ids.as_ref().map(|(_, aggregate)| aggregate.clone()),
        next: take_next,
        array_indices: indices.to_vec(),
        planned: open.plan.len(),
        scripts,
        logs: output::absolute(&logs),
    };
    if indices.is_empty() {
        if let Some(out) = json_out {
            out.print(&document(&indices, None, None))?;
            return Ok(ExitCode::SUCCESS);
        }
        println!(
            "nothing to submit: every trial of {} is done or running (see `sweep status {}`)",
            spec.name,
            open.dir.root().display()
        );
        return Ok(ExitCode::SUCCESS);
    }

    let settings = JobSettings { take_next, ..job_settings(&args, &spec, &results_root, &open.dir)? };
    let array_text = slurm::array_script(&settings, &indices, &logs);
    let aggregate_text = slurm::aggregate_script(&settings, &logs);
    let array_path = slurm_dir.join("array.sbatch");
    let aggregate_path = slurm_dir.join("aggregate.sbatch");
    let scripts = SlurmScripts {
        array: ScriptFile { path: output::absolute(&array_path), text: array_text.clone() },
        aggregate: ScriptFile { path: output::absolute(&aggregate_path), text: aggregate_text.clone() },
    };
    if args.dry_run {
        if let Some(out) = json_out {
            out.print(&document(&indices, Some(scripts), None))?;
            return Ok(ExitCode::SUCCESS);
        }
        println!(
            "# {} — array job ({} trials: {})\n{array_text}",
            slurm_dir.join("array.sbatch").display(),
            indices.len(),
            array_ranges(&indices)
        );
        println!(
            "# {} — submitted with --dependency=afterany:<array job id>\n{aggregate_text}",
            slurm_dir.join("aggregate.sbatch").display()
        );
        return Ok(ExitCode::SUCCESS);
    }

    std::fs::create_dir_all(&logs).map_err(StoreError::io(&logs))?;
    slurm::write_script(&array_path, &array_text)?;
    slurm::write_script(&aggregate_path, &aggregate_text)?;
    let array_id = slurm::submit(&args.sbatch, &array_path, &[])?;
    let aggregate_id = slurm::submit(&args.sbatch, &aggregate_path, &[format!("--dependency=afterany:{array_id}")])?;
    if let Some(out) = json_out {
        out.print(&document(&indices, Some(scripts), Some((array_id, aggregate_id))))?;
        return Ok(ExitCode::SUCCESS);
    }
    if take_next {
        println!(
            "array job: {array_id} ({} tasks taking TPE proposals until {} trials: {})",
            indices.len(),
            open.plan.len(),
            array_ranges(&indices)
        );
    } else {
        println!("array job: {array_id} ({} trials: {})", indices.len(), array_ranges(&indices));
    }
    println!("aggregation job: {aggregate_id} (after the array, whatever its tasks' states)");
    println!("follow with: sweep status {}   logs: {}", open.dir.root().display(), logs.display());
    Ok(ExitCode::SUCCESS)
}

fn pick(trials: &[TrialStatusLine], missing: bool, failed: bool) -> Vec<usize> {
    trials
        .iter()
        .filter(|t| (missing && t.state.needs_run()) || (failed && t.state.needs_retry()))
        .map(|t| t.index)
        .collect()
}

fn job_settings(
    args: &SlurmArgs,
    spec: &SweepSpec,
    results_root: &Path,
    dir: &SweepDir,
) -> Result<JobSettings, CliError> {
    let defaults = &spec.slurm;
    let sweep_bin = match &args.sweep_bin {
        Some(p) => absolute(p)?,
        None => std::env::current_exe()
            .map_err(|e| CliError::Usage(format!("cannot find this program's path ({e}); pass --sweep-bin")))?,
    };
    let mut sbatch_args = defaults.sbatch_args.clone();
    sbatch_args.extend(args.sbatch_args.iter().cloned());
    Ok(JobSettings {
        sweep: spec.name.clone(),
        sweep_bin: sweep_bin.display().to_string(),
        spec: absolute(&args.spec)?.display().to_string(),
        results_root: results_root.display().to_string(),
        sweep_dir: dir.root().display().to_string(),
        workdir: absolute(Path::new("."))?.display().to_string(),
        partition: args.partition.clone().or_else(|| defaults.partition.clone()),
        time: args.time.clone().or_else(|| defaults.time.clone()),
        cpus_per_task: args.cpus_per_task.or(defaults.cpus_per_task).unwrap_or(1),
        mem: args.mem.clone().or_else(|| defaults.mem.clone()),
        max_parallel: args.max_parallel.or(defaults.max_parallel),
        sbatch_args,
        retry_failed: args.retry_failed,
        take_next: false,
    })
}

fn absolute(p: &Path) -> Result<PathBuf, CliError> {
    std::path::absolute(p).map_err(|e| CliError::Usage(format!("{}: {e}", p.display())))
}
