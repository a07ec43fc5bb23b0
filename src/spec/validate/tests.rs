//! The validator's messages and results, table by table.

use std::path::Path;

use super::*;
use crate::metrics::{Goal, Task};
use crate::objective::Catalog;
use crate::params::ParamValue;
use crate::space::Domain;
use crate::spec::{EarlyStoppingSpec, SpecError, SweepSpec};

const GRID: &str = r#"
name = "digits-grid"
method = "grid"
seed = 42
workers = 2

[data]
path = "data/digits.csv"
target = "target"
valid_fraction = 0.2

[metric]
name = "mcc"
goal = "maximize"
min_delta = 0.0

[train]
epochs = 30
batch_size = 64
optimizer = "adam"

[parameters]
lr = { values = [0.001, 0.003, 0.01] }
hidden = { values = [64, 128, 256] }
layers = { values = [1, 2] }
dropout = { values = [0.0, 0.2] }
"#;

fn catalog() -> Catalog {
    Catalog::new(crate::objective::builtin()).unwrap()
}

fn parse_str(text: &str) -> Result<SweepSpec, SpecError> {
    parse(text, Path::new("s.toml"), &catalog())
}

#[test]
fn the_benchmark_grid_parses() {
    let spec = parse_str(GRID).unwrap();
    assert_eq!(spec.name, "digits-grid");
    assert_eq!(spec.method, crate::sampler::grid_method());
    assert_eq!(spec.seed, 42);
    assert_eq!(spec.workers, Some(2));
    assert_eq!(spec.metric.goal, Goal::Maximize);
    assert_eq!(spec.train.get("epochs"), Some(&ParamValue::Int(30)));
    assert_eq!(spec.parameters.len(), 4);
    assert_eq!(
        spec.parameters["lr"],
        Domain::Values { values: vec![ParamValue::Float(0.001), ParamValue::Float(0.003), ParamValue::Float(0.01)] }
    );
}

#[test]
fn workers_do_not_change_the_hash() {
    let a = parse_str(GRID).unwrap();
    let b = parse_str(&GRID.replace("workers = 2", "workers = 1")).unwrap();
    let c = parse_str(&GRID.replace("seed = 42", "seed = 43")).unwrap();
    assert_eq!(a.hash(), b.hash());
    assert_ne!(a.hash(), c.hash());
}

fn message(text: &str) -> String {
    parse_str(text).unwrap_err().to_string()
}

#[test]
fn unknown_keys_name_the_key_and_line() {
    let m = message(&GRID.replace("seed = 42", "sed = 42"));
    assert!(m.starts_with("s.toml:4: "), "{m}");
    assert!(m.contains("unknown field `sed`"), "{m}");
    assert!(!m.contains('\n'), "one line: {m}");
    let m = message(&GRID.replace("layers = { values", "layer = { values"));
    assert!(m.contains("s.toml:25: parameters.layer: unknown parameter"), "{m}");
}

#[test]
fn bad_values_name_value_and_expectation() {
    let m = message(&GRID.replace("valid_fraction = 0.2", "valid_fraction = 1.5"));
    assert_eq!(m, "s.toml:10: data.valid_fraction: got 1.5, expected a number in (0, 1)");
    let m = message(&GRID.replace("name = \"mcc\"", "name = \"mccc\""));
    assert!(m.contains("metric.name: got \"mccc\", expected one of"), "{m}");
    let m = message(&GRID.replace("optimizer = \"adam\"", "optimizer = \"rmsprop\""));
    assert!(m.contains("s.toml:20: train.optimizer: got \"rmsprop\""), "{m}");
    let m = message(&GRID.replace("[0.0, 0.2]", "[0.0, 1.2]"));
    assert!(m.contains("parameters.dropout.values: got 1.2, expected a number in [0, 1)"), "{m}");
    let m = message(&GRID.replace("method = \"grid\"", "method = \"bayes\""));
    assert!(m.contains("method: got \"bayes\""), "{m}");
    let m = message(&GRID.replace("epochs = 30", "epochs = 30\nlr = 0.1"));
    assert!(m.contains("both fixed in [train] and swept"), "{m}");
}

#[test]
fn type_errors_name_the_key_and_its_table() {
    let m = message(&GRID.replace("seed = 42", "seed = \"abc\""));
    assert_eq!(m, "s.toml:4: seed: invalid type: string \"abc\", expected a whole number");
    let m = message(&GRID.replace("valid_fraction = 0.2", "valid_fraction = \"a\""));
    assert_eq!(m, "s.toml:10: data.valid_fraction: got \"a\", expected a number in (0, 1)");
    let m = message(&GRID.replace("values = [1, 2]", "values = 1"));
    assert!(m.starts_with("s.toml:25: parameters.layers: invalid type: integer `1`, expected a list"), "{m}");
}

#[test]
fn random_needs_trials_and_grid_needs_lists() {
    let random = GRID.replace("method = \"grid\"", "method = \"random\"");
    assert!(message(&random).contains("trials: is missing"));
    let ok = parse_str(&random.replace("workers = 2", "workers = 2\ntrials = 5")).unwrap();
    assert_eq!(ok.method, crate::sampler::random_method(5));
    let dist = GRID.replace(
        "lr = { values = [0.001, 0.003, 0.01] }",
        "lr = { distribution = \"log_uniform_values\", min = 0.0001, max = 0.1 }",
    );
    assert!(message(&dist).contains("needs a list"));
    let bad_int = dist
        .replace("method = \"grid\"", "method = \"random\"\ntrials = 3")
        .replace("hidden = { values = [64, 128, 256] }", "hidden = { distribution = \"uniform\", min = 8, max = 64 }");
    assert!(message(&bad_int).contains("use \"int_uniform\""), "{}", message(&bad_int));
}

/// GRID as a random search of the one parameter `line`.
fn with_param(line: &str) -> String {
    let head = GRID.split("[parameters]").next().unwrap();
    let head = head.replace("method = \"grid\"", "method = \"random\"\ntrials = 3");
    format!("{}[parameters]\n{line}\n", head.replace("batch_size = 64\noptimizer = \"adam\"\n", ""))
}

#[test]
fn wandb_distributions_are_spec_domains_too() {
    let domain = |line: &str| {
        let text = with_param(line);
        let key = line.split(" = ").next().unwrap().to_string();
        parse_str(&text).unwrap_or_else(|e| panic!("{line}: {e}")).parameters[&key].clone()
    };
    assert_eq!(
        domain("momentum = { distribution = \"q_uniform\", min = 0.5, max = 0.9, q = 0.1 }"),
        Domain::QUniform { min: 0.5, max: 0.9, q: 0.1, integer: false }
    );
    assert_eq!(
        domain("batch_size = { distribution = \"q_log_uniform_values\", min = 16, max = 256, q = 16 }"),
        Domain::QLogUniformValues { min: 16.0, max: 256.0, q: 16.0, integer: true }
    );
    assert_eq!(
        domain("batch_size = { distribution = \"q_uniform\", min = 8, max = 64 }"),
        Domain::QUniform { min: 8.0, max: 64.0, q: 1.0, integer: true },
        "W&B's default q is 1"
    );
    assert_eq!(
        domain("lr = { distribution = \"inv_log_uniform_values\", min = 0.0001, max = 0.1 }"),
        Domain::InvLogUniformValues { min: 0.0001, max: 0.1 }
    );
    assert_eq!(
        domain("lr = { distribution = \"normal\", mu = 0.01, sigma = 0.005 }"),
        Domain::Normal { mu: 0.01, sigma: 0.005, min: Some(0.0f64.next_up()), max: None },
        "cut to lr > 0"
    );
    assert_eq!(
        domain("weight_decay = { distribution = \"log_normal\" }"),
        Domain::LogNormal { mu: 0.0, sigma: 1.0, min: Some(0.0), max: None },
        "W&B's default mu 0 and sigma 1"
    );
    assert_eq!(
        domain("dropout = { distribution = \"q_normal\", mu = 0.3, sigma = 0.2, q = 0.1 }"),
        Domain::QNormal { mu: 0.3, sigma: 0.2, q: 0.1, integer: false, min: Some(0.0), max: Some(1.0f64.next_down()) }
    );
    assert_eq!(
        domain("hidden = { distribution = \"q_log_normal\", mu = 4.0, sigma = 0.5, q = 8 }"),
        Domain::QLogNormal { mu: 4.0, sigma: 0.5, q: 8.0, integer: true, min: Some(1.0), max: Some(65536.0) }
    );
    match domain("lr = { distribution = \"inv_log_uniform\", min = 2.3, max = 9.2 }") {
        Domain::InvLogUniformValues { min, max } => {
            assert!((min - (-9.2f64).exp()).abs() < 1e-15 && (max - (-2.3f64).exp()).abs() < 1e-15);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        domain("optimizer = { values = [\"adam\", \"sgd\"], probabilities = [0.9, 0.1] }"),
        Domain::Categorical { values: vec!["adam".into(), "sgd".into()], probabilities: vec![0.9, 0.1] }
    );
    assert_eq!(
        domain("layers = { distribution = \"constant\", value = 2 }"),
        Domain::Values { values: vec![ParamValue::Int(2)] }
    );
}

#[test]
fn wandb_distributions_are_checked_against_the_parameter() {
    let m = |line: &str| message(&with_param(line));
    assert!(
        m("optimizer = { values = [\"adam\", \"sgd\"], probabilities = [0.9] }")
            .contains("parameters.optimizer.probabilities: has 1 probabilities for 2 values, expected one per value")
    );
    assert!(
        m("optimizer = { values = [\"adam\", \"sgd\"], probabilities = [0.9, 0.2] }")
            .contains("parameters.optimizer.probabilities: sum to 1.1, expected 1 (within 1e-6)")
    );
    assert!(
        m("optimizer = { values = [\"adam\", \"sgd\"], probabilities = [1.5, -0.5] }")
            .contains("probabilities: got -0.5, expected a number >= 0")
    );
    assert!(m("optimizer = { probabilities = [1.0] }").contains("parameters.optimizer.probabilities: needs values"));
    assert!(
        m("hidden = { distribution = \"q_uniform\", min = 8, max = 64, q = 0.5 }")
            .contains("parameters.hidden.q: got 0.5, expected a whole number > 0")
    );
    assert!(
        m("hidden = { distribution = \"log_normal\", mu = 4.0 }")
            .contains("\"hidden\" takes whole numbers; use \"int_uniform\", not \"log_normal\"")
    );
    let far = m("dropout = { distribution = \"normal\", mu = 5.0, sigma = 0.1 }");
    assert!(far.contains("parameters.dropout: normal(mu = 5, sigma = 0.1) puts 0.00 % of its draws"), "{far}");
    assert!(
        m("lr = { distribution = \"normal\", sigma = 0 }")
            .contains("parameters.lr.sigma: got 0, expected a number > 0")
    );
    assert!(
        m("lr = { distribution = \"normal\", min = 0.1 }")
            .contains("parameters.lr.min: is not used by distribution \"normal\"")
    );
    assert!(
        m("momentum = { distribution = \"q_uniform\", min = 0.1, max = 0.4, q = 0.5 }")
            .contains("parameters.momentum.q: got 0.5, but no multiple of it lies in [0.1, 0.4]")
    );
    assert!(
        m("lr = { distribution = \"q_log_uniform_values\", min = 0, max = 1, q = 0.1 }")
            .contains("parameters.lr.min: got 0, expected a number > 0")
    );
    assert!(
        m("dropout = { distribution = \"log_uniform\", min = -5, max = 1 }")
            .contains("parameters.dropout.max: log_uniform takes natural-log exponents and draws from")
    );
    assert!(
        m("lr = { distribution = \"uniform\", min = 0.1, max = 0.2, q = 0.1 }")
            .contains("parameters.lr.q: is not used by distribution \"uniform\"")
    );
    assert!(m("lr = { distribution = \"beta\" }").contains("W&B's beta distributions are not supported"));
    assert!(
        m("optimizer = { distribution = \"normal\" }")
            .contains("\"optimizer\" takes names, so it needs values = [...], not distribution \"normal\"")
    );
}

#[test]
fn grid_refuses_probabilities_and_the_new_distributions() {
    let weighted = GRID.replace("[0.0, 0.2] }", "[0.0, 0.2], probabilities = [0.5, 0.5] }");
    let m = message(&weighted);
    assert!(m.contains("s.toml:26: parameters.dropout.probabilities: is not used by method = \"grid\""), "{m}");
    let q = GRID.replace(
        "dropout = { values = [0.0, 0.2] }",
        "dropout = { distribution = \"q_uniform\", min = 0.0, max = 0.2, q = 0.1 }",
    );
    let m = message(&q);
    assert!(
        m.contains("parameters.dropout: has distribution \"q_uniform\", but method = \"grid\" needs a list"),
        "{m}"
    );
}

#[test]
fn goal_auto_minimizes_losses() {
    let spec = parse_str(
        &GRID.replace("name = \"mcc\"", "name = \"valid_loss\"").replace("goal = \"maximize\"", "goal = \"auto\""),
    )
    .unwrap();
    assert_eq!(spec.metric.goal, Goal::Minimize);
}

#[test]
fn the_report_table_is_read_and_does_not_change_the_hash() {
    let spec = parse_str(&format!("{GRID}\n[report]\ntensorboard = true\n")).unwrap();
    assert!(spec.report.tensorboard);
    assert!(!parse_str(GRID).unwrap().report.tensorboard, "off by default");
    assert_eq!(spec.hash(), GRID_HASH_BEFORE_OBJECTIVES);
    assert_eq!(spec.manifest(1).report, Some(crate::spec::ReportSpec { tensorboard: true }));
    let m = message(&format!("{GRID}\n[report]\ntensorbord = true\n"));
    assert!(m.starts_with("s.toml:29: report.tensorbord: unknown field `tensorbord`"), "{m}");
    let m = message(&format!("{GRID}\n[report]\ntensorboard = \"yes\"\n"));
    assert!(m.starts_with("s.toml:29: report.tensorboard: ") && m.contains("bool"), "{m}");
}

#[test]
fn the_publish_table_is_read_and_does_not_change_the_hash() {
    let spec =
        parse_str(&format!("{GRID}\n[publish]\nwandb = {{ project = \"digits\", entity = \"lab\" }}\n")).unwrap();
    let target = crate::spec::WandbTarget { project: Some("digits".into()), entity: Some("lab".into()) };
    assert_eq!(spec.publish.wandb.as_ref(), Some(&target));
    assert_eq!(spec.hash(), GRID_HASH_BEFORE_OBJECTIVES);
    assert_eq!(spec.manifest(1).publish.and_then(|p| p.wandb), Some(target));
    assert_eq!(parse_str(GRID).unwrap().manifest(1).publish, None, "absent from the manifest unless asked for");
    let m = message(&format!("{GRID}\n[publish]\nwandb = {{ projet = \"x\" }}\n"));
    assert!(m.starts_with("s.toml:29: publish.wandb: unknown field `projet`"), "{m}");
    let m = message(&format!("{GRID}\n[publish]\nwandb = {{ project = \"a/b\" }}\n"));
    assert!(m.starts_with("s.toml:29: publish.wandb.project: got \"a/b\"") && m.contains("'/'"), "{m}");
}

#[test]
fn slurm_defaults_are_read_and_do_not_change_the_hash() {
    let with = format!("{GRID}\n[slurm]\npartition = \"gpu\"\nmax_parallel = 4\nsbatch_args = [\"--qos=low\"]\n");
    let spec = parse_str(&with).unwrap();
    assert_eq!(spec.slurm.partition.as_deref(), Some("gpu"));
    assert_eq!(spec.slurm.max_parallel, Some(4));
    assert_eq!(spec.slurm.sbatch_args, ["--qos=low"]);
    assert_eq!(spec.hash(), parse_str(GRID).unwrap().hash());
    let m = message(&format!("{GRID}\n[slurm]\nmax_parallel = 0\n"));
    assert!(m.contains("slurm.max_parallel: got 0"), "{m}");
    let m = message(&format!("{GRID}\n[slurm]\nqueue = \"x\"\n"));
    assert!(m.contains("unknown field `queue`"), "{m}");
}

#[test]
fn tpe_and_repeats_keys_are_validated() {
    let tpe = format!(
        "{}\n[tpe]\nstartup_trials = 4\ngamma = 0.3\n",
        GRID.replace("method = \"grid\"", "method = \"tpe\"\ntrials = 12\nrepeats = 2")
    );
    let spec = parse_str(&tpe).unwrap();
    assert_eq!(spec.repeats, 2);
    let settings = crate::sampler::tpe::TpeSettings { startup_trials: 4, candidates: 24, gamma: 0.3 };
    assert_eq!(spec.method, crate::sampler::tpe_method(12, settings));
    assert!(
        message(&tpe.replace("trials = 12\n", "")).contains("trials: is missing: method = \"tpe\" needs trials = N")
    );
    assert!(
        message(&tpe.replace("gamma = 0.3", "gamma = 1.5")).contains("tpe.gamma: got 1.5, expected a number in (0, 1)")
    );
    assert!(message(&tpe.replace("gamma = 0.3", "gama = 0.3")).contains("unknown field `gama`"));
    assert!(
        message(&tpe.replace("repeats = 2", "repeats = 0")).contains("repeats: got 0, expected a whole number from 1")
    );
    let grid_table = format!("{GRID}\n[tpe]\nstartup_trials = 3\n");
    assert!(message(&grid_table).contains("tpe: is only used with method = \"tpe\""), "{}", message(&grid_table));
}

#[test]
fn early_terminate_is_validated() {
    let with = |t: &str| GRID.replace("workers = 2", &format!("workers = 2\nearly_terminate = {t}"));
    let spec = parse_str(&with("{ type = \"asha\", min_epochs = 2 }")).unwrap();
    assert_eq!(spec.early_terminate, Some(crate::spec::EarlyTerminate::Asha { min_epochs: 2, eta: 3, max_epochs: 30 }));
    let spec = parse_str(&with("{ type = \"median\" }")).unwrap();
    assert_eq!(spec.early_terminate, Some(crate::spec::EarlyTerminate::Median { warmup_epochs: 5, min_trials: 3 }));
    assert!(
        message(&with("{ type = \"bohb\" }"))
            .contains("early_terminate.type: got \"bohb\", expected \"asha\", \"hyperband\" or \"median\"")
    );
    // W&B's hyperband keys: min_iter, or max_iter with s.
    let spec = parse_str(&with("{ type = \"hyperband\", min_iter = 3 }")).unwrap();
    assert_eq!(spec.early_terminate.unwrap().bands(), [3, 9, 27]);
    let spec = parse_str(&with("{ type = \"hyperband\", max_iter = 27, s = 2, eta = 3 }")).unwrap();
    assert_eq!(spec.early_terminate.unwrap().bands(), [3, 9]);
    assert!(message(&with("{ type = \"hyperband\" }")).contains("needs min_iter, or max_iter and s"));
    assert!(
        message(&with("{ type = \"hyperband\", min_iter = 3, max_iter = 9 }"))
            .contains("early_terminate.max_iter: cannot be combined with min_iter")
    );
    assert!(message(&with("{ type = \"hyperband\", min_iter = 40 }")).contains("leaves no band below 30 epochs"));
    assert!(
        message(&with("{ type = \"asha\", min_iter = 3 }"))
            .contains("early_terminate.min_iter: is not used by type = \"asha\"")
    );
    assert!(
        message(&with("{ type = \"asha\", eta = 1 }"))
            .contains("early_terminate.eta: got 1, expected a whole number >= 2")
    );
    assert!(
        message(&with("{ type = \"median\", eta = 3 }"))
            .contains("early_terminate.eta: is not used by type = \"median\"")
    );
    assert!(message(&with("{ type = \"asha\", grace = 3 }")).contains("unknown field `grace`"));
}

#[test]
fn register_as_names_are_checked() {
    let spec = parse_str(&GRID.replace("workers = 2", "workers = 2\nregister_as = \"digits\"")).unwrap();
    assert_eq!(spec.register_as.as_deref(), Some("digits"));
    let m = message(&GRID.replace("workers = 2", "workers = 2\nregister_as = \"../x\""));
    assert!(m.contains("register_as: model name \"../x\" is not allowed"), "{m}");
}

#[test]
fn a_spec_survives_a_json_round_trip() {
    let spec = parse_str(GRID).unwrap();
    let back: SweepSpec = serde_json::from_value(serde_json::to_value(&spec).unwrap()).unwrap();
    assert_eq!(back.hash(), spec.hash());
    assert_eq!(back.parameters, spec.parameters);
}

#[test]
fn early_stopping_is_read_from_train() {
    let spec =
        parse_str(&GRID.replace(
            "optimizer = \"adam\"",
            "optimizer = \"adam\"\nearly_stopping = { patience = 3, min_delta = 0.001 }",
        ))
        .unwrap();
    assert_eq!(spec.early_stopping, Some(EarlyStoppingSpec { patience: 3, min_delta: 0.001 }));
    let m = message(&GRID.replace("optimizer = \"adam\"", "optimizer = \"adam\"\nearly_stopping = { patience = 0 }"));
    assert!(m.contains("train.early_stopping.patience: got 0"), "{m}");
}

/// `sweep plan` of this spec (sweeps/grid.toml) with the commit before objectives became a spec key.
const GRID_HASH_BEFORE_OBJECTIVES: &str = "f248fa01ca642b8b";

#[test]
fn the_spec_hash_of_a_spec_without_the_new_keys_is_what_it_was() {
    // Measured with sweep before objectives and tasks were keys: results folders made
    // then still resume.
    assert_eq!(parse_str(GRID).unwrap().hash(), GRID_HASH_BEFORE_OBJECTIVES);
}

#[test]
fn the_objective_is_chosen_by_name_and_owns_the_parameters() {
    let spec = parse_str(&GRID.replace("method = \"grid\"", "objective = \"mlp\"\nmethod = \"grid\"")).unwrap();
    assert_eq!(spec.objective, "mlp");
    let m = message(&GRID.replace("method = \"grid\"", "objective = \"cnn\"\nmethod = \"grid\""));
    assert_eq!(m, "s.toml:3: objective: got \"cnn\", expected one of mlp, command (the objectives of this binary)");
    let m = message(&GRID.replace("epochs = 30", "epochs = 30\nchannels = 8"));
    assert!(
        m.starts_with("s.toml:19: train.channels: unknown setting of objective \"mlp\", expected one of epochs, lr"),
        "{m}"
    );
    let m = message(&GRID.replace("dropout = { values", "kernel = { values"));
    assert!(m.contains("parameters.kernel: unknown parameter of objective \"mlp\""), "{m}");
}

#[test]
fn a_binary_without_the_default_objective_asks_for_one() {
    use crate::objective::{Model, Objective, Trainer, TrialContext, TrialError};
    struct Other;
    impl Objective for Other {
        fn name(&self) -> &str {
            "other"
        }
        fn schema(&self) -> crate::params::Schema {
            crate::params::Schema::new()
        }
        fn start(&self, _: &TrialContext<'_>) -> Result<Box<dyn Trainer>, TrialError> {
            Err(TrialError::failed("not here"))
        }
        fn load(
            &self,
            _: &[u8],
            _: &crate::params::ResolvedParams,
            _: crate::data::DataShape,
            _: &burn::tensor::Device,
        ) -> Result<Box<dyn Model>, TrialError> {
            Err(TrialError::failed("not here"))
        }
    }
    let only_other = Catalog::new(vec![Box::new(Other)]).unwrap();
    let m = parse(GRID, Path::new("s.toml"), &only_other).unwrap_err().to_string();
    assert!(m.contains("objective: is not set, and the default \"mlp\" is not in this binary; set objective = \"...\" to one of other"), "{m}");
}

#[test]
fn regression_has_its_own_metrics_and_goals() {
    let regression = GRID
        .replace("valid_fraction = 0.2", "valid_fraction = 0.2\ntask = \"regression\"")
        .replace("name = \"mcc\"", "name = \"rmse\"")
        .replace("goal = \"maximize\"", "goal = \"auto\"");
    let spec = parse_str(&regression).unwrap();
    assert_eq!(spec.data.task, Task::Regression);
    assert_eq!(spec.metric.goal, Goal::Minimize);
    assert_ne!(spec.hash(), parse_str(GRID).unwrap().hash());
    let m = message(&regression.replace("name = \"rmse\"", "name = \"mcc\""));
    assert!(m.contains("metric.name: got \"mcc\", expected one of valid_loss, train_loss, mse, rmse, mae, r2 (the metrics of task = \"regression\")"), "{m}");
    let m = message(&GRID.replace("valid_fraction = 0.2", "task = \"ranking\""));
    assert!(m.contains("data.task: got \"ranking\", expected \"classification\" or \"regression\""), "{m}");
}

#[test]
fn data_keys_choose_columns_and_unknown_ones_are_errors() {
    let spec = parse_str(&GRID.replace("target = \"target\"", "target = \"target\"\ndrop = [\"p0\", \"p1\"]")).unwrap();
    assert_eq!(spec.data.drop, ["p0", "p1"]);
    let both = GRID.replace("target = \"target\"", "target = \"target\"\nfeatures = [\"p2\"]\ndrop = [\"p0\"]");
    assert!(message(&both).contains("data.drop: cannot be combined with data.features"));
    let m = message(&GRID.replace("target = \"target\"", "target = \"target\"\nfolder = \"x\""));
    assert!(m.starts_with("s.toml:10: data.folder: unknown key, expected one of task, valid_fraction, test_fraction, test_top, cv_folds, refit, path, target, features, drop, test_path, categorical, missing, na_values, unseen"), "{m}");
    let m = message(&GRID.replace("target = \"target\"", "target = \"target\"\nfeatures = \"p2\""));
    assert!(m.contains("data.features: got \"p2\", expected a non-empty list of column names"), "{m}");
    let m = message(&GRID.replace("path = \"data/digits.csv\"\n", ""));
    assert!(m.contains("data.path: is missing"), "{m}");
}

#[test]
fn selection_keys_are_validated_with_their_line() {
    let spec = parse_str(&GRID.replace("valid_fraction = 0.2", "test_fraction = 0.25\ntest_top = 3")).unwrap();
    assert_eq!((spec.data.test_fraction, spec.selection.test_top), (Some(0.25), 3));
    assert_eq!(spec.selection.bootstrap, 1000, "on by default");
    let spec = parse_str(&GRID.replace("valid_fraction = 0.2", "cv_folds = 5\nrefit = true")).unwrap();
    assert_eq!((spec.data.cv_folds, spec.selection.refit, spec.trials_per_config()), (Some(5), true, 5));
    let plain = parse_str(GRID).unwrap();
    let with_settings = parse_str(&GRID.replace("min_delta = 0.0", "min_delta = 0.0\nbootstrap = 200")).unwrap();
    assert_eq!(plain.hash(), with_settings.hash(), "the bootstrap changes no trial");
    assert_ne!(
        plain.hash(),
        parse_str(&GRID.replace("valid_fraction = 0.2", "valid_fraction = 0.2\ntest_fraction = 0.1")).unwrap().hash()
    );
    let m = message(&GRID.replace("valid_fraction = 0.2", "test_top = 3"));
    assert_eq!(m, "s.toml:10: data.test_top: needs a test split: set data.test_fraction (or data.test_path) too");
    let m = message(&GRID.replace("min_delta = 0.0", "min_delta = 0.0\nbootstrap = -1"));
    assert!(m.contains("metric.bootstrap: got -1, expected a whole number of resamples from 0 (off)"), "{m}");
    let m = message(
        &GRID
            .replace("method = \"grid\"", "method = \"grid\"\nrepeats = 2")
            .replace("valid_fraction = 0.2", "cv_folds = 3"),
    );
    assert!(m.contains("repeats: cannot be combined with data.cv_folds"), "{m}");
}

#[test]
fn table_steps_are_read_and_their_mistakes_named_with_their_line() {
    use crate::data::{Categorical, MissingPolicy, Unseen};
    let with = |lines: &str| GRID.replace("target = \"target\"", &format!("target = \"target\"\n{lines}"));
    let spec = parse_str(&with(
        "categorical = [\"p0\"]\nmissing = { p1 = \"median\", p2 = \"drop_rows\" }\nna_values = [\"\", \"?\"]\nunseen = \"error\"",
    ))
    .unwrap();
    assert_eq!(spec.data.categorical, Categorical::Columns(vec!["p0".into()]));
    assert_eq!(spec.data.missing.default, MissingPolicy::Error);
    assert_eq!(spec.data.missing.of("p1"), MissingPolicy::Median);
    assert_eq!(spec.data.missing.of("p2"), MissingPolicy::DropRows);
    assert_eq!(spec.data.na_values, Some(vec!["".to_string(), "?".to_string()]));
    assert_eq!(spec.data.unseen, Unseen::Error);
    assert_ne!(spec.hash(), GRID_HASH_BEFORE_OBJECTIVES, "the steps change what is trained");
    let auto = parse_str(&with("categorical = \"auto\"\nmissing = \"most_frequent\"")).unwrap();
    assert_eq!(auto.data.categorical, Categorical::Auto);
    assert_eq!(auto.data.missing.of("anything"), MissingPolicy::MostFrequent);

    let m = message(&with("missing = \"zero\""));
    assert_eq!(
        m,
        "s.toml:10: data.missing: got \"zero\", expected one of \"error\", \"drop_rows\", \"mean\", \"median\", \"most_frequent\""
    );
    let m = message(&with("missing = { p1 = \"avg\" }"));
    assert!(m.starts_with("s.toml:10: data.missing.p1: got \"avg\", expected one of \"error\""), "{m}");
    let m = message(&with("categorical = \"yes\""));
    assert!(
        m.starts_with(
            "s.toml:10: data.categorical: got \"yes\", expected \"auto\" (every text column) or a non-empty list"
        ),
        "{m}"
    );
    let m = message(&with("na_values = \"NA\""));
    assert!(m.starts_with("s.toml:10: data.na_values: got \"NA\", expected a list of strings"), "{m}");
    let m = message(&with("unseen = \"zeros\""));
    assert_eq!(m, "s.toml:10: data.unseen: got \"zeros\", expected \"ignore\" or \"error\"");
}

#[test]
fn constraints_and_trade_offs_name_leaderboard_columns() {
    let with = |metric_extra: &str, select: &str| {
        GRID.replace("min_delta = 0.0", &format!("min_delta = 0.0\n{metric_extra}"))
            .replace("[train]", &format!("{select}\n[train]"))
    };
    let spec = parse_str(&with(
        r#"trade_off = ["params", { name = "latency_p50_ms", goal = "minimize" }, "rows_per_s", "best_valid_loss"]"#,
        "[select]\nconstraints = [\"latency_p95_ms <= 1.0\", \"test_mcc >= 0.9\", \"params < 20000\"]",
    ))
    .unwrap();
    let goals: Vec<(&str, Goal)> = spec.selection.trade_off.iter().map(|t| (t.name.as_str(), t.goal)).collect();
    assert_eq!(
        goals,
        [
            ("params", Goal::Minimize),
            ("latency_p50_ms", Goal::Minimize),
            ("rows_per_s", Goal::Maximize),
            ("best_valid_loss", Goal::Minimize)
        ]
    );
    let texts: Vec<String> = spec.selection.constraints.iter().map(|c| c.to_string()).collect();
    assert_eq!(texts, ["latency_p95_ms <= 1", "test_mcc >= 0.9", "params < 20000"]);
    assert_eq!(spec.hash(), parse_str(GRID).unwrap().hash(), "the pick changes no trial: not hashed");

    let m = message(&with("", "[select]\nconstraints = [\"latency <= 1\"]"));
    assert!(
        m.starts_with("s.toml:19: select.constraints[0]: got \"latency\", which is not a leaderboard column"),
        "{m}"
    );
    let m = message(&with("", "[select]\nconstraints = [\"params => 1\"]"));
    assert!(
        m.contains("select.constraints[0]: got \"params => 1\", whose column \"params =\" is not a column name"),
        "{m}"
    );
    let m = message(&with("", "[select]\nlimits = []"));
    assert!(m.contains("unknown field `limits`"), "{m}");
    let m = message(&with(r#"trade_off = ["mcc"]"#, ""));
    assert!(m.contains("metric.trade_off[0]: got \"mcc\", the monitored metric itself"), "{m}");
    let m = message(&with(r#"trade_off = ["params", "params"]"#, ""));
    assert!(m.contains("metric.trade_off[1]: got \"params\" twice"), "{m}");
    let m = message(&with(r#"trade_off = [{ name = "params", goal = "less" }]"#, ""));
    assert!(m.contains("has goal \"less\"; expected \"minimize\" or \"maximize\""), "{m}");
}

#[test]
fn nsga2_takes_its_table_and_the_trade_offs_into_the_hash() {
    let nsga = |extra: &str| {
        GRID.replace("method = \"grid\"", "method = \"nsga2\"\ntrials = 20")
            .replace("min_delta = 0.0", "min_delta = 0.0\ntrade_off = [\"params\"]")
            .replace("[train]", &format!("{extra}\n[train]"))
    };
    let spec = parse_str(&nsga("[nsga2]\npopulation_size = 10\nmutation_prob = 0.25")).unwrap();
    assert_eq!(spec.method.name(), "nsga2");
    let settings: BTreeMap<_, _> = spec.method.settings().into_iter().collect();
    assert_eq!(settings["population_size"], 10);
    assert_eq!(settings["mutation_prob"], 0.25);
    assert_eq!(settings["trade_off"][0]["name"], "params");
    let other = parse_str(
        &nsga("[nsga2]\npopulation_size = 10\nmutation_prob = 0.25").replace("\"params\"]", "\"checkpoint_bytes\"]"),
    );
    assert_ne!(spec.hash(), other.unwrap().hash(), "NSGA-II's objectives decide its trials");
    let m = message(&nsga("[nsga2]\npopulation_size = 1"));
    assert!(m.contains("nsga2.population_size: got 1, expected a whole number from 2 to 100000"), "{m}");
    let m = message(&nsga("").replace("\"params\"]", "\"test_mcc\"]"));
    assert!(m.contains("a test metric, which is measured after the sweep"), "{m}");
    let m = message(&GRID.replace("[train]", "[nsga2]\npopulation_size = 4\n[train]"));
    assert!(m.contains("nsga2: is only used with method = \"nsga2\""), "{m}");
}
