//! `sweep export`: weights, preprocessing and a model card, for use outside sweep.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::{DeployError, LoadedModel};
use crate::metrics::Task;
use crate::store::{self, StoreError};

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
    let checkpoint_error =
        |message: String| DeployError::Checkpoint { path: model.dir.join(&model.meta.checkpoint), message };
    let weights = match layout {
        Layout::Burn => model.checkpoint.clone(),
        Layout::Pytorch => {
            let Some(bytes) = model.model().pytorch_weights() else {
                return Err(DeployError::Unsupported {
                    name: model.objective.name().to_string(),
                    what: "PyTorch layout (--layout pytorch)",
                });
            };
            let bytes = bytes.map_err(|e| checkpoint_error(e.to_string()))?;
            store::canonical_safetensors(&bytes).map_err(|e| checkpoint_error(e.to_string()))?
        }
    };
    let card = model_card(model, reference, layout, &store::sha256_hex(&weights));
    let markdown = model_card_markdown(&card);

    let mut written = Vec::new();
    let mut put = |name: &str, bytes: &[u8]| -> Result<(), DeployError> {
        let path = to.join(name);
        if let Err(source) = store::write_atomic(&path, bytes) {
            // Half an export (weights without their preprocessing or card) would pass for a whole
            // one: what this export wrote goes again, and the error says which file failed.
            for earlier in &written {
                let _ = std::fs::remove_file(earlier);
            }
            return Err(DeployError::Write { path, source });
        }
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

fn model_card(model: &LoadedModel, reference: &str, layout: Layout, weights_sha: &str) -> serde_json::Value {
    let pre = &model.preprocessing;
    let record = model.record.as_ref();
    let outputs = match pre.task {
        Task::Classification => json!({ "classes": pre.classes }),
        Task::Regression => json!({
            "target": pre.target,
            "target_scale": pre.target_scale,
            "units": "predictions in the target's original units: output * target_scale.std + target_scale.mean",
        }),
    };
    let split_kind = match pre.task {
        Task::Classification => "stratified",
        Task::Regression => "random",
    };
    json!({
        "model": reference,
        "objective": { "name": model.objective.name(), "version": model.objective.version() },
        "task": pre.task.as_str(),
        "architecture": {
            "layers": model.model().describe(),
            "inputs": pre.feature_columns.len(),
            "outputs": outputs,
        },
        "sweep": record.map(|r| r.sweep.clone()),
        "spec_hash": record.map(|r| r.spec_hash.clone()),
        "trial_id": model.meta.trial_id,
        "params": model.meta.params,
        "settings": model.meta.settings,
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
                "kind": split_kind,
                "valid_fraction": pre.valid_fraction,
                "seed": pre.split_seed,
                "valid_rows": pre.valid_rows.len(),
            },
            "standardization": "(x - means) / stds, fitted on the training split (preprocessing.json)",
        },
        "weights": {
            "file": "model.safetensors",
            "layout": match layout { Layout::Burn => "burn: as trained (Linear weights [in, out])", Layout::Pytorch => "pytorch: Linear weights [out, in]" },
            "sha256": weights_sha,
            "checkpoint_sha256": model.checkpoint_sha256,
        },
        "versions": { "sweep": env!("CARGO_PKG_VERSION"), "burn": "0.22.1" },
        "load_in_python": model.model().numpy_snippet(layout == Layout::Pytorch),
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
    let outputs = &card["architecture"]["outputs"];
    let predicts = match card["task"].as_str() {
        Some("regression") => format!("predicts `{}` (regression)", outputs["target"].as_str().unwrap_or("")),
        _ => format!("classes {}", outputs["classes"]),
    };
    let split = match card["data"]["split"]["kind"].as_str() {
        Some("stratified") => format!("stratified, {} of each class", card["data"]["split"]["valid_fraction"]),
        _ => format!("random, {} of the rows", card["data"]["split"]["valid_fraction"]),
    };
    let python = match card["load_in_python"].as_str() {
        Some(snippet) => format!("\n## Load it in Python\n\n```python\n{snippet}```\n"),
        None => String::new(),
    };
    format!(
        "# Model card: {model}\n\n\
         Objective `{objective}` (version {version}): {arch}, on `{data}` (sha256 `{sha}`), {n} input features, {predicts}.\n\n\
         - sweep `{sweep}` (spec {spec}), trial `{trial}`, seed {seed}\n\
         - checkpoint of epoch **{epoch}**, the best by {monitor}; its metrics on the validation split:\n\n\
         | metric | value |\n| --- | ---: |\n{metrics}\n\
         - validation split: {split}, seed {split_seed} ({vrows} rows)\n\
         - weights: `model.safetensors`, layout {layout}\n\
         - made by sweep {sv} with Burn {bv}\n\n\
         ## Params\n\n```json\n{params}\n```\n{python}",
        model = card["model"].as_str().unwrap_or(""),
        objective = card["objective"]["name"].as_str().unwrap_or(""),
        version = card["objective"]["version"].as_str().unwrap_or(""),
        arch = card["architecture"]["layers"].as_str().unwrap_or(""),
        data = card["data"]["path"].as_str().unwrap_or(""),
        sha = card["data"]["sha256"].as_str().unwrap_or(""),
        n = card["architecture"]["inputs"],
        sweep = card["sweep"].as_str().unwrap_or("?"),
        spec = card["spec_hash"].as_str().unwrap_or("?"),
        trial = card["trial_id"].as_str().unwrap_or(""),
        seed = card["seed"],
        epoch = card["best_epoch"],
        monitor = card["monitor"]["metric"].as_str().unwrap_or("the monitored metric"),
        split_seed = card["data"]["split"]["seed"],
        vrows = card["data"]["split"]["valid_rows"],
        layout = card["weights"]["layout"].as_str().unwrap_or(""),
        sv = card["versions"]["sweep"].as_str().unwrap_or(""),
        bv = card["versions"]["burn"].as_str().unwrap_or(""),
        params = pretty(&card["params"]),
    )
}
