//! SLURM integration tests against a real cluster (`scripts/slurm-local.sh
//! start` brings one up on localhost; `.ci/run` does so). Without a cluster
//! they skip with a message, unless `SWEEP_REQUIRE_SLURM=1` makes that a failure.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

mod common;
use common::{data, example, run_example, sweep_env, text};

/// Whether a SLURM controller answers and has a usable node.
fn cluster_is_up() -> bool {
    Command::new("sinfo")
        .args(["-h", "-o", "%T"])
        .output()
        .map(|o| o.status.success() && ["idle", "mixed", "allocated"].iter().any(|s| text(&o.stdout).contains(s)))
        .unwrap_or(false)
}

fn need_cluster(test: &str) -> bool {
    if cluster_is_up() {
        return true;
    }
    assert!(
        std::env::var("SWEEP_REQUIRE_SLURM").as_deref() != Ok("1"),
        "{test}: SWEEP_REQUIRE_SLURM=1 but no SLURM cluster answers (sinfo)"
    );
    eprintln!("SKIPPED {test}: no SLURM cluster (start one with `bash scripts/slurm-local.sh start`)");
    false
}

/// Job ids from `sweep slurm`'s output.
fn job_ids(out: &Output) -> (String, String) {
    let stdout = text(&out.stdout);
    let id = |prefix: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(prefix))
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap_or_else(|| panic!("no {prefix:?} in {stdout:?} / {}", text(&out.stderr)))
            .to_string()
    };
    (id("array job: "), id("aggregation job: "))
}

/// Polls squeue until none of `ids` is queued or running; returns each job's or task's final state.
fn wait_for(ids: &[&str]) -> BTreeMap<String, String> {
    let list = ids.join(",");
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let out = Command::new("squeue").args(["-h", "-j", &list]).output().expect("squeue runs");
        assert!(out.status.success(), "squeue failed: {}", text(&out.stderr));
        if text(&out.stdout).trim().is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "jobs {list} still queued after 300 s: {}", text(&out.stdout));
        std::thread::sleep(Duration::from_millis(300));
    }
    let out = Command::new("squeue").args(["-h", "-t", "all", "-j", &list, "-o", "%i %T"]).output().unwrap();
    text(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' ').map(|(a, b)| (a.to_string(), b.trim().to_string())))
        .collect()
}

fn spec(name: &str) -> String {
    format!(
        r#"name = "{name}"
method = "grid"
seed = 5
[data]
path = "{}"
[metric]
name = "mcc"
[train]
epochs = 3
[parameters]
lr = {{ values = [0.001, 0.01] }}
hidden = {{ values = [16, 32, 64] }}
[slurm]
max_parallel = 2
"#,
        data("digits.csv")
    )
}

/// The leaderboard without its timing column.
fn leaderboard(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header = r.headers().unwrap().clone();
    r.records()
        .map(|rec| {
            let mut row: BTreeMap<String, String> =
                header.iter().zip(rec.unwrap().iter()).map(|(h, v)| (h.to_string(), v.to_string())).collect();
            row.remove("duration_s");
            row
        })
        .collect()
}

#[test]
fn a_slurm_job_array_gives_the_same_leaderboard_as_a_local_run() {
    if !need_cluster("a_slurm_job_array_gives_the_same_leaderboard_as_a_local_run") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("s.toml"), spec("on-slurm")).unwrap();

    let start = Instant::now();
    let out = sweep_env(tmp.path(), &["slurm", "s.toml"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (array, aggregate) = job_ids(&out);
    let states = wait_for(&[&array, &aggregate]);
    eprintln!("sweep slurm → leaderboard: {:.1} s, states {states:?}", start.elapsed().as_secs_f64());
    assert_eq!(states.len(), 7, "{states:?}");
    assert!(states.values().all(|s| s == "COMPLETED"), "{states:?}");

    let root = tmp.path().join("results/on-slurm");
    let script = fs::read_to_string(root.join("slurm/array.sbatch")).unwrap();
    assert!(script.contains("#SBATCH --array=0-5%2"), "{script}");
    assert!(root.join(format!("slurm/logs/aggregate_{aggregate}.out")).exists());
    let status = sweep_env(tmp.path(), &["status", "results/on-slurm"], &[]);
    assert!(status.status.success(), "{}", text(&status.stdout));
    assert!(text(&status.stdout).contains("6 trials: 6 done"), "{}", text(&status.stdout));

    let local = sweep_env(tmp.path(), &["run", "s.toml", "--results-dir", "local", "-q"], &[]);
    assert!(local.status.success(), "{}", text(&local.stderr));
    let on_slurm = leaderboard(&root.join("leaderboard.csv"));
    assert_eq!(on_slurm.len(), 6);
    assert_eq!(on_slurm, leaderboard(&tmp.path().join("local/on-slurm/leaderboard.csv")));
}

#[test]
fn cross_validation_with_a_test_split_and_a_refit_runs_as_an_array_like_it_runs_locally() {
    if !need_cluster("cross_validation_with_a_test_split_and_a_refit_runs_as_an_array_like_it_runs_locally") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let body = spec("cv-slurm").replace("[metric]", "test_fraction = 0.2\ncv_folds = 3\nrefit = true\n[metric]");
    fs::write(tmp.path().join("s.toml"), body).unwrap();
    let out = sweep_env(tmp.path(), &["slurm", "s.toml"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (array, aggregate) = job_ids(&out);
    let states = wait_for(&[&array, &aggregate]);
    assert_eq!(states.len(), 6 * 3 + 1, "configuration x fold array tasks: {states:?}");
    assert!(states.values().all(|s| s == "COMPLETED"), "{states:?}");

    let local = sweep_env(tmp.path(), &["run", "s.toml", "--results-dir", "local", "-q"], &[]);
    assert!(local.status.success(), "{}", text(&local.stderr));
    let (cluster, here) = (tmp.path().join("results/cv-slurm"), tmp.path().join("local/cv-slurm"));
    assert_eq!(leaderboard(&cluster.join("leaderboard.csv")), leaderboard(&here.join("leaderboard.csv")));
    assert_eq!(
        fs::read_to_string(cluster.join("leaderboard_by_config.csv")).unwrap(),
        fs::read_to_string(here.join("leaderboard_by_config.csv")).unwrap()
    );
    // The aggregation job refit the winner and measured it on the test split, as the local run did.
    let pick = |root: &Path| -> serde_json::Value {
        serde_json::from_slice::<serde_json::Value>(&fs::read(root.join("registry.json")).unwrap()).unwrap()["models"]
            [0]
        .clone()
    };
    let (a, b) = (pick(&cluster), pick(&here));
    assert!(a["trial_id"].as_str().unwrap().starts_with("refit-c"), "{a}");
    assert_eq!((&a["trial_id"], &a["checkpoint_sha256"]), (&b["trial_id"], &b["checkpoint_sha256"]));
    assert_eq!(a["test_metrics"], b["test_metrics"]);
    assert!(a["test_metrics"]["mcc"].is_f64(), "{a}");
}

#[test]
fn asha_runs_as_an_array_each_task_judging_against_the_trials_so_far() {
    if !need_cluster("asha_runs_as_an_array_each_task_judging_against_the_trials_so_far") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let body = spec("asha-slurm")
        .replace("epochs = 3", "epochs = 9")
        .replace("seed = 5\n", "seed = 5\nearly_terminate = { type = \"asha\", min_epochs = 1, eta = 3 }\n");
    fs::write(tmp.path().join("s.toml"), body).unwrap();
    let out = sweep_env(tmp.path(), &["slurm", "s.toml"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (array, aggregate) = job_ids(&out);
    let states = wait_for(&[&array, &aggregate]);
    assert!(states.values().all(|s| s == "COMPLETED"), "{states:?}");
    let rows = leaderboard(&tmp.path().join("results/asha-slurm/leaderboard.csv"));
    assert_eq!(rows.len(), 6, "every trial recorded once");
    assert!(rows.iter().all(|r| r["status"] == "completed" || r["status"] == "pruned"), "{rows:?}");
    assert!(rows.iter().any(|r| r["status"] == "pruned"), "some trial falls behind at a rung: {rows:?}");
    assert_eq!(rows[0]["epochs_run"], "9");
}

#[test]
fn tpe_runs_as_an_array_of_tasks_that_take_proposals_until_the_budget() {
    if !need_cluster("tpe_runs_as_an_array_of_tasks_that_take_proposals_until_the_budget") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let body =
        spec("tpe-slurm").replace("method = \"grid\"", "method = \"tpe\"\ntrials = 8") + "[tpe]\nstartup_trials = 3\n";
    fs::write(tmp.path().join("s.toml"), body).unwrap();
    let out = sweep_env(tmp.path(), &["slurm", "s.toml"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("2 tasks taking TPE proposals until 8 trials"), "{}", text(&out.stdout));
    let (array, aggregate) = job_ids(&out);
    let states = wait_for(&[&array, &aggregate]);
    assert!(states.values().all(|s| s == "COMPLETED"), "{states:?}");
    let rows = leaderboard(&tmp.path().join("results/tpe-slurm/leaderboard.csv"));
    assert_eq!(rows.len(), 8, "the budget, every trial recorded once: {rows:?}");
    assert!(rows.iter().all(|r| r["status"] == "completed"));
    let ids: std::collections::BTreeSet<&str> = rows.iter().map(|r| r["trial_id"].as_str()).collect();
    assert_eq!(ids.len(), 8);
}

#[test]
fn array_tasks_run_the_users_own_binary_and_its_objective() {
    if !need_cluster("array_tasks_run_the_users_own_binary_and_its_objective") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let spec = format!(
        "name = \"cnn-slurm\"\nobjective = \"digits_cnn\"\nmethod = \"grid\"\nseed = 3\n[data]\npath = \"{}\"\n\
         [metric]\nname = \"mcc\"\n[train]\nepochs = 2\n[parameters]\nchannels = {{ values = [4, 8] }}\n\
         kernel = {{ values = [3, 5] }}\n",
        data("digits.csv")
    );
    fs::write(tmp.path().join("cnn.toml"), spec).unwrap();
    let out = run_example("digits_cnn", tmp.path(), &["slurm", "cnn.toml"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (array, aggregate) = job_ids(&out);
    let states = wait_for(&[&array, &aggregate]);
    assert!(states.values().all(|s| s == "COMPLETED"), "{states:?}");
    let root = tmp.path().join("results/cnn-slurm");
    let script = fs::read_to_string(root.join("slurm/array.sbatch")).unwrap();
    let binary = example("digits_cnn").display().to_string();
    assert!(script.contains(&format!("{binary} trial")), "the tasks run the user's binary: {script}");
    let local = run_example("digits_cnn", tmp.path(), &["run", "cnn.toml", "--results-dir", "local", "-q"], &[]);
    assert!(local.status.success(), "{}", text(&local.stderr));
    let on_slurm = leaderboard(&root.join("leaderboard.csv"));
    assert_eq!(on_slurm.len(), 4);
    assert!(on_slurm.iter().all(|r| r["status"] == "completed"), "{on_slurm:?}");
    assert_eq!(on_slurm, leaderboard(&tmp.path().join("local/cnn-slurm/leaderboard.csv")));
}

#[test]
fn failed_and_dead_tasks_show_as_gaps_and_resubmission_fills_them() {
    if !need_cluster("failed_and_dead_tasks_show_as_gaps_and_resubmission_fills_them") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("s.toml"), spec("gaps")).unwrap();
    let status = |expect_ok: bool| {
        let out = sweep_env(tmp.path(), &["status", "results/gaps"], &[]);
        assert_eq!(out.status.success(), expect_ok, "{}", text(&out.stdout));
        text(&out.stdout)
    };

    // Task 1 fails (its record says so); task 4's process dies mid-trial (no record).
    let out = sweep_env(tmp.path(), &["slurm", "s.toml"], &[("SWEEP_FAIL_TRIALS", "1"), ("SWEEP_ABORT_TRIALS", "4")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (array, aggregate) = job_ids(&out);
    let states = wait_for(&[&array, &aggregate]);
    assert_eq!(states[&aggregate], "COMPLETED", "aggregation runs after failed tasks: {states:?}");
    assert_eq!(states[&format!("{array}_1")], "FAILED", "{states:?}");
    assert_eq!(states[&format!("{array}_4")], "FAILED", "{states:?}");
    let board = leaderboard(&tmp.path().join("results/gaps/leaderboard.csv"));
    assert_eq!(board.len(), 5, "the dead trial has no record yet");
    assert_eq!(board[4]["status"], "failed");

    let report = status(false);
    assert!(report.contains("4 done, 1 failed, 1 stale"), "{report}");
    assert!(report.lines().any(|l| l.trim_start().starts_with("4 ") && l.contains("stale")), "{report}");

    let out = sweep_env(tmp.path(), &["slurm", "s.toml", "--only-missing"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("(1 trials: 4)"), "{}", text(&out.stdout));
    let (array, aggregate) = job_ids(&out);
    wait_for(&[&array, &aggregate]);
    assert!(status(false).contains("5 done, 1 failed"));

    let out = sweep_env(tmp.path(), &["slurm", "s.toml", "--retry-failed"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("(1 trials: 1)"), "{}", text(&out.stdout));
    let (array, aggregate) = job_ids(&out);
    wait_for(&[&array, &aggregate]);
    assert!(status(true).contains("6 trials: 6 done"));
    let board = leaderboard(&tmp.path().join("results/gaps/leaderboard.csv"));
    assert!(board.iter().all(|r| r["status"] == "completed"), "{board:?}");

    // Nothing left to do: nothing is submitted.
    let out = sweep_env(tmp.path(), &["slurm", "s.toml", "--only-missing", "--retry-failed"], &[]);
    assert!(text(&out.stdout).contains("nothing to submit"), "{}", text(&out.stdout));
}

#[test]
fn a_missing_sbatch_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("s.toml"), spec("no-sbatch")).unwrap();
    let out = sweep_env(tmp.path(), &["slurm", "s.toml", "--sbatch", "/nonexistent/sbatch"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("cannot run `/nonexistent/sbatch`") && err.contains("SLURM submit host"), "{err}");
}

#[test]
fn slurm_json_names_the_submitted_jobs() {
    if !need_cluster("slurm_json_names_the_submitted_jobs") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("s.toml"), spec("json-ids")).unwrap();
    let out = sweep_env(tmp.path(), &["slurm", "s.toml", "--json"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}): {}", text(&out.stdout)));
    assert_eq!((doc["submitted"].as_bool(), doc["dry_run"].as_bool()), (Some(true), Some(false)));
    let (array, aggregate) = (doc["array_job_ids"][0].as_str().unwrap(), doc["aggregate_job_id"].as_str().unwrap());
    let states = wait_for(&[array, aggregate]);
    assert_eq!(states.len(), 7, "6 array tasks and the aggregation job: {states:?}");
    assert!(states.values().all(|s| s == "COMPLETED"), "{states:?}");
    let root = tmp.path().join("results/json-ids");
    assert!(root.join(format!("slurm/logs/aggregate_{aggregate}.out")).exists());
    let history = fs::read_to_string(root.join("history.csv")).unwrap();
    assert_eq!(history.lines().count(), 1 + 6 * 3, "the aggregation job wrote every epoch: {history}");
}
