//! `sweep export --format onnx` and `--layout pytorch`'s `model.py`, checked
//! from Python against `sweep predict` on the model's validation split:
//! model.onnx with onnxruntime (and the onnx checker), model.py with a
//! stand-in for `torch` written on numpy that loads a state dict as strictly
//! as torch does, so no torch install is needed.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::common::{SpecBuilder, data, python_with, read_csv, sweep, text};

fn ok(out: Output) -> String {
    assert!(out.status.success(), "stdout: {}\nstderr: {}", text(&out.stdout), text(&out.stderr));
    text(&out.stdout)
}

/// A one-trial sweep of a 2-layer MLP with dropout (which inference leaves out), 3 epochs;
/// writes `p.csv` (`predict --split valid`) and `rows.csv` (the same rows' raw features, in
/// the model's column order, from the data file); returns the model's folder.
fn trained(dir: &Path, task: &str) -> String {
    let (file, target, metric) = match task {
        "classification" => ("digits.csv", "target", "mcc"),
        _ => ("diabetes.csv", "progression", "rmse"),
    };
    SpecBuilder::new("x")
        .seed(3)
        .data_file(file)
        .target(target)
        .task(task)
        .metric(metric)
        .train("batch_size", 32)
        .values("hidden", [24])
        .values("layers", [2])
        .values("dropout", [0.2])
        .write(dir);
    ok(sweep(dir, &["run", "x.toml", "-q"]));
    let trial = read_csv(&dir.join("results/x/leaderboard.csv"))[0]["trial_id"].clone();
    let model = format!("results/x/trials/{trial}");
    ok(sweep(dir, &["predict", &model, "--split", "valid", "-o", "p.csv"]));

    let pre: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join(&model).join("preprocessing.json")).unwrap()).unwrap();
    let raw = read_csv(Path::new(&data(file)));
    let columns: Vec<&str> = pre["feature_columns"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    let mut rows = format!("{}\n", columns.join(","));
    for r in pre["valid_rows"].as_array().unwrap() {
        let row = &raw[r.as_u64().unwrap() as usize];
        rows.push_str(&format!("{}\n", columns.iter().map(|c| row[*c].as_str()).collect::<Vec<_>>().join(",")));
    }
    fs::write(dir.join("rows.csv"), rows).unwrap();
    model
}

/// Runs `script` with `py` in `dir`; returns its standard output.
fn run_python(py: &PathBuf, dir: &Path, script: &str) -> String {
    fs::write(dir.join("check.py"), script).unwrap();
    let run = Command::new(py).current_dir(dir).args(["check.py", "../rows.csv", "../p.csv"]).output().unwrap();
    assert!(run.status.success(), "{}{}", text(&run.stdout), text(&run.stderr));
    text(&run.stdout)
}

fn card(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(dir.join("model_card.json")).unwrap()).unwrap()
}

/// Checks model.onnx from Python: the onnx checker, its input and output, its metadata, and the
/// model card's own onnxruntime snippet on the validation rows against predict's output.
const ONNX_CHECK: &str = r#"
import csv, json, sys
import numpy as np
import onnx

model = onnx.load("model.onnx")
onnx.checker.check_model(model, full_check=True)
props = {p.key: p.value for p in model.metadata_props}
pre = json.load(open("preprocessing.json"))
assert json.loads(props["feature_names"]) == pre["feature_columns"], props
assert props["task"] == TASK, props
assert props["checkpoint_sha256"] == CHECKPOINT_SHA, props
assert props["trial_id"] == TRIAL, props
assert [o.domain for o in model.opset_import] == [""] and model.opset_import[0].version == 17

(inp,) = session.get_inputs()
(out,) = session.get_outputs()
assert (inp.name, inp.type, inp.shape) == ("features", "tensor(float)", ["N", len(features)]), inp
X = [[float(r[c]) for c in features] for r in csv.DictReader(open(sys.argv[1]))]
expected = list(csv.DictReader(open(sys.argv[2])))
assert len(X) == len(expected) > 50, (len(X), len(expected))
if TASK == "classification":
    assert json.loads(props["classes"]) == pre["classes"] == classes, props
    assert (out.name, out.type, out.shape) == ("probabilities", "tensor(float)", ["N", len(classes)]), out
    P = predict_proba(X)
    E = np.array([[float(e["prob_" + c]) for c in classes] for e in expected])
    worst = float(np.abs(P - E).max())
    assert P.shape == E.shape, (P.shape, E.shape)
    assert np.allclose(P.sum(axis=1), 1.0, atol=1e-5)
else:
    assert json.loads(props["target_scale"]) == pre["target_scale"], props
    assert (out.name, out.type, out.shape) == ("prediction", "tensor(float)", ["N"]), out
    P = predict(X)
    E = np.array([float(e["predicted"]) for e in expected])
    assert P.shape == E.shape, (P.shape, E.shape)
    worst = float((np.abs(P - E) / np.maximum(1.0, np.abs(E))).max())
print(worst)
assert worst <= 1e-5, worst
"#;

fn onnx_export_reproduces_predict(test: &str, task: &str) {
    let Some(py) = python_with(&["onnxruntime", "onnx", "numpy"]) else { return };
    let tmp = tempfile::tempdir().unwrap();
    let model = trained(tmp.path(), task);
    let files = ok(sweep(tmp.path(), &["export", &model, "--to", "onnx", "--format", "onnx"]));
    for f in ["model.onnx", "preprocessing.json", "model_card.json", "model_card.md"] {
        assert!(files.contains(f), "{files}");
    }
    assert!(!files.contains("model.safetensors"), "{files}");
    let dir = tmp.path().join("onnx");
    let card = card(&dir);
    assert_eq!(card["weights"]["file"], "model.onnx");
    assert_eq!(card["weights"]["bytes"], fs::metadata(dir.join("model.onnx")).unwrap().len());
    let md = fs::read_to_string(dir.join("model_card.md")).unwrap();
    assert!(md.contains("import onnxruntime as ort"), "{md}");
    let script = format!(
        "{}\nTASK = {:?}\nCHECKPOINT_SHA = {}\nTRIAL = {}\n{ONNX_CHECK}",
        card["load_in_python"].as_str().unwrap(),
        task,
        card["weights"]["checkpoint_sha256"],
        card["trial_id"],
    );
    let worst = run_python(&py, &dir, &script);
    eprintln!("{test}: largest difference from predict {}", worst.trim());

    // The same model exports to the same bytes.
    ok(sweep(tmp.path(), &["export", &model, "--to", "again", "--format", "onnx"]));
    assert_eq!(fs::read(dir.join("model.onnx")).unwrap(), fs::read(tmp.path().join("again/model.onnx")).unwrap());
}

#[test]
fn onnx_export_of_a_classifier_gives_predicts_probabilities_in_onnxruntime() {
    onnx_export_reproduces_predict(
        "onnx_export_of_a_classifier_gives_predicts_probabilities_in_onnxruntime",
        "classification",
    );
}

#[test]
fn onnx_export_of_a_regressor_gives_predicts_values_in_onnxruntime() {
    onnx_export_reproduces_predict("onnx_export_of_a_regressor_gives_predicts_values_in_onnxruntime", "regression");
}

/// `torch`, `torch.nn` and `safetensors.torch` as far as model.py and the card's loading lines
/// use them, on numpy: a state dict holds parameters and persistent buffers only, and
/// `load_state_dict(strict=True)` refuses missing or unexpected keys and any shape mismatch,
/// as torch does.
pub(crate) const FAKE_TORCH: &str = r#"
import contextlib, sys, types
import numpy as np
import safetensors.numpy

class Module:
    def __init__(self):
        for name in ("_parameters", "_buffers", "_modules"):
            object.__setattr__(self, name, {})
        object.__setattr__(self, "_persistent", set())

    def __setattr__(self, name, value):
        if isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def register_buffer(self, name, tensor, persistent=True):
        self._buffers[name] = tensor
        if persistent:
            self._persistent.add(name)
        object.__setattr__(self, name, tensor)

    def state_dict(self, prefix=""):
        out = {prefix + k: v for k, v in self._parameters.items()}
        out.update({prefix + k: v for k, v in self._buffers.items() if k in self._persistent})
        for name, child in self._modules.items():
            out.update(child.state_dict(prefix + name + "."))
        return out

    def load_state_dict(self, state, strict=True):
        own = self.state_dict()
        missing, unexpected = sorted(set(own) - set(state)), sorted(set(state) - set(own))
        if strict and (missing or unexpected):
            raise RuntimeError(f"missing keys {missing}, unexpected keys {unexpected}")
        for key, value in state.items():
            if key in own and own[key].shape != value.shape:
                raise RuntimeError(f"size mismatch for {key}: {value.shape} in the file, {own[key].shape} in the model")
            *path, leaf = key.split(".")
            module = self
            for p in path:
                module = module._modules[p]
            (module._parameters if leaf in module._parameters else module._buffers)[leaf] = value
            object.__setattr__(module, leaf, value)

    def eval(self):
        return self

    def __call__(self, *args):
        return self.forward(*args)

class Linear(Module):
    def __init__(self, n_in, n_out, bias=True):
        super().__init__()
        self._parameters["weight"] = np.zeros((n_out, n_in), np.float32)
        if bias:
            self._parameters["bias"] = np.zeros((n_out,), np.float32)

    def forward(self, x):
        y = x @ self._parameters["weight"].T
        return y + self._parameters["bias"] if "bias" in self._parameters else y

class ModuleList(Module):
    def __init__(self, modules=()):
        super().__init__()
        object.__setattr__(self, "_list", list(modules))
        for i, m in enumerate(self._list):
            self._modules[str(i)] = m

    def __iter__(self):
        return iter(self._list)

def softmax(x, dim):
    e = np.exp(x - x.max(axis=dim, keepdims=True))
    return e / e.sum(axis=dim, keepdims=True)

nn = types.ModuleType("torch.nn")
nn.Module, nn.Linear, nn.ModuleList = Module, Linear, ModuleList
torch = types.ModuleType("torch")
torch.nn, torch.float32 = nn, np.float32
torch.tensor = lambda data, dtype=None: np.asarray(data, dtype=dtype or np.float32)
torch.relu = lambda x: np.maximum(x, 0)
torch.softmax = softmax
torch.no_grad = contextlib.nullcontext
st = types.ModuleType("safetensors.torch")
st.load_file = safetensors.numpy.load_file
sys.modules.update({"torch": torch, "torch.nn": nn, "safetensors.torch": st})
"#;

/// Runs the card's loading lines on the validation rows and compares with predict.
const PYTORCH_CHECK: &str = r#"
import csv, json
from model import FEATURES, Model

file_keys = safetensors.numpy.load_file("model.safetensors")
declared = {k: v.shape for k, v in Model().state_dict().items()}
assert declared == {k: v.shape for k, v in file_keys.items()}, (declared, {k: v.shape for k, v in file_keys.items()})
assert FEATURES == json.load(open("preprocessing.json"))["feature_columns"]
rows = [[float(r[c]) for c in FEATURES] for r in csv.DictReader(open(sys.argv[1]))]
expected = list(csv.DictReader(open(sys.argv[2])))
assert len(rows) == len(expected) > 50
exec(LOADING_LINES)
if TASK == "classification":
    from model import CLASSES
    E = np.array([[float(e["prob_" + c]) for c in CLASSES] for e in expected])
    worst = float(np.abs(probabilities - E).max())
else:
    E = np.array([float(e["predicted"]) for e in expected])
    assert predictions.shape == E.shape, predictions.shape
    worst = float((np.abs(predictions - E) / np.maximum(1.0, np.abs(E))).max())
print(worst)
assert worst <= 1e-5, worst
"#;

fn pytorch_module_reproduces_predict(test: &str, task: &str) {
    let Some(py) = python_with(&["safetensors.numpy", "numpy"]) else { return };
    let tmp = tempfile::tempdir().unwrap();
    let model = trained(tmp.path(), task);
    let files = ok(sweep(tmp.path(), &["export", &model, "--to", "pt", "--layout", "pytorch"]));
    assert!(files.contains("model.py") && files.contains("model.safetensors"), "{files}");
    let dir = tmp.path().join("pt");
    let exported = card(&dir);
    let lines = exported["load_in_pytorch"].as_str().unwrap();
    assert_eq!(exported["pytorch_module"], "model.py");
    let md = fs::read_to_string(dir.join("model_card.md")).unwrap();
    assert!(md.contains("## Load it in PyTorch") && md.contains(lines), "{md}");
    assert!(lines.contains("strict=True"), "{lines}");
    let script = format!("{FAKE_TORCH}\nTASK = {task:?}\nLOADING_LINES = {lines:?}\n{PYTORCH_CHECK}");
    let worst = run_python(&py, &dir, &script);
    eprintln!("{test}: largest difference from predict {}", worst.trim());

    // The Burn layout has no PyTorch module to offer.
    let files = ok(sweep(tmp.path(), &["export", &model, "--to", "burn"]));
    assert!(!files.contains("model.py"), "{files}");
    assert!(card(&tmp.path().join("burn"))["load_in_pytorch"].is_null());
}

#[test]
fn pytorch_module_of_a_classifier_loads_the_weights_strictly_and_gives_predicts_probabilities() {
    pytorch_module_reproduces_predict(
        "pytorch_module_of_a_classifier_loads_the_weights_strictly_and_gives_predicts_probabilities",
        "classification",
    );
}

#[test]
fn pytorch_module_of_a_regressor_loads_the_weights_strictly_and_gives_predicts_values() {
    pytorch_module_reproduces_predict(
        "pytorch_module_of_a_regressor_loads_the_weights_strictly_and_gives_predicts_values",
        "regression",
    );
}

#[test]
fn onnx_with_a_layout_is_a_usage_error_that_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    // Refused before the model is even looked for.
    let out = sweep(
        tmp.path(),
        &["export", "results/x/trials/none", "--to", "out", "--format", "onnx", "--layout", "pytorch"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("--format onnx writes model.onnx, which has no layout"),
        "{}",
        text(&out.stderr)
    );
    assert!(!tmp.path().join("out").exists());
}
