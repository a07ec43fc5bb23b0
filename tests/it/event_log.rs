//! `results/NAME/events.jsonl`: every `sweep run` appends one JSON object per event, whose
//! trials, epochs and metrics agree with the records and history.csv files it wrote, and
//! `sweep status --follow` shows them as the sweep runs and stops when it is over.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::{data, read_csv, sweep, sweep_env, text};

/// 4 trials (lr × hidden) × `epochs` epochs on digits.
fn spec(name: &str, epochs: usize) -> String {
    format!(
        r#"name = "{name}"
method = "grid"
seed = 5
[data]
path = "{}"
[metric]
name = "mcc"
[train]
epochs = {epochs}
[parameters]
lr = {{ values = [0.003, 0.01] }}
hidden = {{ values = [8, 16] }}
"#,
        data("digits.csv")
    )
}

fn log_lines(root: &Path) -> Vec<serde_json::Value> {
    let text = fs::read_to_string(root.join("events.jsonl")).unwrap();
    assert!(text.ends_with('\n'), "every line is whole");
    text.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect()
}

fn of_kind<'a>(lines: &'a [serde_json::Value], kind: &str) -> Vec<&'a serde_json::Value> {
    lines.iter().filter(|l| l["event"] == kind).collect()
}

#[test]
fn a_run_logs_what_its_records_and_histories_hold() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("s.toml"), spec("ev", 3)).unwrap();
    let out = sweep_env(tmp.path(), &["run", "s.toml", "--workers", "2", "-q"], &[("SWEEP_FAIL_TRIALS", "1")]);
    assert_eq!(out.status.code(), Some(1), "one trial fails: {}", text(&out.stderr));
    let root = tmp.path().join("results/ev");
    let lines = log_lines(&root);

    for line in &lines {
        let time = line["time"].as_str().unwrap();
        assert!(time.len() > 20 && time.ends_with('Z') && &time[10..11] == "T", "RFC 3339 in UTC: {time}");
        assert!(line["pid"].as_u64().unwrap() > 0, "{line}");
    }
    assert_eq!(lines[0]["event"], "sweep_started", "{:?}", lines[0]);
    assert_eq!((lines[0]["planned"].as_u64(), lines[0]["resumed"].as_u64()), (Some(4), Some(0)));
    assert_eq!(lines.last().unwrap()["event"], "sweep_finished");
    // The injected failure comes before training starts: that trial is committed without starting.
    assert_eq!(of_kind(&lines, "trial_started").len(), 3);
    assert_eq!(of_kind(&lines, "trial_committed").len(), 4);

    let mut statuses = BTreeMap::new();
    for entry in fs::read_dir(root.join("trials")).unwrap() {
        let trial = entry.unwrap().path();
        let record: serde_json::Value = serde_json::from_slice(&fs::read(trial.join("trial.json")).unwrap()).unwrap();
        let id = record["id"].as_str().unwrap();
        let mine: Vec<&serde_json::Value> = lines.iter().filter(|l| l["id"] == id).collect();
        let kinds: Vec<&str> = mine.iter().map(|l| l["event"].as_str().unwrap()).collect();
        let starts = if record["status"] == "failed" { 0 } else { 1 };
        assert_eq!(kinds.iter().filter(|k| **k == "trial_started").count(), starts, "{id}: {kinds:?}");
        assert!(starts == 0 || kinds[0] == "trial_started", "{id}: {kinds:?}");
        assert_eq!(kinds.last(), Some(&"trial_committed"), "{id}: {kinds:?}");

        let committed = mine.last().unwrap();
        for key in ["index", "status", "best_epoch", "epochs_run", "message"] {
            assert_eq!(committed[key], record[key], "{id}: {key}");
        }
        assert_eq!(committed["metric"], "mcc");
        assert_eq!(committed["value"], record["best_metrics"]["mcc"], "{id}");
        *statuses.entry(record["status"].as_str().unwrap().to_string()).or_insert(0) += 1;

        // Every epoch line is a row of history.csv, with the same values.
        let epochs: Vec<&&serde_json::Value> = mine.iter().filter(|l| l["event"] == "epoch_ended").collect();
        let history = trial.join("history.csv");
        let rows = if history.exists() { read_csv(&history) } else { Vec::new() };
        assert_eq!(epochs.len(), rows.len(), "{id}: one line per epoch");
        for (line, row) in epochs.iter().zip(&rows) {
            assert_eq!(line["epoch"].as_u64().unwrap().to_string(), row["epoch"], "{id}");
            let metrics = line["metrics"].as_object().unwrap();
            // An empty cell (auroc of a multi-class task) is a metric the epoch does not have.
            let columns: Vec<&String> = row
                .iter()
                .filter(|(k, v)| *k != "epoch" && *k != "saved_best" && !v.is_empty())
                .map(|(k, _)| k)
                .collect();
            assert_eq!(metrics.len(), columns.len(), "{id}: {metrics:?} vs {columns:?}");
            for column in columns {
                let logged = metrics[column.as_str()].as_f64().unwrap();
                let written: f64 = row[column].parse().unwrap();
                assert!(
                    (logged - written).abs() <= 1e-12 * written.abs().max(1.0),
                    "{id} {column}: {logged} vs {written}"
                );
            }
        }
        let saved: Vec<String> =
            rows.iter().filter(|r| r["saved_best"] == "true").map(|r| r["epoch"].clone()).collect();
        let logged: Vec<String> = mine
            .iter()
            .filter(|l| l["event"] == "checkpoint_saved")
            .map(|l| l["epoch"].as_u64().unwrap().to_string())
            .collect();
        assert_eq!(logged, saved, "{id}: a checkpoint line per epoch that replaced it");
    }
    assert_eq!(statuses, BTreeMap::from([("completed".to_string(), 3), ("failed".to_string(), 1)]));

    // --resume appends a run that finds everything done; --fresh starts the log over.
    let before = lines.len();
    let out = sweep(tmp.path(), &["run", "s.toml", "--resume", "-q"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let lines = log_lines(&root);
    assert_eq!(lines.len(), before + 2, "{:?}", &lines[before..]);
    assert_eq!((lines[before]["event"].as_str(), lines[before]["resumed"].as_u64()), (Some("sweep_started"), Some(4)));
    let out = sweep(tmp.path(), &["run", "s.toml", "--fresh", "-q"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines = log_lines(&root);
    assert_eq!(of_kind(&lines, "sweep_started").len(), 1, "the earlier runs' lines are gone");
    assert_eq!(of_kind(&lines, "trial_committed").len(), 4);

    // Following a finished sweep shows its last events and stops at once.
    let started = Instant::now();
    let out = sweep(tmp.path(), &["status", "results/ev", "--follow"]);
    assert!(started.elapsed() < Duration::from_secs(10), "it does not wait for more");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    let shown: Vec<&str> = stdout.lines().collect();
    assert!(shown[0].starts_with('(') && shown[0].contains("earlier events in"), "{stdout}");
    assert_eq!(shown.len(), 1 + 10 + 1, "{stdout}");
    assert!(shown[10].ends_with("sweep finished"), "{stdout}");
    assert_eq!(*shown.last().unwrap(), "ev: 4/4 trials recorded: 4 done", "{stdout}");
    let out = sweep(tmp.path(), &["status", "results/ev", "--follow", "--json"]);
    assert_eq!(out.status.code(), Some(2), "--follow has no JSON form: {}", text(&out.stderr));
}

#[test]
fn status_follow_shows_a_running_sweep_until_it_is_over() {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("s.toml"), spec("live", 20)).unwrap();
    let binary = || {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_sweep"));
        cmd.current_dir(tmp.path()).env_remove("SWEEP_FAIL_TRIALS").env_remove("SWEEP_ABORT_TRIALS");
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd
    };
    let run = binary().args(["run", "s.toml", "--workers", "1", "-q"]).spawn().unwrap();
    let root = tmp.path().join("results/live");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !root.join("sweep.json").exists() {
        assert!(Instant::now() < deadline, "the run never wrote its manifest");
        std::thread::sleep(Duration::from_millis(20));
    }
    let follow = binary().args(["status", "results/live", "--follow"]).spawn().unwrap();
    let mut follow = Some(follow);
    while follow.as_mut().unwrap().try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            follow.take().unwrap().kill().unwrap();
            panic!("--follow did not stop");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let followed = follow.take().unwrap().wait_with_output().unwrap();
    let ran = run.wait_with_output().unwrap();
    assert!(ran.status.success(), "{}", text(&ran.stderr));
    assert_eq!(followed.status.code(), Some(0), "{}", text(&followed.stderr));

    let stdout = text(&followed.stdout);
    assert_eq!(stdout.lines().last(), Some("live: 4/4 trials recorded: 4 done"), "{stdout}");
    let committed = stdout.lines().filter(|l| l.contains(" completed: mcc ")).count();
    assert_eq!(committed, 4, "every trial's end is shown, from the log's past or as it came: {stdout}");
    assert!(stdout.contains("sweep finished"), "{stdout}");
    assert!(stdout.lines().filter(|l| l.contains(" trials recorded: ")).count() > 1, "progress as it went: {stdout}");
}

#[test]
fn a_long_trials_start_is_logged_when_it_starts_not_with_its_first_epoch() {
    // One trial whose epochs take a few hundred milliseconds: its start is held for 20 ms
    // (short trials send their events with their result), then logged by the run's thread
    // while the first epoch still trains, not held until that epoch's own event.
    let tmp = tempfile::tempdir().unwrap();
    let spec = format!(
        "name = \"slow\"\nmethod = \"grid\"\nseed = 1\n[data]\npath = \"{}\"\n[metric]\nname = \"mcc\"\n\
         [train]\nepochs = 2\nlayers = 3\nbatch_size = 16\n[parameters]\nhidden = {{ values = [1024] }}\n",
        data("digits.csv")
    );
    fs::write(tmp.path().join("s.toml"), spec).unwrap();
    let out = sweep(tmp.path(), &["run", "s.toml", "-q"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines = log_lines(&tmp.path().join("results/slow"));
    let time = |line: &serde_json::Value| line["time"].as_str().unwrap().to_string();
    let started = time(of_kind(&lines, "trial_started")[0]);
    let trials_events = lines.iter().filter(|l| l["id"].is_string() && l["event"] != "trial_started");
    let first_epoch = trials_events.map(time).min().unwrap();
    assert!(started < first_epoch, "logged at {started}, with the first epoch's events at {first_epoch}");
}
