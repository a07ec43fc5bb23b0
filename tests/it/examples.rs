//! The examples are users' own binaries, built on `sweep::cli::main_with`:
//! these tests run them as a user would, on the bundled data, and check the
//! files they write.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::Output;

use crate::common::{SpecBuilder, data, read_csv, run_example, sweep, text};

fn ok(out: Output) -> String {
    assert!(out.status.success(), "exit {:?}: {}{}", out.status.code(), text(&out.stdout), text(&out.stderr));
    text(&out.stdout)
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

/// The leaderboard without its timing column, by trial id.
fn board(results: &Path) -> BTreeMap<String, BTreeMap<String, String>> {
    read_csv(&results.join("leaderboard.csv"))
        .into_iter()
        .map(|mut row| {
            crate::common::drop_timings(&mut row);
            (row["trial_id"].clone(), row)
        })
        .collect()
}

/// 4 CNN trials × 3 epochs on the bundled digits, as `cnn.toml`.
fn cnn_spec(dir: &Path) {
    SpecBuilder::new("cnn")
        .objective("digits_cnn")
        .seed(5)
        .train("dropout", 0.1)
        .values("channels", [4, 8])
        .values("lr", [0.003, 0.01])
        .write(dir);
}

#[test]
fn the_cnn_example_sweeps_predicts_and_verifies_its_own_burn_model() {
    let tmp = tempfile::tempdir().unwrap();
    cnn_spec(tmp.path());
    let out = ok(run_example("digits_cnn", tmp.path(), &["run", "cnn.toml", "--workers", "2"], &[]));
    assert!(out.contains("workers: 2 (processes)"), "{out}");
    let root = tmp.path().join("results/cnn");
    let rows = read_csv(&root.join("leaderboard.csv"));
    assert_eq!(rows.len(), 4);
    for row in &rows {
        assert_eq!(row["status"], "completed", "{row:?}");
        let trial = root.join("trials").join(&row["trial_id"]);
        let record = json(&trial.join("trial.json"));
        assert_eq!(record["objective"], "digits_cnn");
        assert_eq!(record["objective_version"], "1");
        // Every parameter of the CNN's schema, resolved: swept, fixed, or its default.
        let settings = record["settings"].as_object().unwrap();
        let keys: Vec<&str> = settings.keys().map(String::as_str).collect();
        assert_eq!(keys, ["batch_size", "channels", "dropout", "epochs", "kernel", "lr"]);
        assert_eq!((settings["dropout"].as_f64(), settings["kernel"].as_i64()), (Some(0.1), Some(3)));
        // The metrics of the best epoch are the history's at that epoch.
        let history = read_csv(&trial.join("history.csv"));
        let at_best = &history[row["best_epoch"].parse::<usize>().unwrap() - 1];
        assert_eq!(at_best["saved_best"], "true");
        assert_eq!(at_best["mcc"], row["best_mcc"]);
    }
    let best = &rows[0];
    assert!(best["best_accuracy"].parse::<f64>().unwrap() > 0.9, "the CNN learns: {best:?}");
    let model = format!("results/cnn/trials/{}", best["trial_id"]);

    // predict on its own validation split: the stored accuracy, row for row.
    let predicted = run_example("digits_cnn", tmp.path(), &["predict", &model, "--split", "valid", "-o", "p.csv"], &[]);
    assert!(predicted.status.success(), "{}", text(&predicted.stderr));
    let preds = read_csv(&tmp.path().join("p.csv"));
    let right = preds.iter().filter(|p| p["predicted"] == p["true_label"]).count() as f64;
    assert_eq!(right / preds.len() as f64, best["best_accuracy"].parse::<f64>().unwrap());
    let out = ok(run_example("digits_cnn", tmp.path(), &["verify", &model], &[]));
    assert!(out.contains("objective digits_cnn 1") && out.contains("verified:"), "{out}");

    // The plain `sweep` binary lacks the objective: a clear refusal, never another model.
    let refused = sweep(tmp.path(), &["verify", &model]);
    assert_eq!(refused.status.code(), Some(2));
    let message = text(&refused.stderr);
    assert!(
        message.contains(
            "trained by objective \"digits_cnn\" (version 1), which this binary does not have (it has: mlp, command)"
        ),
        "{message}"
    );
    let refused = sweep(tmp.path(), &["run", "cnn.toml", "--results-dir", "elsewhere"]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused.stderr).contains("cnn.toml:2: objective: got \"digits_cnn\", expected one of mlp"),
        "{}",
        text(&refused.stderr)
    );

    // Every other subcommand serves the user's objective too.
    let cnn = |args: &[&str]| run_example("digits_cnn", tmp.path(), args, &[]);
    assert!(ok(cnn(&["plan", "cnn.toml"])).contains("objective digits_cnn"));
    assert!(ok(cnn(&["status", "results/cnn"])).contains("4 trials: 4 done"));
    ok(cnn(&["report", "results/cnn"]));
    ok(cnn(&["aggregate", "results/cnn", "-q"]));
    ok(cnn(&["registry", "register", "results/cnn", "--name", "cnn", "--alias", "champion"]));
    assert!(ok(cnn(&["registry", "show", "cnn@champion"])).contains("objective:         digits_cnn (version 1)"));
    ok(cnn(&["predict", "cnn@champion", "--split", "valid", "-o", "champion.csv"]));
    assert_eq!(fs::read(tmp.path().join("champion.csv")).unwrap(), fs::read(tmp.path().join("p.csv")).unwrap());
    let exported = ok(cnn(&["export", "cnn@champion", "--to", "export"]));
    assert!(exported.contains("model.safetensors") && exported.contains("model_card.md"), "{exported}");
    let card = json(&tmp.path().join("export/model_card.json"));
    assert_eq!(card["objective"]["name"], "digits_cnn");
    assert!(card["load_in_python"].is_null(), "the CNN offers no numpy code");
    let pytorch = cnn(&["export", "cnn@champion", "--to", "export-pt", "--layout", "pytorch"]);
    assert_eq!(pytorch.status.code(), Some(2));
    assert!(
        text(&pytorch.stderr).contains("objective \"digits_cnn\" offers no PyTorch layout"),
        "{}",
        text(&pytorch.stderr)
    );
    let onnx = cnn(&["export", "cnn@champion", "--to", "export-onnx", "--format", "onnx"]);
    assert_eq!(onnx.status.code(), Some(2));
    assert!(text(&onnx.stderr).contains("objective \"digits_cnn\" offers no ONNX export"), "{}", text(&onnx.stderr));
    assert!(!tmp.path().join("export-onnx").exists(), "a refused export writes nothing");

    // A model whose record names another version of the objective is refused too.
    let copy = tmp.path().join("copied-model");
    fs::create_dir(&copy).unwrap();
    for f in ["best.json", "best.safetensors", "preprocessing.json", "trial.json"] {
        fs::copy(tmp.path().join(&model).join(f), copy.join(f)).unwrap();
    }
    let record = fs::read_to_string(copy.join("trial.json")).unwrap();
    fs::write(copy.join("trial.json"), record.replace("\"objective_version\": \"1\"", "\"objective_version\": \"0\""))
        .unwrap();
    let refused = run_example("digits_cnn", tmp.path(), &["predict", "copied-model", "--split", "valid"], &[]);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        text(&refused.stderr).contains("objective \"digits_cnn\" version 0, but this binary has version 1"),
        "{}",
        text(&refused.stderr)
    );

    // One worker, in this process, and one trial as a SLURM task would run it: bit-identical.
    ok(run_example(
        "digits_cnn",
        tmp.path(),
        &["run", "cnn.toml", "--workers", "1", "-q", "--results-dir", "one"],
        &[],
    ));
    assert_eq!(board(&tmp.path().join("one/cnn")), board(&root));
    let task =
        ok(run_example("digits_cnn", tmp.path(), &["trial", "cnn.toml", "--index", "2", "--results-dir", "task"], &[]));
    let id = task.split_whitespace().nth(2).unwrap().trim_matches(|c| c == '(' || c == ')').to_string();
    let sha = |dir: &Path| json(&dir.join("trial.json"))["checkpoint_sha256"].clone();
    assert_eq!(sha(&tmp.path().join("task/cnn/trials").join(&id)), sha(&root.join("trials").join(&id)));
}

#[test]
fn the_cnn_is_cross_validated_refit_and_tested_reproducibly() {
    let tmp = tempfile::tempdir().unwrap();
    SpecBuilder::new("cnn-cv")
        .objective("digits_cnn")
        .seed(1)
        .data("test_fraction", 0.2)
        .data("cv_folds", 2)
        .data("refit", true)
        .epochs(2)
        .train("dropout", 0.1)
        .values("kernel", [3, 5])
        .write_as(tmp.path(), "s.toml");
    ok(run_example("digits_cnn", tmp.path(), &["run", "s.toml", "-q", "--workers", "2"], &[]));
    let pick = |root: &Path| json(&root.join("registry.json"))["models"][0].clone();
    let first = pick(&tmp.path().join("results/cnn-cv"));
    let id = first["trial_id"].as_str().unwrap().to_string();
    assert!(id.starts_with("refit-c"), "{first}");
    assert!(first["test_metrics"]["mcc"].as_f64().unwrap() > 0.5, "{first}");
    // The refit runs in the aggregating process, with Burn's RNG seeded as a worker's: the same
    // model with one worker as with two.
    ok(run_example("digits_cnn", tmp.path(), &["run", "s.toml", "-q", "--workers", "1", "--results-dir", "one"], &[]));
    let again = pick(&tmp.path().join("one/cnn-cv"));
    assert_eq!((&first["trial_id"], &first["checkpoint_sha256"]), (&again["trial_id"], &again["checkpoint_sha256"]));
    let out = ok(run_example("digits_cnn", tmp.path(), &["verify", &format!("results/cnn-cv/trials/{id}")], &[]));
    assert!(out.contains("test rows"), "{out}");
}

#[test]
fn a_worker_process_that_dies_fails_its_trial_and_the_sweep_goes_on() {
    let tmp = tempfile::tempdir().unwrap();
    cnn_spec(tmp.path());
    let out = run_example(
        "digits_cnn",
        tmp.path(),
        &["run", "cnn.toml", "--workers", "2", "-q"],
        &[("SWEEP_ABORT_TRIALS", "1")],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let rows = read_csv(&tmp.path().join("results/cnn/leaderboard.csv"));
    let statuses: Vec<(&str, &str)> = rows.iter().map(|r| (r["trial_id"].as_str(), r["status"].as_str())).collect();
    assert_eq!(statuses.iter().filter(|(_, s)| *s == "completed").count(), 3, "{statuses:?}");
    let dead = rows.iter().find(|r| r["trial_id"].starts_with("t0001-")).unwrap();
    assert_eq!(dead["status"], "failed");
    assert!(dead["message"].contains("its worker process died"), "{}", dead["message"]);
    // --resume --retry-failed trains it again, in a new worker.
    ok(run_example("digits_cnn", tmp.path(), &["run", "cnn.toml", "--resume", "--retry-failed", "-q"], &[]));
    let rows = read_csv(&tmp.path().join("results/cnn/leaderboard.csv"));
    assert!(rows.iter().all(|r| r["status"] == "completed"));
}

#[test]
fn objectives_lists_each_objective_with_its_parameters() {
    let tmp = tempfile::tempdir().unwrap();
    let out = ok(run_example("digits_cnn", tmp.path(), &["objectives"], &[]));
    assert!(out.contains("objective = \"mlp\" (version 1, the default)"), "{out}");
    assert!(out.contains("objective = \"digits_cnn\" (version 1)"), "{out}");
    assert!(out.contains("trials run in worker processes"), "{out}");
    let channels = out.lines().find(|l| l.trim_start().starts_with("channels")).unwrap();
    assert!(channels.contains("a whole number from 1 to 256") && channels.contains("default 8"), "{channels}");
}

/// Writes the first `n` digits of digits.csv as 8×8 plain-text PGM images, one folder per class.
fn digit_images(folder: &Path, n: usize) {
    let rows = read_csv(Path::new(&data("digits.csv")));
    for (i, r) in rows.iter().take(n).enumerate() {
        let class = folder.join(&r["target"]);
        fs::create_dir_all(&class).unwrap();
        let pixels: Vec<String> = (0..8)
            .map(|y| (0..8).map(|x| r[&format!("p{}", y * 8 + x)].clone()).collect::<Vec<_>>().join(" "))
            .collect();
        fs::write(class.join(format!("{i:04}.pgm")), format!("P2\n8 8\n16\n{}\n", pixels.join("\n"))).unwrap();
    }
}

#[test]
fn an_objective_with_its_own_data_source_trains_predicts_and_verifies() {
    let tmp = tempfile::tempdir().unwrap();
    digit_images(&tmp.path().join("images"), 300);
    let spec = "name = \"images\"\nobjective = \"image_mlp\"\nmethod = \"grid\"\nseed = 2\n[data]\nfolder = \"images\"\n\
                [metric]\nname = \"mcc\"\n[train]\nepochs = 6\n[parameters]\nhidden = { values = [16, 32] }\n";
    fs::write(tmp.path().join("images.toml"), spec).unwrap();
    ok(run_example("image_folder", tmp.path(), &["run", "images.toml", "-q"], &[]));
    let root = tmp.path().join("results/images");
    let pre = json(&root.join("preprocessing.json"));
    assert_eq!(pre["source"]["objective"], "image_mlp");
    assert_eq!(pre["source"]["options"]["folder"], "images");
    assert_eq!(pre["feature_columns"].as_array().unwrap().len(), 64);
    let best = &read_csv(&root.join("leaderboard.csv"))[0];
    let model = format!("results/images/trials/{}", best["trial_id"]);
    ok(run_example("image_folder", tmp.path(), &["verify", &model], &[]));
    ok(run_example("image_folder", tmp.path(), &["predict", &model, "--split", "valid", "-o", "p.csv"], &[]));
    assert_eq!(read_csv(&tmp.path().join("p.csv")).len(), pre["valid_rows"].as_array().unwrap().len());

    // One image changed: the source's fingerprint no longer matches, and verify says so.
    let image = tmp.path().join("images/0/0000.pgm");
    fs::write(&image, fs::read_to_string(&image).unwrap().replacen(" 0", " 1", 1)).unwrap();
    let changed = run_example("image_folder", tmp.path(), &["verify", &model], &[]);
    assert_eq!(changed.status.code(), Some(2));
    assert!(text(&changed.stderr).contains("images: fingerprint is"), "{}", text(&changed.stderr));

    // The source's options are validated like parameters; its errors name the file.
    let wrong = spec.replace("folder = \"images\"", "path = \"images\"");
    fs::write(tmp.path().join("wrong.toml"), wrong).unwrap();
    let out = run_example("image_folder", tmp.path(), &["run", "wrong.toml"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("wrong.toml:6: data.path: unknown key for objective \"image_mlp\"'s data, expected one of task, valid_fraction, test_fraction, test_top, cv_folds, refit, folder"), "{}", text(&out.stderr));
    fs::write(tmp.path().join("images/0/bad.pgm"), "P5 binary").unwrap();
    let out = run_example("image_folder", tmp.path(), &["run", "images.toml", "--fresh"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("bad.pgm: is not a plain-text PGM"), "{}", text(&out.stderr));
}

#[test]
fn the_book_shows_the_cnn_example_and_its_spec_as_they_are() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = fs::read_to_string(root.join("docs/src/guide/own-model.md")).unwrap();
    for file in ["examples/digits_cnn.rs", "examples/digits_cnn.toml"] {
        let code = fs::read_to_string(root.join(file)).unwrap();
        assert!(readme.contains(&code), "docs/src/guide/own-model.md must show {file} as it is");
    }
}
