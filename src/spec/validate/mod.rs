//! Raw TOML structs → [`SweepSpec`], with one precise error per mistake,
//! checked against the objective the spec selects.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use toml::Spanned;

use super::raw::RawSpec;
use super::{CheckpointPolicy, SlurmDefaults, SpecError, SweepSpec};
use crate::objective::Catalog;
use crate::params::{ParamValue, Params};

mod command;
mod data;
mod early_terminate;
mod method;
mod metric;
mod parameters;
mod publish;
mod range;
mod resources;
mod select;
mod slurm;
mod train;

#[cfg(test)]
mod tests;

use command::validate_command;
use data::validate_data;
use early_terminate::validate_early_terminate;
use metric::validate_metric;
use parameters::validate_param;
use range::Expect;
use select::{validate_constraints, validate_trade_off};
use slurm::validate_slurm;
use train::validate_train;

/// Where errors point: the file, and what the spans of its values point into.
struct Ctx<'a> {
    file: &'a Path,
    source: Source<'a>,
}

/// What a spec's spans point into.
#[derive(Clone, Copy)]
pub(super) enum Source<'a> {
    /// The TOML file's text: spans are byte ranges.
    Text(&'a str),
    /// A spec converted from another format (W&B's YAML), as the lines it would
    /// have if written one key per line: a span's start is the line's index,
    /// and each line holds the dotted key of its value (`None`: a `[table]` header).
    Lines(&'a [Option<String>]),
}

impl Ctx<'_> {
    /// The 1-based line a span starts on.
    fn line_of(&self, span: Range<usize>) -> usize {
        match self.source {
            Source::Text(text) => {
                let end = span.start.min(text.len());
                text[..end].bytes().filter(|b| *b == b'\n').count() + 1
            }
            Source::Lines(_) => span.start + 1,
        }
    }

    /// The dotted key of the line holding `offset` (see [`key_at`]).
    fn key_at(&self, offset: usize) -> Option<String> {
        match self.source {
            Source::Text(text) => key_at(text, offset),
            Source::Lines(keys) => keys.get(offset).cloned().flatten(),
        }
    }

    /// A deserialization error of the raw structs, on one line and at its key.
    fn deserialize_error(&self, e: toml::de::Error) -> SpecError {
        // toml's own Display spans several lines; keep the one-line message and point at the line.
        let message = friendly_types(e.message().trim().replace('\n', " "));
        let key = e.span().and_then(|span| self.key_at(span.start)).unwrap_or_default();
        self.err(e.span(), &key, message)
    }

    fn err(&self, span: Option<Range<usize>>, key: &str, message: impl Into<String>) -> SpecError {
        SpecError::Invalid {
            file: self.file.to_path_buf(),
            line: span.map(|s| self.line_of(s)),
            key: if key.is_empty() { String::new() } else { format!("{key}: ") },
            message: message.into(),
        }
    }

    fn at<T>(&self, spanned: &Spanned<T>, key: &str, message: impl Into<String>) -> SpecError {
        self.err(Some(spanned.span()), key, message)
    }
}

/// The longest sweep name, in bytes.
const MAX_NAME: usize = 128;

/// Parses and validates spec text against the objectives of `catalog`;
/// `file` is only used in messages.
pub(crate) fn parse(text: &str, file: &Path, catalog: &Catalog) -> Result<SweepSpec, SpecError> {
    let ctx = Ctx { file, source: Source::Text(text) };
    let raw: RawSpec = toml::from_str(text).map_err(|e| ctx.deserialize_error(e))?;
    validate(&ctx, &raw, catalog)
}

/// Validates a spec converted into TOML's spanned tree (from W&B's YAML),
/// whose spans index `keys`, the lines it stands for ([`Source::Lines`]).
pub(super) fn parse_table(
    root: Spanned<toml::de::DeTable<'_>>,
    keys: &[Option<String>],
    file: &Path,
    catalog: &Catalog,
) -> Result<SweepSpec, SpecError> {
    use serde::Deserialize;
    let ctx = Ctx { file, source: Source::Lines(keys) };
    let raw = RawSpec::deserialize(toml::de::Deserializer::from(root)).map_err(|e| ctx.deserialize_error(e))?;
    validate(&ctx, &raw, catalog)
}

/// The checks of every table, in the order a spec's author reads it.
fn validate(ctx: &Ctx, raw: &RawSpec, catalog: &Catalog) -> Result<SweepSpec, SpecError> {
    let file = ctx.file;

    let name = raw.name.get_ref().trim().to_string();
    // A folder name: NAME_MAX is 255 bytes, and the results folder's path should stay short.
    let name_ok = (1..=MAX_NAME).contains(&name.len())
        && !name.starts_with('.')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if !name_ok {
        return Err(ctx.at(
            &raw.name,
            "name",
            format!(
                "got {name:?}, expected 1 to {MAX_NAME} letters, digits, '-', '_' or '.', not starting with '.' \
                 (it names the results folder)"
            ),
        ));
    }

    let objective = match &raw.objective {
        Some(o) => catalog.get(o.get_ref()).ok_or_else(|| {
            ctx.at(
                o,
                "objective",
                format!("got \"{}\", expected one of {} (the objectives of this binary)", o.get_ref(), catalog.names()),
            )
        })?,
        None => catalog.get(Catalog::DEFAULT).ok_or_else(|| {
            ctx.err(
                Some(0..0),
                "objective",
                format!(
                    "is not set, and the default \"{}\" is not in this binary; set objective = \"...\" to one of {}",
                    Catalog::DEFAULT,
                    catalog.names()
                ),
            )
        })?,
    };
    let schema = objective.schema();

    let seed = ctx.check_opt(raw.seed.as_ref(), "seed", &Expect::whole_from(0))?.map_or(0, |s| s as u64);
    let workers = ctx.check_opt(raw.workers.as_ref(), "workers", &Expect::whole(1..=1024))?.map(|w| w as usize);
    let repeats = ctx.check_opt(raw.repeats.as_ref(), "repeats", &Expect::whole(1..=1000))?.map_or(1, |r| r as usize);
    let (data, mut selection) = validate_data(ctx, raw, objective)?;
    let metric = validate_metric(ctx, raw, data.task, objective.owns_data())?;
    let resamples = Expect::whole(0..=100_000).words("a whole number of resamples from 0 (off) to 100000");
    if let Some(b) = ctx.check_opt(raw.metric.bootstrap.as_ref(), "metric.bootstrap", &resamples)? {
        selection.bootstrap = b as usize;
    }
    selection.constraints = validate_constraints(ctx, raw, data.task)?;
    selection.trade_off = validate_trade_off(ctx, raw, data.task, &metric.metric)?;
    let (train, early_stopping) = validate_train(ctx, &raw.train, &schema, objective.name())?;

    let mut parameters = BTreeMap::new();
    for (key, param) in &raw.parameters {
        if train.contains_key(key) {
            return Err(ctx.at(
                param,
                &format!("parameters.{key}"),
                format!("\"{key}\" is both fixed in [train] and swept in [parameters]; keep one"),
            ));
        }
        parameters.insert(key.clone(), validate_param(ctx, key, param, &schema, objective.name())?);
    }

    let parameter_span = |key: &str| raw.parameters.get(key).map(|p| p.span());
    let method_keys = method::keys(raw, &parameters, &parameter_span, &selection.trade_off);
    let method = method::validate_method(ctx, &method_keys)?;

    let register_as = match &raw.register_as {
        Some(n) => match crate::registry::validate_name(n.get_ref(), "model name") {
            Ok(()) => Some(n.get_ref().clone()),
            Err(e) => return Err(ctx.at(n, "register_as", e.to_string())),
        },
        None => None,
    };
    let checkpoint = match raw.checkpoint.as_ref().map(|c| (c, c.get_ref().as_str())) {
        None | Some((_, "best")) => CheckpointPolicy::Best,
        Some((_, "every_epoch")) => CheckpointPolicy::EveryEpoch,
        Some((c, other)) => {
            return Err(ctx.at(c, "checkpoint", format!("got \"{other}\", expected \"best\" or \"every_epoch\"")));
        }
    };
    let publish = publish::validate_publish(ctx, raw.publish.as_ref())?;
    method::check_method_tables(ctx, &method, &method_keys)?;
    let epochs = schema.resolve(&train, &Params::new()).epochs().unwrap_or(1);
    let early_terminate = match &raw.early_terminate {
        Some(t) => Some(validate_early_terminate(ctx, t, epochs)?),
        None => None,
    };
    let command = validate_command(ctx, raw, objective.name())?;
    if command.is_some() && checkpoint == CheckpointPolicy::EveryEpoch {
        let c = raw.checkpoint.as_ref().map(|c| c.span());
        return Err(ctx.err(
            c,
            "checkpoint",
            "got \"every_epoch\", but a command objective's program writes only the checkpoints sweep asks for \
             (the best epoch's); expected \"best\"",
        ));
    }
    let resources = resources::validate_resources(ctx, raw.resources.as_ref(), objective)?;
    let slurm = match &raw.slurm {
        Some(s) => validate_slurm(ctx, s)?,
        None => SlurmDefaults::default(),
    };

    Ok(SweepSpec {
        source: file.to_path_buf(),
        name,
        objective: objective.name().to_string(),
        description: raw.description.clone(),
        method,
        seed,
        repeats,
        workers,
        data,
        metric,
        train,
        early_stopping,
        early_terminate,
        parameters,
        register_as,
        checkpoint,
        slurm,
        selection,
        report: super::ReportSpec { tensorboard: raw.report.as_ref().and_then(|r| r.tensorboard).unwrap_or(false) },
        publish,
        command,
        resources,
    })
}

/// The dotted key of the `key = value` line holding byte `offset`, with the
/// `[table]` it sits in: `data.valid_fraction`. `None` off such a line.
fn key_at(text: &str, offset: usize) -> Option<String> {
    let before = &text[..offset.min(text.len())];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("");
    let key = line.split_once('=')?.0.trim().trim_matches('"');
    if key.is_empty() || key.starts_with('[') || key.starts_with('#') {
        return None;
    }
    let table = before[..line_start]
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| l.starts_with('[') && !l.starts_with("[["))
        .map(|l| l.trim_matches(|c| c == '[' || c == ']').trim().to_string());
    Some(match table {
        Some(t) => format!("{t}.{key}"),
        None => key.to_string(),
    })
}

/// serde's type names in words a spec author knows.
fn friendly_types(message: String) -> String {
    message
        .replace("expected i64", "expected a whole number")
        .replace("expected u64", "expected a whole number")
        .replace("expected f64", "expected a number")
        .replace("expected a sequence", "expected a list like [a, b]")
        .replace("floating point", "number")
}

/// A TOML number as a float (an integer too: `1` where `1.0` is meant).
fn as_number(v: &toml::Value) -> Option<f64> {
    v.as_float().or_else(|| v.as_integer().map(|i| i as f64))
}

fn toml_to_param(v: &toml::Value) -> Result<ParamValue, String> {
    match v {
        toml::Value::Integer(i) => Ok(ParamValue::Int(*i)),
        toml::Value::Float(f) => Ok(ParamValue::Float(*f)),
        toml::Value::Boolean(b) => Ok(ParamValue::Bool(*b)),
        toml::Value::String(s) => Ok(ParamValue::Str(s.clone())),
        other => Err(format!("got {other}, expected a number or a string")),
    }
}
