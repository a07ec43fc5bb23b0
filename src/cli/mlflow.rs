//! `sweep mlflow push RESULTS`: a sweep into an MLflow tracking server.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::CliError;
use crate::objective::Catalog;
use crate::publish::SweepView;
use crate::publish::mlflow::{self, Client, MlflowPublisher, PushOptions, Registration};
use crate::store::SweepDir;

/// `sweep mlflow ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum MlflowCommand {
    /// Push every trial as a run of one experiment (params, per-epoch metrics, `best_<metric>`,
    /// tags, checkpoint and model card as artifacts); pushing again completes or updates.
    Push(PushArgs),
}

/// Arguments of `sweep mlflow push`.
#[derive(Debug, Args)]
pub(crate) struct PushArgs {
    /// A sweep's results folder, e.g. results/digits-grid.
    pub results: PathBuf,
    /// The MLflow tracking server, http(s)://HOST:PORT (default: $MLFLOW_TRACKING_URI).
    #[arg(long, value_name = "URI")]
    pub tracking_uri: Option<String>,
    /// The experiment to push into (created if missing; default: the sweep's name).
    #[arg(long, value_name = "NAME")]
    pub experiment: Option<String>,
    /// Register the top trial's model (or --trial's) as a new version of this registered model.
    #[arg(long, value_name = "MODEL")]
    pub register: Option<String>,
    /// Point this alias of the registered model (e.g. champion) at the version.
    #[arg(long, requires = "register")]
    pub alias: Option<String>,
    /// The trial to register instead of the sweep registry's top pick.
    #[arg(long, value_name = "ID", requires = "register")]
    pub trial: Option<String>,
}

/// Runs `sweep mlflow ...`.
pub(super) fn mlflow(command: MlflowCommand, catalog: &Catalog) -> Result<ExitCode, CliError> {
    match command {
        MlflowCommand::Push(args) => push(args, catalog),
    }
}

fn push(args: PushArgs, catalog: &Catalog) -> Result<ExitCode, CliError> {
    let uri = match args.tracking_uri.or_else(|| std::env::var("MLFLOW_TRACKING_URI").ok().filter(|u| !u.is_empty())) {
        Some(uri) => uri,
        None => {
            return Err(CliError::Usage(
                "no tracking server: give --tracking-uri http://HOST:PORT or set MLFLOW_TRACKING_URI".into(),
            ));
        }
    };
    let client = Client::new(&uri).map_err(|e| mlflow::PushError::Uri(Box::new(e)))?;
    let options = PushOptions {
        experiment: args.experiment,
        register: args.register.map(|model| Registration { model, alias: args.alias, trial: args.trial }),
    };
    let started = std::time::Instant::now();
    let view = SweepView::load(&SweepDir::new(&args.results)).map_err(mlflow::PushError::from)?;
    let summary = MlflowPublisher { client, options, catalog }.push(&view)?;
    let pushed = summary.created + summary.completed + summary.up_to_date;
    println!(
        "pushed {pushed} trial(s) to experiment \"{}\" (id {}{}) at {uri} in {:.1} s: {} new run(s), {} completed, {} already up to date{}",
        summary.experiment,
        summary.experiment_id,
        if summary.experiment_created { ", created" } else { "" },
        started.elapsed().as_secs_f64(),
        summary.created,
        summary.completed,
        summary.up_to_date,
        if summary.superseded > 0 {
            format!(", {} older run(s) superseded and deleted", summary.superseded)
        } else {
            String::new()
        },
    );
    println!("experiment: {}", summary.url);
    if let Some(v) = &summary.registered {
        println!(
            "registered: {} version {} ({}) from trial {} (run {}){}",
            v.model,
            v.version,
            if v.created { "new" } else { "existing" },
            v.trial,
            v.run_id,
            v.alias.as_ref().map(|a| format!(", alias @{a}")).unwrap_or_default()
        );
    }
    if !summary.skipped.is_empty() {
        eprintln!(
            "note: {} trial folder(s) have no trial.json yet (running, or died) and were not pushed; push again once they finish: {}",
            summary.skipped.len(),
            summary.skipped.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
        );
    }
    Ok(ExitCode::SUCCESS)
}
