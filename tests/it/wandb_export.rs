//! `sweep wandb export` and `[publish] wandb`: every trial as a W&B offline run, read back with
//! W&B's own reader (`wandb-core leet inspect`, from the pinned `wandb` wheel) and compared with
//! each trial's `trial.json`, `history.csv`, `test.json` and the sweep's registry.
//!
//! wandb-core exits 0 on a damaged chunk and drops fields it does not know, so every check
//! compares values and requires an empty stderr; one test damages a file on purpose to show
//! that stderr then says so.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine;
use md5::Digest;

use crate::common::{SpecBuilder, read_csv, sweep, sweep_env, text, wandb_core};

/// A grid of 4 trials on breast_cancer with a test split, where trial 2 fails and lr 1e30
/// diverges, so runs of every ending but pruning are there (pruning: [`pruned_sweep`]).
fn mixed_sweep(dir: &Path, name: &str) -> PathBuf {
    SpecBuilder::new(name)
        .seed(5)
        .data_file("breast_cancer.csv")
        .data("test_fraction", 0.2)
        .data("test_top", 2)
        .epochs(4)
        .train("optimizer", "sgd")
        .values("lr", [0.01, 0.05, 0.03, 1e30])
        .write_as(dir, "s.toml");
    let out = sweep_env(dir, &["run", "s.toml", "-q"], &[("SWEEP_FAIL_TRIALS", "2")]);
    assert_eq!(out.status.code(), Some(1), "a failed trial makes exit 1: {}", text(&out.stderr));
    dir.join("results").join(name)
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn export(results: &Path, extra: &[&str]) -> String {
    let mut args = vec!["wandb", "export", results.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = sweep(results, &args);
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
}

/// The run folders of an export, by trial id (from their `files/trial.json`).
fn runs(dir: &Path) -> BTreeMap<String, PathBuf> {
    let mut runs = BTreeMap::new();
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.file_name().unwrap().to_string_lossy().starts_with("offline-run-") {
            let id = read_json(&path.join("files/trial.json"))["id"].as_str().unwrap().to_string();
            assert!(runs.insert(id, path).is_none(), "one run per trial");
        }
    }
    runs
}

fn log_file(run: &Path) -> PathBuf {
    let id = run.file_name().unwrap().to_string_lossy().rsplit('-').next().unwrap().to_string();
    run.join(format!("run-{id}.wandb"))
}

/// wandb-core's reading of one run: its records (one JSON object each), or with `--summary`
/// one object; panics on a non-empty stderr, which is how damage shows.
fn inspect(core: &Path, run: &Path, summary: bool) -> Vec<serde_json::Value> {
    let out = inspect_raw(core, run, summary);
    assert!(out.status.success() && out.stderr.is_empty(), "{}: {}", run.display(), text(&out.stderr));
    let stdout = text(&out.stdout);
    if summary {
        return vec![serde_json::from_str(&stdout).unwrap()];
    }
    stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

fn inspect_raw(core: &Path, run: &Path, summary: bool) -> std::process::Output {
    let mut cmd = Command::new(core);
    cmd.args(["leet", "inspect", "--no-observability", "--json"]);
    if summary {
        cmd.arg("--summary");
    }
    cmd.arg("--run-file").arg(log_file(run)).arg(run.parent().unwrap());
    // wandb-core keeps its settings under HOME: a scratch one keeps the test's machine clean.
    let home = tempfile::tempdir().unwrap();
    cmd.env("HOME", home.path()).env("XDG_CONFIG_HOME", home.path()).env("XDG_CACHE_HOME", home.path());
    cmd.output().expect("wandb-core runs")
}

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

fn md5_b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(md5::Md5::digest(bytes))
}

/// Checks one run against the trial's files; returns its record count.
fn check_run(core: &Path, results: &Path, run: &Path, champion: &str) -> usize {
    let records = inspect(core, run, false);
    let trial_json = read_json(&run.join("files/trial.json"));
    let id = trial_json["id"].as_str().unwrap();
    let trial_dir = results.join("trials").join(id);
    assert_eq!(read_json(&trial_dir.join("trial.json")), trial_json, "the run's copy of trial.json");
    let status = trial_json["status"].as_str().unwrap();
    let has_model = matches!(status, "completed" | "pruned");
    let kinds: Vec<&str> = records.iter().map(|r| r["type"].as_str().unwrap()).collect();
    let history: Vec<&serde_json::Value> = records.iter().filter(|r| r["type"] == "history").collect();
    let rows = if trial_dir.join("history.csv").exists() { read_csv(&trial_dir.join("history.csv")) } else { vec![] };
    let mut expected = vec!["header", "run", "metric", "metric", "metric"];
    expected.extend(std::iter::repeat_n("history", rows.len()));
    expected.extend(["summary", "files"]);
    if has_model {
        expected.push("artifact");
    }
    expected.extend(["exit", "final", "footer"]);
    assert_eq!(kinds, expected, "{id}");
    for (i, r) in records.iter().enumerate() {
        assert_eq!(r["num"].as_u64(), Some(i as u64 + 1), "{id}: records numbered in order");
    }

    let sweep_json = read_json(&results.join("sweep.json"));
    let run_record = &records[1]["run"];
    assert_eq!(run_record["display_name"], trial_json["id"]);
    assert_eq!(run_record["run_group"], sweep_json["name"]);
    assert_eq!(run_record["job_type"], "trial");
    assert_eq!(run_record["host"], trial_json["host"]);
    let config = run_record["config"]["update"].as_object().unwrap();
    let settings = trial_json["settings"].as_object().unwrap();
    assert!(trial_json["params"].as_object().unwrap().keys().all(|k| settings.contains_key(k)));
    assert_eq!(config.len(), settings.len() + 1, "{id}: every resolved parameter and the seed");
    for (k, v) in settings {
        let got = &config[k]["value"];
        match (got.as_f64(), v.as_f64()) {
            (Some(got), Some(want)) => assert_eq!(got, want, "{id}: config {k}"),
            _ => assert_eq!(got, v, "{id}: config {k}"),
        }
    }
    assert_eq!(config["seed"]["value"].as_str().unwrap(), trial_json["seed"].to_string(), "the seed exact");
    let tags: Vec<&str> = run_record["tags"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    let spec_hash = sweep_json["spec_hash"].as_str().unwrap();
    let fingerprint = trial_json["data_fingerprint"].as_str().unwrap();
    assert_eq!(tags, [format!("spec-{}", &spec_hash[..12]), format!("data-{}", &fingerprint[..12]), status.into()]);

    let monitored = &records[4]["metric"];
    let metric = trial_json["monitor"]["metric"].as_str().unwrap();
    assert_eq!(monitored["name"], metric);
    assert_eq!(monitored["step_metric"], "epoch");
    assert_eq!(monitored["goal"], "GOAL_MAXIMIZE");
    assert_eq!(monitored["summary"]["best"], true);
    assert_eq!(records[3]["metric"]["glob_name"], "*");

    assert_eq!(history.len(), rows.len(), "{id}: one history row per epoch");
    for (step, (h, row)) in history.iter().zip(&rows).enumerate() {
        let item = &h["history"]["item"];
        assert_eq!(item["_step"].as_u64(), Some(step as u64));
        for (column, cell) in row {
            if column == "saved_best" || cell.is_empty() {
                continue;
            }
            let want: f64 = cell.parse().unwrap();
            let got = f(&item[column]);
            assert!(got == want || (got.is_nan() && want.is_nan()), "{id} epoch {step}: {column} {got} != {want}");
        }
    }

    let summary = records.iter().find(|r| r["type"] == "summary").unwrap()["summary"]["update"].clone();
    let summary = summary.as_object().unwrap();
    if has_model {
        for (k, v) in trial_json["best_metrics"].as_object().unwrap() {
            assert_eq!(f(&summary[&format!("best_{k}")]), f(v), "{id}: best_{k}");
        }
        assert_eq!(summary["best_epoch"], trial_json["best_epoch"]);
    } else {
        assert!(!summary.keys().any(|k| k.starts_with("best_")), "{id}: no best epoch without a model");
    }
    let test_path = trial_dir.join("test.json");
    if test_path.exists() {
        for (k, v) in read_json(&test_path)["metrics"].as_object().unwrap() {
            assert_eq!(f(&summary[&format!("test_{k}")]), f(v), "{id}: test_{k}");
        }
    } else {
        assert!(!summary.keys().any(|k| k.starts_with("test_")));
    }

    let exit = &records.iter().find(|r| r["type"] == "exit").unwrap()["exit"];
    assert_eq!(exit["exit_code"].as_i64().unwrap_or(0), if has_model { 0 } else { 1 }, "{id}: {status}");
    let state = &inspect(core, run, true)[0];
    assert_eq!(state["state"], if has_model { "finished" } else { "failed" }, "{id}");
    assert_eq!(state["run_id"], run_record["run_id"]);

    if has_model {
        let artifact = &records.iter().find(|r| r["type"] == "artifact").unwrap()["artifact"];
        assert_eq!(artifact["type"], "model");
        assert_eq!(artifact["name"], format!("{}-{id}", sweep_json["name"].as_str().unwrap()));
        let aliases: Vec<&str> = artifact["aliases"].as_array().unwrap().iter().map(|a| a.as_str().unwrap()).collect();
        assert_eq!(aliases, if id == champion { vec!["best", "champion"] } else { vec!["best"] }, "{id}");
        let metadata: serde_json::Value = serde_json::from_str(artifact["metadata"].as_str().unwrap()).unwrap();
        for (k, v) in trial_json["best_metrics"].as_object().unwrap() {
            assert_eq!(f(&metadata[k]), f(v), "{id}: metadata {k}");
        }
        assert_eq!(metadata["best_epoch"], trial_json["best_epoch"]);
        assert_eq!(metadata["params"], trial_json["params"]);
        assert_eq!(metadata["seed"].as_str().unwrap(), trial_json["seed"].to_string());
        assert_eq!(metadata["checkpoint_sha256"], trial_json["checkpoint_sha256"]);
        assert_eq!(metadata["data_fingerprint"], trial_json["data_fingerprint"]);
        let manifest = &artifact["manifest"];
        let mut digests = Vec::new();
        let mut paths = Vec::new();
        for entry in manifest["contents"].as_array().unwrap() {
            let local = PathBuf::from(entry["local_path"].as_str().unwrap());
            assert!(local.starts_with(run), "{id}: {} is a copy under the run's folder", local.display());
            let bytes = fs::read(&local).unwrap();
            assert_eq!(entry["digest"].as_str().unwrap(), md5_b64(&bytes), "{}", local.display());
            assert_eq!(entry["size"].as_str().unwrap(), bytes.len().to_string());
            let path = entry["path"].as_str().unwrap().to_string();
            if ["best.safetensors", "best.json", "preprocessing.json"].contains(&path.as_str()) {
                assert_eq!(bytes, fs::read(trial_dir.join(&path)).unwrap(), "{id}: {path} is the trial's");
            }
            digests.push(format!("{path}:{}\n", entry["digest"].as_str().unwrap()));
            paths.push(path);
        }
        paths.sort();
        assert_eq!(
            paths,
            ["best.json", "best.safetensors", "model_card.json", "model_card.md", "preprocessing.json"],
            "{id}"
        );
        digests.sort();
        let manifest_md5 = md5::Md5::digest(format!("wandb-artifact-manifest-v1\n{}", digests.concat()).as_bytes());
        let hex: String = manifest_md5.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(artifact["digest"].as_str().unwrap(), hex, "{id}: MANIFEST_MD5");
    }
    records.len()
}

/// Every file under `dir` with its bytes and modification time.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, (Vec<u8>, std::time::SystemTime)> {
    let mut out = BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let entry = entry.unwrap();
            let path = entry.path();
            if entry.file_type().unwrap().is_dir() {
                todo.push(path);
            } else {
                out.insert(path.clone(), (fs::read(&path).unwrap(), entry.metadata().unwrap().modified().unwrap()));
            }
        }
    }
    out
}

#[test]
fn every_trial_reads_back_in_wandb_core_as_its_records_say() {
    let Some(core) = wandb_core() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let results = mixed_sweep(tmp.path(), "wb");
    let trials_before = snapshot(&results.join("trials"));
    let line = export(&results, &[]);
    assert!(line.contains("4 offline runs, 2 model artifacts, project \"wb\""), "{line}");
    assert_eq!(snapshot(&results.join("trials")), trials_before, "nothing under trials/ is written");

    let registry = read_json(&results.join("registry.json"));
    let champion = registry["models"][0]["trial_id"].as_str().unwrap().to_string();
    let runs = runs(&results.join("wandb"));
    assert_eq!(runs.len(), 4);
    let board = read_csv(&results.join("leaderboard.csv"));
    let statuses: BTreeMap<&str, &str> = board.iter().map(|r| (r["trial_id"].as_str(), r["status"].as_str())).collect();
    let mut seen: Vec<&str> = statuses.values().copied().collect();
    seen.sort();
    assert_eq!(seen, ["completed", "completed", "diverged", "failed"]);
    let tested = runs.keys().filter(|id| results.join("trials").join(id.as_str()).join("test.json").exists()).count();
    assert_eq!(tested, 2, "test_top = 2: two runs carry test_<metric>");
    for (id, run) in &runs {
        let count = check_run(&core, &results, run, &champion);
        eprintln!("wandb-core read {count} records of {id} ({})", statuses[id.as_str()]);
    }
}

#[test]
fn pruned_trials_finish_with_their_best_model() {
    let Some(core) = wandb_core() else { return };
    let tmp = tempfile::tempdir().unwrap();
    SpecBuilder::new("pr")
        .seed(3)
        .target("target")
        .train("batch_size", 64)
        .asha(1, 2)
        .epochs(8)
        .values("lr", [0.01, 0.0003])
        .values("hidden", [32, 16, 4])
        .write_as(tmp.path(), "s.toml");
    let out = sweep(tmp.path(), &["run", "s.toml", "--workers", "2", "-q"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let results = tmp.path().join("results/pr");
    export(&results, &["--project", "practice", "--entity", "lab"]);
    let champion = read_json(&results.join("registry.json"))["models"][0]["trial_id"].as_str().unwrap().to_string();
    let mut pruned = 0;
    for run in runs(&results.join("wandb")).values() {
        check_run(&core, &results, run, &champion);
        let run_record = &inspect(&core, run, false)[1]["run"];
        assert_eq!((run_record["project"].as_str(), run_record["entity"].as_str()), (Some("practice"), Some("lab")));
        pruned += usize::from(read_json(&run.join("files/trial.json"))["status"] == "pruned");
    }
    assert!(pruned > 0, "asha pruned some trials");
}

#[test]
fn exporting_again_gives_the_same_bytes_and_a_changed_record_a_new_run() {
    let Some(core) = wandb_core() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let results = mixed_sweep(tmp.path(), "again");
    export(&results, &[]);
    let first = snapshot(&results.join("wandb"));
    let line = export(&results, &[]);
    assert!(line.contains("0 files written"), "{line}");
    assert_eq!(snapshot(&results.join("wandb")), first, "same bytes, and not even rewritten");

    // A trial run again has a new record: its run gets a new id, the old folder goes.
    let before = runs(&results.join("wandb"));
    let (id, old_run) = before.iter().next().unwrap();
    let record_path = results.join("trials").join(id).join("trial.json");
    let mut record = read_json(&record_path);
    record["duration_s"] = serde_json::json!(record["duration_s"].as_f64().unwrap() + 1.0);
    fs::write(&record_path, serde_json::to_vec_pretty(&record).unwrap()).unwrap();
    let line = export(&results, &[]);
    assert!(line.contains("1 stale runs removed"), "{line}");
    let after = runs(&results.join("wandb"));
    assert_eq!(after.len(), before.len());
    assert_ne!(&after[id], old_run, "a changed record is a new run");
    assert!(!old_run.exists());
    for (other, run) in &after {
        if other != id {
            assert_eq!(run, &before[other], "the other runs stay");
        }
    }
    let champion = read_json(&results.join("registry.json"))["models"][0]["trial_id"].as_str().unwrap().to_string();
    check_run(&core, &results, &after[id], &champion);
}

#[test]
fn a_damaged_file_is_reported_by_wandb_core() {
    let Some(core) = wandb_core() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let results = mixed_sweep(tmp.path(), "dmg");
    export(&results, &[]);
    let run = runs(&results.join("wandb")).into_values().next().unwrap();
    let log = log_file(&run);
    let mut bytes = fs::read(&log).unwrap();
    // A byte inside the run record's payload (the file header is 7 bytes, the header record ~40).
    bytes[80] ^= 0xff;
    fs::write(&log, &bytes).unwrap();
    let out = inspect_raw(&core, &run, false);
    assert!(text(&out.stderr).contains("corrupt"), "wandb-core says so: {}", text(&out.stderr));
}

/// The chunk types of a log file, walking its framing (7-byte file header, 32 KiB blocks of
/// `crc u32, length u16, type u8` chunks, a tail under 7 bytes skipped).
fn chunk_types(bytes: &[u8]) -> Vec<u8> {
    const BLOCK: usize = 32 * 1024;
    let mut at = 7;
    let mut kinds = Vec::new();
    while at + 7 <= bytes.len() {
        if BLOCK - at % BLOCK < 7 {
            at += BLOCK - at % BLOCK;
            continue;
        }
        let len = u16::from_le_bytes([bytes[at + 4], bytes[at + 5]]) as usize;
        kinds.push(bytes[at + 6]);
        at += 7 + len;
    }
    kinds
}

#[test]
fn a_run_longer_than_a_block_reads_back_whole() {
    let Some(core) = wandb_core() else { return };
    let tmp = tempfile::tempdir().unwrap();
    SpecBuilder::new("long")
        .seed(1)
        .data_file("breast_cancer.csv")
        .epochs(120)
        .train("lr", 0.001)
        .values("hidden", [8])
        .write_as(tmp.path(), "s.toml");
    let out = sweep(tmp.path(), &["run", "s.toml", "-q"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let results = tmp.path().join("results/long");
    export(&results, &[]);
    let run = runs(&results.join("wandb")).into_values().next().unwrap();
    let bytes = fs::read(log_file(&run)).unwrap();
    assert!(bytes.len() > 32 * 1024, "{} bytes: the run crosses a block boundary", bytes.len());
    let kinds = chunk_types(&bytes);
    assert!(kinds.contains(&2) && kinds.contains(&4), "a record split as FIRST ... LAST: {kinds:?}");
    let champion = read_json(&results.join("registry.json"))["models"][0]["trial_id"].as_str().unwrap().to_string();
    let records = check_run(&core, &results, &run, &champion);
    assert!(records > 120, "{records}");
}

#[test]
fn the_publish_table_makes_run_and_aggregate_export() {
    let Some(core) = wandb_core() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let mut target = toml::Table::new();
    target.insert("project".into(), "published".into());
    SpecBuilder::new("pub")
        .seed(2)
        .data_file("breast_cancer.csv")
        .epochs(2)
        .values("lr", [0.01, 0.03])
        .set("publish", "wandb", toml::Value::Table(target))
        .write_as(tmp.path(), "s.toml");
    let out = sweep(tmp.path(), &["run", "s.toml"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("2 offline runs, 2 model artifacts, project \"published\""),
        "{}",
        text(&out.stdout)
    );
    let results = tmp.path().join("results/pub");
    let first = snapshot(&results.join("wandb"));
    let champion = read_json(&results.join("registry.json"))["models"][0]["trial_id"].as_str().unwrap().to_string();
    for run in runs(&results.join("wandb")).values() {
        check_run(&core, &results, run, &champion);
    }
    // `sweep aggregate` (a SLURM array's aggregation job) reads the setting from sweep.json.
    let out = sweep(tmp.path(), &["aggregate", "results/pub"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("wandb:"), "{}", text(&out.stdout));
    assert_eq!(snapshot(&results.join("wandb")), first);
}

#[test]
fn bad_names_and_folders_are_refused_with_exit_2() {
    let tmp = tempfile::tempdir().unwrap();
    let out = sweep(tmp.path(), &["wandb", "export", "nowhere"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("nowhere: not a sweep's results folder"), "{}", text(&out.stderr));
    let out = sweep(tmp.path(), &["wandb", "export", "nowhere", "--project", "a/b"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--project: got \"a/b\""), "{}", text(&out.stderr));
}

/// A program's model (objective "command") has no card sweep can write: its run carries the
/// checkpoint the program wrote, `best.json` and `trial.json`, checked against the record.
#[test]
fn command_trials_export_the_checkpoint_the_program_wrote() {
    let Some(core) = wandb_core() else { return };
    let Some(py) = crate::common::python_with(&["json"]) else { return };
    let tmp = crate::command::setup(&py, "cmdwb", "shift = { values = [0.0, 0.05] }\nepochs = { value = 3 }", "");
    let out = sweep(tmp.path(), &["run", "s.toml", "-q"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let results = tmp.path().join("results/cmdwb");
    let line = export(&results, &[]);
    assert!(line.contains("2 offline runs, 2 model artifacts"), "{line}");
    let runs = runs(&results.join("wandb"));
    assert_eq!(runs.len(), 2);
    for (id, run) in &runs {
        let trial_dir = results.join("trials").join(id);
        let trial_json = read_json(&trial_dir.join("trial.json"));
        let records = inspect(&core, run, false);
        let artifact = &records.iter().find(|r| r["type"] == "artifact").unwrap()["artifact"];
        let metadata: serde_json::Value = serde_json::from_str(artifact["metadata"].as_str().unwrap()).unwrap();
        assert_eq!(metadata["checkpoint_sha256"], trial_json["checkpoint_sha256"], "{id}");
        let mut paths = Vec::new();
        for entry in artifact["manifest"]["contents"].as_array().unwrap() {
            let path = entry["path"].as_str().unwrap().to_string();
            let bytes = fs::read(entry["local_path"].as_str().unwrap()).unwrap();
            assert_eq!(bytes, fs::read(trial_dir.join(&path)).unwrap(), "{id}: {path} is the trial's");
            assert_eq!(entry["digest"].as_str().unwrap(), md5_b64(&bytes));
            paths.push(path);
        }
        paths.sort();
        assert_eq!(paths, ["best.json", "best.safetensors", "trial.json"], "{id}");
    }
    // A checkpoint that no longer matches its record is refused, naming the trial.
    let (id, _) = runs.iter().next().unwrap();
    fs::write(results.join("trials").join(id).join("best.safetensors"), b"other bytes").unwrap();
    let out = sweep(&results, &["wandb", "export", results.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains(id.as_str()) && text(&out.stderr).contains("sha256"), "{}", text(&out.stderr));
}
