//! Helpers shared by the integration tests: the bundled data, specs, running
//! the real binary, reading what it writes, and skipping where a tool is missing.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

mod spec;
pub use spec::SpecBuilder;

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
/// The leaderboard columns that are timings (the trial's wall time, the best model's
/// latencies and throughput): they differ from run to run, so comparisons leave them out.
pub const TIMING_COLUMNS: [&str; 4] = ["duration_s", "latency_p50_ms", "latency_p95_ms", "rows_per_s"];

/// `row` without its [`TIMING_COLUMNS`].
pub fn drop_timings(row: &mut BTreeMap<String, String>) {
    for c in TIMING_COLUMNS {
        row.remove(c);
    }
}

pub fn read_csv(path: &Path) -> Vec<BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header = r.headers().unwrap().clone();
    r.records()
        .map(|rec| header.iter().zip(rec.unwrap().iter()).map(|(h, v)| (h.to_string(), v.to_string())).collect())
        .collect()
}

/// A Python with safetensors and numpy: $SWEEP_TEST_PYTHON (set by .ci/run), else python3 if it
/// has them. None means the calling test returns: [`skip`] has said why.
pub fn python() -> Option<PathBuf> {
    python_with(&["safetensors.numpy", "numpy"])
}

/// A Python that can import every module of `modules` (e.g. `["mlflow"]`): $SWEEP_TEST_PYTHON,
/// else python3. None means the calling test returns: [`skip`] has said why.
pub fn python_with(modules: &[&str]) -> Option<PathBuf> {
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
        skip(Tool::Python, &format!("no Python with {} (set SWEEP_TEST_PYTHON)", modules.join(", ")));
    }
    found
}

/// W&B's `wandb-core`: $SWEEP_WANDB_CORE (set by .ci/run), else `wandb-core` on the PATH, if it
/// runs. None means the calling test returns: [`skip`] has said why.
pub fn wandb_core() -> Option<PathBuf> {
    let candidates: Vec<PathBuf> = std::env::var_os("SWEEP_WANDB_CORE")
        .map(PathBuf::from)
        .into_iter()
        .chain([PathBuf::from("wandb-core")])
        .collect();
    let found = candidates.into_iter().find(|w| Command::new(w).arg("--help").output().is_ok());
    if found.is_none() {
        skip(
            Tool::WandbCore,
            "no wandb-core (set SWEEP_WANDB_CORE to wandb/bin/wandb-core of `pip download --no-deps wandb==0.31.0`)",
        );
    }
    found
}

/// What some tests need that a machine may lack. `.ci/run` installs each and sets its
/// `SWEEP_REQUIRE_<TOOL>=1`, so that there a missing one is a failure, never a skip.
#[derive(Clone, Copy, Debug)]
pub enum Tool {
    /// Python with the modules users read sweep's files with (numpy, safetensors, mlflow, ...).
    Python,
    /// A SLURM cluster that answers `sinfo`.
    Slurm,
    /// A headless Chromium to render report.html.
    Chromium,
    /// The right to mount a tmpfs (root).
    Mount,
    /// W&B's reader of offline runs, `wandb-core` (the binary in PyPI's `wandb` wheel).
    WandbCore,
    /// A build with `--features wgpu` and a Vulkan device (Mesa's lavapipe will do). The README's
    /// test command builds without the feature, so CI requires it only in its wgpu pass, by
    /// `SWEEP_REQUIRE_WGPU=1`, never by `CI` alone.
    Wgpu,
}

impl Tool {
    fn require_var(self) -> &'static str {
        match self {
            Tool::Python => "SWEEP_REQUIRE_PYTHON",
            Tool::Slurm => "SWEEP_REQUIRE_SLURM",
            Tool::Chromium => "SWEEP_REQUIRE_CHROMIUM",
            Tool::Mount => "SWEEP_REQUIRE_MOUNT",
            Tool::WandbCore => "SWEEP_REQUIRE_WANDB",
            Tool::Wgpu => "SWEEP_REQUIRE_WGPU",
        }
    }

    /// Whether `CI=true` alone requires it.
    fn required_by_ci(self) -> bool {
        !matches!(self, Tool::Wgpu)
    }
}

/// Whether a missing tool fails the test, from its `SWEEP_REQUIRE_<TOOL>` and `CI`: `1` requires
/// it, `0` does not; unset, a CI service (`CI=true`, as GitHub Actions and GitLab set) requires it.
fn required(require: Option<&str>, ci: Option<&str>) -> bool {
    match require {
        Some("1") => true,
        Some("0") => false,
        _ => matches!(ci, Some("true" | "1")),
    }
}

/// Gives the calling test up for a missing `tool` (the caller returns next): a failure where the
/// tool is required (see [`required`]), else the line `skipped: <test>: <why>` on stderr.
///
/// A skipped test still reports `ok` (libtest has no skip at run time), so that line is what
/// tells: it goes straight to the process's stderr, past the capture in which libtest holds back
/// the `eprintln!` of passing tests, and shows among the `test ... ok` lines without `--nocapture`.
/// The test's name is its thread's, which libtest names after the test (`module::test`).
pub fn skip(tool: Tool, why: &str) {
    let current = std::thread::current();
    let test = current.name().unwrap_or("a test");
    let var = tool.require_var();
    let (require, ci) = (std::env::var(var).ok(), std::env::var("CI").ok().filter(|_| tool.required_by_ci()));
    assert!(
        !required(require.as_deref(), ci.as_deref()),
        "{test}: {why}; {var}={} CI={} make that a failure (tool: {tool:?})",
        require.as_deref().unwrap_or("(unset)"),
        ci.as_deref().unwrap_or("(unset)"),
    );
    let _ = writeln!(std::io::stderr().lock(), "skipped: {test}: {why}");
}

#[test]
fn a_tool_is_required_by_its_variable_then_by_ci() {
    assert!(required(Some("1"), None));
    assert!(required(Some("1"), Some("false")));
    assert!(!required(Some("0"), Some("true")), "SWEEP_REQUIRE_<TOOL>=0 opts out of CI's default");
    assert!(required(None, Some("true")));
    assert!(required(None, Some("1")));
    assert!(!required(None, None));
    assert!(!required(None, Some("false")));
    assert!(!required(Some(""), None));
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
        // Cargo gives this test the package's variables (CARGO_PKG_NAME, CARGO_MANIFEST_DIR, ...).
        // Build scripts watch some of them (ring's `rerun-if-env-changed=CARGO_PKG_NAME`), so a
        // build that inherited them would rebuild ring, rustls, ureq and sweep here, and again in
        // the next `cargo run` (3 minutes each time on 2 cores, seen in CI).
        for (name, _) in std::env::vars_os() {
            let name = name.to_string_lossy();
            let from_cargo_test = ["CARGO_PKG_", "CARGO_MANIFEST_", "CARGO_CRATE_", "CARGO_BIN_"]
                .iter()
                .any(|prefix| name.starts_with(prefix))
                || ["CARGO_PRIMARY_PACKAGE", "CARGO_TARGET_TMPDIR", "CARGO_RUSTC_CURRENT_DIR", "OUT_DIR"]
                    .contains(&name.as_ref());
            if from_cargo_test {
                build.env_remove(name.as_ref());
            }
        }
        // The profile this test was built with: target/<profile>/, where `dev` builds into debug/.
        match bin_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => {}
            Some(profile) => {
                build.args(["--profile", profile]);
            }
        }
        // The same features as this test's binary, so the build reuses its artefacts.
        if cfg!(feature = "wgpu") {
            build.args(["--features", "wgpu"]);
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
