//! Integration tests: run the real `sweep` binary on the bundled data and
//! check the files it writes.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Output;

use sha2::{Digest, Sha256};

use crate::common::{SpecBuilder, data, read_csv, sweep, sweep_env, text};

fn stderr(o: &Output) -> String {
    text(&o.stderr)
}

fn stdout(o: &Output) -> String {
    text(&o.stdout)
}

/// A small sweep: 4 trials (lr × hidden) × 3 epochs on digits.
fn small_spec(name: &str) -> SpecBuilder {
    SpecBuilder::new(name)
        .seed(3)
        .target("target")
        .data("valid_fraction", 0.2)
        .set("metric", "goal", "maximize")
        .train("batch_size", 64)
        .train("dropout", 0.1)
        .values("lr", [0.001, 0.01])
        .values("hidden", [16, 32])
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    fs::write(&p, text).unwrap();
    p
}

/// What a finished trial's folder holds: no temp or spare files, no marker.
const TRIAL_FILES: [&str; 7] = [
    "best.json",
    "best.safetensors",
    "best_valid_outputs.safetensors",
    "claim-1.json",
    "history.csv",
    "preprocessing.json",
    "trial.json",
];

/// The names in a folder, sorted.
fn file_names(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// Lower-case hex SHA-256, computed here rather than by the library under test.
fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|b| format!("{b:02x}")).collect()
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

#[test]
fn a_small_sweep_writes_a_ranked_leaderboard_that_matches_each_trials_best_epoch() {
    let tmp = tempfile::tempdir().unwrap();
    small_spec("small").write_as(tmp.path(), "s.toml");
    let out = sweep(tmp.path(), &["run", "s.toml", "--workers", "2"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("top 4 of 4 by best mcc"), "{}", stdout(&out));

    let root = tmp.path().join("results/small");
    let board = read_csv(&root.join("leaderboard.csv"));
    assert_eq!(board.len(), 4);

    // Ranked by best_mcc, ties by lower valid_loss.
    for pair in board.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        let (ma, mb): (f64, f64) = (a["best_mcc"].parse().unwrap(), b["best_mcc"].parse().unwrap());
        assert!(
            ma > mb
                || (ma == mb
                    && a["best_valid_loss"].parse::<f64>().unwrap() <= b["best_valid_loss"].parse::<f64>().unwrap())
        );
    }
    for (i, row) in board.iter().enumerate() {
        assert_eq!(row["rank"], (i + 1).to_string());
        assert_eq!(row["status"], "completed");
        assert_eq!(row["epochs_run"], "3");
        let trial_dir = root.join("trials").join(&row["trial_id"]);

        // best_<metric> equals the history row at best_epoch, to the last digit.
        let history = read_csv(&trial_dir.join("history.csv"));
        assert_eq!(history.len(), 3);
        let best_epoch: usize = row["best_epoch"].parse().unwrap();
        let at_best = &history[best_epoch - 1];
        assert_eq!(at_best["saved_best"], "true");
        for m in sweep::metrics::Task::Classification.metric_names() {
            assert_eq!(row[&format!("best_{m}")], at_best[*m], "{m} of {}", row["trial_id"]);
        }
        // The best epoch really is the best (the first to reach the maximum).
        let mccs: Vec<f64> = history.iter().map(|h| h["mcc"].parse().unwrap()).collect();
        let max = mccs.iter().cloned().fold(f64::MIN, f64::max);
        assert_eq!(mccs.iter().position(|&v| v == max).unwrap() + 1, best_epoch);

        // Exactly the trial's files: one checkpoint, no temp or spare files, no marker left.
        assert_eq!(file_names(&trial_dir), TRIAL_FILES);
        assert_eq!(row["checkpoint"], format!("trials/{}/best.safetensors", row["trial_id"]));
        let bytes = fs::read(root.join(&row["checkpoint"])).unwrap();
        let sha = sha256_hex(&bytes);
        assert_eq!(row["checkpoint_sha256"], sha);

        // The metadata beside it describes the same epoch and checkpoint.
        let meta = read_json(&trial_dir.join("best.json"));
        assert_eq!(meta["epoch"], best_epoch);
        assert_eq!(meta["metrics"]["mcc"].as_f64().unwrap(), row["best_mcc"].parse::<f64>().unwrap());
        // The record, written when the trial ended, vouches for the checkpoint's bytes.
        assert_eq!(read_json(&trial_dir.join("trial.json"))["checkpoint_sha256"], sha.as_str());

        // So does the checkpoint's own safetensors header.
        let header_len = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + header_len]).unwrap();
        assert_eq!(header["__metadata__"]["sweep.epoch"], best_epoch.to_string().as_str());
        assert_eq!(header["__metadata__"]["sweep.trial_id"], row["trial_id"].as_str());

        let pre = read_json(&trial_dir.join("preprocessing.json"));
        assert_eq!(pre["feature_columns"].as_array().unwrap().len(), 64);
        assert_eq!(pre["classes"].as_array().unwrap().len(), 10);
        assert_eq!(pre, read_json(&root.join("preprocessing.json")), "the sweep's preprocessing, linked");
    }

    // The registry lists the same trials in the same order.
    let registry = read_json(&root.join("registry.json"));
    let ids: Vec<&str> =
        registry["models"].as_array().unwrap().iter().map(|m| m["trial_id"].as_str().unwrap()).collect();
    let board_ids: Vec<&str> = board.iter().map(|r| r["trial_id"].as_str()).collect();
    assert_eq!(ids, board_ids);
    let listed = sweep(tmp.path(), &["registry", "list", "--json"]);
    assert!(listed.status.success(), "{}", stderr(&listed));
    let listed: serde_json::Value = serde_json::from_slice(&listed.stdout).unwrap();
    assert_eq!(listed["sweeps"][0]["models"][0]["trial_id"], board_ids[0]);
    assert_eq!(listed["sweeps"][0]["models"][0]["data_fingerprint"].as_str().unwrap().len(), 64);

    // Aggregating again from the records alone gives the same leaderboard.
    let before = fs::read(root.join("leaderboard.csv")).unwrap();
    fs::remove_file(root.join("leaderboard.csv")).unwrap();
    let again = sweep(tmp.path(), &["aggregate", "results/small", "--quiet"]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert_eq!(fs::read(root.join("leaderboard.csv")).unwrap(), before);
}

/// The leaderboard without its timing column.
fn without_timing(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut rows = read_csv(path);
    for r in &mut rows {
        crate::common::drop_timings(r);
    }
    rows
}

#[test]
fn one_and_two_workers_give_identical_results() {
    let tmp = tempfile::tempdir().unwrap();
    small_spec("same").write_as(tmp.path(), "s.toml");
    let one = sweep(tmp.path(), &["run", "s.toml", "--workers", "1", "--results-dir", "r1", "-q"]);
    assert!(one.status.success(), "{}", stderr(&one));
    let two = sweep(tmp.path(), &["run", "s.toml", "--workers", "2", "--results-dir", "r2", "-q"]);
    assert!(two.status.success(), "{}", stderr(&two));
    let a = without_timing(&tmp.path().join("r1/same/leaderboard.csv"));
    let b = without_timing(&tmp.path().join("r2/same/leaderboard.csv"));
    assert_eq!(a.len(), 4);
    // Includes every metric and the checkpoints' sha256: bit-identical weights.
    assert_eq!(a, b);
}

/// The most trials whose [started_at, finished_at] intervals overlap at one instant.
fn max_concurrent_trials(results: &Path) -> usize {
    let mut events = Vec::new();
    for entry in fs::read_dir(results.join("trials")).unwrap() {
        let record = read_json(&entry.unwrap().path().join("trial.json"));
        let at = |key: &str| humantime::parse_rfc3339(record[key].as_str().unwrap()).unwrap();
        events.push((at("started_at"), 1i32));
        events.push((at("finished_at"), -1i32));
    }
    // Ends sort before starts at the same instant.
    events.sort();
    let (mut now, mut max) = (0i32, 0i32);
    for (_, delta) in events {
        now += delta;
        max = max.max(now);
    }
    max as usize
}

#[test]
fn workers_bound_how_many_trials_run_at_once() {
    let tmp = tempfile::tempdir().unwrap();
    // Trials long enough (20 epochs, some 100 ms each here) that two workers
    // overlap even when the machine is busy: for the second worker to miss
    // every trial, it would have to be descheduled for the whole run.
    small_spec("bound").epochs(20).write_as(tmp.path(), "s.toml");
    for (workers, results) in [("1", "w1"), ("2", "w2")] {
        let out = sweep(tmp.path(), &["run", "s.toml", "--workers", workers, "--results-dir", results, "-q"]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    assert_eq!(max_concurrent_trials(&tmp.path().join("w1/bound")), 1);
    assert_eq!(max_concurrent_trials(&tmp.path().join("w2/bound")), 2, "2 workers run 2 trials at once, never more");

    // The costliest trials start first (the wider ones here), in plan order among equals.
    let mut started: Vec<(String, i64, usize)> = fs::read_dir(tmp.path().join("w1/bound/trials"))
        .unwrap()
        .map(|e| {
            let r = read_json(&e.unwrap().path().join("trial.json"));
            let at = r["started_at"].as_str().unwrap().to_string();
            (at, r["params"]["hidden"].as_i64().unwrap(), r["index"].as_u64().unwrap() as usize)
        })
        .collect();
    started.sort();
    let order: Vec<(i64, usize)> = started.into_iter().map(|(_, h, i)| (h, i)).collect();
    let mut expected = order.clone();
    expected.sort_by_key(|&(h, i)| (std::cmp::Reverse(h), i));
    assert_eq!(order, expected);
}

/// [`small_spec`] as text, for the test of spec errors, whose messages name its lines.
fn small_spec_text(name: &str) -> String {
    format!(
        r#"name = "{name}"
method = "grid"
seed = 3

[data]
path = "{}"
target = "target"
valid_fraction = 0.2

[metric]
name = "mcc"
goal = "maximize"

[train]
epochs = 3
batch_size = 64
dropout = 0.1

[parameters]
lr = {{ values = [0.001, 0.01] }}
hidden = {{ values = [16, 32] }}
"#,
        data("digits.csv")
    )
}

#[test]
fn bad_specs_fail_with_one_line_naming_file_key_and_value_and_keep_earlier_results() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "good.toml", &small_spec_text("keep"));
    assert!(sweep(tmp.path(), &["run", "good.toml", "-q"]).status.success());
    let leaderboard = tmp.path().join("results/keep/leaderboard.csv");
    let before = fs::read(&leaderboard).unwrap();

    let good = small_spec_text("keep");
    let cases = [
        (good.replace("seed = 3", "sed = 3"), "bad.toml:3: sed: unknown field `sed`"),
        (
            good.replace("valid_fraction = 0.2", "valid_fraction = 2"),
            "bad.toml:8: data.valid_fraction: got 2, expected a number in (0, 1)",
        ),
        (good.replace("name = \"mcc\"", "name = \"mmc\""), "metric.name: got \"mmc\", expected one of"),
        (good.replace("goal = \"maximize\"", "goal = \"up\""), "metric.goal: got \"up\""),
        (good.replace("epochs = 3", "epochs = 0"), "train.epochs: got 0, expected a whole number from 1"),
        (good.replace("hidden = {", "width = {"), "parameters.width: unknown parameter"),
        (good.replace("[0.001, 0.01]", "[0.001, -1]"), "parameters.lr.values: got -1, expected a number > 0"),
        (good.replace("method = \"grid\"", "method = \"random\""), "trials: is missing"),
        (good.replace("epochs = 3", "epochs = \"three\""), "train.epochs: got \"three\""),
        (good.replace("[data]", "[data\n"), "bad.toml:"),
    ];
    for (text, expected) in cases {
        write(tmp.path(), "bad.toml", &text);
        // --fresh would delete earlier results, but bad input must stop before that.
        let out = sweep(tmp.path(), &["run", "bad.toml", "--fresh"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{expected}: {err}");
        assert!(err.contains(expected), "expected {expected:?} in {err:?}");
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert_eq!(fs::read(&leaderboard).unwrap(), before, "earlier results untouched");
    }
}

#[test]
fn bad_csvs_fail_naming_row_and_column() {
    let tmp = tempfile::tempdir().unwrap();
    let cases = [
        ("a,b,target\n1,2,0\n3,x,1\n1,1,1\n", "bad.csv:3: column \"b\": got \"x\", expected a number"),
        ("a,b,target\n1,2,0\n3,inf,1\n", "bad.csv:3: column \"b\": got inf, expected a finite number"),
        ("a,b,target\n1,2,0\n3,4,0\n", "has 1 class(es), expected at least 2"),
        ("", "the file is empty"),
        ("a,b,target\n", "header but no rows"),
        ("a,b,label\n1,2,0\n", "no column \"target\""),
    ];
    for (csv_text, expected) in cases {
        write(tmp.path(), "bad.csv", csv_text);
        small_spec("csv").data_path("bad.csv").write_as(tmp.path(), "s.toml");
        let out = sweep(tmp.path(), &["run", "s.toml", "-q"]);
        assert_eq!(out.status.code(), Some(2), "{expected}: {}", stderr(&out));
        assert!(stderr(&out).contains(expected), "expected {expected:?} in {:?}", stderr(&out));
    }
    small_spec("csv").data_path("missing.csv").write_as(tmp.path(), "s.toml");
    let out = sweep(tmp.path(), &["run", "s.toml", "-q"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("missing.csv: cannot read the data file"), "{}", stderr(&out));
}

/// A one-trial spec for `csv` ranked by `metric`; each case adds its `[data]` keys.
fn data_spec(csv: &str, metric: &str) -> SpecBuilder {
    SpecBuilder::new("hygiene").data_path(csv).metric(metric).epochs(2).values("lr", [0.01])
}

#[test]
fn targets_and_columns_that_do_not_fit_the_task_fail_with_exit_2_and_write_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    // 300 rows, a float target, and a text column: what a user's own CSV often is.
    let mut table = String::from("name,a,b,y\n");
    for i in 0..300 {
        table.push_str(&format!(
            "n{i},{},{},{:.3}\n",
            i % 17,
            (i * 7) % 13,
            3.0 * (i % 17) as f64 + 0.25 * (i % 5) as f64
        ));
    }
    write(tmp.path(), "people.csv", &table);
    let diabetes = data("diabetes.csv");
    let cases = [
        (
            data_spec(&diabetes, "mcc").target("progression"),
            "column \"progression\" (the target) has 214 distinct values in 442 rows",
        ),
        (
            data_spec("people.csv", "mcc").target("y").data("drop", vec!["name"]),
            "column \"y\" (the target) holds numbers with a fraction (\"3.250\" on line 3), which are no class labels: is it a continuous target? set [data] task = \"regression\"",
        ),
        (
            data_spec("people.csv", "rmse").target("y").task("regression"),
            "people.csv:2: column \"name\": got \"n0\", expected a number (a text column cannot be a feature as it is: make it a category with [data] categorical = [\"name\"], or leave it out with [data] drop = [\"name\"])",
        ),
        (
            data_spec("people.csv", "rmse").target("y").task("regression").data("drop", vec!["nmae"]),
            "people.csv: no column \"nmae\" (data.drop); the header has: name, a, b, y",
        ),
        (
            data_spec(&diabetes, "mcc").target("progression").task("regression"),
            "metric.name: got \"mcc\", expected one of valid_loss",
        ),
    ];
    for (spec, expected) in cases {
        spec.write_as(tmp.path(), "s.toml");
        let out = sweep(tmp.path(), &["run", "s.toml", "-q"]);
        assert_eq!(out.status.code(), Some(2), "{expected}: {}", stderr(&out));
        assert!(stderr(&out).contains(expected), "expected {expected:?} in {:?}", stderr(&out));
        assert_eq!(stderr(&out).lines().count(), 1, "one line: {}", stderr(&out));
        assert!(!tmp.path().join("results").exists(), "nothing written for {expected}");
    }
    // Fixed as the messages say, the same table trains.
    data_spec("people.csv", "r2")
        .target("y")
        .task("regression")
        .data("features", vec!["b", "a"])
        .write_as(tmp.path(), "s.toml");
    let out = sweep(tmp.path(), &["run", "s.toml", "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let pre = read_json(&tmp.path().join("results/hygiene/preprocessing.json"));
    assert_eq!(pre["feature_columns"], serde_json::json!(["b", "a"]));
}

#[test]
fn string_labels_are_mapped_in_sorted_order() {
    let tmp = tempfile::tempdir().unwrap();
    let mut text = String::from("x1,x2,kind\n");
    for i in 0..40 {
        let label = if i % 2 == 0 { "dog" } else { "cat" };
        text.push_str(&format!("{},{},{label}\n", i % 2, (i * 7) % 5));
    }
    write(tmp.path(), "pets.csv", &text);
    small_spec("pets").data_path("pets.csv").target("kind").metric("auroc").write_as(tmp.path(), "s.toml");
    let out = sweep(tmp.path(), &["run", "s.toml", "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let board = read_csv(&tmp.path().join("results/pets/leaderboard.csv"));
    assert!(!board[0]["best_auroc"].is_empty());
    let pre = read_json(&tmp.path().join("results/pets/trials").join(&board[0]["trial_id"]).join("preprocessing.json"));
    assert_eq!(pre["classes"], serde_json::json!(["cat", "dog"]));
}

#[test]
fn a_rerun_refuses_to_mix_then_resumes_or_starts_fresh() {
    let tmp = tempfile::tempdir().unwrap();
    small_spec("again").write_as(tmp.path(), "s.toml");
    assert!(sweep(tmp.path(), &["run", "s.toml", "-q"]).status.success());

    let refused = sweep(tmp.path(), &["run", "s.toml", "-q"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(stderr(&refused).contains("--resume") && stderr(&refused).contains("--fresh"), "{}", stderr(&refused));

    // One trial died before its record, another's record is garbage: the
    // aggregator reports both instead of failing, and --resume runs just those two.
    let trials = tmp.path().join("results/again/trials");
    let mut dirs: Vec<PathBuf> = fs::read_dir(&trials).unwrap().map(|e| e.unwrap().path()).collect();
    dirs.sort();
    fs::remove_file(dirs[0].join("trial.json")).unwrap();
    fs::write(dirs[1].join("trial.json"), "{ not json").unwrap();
    let report = sweep(tmp.path(), &["aggregate", "results/again"]);
    assert!(report.status.success(), "{}", stderr(&report));
    assert!(stdout(&report).contains("2 trial folder(s) have no complete record"), "{}", stdout(&report));
    assert!(stdout(&report).contains("unreadable record"), "{}", stdout(&report));
    assert_eq!(read_csv(&tmp.path().join("results/again/leaderboard.csv")).len(), 2);

    let resumed = sweep(tmp.path(), &["run", "s.toml", "--resume"]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert!(stdout(&resumed).contains("(2 run now, 2 resumed)"), "{}", stdout(&resumed));
    assert!(dirs[0].join("trial.json").exists());
    assert_eq!(read_csv(&tmp.path().join("results/again/leaderboard.csv")).len(), 4);

    // A changed spec never resumes into the old folder.
    small_spec("again").epochs(2).write_as(tmp.path(), "s.toml");
    let changed = sweep(tmp.path(), &["run", "s.toml", "--resume", "-q"]);
    assert_eq!(changed.status.code(), Some(2));
    assert!(stderr(&changed).contains("different spec"), "{}", stderr(&changed));

    // --fresh reruns in the old trial folders (reusing their files): nothing of the earlier run survives.
    fs::write(dirs[2].join(".best.json.host-1-2.tmp"), "a crashed write").unwrap();
    let fresh = sweep(tmp.path(), &["run", "s.toml", "--fresh", "-q"]);
    assert!(fresh.status.success(), "{}", stderr(&fresh));
    let board = read_csv(&tmp.path().join("results/again/leaderboard.csv"));
    assert_eq!(board.len(), 4);
    for row in &board {
        assert_eq!(row["epochs_run"], "2");
        let dir = trials.join(&row["trial_id"]);
        assert_eq!(file_names(&dir), TRIAL_FILES);
        assert_eq!(read_csv(&dir.join("history.csv")).len(), 2);
        let meta = read_json(&dir.join("best.json"));
        assert_eq!(meta["epoch"].to_string(), row["best_epoch"]);
        let sha = sha256_hex(&fs::read(dir.join("best.safetensors")).unwrap());
        assert_eq!(read_json(&dir.join("trial.json"))["checkpoint_sha256"], sha.as_str());
    }
}

#[test]
fn failed_and_diverged_trials_are_recorded_and_the_sweep_carries_on() {
    let tmp = tempfile::tempdir().unwrap();
    SpecBuilder::new("rough")
        .data_file("breast_cancer.csv")
        .train("optimizer", "sgd")
        .values("lr", [0.01, 0.05, 1e30])
        .write_as(tmp.path(), "s.toml");
    let out = sweep_env(tmp.path(), &["run", "s.toml", "-q"], &[("SWEEP_FAIL_TRIALS", "1")]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let board = read_csv(&tmp.path().join("results/rough/leaderboard.csv"));
    let statuses: Vec<&str> = board.iter().map(|r| r["status"].as_str()).collect();
    assert_eq!(statuses, ["completed", "failed", "diverged"]);
    for row in &board[1..] {
        assert!(row["best_mcc"].is_empty() && row["checkpoint"].is_empty() && row["best_epoch"].is_empty());
        assert!(!row["message"].is_empty());
    }
    assert!(board[1]["message"].contains("injected failure"));
    assert!(board[2]["message"].contains("diverged at epoch 1"));
    let registry = read_json(&tmp.path().join("results/rough/registry.json"));
    assert_eq!(registry["models"].as_array().unwrap().len(), 1);
}

#[test]
fn a_killed_run_leaves_only_committed_records_and_resumes_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    // 400 epochs: about 0.25 s a trial, so the trials before the crash outlast the 50 ms
    // commit window several times over even on a loaded machine (at 40 they took 25 ms each).
    small_spec("killed").epochs(400).write_as(tmp.path(), "s.toml");
    // One worker runs the wider trials 2 and 3 first, then 0, and dies inside trial 1, the
    // last; a trial that finished but was still waiting for its group commit dies with it.
    let out = sweep_env(tmp.path(), &["run", "s.toml", "--workers", "1", "-q"], &[("SWEEP_ABORT_TRIALS", "1")]);
    assert!(!out.status.success());
    let trials = tmp.path().join("results/killed/trials");
    let mut committed = 0;
    for entry in fs::read_dir(&trials).unwrap() {
        let dir = entry.unwrap().path();
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        if !dir.join("trial.json").exists() {
            assert!(dir.join("running.json").exists(), "{name}: neither record nor marker");
            continue;
        }
        // A record that exists is complete and vouches for the checkpoint beside it.
        let record = read_json(&dir.join("trial.json"));
        assert_eq!(record["status"], "completed", "{name}");
        let sha = sha256_hex(&fs::read(dir.join("best.safetensors")).unwrap());
        assert_eq!(record["checkpoint_sha256"], sha.as_str(), "{name}");
        assert!(!name.starts_with("t0001"), "{name} never finished");
        committed += 1;
    }
    assert!(committed >= 1, "the first trials were committed before the crash");

    let resumed = sweep(tmp.path(), &["run", "s.toml", "--resume"]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    let summary = format!("({} run now, {committed} resumed)", 4 - committed);
    assert!(stdout(&resumed).contains(&summary), "{summary} in {}", stdout(&resumed));
    let board = read_csv(&tmp.path().join("results/killed/leaderboard.csv"));
    assert_eq!(board.len(), 4);
    assert!(board.iter().all(|r| r["status"] == "completed"));
}

#[test]
fn plan_prints_every_trial_without_training() {
    let tmp = tempfile::tempdir().unwrap();
    let grid = Path::new(env!("CARGO_MANIFEST_DIR")).join("sweeps/grid.toml");
    let out = sweep(tmp.path(), &["plan", "--json", grid.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let trials: Vec<serde_json::Value> = stdout(&out).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(trials.len(), 36);
    let ids: std::collections::BTreeSet<&str> = trials.iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(ids.len(), 36);
    assert_eq!(trials[0]["params"], serde_json::json!({"dropout": 0.0, "hidden": 64, "layers": 1, "lr": 0.001}));
    assert!(!tmp.path().join("results").exists());

    let random = Path::new(env!("CARGO_MANIFEST_DIR")).join("sweeps/random.toml");
    let a = sweep(tmp.path(), &["plan", random.to_str().unwrap()]);
    let b = sweep(tmp.path(), &["plan", random.to_str().unwrap()]);
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout, "random plans are seeded");
}

/// `bench` is a developer's command: it runs, but a user's `--help` does not offer it.
#[test]
fn bench_runs_but_is_not_in_the_users_help() {
    let tmp = tempfile::tempdir().unwrap();
    let help = sweep(tmp.path(), &["--help"]);
    assert!(help.status.success(), "{}", stderr(&help));
    let text = stdout(&help);
    let commands: Vec<&str> = text
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(commands.contains(&"run") && commands.contains(&"mlflow"), "{commands:?}");
    assert!(!commands.contains(&"bench"), "{commands:?}");
    let bench = sweep(tmp.path(), &["bench", "--help"]);
    assert!(bench.status.success(), "{}", stderr(&bench));
    assert!(stdout(&bench).contains("Measure the performance workloads"), "{}", stdout(&bench));
}

#[test]
fn bench_runs_small_workloads_and_writes_its_table() {
    let tmp = tempfile::tempdir().unwrap();
    let out = sweep(
        tmp.path(),
        &[
            "bench",
            "--only",
            "trivial,plan,aggregate,wandb",
            "--wandb-trials",
            "20",
            "--trivial-trials",
            "20",
            "--plan-size",
            "1000",
            "--aggregate-records",
            "50",
            "--trivial-data",
            &data("breast_cancer.csv"),
            "--out",
            "b",
        ],
    );
    // Exit 1 only says a full-size target was missed; small runs may miss them.
    assert!(matches!(out.status.code(), Some(0 | 1)), "{}", stderr(&out));
    let rows = read_csv(&tmp.path().join("b/bench.csv"));
    let measures: Vec<&str> = rows.iter().map(|r| r["measure"].as_str()).collect();
    assert!(measures.iter().any(|m| m.starts_with("plan of 729 trials")), "{measures:?}");
    assert!(measures.iter().any(|m| m.starts_with("aggregate 50 records alone")), "{measures:?}");
    assert!(measures.iter().any(|m| m.starts_with("aggregate 50 trials as a run leaves them")), "{measures:?}");
    let command = rows.iter().find(|r| r["measure"].starts_with("sweep aggregate on those 50 trials (exports"));
    assert_eq!(command.map(|r| r["target"].as_str()), Some("<= 3"), "{measures:?}");
    assert!(measures.iter().any(|m| m.starts_with("sweep aggregate on those 50 trials, peak RSS")), "{measures:?}");
    assert!(measures.iter().any(|m| m.starts_with("export 20 trials (620 records")), "{measures:?}");
    assert!(measures.iter().any(|m| m.contains("trials per second (records durable), median of 3")), "{measures:?}");
    assert!(measures.iter().any(|m| m.starts_with("its files alone (no training)")), "{measures:?}");
    assert!(rows.iter().all(|r| r["value"].parse::<f64>().is_ok_and(|v| v > 0.0)), "{rows:?}");
    assert!(!tmp.path().join("b/work").exists(), "scratch folders are removed");
    assert!(tmp.path().join("b/trivial/trivial/trials").is_dir(), "W-trivial's folder stays for the next run");
}

#[test]
fn repeats_rank_configurations_by_their_mean_and_the_registry_follows() {
    let tmp = tempfile::tempdir().unwrap();
    small_spec("rep").top("repeats", 3).write_as(tmp.path(), "s.toml");
    let out = sweep(tmp.path(), &["run", "s.toml", "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let root = tmp.path().join("results/rep");
    let trials = read_csv(&root.join("leaderboard.csv"));
    assert_eq!(trials.len(), 12, "4 configurations x 3 seeds");
    let configs = read_csv(&root.join("leaderboard_by_config.csv"));
    assert_eq!(configs.len(), 4);
    let means: Vec<f64> = configs.iter().map(|c| c["mean_mcc"].parse().unwrap()).collect();
    assert!(means.windows(2).all(|w| w[0] >= w[1]), "ranked by mean: {means:?}");
    for c in &configs {
        assert_eq!(c["trials"], "3");
        // The mean is the mean of the configuration's trials' best_mcc.
        let members: Vec<f64> = trials
            .iter()
            .filter(|t| t["hidden"] == c["hidden"] && t["lr"] == c["lr"])
            .map(|t| t["best_mcc"].parse().unwrap())
            .collect();
        assert_eq!(members.len(), 3);
        let mean = members.iter().sum::<f64>() / 3.0;
        assert!((mean - c["mean_mcc"].parse::<f64>().unwrap()).abs() < 1e-12);
    }
    // The registry's top pick is the top configuration's best trial.
    let registry = read_json(&root.join("registry.json"));
    let top = &registry["models"][0];
    assert_eq!(top["config_rank"], 1);
    assert_eq!(top["trial_id"], configs[0]["best_trial"].as_str());
}

#[test]
fn tpe_runs_in_reproducible_batches_and_only_with_sweep_run() {
    let tmp = tempfile::tempdir().unwrap();
    SpecBuilder::new("tpe")
        .method("tpe")
        .trials(8)
        .seed(2)
        .set("tpe", "startup_trials", 3)
        .data_file("breast_cancer.csv")
        .distribution("lr", "log_uniform_values", 0.0003, 0.03)
        .distribution("hidden", "int_uniform", 8, 64)
        .values("optimizer", ["adam", "sgd"])
        .write_as(tmp.path(), "s.toml");
    for results in ["a", "b"] {
        let out = sweep(tmp.path(), &["run", "s.toml", "--workers", "2", "--results-dir", results, "-q"]);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let a = without_timing(&tmp.path().join("a/tpe/leaderboard.csv"));
    assert_eq!(a.len(), 8);
    assert_eq!(a, without_timing(&tmp.path().join("b/tpe/leaderboard.csv")), "same seed, same workers, same sweep");

    // Resuming after a lost trial proposes the same trials again.
    let dirs: Vec<PathBuf> =
        fs::read_dir(tmp.path().join("a/tpe/trials")).unwrap().map(|e| e.unwrap().path()).collect();
    let last = dirs.iter().max().unwrap();
    fs::remove_file(last.join("trial.json")).unwrap();
    let resumed = sweep(tmp.path(), &["run", "s.toml", "--workers", "2", "--results-dir", "a", "--resume"]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    assert!(stdout(&resumed).contains("(1 run now, 7 resumed)"), "{}", stdout(&resumed));
    assert_eq!(a, without_timing(&tmp.path().join("a/tpe/leaderboard.csv")));

    // A single trial of an adaptive plan cannot run on its own; an array takes proposals (`--next`).
    let out = sweep(tmp.path(), &["trial", "s.toml", "--index", "5"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("with `sweep run`"), "{}", stderr(&out));
    let out = sweep(tmp.path(), &["slurm", "s.toml", "--dry-run", "--max-parallel", "3"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("trial") && stdout(&out).contains("--next"), "{}", stdout(&out));
    assert!(stdout(&out).contains("#SBATCH --array=0-2%3"), "{}", stdout(&out));
    let status = sweep(tmp.path(), &["status", "a/tpe"]);
    assert!(stdout(&status).contains("8 trials: 8 done"), "{}", stdout(&status));
}

#[test]
fn early_termination_prunes_deterministically_and_keeps_best_checkpoints() {
    let tmp = tempfile::tempdir().unwrap();
    small_spec("asha")
        .asha(1, 2)
        .epochs(8)
        // Strong configurations first, so that later weak ones meet them at the rungs.
        .values("lr", [0.01, 0.0003])
        .values("hidden", [32, 16, 4])
        .write_as(tmp.path(), "s.toml");
    for results in ["a", "b"] {
        let out = sweep(tmp.path(), &["run", "s.toml", "--workers", "2", "--results-dir", results, "-q"]);
        assert!(out.status.success(), "pruning is not a failure: {}", stderr(&out));
    }
    let board = without_timing(&tmp.path().join("a/asha/leaderboard.csv"));
    assert_eq!(
        board,
        without_timing(&tmp.path().join("b/asha/leaderboard.csv")),
        "same seed and workers, same decisions"
    );
    let pruned: Vec<_> = board.iter().filter(|r| r["status"] == "pruned").collect();
    assert!(!pruned.is_empty() && pruned.len() < board.len(), "{board:?}");
    for r in &pruned {
        // A pruned trial keeps its best checkpoint and is ranked by its best epoch.
        assert!(r["epochs_run"].parse::<usize>().unwrap() < 8);
        assert!(!r["best_mcc"].is_empty() && !r["checkpoint"].is_empty());
        assert!(r["message"].starts_with("pruned by asha at epoch "), "{}", r["message"]);
        assert!(tmp.path().join("a/asha").join(&r["checkpoint"]).exists());
    }
    let mccs: Vec<f64> = board.iter().map(|r| r["best_mcc"].parse().unwrap()).collect();
    assert!(mccs.windows(2).all(|w| w[0] >= w[1]), "pruned trials are ranked among the others: {mccs:?}");
    // As an array, each task judges its trial asynchronously: the submission is accepted.
    let out = sweep(tmp.path(), &["slurm", "s.toml", "--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("--index \"$SLURM_ARRAY_TASK_ID\""), "{}", stdout(&out));
}
