//! Honest model selection, run as a user would: a test split no trial sees,
//! evaluated once for the top models; bootstrap intervals and ties on the
//! leaderboard; k-fold cross-validation with a refit; and rows duplicated
//! across the split reported as leakage.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use crate::common::{SpecBuilder, data, read_csv, sweep, text};

pub(crate) type Row = BTreeMap<String, String>;

/// A quick classification grid (8 configurations) on the bundled breast-cancer data.
pub(crate) fn spec(name: &str) -> SpecBuilder {
    SpecBuilder::new(name)
        .seed(5)
        .data_file("breast_cancer.csv")
        .epochs(6)
        .train("batch_size", 32)
        .values("lr", [0.001, 0.01])
        .values("hidden", [8, 32])
        .values("dropout", [0.0, 0.2])
}

pub(crate) fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

pub(crate) fn f(row: &Row, column: &str) -> f64 {
    row[column].parse().unwrap_or_else(|_| panic!("{column}: {:?}", row.get(column)))
}

fn rows(value: &serde_json::Value) -> BTreeSet<u64> {
    value.as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect()
}

fn run(dir: &Path, file: &str, spec: &SpecBuilder, extra: &[&str]) -> std::process::Output {
    spec.write_as(dir, file);
    let out = sweep(dir, &[&["run", file, "--quiet"][..], extra].concat());
    assert!(out.status.success(), "{}", text(&out.stderr));
    out
}

#[test]
fn a_test_split_is_carved_out_first_never_trained_on_and_measured_once_for_the_top_models() {
    let tmp = tempfile::tempdir().unwrap();
    run(tmp.path(), "s.toml", &spec("t").data("test_fraction", 0.25).data("test_top", 3), &["--workers", "2"]);
    let root = tmp.path().join("results/t");
    let pre = json(&root.join("preprocessing.json"));
    let (valid, test) = (rows(&pre["valid_rows"]), rows(&pre["test"]["rows"]));
    assert_eq!(pre["test"]["kind"], "carved");
    // 569 rows (212 and 357 per class): a quarter of each class for test (53 + 89), then a
    // fifth of each class's rest for validation (32 + 54).
    assert_eq!((test.len(), valid.len()), (142, 86));
    assert!(valid.is_disjoint(&test));
    let splits = json(&root.join("splits.json"));
    let parts: Vec<(&str, u64)> = splits["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["rows"].as_u64().unwrap()))
        .collect();
    assert_eq!(parts, [("train", 341), ("valid", 86), ("test", 142)]);
    // Stratified: the test part keeps the classes' proportions (212 and 357 rows).
    let counts = &splits["parts"][2]["class_counts"];
    assert_eq!((counts[0].as_u64(), counts[1].as_u64()), (Some(53), Some(89)));

    let board = read_csv(&root.join("leaderboard.csv"));
    let tested: Vec<&Row> = board.iter().filter(|r| !r["test_mcc"].is_empty()).collect();
    assert_eq!(tested.len(), 3, "test_top = 3 models, the registry's pick among them");
    assert_eq!(tested.iter().map(|r| r["rank"].as_str()).collect::<Vec<_>>(), ["1", "2", "3"]);
    for r in &tested {
        let t = json(&root.join("trials").join(&r["trial_id"]).join("test.json"));
        assert_eq!(t["rows"], 142);
        assert_eq!(t["metrics"]["mcc"].as_f64().unwrap(), f(r, "test_mcc"));
        assert_eq!(t["checkpoint_sha256"].as_str().unwrap(), r["checkpoint_sha256"]);
        assert!(!r.contains_key("test_train_loss") && r.contains_key("test_loss"));
    }
    let registry = json(&root.join("registry.json"));
    assert_eq!(registry["models"][0]["test_metrics"]["mcc"].as_f64().unwrap(), f(tested[0], "test_mcc"));

    // evaluate gives the stored test metrics, and the train and valid parts too.
    let model = format!("results/t/trials/{}", board[0]["trial_id"]);
    let out = sweep(tmp.path(), &["evaluate", &model, "--split", "test", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let evaluated: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(evaluated["metrics"]["mcc"].as_f64().unwrap(), f(&board[0], "test_mcc"));
    let out = sweep(tmp.path(), &["evaluate", &model, "--split", "valid", "--json"]);
    let on_valid: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(on_valid["rows"], 86);
    assert!((on_valid["metrics"]["mcc"].as_f64().unwrap() - f(&board[0], "best_mcc")).abs() < 1e-9);
    let out = sweep(tmp.path(), &["evaluate", &model, "--split", "train", "--json"]);
    let on_train: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(on_train["rows"], 341);

    // verify re-measures the test metrics too, and fails when test.json lies.
    let out = sweep(tmp.path(), &["verify", &model]);
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("re-evaluated on its 142 test rows"), "{}", text(&out.stdout));
    let test_json = root.join("trials").join(&board[0]["trial_id"]).join("test.json");
    let mut claimed = json(&test_json);
    claimed["metrics"]["mcc"] = serde_json::json!(f(&board[0], "test_mcc") + 0.01);
    fs::write(&test_json, serde_json::to_vec(&claimed).unwrap()).unwrap();
    let out = sweep(tmp.path(), &["verify", &model]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("MISMATCH"));

    // A model of a sweep without a test split has none to evaluate.
    run(tmp.path(), "plain.toml", &spec("plain"), &[]);
    let plain = read_csv(&tmp.path().join("results/plain/leaderboard.csv"));
    assert!(!plain[0].contains_key("test_mcc"));
    let out = sweep(tmp.path(), &["evaluate", &format!("results/plain/trials/{}", plain[0]["trial_id"])]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("has no test split"), "{}", text(&out.stderr));
}

#[test]
fn a_separate_test_file_changes_no_trial_and_aggregation_does_not_measure_twice() {
    let tmp = tempfile::tempdir().unwrap();
    let all = fs::read_to_string(data("breast_cancer.csv")).unwrap();
    let lines: Vec<&str> = all.lines().collect();
    // Two different test files: whatever they hold, no trial may differ.
    fs::write(tmp.path().join("a.csv"), [&lines[..1], &lines[1..120]].concat().join("\n")).unwrap();
    fs::write(tmp.path().join("b.csv"), [&lines[..1], &lines[300..420]].concat().join("\n")).unwrap();
    run(tmp.path(), "a.toml", &spec("a").data("test_path", "a.csv"), &[]);
    run(tmp.path(), "b.toml", &spec("b").data("test_path", "b.csv"), &[]);
    let (a, b) = (
        read_csv(&tmp.path().join("results/a/leaderboard.csv")),
        read_csv(&tmp.path().join("results/b/leaderboard.csv")),
    );
    let shas = |board: &[Row]| {
        board.iter().map(|r| (r["trial_id"].clone(), r["checkpoint_sha256"].clone())).collect::<Vec<_>>()
    };
    assert_eq!(shas(&a), shas(&b), "the test file reaches no trial");
    assert_ne!(a[0]["test_mcc"], b[0]["test_mcc"], "but it is what the test metrics measure");
    let pre = json(&tmp.path().join("results/a/preprocessing.json"));
    assert_eq!((pre["test"]["kind"].as_str(), pre["test"]["rows"].as_u64()), (Some("file"), Some(119)));

    // Aggregating again reads test.json: the same leaderboard, nothing measured again.
    let test_json = tmp.path().join("results/a/trials").join(&a[0]["trial_id"]).join("test.json");
    let before = fs::read(&test_json).unwrap();
    let board_before = fs::read(tmp.path().join("results/a/leaderboard.csv")).unwrap();
    let out = sweep(tmp.path(), &["aggregate", "results/a", "--quiet"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(fs::read(&test_json).unwrap(), before, "evaluated_at unchanged: not measured twice");
    assert_eq!(fs::read(tmp.path().join("results/a/leaderboard.csv")).unwrap(), board_before);

    // A test file with a class the model does not know stops the run before anything is written.
    assert!(lines[0].ends_with("target"), "{}", lines[0]);
    let bad_row: Vec<&str> = lines[1].rsplitn(2, ',').collect();
    fs::write(tmp.path().join("bad.csv"), format!("{}\n{},maybe\n", lines[0], bad_row[1])).unwrap();
    spec("bad").data("test_path", "bad.csv").write_as(tmp.path(), "bad.toml");
    let out = sweep(tmp.path(), &["run", "bad.toml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("bad.csv: row 0 (line 2) has the label \"maybe\""), "{}", text(&out.stderr));
    assert!(!tmp.path().join("results/bad").exists());
}

#[test]
fn bootstrap_intervals_hold_the_best_value_and_ties_are_marked_reproducibly() {
    let tmp = tempfile::tempdir().unwrap();
    run(tmp.path(), "s.toml", &spec("b"), &["--workers", "2"]);
    let root = tmp.path().join("results/b");
    let board = read_csv(&root.join("leaderboard.csv"));
    for r in &board {
        let (low, high, best) = (f(r, "best_mcc_low"), f(r, "best_mcc_high"), f(r, "best_mcc"));
        assert!(low <= best && best <= high, "{r:?}");
        assert!(high - low > 0.01, "85 validation rows leave real uncertainty: {r:?}");
        let share = f(r, "top_better_share");
        assert_eq!(r["tied_with_top"] == "true", share < 0.95, "{r:?}");
    }
    assert_eq!((board[0]["tied_with_top"].as_str(), f(&board[0], "top_better_share")), ("true", 0.0));
    assert!(board.iter().any(|r| r["tied_with_top"] == "true" && r["rank"] != "1"), "near-equal trials tie");
    // The stored outputs are the best epoch's: their own metric is the leaderboard's.
    let outputs = root.join("trials").join(&board[0]["trial_id"]).join("best_valid_outputs.safetensors");
    assert!(fs::metadata(&outputs).unwrap().len() > 85 * 2 * 4);

    // Seeded: a second aggregation and a run with one worker give the same intervals.
    let out = sweep(tmp.path(), &["aggregate", "results/b", "--quiet"]);
    assert!(out.status.success());
    assert_eq!(read_csv(&root.join("leaderboard.csv")), board);
    run(tmp.path(), "s.toml", &spec("b"), &["--workers", "1", "--fresh"]);
    let again = read_csv(&root.join("leaderboard.csv"));
    let strip = |rows: &[Row]| -> Vec<Row> {
        rows.iter()
            .map(|r| {
                r.iter()
                    .filter(|(k, _)| !crate::common::TIMING_COLUMNS.contains(&k.as_str()))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .collect()
    };
    assert_eq!(strip(&again), strip(&board));

    // bootstrap = 0 turns it off: the columns of earlier versions, then the costs.
    let off = spec("off").set("metric", "bootstrap", 0);
    run(tmp.path(), "off.toml", &off, &[]);
    let off = read_csv(&tmp.path().join("results/off/leaderboard.csv"));
    assert!(!off[0].contains_key("best_mcc_low") && !off[0].contains_key("tied_with_top"));
    let header = fs::read_to_string(tmp.path().join("results/off/leaderboard.csv")).unwrap();
    assert!(
        header
            .lines()
            .next()
            .unwrap()
            .ends_with(",seed,message,params,checkpoint_bytes,latency_p50_ms,latency_p95_ms,rows_per_s"),
        "{header}"
    );
}

#[test]
fn cross_validation_ranks_configurations_by_their_folds_and_refits_the_winner() {
    let tmp = tempfile::tempdir().unwrap();
    let body =
        spec("cv").data("test_fraction", 0.2).data("cv_folds", 3).data("refit", true).top("register_as", "cv-model");
    run(tmp.path(), "s.toml", &body, &["--workers", "2"]);
    let root = tmp.path().join("results/cv");
    let board = read_csv(&root.join("leaderboard.csv"));
    assert_eq!(board.len(), 8 * 3, "every configuration once per fold");
    let configs = read_csv(&root.join("leaderboard_by_config.csv"));
    assert_eq!(configs.len(), 8);
    let winner = &configs[0];
    assert_eq!(winner["completed"], "3");
    // The mean over the winner's folds, from the trials' own rows.
    let folds: Vec<&Row> =
        board.iter().filter(|r| ["dropout", "hidden", "lr"].iter().all(|p| r[*p] == winner[*p])).collect();
    assert_eq!(folds.len(), 3);
    let mean = folds.iter().map(|r| f(r, "best_mcc")).sum::<f64>() / 3.0;
    assert!((f(winner, "mean_mcc") - mean).abs() < 1e-12);
    // Every fold validates on other rows, with its own preprocessing; together they cover the non-test rows.
    let test = rows(&json(&root.join("preprocessing.json"))["test"]["rows"]);
    let mut covered = BTreeSet::new();
    for k in 1..=3 {
        let fold = json(&root.join(format!("preprocessing-fold-{k}.json")));
        let valid = rows(&fold["valid_rows"]);
        assert!(valid.is_disjoint(&covered) && valid.is_disjoint(&test));
        covered.extend(valid);
    }
    assert_eq!(covered.len() + test.len(), 569);

    // The refit: the registry's pick, trained for the lower median of its folds' best epochs.
    let registry = json(&root.join("registry.json"));
    let pick = &registry["models"][0];
    let refit_id = pick["trial_id"].as_str().unwrap();
    assert!(refit_id.starts_with("refit-c"), "{pick}");
    let mut epochs: Vec<u64> = folds.iter().map(|r| r["best_epoch"].parse().unwrap()).collect();
    epochs.sort();
    assert_eq!(pick["best_epoch"].as_u64(), Some(epochs[1]));
    assert!((pick["refit"]["cv_mean"]["mcc"].as_f64().unwrap() - mean).abs() < 1e-12);
    let refit_dir = root.join("trials").join(refit_id);
    let refit_test = json(&refit_dir.join("test.json"));
    assert_eq!(refit_test["rows"].as_u64(), Some(test.len() as u64));
    let pre = json(&refit_dir.join("preprocessing.json"));
    assert!(pre["valid_rows"].as_array().unwrap().is_empty(), "the refit learns from every non-test row");
    let out = sweep(tmp.path(), &["verify", &format!("results/cv/trials/{refit_id}")]);
    assert!(out.status.success(), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("cross-validation folds"), "{}", text(&out.stdout));
    let out = sweep(tmp.path(), &["evaluate", &format!("results/cv/trials/{refit_id}"), "--split", "valid"]);
    assert_eq!(out.status.code(), Some(2), "a refit has no validation split");

    // register_as registers the refit, with its test metrics and cross-validated estimate.
    let model = json(&tmp.path().join("results/registry/models/cv-model/model.json"));
    let v1 = &model["versions"][0];
    assert_eq!(v1["trial_id"].as_str(), Some(refit_id));
    assert_eq!(v1["test_metrics"], refit_test["metrics"]);
    assert_eq!(v1["refit"]["cv_mean"], pick["refit"]["cv_mean"]);
    assert!(tmp.path().join("results/registry/models/cv-model/v1/test.json").exists());
    let out = sweep(tmp.path(), &["registry", "show", "cv-model@1"]);
    assert!(text(&out.stdout).contains("on the test split (seen by no selection):"), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("cross-validated (mean ± std over its folds):"), "{}", text(&out.stdout));

    // A refit of an earlier winner (as a resumed sweep may leave) is removed by the next aggregation.
    let outdated = root.join("trials/refit-c0999-00000000");
    fs::create_dir_all(&outdated).unwrap();
    let mut record = json(&refit_dir.join("trial.json"));
    record["id"] = serde_json::json!("refit-c0999-00000000");
    record["refit"]["config"] = serde_json::json!(999);
    fs::write(outdated.join("trial.json"), serde_json::to_vec(&record).unwrap()).unwrap();
    let out = sweep(tmp.path(), &["aggregate", "results/cv", "--quiet"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(!outdated.exists() && refit_dir.exists());

    // Reproducible with one worker, the refit included.
    let sha = |dir: &Path| json(&dir.join("trial.json"))["checkpoint_sha256"].clone();
    let refit_sha = sha(&refit_dir);
    run(tmp.path(), "s.toml", &body, &["--workers", "1", "--fresh"]);
    assert_eq!(sha(&refit_dir), refit_sha);
    let again = read_csv(&root.join("leaderboard_by_config.csv"));
    assert_eq!(again, configs);
}

#[test]
fn tpe_and_random_search_cross_validate_too() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, searched) in [
        ("tpe-cv", spec("tpe-cv").method("tpe").trials(4).set("tpe", "startup_trials", 2)),
        ("random-cv", spec("random-cv").method("random").trials(3)),
    ] {
        let body =
            searched.data("cv_folds", 2).data("refit", true).distribution("lr", "log_uniform_values", 0.001, 0.03);
        run(tmp.path(), &format!("{name}.toml"), &body, &["--workers", "2"]);
        let root = tmp.path().join("results").join(name);
        let board = read_csv(&root.join("leaderboard.csv"));
        let configs = read_csv(&root.join("leaderboard_by_config.csv"));
        assert_eq!(board.len(), 2 * configs.len(), "{name}: two folds per configuration");
        assert!(configs.iter().all(|c| c["trials"] == "2"), "{name}");
        let registry = json(&root.join("registry.json"));
        assert!(registry["models"][0]["trial_id"].as_str().unwrap().starts_with("refit-c"), "{name}");
        assert_eq!(registry["models"][0]["params"]["lr"].to_string(), configs[0]["lr"], "{name}: the winner is refit");
    }
}

#[test]
fn rows_duplicated_across_the_split_are_counted_and_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let all = fs::read_to_string(data("breast_cancer.csv")).unwrap();
    let lines: Vec<&str> = all.lines().collect();
    // Plant 60 duplicates: rows 1..=60 again at the end.
    let planted = [&lines[..], &lines[1..61]].concat().join("\n");
    fs::write(tmp.path().join("dup.csv"), planted).unwrap();
    spec("dup").data("test_fraction", 0.2).data_path("dup.csv").write_as(tmp.path(), "s.toml");
    let out = sweep(tmp.path(), &["run", "s.toml", "--quiet"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let root = tmp.path().join("results/dup");
    // Count by hand from the stored split: a validation row leaks when its twin (row ± 60 among the
    // first and last 60 data rows) is a training row.
    let pre = json(&root.join("preprocessing.json"));
    let (valid, test) = (rows(&pre["valid_rows"]), rows(&pre["test"]["rows"]));
    let twin = |r: u64| match r {
        0..=59 => Some(r + 569),
        569.. => Some(r - 569),
        _ => None,
    };
    let train = |r: u64| !valid.contains(&r) && !test.contains(&r);
    let valid_leaks = valid.iter().filter(|&&r| twin(r).is_some_and(train)).count();
    let test_leaks = test.iter().filter(|&&r| twin(r).is_some_and(|t| !test.contains(&t))).count();
    assert!(valid_leaks + test_leaks > 0);
    let splits = json(&root.join("splits.json"));
    let found: Vec<(String, u64)> = splits["duplicates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["part"].as_str().unwrap().to_string(), d["rows"].as_u64().unwrap()))
        .collect();
    assert_eq!(found, [("valid".to_string(), valid_leaks as u64), ("test".to_string(), test_leaks as u64)]);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(&format!(
            "warning: dup.csv: {valid_leaks} of {} valid rows have features identical",
            valid.len()
        )) || valid_leaks == 0,
        "{stderr}"
    );
    assert!(stderr.contains("features identical"), "{stderr}");

    // The bundled tables have no duplicates: no warning.
    spec("clean").data("test_fraction", 0.2).write_as(tmp.path(), "clean.toml");
    let out = sweep(tmp.path(), &["run", "clean.toml", "--quiet"]);
    assert!(out.status.success());
    assert!(!text(&out.stderr).contains("identical"), "{}", text(&out.stderr));
    let clean = json(&tmp.path().join("results/clean/splits.json"));
    assert!(clean["duplicates"].as_array().unwrap().iter().all(|d| d["rows"] == 0));
}

#[test]
fn selection_keys_are_checked_before_anything_runs() {
    let tmp = tempfile::tempdir().unwrap();
    let cases: [(Vec<(&str, toml::Value)>, &str); 6] = [
        (vec![("test_top", 3.into())], "data.test_top: needs a test split"),
        (
            vec![("cv_folds", 3.into()), ("valid_fraction", 0.3.into())],
            "data.valid_fraction: cannot be combined with data.cv_folds",
        ),
        (vec![("refit", true.into())], "data.refit: needs data.cv_folds"),
        (vec![("cv_folds", 1.into())], "data.cv_folds: got 1, expected a whole number from 2 to 100"),
        (vec![("test_fraction", 1.0.into())], "data.test_fraction: got 1.0, expected a number in (0, 1)"),
        (
            vec![("test_fraction", 0.2.into()), ("test_path", "x.csv".into())],
            "data.test_path: cannot be combined with data.test_fraction",
        ),
    ];
    for (keys, expected) in cases {
        let extra = format!("{keys:?}");
        keys.into_iter().fold(spec("bad"), |s, (key, value)| s.data(key, value)).write_as(tmp.path(), "s.toml");
        let out = sweep(tmp.path(), &["run", "s.toml"]);
        assert_eq!(out.status.code(), Some(2), "{extra}");
        assert!(text(&out.stderr).contains(expected), "{extra}: {}", text(&out.stderr));
        assert!(!tmp.path().join("results").exists());
    }
}
