//! W&B sweep files (YAML), read as they are.
//!
//! The YAML is parsed into a tree that knows the line of every node, then
//! written out as the TOML spec it means, which [`super::parse`] validates,
//! so both formats share every check and every message. The TOML is written
//! one key per line, each line remembering the YAML line it came from, and
//! every key path remembers its YAML line, so an error names the YAML file
//! and the YAML line (by key path where the path is in the file, else by the
//! line the TOML check pointed at).
//!
//! What changes on the way, from W&B's sweep configuration
//! (`wandb/sweeps`: `config/schema.json`, `params.py`):
//! - `method: bayes` becomes `method = "tpe"` (sweep has no Gaussian-process search);
//! - `run_cap` becomes `trials`;
//! - `metric.goal` defaults to `minimize`, W&B's default, where the TOML default is `auto`;
//! - a parameter with `min` and `max` and no `distribution` gets W&B's:
//!   `int_uniform` when both are integers, else `uniform`;
//! - `name` defaults to the file's stem, since it names the results folder;
//! - keys that only tell W&B's servers or agent what to do (`program`,
//!   `command`, `entity`, `project`, ...) and `metric.target`/`impute*` are
//!   reported as ignored.
//!
//! Scalars resolve as YAML 1.2's core schema (so `1e-4` is a number, where
//! PyYAML's YAML 1.1 would read a string).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::Path;

use saphyr_parser::{Event, Parser, ScalarStyle, Tag};

use super::{SpecError, SweepSpec};
use crate::objective::Catalog;

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
];
/// W&B's top-level keys that sweep reads.
const WANDB_KEYS: &[&str] = &["method", "metric", "parameters", "early_terminate", "run_cap"];
/// W&B's top-level keys that only tell W&B's servers and agent what to do.
const WANDB_IGNORED: &[&str] =
    &["program", "command", "entity", "project", "controller", "job", "image_uri", "apiVersion", "kind"];
/// W&B's `metric` keys that sweep has no use for (it trains every planned trial).
const METRIC_IGNORED: &[&str] = &["target", "impute", "impute_while_running"];
/// Keys sweep reads as tables (`[data]`), each key of them on its own line.
const TABLES: &[&str] = &["data", "metric", "train", "slurm", "tpe", "parameters"];

/// A YAML node and the (1-based) line it starts on.
#[derive(Debug, Clone, PartialEq)]
struct Node {
    value: Yaml,
    line: usize,
}

#[derive(Debug, Clone, PartialEq)]
enum Yaml {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    /// Keys in file order, each with its line.
    Map(Vec<(String, usize, Node)>),
}

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
    let spec = super::parse(&converted.text, file, catalog).map_err(|e| converted.remap(e))?;
    let mut notices = Vec::new();
    if converted.bayes {
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
    text: String,
    /// The YAML line of each TOML line.
    lines: Vec<usize>,
    /// The YAML line of each key path (`parameters.lr.min`), under its TOML name.
    paths: BTreeMap<String, usize>,
    /// TOML key paths the YAML spells otherwise (`trials` → `run_cap`).
    renamed: BTreeMap<String, String>,
    /// The method as the YAML wrote it.
    method: Option<String>,
    bayes: bool,
    /// W&B keys dropped, as dotted paths with their lines.
    ignored: Vec<(usize, String)>,
    /// Parameters whose integer min and max made them `int_uniform`.
    inferred_int: BTreeSet<String>,
    /// Whether `name` came from the file name.
    named_by_file: bool,
}

type ConvertError = (usize, String, String);

impl Converted {
    fn push(&mut self, toml_line: String, yaml_line: usize) {
        self.text.push_str(&toml_line);
        self.text.push('\n');
        self.lines.push(yaml_line);
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
        let line = self.paths.get(&path).copied().or_else(|| line.and_then(|l| self.lines.get(l - 1).copied()));
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
        out.push(format!("name = {}", toml_string(&stem)), 1);
        out.named_by_file = true;
    }

    for (required, what) in [("method", "grid, random or bayes"), ("metric", "the metric to monitor and rank by")] {
        if !entries.iter().any(|(k, _, _)| k == required) {
            return Err((1, required.into(), format!("is missing: sweep needs {what}")));
        }
    }

    let mut tables: Vec<(&str, usize, &Node)> = Vec::new();
    let mut trials_key: Option<(&str, usize)> = None;
    for (key, line, node) in entries {
        let key = key.as_str();
        match key {
            "method" => {
                let method = match &node.value {
                    Yaml::Str(s) => s.as_str(),
                    _ => {
                        out.push(format!("method = {}", toml_value(node, "method")?), *line);
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
                out.push(format!("method = {}", toml_string(toml)), *line);
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
                out.push(format!("trials = {}", toml_value(node, key)?), *line);
            }
            "early_terminate" => match node.value {
                Yaml::Map(_) => out.push(format!("early_terminate = {}", toml_value(node, key)?), *line),
                _ => {
                    return Err((
                        *line,
                        key.into(),
                        format!("got {}, expected a mapping (type: and its settings)", toml_value(node, key)?),
                    ));
                }
            },
            "metrics" => {
                return Err((
                    *line,
                    key.into(),
                    "several metrics (W&B's multi-objective search) are not supported; give one metric:".into(),
                ));
            }
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
                        format!("got {}, expected a mapping (indented keys below {key}:)", toml_value(node, key)?),
                    ));
                }
            },
            _ if SWEEP_KEYS.contains(&key) => {
                out.push(format!("{} = {}", toml_key(key), toml_value(node, key)?), *line);
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

    for (table, line, node) in tables {
        let Yaml::Map(entries) = &node.value else { continue };
        out.push(format!("[{table}]"), line);
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
            out.push(format!("{} = {rendered}", toml_key(key)), *kline);
        }
        if table == "metric" && !entries.iter().any(|(k, _, _)| k == "goal") {
            out.push("goal = \"minimize\"".into(), line);
        }
    }
    Ok(out)
}

/// One parameter as sweep's TOML writes it, with W&B's implied distribution made explicit.
fn parameter(out: &mut Converted, name: &str, node: &Node, path: &str) -> Result<String, ConvertError> {
    let Yaml::Map(entries) = &node.value else {
        return Err((
            node.line,
            path.into(),
            format!(
                "got {}, expected a mapping with values:, value:, or distribution: and its settings",
                toml_value(node, path)?
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
        // `{ min = 1, max = 2 }` → `{ distribution = "...", min = 1, max = 2 }`.
        rendered = format!("{{ distribution = {}, {}", toml_string(distribution), &rendered[2..]);
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

/// A value as one line of TOML (an inline table or array for nested ones).
fn toml_value(node: &Node, path: &str) -> Result<String, ConvertError> {
    Ok(match &node.value {
        Yaml::Null => {
            return Err((
                node.line,
                path.into(),
                "is empty (null), expected a value; give one or remove the key".into(),
            ));
        }
        Yaml::Bool(b) => b.to_string(),
        Yaml::Int(i) => i.to_string(),
        Yaml::Float(f) if f.is_nan() => "nan".into(),
        Yaml::Float(f) if f.is_infinite() => if *f > 0.0 { "inf" } else { "-inf" }.into(),
        // Debug is the shortest text that reads back to the same float, and keeps a
        // decimal point or exponent, so a float stays a float.
        Yaml::Float(f) => format!("{f:?}"),
        Yaml::Str(s) => toml_string(s),
        Yaml::Seq(items) => {
            let items: Result<Vec<String>, ConvertError> = items.iter().map(|n| toml_value(n, path)).collect();
            format!("[{}]", items?.join(", "))
        }
        Yaml::Map(entries) if entries.is_empty() => "{}".into(),
        Yaml::Map(entries) => {
            let mut parts = Vec::with_capacity(entries.len());
            for (key, _, value) in entries {
                parts.push(format!("{} = {}", toml_key(key), toml_value(value, &format!("{path}.{key}"))?));
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

/// A container being filled while the events stream in.
enum Frame {
    Seq { items: Vec<Node>, line: usize, anchor: usize },
    Map { entries: Vec<(String, usize, Node)>, key: Option<(String, usize)>, line: usize, anchor: usize },
}

/// The one document of a YAML text as a tree; errors as (line, message).
fn load_yaml(text: &str) -> Result<Node, (usize, String)> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut anchors: HashMap<usize, Node> = HashMap::new();
    let mut docs: Vec<Node> = Vec::new();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|e| (e.marker().line(), format!("invalid YAML: {}", e.info())))?;
        let line = span.start.line();
        let (node, anchor) = match event {
            Event::Scalar(value, style, anchor, tag) => {
                (Node { value: scalar(&value, style, tag, line)?, line }, anchor)
            }
            Event::SequenceStart(anchor, _) => {
                stack.push(Frame::Seq { items: Vec::new(), line, anchor });
                continue;
            }
            Event::MappingStart(anchor, _) => {
                stack.push(Frame::Map { entries: Vec::new(), key: None, line, anchor });
                continue;
            }
            Event::SequenceEnd | Event::MappingEnd => match stack.pop() {
                Some(Frame::Seq { items, line, anchor }) => (Node { value: Yaml::Seq(items), line }, anchor),
                Some(Frame::Map { entries, line, anchor, .. }) => (Node { value: Yaml::Map(entries), line }, anchor),
                None => return Err((line, "invalid YAML: a collection ends that never started".into())),
            },
            Event::Alias(id) => match anchors.get(&id) {
                Some(node) => (Node { value: node.value.clone(), line }, 0),
                None => return Err((line, "invalid YAML: an alias (*name) to no anchor".into())),
            },
            Event::StreamStart | Event::StreamEnd | Event::DocumentStart(_) | Event::DocumentEnd | Event::Nothing => {
                continue;
            }
        };
        if anchor > 0 {
            anchors.insert(anchor, node.clone());
        }
        match stack.last_mut() {
            None => docs.push(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => {
                    let name = match node.value {
                        Yaml::Str(s) => s,
                        Yaml::Int(i) => i.to_string(),
                        Yaml::Bool(b) => b.to_string(),
                        Yaml::Float(f) => f.to_string(),
                        Yaml::Null | Yaml::Seq(_) | Yaml::Map(_) => {
                            return Err((node.line, "a key must be a name, not empty or a collection".into()));
                        }
                    };
                    if entries.iter().any(|(k, _, _)| *k == name) {
                        return Err((node.line, format!("key \"{name}\" appears twice in one mapping; keep one")));
                    }
                    *key = Some((name, node.line));
                }
                Some((name, kline)) => entries.push((name, kline, node)),
            },
        }
    }
    match docs.len() {
        0 => Err((1, "is empty, expected a W&B sweep configuration (method:, metric:, parameters:, ...)".into())),
        1 => Ok(docs.remove(0)),
        _ => Err((docs[1].line, "holds several YAML documents (---), expected one sweep".into())),
    }
}

/// A scalar's value under YAML 1.2's core schema; quoted ones are strings.
fn scalar(text: &str, style: ScalarStyle, tag: Option<Cow<'_, Tag>>, line: usize) -> Result<Yaml, (usize, String)> {
    if let Some(tag) = tag {
        let wrong = |what: &str| (line, format!("\"{text}\" is tagged !!{what} but is not one"));
        if !tag.is_yaml_core_schema() {
            return Err((line, format!("the YAML tag {}{} is not supported", tag.handle, tag.suffix)));
        }
        return match (tag.suffix.as_str(), plain(text)) {
            ("str", _) => Ok(Yaml::Str(text.to_string())),
            ("int", Yaml::Int(i)) => Ok(Yaml::Int(i)),
            ("float", Yaml::Float(f)) => Ok(Yaml::Float(f)),
            ("float", Yaml::Int(i)) => Ok(Yaml::Float(i as f64)),
            ("bool", Yaml::Bool(b)) => Ok(Yaml::Bool(b)),
            ("null", Yaml::Null) => Ok(Yaml::Null),
            (what @ ("int" | "float" | "bool" | "null"), _) => Err(wrong(what)),
            (other, _) => Err((line, format!("the YAML tag !!{other} is not supported"))),
        };
    }
    Ok(match style {
        ScalarStyle::Plain => plain(text),
        _ => Yaml::Str(text.to_string()),
    })
}

/// A plain scalar: null, a boolean, an integer, a float, else a string.
fn plain(text: &str) -> Yaml {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Yaml::Null,
        "true" | "True" | "TRUE" => return Yaml::Bool(true),
        "false" | "False" | "FALSE" => return Yaml::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => return Yaml::Float(f64::INFINITY),
        "-.inf" | "-.Inf" | "-.INF" => return Yaml::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Yaml::Float(f64::NAN),
        _ => {}
    }
    let unsigned = text.strip_prefix(['-', '+']).unwrap_or(text);
    let digits = |s: &str, radix: u32| !s.is_empty() && s.chars().all(|c| c.is_digit(radix));
    if digits(unsigned, 10) {
        if let Ok(i) = text.parse::<i64>() {
            return Yaml::Int(i);
        }
    } else if let Some(octal) = text.strip_prefix("0o").filter(|s| digits(s, 8)) {
        if let Ok(i) = i64::from_str_radix(octal, 8) {
            return Yaml::Int(i);
        }
    } else if let Some(hex) = text.strip_prefix("0x").filter(|s| digits(s, 16))
        && let Ok(i) = i64::from_str_radix(hex, 16)
    {
        return Yaml::Int(i);
    }
    if is_float(unsigned)
        && let Ok(f) = text.parse::<f64>()
    {
        return Yaml::Float(f);
    }
    Yaml::Str(text.to_string())
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?`, the core schema's float without its sign.
fn is_float(s: &str) -> bool {
    let (mantissa, exponent) = match s.find(['e', 'E']) {
        Some(i) => (&s[..i], Some(&s[i + 1..])),
        None => (s, None),
    };
    let all_digits = |t: &str| t.chars().all(|c| c.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => all_digits(int) && all_digits(frac) && !(int.is_empty() && frac.is_empty()),
        None => !mantissa.is_empty() && all_digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| {
        let e = e.strip_prefix(['-', '+']).unwrap_or(e);
        !e.is_empty() && all_digits(e)
    });
    mantissa_ok && exponent_ok
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
program: train.py
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
        assert_eq!(notices.len(), 2, "{notices:?}");
        assert!(notices[0].starts_with("note: method \"bayes\" runs sweep's TPE (Tree-structured Parzen Estimator)"));
        assert_eq!(notices[1], "warning: sweep.yaml: program is a W&B key sweep does not use; ignored");
    }

    #[test]
    fn ignored_keys_are_listed_once_in_file_order() {
        let text = format!("entity: me\nproject: p\n{BAYES}command:\n  - ${{env}}\n  - ${{program}}\n")
            .replace("  name: valid_loss", "  name: valid_loss\n  target: 0.1");
        let (_, notices) = parse_yaml(&text).unwrap();
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
        let m = message(&BAYES.replace("program: train.py", "programme: train.py"));
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
    fn scalars_resolve_as_yaml_1_2() {
        for (text, want) in [
            ("1e-4", Yaml::Float(1e-4)),
            ("-3", Yaml::Int(-3)),
            ("0x1f", Yaml::Int(31)),
            ("0o17", Yaml::Int(15)),
            ("1.", Yaml::Float(1.0)),
            (".5", Yaml::Float(0.5)),
            ("+2.5E3", Yaml::Float(2500.0)),
            ("True", Yaml::Bool(true)),
            ("~", Yaml::Null),
            ("yes", Yaml::Str("yes".into())),
            ("1e", Yaml::Str("1e".into())),
            ("1_000", Yaml::Str("1_000".into())),
            ("adam", Yaml::Str("adam".into())),
        ] {
            assert_eq!(plain(text), want, "{text}");
        }
    }

    #[test]
    fn anchors_and_aliases_are_copies() {
        let root = load_yaml("a: &x {values: [1, 2]}\nb: *x\n").unwrap();
        let Yaml::Map(entries) = root.value else { panic!() };
        assert_eq!(entries[0].2.value, entries[1].2.value);
        assert_eq!((entries[0].1, entries[1].1), (1, 2));
    }

    #[test]
    fn strings_and_keys_stay_on_one_toml_line() {
        assert_eq!(toml_string("a\"b\\c\nd"), r#""a\"b\\c\nd""#);
        assert_eq!(toml_key("lr"), "lr");
        assert_eq!(toml_key("model.lr"), "\"model.lr\"");
    }
}
