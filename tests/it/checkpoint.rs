//! The promise of the best-model callback, checked end to end: reloading each
//! trial's checkpoint and evaluating it on the validation split reproduces the
//! metrics its metadata (and the leaderboard) claim for the best epoch.

use std::fs;
use std::path::Path;
use std::process::Command;

use sweep::data::{CsvOptions, load_csv, prepare};
use sweep::metrics::{Task, evaluate};
use sweep::objective::Objective;
use sweep::objective::mlp::MlpObjective;
use sweep::params::Params;

use crate::common::SpecBuilder;

#[test]
fn each_checkpoint_reproduces_the_metrics_of_its_best_epoch() {
    let tmp = tempfile::tempdir().unwrap();
    let data_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/digits.csv");
    SpecBuilder::new("reload")
        .seed(11)
        .epochs(6)
        .values("layers", [1, 2])
        .values("dropout", [0.0, 0.3])
        .write_as(tmp.path(), "s.toml");
    let out = Command::new(env!("CARGO_BIN_EXE_sweep"))
        .current_dir(tmp.path())
        .args(["run", "s.toml", "-q"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let data = load_csv(&data_path, &CsvOptions::target("target")).unwrap();
    let prepared = prepare(&data, Task::Classification, 0.2, 11).unwrap();
    let mlp = MlpObjective::default();
    let trials = tmp.path().join("results/reload/trials");
    let mut checked = 0;
    for entry in fs::read_dir(&trials).unwrap() {
        let dir = entry.unwrap().path();
        let meta: serde_json::Value = serde_json::from_slice(&fs::read(dir.join("best.json")).unwrap()).unwrap();
        let bytes = fs::read(dir.join(meta["checkpoint"].as_str().unwrap())).unwrap();
        // Through the objective API, as `sweep predict` loads any objective's model.
        let settings: Params = serde_json::from_value(meta["settings"].clone()).unwrap();
        let params = mlp.schema().resolve(&Params::new(), &settings);
        let model = mlp.load(&bytes, &params, prepared.shape(), &burn::tensor::Device::flex()).unwrap();
        let logits = model.predict(&prepared.valid_x, prepared.n_valid()).unwrap();
        let metrics = evaluate(&logits, prepared.valid_truth());
        for (name, value) in &metrics {
            let claimed = meta["metrics"][name].as_f64().unwrap();
            assert!(
                (value - claimed).abs() <= 1e-6,
                "{}: {name} reloaded {value}, metadata says {claimed}",
                meta["trial_id"]
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 4);
}
