//! `export --format onnx`: the objective's network ([`crate::objective::Model::onnx`])
//! between sweep's own standardization and output head, so `model.onnx`
//! maps raw feature rows to what `sweep predict` writes.

use serde_json::json;

use super::{DeployError, LoadedModel};
use crate::data::Steps;
use crate::data::preprocess::ColumnKind;
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
        let features_in = match &pre.steps {
            None => {
                graph.input(INPUT, &[BATCH, Dim::Fixed(features)])?;
                INPUT.to_string()
            }
            Some(steps) => raw_inputs(graph, steps)?,
        };
        let means: Vec<f32> = pre.means.iter().map(|&m| m as f32).collect();
        // A constant column was fitted with std 1 (data::split); the guard only repeats it for older files.
        let stds: Vec<f32> = pre.stds.iter().map(|&s| if s > 0.0 && s.is_finite() { s as f32 } else { 1.0 }).collect();
        let means = graph.constant("preprocessing.means", &[features], &means)?;
        let stds = graph.constant("preprocessing.stds", &[features], &stds)?;
        let centred = graph.node("Sub", &[&features_in, &means], &[])?;
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
            "{reference}: objective {name} (version {}), trial {}; {}",
            model.objective.version(),
            model.meta.trial_id,
            match pre.steps {
                None => format!(
                    "input \"{INPUT}\" holds raw feature rows (metadata feature_names), standardization is inside \
                     the graph"
                ),
                Some(_) => "one input per raw column (metadata inputs), the fills, one-hot encoding and \
                            standardization are inside the graph"
                    .to_string(),
            }
        ),
        metadata(model, reference),
    );
    Ok(onnx::encode(&model_proto))
}

/// One graph input per raw column of the model, named after it (`[N, 1]`:
/// float32 with NaN for a missing cell, or strings), through the stored steps
/// to the model's features: the learned fill in an `Imputer`, a category's
/// indicators from a `OneHotEncoder` (an unseen category gives zeros), and a
/// missing category's fill added where a cell is one of the missing values.
/// Returns the `[N, features]` value, in the model's feature order.
fn raw_inputs(graph: &mut OnnxGraph, steps: &Steps) -> Result<String, crate::objective::TrialError> {
    let mut parts = Vec::with_capacity(steps.columns.len());
    for step in &steps.columns {
        let name = step.name.as_str();
        match &step.kind {
            ColumnKind::Numeric { fill } => {
                graph.input(name, &[BATCH, Dim::Fixed(1)])?;
                parts.push(match fill {
                    Some(f) => graph.ml_node(
                        "Imputer",
                        &[name],
                        &[
                            ("imputed_value_floats", Attribute::Floats(vec![*f as f32])),
                            ("replaced_value_float", Attribute::Float(f32::NAN)),
                        ],
                    )?,
                    None => name.to_string(),
                });
            }
            ColumnKind::Categorical { categories, fill } => {
                graph.string_input(name, &[BATCH, Dim::Fixed(1)])?;
                let one_hot = |graph: &mut OnnxGraph, values: &[String]| {
                    let hot = graph.ml_node(
                        "OneHotEncoder",
                        &[name],
                        &[("cats_strings", Attribute::Strings(values.to_vec())), ("zeros", Attribute::Int(1))],
                    )?;
                    // [N, 1, k] → [N, k]
                    let shape = graph.constant_i64(&format!("{name}.shape"), &[2], &[-1, values.len() as i64])?;
                    graph.node("Reshape", &[&hot, &shape], &[])
                };
                let indicators = one_hot(graph, categories)?;
                let filled = match (fill, categories.iter().position(|c| Some(c) == fill.as_ref())) {
                    (Some(_), Some(k)) if !steps.na_values.is_empty() => {
                        let missing = one_hot(graph, &steps.na_values)?;
                        let axis = graph.constant_i64(&format!("{name}.axis"), &[1], &[1])?;
                        let is_missing =
                            graph.node("ReduceSum", &[&missing, &axis], &[("keepdims", Attribute::Int(1))])?;
                        let mut row = vec![0.0; categories.len()];
                        row[k] = 1.0;
                        let fill_row = graph.constant(&format!("{name}.fill"), &[1, categories.len()], &row)?;
                        let fill = graph.node("Mul", &[&is_missing, &fill_row], &[])?;
                        graph.node("Add", &[&indicators, &fill], &[])?
                    }
                    _ => indicators,
                };
                parts.push(filled);
            }
        }
    }
    let parts: Vec<&str> = parts.iter().map(String::as_str).collect();
    graph.node("Concat", &parts, &[("axis", Attribute::Int(1))])
}

/// The file's metadata_props: what a user needs to feed it and read its output.
fn metadata(model: &LoadedModel, reference: &str) -> Vec<(String, String)> {
    let pre = &model.preprocessing;
    let mut props = vec![
        ("task".to_string(), pre.task.as_str().to_string()),
        ("feature_names".to_string(), json!(pre.feature_columns).to_string()),
        ("target".to_string(), pre.target.clone()),
    ];
    if let Some(steps) = &pre.steps {
        let inputs: Vec<serde_json::Value> = steps
            .columns
            .iter()
            .map(|c| json!({ "name": c.name, "type": if c.is_text() { "string" } else { "float" } }))
            .collect();
        props.push(("inputs".to_string(), json!(inputs).to_string()));
        props.push(("na_values".to_string(), json!(steps.na_values).to_string()));
    }
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
pub(super) fn python_snippet(task: Task, raw_columns: bool) -> String {
    let (name, output, labels, returns) = match task {
        Task::Classification => (
            "predict_proba",
            PROBABILITIES,
            "classes = json.loads(meta[\"classes\"])        # column k of the output is classes[k]\n",
            "n x classes probabilities",
        ),
        Task::Regression => ("predict", PREDICTION, "", "n predictions in the target's original units"),
    };
    if raw_columns {
        return format!(
            r#"import json
import numpy as np
import onnxruntime as ort

session = ort.InferenceSession("model.onnx", providers=["CPUExecutionProvider"])
meta = session.get_modelmeta().custom_metadata_map
inputs = json.loads(meta["inputs"])          # one input per raw column: name, "string" or "float"
na_values = json.loads(meta["na_values"])    # cells that mean "missing"
{labels}
def {name}(table):
    """table: {{column: list of raw cells}} (e.g. from csv.DictReader); returns {returns}."""
    def cell(x, kind):
        missing = x is None or (isinstance(x, str) and x.strip() in na_values)
        if kind == "string":
            return (na_values[0] if na_values else "") if missing else str(x).strip()
        return np.nan if missing else float(x)
    feed = {{c["name"]: np.array([[cell(x, c["type"])] for x in table[c["name"]]],
                                 dtype=object if c["type"] == "string" else np.float32) for c in inputs}}
    return session.run(["{output}"], feed)[0]
"#
        );
    }
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
    let layout = match &pre.steps {
        None => format!(
            "ONNX (IR {}, opset {}): input `{INPUT}` float32 [N, {features}] of raw feature rows, output {output}; \
             the standardization is inside the graph",
            onnx::IR_VERSION,
            onnx::OPSET
        ),
        Some(steps) => format!(
            "ONNX (IR {}, opset {}, {} opset {}): one input per raw column, [N, 1] each ({}), output {output}; \
             the fills, the one-hot encoding and the standardization are inside the graph",
            onnx::IR_VERSION,
            onnx::OPSET,
            onnx::ML_DOMAIN,
            onnx::ML_OPSET,
            steps
                .columns
                .iter()
                .map(|c| format!("`{}` {}", c.name, if c.is_text() { "string" } else { "float32, NaN if missing" }))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    json!({
        "file": "model.onnx",
        "layout": layout,
        "sha256": store::sha256_hex(bytes),
        "bytes": bytes.len(),
        "checkpoint_sha256": model.checkpoint_sha256,
    })
}
