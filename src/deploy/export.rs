//! `sweep export`: weights, preprocessing and a model card, for use outside sweep.

use std::path::{Path, PathBuf};

use serde_json::json;

use super::{DeployError, LoadedModel, onnx, pytorch};
use crate::metrics::Task;
use crate::store::{self, StoreError};

/// How weight matrices are laid out in the exported file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Layout {
    /// Burn's: `Linear` weights `[in, out]` (`y = x W + b`); the checkpoint as saved.
    Burn,
    /// PyTorch's: `Linear` weights `[out, in]` (`y = x Wᵀ + b`).
    Pytorch,
}

/// What `sweep export` writes the model as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// `model.safetensors`, the weights in the chosen layout (with `model.py` for `--layout pytorch`).
    Safetensors,
    /// `model.onnx`: raw feature rows in, probabilities or predictions out, the standardization inside.
    Onnx,
}

/// Writes the model (`model.safetensors`, plus `model.py` for the PyTorch
/// layout where the objective describes its module; or `model.onnx`),
/// `preprocessing.json`, `model_card.json` and `model_card.md` into `to`;
/// returns the files written.
pub(crate) fn export(
    model: &LoadedModel,
    reference: &str,
    to: &Path,
    layout: Layout,
    format: Format,
) -> Result<Vec<PathBuf>, DeployError> {
    let checkpoint_error =
        |message: String| DeployError::Checkpoint { path: model.dir.join(&model.meta.checkpoint), message };
    // Everything is built before the first write: a model that cannot be exported leaves `to` as it was.
    let mut files: Vec<(&str, Vec<u8>)> = Vec::new();
    let (file_card, python, pytorch) = match format {
        Format::Onnx => {
            let bytes = onnx::model_file(model, reference)?;
            let card = onnx::describe_file(&bytes, model);
            files.push(("model.onnx", bytes));
            (card, Some(onnx::python_snippet(model.task(), model.preprocessing.steps.is_some())), None)
        }
        Format::Safetensors => {
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
            let card = weights_card("model.safetensors", layout, &store::sha256_hex(&weights), model);
            let pytorch = (layout == Layout::Pytorch).then(|| match model.model().pytorch_module() {
                Some(network) => {
                    files.push(("model.py", pytorch::model_py(model, reference, &network).into_bytes()));
                    PytorchCard::Module(pytorch::loading_lines(model.task(), model.preprocessing.steps.is_some()))
                }
                None => PytorchCard::NoModule(pytorch::no_module_note(model.objective.name(), &weights)),
            });
            files.insert(0, ("model.safetensors", weights));
            (card, model.model().numpy_snippet(layout == Layout::Pytorch), pytorch)
        }
    };
    let card = model_card(model, reference, file_card, python, pytorch.as_ref());
    let markdown = model_card_markdown(&card);
    let pre = serde_json::to_vec_pretty(&model.preprocessing)
        .map_err(|e| StoreError::Parse { path: to.join("preprocessing.json"), message: e.to_string() })?;
    let card_bytes = serde_json::to_vec_pretty(&card)
        .map_err(|e| StoreError::Parse { path: to.join("model_card.json"), message: e.to_string() })?;
    files.extend([
        ("preprocessing.json", pre),
        ("model_card.json", card_bytes),
        ("model_card.md", markdown.into_bytes()),
    ]);

    std::fs::create_dir_all(to).map_err(|source| DeployError::Write { path: to.to_path_buf(), source })?;
    let mut written = Vec::new();
    for (name, bytes) in files {
        let path = to.join(name);
        if let Err(source) = store::write_atomic(&path, &bytes) {
            // Half an export (weights without their preprocessing or card) would pass for a whole
            // one: what this export wrote goes again, and the error says which file failed.
            for earlier in &written {
                let _ = std::fs::remove_file(earlier);
            }
            return Err(DeployError::Write { path, source });
        }
        written.push(path);
    }
    Ok(written)
}

/// `model_card.json` and `model_card.md` of a model whose weights travel as its
/// checkpoint file (`best.safetensors`, Burn's layout), for publishing a trial
/// folder as it is (`sweep mlflow push`).
pub(crate) fn model_card_files(model: &LoadedModel, reference: &str) -> (Vec<u8>, String) {
    let file = weights_card(&model.meta.checkpoint, Layout::Burn, &model.checkpoint_sha256, model);
    let card = model_card(model, reference, file, model.model().numpy_snippet(false), None);
    (serde_json::to_vec_pretty(&card).unwrap_or_default(), model_card_markdown(&card))
}

/// The card's `weights` entry for a safetensors file of `layout` whose bytes hash to `sha256`.
fn weights_card(file: &str, layout: Layout, sha256: &str, model: &LoadedModel) -> serde_json::Value {
    json!({
        "file": file,
        "layout": match layout { Layout::Burn => "burn: as trained (Linear weights [in, out])", Layout::Pytorch => "pytorch: Linear weights [out, in]" },
        "sha256": sha256,
        "checkpoint_sha256": model.checkpoint_sha256,
    })
}

/// What the model card says about loading the model in PyTorch.
enum PytorchCard {
    /// `model.py` was written; these lines load it.
    Module(String),
    /// The objective describes no module: what the card says instead.
    NoModule(String),
}

fn model_card(
    model: &LoadedModel,
    reference: &str,
    file: serde_json::Value,
    python: Option<String>,
    pytorch: Option<&PytorchCard>,
) -> serde_json::Value {
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
    let mut card = json!({
        "model": reference,
        "objective": { "name": model.objective.name(), "version": model.objective.version() },
        "trained_on": record.and_then(|r| r.device.as_ref()),
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
        "weights": file,
        "versions": { "sweep": env!("CARGO_PKG_VERSION"), "burn": "0.22.1" },
        "load_in_python": python,
        "load_in_pytorch": match pytorch {
            Some(PytorchCard::Module(lines)) => json!(lines),
            _ => serde_json::Value::Null,
        },
        "pytorch_module": match pytorch {
            Some(PytorchCard::Module(_)) => json!("model.py"),
            Some(PytorchCard::NoModule(note)) => json!(note),
            None => serde_json::Value::Null,
        },
    });
    // Only models with steps list them, so earlier cards stay byte for byte the same.
    if let Some(steps) = &pre.steps {
        let lines: Vec<String> = steps.columns.iter().map(|c| c.describe()).collect();
        card["data"]["steps"] = json!(lines);
        card["data"]["na_values"] = json!(steps.na_values);
        card["data"]["unseen"] = json!(steps.unseen.as_str());
    }
    card
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
    let mut python = match card["load_in_python"].as_str() {
        Some(snippet) => format!("\n## Load it in Python\n\n```python\n{snippet}```\n"),
        None => String::new(),
    };
    match (card["load_in_pytorch"].as_str(), card["pytorch_module"].as_str()) {
        (Some(lines), _) => python.push_str(&format!(
            "\n## Load it in PyTorch\n\n`model.py` defines `Model`, whose `state_dict` keys and shapes are exactly \
             those of `model.safetensors`; it standardizes raw rows itself:\n\n```python\n{lines}```\n"
        )),
        (None, Some(note)) => python.push_str(&format!("\n## Load it in PyTorch\n\n{note}\n")),
        (None, None) => {}
    }
    if let Some(steps) = card["data"]["steps"].as_array() {
        let lines: String = steps.iter().filter_map(|s| s.as_str()).map(|s| format!("- {s}\n")).collect();
        python.insert_str(
            0,
            &format!(
                "\n## Preprocessing steps\n\nLearned on the training rows only, applied in this order before the \
                 standardization by `predict`, `model.onnx` and `model.py` alike. Missing cells are {na}; a category \
                 the training rows never had: {unseen}.\n\n{lines}",
                na = card["data"]["na_values"],
                unseen = match card["data"]["unseen"].as_str() {
                    Some("error") => "an error",
                    _ => "all-zero indicators and a warning",
                },
            ),
        );
    }
    format!(
        "# Model card: {model}\n\n\
         Objective `{objective}` (version {version}): {arch}, on `{data}` (sha256 `{sha}`), {n} input features, {predicts}.\n\n\
         - sweep `{sweep}` (spec {spec}), trial `{trial}`, seed {seed}\n\
         - trained on {device}\n\
         - checkpoint of epoch **{epoch}**, the best by {monitor}; its metrics on the validation split:\n\n\
         | metric | value |\n| --- | ---: |\n{metrics}\n\
         - validation split: {split}, seed {split_seed} ({vrows} rows)\n\
         - weights: `{file}`, layout {layout}\n\
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
        device = serde_json::from_value::<crate::device::DeviceInfo>(card["trained_on"].clone())
            .map_or_else(|_| "the CPU (the record names no device)".to_string(), |d| d.label()),
        epoch = card["best_epoch"],
        monitor = card["monitor"]["metric"].as_str().unwrap_or("the monitored metric"),
        split_seed = card["data"]["split"]["seed"],
        vrows = card["data"]["split"]["valid_rows"],
        file = card["weights"]["file"].as_str().unwrap_or(""),
        layout = card["weights"]["layout"].as_str().unwrap_or(""),
        sv = card["versions"]["sweep"].as_str().unwrap_or(""),
        bv = card["versions"]["burn"].as_str().unwrap_or(""),
        params = pretty(&card["params"]),
    )
}
