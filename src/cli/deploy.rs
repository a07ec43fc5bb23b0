//! `sweep predict`, `sweep verify` and `sweep export`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, ValueEnum};

use super::CliError;
use super::registry::Location;
use crate::data::SplitName;
use crate::deploy::{self, Format, Layout, LoadedModel, Predictions, read_features};
use crate::metrics::regression;
use crate::objective::Catalog;
use crate::output::{EvaluateOutput, ExportOutput, ExportedFile, SCHEMA_VERSION, absolute};

/// Arguments of `sweep predict`.
#[derive(Debug, Args)]
pub(crate) struct PredictArgs {
    /// NAME@ALIAS, NAME@VERSION, NAME (latest), or a trial folder.
    pub model: String,
    /// CSV with the model's feature columns (by name, any order); the target column may be there too.
    #[arg(long, required_unless_present = "split", conflicts_with = "split")]
    pub input: Option<PathBuf>,
    /// Predict the model's own stored split instead, with the true targets alongside.
    #[arg(long, value_enum)]
    pub split: Option<Split>,
    /// Where to write the predictions (default: standard output).
    #[arg(long, short = 'o')]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub at: Location,
    /// Compute on this device (cpu, wgpu) instead of the one the model trained on where this
    /// binary and machine have it (the default; else the CPU).
    #[arg(long, value_parser = super::devices::parse_backend)]
    pub device: Option<crate::device::Backend>,
}

/// A part of the model's stored split.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Split {
    /// The rows it learned from.
    Train,
    /// The validation split its best epoch (and the sweep's ranking) was chosen on.
    Valid,
    /// The test split no selection saw.
    Test,
}

impl From<Split> for SplitName {
    fn from(split: Split) -> Self {
        match split {
            Split::Train => SplitName::Train,
            Split::Valid => SplitName::Valid,
            Split::Test => SplitName::Test,
        }
    }
}

/// Arguments of `sweep evaluate`.
#[derive(Debug, Args)]
pub(crate) struct EvaluateArgs {
    /// NAME@ALIAS, NAME@VERSION, NAME (latest), or a trial folder.
    pub model: String,
    /// The part of its split.
    #[arg(long, value_enum, default_value = "test")]
    pub split: Split,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub at: Location,
    /// Compute on this device (cpu, wgpu) instead of the one the model trained on where this
    /// binary and machine have it (the default; else the CPU).
    #[arg(long, value_parser = super::devices::parse_backend)]
    pub device: Option<crate::device::Backend>,
}

/// Arguments of `sweep verify`.
#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// NAME@ALIAS, NAME@VERSION, NAME (latest), or a trial folder.
    pub model: String,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub at: Location,
    /// Compute on this device (cpu, wgpu) instead of the one the model trained on where this
    /// binary and machine have it (the default; else the CPU).
    #[arg(long, value_parser = super::devices::parse_backend)]
    pub device: Option<crate::device::Backend>,
}

/// Arguments of `sweep export`.
#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// NAME@ALIAS, NAME@VERSION, NAME (latest), or a trial folder.
    pub model: String,
    /// The folder to write into.
    #[arg(long)]
    pub to: PathBuf,
    /// Weight layout of model.safetensors: burn ([in, out], as trained; the default) or pytorch
    /// ([out, in], with model.py where the objective describes its module).
    #[arg(long, value_enum)]
    pub layout: Option<Layout>,
    /// safetensors (weights + preprocessing.json) or onnx (model.onnx: raw features in,
    /// probabilities or predictions out, standardization inside).
    #[arg(long, value_enum, default_value = "safetensors")]
    pub format: Format,
    /// Print one JSON document on stdout: every file written, with its size and sha256.
    #[arg(long)]
    pub json: bool,
    #[command(flatten)]
    pub at: Location,
}

/// Loads a model for `what` (predict, evaluate, export): a program's model is refused by name.
fn load<'a>(
    reference: &str,
    at: &Location,
    catalog: &'a Catalog,
    what: &'static str,
    device: Option<crate::device::Backend>,
) -> Result<LoadedModel<'a>, CliError> {
    let dir = deploy::locate(reference, &at.registry())?;
    if let Some(record) = deploy::program_record(&dir, catalog)? {
        return Err(deploy::DeployError::ProgramModel { dir, name: record.objective, what }.into());
    }
    Ok(LoadedModel::load_on(&dir, catalog, device)?)
}

/// Writes one row per input row: the prediction in the target's original form
/// (a label, or a value in original units) and, for classification, one
/// probability per class.
pub(super) fn predict(args: PredictArgs, catalog: &Catalog) -> Result<ExitCode, CliError> {
    let model = load(&args.model, &args.at, catalog, "predict with", args.device)?;
    let (x, truth): (Vec<f64>, Option<Vec<String>>) = match (&args.input, args.split) {
        (_, Some(split)) => {
            let part = deploy::stored_part(&model, split.into())?;
            (part.x, Some(part.raw))
        }
        (Some(input), None) => {
            let table = read_features(input, &model.preprocessing)?;
            for warning in &table.warnings {
                eprintln!("warning: {}: {warning}", input.display());
            }
            (table.x, table.labels)
        }
        (None, None) => return Err(CliError::Usage("give --input CSV or --split train|valid|test".into())),
    };
    let predictions = model.predict(&x)?;
    let classes = &model.preprocessing.classes;

    let mut w = csv::Writer::from_writer(Vec::new());
    let mut header = vec!["row".to_string(), "predicted".to_string()];
    let csv_err = |e: csv::Error| CliError::Output(std::io::Error::other(e));
    let summary = match &predictions {
        Predictions::Classes { probabilities, classes: predicted, .. } => {
            if truth.is_some() {
                header.push("true_label".into());
            }
            header.extend(classes.iter().map(|c| format!("prob_{c}")));
            w.write_record(&header).map_err(csv_err)?;
            for (i, probs) in probabilities.chunks(classes.len().max(1)).enumerate() {
                let mut row = vec![i.to_string(), classes[predicted[i]].clone()];
                if let Some(t) = &truth {
                    row.push(t[i].clone());
                }
                row.extend(probs.iter().map(|p| p.to_string()));
                w.write_record(&row).map_err(csv_err)?;
            }
            truth.as_ref().map(|t| {
                let correct = t.iter().zip(predicted).filter(|(a, b)| **a == classes[**b]).count();
                format!(" ({correct} of {} match the true label)", predicted.len())
            })
        }
        Predictions::Values { values, .. } => {
            if truth.is_some() {
                header.push("true_value".into());
            }
            w.write_record(&header).map_err(csv_err)?;
            for (i, v) in values.iter().enumerate() {
                let mut row = vec![i.to_string(), v.to_string()];
                if let Some(t) = &truth {
                    row.push(t[i].clone());
                }
                w.write_record(&row).map_err(csv_err)?;
            }
            truth.as_ref().map(|t| {
                let known: Vec<(f64, f64)> =
                    t.iter().zip(values).filter_map(|(t, p)| t.parse::<f64>().ok().map(|t| (*p, t))).collect();
                let (p, t): (Vec<f64>, Vec<f64>) = known.into_iter().unzip();
                format!(" (RMSE {:.4} against the {} true values)", regression::mse(&p, &t).sqrt(), t.len())
            })
        }
    };
    let bytes = w.into_inner().map_err(|e| CliError::Output(std::io::Error::other(e.to_string())))?;
    match &args.output {
        Some(path) => {
            crate::store::write_atomic(path, &bytes)
                .map_err(|source| deploy::DeployError::Write { path: path.clone(), source })?;
            eprintln!("{} predictions → {}{}", predictions.len(), path.display(), summary.unwrap_or_default());
        }
        None => std::io::stdout().lock().write_all(&bytes)?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Re-evaluates the checkpoint and compares it with its metadata; exit 1 with a diff on any mismatch.
pub(super) fn verify(args: VerifyArgs, catalog: &Catalog) -> Result<ExitCode, CliError> {
    let dir = deploy::locate(&args.model, &args.at.registry())?;
    if let Some(record) = deploy::program_record(&dir, catalog)? {
        return verify_program(&dir, &record, args.json);
    }
    let model = load(&args.model, &args.at, catalog, "verify", args.device)?;
    let report = deploy::verify(&model)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report).map_err(std::io::Error::other)?;
        writeln!(out)?;
    } else {
        writeln!(out, "{} (objective {})", report.dir.display(), report.objective)?;
        writeln!(out, "  checkpoint sha256 {} matches the trial's record", report.checkpoint_sha256)?;
        match &report.trained_on {
            Some(_) if report.tolerance == deploy::verify::TOLERANCE => writeln!(
                out,
                "  computed on {}, the device it trained on (tolerance {:e})",
                report.device, report.tolerance
            )?,
            Some(trained) => writeln!(
                out,
                "  computed on {}; it trained on {trained} (tolerance {:e}: other hardware sums in another order)",
                report.device, report.tolerance
            )?,
            None => writeln!(out, "  computed on {} (tolerance {:e})", report.device, report.tolerance)?,
        }
        writeln!(out, "  epoch {} re-evaluated on its {} validation rows:", report.epoch, report.valid_rows)?;
        write_checks(&mut out, &report.checks)?;
        for (name, why) in &report.not_recomputable {
            writeln!(out, "    {name:<18} not recomputable: {why}")?;
        }
        if let Some(rows) = report.test_rows {
            writeln!(out, "  test metrics (test.json) re-evaluated on its {rows} test rows:")?;
            write_checks(&mut out, &report.test_checks)?;
        }
        writeln!(
            out,
            "{}",
            if report.ok() {
                "verified: the checkpoint is the model its metadata describes"
            } else {
                "FAILED: the metadata does not describe this checkpoint"
            }
        )?;
    }
    // On stderr too, naming the file whose claims failed: what a script or a log keeps.
    for (file, checks) in
        [(crate::store::names::BEST_METADATA, &report.checks), (crate::store::names::TEST_METRICS, &report.test_checks)]
    {
        let wrong: Vec<&str> = checks.iter().filter(|c| !c.ok).map(|c| c.name.as_str()).collect();
        if !wrong.is_empty() {
            eprintln!(
                "error: {}: {} stored there not what the checkpoint measures; the file or the checkpoint is damaged, \
                 or they do not belong together",
                model.dir.join(file).display(),
                wrong.join(", ")
            );
        }
    }
    Ok(if report.ok() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// `verify` of a program's model: what sweep stored, checked against itself,
/// and the model run again where the trial records a `[command] predict`
/// (see [`deploy::verify_program`]); exit 1 on any disagreement.
fn verify_program(dir: &std::path::Path, record: &crate::store::TrialRecord, json: bool) -> Result<ExitCode, CliError> {
    let report = deploy::verify_program(dir, record)?;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &report).map_err(std::io::Error::other)?;
        writeln!(out)?;
    } else {
        writeln!(out, "{} (objective {})", report.dir.display(), report.objective)?;
        writeln!(out, "  checkpoint sha256 {} matches the trial's record", report.checkpoint_sha256)?;
        for c in &report.consistency {
            writeln!(out, "  {:<66} {}", c.what, if c.ok { "ok" } else { "MISMATCH" })?;
        }
        if report.valid_rows == 0 {
            writeln!(out, "  the program sent no validation outputs: its metrics are its own, not recomputable here")?;
        } else {
            writeln!(
                out,
                "  epoch {} recomputed from its {} stored validation outputs:",
                report.epoch, report.valid_rows
            )?;
            write_checks(&mut out, &report.checks)?;
        }
        match (&report.rerun, &report.not_rerun) {
            (Some(r), _) => {
                writeln!(out, "  the model run again: [command] predict {:?} in {}", r.argv, r.cwd.display())?;
                let outputs = match r.first_difference {
                    None => "ok".to_string(),
                    Some((row, col, s, p)) => format!(
                        "MISMATCH: {} differ, first row {row} output {col}: stored {s}, predicted {p}",
                        r.differing
                    ),
                };
                writeln!(
                    out,
                    "    its {} predicted rows of {} outputs are the stored outputs (within 1e-6 relative): {outputs}",
                    r.rows, r.width
                )?;
                writeln!(out, "    metrics recomputed from its predictions:")?;
                write_checks(&mut out, &r.checks)?;
            }
            (None, Some(why)) => writeln!(out, "  not re-run: {why}")?,
            (None, None) => {}
        }
        writeln!(
            out,
            "{}",
            if report.ok() {
                "verified: the checkpoint and its metadata are the ones the trial stored"
            } else {
                "FAILED: the stored files disagree"
            }
        )?;
    }
    if let Some(r) = report.rerun.as_ref().filter(|r| !r.ok()) {
        let mut what = Vec::new();
        if let Some((row, col, s, p)) = r.first_difference {
            what.push(format!(
                "{} of its predictions differ from the stored best-epoch outputs (first: row {row} output {col}, \
                 stored {s}, predicted {p})",
                r.differing
            ));
        }
        let metrics: Vec<&str> = r.checks.iter().filter(|c| !c.ok).map(|c| c.name.as_str()).collect();
        if !metrics.is_empty() {
            what.push(format!("{} recomputed from its predictions differ from best.json", metrics.join(", ")));
        }
        eprintln!(
            "error: {}: [command] predict on the stored checkpoint does not reproduce the trial: {}",
            dir.display(),
            what.join("; ")
        );
    } else if !report.ok() {
        eprintln!("error: {}: the stored files of this model disagree (see above)", dir.display());
    }
    Ok(if report.ok() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// Prints every metric of the model's task on one part of its split.
pub(super) fn evaluate(args: EvaluateArgs, catalog: &Catalog) -> Result<ExitCode, CliError> {
    let json_out = super::json::reserve_if(args.json)?;
    let dir = deploy::locate(&args.model, &args.at.registry())?;
    let (dir, result) = match deploy::program_record(&dir, catalog)? {
        Some(record) => {
            let result = deploy::evaluate_program(&dir, &record, args.split.into())?;
            (dir, result)
        }
        None => {
            let model = load(&args.model, &args.at, catalog, "evaluate", args.device)?;
            let result = deploy::evaluate_split(&model, args.split.into())?;
            (model.dir, result)
        }
    };
    if let Some(out) = json_out {
        out.print(&EvaluateOutput {
            schema_version: SCHEMA_VERSION,
            command: "evaluate",
            model: args.model.clone(),
            model_dir: absolute(&dir),
            evaluation: result,
        })?;
    } else {
        let mut out = std::io::stdout().lock();
        writeln!(out, "{} on its {} {} rows:", dir.display(), result.rows, result.split.as_str())?;
        for (name, value) in &result.metrics {
            writeln!(out, "  {name:<18} {value}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes weights, preprocessing and a model card.
pub(super) fn export(args: ExportArgs, catalog: &Catalog) -> Result<ExitCode, CliError> {
    if let (Format::Onnx, Some(_)) = (args.format, args.layout) {
        return Err(CliError::Usage(
            "--layout chooses how model.safetensors stores its weights; --format onnx writes model.onnx, \
             which has no layout to choose: leave out one of them"
                .into(),
        ));
    }
    let json_out = super::json::reserve_if(args.json)?;
    let model = load(&args.model, &args.at, catalog, "export", None)?;
    let layout = args.layout.unwrap_or(Layout::Burn);
    let written = deploy::export(&model, &args.model, &args.to, layout, args.format)?;
    let Some(out) = json_out else {
        for f in written {
            println!("{}", f.display());
        }
        return Ok(ExitCode::SUCCESS);
    };
    // Hashed as they are on disk now, which is what a consumer will read.
    let files = written
        .iter()
        .map(|path| {
            let bytes = std::fs::read(path).map_err(crate::store::StoreError::io(path))?;
            Ok(ExportedFile {
                path: absolute(path),
                bytes: bytes.len() as u64,
                sha256: crate::store::sha256_hex(&bytes),
            })
        })
        .collect::<Result<Vec<_>, CliError>>()?;
    out.print(&ExportOutput {
        schema_version: SCHEMA_VERSION,
        command: "export",
        model: args.model.clone(),
        model_dir: absolute(&model.dir),
        to: absolute(&args.to),
        format: match args.format {
            Format::Safetensors => "safetensors",
            Format::Onnx => "onnx",
        },
        layout: match (args.format, layout) {
            (Format::Onnx, _) => None,
            (Format::Safetensors, Layout::Burn) => Some("burn"),
            (Format::Safetensors, Layout::Pytorch) => Some("pytorch"),
        },
        files,
    })?;
    Ok(ExitCode::SUCCESS)
}

/// One line per metric check: its name, the stored and the measured value, and the verdict.
fn write_checks(out: &mut impl Write, checks: &[deploy::verify::MetricCheck]) -> std::io::Result<()> {
    for c in checks {
        let verdict = if c.ok { "ok" } else { "MISMATCH" };
        writeln!(out, "    {:<18} stored {:<22} measured {:<22} {verdict}", c.name, c.stored, c.measured)?;
    }
    Ok(())
}
