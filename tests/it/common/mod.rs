//! Helpers shared by the integration tests: the bundled data, running the real
//! binary, reading what it writes.
#![allow(dead_code)] // each test binary uses its own subset

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Absolute path of a bundled dataset.
pub fn data(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data").join(name).display().to_string()
}

/// Runs `sweep args...` in `dir`, with the fault-injection variables cleared, then `env` set.
pub fn sweep_env(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sweep"));
    cmd.current_dir(dir).args(args).env_remove("SWEEP_FAIL_TRIALS").env_remove("SWEEP_ABORT_TRIALS");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("the sweep binary runs")
}

/// Runs `sweep args...` in `dir`.
pub fn sweep(dir: &Path, args: &[&str]) -> Output {
    sweep_env(dir, args, &[])
}

/// Bytes as text.
pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A CSV as a list of maps, header → cell.
pub fn read_csv(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header = r.headers().unwrap().clone();
    r.records()
        .map(|rec| header.iter().zip(rec.unwrap().iter()).map(|(h, v)| (h.to_string(), v.to_string())).collect())
        .collect()
}

/// A Python with safetensors and numpy: $SWEEP_TEST_PYTHON (set by .ci/run), else python3 if it
/// has them. None means the calling test skips, which SWEEP_REQUIRE_PYTHON=1 (CI) turns into a failure.
pub fn python(test: &str) -> Option<PathBuf> {
    python_with(test, &["safetensors.numpy", "numpy"])
}

/// A Python that can import every module of `modules` (e.g. `["mlflow"]`): $SWEEP_TEST_PYTHON,
/// else python3. None means the calling test skips; SWEEP_REQUIRE_PYTHON=1 (CI) makes it a failure.
pub fn python_with(test: &str, modules: &[&str]) -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = std::env::var_os("SWEEP_TEST_PYTHON")
        .map(PathBuf::from)
        .into_iter()
        .chain([PathBuf::from("python3")])
        .collect();
    let imports = format!("import {}", modules.join(", "));
    let found = candidates
        .into_iter()
        .find(|py| Command::new(py).args(["-c", &imports]).output().is_ok_and(|o| o.status.success()));
    if found.is_none() {
        let wanted = modules.join(", ");
        assert!(
            std::env::var("SWEEP_REQUIRE_PYTHON").as_deref() != Ok("1"),
            "SWEEP_REQUIRE_PYTHON=1 but no Python with {wanted} (SWEEP_TEST_PYTHON)"
        );
        eprintln!("SKIPPED {test}: no Python with {wanted} (set SWEEP_TEST_PYTHON)");
    }
    found
}

/// An example's binary, beside the `sweep` binary this test was built with.
/// `cargo test --test examples` alone does not rebuild the examples, so the
/// first call builds them with the same cargo and profile: a stale binary
/// would test old code.
pub fn example(name: &str) -> PathBuf {
    static BUILT: std::sync::Once = std::sync::Once::new();
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_sweep")).parent().unwrap();
    BUILT.call_once(|| {
        let mut build = Command::new(env!("CARGO"));
        build.current_dir(env!("CARGO_MANIFEST_DIR")).args(["build", "--examples", "--quiet"]);
        if bin_dir.ends_with("release") {
            build.arg("--release");
        }
        let out = build.output().unwrap();
        assert!(out.status.success(), "building the examples: {}", text(&out.stderr));
    });
    let bin = bin_dir.join("examples").join(name);
    assert!(bin.exists(), "{} was not built", bin.display());
    bin
}

/// Runs an example's binary as `sweep` runs (fault injection cleared, then `env` set).
pub fn run_example(name: &str, dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(example(name));
    cmd.current_dir(dir).args(args).env_remove("SWEEP_FAIL_TRIALS").env_remove("SWEEP_ABORT_TRIALS");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}
