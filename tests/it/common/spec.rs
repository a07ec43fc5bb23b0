//! Specs for tests whose point is not the spec's text: built by key, written as
//! TOML laid out as a person writes one (top-level keys, then `[data]`,
//! `[metric]`, `[train]`, `[parameters]` and any other table, in that order;
//! an inline table's keys sorted).
//! Tests of exact TOML text (spec errors with their lines, fuzzing, W&B
//! equivalence) keep their text.

use std::fs;
use std::path::{Path, PathBuf};

use toml::Value;

use super::data;

/// A sweep spec, key by key. [`SpecBuilder::new`] starts from a grid on the
/// bundled digits ranked by mcc, 3 epochs; each test adds what it is about.
#[derive(Clone, Debug)]
pub struct SpecBuilder {
    name: String,
    top: Vec<(String, Value)>,
    tables: Vec<(String, Vec<(String, Value)>)>,
}

impl SpecBuilder {
    /// The sweep `name`: `method = "grid"`, `[data] path` the bundled digits.csv,
    /// `[metric] name = "mcc"`, `[train] epochs = 3`, no parameters yet.
    pub fn new(name: &str) -> SpecBuilder {
        SpecBuilder {
            name: name.to_string(),
            top: vec![("name".into(), name.into())],
            tables: ["data", "metric", "train", "parameters"].iter().map(|t| (t.to_string(), Vec::new())).collect(),
        }
        .method("grid")
        .data_file("digits.csv")
        .metric("mcc")
        .epochs(3)
    }

    /// Sets a top-level key (replacing it where set): `repeats`, `register_as`, ...
    pub fn top(mut self, key: &str, value: impl Into<Value>) -> SpecBuilder {
        put(&mut self.top, key, value.into());
        self
    }

    /// Sets `key` of `[table]` (the table is added after the others where new).
    pub fn set(mut self, table: &str, key: &str, value: impl Into<Value>) -> SpecBuilder {
        let at = match self.tables.iter().position(|(t, _)| t == table) {
            Some(at) => at,
            None => {
                self.tables.push((table.to_string(), Vec::new()));
                self.tables.len() - 1
            }
        };
        put(&mut self.tables[at].1, key, value.into());
        self
    }

    /// Removes `key` of `[table]`.
    pub fn unset(mut self, table: &str, key: &str) -> SpecBuilder {
        if let Some((_, keys)) = self.tables.iter_mut().find(|(t, _)| t == table) {
            keys.retain(|(k, _)| k != key);
        }
        self
    }

    /// `method`: `"grid"`, `"random"`, `"tpe"`.
    pub fn method(self, method: &str) -> SpecBuilder {
        self.top("method", method)
    }

    /// `trials`: the budget of random search and TPE.
    pub fn trials(self, trials: i64) -> SpecBuilder {
        self.top("trials", trials)
    }

    /// `seed`.
    pub fn seed(self, seed: i64) -> SpecBuilder {
        self.top("seed", seed)
    }

    /// `objective`: a user's objective instead of the built-in MLP; on line 2, after the name,
    /// where the examples' specs have it (and the errors that name the key, its line).
    pub fn objective(mut self, objective: &str) -> SpecBuilder {
        self.top.retain(|(k, _)| k != "objective");
        self.top.insert(1, ("objective".to_string(), objective.into()));
        self
    }

    /// `workers`.
    pub fn workers(self, workers: i64) -> SpecBuilder {
        self.top("workers", workers)
    }

    /// `early_terminate = { type = "asha", min_epochs, eta }`.
    pub fn asha(self, min_epochs: i64, eta: i64) -> SpecBuilder {
        let rule = table([("type", "asha".into()), ("min_epochs", min_epochs.into()), ("eta", eta.into())]);
        self.top("early_terminate", rule)
    }

    /// `[data] path`: the bundled data file `file` (e.g. `"diabetes.csv"`), by its absolute path.
    pub fn data_file(self, file: &str) -> SpecBuilder {
        self.data("path", data(file))
    }

    /// `[data] path` as given: a file of the test's own, relative to the spec's folder.
    pub fn data_path(self, path: &str) -> SpecBuilder {
        self.data("path", path)
    }

    /// `[data] target`.
    pub fn target(self, column: &str) -> SpecBuilder {
        self.data("target", column)
    }

    /// `[data] task`: `"classification"` or `"regression"`.
    pub fn task(self, task: &str) -> SpecBuilder {
        self.data("task", task)
    }

    /// Any other `[data]` key: `valid_fraction`, `test_fraction`, `cv_folds`, `refit`, ...
    pub fn data(self, key: &str, value: impl Into<Value>) -> SpecBuilder {
        self.set("data", key, value)
    }

    /// `[metric] name`.
    pub fn metric(self, name: &str) -> SpecBuilder {
        self.set("metric", "name", name)
    }

    /// `[train] epochs`.
    pub fn epochs(self, epochs: i64) -> SpecBuilder {
        self.train("epochs", epochs)
    }

    /// Any other `[train]` key: `batch_size`, `dropout`, `optimizer`, ...
    pub fn train(self, key: &str, value: impl Into<Value>) -> SpecBuilder {
        self.set("train", key, value)
    }

    /// A parameter swept over `values`: `name = { values = [...] }`.
    pub fn values<V: Into<Value>>(self, name: &str, values: impl IntoIterator<Item = V>) -> SpecBuilder {
        let values: Vec<Value> = values.into_iter().map(Into::into).collect();
        self.param(name, table([("values", values.into())]))
    }

    /// A parameter drawn from `distribution` between `min` and `max` (`"log_uniform_values"`,
    /// `"int_uniform"`, `"uniform"`, ...).
    pub fn distribution(
        self,
        name: &str,
        distribution: &str,
        min: impl Into<Value>,
        max: impl Into<Value>,
    ) -> SpecBuilder {
        let domain = table([("distribution", distribution.into()), ("min", min.into()), ("max", max.into())]);
        self.param(name, domain)
    }

    /// A parameter with any other domain (an inline table).
    pub fn param(self, name: &str, domain: Value) -> SpecBuilder {
        self.set("parameters", name, domain)
    }

    /// The spec as TOML text.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let line = |out: &mut String, (key, value): &(String, Value)| out.push_str(&format!("{key} = {value}\n"));
        for kv in &self.top {
            line(&mut out, kv);
        }
        for (table, keys) in self.tables.iter().filter(|(_, keys)| !keys.is_empty()) {
            out.push_str(&format!("\n[{table}]\n"));
            for kv in keys {
                line(&mut out, kv);
            }
        }
        out
    }

    /// Writes the spec to `dir/<name>.toml`; returns that path.
    pub fn write(&self, dir: &Path) -> PathBuf {
        self.write_as(dir, &format!("{}.toml", self.name))
    }

    /// Writes the spec to `dir/file`; returns that path.
    pub fn write_as(&self, dir: &Path, file: &str) -> PathBuf {
        let path = dir.join(file);
        fs::write(&path, self.text()).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        path
    }
}

/// Sets `key` in place, or appends it: keys keep the order they were first set in.
fn put(keys: &mut Vec<(String, Value)>, key: &str, value: Value) {
    match keys.iter_mut().find(|(k, _)| k == key) {
        Some((_, v)) => *v = value,
        None => keys.push((key.to_string(), value)),
    }
}

/// An inline table of `entries`.
fn table<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Table(entries.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

#[test]
fn a_built_spec_is_the_toml_a_person_would_write() {
    let spec = SpecBuilder::new("small")
        .seed(3)
        .asha(1, 2)
        .target("target")
        .data("valid_fraction", 0.2)
        .epochs(4)
        .train("dropout", 0.1)
        .values("lr", [0.001, 0.01])
        .values("hidden", [16, 32])
        .distribution("wd", "log_uniform_values", 0.0003, 0.03)
        .set("tpe", "startup_trials", 2);
    let expected = format!(
        "name = \"small\"\nmethod = \"grid\"\nseed = 3\n\
         early_terminate = {{ eta = 2, min_epochs = 1, type = \"asha\" }}\n\n\
         [data]\npath = {:?}\ntarget = \"target\"\nvalid_fraction = 0.2\n\n\
         [metric]\nname = \"mcc\"\n\n\
         [train]\nepochs = 4\ndropout = 0.1\n\n\
         [parameters]\nlr = {{ values = [0.001, 0.01] }}\nhidden = {{ values = [16, 32] }}\n\
         wd = {{ distribution = \"log_uniform_values\", max = 0.03, min = 0.0003 }}\n\n\
         [tpe]\nstartup_trials = 2\n",
        data("digits.csv")
    );
    assert_eq!(spec.text(), expected);
    let parsed: toml::Table = spec.text().parse().unwrap();
    assert_eq!(parsed["parameters"]["hidden"]["values"][1].as_integer(), Some(32));
    assert!(!SpecBuilder::new("x").unset("train", "epochs").text().contains("[train]"));
}
