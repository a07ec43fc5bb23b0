//! `sweep export`: weights, preprocessing and a model card, for use outside sweep.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::{DeployError, LoadedModel};
use crate::objective::mlp::pytorch_layout_bytes;
use crate::store::{self, StoreError, TrialRecord, names};

/// How weight matrices are laid out in the exported file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Layout {
    /// Burn's: `Linear` weights `[in, out]` (`y = x W + b`); the checkpoint as saved.
    Burn,
    /// PyTorch's: `Linear` weights `[out, in]` (`y = x Wᵀ + b`).
    Pytorch,
}

/// Writes `model.safetensors`, `preprocessing.json`, `model_card.json` and
/// `model_card.md` into `to`; returns the files written.
pub fn export(model: &LoadedModel, reference: &str, to: &Path, layout: Layout) -> Result<Vec<PathBuf>, DeployError> {
    std::fs::create_dir_all(to).map_err(|source| DeployError::Write { path: to.to_path_buf(), source })?;
    let weights = match layout {
        Layout::Burn => model.checkpoint.clone(),
        Layout::Pytorch => {
            let bytes = pytorch_layout_bytes(model.mlp()).map_err(|e| DeployError::Checkpoint {
                path: model.dir.join(&model.meta.checkpoint),
                message: e.to_string(),
            })?;
            store::canonical_safetensors(&bytes).map_err(|e| DeployError::Checkpoint {
                path: model.dir.join(&model.meta.checkpoint),
                message: e.to_string(),
            })?
        }
    };
    let record: Option<TrialRecord> = store::read_json(&model.dir.join(names::RECORD)).ok();
    let card = model_card(model, reference, layout, &store::sha256_hex(&weights), record.as_ref());
    let markdown = model_card_markdown(&card);

    let mut written = Vec::new();
    let mut put = |name: &str, bytes: &[u8]| -> Result<(), DeployError> {
        let path = to.join(name);
        store::write_atomic(&path, bytes).map_err(|source| DeployError::Write { path: path.clone(), source })?;
        written.push(path);
        Ok(())
    };
    put("model.safetensors", &weights)?;
    let pre = serde_json::to_vec_pretty(&model.preprocessing)
        .map_err(|e| StoreError::Parse { path: to.join("preprocessing.json"), message: e.to_string() })?;
    put("preprocessing.json", &pre)?;
    let card_bytes = serde_json::to_vec_pretty(&card)
        .map_err(|e| StoreError::Parse { path: to.join("model_card.json"), message: e.to_string() })?;
    put("model_card.json", &card_bytes)?;
    put("model_card.md", markdown.as_bytes())?;
    Ok(written)
}

fn python_snippet(layout: Layout, layers: usize) -> String {
    let t = if layout == Layout::Pytorch { ".T" } else { "" };
    format!(
        r#"import json
import numpy as np
from safetensors.numpy import load_file

w = load_file("model.safetensors")
pre = json.load(open("preprocessing.json"))

def predict_proba(rows):
    """rows: n x features, columns in pre["feature_columns"] order, raw (unstandardized) values."""
    h = (np.asarray(rows, dtype=np.float64) - pre["means"]) / pre["stds"]
    for i in range({layers}):
        h = np.maximum(h @ w[f"hidden.{{i}}.weight"]{t} + w[f"hidden.{{i}}.bias"], 0.0)
    z = h @ w["out.weight"]{t} + w["out.bias"]
    z = np.exp(z - z.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)   # column k is the probability of pre["classes"][k]
"#
    )
}

fn model_card(
    model: &LoadedModel,
    reference: &str,
    layout: Layout,
    weights_sha: &str,
    record: Option<&TrialRecord>,
) -> serde_json::Value {
    let pre = &model.preprocessing;
    let s = &model.meta.settings;
    json!({
        "model": reference,
        "architecture": {
            "kind": "MLP classifier",
            "layers": format!("{} x [Linear({}), ReLU, Dropout({})], then Linear({})", s.layers, s.hidden, s.dropout, pre.classes.len()),
            "inputs": pre.feature_columns.len(),
            "classes": pre.classes,
        },
        "sweep": record.map(|r| r.sweep.clone()),
        "spec_hash": record.map(|r| r.spec_hash.clone()),
        "trial_id": model.meta.trial_id,
        "params": model.meta.params,
        "settings": s,
        "seed": model.meta.seed,
        "best_epoch": model.meta.epoch,
        "monitor": record.map(|r| r.monitor.clone()),
        "metrics": model.meta.metrics,
        "data": {
            "path": pre.data_path,
            "sha256": pre.data_fingerprint,
            "target": pre.target,
            "features": pre.feature_columns,
            "split": {
                "kind": "stratified",
                "valid_fraction": pre.valid_fraction,
                "seed": pre.split_seed,
                "valid_rows": pre.valid_rows.len(),
            },
            "standardization": "(x - means) / stds, fitted on the training split (preprocessing.json)",
        },
        "weights": {
            "file": "model.safetensors",
            "layout": match layout { Layout::Burn => "burn: Linear weights [in, out]", Layout::Pytorch => "pytorch: Linear weights [out, in]" },
            "sha256": weights_sha,
            "checkpoint_sha256": model.checkpoint_sha256,
        },
        "versions": { "sweep": env!("CARGO_PKG_VERSION"), "burn": "0.22.1" },
        "load_in_python": python_snippet(layout, s.layers),
    })
}

fn model_card_markdown(card: &serde_json::Value) -> String {
    let pretty = |v: &serde_json::Value| serde_json::to_string_pretty(v).unwrap_or_default();
    let mut metrics = String::new();
    if let Some(m) = card["metrics"].as_object() {
        for (k, v) in m {
            metrics.push_str(&format!("| {k} | {} |\n", v.as_f64().map(|x| format!("{x:.6}")).unwrap_or_default()));
        }
    }
    format!(
        "# Model card: {model}\n\n\
         {arch} on `{data}` (sha256 `{sha}`), {n} input features, classes {classes}.\n\n\
         - sweep `{sweep}` (spec {spec}), trial `{trial}`, seed {seed}\n\
         - checkpoint of epoch **{epoch}**, the best by {monitor}; its metrics on the validation split:\n\n\
         | metric | value |\n| --- | ---: |\n{metrics}\n\
         - validation split: stratified, {vf} of each class, seed {split_seed} ({vrows} rows)\n\
         - weights: `model.safetensors`, layout {layout}\n\
         - made by sweep {sv} with Burn {bv}\n\n\
         ## Params\n\n```json\n{params}\n```\n\n## Load it in Python\n\n```python\n{snippet}```\n",
        model = card["model"].as_str().unwrap_or(""),
        arch = card["architecture"]["layers"].as_str().unwrap_or(""),
        data = card["data"]["path"].as_str().unwrap_or(""),
        sha = card["data"]["sha256"].as_str().unwrap_or(""),
        n = card["architecture"]["inputs"],
        classes = card["architecture"]["classes"],
        sweep = card["sweep"].as_str().unwrap_or("?"),
        spec = card["spec_hash"].as_str().unwrap_or("?"),
        trial = card["trial_id"].as_str().unwrap_or(""),
        seed = card["seed"],
        epoch = card["best_epoch"],
        monitor = card["monitor"]["metric"].as_str().unwrap_or("the monitored metric"),
        vf = card["data"]["split"]["valid_fraction"],
        split_seed = card["data"]["split"]["seed"],
        vrows = card["data"]["split"]["valid_rows"],
        layout = card["weights"]["layout"].as_str().unwrap_or(""),
        sv = card["versions"]["sweep"].as_str().unwrap_or(""),
        bv = card["versions"]["burn"].as_str().unwrap_or(""),
        params = pretty(&card["params"]),
        snippet = card["load_in_python"].as_str().unwrap_or(""),
    )
}
