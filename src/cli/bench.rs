//! `sweep bench`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use super::CliError;
use crate::bench::{self, BenchError, BenchOptions};

/// Arguments of `sweep bench`.
#[derive(Debug, Args)]
pub(crate) struct BenchArgs {
    /// Where bench.csv and the scratch folders go.
    #[arg(long, default_value = "results/bench")]
    pub out: PathBuf,
    /// Only these workloads (comma-separated): digits, scaling, trivial, wide, checkpoint, plan, aggregate, wandb.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// The W-digits spec.
    #[arg(long, default_value = "sweeps/grid.toml")]
    pub grid_spec: PathBuf,
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
    /// Keep the scratch folders (W-trivial's own folder, `trivial/` beside them, is always kept: the next run reuses its files).
    #[arg(long)]
    pub keep: bool,
}

/// Runs the workloads, prints a table, writes bench.csv; exit 1 when a target is missed or a workload fails.
pub(super) fn bench(args: BenchArgs) -> Result<ExitCode, CliError> {
    let options = BenchOptions {
        grid_spec: args.grid_spec,
        work: args.out.join("work"),
        only: args.only,
        trivial_trials: args.trivial_trials,
        plan_size: args.plan_size,
        aggregate_records: args.aggregate_records,
        wandb_trials: args.wandb_trials,
        data: std::path::absolute(&args.data).map_err(|e| CliError::Usage(e.to_string()))?,
        trivial_data: std::path::absolute(&args.trivial_data).map_err(|e| CliError::Usage(e.to_string()))?,
    };
    let figures = bench::run_all(&options, |what| eprintln!("running {what} ..."))?;
    if !args.keep {
        let _ = std::fs::remove_dir_all(&options.work);
    }
    let csv_path = args.out.join("bench.csv");
    std::fs::create_dir_all(&args.out).map_err(|source| BenchError::Write { path: args.out.clone(), source })?;
    crate::store::write_atomic(&csv_path, &bench::to_csv(&figures))
        .map_err(|source| BenchError::Write { path: csv_path.clone(), source })?;
    print!("{}", bench::to_table(&figures));
    println!("written: {}", csv_path.display());
    Ok(if figures.iter().any(|f| f.pass == Some(false)) { ExitCode::from(1) } else { ExitCode::SUCCESS })
}
