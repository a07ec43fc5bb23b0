//! W&B sweep files (YAML), read as they are.
//!
//! The YAML is parsed into a tree that knows the line of every node, then
//! converted into the TOML table it means (a [`toml::Table`], never TOML
//! text), which the spec's validator reads through toml's own deserializer,
//! so both formats share every check and every message. The table stands for
//! the TOML file one key per line: each value's span names its line, each
//! line remembers the YAML line it came from and every key path its YAML
//! line, so an error names the YAML file and the YAML line (by key path where
//! the path is in the file, else by the line the check pointed at).
//!
//! What changes on the way, from W&B's sweep configuration
//! (`wandb/sweeps`: `config/schema.json`, `params.py`):
//! - `method: bayes` becomes `method = "tpe"` (sweep has no Gaussian-process search), or
//!   `method = "nsga2"` with a `metrics:` list of several metrics;
//! - `metrics:` (a list of `{name, goal}`) becomes `[metric]`: the first is the
//!   monitored metric, the others `trade_off`;
//! - `run_cap` becomes `trials`;
//! - `metric.goal` defaults to `minimize`, W&B's default, where the TOML default is `auto`;
//! - a parameter with `min` and `max` and no `distribution` gets W&B's:
//!   `int_uniform` when both are integers, else `uniform`;
//! - `name` defaults to the file's stem, since it names the results folder;
//! - `program` and `command` (W&B's macros, default `${env} ${interpreter}
//!   ${program} ${args}`) become `objective = "command"` with a `[command]`
//!   table, so the user's program is what each trial runs; a file that sets
//!   `objective` to another objective keeps them ignored;
//! - keys that only tell W&B's servers or agent what to do (`entity`,
//!   `project`, ...) and `metric.target`/`impute*` are reported as ignored.
//!
//! Scalars resolve as YAML 1.2's core schema (so `1e-4` is a number, where
//! PyYAML's YAML 1.1 would read a string).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

mod yaml;

use super::{SpecError, SweepSpec};
use crate::objective::Catalog;
use yaml::{Node, Yaml, load_yaml};

/// Top-level keys sweep reads with the same meaning in YAML as in TOML.
const SWEEP_KEYS: &[&str] = &[
    "name",
    "description",
    "objective",
    "seed",
    "workers",
    "trials",
    "repeats",
    "register_as",
    "checkpoint",
    "data",
    "train",
    "slurm",
    "tpe",
    "nsga2",
    "select",
];
/// W&B's top-level keys that sweep reads.
const WANDB_KEYS: &[&str] = &["method", "metric", "metrics", "parameters", "early_terminate", "run_cap"];
/// W&B's top-level keys that only tell W&B's servers and agent what to do.
const WANDB_IGNORED: &[&str] =
    &["program", "command", "entity", "project", "controller", "job", "image_uri", "apiVersion", "kind"];
/// W&B's `metric` keys that sweep has no use for (it trains every planned trial).
const METRIC_IGNORED: &[&str] = &["target", "impute", "impute_while_running"];
/// Keys sweep reads as tables (`[data]`), each key of them on its own line.
const TABLES: &[&str] = &["data", "metric", "train", "slurm", "tpe", "nsga2", "select", "parameters"];

/// Parses a W&B sweep file: the spec, and the notes and warnings to show once.
pub(super) fn parse(text: &str, file: &Path, catalog: &Catalog) -> Result<(SweepSpec, Vec<String>), SpecError> {
    let err = |line: usize, key: &str, message: String| SpecError::Invalid {
        file: file.to_path_buf(),
        line: Some(line),
        key: if key.is_empty() { String::new() } else { format!("{key}: ") },
        message,
    };
    let root = load_yaml(text).map_err(|(line, message)| err(line, "", message))?;
    let converted = to_toml(&root, file).map_err(|(line, key, message)| err(line, &key, message))?;
    let literals = converted.number_literals();
    let keys: Vec<Option<String>> = converted.lines.iter().map(|(_, key)| key.clone()).collect();
    let spec = super::validate::parse_table(converted.spanned(&literals), &keys, file, catalog)
        .map_err(|e| converted.remap(e))?;
    let mut notices = Vec::new();
    if converted.multi_objective {
        notices.push(
            "note: method \"bayes\" with several metrics runs sweep's NSGA-II over them (the first monitored, \
             the others its trade-offs)"
                .to_string(),
        );
    } else if converted.bayes {
        notices.push(
            "note: method \"bayes\" runs sweep's TPE (Tree-structured Parzen Estimator), not W&B's Gaussian process"
                .to_string(),
        );
    }
    let mut ignored = converted.ignored;
    ignored.sort();
    let ignored: Vec<String> = ignored.into_iter().map(|(_, key)| key).collect();
    if !ignored.is_empty() {
        let (list, verb) = match ignored.as_slice() {
            [one] => (one.clone(), "is a W&B key"),
            many => (many.join(", "), "are W&B keys"),
        };
        notices.push(format!("warning: {}: {list} {verb} sweep does not use; ignored", file.display()));
    }
    Ok((spec, notices))
}

/// The TOML a W&B file means, and how to point back into the YAML.
#[derive(Debug, Default)]
struct Converted {
    /// The spec.
    table: toml::Table,
    /// The lines the spec stands for, one key per line: each one's YAML line
    /// and the dotted key it holds (`None`: a `[table]` header).
    lines: Vec<(usize, Option<String>)>,
    /// The line (an index of `lines`) of each top-level key, table and table key.
    line_of_key: BTreeMap<String, usize>,
    /// The YAML line of each key path (`parameters.lr.min`), under its TOML name.
    paths: BTreeMap<String, usize>,
    /// TOML key paths the YAML spells otherwise (`trials` → `run_cap`).
    renamed: BTreeMap<String, String>,
    /// The method as the YAML wrote it.
    method: Option<String>,
    bayes: bool,
    /// `bayes` with a `metrics:` list of several: run as NSGA-II.
    multi_objective: bool,
    /// W&B keys dropped, as dotted paths with their lines.
    ignored: Vec<(usize, String)>,
    /// Parameters whose integer min and max made them `int_uniform`.
    inferred_int: BTreeSet<String>,
    /// Whether `name` came from the file name.
    named_by_file: bool,
}

type ConvertError = (usize, String, String);

impl Converted {
    /// Sets a top-level key, on a line of its own.
    fn set(&mut self, key: &str, value: toml::Value, yaml_line: usize) {
        self.line_of_key.insert(key.to_string(), self.lines.len());
        self.lines.push((yaml_line, Some(key.to_string())));
        self.table.insert(key.to_string(), value);
    }

    /// Starts `[table]`, on a line of its own.
    fn open_table(&mut self, table: &str, yaml_line: usize) {
        self.line_of_key.insert(table.to_string(), self.lines.len());
        self.lines.push((yaml_line, None));
        self.table.insert(table.to_string(), toml::Value::Table(toml::Table::new()));
    }

    /// Sets a key of `[table]`, on a line of its own.
    fn set_in(&mut self, table: &str, key: &str, value: toml::Value, yaml_line: usize) {
        let path = format!("{table}.{key}");
        self.line_of_key.insert(path.clone(), self.lines.len());
        self.lines.push((yaml_line, Some(path)));
        if let Some(toml::Value::Table(t)) = self.table.get_mut(table) {
            t.insert(key.to_string(), value);
        }
    }

    /// Every number of the table as TOML writes it, in the order [`Converted::spanned`]
    /// meets them: toml's spanned tree holds numbers as their literals.
    fn number_literals(&self) -> Vec<String> {
        fn walk(value: &toml::Value, out: &mut Vec<String>) {
            match value {
                toml::Value::Integer(i) => out.push(i.to_string()),
                toml::Value::Float(f) => out.push(float_literal(*f)),
                toml::Value::Array(items) => items.iter().for_each(|v| walk(v, out)),
                toml::Value::Table(t) => t.values().for_each(|v| walk(v, out)),
                toml::Value::String(_) | toml::Value::Boolean(_) | toml::Value::Datetime(_) => {}
            }
        }
        let mut out = Vec::new();
        self.table.values().for_each(|v| walk(v, &mut out));
        out
    }

    /// The table as toml's spanned tree, each value spanning the line it stands
    /// on (a value inside an inline table, its key's line); `literals` are
    /// [`Converted::number_literals`].
    fn spanned<'a>(&'a self, literals: &'a [String]) -> toml::Spanned<toml::de::DeTable<'a>> {
        let mut numbers = literals.iter();
        let root = 0..self.lines.len();
        let table = self.de_table(&self.table, "", &root, &mut numbers);
        toml::Spanned::new(root, table)
    }

    fn de_table<'a>(
        &self,
        table: &'a toml::Table,
        path: &str,
        span: &std::ops::Range<usize>,
        numbers: &mut std::slice::Iter<'a, String>,
    ) -> toml::de::DeTable<'a> {
        let mut out = toml::de::DeTable::new();
        for (key, value) in table {
            let path = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
            let span = self.line_of_key.get(&path).map_or_else(|| span.clone(), |&i| i..i + 1);
            let value = self.de_value(value, &path, &span, numbers);
            out.insert(toml::Spanned::new(span.clone(), Cow::Borrowed(key.as_str())), toml::Spanned::new(span, value));
        }
        out
    }

    fn de_value<'a>(
        &self,
        value: &'a toml::Value,
        path: &str,
        span: &std::ops::Range<usize>,
        numbers: &mut std::slice::Iter<'a, String>,
    ) -> toml::de::DeValue<'a> {
        use toml::de::DeValue;
        match value {
            toml::Value::String(s) => DeValue::String(Cow::Borrowed(s)),
            toml::Value::Boolean(b) => DeValue::Boolean(*b),
            toml::Value::Datetime(d) => DeValue::Datetime(*d),
            // A literal of an i64 or f64 as TOML writes it always reads back; were it
            // not to, the validator would name a string where a number belongs.
            toml::Value::Integer(_) | toml::Value::Float(_) => match numbers.next() {
                Some(literal) => DeValue::parse(literal)
                    .map_or_else(|_| DeValue::String(Cow::Borrowed(literal)), toml::Spanned::into_inner),
                None => DeValue::String(Cow::Borrowed("")),
            },
            toml::Value::Array(items) => DeValue::Array(
                items.iter().map(|v| toml::Spanned::new(span.clone(), self.de_value(v, path, span, numbers))).collect(),
            ),
            toml::Value::Table(t) => DeValue::Table(self.de_table(t, path, span, numbers)),
        }
    }

    /// The TOML check's error, pointed at the YAML file's line and key.
    fn remap(&self, e: SpecError) -> SpecError {
        let SpecError::Invalid { file, line, key, mut message } = e else { return e };
        let mut path = key.strip_suffix(": ").unwrap_or(&key).to_string();
        // A TOML line holds a whole YAML mapping (a parameter, early_terminate): the
        // field serde names has a line of its own in the YAML.
        if let Some(field) = message.strip_prefix("unknown field `").and_then(|m| m.split('`').next())
            && !path.is_empty()
            && self.paths.contains_key(&format!("{path}.{field}"))
        {
            path = format!("{path}.{field}");
        }
        let line = self.paths.get(&path).copied().or_else(|| line.and_then(|l| self.lines.get(l - 1).map(|(y, _)| *y)));
        let shown = self.renamed.get(&path).cloned().unwrap_or_else(|| path.clone());
        if path == "trials" && message.starts_with("is missing") {
            let method = self.method.as_deref().unwrap_or("random");
            return SpecError::Invalid {
                file,
                line,
                key: "run_cap: ".into(),
                message: format!(
                    "is missing: method {method} needs run_cap: N, the number of trials (W&B runs until stopped; \
                     sweep plans its trials up front)"
                ),
            };
        }
        if let Some(param) = path.strip_prefix("parameters.").and_then(|p| p.strip_suffix(".distribution"))
            && self.inferred_int.contains(param)
        {
            message.push_str(
                " (min and max are both whole numbers, so they read as int_uniform, as in W&B; \
                 write them with a decimal point or set distribution: uniform)",
            );
        }
        if path == "name" && self.named_by_file && message.starts_with("got") {
            message.push_str("; the file has no name: key, so the sweep is named after the file");
        }
        let key = if path.is_empty() { key } else { format!("{shown}: ") };
        SpecError::Invalid { file, line, key, message }
    }
}

/// The TOML spec of a W&B file's tree.
fn to_toml(root: &Node, file: &Path) -> Result<Converted, ConvertError> {
    let Yaml::Map(entries) = &root.value else {
        return Err((
            root.line,
            String::new(),
            "expected a mapping of keys (method:, metric:, parameters:, ...)".into(),
        ));
    };
    let mut out = Converted::default();
    for (key, line, node) in entries {
        record_paths(&mut out.paths, key, *line, node);
    }
    if let Some((_, line, _)) = entries.iter().find(|(k, _, _)| k == "run_cap") {
        out.paths.insert("trials".into(), *line);
        out.renamed.insert("trials".into(), "run_cap".into());
    }
    if !entries.iter().any(|(k, _, _)| k == "name") {
        let stem = file.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        out.set("name", toml::Value::String(stem), 1);
        out.named_by_file = true;
    }

    let has = |key: &str| entries.iter().any(|(k, _, _)| k == key);
    if has("metric") && has("metrics") {
        let line = entries.iter().find(|(k, _, _)| k == "metrics").map_or(1, |(_, l, _)| *l);
        return Err((line, "metrics".into(), "is given beside metric:; keep one (metrics: lists several)".into()));
    }
    for (required, what) in [("method", "grid, random or bayes"), ("metric", "the metric to monitor and rank by")] {
        let given = has(required) || (required == "metric" && has("metrics"));
        if !given {
            return Err((1, required.into(), format!("is missing: sweep needs {what}")));
        }
    }

    let mut tables: Vec<(&str, usize, &Node)> = Vec::new();
    let mut trials_key: Option<(&str, usize)> = None;
    let other_objective =
        entries.iter().any(|(k, _, v)| k == "objective" && !matches!(&v.value, Yaml::Str(s) if s == "command"));
    let mut program: Vec<(&str, usize, &Node)> = Vec::new();
    for (key, line, node) in entries {
        let key = key.as_str();
        match key {
            "program" | "command" if !other_objective => program.push((key, *line, node)),
            "method" => {
                let method = match &node.value {
                    Yaml::Str(s) => s.as_str(),
                    _ => {
                        out.set("method", toml_value(node, "method")?, *line);
                        continue;
                    }
                };
                out.method = Some(method.to_string());
                let toml = match method {
                    "grid" | "random" | "tpe" => method,
                    "bayes" => {
                        out.bayes = true;
                        "tpe"
                    }
                    other => {
                        return Err((
                            *line,
                            "method".into(),
                            format!(
                                "got \"{other}\", expected \"grid\", \"random\" or \"bayes\" (run as sweep's TPE; \
                                 \"tpe\" says so)"
                            ),
                        ));
                    }
                };
                out.set("method", toml::Value::String(toml.to_string()), *line);
            }
            "run_cap" | "trials" => {
                if let Some((first, first_line)) = trials_key {
                    return Err((
                        *line,
                        key.into(),
                        format!("gives the number of trials again, after {first} on line {first_line}; keep one"),
                    ));
                }
                trials_key = Some((key, *line));
                out.set("trials", toml_value(node, key)?, *line);
            }
            "early_terminate" => match node.value {
                Yaml::Map(_) => out.set("early_terminate", toml_value(node, key)?, *line),
                _ => {
                    return Err((
                        *line,
                        key.into(),
                        format!("got {}, expected a mapping (type: and its settings)", written(node, key)?),
                    ));
                }
            },
            "metrics" => metrics(&mut out, *line, node)?,
            "scheduler" => {
                return Err((
                    *line,
                    key.into(),
                    "W&B's custom schedulers are not supported; sweep runs grid, random or bayes (its TPE)".into(),
                ));
            }
            _ if TABLES.contains(&key) => match node.value {
                Yaml::Map(_) => tables.push((key, *line, node)),
                _ => {
                    return Err((
                        *line,
                        key.into(),
                        format!("got {}, expected a mapping (indented keys below {key}:)", written(node, key)?),
                    ));
                }
            },
            _ if SWEEP_KEYS.contains(&key) => {
                out.set(key, toml_value(node, key)?, *line);
            }
            _ if WANDB_IGNORED.contains(&key) => out.ignored.push((*line, key.to_string())),
            _ => {
                return Err((
                    *line,
                    key.into(),
                    format!(
                        "unknown key, expected one of W&B's {}, {} or sweep's {}",
                        WANDB_KEYS.join(", "),
                        WANDB_IGNORED.join(", "),
                        SWEEP_KEYS.join(", ")
                    ),
                ));
            }
        }
    }

    // After every key, since method: may come after metrics: in the file.
    if out.bayes && out.table.get("metric").and_then(|m| m.get("trade_off")).is_some() {
        out.table.insert("method".into(), toml::Value::String("nsga2".into()));
        out.multi_objective = true;
    }
    if let Some((_, first_line, _)) = program.first() {
        if !entries.iter().any(|(k, _, _)| k == "objective") {
            out.set("objective", toml::Value::String("command".into()), *first_line);
        }
        out.open_table("command", *first_line);
        for (key, line, node) in &program {
            let toml_key = if *key == "command" { "argv" } else { "program" };
            let path = format!("command.{toml_key}");
            out.set_in("command", toml_key, toml_value(node, key)?, *line);
            out.paths.insert(path.clone(), *line);
            out.renamed.insert(path, key.to_string());
        }
    }

    for (table, line, node) in tables {
        let Yaml::Map(entries) = &node.value else { continue };
        out.open_table(table, line);
        for (key, kline, value) in entries {
            let path = format!("{table}.{key}");
            let rendered = match table {
                "metric" if METRIC_IGNORED.contains(&key.as_str()) => {
                    out.ignored.push((*kline, path));
                    continue;
                }
                "parameters" => parameter(&mut out, key, value, &path)?,
                _ => toml_value(value, &path)?,
            };
            out.set_in(table, key, rendered, *kline);
        }
        if table == "metric" && !entries.iter().any(|(k, _, _)| k == "goal") {
            out.set_in("metric", "goal", toml::Value::String("minimize".into()), line);
        }
    }
    Ok(out)
}

/// W&B's `metrics:` list: the first is `[metric]`'s name and goal, the
/// others its `trade_off`, each goal W&B's default `minimize` unless given;
/// with `method: bayes` and several metrics, NSGA-II runs.
fn metrics(out: &mut Converted, line: usize, node: &Node) -> Result<(), ConvertError> {
    let expected = "expected a list of metrics, each a mapping with name: and goal: (minimize or maximize)";
    let Yaml::Seq(items) = &node.value else {
        return Err((line, "metrics".into(), format!("got {}, {expected}", written(node, "metrics")?)));
    };
    let mut read = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("metrics[{i}]");
        let Yaml::Map(entries) = &item.value else {
            return Err((item.line, path.clone(), format!("got {}, {expected}", written(item, &path)?)));
        };
        let mut name = None;
        let mut goal = toml::Value::String("minimize".into());
        for (key, kline, value) in entries {
            match key.as_str() {
                "name" => name = Some(toml_value(value, &format!("{path}.name"))?),
                "goal" => goal = toml_value(value, &format!("{path}.goal"))?,
                k if METRIC_IGNORED.contains(&k) => out.ignored.push((*kline, format!("{path}.{k}"))),
                other => return Err((*kline, format!("{path}.{other}"), format!("unknown key, {expected}"))),
            }
        }
        let name = name.ok_or_else(|| (item.line, path.clone(), format!("has no name:, {expected}")))?;
        read.push((item.line, name, goal));
    }
    let Some(((first_line, name, goal), rest)) = read.split_first() else {
        return Err((line, "metrics".into(), format!("is empty, {expected}")));
    };
    out.open_table("metric", line);
    out.set_in("metric", "name", name.clone(), *first_line);
    out.set_in("metric", "goal", goal.clone(), *first_line);
    if !rest.is_empty() {
        let trade_off = rest
            .iter()
            .map(|(_, name, goal)| {
                toml::Value::Table(toml::Table::from_iter([
                    ("name".into(), name.clone()),
                    ("goal".into(), goal.clone()),
                ]))
            })
            .collect();
        out.set_in("metric", "trade_off", toml::Value::Array(trade_off), rest[0].0);
    }
    Ok(())
}

/// One parameter as sweep's TOML writes it, with W&B's implied distribution made explicit.
fn parameter(out: &mut Converted, name: &str, node: &Node, path: &str) -> Result<toml::Value, ConvertError> {
    let Yaml::Map(entries) = &node.value else {
        return Err((
            node.line,
            path.into(),
            format!(
                "got {}, expected a mapping with values:, value:, or distribution: and its settings",
                written(node, path)?
            ),
        ));
    };
    let has = |k: &str| entries.iter().any(|(key, _, _)| key == k);
    if has("parameters") {
        return Err((
            node.line,
            path.into(),
            "nested parameters are not supported: give each swept setting a name of its own".into(),
        ));
    }
    let mut rendered = toml_value(node, path)?;
    if !has("distribution") && !has("values") && !has("value") && has("min") && has("max") {
        let is_int = |k: &str| entries.iter().any(|(key, _, v)| key == k && matches!(v.value, Yaml::Int(_)));
        let distribution = if is_int("min") && is_int("max") {
            out.inferred_int.insert(name.to_string());
            "int_uniform"
        } else {
            "uniform"
        };
        if let toml::Value::Table(t) = &mut rendered {
            t.insert("distribution".into(), toml::Value::String(distribution.into()));
        }
    }
    Ok(rendered)
}

/// Every mapping key's path and line, for pointing errors at the YAML.
fn record_paths(paths: &mut BTreeMap<String, usize>, path: &str, line: usize, node: &Node) {
    paths.insert(path.to_string(), line);
    if let Yaml::Map(entries) = &node.value {
        for (key, kline, child) in entries {
            record_paths(paths, &format!("{path}.{key}"), *kline, child);
        }
    }
}

/// A YAML value as the TOML value it means.
fn toml_value(node: &Node, path: &str) -> Result<toml::Value, ConvertError> {
    Ok(match &node.value {
        Yaml::Null => return Err(null_value(node, path)),
        Yaml::Bool(b) => toml::Value::Boolean(*b),
        Yaml::Int(i) => toml::Value::Integer(*i),
        Yaml::Float(f) => toml::Value::Float(*f),
        Yaml::Str(s) => toml::Value::String(s.clone()),
        Yaml::Seq(items) => toml::Value::Array(items.iter().map(|n| toml_value(n, path)).collect::<Result<_, _>>()?),
        Yaml::Map(entries) => {
            let mut table = toml::Table::new();
            for (key, _, value) in entries {
                table.insert(key.clone(), toml_value(value, &format!("{path}.{key}"))?);
            }
            toml::Value::Table(table)
        }
    })
}

fn null_value(node: &Node, path: &str) -> ConvertError {
    (node.line, path.into(), "is empty (null), expected a value; give one or remove the key".into())
}

/// A float as TOML writes it: Debug is the shortest text that reads back to the
/// same float, and keeps a decimal point or exponent, so a float stays a float.
fn float_literal(f: f64) -> String {
    if f.is_nan() {
        "nan".into()
    } else if f.is_infinite() {
        if f > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        format!("{f:?}")
    }
}

/// How a value reads in a message: as one line of TOML, so that a W&B file's
/// messages name values as a TOML spec's do (a null is an error here too).
fn written(node: &Node, path: &str) -> Result<String, ConvertError> {
    Ok(match &node.value {
        Yaml::Null => return Err(null_value(node, path)),
        Yaml::Bool(b) => b.to_string(),
        Yaml::Int(i) => i.to_string(),
        Yaml::Float(f) => float_literal(*f),
        Yaml::Str(s) => toml_string(s),
        Yaml::Seq(items) => {
            let items: Result<Vec<String>, ConvertError> = items.iter().map(|n| written(n, path)).collect();
            format!("[{}]", items?.join(", "))
        }
        Yaml::Map(entries) if entries.is_empty() => "{}".into(),
        Yaml::Map(entries) => {
            let mut parts = Vec::with_capacity(entries.len());
            for (key, _, value) in entries {
                parts.push(format!("{} = {}", toml_key(key), written(value, &format!("{path}.{key}"))?));
            }
            format!("{{ {} }}", parts.join(", "))
        }
    })
}

/// A TOML key: bare where TOML allows, else quoted.
fn toml_key(key: &str) -> String {
    if !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        key.to_string()
    } else {
        toml_string(key)
    }
}

/// A TOML basic string on one line.
fn toml_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::params::ParamValue;
    use crate::space::Domain;
    use crate::spec::{EarlyTerminate, Goal};

    fn catalog() -> Catalog {
        Catalog::new(crate::objective::builtin()).unwrap()
    }

    fn parse_yaml(text: &str) -> Result<(SweepSpec, Vec<String>), SpecError> {
        parse(text, Path::new("sweep.yaml"), &catalog())
    }

    fn message(text: &str) -> String {
        match parse_yaml(text) {
            Ok(_) => panic!("expected an error from:\n{text}"),
            Err(e) => e.to_string(),
        }
    }

    const BAYES: &str = "\
objective: mlp
method: bayes
run_cap: 12
metric:
  name: valid_loss
parameters:
  lr:
    distribution: log_uniform_values
    min: 0.0001
    max: 0.1
  hidden:
    min: 16
    max: 128
  dropout:
    min: 0.0
    max: 0.5
  optimizer:
    values: [adam, sgd]
    probabilities: [0.75, 0.25]
  layers:
    value: 2
  batch_size:
    distribution: q_log_uniform_values
    min: 16
    max: 256
    q: 16
data:
  path: data/breast_cancer.csv
train:
  epochs: 3
";

    #[test]
    fn a_wandb_bayes_file_reads_as_a_tpe_spec() {
        let (spec, notices) = parse_yaml(BAYES).unwrap();
        assert_eq!(spec.name, "sweep", "named after the file");
        assert_eq!((spec.method.name(), spec.method.trials()), ("tpe", Some(12)), "{:?}", spec.method);
        assert_eq!(spec.metric.goal, Goal::Minimize, "W&B's default goal");
        assert_eq!(spec.parameters["lr"], Domain::LogUniformValues { min: 0.0001, max: 0.1 });
        assert_eq!(spec.parameters["hidden"], Domain::IntUniform { min: 16, max: 128 });
        assert_eq!(spec.parameters["dropout"], Domain::Uniform { min: 0.0, max: 0.5 });
        assert_eq!(
            spec.parameters["optimizer"],
            Domain::Categorical { values: vec!["adam".into(), "sgd".into()], probabilities: vec![0.75, 0.25] }
        );
        assert_eq!(spec.parameters["layers"], Domain::Values { values: vec![ParamValue::Int(2)] });
        assert_eq!(
            spec.parameters["batch_size"],
            Domain::QLogUniformValues { min: 16.0, max: 256.0, q: 16.0, integer: true }
        );
        assert_eq!(notices.len(), 1, "{notices:?}");
        assert!(notices[0].starts_with("note: method \"bayes\" runs sweep's TPE (Tree-structured Parzen Estimator)"));
    }

    #[test]
    fn a_metrics_list_is_the_monitored_metric_and_its_trade_offs_and_bayes_runs_nsga2() {
        let multi = BAYES.replace(
            "metric:\n  name: valid_loss\n",
            "metrics:\n  - name: mcc\n    goal: maximize\n  - name: params\n  - {name: latency_p50_ms, goal: minimize}\n",
        );
        let (spec, notices) = parse_yaml(&multi).unwrap();
        assert_eq!((spec.metric.metric.as_str(), spec.metric.goal), ("mcc", Goal::Maximize));
        let trade: Vec<(&str, Goal)> = spec.selection.trade_off.iter().map(|t| (t.name.as_str(), t.goal)).collect();
        assert_eq!(trade, [("params", Goal::Minimize), ("latency_p50_ms", Goal::Minimize)], "W&B's default goal");
        assert_eq!((spec.method.name(), spec.method.trials()), ("nsga2", Some(12)));
        assert!(notices[0].contains("runs sweep's NSGA-II"), "{notices:?}");
        // With random search the list still names the trade-offs; method stays as given.
        let (spec, _) = parse_yaml(&multi.replace("method: bayes", "method: random")).unwrap();
        assert_eq!((spec.method.name(), spec.selection.trade_off.len()), ("random", 2));
        // One metric in the list is a plain bayes file: TPE.
        let one = BAYES.replace("metric:\n  name: valid_loss\n", "metrics:\n  - name: valid_loss\n");
        assert_eq!(parse_yaml(&one).unwrap().0.method.name(), "tpe");
        let m = message(&multi.replace("run_cap: 12", "run_cap: 12\nmetric:\n  name: mcc"));
        assert!(m.contains("metrics: is given beside metric:; keep one"), "{m}");
        let m = message(&multi.replace("  - name: params\n", "  - name: params\n    weight: 2\n"));
        assert!(m.starts_with("sweep.yaml:8: metrics[1].weight: unknown key"), "{m}");
        let m = message(&multi.replace("  - name: params\n", "  - goal: minimize\n"));
        assert!(m.contains("metrics[1]: has no name:"), "{m}");
    }

    #[test]
    fn ignored_keys_are_listed_once_in_file_order() {
        // objective: mlp is explicit, so W&B's program and command stay ignored.
        let text =
            format!("entity: me\nproject: p\nprogram: train.py\n{BAYES}command:\n  - ${{env}}\n  - ${{program}}\n")
                .replace("  name: valid_loss", "  name: valid_loss\n  target: 0.1");
        let (spec, notices) = parse_yaml(&text).unwrap();
        assert_eq!(spec.objective, "mlp");
        assert_eq!(
            notices[1],
            "warning: sweep.yaml: entity, project, program, metric.target, command are W&B keys sweep does not use; ignored"
        );
    }

    #[test]
    fn errors_name_the_yaml_file_line_and_key() {
        // Line 12 is hidden's `min: 16`.
        let m = message(&BAYES.replace("    min: 16\n    max: 128", "    min: 0\n    max: 128"));
        assert_eq!(m, "sweep.yaml:12: parameters.hidden.min: got 0, expected a whole number from 1 to 65536");
        let m = message(&BAYES.replace("run_cap: 12", "run_cap: 0"));
        assert_eq!(m, "sweep.yaml:3: run_cap: got 0, expected a whole number from 1 to 1000000");
        let m = message(&BAYES.replace("run_cap: 12\n", ""));
        assert!(m.starts_with("sweep.yaml:2: run_cap: is missing: method bayes needs run_cap: N"), "{m}");
        let m = message(&BAYES.replace("  epochs: 3", "  epochs: 3\n  momentum: [1]"));
        assert!(m.starts_with("sweep.yaml:31: train.momentum: "), "{m}");
        let m = message(&BAYES.replace("  name: valid_loss", "  name: valid_loss\n  goal: up"));
        assert!(m.starts_with("sweep.yaml:6: metric.goal: got \"up\", expected"), "{m}");
        let m = message(&BAYES.replace("objective: mlp", "programme: train.py"));
        assert!(m.starts_with("sweep.yaml:1: programme: unknown key, expected one of W&B's method"), "{m}");
        let m = message(&BAYES.replace("method: bayes", "method: custom"));
        assert!(
            m.starts_with("sweep.yaml:2: method: got \"custom\", expected \"grid\", \"random\" or \"bayes\""),
            "{m}"
        );
        // W&B reads whole-number bounds as int_uniform: wrong for a real-valued setting.
        let m = message(&BAYES.replace("    value: 2\n", "    value: 2\n  weight_decay:\n    min: 0\n    max: 1\n"));
        assert!(
            m.starts_with("sweep.yaml:22: parameters.weight_decay.distribution: \"weight_decay\" is a real number"),
            "{m}"
        );
        assert!(m.contains("both whole numbers, so they read as int_uniform"), "{m}");
        let m = message(&BAYES.replace("[0.75, 0.25]", "[0.75, 0.2]"));
        assert!(m.starts_with("sweep.yaml:19: parameters.optimizer.probabilities: sum to 0.95, expected 1"), "{m}");
        assert!(!m.contains('\n'), "one line: {m}");
    }

    #[test]
    fn yaml_syntax_errors_name_the_line() {
        let m = message("method: grid\nparameters:\n  lr: [1, 2\nmetric: {name: mcc}\n");
        assert!(m.starts_with("sweep.yaml:"), "{m}");
        assert!(m.contains("invalid YAML"), "{m}");
        let m = message("method: grid\nmethod: random\n");
        assert_eq!(m, "sweep.yaml:2: key \"method\" appears twice in one mapping; keep one");
        let m = message("- a\n- b\n");
        assert!(m.starts_with("sweep.yaml:1: expected a mapping"), "{m}");
        let m = message("");
        assert!(m.contains("is empty"), "{m}");
        let m = message(&BAYES.replace("run_cap: 12", "run_cap:"));
        assert_eq!(m, "sweep.yaml:3: run_cap: is empty (null), expected a value; give one or remove the key");
    }

    /// A W&B file for a program: no data, a metric of the program's own.
    const PROGRAM: &str = "\
program: train.py
method: random
run_cap: 3
metric:
  name: val_acc
  goal: maximize
parameters:
  lr:
    min: 0.001
    max: 0.1
";

    #[test]
    fn program_runs_the_users_program_with_w_and_bs_default_command() {
        let (spec, notices) = parse_yaml(PROGRAM).unwrap();
        assert_eq!(spec.objective, "command");
        let command = spec.command.unwrap();
        assert_eq!(command.program.as_deref(), Some("train.py"));
        assert_eq!(command.interpreter, "python3");
        assert_eq!(command.argv, ["${env}", "${interpreter}", "${program}", "${args}"]);
        assert_eq!(spec.metric.metric, "val_acc");
        assert!(notices.is_empty(), "{notices:?}");
    }

    #[test]
    fn command_with_macros_becomes_argv_and_its_mistakes_point_at_its_line() {
        let text = format!("{PROGRAM}command:\n  - ${{interpreter}}\n  - ${{program}}\n  - ${{args_no_hyphens}}\n");
        let (spec, _) = parse_yaml(&text).unwrap();
        assert_eq!(spec.command.unwrap().argv, ["${interpreter}", "${program}", "${args_no_hyphens}"]);
        let m = message(&format!("{PROGRAM}command:\n  - ${{interpreter}}\n  - ${{argz}}\n"));
        assert!(m.starts_with("sweep.yaml:11: command: ${argz} is not a macro"), "{m}");
        let m = message(&PROGRAM.replace("method: random", "method: random\ndata:\n  path: d.csv"));
        assert!(m.contains("takes only task"), "{m}");
    }

    #[test]
    fn early_terminate_takes_the_toml_shape() {
        let text = format!("{BAYES}early_terminate:\n  type: asha\n  min_epochs: 1\n  eta: 2\n");
        let (spec, _) = parse_yaml(&text).unwrap();
        assert_eq!(spec.early_terminate, Some(EarlyTerminate::Asha { min_epochs: 1, eta: 2, max_epochs: 3 }));
        let m = message(&format!("{BAYES}early_terminate:\n  type: asha\n  eta: 1\n"));
        assert!(m.starts_with("sweep.yaml:33: early_terminate.eta: got 1"), "{m}");
    }

    #[test]
    fn sweep_keys_and_w_and_b_forms_mix() {
        let text = "\
name: mixed
description: |
  two lines
  of text
method: random
trials: 4
seed: 3
workers: 2
objective: mlp
metric: {name: mcc, goal: maximize, min_delta: 0.001}
parameters:
  lr: {distribution: log_uniform, min: -9.21, max: -2.3}
  weight_decay: {distribution: log_normal, mu: -9.0, sigma: 1.0}
  momentum: {distribution: q_uniform, min: 0.5, max: 0.95, q: 0.05}
  hidden: {distribution: q_normal, mu: 64, sigma: 16, q: 8}
  dropout: {distribution: inv_log_uniform_values, min: 0.01, max: 0.5}
data: {path: data/digits.csv, valid_fraction: 0.25}
train: {epochs: 2, early_stopping: {patience: 3}}
tpe: {startup_trials: 2}
";
        let m = message(text);
        assert_eq!(m, "sweep.yaml:19: tpe: is only used with method = \"tpe\"");
        let (spec, notices) = parse_yaml(&text.replace("tpe: {startup_trials: 2}\n", "")).unwrap();
        assert!(notices.is_empty(), "{notices:?}");
        assert_eq!(spec.description.as_deref(), Some("two lines\nof text\n"));
        assert_eq!(spec.method, crate::sampler::random_method(4));
        assert_eq!((spec.seed, spec.workers, spec.metric.goal), (3, Some(2), Goal::Maximize));
        match &spec.parameters["lr"] {
            Domain::LogUniformValues { min, max } => {
                assert!((min - (-9.21f64).exp()).abs() < 1e-12 && (max - (-2.3f64).exp()).abs() < 1e-12);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            spec.parameters["hidden"],
            Domain::QNormal { mu: 64.0, sigma: 16.0, q: 8.0, integer: true, min: Some(1.0), max: Some(65536.0) }
        );
        assert!(matches!(spec.parameters["weight_decay"], Domain::LogNormal { min: Some(0.0), max: None, .. }));
        assert_eq!(spec.early_stopping.map(|e| e.patience), Some(3));
    }

    #[test]
    fn the_yaml_becomes_a_toml_table_with_a_line_per_key() {
        let yaml = "method: random\nrun_cap: 3\nmetric:\n  name: mcc\nparameters:\n  lr:\n    min: 0.1\n    max: 1\n";
        let converted = to_toml(&load_yaml(yaml).unwrap(), Path::new("s.yaml")).unwrap();
        let t = &converted.table;
        assert_eq!(t["trials"], toml::Value::Integer(3));
        assert_eq!(t["name"].as_str(), Some("s"), "named after the file");
        assert_eq!(t["metric"]["goal"].as_str(), Some("minimize"), "W&B's default goal");
        assert_eq!(t["parameters"]["lr"]["distribution"].as_str(), Some("uniform"), "W&B's implied distribution");
        assert_eq!(t["parameters"]["lr"]["min"], toml::Value::Float(0.1));
        let lines: Vec<(usize, Option<&str>)> = converted.lines.iter().map(|(y, k)| (*y, k.as_deref())).collect();
        assert_eq!(
            lines,
            [
                (1, Some("name")),
                (1, Some("method")),
                (2, Some("trials")),
                (3, None),
                (4, Some("metric.name")),
                (3, Some("metric.goal")),
                (5, None),
                (6, Some("parameters.lr")),
            ]
        );
        // In the order the spanned tree meets them: keys sorted, so parameters.lr.max, .min, then trials.
        assert_eq!(converted.number_literals(), ["1", "0.1", "3"]);
        let literals = converted.number_literals();
        let root = converted.spanned(&literals);
        let trials = root.get_ref().get("trials").unwrap();
        assert_eq!(trials.span(), 2..3, "a value spans the line it stands for");
    }
}
