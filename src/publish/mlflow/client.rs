//! A small typed client for the parts of MLflow's REST API (2.0) that a push
//! needs: experiments, runs, metric history, artifacts through the server's
//! artifact proxy, and the model registry. It speaks plain JSON over HTTP(S),
//! so any MLflow server (or a service with the same API) works.
//!
//! Every error names the tracking URI, the endpoint, and what the server said
//! (HTTP status, MLflow's `error_code` and message), because the user has to
//! act on it at the server, not in sweep.

use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

/// Why a request to the tracking server did not do what was asked.
#[derive(Debug, thiserror::Error)]
pub(crate) enum MlflowError {
    /// The tracking URI is not an MLflow server's address.
    #[error(
        "tracking URI \"{uri}\": {why}; sweep talks to an MLflow tracking server over its REST API: give http://HOST:PORT or https://HOST (start one with `mlflow server`)"
    )]
    BadUri {
        /// The URI as given.
        uri: String,
        /// What is wrong with it.
        why: String,
    },
    /// No answer: connection refused, DNS, TLS, timeout.
    #[error("{uri}: {method} {endpoint}: the tracking server is unreachable: {message}")]
    Unreachable {
        uri: String,
        method: &'static str,
        /// Path of the request.
        endpoint: String,
        /// What the transport said.
        message: String,
    },
    /// The server answered with an error status.
    #[error("{uri}: {method} {endpoint}: HTTP {status}{code}: {message}", code = code_part(.error_code))]
    Rejected {
        uri: String,
        method: &'static str,
        /// Path of the request.
        endpoint: String,
        /// HTTP status.
        status: u16,
        /// MLflow's `error_code` (e.g. `RESOURCE_DOES_NOT_EXIST`), when the body had one.
        error_code: Option<String>,
        /// MLflow's message, or the start of the body.
        message: String,
    },
    /// The server answered 2xx with a body that is not what the API promises.
    #[error("{uri}: {method} {endpoint}: unexpected response: {message}")]
    Response {
        uri: String,
        method: &'static str,
        /// Path of the request.
        endpoint: String,
        /// What did not fit.
        message: String,
    },
    /// The run stores artifacts where this client cannot upload them.
    #[error(
        "{uri}: run {run_id} stores its artifacts at \"{artifact_uri}\", which sweep cannot upload to: it uploads through the server's artifact proxy (mlflow-artifacts:/..., the default of `mlflow server`, or --serve-artifacts) or into a local folder (file:/...)"
    )]
    UnsupportedArtifactUri {
        uri: String,
        run_id: String,
        /// Its artifact URI.
        artifact_uri: String,
    },
    /// Writing an artifact into a local artifact store failed.
    #[error("{uri}: run {run_id}: writing artifact {path}: {source}")]
    LocalArtifact { uri: String, run_id: String, path: String, source: std::io::Error },
}

fn code_part(code: &Option<String>) -> String {
    code.as_ref().map(|c| format!(" {c}")).unwrap_or_default()
}

impl MlflowError {
    /// Whether the server said the thing asked for does not exist.
    pub(crate) fn is_not_found(&self) -> bool {
        matches!(self, MlflowError::Rejected { status, error_code, .. }
            if *status == 404 || error_code.as_deref() == Some("RESOURCE_DOES_NOT_EXIST"))
    }

    /// Whether the server said the thing to create exists already.
    pub(crate) fn is_already_exists(&self) -> bool {
        matches!(self, MlflowError::Rejected { error_code, .. } if error_code.as_deref() == Some("RESOURCE_ALREADY_EXISTS"))
    }
}

/// An MLflow experiment.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Experiment {
    /// Its id (a string in the API).
    pub experiment_id: String,
    /// Its name.
    pub name: String,
    /// `active` or `deleted`.
    #[serde(default)]
    pub lifecycle_stage: String,
}

/// A key and a value (params and tags).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub(crate) struct KeyValue {
    /// Key.
    pub key: String,
    /// Value.
    #[serde(default)]
    pub value: String,
}

/// One metric point.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MetricPoint {
    /// Metric name.
    pub key: String,
    /// Value (NaN and infinities allowed).
    pub value: f64,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    /// Step (the epoch, for sweep's history).
    pub step: i64,
}

/// A run as the search returns it: info, and its tags.
#[derive(Debug, Clone)]
pub(crate) struct Run {
    /// Its id.
    pub run_id: String,
    /// Where its artifacts go.
    pub artifact_uri: String,
    /// Its tags.
    pub tags: Vec<KeyValue>,
}

impl Run {
    /// The value of a tag, if the run has it.
    pub(crate) fn tag(&self, key: &str) -> Option<&str> {
        self.tags.iter().find(|t| t.key == key).map(|t| t.value.as_str())
    }
}

/// A registered model's version.
#[derive(Debug, Clone)]
pub(crate) struct ModelVersion {
    /// The version number (a string in the API).
    pub version: String,
    /// Where its files are.
    pub source: String,
    /// The run it came from.
    pub run_id: String,
}

/// The tracking server, as seen from here.
pub(crate) struct Client {
    uri: String,
    base: String,
    agent: ureq::Agent,
    auth: Option<String>,
}

impl Client {
    /// A client for the server at `uri` (http or https). Credentials come from
    /// the variables MLflow's own client reads: `MLFLOW_TRACKING_TOKEN` (bearer),
    /// or `MLFLOW_TRACKING_USERNAME` and `MLFLOW_TRACKING_PASSWORD` (basic).
    pub(crate) fn new(uri: &str) -> Result<Client, MlflowError> {
        let bad = |why: &str| MlflowError::BadUri { uri: uri.to_string(), why: why.to_string() };
        let trimmed = uri.trim().trim_end_matches('/');
        let Some((scheme, rest)) = trimmed.split_once("://") else {
            return Err(bad("expected a URL with a scheme"));
        };
        if !matches!(scheme.to_ascii_lowercase().as_str(), "http" | "https") {
            return Err(bad(&format!("scheme \"{scheme}\" is not http or https")));
        }
        if rest.is_empty() || rest.starts_with('/') {
            return Err(bad("no host"));
        }
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(10)))
            .timeout_global(Some(Duration::from_secs(300)))
            .user_agent(concat!("sweep/", env!("CARGO_PKG_VERSION")))
            .build();
        let auth = auth_header(
            std::env::var("MLFLOW_TRACKING_TOKEN").ok(),
            std::env::var("MLFLOW_TRACKING_USERNAME").ok(),
            std::env::var("MLFLOW_TRACKING_PASSWORD").ok(),
        );
        Ok(Client { uri: uri.to_string(), base: trimmed.to_string(), agent: config.into(), auth })
    }

    /// The tracking URI as given.
    pub(crate) fn uri(&self) -> &str {
        &self.uri
    }

    /// The web page of an experiment in the MLflow UI.
    pub(crate) fn experiment_url(&self, experiment_id: &str) -> String {
        format!("{}/#/experiments/{experiment_id}", self.base)
    }

    /// The experiment called `name`, if there is one (active or deleted).
    pub(crate) fn experiment_by_name(&self, name: &str) -> Result<Option<Experiment>, MlflowError> {
        let endpoint = format!("/api/2.0/mlflow/experiments/get-by-name?experiment_name={}", encode(name));
        match self.get(&endpoint) {
            Ok(v) => Ok(Some(self.field(v, "experiment", "GET", &endpoint)?)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Creates an experiment; returns its id.
    pub(crate) fn create_experiment(&self, name: &str, tags: &[(String, String)]) -> Result<String, MlflowError> {
        let endpoint = "/api/2.0/mlflow/experiments/create";
        let body = json!({ "name": name, "tags": key_values(tags) });
        let v = self.post(endpoint, &body)?;
        self.field(v, "experiment_id", "POST", endpoint)
    }

    /// Every active run of an experiment that has tag `tag_key`, with its tags.
    pub(crate) fn runs_with_tag(&self, experiment_id: &str, tag_key: &str) -> Result<Vec<Run>, MlflowError> {
        let endpoint = "/api/2.0/mlflow/runs/search";
        let mut runs = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let mut body = json!({
                "experiment_ids": [experiment_id],
                "filter": format!("tags.`{tag_key}` != ''"),
                "run_view_type": "ACTIVE_ONLY",
                "max_results": 1000,
            });
            if let Some(token) = &page_token {
                body["page_token"] = json!(token);
            }
            let v = self.post(endpoint, &body)?;
            for run in v["runs"].as_array().into_iter().flatten() {
                runs.push(self.run_of(run, "POST", endpoint)?);
            }
            page_token = v["next_page_token"].as_str().filter(|t| !t.is_empty()).map(str::to_string);
            if page_token.is_none() {
                return Ok(runs);
            }
        }
    }

    /// Creates a run; returns it.
    pub(crate) fn create_run(
        &self,
        experiment_id: &str,
        run_name: &str,
        start_time_ms: i64,
        tags: &[(String, String)],
    ) -> Result<Run, MlflowError> {
        let endpoint = "/api/2.0/mlflow/runs/create";
        let body = json!({
            "experiment_id": experiment_id,
            "run_name": run_name,
            "start_time": start_time_ms,
            "tags": key_values(tags),
        });
        let v = self.post(endpoint, &body)?;
        self.run_of(&v["run"], "POST", endpoint)
    }

    /// Logs params, tags and metrics in one request; MLflow takes at most 100
    /// params, 100 tags and 1000 metrics (1000 entries in all) per batch.
    pub(crate) fn log_batch(
        &self,
        run_id: &str,
        params: &[(String, String)],
        tags: &[(String, String)],
        metrics: &[MetricPoint],
    ) -> Result<(), MlflowError> {
        let metrics: Vec<Value> = metrics
            .iter()
            .map(|m| json!({ "key": m.key, "value": json_number(m.value), "timestamp": m.timestamp, "step": m.step }))
            .collect();
        let body =
            json!({ "run_id": run_id, "params": key_values(params), "tags": key_values(tags), "metrics": metrics });
        self.post("/api/2.0/mlflow/runs/log-batch", &body).map(drop)
    }

    /// Sets one tag.
    pub(crate) fn set_tag(&self, run_id: &str, key: &str, value: &str) -> Result<(), MlflowError> {
        let body = json!({ "run_id": run_id, "key": key, "value": value });
        self.post("/api/2.0/mlflow/runs/set-tag", &body).map(drop)
    }

    /// Every point of a metric's history in a run.
    pub(crate) fn metric_history(&self, run_id: &str, key: &str) -> Result<Vec<MetricPoint>, MlflowError> {
        let mut points = Vec::new();
        let mut page_token: Option<String> = None;
        loop {
            let mut endpoint = format!(
                "/api/2.0/mlflow/metrics/get-history?run_id={}&metric_key={}&max_results=25000",
                encode(run_id),
                encode(key)
            );
            if let Some(token) = &page_token {
                endpoint.push_str(&format!("&page_token={}", encode(token)));
            }
            let v = self.get(&endpoint)?;
            for m in v["metrics"].as_array().into_iter().flatten() {
                let value = match &m["value"] {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) => parse_special(s),
                    _ => None,
                };
                let (Some(value), Some(step)) = (value, m["step"].as_i64().or(Some(0))) else {
                    return Err(self.unexpected("GET", &endpoint, format!("metric point {m}")));
                };
                points.push(MetricPoint {
                    key: key.to_string(),
                    value,
                    timestamp: m["timestamp"].as_i64().unwrap_or(0),
                    step,
                });
            }
            page_token = v["next_page_token"].as_str().filter(|t| !t.is_empty()).map(str::to_string);
            if page_token.is_none() {
                return Ok(points);
            }
        }
    }

    /// Ends a run: `FINISHED`, `FAILED` or `KILLED`, at `end_time_ms`.
    pub(crate) fn update_run(&self, run_id: &str, status: &str, end_time_ms: i64) -> Result<(), MlflowError> {
        let body = json!({ "run_id": run_id, "status": status, "end_time": end_time_ms });
        self.post("/api/2.0/mlflow/runs/update", &body).map(drop)
    }

    /// Marks a run deleted (MLflow keeps it, restorable, until `mlflow gc`).
    pub(crate) fn delete_run(&self, run_id: &str) -> Result<(), MlflowError> {
        self.post("/api/2.0/mlflow/runs/delete", &json!({ "run_id": run_id })).map(drop)
    }

    /// Uploads one file to `path` (relative, `/`-separated) under the run's artifact root.
    pub(crate) fn upload_artifact(&self, run: &Run, path: &str, bytes: &[u8]) -> Result<(), MlflowError> {
        let unsupported = || MlflowError::UnsupportedArtifactUri {
            uri: self.uri.clone(),
            run_id: run.run_id.clone(),
            artifact_uri: run.artifact_uri.clone(),
        };
        if let Some(rest) = run.artifact_uri.strip_prefix("mlflow-artifacts:") {
            // mlflow-artifacts:/<exp>/<run>/artifacts, or with the server's host:
            // mlflow-artifacts://host:port/<exp>/...; the proxy is this server's.
            let rest = match rest.strip_prefix("//") {
                Some(with_host) => with_host.find('/').map(|i| &with_host[i..]).ok_or_else(unsupported)?,
                None => rest,
            };
            let root = rest.trim_matches('/');
            let endpoint = format!("/api/2.0/mlflow-artifacts/artifacts/{}/{}", encode_path(root), encode_path(path));
            return self.request("PUT", &endpoint, Some((bytes, "application/octet-stream"))).map(drop);
        }
        let local = if let Some(p) = run.artifact_uri.strip_prefix("file://") {
            Some(p.to_string())
        } else if run.artifact_uri.starts_with('/') {
            Some(run.artifact_uri.clone())
        } else {
            None
        };
        let Some(root) = local else {
            return Err(unsupported());
        };
        let target = std::path::Path::new(&root).join(path);
        let io = |source| MlflowError::LocalArtifact {
            uri: self.uri.clone(),
            run_id: run.run_id.clone(),
            path: target.display().to_string(),
            source,
        };
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        crate::store::write_atomic(&target, bytes).map_err(io)
    }

    /// Creates a registered model unless it exists.
    pub(crate) fn ensure_registered_model(&self, name: &str, description: &str) -> Result<(), MlflowError> {
        let endpoint = "/api/2.0/mlflow/registered-models/create";
        match self.post(endpoint, &json!({ "name": name, "description": description })) {
            Ok(_) => Ok(()),
            Err(e) if e.is_already_exists() => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The versions of a registered model that came from `run_id`.
    pub(crate) fn model_versions_of_run(&self, name: &str, run_id: &str) -> Result<Vec<ModelVersion>, MlflowError> {
        let filter = format!("name='{}' and run_id='{}'", name.replace('\'', "\\'"), run_id);
        let endpoint = format!("/api/2.0/mlflow/model-versions/search?filter={}&max_results=1000", encode(&filter));
        let v = self.get(&endpoint)?;
        v["model_versions"].as_array().into_iter().flatten().map(|m| self.version_of(m, "GET", &endpoint)).collect()
    }

    /// Creates a version of a registered model from a run's folder of artifacts.
    pub(crate) fn create_model_version(
        &self,
        name: &str,
        source: &str,
        run_id: &str,
        tags: &[(String, String)],
        description: &str,
    ) -> Result<ModelVersion, MlflowError> {
        let endpoint = "/api/2.0/mlflow/model-versions/create";
        let body = json!({
            "name": name, "source": source, "run_id": run_id, "tags": key_values(tags), "description": description,
        });
        let v = self.post(endpoint, &body)?;
        self.version_of(&v["model_version"], "POST", endpoint)
    }

    /// Points `alias` of a registered model at `version`.
    pub(crate) fn set_alias(&self, name: &str, alias: &str, version: &str) -> Result<(), MlflowError> {
        let body = json!({ "name": name, "alias": alias, "version": version });
        self.post("/api/2.0/mlflow/registered-models/alias", &body).map(drop)
    }

    fn run_of(&self, v: &Value, method: &'static str, endpoint: &str) -> Result<Run, MlflowError> {
        let info = &v["info"];
        let run_id = info["run_id"].as_str().or_else(|| info["run_uuid"].as_str());
        let (Some(run_id), Some(artifact_uri)) = (run_id, info["artifact_uri"].as_str()) else {
            return Err(self.unexpected(method, endpoint, format!("a run without run_id or artifact_uri: {v}")));
        };
        let tags = match v["data"].get("tags") {
            Some(t) => serde_json::from_value(t.clone())
                .map_err(|e| self.unexpected(method, endpoint, format!("run tags: {e}")))?,
            None => Vec::new(),
        };
        Ok(Run { run_id: run_id.to_string(), artifact_uri: artifact_uri.to_string(), tags })
    }

    fn version_of(&self, v: &Value, method: &'static str, endpoint: &str) -> Result<ModelVersion, MlflowError> {
        let Some(version) =
            v["version"].as_str().map(str::to_string).or_else(|| v["version"].as_i64().map(|n| n.to_string()))
        else {
            return Err(self.unexpected(method, endpoint, format!("a model version without a version: {v}")));
        };
        Ok(ModelVersion {
            version,
            source: v["source"].as_str().unwrap_or_default().to_string(),
            run_id: v["run_id"].as_str().unwrap_or_default().to_string(),
        })
    }

    fn field<T: serde::de::DeserializeOwned>(
        &self,
        mut v: Value,
        key: &str,
        method: &'static str,
        endpoint: &str,
    ) -> Result<T, MlflowError> {
        serde_json::from_value(v[key].take())
            .map_err(|e| self.unexpected(method, endpoint, format!("field \"{key}\": {e}")))
    }

    fn unexpected(&self, method: &'static str, endpoint: &str, message: String) -> MlflowError {
        MlflowError::Response { uri: self.uri.clone(), method, endpoint: endpoint.to_string(), message }
    }

    fn get(&self, endpoint: &str) -> Result<Value, MlflowError> {
        self.request("GET", endpoint, None)
    }

    fn post(&self, endpoint: &str, body: &Value) -> Result<Value, MlflowError> {
        let bytes = serde_json::to_vec(body).map_err(|e| self.unexpected("POST", endpoint, e.to_string()))?;
        self.request("POST", endpoint, Some((&bytes, "application/json")))
    }

    /// One request, retried a few times on answers that say "try again"
    /// (429, 502, 503, 504) and on connections lost mid-request; a refused
    /// connection fails at once, since waiting will not start the server.
    fn request(&self, method: &'static str, endpoint: &str, body: Option<(&[u8], &str)>) -> Result<Value, MlflowError> {
        const ATTEMPTS: u32 = 4;
        let url = format!("{}{endpoint}", self.base);
        let path = endpoint.split('?').next().unwrap_or(endpoint).to_string();
        let mut attempt = 0;
        loop {
            attempt += 1;
            let result = match (method, body) {
                ("GET", _) => self.with_auth(self.agent.get(&url)).call(),
                (_, Some((bytes, mime))) if method == "PUT" => {
                    self.with_auth(self.agent.put(&url)).header("Content-Type", mime).send(bytes)
                }
                (_, Some((bytes, mime))) => {
                    self.with_auth(self.agent.post(&url)).header("Content-Type", mime).send(bytes)
                }
                (_, None) => self.with_auth(self.agent.post(&url)).send_empty(),
            };
            let retry = |attempt: u32| {
                std::thread::sleep(Duration::from_millis(250 * 2u64.pow(attempt - 1)));
            };
            let mut response = match result {
                Ok(r) => r,
                Err(e) => {
                    let fatal =
                        matches!(e, ureq::Error::ConnectionFailed | ureq::Error::HostNotFound | ureq::Error::Tls(_))
                            || matches!(&e, ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::ConnectionRefused);
                    if !fatal && attempt < ATTEMPTS {
                        retry(attempt);
                        continue;
                    }
                    return Err(MlflowError::Unreachable {
                        uri: self.uri.clone(),
                        method,
                        endpoint: path,
                        message: e.to_string(),
                    });
                }
            };
            let status = response.status().as_u16();
            let text = response.body_mut().with_config().limit(1 << 30).read_to_string().unwrap_or_default();
            if (200..300).contains(&status) {
                if text.trim().is_empty() {
                    return Ok(json!({}));
                }
                return serde_json::from_str(&text)
                    .map_err(|e| self.unexpected(method, &path, format!("not JSON ({e}): {}", snippet(&text))));
            }
            if matches!(status, 429 | 502 | 503 | 504) && attempt < ATTEMPTS {
                retry(attempt);
                continue;
            }
            let parsed: Option<Value> = serde_json::from_str(&text).ok();
            let error_code = parsed.as_ref().and_then(|v| v["error_code"].as_str()).map(str::to_string);
            let message = parsed
                .as_ref()
                .and_then(|v| v["message"].as_str())
                .map(str::to_string)
                .unwrap_or_else(|| snippet(&text));
            return Err(MlflowError::Rejected {
                uri: self.uri.clone(),
                method,
                endpoint: path,
                status,
                error_code,
                message,
            });
        }
    }

    fn with_auth<B>(&self, request: ureq::RequestBuilder<B>) -> ureq::RequestBuilder<B> {
        match &self.auth {
            Some(value) => request.header("Authorization", value),
            None => request,
        }
    }
}

/// The `Authorization` header MLflow's client would send for these variables.
fn auth_header(token: Option<String>, user: Option<String>, password: Option<String>) -> Option<String> {
    if let Some(token) = token.filter(|t| !t.is_empty()) {
        return Some(format!("Bearer {token}"));
    }
    let user = user.filter(|u| !u.is_empty())?;
    Some(format!("Basic {}", base64(format!("{user}:{}", password.unwrap_or_default()).as_bytes())))
}

/// Standard base64 with padding (RFC 4648), for basic authentication.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(chunk.get(1).copied().unwrap_or(0)) << 8)
            | u32::from(chunk.get(2).copied().unwrap_or(0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn key_values(pairs: &[(String, String)]) -> Vec<Value> {
    pairs.iter().map(|(k, v)| json!({ "key": k, "value": v })).collect()
}

/// A metric value as MLflow's protobuf JSON takes it: a number, or "NaN",
/// "Infinity", "-Infinity" (JSON itself has no such numbers).
fn json_number(x: f64) -> Value {
    if x.is_nan() {
        json!("NaN")
    } else if x.is_infinite() {
        json!(if x > 0.0 { "Infinity" } else { "-Infinity" })
    } else {
        json!(x)
    }
}

fn parse_special(s: &str) -> Option<f64> {
    match s {
        "NaN" => Some(f64::NAN),
        "Infinity" => Some(f64::INFINITY),
        "-Infinity" => Some(f64::NEG_INFINITY),
        other => other.parse().ok(),
    }
}

/// Percent-encodes a query value.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Percent-encodes each segment of a `/`-separated path.
fn encode_path(path: &str) -> String {
    path.split('/').map(encode).collect::<Vec<_>>().join("/")
}

fn snippet(text: &str) -> String {
    let t = text.trim();
    if t.is_empty() {
        return "(empty body)".to_string();
    }
    let mut end = t.len().min(300);
    while !t.is_char_boundary(end) {
        end -= 1;
    }
    if end < t.len() { format!("{}…", &t[..end]) } else { t.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc_4648_test_vectors() {
        let cases =
            [("", ""), ("f", "Zg=="), ("fo", "Zm8="), ("foo", "Zm9v"), ("foob", "Zm9vYg=="), ("foobar", "Zm9vYmFy")];
        for (plain, encoded) in cases {
            assert_eq!(base64(plain.as_bytes()), encoded, "{plain}");
        }
    }

    #[test]
    fn a_token_wins_over_basic_credentials() {
        assert_eq!(auth_header(Some("t".into()), Some("u".into()), None).as_deref(), Some("Bearer t"));
        assert_eq!(auth_header(None, Some("user".into()), Some("pass".into())).as_deref(), Some("Basic dXNlcjpwYXNz"));
        assert_eq!(auth_header(None, None, Some("pass".into())), None);
    }

    #[test]
    fn only_http_and_https_uris_are_servers() {
        assert!(Client::new("http://127.0.0.1:5000").is_ok());
        assert!(Client::new("https://mlflow.example.com/").is_ok());
        for bad in ["sqlite:///mlflow.db", "file:///tmp/mlruns", "127.0.0.1:5000", "http://", "databricks"] {
            assert!(matches!(Client::new(bad), Err(MlflowError::BadUri { .. })), "{bad}");
        }
    }

    #[test]
    fn non_finite_metrics_use_protobuf_json_names() {
        assert_eq!(json_number(f64::NAN), json!("NaN"));
        assert_eq!(json_number(f64::NEG_INFINITY), json!("-Infinity"));
        assert_eq!(json_number(0.5), json!(0.5));
        assert!(parse_special("NaN").is_some_and(f64::is_nan));
    }

    #[test]
    fn query_values_and_paths_are_percent_encoded() {
        assert_eq!(encode("name='a b'"), "name%3D%27a%20b%27");
        assert_eq!(encode_path("model/best json"), "model/best%20json");
    }

    #[test]
    fn errors_name_uri_endpoint_status_and_mlflow_code() {
        let e = MlflowError::Rejected {
            uri: "http://h:5000".into(),
            method: "POST",
            endpoint: "/api/2.0/mlflow/runs/create".into(),
            status: 400,
            error_code: Some("INVALID_PARAMETER_VALUE".into()),
            message: "bad".into(),
        };
        assert_eq!(
            e.to_string(),
            "http://h:5000: POST /api/2.0/mlflow/runs/create: HTTP 400 INVALID_PARAMETER_VALUE: bad"
        );
    }
}
