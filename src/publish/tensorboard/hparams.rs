//! The HParams plugin's summaries: one experiment for the sweep (which
//! parameters, with their domains, and which metrics), and per trial the
//! values it ran with and how it ended. TensorBoard's HParams tab joins them
//! with each trial's `best/<metric>` scalars.

use std::collections::{BTreeMap, BTreeSet};

use prost::Message;

use super::proto::{
    DataType, DatasetType, Domain as ProtoDomain, Experiment, HParamInfo, HParamsData, HParamsPluginData, Interval,
    Kind, ListValue, MetricInfo, MetricName, PluginData, SessionEndInfo, SessionStartInfo, Status, Summary,
    SummaryMetadata, SummaryValue, TensorDim, TensorProto, TensorShape, Value, ValueKind,
};
use crate::metrics::{Goal, Monitor};
use crate::params::{ParamValue, Params};
use crate::space::Domain;
use crate::store::{TrialRecord, TrialStatus};

/// The plugin's name in `SummaryMetadata.plugin_data`.
pub(super) const PLUGIN: &str = "hparams";
/// Tag of the experiment summary (in the sweep's run).
pub(super) const EXPERIMENT_TAG: &str = "_hparams_/experiment";
/// Tag of a trial's parameter values.
pub(super) const SESSION_START_TAG: &str = "_hparams_/session_start_info";
/// Tag of how a trial ended.
pub(super) const SESSION_END_TAG: &str = "_hparams_/session_end_info";
/// Prefix of the best-epoch scalars the experiment's metrics name.
pub(super) const BEST_PREFIX: &str = "best/";

/// `DT_FLOAT`, and `DATA_CLASS_TENSOR`: what the plugin's own writer puts in.
const DT_FLOAT: i32 = 1;
const DATA_CLASS_TENSOR: i32 = 2;

/// The experiment of a sweep: every swept parameter (domain from the spec
/// where it has one, else the values the trials ran with) and every metric a
/// trial has a best-epoch value of, the monitored one first.
pub(super) fn experiment(
    name: &str,
    created: f64,
    monitor: Option<&Monitor>,
    domains: &BTreeMap<String, Domain>,
    records: &[TrialRecord],
) -> Summary {
    let mut names: BTreeSet<&str> = domains.keys().map(String::as_str).collect();
    names.extend(records.iter().flat_map(|r| r.params.keys().map(String::as_str)));
    let hparam_infos = names
        .into_iter()
        .map(|param| {
            let seen: Vec<&ParamValue> = records.iter().filter_map(|r| r.params.get(param)).collect();
            hparam_info(param, domains.get(param), &seen)
        })
        .collect();

    let mut metrics: BTreeSet<&str> = records.iter().flat_map(|r| r.best_metrics.keys().map(String::as_str)).collect();
    let first = monitor.and_then(|m| metrics.take(m.metric.as_str()));
    let metric_infos = first
        .into_iter()
        .chain(metrics)
        .map(|metric| MetricInfo {
            name: Some(MetricName { group: String::new(), tag: format!("{BEST_PREFIX}{metric}") }),
            description: match monitor {
                Some(m) => format!("{metric} at the trial's best epoch (its best {})", m.metric),
                None => format!("{metric} at the trial's best epoch"),
            },
            dataset_type: dataset_of(metric) as i32,
        })
        .collect();

    let description = match monitor {
        Some(m) => format!("sweep {name}: {} trials, ranked by {} ({})", records.len(), m.metric, goal_word(m)),
        None => format!("sweep {name}: {} trials", records.len()),
    };
    summary(
        EXPERIMENT_TAG,
        HParamsData::Experiment(Experiment {
            description,
            time_created_secs: created,
            hparam_infos,
            metric_infos,
            name: name.to_string(),
        }),
    )
}

/// A trial's parameter values; its id is the session group, so each trial is one row.
pub(super) fn session_start(record: &TrialRecord, start: f64) -> Summary {
    summary(
        SESSION_START_TAG,
        HParamsData::SessionStartInfo(SessionStartInfo {
            hparams: hparam_values(&record.params),
            group_name: record.id.clone(),
            start_time_secs: start,
        }),
    )
}

/// How a trial ended: a pruned trial still has its best model, so it succeeded.
pub(super) fn session_end(status: TrialStatus, end: f64) -> Summary {
    let status = match status {
        TrialStatus::Completed | TrialStatus::Pruned => Status::Success,
        TrialStatus::Diverged | TrialStatus::Failed => Status::Failure,
    };
    summary(SESSION_END_TAG, HParamsData::SessionEndInfo(SessionEndInfo { status: status as i32, end_time_secs: end }))
}

fn goal_word(m: &Monitor) -> &'static str {
    match m.goal {
        Goal::Maximize => "maximized",
        Goal::Minimize => "minimized",
    }
}

fn hparam_values(params: &Params) -> BTreeMap<String, Value> {
    params.iter().map(|(k, v)| (k.clone(), value(v))).collect()
}

fn value(v: &ParamValue) -> Value {
    let kind = match v {
        ParamValue::Int(i) => Kind::Number(*i as f64),
        ParamValue::Float(x) => Kind::Number(*x),
        ParamValue::Bool(b) => Kind::Bool(*b),
        ParamValue::Str(s) => Kind::String(s.clone()),
    };
    Value { kind: Some(kind) }
}

fn data_type(v: &ParamValue) -> DataType {
    match v {
        ParamValue::Int(_) | ParamValue::Float(_) => DataType::Float64,
        ParamValue::Bool(_) => DataType::Bool,
        ParamValue::Str(_) => DataType::String,
    }
}

/// One type for all `values`, or `Unset` when they mix (the HParams tab
/// then shows the column without a domain filter).
fn common_type<'a>(values: impl IntoIterator<Item = &'a ParamValue>) -> DataType {
    let types: BTreeSet<DataType> = values.into_iter().map(data_type).collect();
    match types.len() {
        1 => types.into_iter().next().unwrap_or(DataType::Unset),
        _ => DataType::Unset,
    }
}

fn hparam_info(name: &str, domain: Option<&Domain>, seen: &[&ParamValue]) -> HParamInfo {
    let discrete = |values: &[ParamValue]| {
        let t = common_type(values);
        let domain = (t != DataType::Unset).then(|| ProtoDomain::Discrete(list(values.iter())));
        (t, domain)
    };
    let interval = |min: f64, max: f64| {
        (DataType::Float64, Some(ProtoDomain::Interval(Interval { min_value: min, max_value: max })))
    };
    let (t, domain, description) = match domain {
        Some(Domain::Values { values }) | Some(Domain::Categorical { values, .. }) => {
            let (t, d) = discrete(values);
            (t, d, "one of the spec's values".to_string())
        }
        Some(Domain::Uniform { min, max }) => {
            let (t, d) = interval(*min, *max);
            (t, d, "uniform".into())
        }
        Some(Domain::LogUniformValues { min, max }) => {
            let (t, d) = interval(*min, *max);
            (t, d, "log-uniform".into())
        }
        Some(Domain::InvLogUniformValues { min, max }) => {
            let (t, d) = interval(*min, *max);
            (t, d, "inverse log-uniform".into())
        }
        Some(Domain::IntUniform { min, max }) => {
            let (t, d) = interval(*min as f64, *max as f64);
            (t, d, "whole numbers, uniform".into())
        }
        Some(Domain::QUniform { min, max, q, .. }) => {
            let (t, d) = interval(*min, *max);
            (t, d, format!("uniform in steps of {q}"))
        }
        Some(Domain::QLogUniformValues { min, max, q, .. }) => {
            let (t, d) = interval(*min, *max);
            (t, d, format!("log-uniform in steps of {q}"))
        }
        Some(
            Domain::Normal { min, max, .. }
            | Domain::QNormal { min, max, .. }
            | Domain::LogNormal { min, max, .. }
            | Domain::QLogNormal { min, max, .. },
        ) => {
            let description = "normal (or log-normal), truncated where the parameter has bounds".to_string();
            match (min, max) {
                (Some(lo), Some(hi)) => {
                    let (t, d) = interval(*lo, *hi);
                    (t, d, description)
                }
                _ => (DataType::Float64, None, description),
            }
        }
        // Not in the spec (an objective's own parameter, or an older spec):
        // the values the trials ran with are the domain.
        None => {
            let mut distinct: Vec<&ParamValue> = Vec::new();
            for v in seen {
                if !distinct.contains(v) {
                    distinct.push(v);
                }
            }
            let t = common_type(distinct.iter().copied());
            let d = (t != DataType::Unset).then(|| ProtoDomain::Discrete(list(distinct.into_iter())));
            (t, d, "the values the trials ran with".into())
        }
    };
    HParamInfo { name: name.to_string(), description, r#type: t as i32, domain }
}

fn list<'a>(values: impl Iterator<Item = &'a ParamValue>) -> ListValue {
    ListValue { values: values.map(value).collect() }
}

/// Losses and metrics named `train_*` are measured on the training rows; the rest on the validation rows.
fn dataset_of(metric: &str) -> DatasetType {
    if metric.starts_with("train_") { DatasetType::Training } else { DatasetType::Validation }
}

/// A summary with one `hparams` value: the plugin data, and the empty float
/// tensor TensorBoard's own writer puts beside it (its data server indexes
/// plugin data by tensor values).
fn summary(tag: &str, data: HParamsData) -> Summary {
    let content = HParamsPluginData { version: 0, data: Some(data) }.encode_to_vec();
    Summary {
        value: vec![SummaryValue {
            tag: tag.to_string(),
            metadata: Some(SummaryMetadata {
                plugin_data: Some(PluginData { plugin_name: PLUGIN.into(), content }),
                data_class: DATA_CLASS_TENSOR,
            }),
            value: Some(ValueKind::Tensor(TensorProto {
                dtype: DT_FLOAT,
                tensor_shape: Some(TensorShape { dim: vec![TensorDim { size: 0 }] }),
            })),
        }],
    }
}
