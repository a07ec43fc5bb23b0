//! Regression with the built-in MLP on the bundled diabetes data, run as a
//! user would: the ranking, the metrics in the target's own units, and the
//! model's predictions and verification.

use std::fs;
use std::path::Path;

use crate::common::{SpecBuilder, data, python, read_csv, sweep, text};

/// 4 trials (lr × hidden) × 12 epochs on the bundled diabetes, ranked by rmse.
fn spec(name: &str) -> SpecBuilder {
    SpecBuilder::new(name)
        .seed(7)
        .data_file("diabetes.csv")
        .target("progression")
        .task("regression")
        .metric("rmse")
        .epochs(12)
        .train("batch_size", 32)
        .values("lr", [0.003, 0.01])
        .values("hidden", [16, 64])
}

fn f(row: &std::collections::BTreeMap<String, String>, column: &str) -> f64 {
    row[column].parse().unwrap_or_else(|_| panic!("{column}: {:?}", row.get(column)))
}

#[test]
fn a_regression_sweep_ranks_by_rmse_in_original_units_and_its_models_predict_and_verify() {
    let tmp = tempfile::tempdir().unwrap();
    spec("diabetes").write_as(tmp.path(), "d.toml");
    let out = sweep(tmp.path(), &["run", "d.toml", "--workers", "2"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("top 4 of 4 by best rmse (Minimize)"), "{}", text(&out.stdout));
    let root = tmp.path().join("results/diabetes");
    let rows = read_csv(&root.join("leaderboard.csv"));
    assert_eq!(rows.len(), 4);
    assert!(rows[0].contains_key("best_r2") && !rows[0].contains_key("best_mcc"), "regression columns only");
    for pair in rows.windows(2) {
        assert!(f(&pair[0], "best_rmse") <= f(&pair[1], "best_rmse"), "smaller rmse first");
    }
    for row in &rows {
        let (mse, rmse) = (f(row, "best_mse"), f(row, "best_rmse"));
        assert!((rmse * rmse - mse).abs() <= 1e-9 * mse);
        // Original units: the targets have a std of about 77, so a useful model errs by tens.
        assert!((30.0..90.0).contains(&rmse), "{rmse}");
        let history = read_csv(&root.join("trials").join(&row["trial_id"]).join("history.csv"));
        let columns: Vec<&String> = history[0].keys().collect();
        assert_eq!(columns, ["epoch", "mae", "mse", "r2", "rmse", "saved_best", "train_loss", "valid_loss"]);
    }
    let best = &rows[0];
    assert!(f(best, "best_r2") > 0.3, "{best:?}");
    let pre: serde_json::Value = serde_json::from_slice(&fs::read(root.join("preprocessing.json")).unwrap()).unwrap();
    assert_eq!(pre["task"], "regression");
    assert!(pre["classes"].as_array().unwrap().is_empty());
    let scale = &pre["target_scale"];
    assert!((scale["mean"].as_f64().unwrap() - 152.0).abs() < 10.0, "{scale}");

    // predict --split valid: values in original units, whose RMSE (computed here) is the stored one.
    let model = format!("results/diabetes/trials/{}", best["trial_id"]);
    let out = sweep(tmp.path(), &["predict", &model, "--split", "valid", "-o", "p.csv"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let preds = read_csv(&tmp.path().join("p.csv"));
    assert_eq!(preds.len(), pre["valid_rows"].as_array().unwrap().len());
    let squared: f64 = preds.iter().map(|p| (f(p, "predicted") - f(p, "true_value")).powi(2)).sum();
    let rmse = (squared / preds.len() as f64).sqrt();
    assert!((rmse - f(best, "best_rmse")).abs() <= 1e-9 * rmse, "{rmse} vs {}", best["best_rmse"]);
    let out = sweep(tmp.path(), &["verify", &model]);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    for m in ["mse", "rmse", "mae", "r2", "valid_loss"] {
        assert!(text(&out.stdout).lines().any(|l| l.trim_start().starts_with(m) && l.ends_with("ok")), "{m}");
    }

    // Rows given by the user, columns in another order, the target left out.
    let raw = read_csv(Path::new(&data("diabetes.csv")));
    let mut input = String::from("s6,bmi,age,sex,bp,s1,s2,s3,s4,s5\n");
    for r in raw.iter().take(3) {
        let cells: Vec<&str> =
            ["s6", "bmi", "age", "sex", "bp", "s1", "s2", "s3", "s4", "s5"].iter().map(|c| r[*c].as_str()).collect();
        input.push_str(&format!("{}\n", cells.join(",")));
    }
    fs::write(tmp.path().join("rows.csv"), input).unwrap();
    let out = sweep(tmp.path(), &["predict", &model, "--input", "rows.csv"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.starts_with("row,predicted\n") && stdout.lines().count() == 4, "{stdout}");
}

#[test]
fn an_exported_regression_model_predicts_the_same_values_in_python() {
    let Some(py) = python() else { return };
    let tmp = tempfile::tempdir().unwrap();
    spec("ship").write_as(tmp.path(), "d.toml");
    assert!(sweep(tmp.path(), &["run", "d.toml", "-q"]).status.success());
    let best = read_csv(&tmp.path().join("results/ship/leaderboard.csv"))[0]["trial_id"].clone();
    let model = format!("results/ship/trials/{best}");
    let out = sweep(tmp.path(), &["predict", &model, "--split", "valid", "-o", "p.csv"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    // The validation rows' raw features, in the model's column order, from the data file.
    let pre: serde_json::Value =
        serde_json::from_slice(&fs::read(tmp.path().join("results/ship/preprocessing.json")).unwrap()).unwrap();
    let raw = read_csv(Path::new(&data("diabetes.csv")));
    let columns: Vec<&str> = pre["feature_columns"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    let mut rows = format!("{}\n", columns.join(","));
    for r in pre["valid_rows"].as_array().unwrap() {
        let row = &raw[r.as_u64().unwrap() as usize];
        rows.push_str(&format!("{}\n", columns.iter().map(|c| row[*c].as_str()).collect::<Vec<_>>().join(",")));
    }
    fs::write(tmp.path().join("rows.csv"), rows).unwrap();
    for layout in ["pytorch", "burn"] {
        let dir = format!("export-{layout}");
        let out = sweep(tmp.path(), &["export", &model, "--to", &dir, "--layout", layout]);
        assert!(out.status.success(), "{}", text(&out.stderr));
        let card: serde_json::Value =
            serde_json::from_slice(&fs::read(tmp.path().join(&dir).join("model_card.json")).unwrap()).unwrap();
        assert_eq!(card["task"], "regression");
        // The model card's own snippet, run as a user would.
        let script = format!(
            "{}\nimport csv, sys\nrows = list(csv.DictReader(open(sys.argv[1])))\n\
             X = [[float(r[c]) for c in pre['feature_columns']] for r in rows]\nP = predict(X)\n\
             expected = [float(e['predicted']) for e in csv.DictReader(open(sys.argv[2]))]\n\
             worst = max(abs(p - e) / max(1.0, abs(e)) for p, e in zip(P, expected))\n\
             assert len(P) == len(expected) > 50, (len(P), len(expected))\nprint(worst)\nassert worst < 1e-5, worst\n",
            card["load_in_python"].as_str().unwrap()
        );
        fs::write(tmp.path().join(&dir).join("check.py"), script).unwrap();
        let run = std::process::Command::new(&py)
            .current_dir(tmp.path().join(&dir))
            .args(["check.py", "../rows.csv", "../p.csv"])
            .output()
            .unwrap();
        assert!(run.status.success(), "{layout}: {}{}", text(&run.stdout), text(&run.stderr));
    }
}
