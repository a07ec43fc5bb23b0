//! Trials on a GPU (`--features wgpu`): the canary, an MLP and the CNN example
//! placed on the device by `[resources]`, their models predicted with and
//! verified on it, and the devices recorded per trial. CI runs them on Mesa's
//! software Vulkan driver, lavapipe (`scripts/lavapipe.sh`), in a pass of its
//! own built with the feature (`.ci/run`); a build without it runs only the
//! checks that it refuses a GPU spec clearly.

use std::fs;
use std::path::Path;
use std::process::Output;

use crate::common::{SpecBuilder, Tool, read_csv, skip, sweep, text};

fn ok(out: Output) -> String {
    assert!(out.status.success(), "exit {:?}: {}{}", out.status.code(), text(&out.stdout), text(&out.stderr));
    text(&out.stdout)
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(path).unwrap()).unwrap()
}

/// A small MLP grid on the GPU: 4 trials × 3 epochs on the bundled digits.
fn mlp_spec(dir: &Path, name: &str, resources: &[(&str, toml::Value)]) -> String {
    let mut spec = SpecBuilder::new(name).seed(11).values("hidden", [16, 32]).values("lr", [0.003, 0.01]);
    for (key, value) in resources {
        spec = spec.set("resources", key, value.clone());
    }
    spec.write(dir);
    format!("{name}.toml")
}

#[test]
fn a_build_without_wgpu_refuses_a_gpu_run_before_writing_anything_and_runs_it_on_the_cpu_when_told() {
    if cfg!(feature = "wgpu") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let spec = mlp_spec(tmp.path(), "gpu", &[("device", "wgpu".into())]);
    let out = sweep(tmp.path(), &["run", &spec, "-q"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains(
            "device \"wgpu\" is not in this binary, which has: cpu; build sweep with `cargo build --release --features wgpu`"
        ),
        "{}",
        text(&out.stderr)
    );
    assert!(!tmp.path().join("results").exists(), "nothing written");
    // The same spec on the CPU, by the command line.
    ok(sweep(tmp.path(), &["run", &spec, "-q", "--device", "cpu"]));
    let rows = read_csv(&tmp.path().join("results/gpu/leaderboard.csv"));
    let record = json(&tmp.path().join("results/gpu/trials").join(&rows[0]["trial_id"]).join("trial.json"));
    assert_eq!(record["device"]["backend"], "cpu");
    // GPU-only keys on the CPU are a mistake the spec's line names.
    let cpu_devices = mlp_spec(tmp.path(), "cpu-devices", &[("devices", toml::Value::Array(vec![0.into()]))]);
    let out = sweep(tmp.path(), &["run", &cpu_devices, "-q"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("resources.devices: is for GPUs"), "{}", text(&out.stderr));
}

#[test]
fn a_gpu_sweep_on_slurm_requests_a_gpu_or_a_share_per_array_task_and_opens_the_one_it_was_given() {
    let tmp = tempfile::tempdir().unwrap();
    let spec = mlp_spec(tmp.path(), "slurm-gpu", &[("device", "wgpu".into())]);
    // The jobs' binary (not this one) must have the backend: named with --sweep-bin, it is trusted.
    let dry = ok(sweep(tmp.path(), &["slurm", &spec, "--dry-run", "--sweep-bin", "/opt/sweep-gpu"]));
    assert!(dry.contains("#SBATCH --array=0-3\n#SBATCH --gres=gpu:1\n"), "{dry}");
    assert!(dry.contains("gpu=\"${CUDA_VISIBLE_DEVICES:-0}\""), "{dry}");
    assert!(dry.contains("--index \"$SLURM_ARRAY_TASK_ID\" --results-dir "), "{dry}");
    assert!(dry.contains(" --device wgpu --devices \"${gpu%%,*}\"\n"), "{dry}");
    let shared = ok(sweep(
        tmp.path(),
        &["slurm", &spec, "--dry-run", "--sweep-bin", "/opt/sweep-gpu", "--trials-per-device", "4"],
    ));
    assert!(shared.contains("#SBATCH --gres=shard:1\n"), "{shared}");
    let on_cpu = ok(sweep(tmp.path(), &["slurm", &spec, "--dry-run", "--device", "cpu"]));
    assert!(!on_cpu.contains("--gres") && !on_cpu.contains("--device"), "{on_cpu}");
    let out = sweep(tmp.path(), &["slurm", &spec, "--dry-run", "--devices", "1"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("SLURM gives each array task its GPU"), "{}", text(&out.stderr));
    if !cfg!(feature = "wgpu") {
        let out = sweep(tmp.path(), &["slurm", &spec, "--dry-run"]);
        assert_eq!(out.status.code(), Some(2));
        assert!(text(&out.stderr).contains("--features wgpu"), "{}", text(&out.stderr));
    }
}

#[test]
fn the_gpu_tests_need_a_build_with_wgpu() {
    if !cfg!(feature = "wgpu") {
        skip(Tool::Wgpu, "built without --features wgpu (run them with: cargo test --release --features wgpu gpu::)");
    }
}

#[cfg(feature = "wgpu")]
mod on_the_gpu {
    use super::*;
    use crate::common::run_example;

    /// Whether this machine shows a Vulkan device; else the test is skipped (a failure where required).
    fn have_gpu() -> bool {
        let tmp = tempfile::tempdir().unwrap();
        let listed = ok(sweep(tmp.path(), &["devices"]));
        if listed.lines().any(|l| l.starts_with("wgpu:0 ")) {
            return true;
        }
        skip(Tool::Wgpu, &format!("no Vulkan device (scripts/lavapipe.sh installs a software one): {listed}"));
        false
    }

    #[test]
    fn the_canary_passes_on_this_driver() {
        if !have_gpu() {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let out = ok(sweep(tmp.path(), &["devices", "--check"]));
        assert!(out.contains("wgpu:0 (") && out.contains("canary ok: sum_dim over 2^19 rows [524288.0"), "{out}");
    }

    /// Trains `spec` on the GPU with `workers`, then predicts with and verifies its best model there.
    fn run_predict_verify(dir: &Path, program: Option<&str>, spec: &str, sweep_name: &str, workers: &str) -> String {
        let run = |args: &[&str]| match program {
            Some(example) => run_example(example, dir, args, &[]),
            None => sweep(dir, args),
        };
        let out = ok(run(&["run", spec, "-q", "--workers", workers]));
        let root = dir.join("results").join(sweep_name);
        let rows = read_csv(&root.join("leaderboard.csv"));
        for row in &rows {
            assert_eq!(row["status"], "completed", "{row:?}");
            let record = json(&root.join("trials").join(&row["trial_id"]).join("trial.json"));
            let device = &record["device"];
            assert_eq!((device["backend"].as_str(), device["index"].as_u64()), (Some("wgpu"), Some(0)), "{record}");
            assert_eq!(device["api"], "vulkan");
            assert!(!device["name"].as_str().unwrap().is_empty() && device["driver"].is_string(), "{device}");
        }
        let model = format!("results/{sweep_name}/trials/{}", rows[0]["trial_id"]);
        ok(run(&["predict", &model, "--split", "valid", "-o", "p.csv"]));
        let preds = read_csv(&dir.join("p.csv"));
        let right = preds.iter().filter(|p| p["predicted"] == p["true_label"]).count() as f64;
        assert_eq!(right / preds.len() as f64, rows[0]["best_accuracy"].parse::<f64>().unwrap(), "predict on the GPU");
        let verified = ok(run(&["verify", &model]));
        assert!(
            verified.contains("verified:") && verified.contains("the device it trained on (tolerance 1e-6)"),
            "{verified}"
        );
        out
    }

    #[test]
    fn an_mlp_sweep_trains_on_the_gpu_in_two_worker_processes_then_predicts_and_verifies_there() {
        if !have_gpu() {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let spec = mlp_spec(tmp.path(), "mlp-gpu", &[("device", "wgpu".into()), ("trials_per_device", 2.into())]);
        let out = run_predict_verify(tmp.path(), None, &spec, "mlp-gpu", "2");
        assert!(out.is_empty(), "quiet: {out}");
        let rows = read_csv(&tmp.path().join("results/mlp-gpu/leaderboard.csv"));
        assert_eq!(rows.len(), 4);
        assert!(rows[0]["best_accuracy"].parse::<f64>().unwrap() > 0.8, "the MLP learns on the GPU: {:?}", rows[0]);
        // On the CPU, the same checkpoint gives its metrics within the stated cross-device tolerance.
        let model = format!("results/mlp-gpu/trials/{}", rows[0]["trial_id"]);
        let on_cpu = ok(sweep(tmp.path(), &["verify", &model, "--device", "cpu"]));
        assert!(
            on_cpu.contains("computed on cpu (")
                && on_cpu.contains("; it trained on wgpu:0 (")
                && on_cpu.contains("(tolerance 1e-5"),
            "{on_cpu}"
        );
        assert!(on_cpu.contains("verified:"), "{on_cpu}");
    }

    #[test]
    fn the_cnn_example_trains_on_the_gpu_then_predicts_and_verifies_there() {
        if !have_gpu() {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        SpecBuilder::new("cnn-gpu")
            .objective("digits_cnn")
            .seed(5)
            .epochs(2)
            .values("channels", [4, 8])
            .set("resources", "device", "wgpu")
            .set("resources", "trials_per_device", 2)
            .write(tmp.path());
        run_predict_verify(tmp.path(), Some("digits_cnn"), "cnn-gpu.toml", "cnn-gpu", "2");
    }

    #[test]
    fn trials_per_device_caps_the_workers_on_a_device_and_an_index_it_lacks_is_refused_before_anything_is_written() {
        if !have_gpu() {
            return;
        }
        let tmp = tempfile::tempdir().unwrap();
        let spec = mlp_spec(
            tmp.path(),
            "placed",
            &[
                ("device", "wgpu".into()),
                ("devices", toml::Value::Array(vec![0.into()])),
                ("trials_per_device", 2.into()),
            ],
        );
        // Four workers asked for, two fit on the one device.
        let out = ok(sweep(tmp.path(), &["run", &spec, "--workers", "4"]));
        assert!(out.contains("workers: 2 (processes)"), "{out}");
        let root = tmp.path().join("results/placed");
        let pids: std::collections::BTreeSet<u64> = read_csv(&root.join("leaderboard.csv"))
            .iter()
            .map(|row| {
                let record = json(&root.join("trials").join(&row["trial_id"]).join("trial.json"));
                assert_eq!(record["device"]["index"], 0);
                record["pid"].as_u64().unwrap()
            })
            .collect();
        assert!(pids.len() <= 2, "at most trials_per_device worker processes trained: {pids:?}");
        // A SLURM task's command: one trial, on the device index it is given (in a folder of its
        // own: the run's claims stay live for a second after it ends).
        let one = ok(sweep(
            tmp.path(),
            &["trial", &spec, "--index", "1", "--devices", "0", "--results-dir", "single", "--json"],
        ));
        let doc: serde_json::Value = serde_json::from_str(&one).unwrap();
        assert_eq!(doc["trials"][0]["outcome"], "ran", "{doc}");
        let single = tmp.path().join("single/placed/trials");
        let record = json(&single.join(doc["trials"][0]["trial"]["id"].as_str().unwrap()).join("trial.json"));
        assert_eq!((record["device"]["backend"].as_str(), record["device"]["index"].as_u64()), (Some("wgpu"), Some(0)));
        let missing = mlp_spec(tmp.path(), "missing", &[("device", "wgpu".into())]);
        let out = sweep(tmp.path(), &["run", &missing, "--devices", "7"]);
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("device wgpu index 7 does not exist: this machine has wgpu:0 ("),
            "{}",
            text(&out.stderr)
        );
        assert!(!tmp.path().join("results/missing").exists(), "nothing written");
    }
}
