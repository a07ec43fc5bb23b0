//! `sweep mlflow push` against a real MLflow server (started here from the
//! Python that has MLflow), read back with MLflow's own Python client.

use std::collections::BTreeMap;
use std::fs;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::common::{SpecBuilder, python_with, sweep, sweep_env, text};

/// A `mlflow server` on a free port with a SQLite store and local artifacts,
/// killed (with its workers) when dropped, also when the test panics.
struct Server {
    child: Child,
    uri: String,
    log: PathBuf,
}

impl Server {
    fn start(python: &Path, dir: &Path) -> Server {
        let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mlflow = python.parent().map(|bin| bin.join("mlflow")).filter(|p| p.exists());
        let mut cmd = match &mlflow {
            Some(exe) => Command::new(exe),
            None => {
                let mut c = Command::new(python);
                c.args(["-m", "mlflow"]);
                c
            }
        };
        let log = dir.join("mlflow-server.log");
        let db = format!("sqlite:///{}", dir.join("mlflow.db").display());
        let artifacts = dir.join("artifacts");
        cmd.args(["server", "--host", "127.0.0.1", "--port", &port.to_string(), "--workers", "1"])
            .args(["--backend-store-uri", &db, "--artifacts-destination"])
            .arg(&artifacts)
            .current_dir(dir)
            .stdout(fs::File::create(&log).unwrap())
            .stderr(fs::File::create(dir.join("mlflow-server.err")).unwrap());
        // Its own process group, so that the drop kills uvicorn's workers too.
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd.spawn().expect("mlflow server starts");
        let server = Server { child, uri: format!("http://127.0.0.1:{port}"), log };
        server.wait_healthy();
        server
    }

    fn wait_healthy(&self) {
        let agent: ureq::Agent =
            ureq::Agent::config_builder().timeout_global(Some(Duration::from_secs(2))).build().into();
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(300) {
            if agent.get(&format!("{}/health", self.uri)).call().is_ok_and(|r| r.status() == 200) {
                return;
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        let err = fs::read_to_string(self.log.with_file_name("mlflow-server.err")).unwrap_or_default();
        panic!("mlflow server at {} not healthy after 300 s:\n{err}", self.uri);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let group = format!("-{}", self.child.id());
        let _ = Command::new("kill").args(["-KILL", "--", &group]).status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Every file under `dir` (relative path → sha256), to show a push changes nothing there.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, String> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, String>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                let bytes = fs::read(&path).unwrap();
                out.insert(
                    path.strip_prefix(root).unwrap().to_path_buf(),
                    Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect(),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// A small sweep: 8 trials × 3 epochs on digits; trial 1 fails on purpose.
fn small_sweep(dir: &Path) -> PathBuf {
    SpecBuilder::new("mlflow-small")
        .seed(5)
        .values("lr", [0.003, 0.01])
        .values("hidden", [8, 16])
        .values("dropout", [0.0, 0.2])
        .write_as(dir, "small.toml");
    let out = sweep_env(dir, &["run", "small.toml", "-q"], &[("SWEEP_FAIL_TRIALS", "1")]);
    assert_eq!(out.status.code(), Some(1), "one failed trial: {}", text(&out.stderr));
    dir.join("results/mlflow-small")
}

fn ok(out: &Output) -> String {
    assert!(out.status.success(), "stdout: {}\nstderr: {}", text(&out.stdout), text(&out.stderr));
    text(&out.stdout)
}

/// What MLflow's own client reads back, checked against the results folder.
const CHECK: &str = r#"
import csv, hashlib, json, math, os, sys, tempfile
from mlflow.tracking import MlflowClient

uri, results, experiment, model, alias, phase = sys.argv[1:7]
client = MlflowClient(tracking_uri=uri)
exp = client.get_experiment_by_name(experiment)
assert exp is not None, f"no experiment {experiment}"
runs = client.search_runs([exp.experiment_id], max_results=1000)
trials = sorted(os.listdir(os.path.join(results, "trials")))
by_trial = {}
for run in runs:
    by_trial.setdefault(run.data.tags["sweep.trial_id"], []).append(run)
complete = {t for t, rs in by_trial.items() for r in rs if "sweep.push_complete" in r.data.tags}
if phase == "interrupted":
    # The killed push left some trials without a complete run.
    assert len(complete) < len(trials), f"all {len(trials)} complete: the push was not interrupted"
    print(f"interrupted: {len(complete)} of {len(trials)} complete, {len(runs)} runs")
    sys.exit(0)
assert sorted(by_trial) == trials, f"runs {sorted(by_trial)} vs trials {trials}"
assert all(len(rs) == 1 for rs in by_trial.values()), {t: len(rs) for t, rs in by_trial.items()}
assert len(complete) == len(trials)

board = {row["trial_id"]: row for row in csv.DictReader(open(os.path.join(results, "leaderboard.csv")))}
for trial in trials:
    run = by_trial[trial][0]
    folder = os.path.join(results, "trials", trial)
    record = json.load(open(os.path.join(folder, "trial.json")))
    tags = run.data.tags
    assert tags["sweep.status"] == record["status"], (trial, tags)
    assert tags["sweep.seed"] == str(record["seed"])
    assert tags["sweep.spec_hash"] == record["spec_hash"]
    assert tags["sweep.data_fingerprint"] == record["data_fingerprint"]
    assert tags["sweep.push_complete"] == hashlib.sha256(open(os.path.join(folder, "trial.json"), "rb").read()).hexdigest()
    assert run.info.run_name == trial
    has_model = record["status"] in ("completed", "pruned")
    assert run.info.status == ("FINISHED" if has_model else "FAILED"), (trial, run.info.status)
    assert set(run.data.params) == set(record["settings"]), (run.data.params, record["settings"])
    for key, value in record["settings"].items():
        got = run.data.params[key]
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            assert float(got) == float(value), (trial, key, got, value)
        else:
            assert got == str(value).lower() if isinstance(value, bool) else got == value, (trial, key, got, value)

    # Every epoch of history.csv, once, at step = epoch.
    history_csv = os.path.join(folder, "history.csv")
    rows = list(csv.DictReader(open(history_csv))) if os.path.exists(history_csv) else []
    columns = [c for c in (rows[0].keys() if rows else []) if c not in ("epoch", "saved_best")]
    for column in columns:
        expected = [(int(r["epoch"]), float(r[column])) for r in rows if r[column] != ""]
        history = client.get_metric_history(run.info.run_id, column)
        got = sorted((m.step, m.value) for m in history)
        assert len(got) == len(expected), (trial, column, got, expected)
        for (s1, v1), (s2, v2) in zip(got, sorted(expected)):
            assert s1 == s2 and (v1 == v2 or (math.isnan(v1) and math.isnan(v2))), (trial, column, got, expected)

    # best_<metric> as in the leaderboard, at step = the best epoch.
    row = board[trial]
    best_cols = [c for c in row if c.startswith("best_") and c not in ("best_epoch",) and not c.endswith(("_low", "_high"))]
    assert best_cols, row
    for column in best_cols:
        if row[column] == "":
            assert column not in run.data.metrics, (trial, column)
            continue
        assert float(row[column]) == run.data.metrics[column], (trial, column, row[column], run.data.metrics.get(column))
        steps = [m.step for m in client.get_metric_history(run.info.run_id, column)]
        assert steps == [int(row["best_epoch"])], (trial, column, steps)

    names = sorted(a.path for a in client.list_artifacts(run.info.run_id))
    if has_model:
        assert names == ["history.csv", "model", "trial.json"], names
        files = sorted(a.path for a in client.list_artifacts(run.info.run_id, "model"))
        assert files == [f"model/{n}" for n in ["best.json", "best.safetensors", "model_card.json", "model_card.md", "preprocessing.json", "trial.json"]], files
        with tempfile.TemporaryDirectory() as tmp:
            local = client.download_artifacts(run.info.run_id, "model/best.safetensors", tmp)
            assert hashlib.sha256(open(local, "rb").read()).hexdigest() == record["checkpoint_sha256"], trial
            card = json.load(open(client.download_artifacts(run.info.run_id, "model/model_card.json", tmp)))
            assert card["trial_id"] == trial and card["weights"]["sha256"] == record["checkpoint_sha256"], card
    else:
        assert names == (["history.csv"] if os.path.exists(history_csv) else []) + ["trial.json"], names

top = json.load(open(os.path.join(results, "registry.json")))["models"][0]["trial_id"]
version = client.get_model_version_by_alias(model, alias)
assert version.run_id == by_trial[top][0].info.run_id, (version.run_id, top)
assert version.source.endswith("/model"), version.source
assert version.tags["sweep.trial_id"] == top
versions = client.search_model_versions(f"name='{model}'")
assert len(versions) == 1, [v.version for v in versions]
print(f"ok: {len(trials)} runs, top {top} is {model} version {version.version} @{alias}")
"#;

fn check(python: &Path, dir: &Path, uri: &str, results: &Path, phase: &str) -> String {
    let script = dir.join("check_mlflow.py");
    fs::write(&script, CHECK).unwrap();
    let out = Command::new(python)
        .arg(&script)
        .args([uri, &results.display().to_string(), "mlflow-small", "digits-small", "champion", phase])
        .env("MLFLOW_TRACKING_URI", uri)
        .output()
        .unwrap();
    assert!(out.status.success(), "{phase}: MLflow's client disagrees:\n{}\n{}", text(&out.stdout), text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn a_sweep_pushed_to_a_real_mlflow_server_reads_back_with_mlflows_client() {
    let Some(python) = python_with(&["mlflow"]) else { return };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let results = small_sweep(dir);
    let before = snapshot(&results);
    let server = Server::start(&python, dir);
    let results_arg = results.display().to_string();

    // A real interruption: the push is killed once the first runs exist.
    let mut push = Command::new(env!("CARGO_BIN_EXE_sweep"))
        .current_dir(dir)
        .args(["mlflow", "push", &results_arg, "--tracking-uri", &server.uri])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let artifacts = dir.join("artifacts");
    let runs_started = || {
        fs::read_dir(&artifacts)
            .into_iter()
            .flatten()
            .flatten()
            .flat_map(|exp| fs::read_dir(exp.path()).into_iter().flatten().flatten())
            .count()
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while runs_started() < 2 && Instant::now() < deadline && push.try_wait().unwrap().is_none() {
        std::thread::sleep(Duration::from_millis(2));
    }
    push.kill().unwrap();
    let status = push.wait().unwrap();
    assert!(!status.success(), "the push finished before it could be interrupted");
    println!("{}", check(&python, dir, &server.uri, &results, "interrupted"));

    // The next push completes it, registers the top trial and sets the alias;
    // the URI comes from MLFLOW_TRACKING_URI.
    let args = ["mlflow", "push", &results_arg, "--register", "digits-small", "--alias", "champion"];
    let out = ok(&sweep_env(dir, &args, &[("MLFLOW_TRACKING_URI", &server.uri)]));
    assert!(out.contains("pushed 8 trial(s)") && out.contains("registered: digits-small version 1 (new)"), "{out}");
    println!("{}", check(&python, dir, &server.uri, &results, "complete"));

    // Pushing again duplicates nothing: no run, metric point or model version.
    let out = ok(&sweep_env(dir, &args, &[("MLFLOW_TRACKING_URI", &server.uri)]));
    assert!(out.contains("0 new run(s), 0 completed, 8 already up to date"), "{out}");
    assert!(out.contains("version 1 (existing)"), "{out}");
    println!("{}", check(&python, dir, &server.uri, &results, "complete"));

    // A request the server rejects (an alias that looks like a version): exit 1,
    // the message names the URI, the endpoint and MLflow's error code.
    let out = sweep(
        dir,
        &["mlflow", "push", &results_arg, "--tracking-uri", &server.uri, "--register", "digits-small", "--alias", "v7"],
    );
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&server.uri) && err.contains("registered-models/alias") && err.contains("INVALID_PARAMETER_VALUE"),
        "{err}"
    );

    assert_eq!(snapshot(&results), before, "a push changed the results folder");
    drop(server);
}

#[test]
fn a_command_sweep_pushes_the_programs_checkpoints_and_registers_one() {
    let Some(python) = python_with(&["mlflow"]) else { return };
    let params = "shift = { values = [0.0, 0.1] }\nepochs = { value = 3 }";
    let tmp = crate::command::setup(&python, "prog", params, "");
    let dir = tmp.path();
    ok(&sweep(dir, &["run", "s.toml", "-q"]));
    let server = Server::start(&python, dir);
    let args = ["mlflow", "push", "results/prog", "--tracking-uri", &server.uri, "--register", "prog-model"];
    let out = ok(&sweep(dir, &args));
    assert!(out.contains("pushed 2 trial(s)") && out.contains("registered: prog-model version 1 (new)"), "{out}");
    // The program's checkpoint went up as it was written, beside best.json and trial.json.
    let pushed: Vec<PathBuf> = walk(&dir.join("artifacts"));
    let checkpoints: Vec<&PathBuf> = pushed.iter().filter(|p| p.ends_with("model/best.safetensors")).collect();
    assert_eq!(checkpoints.len(), 2, "{pushed:?}");
    for c in checkpoints {
        assert!(text(&fs::read(c).unwrap()).starts_with("trial t000"), "{}", c.display());
    }
    drop(server);
}

/// Every file under `dir`.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() { out.extend(walk(&path)) } else { out.push(path) }
    }
    out
}

#[test]
fn an_unreachable_server_fails_with_exit_1_naming_the_uri_and_changes_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    SpecBuilder::new("tiny").epochs(1).values("lr", [0.01]).write(dir);
    ok(&sweep(dir, &["run", "tiny.toml", "-q"]));
    let results = dir.join("results/tiny");
    let before = snapshot(&results);
    // A port nobody listens on: bound, then closed.
    let port = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let uri = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    let out = sweep(dir, &["mlflow", "push", "results/tiny", "--tracking-uri", &uri]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains(&uri) && err.contains("unreachable"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(10), "a refused connection fails at once");
    assert_eq!(snapshot(&results), before);

    // Not a server's URI, and no URI at all: bad input, exit 2.
    let out = sweep(dir, &["mlflow", "push", "results/tiny", "--tracking-uri", "sqlite:///mlflow.db"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("http://HOST:PORT"), "{}", text(&out.stderr));
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sweep"));
    let out = cmd
        .current_dir(dir)
        .args(["mlflow", "push", "results/tiny"])
        .env_remove("MLFLOW_TRACKING_URI")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("MLFLOW_TRACKING_URI"), "{}", text(&out.stderr));
    // --trial must name a complete trial: checked before any request.
    let out = sweep(
        dir,
        &["mlflow", "push", "results/tiny", "--tracking-uri", &uri, "--register", "m", "--trial", "t9-nope"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("t9-nope"), "{}", text(&out.stderr));
    assert_eq!(snapshot(&results), before);
}
