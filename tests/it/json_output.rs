//! `--json` and the sweep's long-format history.csv: every command that takes
//! `--json` prints one JSON document on stdout and nothing else, whose values
//! agree with the files the command wrote; `history.csv` holds every epoch of
//! every trial, as pandas reads it without options.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use sha2::{Digest, Sha256};

use crate::common::{SpecBuilder, data, python_with, read_csv, sweep, sweep_env, text};

/// 4 trials (lr × hidden) × 3 epochs on digits; trial 1 can be made to fail.
fn spec(name: &str) -> SpecBuilder {
    SpecBuilder::new(name).seed(11).values("lr", [0.003, 0.01]).values("hidden", [8, 16])
}

/// The whole of stdout as one JSON document (trailing whitespace allowed), or a panic showing both streams.
fn document(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("stdout is not one JSON document ({e}):\n{}\nstderr:\n{}", text(&out.stdout), text(&out.stderr))
    })
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn f(row: &BTreeMap<String, String>, key: &str) -> f64 {
    row[key].parse().unwrap_or_else(|_| panic!("{key}: {:?}", row[key]))
}

fn path(value: &serde_json::Value) -> &Path {
    let p = Path::new(value.as_str().unwrap_or_else(|| panic!("not a path: {value}")));
    assert!(p.is_absolute(), "paths in documents are absolute: {}", p.display());
    p
}

#[test]
fn run_and_aggregate_print_one_document_that_matches_the_leaderboard() {
    let tmp = tempfile::tempdir().unwrap();
    spec("js").write_as(tmp.path(), "s.toml");
    // A failed trial: the exit code stays 1, and the document is printed all the same.
    let out = sweep_env(tmp.path(), &["run", "s.toml", "--workers", "2", "--json"], &[("SWEEP_FAIL_TRIALS", "1")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let doc = document(&out);
    let root = tmp.path().join("results/js");
    let board = read_csv(&root.join("leaderboard.csv"));
    let registry: serde_json::Value = serde_json::from_slice(&fs::read(root.join("registry.json")).unwrap()).unwrap();

    assert_eq!(doc["schema_version"], 1);
    assert_eq!(doc["command"], "run");
    assert_eq!(doc["sweep"], "js");
    assert_eq!(path(&doc["results_dir"]), root.canonicalize().unwrap());
    assert_eq!(doc["task"], "classification");
    assert_eq!(doc["metric"]["metric"], "mcc");
    assert_eq!(doc["metric"]["goal"], "maximize");
    let trials = &doc["trials"];
    assert_eq!((trials["planned"].as_u64(), trials["recorded"].as_u64()), (Some(4), Some(4)));
    assert_eq!((trials["completed"].as_u64(), trials["failed"].as_u64()), (Some(3), Some(1)));
    assert_eq!((trials["pruned"].as_u64(), trials["diverged"].as_u64()), (Some(0), Some(0)));
    assert_eq!(trials["incomplete"], 0);
    assert_eq!(doc["run"]["run_now"], 4);
    assert_eq!(doc["run"]["resumed"], 0);
    assert_eq!(doc["run"]["workers"], 2);
    assert!(doc["duration_s"].as_f64().unwrap() > 0.0);
    assert_eq!(doc["problems"], serde_json::json!([]));

    // best: the registry's top pick, the leaderboard's first row.
    let best = &doc["best"];
    assert_eq!(best["trial_id"], registry["models"][0]["trial_id"]);
    assert_eq!(best["trial_id"].as_str().unwrap(), board[0]["trial_id"]);
    assert_eq!(best["rank"], 1);
    assert_eq!(best["metric"], "mcc");
    assert_eq!(best["value"].as_f64().unwrap(), f(&board[0], "best_mcc"));
    assert_eq!(best["best_epoch"].as_u64().unwrap().to_string(), board[0]["best_epoch"]);
    let checkpoint = path(&best["checkpoint"]);
    assert_eq!(checkpoint, root.join(&board[0]["checkpoint"]).canonicalize().unwrap());
    assert_eq!(sha256_hex(&fs::read(checkpoint).unwrap()), board[0]["checkpoint_sha256"]);
    assert_eq!(best["checkpoint_sha256"].as_str().unwrap(), board[0]["checkpoint_sha256"]);

    // top: the leaderboard's rows in order, the failed trial last and without a value.
    let top = doc["top"].as_array().unwrap();
    assert_eq!(top.len(), 4);
    for (t, row) in top.iter().zip(&board) {
        assert_eq!(t["rank"].as_u64().unwrap().to_string(), row["rank"]);
        assert_eq!(t["trial_id"].as_str().unwrap(), row["trial_id"]);
        assert_eq!(t["status"].as_str().unwrap(), row["status"]);
        match row["status"].as_str() {
            "completed" => assert_eq!(t["value"].as_f64().unwrap(), f(row, "best_mcc")),
            _ => assert!(t["value"].is_null() && t["message"].as_str().unwrap().contains("injected failure")),
        }
        let low = t["interval"][0].as_f64().unwrap_or(f64::NAN);
        if row["status"] == "completed" {
            assert_eq!(low, f(row, "best_mcc_low"));
        }
    }
    assert_eq!(top[3]["status"], "failed");

    // files: the ones written, absolute.
    for key in ["leaderboard", "registry", "history", "report"] {
        assert!(path(&doc["files"][key]).is_file(), "{key}: {}", doc["files"][key]);
    }
    assert!(doc["files"]["leaderboard_by_config"].is_null());
    assert!(doc["registered"].is_null());

    // aggregate: the same sweep, the same best, no run counts; stdout is the document alone.
    let out = sweep(tmp.path(), &["aggregate", "results/js", "--json"]);
    assert_eq!(out.status.code(), Some(0), "failed trials are not aggregation's failure: {}", text(&out.stderr));
    let again = document(&out);
    assert_eq!(again["command"], "aggregate");
    assert!(again["run"].is_null());
    assert_eq!(again["best"], doc["best"]);
    assert_eq!(again["top"], doc["top"]);
    assert_eq!(again["trials"], doc["trials"]);
    assert_eq!(again["files"], doc["files"]);
}

#[test]
fn notes_warnings_and_a_registration_stay_off_stdout() {
    let tmp = tempfile::tempdir().unwrap();
    // A W&B file prints a note and a warning on the first run; register_as registers the top trial.
    let yaml = format!(
        "program: train.py\nmethod: bayes\nrun_cap: 3\nmetric:\n  name: mcc\n  goal: maximize\n\
         parameters:\n  lr:\n    values: [0.003, 0.01]\nname: wb\nseed: 2\nregister_as: wbm\n\
         data:\n  path: {}\ntrain:\n  epochs: 2\n  hidden: 8\nobjective: mlp\n",
        data("digits.csv")
    );
    fs::write(tmp.path().join("s.yaml"), yaml).unwrap();
    let out = sweep(tmp.path(), &["run", "s.yaml", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc = document(&out);
    let stderr = text(&out.stderr);
    assert!(stderr.contains("note: method \"bayes\"") && stderr.contains("program"), "{stderr}");
    assert_eq!(doc["trials"]["planned"], 3);
    assert_eq!(doc["registered"]["name"], "wbm");
    assert_eq!(doc["registered"]["version"], 1);
    assert_eq!(doc["registered"]["new"], true);
    assert_eq!(doc["registered"]["trial_id"], doc["best"]["trial_id"]);

    // Bad input: exit 2, the message on stderr, nothing on stdout.
    spec("bad").epochs(0).write_as(tmp.path(), "bad.toml");
    let out = sweep(tmp.path(), &["run", "bad.toml", "--json"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    assert!(text(&out.stderr).contains("error: "), "{}", text(&out.stderr));
}

#[test]
fn trial_prints_its_record_ran_already_done_or_failed() {
    let tmp = tempfile::tempdir().unwrap();
    spec("one").write_as(tmp.path(), "s.toml");
    let plan = text(&sweep(tmp.path(), &["plan", "s.toml", "--json"]).stdout);
    let planned: Vec<serde_json::Value> = plan.lines().map(|l| serde_json::from_str(l).unwrap()).collect();

    let out = sweep(tmp.path(), &["trial", "s.toml", "--index", "2", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc = document(&out);
    assert_eq!((doc["schema_version"].as_u64(), doc["command"].as_str()), (Some(1), Some("trial")));
    assert_eq!(path(&doc["results_dir"]), tmp.path().join("results/one").canonicalize().unwrap());
    let t = &doc["trials"][0];
    assert_eq!((t["outcome"].as_str(), t["index"].as_u64()), (Some("ran"), Some(2)));
    assert_eq!(t["trial"]["id"], planned[2]["id"]);
    let dir = path(&t["trial"]["dir"]).to_path_buf();
    let record: serde_json::Value = serde_json::from_slice(&fs::read(dir.join("trial.json")).unwrap()).unwrap();
    assert_eq!(t["trial"]["status"], "completed");
    assert_eq!(t["trial"]["metric"], "mcc");
    assert_eq!(t["trial"]["value"], record["best_metrics"]["mcc"]);
    assert_eq!(t["trial"]["best_epoch"], record["best_epoch"]);
    assert_eq!(t["trial"]["best_metrics"], record["best_metrics"]);
    assert_eq!(t["trial"]["params"], record["params"]);
    assert_eq!(t["trial"]["seed"], record["seed"]);
    assert_eq!(t["trial"]["checkpoint_sha256"], record["checkpoint_sha256"]);
    let checkpoint = fs::read(path(&t["trial"]["checkpoint"])).unwrap();
    assert_eq!(sha256_hex(&checkpoint), record["checkpoint_sha256"].as_str().unwrap());
    assert!(t["held_by"].is_null());

    let out = sweep(tmp.path(), &["trial", "s.toml", "--index", "2", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let again = document(&out);
    assert_eq!(again["trials"][0]["outcome"], "already_done");
    assert_eq!(again["trials"][0]["trial"], t["trial"]);

    let out = sweep_env(tmp.path(), &["trial", "s.toml", "--index", "1", "--json"], &[("SWEEP_FAIL_TRIALS", "1")]);
    assert_eq!(out.status.code(), Some(1), "a failed trial exits 1: {}", text(&out.stderr));
    let failed = document(&out);
    assert_eq!(failed["trials"][0]["trial"]["status"], "failed");
    assert!(failed["trials"][0]["trial"]["checkpoint"].is_null());
    assert!(failed["trials"][0]["trial"]["message"].as_str().unwrap().contains("SWEEP_FAIL_TRIALS"));
}

#[test]
fn slurm_dry_run_prints_what_would_be_submitted_and_writes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    spec("sl").write_as(tmp.path(), "s.toml");
    let out = sweep(tmp.path(), &["slurm", "s.toml", "--dry-run", "--max-parallel", "3", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc = document(&out);
    assert_eq!((doc["schema_version"].as_u64(), doc["command"].as_str()), (Some(1), Some("slurm")));
    assert_eq!((doc["dry_run"].as_bool(), doc["submitted"].as_bool()), (Some(true), Some(false)));
    assert_eq!(doc["array_job_ids"], serde_json::json!([]));
    assert!(doc["aggregate_job_id"].is_null());
    assert_eq!(doc["next"], false);
    assert_eq!(doc["array_indices"], serde_json::json!([0, 1, 2, 3]));
    assert_eq!(doc["planned"], 4);
    let root = tmp.path().canonicalize().unwrap().join("results/sl");
    assert_eq!(path(&doc["scripts"]["arrays"][0]["path"]), root.join("slurm/array.sbatch"));
    assert_eq!(path(&doc["scripts"]["aggregate"]["path"]), root.join("slurm/aggregate.sbatch"));
    assert_eq!(path(&doc["logs"]), root.join("slurm/logs"));
    let array = doc["scripts"]["arrays"][0]["text"].as_str().unwrap();
    assert!(array.contains("#SBATCH --array=0-3%3"), "{array}");
    assert!(doc["scripts"]["aggregate"]["text"].as_str().unwrap().contains("aggregate"));
    assert!(!tmp.path().join("results").exists(), "a dry run writes nothing");

    // The human dry run prints the same scripts.
    let human = text(&sweep(tmp.path(), &["slurm", "s.toml", "--dry-run", "--max-parallel", "3"]).stdout);
    assert!(human.contains(array), "{human}");

    // Past the cluster's MaxArraySize the document lists every array with the trials it runs.
    let out = sweep(tmp.path(), &["slurm", "s.toml", "--dry-run", "--max-array-size", "3", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc = document(&out);
    assert_eq!(doc["max_array_size"], 3);
    let arrays = doc["scripts"]["arrays"].as_array().unwrap();
    let split: Vec<(u64, serde_json::Value)> =
        arrays.iter().map(|a| (a["offset"].as_u64().unwrap(), a["trials"].clone())).collect();
    assert_eq!(split, vec![(0, serde_json::json!([0, 1, 2])), (3, serde_json::json!([3]))]);
    assert_eq!(path(&arrays[1]["path"]), root.join("slurm/array-2.sbatch"));
    assert!(!tmp.path().join("results").exists(), "a dry run writes nothing");
}

#[test]
fn export_and_evaluate_print_their_files_and_metrics() {
    let tmp = tempfile::tempdir().unwrap();
    spec("ex").write_as(tmp.path(), "s.toml");
    let out = sweep(tmp.path(), &["run", "s.toml", "-q"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let board = read_csv(&tmp.path().join("results/ex/leaderboard.csv"));
    let model = format!("results/ex/trials/{}", board[0]["trial_id"]);

    let out = sweep(tmp.path(), &["export", &model, "--to", "shipped", "--layout", "pytorch", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc = document(&out);
    assert_eq!((doc["schema_version"].as_u64(), doc["command"].as_str()), (Some(1), Some("export")));
    assert_eq!(doc["model"], model.as_str());
    assert_eq!(path(&doc["model_dir"]), tmp.path().join(&model).canonicalize().unwrap());
    assert_eq!(path(&doc["to"]), tmp.path().join("shipped").canonicalize().unwrap());
    assert_eq!(doc["layout"], "pytorch");
    assert_eq!(doc["format"], "safetensors");
    let files = doc["files"].as_array().unwrap();
    let names: Vec<&str> = files.iter().map(|f| path(&f["path"]).file_name().unwrap().to_str().unwrap()).collect();
    assert_eq!(names, ["model.safetensors", "model.py", "preprocessing.json", "model_card.json", "model_card.md"]);
    for file in files {
        let bytes = fs::read(path(&file["path"])).unwrap();
        assert_eq!(file["bytes"].as_u64().unwrap(), bytes.len() as u64);
        assert_eq!(file["sha256"].as_str().unwrap(), sha256_hex(&bytes));
    }

    let out = sweep(tmp.path(), &["evaluate", &model, "--split", "valid", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc = document(&out);
    assert_eq!((doc["schema_version"].as_u64(), doc["command"].as_str()), (Some(1), Some("evaluate")));
    assert_eq!(doc["model"], model.as_str());
    assert_eq!(path(&doc["model_dir"]), tmp.path().join(&model).canonicalize().unwrap());
    assert_eq!(doc["split"], "valid");
    assert_eq!(doc["checkpoint_sha256"].as_str().unwrap(), board[0]["checkpoint_sha256"]);
    assert!((doc["metrics"]["mcc"].as_f64().unwrap() - f(&board[0], "best_mcc")).abs() < 1e-9, "{doc}");
    let rows = doc["rows"].as_u64().unwrap();
    let human = text(&sweep(tmp.path(), &["evaluate", &model, "--split", "valid"]).stdout);
    assert!(rows > 0 && human.contains(&format!("on its {rows} valid rows")), "{human}");
}

/// The per-trial history.csv files of a sweep, by trial id: header and rows.
fn trial_histories(root: &Path) -> BTreeMap<String, (Vec<String>, Vec<Vec<String>>)> {
    let mut out = BTreeMap::new();
    for entry in fs::read_dir(root.join("trials")).unwrap() {
        let dir = entry.unwrap().path();
        let file = dir.join("history.csv");
        if !dir.join("trial.json").exists() || !file.exists() {
            continue;
        }
        let mut r = csv::Reader::from_path(&file).unwrap();
        let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
        let rows = r.records().map(|rec| rec.unwrap().iter().map(String::from).collect()).collect();
        out.insert(dir.file_name().unwrap().to_str().unwrap().to_string(), (header, rows));
    }
    out
}

#[test]
fn history_csv_holds_every_epoch_of_every_trial_in_long_format() {
    let tmp = tempfile::tempdir().unwrap();
    spec("hist").write_as(tmp.path(), "s.toml");
    let out = sweep_env(tmp.path(), &["run", "s.toml", "-q"], &[("SWEEP_FAIL_TRIALS", "1")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let root = tmp.path().join("results/hist");
    let history = root.join("history.csv");
    let trials = trial_histories(&root);
    assert_eq!(trials.len(), 3, "the failed trial failed before its first epoch: {:?}", trials.keys());

    let mut r = csv::Reader::from_path(&history).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    let (first_header, _) = trials.values().next().unwrap();
    assert_eq!(header[..2], ["trial_id", "epoch"]);
    assert_eq!(header[2..], first_header[1..], "then every column of the trials' own history.csv");
    assert_eq!(header.last().unwrap(), "saved_best");
    assert!(header.contains(&"mcc".to_string()) && header.contains(&"train_loss".to_string()));
    let rows: Vec<Vec<String>> = r.records().map(|rec| rec.unwrap().iter().map(String::from).collect()).collect();
    let expected: Vec<Vec<String>> = trials
        .iter()
        .flat_map(|(id, (_, rows))| rows.iter().map(move |row| [vec![id.clone()], row.clone()].concat()))
        .collect();
    assert_eq!(rows.len(), 3 * 3, "3 trials × 3 epochs");
    assert_eq!(rows, expected, "sorted by trial id, then epoch; the cells as the trials wrote them");

    // Aggregation rebuilds it byte for byte.
    let before = fs::read(&history).unwrap();
    fs::remove_file(&history).unwrap();
    let out = sweep(tmp.path(), &["aggregate", "results/hist", "-q"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(fs::read(&history).unwrap(), before);

    // pandas reads it without options and agrees with every trial's own file.
    let Some(py) = python_with(&["pandas"]) else {
        return;
    };
    let script = r#"
import sys, pathlib
import pandas as pd
root = pathlib.Path(sys.argv[1])
h = pd.read_csv(root / "history.csv")
assert list(h.columns[:2]) == ["trial_id", "epoch"], list(h.columns)
assert str(h["epoch"].dtype) == "int64", h.dtypes
for c in h.columns[2:-1]:
    assert h[c].dtype == "float64", (c, h[c].dtype)
assert h["saved_best"].dtype == "bool", h["saved_best"].dtype
ids = sorted(h["trial_id"].unique())
assert len(ids) == 3, ids
for trial_id in ids:
    own = pd.read_csv(root / "trials" / trial_id / "history.csv")
    mine = h[h["trial_id"] == trial_id].drop(columns="trial_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(mine, own, check_exact=True)
print(len(h), "rows")
"#;
    let run = Command::new(&py).arg("-c").arg(script).arg(&root).output().unwrap();
    assert!(run.status.success(), "{}\n{}", text(&run.stdout), text(&run.stderr));
    assert_eq!(text(&run.stdout).trim(), "9 rows");
}
