//! TensorBoard's event files, read back with TensorBoard's own
//! `EventAccumulator` (PyPI `tensorboard`) and compared with each trial's
//! history.csv, trial.json and the spec: written by `sweep run` with
//! `[report] tensorboard = true`, by `sweep aggregate` for such a sweep, and
//! by `sweep tensorboard` for any sweep, which replaces its files when run again.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::{SpecBuilder, python_with, sweep, sweep_env, text};

/// A grid of 4 trials × 3 epochs (lr × optimizer), with or without `[report] tensorboard = true`,
/// as `<name>.toml` in `dir`; returns that file's name.
fn spec(dir: &Path, name: &str, report: bool) -> String {
    let spec = SpecBuilder::new(name)
        .seed(7)
        .data_file("breast_cancer.csv")
        .values("lr", [0.003, 0.03])
        .values("optimizer", ["adam", "sgd"]);
    if report { spec.set("report", "tensorboard", true) } else { spec }.write(dir);
    format!("{name}.toml")
}

/// Checks every event file of `results` against the sweep's own files, with
/// TensorBoard's reader; panics with what differs.
const CHECK: &str = r#"
import csv, glob, json, os, sys
import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams import plugin_data_pb2, api_pb2

results = sys.argv[1]
tb = os.path.join(results, "tensorboard")
problems = []
def check(ok, what):
    if not ok:
        problems.append(what)

def tag_of(column):
    for prefix in ("train", "valid"):
        if column.startswith(prefix + "_"):
            return prefix + "/" + column[len(prefix) + 1:]
    return "valid/" + column

def plain(v):
    kind = v.WhichOneof("kind")
    return {"number_value": v.number_value, "string_value": v.string_value, "bool_value": v.bool_value}[kind]

def hparams_of(acc, tag):
    content = acc.PluginTagToContent("hparams")[tag]
    check(acc.SummaryMetadata(tag).plugin_data.plugin_name == "hparams", f"{tag}: plugin name")
    data = plugin_data_pb2.HParamsPluginData.FromString(content)
    check(data.version == 0, f"{tag}: version {data.version}")
    return data

spec = json.load(open(os.path.join(results, "sweep.json")))["spec"]
trials = sorted(glob.glob(os.path.join(results, "trials", "*", "trial.json")))
check(len(trials) > 0, "no trials")
scalars = 0
for path in trials:
    record = json.load(open(path))
    tid = record["id"]
    run = os.path.join(tb, tid)
    files = [f for f in os.listdir(run) if "tfevents" in f]
    check(len(files) == 1, f"{tid}: one event file, got {files}")
    acc = EventAccumulator(run, size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    expected = {}
    history = os.path.join(results, "trials", tid, "history.csv")
    with open(history) if os.path.exists(history) else open(os.devnull) as f:
        for row in csv.DictReader(f):
            for column, cell in row.items():
                if column in ("epoch", "saved_best") or cell == "":
                    continue
                expected.setdefault(tag_of(column), []).append((int(row["epoch"]), np.float32(float(cell))))
    if record["best_epoch"] is not None:
        for metric, value in record["best_metrics"].items():
            expected["best/" + metric] = [(record["best_epoch"], np.float32(value))]
    tags = set(acc.Tags()["scalars"])
    check(tags == set(expected), f"{tid}: scalar tags {sorted(tags)} != {sorted(expected)}")
    for tag, points in expected.items():
        if tag not in tags:
            continue
        got = [(e.step, np.float32(e.value)) for e in acc.Scalars(tag)]
        check(got == points, f"{tid}: {tag}: {got} != {points}")
        scalars += len(got)

    start = hparams_of(acc, "_hparams_/session_start_info").session_start_info
    got = {k: plain(v) for k, v in start.hparams.items()}
    check(got == record["params"], f"{tid}: hparams {got} != params {record['params']}")
    check(start.group_name == tid, f"{tid}: group name {start.group_name}")
    end = hparams_of(acc, "_hparams_/session_end_info").session_end_info
    status = api_pb2.STATUS_SUCCESS if record["status"] in ("completed", "pruned") else api_pb2.STATUS_FAILURE
    check(end.status == status, f"{tid}: status {end.status} for {record['status']}")
    check(end.end_time_secs >= start.start_time_secs > 1e9, f"{tid}: times {start.start_time_secs} {end.end_time_secs}")

files = [f for f in os.listdir(tb) if "tfevents" in f]
check(len(files) == 1, f"the sweep's run: one event file, got {files}")
check(sorted(d for d in os.listdir(tb) if os.path.isdir(os.path.join(tb, d))) ==
      sorted(os.path.basename(os.path.dirname(t)) for t in trials), "one run per trial, no others")
acc = EventAccumulator(tb)
acc.Reload()
experiment = hparams_of(acc, "_hparams_/experiment").experiment
check(experiment.name == spec["name"], f"experiment name {experiment.name}")
infos = {h.name: h for h in experiment.hparam_infos}
check(sorted(infos) == sorted(spec["parameters"]), f"hparams {sorted(infos)}")
for name, domain in spec["parameters"].items():
    info = infos.get(name)
    if info is None:
        continue
    check(info.WhichOneof("domain") == "domain_discrete", f"{name}: domain {info.WhichOneof('domain')}")
    check([plain(v) for v in info.domain_discrete.values] == domain["values"], f"{name}: values")
    kind = api_pb2.DATA_TYPE_STRING if isinstance(domain["values"][0], str) else api_pb2.DATA_TYPE_FLOAT64
    check(info.type == kind, f"{name}: type {info.type}")
metrics = [m.name.tag for m in experiment.metric_infos]
check(metrics[0] == "best/" + spec["metric"]["name"], f"the monitored metric comes first: {metrics}")
best = set()
for path in trials:
    best |= {"best/" + m for m in json.load(open(path))["best_metrics"]}
check(set(metrics) == best, f"metrics {metrics} != {sorted(best)}")

if problems:
    sys.exit("\n".join(problems))
print(f"checked {len(trials)} trials, {scalars} scalars")
"#;

/// Runs [`CHECK`] on `results` and returns what it printed.
fn check_with_tensorboard(python: &Path, dir: &Path, results: &str) -> String {
    let script = dir.join("check_tensorboard.py");
    fs::write(&script, CHECK).unwrap();
    let out = Command::new(python).arg(&script).arg(results).current_dir(dir).output().unwrap();
    assert!(out.status.success(), "TensorBoard reads something else:\n{}{}", text(&out.stdout), text(&out.stderr));
    text(&out.stdout)
}

/// Every file under `dir`, with its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut all = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                all.insert(path.strip_prefix(dir).unwrap().to_path_buf(), fs::read(&path).unwrap());
            }
        }
    }
    all
}

#[test]
fn a_run_with_report_tensorboard_writes_what_tensorboard_reads_as_the_history() {
    let Some(python) = python_with(&["tensorboard", "numpy"]) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = spec(dir, "tb", true);
    // Trial 1 fails: it is a run too, with its status.
    let out = sweep_env(dir, &["run", &file], &[("SWEEP_FAIL_TRIALS", "1")]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("tensorboard: results/tb/tensorboard (4 trials, "), "{stdout}");
    let checked = check_with_tensorboard(&python, dir, "results/tb");
    assert!(checked.starts_with("checked 4 trials, "), "{checked}");

    // A SLURM array's aggregation job reads [report] from the results folder.
    fs::remove_dir_all(dir.join("results/tb/tensorboard")).unwrap();
    let out = sweep(dir, &["aggregate", "results/tb"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("tensorboard: results/tb/tensorboard"), "{}", text(&out.stdout));
    check_with_tensorboard(&python, dir, "results/tb");
}

#[test]
fn sweep_tensorboard_writes_a_finished_sweeps_files_and_replaces_them_when_run_again() {
    let Some(python) = python_with(&["tensorboard", "numpy"]) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let file = spec(dir, "plain", false);
    let out = sweep(dir, &["run", &file, "--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let tb = dir.join("results/plain/tensorboard");
    assert!(!tb.exists(), "no event files without [report] tensorboard = true");

    let out = sweep(dir, &["tensorboard", "results/plain"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("tensorboard --logdir results/plain/tensorboard"), "{}", text(&out.stdout));
    let checked = check_with_tensorboard(&python, dir, "results/plain");
    // 4 trials × (3 epochs + the best one) × 10 metrics.
    assert_eq!(checked.trim(), "checked 4 trials, 160 scalars");
    let first = files(&tb);
    assert_eq!(first.len(), 5, "one file per trial and one for the sweep: {:?}", first.keys());

    // Event files of another attempt, and of a trial that is gone, are replaced, not read twice.
    let run = first.keys().find(|p| p.components().count() == 2).unwrap().parent().unwrap().to_path_buf();
    fs::write(tb.join(&run).join("events.out.tfevents.1.oldhost.123.0"), b"").unwrap();
    fs::create_dir_all(tb.join("t0099-gone")).unwrap();
    fs::write(tb.join("t0099-gone/events.out.tfevents.1.sweep"), b"").unwrap();
    let out = sweep(dir, &["tensorboard", "results/plain", "--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    assert!(files(&tb) == first, "written again: the same files, byte for byte, and no others");
    check_with_tensorboard(&python, dir, "results/plain");
}

#[test]
fn sweep_tensorboard_on_a_folder_that_is_no_sweep_is_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let out = sweep(tmp.path(), &["tensorboard", "results/none"]);
    assert_eq!(out.status.code(), Some(2));
    let err = text(&out.stderr);
    assert!(err.contains("results/none: no sweep.json here"), "{err}");
    assert!(!tmp.path().join("results").exists(), "nothing written");
}
