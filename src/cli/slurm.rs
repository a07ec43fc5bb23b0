//! `sweep slurm SPEC`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Args;

use super::{CliError, default_results_root};
use crate::objective::Catalog;
use crate::output::{self, ArrayScript, SCHEMA_VERSION, ScriptFile, SlurmOutput, SlurmScripts};
use crate::runner::{self, ExistingResults};
use crate::slurm::{
    self, ArrayChunk, ArrayLimits, DEFAULT_MAX_ARRAY_SIZE, GpuRequest, JobSettings, SlurmError, array_ranges,
};
use crate::spec::{self, SweepSpec};
use crate::status::{TrialStatusLine, sweep_status};
use crate::store::{StoreError, SweepDir};

/// Arguments of `sweep slurm`. Job options default to the spec's `[slurm]` table.
#[derive(Debug, Args)]
pub(crate) struct SlurmArgs {
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
    #[command(flatten)]
    pub device: super::devices::DeviceArgs,
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
    /// The cluster's MaxArraySize: array task ids stay below it, and a larger sweep is split into
    /// several arrays (default: read with `scontrol show config`; 1001, SLURM's default, where that fails).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_array_size: Option<u64>,
    /// The scontrol program (reads MaxArraySize).
    #[arg(long, default_value = "scontrol")]
    pub scontrol: String,
}

/// Writes the job scripts, submits the arrays and the aggregation job, prints their ids (with
/// `--dry-run`, prints the scripts instead).
pub(super) fn slurm(args: SlurmArgs, catalog: &Catalog) -> Result<ExitCode, CliError> {
    let json_out = super::json::reserve_if(args.json)?;
    let spec = spec::load(&args.spec, catalog)?;
    let results_root = absolute(&args.results_dir)?;
    // Checks the data before anything is submitted: a bad CSV fails here, not in N jobs.
    let open = runner::OpenSweep::open(&spec, catalog, &results_root)?;
    // TPE: a few tasks that each take proposals until the budget is spent (asynchronous TPE).
    let take_next = open.plan.is_adaptive();
    let indices = trials_to_submit(&args, &spec, &open, take_next)?;
    let slurm_dir = open.dir.root().join("slurm");
    let logs = slurm_dir.join("logs");
    let document = |max_array_size: Option<usize>,
                    scripts: Option<SlurmScripts>,
                    ids: Option<(Vec<String>, String)>| SlurmOutput {
        schema_version: SCHEMA_VERSION,
        command: "slurm",
        sweep: spec.name.clone(),
        results_dir: output::absolute(open.dir.root()),
        dry_run: args.dry_run,
        submitted: ids.is_some(),
        array_job_ids: ids.as_ref().map(|(arrays, _)| arrays.clone()).unwrap_or_default(),
        aggregate_job_id: ids.as_ref().map(|(_, aggregate)| aggregate.clone()),
        next: take_next,
        array_indices: indices.clone(),
        planned: open.plan.len(),
        max_array_size,
        scripts,
        logs: output::absolute(&logs),
    };
    if indices.is_empty() {
        if let Some(out) = json_out {
            out.print(&document(None, None, None))?;
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
    let (limits, limits_source) = array_limits(&args)?;
    let jobs = Jobs::new(&settings, &indices, (limits, limits_source), &slurm_dir, &logs, open.plan.len());
    if args.dry_run {
        match json_out {
            Some(out) => out.print(&document(Some(limits.max_array_size), Some(jobs.script_files()), None))?,
            None => jobs.print_scripts(),
        }
        return Ok(ExitCode::SUCCESS);
    }
    let (array_ids, aggregate_id) = jobs.write_and_submit(&args.sbatch, &slurm_dir, &logs)?;
    match json_out {
        Some(out) => out.print(&document(
            Some(limits.max_array_size),
            Some(jobs.script_files()),
            Some((array_ids, aggregate_id)),
        ))?,
        None => {
            jobs.print_submitted(&array_ids, &aggregate_id);
            println!("follow with: sweep status {}   logs: {}", open.dir.root().display(), logs.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The trial indices the arrays run, once `--fresh`, `--only-missing` or `--retry-failed` has
/// prepared the results folder (with `--dry-run`, the ones they would run; nothing is written).
/// A TPE sweep gets task numbers instead: each task takes proposals until the budget is spent.
fn trials_to_submit(
    args: &SlurmArgs,
    spec: &SweepSpec,
    open: &runner::OpenSweep,
    take_next: bool,
) -> Result<Vec<usize>, CliError> {
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

    if take_next {
        let tasks = args.max_parallel.or(spec.slurm.max_parallel).map(|k| k as usize).or(spec.workers).unwrap_or(4);
        if !args.dry_run {
            runner::prepare_results_dir(spec, &open.plan, &open.dir, policy)?;
        }
        return Ok((0..tasks.clamp(1, open.plan.len().max(1))).collect());
    }
    if args.dry_run {
        return Ok(match (policy, sweep_status(&open.dir)) {
            (ExistingResults::Resume { .. }, Ok(status)) if status.spec_hash == spec.hash() => {
                pick(&status.trials, include_missing, args.retry_failed)
            }
            _ => (0..open.plan.len()).collect(),
        });
    }
    runner::prepare_results_dir(spec, &open.plan, &open.dir, policy)?;
    Ok(pick(&sweep_status(&open.dir)?.trials, include_missing, args.retry_failed))
}

/// One submission's job scripts: the arrays (one, or several past `MaxArraySize`) and the
/// aggregation job that waits for all of them.
struct Jobs {
    /// Each array's script path and text, with the trials it runs.
    arrays: Vec<(PathBuf, String, ArrayChunk)>,
    aggregate_path: PathBuf,
    aggregate_text: String,
    /// Each array waits for the one before, so that `--max-parallel` holds for the whole sweep.
    chained: bool,
    take_next: bool,
    planned: usize,
    limits: ArrayLimits,
    limits_source: &'static str,
}

impl Jobs {
    fn new(
        settings: &JobSettings,
        indices: &[usize],
        (limits, limits_source): (ArrayLimits, &'static str),
        slurm_dir: &Path,
        logs: &Path,
        planned: usize,
    ) -> Jobs {
        let chunks = slurm::arrays::split(indices, limits);
        let several = chunks.len() > 1;
        // TPE tasks are the concurrency itself: all of them start at once.
        let chained = several && settings.max_parallel.is_some() && !settings.take_next;
        let arrays = chunks
            .into_iter()
            .enumerate()
            .map(|(k, chunk)| {
                let name = if several { format!("array-{}.sbatch", k + 1) } else { "array.sbatch".to_string() };
                let text = slurm::array_script(settings, &chunk, logs);
                (slurm_dir.join(name), text, chunk)
            })
            .collect();
        Jobs {
            arrays,
            aggregate_path: slurm_dir.join("aggregate.sbatch"),
            aggregate_text: slurm::aggregate_script(settings, logs),
            chained,
            take_next: settings.take_next,
            planned,
            limits,
            limits_source,
        }
    }

    fn script_files(&self) -> SlurmScripts {
        SlurmScripts {
            arrays: self
                .arrays
                .iter()
                .map(|(path, text, chunk)| ArrayScript {
                    path: output::absolute(path),
                    text: text.clone(),
                    array: chunk.array(),
                    offset: chunk.offset,
                    trials: chunk.indices(),
                })
                .collect(),
            aggregate: ScriptFile { path: output::absolute(&self.aggregate_path), text: self.aggregate_text.clone() },
        }
    }

    fn describe(&self, chunk: &ArrayChunk) -> String {
        let trials = array_ranges(&chunk.indices());
        if self.take_next {
            format!("{} tasks taking TPE proposals until {} trials: {trials}", chunk.tasks.len(), self.planned)
        } else if chunk.offset == 0 {
            format!("{} trials: {trials}", chunk.tasks.len())
        } else {
            format!(
                "{} trials: {trials}; array tasks {} run trial {} + task id",
                chunk.tasks.len(),
                chunk.array(),
                chunk.offset
            )
        }
    }

    /// `--dry-run`: every script, with how it would be submitted.
    fn print_scripts(&self) {
        let count = self.arrays.len();
        if count > 1 {
            println!(
                "# {count} array jobs: MaxArraySize {} ({}){}{}\n",
                self.limits.max_array_size,
                self.limits_source,
                if self.limits.max_array_tasks < self.limits.max_array_size {
                    format!(", max_array_tasks {}", self.limits.max_array_tasks)
                } else {
                    String::new()
                },
                if self.chained {
                    "; each after the one before, so that --max-parallel holds for the whole sweep"
                } else {
                    ""
                }
            );
        }
        for (k, (path, text, chunk)) in self.arrays.iter().enumerate() {
            let after = if self.chained && k > 0 {
                format!(", submitted with --dependency=afterany:<array job {k}>")
            } else {
                String::new()
            };
            let which = if count > 1 { format!(" {} of {count}", k + 1) } else { String::new() };
            println!("# {} — array job{which} ({}){after}\n{text}", path.display(), self.describe(chunk));
        }
        let waits_for = if count == 1 {
            "<array job id>".to_string()
        } else {
            (1..=count).map(|k| format!("<array job {k}>")).collect::<Vec<_>>().join(":")
        };
        println!(
            "# {} — submitted with --dependency=afterany:{waits_for}\n{}",
            self.aggregate_path.display(),
            self.aggregate_text
        );
    }

    /// Writes the scripts (removing the extra arrays of an earlier, larger submission) and submits
    /// them; a failure after the first submission names the jobs already queued.
    fn write_and_submit(&self, sbatch: &str, slurm_dir: &Path, logs: &Path) -> Result<(Vec<String>, String), CliError> {
        std::fs::create_dir_all(logs).map_err(StoreError::io(logs))?;
        remove_other_array_scripts(slurm_dir, &self.arrays)?;
        for (path, text, _) in &self.arrays {
            slurm::write_script(path, text)?;
        }
        slurm::write_script(&self.aggregate_path, &self.aggregate_text)?;
        let partly = |submitted: &[String], e: SlurmError| -> CliError {
            if submitted.is_empty() {
                e.into()
            } else {
                SlurmError::PartlySubmitted { submitted: submitted.to_vec(), source: Box::new(e) }.into()
            }
        };
        let mut array_ids: Vec<String> = Vec::new();
        for (path, _, _) in &self.arrays {
            let after: Vec<String> = match array_ids.last() {
                Some(previous) if self.chained => vec![format!("--dependency=afterany:{previous}")],
                _ => Vec::new(),
            };
            let id = slurm::submit(sbatch, path, &after).map_err(|e| partly(&array_ids, e))?;
            array_ids.push(id);
        }
        let waits_for = format!("--dependency=afterany:{}", array_ids.join(":"));
        let aggregate_id =
            slurm::submit(sbatch, &self.aggregate_path, &[waits_for]).map_err(|e| partly(&array_ids, e))?;
        Ok((array_ids, aggregate_id))
    }

    fn print_submitted(&self, array_ids: &[String], aggregate_id: &str) {
        for (k, (id, (_, _, chunk))) in array_ids.iter().zip(&self.arrays).enumerate() {
            let after =
                if self.chained && k > 0 { format!(", after array job {}", array_ids[k - 1]) } else { String::new() };
            println!("array job: {id} ({}){after}", self.describe(chunk));
        }
        if self.arrays.len() == 1 {
            println!("aggregation job: {aggregate_id} (after the array, whatever its tasks' states)");
        } else {
            println!(
                "aggregation job: {aggregate_id} (after all {} arrays, whatever their tasks' states; MaxArraySize {}, {})",
                self.arrays.len(),
                self.limits.max_array_size,
                self.limits_source
            );
        }
    }
}

/// The array limits: `--max-array-size`, else the cluster's, else SLURM's default with a notice; and where they come from.
fn array_limits(args: &SlurmArgs) -> Result<(ArrayLimits, &'static str), CliError> {
    let (limits, source) = match args.max_array_size {
        Some(n) => (ArrayLimits::new(usize::try_from(n).unwrap_or(usize::MAX)), "--max-array-size"),
        None => match slurm::array_limits(&args.scontrol) {
            Ok(limits) => (limits, "scontrol show config"),
            Err(why) => {
                // sbatch itself rejects an array the cluster does not allow, with its own message.
                eprintln!(
                    "note: {why}; assuming SLURM's default MaxArraySize of {DEFAULT_MAX_ARRAY_SIZE} \
                     (--max-array-size N sets it)"
                );
                (ArrayLimits::new(DEFAULT_MAX_ARRAY_SIZE), "SLURM's default")
            }
        },
    };
    if limits.max_array_size == 0 || limits.max_array_tasks == 0 {
        return Err(SlurmError::NoArrays.into());
    }
    Ok((limits, source))
}

/// Removes array scripts of an earlier submission that this one does not write
/// (`array-3.sbatch` when the sweep now fits in two), so the folder shows what was submitted.
fn remove_other_array_scripts(slurm_dir: &Path, keep: &[(PathBuf, String, ArrayChunk)]) -> Result<(), CliError> {
    let Ok(entries) = std::fs::read_dir(slurm_dir) else { return Ok(()) };
    for path in entries.filter_map(|e| e.ok().map(|e| e.path())) {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
        let numbered = name
            .strip_prefix("array-")
            .and_then(|r| r.strip_suffix(".sbatch"))
            .is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()));
        if (numbered || name == "array.sbatch") && !keep.iter().any(|(p, _, _)| *p == path) {
            std::fs::remove_file(&path).map_err(StoreError::io(&path))?;
        }
    }
    Ok(())
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
        gpu: gpu_request(args, spec)?,
    })
}

/// What each array task requests of a GPU sweep. The submitting machine may
/// have no GPU, so devices are not looked for here; the binary the jobs run
/// must have the backend, and SLURM, not `--devices`, picks the GPU.
fn gpu_request(args: &SlurmArgs, spec: &SweepSpec) -> Result<Option<GpuRequest>, CliError> {
    if args.device.devices.is_some() {
        return Err(CliError::Usage(
            "--devices is not for sweep slurm: SLURM gives each array task its GPU (--gres)".into(),
        ));
    }
    let resources = args.device.apply(&spec.resources, None)?;
    if !resources.backend.is_gpu() {
        return Ok(None);
    }
    if args.sweep_bin.is_none() && !resources.backend.built() {
        return Err(crate::device::DeviceError::NotBuilt { backend: resources.backend }.into());
    }
    Ok(Some(GpuRequest::new(resources.backend, resources.trials_per_device)))
}

fn absolute(p: &Path) -> Result<PathBuf, CliError> {
    std::path::absolute(p).map_err(|e| CliError::Usage(format!("{}: {e}", p.display())))
}
