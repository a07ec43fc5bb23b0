//! `objective = "command"`: a Python program swept through the command
//! protocol, checked against what the program itself logged it did.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::common::{python_with, sweep, sweep_env, text};

const PROGRAM: &str = include_str!("command_prog.py");
const PREDICT: &str = include_str!("command_predict.py");

/// A folder with the test program, a log folder, and a spec `s.toml` for
/// `python` over `parameters` (TOML lines), with `extra` lines in `[command]`.
pub(crate) fn setup(python: &Path, name: &str, parameters: &str, extra: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    fs::write(tmp.path().join("prog.py"), PROGRAM).unwrap();
    fs::write(tmp.path().join("predict.py"), PREDICT).unwrap();
    fs::create_dir(tmp.path().join("logs")).unwrap();
    let spec = format!(
        "name = \"{name}\"\nobjective = \"command\"\nmethod = \"grid\"\n\n[command]\nargv = [{python:?}, \"prog.py\", \"${{args}}\"]\n\
         env = {{ LOG_DIR = {logs:?} }}\n{extra}\n\n[metric]\nname = \"accuracy\"\n\n[parameters]\n{parameters}\n",
        python = python.display().to_string(),
        logs = tmp.path().join("logs").display().to_string(),
    );
    fs::write(tmp.path().join("s.toml"), spec).unwrap();
    tmp
}

fn python() -> Option<PathBuf> {
    python_with(&["json"])
}

fn json(path: &Path) -> Value {
    serde_json::from_slice(&fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))).unwrap()
}

/// Every trial folder of sweep `name`, by trial id.
fn trials(dir: &Path, name: &str) -> BTreeMap<String, PathBuf> {
    fs::read_dir(dir.join("results").join(name).join("trials"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), p))
        .collect()
}

/// What the program logged for one trial: its reports and its saves.
fn program_log(dir: &Path, id: &str) -> Vec<Value> {
    let log = fs::read_to_string(dir.join("logs").join(format!("{id}.log"))).unwrap_or_default();
    log.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn saves_happen_exactly_on_improvements_and_the_stored_best_is_what_the_program_reported_and_wrote() {
    let Some(py) = python() else { return };
    let tmp = setup(&py, "improve", "shift = { values = [0.0, 0.05] }\nepochs = { value = 6 }", "");
    let out = sweep(tmp.path(), &["run", "s.toml", "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The program's prints went to its log, never into the --json document.
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)));
    assert!(doc.is_object());
    let folders = trials(tmp.path(), "improve");
    assert_eq!(folders.len(), 2);
    for (id, folder) in &folders {
        let log = program_log(tmp.path(), id);
        let reports: Vec<&Value> = log.iter().filter(|l| l.get("epoch").is_some()).collect();
        // The curve 0.5 0.7 0.6 0.8 0.8 0.75 improves at epochs 1, 2 and 4 only (a tie is no improvement).
        let saves: Vec<u64> =
            reports.iter().filter(|r| r["save"] == true).map(|r| r["epoch"].as_u64().unwrap()).collect();
        assert_eq!(saves, [1, 2, 4], "{id}: {log:?}");
        let written: Vec<u64> = log.iter().filter_map(|l| l.get("saved")).map(|e| e.as_u64().unwrap()).collect();
        assert_eq!(written, [1, 2, 4]);
        assert_eq!(reports.last().unwrap()["stop"], true, "the last epoch tells the program to stop");

        let best = json(&folder.join("best.json"));
        let record = json(&folder.join("trial.json"));
        assert_eq!(best["epoch"], 4);
        assert_eq!(best["metrics"], reports[3]["metrics"], "best.json holds exactly what epoch 4 reported");
        assert_eq!(record["best_metrics"], reports[3]["metrics"]);
        assert_eq!(record["status"], "completed");
        assert_eq!(record["epochs_run"], 6);
        let sha_written = log.iter().rev().find(|l| l.get("saved").is_some()).unwrap()["sha256"].clone();
        let stored = fs::read(folder.join("best.safetensors")).unwrap();
        let sha_stored = format!("{:x}", Sha256::digest(&stored));
        assert_eq!(Value::String(sha_stored.clone()), sha_written, "the checkpoint is the bytes written at epoch 4");
        assert_eq!(record["checkpoint_sha256"], Value::String(sha_stored));
        assert!(!folder.join("checkpoint.partial").exists(), "the program's file was moved into place");
        // Reproducible: seed, argv, working directory and environment are on record.
        let program = &record["program"];
        assert_eq!(program["argv"][1], "prog.py");
        assert!(program["argv"].as_array().unwrap().iter().any(|a| a == "--epochs=6"), "{program}");
        assert_eq!(program["env"]["SWEEP_SEED"], record["seed"].to_string());
        assert_eq!(Path::new(program["cwd"].as_str().unwrap()), fs::canonicalize(tmp.path()).unwrap());
        let stdout = fs::read_to_string(folder.join("stdout.log")).unwrap();
        assert!(stdout.contains(&format!("starting trial {id} seed {}", record["seed"])), "{stdout}");
        let history = fs::read_to_string(folder.join("history.csv")).unwrap();
        assert_eq!(history.lines().filter(|l| l.ends_with(",true")).count(), 3, "{history}");

        let verify = sweep(tmp.path(), &["verify", folder.to_str().unwrap()]);
        assert!(verify.status.success(), "{}{}", text(&verify.stdout), text(&verify.stderr));
    }
    let board = crate::common::read_csv(&tmp.path().join("results/improve/leaderboard.csv"));
    assert_eq!(board[0]["best_accuracy"].parse::<f64>().unwrap(), 0.8 + 0.05);
    assert!(tmp.path().join("results/improve/report.html").exists());
    let tensorboard = sweep(tmp.path(), &["tensorboard", "results/improve"]);
    assert!(tensorboard.status.success(), "{}", text(&tensorboard.stderr));
    assert!(text(&tensorboard.stdout).contains("(2 trials,"), "{}", text(&tensorboard.stdout));

    // A damaged checkpoint fails verify.
    let (_, folder) = folders.iter().next().unwrap();
    fs::write(folder.join("best.safetensors"), b"other bytes").unwrap();
    let verify = sweep(tmp.path(), &["verify", folder.to_str().unwrap()]);
    assert_eq!(verify.status.code(), Some(1), "{}", text(&verify.stderr));
    assert!(text(&verify.stderr).contains("sha256"), "{}", text(&verify.stderr));
}

#[test]
fn a_crashing_configuration_fails_alone_with_its_status_and_stderr_and_a_nan_diverges() {
    let Some(py) = python() else { return };
    let params = "crash = { values = [0, 3] }\nnan_at = { values = [0, 2] }\nepochs = { value = 4 }";
    let tmp = setup(&py, "crash", params, "");
    let out = sweep(tmp.path(), &["run", "s.toml", "-q"]);
    // Failed trials are data: every trial ran, and the exit status says some failed.
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let mut by_status: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for folder in trials(tmp.path(), "crash").values() {
        let r = json(&folder.join("trial.json"));
        by_status.entry(r["status"].as_str().unwrap().to_string()).or_default().push(r);
    }
    assert_eq!(by_status["completed"].len(), 1, "{by_status:?}");
    // NaN at epoch 2 comes before the crash at 3: both of its trials diverge.
    assert_eq!(by_status["diverged"].len(), 2, "{by_status:?}");
    assert_eq!(by_status["failed"].len(), 1, "{by_status:?}");
    for failed in &by_status["failed"] {
        let message = failed["message"].as_str().unwrap();
        assert!(message.contains("exited with status 3"), "{message}");
        assert!(message.contains("boom at epoch 3"), "{message}");
        // The epochs before the crash are kept: its best so far was saved.
        assert_eq!(failed["settings"]["crash"], 3);
    }
    let diverged = by_status["diverged"][0]["message"].as_str().unwrap();
    assert!(diverged.contains("accuracy is NaN") && diverged.contains("epoch 2"), "{diverged}");
}

#[test]
fn a_program_that_never_reports_or_never_writes_the_checkpoint_asked_for_fails_saying_so() {
    let Some(py) = python() else { return };
    let params = "silent = { values = [true, false] }\nforget_to_save = { values = [true] }\nepochs = { value = 2 }";
    let tmp = setup(&py, "broken", params, "");
    let out = sweep(tmp.path(), &["run", "s.toml", "-q"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let messages: Vec<String> = trials(tmp.path(), "broken")
        .values()
        .map(|f| json(&f.join("trial.json")))
        .inspect(|r| assert_eq!(r["status"], "failed", "{r}"))
        .map(|r| r["message"].as_str().unwrap().to_string())
        .collect();
    assert!(messages.iter().any(|m| m.contains("without reporting an epoch")), "{messages:?}");
    assert!(messages.iter().any(|m| m.contains("asked for the checkpoint of epoch 1")), "{messages:?}");
}

#[test]
fn a_program_past_its_timeout_is_killed_with_its_whole_process_group() {
    let Some(py) = python() else { return };
    let params = "sleep = { value = 30.0 }\ngrandchild = { value = true }\nepochs = { value = 2 }";
    let tmp = setup(&py, "slow", params, "timeout = 2.0");
    let started = Instant::now();
    let out = sweep(tmp.path(), &["run", "s.toml", "-q"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
    let (id, folder) = trials(tmp.path(), "slow").into_iter().next().unwrap();
    let r = json(&folder.join("trial.json"));
    assert_eq!(r["status"], "failed");
    let message = r["message"].as_str().unwrap();
    assert!(message.contains("timeout = 2 s") && message.contains("process group was killed"), "{message}");
    let pid = fs::read_to_string(tmp.path().join("logs").join(format!("{id}.grandchild"))).unwrap();
    // Gone, or a zombie nobody reaped yet (where PID 1 of a container does not reap): never running.
    let stat = fs::read_to_string(format!("/proc/{}/stat", pid.trim())).unwrap_or_default();
    let state = stat.rsplit(')').next().unwrap_or("").split_whitespace().next().unwrap_or("");
    assert!(stat.is_empty() || state == "Z", "the program's own child {pid} outlived its trial: {stat}");
}

#[test]
fn a_sweep_killed_mid_trial_resumes_and_runs_each_trial_once() {
    let Some(py) = python() else { return };
    let params = "shift = { values = [0.0, 0.01, 0.02, 0.03] }\nsleep = { value = 0.2 }\nepochs = { value = 5 }";
    let tmp = setup(&py, "killed", params, "");
    let mut first = Command::new(env!("CARGO_BIN_EXE_sweep"))
        .current_dir(tmp.path())
        .args(["run", "s.toml", "--workers", "1", "-q"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let root = tmp.path().join("results/killed/trials");
    let deadline = Instant::now() + Duration::from_secs(60);
    // Kill it once one trial is done and the next is inside its epochs.
    loop {
        let done = fs::read_dir(&root)
            .map_or(0, |d| d.filter(|e| e.as_ref().unwrap().path().join("trial.json").exists()).count());
        let logs = fs::read_dir(tmp.path().join("logs")).unwrap().count();
        if done >= 1 && logs >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "no trial finished");
        std::thread::sleep(Duration::from_millis(20));
    }
    first.kill().unwrap();
    first.wait().unwrap();
    let resumed = sweep(tmp.path(), &["run", "s.toml", "--resume", "--workers", "2", "-q"]);
    assert!(resumed.status.success(), "{}", text(&resumed.stderr));
    let folders = trials(tmp.path(), "killed");
    assert_eq!(folders.len(), 4);
    for (id, folder) in &folders {
        let r = json(&folder.join("trial.json"));
        assert_eq!(r["status"], "completed", "{id}: {r}");
        assert_eq!(r["best_epoch"], 4);
        let stored = fs::read(folder.join("best.safetensors")).unwrap();
        assert!(text(&stored).contains(&format!("trial {id} epoch 4")), "{}", text(&stored));
    }
}

#[test]
fn four_processes_on_one_folder_run_each_program_once() {
    let Some(py) = python() else { return };
    let params = "shift = { values = [0.0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07] }\nsleep = { value = 0.05 }\nepochs = { value = 3 }";
    let tmp = setup(&py, "shared", params, "");
    let children: Vec<_> = (0..4)
        .map(|_| {
            Command::new(env!("CARGO_BIN_EXE_sweep"))
                .current_dir(tmp.path())
                .args(["run", "s.toml", "--resume", "--workers", "1", "-q"])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
    }
    let folders = trials(tmp.path(), "shared");
    assert_eq!(folders.len(), 8);
    for (id, folder) in &folders {
        assert_eq!(json(&folder.join("trial.json"))["attempt"], 1);
        // Each program ran once: one start line, one report per epoch.
        let reports = program_log(tmp.path(), id).iter().filter(|l| l.get("epoch").is_some()).count();
        assert_eq!(reports, 3, "{id}");
    }
}

#[test]
fn outputs_and_targets_let_sweep_compute_its_own_metrics_and_verify_recompute_them() {
    let Some(py) = python() else { return };
    let params = "outputs = { value = true }\nepochs = { value = 4 }";
    let tmp = setup(&py, "outputs", params, "");
    let out = sweep(tmp.path(), &["run", "s.toml", "-q"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (_, folder) = trials(tmp.path(), "outputs").into_iter().next().unwrap();
    let best = json(&folder.join("best.json"));
    // 0.5 0.7 0.6 0.8 → 3, 4, 4, 5 of 6 rows right: sweep's accuracy, mcc and log loss.
    assert_eq!(best["epoch"], 4);
    assert!((best["metrics"]["accuracy"].as_f64().unwrap() - 5.0 / 6.0).abs() < 1e-12, "{best}");
    for name in ["mcc", "valid_loss", "f1", "train_loss"] {
        assert!(best["metrics"][name].is_number(), "{name}: {best}");
    }
    assert!(folder.join("best_valid_outputs.safetensors").exists());
    let verify = sweep(tmp.path(), &["verify", folder.to_str().unwrap()]);
    let report = text(&verify.stdout);
    assert!(verify.status.success(), "{report}{}", text(&verify.stderr));
    assert!(report.contains("recomputed from its 6 stored validation outputs"), "{report}");
}

/// `[command] predict` on the stored checkpoint: verify runs it and passes
/// when it gives the stored outputs; predictions that differ, or a predict
/// that fails, make verify exit 1 saying which.
#[test]
fn verify_and_evaluate_run_the_predict_command_and_fail_when_its_predictions_differ_or_it_fails() {
    let Some(py) = python() else { return };
    let params =
        "outputs = { value = true }\nepochs = { value = 4 }\npredict = { values = [\"same\", \"wrong\", \"fail\"] }";
    let extra =
        format!("predict = [{:?}, \"predict.py\", \"${{checkpoint}}\", \"${{output}}\"]", py.display().to_string());
    let tmp = setup(&py, "rerun", params, &extra);
    let out = sweep(tmp.path(), &["run", "s.toml", "-q"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let by_mode = |mode: &str| {
        trials(tmp.path(), "rerun")
            .into_values()
            .find(|f| json(&f.join("trial.json"))["params"]["predict"] == mode)
            .unwrap()
    };
    let listing = |dir: &Path| {
        let mut names: Vec<_> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name()).collect();
        names.sort();
        names
    };

    let same = by_mode("same");
    let before = listing(&same);
    let verify = sweep(tmp.path(), &["verify", same.to_str().unwrap()]);
    let report = text(&verify.stdout);
    assert!(verify.status.success(), "{report}{}", text(&verify.stderr));
    assert!(report.contains("the model run again: [command] predict"), "{report}");
    assert!(report.contains("its 6 predicted rows of 2 outputs are the stored outputs (within 1e-6 relative): ok"));
    assert!(!report.contains("MISMATCH"), "{report}");
    assert_eq!(listing(&same), before, "verify writes nothing in the trial folder");
    let doc: Value =
        serde_json::from_slice(&sweep(tmp.path(), &["verify", same.to_str().unwrap(), "--json"]).stdout).unwrap();
    assert_eq!(doc["rerun"]["differing"], 0, "{doc}");
    assert!(doc["rerun"]["checks"].as_array().unwrap().iter().any(|c| c["name"] == "mcc"), "{doc}");
    // evaluate --split valid goes the same way: the predictions' metrics, which are best.json's.
    let evaluate = sweep(tmp.path(), &["evaluate", same.to_str().unwrap(), "--split", "valid", "--json"]);
    assert!(evaluate.status.success(), "{}", text(&evaluate.stderr));
    let doc: Value = serde_json::from_slice(&evaluate.stdout).unwrap();
    let best = json(&same.join("best.json"));
    assert_eq!(doc["rows"], 6, "{doc}");
    assert_eq!(doc["metrics"]["accuracy"], best["metrics"]["accuracy"], "{doc}");
    assert_eq!(doc["metrics"]["loss"], best["metrics"]["valid_loss"], "{doc}");
    let test_split = sweep(tmp.path(), &["evaluate", same.to_str().unwrap()]);
    assert_eq!(test_split.status.code(), Some(2), "{}", text(&test_split.stderr));
    assert!(text(&test_split.stderr).contains("only the validation rows the program sent"));
    assert_eq!(listing(&same), before, "evaluate writes nothing in the trial folder");

    let wrong = by_mode("wrong");
    let verify = sweep(tmp.path(), &["verify", wrong.to_str().unwrap()]);
    assert_eq!(verify.status.code(), Some(1), "{}", text(&verify.stdout));
    let stderr = text(&verify.stderr);
    assert!(
        stderr.contains("2 of its predictions differ from the stored best-epoch outputs (first: row 5 output 0, stored 1, predicted 0.25)"),
        "{stderr}"
    );
    assert!(stderr.contains("accuracy") && stderr.contains("differ from best.json"), "{stderr}");

    let fail = by_mode("fail");
    let verify = sweep(tmp.path(), &["verify", fail.to_str().unwrap()]);
    assert_eq!(verify.status.code(), Some(1), "{}", text(&verify.stdout));
    let stderr = text(&verify.stderr);
    assert!(stderr.contains("[command] predict") && stderr.contains("exit status: 5"), "{stderr}");
    assert!(stderr.contains("predict: cannot load the model"), "{stderr}");
    let evaluate = sweep(tmp.path(), &["evaluate", fail.to_str().unwrap(), "--split", "valid"]);
    assert_eq!(evaluate.status.code(), Some(1), "{}", text(&evaluate.stderr));
    assert!(text(&evaluate.stderr).contains("exit status: 5"), "{}", text(&evaluate.stderr));
}

/// Without `[command] predict`, verify says it did not run the model again.
#[test]
fn verify_without_predict_says_the_model_was_not_run_again() {
    let Some(py) = python() else { return };
    let tmp = setup(&py, "norerun", "outputs = { value = true }\nepochs = { value = 2 }", "");
    let out = sweep(tmp.path(), &["run", "s.toml", "-q"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (_, folder) = trials(tmp.path(), "norerun").into_iter().next().unwrap();
    let verify = sweep(tmp.path(), &["verify", folder.to_str().unwrap()]);
    let report = text(&verify.stdout);
    assert!(verify.status.success(), "{report}{}", text(&verify.stderr));
    assert!(report.contains("not re-run: the trial records no [command] predict"), "{report}");
}

#[test]
fn one_trial_reruns_alone_and_the_model_is_refused_where_sweep_cannot_load_it() {
    let Some(py) = python() else { return };
    let tmp = setup(&py, "one", "shift = { values = [0.0, 0.1] }\nepochs = { value = 2 }", "");
    let out = sweep(tmp.path(), &["trial", "s.toml", "--index", "1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let folders = trials(tmp.path(), "one");
    assert_eq!(folders.len(), 1);
    let (_, folder) = folders.into_iter().next().unwrap();
    let record = json(&folder.join("trial.json"));
    assert_eq!(record["index"], 1);
    assert!(record["program"]["argv"].as_array().unwrap().iter().any(|a| a == "--shift=0.1"), "{record}");
    for args in [vec!["predict", "--split", "valid"], vec!["evaluate"], vec!["export", "--to", "x"]] {
        let mut full = vec![args[0], folder.to_str().unwrap()];
        full.extend(&args[1..]);
        let refused = sweep(tmp.path(), &full);
        assert_eq!(refused.status.code(), Some(2), "{args:?}");
        assert!(text(&refused.stderr).contains("objective \"command\""), "{}", text(&refused.stderr));
    }
    let client = sweep(tmp.path(), &["client", "python"]);
    assert!(text(&client.stdout).contains("class Trial"));
}

#[test]
fn spec_mistakes_of_a_command_objective_name_their_key() {
    let tmp = tempfile::tempdir().unwrap();
    let check = |body: &str, expected: &str| {
        fs::write(tmp.path().join("bad.toml"), format!("name = \"bad\"\nmethod = \"grid\"\n{body}")).unwrap();
        let out = sweep_env(tmp.path(), &["plan", "bad.toml"], &[]);
        assert_eq!(out.status.code(), Some(2), "{body}");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(expected), "{body}\n{stderr}");
    };
    let metric = "[metric]\nname = \"accuracy\"\n";
    check(&format!("objective = \"command\"\n{metric}"), "needs a [command] table");
    check(
        &format!("objective = \"command\"\n[command]\nargv = [\"x\", \"${{argz}}\"]\n{metric}"),
        "${argz} is not a macro",
    );
    check(
        &format!("[command]\nargv = [\"x\"]\n[data]\npath = \"d.csv\"\n{metric}"),
        "is read only by objective = \"command\"",
    );
    check("objective = \"command\"\n[command]\nargv = [\"x\"]\n[metric]\nname = \"bleu\"\n", "set metric.goal");
    check(
        &format!("objective = \"command\"\n[command]\nargv = [\"x\"]\n[data]\npath = \"d.csv\"\n{metric}"),
        "takes only task",
    );
    check(&format!("objective = \"command\"\n[command]\nargv = [\"x\"]\ntimeout = -1.0\n{metric}"), "command.timeout");
    check(
        &format!(
            "objective = \"command\"\n[command]\nargv = [\"x\"]\npredict = [\"y\", \"${{checkpoint}}\"]\n{metric}"
        ),
        "command.predict",
    );
}

/// examples/python/train_sklearn.py through its TOML spec and its W&B file,
/// with a small budget; the best model registered and verified.
#[test]
fn the_sklearn_example_runs_from_toml_and_from_a_wandb_file_and_its_best_model_verifies() {
    let Some(py) = python_with(&["sklearn", "numpy"]) else { return };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let program = root.join("examples/python/train_sklearn.py").display().to_string();
    // The specs say python3: the one beside the test's Python comes first on PATH.
    let bin = py.parent().filter(|d| !d.as_os_str().is_empty()).map(Path::to_path_buf);
    let path = std::env::join_paths(
        bin.into_iter().chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap()
    .into_string()
    .unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let toml = fs::read_to_string(root.join("examples/python/train_sklearn.toml"))
        .unwrap()
        .replace("examples/python/train_sklearn.py", &program)
        .replace("trials = 6", "trials = 2")
        .replace("epochs = { value = 12 }", "epochs = { value = 3 }");
    fs::write(tmp.path().join("sk.toml"), toml).unwrap();
    let yaml = fs::read_to_string(root.join("examples/python/train_sklearn.yaml"))
        .unwrap()
        .replace("examples/python/train_sklearn.py", &program)
        .replace("run_cap: 6", "run_cap: 2")
        .replace("value: 12", "value: 3");
    fs::write(tmp.path().join("sk.yaml"), yaml).unwrap();
    for (spec, name) in [("sk.toml", "sklearn-digits"), ("sk.yaml", "sk")] {
        let out = sweep_env(tmp.path(), &["run", spec, "-q"], &[("PATH", &path)]);
        assert!(out.status.success(), "{spec}: {}", text(&out.stderr));
        let board = crate::common::read_csv(&tmp.path().join("results").join(name).join("leaderboard.csv"));
        assert_eq!(board.len(), 2, "{spec}");
        let mcc: f64 = board[0]["best_mcc"].parse().unwrap();
        assert!(mcc > 0.8, "{spec}: MLPClassifier learns the digits in 3 epochs: mcc {mcc}");
        assert!(!board[0]["best_mcc_low"].is_empty(), "bootstrap interval from the program's outputs: {:?}", board[0]);
        let folder = format!("results/{name}/trials/{}", board[0]["trial_id"]);
        let registered = sweep(tmp.path(), &["registry", "register", &format!("results/{name}"), "--name", name]);
        assert!(registered.status.success(), "{}", text(&registered.stderr));
        let verify = sweep(tmp.path(), &["verify", name]);
        assert!(verify.status.success(), "{}{}", text(&verify.stdout), text(&verify.stderr));
        assert!(
            text(&verify.stdout).contains("recomputed from its 360 stored validation outputs"),
            "{}",
            text(&verify.stdout)
        );
        // The checkpoint is the program's pickle, as it wrote it.
        let bytes = fs::read(tmp.path().join(folder).join("best.safetensors")).unwrap();
        assert_eq!(bytes.first(), Some(&0x80), "a pickle starts with its protocol opcode");
    }
}

#[test]
fn early_stopping_and_asha_stop_the_program_through_the_same_callbacks() {
    let Some(py) = python() else { return };
    // 0.5 0.7 0.6 …: with patience 1, epoch 3 does not improve and early stopping says stop.
    let tmp = setup(&py, "patience", "epochs = { value = 6 }", "");
    let text_spec = fs::read_to_string(tmp.path().join("s.toml")).unwrap();
    fs::write(tmp.path().join("s.toml"), format!("{text_spec}\n[train]\nearly_stopping = {{ patience = 1 }}\n"))
        .unwrap();
    let out = sweep(tmp.path(), &["run", "s.toml", "-q"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let (id, folder) = trials(tmp.path(), "patience").into_iter().next().unwrap();
    let reports: Vec<Value> = program_log(tmp.path(), &id).into_iter().filter(|l| l.get("epoch").is_some()).collect();
    assert_eq!(reports.len(), 3, "{reports:?}");
    assert_eq!(reports[2]["stop"], true);
    let record = json(&folder.join("trial.json"));
    assert_eq!(
        (record["status"].as_str(), record["epochs_run"].as_u64(), record["best_epoch"].as_u64()),
        (Some("completed"), Some(3), Some(2))
    );

    // ASHA with rungs at 1 and 2 epochs keeps the better half at each: the others hear stop there.
    // The best configuration comes first, so the later ones are judged against it.
    let params = "shift = { values = [0.3, 0.2, 0.1, 0.0] }\nepochs = { value = 4 }";
    let tmp = setup(&py, "asha", params, "");
    let spec = fs::read_to_string(tmp.path().join("s.toml")).unwrap().replace(
        "method = \"grid\"\n",
        "method = \"grid\"\nearly_terminate = { type = \"asha\", min_epochs = 1, eta = 2 }\n",
    );
    fs::write(tmp.path().join("s.toml"), spec).unwrap();
    let out = sweep(tmp.path(), &["run", "s.toml", "-q", "--workers", "1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut pruned = 0;
    for (id, folder) in trials(tmp.path(), "asha") {
        let record = json(&folder.join("trial.json"));
        let reports: Vec<Value> =
            program_log(tmp.path(), &id).into_iter().filter(|l| l.get("epoch").is_some()).collect();
        assert_eq!(reports.len() as u64, record["epochs_run"].as_u64().unwrap(), "{id}");
        assert_eq!(reports.last().unwrap()["stop"], true, "{id}: the program heard when to stop");
        if record["status"] == "pruned" {
            pruned += 1;
            assert!(record["message"].as_str().unwrap().contains("pruned by asha"), "{record}");
            assert!(reports.len() < 4, "{id}");
        }
    }
    assert_eq!(pruned, 3, "ASHA prunes every program the first one beats at its first rung");
}
