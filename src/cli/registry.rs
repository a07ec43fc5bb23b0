//! `sweep registry ...`: the per-sweep rankings and the registry of named models.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Subcommand};

use super::{CliError, default_results_root};
use crate::aggregate::SweepRegistry;
use crate::params::params_display;
use crate::registry::{ModelEntry, ModelRef, Registry, RegistryError, Selector};
use crate::store::{self, SweepDir, names};

/// Where the results and the registry live.
#[derive(Debug, Args)]
pub(crate) struct Location {
    /// Folder that holds one results folder per sweep.
    #[arg(long, default_value_os_t = default_results_root())]
    pub results_dir: PathBuf,
    /// The registry of named models (default: <results-dir>/registry).
    #[arg(long)]
    pub registry_dir: Option<PathBuf>,
}

impl Location {
    /// The registry folder.
    pub(crate) fn registry(&self) -> Registry {
        Registry::new(self.registry_dir.clone().unwrap_or_else(|| self.results_dir.join("registry")))
    }
}

/// Registry subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum RegistryCommand {
    /// List models: one sweep's, best first, or (without SWEEP) every registered model and every sweep.
    List {
        /// A sweep's results folder.
        sweep: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        at: Location,
    },
    /// Show a registered model's versions and lineage: NAME, NAME@VERSION or NAME@ALIAS.
    Show {
        /// The model.
        model: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        #[command(flatten)]
        at: Location,
    },
    /// Register a trial of a sweep as a new version of a named model.
    Register {
        /// The sweep's results folder, e.g. results/digits-grid.
        sweep: PathBuf,
        /// The trial id (see leaderboard.csv); default: the sweep's top-ranked trial.
        #[arg(long)]
        trial: Option<String>,
        /// The model's name.
        #[arg(long)]
        name: String,
        /// Also point this alias at the new version.
        #[arg(long)]
        alias: Option<String>,
        #[command(flatten)]
        at: Location,
    },
    /// Point an alias (champion, staging, ...) at a version: NAME@VERSION ALIAS.
    Alias {
        /// NAME@VERSION.
        model: String,
        /// The alias to set or move.
        alias: String,
        #[command(flatten)]
        at: Location,
    },
}

/// Runs a registry subcommand.
pub(super) fn registry(cmd: RegistryCommand) -> Result<ExitCode, CliError> {
    match cmd {
        RegistryCommand::List { sweep: Some(dir), json, .. } => list_sweep(&dir, json),
        RegistryCommand::List { sweep: None, json, at } => list_all(&at, json),
        RegistryCommand::Show { model, json, at } => show(&at.registry(), &model, json),
        RegistryCommand::Register { sweep, trial, name, alias, at } => {
            let dir = SweepDir::new(&sweep);
            dir.refuse_links()?;
            // Every name is checked before anything is written.
            crate::registry::validate_name(&name, "model name")?;
            if let Some(alias) = &alias {
                crate::registry::validate_alias(alias)?;
            }
            let trial = match trial {
                Some(t) => t,
                None => top_trial(&dir)?,
            };
            let registry = at.registry();
            let (version, new) = registry.register(&dir, &trial, &name)?;
            if new {
                println!("registered {name}@{} ← {} trial {trial}", version.version, version.sweep);
            } else {
                println!("{name}@{} already is {} trial {trial}; nothing to do", version.version, version.sweep);
            }
            if let Some(alias) = alias {
                registry.set_alias(&name, version.version, &alias)?;
                println!("{name}@{alias} → version {}", version.version);
            }
            Ok(ExitCode::SUCCESS)
        }
        RegistryCommand::Alias { model, alias, at } => {
            let ModelRef::Named { name, selector: Selector::Version(version) } = ModelRef::parse(&model)? else {
                return Err(CliError::Usage(format!("\"{model}\": expected NAME@VERSION, e.g. digits@3")));
            };
            match at.registry().set_alias(&name, version, &alias)? {
                Some(old) if old != version => {
                    println!("{name}@{alias}: moved from version {old} to {version}")
                }
                _ => println!("{name}@{alias} → version {version}"),
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// Registers the sweep's top trial under `name` (the spec's `register_as`), in
/// the registry beside the sweep's folder; returns what it did, in words.
pub(super) fn register_top(dir: &SweepDir, name: &str) -> Result<crate::output::Registered, CliError> {
    let registry_root = dir.root().parent().map_or_else(|| PathBuf::from("registry"), |p| p.join("registry"));
    let trial = top_trial(dir)?;
    let (version, new) = Registry::new(registry_root).register(dir, &trial, name)?;
    Ok(crate::output::Registered { name: name.to_string(), version: version.version, trial_id: trial, new })
}

/// The top-ranked trial of a sweep that meets its constraints, from its registry.json.
pub(super) fn top_trial(dir: &SweepDir) -> Result<String, CliError> {
    let reg = read_sweep_registry(dir.root())?;
    if reg.models.is_empty() {
        return Err(CliError::Usage(format!("{}: no successful trial to register", dir.root().display())));
    }
    reg.pick().map(|m| m.trial_id.clone()).ok_or_else(|| {
        crate::aggregate::AggregateError::NoneMeetsConstraints {
            dir: dir.root().to_path_buf(),
            models: reg.models.len(),
        }
        .into()
    })
}

fn read_sweep_registry(dir: &Path) -> Result<SweepRegistry, CliError> {
    let file = dir.join(names::REGISTRY);
    if !file.exists() {
        return Err(CliError::Usage(format!(
            "{}: no registry here; run `sweep aggregate {}` first",
            file.display(),
            dir.display()
        )));
    }
    Ok(store::read_json(&file)?)
}

fn sweep_registries(results_dir: &Path) -> Result<Vec<SweepRegistry>, CliError> {
    let Ok(entries) = std::fs::read_dir(results_dir) else {
        return Ok(Vec::new());
    };
    let mut files: Vec<PathBuf> =
        entries.filter_map(|e| e.ok().map(|e| e.path().join(names::REGISTRY))).filter(|p| p.exists()).collect();
    files.sort();
    files.iter().map(|f| store::read_json(f).map_err(CliError::from)).collect()
}

fn list_sweep(dir: &Path, json: bool) -> Result<ExitCode, CliError> {
    let reg = read_sweep_registry(dir)?;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &reg).map_err(std::io::Error::other)?;
        writeln!(out)?;
    } else {
        print_sweep(&mut out, &reg, usize::MAX)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_sweep(out: &mut impl Write, reg: &SweepRegistry, limit: usize) -> std::io::Result<()> {
    let metric = &reg.monitor.metric;
    writeln!(out, "{} (spec {}): {} models by best {metric}", reg.sweep, reg.spec_hash, reg.models.len())?;
    for m in reg.models.iter().take(limit) {
        writeln!(
            out,
            "{:>4}  {:<16} {metric} {:<9} epoch {:<4} sha256 {}  {}  {}",
            m.rank,
            m.trial_id,
            m.metrics.get(metric).map(|v| format!("{v:.5}")).unwrap_or_default(),
            m.best_epoch,
            &m.checkpoint_sha256[..12.min(m.checkpoint_sha256.len())],
            m.checkpoint,
            params_display(&m.params)
        )?;
    }
    Ok(())
}

fn list_all(at: &Location, json: bool) -> Result<ExitCode, CliError> {
    let models = at.registry().list()?;
    let sweeps = sweep_registries(&at.results_dir)?;
    let mut out = std::io::stdout().lock();
    if json {
        let value = serde_json::json!({ "models": models, "sweeps": sweeps });
        serde_json::to_writer_pretty(&mut out, &value).map_err(std::io::Error::other)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    if models.is_empty() {
        writeln!(
            out,
            "no registered models in {} (sweep registry register results/<sweep> --name NAME)",
            at.registry().root().display()
        )?;
    }
    for entry in &models {
        print_entry(&mut out, entry)?;
    }
    for reg in &sweeps {
        writeln!(out)?;
        print_sweep(&mut out, reg, 3)?;
    }
    Ok(ExitCode::SUCCESS)
}

fn print_entry(out: &mut impl Write, entry: &ModelEntry) -> std::io::Result<()> {
    writeln!(out, "{}: {} version(s)", entry.name, entry.versions.len())?;
    for v in &entry.versions {
        let aliases = entry.aliases_of(v.version);
        let metric = &v.monitor.metric;
        writeln!(
            out,
            "  @{:<3} {:<18} {} {} {metric} {:.5} epoch {}  {}",
            v.version,
            if aliases.is_empty() { String::new() } else { format!("[{}]", aliases.join(", ")) },
            v.sweep,
            v.trial_id,
            v.metrics.get(metric).copied().unwrap_or(f64::NAN),
            v.best_epoch,
            params_display(&v.params)
        )?;
    }
    Ok(())
}

fn show(registry: &Registry, model: &str, json: bool) -> Result<ExitCode, CliError> {
    let ModelRef::Named { name, selector } = ModelRef::parse(model)? else {
        return Err(CliError::Registry(RegistryError::BadRef {
            reference: model.to_string(),
            why: "a folder is not a registered model; expected NAME, NAME@VERSION or NAME@ALIAS".to_string(),
        }));
    };
    let (entry, version, dir) = registry.resolve(&name, &selector)?;
    let mut out = std::io::stdout().lock();
    if json {
        let value = serde_json::json!({
            "name": entry.name,
            "aliases": entry.aliases_of(version.version),
            "folder": dir,
            "version": version,
        });
        serde_json::to_writer_pretty(&mut out, &value).map_err(std::io::Error::other)?;
        writeln!(out)?;
        return Ok(ExitCode::SUCCESS);
    }
    let aliases = entry.aliases_of(version.version);
    writeln!(
        out,
        "{}@{}{}",
        entry.name,
        version.version,
        if aliases.is_empty() { String::new() } else { format!(" [{}]", aliases.join(", ")) }
    )?;
    writeln!(out, "  folder:            {}", dir.display())?;
    writeln!(out, "  sweep:             {} (spec {})", version.sweep, version.spec_hash)?;
    writeln!(
        out,
        "  trial:             {} (seed {}), from {}",
        version.trial_id,
        version.seed,
        version.source.display()
    )?;
    writeln!(out, "  objective:         {} (version {})", version.objective, version.objective_version)?;
    writeln!(out, "  params:            {}", params_display(&version.params))?;
    writeln!(
        out,
        "  best epoch:        {} of {} by {}",
        version.best_epoch,
        version.settings.get(crate::params::EPOCHS).map(ToString::to_string).unwrap_or_else(|| "?".into()),
        version.monitor.metric
    )?;
    if let Some(refit) = &version.refit {
        writeln!(
            out,
            "  refit:             configuration {} on every non-test row, for the median best epoch of folds {}",
            refit.config,
            refit.fold_trials.join(", ")
        )?;
        writeln!(out, "  cross-validated (mean ± std over its folds):")?;
        for (k, v) in &refit.cv_mean {
            let std = refit.cv_std.get(k).map(|s| format!(" ± {s:.6}")).unwrap_or_default();
            writeln!(out, "    {k:<18} {v:.6}{std}")?;
        }
    } else {
        for (k, v) in &version.metrics {
            writeln!(out, "    {k:<18} {v:.6}")?;
        }
    }
    if let Some(test) = &version.test_metrics {
        writeln!(out, "  on the test split (seen by no selection):")?;
        for (k, v) in test {
            writeln!(out, "    {k:<18} {v:.6}")?;
        }
    }
    writeln!(out, "  data sha256:       {}", version.data_fingerprint)?;
    writeln!(out, "  checkpoint sha256: {}", version.checkpoint_sha256)?;
    writeln!(out, "  trained:           {}", version.trained_at)?;
    if let Some(device) = &version.device {
        writeln!(out, "  trained on:        {}", device.label())?;
    }
    writeln!(out, "  registered:        {}", version.registered_at)?;
    Ok(ExitCode::SUCCESS)
}
