//! SLURM integration tests against a real cluster (`scripts/slurm-local.sh
//! start` brings one up on localhost; `.ci/run` does so). Without a cluster
//! they skip with a `skipped:` line, unless `SWEEP_REQUIRE_SLURM=1` makes that a failure.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use crate::common::{SpecBuilder, Tool, example, run_example, skip, sweep_env, text};

/// Whether a SLURM controller answers and has a usable node.
fn cluster_is_up() -> bool {
    // "completing": another test's job is finishing on the node, which still takes jobs.
    let up = |o: &Output| ["idle", "mixed", "allocated", "completing"].iter().any(|s| text(&o.stdout).contains(s));
    // A node between states (a test just killed a task) answers again within seconds. A sinfo
    // that fails has already retried the controller for seconds itself, and none is no cluster.
    for attempt in 0..10 {
        if attempt > 0 {
            std::thread::sleep(Duration::from_millis(500));
        }
        match Command::new("sinfo").args(["-h", "-o", "%T"]).output() {
            Ok(o) if o.status.success() && up(&o) => return true,
            Ok(o) if o.status.success() => continue,
            _ => return false,
        }
    }
    false
}

/// Whether the calling test can run; false after [`skip`] said why.
fn need_cluster() -> bool {
    if cluster_is_up() {
        return true;
    }
    skip(Tool::Slurm, "no SLURM cluster answers sinfo (start one with `bash scripts/slurm-local.sh start`)");
    false
}

/// Job ids from `sweep slurm`'s output: the array jobs (one, or one per chunk of MaxArraySize) and the aggregation job.
fn job_ids(out: &Output) -> (Vec<String>, String) {
    let stdout = text(&out.stdout);
    let ids = |prefix: &str| -> Vec<String> {
        stdout
            .lines()
            .filter_map(|l| l.strip_prefix(prefix))
            .filter_map(|rest| rest.split_whitespace().next())
            .map(str::to_string)
            .collect()
    };
    let (arrays, aggregate) = (ids("array job: "), ids("aggregation job: "));
    assert!(!arrays.is_empty() && aggregate.len() == 1, "no job ids in {stdout:?} / {}", text(&out.stderr));
    (arrays, aggregate[0].clone())
}

/// Every job id, for [`wait_for`].
fn all<'a>(arrays: &'a [String], aggregate: &'a str) -> Vec<&'a str> {
    arrays.iter().map(String::as_str).chain([aggregate]).collect()
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

/// 6 trials (lr × hidden) × 3 epochs on digits, at most 2 tasks at once.
fn spec(name: &str) -> SpecBuilder {
    SpecBuilder::new(name).seed(5).values("lr", [0.001, 0.01]).values("hidden", [16, 32, 64]).set(
        "slurm",
        "max_parallel",
        2,
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
            crate::common::drop_timings(&mut row);
            row
        })
        .collect()
}

#[test]
fn a_slurm_job_array_gives_the_same_leaderboard_as_a_local_run() {
    if !need_cluster() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    spec("on-slurm").write_as(tmp.path(), "s.toml");

    let start = Instant::now();
    let out = sweep_env(tmp.path(), &["slurm", "s.toml"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (arrays, aggregate) = job_ids(&out);
    let states = wait_for(&all(&arrays, &aggregate));
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
    if !need_cluster() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    spec("cv-slurm").data("test_fraction", 0.2).data("cv_folds", 3).data("refit", true).write_as(tmp.path(), "s.toml");
    let out = sweep_env(tmp.path(), &["slurm", "s.toml"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (arrays, aggregate) = job_ids(&out);
    let states = wait_for(&all(&arrays, &aggregate));
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
    if !need_cluster() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    spec("asha-slurm").epochs(9).asha(1, 3).write_as(tmp.path(), "s.toml");
    let out = sweep_env(tmp.path(), &["slurm", "s.toml"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (arrays, aggregate) = job_ids(&out);
    let states = wait_for(&all(&arrays, &aggregate));
    assert!(states.values().all(|s| s == "COMPLETED"), "{states:?}");
    let rows = leaderboard(&tmp.path().join("results/asha-slurm/leaderboard.csv"));
    assert_eq!(rows.len(), 6, "every trial recorded once");
    assert!(rows.iter().all(|r| r["status"] == "completed" || r["status"] == "pruned"), "{rows:?}");
    assert!(rows.iter().any(|r| r["status"] == "pruned"), "some trial falls behind at a rung: {rows:?}");
    assert_eq!(rows[0]["epochs_run"], "9");
}

#[test]
fn tpe_runs_as_an_array_of_tasks_that_take_proposals_until_the_budget() {
    if !need_cluster() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    spec("tpe-slurm").method("tpe").trials(8).set("tpe", "startup_trials", 3).write_as(tmp.path(), "s.toml");
    let out = sweep_env(tmp.path(), &["slurm", "s.toml"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("2 tasks taking TPE proposals until 8 trials"), "{}", text(&out.stdout));
    let (arrays, aggregate) = job_ids(&out);
    let states = wait_for(&all(&arrays, &aggregate));
    assert!(states.values().all(|s| s == "COMPLETED"), "{states:?}");
    let rows = leaderboard(&tmp.path().join("results/tpe-slurm/leaderboard.csv"));
    assert_eq!(rows.len(), 8, "the budget, every trial recorded once: {rows:?}");
    assert!(rows.iter().all(|r| r["status"] == "completed"));
    let ids: std::collections::BTreeSet<&str> = rows.iter().map(|r| r["trial_id"].as_str()).collect();
    assert_eq!(ids.len(), 8);
}

#[test]
fn array_tasks_run_the_users_own_binary_and_its_objective() {
    if !need_cluster() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    SpecBuilder::new("cnn-slurm")
        .objective("digits_cnn")
        .seed(3)
        .epochs(2)
        .values("channels", [4, 8])
        .values("kernel", [3, 5])
        .write_as(tmp.path(), "cnn.toml");
    let out = run_example("digits_cnn", tmp.path(), &["slurm", "cnn.toml"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (arrays, aggregate) = job_ids(&out);
    let states = wait_for(&all(&arrays, &aggregate));
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
    if !need_cluster() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    spec("gaps").write_as(tmp.path(), "s.toml");
    let status = |expect_ok: bool| {
        let out = sweep_env(tmp.path(), &["status", "results/gaps"], &[]);
        assert_eq!(out.status.success(), expect_ok, "{}", text(&out.stdout));
        text(&out.stdout)
    };

    // Task 1 fails (its record says so); task 4's process dies mid-trial (no record).
    let out = sweep_env(tmp.path(), &["slurm", "s.toml"], &[("SWEEP_FAIL_TRIALS", "1"), ("SWEEP_ABORT_TRIALS", "4")]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (arrays, aggregate) = job_ids(&out);
    let states = wait_for(&all(&arrays, &aggregate));
    assert_eq!(states[&aggregate], "COMPLETED", "aggregation runs after failed tasks: {states:?}");
    assert_eq!(states[&format!("{}_1", arrays[0])], "FAILED", "{states:?}");
    assert_eq!(states[&format!("{}_4", arrays[0])], "FAILED", "{states:?}");
    let board = leaderboard(&tmp.path().join("results/gaps/leaderboard.csv"));
    assert_eq!(board.len(), 5, "the dead trial has no record yet");
    assert_eq!(board[4]["status"], "failed");

    // A claim younger than a second counts as live (its holder may not have locked it yet), and
    // on a fast machine the aggregation can finish within that second of task 4's death.
    let deadline = Instant::now() + Duration::from_secs(5);
    let report = loop {
        let report = status(false);
        if report.contains("1 stale") || Instant::now() > deadline {
            break report;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(report.contains("4 done, 1 failed, 1 stale"), "{report}");
    assert!(report.lines().any(|l| l.trim_start().starts_with("4 ") && l.contains("stale")), "{report}");

    let out = sweep_env(tmp.path(), &["slurm", "s.toml", "--only-missing"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("(1 trials: 4)"), "{}", text(&out.stdout));
    let (arrays, aggregate) = job_ids(&out);
    wait_for(&all(&arrays, &aggregate));
    assert!(status(false).contains("5 done, 1 failed"));

    let out = sweep_env(tmp.path(), &["slurm", "s.toml", "--retry-failed"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("(1 trials: 1)"), "{}", text(&out.stdout));
    let (arrays, aggregate) = job_ids(&out);
    wait_for(&all(&arrays, &aggregate));
    assert!(status(true).contains("6 trials: 6 done"));
    let board = leaderboard(&tmp.path().join("results/gaps/leaderboard.csv"));
    assert!(board.iter().all(|r| r["status"] == "completed"), "{board:?}");

    // Nothing left to do: nothing is submitted.
    let out = sweep_env(tmp.path(), &["slurm", "s.toml", "--only-missing", "--retry-failed"], &[]);
    assert!(text(&out.stdout).contains("nothing to submit"), "{}", text(&out.stdout));
}

/// The cluster's MaxArraySize, from `scontrol show config`.
fn cluster_max_array_size() -> usize {
    let out = Command::new("scontrol").args(["show", "config"]).output().expect("scontrol runs");
    text(&out.stdout)
        .lines()
        .find_map(|l| l.split_once('=').filter(|(k, _)| k.trim() == "MaxArraySize").map(|(_, v)| v.trim().to_string()))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no MaxArraySize in scontrol show config: {}", text(&out.stdout)))
}

#[test]
fn a_sweep_larger_than_max_array_size_runs_as_several_arrays_one_after_another_then_one_aggregation() {
    if !need_cluster() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // 2 × 3 × 2 = 12 trials.
    spec("split").epochs(2).values("dropout", [0.0, 0.2]).write_as(tmp.path(), "s.toml");
    // scripts/slurm-local.sh configures MaxArraySize=10: 12 trials need two arrays. On a cluster
    // with a larger limit the test sets 10 itself, so the arrays are still real.
    let max = cluster_max_array_size();
    let mut args = vec!["slurm", "s.toml"];
    if max > 10 {
        eprintln!("this cluster's MaxArraySize is {max}: testing with --max-array-size 10");
        args.extend(["--max-array-size", "10"]);
    } else {
        assert_eq!(max, 10, "scripts/slurm-local.sh sets MaxArraySize=10");
    }
    let source = if max > 10 { "--max-array-size" } else { "scontrol show config" };

    // The dry run shows both arrays and the aggregation job's dependency on both.
    let dry = sweep_env(tmp.path(), &[args.clone(), vec!["--dry-run"]].concat(), &[]);
    assert!(dry.status.success(), "{}", text(&dry.stderr));
    let plan = text(&dry.stdout);
    assert!(plan.contains(&format!("# 2 array jobs: MaxArraySize 10 ({source})")), "{plan}");
    assert!(plan.contains("array-1.sbatch — array job 1 of 2 (10 trials: 0-9)"), "{plan}");
    assert!(
        plan.contains(
            "array-2.sbatch — array job 2 of 2 (2 trials: 10-11; array tasks 0-1 run trial 10 + task id), \
         submitted with --dependency=afterany:<array job 1>"
        ),
        "{plan}"
    );
    assert!(plan.contains("--dependency=afterany:<array job 1>:<array job 2>"), "{plan}");
    assert!(!tmp.path().join("results/split/slurm").exists(), "a dry run writes nothing");

    let out = sweep_env(tmp.path(), &args, &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (arrays, aggregate) = job_ids(&out);
    assert_eq!(arrays.len(), 2, "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains(&format!(", after array job {}", arrays[0])), "{}", text(&out.stdout));
    // Straight after submission (the first array takes seconds), SLURM holds the dependencies:
    // the second array after the first, the aggregation after both.
    let dependency = |job: &str| {
        let out = Command::new("scontrol").args(["show", "job", job]).output().unwrap();
        text(&out.stdout).split_whitespace().filter(|w| w.starts_with("Dependency=")).collect::<Vec<_>>().join(" ")
    };
    let (a, b) = (&arrays[0], &arrays[1]);
    assert!(dependency(b).contains(&format!("afterany:{a}_*")), "{}", dependency(b));
    let waits = dependency(&aggregate);
    assert!(waits.contains(&format!("afterany:{a}_*")) && waits.contains(&format!("afterany:{b}_*")), "{waits}");
    let states = wait_for(&all(&arrays, &aggregate));
    assert_eq!(states.len(), 12 + 1, "{states:?}");
    assert!(states.values().all(|s| s == "COMPLETED"), "{states:?}");
    assert!(states.contains_key(&format!("{}_1", arrays[1])) && !states.contains_key(&format!("{}_2", arrays[1])));

    let root = tmp.path().join("results/split");
    let first = fs::read_to_string(root.join("slurm/array-1.sbatch")).unwrap();
    let second = fs::read_to_string(root.join("slurm/array-2.sbatch")).unwrap();
    assert!(first.contains("#SBATCH --array=0-9%2\n") && first.contains("--index \"$SLURM_ARRAY_TASK_ID\""), "{first}");
    assert!(second.contains("#SBATCH --array=0-1%2\n"), "{second}");
    assert!(second.contains("--index \"$((SLURM_ARRAY_TASK_ID + 10))\""), "{second}");
    assert!(!root.join("slurm/array.sbatch").exists());

    // --max-parallel 2 holds for the whole sweep: the second array starts once the first has ended.
    let records: Vec<serde_json::Value> = fs::read_dir(root.join("trials"))
        .unwrap()
        .map(|e| serde_json::from_slice(&fs::read(e.unwrap().path().join("trial.json")).unwrap()).unwrap())
        .collect();
    assert_eq!(records.len(), 12);
    let time = |r: &serde_json::Value, key: &str| r[key].as_str().unwrap().to_string();
    let first_done = records.iter().filter(|r| r["index"].as_u64().unwrap() < 10).map(|r| time(r, "finished_at")).max();
    let second_start =
        records.iter().filter(|r| r["index"].as_u64().unwrap() >= 10).map(|r| time(r, "started_at")).min();
    assert!(first_done < second_start, "{first_done:?} vs {second_start:?}");
    // One aggregation, after both arrays: every trial is on its leaderboard, as in a local run.
    let logs: Vec<_> = fs::read_dir(root.join("slurm/logs"))
        .unwrap()
        .filter_map(|e| e.unwrap().file_name().into_string().ok())
        .filter(|n| n.starts_with("aggregate_"))
        .collect();
    assert_eq!(logs, [format!("aggregate_{aggregate}.out")]);
    let on_slurm = leaderboard(&root.join("leaderboard.csv"));
    assert_eq!(on_slurm.len(), 12);
    let local = sweep_env(tmp.path(), &["run", "s.toml", "--results-dir", "local", "-q"], &[]);
    assert!(local.status.success(), "{}", text(&local.stderr));
    assert_eq!(on_slurm, leaderboard(&tmp.path().join("local/split/leaderboard.csv")));
}

#[test]
fn a_missing_sbatch_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    spec("no-sbatch").write_as(tmp.path(), "s.toml");
    let out = sweep_env(tmp.path(), &["slurm", "s.toml", "--sbatch", "/nonexistent/sbatch"], &[]);
    assert_eq!(out.status.code(), Some(1));
    let err = text(&out.stderr);
    assert!(err.contains("cannot run `/nonexistent/sbatch`") && err.contains("SLURM submit host"), "{err}");
}

#[test]
fn slurm_json_names_the_submitted_jobs() {
    if !need_cluster() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    spec("json-ids").write_as(tmp.path(), "s.toml");
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

#[test]
fn a_programs_sweep_runs_as_an_array_like_it_runs_locally() {
    if !need_cluster() {
        return;
    }
    let Some(py) = crate::common::python_with(&["json"]) else { return };
    let tmp =
        crate::command::setup(&py, "cmd-slurm", "shift = { values = [0.0, 0.05, 0.1] }\nepochs = { value = 4 }", "");
    let out = sweep_env(tmp.path(), &["slurm", "s.toml"], &[]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (arrays, aggregate) = job_ids(&out);
    let states = wait_for(&all(&arrays, &aggregate));
    assert!(states.values().all(|s| s == "COMPLETED"), "{states:?}");
    let root = tmp.path().join("results/cmd-slurm");
    let on_slurm = leaderboard(&root.join("leaderboard.csv"));
    assert_eq!(on_slurm.len(), 3);
    assert!(on_slurm.iter().all(|r| r["status"] == "completed"), "{on_slurm:?}");
    let local = sweep_env(tmp.path(), &["run", "s.toml", "--results-dir", "local", "-q"], &[]);
    assert!(local.status.success(), "{}", text(&local.stderr));
    assert_eq!(on_slurm, leaderboard(&tmp.path().join("local/cmd-slurm/leaderboard.csv")));
    // The program ran in the spec's folder, as the local run's did, and its model verifies.
    let best = root.join("trials").join(&on_slurm[0]["trial_id"]);
    let record: serde_json::Value = serde_json::from_slice(&fs::read(best.join("trial.json")).unwrap()).unwrap();
    assert_eq!(Path::new(record["program"]["cwd"].as_str().unwrap()), fs::canonicalize(tmp.path()).unwrap());
    let verify = sweep_env(tmp.path(), &["verify", best.to_str().unwrap()], &[]);
    assert!(verify.status.success(), "{}{}", text(&verify.stdout), text(&verify.stderr));
}
