//! `export --layout pytorch`: `model.py`, the objective's `nn.Module`
//! ([`crate::objective::Model::pytorch_module`]) under a subclass that adds
//! sweep's standardization and output head, so `Model()(rows)` gives what
//! `sweep predict` writes and `load_state_dict(..., strict=True)` takes the
//! exported file as it is.

use serde_json::json;

use super::LoadedModel;
use crate::data::Steps;
use crate::metrics::Task;

/// The lines that load the exported model in PyTorch (model card and `model.py`'s docstring).
pub(super) fn loading_lines(task: Task, raw_columns: bool) -> String {
    let result = match task {
        Task::Classification => "probabilities",
        Task::Regression => "predictions",
    };
    if raw_columns {
        return format!(
            r#"import torch
from safetensors.torch import load_file
from model import Model, encode

model = Model()
model.load_state_dict(load_file("model.safetensors"), strict=True)
model.eval()
with torch.no_grad():
    {result} = model(encode(table))  # table: {{column: list of raw cells}} for each column of INPUTS
"#
        );
    }
    format!(
        r#"import torch
from safetensors.torch import load_file
from model import Model

model = Model()
model.load_state_dict(load_file("model.safetensors"), strict=True)
model.eval()
with torch.no_grad():
    {result} = model(torch.tensor(rows, dtype=torch.float32))  # rows: raw features, columns in FEATURES order
"#
    )
}

/// The source of `model.py`: the objective's `Network` (`network`) and sweep's `Model` around it.
pub(super) fn model_py(model: &LoadedModel, reference: &str, network: &str) -> String {
    let pre = &model.preprocessing;
    let stds: Vec<f64> = pre.stds.iter().map(|&s| if s > 0.0 && s.is_finite() { s } else { 1.0 }).collect();
    let (labels, returns, head) = match pre.task {
        Task::Classification => (
            format!(
                "# Column k of Model's output is the probability of CLASSES[k].\nCLASSES = {}\n",
                json!(pre.classes)
            ),
            "class probabilities",
            "return torch.softmax(outputs, dim=1)".to_string(),
        ),
        Task::Regression => {
            let scale = pre.scale();
            (
                format!(
                    "# The network predicts (target - TARGET_MEAN) / TARGET_STD, fitted on the training split.\n\
                     TARGET = {}\nTARGET_MEAN = {}\nTARGET_STD = {}\n",
                    json!(pre.target),
                    json!(scale.mean),
                    json!(scale.std)
                ),
                "predictions in the target's original units",
                "return outputs[:, 0] * TARGET_STD + TARGET_MEAN".to_string(),
            )
        }
    };
    let docstring_lines: String = loading_lines(pre.task, pre.steps.is_some())
        .lines()
        .map(|l| format!("    {l}\n").replace("    \n", "\n"))
        .collect();
    format!(
        r#""""{reference}: objective {objective} (version {version}), trial {trial}, exported by sweep {sweep_version}.

Load it from this folder (PyTorch and safetensors installed):

{docstring_lines}"""

import torch
from torch import nn

# The input's columns, in order.
FEATURES = {features}
{labels}{steps}# Standardization fitted on the training split (preprocessing.json).
FEATURE_MEANS = {means}
FEATURE_STDS = {stds}


{network}


class Model(Network):
    """Network with sweep's preprocessing and head: raw feature rows in, {returns} out, as `sweep predict` computes them."""

    def __init__(self):
        super().__init__()
        # Not persistent: state_dict() holds exactly the keys of model.safetensors, so strict loading works.
        self.register_buffer("feature_means", torch.tensor(FEATURE_MEANS, dtype=torch.float32), persistent=False)
        self.register_buffer("feature_stds", torch.tensor(FEATURE_STDS, dtype=torch.float32), persistent=False)

    def forward(self, features):
        outputs = super().forward((features - self.feature_means) / self.feature_stds)
        {head}
"#,
        objective = model.objective.name(),
        version = model.objective.version(),
        trial = model.meta.trial_id,
        sweep_version = env!("CARGO_PKG_VERSION"),
        features = json!(pre.feature_columns),
        means = json!(pre.means),
        stds = json!(stds),
        network = network.trim_end(),
        steps = pre.steps.as_ref().map(steps_py).unwrap_or_default(),
    )
}

/// `INPUTS`, `STEPS` and `encode`: the stored steps in Python, raw columns to `FEATURES` rows.
fn steps_py(steps: &Steps) -> String {
    let inputs: Vec<&str> = steps.columns.iter().map(|c| c.name.as_str()).collect();
    format!(
        r#"# The raw columns encode() reads, and the steps learned on the training rows (preprocessing.json).
INPUTS = {inputs}
STEPS = {columns}
NA_VALUES = {na_values}
UNSEEN = {unseen}


def encode(table):
    """Raw columns to the FEATURES rows Model takes, as `sweep predict` computes them.

    table: {{column: list of cells}} for each column of INPUTS; a cell that is None, NaN or one of
    NA_VALUES is missing and takes the fill learned on the training rows; a category the training
    rows never had gives all-zero indicators (a warning counts the rows), or an error with UNSEEN = "error".
    """
    import warnings

    columns = []
    for step in STEPS:
        name, out, unseen = step["name"], [], 0
        for x in table[name]:
            missing = x is None or (isinstance(x, float) and x != x) or (isinstance(x, str) and x.strip() in NA_VALUES)
            if missing and step.get("fill") is None:
                raise ValueError(f"column {{name!r}}: a missing cell, and the model learned no fill for it (missing = {{step['missing']!r}})")
            if step["kind"] == "numeric":
                out.append([float(step["fill"]) if missing else float(x)])
            else:
                value = step["fill"] if missing else str(x).strip()
                if value not in step["categories"]:
                    if UNSEEN == "error":
                        raise ValueError(f"column {{name!r}}: {{value!r}} is a category the training rows never had")
                    unseen += 1
                out.append([1.0 if value == c else 0.0 for c in step["categories"]])
        if unseen:
            warnings.warn(f"{{unseen}} row(s) have a {{name!r}} category the training rows never had: its indicators are all zero")
        columns.append(out)
    rows = [sum((column[i] for column in columns), []) for i in range(len(columns[0]) if columns else 0)]
    return torch.tensor(rows, dtype=torch.float32)
"#,
        inputs = json!(inputs),
        columns = json!(steps.columns),
        na_values = json!(steps.na_values),
        unseen = json!(steps.unseen.as_str()),
    )
}

/// What the model card says when the objective describes no module: the keys
/// and shapes a user's own module must have for strict loading.
pub(super) fn no_module_note(objective: &str, weights: &[u8]) -> String {
    let keys: Vec<String> = safetensors_keys(weights).iter().map(|(k, shape)| format!("`{k}` {shape:?}")).collect();
    format!(
        "objective \"{objective}\" describes no PyTorch module (Model::pytorch_module), so no model.py was written; \
         an nn.Module whose state_dict has exactly these keys and shapes loads model.safetensors with strict=True: {}",
        keys.join(", ")
    )
}

/// Each tensor's key and shape in a safetensors file, in key order.
pub(super) fn safetensors_keys(bytes: &[u8]) -> Vec<(String, Vec<u64>)> {
    let header = crate::store::safetensors_parts(bytes).map(|(header, _)| header);
    let Some(Ok(serde_json::Value::Object(map))) = header.map(serde_json::from_slice::<serde_json::Value>) else {
        return Vec::new();
    };
    map.iter()
        .filter(|(k, _)| k.as_str() != "__metadata__")
        .map(|(k, v)| {
            let shape =
                v["shape"].as_array().map(|s| s.iter().filter_map(|d| d.as_u64()).collect()).unwrap_or_default();
            (k.clone(), shape)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(header: &str) -> Vec<u8> {
        let mut v = (header.len() as u64).to_le_bytes().to_vec();
        v.extend_from_slice(header.as_bytes());
        v.extend_from_slice(&[0; 24]);
        v
    }

    #[test]
    fn the_note_lists_every_tensor_with_its_shape_but_not_the_metadata() {
        let bytes = file(
            r#"{"__metadata__":{"epoch":"3"},"out.weight":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"out.bias":{"dtype":"F32","shape":[2],"data_offsets":[16,24]}}"#,
        );
        assert_eq!(
            safetensors_keys(&bytes),
            [("out.bias".to_string(), vec![2]), ("out.weight".to_string(), vec![2, 2])]
        );
        let note = no_module_note("cnn", &bytes);
        assert!(note.starts_with("objective \"cnn\" describes no PyTorch module"), "{note}");
        assert!(note.ends_with("`out.bias` [2], `out.weight` [2, 2]"), "{note}");
        assert!(safetensors_keys(b"short").is_empty());
    }
}
