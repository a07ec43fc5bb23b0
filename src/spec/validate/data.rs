//! `[data]`: the rows, their splits and the test set.

use std::collections::BTreeMap;

use toml::Spanned;

use super::{Ctx, Expect, as_number, toml_to_param};
use crate::data::{Categorical, MissingPolicy, MissingSpec, Unseen};
use crate::metrics::Task;
use crate::objective::Objective;
use crate::params::{Params, Schema};
use crate::spec::raw::RawSpec;
use crate::spec::{DataSpec, Selection, SpecError};

/// Keys of `[data]` every source has.
const COMMON_DATA_KEYS: &[&str] = &["task", "valid_fraction", "test_fraction", "test_top", "cv_folds", "refit"];
/// Keys of `[data]` the bundled CSV loader reads.
const CSV_DATA_KEYS: &[&str] =
    &["path", "target", "features", "drop", "test_path", "categorical", "missing", "na_values", "unseen"];

pub(super) fn validate_data(
    ctx: &Ctx,
    raw: &RawSpec,
    objective: &dyn Objective,
) -> Result<(DataSpec, Selection), SpecError> {
    let empty = BTreeMap::new();
    let table = DataTable { ctx, table: raw.data.as_ref().map_or(&empty, |d| d.get_ref()) };
    let task = table.task(raw, objective)?;
    if objective.owns_data() {
        return table.program_data(objective, task);
    }
    let (mut data, selection) = table.rows_and_splits(raw, task)?;
    match objective.data_source() {
        None => table.csv_source(raw, &mut data)?,
        Some(source) => data.options = table.own_source(objective, &source.options())?,
    }
    check_test_top(ctx, &data, table.table.get("test_top"))?;
    Ok((data, selection))
}

/// The `[data]` table being read, and where its mistakes are reported.
struct DataTable<'a, 'c> {
    ctx: &'a Ctx<'c>,
    table: &'a BTreeMap<String, Spanned<toml::Value>>,
}

impl DataTable<'_, '_> {
    /// `key`'s value, which must be a string if given.
    fn text(&self, key: &str) -> Result<Option<&Spanned<toml::Value>>, SpecError> {
        match self.table.get(key) {
            Some(v) if !v.get_ref().is_str() => {
                Err(self.ctx.at(v, &format!("data.{key}"), format!("got {}, expected a string", v.get_ref())))
            }
            other => Ok(other),
        }
    }

    /// A non-empty string `key`, with `what` the message's expectation when it is blank.
    fn non_empty(&self, key: &str, what: &str) -> Result<Option<String>, SpecError> {
        match self.text(key)? {
            Some(v) if as_str(v).trim().is_empty() => Err(self.ctx.at(v, &format!("data.{key}"), what)),
            Some(v) => Ok(Some(as_str(v))),
            None => Ok(None),
        }
    }

    // A `[data]` value is any TOML value: one that is no number gets the range's message too.
    fn fraction(&self, key: &str) -> Result<Option<f64>, SpecError> {
        let Some(v) = self.table.get(key) else { return Ok(None) };
        let path = format!("data.{key}");
        self.ctx.check(v.span(), &path, v.get_ref(), as_number(v.get_ref()), &Expect::fraction()).map(Some)
    }

    fn whole(&self, key: &str, expect: Expect<i64>) -> Result<Option<usize>, SpecError> {
        let Some(v) = self.table.get(key) else { return Ok(None) };
        let k = self.ctx.check(v.span(), &format!("data.{key}"), v.get_ref(), v.get_ref().as_integer(), &expect)?;
        Ok(Some(k as usize))
    }

    fn columns(&self, key: &str) -> Result<Option<Vec<String>>, SpecError> {
        let Some(v) = self.table.get(key) else { return Ok(None) };
        let names: Option<Vec<String>> =
            v.get_ref().as_array().and_then(|a| a.iter().map(|c| c.as_str().map(String::from)).collect());
        match names {
            Some(n) if !n.is_empty() => Ok(Some(n)),
            _ => Err(self.ctx.at(
                v,
                &format!("data.{key}"),
                format!("got {}, expected a non-empty list of column names like [\"a\", \"b\"]", v.get_ref()),
            )),
        }
    }

    /// `task`, which the objective must train.
    fn task(&self, raw: &RawSpec, objective: &dyn Objective) -> Result<Task, SpecError> {
        let task = match self.text("task")? {
            None => Task::Classification,
            Some(v) => match v.get_ref().as_str() {
                Some("classification") => Task::Classification,
                Some("regression") => Task::Regression,
                _ => {
                    return Err(self.ctx.at(
                        v,
                        "data.task",
                        format!("got {}, expected \"classification\" or \"regression\"", v.get_ref()),
                    ));
                }
            },
        };
        if !objective.tasks().contains(&task) {
            let supported: Vec<&str> = objective.tasks().iter().map(|t| t.as_str()).collect();
            let span = self.table.get("task").map(|v| v.span()).or_else(|| raw.data.as_ref().map(|d| d.span()));
            return Err(self.ctx.err(
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
        Ok(task)
    }

    /// A program that reads its own data: `[data]` says only the task.
    fn program_data(&self, objective: &dyn Objective, task: Task) -> Result<(DataSpec, Selection), SpecError> {
        if let Some((key, v)) = self.table.iter().find(|(k, _)| k.as_str() != "task") {
            return Err(self.ctx.at(
                v,
                &format!("data.{key}"),
                format!(
                    "objective \"{}\" runs a program that reads its own data; [data] takes only task",
                    objective.name()
                ),
            ));
        }
        let data = DataSpec {
            path: None,
            target: None,
            valid_fraction: 0.0,
            task,
            features: None,
            drop: Vec::new(),
            options: Params::new(),
            test_fraction: None,
            test_path: None,
            cv_folds: None,
            categorical: Categorical::None,
            missing: MissingSpec::default(),
            na_values: None,
            unseen: Unseen::Ignore,
        };
        Ok((data, Selection::default()))
    }

    /// The keys every source has: the validation, test and cross-validation splits, and the refit.
    fn rows_and_splits(&self, raw: &RawSpec, task: Task) -> Result<(DataSpec, Selection), SpecError> {
        let valid_fraction = self.fraction("valid_fraction")?.unwrap_or(0.2);
        let test_fraction = self.fraction("test_fraction")?;
        let cv_folds = self.whole("cv_folds", Expect::whole(2..=100))?;
        if let (Some(_), Some(v)) = (cv_folds, self.table.get("valid_fraction")) {
            return Err(self.ctx.at(
                v,
                "data.valid_fraction",
                "cannot be combined with data.cv_folds: each fold is the validation split once; remove one",
            ));
        }
        if let (Some(_), Some(r)) = (cv_folds, raw.repeats.as_ref().filter(|r| *r.get_ref() > 1)) {
            return Err(self.ctx.at(
                r,
                "repeats",
                "cannot be combined with data.cv_folds: every fold already trains its configuration with a seed of its own",
            ));
        }
        let refit = match self.table.get("refit") {
            None => false,
            Some(v) => match v.get_ref().as_bool() {
                Some(true) if cv_folds.is_none() => {
                    return Err(self.ctx.at(
                        v,
                        "data.refit",
                        "needs data.cv_folds: the refit retrains the winning configuration on every non-test row \
                         for the median best epoch of its folds",
                    ));
                }
                Some(b) => b,
                None => {
                    return Err(self.ctx.at(v, "data.refit", format!("got {}, expected true or false", v.get_ref())));
                }
            },
        };
        let test_top = self.whole("test_top", Expect::whole(1..=100_000))?.unwrap_or(Selection::default().test_top);
        let data = DataSpec {
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
            categorical: Categorical::None,
            missing: MissingSpec::default(),
            na_values: None,
            unseen: Unseen::Ignore,
        };
        Ok((data, Selection { test_top, refit, ..Selection::default() }))
    }

    /// The bundled CSV loader's keys: the file, its target and feature columns, a test file.
    fn csv_source(&self, raw: &RawSpec, data: &mut DataSpec) -> Result<(), SpecError> {
        for (key, v) in self.table {
            if !COMMON_DATA_KEYS.contains(&key.as_str()) && !CSV_DATA_KEYS.contains(&key.as_str()) {
                return Err(self.ctx.at(
                    v,
                    &format!("data.{key}"),
                    format!("unknown key, expected one of {}", [COMMON_DATA_KEYS, CSV_DATA_KEYS].concat().join(", ")),
                ));
            }
        }
        let Some(path) = self.non_empty("path", "is empty, expected the path of a CSV file")? else {
            let span = raw.data.as_ref().map(|d| d.span());
            return Err(self.ctx.err(
                span.or(Some(0..0)),
                "data.path",
                "is missing: [data] needs path = \"<a CSV file>\"",
            ));
        };
        let target = match self.text("target")? {
            Some(t) if as_str(t).is_empty() => {
                return Err(self.ctx.at(t, "data.target", "is empty, expected a column name"));
            }
            Some(t) => as_str(t),
            None => "target".to_string(),
        };
        let features = self.columns("features")?;
        let drop = self.columns("drop")?.unwrap_or_default();
        if let (Some(_), Some(v)) = (&features, self.table.get("drop")) {
            return Err(self.ctx.at(v, "data.drop", "cannot be combined with data.features; give one"));
        }
        let test_path = self.non_empty("test_path", "is empty, expected the path of a CSV file")?;
        if let (Some(_), Some(p), Some(_)) = (&test_path, self.table.get("test_path"), data.test_fraction) {
            return Err(self.ctx.at(p, "data.test_path", "cannot be combined with data.test_fraction; give one"));
        }
        data.path = Some(path.into());
        data.target = Some(target);
        data.features = features;
        data.drop = drop;
        data.test_path = test_path.map(Into::into);
        data.categorical = self.categorical()?;
        data.missing = self.missing()?;
        data.na_values = self.na_values()?;
        data.unseen = self.unseen()?;
        Ok(())
    }

    /// `categorical`: "auto", or a list of columns.
    fn categorical(&self) -> Result<Categorical, SpecError> {
        let Some(v) = self.table.get("categorical") else { return Ok(Categorical::None) };
        if v.get_ref().as_str() == Some("auto") {
            return Ok(Categorical::Auto);
        }
        let names: Option<Vec<String>> =
            v.get_ref().as_array().and_then(|a| a.iter().map(|c| c.as_str().map(String::from)).collect());
        match names {
            Some(n) if !n.is_empty() => Ok(Categorical::Columns(n)),
            _ => Err(self.ctx.at(
                v,
                "data.categorical",
                format!(
                    "got {}, expected \"auto\" (every text column) or a non-empty list of column names like \
                     [\"Origin\"]",
                    v.get_ref()
                ),
            )),
        }
    }

    /// `missing`: one policy, or a table of column = policy.
    fn missing(&self) -> Result<MissingSpec, SpecError> {
        let Some(v) = self.table.get("missing") else { return Ok(MissingSpec::default()) };
        let policies = MissingPolicy::NAMES.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ");
        let policy = |value: &toml::Value, path: &str| {
            value
                .as_str()
                .and_then(MissingPolicy::parse)
                .ok_or_else(|| self.ctx.at(v, path, format!("got {value}, expected one of {policies}")))
        };
        match v.get_ref() {
            toml::Value::Table(columns) if !columns.is_empty() => {
                let mut spec = MissingSpec::default();
                for (column, value) in columns {
                    spec.columns.insert(column.clone(), policy(value, &format!("data.missing.{column}"))?);
                }
                Ok(spec)
            }
            toml::Value::String(_) => {
                Ok(MissingSpec { default: policy(v.get_ref(), "data.missing")?, ..Default::default() })
            }
            other => Err(self.ctx.at(
                v,
                "data.missing",
                format!(
                    "got {other}, expected one of {policies}, or a table of column = policy like \
                     {{ Horsepower = \"median\" }}"
                ),
            )),
        }
    }

    /// `na_values`: the cells that mean "missing".
    fn na_values(&self) -> Result<Option<Vec<String>>, SpecError> {
        let Some(v) = self.table.get("na_values") else { return Ok(None) };
        let values: Option<Vec<String>> =
            v.get_ref().as_array().and_then(|a| a.iter().map(|c| c.as_str().map(String::from)).collect());
        values.map(Some).ok_or_else(|| {
            self.ctx.at(
                v,
                "data.na_values",
                format!("got {}, expected a list of strings like [\"\", \"NA\", \"?\"]", v.get_ref()),
            )
        })
    }

    /// `unseen`: "ignore" or "error".
    fn unseen(&self) -> Result<Unseen, SpecError> {
        match self.text("unseen")? {
            None => Ok(Unseen::Ignore),
            Some(v) => match v.get_ref().as_str() {
                Some("ignore") => Ok(Unseen::Ignore),
                Some("error") => Ok(Unseen::Error),
                _ => {
                    Err(self.ctx.at(v, "data.unseen", format!("got {}, expected \"ignore\" or \"error\"", v.get_ref())))
                }
            },
        }
    }

    /// An objective's own data source: its options, checked like parameters.
    fn own_source(&self, objective: &dyn Objective, options: &Schema) -> Result<Params, SpecError> {
        let mut given = Params::new();
        for (key, v) in self.table {
            if COMMON_DATA_KEYS.contains(&key.as_str()) {
                continue;
            }
            let path = format!("data.{key}");
            let Some(def) = options.get(key) else {
                let known: Vec<&str> =
                    COMMON_DATA_KEYS.iter().copied().chain(options.iter().map(|d| d.name.as_str())).collect();
                return Err(self.ctx.at(
                    v,
                    &path,
                    format!(
                        "unknown key for objective \"{}\"'s data, expected one of {}",
                        objective.name(),
                        known.join(", ")
                    ),
                ));
            };
            let value = toml_to_param(v.get_ref()).map_err(|m| self.ctx.at(v, &path, m))?;
            given.insert(key.clone(), def.kind.coerce(&value).map_err(|m| self.ctx.at(v, &path, m))?);
        }
        Ok(options.resolve(&given, &Params::new()).values().clone())
    }
}

fn as_str(v: &Spanned<toml::Value>) -> String {
    v.get_ref().as_str().unwrap_or_default().to_string()
}

fn check_test_top(ctx: &Ctx, data: &DataSpec, test_top: Option<&Spanned<toml::Value>>) -> Result<(), SpecError> {
    match test_top {
        Some(v) if !data.has_test() => {
            Err(ctx.at(v, "data.test_top", "needs a test split: set data.test_fraction (or data.test_path) too"))
        }
        _ => Ok(()),
    }
}
