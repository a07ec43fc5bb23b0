//! Processes that share a results folder share its trials: each trial is
//! claimed before it trains, so several `sweep run --resume` at once train
//! every trial once, and a killed claimant's trials are taken over.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{SpecBuilder, read_csv, sweep, text};

/// 12 configurations × 8 epochs on the bundled digits: long enough for processes to overlap.
fn spec(name: &str) -> SpecBuilder {
    SpecBuilder::new(name)
        .seed(3)
        .epochs(8)
        .values("lr", [0.001, 0.003, 0.01])
        .values("hidden", [32, 64])
        .values("dropout", [0.0, 0.2])
}

fn records(root: &Path) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for entry in fs::read_dir(root.join("trials")).unwrap() {
        let path = entry.unwrap().path().join("trial.json");
        if path.exists() {
            out.push(serde_json::from_slice(&fs::read(path).unwrap()).unwrap());
        }
    }
    out
}

/// The leaderboard without its timing column.
fn board(root: &Path) -> Vec<BTreeMap<String, String>> {
    read_csv(&root.join("leaderboard.csv"))
        .into_iter()
        .map(|mut r| {
            crate::common::drop_timings(&mut r);
            r
        })
        .collect()
}

fn run_now_count(stdout: &str) -> usize {
    let line = stdout.lines().find(|l| l.contains(" run now")).unwrap_or_else(|| panic!("{stdout}"));
    let start = line.find('(').unwrap() + 1;
    line[start..].split(' ').next().unwrap().parse().unwrap()
}

fn binary(dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sweep"));
    cmd.current_dir(dir).env_remove("SWEEP_FAIL_TRIALS").env_remove("SWEEP_ABORT_TRIALS");
    cmd
}

#[test]
fn four_processes_on_one_folder_train_every_trial_once_and_agree_with_one_process() {
    let tmp = tempfile::tempdir().unwrap();
    spec("shared").write_as(tmp.path(), "s.toml");
    let started = Instant::now();
    let children: Vec<_> = (0..4)
        .map(|_| {
            binary(tmp.path())
                .args(["run", "s.toml", "--resume", "--workers", "1"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let pids: BTreeSet<u64> = children.iter().map(|c| c.id() as u64).collect();
    let outputs: Vec<_> = children.into_iter().map(|c| c.wait_with_output().unwrap()).collect();
    let four = started.elapsed();
    let mut counts = Vec::new();
    for out in &outputs {
        assert!(out.status.success(), "{}", text(&out.stderr));
        counts.push(run_now_count(&text(&out.stdout)));
    }
    assert_eq!(counts.iter().sum::<usize>(), 12, "every trial trained once: {counts:?}");
    let root = tmp.path().join("results/shared");
    let recs = records(&root);
    assert_eq!(recs.len(), 12);
    for r in &recs {
        assert_eq!(r["attempt"], 1, "{r}");
        assert!(pids.contains(&r["pid"].as_u64().unwrap()), "trained by one of the four: {r}");
        assert!(!r["host"].as_str().unwrap().is_empty());
    }
    let by_process: BTreeMap<u64, usize> = recs.iter().fold(BTreeMap::new(), |mut m, r| {
        *m.entry(r["pid"].as_u64().unwrap()).or_default() += 1;
        m
    });
    let mut per_record: Vec<usize> = by_process.values().copied().collect();
    per_record.sort();
    counts.sort();
    assert_eq!(per_record, counts.into_iter().filter(|c| *c > 0).collect::<Vec<_>>());

    let started = Instant::now();
    let one = sweep(tmp.path(), &["run", "s.toml", "--workers", "1", "--results-dir", "one", "-q"]);
    let single = started.elapsed();
    assert!(one.status.success(), "{}", text(&one.stderr));
    assert_eq!(board(&root), board(&tmp.path().join("one/shared")));
    eprintln!(
        "four processes: {:.2} s, counts {by_process:?}; one process: {:.2} s",
        four.as_secs_f64(),
        single.as_secs_f64()
    );
}

#[test]
fn a_killed_claimant_is_taken_over_and_a_plain_run_says_who_works() {
    let tmp = tempfile::tempdir().unwrap();
    // Long trials, so that the kill lands inside them.
    spec("killed").epochs(400).write_as(tmp.path(), "s.toml");
    let mut first = binary(tmp.path())
        .args(["run", "s.toml", "--workers", "2", "-q"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let root = tmp.path().join("results/killed");
    let deadline = Instant::now() + Duration::from_secs(60);
    let claimed = || -> usize {
        fs::read_dir(root.join("trials")).map_or(0, |d| {
            d.filter_map(|e| e.ok())
                .filter(|e| e.path().join("claim-1.json").exists() && !e.path().join("trial.json").exists())
                .count()
        })
    };
    while claimed() < 2 {
        assert!(Instant::now() < deadline, "no trial started");
        std::thread::sleep(Duration::from_millis(50));
    }
    // While it trains, a plain run is refused and told who is working.
    let refused = sweep(tmp.path(), &["run", "s.toml"]);
    assert_eq!(refused.status.code(), Some(2));
    let message = text(&refused.stderr);
    assert!(
        message.contains(&format!("another process is working on it now ({} pid {}", hostname(), first.id())),
        "{message}"
    );
    assert!(message.contains("--resume joins it"), "{message}");

    first.kill().unwrap(); // SIGKILL: no chance to clean up
    first.wait().unwrap();
    let in_progress: BTreeSet<String> = fs::read_dir(root.join("trials"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("claim-1.json").exists() && !e.path().join("trial.json").exists())
        .map(|e| e.file_name().into_string().unwrap())
        .collect();
    assert!(!in_progress.is_empty());
    // The resumed run takes the dead claims over without waiting for the heartbeat limit.
    let started = Instant::now();
    let resumed = binary(tmp.path())
        .args(["run", "s.toml", "--resume", "--workers", "2", "-q"])
        .env("SWEEP_CLAIM_STALE_AFTER", "120")
        .output()
        .unwrap();
    assert!(resumed.status.success(), "{}", text(&resumed.stderr));
    // A dead process's claims are stale at once (their lock is gone), not after the heartbeat limit.
    assert!(started.elapsed() < Duration::from_secs(100), "{:?}", started.elapsed());
    let recs = records(&root);
    assert_eq!(recs.len(), 12);
    for r in &recs {
        let id = r["id"].as_str().unwrap();
        if in_progress.contains(id) {
            assert_eq!(r["attempt"], 2, "taken over: {r}");
            assert!(root.join("trials").join(id).join("claim-2.json").exists());
        }
    }
    eprintln!("resumed after the kill in {:.1} s", started.elapsed().as_secs_f64());
}

#[test]
fn an_array_task_leaves_a_trial_another_live_process_holds_alone() {
    let tmp = tempfile::tempdir().unwrap();
    spec("held").write_as(tmp.path(), "s.toml");
    let out = sweep(tmp.path(), &["plan", "s.toml", "--json"]);
    let first: serde_json::Value = serde_json::from_str(text(&out.stdout).lines().next().unwrap()).unwrap();
    let trial_dir = tmp.path().join("results/held/trials").join(first["id"].as_str().unwrap());
    fs::create_dir_all(&trial_dir).unwrap();
    // This test process holds the claim, locked, as a live claimant does.
    let claim = serde_json::json!({"attempt": 1, "host": hostname(), "pid": std::process::id(), "claimed_at": "now"});
    fs::write(trial_dir.join("claim-1.json"), claim.to_string()).unwrap();
    let held = fs::File::open(trial_dir.join("claim-1.json")).unwrap();
    held.lock().unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    let out = sweep(tmp.path(), &["trial", "s.toml", "--index", "0"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains(&format!("is being trained by {} pid {}", hostname(), std::process::id())),
        "{}",
        text(&out.stdout)
    );
    assert!(!trial_dir.join("trial.json").exists());
    // Let go: the claim is stale, and the task takes it over as attempt 2.
    drop(held);
    let out = sweep(tmp.path(), &["trial", "s.toml", "--index", "0"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let record: serde_json::Value = serde_json::from_slice(&fs::read(trial_dir.join("trial.json")).unwrap()).unwrap();
    assert_eq!(record["attempt"], 2);
}

fn hostname() -> String {
    fs::read_to_string("/proc/sys/kernel/hostname").map(|h| h.trim().to_string()).unwrap_or_default()
}

/// Makes the trial folder `dir` look unfinished: no record and no claim.
fn unfinish(dir: &Path) {
    fs::remove_file(dir.join("trial.json")).unwrap();
    fs::remove_file(dir.join("claim-1.json")).unwrap();
}

/// Writes `claim-1.json` for `host` and `pid`, with its heartbeat `age` ago.
fn write_claim(dir: &Path, host: &str, pid: u32, age: Duration) {
    let claim = serde_json::json!({"attempt": 1, "host": host, "pid": pid, "claimed_at": "2026-11-30T10:00:00Z"});
    let path = dir.join("claim-1.json");
    fs::write(&path, claim.to_string()).unwrap();
    let at = std::time::SystemTime::now() - age;
    fs::File::options().write(true).open(&path).unwrap().set_modified(at).unwrap();
}

#[test]
fn trials_whose_process_may_live_are_never_resubmitted_and_only_gone_ones_are() {
    let tmp = tempfile::tempdir().unwrap();
    spec("alive").epochs(1).write_as(tmp.path(), "s.toml");
    let out = sweep(tmp.path(), &["run", "s.toml", "--workers", "1", "-q"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let root = tmp.path().join("results/alive");
    let mut dirs: Vec<_> = fs::read_dir(root.join("trials")).unwrap().map(|e| e.unwrap().path()).collect();
    dirs.sort();
    for d in &dirs[..6] {
        unfinish(d);
    }
    let dead = {
        let mut child = Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        pid
    };
    // 0: another host, heartbeat 2 s ago: running. 1: another host, heartbeat 30 s ago: unknown.
    // 2: another host, no heartbeat for 2 h: stale. 3: a marker of this live process, no claim:
    // running. 4: a marker of a dead process on this host: stale. 5: a marker from another host
    // without a claim: unknown.
    write_claim(&dirs[0], "node-elsewhere", 4711, Duration::from_secs(2));
    write_claim(&dirs[1], "node-elsewhere", 4712, Duration::from_secs(30));
    write_claim(&dirs[2], "node-elsewhere", 4713, Duration::from_secs(7200));
    let marker = |host: &str, pid: u32| {
        serde_json::json!({"host": host, "pid": pid, "started_at": "2026-11-30T10:00:00Z",
                           "slurm_job_id": null, "slurm_array_task": null})
        .to_string()
    };
    fs::write(dirs[3].join("running.json"), marker(&hostname(), std::process::id())).unwrap();
    fs::write(dirs[4].join("running.json"), marker(&hostname(), dead)).unwrap();
    fs::write(dirs[5].join("running.json"), marker("node-elsewhere", 4715)).unwrap();

    let out = sweep(tmp.path(), &["status", "results/alive"]);
    assert_eq!(out.status.code(), Some(1), "not all done");
    let report = text(&out.stdout);
    assert!(report.contains("12 trials: 6 done, 2 running, 2 unknown, 2 stale"), "{report}");
    let line = |i: usize| report.lines().find(|l| l.trim_start().starts_with(&format!("{i} "))).unwrap_or("");
    assert!(line(0).contains("running") && line(0).contains("pid 4711 on node-elsewhere"), "{report}");
    assert!(
        line(1).contains("unknown") && line(1).contains("another host, whose last heartbeat is 30 s old"),
        "{report}"
    );
    assert!(line(2).contains("stale") && line(2).contains("no heartbeat for 7200 s"), "{report}");
    assert!(line(3).contains("running") && line(3).contains(&format!("pid {}", std::process::id())), "{report}");
    assert!(line(4).contains("stale") && line(4).contains(&format!("no process {dead} runs on this host")), "{report}");
    assert!(line(5).contains("unknown") && line(5).contains("holds no claim"), "{report}");
    assert!(report.contains("only-missing (2 trials)"), "{report}");

    let json = sweep(tmp.path(), &["status", "results/alive", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["trials"][1]["state"], "unknown");
    assert!(v["trials"][1]["reason"].as_str().unwrap().contains("node-elsewhere"), "{v}");

    // Only the trials whose process is known to be gone are resubmitted.
    let out = sweep(tmp.path(), &["slurm", "s.toml", "--only-missing", "--dry-run", "--max-array-size", "1001"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("array job (2 trials: 2,4)"), "{}", text(&out.stdout));
}

#[test]
fn asynchronous_asha_prunes_at_rungs_against_the_trials_so_far_and_keeps_every_trial_once() {
    let tmp = tempfile::tempdir().unwrap();
    spec("async").epochs(9).asha(1, 3).write_as(tmp.path(), "s.toml");
    let out = sweep(tmp.path(), &["run", "s.toml", "--async", "--workers", "2", "-q"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let root = tmp.path().join("results/async");
    let rows = read_csv(&root.join("leaderboard.csv"));
    assert_eq!(rows.len(), 12);
    let pruned: Vec<&BTreeMap<String, String>> = rows.iter().filter(|r| r["status"] == "pruned").collect();
    assert!(!pruned.is_empty(), "the slower half is pruned");
    for r in &pruned {
        // Rungs at epochs 1 and 3 (9 is the last epoch, no rung).
        let at: usize = r["epochs_run"].parse().unwrap();
        assert!([1, 3].contains(&at), "{r:?}");
        assert_eq!(r["message"], format!("pruned by asha at epoch {at}"));
        assert!(root.join(&r["checkpoint"]).exists(), "a pruned trial keeps its best checkpoint");
    }
    assert!(records(&root).iter().all(|r| r["attempt"] == 1));
    // The best trial ran to the end.
    assert_eq!(rows[0]["epochs_run"], "9", "{:?}", rows[0]);
}

#[test]
fn asynchronous_tpe_proposes_from_the_folder_until_its_budget_is_spent() {
    let tmp = tempfile::tempdir().unwrap();
    spec("tpe-async")
        .method("tpe")
        .trials(10)
        .set("tpe", "startup_trials", 4)
        .distribution("lr", "log_uniform_values", 0.0003, 0.03)
        .write_as(tmp.path(), "s.toml");
    // One run with two workers and a separate `trial --next` process share the budget.
    let helper = binary(tmp.path())
        .args(["trial", "s.toml", "--next"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = sweep(tmp.path(), &["run", "s.toml", "--async", "--workers", "2", "--resume", "-q"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let helper = helper.wait_with_output().unwrap();
    assert!(helper.status.success(), "{}", text(&helper.stderr));
    let root = tmp.path().join("results/tpe-async");
    let proposals: BTreeSet<String> = fs::read_dir(root.join("proposals"))
        .unwrap()
        .map(|e| {
            let v: serde_json::Value = serde_json::from_slice(&fs::read(e.unwrap().path()).unwrap()).unwrap();
            v["id"].as_str().unwrap().to_string()
        })
        .collect();
    assert_eq!(proposals.len(), 10, "the budget, proposed once each");
    let recs = records(&root);
    assert_eq!(recs.len(), 10);
    assert!(recs.iter().all(|r| r["attempt"] == 1 && r["status"] == "completed"), "every proposal trained once");
    let trained: BTreeSet<String> = recs.iter().map(|r| r["id"].as_str().unwrap().to_string()).collect();
    assert_eq!(trained, proposals);
    assert_eq!(read_csv(&root.join("leaderboard.csv")).len(), 10);
}
