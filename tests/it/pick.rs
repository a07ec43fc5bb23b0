//! Picking models on more than one number: each best model's cost, the
//! constraints on the pick, the Pareto front over trade-offs, NSGA-II, and
//! BBC-CV, checked in the files the real binary writes.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use crate::common::{SpecBuilder, read_csv, sweep, text};
use crate::selection::{Row, f, json, spec};

fn run(dir: &Path, spec: &SpecBuilder, extra: &[&str]) -> std::process::Output {
    spec.write_as(dir, "s.toml");
    sweep(dir, &[&["run", "s.toml", "--quiet"][..], extra].concat())
}

/// The elements of a safetensors file, read here from its header, not by sweep's code.
fn safetensors_elements(bytes: &[u8]) -> u64 {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Map<String, serde_json::Value> = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    header
        .iter()
        .filter(|(k, _)| *k != "__metadata__")
        .map(|(_, t)| t["shape"].as_array().unwrap().iter().map(|d| d.as_u64().unwrap()).product::<u64>())
        .sum()
}

#[test]
fn every_best_model_carries_its_cost_and_the_front_is_the_non_dominated_set() {
    let tmp = tempfile::tempdir().unwrap();
    let body =
        spec("cost").set("metric", "trade_off", toml::Value::Array(vec!["params".into(), "latency_p50_ms".into()]));
    let out = run(tmp.path(), &body, &["--workers", "2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let root = tmp.path().join("results/cost");
    let board = read_csv(&root.join("leaderboard.csv"));
    assert_eq!(board.len(), 8);
    for r in &board {
        let checkpoint = fs::read(root.join(&r["checkpoint"])).unwrap();
        assert_eq!(f(r, "params") as u64, safetensors_elements(&checkpoint), "{}", r["trial_id"]);
        // One hidden layer: 30·h + h weights and biases in, h·2 + 2 out.
        let h = f(r, "hidden");
        assert_eq!(f(r, "params"), 30.0 * h + h + h * 2.0 + 2.0);
        assert_eq!(f(r, "checkpoint_bytes") as usize, checkpoint.len());
        let (p50, p95, rows_per_s) = (f(r, "latency_p50_ms"), f(r, "latency_p95_ms"), f(r, "rows_per_s"));
        assert!(p50 > 0.0 && p50 <= p95 && rows_per_s > 0.0, "{r:?}");
        let record = json(&root.join("trials").join(&r["trial_id"]).join("trial.json"));
        assert_eq!(record["cost"]["params"].as_f64(), Some(f(r, "params")));
        assert!(record["cost"]["method"].as_str().unwrap().contains(" calls of 1 row each"), "{record}");
    }
    let registry = json(&root.join("registry.json"));
    let models = registry["models"].as_array().unwrap();
    assert!(models.iter().all(|m| m["cost"]["params"].as_u64().is_some() && m["pareto_rank"].as_u64().is_some()));

    // The front, recomputed here from the leaderboard's own columns: no other model is at
    // least as good on mcc (higher), params and latency (lower), and better on one.
    let key = |r: &Row| [-f(r, "best_mcc"), f(r, "params"), f(r, "latency_p50_ms")];
    let dominated = |r: &Row| {
        board.iter().any(|o| {
            let (a, b) = (key(o), key(r));
            a.iter().zip(&b).all(|(x, y)| x <= y) && a.iter().zip(&b).any(|(x, y)| x < y)
        })
    };
    for r in &board {
        assert_eq!(r["pareto_rank"] == "1", !dominated(r), "{}: rank {}", r["trial_id"], r["pareto_rank"]);
        assert!(f(r, "pareto_rank") >= 1.0);
    }
    let html = fs::read_to_string(root.join("report.html")).unwrap();
    assert!(
        html.contains("<h2>The pick</h2>") && html.contains("mcc against params"),
        "the report plots the trade-off"
    );
}

#[test]
fn the_pick_is_the_best_model_that_meets_the_constraints_and_none_meeting_them_is_exit_1() {
    let tmp = tempfile::tempdir().unwrap();
    // hidden 8 has 266 elements, hidden 32 has 1058.
    let constrained = |bound: i64| {
        spec("c").top("register_as", "small").set(
            "select",
            "constraints",
            toml::Value::Array(vec![format!("params <= {bound}").into()]),
        )
    };
    let out = run(tmp.path(), &constrained(500), &["--workers", "2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let root = tmp.path().join("results/c");
    let board = read_csv(&root.join("leaderboard.csv"));
    for r in &board {
        let expected = if f(r, "params") > 500.0 { "params <= 500" } else { "" };
        assert_eq!(r["violates"], expected, "{}", r["trial_id"]);
    }
    let best_small = board.iter().find(|r| r["violates"].is_empty()).unwrap();
    assert_ne!(
        board[0]["trial_id"], best_small["trial_id"],
        "the constraint must change the pick for this test to mean anything"
    );
    let registry = json(&root.join("registry.json"));
    assert_eq!(
        registry["models"][0]["trial_id"],
        best_small["trial_id"].as_str(),
        "the registry's first model is the pick"
    );
    assert_eq!(registry["models"][0]["violates"], serde_json::json!([]));
    let entry = json(&tmp.path().join("results/registry/models/small/model.json"));
    assert_eq!(entry["versions"][0]["trial_id"], best_small["trial_id"].as_str(), "register_as took the pick: {entry}");
    let out = sweep(tmp.path(), &["aggregate", "results/c", "--json"]);
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["best"]["trial_id"], best_small["trial_id"].as_str(), "--json's best is the pick");

    // No model that small: a clear message, exit 1, and the earlier results are still there.
    let out = run(tmp.path(), &constrained(100), &["--resume"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("none of the 8 models meets every [select] constraint"), "{stderr}");
    let board = read_csv(&root.join("leaderboard.csv"));
    assert!(board.iter().all(|r| r["violates"] == "params <= 100"));
    let entry = json(&tmp.path().join("results/registry/models/small/model.json"));
    assert_eq!(
        entry["versions"].as_array().unwrap().len(),
        1,
        "nothing registered, the earlier version stays: {entry}"
    );
}

#[test]
fn nsga2_proposes_the_same_generations_whatever_the_workers() {
    let tmp = tempfile::tempdir().unwrap();
    let body = spec("n")
        .method("nsga2")
        .trials(12)
        .set("metric", "trade_off", toml::Value::Array(vec!["params".into()]))
        .set("nsga2", "population_size", 4)
        .values("hidden", [4, 8, 16, 32, 64])
        .values("lr", [0.001, 0.003, 0.01, 0.03]);
    let params = |root: &Path| -> BTreeMap<String, (String, String, String, String)> {
        read_csv(&root.join("leaderboard.csv"))
            .into_iter()
            .map(|r| {
                (
                    r["trial_id"].clone(),
                    (r["lr"].clone(), r["hidden"].clone(), r["dropout"].clone(), r["best_mcc"].clone()),
                )
            })
            .collect()
    };
    let out = run(tmp.path(), &body, &["--workers", "1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let one = params(&tmp.path().join("results/n"));
    let out = run(tmp.path(), &body, &["--workers", "3", "--fresh"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let three = params(&tmp.path().join("results/n"));
    assert_eq!(one.len(), 12);
    assert_eq!(one, three, "the same seed breeds the same generations");
    // Later generations are bred from the earlier ones' values: with 20 configurations
    // and no parent dropped, a child repeats a value of the first generation.
    let first: Vec<&(String, String, String, String)> =
        one.iter().filter(|(id, _)| id.as_str() < "t0004").map(|(_, v)| v).collect();
    let bred = one.iter().filter(|(id, _)| id.as_str() >= "t0004");
    assert!(bred.clone().all(|(_, v)| first.iter().any(|p| p.1 == v.1 || p.0 == v.0)), "children inherit hidden or lr");
    let manifest = json(&tmp.path().join("results/n/sweep.json"));
    assert_eq!(manifest["spec"]["method"]["method"], "nsga2");
}

#[test]
fn bbc_cv_estimates_the_picked_configuration_from_the_pooled_folds() {
    let tmp = tempfile::tempdir().unwrap();
    let body = spec("cv").data("test_fraction", 0.2).data("cv_folds", 3).data("refit", true);
    let out = run(tmp.path(), &body, &["--workers", "2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let root = tmp.path().join("results/cv");
    let registry = json(&root.join("registry.json"));
    let bbc = &registry["bbc"];
    assert_eq!(bbc["metric"], "mcc");
    assert_eq!(bbc["configurations"], 8);
    // The pooled out-of-fold rows are every row outside the test split: breast_cancer.csv has 569.
    let non_test = json(&root.join("splits.json"))["parts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["name"] != "test")
        .map(|p| p["rows"].as_u64().unwrap())
        .sum::<u64>();
    let (mean, low, high) =
        (bbc["mean"].as_f64().unwrap(), bbc["low"].as_f64().unwrap(), bbc["high"].as_f64().unwrap());
    assert!(low <= mean && mean <= high && high <= 1.0, "{bbc}");
    assert_eq!(bbc["rows"].as_u64(), Some(non_test), "every fold's validation rows, once");
    let configs = read_csv(&root.join("leaderboard_by_config.csv"));
    assert_eq!(f(&configs[0], "bbc_mcc"), mean);
    assert!(configs[1..].iter().all(|c| c["bbc_mcc"].is_empty()), "only the picked configuration has it");
    // Without the bootstrap there is no estimate.
    let out = run(tmp.path(), &body.clone().set("metric", "bootstrap", 0), &["--resume"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(json(&root.join("registry.json")).get("bbc").is_none());
}
