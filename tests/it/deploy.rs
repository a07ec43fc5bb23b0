//! Picking and shipping models: the registry, predict, verify and export,
//! through the real binary.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use crate::common::{SpecBuilder, data, python, sweep, text};

fn ok(out: Output) -> String {
    assert!(out.status.success(), "stdout: {}\nstderr: {}", text(&out.stdout), text(&out.stderr));
    text(&out.stdout)
}

fn json(out: Output) -> serde_json::Value {
    serde_json::from_str(&ok(out)).unwrap()
}

/// A small sweep (4 trials × 4 epochs) registered as `name`.
fn trained(dir: &Path, sweep_name: &str, data_file: &str, target: &str, register_as: &str) -> Vec<String> {
    SpecBuilder::new(sweep_name)
        .seed(9)
        .top("register_as", register_as)
        .data_path(data_file)
        .target(target)
        .epochs(4)
        .values("lr", [0.003, 0.01])
        .values("hidden", [16, 32])
        .write(dir);
    let out = ok(sweep(dir, &["run", &format!("{sweep_name}.toml"), "-q"]));
    assert!(out.is_empty(), "quiet run prints nothing but the registration? {out}");
    let board = fs::read_to_string(dir.join(format!("results/{sweep_name}/leaderboard.csv"))).unwrap();
    board.lines().skip(1).map(|l| l.split(',').nth(1).unwrap().to_string()).collect()
}

#[test]
fn versions_aliases_and_lineage_survive_deleting_the_sweep() {
    let tmp = tempfile::tempdir().unwrap();
    let ids = trained(tmp.path(), "small", &data("digits.csv"), "target", "digits");
    // register_as registered the top trial as version 1.
    let show = json(sweep(tmp.path(), &["registry", "show", "digits", "--json"]));
    assert_eq!(show["version"]["version"], 1);
    assert_eq!(show["version"]["trial_id"], ids[0].as_str());
    assert_eq!(show["version"]["sweep"], "small");
    for key in
        ["spec_hash", "params", "metrics", "data_fingerprint", "checkpoint_sha256", "registered_at", "trained_at"]
    {
        assert!(!show["version"][key].is_null(), "{key} in {show}");
    }

    // Running the aggregation again does not add a duplicate version.
    ok(sweep(tmp.path(), &["aggregate", "results/small", "-q"]));
    let out = ok(sweep(tmp.path(), &["registry", "register", "results/small", "--trial", &ids[2], "--name", "digits"]));
    assert!(out.contains("registered digits@2"), "{out}");

    ok(sweep(tmp.path(), &["registry", "alias", "digits@1", "champion"]));
    let moved = ok(sweep(tmp.path(), &["registry", "alias", "digits@2", "champion"]));
    assert!(moved.contains("moved from version 1 to 2"), "{moved}");
    let champion = json(sweep(tmp.path(), &["registry", "show", "digits@champion", "--json"]));
    assert_eq!(champion["version"]["trial_id"], ids[2].as_str());
    let listed = json(sweep(tmp.path(), &["registry", "list", "--json"]));
    assert_eq!(listed["models"][0]["versions"].as_array().unwrap().len(), 2);
    assert_eq!(listed["models"][0]["aliases"]["champion"], 2);

    // A --fresh rerun reuses the sweep's trial folders but never writes into the files that
    // registered versions link to.
    let spec = fs::read_to_string(tmp.path().join("small.toml")).unwrap().replace("epochs = 4", "epochs = 2");
    fs::write(tmp.path().join("small.toml"), spec).unwrap();
    ok(sweep(tmp.path(), &["run", "small.toml", "--fresh", "-q"]));
    for version in ["digits@1", "digits@2"] {
        let verified = ok(sweep(tmp.path(), &["verify", version]));
        assert!(verified.contains("verified"), "{version}: {verified}");
    }

    // The registered model keeps its own files.
    fs::remove_dir_all(tmp.path().join("results/small")).unwrap();
    let verified = ok(sweep(tmp.path(), &["verify", "digits@champion"]));
    assert!(verified.contains("verified"), "{verified}");
    let preds = ok(sweep(tmp.path(), &["predict", "digits@1", "--split", "valid"]));
    let pre: serde_json::Value = serde_json::from_slice(
        &fs::read(tmp.path().join("results/registry/models/digits/v1/preprocessing.json")).unwrap(),
    )
    .unwrap();
    let valid_rows = pre["valid_rows"].as_array().unwrap().len();
    assert!((355..=365).contains(&valid_rows), "a fifth of 1797 rows: {valid_rows}");
    assert_eq!(preds.lines().count(), 1 + valid_rows);

    // Unknown versions and aliases say what there is.
    let out = sweep(tmp.path(), &["predict", "digits@prod", "--split", "valid"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("no alias \"prod\"") && text(&out.stderr).contains("champion→2"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn path_unsafe_names_and_aliases_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let ids = trained(tmp.path(), "names", &data("breast_cancer.csv"), "target", "bc");
    for bad in ["../evil", "a/b", "..", ".hidden", "x y"] {
        let out = sweep(tmp.path(), &["registry", "register", "results/names", "--trial", &ids[0], "--name", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
        assert!(text(&out.stderr).contains("is not allowed"), "{}", text(&out.stderr));
        let out = sweep(tmp.path(), &["registry", "alias", "bc@1", bad]);
        assert_eq!(out.status.code(), Some(2), "{bad}");
    }
    assert!(!tmp.path().join("results/evil").exists());
    assert_eq!(fs::read_dir(tmp.path().join("results/registry/models")).unwrap().count(), 1);
}

#[test]
fn concurrent_registrations_never_corrupt_the_registry() {
    let tmp = tempfile::tempdir().unwrap();
    let ids = trained(tmp.path(), "race", &data("breast_cancer.csv"), "target", "first");
    let bin = env!("CARGO_BIN_EXE_sweep");
    let children: Vec<_> = (0..8)
        .map(|i| {
            Command::new(bin)
                .current_dir(tmp.path())
                .args([
                    "registry",
                    "register",
                    "results/race",
                    "--trial",
                    &ids[i % 4],
                    "--name",
                    "raced",
                    "--alias",
                    &format!("a{i}"),
                ])
                .stdout(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let entry: serde_json::Value =
        serde_json::from_slice(&fs::read(tmp.path().join("results/registry/models/raced/model.json")).unwrap())
            .unwrap();
    let versions: Vec<u64> =
        entry["versions"].as_array().unwrap().iter().map(|v| v["version"].as_u64().unwrap()).collect();
    // Registering the very trial that is already the latest version adds nothing, so 4..=8 versions, numbered 1..n.
    assert!((4..=8).contains(&versions.len()), "{versions:?}");
    assert_eq!(versions, (1..=versions.len() as u64).collect::<Vec<_>>());
    assert_eq!(entry["aliases"].as_object().unwrap().len(), 8);
    for v in versions {
        assert!(tmp.path().join(format!("results/registry/models/raced/v{v}/best.safetensors")).exists());
    }
}

#[test]
fn predict_maps_columns_by_name_and_returns_original_labels() {
    let tmp = tempfile::tempdir().unwrap();
    let mut csv_text = String::from("x1,x2,kind\n");
    for i in 0..60 {
        let label = if i % 3 == 0 { "dog" } else { "cat" };
        csv_text.push_str(&format!("{},{},{label}\n", (i % 3 == 0) as i32 * 2 + (i % 2), (i * 7) % 5));
    }
    fs::write(tmp.path().join("pets.csv"), &csv_text).unwrap();
    let ids = trained(tmp.path(), "pets", "pets.csv", "kind", "pets");
    let model = format!("results/pets/trials/{}", ids[0]);

    fs::write(tmp.path().join("in.csv"), "x1,x2\n2,1\n0,3\n").unwrap();
    fs::write(tmp.path().join("swapped.csv"), "x2,x1,kind\n1,2,dog\n3,0,cat\n").unwrap();
    let a = ok(sweep(tmp.path(), &["predict", &model, "--input", "in.csv"]));
    assert!(a.starts_with("row,predicted,prob_cat,prob_dog\n"), "{a}");
    assert!(a.lines().nth(1).unwrap().starts_with("0,dog,"), "{a}");
    assert!(a.lines().nth(2).unwrap().starts_with("1,cat,"), "{a}");
    let b = ok(sweep(tmp.path(), &["predict", "pets", "--input", "swapped.csv"]));
    assert!(b.starts_with("row,predicted,true_label,prob_cat,prob_dog\n"), "{b}");
    let probs = |s: &str| {
        s.lines().skip(1).map(|l| l.rsplitn(3, ',').take(2).collect::<Vec<_>>().join(",")).collect::<Vec<_>>()
    };
    assert_eq!(probs(&a), probs(&b), "column order does not matter");

    let cases = [
        ("x1\n1\n", "missing column(s) the model needs: x2"),
        ("x1,x2,x3\n1,2,3\n", "column(s) the model does not know: x3"),
        ("x1,x2\n1,2\n1,oops\n", "line 3, column \"x2\": got \"oops\", expected a number"),
        ("x1,x2\n1,inf\n", "line 2, column \"x2\": got inf, expected a finite number"),
        // NaN marks a missing cell, which a model trained without missing cells has no fill for.
        (
            "x1,x2\n1,NaN\n",
            "bad.csv:2: column \"x2\": the cell is missing (\"NaN\"); the model was trained without missing cells",
        ),
    ];
    for (input, expected) in cases {
        fs::write(tmp.path().join("bad.csv"), input).unwrap();
        let out = sweep(tmp.path(), &["predict", "pets", "--input", "bad.csv"]);
        assert_eq!(out.status.code(), Some(2), "{expected}");
        assert!(text(&out.stderr).contains(expected), "{expected:?} in {}", text(&out.stderr));
    }
}

#[test]
fn verify_catches_a_checkpoint_its_metadata_does_not_describe() {
    let tmp = tempfile::tempdir().unwrap();
    let ids = trained(tmp.path(), "tamper", &data("breast_cancer.csv"), "target", "bc");
    let trial = |i: usize| tmp.path().join("results/tamper/trials").join(&ids[i]);
    let model = format!("results/tamper/trials/{}", ids[0]);
    assert!(ok(sweep(tmp.path(), &["verify", &model])).contains("verified"));

    // best.json claims a better mcc than its checkpoint has.
    let meta_path = trial(0).join("best.json");
    let original = fs::read_to_string(&meta_path).unwrap();
    let mut meta: serde_json::Value = serde_json::from_str(&original).unwrap();
    let mcc = meta["metrics"]["mcc"].as_f64().unwrap();
    meta["metrics"]["mcc"] = serde_json::json!(mcc - 0.01);
    fs::write(&meta_path, serde_json::to_string(&meta).unwrap()).unwrap();
    let out = sweep(tmp.path(), &["verify", &model]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stdout).contains("MISMATCH") && text(&out.stdout).contains("FAILED"), "{}", text(&out.stdout));
    fs::write(&meta_path, &original).unwrap();

    // A trial still running has no record, so nothing vouches for its checkpoint yet.
    let record = trial(0).join("trial.json");
    fs::rename(&record, trial(0).join("running.json")).unwrap();
    let out = sweep(tmp.path(), &["verify", &model]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("its trial has not finished"), "{}", text(&out.stderr));
    fs::rename(trial(0).join("running.json"), &record).unwrap();

    // Another trial's checkpoint put in its place.
    fs::copy(trial(1).join("best.safetensors"), trial(0).join("best.safetensors")).unwrap();
    let out = sweep(tmp.path(), &["verify", &model]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("is not the one its metadata describes"), "{}", text(&out.stderr));
}

#[test]
fn exported_weights_load_in_python_and_reproduce_predict() {
    let Some(py) = python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let spec_data = data("digits.csv");
    trained(tmp.path(), "ship", &spec_data, "target", "ship");
    let rows: String = fs::read_to_string(&spec_data).unwrap().lines().take(9).map(|l| format!("{l}\n")).collect();
    fs::write(tmp.path().join("rows.csv"), &rows).unwrap();
    ok(sweep(tmp.path(), &["predict", "ship", "--input", "rows.csv", "--output", "preds.csv"]));

    for layout in ["pytorch", "burn"] {
        let out_dir = format!("export-{layout}");
        let files = ok(sweep(tmp.path(), &["export", "ship@1", "--to", &out_dir, "--layout", layout]));
        for f in ["model.safetensors", "preprocessing.json", "model_card.json", "model_card.md"] {
            assert!(files.contains(f), "{files}");
        }
        let card: serde_json::Value =
            serde_json::from_slice(&fs::read(tmp.path().join(&out_dir).join("model_card.json")).unwrap()).unwrap();
        // The model card's own Python snippet is what is tested.
        let snippet = card["load_in_python"].as_str().unwrap();
        let script = format!(
            "{snippet}\nimport csv, sys\nrows = list(csv.DictReader(open(sys.argv[1])))\n\
             X = [[float(r[c]) for c in pre['feature_columns']] for r in rows]\n\
             P = predict_proba(X)\nexpected = list(csv.DictReader(open(sys.argv[2])))\n\
             worst = 0.0\n\
             for p, e in zip(P, expected):\n    for k, c in enumerate(pre['classes']):\n        worst = max(worst, abs(p[k] - float(e['prob_' + c])))\n\
             assert len(P) == len(expected) == 8, (len(P), len(expected))\nprint(worst)\nassert worst < 1e-5, worst\n"
        );
        fs::write(tmp.path().join(&out_dir).join("check.py"), script).unwrap();
        let run = Command::new(&py)
            .current_dir(tmp.path().join(&out_dir))
            .args(["check.py", "../rows.csv", "../preds.csv"])
            .output()
            .unwrap();
        assert!(run.status.success(), "{layout}: {}{}", text(&run.stdout), text(&run.stderr));
    }
}
