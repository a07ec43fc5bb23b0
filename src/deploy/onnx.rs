//! `export --format onnx`: the objective's network ([`crate::objective::Model::onnx`])
//! between sweep's own standardization and output head, so `model.onnx`
//! maps raw feature rows to what `sweep predict` writes.

use serde_json::json;

use super::{DeployError, LoadedModel};
use crate::metrics::Task;
use crate::objective::onnx::{self, Attribute, Dim, OnnxGraph};
use crate::store;

/// The graph input: raw feature rows, float32 `[N, features]`.
pub(crate) const INPUT: &str = "features";
/// The classification output: float32 `[N, classes]`, column `k` the probability of class `k`.
pub(crate) const PROBABILITIES: &str = "probabilities";
/// The regression output: float32 `[N]`, in the target's original units.
pub(crate) const PREDICTION: &str = "prediction";

const BATCH: Dim = Dim::Named("N");

/// The bytes of `model.onnx`.
pub(super) fn model_file(model: &LoadedModel, reference: &str) -> Result<Vec<u8>, DeployError> {
    let name = model.objective.name();
    let fail = |message: String| DeployError::Checkpoint {
        path: model.dir.join(&model.meta.checkpoint),
        message: format!("objective \"{name}\": building its ONNX graph: {message}"),
    };
    let pre = &model.preprocessing;
    let features = pre.feature_columns.len();
    let mut graph = OnnxGraph::new();
    let sweep_part = |graph: &mut OnnxGraph| -> Result<String, crate::objective::TrialError> {
        graph.input(INPUT, &[BATCH, Dim::Fixed(features)])?;
        let means: Vec<f32> = pre.means.iter().map(|&m| m as f32).collect();
        // A constant column was fitted with std 1 (data::split); the guard only repeats it for older files.
        let stds: Vec<f32> = pre.stds.iter().map(|&s| if s > 0.0 && s.is_finite() { s as f32 } else { 1.0 }).collect();
        let means = graph.constant("preprocessing.means", &[features], &means)?;
        let stds = graph.constant("preprocessing.stds", &[features], &stds)?;
        let centred = graph.node("Sub", &[INPUT, &means], &[])?;
        graph.node_as("Div", &[&centred, &stds], &[], "standardized")?;
        Ok("standardized".to_string())
    };
    let standardized = sweep_part(&mut graph).map_err(|e| fail(e.to_string()))?;
    let Some(outputs) = model.model().onnx(&mut graph, &standardized) else {
        return Err(DeployError::Unsupported { name: name.to_string(), what: "ONNX export (--format onnx)" });
    };
    let outputs = outputs.map_err(|e| fail(e.to_string()))?;
    if !graph.contains(&outputs) {
        return Err(fail(format!("it returned \"{outputs}\" as its output, which no node defines")));
    }
    let head = |graph: &mut OnnxGraph| -> Result<(), crate::objective::TrialError> {
        match pre.task {
            Task::Classification => {
                graph.node_as("Softmax", &[&outputs], &[("axis", Attribute::Int(1))], PROBABILITIES)?;
                graph.output(PROBABILITIES, &[BATCH, Dim::Fixed(pre.classes.len())])
            }
            Task::Regression => {
                let scale = pre.scale();
                let std = graph.constant("target_scale.std", &[1], &[scale.std as f32])?;
                let mean = graph.constant("target_scale.mean", &[1], &[scale.mean as f32])?;
                let scaled = graph.node("Mul", &[&outputs, &std], &[])?;
                let shifted = graph.node("Add", &[&scaled, &mean], &[])?;
                // One value per row, as predict writes them.
                let flat = graph.constant_i64("rows", &[1], &[-1])?;
                graph.node_as("Reshape", &[&shifted, &flat], &[], PREDICTION)?;
                graph.output(PREDICTION, &[BATCH])
            }
        }
    };
    head(&mut graph).map_err(|e| fail(e.to_string()))?;

    let model_proto = graph.into_model(
        &format!("sweep {}", model.meta.trial_id),
        &format!(
            "{reference}: objective {name} (version {}), trial {}; input \"{INPUT}\" holds raw feature rows \
             (metadata feature_names), standardization is inside the graph",
            model.objective.version(),
            model.meta.trial_id
        ),
        metadata(model, reference),
    );
    Ok(onnx::encode(&model_proto))
}

/// The file's metadata_props: what a user needs to feed it and read its output.
fn metadata(model: &LoadedModel, reference: &str) -> Vec<(String, String)> {
    let pre = &model.preprocessing;
    let mut props = vec![
        ("task".to_string(), pre.task.as_str().to_string()),
        ("feature_names".to_string(), json!(pre.feature_columns).to_string()),
        ("target".to_string(), pre.target.clone()),
    ];
    match pre.task {
        // Index k of the list is the label of output column k.
        Task::Classification => props.push(("classes".to_string(), json!(pre.classes).to_string())),
        Task::Regression => {
            let scale = pre.scale();
            props.push(("target_scale".to_string(), json!({ "mean": scale.mean, "std": scale.std }).to_string()));
        }
    }
    props.extend([
        ("model".to_string(), reference.to_string()),
        ("objective".to_string(), model.objective.name().to_string()),
        ("objective_version".to_string(), model.objective.version().to_string()),
        ("trial_id".to_string(), model.meta.trial_id.clone()),
        ("checkpoint_sha256".to_string(), model.checkpoint_sha256.clone()),
        ("data_sha256".to_string(), pre.data_fingerprint.clone()),
        ("sweep_version".to_string(), env!("CARGO_PKG_VERSION").to_string()),
    ]);
    if let Some(record) = &model.record {
        props.push(("sweep".to_string(), record.sweep.clone()));
    }
    props
}

/// Python (onnxruntime) code for the model card that runs `model.onnx`.
pub(super) fn python_snippet(task: Task) -> String {
    let (name, output, labels, returns) = match task {
        Task::Classification => (
            "predict_proba",
            PROBABILITIES,
            "classes = json.loads(meta[\"classes\"])        # column k of the output is classes[k]\n",
            "n x classes probabilities",
        ),
        Task::Regression => ("predict", PREDICTION, "", "n predictions in the target's original units"),
    };
    format!(
        r#"import json
import numpy as np
import onnxruntime as ort

session = ort.InferenceSession("model.onnx", providers=["CPUExecutionProvider"])
meta = session.get_modelmeta().custom_metadata_map
features = json.loads(meta["feature_names"])  # the input's columns, in order
{labels}
def {name}(rows):
    """rows: n x features, columns in `features` order, raw (unstandardized) values; returns {returns}."""
    return session.run(["{output}"], {{"{INPUT}": np.asarray(rows, dtype=np.float32)}})[0]
"#
    )
}

/// The sha256 and size of the file, for the model card.
pub(super) fn describe_file(bytes: &[u8], model: &LoadedModel) -> serde_json::Value {
    let pre = &model.preprocessing;
    let features = pre.feature_columns.len();
    let output = match pre.task {
        Task::Classification => format!("`{PROBABILITIES}` float32 [N, {}]", pre.classes.len()),
        Task::Regression => format!("`{PREDICTION}` float32 [N], in the target's original units"),
    };
    json!({
        "file": "model.onnx",
        "layout": format!(
            "ONNX (IR {}, opset {}): input `{INPUT}` float32 [N, {features}] of raw feature rows, output {output}; \
             the standardization is inside the graph",
            onnx::IR_VERSION,
            onnx::OPSET
        ),
        "sha256": store::sha256_hex(bytes),
        "bytes": bytes.len(),
        "checkpoint_sha256": model.checkpoint_sha256,
    })
}
