//! A real table (`data/titanic.csv`: text categories, empty ages, a name
//! column) through `sweeps/titanic.toml`: the steps learned on the training
//! rows checked against scikit-learn, the messages for empty cells, left-out
//! targets, identifiers and too many categories, and `predict` on raw rows
//! against `model.onnx` in onnxruntime and `model.py`.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use crate::common::{data, python_with, read_csv, sweep, text};
use crate::export_formats::FAKE_TORCH;

const SPEC: &str = include_str!("../../sweeps/titanic.toml");

/// The bundled spec on `file`, with `edit` applied (the first line starting
/// with a key is replaced; a key not there is added to `[data]`), and a short
/// grid for a test's time.
fn spec(dir: &Path, file: &str, edit: &[(&str, &str)]) {
    let mut done = vec![false; edit.len()];
    let mut lines: Vec<String> = SPEC
        .lines()
        .map(|l| {
            let l = l.replace("data/titanic.csv", file);
            match edit.iter().position(|(key, _)| l.starts_with(&format!("{key} "))) {
                Some(k) if !done[k] => {
                    done[k] = true;
                    edit[k].1.to_string()
                }
                _ => l,
            }
        })
        .collect();
    for ((_, line), done) in edit.iter().zip(done) {
        if !done {
            let at = lines.iter().position(|l| l == "[metric]").unwrap();
            lines.insert(at - 1, line.to_string());
        }
    }
    let text = lines.join("\n").replace("[0.003, 0.01]", "[0.01]").replace("[16, 64]", "[16]").replace("[1, 2]", "[1]");
    fs::write(dir.join("t.toml"), text.replace("epochs = 40", "epochs = 8")).unwrap();
}

fn ok(out: Output) -> String {
    assert!(out.status.success(), "stdout: {}\nstderr: {}", text(&out.stdout), text(&out.stderr));
    text(&out.stdout) + &text(&out.stderr)
}

fn failed(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(2), "stdout: {}\nstderr: {}", text(&out.stdout), text(&out.stderr));
    text(&out.stderr)
}

/// The one trial folder of the sweep `name`.
fn only_trial(dir: &Path, name: &str) -> String {
    let board = read_csv(&dir.join(format!("results/{name}/leaderboard.csv")));
    format!("results/{name}/trials/{}", board[0]["trial_id"])
}

/// Recomputes, with pandas and scikit-learn, what every preprocessing file of
/// the sweep learned: the training rows are the data rows in neither its
/// validation nor its test split; `SimpleImputer` and `OneHotEncoder(handle_unknown="ignore")`
/// fitted on them give its fills and categories, and `StandardScaler` on the
/// imputed training rows its means and stds. Prints how many files it checked.
const SKLEARN_CHECK: &str = r#"
import json, sys
from pathlib import Path
import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

data = pd.read_csv(sys.argv[1], keep_default_na=False, na_values=["", "NA", "NaN", "null"])
checked = 0
for path in sorted(Path(sys.argv[2]).glob("preprocessing*.json")):
    pre = json.load(open(path))
    steps = pre["steps"]["columns"]
    held = set(pre["valid_rows"]) | set(pre.get("test", {}).get("rows", []))
    train = data.iloc[[r for r in range(len(data)) if r not in held]]
    encoded = []
    for step in steps:
        column = train[[step["name"]]]
        if step["kind"] == "numeric":
            strategy = step["missing"]
            if strategy in ("mean", "median", "most_frequent"):
                fill = SimpleImputer(strategy=strategy).fit(column).statistics_[0]
                assert abs(fill - step["fill"]) < 1e-9, (path.name, step, fill)
                column = pd.DataFrame(SimpleImputer(strategy=strategy).fit_transform(column))
            encoded.append(column.to_numpy(dtype=float))
        else:
            enc = OneHotEncoder(handle_unknown="ignore").fit(column.astype(str))
            assert list(enc.categories_[0]) == step["categories"], (path.name, step, enc.categories_)
            encoded.append(enc.transform(column.astype(str)).toarray())
    X = np.hstack(encoded)
    scaler = StandardScaler().fit(X)
    indicator = np.concatenate([[s["kind"] == "categorical"] * (len(s["categories"]) if s["kind"] == "categorical" else 1) for s in steps])
    means = np.where(indicator, 0.0, scaler.mean_)
    stds = np.where(indicator, 1.0, np.where(scaler.scale_ > 0, scaler.scale_, 1.0))
    assert np.allclose(means, pre["means"], rtol=1e-12, atol=1e-12), (path.name, means, pre["means"])
    assert np.allclose(stds, pre["stds"], rtol=1e-12, atol=1e-12), (path.name, stds, pre["stds"])
    # The leakage guard: the same statistics over every row differ, so they were not used.
    everything = SimpleImputer(strategy="mean").fit(data[["age"]]).statistics_[0]
    assert abs(everything - SimpleImputer(strategy="mean").fit(train[["age"]]).statistics_[0]) > 1e-6
    checked += 1
print(checked)
"#;

#[test]
fn the_bundled_table_learns_its_steps_on_the_training_rows_as_scikit_learn_does() {
    let Some(py) = python_with(&["sklearn", "pandas", "numpy"]) else { return };
    let tmp = tempfile::tempdir().unwrap();
    let file = data("titanic.csv");
    spec(tmp.path(), &file, &[]);
    let out = ok(sweep(tmp.path(), &["run", "t.toml"]));
    assert!(!out.contains("left out"), "{out}");
    let sweep_dir = tmp.path().join("results/titanic");
    let pre: serde_json::Value =
        serde_json::from_slice(&fs::read(sweep_dir.join("preprocessing.json")).unwrap()).unwrap();
    assert_eq!(
        pre["feature_columns"],
        serde_json::json!([
            "sex=female",
            "sex=male",
            "age",
            "passengerClass=1st",
            "passengerClass=2nd",
            "passengerClass=3rd"
        ])
    );
    let check = |dir: &Path| {
        let run = Command::new(&py).args(["-c", SKLEARN_CHECK, &file, &dir.display().to_string()]).output().unwrap();
        assert!(run.status.success(), "{}{}", text(&run.stdout), text(&run.stderr));
        text(&run.stdout).trim().parse::<usize>().unwrap()
    };
    assert_eq!(check(&sweep_dir), 1);

    // With cross-validation, each fold learns from its own training rows; mean ages and
    // most frequent categories too.
    spec(
        tmp.path(),
        &file,
        &[("name", "name = \"titanic-cv\""), ("missing", "missing = \"mean\""), ("cv_folds", "cv_folds = 3")],
    );
    ok(sweep(tmp.path(), &["run", "t.toml", "-q"]));
    let cv = tmp.path().join("results/titanic-cv");
    assert_eq!(check(&cv), 4, "the main file and one per fold");
    let fills: Vec<f64> = (1..=3)
        .map(|k| {
            let p: serde_json::Value =
                serde_json::from_slice(&fs::read(cv.join(format!("preprocessing-fold-{k}.json"))).unwrap()).unwrap();
            p["steps"]["columns"][1]["fill"].as_f64().unwrap()
        })
        .collect();
    assert!(fills[0] != fills[1] && fills[1] != fills[2], "each fold its own mean age: {fills:?}");
}

#[test]
fn an_empty_cell_without_a_policy_names_the_file_line_column_and_the_policies_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let file = data("titanic.csv");
    spec(tmp.path(), &file, &[("missing", "")]);
    let err = failed(&sweep(tmp.path(), &["run", "t.toml"]));
    assert_eq!(
        err.trim(),
        format!(
            "error: {file}:17: column \"age\": the cell is missing (empty); [data] missing = \"error\" (the default) \
             stops here; set [data] missing to \"drop_rows\", \"mean\", \"median\" or \"most_frequent\", or for this \
             column only missing = {{ age = \"median\" }}, or leave the column out with [data] drop = [\"age\"]"
        )
    );
    assert!(!tmp.path().join("results").exists(), "nothing written");

    // drop_rows leaves those rows out, counted in the output and splits.json.
    spec(tmp.path(), &file, &[("missing", "missing = \"drop_rows\"")]);
    let out = ok(sweep(tmp.path(), &["run", "t.toml"]));
    assert!(
        out.contains("263 row(s) left out: a missing cell in a column with missing = \"drop_rows\" (line 17, "),
        "{out}"
    );
    let splits: serde_json::Value =
        serde_json::from_slice(&fs::read(tmp.path().join("results/titanic/splits.json")).unwrap()).unwrap();
    assert_eq!(splits["left_out"], serde_json::json!({ "missing_target": 0, "missing_cells": 263 }));
    let rows: u64 = splits["parts"].as_array().unwrap().iter().map(|p| p["rows"].as_u64().unwrap()).sum();
    assert_eq!(rows, 1309 - 263);
}

#[test]
fn rows_without_a_target_are_left_out_and_counted_never_imputed() {
    let tmp = tempfile::tempdir().unwrap();
    let original = fs::read_to_string(data("titanic.csv")).unwrap();
    // Blank the target of every 10th passenger, or write NA.
    let mut blanked = 0;
    let edited: Vec<String> = original
        .lines()
        .enumerate()
        .map(|(i, line)| {
            if i == 0 || i % 10 != 0 {
                return line.to_string();
            }
            blanked += 1;
            let marker = if i % 20 == 0 { "NA" } else { "" };
            line.replacen(",yes,", &format!(",{marker},"), 1).replacen(",no,", &format!(",{marker},"), 1)
        })
        .collect();
    fs::write(tmp.path().join("t.csv"), edited.join("\n") + "\n").unwrap();
    spec(tmp.path(), "t.csv", &[]);
    let out = ok(sweep(tmp.path(), &["run", "t.toml"]));
    assert!(
        out.contains(&format!(
            "{blanked} row(s) left out: the target \"survived\" is missing (line 11, 21, 31, 41, 51, …)"
        )),
        "{out}"
    );
    let splits: serde_json::Value =
        serde_json::from_slice(&fs::read(tmp.path().join("results/titanic/splits.json")).unwrap()).unwrap();
    assert_eq!(splits["left_out"]["missing_target"], blanked);
    let rows: u64 = splits["parts"].as_array().unwrap().iter().map(|p| p["rows"].as_u64().unwrap()).sum();
    assert_eq!(rows, 1309 - blanked);
    // The model's own split is rebuilt from the same file, with the same rows left out.
    let model = only_trial(tmp.path(), "titanic");
    ok(sweep(tmp.path(), &["verify", &model]));
}

#[test]
fn identifier_columns_warn_and_too_many_categories_are_an_error_naming_them() {
    let tmp = tempfile::tempdir().unwrap();
    let original = fs::read_to_string(data("titanic.csv")).unwrap();
    let with_id: Vec<String> = original
        .lines()
        .enumerate()
        .map(|(i, line)| if i == 0 { format!("id,{line}") } else { format!("{},{line}", 1000 + i) })
        .collect();
    fs::write(tmp.path().join("t.csv"), with_id.join("\n") + "\n").unwrap();
    spec(tmp.path(), "t.csv", &[]);
    let out = ok(sweep(tmp.path(), &["run", "t.toml"]));
    assert!(
        out.contains(
            "warning: t.csv: column \"id\" holds a different value in every row, like a name or an id: a model can \
             only memorise it, not learn from it; leave it out with [data] drop = [\"id\"]"
        ),
        "{out}"
    );

    // "auto" takes every text column, and the names are too many categories.
    spec(tmp.path(), &data("titanic.csv"), &[("drop", ""), ("categorical", "categorical = \"auto\"")]);
    let err = failed(&sweep(tmp.path(), &["run", "t.toml"]));
    assert!(
        err.contains("too many distinct values to one-hot encode in \"name\" (1309 distinct values in 1309 rows)")
            && err.trim_end().ends_with("leave it out with [data] drop = [\"name\"]"),
        "{err}"
    );
    spec(tmp.path(), &data("titanic.csv"), &[("categorical", "categorical = \"auto\"")]);
    let out = ok(sweep(tmp.path(), &["run", "t.toml", "--fresh"]));
    assert!(
        out.contains("categorical = \"auto\": one-hot encoding the text column(s) \"sex\", \"passengerClass\""),
        "{out}"
    );
}

/// Raw rows: empty and NA ages, an unseen class, a missing sex (filled with the most frequent).
const RAW_ROWS: &str = "passengerClass,age,sex\n1st,29,female\n3rd,,male\ncrew,NA,male\n2nd,4,\n3rd,61.5,female\n";

/// model.onnx (onnxruntime, through the card's snippet) and model.py (through its
/// `encode` and the card's loading lines, on the numpy stand-in for torch) on
/// the raw rows, against predict's probabilities.
const RAW_CHECK: &str = r#"
import csv, json, sys
import numpy as np
import onnx

expected = list(csv.DictReader(open(sys.argv[2])))
rows = list(csv.DictReader(open(sys.argv[1])))
classes = ["no", "yes"]
E = np.array([[float(e["prob_" + c]) for c in classes] for e in expected])

model = onnx.load(sys.argv[3] + "/model.onnx")
onnx.checker.check_model(model, full_check=True)
assert sorted((o.domain, o.version) for o in model.opset_import) == [("", 17), ("ai.onnx.ml", 1)]
import os
here = os.getcwd()
os.chdir(sys.argv[3])
card = json.load(open("model_card.json"))
exec(card["load_in_python"])
assert [(i.name, i.type, i.shape) for i in session.get_inputs()] == [
    ("sex", "tensor(string)", ["N", 1]), ("age", "tensor(float)", ["N", 1]), ("passengerClass", "tensor(string)", ["N", 1])]
P = predict_proba({c["name"]: [r[c["name"]] for r in rows] for c in inputs})
onnx_worst = float(np.abs(P - E).max())
os.chdir(here)

os.chdir(sys.argv[4])
sys.path.insert(0, ".")
from model import INPUTS, encode
card = json.load(open("model_card.json"))
table = {c: [r[c] for r in rows] for c in INPUTS}
exec(card["load_in_pytorch"])
torch_worst = float(np.abs(np.asarray(probabilities) - E).max())
print(onnx_worst, torch_worst)
assert onnx_worst <= 1e-5 and torch_worst <= 1e-5, (onnx_worst, torch_worst)
"#;

#[test]
fn predict_on_raw_rows_equals_onnx_in_onnxruntime_and_model_py() {
    let Some(py) = python_with(&["onnxruntime", "onnx", "numpy", "safetensors.numpy"]) else { return };
    let tmp = tempfile::tempdir().unwrap();
    spec(tmp.path(), &data("titanic.csv"), &[("missing", "missing = \"median\"")]);
    ok(sweep(tmp.path(), &["run", "t.toml", "-q"]));
    let model = only_trial(tmp.path(), "titanic");
    let pre: serde_json::Value =
        serde_json::from_slice(&fs::read(tmp.path().join(&model).join("preprocessing.json")).unwrap()).unwrap();
    assert_eq!(pre["steps"]["columns"][0]["fill"], "male", "a text column's fill is its most frequent category");
    fs::write(tmp.path().join("raw.csv"), RAW_ROWS).unwrap();
    let out = ok(sweep(tmp.path(), &["predict", &model, "--input", "raw.csv", "-o", "p.csv"]));
    assert!(
        out.contains(
            "1 input row(s) have a \"passengerClass\" category the training rows never had: its indicators are all zero"
        ),
        "{out}"
    );
    let predicted = read_csv(&tmp.path().join("p.csv"));
    assert_eq!(predicted.len(), 5);

    ok(sweep(tmp.path(), &["export", &model, "--to", "onnx", "--format", "onnx"]));
    ok(sweep(tmp.path(), &["export", &model, "--to", "pt", "--layout", "pytorch"]));
    let card = fs::read_to_string(tmp.path().join("pt/model_card.md")).unwrap();
    assert!(
        card.contains("## Preprocessing steps") && card.contains("`age`: number; a missing cell becomes 28"),
        "{card}"
    );
    fs::write(tmp.path().join("check.py"), format!("{FAKE_TORCH}\n{RAW_CHECK}")).unwrap();
    let run = Command::new(&py)
        .current_dir(tmp.path())
        .args(["check.py", "raw.csv", "p.csv", "onnx", "pt"])
        .output()
        .unwrap();
    assert!(run.status.success(), "{}{}", text(&run.stdout), text(&run.stderr));
    eprintln!("predict vs onnx, model.py: largest differences {}", text(&run.stdout).trim());

    // With unseen = "error", the unseen class is refused by name.
    spec(tmp.path(), &data("titanic.csv"), &[("name", "name = \"strict\""), ("unseen", "unseen = \"error\"")]);
    ok(sweep(tmp.path(), &["run", "t.toml", "-q"]));
    let strict = only_trial(tmp.path(), "strict");
    fs::write(tmp.path().join("raw.csv"), RAW_ROWS.replace("2nd,4,\n", "2nd,4,male\n")).unwrap();
    let err = failed(&sweep(tmp.path(), &["predict", &strict, "--input", "raw.csv"]));
    assert!(
        err.contains(
            "raw.csv:4: column \"passengerClass\": got \"crew\", a category the model's training rows never had"
        ),
        "{err}"
    );
}

#[test]
fn a_separate_test_file_goes_through_the_steps_learned_on_the_training_rows() {
    let tmp = tempfile::tempdir().unwrap();
    let original = fs::read_to_string(data("titanic.csv")).unwrap();
    let lines: Vec<&str> = original.lines().collect();
    let (head, rows) = (lines[0], &lines[1..]);
    fs::write(tmp.path().join("train.csv"), format!("{head}\n{}\n", rows[..1100].join("\n"))).unwrap();
    // The test file's 3rd class is renamed: a category no training row has.
    let test: Vec<String> = rows[1100..].iter().map(|l| l.replace(",3rd", ",third")).collect();
    let renamed = test.iter().filter(|l| l.ends_with(",third")).count();
    fs::write(tmp.path().join("test.csv"), format!("{head}\n{}\n", test.join("\n"))).unwrap();
    spec(tmp.path(), "train.csv", &[("test_fraction", "test_path = \"test.csv\"")]);
    let out = ok(sweep(tmp.path(), &["run", "t.toml"]));
    assert!(
        out.contains(&format!(
            "{renamed} test row(s) have a \"passengerClass\" category the training rows never had: its indicators are all zero"
        )),
        "{out}"
    );
    let model = only_trial(tmp.path(), "titanic");
    let evaluated = ok(sweep(tmp.path(), &["evaluate", &model, "--split", "test", "--json"]));
    assert!(evaluated.contains(&format!("\"rows\": {}", 1309 - 1100)), "{evaluated}");
}
