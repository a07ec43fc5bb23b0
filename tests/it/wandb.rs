//! W&B sweep files: the real `sweep` binary reads a W&B sweep configuration
//! (YAML) as it is, with sweep's own keys beside W&B's.

use std::fs;
use std::path::Path;
use std::process::Output;

use crate::common::{data, read_csv, sweep, text};

fn stderr(o: &Output) -> String {
    text(&o.stderr)
}

fn stdout(o: &Output) -> String {
    text(&o.stdout)
}

fn write(dir: &Path, name: &str, contents: &str) {
    fs::write(dir.join(name), contents).unwrap();
}

/// A W&B bayes sweep as W&B's docs write one, plus sweep's `data`, `train`,
/// `workers` and `tpe` keys: 4 trials × 2 epochs on the breast-cancer data.
fn bayes_yaml() -> String {
    format!(
        "\
program: train.py
entity: my-team
project: cancer
method: bayes
run_cap: 4
metric:
  name: auroc
  goal: maximize
  target: 0.99
parameters:
  lr:
    distribution: log_uniform_values
    min: 0.001
    max: 0.03
  hidden:
    min: 8
    max: 32
  optimizer:
    values: [adam, sgd]
    probabilities: [0.7, 0.3]
  dropout:
    distribution: q_uniform
    min: 0.0
    max: 0.3
    q: 0.1
command:
  - ${{env}}
  - python
  - ${{program}}
  - ${{args}}
name: cancer-bayes
seed: 5
workers: 2
tpe:
  startup_trials: 2
data:
  path: \"{}\"
train:
  epochs: 2
objective: mlp
",
        data("breast_cancer.csv")
    )
}

#[test]
fn a_wandb_bayes_file_runs_as_tpe_and_says_so_once() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "sweep.yaml", &bayes_yaml());
    // Worker processes read the same file: the notes still come once.
    let out = sweep(tmp.path(), &["run", "sweep.yaml", "-q", "--parallelism", "processes"]);
    let err = stderr(&out);
    assert!(out.status.success(), "{err}");
    let note = "note: method \"bayes\" runs sweep's TPE (Tree-structured Parzen Estimator)";
    assert_eq!(err.matches(note).count(), 1, "{err}");
    let warning = "warning: sweep.yaml: program, entity, project, metric.target, command are W&B keys sweep does not use; ignored";
    assert_eq!(err.matches(warning).count(), 1, "{err}");
    assert_eq!(err.matches("ignored").count(), 1, "{err}");

    let rows = read_csv(&tmp.path().join("results/cancer-bayes/leaderboard.csv"));
    assert_eq!(rows.len(), 4, "run_cap: 4 is the number of trials");
    for row in &rows {
        assert_eq!(row["status"], "completed", "{row:?}");
        let lr: f64 = row["lr"].parse().unwrap();
        assert!((0.001..=0.03).contains(&lr), "{row:?}");
        let hidden: i64 = row["hidden"].parse().expect("min: 8 and max: 32 are integers: int_uniform");
        assert!((8..=32).contains(&hidden), "{row:?}");
        assert!(["adam", "sgd"].contains(&row["optimizer"].as_str()), "{row:?}");
        let dropout: f64 = row["dropout"].parse().unwrap();
        assert!([0.0, 0.1, 0.2, 0.3].iter().any(|q| (dropout - q).abs() < 1e-9), "{row:?}");
    }
    let auroc: Vec<f64> = rows.iter().map(|r| r["best_auroc"].parse().unwrap()).collect();
    assert!(auroc.windows(2).all(|w| w[0] >= w[1]), "goal: maximize ranks the highest first: {auroc:?}");

    // sweep plan says the same things once, and prints the start-up trials the run ran.
    let plan = sweep(tmp.path(), &["plan", "sweep.yaml", "--json"]);
    assert!(plan.status.success(), "{}", stderr(&plan));
    assert_eq!(stderr(&plan).matches(note).count(), 1);
    let planned: Vec<serde_json::Value> = stdout(&plan).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(planned.len(), 2, "TPE plans its start-up trials up front");
    for p in &planned {
        let id = p["id"].as_str().unwrap();
        assert!(rows.iter().any(|r| r["trial_id"] == id), "{id} ran");
    }
}

#[test]
fn a_wandb_random_file_runs_the_trials_it_plans() {
    let tmp = tempfile::tempdir().unwrap();
    let yaml = format!(
        "\
name: cancer-random
method: random
run_cap: 3
metric:
  name: valid_loss
parameters:
  lr:
    distribution: inv_log_uniform_values
    min: 0.001
    max: 0.03
  weight_decay:
    distribution: log_normal
    mu: -9.0
    sigma: 1.0
  batch_size:
    distribution: q_log_uniform_values
    min: 16
    max: 128
    q: 16
  layers:
    value: 1
data:
  path: {}
train:
  epochs: 2
",
        data("breast_cancer.csv")
    );
    write(tmp.path(), "random.yml", &yaml);
    let out = sweep(tmp.path(), &["run", "random.yml", "-q"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stderr(&out), "", "no W&B-only keys, no bayes: nothing to say");
    let plan = sweep(tmp.path(), &["plan", "random.yml", "--json"]);
    let mut planned: Vec<String> = stdout(&plan)
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["id"].as_str().unwrap().to_string())
        .collect();
    let rows = read_csv(&tmp.path().join("results/cancer-random/leaderboard.csv"));
    let mut ran: Vec<String> = rows.iter().map(|r| r["trial_id"].clone()).collect();
    planned.sort();
    ran.sort();
    assert_eq!(ran, planned);
    for row in &rows {
        let batch: i64 = row["batch_size"].parse().unwrap();
        assert!(batch % 16 == 0 && (16..=128).contains(&batch), "{row:?}");
        assert!(row["weight_decay"].parse::<f64>().unwrap() > 0.0, "{row:?}");
    }
    // No goal: W&B minimizes, so the lowest loss ranks first.
    let losses: Vec<f64> = rows.iter().map(|r| r["best_valid_loss"].parse().unwrap()).collect();
    assert!(losses.windows(2).all(|w| w[0] <= w[1]), "minimized: {losses:?}");
}

#[test]
fn yaml_errors_name_the_yaml_file_and_line() {
    let tmp = tempfile::tempdir().unwrap();
    let good = bayes_yaml();
    let cases = [
        // Line 5 is `run_cap: 4`.
        (good.replace("run_cap: 4", "run_cap: 0"), "error: bad.yaml:5: run_cap: got 0, expected a whole number from 1"),
        (
            good.replace("    max: 0.03", "    max: -1"),
            "error: bad.yaml:14: parameters.lr.max: got -1, expected a number > 0",
        ),
        (good.replace("  epochs: 2", "  epochs: two"), "error: bad.yaml:39: train.epochs: got \"two\""),
        (good.replace("method: bayes", "method: hyperopt"), "error: bad.yaml:4: method: got \"hyperopt\""),
        (good.replace("seed: 5", "sead: 5"), "error: bad.yaml:32: sead: unknown key, expected one of W&B's"),
        (good.replace("[0.7, 0.3]", "[0.7, 0.2]"), "error: bad.yaml:20: parameters.optimizer.probabilities: sum to"),
        (good.replace("  name: auroc", "  name: auroc\n  name: mcc"), "error: bad.yaml:8: key \"name\" appears twice"),
        (good.replace("    values: [adam, sgd]", "    values: [adam, sgd"), "error: bad.yaml:"),
    ];
    for (yaml, expected) in cases {
        write(tmp.path(), "bad.yaml", &yaml);
        let out = sweep(tmp.path(), &["run", "bad.yaml"]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{expected}: {err}");
        assert!(err.starts_with(expected), "expected {expected:?} in {err:?}");
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
        assert!(!tmp.path().join("results").exists(), "bad input writes nothing");
    }
    // A grid over a continuous distribution names the parameter, as with TOML.
    let grid = good
        .replace("method: bayes", "method: grid")
        .replace("run_cap: 4\n", "")
        .replace("tpe:\n  startup_trials: 2\n", "");
    write(tmp.path(), "grid.yaml", &grid);
    let err = stderr(&sweep(tmp.path(), &["plan", "grid.yaml"]));
    assert!(err.starts_with("error: grid.yaml:20: parameters.dropout: has distribution \"q_uniform\""), "{err}");
    // Any other extension is read as TOML, and its error says so.
    write(tmp.path(), "sweep.cfg", &good);
    let err = stderr(&sweep(tmp.path(), &["plan", "sweep.cfg"]));
    assert!(err.starts_with("error: sweep.cfg:1: "), "{err}");
    assert!(err.contains("read as TOML: sweep reads .toml files as TOML and .yaml or .yml files as W&B"), "{err}");
}

#[test]
fn equivalent_toml_and_yaml_specs_give_the_same_plan() {
    let tmp = tempfile::tempdir().unwrap();
    let csv = data("breast_cancer.csv");
    let toml = format!(
        r#"name = "same"
method = "random"
trials = 6
seed = 11
[data]
path = "{csv}"
valid_fraction = 0.25
[metric]
name = "valid_loss"
goal = "minimize"
[train]
epochs = 2
[parameters]
lr = {{ distribution = "uniform", min = 0.001, max = 0.01 }}
hidden = {{ distribution = "int_uniform", min = 8, max = 64 }}
layers = {{ value = 2 }}
optimizer = {{ values = ["adam", "sgd"], probabilities = [0.25, 0.75] }}
momentum = {{ distribution = "q_uniform", min = 0.5, max = 0.9, q = 0.1 }}
weight_decay = {{ distribution = "log_normal", mu = -8.0, sigma = 2.0 }}
"#
    );
    let yaml = format!(
        "\
name: same
method: random
run_cap: 6
seed: 11
project: p
data:
  path: \"{csv}\"
  valid_fraction: 0.25
metric:
  name: valid_loss
train:
  epochs: 2
parameters:
  lr: {{min: 0.001, max: 0.01}}
  hidden: {{min: 8, max: 64}}
  layers: {{value: 2}}
  optimizer: {{values: [adam, sgd], probabilities: [0.25, 0.75]}}
  momentum: {{distribution: q_uniform, min: 0.5, max: 0.9, q: 0.1}}
  weight_decay: {{distribution: log_normal, mu: -8.0, sigma: 2.0}}
"
    );
    write(tmp.path(), "same.toml", &toml);
    write(tmp.path(), "same.yaml", &yaml);
    let plan = |file: &str, json: bool| {
        let args: Vec<&str> = if json { vec!["plan", file, "--json"] } else { vec!["plan", file] };
        let out = sweep(tmp.path(), &args);
        assert!(out.status.success(), "{file}: {}", stderr(&out));
        stdout(&out)
    };
    let (toml_plan, yaml_plan) = (plan("same.toml", true), plan("same.yaml", true));
    assert_eq!(toml_plan.lines().count(), 6);
    assert_eq!(toml_plan, yaml_plan);
    // The header holds the spec hash: the same sweep, resumable from either file.
    assert_eq!(plan("same.toml", false), plan("same.yaml", false));
}

#[test]
fn the_books_wandb_example_is_a_valid_wandb_file() {
    let readme = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/src/guide/wandb.md")).unwrap();
    let section = readme.split("# W&B sweep files").nth(1).expect("the book's page has the section");
    let yaml = section.split("```yaml\n").nth(1).and_then(|s| s.split("```").next()).expect("a yaml block");
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), "sweep.yaml", &yaml.replace("data/breast_cancer.csv", &data("breast_cancer.csv")));
    let out = sweep(tmp.path(), &["plan", "sweep.yaml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).starts_with("sweep breast-cancer-wandb (tpe, 10 start-up trials"), "{}", stdout(&out));
    let err = stderr(&out);
    // The block after the YAML one shows what sweep says on stderr.
    let shown: Vec<&str> = section.split("```\n").nth(2).unwrap().lines().collect();
    assert_eq!(shown.len(), 2, "{shown:?}");
    for line in shown {
        assert!(err.contains(line), "docs/src/guide/wandb.md shows {line:?}; sweep says {err:?}");
    }
}
