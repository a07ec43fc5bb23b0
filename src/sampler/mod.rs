//! Samplers propose the configurations (parameter sets) of a sweep: either
//! all known up front (grid, random), so any single trial can be built on
//! its own, or proposed from the history of the committed trials (TPE). They
//! are pure: the same spec and the same history always give the same params.
//!
//! A sampler is one file: a type implementing [`Sampler`], a [`MethodConfig`]
//! for what the spec configured (`method = "..."`, `trials`, its own table),
//! and one line in `METHODS`. The runner asks the plan, which asks the
//! sampler; it never knows which method it runs.

mod grid;
pub(crate) mod nsga2;
mod random;
pub(crate) mod tpe;

#[cfg(test)]
pub(crate) use {grid::method as grid_method, random::method as random_method, tpe::method as tpe_method};

use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::metrics::{Metrics, Monitor};
use crate::params::Params;
use crate::space::Domain;

/// Proposes the configurations of a sweep.
pub(crate) trait Sampler: Send + Sync {
    /// How many configurations it proposes: the sweep's budget.
    fn len(&self) -> usize;

    /// Whether configurations come from the results of earlier ones. When
    /// not, every configuration is known up front: `propose` ignores its
    /// history, so any single trial can be built on its own (a SLURM array
    /// task, a resumed run).
    fn needs_history(&self) -> bool;

    /// The params of configuration `config` (`config < len()`), proposed from
    /// `history`: the trials committed before its batch.
    fn propose(&self, config: usize, history: &History) -> Params;

    /// How many configurations, from the first on, are proposed the same
    /// whatever the results (all of them for a sampler that needs no history;
    /// TPE's random start-up trials).
    fn known_up_front(&self) -> usize {
        if self.needs_history() { 0 } else { self.len() }
    }

    /// How many configurations from `first` on a synchronous sweep proposes
    /// from one history (one batch) when `workers` trials train at once; at
    /// least 1. A population-based sampler answers the rest of its generation.
    fn batch_len(&self, first: usize, workers: usize) -> usize {
        let _ = first;
        workers.max(1)
    }

    /// How many leading configurations must all be committed before
    /// configuration `config` can be proposed, for workers that each ask when
    /// they are free (`run --async`, `sweep trial --next`). 0 (the default):
    /// propose from whatever is committed by then.
    fn waits_for(&self, config: usize) -> usize {
        let _ = config;
        0
    }
}

/// A committed trial, as a sampler learns from it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Observed {
    /// Which configuration it trained.
    pub config: usize,
    /// Which repeat (or cross-validation fold) of its configuration.
    pub repeat: usize,
    /// Its params.
    pub params: Params,
    /// Whether it left a model (completed, or pruned with its best checkpoint);
    /// a failed or diverged trial has none, and no metrics to learn from.
    pub has_model: bool,
    /// Every metric of its best epoch (not only the monitored one).
    pub best_metrics: Metrics,
    /// What its model costs (`params`, `latency_p50_ms`, ...), for samplers that trade them off.
    pub costs: Metrics,
}

/// What a sampler proposes from: the committed trials, in plan order, and
/// the metric the sweep monitors.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct History {
    /// The committed trials.
    pub trials: Vec<Observed>,
    /// The sweep's monitored metric and its goal (what a single-objective sampler optimises).
    pub monitor: Monitor,
}

impl History {
    /// No trial committed yet.
    pub(crate) fn empty(monitor: &Monitor) -> Self {
        History { trials: Vec::new(), monitor: monitor.clone() }
    }
}

/// What the spec configured for its sampler: a registered method, its
/// `trials` and its own settings. Built by the method's registration
/// (`Registration`) from the spec, or from a results folder's manifest.
pub(crate) trait MethodConfig: fmt::Debug + Send + Sync {
    /// The registered name (`method = "tpe"`).
    fn name(&self) -> &'static str;

    /// The spec's `trials`, for methods that take it.
    fn trials(&self) -> Option<usize>;

    /// The method's own settings as the spec hash writes them (`"settings"`),
    /// in this order; none for a method without settings.
    fn settings(&self) -> Vec<(&'static str, serde_json::Value)> {
        Vec::new()
    }

    /// The sampler of this configuration over `parameters`.
    fn sampler(&self, parameters: &BTreeMap<String, Domain>, seed: u64) -> Box<dyn Sampler>;

    /// How people call the method in messages (`TPE`).
    fn label(&self) -> &'static str {
        self.name()
    }

    /// One line for `sweep plan`'s header (`tpe, 10 start-up trials`).
    fn summary(&self) -> String {
        self.name().to_string()
    }

    /// One line for the report (`TPE, 40 trials (10 random start-up, gamma 0.25)`).
    fn description(&self) -> String {
        self.summary()
    }

    /// Whether it tries every configuration of the space (a grid): then the
    /// order of its trials says nothing about search progress.
    fn is_exhaustive(&self) -> bool {
        false
    }
}

/// How trials are planned: a registered sampler as the spec configured it.
#[derive(Clone)]
pub(crate) struct Method(Arc<dyn MethodConfig>);

impl Method {
    /// A configured method.
    pub(crate) fn new(config: impl MethodConfig + 'static) -> Self {
        Method(Arc::new(config))
    }

    /// Its sampler over `parameters`.
    pub(crate) fn sampler(&self, parameters: &BTreeMap<String, Domain>, seed: u64) -> Box<dyn Sampler> {
        self.0.sampler(parameters, seed)
    }
}

impl std::ops::Deref for Method {
    type Target = dyn MethodConfig;

    fn deref(&self) -> &Self::Target {
        &*self.0
    }
}

impl fmt::Debug for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl PartialEq for Method {
    fn eq(&self, other: &Self) -> bool {
        (self.name(), self.trials(), self.settings()) == (other.name(), other.trials(), other.settings())
    }
}

/// Written as `{"method": name, "trials": N, "settings": {...}}` (`trials` and
/// `settings` only where the method has them), field by field in that order:
/// the spec hash is taken of this text, so it stays what it was when the
/// methods were an enum.
impl Serialize for Method {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        struct Ordered<'a>(&'a [(&'static str, serde_json::Value)]);
        impl Serialize for Ordered<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut map = s.serialize_map(Some(self.0.len()))?;
                for (k, v) in self.0 {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
        let settings = self.settings();
        let mut map = s.serialize_map(None)?;
        map.serialize_entry("method", self.name())?;
        if let Some(trials) = self.trials() {
            map.serialize_entry("trials", &trials)?;
        }
        if !settings.is_empty() {
            map.serialize_entry("settings", &Ordered(&settings))?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for Method {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let stored = StoredMethod::deserialize(d)?;
        let registration = registration(&stored.method)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown method \"{}\"", stored.method)))?;
        (registration.stored)(&stored).map_err(serde::de::Error::custom)
    }
}

/// A method as a results folder's manifest holds it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct StoredMethod {
    /// Its name.
    pub method: String,
    /// Its `trials`.
    #[serde(default)]
    pub trials: Option<usize>,
    /// Its settings.
    #[serde(default)]
    pub settings: Option<serde_json::Value>,
}

impl StoredMethod {
    /// `trials`, which this method needs.
    pub(crate) fn needs_trials(&self) -> Result<usize, String> {
        self.trials.ok_or_else(|| format!("method \"{}\" without trials", self.method))
    }
}

/// The spec's keys a method reads, with where they are for its messages.
pub(crate) struct MethodKeys<'a> {
    /// `method = "..."`.
    pub method: &'a Spanned<String>,
    /// `trials = N`.
    pub trials: Option<&'a Spanned<i64>>,
    /// The `[tpe]` table.
    pub tpe: Option<&'a Spanned<tpe::RawTpe>>,
    /// The `[nsga2]` table.
    pub nsga2: Option<&'a Spanned<nsga2::RawNsga2>>,
    /// `[metric] trade_off`, validated: a multi-objective method's other objectives.
    pub trade_off: &'a [crate::pick::TradeOff],
    /// The swept parameters, validated.
    pub parameters: &'a BTreeMap<String, Domain>,
    /// Where parameter `key` is in the spec.
    pub parameter_span: &'a dyn Fn(&str) -> Option<Range<usize>>,
}

/// A mistake in a method's keys: where, which key, what is wrong.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct KeyError {
    /// The byte range it points at.
    pub span: Option<Range<usize>>,
    /// The key (`tpe.gamma`).
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl KeyError {
    pub(crate) fn at<T>(spanned: &Spanned<T>, key: &str, message: impl Into<String>) -> Self {
        KeyError { span: Some(spanned.span()), key: key.to_string(), message: message.into() }
    }
}

/// One method: its name, and how it is built from a spec or a manifest.
pub(crate) struct Registration {
    /// `method = "<name>"`.
    pub name: &'static str,
    /// From the spec's keys.
    pub parse: fn(&MethodKeys) -> Result<Method, KeyError>,
    /// From a manifest's copy of the spec.
    pub stored: fn(&StoredMethod) -> Result<Method, String>,
}

/// Every method, in the order messages list them.
pub(crate) const METHODS: &[Registration] =
    &[grid::REGISTRATION, random::REGISTRATION, tpe::REGISTRATION, nsga2::REGISTRATION];

fn registration(name: &str) -> Option<&'static Registration> {
    METHODS.iter().find(|r| r.name == name)
}

/// The method the spec's keys configure.
pub(crate) fn parse_method(keys: &MethodKeys) -> Result<Method, KeyError> {
    match registration(keys.method.get_ref()) {
        Some(r) => (r.parse)(keys),
        None => {
            let names: Vec<String> = METHODS.iter().map(|r| format!("\"{}\"", r.name)).collect();
            let expected = match names.split_last() {
                Some((last, [])) => last.clone(),
                Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
                None => String::new(),
            };
            Err(KeyError::at(keys.method, "method", format!("got \"{}\", expected {expected}", keys.method.get_ref())))
        }
    }
}

/// Refuses a method's table in a spec whose method is another (`[tpe]` with a grid).
pub(crate) fn check_tables(method: &Method, keys: &MethodKeys) -> Result<(), KeyError> {
    match (keys.tpe, keys.nsga2) {
        (Some(t), _) if method.name() != tpe::NAME => {
            Err(KeyError::at(t, tpe::NAME, format!("is only used with method = \"{}\"", tpe::NAME)))
        }
        (_, Some(t)) if method.name() != nsga2::NAME => {
            Err(KeyError::at(t, nsga2::NAME, format!("is only used with method = \"{}\"", nsga2::NAME)))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The methods as they were before the registry, serialised as serde did.
    #[derive(Serialize)]
    #[serde(tag = "method", rename_all = "snake_case")]
    enum Before {
        Grid,
        Random { trials: usize },
        Tpe { trials: usize, settings: tpe::TpeSettings },
    }

    #[test]
    fn methods_serialise_as_the_enum_did_so_spec_hashes_stay() {
        let settings = tpe::TpeSettings { startup_trials: 4, candidates: 24, gamma: 0.3 };
        let cases = [
            (grid::method(), Before::Grid),
            (random::method(7), Before::Random { trials: 7 }),
            (tpe::method(12, settings), Before::Tpe { trials: 12, settings }),
        ];
        for (method, before) in cases {
            let text = serde_json::to_string(&method).unwrap();
            assert_eq!(text, serde_json::to_string(&before).unwrap());
            let back: Method = serde_json::from_str(&text).unwrap();
            assert_eq!(back, method, "{text}");
            assert_eq!(serde_json::to_string(&back).unwrap(), text);
        }
        assert!(serde_json::from_str::<Method>(r#"{"method":"cmaes"}"#).is_err());
        assert_ne!(random::method(7), random::method(8));
        assert_ne!(tpe::method(7, settings), tpe::method(7, tpe::TpeSettings::default()));
    }

    #[test]
    fn an_unknown_method_lists_the_registered_ones() {
        let method = Spanned::new(0..1, "cmaes".to_string());
        let keys = MethodKeys {
            method: &method,
            trials: None,
            tpe: None,
            nsga2: None,
            trade_off: &[],
            parameters: &BTreeMap::new(),
            parameter_span: &|_| None,
        };
        let e = parse_method(&keys).unwrap_err();
        assert_eq!(
            (e.key.as_str(), e.message.as_str()),
            ("method", "got \"cmaes\", expected \"grid\", \"random\", \"tpe\" or \"nsga2\"")
        );
    }
}
