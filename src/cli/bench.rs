//! `sweep bench`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::CliError;
use crate::bench::{self, BaselineRow, BaselineRun, BenchError, BenchOptions};

/// Arguments of `sweep bench`.
#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// Where bench.csv and the scratch folders go.
    #[arg(long, default_value = "results/bench")]
    pub out: PathBuf,
    /// Only these workloads (comma-separated): digits, cnn, scaling (digits and cnn), trivial, wide, checkpoint,
    /// plan, aggregate, wandb.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// The W-digits spec.
    #[arg(long, default_value = "sweeps/grid.toml")]
    pub grid_spec: PathBuf,
    /// The CNN example's spec (its binary: `cargo build --release --example digits_cnn`).
    #[arg(long, default_value = "examples/digits_cnn.toml")]
    pub cnn_spec: PathBuf,
    /// Data for the in-process workloads (W-wide, checkpoint policy).
    #[arg(long, default_value = "data/digits.csv")]
    pub data: PathBuf,
    /// Data for W-trivial: the smallest bundled table, so the objective stays trivial.
    #[arg(long, default_value = "data/breast_cancer.csv")]
    pub trivial_data: PathBuf,
    /// Trials of W-trivial.
    #[arg(long, default_value_t = 1000)]
    pub trivial_trials: usize,
    /// Size of the planned grid.
    #[arg(long, default_value_t = 1_000_000)]
    pub plan_size: usize,
    /// Synthetic records to aggregate.
    #[arg(long, default_value_t = 100_000)]
    pub aggregate_records: usize,
    /// Synthetic trials exported as W&B offline runs.
    #[arg(long, default_value_t = 10_000)]
    pub wandb_trials: usize,
    /// Another sweep binary (an older build) to measure each workload with too, in the same sitting:
    /// the table and bench.csv gain its value and the ratio ours/baseline beside each figure.
    #[arg(long, value_name = "PATH")]
    pub baseline: Option<PathBuf>,
    /// Keep the scratch folders (W-trivial's own folder, `trivial/` beside them, is always kept: the next run reuses its files).
    #[arg(long)]
    pub keep: bool,
}

/// Runs the workloads, prints a table, writes bench.csv; exit 1 when a target is missed or a workload fails.
pub(super) fn bench(args: BenchArgs) -> Result<ExitCode, CliError> {
    let absolute = |p: &PathBuf| std::path::absolute(p).map_err(|e| CliError::Usage(format!("{}: {e}", p.display())));
    let options = BenchOptions {
        grid_spec: args.grid_spec.clone(),
        cnn_spec: args.cnn_spec.clone(),
        work: args.out.join("work"),
        only: args.only.clone(),
        trivial_trials: args.trivial_trials,
        plan_size: args.plan_size,
        aggregate_records: args.aggregate_records,
        wandb_trials: args.wandb_trials,
        data: absolute(&args.data)?,
        trivial_data: absolute(&args.trivial_data)?,
    };
    let baseline = match &args.baseline {
        Some(program) => {
            if !program.is_file() {
                return Err(CliError::Usage(format!("--baseline {}: no such file", program.display())));
            }
            Some(BaselineRun { program: absolute(program)?, out: absolute(&args.out.join("baseline"))? })
        }
        None => None,
    };
    let cwd = std::env::current_dir().map_err(|e| CliError::Usage(e.to_string()))?;
    let mut baseline_rows: Vec<BaselineRow> = Vec::new();
    let mut run_baseline = |only: &str| {
        let Some(run) = &baseline else { return };
        let (rows, note) = run.run(only, &baseline_flags(&args, &options, only), &cwd);
        if let Some(note) = note {
            eprintln!("baseline: {note}");
        }
        baseline_rows.extend(rows);
    };
    let hook: Option<&mut dyn FnMut(&str)> = if args.baseline.is_some() { Some(&mut run_baseline) } else { None };
    let figures = bench::run_all(&options, |what| eprintln!("running {what} ..."), hook)?;
    if !args.keep {
        let _ = std::fs::remove_dir_all(&options.work);
    }
    let compared = args.baseline.is_some().then(|| bench::merge_baseline(&figures, &baseline_rows));
    let csv_path = args.out.join("bench.csv");
    std::fs::create_dir_all(&args.out).map_err(|source| BenchError::Write { path: args.out.clone(), source })?;
    crate::store::write_atomic(&csv_path, &bench::to_csv(&figures, compared.as_deref()))
        .map_err(|source| BenchError::Write { path: csv_path.clone(), source })?;
    if let Some(program) = &args.baseline {
        println!("baseline: {} (ratio = ours / baseline)", program.display());
    }
    print!("{}", bench::to_table(&figures, compared.as_deref()));
    println!("written: {}", csv_path.display());
    Ok(if figures.iter().any(|f| f.pass == Some(false)) { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

/// The flags the baseline runs workload `only` with: the sizes and inputs
/// ours runs with, and only those the workload reads, so that an older binary
/// that lacks a flag of another workload can still run this one.
fn baseline_flags(args: &BenchArgs, options: &BenchOptions, only: &str) -> Vec<String> {
    let path = |p: &std::path::Path| p.to_string_lossy().into_owned();
    let pairs: Vec<(&str, String)> = match only {
        "digits" | "scaling" => vec![("--grid-spec", path(&args.grid_spec))],
        "cnn" => vec![("--cnn-spec", path(&args.cnn_spec))],
        "trivial" => {
            vec![("--trivial-data", path(&options.trivial_data)), ("--trivial-trials", args.trivial_trials.to_string())]
        }
        "wide" => vec![("--data", path(&options.data))],
        "checkpoint" => vec![("--grid-spec", path(&args.grid_spec))],
        "plan" => vec![("--data", path(&options.data)), ("--plan-size", args.plan_size.to_string())],
        "aggregate" => vec![("--aggregate-records", args.aggregate_records.to_string())],
        "wandb" => {
            vec![("--trivial-data", path(&options.trivial_data)), ("--wandb-trials", args.wandb_trials.to_string())]
        }
        _ => Vec::new(),
    };
    pairs.into_iter().flat_map(|(flag, value)| [flag.to_string(), value]).collect()
}
