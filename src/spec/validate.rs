//! Raw TOML structs → [`SweepSpec`], with one precise error per mistake,
//! checked against the objective the spec selects.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use toml::Spanned;

use super::raw::{RawEarlyStopping, RawParam, RawSlurm, RawSpec};
use super::{CheckpointPolicy, DataSpec, EarlyStoppingSpec, Selection, SlurmDefaults, SpecError, SweepSpec};
use crate::metrics::{Goal, Monitor, Task};
use crate::objective::{Catalog, Objective};
use crate::params::{Bound, ParamKind, ParamValue, Params, RESERVED, Schema};
use crate::space::Domain;

/// Where errors point: the file and its text (to turn byte spans into lines).
struct Ctx<'a> {
    file: &'a Path,
    text: &'a str,
}

impl Ctx<'_> {
    fn line_of(&self, span: Range<usize>) -> usize {
        let end = span.start.min(self.text.len());
        self.text[..end].bytes().filter(|b| *b == b'\n').count() + 1
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
pub fn parse(text: &str, file: &Path, catalog: &Catalog) -> Result<SweepSpec, SpecError> {
    let ctx = Ctx { file, text };
    let raw: RawSpec = toml::from_str(text).map_err(|e| {
        // toml's own Display spans several lines; keep the one-line message and point at the line.
        let message = friendly_types(e.message().trim().replace('\n', " "));
        let key = e.span().and_then(|span| key_at(text, span.start)).unwrap_or_default();
        ctx.err(e.span(), &key, message)
    })?;

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

    let seed = match &raw.seed {
        None => 0,
        Some(s) if *s.get_ref() >= 0 => *s.get_ref() as u64,
        Some(s) => {
            return Err(ctx.at(s, "seed", format!("got {}, expected a whole number >= 0", s.get_ref())));
        }
    };

    let workers = match &raw.workers {
        None => None,
        Some(w) if (1..=1024).contains(w.get_ref()) => Some(*w.get_ref() as usize),
        Some(w) => {
            return Err(ctx.at(w, "workers", format!("got {}, expected a whole number from 1 to 1024", w.get_ref())));
        }
    };

    let repeats = match &raw.repeats {
        None => 1,
        Some(r) if (1..=1000).contains(r.get_ref()) => *r.get_ref() as usize,
        Some(r) => {
            return Err(ctx.at(r, "repeats", format!("got {}, expected a whole number from 1 to 1000", r.get_ref())));
        }
    };
    let (data, mut selection) = validate_data(&ctx, &raw, objective)?;
    let metric = validate_metric(&ctx, &raw, data.task)?;
    selection.bootstrap = match &raw.metric.bootstrap {
        None => selection.bootstrap,
        Some(b) if (0..=100_000).contains(b.get_ref()) => *b.get_ref() as usize,
        Some(b) => {
            return Err(ctx.at(
                b,
                "metric.bootstrap",
                format!("got {}, expected a whole number of resamples from 0 (off) to 100000", b.get_ref()),
            ));
        }
    };
    let (train, early_stopping) = validate_train(&ctx, &raw.train, &schema, objective.name())?;

    let mut parameters = BTreeMap::new();
    for (key, param) in &raw.parameters {
        if train.contains_key(key) {
            return Err(ctx.at(
                param,
                &format!("parameters.{key}"),
                format!("\"{key}\" is both fixed in [train] and swept in [parameters]; keep one"),
            ));
        }
        parameters.insert(key.clone(), validate_param(&ctx, key, param, &schema, objective.name())?);
    }

    let method_keys = crate::sampler::MethodKeys {
        method: &raw.method,
        trials: raw.trials.as_ref(),
        tpe: raw.tpe.as_ref(),
        parameters: &parameters,
        parameter_span: &|key| raw.parameters.get(key).map(|p| p.span()),
    };
    let key_error = |e: crate::sampler::KeyError| ctx.err(e.span, &e.key, e.message);
    let method = crate::sampler::parse_method(&method_keys).map_err(key_error)?;

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
    crate::sampler::check_tables(&method, &method_keys).map_err(key_error)?;
    let epochs = schema.resolve(&train, &Params::new()).epochs().unwrap_or(1);
    let early_terminate = match &raw.early_terminate {
        Some(t) => Some(validate_early_terminate(&ctx, t, epochs)?),
        None => None,
    };
    let slurm = match &raw.slurm {
        Some(s) => validate_slurm(&ctx, s)?,
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
    })
}

fn validate_early_terminate(
    ctx: &Ctx,
    t: &Spanned<super::raw::RawEarlyTerminate>,
    epochs: usize,
) -> Result<super::EarlyTerminate, SpecError> {
    let r = t.get_ref();
    let whole = |v: Option<i64>, key: &str, default: usize, min: i64| -> Result<usize, SpecError> {
        match v {
            None => Ok(default),
            Some(n) if n >= min => Ok(n as usize),
            Some(n) => {
                Err(ctx.at(t, &format!("early_terminate.{key}"), format!("got {n}, expected a whole number >= {min}")))
            }
        }
    };
    let unused = |keys: &[(&str, bool)]| -> Result<(), SpecError> {
        match keys.iter().find(|(_, set)| *set) {
            Some((k, _)) => {
                Err(ctx.at(t, &format!("early_terminate.{k}"), format!("is not used by type = \"{}\"", r.kind)))
            }
            None => Ok(()),
        }
    };
    let wandb_keys = [("min_iter", r.min_iter.is_some()), ("max_iter", r.max_iter.is_some()), ("s", r.s.is_some())];
    match r.kind.as_str() {
        "asha" => {
            unused(&[("warmup_epochs", r.warmup_epochs.is_some()), ("min_trials", r.min_trials.is_some())])?;
            unused(&wandb_keys)?;
            Ok(super::EarlyTerminate::Asha {
                min_epochs: whole(r.min_epochs, "min_epochs", 1, 1)?,
                eta: whole(r.eta, "eta", 3, 2)?,
                max_epochs: whole(r.max_epochs, "max_epochs", epochs, 1)?,
            })
        }
        "median" => {
            unused(&[
                ("min_epochs", r.min_epochs.is_some()),
                ("eta", r.eta.is_some()),
                ("max_epochs", r.max_epochs.is_some()),
            ])?;
            unused(&wandb_keys)?;
            Ok(super::EarlyTerminate::Median {
                warmup_epochs: whole(r.warmup_epochs, "warmup_epochs", 5, 1)?,
                min_trials: whole(r.min_trials, "min_trials", 3, 1)?,
            })
        }
        // W&B's keys and rule (its hyperband_stopping): bands from min_iter, or from max_iter and s.
        "hyperband" => {
            unused(&[
                ("min_epochs", r.min_epochs.is_some()),
                ("warmup_epochs", r.warmup_epochs.is_some()),
                ("min_trials", r.min_trials.is_some()),
            ])?;
            let rule = match (r.min_iter, r.max_iter) {
                (Some(_), Some(_)) => {
                    return Err(ctx.at(t, "early_terminate.max_iter", "cannot be combined with min_iter; give one"));
                }
                (None, None) => {
                    return Err(ctx.at(t, "early_terminate", "type = \"hyperband\" needs min_iter, or max_iter and s"));
                }
                (Some(_), None) => {
                    unused(&[("s", r.s.is_some())])?;
                    super::EarlyTerminate::Hyperband {
                        min_iter: whole(r.min_iter, "min_iter", 1, 1)?,
                        max_iter: 0,
                        brackets: 0,
                        eta: whole(r.eta, "eta", 3, 2)?,
                        max_epochs: whole(r.max_epochs, "max_epochs", epochs, 1)?,
                    }
                }
                (None, Some(_)) => super::EarlyTerminate::Hyperband {
                    min_iter: 0,
                    max_iter: whole(r.max_iter, "max_iter", epochs, 1)?,
                    brackets: whole(r.s, "s", 1, 1)?,
                    eta: whole(r.eta, "eta", 3, 2)?,
                    max_epochs: whole(r.max_epochs, "max_epochs", epochs, 1)?,
                },
            };
            if rule.bands().is_empty() {
                return Err(ctx.at(
                    t,
                    "early_terminate",
                    format!("type = \"hyperband\" leaves no band below {epochs} epochs; lower min_iter or raise max_iter or s"),
                ));
            }
            Ok(rule)
        }
        other => Err(ctx.at(
            t,
            "early_terminate.type",
            format!("got \"{other}\", expected \"asha\", \"hyperband\" or \"median\""),
        )),
    }
}

fn validate_slurm(ctx: &Ctx, raw: &RawSlurm) -> Result<SlurmDefaults, SpecError> {
    let positive = |v: &Option<Spanned<i64>>, key: &str| -> Result<Option<u32>, SpecError> {
        match v {
            None => Ok(None),
            Some(n) if (1..=100_000).contains(n.get_ref()) => Ok(Some(*n.get_ref() as u32)),
            Some(n) => Err(ctx.at(n, key, format!("got {}, expected a whole number from 1 to 100000", n.get_ref()))),
        }
    };
    let text = |v: &Option<Spanned<String>>, key: &str| -> Result<Option<String>, SpecError> {
        match v {
            Some(t) if t.get_ref().trim().is_empty() || t.get_ref().contains(char::is_whitespace) => {
                Err(ctx.at(t, key, format!("got \"{}\", expected one word without spaces", t.get_ref())))
            }
            other => Ok(other.as_ref().map(|t| t.get_ref().clone())),
        }
    };
    Ok(SlurmDefaults {
        partition: text(&raw.partition, "slurm.partition")?,
        time: text(&raw.time, "slurm.time")?,
        cpus_per_task: positive(&raw.cpus_per_task, "slurm.cpus_per_task")?,
        mem: text(&raw.mem, "slurm.mem")?,
        max_parallel: positive(&raw.max_parallel, "slurm.max_parallel")?,
        sbatch_args: raw.sbatch_args.clone(),
    })
}

/// Keys of `[data]` every source has.
const COMMON_DATA_KEYS: &[&str] = &["task", "valid_fraction", "test_fraction", "test_top", "cv_folds", "refit"];
/// Keys of `[data]` the bundled CSV loader reads.
const CSV_DATA_KEYS: &[&str] = &["path", "target", "features", "drop", "test_path"];

fn validate_data(ctx: &Ctx, raw: &RawSpec, objective: &dyn Objective) -> Result<(DataSpec, Selection), SpecError> {
    let empty = BTreeMap::new();
    let table = raw.data.as_ref().map_or(&empty, |d| d.get_ref());
    let source = objective.data_source();
    let text = |key: &str| -> Result<Option<&Spanned<toml::Value>>, SpecError> {
        match table.get(key) {
            Some(v) if !v.get_ref().is_str() => {
                Err(ctx.at(v, &format!("data.{key}"), format!("got {}, expected a string", v.get_ref())))
            }
            other => Ok(other),
        }
    };
    let as_str = |v: &Spanned<toml::Value>| v.get_ref().as_str().unwrap_or_default().to_string();

    let task = match text("task")? {
        None => Task::Classification,
        Some(v) => match v.get_ref().as_str() {
            Some("classification") => Task::Classification,
            Some("regression") => Task::Regression,
            _ => {
                return Err(ctx.at(
                    v,
                    "data.task",
                    format!("got {}, expected \"classification\" or \"regression\"", v.get_ref()),
                ));
            }
        },
    };
    if !objective.tasks().contains(&task) {
        let supported: Vec<&str> = objective.tasks().iter().map(|t| t.as_str()).collect();
        let span = table.get("task").map(|v| v.span()).or_else(|| raw.data.as_ref().map(|d| d.span()));
        return Err(ctx.err(
            span,
            "data.task",
            format!(
                "objective \"{}\" does not train task = \"{}\"; it supports {}",
                objective.name(),
                task.as_str(),
                supported.join(", ")
            ),
        ));
    }
    let valid_fraction = match table.get("valid_fraction") {
        None => 0.2,
        Some(v) => match v.get_ref().as_float().or_else(|| v.get_ref().as_integer().map(|i| i as f64)) {
            Some(f) if f > 0.0 && f < 1.0 => f,
            _ => {
                return Err(ctx.at(
                    v,
                    "data.valid_fraction",
                    format!("got {}, expected a number in (0, 1)", v.get_ref()),
                ));
            }
        },
    };
    let fraction = |key: &str| -> Result<Option<f64>, SpecError> {
        let Some(v) = table.get(key) else { return Ok(None) };
        match v.get_ref().as_float().or_else(|| v.get_ref().as_integer().map(|i| i as f64)) {
            Some(f) if f > 0.0 && f < 1.0 => Ok(Some(f)),
            _ => Err(ctx.at(v, &format!("data.{key}"), format!("got {}, expected a number in (0, 1)", v.get_ref()))),
        }
    };
    let test_fraction = fraction("test_fraction")?;
    let cv_folds = match table.get("cv_folds") {
        None => None,
        Some(v) => match v.get_ref().as_integer() {
            Some(k) if (2..=100).contains(&k) => Some(k as usize),
            _ => {
                return Err(ctx.at(
                    v,
                    "data.cv_folds",
                    format!("got {}, expected a whole number from 2 to 100", v.get_ref()),
                ));
            }
        },
    };
    if let (Some(_), Some(v)) = (cv_folds, table.get("valid_fraction")) {
        return Err(ctx.at(
            v,
            "data.valid_fraction",
            "cannot be combined with data.cv_folds: each fold is the validation split once; remove one",
        ));
    }
    if let (Some(_), Some(r)) = (cv_folds, raw.repeats.as_ref().filter(|r| *r.get_ref() > 1)) {
        return Err(ctx.at(
            r,
            "repeats",
            "cannot be combined with data.cv_folds: every fold already trains its configuration with a seed of its own",
        ));
    }
    let refit = match table.get("refit") {
        None => false,
        Some(v) => match v.get_ref().as_bool() {
            Some(true) if cv_folds.is_none() => {
                return Err(ctx.at(
                    v,
                    "data.refit",
                    "needs data.cv_folds: the refit retrains the winning configuration on every non-test row \
                     for the median best epoch of its folds",
                ));
            }
            Some(b) => b,
            None => return Err(ctx.at(v, "data.refit", format!("got {}, expected true or false", v.get_ref()))),
        },
    };
    let test_top_key = table.get("test_top");
    let test_top = match test_top_key {
        None => Selection::default().test_top,
        Some(v) => match v.get_ref().as_integer() {
            Some(k) if (1..=100_000).contains(&k) => k as usize,
            _ => {
                return Err(ctx.at(
                    v,
                    "data.test_top",
                    format!("got {}, expected a whole number from 1 to 100000", v.get_ref()),
                ));
            }
        },
    };
    let mut data = DataSpec {
        path: None,
        target: None,
        valid_fraction: if cv_folds.is_some() { 0.0 } else { valid_fraction },
        task,
        features: None,
        drop: Vec::new(),
        options: Params::new(),
        test_fraction,
        test_path: None,
        cv_folds,
    };
    let selection = Selection { test_top, bootstrap: Selection::default().bootstrap, refit };

    let Some(source) = source else {
        for (key, v) in table {
            if !COMMON_DATA_KEYS.contains(&key.as_str()) && !CSV_DATA_KEYS.contains(&key.as_str()) {
                return Err(ctx.at(
                    v,
                    &format!("data.{key}"),
                    format!("unknown key, expected one of {}", [COMMON_DATA_KEYS, CSV_DATA_KEYS].concat().join(", ")),
                ));
            }
        }
        let path = match text("path")? {
            Some(p) if as_str(p).trim().is_empty() => {
                return Err(ctx.at(p, "data.path", "is empty, expected the path of a CSV file"));
            }
            Some(p) => as_str(p),
            None => {
                let span = raw.data.as_ref().map(|d| d.span());
                return Err(ctx.err(
                    span.or(Some(0..0)),
                    "data.path",
                    "is missing: [data] needs path = \"<a CSV file>\"",
                ));
            }
        };
        let target = match text("target")? {
            Some(t) if as_str(t).is_empty() => {
                return Err(ctx.at(t, "data.target", "is empty, expected a column name"));
            }
            Some(t) => as_str(t),
            None => "target".to_string(),
        };
        let columns = |key: &str| -> Result<Option<Vec<String>>, SpecError> {
            let Some(v) = table.get(key) else { return Ok(None) };
            let names: Option<Vec<String>> =
                v.get_ref().as_array().and_then(|a| a.iter().map(|c| c.as_str().map(String::from)).collect());
            match names {
                Some(n) if !n.is_empty() => Ok(Some(n)),
                _ => Err(ctx.at(
                    v,
                    &format!("data.{key}"),
                    format!("got {}, expected a non-empty list of column names like [\"a\", \"b\"]", v.get_ref()),
                )),
            }
        };
        let features = columns("features")?;
        let drop = columns("drop")?.unwrap_or_default();
        if let (Some(_), Some(v)) = (&features, table.get("drop")) {
            return Err(ctx.at(v, "data.drop", "cannot be combined with data.features; give one"));
        }
        data.path = Some(path.into());
        data.target = Some(target);
        data.features = features;
        data.drop = drop;
        data.test_path = match text("test_path")? {
            Some(p) if as_str(p).trim().is_empty() => {
                return Err(ctx.at(p, "data.test_path", "is empty, expected the path of a CSV file"));
            }
            Some(p) if test_fraction.is_some() => {
                return Err(ctx.at(p, "data.test_path", "cannot be combined with data.test_fraction; give one"));
            }
            Some(p) => Some(as_str(p).into()),
            None => None,
        };
        check_test_top(ctx, &data, test_top_key)?;
        return Ok((data, selection));
    };

    // An objective's own source: its options, checked like parameters.
    let options = source.options();
    let mut given = Params::new();
    for (key, v) in table {
        if COMMON_DATA_KEYS.contains(&key.as_str()) {
            continue;
        }
        let path = format!("data.{key}");
        let Some(def) = options.get(key) else {
            let known: Vec<&str> =
                COMMON_DATA_KEYS.iter().copied().chain(options.iter().map(|d| d.name.as_str())).collect();
            return Err(ctx.at(
                v,
                &path,
                format!(
                    "unknown key for objective \"{}\"'s data, expected one of {}",
                    objective.name(),
                    known.join(", ")
                ),
            ));
        };
        let value = toml_to_param(v.get_ref()).map_err(|m| ctx.at(v, &path, m))?;
        given.insert(key.clone(), def.kind.coerce(&value).map_err(|m| ctx.at(v, &path, m))?);
    }
    data.options = options.resolve(&given, &Params::new()).values().clone();
    check_test_top(ctx, &data, test_top_key)?;
    Ok((data, selection))
}

fn check_test_top(ctx: &Ctx, data: &DataSpec, test_top: Option<&Spanned<toml::Value>>) -> Result<(), SpecError> {
    match test_top {
        Some(v) if !data.has_test() => {
            Err(ctx.at(v, "data.test_top", "needs a test split: set data.test_fraction (or data.test_path) too"))
        }
        _ => Ok(()),
    }
}

fn validate_metric(ctx: &Ctx, raw: &RawSpec, task: Task) -> Result<Monitor, SpecError> {
    let name = raw.metric.name.get_ref().clone();
    let names = task.metric_names();
    if !names.contains(&name.as_str()) {
        return Err(ctx.at(
            &raw.metric.name,
            "metric.name",
            format!(
                "got \"{name}\", expected one of {} (the metrics of task = \"{}\")",
                names.join(", "),
                task.as_str()
            ),
        ));
    }
    let goal = match raw.metric.goal.as_ref().map(|g| (g, g.get_ref().as_str())) {
        None | Some((_, "auto")) => task.auto_goal(&name),
        Some((_, "maximize")) => Goal::Maximize,
        Some((_, "minimize")) => Goal::Minimize,
        Some((g, other)) => {
            return Err(ctx.at(
                g,
                "metric.goal",
                format!("got \"{other}\", expected \"maximize\", \"minimize\" or \"auto\""),
            ));
        }
    };
    let min_delta = match &raw.metric.min_delta {
        None => 0.0,
        Some(d) if d.get_ref().is_finite() && *d.get_ref() >= 0.0 => *d.get_ref(),
        Some(d) => {
            return Err(ctx.at(d, "metric.min_delta", format!("got {}, expected a number >= 0", d.get_ref())));
        }
    };
    Ok(Monitor { metric: name, goal, min_delta })
}

fn validate_train(
    ctx: &Ctx,
    train: &BTreeMap<String, Spanned<toml::Value>>,
    schema: &Schema,
    objective: &str,
) -> Result<(Params, Option<EarlyStoppingSpec>), SpecError> {
    let mut fixed = Params::new();
    let mut early_stopping = None;
    for (key, value) in train {
        let path = format!("train.{key}");
        if key == "early_stopping" {
            let raw: RawEarlyStopping = value
                .get_ref()
                .clone()
                .try_into()
                .map_err(|e: toml::de::Error| ctx.at(value, &path, e.message().trim().replace('\n', " ")))?;
            if raw.patience < 1 {
                return Err(ctx.at(
                    value,
                    &format!("{path}.patience"),
                    format!("got {}, expected a whole number >= 1", raw.patience),
                ));
            }
            if !(raw.min_delta.is_finite() && raw.min_delta >= 0.0) {
                return Err(ctx.at(
                    value,
                    &format!("{path}.min_delta"),
                    format!("got {}, expected a number >= 0", raw.min_delta),
                ));
            }
            early_stopping = Some(EarlyStoppingSpec { patience: raw.patience as usize, min_delta: raw.min_delta });
            continue;
        }
        let Some(def) = schema.get(key) else {
            return Err(ctx.at(
                value,
                &path,
                format!(
                    "unknown setting of objective \"{objective}\", expected one of {}, {}",
                    schema.names(),
                    RESERVED.join(", ")
                ),
            ));
        };
        let v = toml_to_param(value.get_ref()).map_err(|m| ctx.at(value, &path, m))?;
        let v = def.kind.coerce(&v).map_err(|m| ctx.at(value, &path, m))?;
        fixed.insert(key.clone(), v);
    }
    Ok((fixed, early_stopping))
}

fn validate_param(
    ctx: &Ctx,
    key: &str,
    param: &Spanned<RawParam>,
    schema: &Schema,
    objective: &str,
) -> Result<Domain, SpecError> {
    let path = format!("parameters.{key}");
    let Some(def) = schema.get(key) else {
        return Err(ctx.at(
            param,
            &path,
            format!("unknown parameter of objective \"{objective}\", expected one of {}", schema.names()),
        ));
    };
    let kind = &def.kind;
    let p = param.get_ref();
    let coerce = |v: &toml::Value, what: &str| -> Result<ParamValue, SpecError> {
        let pv = toml_to_param(v).map_err(|m| ctx.at(param, &format!("{path}.{what}"), m))?;
        kind.coerce(&pv).map_err(|m| ctx.at(param, &format!("{path}.{what}"), m))
    };
    // The keys only the W&B distributions read, by name, for "is not used" messages.
    let shape_keys = [
        ("probabilities", p.probabilities.is_some()),
        ("q", p.q.is_some()),
        ("mu", p.mu.is_some()),
        ("sigma", p.sigma.is_some()),
    ];
    let distribution = p.distribution.as_deref();

    if let Some(v) = &p.value {
        if p.values.is_some()
            || distribution.is_some_and(|d| d != "constant")
            || p.min.is_some()
            || p.max.is_some()
            || shape_keys.iter().any(|(_, set)| *set)
        {
            return Err(ctx.at(param, &path, "a constant (value = ...) takes no values, distribution, min or max"));
        }
        return Ok(Domain::Values { values: vec![coerce(v, "value")?] });
    }

    if let Some(values) = &p.values {
        if p.min.is_some() || p.max.is_some() {
            return Err(ctx.at(param, &path, "has both values and min/max; give one"));
        }
        if let Some((name, _)) = shape_keys.iter().skip(1).find(|(_, set)| *set) {
            return Err(ctx.at(
                param,
                &format!("{path}.{name}"),
                "is not used with values = [...] (it belongs to a distribution)",
            ));
        }
        if let Some(d) = distribution.filter(|d| !matches!(*d, "categorical" | "categorical_w_probabilities")) {
            return Err(ctx.at(
                param,
                &format!("{path}.distribution"),
                format!("got \"{d}\" with values = [...]; a list takes no distribution (or \"categorical\")"),
            ));
        }
        if values.is_empty() {
            return Err(ctx.at(param, &format!("{path}.values"), "is empty, expected at least one value"));
        }
        let mut out = Vec::with_capacity(values.len());
        for v in values {
            let v = coerce(v, "values")?;
            if out.contains(&v) {
                return Err(ctx.at(param, &format!("{path}.values"), format!("lists {v} twice")));
            }
            out.push(v);
        }
        return match &p.probabilities {
            Some(probabilities) => {
                let probabilities = validate_probabilities(ctx, param, &path, probabilities, out.len())?;
                Ok(Domain::Categorical { values: out, probabilities })
            }
            None if distribution == Some("categorical_w_probabilities") => Err(ctx.at(
                param,
                &format!("{path}.probabilities"),
                "is missing: distribution \"categorical_w_probabilities\" needs one probability per value",
            )),
            None => Ok(Domain::Values { values: out }),
        };
    }
    if p.probabilities.is_some() {
        return Err(ctx.at(param, &format!("{path}.probabilities"), "needs values = [...], one probability per value"));
    }

    let Some(distribution) = distribution else {
        return Err(ctx.at(param, &path, "needs values = [...], value = ..., or distribution with min and max"));
    };
    let expected = "\"uniform\", \"log_uniform_values\", \"int_uniform\", \"q_uniform\", \"q_log_uniform_values\", \
                    \"inv_log_uniform_values\", \"normal\", \"q_normal\", \"log_normal\", \"q_log_normal\", \
                    \"log_uniform\", \"q_log_uniform\", \"inv_log_uniform\", \"categorical\" (with values) or \
                    \"constant\" (with value)";
    match distribution {
        "uniform" | "log_uniform_values" | "int_uniform" => {}
        "constant" | "categorical" | "categorical_w_probabilities" => {
            let needs = if distribution == "constant" { "value = ..." } else { "values = [...]" };
            return Err(ctx.at(param, &path, format!("distribution \"{distribution}\" needs {needs}")));
        }
        "beta" | "q_beta" => {
            return Err(ctx.at(
                param,
                &format!("{path}.distribution"),
                format!("got \"{distribution}\": W&B's beta distributions are not supported; expected {expected}"),
            ));
        }
        _ if WANDB_BOUNDED.contains(&distribution) || WANDB_NORMAL.contains(&distribution) => {
            return validate_wandb_distribution(ctx, key, param, distribution, kind);
        }
        _ => {
            return Err(ctx.at(
                param,
                &format!("{path}.distribution"),
                format!("got \"{distribution}\", expected {expected}"),
            ));
        }
    }
    if !kind.is_numeric() {
        let what = if matches!(kind, ParamKind::Bool) { "true or false" } else { "names" };
        return Err(ctx.at(
            param,
            &format!("{path}.distribution"),
            format!("\"{key}\" takes {what}, so it needs values = [...], not distribution \"{distribution}\""),
        ));
    }
    if let Some((name, _)) = shape_keys.iter().find(|(_, set)| *set) {
        return Err(ctx.at(
            param,
            &format!("{path}.{name}"),
            format!("is not used by distribution \"{distribution}\""),
        ));
    }
    let (Some(min), Some(max)) = (&p.min, &p.max) else {
        return Err(ctx.at(param, &path, format!("distribution \"{distribution}\" needs both min and max")));
    };
    let (min, max) = (coerce(min, "min")?, coerce(max, "max")?);
    let (lo, hi) = (min.as_f64().unwrap_or(0.0), max.as_f64().unwrap_or(0.0));
    if lo > hi {
        return Err(ctx.at(param, &path, format!("min ({min}) is greater than max ({max})")));
    }
    match distribution {
        "int_uniform" => {
            if !kind.is_int() {
                return Err(ctx.at(
                    param,
                    &format!("{path}.distribution"),
                    format!(
                        "\"{key}\" is a real number; use \"uniform\" or \"log_uniform_values\", not \"int_uniform\""
                    ),
                ));
            }
            Ok(Domain::IntUniform { min: lo as i64, max: hi as i64 })
        }
        _ if kind.is_int() => Err(int_needs_int_uniform(ctx, param, &path, key, distribution)),
        "log_uniform_values" if lo <= 0.0 => Err(ctx.at(
            param,
            &format!("{path}.min"),
            format!("got {min}, expected a number > 0 for log_uniform_values"),
        )),
        "log_uniform_values" => Ok(Domain::LogUniformValues { min: lo, max: hi }),
        _ => Ok(Domain::Uniform { min: lo, max: hi }),
    }
}

/// W&B's distributions between `min` and `max` (W&B's `log_uniform`,
/// `q_log_uniform` and `inv_log_uniform` take natural-log exponents; the
/// `_values` forms take the values themselves).
const WANDB_BOUNDED: &[&str] =
    &["q_uniform", "q_log_uniform_values", "inv_log_uniform_values", "log_uniform", "q_log_uniform", "inv_log_uniform"];
/// W&B's distributions around `mu` with `sigma`.
const WANDB_NORMAL: &[&str] = &["normal", "q_normal", "log_normal", "q_log_normal"];

/// The share of draws that must fall in a parameter's range for the redraws of
/// an unbounded distribution to be worth it: below it the spec is a mistake.
const MIN_MASS_INSIDE: f64 = 0.01;

fn int_needs_int_uniform(ctx: &Ctx, param: &Spanned<RawParam>, path: &str, key: &str, distribution: &str) -> SpecError {
    ctx.at(
        param,
        &format!("{path}.distribution"),
        format!("\"{key}\" takes whole numbers; use \"int_uniform\", not \"{distribution}\""),
    )
}

fn validate_probabilities(
    ctx: &Ctx,
    param: &Spanned<RawParam>,
    path: &str,
    probabilities: &[toml::Value],
    n_values: usize,
) -> Result<Vec<f64>, SpecError> {
    let key = format!("{path}.probabilities");
    let mut out = Vec::with_capacity(probabilities.len());
    for p in probabilities {
        match p.as_float().or_else(|| p.as_integer().map(|i| i as f64)) {
            Some(x) if x.is_finite() && x >= 0.0 => out.push(x),
            _ => return Err(ctx.at(param, &key, format!("got {p}, expected a number >= 0"))),
        }
    }
    if out.len() != n_values {
        return Err(ctx.at(
            param,
            &key,
            format!("has {} probabilities for {n_values} values, expected one per value", out.len()),
        ));
    }
    let sum: f64 = out.iter().sum();
    if (sum - 1.0).abs() > 1e-6 {
        return Err(ctx.at(param, &key, format!("sum to {sum}, expected 1 (within 1e-6)")));
    }
    Ok(out)
}

/// W&B's distributions beyond sweep's first three (see [`crate::space`] for
/// what each draws), checked so that every draw is a value the parameter takes.
fn validate_wandb_distribution(
    ctx: &Ctx,
    key: &str,
    param: &Spanned<RawParam>,
    distribution: &str,
    kind: &ParamKind,
) -> Result<Domain, SpecError> {
    let path = format!("parameters.{key}");
    let p = param.get_ref();
    let at = |what: &str, message: String| ctx.at(param, &format!("{path}.{what}"), message);
    let number = |v: &Option<toml::Value>, what: &str| -> Result<Option<f64>, SpecError> {
        match v {
            None => Ok(None),
            Some(v) => match v.as_float().or_else(|| v.as_integer().map(|i| i as f64)) {
                Some(x) if x.is_finite() => Ok(Some(x)),
                _ => Err(at(what, format!("got {v}, expected a number"))),
            },
        }
    };
    if !kind.is_numeric() {
        let what = if matches!(kind, ParamKind::Bool) { "true or false" } else { "names" };
        return Err(at(
            "distribution",
            format!("\"{key}\" takes {what}, so it needs values = [...], not distribution \"{distribution}\""),
        ));
    }
    let quantized = distribution.starts_with("q_");
    if !quantized && kind.is_int() {
        return Err(int_needs_int_uniform(ctx, param, &path, key, distribution));
    }
    let q = match (quantized, number(&p.q, "q")?) {
        (false, Some(_)) => return Err(at("q", format!("is not used by distribution \"{distribution}\""))),
        (false, None) => 1.0,
        (true, q) => {
            // W&B's default step is 1.
            let q = q.unwrap_or(1.0);
            if q <= 0.0 {
                return Err(at("q", format!("got {q}, expected a number > 0")));
            }
            if kind.is_int() && q.fract() != 0.0 {
                return Err(at("q", format!("got {q}, expected a whole number > 0 (\"{key}\" takes whole numbers)")));
            }
            q
        }
    };
    let integer = kind.is_int();

    if WANDB_NORMAL.contains(&distribution) {
        for (name, set) in [("min", p.min.is_some()), ("max", p.max.is_some())] {
            if set {
                return Err(at(
                    name,
                    format!(
                        "is not used by distribution \"{distribution}\" (it draws around mu with sigma, and \
                         sweep redraws values \"{key}\" does not take)"
                    ),
                ));
            }
        }
        // W&B's defaults: the standard normal.
        let mu = number(&p.mu, "mu")?.unwrap_or(0.0);
        let sigma = number(&p.sigma, "sigma")?.unwrap_or(1.0);
        if sigma <= 0.0 {
            return Err(at("sigma", format!("got {sigma}, expected a number > 0")));
        }
        let (min, max) = accepted_hull(kind);
        let (lo, hi) = (min.unwrap_or(f64::NEG_INFINITY), max.unwrap_or(f64::INFINITY));
        // The draws (before rounding, for the q_ forms) that become a value the parameter takes.
        let (lo, hi) = if quantized {
            match crate::space::multiples_within(q, lo, hi) {
                Some((a, b)) => ((a - 0.5) * q, (b + 0.5) * q),
                None => return Err(at("q", format!("got {q}, but no multiple of it is {}", kind.describe()))),
            }
        } else {
            (lo, hi)
        };
        let log = distribution.contains("log");
        let (lo, hi) =
            if log { (lo.max(0.0).ln(), if hi > 0.0 { hi.ln() } else { f64::NEG_INFINITY }) } else { (lo, hi) };
        let z = |x: f64| crate::space::normal_cdf((x - mu) / sigma);
        let inside = if hi > lo { z(hi) - z(lo) } else { 0.0 };
        if inside < MIN_MASS_INSIDE {
            return Err(ctx.at(
                param,
                &path,
                format!(
                    "{distribution}(mu = {mu}, sigma = {sigma}) puts {:.2} % of its draws in what \"{key}\" takes \
                     ({}), expected at least 1 % (sweep redraws the others): move mu or widen sigma",
                    inside * 100.0,
                    kind.describe()
                ),
            ));
        }
        return Ok(match distribution {
            "normal" => Domain::Normal { mu, sigma, min, max },
            "q_normal" => Domain::QNormal { mu, sigma, q, integer, min, max },
            "log_normal" => Domain::LogNormal { mu, sigma, min, max },
            _ => Domain::QLogNormal { mu, sigma, q, integer, min, max },
        });
    }

    for name in ["mu", "sigma"] {
        if (name == "mu" && p.mu.is_some()) || (name == "sigma" && p.sigma.is_some()) {
            return Err(at(name, format!("is not used by distribution \"{distribution}\"")));
        }
    }
    let (Some(min), Some(max)) = (number(&p.min, "min")?, number(&p.max, "max")?) else {
        return Err(ctx.at(param, &path, format!("distribution \"{distribution}\" needs both min and max")));
    };
    if min > max {
        return Err(ctx.at(param, &path, format!("min ({min}) is greater than max ({max})")));
    }
    // The values drawn lie in [lo, hi]; W&B's older forms take exponents.
    let exponents = matches!(distribution, "log_uniform" | "q_log_uniform" | "inv_log_uniform");
    let (lo, hi) = match distribution {
        "log_uniform" | "q_log_uniform" => (min.exp(), max.exp()),
        "inv_log_uniform" => ((-max).exp(), (-min).exp()),
        _ => (min, max),
    };
    if exponents {
        if !(lo > 0.0 && hi.is_finite()) {
            return Err(ctx.at(
                param,
                &path,
                format!("{distribution} takes natural-log exponents: e^{min} .. e^{max} is out of a number's range"),
            ));
        }
        for (x, name) in [(lo, "min"), (hi, "max")] {
            kind.coerce(&ParamValue::Float(x)).map_err(|_| {
                at(
                    name,
                    format!(
                        "{distribution} takes natural-log exponents and draws from [{lo}, {hi}], but \"{key}\" takes {}",
                        kind.describe()
                    ),
                )
            })?;
        }
    } else {
        for (x, name) in [(min, "min"), (max, "max")] {
            let v = if integer && x.fract() == 0.0 { ParamValue::Int(x as i64) } else { ParamValue::Float(x) };
            kind.coerce(&v).map_err(|m| at(name, m))?;
        }
        if distribution.ends_with("_values") && min <= 0.0 {
            return Err(at("min", format!("got {min}, expected a number > 0 for {distribution}")));
        }
    }
    if quantized && crate::space::multiples_within(q, lo, hi).is_none() {
        return Err(at("q", format!("got {q}, but no multiple of it lies in [{lo}, {hi}]")));
    }
    Ok(match distribution {
        "log_uniform" => Domain::LogUniformValues { min: lo, max: hi },
        "inv_log_uniform_values" | "inv_log_uniform" => Domain::InvLogUniformValues { min: lo, max: hi },
        "q_uniform" => Domain::QUniform { min: lo, max: hi, q, integer },
        _ => Domain::QLogUniformValues { min: lo, max: hi, q, integer },
    })
}

/// The closed range of the values a numeric parameter takes (an open end
/// becomes the next float inside it); `None` where it is unbounded.
fn accepted_hull(kind: &ParamKind) -> (Option<f64>, Option<f64>) {
    match kind {
        ParamKind::Int { min, max } => (Some(*min as f64), Some(*max as f64)),
        ParamKind::Float { min, max } => {
            let low = match min {
                Bound::Unbounded => None,
                Bound::Inclusive(m) => Some(*m),
                Bound::Exclusive(m) => Some(m.next_up()),
            };
            let high = match max {
                Bound::Unbounded => None,
                Bound::Inclusive(m) => Some(*m),
                Bound::Exclusive(m) => Some(m.next_down()),
            };
            (low, high)
        }
        _ => (None, None),
    }
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

fn toml_to_param(v: &toml::Value) -> Result<ParamValue, String> {
    match v {
        toml::Value::Integer(i) => Ok(ParamValue::Int(*i)),
        toml::Value::Float(f) => Ok(ParamValue::Float(*f)),
        toml::Value::Boolean(b) => Ok(ParamValue::Bool(*b)),
        toml::Value::String(s) => Ok(ParamValue::Str(s.clone())),
        other => Err(format!("got {other}, expected a number or a string")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GRID: &str = r#"
name = "digits-grid"
method = "grid"
seed = 42
workers = 2

[data]
path = "data/digits.csv"
target = "target"
valid_fraction = 0.2

[metric]
name = "mcc"
goal = "maximize"
min_delta = 0.0

[train]
epochs = 30
batch_size = 64
optimizer = "adam"

[parameters]
lr = { values = [0.001, 0.003, 0.01] }
hidden = { values = [64, 128, 256] }
layers = { values = [1, 2] }
dropout = { values = [0.0, 0.2] }
"#;

    fn catalog() -> Catalog {
        Catalog::new(crate::objective::builtin()).unwrap()
    }

    fn parse_str(text: &str) -> Result<SweepSpec, SpecError> {
        parse(text, Path::new("s.toml"), &catalog())
    }

    #[test]
    fn the_benchmark_grid_parses() {
        let spec = parse_str(GRID).unwrap();
        assert_eq!(spec.name, "digits-grid");
        assert_eq!(spec.method, crate::sampler::grid_method());
        assert_eq!(spec.seed, 42);
        assert_eq!(spec.workers, Some(2));
        assert_eq!(spec.metric.goal, Goal::Maximize);
        assert_eq!(spec.train.get("epochs"), Some(&ParamValue::Int(30)));
        assert_eq!(spec.parameters.len(), 4);
        assert_eq!(
            spec.parameters["lr"],
            Domain::Values {
                values: vec![ParamValue::Float(0.001), ParamValue::Float(0.003), ParamValue::Float(0.01)]
            }
        );
    }

    #[test]
    fn workers_do_not_change_the_hash() {
        let a = parse_str(GRID).unwrap();
        let b = parse_str(&GRID.replace("workers = 2", "workers = 1")).unwrap();
        let c = parse_str(&GRID.replace("seed = 42", "seed = 43")).unwrap();
        assert_eq!(a.hash(), b.hash());
        assert_ne!(a.hash(), c.hash());
    }

    fn message(text: &str) -> String {
        parse_str(text).unwrap_err().to_string()
    }

    #[test]
    fn unknown_keys_name_the_key_and_line() {
        let m = message(&GRID.replace("seed = 42", "sed = 42"));
        assert!(m.starts_with("s.toml:4: "), "{m}");
        assert!(m.contains("unknown field `sed`"), "{m}");
        assert!(!m.contains('\n'), "one line: {m}");
        let m = message(&GRID.replace("layers = { values", "layer = { values"));
        assert!(m.contains("s.toml:25: parameters.layer: unknown parameter"), "{m}");
    }

    #[test]
    fn bad_values_name_value_and_expectation() {
        let m = message(&GRID.replace("valid_fraction = 0.2", "valid_fraction = 1.5"));
        assert_eq!(m, "s.toml:10: data.valid_fraction: got 1.5, expected a number in (0, 1)");
        let m = message(&GRID.replace("name = \"mcc\"", "name = \"mccc\""));
        assert!(m.contains("metric.name: got \"mccc\", expected one of"), "{m}");
        let m = message(&GRID.replace("optimizer = \"adam\"", "optimizer = \"rmsprop\""));
        assert!(m.contains("s.toml:20: train.optimizer: got \"rmsprop\""), "{m}");
        let m = message(&GRID.replace("[0.0, 0.2]", "[0.0, 1.2]"));
        assert!(m.contains("parameters.dropout.values: got 1.2, expected a number in [0, 1)"), "{m}");
        let m = message(&GRID.replace("method = \"grid\"", "method = \"bayes\""));
        assert!(m.contains("method: got \"bayes\""), "{m}");
        let m = message(&GRID.replace("epochs = 30", "epochs = 30\nlr = 0.1"));
        assert!(m.contains("both fixed in [train] and swept"), "{m}");
    }

    #[test]
    fn type_errors_name_the_key_and_its_table() {
        let m = message(&GRID.replace("seed = 42", "seed = \"abc\""));
        assert_eq!(m, "s.toml:4: seed: invalid type: string \"abc\", expected a whole number");
        let m = message(&GRID.replace("valid_fraction = 0.2", "valid_fraction = \"a\""));
        assert_eq!(m, "s.toml:10: data.valid_fraction: got \"a\", expected a number in (0, 1)");
        let m = message(&GRID.replace("values = [1, 2]", "values = 1"));
        assert!(m.starts_with("s.toml:25: parameters.layers: invalid type: integer `1`, expected a list"), "{m}");
    }

    #[test]
    fn random_needs_trials_and_grid_needs_lists() {
        let random = GRID.replace("method = \"grid\"", "method = \"random\"");
        assert!(message(&random).contains("trials: is missing"));
        let ok = parse_str(&random.replace("workers = 2", "workers = 2\ntrials = 5")).unwrap();
        assert_eq!(ok.method, crate::sampler::random_method(5));
        let dist = GRID.replace(
            "lr = { values = [0.001, 0.003, 0.01] }",
            "lr = { distribution = \"log_uniform_values\", min = 0.0001, max = 0.1 }",
        );
        assert!(message(&dist).contains("needs a list"));
        let bad_int = dist.replace("method = \"grid\"", "method = \"random\"\ntrials = 3").replace(
            "hidden = { values = [64, 128, 256] }",
            "hidden = { distribution = \"uniform\", min = 8, max = 64 }",
        );
        assert!(message(&bad_int).contains("use \"int_uniform\""), "{}", message(&bad_int));
    }

    /// GRID as a random search of the one parameter `line`.
    fn with_param(line: &str) -> String {
        let head = GRID.split("[parameters]").next().unwrap();
        let head = head.replace("method = \"grid\"", "method = \"random\"\ntrials = 3");
        format!("{}[parameters]\n{line}\n", head.replace("batch_size = 64\noptimizer = \"adam\"\n", ""))
    }

    #[test]
    fn wandb_distributions_are_spec_domains_too() {
        let domain = |line: &str| {
            let text = with_param(line);
            let key = line.split(" = ").next().unwrap().to_string();
            parse_str(&text).unwrap_or_else(|e| panic!("{line}: {e}")).parameters[&key].clone()
        };
        assert_eq!(
            domain("momentum = { distribution = \"q_uniform\", min = 0.5, max = 0.9, q = 0.1 }"),
            Domain::QUniform { min: 0.5, max: 0.9, q: 0.1, integer: false }
        );
        assert_eq!(
            domain("batch_size = { distribution = \"q_log_uniform_values\", min = 16, max = 256, q = 16 }"),
            Domain::QLogUniformValues { min: 16.0, max: 256.0, q: 16.0, integer: true }
        );
        assert_eq!(
            domain("batch_size = { distribution = \"q_uniform\", min = 8, max = 64 }"),
            Domain::QUniform { min: 8.0, max: 64.0, q: 1.0, integer: true },
            "W&B's default q is 1"
        );
        assert_eq!(
            domain("lr = { distribution = \"inv_log_uniform_values\", min = 0.0001, max = 0.1 }"),
            Domain::InvLogUniformValues { min: 0.0001, max: 0.1 }
        );
        assert_eq!(
            domain("lr = { distribution = \"normal\", mu = 0.01, sigma = 0.005 }"),
            Domain::Normal { mu: 0.01, sigma: 0.005, min: Some(0.0f64.next_up()), max: None },
            "cut to lr > 0"
        );
        assert_eq!(
            domain("weight_decay = { distribution = \"log_normal\" }"),
            Domain::LogNormal { mu: 0.0, sigma: 1.0, min: Some(0.0), max: None },
            "W&B's default mu 0 and sigma 1"
        );
        assert_eq!(
            domain("dropout = { distribution = \"q_normal\", mu = 0.3, sigma = 0.2, q = 0.1 }"),
            Domain::QNormal {
                mu: 0.3,
                sigma: 0.2,
                q: 0.1,
                integer: false,
                min: Some(0.0),
                max: Some(1.0f64.next_down())
            }
        );
        assert_eq!(
            domain("hidden = { distribution = \"q_log_normal\", mu = 4.0, sigma = 0.5, q = 8 }"),
            Domain::QLogNormal { mu: 4.0, sigma: 0.5, q: 8.0, integer: true, min: Some(1.0), max: Some(65536.0) }
        );
        match domain("lr = { distribution = \"inv_log_uniform\", min = 2.3, max = 9.2 }") {
            Domain::InvLogUniformValues { min, max } => {
                assert!((min - (-9.2f64).exp()).abs() < 1e-15 && (max - (-2.3f64).exp()).abs() < 1e-15);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            domain("optimizer = { values = [\"adam\", \"sgd\"], probabilities = [0.9, 0.1] }"),
            Domain::Categorical { values: vec!["adam".into(), "sgd".into()], probabilities: vec![0.9, 0.1] }
        );
        assert_eq!(
            domain("layers = { distribution = \"constant\", value = 2 }"),
            Domain::Values { values: vec![ParamValue::Int(2)] }
        );
    }

    #[test]
    fn wandb_distributions_are_checked_against_the_parameter() {
        let m = |line: &str| message(&with_param(line));
        assert!(
            m("optimizer = { values = [\"adam\", \"sgd\"], probabilities = [0.9] }").contains(
                "parameters.optimizer.probabilities: has 1 probabilities for 2 values, expected one per value"
            )
        );
        assert!(
            m("optimizer = { values = [\"adam\", \"sgd\"], probabilities = [0.9, 0.2] }")
                .contains("parameters.optimizer.probabilities: sum to 1.1, expected 1 (within 1e-6)")
        );
        assert!(
            m("optimizer = { values = [\"adam\", \"sgd\"], probabilities = [1.5, -0.5] }")
                .contains("probabilities: got -0.5, expected a number >= 0")
        );
        assert!(
            m("optimizer = { probabilities = [1.0] }").contains("parameters.optimizer.probabilities: needs values")
        );
        assert!(
            m("hidden = { distribution = \"q_uniform\", min = 8, max = 64, q = 0.5 }")
                .contains("parameters.hidden.q: got 0.5, expected a whole number > 0")
        );
        assert!(
            m("hidden = { distribution = \"log_normal\", mu = 4.0 }")
                .contains("\"hidden\" takes whole numbers; use \"int_uniform\", not \"log_normal\"")
        );
        let far = m("dropout = { distribution = \"normal\", mu = 5.0, sigma = 0.1 }");
        assert!(far.contains("parameters.dropout: normal(mu = 5, sigma = 0.1) puts 0.00 % of its draws"), "{far}");
        assert!(
            m("lr = { distribution = \"normal\", sigma = 0 }")
                .contains("parameters.lr.sigma: got 0, expected a number > 0")
        );
        assert!(
            m("lr = { distribution = \"normal\", min = 0.1 }")
                .contains("parameters.lr.min: is not used by distribution \"normal\"")
        );
        assert!(
            m("momentum = { distribution = \"q_uniform\", min = 0.1, max = 0.4, q = 0.5 }")
                .contains("parameters.momentum.q: got 0.5, but no multiple of it lies in [0.1, 0.4]")
        );
        assert!(
            m("lr = { distribution = \"q_log_uniform_values\", min = 0, max = 1, q = 0.1 }")
                .contains("parameters.lr.min: got 0, expected a number > 0")
        );
        assert!(
            m("dropout = { distribution = \"log_uniform\", min = -5, max = 1 }")
                .contains("parameters.dropout.max: log_uniform takes natural-log exponents and draws from")
        );
        assert!(
            m("lr = { distribution = \"uniform\", min = 0.1, max = 0.2, q = 0.1 }")
                .contains("parameters.lr.q: is not used by distribution \"uniform\"")
        );
        assert!(m("lr = { distribution = \"beta\" }").contains("W&B's beta distributions are not supported"));
        assert!(
            m("optimizer = { distribution = \"normal\" }")
                .contains("\"optimizer\" takes names, so it needs values = [...], not distribution \"normal\"")
        );
    }

    #[test]
    fn grid_refuses_probabilities_and_the_new_distributions() {
        let weighted = GRID.replace("[0.0, 0.2] }", "[0.0, 0.2], probabilities = [0.5, 0.5] }");
        let m = message(&weighted);
        assert!(m.contains("s.toml:26: parameters.dropout.probabilities: is not used by method = \"grid\""), "{m}");
        let q = GRID.replace(
            "dropout = { values = [0.0, 0.2] }",
            "dropout = { distribution = \"q_uniform\", min = 0.0, max = 0.2, q = 0.1 }",
        );
        let m = message(&q);
        assert!(
            m.contains("parameters.dropout: has distribution \"q_uniform\", but method = \"grid\" needs a list"),
            "{m}"
        );
    }

    #[test]
    fn goal_auto_minimizes_losses() {
        let spec = parse_str(
            &GRID.replace("name = \"mcc\"", "name = \"valid_loss\"").replace("goal = \"maximize\"", "goal = \"auto\""),
        )
        .unwrap();
        assert_eq!(spec.metric.goal, Goal::Minimize);
    }

    #[test]
    fn the_report_table_is_read_and_does_not_change_the_hash() {
        let spec = parse_str(&format!("{GRID}\n[report]\ntensorboard = true\n")).unwrap();
        assert!(spec.report.tensorboard);
        assert!(!parse_str(GRID).unwrap().report.tensorboard, "off by default");
        assert_eq!(spec.hash(), GRID_HASH_BEFORE_OBJECTIVES);
        assert_eq!(spec.manifest(1).report, Some(crate::spec::ReportSpec { tensorboard: true }));
        let m = message(&format!("{GRID}\n[report]\ntensorbord = true\n"));
        assert!(m.starts_with("s.toml:29: report.tensorbord: unknown field `tensorbord`"), "{m}");
        let m = message(&format!("{GRID}\n[report]\ntensorboard = \"yes\"\n"));
        assert!(m.starts_with("s.toml:29: report.tensorboard: ") && m.contains("bool"), "{m}");
    }

    #[test]
    fn slurm_defaults_are_read_and_do_not_change_the_hash() {
        let with = format!("{GRID}\n[slurm]\npartition = \"gpu\"\nmax_parallel = 4\nsbatch_args = [\"--qos=low\"]\n");
        let spec = parse_str(&with).unwrap();
        assert_eq!(spec.slurm.partition.as_deref(), Some("gpu"));
        assert_eq!(spec.slurm.max_parallel, Some(4));
        assert_eq!(spec.slurm.sbatch_args, ["--qos=low"]);
        assert_eq!(spec.hash(), parse_str(GRID).unwrap().hash());
        let m = message(&format!("{GRID}\n[slurm]\nmax_parallel = 0\n"));
        assert!(m.contains("slurm.max_parallel: got 0"), "{m}");
        let m = message(&format!("{GRID}\n[slurm]\nqueue = \"x\"\n"));
        assert!(m.contains("unknown field `queue`"), "{m}");
    }

    #[test]
    fn tpe_and_repeats_keys_are_validated() {
        let tpe = format!(
            "{}\n[tpe]\nstartup_trials = 4\ngamma = 0.3\n",
            GRID.replace("method = \"grid\"", "method = \"tpe\"\ntrials = 12\nrepeats = 2")
        );
        let spec = parse_str(&tpe).unwrap();
        assert_eq!(spec.repeats, 2);
        let settings = crate::sampler::tpe::TpeSettings { startup_trials: 4, candidates: 24, gamma: 0.3 };
        assert_eq!(spec.method, crate::sampler::tpe_method(12, settings));
        assert!(
            message(&tpe.replace("trials = 12\n", ""))
                .contains("trials: is missing: method = \"tpe\" needs trials = N")
        );
        assert!(
            message(&tpe.replace("gamma = 0.3", "gamma = 1.5"))
                .contains("tpe.gamma: got 1.5, expected a number in (0, 1)")
        );
        assert!(message(&tpe.replace("gamma = 0.3", "gama = 0.3")).contains("unknown field `gama`"));
        assert!(
            message(&tpe.replace("repeats = 2", "repeats = 0"))
                .contains("repeats: got 0, expected a whole number from 1")
        );
        let grid_table = format!("{GRID}\n[tpe]\nstartup_trials = 3\n");
        assert!(message(&grid_table).contains("tpe: is only used with method = \"tpe\""), "{}", message(&grid_table));
    }

    #[test]
    fn early_terminate_is_validated() {
        let with = |t: &str| GRID.replace("workers = 2", &format!("workers = 2\nearly_terminate = {t}"));
        let spec = parse_str(&with("{ type = \"asha\", min_epochs = 2 }")).unwrap();
        assert_eq!(
            spec.early_terminate,
            Some(crate::spec::EarlyTerminate::Asha { min_epochs: 2, eta: 3, max_epochs: 30 })
        );
        let spec = parse_str(&with("{ type = \"median\" }")).unwrap();
        assert_eq!(spec.early_terminate, Some(crate::spec::EarlyTerminate::Median { warmup_epochs: 5, min_trials: 3 }));
        assert!(
            message(&with("{ type = \"bohb\" }"))
                .contains("early_terminate.type: got \"bohb\", expected \"asha\", \"hyperband\" or \"median\"")
        );
        // W&B's hyperband keys: min_iter, or max_iter with s.
        let spec = parse_str(&with("{ type = \"hyperband\", min_iter = 3 }")).unwrap();
        assert_eq!(spec.early_terminate.unwrap().bands(), [3, 9, 27]);
        let spec = parse_str(&with("{ type = \"hyperband\", max_iter = 27, s = 2, eta = 3 }")).unwrap();
        assert_eq!(spec.early_terminate.unwrap().bands(), [3, 9]);
        assert!(message(&with("{ type = \"hyperband\" }")).contains("needs min_iter, or max_iter and s"));
        assert!(
            message(&with("{ type = \"hyperband\", min_iter = 3, max_iter = 9 }"))
                .contains("early_terminate.max_iter: cannot be combined with min_iter")
        );
        assert!(message(&with("{ type = \"hyperband\", min_iter = 40 }")).contains("leaves no band below 30 epochs"));
        assert!(
            message(&with("{ type = \"asha\", min_iter = 3 }"))
                .contains("early_terminate.min_iter: is not used by type = \"asha\"")
        );
        assert!(
            message(&with("{ type = \"asha\", eta = 1 }"))
                .contains("early_terminate.eta: got 1, expected a whole number >= 2")
        );
        assert!(
            message(&with("{ type = \"median\", eta = 3 }"))
                .contains("early_terminate.eta: is not used by type = \"median\"")
        );
        assert!(message(&with("{ type = \"asha\", grace = 3 }")).contains("unknown field `grace`"));
    }

    #[test]
    fn register_as_names_are_checked() {
        let spec = parse_str(&GRID.replace("workers = 2", "workers = 2\nregister_as = \"digits\"")).unwrap();
        assert_eq!(spec.register_as.as_deref(), Some("digits"));
        let m = message(&GRID.replace("workers = 2", "workers = 2\nregister_as = \"../x\""));
        assert!(m.contains("register_as: model name \"../x\" is not allowed"), "{m}");
    }

    #[test]
    fn a_spec_survives_a_json_round_trip() {
        let spec = parse_str(GRID).unwrap();
        let back: SweepSpec = serde_json::from_value(serde_json::to_value(&spec).unwrap()).unwrap();
        assert_eq!(back.hash(), spec.hash());
        assert_eq!(back.parameters, spec.parameters);
    }

    #[test]
    fn early_stopping_is_read_from_train() {
        let spec = parse_str(&GRID.replace(
            "optimizer = \"adam\"",
            "optimizer = \"adam\"\nearly_stopping = { patience = 3, min_delta = 0.001 }",
        ))
        .unwrap();
        assert_eq!(spec.early_stopping, Some(EarlyStoppingSpec { patience: 3, min_delta: 0.001 }));
        let m =
            message(&GRID.replace("optimizer = \"adam\"", "optimizer = \"adam\"\nearly_stopping = { patience = 0 }"));
        assert!(m.contains("train.early_stopping.patience: got 0"), "{m}");
    }

    /// `sweep plan` of this spec (sweeps/grid.toml) with the commit before objectives became a spec key.
    const GRID_HASH_BEFORE_OBJECTIVES: &str = "f248fa01ca642b8b";

    #[test]
    fn the_spec_hash_of_a_spec_without_the_new_keys_is_what_it_was() {
        // Measured with sweep before objectives and tasks were keys: results folders made
        // then still resume.
        assert_eq!(parse_str(GRID).unwrap().hash(), GRID_HASH_BEFORE_OBJECTIVES);
    }

    #[test]
    fn the_objective_is_chosen_by_name_and_owns_the_parameters() {
        let spec = parse_str(&GRID.replace("method = \"grid\"", "objective = \"mlp\"\nmethod = \"grid\"")).unwrap();
        assert_eq!(spec.objective, "mlp");
        let m = message(&GRID.replace("method = \"grid\"", "objective = \"cnn\"\nmethod = \"grid\""));
        assert_eq!(m, "s.toml:3: objective: got \"cnn\", expected one of mlp (the objectives of this binary)");
        let m = message(&GRID.replace("epochs = 30", "epochs = 30\nchannels = 8"));
        assert!(
            m.starts_with(
                "s.toml:19: train.channels: unknown setting of objective \"mlp\", expected one of epochs, lr"
            ),
            "{m}"
        );
        let m = message(&GRID.replace("dropout = { values", "kernel = { values"));
        assert!(m.contains("parameters.kernel: unknown parameter of objective \"mlp\""), "{m}");
    }

    #[test]
    fn a_binary_without_the_default_objective_asks_for_one() {
        use crate::objective::{Model, Objective, Trainer, TrialContext, TrialError};
        struct Other;
        impl Objective for Other {
            fn name(&self) -> &str {
                "other"
            }
            fn schema(&self) -> crate::params::Schema {
                crate::params::Schema::new()
            }
            fn start(&self, _: &TrialContext<'_>) -> Result<Box<dyn Trainer>, TrialError> {
                Err(TrialError::failed("not here"))
            }
            fn load(
                &self,
                _: &[u8],
                _: &crate::params::ResolvedParams,
                _: crate::data::DataShape,
            ) -> Result<Box<dyn Model>, TrialError> {
                Err(TrialError::failed("not here"))
            }
        }
        let only_other = Catalog::new(vec![Box::new(Other)]).unwrap();
        let m = parse(GRID, Path::new("s.toml"), &only_other).unwrap_err().to_string();
        assert!(m.contains("objective: is not set, and the default \"mlp\" is not in this binary; set objective = \"...\" to one of other"), "{m}");
    }

    #[test]
    fn regression_has_its_own_metrics_and_goals() {
        let regression = GRID
            .replace("valid_fraction = 0.2", "valid_fraction = 0.2\ntask = \"regression\"")
            .replace("name = \"mcc\"", "name = \"rmse\"")
            .replace("goal = \"maximize\"", "goal = \"auto\"");
        let spec = parse_str(&regression).unwrap();
        assert_eq!(spec.data.task, Task::Regression);
        assert_eq!(spec.metric.goal, Goal::Minimize);
        assert_ne!(spec.hash(), parse_str(GRID).unwrap().hash());
        let m = message(&regression.replace("name = \"rmse\"", "name = \"mcc\""));
        assert!(m.contains("metric.name: got \"mcc\", expected one of valid_loss, train_loss, mse, rmse, mae, r2 (the metrics of task = \"regression\")"), "{m}");
        let m = message(&GRID.replace("valid_fraction = 0.2", "task = \"ranking\""));
        assert!(m.contains("data.task: got \"ranking\", expected \"classification\" or \"regression\""), "{m}");
    }

    #[test]
    fn data_keys_choose_columns_and_unknown_ones_are_errors() {
        let spec =
            parse_str(&GRID.replace("target = \"target\"", "target = \"target\"\ndrop = [\"p0\", \"p1\"]")).unwrap();
        assert_eq!(spec.data.drop, ["p0", "p1"]);
        let both = GRID.replace("target = \"target\"", "target = \"target\"\nfeatures = [\"p2\"]\ndrop = [\"p0\"]");
        assert!(message(&both).contains("data.drop: cannot be combined with data.features"));
        let m = message(&GRID.replace("target = \"target\"", "target = \"target\"\nfolder = \"x\""));
        assert!(m.starts_with("s.toml:10: data.folder: unknown key, expected one of task, valid_fraction, test_fraction, test_top, cv_folds, refit, path, target, features, drop, test_path"), "{m}");
        let m = message(&GRID.replace("target = \"target\"", "target = \"target\"\nfeatures = \"p2\""));
        assert!(m.contains("data.features: got \"p2\", expected a non-empty list of column names"), "{m}");
        let m = message(&GRID.replace("path = \"data/digits.csv\"\n", ""));
        assert!(m.contains("data.path: is missing"), "{m}");
    }

    #[test]
    fn selection_keys_are_validated_with_their_line() {
        let spec = parse_str(&GRID.replace("valid_fraction = 0.2", "test_fraction = 0.25\ntest_top = 3")).unwrap();
        assert_eq!((spec.data.test_fraction, spec.selection.test_top), (Some(0.25), 3));
        assert_eq!(spec.selection.bootstrap, 1000, "on by default");
        let spec = parse_str(&GRID.replace("valid_fraction = 0.2", "cv_folds = 5\nrefit = true")).unwrap();
        assert_eq!((spec.data.cv_folds, spec.selection.refit, spec.trials_per_config()), (Some(5), true, 5));
        let plain = parse_str(GRID).unwrap();
        let with_settings = parse_str(&GRID.replace("min_delta = 0.0", "min_delta = 0.0\nbootstrap = 200")).unwrap();
        assert_eq!(plain.hash(), with_settings.hash(), "the bootstrap changes no trial");
        assert_ne!(
            plain.hash(),
            parse_str(&GRID.replace("valid_fraction = 0.2", "valid_fraction = 0.2\ntest_fraction = 0.1"))
                .unwrap()
                .hash()
        );
        let m = message(&GRID.replace("valid_fraction = 0.2", "test_top = 3"));
        assert_eq!(m, "s.toml:10: data.test_top: needs a test split: set data.test_fraction (or data.test_path) too");
        let m = message(&GRID.replace("min_delta = 0.0", "min_delta = 0.0\nbootstrap = -1"));
        assert!(m.contains("metric.bootstrap: got -1, expected a whole number of resamples from 0 (off)"), "{m}");
        let m = message(
            &GRID
                .replace("method = \"grid\"", "method = \"grid\"\nrepeats = 2")
                .replace("valid_fraction = 0.2", "cv_folds = 3"),
        );
        assert!(m.contains("repeats: cannot be combined with data.cv_folds"), "{m}");
    }
}
