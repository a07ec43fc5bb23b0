//! The records of one trial's offline run, in the order W&B's own writer puts them:
//! header, run, metric definitions, history, summary, files, artifact, exit, final, footer.

use std::collections::BTreeMap;

use super::artifact::Staged;
use super::proto::google::protobuf::Timestamp;
use super::proto::wandb_internal::{
    self as pb, ArtifactManifest, ArtifactManifestEntry, ArtifactRecord, ConfigItem, ConfigRecord, FilesItem,
    FilesRecord, FinalRecord, FooterRecord, HeaderRecord, HistoryItem, HistoryRecord, HistoryStep, MetricOptions,
    MetricRecord, MetricSummary, Record, RunExitRecord, RunRecord, StoragePolicyConfigItem, SummaryItem, SummaryRecord,
    VersionInfo, record::RecordType,
};
use crate::metrics::Goal;
use crate::store::{EpochMetrics, TrialRecord, TrialStatus};

/// The step metric every other metric is plotted against.
pub(super) const STEP_METRIC: &str = "epoch";
/// The summary key prefix of the best epoch's metrics (fastai's W&B practice).
pub(super) const BEST_PREFIX: &str = "best_";
/// The summary key prefix of a test evaluation's metrics.
pub(super) const TEST_PREFIX: &str = "test_";

/// Where a run goes and what it is called.
#[derive(Debug, Clone)]
pub(super) struct RunIdentity<'a> {
    pub run_id: &'a str,
    pub project: &'a str,
    pub entity: Option<&'a str>,
    pub sweep: &'a str,
    pub tags: Vec<String>,
}

/// Everything one run is made of, read from the results folder.
pub(super) struct TrialData<'a> {
    pub record: &'a TrialRecord,
    /// The record's start since the Unix epoch, exact, and in seconds with its end.
    pub started: std::time::Duration,
    pub start: f64,
    pub end: f64,
    pub history: Vec<EpochMetrics>,
    /// `test.json`'s metrics, where the trial was evaluated on the test split.
    pub test: Option<BTreeMap<String, f64>>,
    /// Files copied beside the log for the run's Files tab (`trial.json`, `history.csv`).
    pub run_files: Vec<String>,
    /// The best model, staged for the artifact.
    pub artifact: Option<ArtifactPlan>,
}

/// The model artifact of a trial.
pub(super) struct ArtifactPlan {
    pub name: String,
    pub aliases: Vec<String>,
    pub metadata: serde_json::Value,
    pub files: Vec<Staged>,
}

/// A float as W&B's JSON values hold it (Python's `json.dumps`: `NaN`, `Infinity`).
pub(super) fn json_number(x: f64) -> String {
    if x.is_nan() {
        "NaN".into()
    } else if x.is_infinite() {
        if x > 0.0 { "Infinity".into() } else { "-Infinity".into() }
    } else {
        serde_json::to_string(&x).unwrap_or_else(|_| "null".into())
    }
}

/// W&B's exit code of a trial: a trial that ended with a model (completed, pruned early) exits 0 and
/// shows as finished; one without (failed, diverged) exits 1 and shows as failed.
pub(super) fn exit_code(status: TrialStatus) -> i32 {
    if status.has_model() { 0 } else { 1 }
}

fn record(kind: RecordType) -> Record {
    Record { record_type: Some(kind), ..Default::default() }
}

fn timestamp(since_epoch: std::time::Duration) -> Timestamp {
    Timestamp { seconds: since_epoch.as_secs() as i64, nanos: since_epoch.subsec_nanos() as i32 }
}

/// The records of one run, in order.
pub(super) fn records(id: &RunIdentity<'_>, data: &TrialData<'_>) -> Vec<Record> {
    let r = data.record;
    let mut out = Vec::new();
    out.push(record(RecordType::Header(HeaderRecord {
        version_info: Some(VersionInfo {
            producer: format!("sweep {}", env!("CARGO_PKG_VERSION")),
            min_consumer: String::new(),
        }),
    })));

    // Every resolved parameter (swept, `[train]`, defaults), as MLflow's params; records of
    // versions before `settings` hold only the swept ones.
    let params = if r.settings.is_empty() { &r.params } else { &r.settings };
    let mut config: Vec<ConfigItem> = params
        .iter()
        .map(|(k, v)| ConfigItem {
            key: k.clone(),
            value_json: serde_json::json!({ "value": v }).to_string(),
            ..Default::default()
        })
        .collect();
    config.push(ConfigItem {
        key: "seed".into(),
        // A u64 seed as a JSON number would lose digits in W&B's float64 values.
        value_json: serde_json::json!({ "value": r.seed.to_string() }).to_string(),
        ..Default::default()
    });
    out.push(record(RecordType::Run(RunRecord {
        run_id: id.run_id.to_string(),
        entity: id.entity.unwrap_or_default().to_string(),
        project: id.project.to_string(),
        config: Some(ConfigRecord { update: config, remove: Vec::new() }),
        run_group: id.sweep.to_string(),
        job_type: "trial".into(),
        display_name: r.id.clone(),
        notes: r.message.clone().unwrap_or_default(),
        tags: id.tags.clone(),
        host: r.host.clone(),
        start_time: Some(timestamp(data.started)),
    })));

    let defined = |step: bool| Some(MetricOptions { step_sync: step, hidden: false, defined: true });
    out.push(record(RecordType::Metric(MetricRecord {
        name: STEP_METRIC.into(),
        options: defined(false),
        ..Default::default()
    })));
    out.push(record(RecordType::Metric(MetricRecord {
        glob_name: "*".into(),
        step_metric: STEP_METRIC.into(),
        options: defined(true),
        ..Default::default()
    })));
    let goal = match r.monitor.goal {
        Goal::Maximize => pb::metric_record::MetricGoal::GoalMaximize,
        Goal::Minimize => pb::metric_record::MetricGoal::GoalMinimize,
    };
    out.push(record(RecordType::Metric(MetricRecord {
        name: r.monitor.metric.clone(),
        step_metric: STEP_METRIC.into(),
        options: defined(true),
        summary: Some(MetricSummary { best: true, ..Default::default() }),
        goal: goal as i32,
        ..Default::default()
    })));

    // history.csv has no times: its epochs are spaced evenly over the trial's run.
    let last_epoch = data.history.iter().map(|e| e.epoch).max().unwrap_or(0).max(1);
    let span = (data.end - data.start).max(0.0);
    for (step, epoch) in data.history.iter().enumerate() {
        let runtime = span * (epoch.epoch as f64 / last_epoch as f64).min(1.0);
        let item = |key: &str, value_json: String| HistoryItem { key: key.into(), value_json, ..Default::default() };
        let mut items = vec![
            item("_step", step.to_string()),
            item("_runtime", json_number(runtime)),
            item("_timestamp", json_number(data.start + runtime)),
            item(STEP_METRIC, epoch.epoch.to_string()),
        ];
        items.extend(epoch.metrics.iter().map(|(k, v)| item(k, json_number(*v))));
        out.push(record(RecordType::History(HistoryRecord {
            item: items,
            step: Some(HistoryStep { num: step as i64 }),
        })));
    }

    let mut summary = Vec::new();
    let entry = |key: String, value_json: String| SummaryItem { key, value_json, ..Default::default() };
    // As in the leaderboard: a trial without a model has no best epoch to report.
    if r.status.has_model() {
        summary.extend(r.best_metrics.iter().map(|(k, v)| entry(format!("{BEST_PREFIX}{k}"), json_number(*v))));
        if let Some(best) = r.best_epoch {
            summary.push(entry("best_epoch".into(), best.to_string()));
        }
    }
    if let Some(test) = &data.test {
        summary.extend(test.iter().map(|(k, v)| entry(format!("{TEST_PREFIX}{k}"), json_number(*v))));
    }
    summary.push(entry("status".into(), serde_json::Value::from(r.status.as_str()).to_string()));
    out.push(record(RecordType::Summary(SummaryRecord { update: summary, remove: Vec::new() })));

    if !data.run_files.is_empty() {
        let files = data
            .run_files
            .iter()
            .map(|path| FilesItem {
                path: path.clone(),
                policy: pb::files_item::PolicyType::End as i32,
                r#type: pb::files_item::FileType::Other as i32,
            })
            .collect();
        out.push(record(RecordType::Files(FilesRecord { files })));
    }

    if let Some(a) = &data.artifact {
        out.push(record(RecordType::Artifact(artifact_record(id, a))));
    }

    out.push(record(RecordType::Exit(RunExitRecord {
        exit_code: exit_code(r.status),
        not_complete: false,
        runtime: span.round() as i32,
    })));
    out.push(record(RecordType::Final(FinalRecord {})));
    out.push(record(RecordType::Footer(FooterRecord {})));
    out
}

fn artifact_record(id: &RunIdentity<'_>, a: &ArtifactPlan) -> ArtifactRecord {
    let contents: Vec<ArtifactManifestEntry> = a
        .files
        .iter()
        .map(|f| ArtifactManifestEntry {
            path: f.path.clone(),
            digest: f.md5_b64.clone(),
            size: f.size as i64,
            local_path: f.local_path.display().to_string(),
            ..Default::default()
        })
        .collect();
    let digest = super::artifact::manifest_digest(a.files.iter().map(|f| (f.path.as_str(), f.md5_b64.as_str())));
    // W&B's client makes these random; here they derive from the run, so an export is repeatable.
    let client_id = crate::store::sha256_hex(format!("{}:{}:client", id.run_id, a.name).as_bytes());
    let sequence_client_id = crate::store::sha256_hex(format!("{}:{}:sequence", id.run_id, a.name).as_bytes());
    ArtifactRecord {
        run_id: id.run_id.to_string(),
        project: id.project.to_string(),
        entity: id.entity.unwrap_or_default().to_string(),
        r#type: "model".into(),
        name: a.name.clone(),
        digest,
        description: String::new(),
        metadata: a.metadata.to_string(),
        user_created: false,
        use_after_commit: false,
        aliases: a.aliases.clone(),
        manifest: Some(ArtifactManifest {
            version: 1,
            storage_policy: "wandb-storage-policy-v1".into(),
            storage_policy_config: vec![StoragePolicyConfigItem {
                key: "storageLayout".into(),
                value_json: "\"V2\"".into(),
            }],
            contents,
            manifest_file_path: String::new(),
        }),
        distributed_id: String::new(),
        finalize: true,
        client_id: client_id[..32].to_string(),
        sequence_client_id: sequence_client_id[..32].to_string(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_are_json_as_python_writes_them() {
        assert_eq!(json_number(0.5), "0.5");
        assert_eq!(json_number(f64::NAN), "NaN");
        assert_eq!(json_number(f64::NEG_INFINITY), "-Infinity");
        assert_eq!(json_number(3.0), "3.0");
    }

    #[test]
    fn trials_with_a_model_finish_and_the_others_fail() {
        assert_eq!(exit_code(TrialStatus::Completed), 0);
        assert_eq!(exit_code(TrialStatus::Pruned), 0);
        assert_eq!(exit_code(TrialStatus::Failed), 1);
        assert_eq!(exit_code(TrialStatus::Diverged), 1);
    }

    #[test]
    fn timestamps_keep_their_microseconds() {
        let t = crate::store::since_epoch("1970-01-01T00:00:01.609921Z").unwrap();
        assert_eq!(timestamp(t), Timestamp { seconds: 1, nanos: 609_921_000 });
    }
}
